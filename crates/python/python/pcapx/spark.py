"""Decode captures with Apache Spark: ``pcapx.spark.read(spark, paths)``.

Spark lists the capture files with its own file source (``binaryFile``,
without reading their content), so local paths, globs, directories and any
URI Spark can list (``hdfs://``, ``s3a://``, …) work. Each task then decodes
its files with pcapx inside the executor and hands the rows to Spark as Arrow
record batches (``mapInArrow``): decoding scales with the cluster and
nothing is collected on the driver.

Memory: a task streams each capture with :func:`pcapx.batches`, so it holds
a few batches of ``batch_rows`` rows at a time, whatever the file's size —
a large capture is never loaded whole into one row. A file that is not on a
local file system is first copied to the executor's temporary directory
(with ``pyarrow.fs``), in chunks.

Shipping the package to executors: install the wheel on every node (``pip
install pcapx-*.whl``; abi3, one wheel for CPython >= 3.9), or ship a
packed virtual environment (``venv-pack``/``conda-pack``) with
``spark.archives`` and point ``PYSPARK_PYTHON`` at it, as the Spark docs'
"Python Package Management" describes.

Types: Spark has no unsigned integers nor nanosecond timestamps, so the
columns of :func:`pcapx.read` are widened losslessly (uint8 → smallint,
uint16 → int, uint32 → bigint; uint64 → bigint, values above 2^63 - 1 raise)
and ``time`` becomes a Spark ``timestamp`` (microseconds, UTC).
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Iterator, Optional, Sequence, Union
from urllib.parse import urlparse

import pyarrow as pa

import pcapx

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["read", "spark_arrow_schema"]

_WIDEN = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.int64(),
}


def spark_arrow_schema(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema Spark accepts for a pcapx table's schema."""
    out = []
    for f in schema:
        t = f.type
        if t in _WIDEN:
            t = _WIDEN[t]
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="UTC")
        out.append(pa.field(f.name, t, nullable=True))
    return pa.schema(out)


def _local_copy(path: str, tmpdir: str) -> str:
    """A local path for ``path``: itself for local files, else a copy."""
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return parsed.path if parsed.scheme == "file" else path
    import pyarrow.fs as pafs

    fs, inner = pafs.FileSystem.from_uri(path)
    local = os.path.join(tmpdir, os.path.basename(inner) or "capture")
    with fs.open_input_stream(inner) as src, open(local, "wb") as dst:
        while True:
            chunk = src.read(1 << 22)
            if not chunk:
                break
            dst.write(chunk)
    return local


def read(
    spark: "SparkSession",
    paths: Union[str, Sequence[str]],
    *,
    fields: Union[str, Sequence[str], None] = None,
    all: bool = False,
    filter: Optional[str] = None,
    occurrence: str = "first",
    file_column: Optional[str] = None,
    glob: Optional[str] = None,
    recursive: bool = False,
    batch_rows: int = 65536,
    threads: int = 1,
) -> "DataFrame":
    """Decode the capture files under ``paths`` into a Spark DataFrame with
    the columns of :func:`pcapx.read` (Spark types, see the module's
    documentation).

    Args:
        spark: the session.
        paths: files, directories or globs, in any file system Spark lists.
        fields, all, filter, occurrence: as :func:`pcapx.read`.
        file_column: add a string column of this name holding each row's
            source file (the path as Spark listed it).
        glob: only file names matching this pattern (``"*.pcap*"``);
            default: every file.
        recursive: look into subdirectories.
        batch_rows: rows per Arrow batch handed to Spark.
        threads: pcapx worker threads per task (Spark already runs one task
            per core).
    """
    from pyspark.sql.pandas.types import from_arrow_schema

    path_list = [paths] if isinstance(paths, str) else list(paths)
    reader = spark.read.format("binaryFile")
    if glob:
        reader = reader.option("pathGlobFilter", glob)
    if recursive:
        reader = reader.option("recursiveFileLookup", "true")
    files = reader.load(path_list).select("path")

    # The schema, known on the driver without reading a packet: an empty
    # batch of the table's columns.
    arrow_schema = spark_arrow_schema(
        pcapx._pcapx.schema(pcapx._fields_arg(fields), all, occurrence, [])
    )
    if file_column:
        arrow_schema = arrow_schema.append(pa.field(file_column, pa.string()))
    spark_schema = from_arrow_schema(arrow_schema)
    def decode(listing: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pcapx as px

        with tempfile.TemporaryDirectory(prefix="pcapx-") as tmp:
            for listed in listing:
                for path in listed.column(0).to_pylist():
                    local = _local_copy(path, tmp)
                    decoded = px.batches(
                        local,
                        fields=fields,
                        all=all,
                        filter=filter,
                        occurrence=occurrence,
                        batch_rows=batch_rows,
                        threads=threads,
                    )
                    for rb in decoded:
                        arrays = [
                            col.cast(field.type)
                            for col, field in zip(rb.columns, arrow_schema)
                        ]
                        if file_column:
                            arrays.append(pa.array([path] * rb.num_rows, pa.string()))
                        yield pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)
                    if local != path and os.path.dirname(local) == tmp:
                        os.remove(local)

    return files.mapInArrow(decode, spark_schema)
