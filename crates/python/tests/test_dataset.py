"""`pcapx convert -o DIR --partition-by date|hour|file`: the Hive-partitioned
dataset read back as one table by pyarrow.dataset and DuckDB equals the
unpartitioned Parquet output plus the partition columns, typed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from conftest import FIXTURES, cli, need

FIELDS = "frame.number,frame.file,frame.time_epoch,ip.src,ip.dst,tcp.stream,udp.stream,dns.qry.name"
INPUTS = [
    FIXTURES / "tutorial.pcap",
    FIXTURES / "app" / "zeek-dhcp.pcap",
    FIXTURES / "dns.pcap",
    FIXTURES / "app" / "foxio-tls12.pcap",
]

PARTITIONING = {
    "date": pa.schema([("date", pa.date32())]),
    "hour": pa.schema([("date", pa.date32()), ("hour", pa.int8())]),
    "file": pa.schema([("file", pa.string())]),
}


def expected_keys(t: pa.Table, by: str) -> dict[str, list]:
    times = [
        dt.datetime.fromtimestamp(v.value / 1e9, tz=dt.timezone.utc) if hasattr(v, "value") else v
        for v in t.column("frame.time_epoch").to_pylist()
    ]
    if by == "file":
        return {"file": [Path(f).name for f in t.column("frame.file").to_pylist()]}
    out = {"date": [x.date() for x in times]}
    if by == "hour":
        out["hour"] = [x.hour for x in times]
    return out


@pytest.mark.parametrize("by", ["date", "hour", "file"])
def test_partitioned_dataset_reads_as_one_table(tmp_path: Path, by: str) -> None:
    plain = tmp_path / "plain.parquet"
    cli("convert", *map(str, INPUTS), "--fields", FIELDS, "-o", str(plain))
    want = pq.read_table(plain).sort_by("frame.number")
    out = tmp_path / "ds"
    cli("convert", *map(str, INPUTS), "--fields", FIELDS, "-o", str(out), "--partition-by", by)
    got = (
        ds.dataset(out, format="parquet", partitioning=ds.partitioning(PARTITIONING[by], flavor="hive"))
        .to_table()
        .sort_by("frame.number")
    )
    assert got.num_rows == want.num_rows > 0
    assert got.select(want.column_names).equals(want)
    keys = expected_keys(want, by)
    for name, values in keys.items():
        assert got.column(name).to_pylist() == values
    # Several partitions: the inputs are from different days.
    assert len(set(zip(*keys.values()))) > 1

    try:
        import duckdb
    except ImportError:
        need(False, "duckdb (Python)")
    con = duckdb.connect()
    rel = con.sql(
        f"SELECT * FROM read_parquet('{out}/**/*.parquet', hive_partitioning = true) "
        'ORDER BY "frame.number"'
    )
    d = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.fetch_arrow_table()
    if hasattr(d, "read_all"):
        d = d.read_all()
    assert d.num_rows == want.num_rows
    assert d.column("frame.number").to_pylist() == want.column("frame.number").to_pylist()
    assert d.column("ip.src").to_pylist() == want.column("ip.src").to_pylist()
    types = dict(zip(rel.columns, map(str, rel.types)))
    if by == "file":
        assert types["file"] == "VARCHAR"
        assert d.column("file").to_pylist() == keys["file"]
    else:
        assert types["date"] == "DATE"
        assert d.column("date").to_pylist() == keys["date"]
    if by == "hour":
        assert types["hour"] in ("BIGINT", "INTEGER")
        assert d.column("hour").to_pylist() == keys["hour"]
