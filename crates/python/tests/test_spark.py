"""pcapx.spark.read in local mode (local[2]) over several corpus captures:
row counts and a group-by sum equal `pcapx stats` over the same files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

import pcapx
from conftest import FIXTURES, cli, corpus, corpus_captures, need


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        need(False, "pyspark")
    need(shutil.which("java") is not None, "a Java runtime (java)")
    import sys

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    s = (
        SparkSession.builder.master("local[2]")
        .appName("pcapx-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # several tasks even for a few small files
        .config("spark.sql.files.maxPartitionBytes", "65536")
        .config("spark.sql.files.openCostInBytes", "8192")
        .getOrCreate()
    )
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def spark_files(tmp: Path) -> Path:
    """A directory of corpus captures pcapx reads (IPv4 ones), plus the
    tutorial capture."""
    need(corpus() is not None, "the capture corpus (PCAPX_CORPUS)")
    d = tmp / "caps"
    d.mkdir()
    n = 0
    for f in corpus_captures():
        if f.suffix != ".pcap" or f.stat().st_size > 200_000:
            continue
        if cli("info", str(f), check=False).returncode != 0:
            continue
        if pcapx.read(f).num_rows == 0:
            continue
        shutil.copy(f, d / f"{n:03d}-{f.name}")
        n += 1
        if n == 12:
            break
    shutil.copy(FIXTURES / "tutorial.pcap", d / "999-tutorial.pcap")
    return d


def cli_stats(files: list[Path], *args: str) -> dict[str, int]:
    """`pcapx stats` per file, summed: {key: (count, payload_sum)}."""
    out: dict[str, Any] = {}
    for f in files:
        rows = json.loads(
            cli("stats", str(f), "--group-by", "src", "--count", "--sum", "payload", "--format", "json", *args).stdout
        )
        for r in rows:
            c, s = out.get(r["src"], (0, 0))
            out[r["src"]] = (c + r["count"], s + r["payload_sum"])
    return out


def test_spark_counts_and_group_by_sum_equal_pcapx_stats(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    import pcapx.spark

    d = spark_files(tmp_path)
    files = sorted(d.iterdir())
    assert len(files) >= 8
    df = pcapx.spark.read(spark, str(d), file_column="file")
    assert df.rdd.getNumPartitions() >= 2
    want = cli_stats(files)
    # The same over one `pcapx stats` of every file (read as one stream).
    rows = json.loads(
        cli("stats", *map(str, files), "--group-by", "src", "--count", "--sum", "payload", "--format", "json").stdout
    )
    assert {r["src"]: (r["count"], r["payload_sum"]) for r in rows} == want
    assert df.count() == sum(c for c, _ in want.values())
    got = {
        r["src"]: (r["count"], r["payload_sum"])
        for r in df.groupBy("src")
        # SQL's sum of only nulls is null, pandas' (and pcapx stats') is 0
        .agg(F.count("*").alias("count"), F.coalesce(F.sum("payload"), F.lit(0)).alias("payload_sum"))
        .collect()
    }
    assert got == want
    # frame by file: each file's rows
    per_file = {r["file"]: r["count"] for r in df.groupBy("file").count().collect()}
    assert len(per_file) == len(files)
    for f in files:
        key = next(k for k in per_file if k.endswith(f.name))
        assert per_file[key] == pcapx.read(f).num_rows


def test_spark_types_and_values_equal_read(spark: Any, tmp_path: Path) -> None:
    import pcapx.spark

    df = pcapx.spark.read(spark, str(FIXTURES / "tutorial.pcap"), fields="ip.src,tcp.srcport,frame.time_epoch,ip.ttl")
    rows = df.collect()
    want = pcapx.read(FIXTURES / "tutorial.pcap", fields="ip.src,tcp.srcport,frame.time_epoch,ip.ttl").to_pylist()
    assert len(rows) == len(want)
    for r, w in zip(rows, want):
        assert r["ip.src"] == w["ip.src"]
        assert r["tcp.srcport"] == w["tcp.srcport"]
        assert r["ip.ttl"] == w["ip.ttl"]
        # Spark keeps microseconds
        assert r["frame.time_epoch"].timestamp() == pytest.approx(w["frame.time_epoch"].timestamp(), abs=1e-6)


def test_spark_reads_a_partitioned_dataset_as_one_table(spark: Any, tmp_path: Path) -> None:
    """`convert -o DIR --partition-by hour` read by Spark: the rows of the
    plain table, with `date` typed as a date and `hour` as an integer."""
    inputs = [FIXTURES / "tutorial.pcap", FIXTURES / "app" / "zeek-dhcp.pcap", FIXTURES / "dns.pcap"]
    out = tmp_path / "ds"
    cli("convert", *map(str, inputs), "--fields", "frame.number,ip.src,udp.length", "-o", str(out),
        "--partition-by", "hour")
    df = spark.read.parquet(str(out))
    types = dict(df.dtypes)
    assert types["date"] == "date" and types["hour"] == "int"
    plain = pcapx.read(inputs, fields="frame.number,ip.src,udp.length")
    got = sorted((r["frame.number"], r["ip.src"], r["udp.length"]) for r in df.collect())
    want = sorted(zip(*(plain.column(c).to_pylist() for c in ("frame.number", "ip.src", "udp.length"))))
    assert got == want
    assert df.select("date").distinct().count() == 2
