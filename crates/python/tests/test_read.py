"""pcapx.read / pcapx.batches against the CLI's Parquet output: the same
schema and values, on the fixtures and the corpus."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pcapx
from conftest import (
    FIXTURES,
    cli,
    corpus,
    corpus_captures,
    fixture_captures,
    need,
)


def convert_parquet(src: Path, out: Path, *args: str) -> pa.Table | None:
    """`pcapx convert SRC -o OUT.parquet ARGS`, read back with pyarrow;
    None when the CLI refuses the capture."""
    p = cli("convert", str(src), "-o", str(out), *args, check=False)
    if p.returncode != 0:
        return None
    return pq.read_table(out)


def assert_same(got: pa.Table, want: pa.Table, what: str) -> None:
    assert got.schema.equals(want.schema), f"{what}: schema\n{got.schema}\n!=\n{want.schema}"
    assert got.num_rows == want.num_rows, f"{what}: {got.num_rows} rows != {want.num_rows}"
    for name in want.column_names:
        g, w = got.column(name), want.column(name)
        assert g.equals(w), f"{what}: column {name} differs"
    assert got.equals(want)


def check_file(src: Path, tmp: Path, **kw: object) -> str:
    """read(src, **kw) equals convert's Parquet for the same options, or
    both refuse the file. Returns "rows" or "refused"."""
    args: list[str] = []
    if kw.get("fields"):
        args += ["--fields", str(kw["fields"])]
    if kw.get("all"):
        args.append("--all")
    if kw.get("filter"):
        args += ["--filter", str(kw["filter"])]
    if kw.get("count") is not None:
        args += ["-c", str(kw["count"])]
    if kw.get("occurrence"):
        args += ["--occurrence", str(kw["occurrence"])]
    want = convert_parquet(src, tmp / "x.parquet", *args)
    if want is None:
        with pytest.raises((pcapx.CaptureError, pcapx.FilterError)):
            pcapx.read(src, **kw)  # type: ignore[arg-type]
        return "refused"
    got = pcapx.read(src, **kw)  # type: ignore[arg-type]
    assert_same(got, want, f"{src.name} {kw}")
    return "rows"


def test_read_equals_convert_parquet_on_every_fixture(tmp_path: Path) -> None:
    files = fixture_captures()
    assert len(files) > 15
    outcome = [check_file(f, tmp_path) for f in files]
    assert outcome.count("rows") > 15
    # not-a-capture.pcap is refused by both
    assert "refused" in outcome


def test_read_equals_convert_parquet_with_all_and_field_lists(tmp_path: Path) -> None:
    fields = (
        "frame.number,frame.time_epoch,frame.len,eth.src,ip.src,ipv6.src,"
        "tcp.srcport,udp.dstport,tcp.flags.syn,ip.ttl,dns.qry.name,frame.protocols,"
        "tcp.stream,communityid,data.data,padding.data,frame.truncated"
    )
    for f in fixture_captures():
        check_file(f, tmp_path, all=True)
        check_file(f, tmp_path, fields=fields)
        check_file(f, tmp_path, fields="ip.src,tcp.options,ip.dsfield", occurrence="all")


def test_read_equals_convert_parquet_with_filter_and_count(tmp_path: Path) -> None:
    for f in [FIXTURES / "tutorial.pcap", FIXTURES / "dns.pcap", FIXTURES / "vlan.pcap"]:
        check_file(f, tmp_path, filter="tcp or udp port 53")
        check_file(f, tmp_path, count=5)
        check_file(f, tmp_path, filter="tcp", count=3, all=True)


def test_read_equals_convert_parquet_on_the_corpus(tmp_path: Path) -> None:
    need(corpus() is not None, "the capture corpus (PCAPX_CORPUS)")
    files = corpus_captures()
    assert len(files) > 100
    outcome = [check_file(f, tmp_path, all=True) for f in files]
    rows = outcome.count("rows")
    print(f"corpus: {rows} files equal, {outcome.count('refused')} refused by both")
    assert rows > 100
    # The tutorial table (IPv4 rows) too.
    for f in files:
        check_file(f, tmp_path)


def test_read_accepts_paths_lists_and_directories(tmp_path: Path) -> None:
    one = pcapx.read(FIXTURES / "tutorial.pcap")
    n = one.num_rows
    assert n == 26 and one.num_columns == 26
    two = pcapx.read([str(FIXTURES / "tutorial.pcap"), FIXTURES / "tutorial.pcap.gz"])
    assert two.num_rows == 2 * n
    assert two.slice(n).equals(one) and two.slice(0, n).equals(one)
    # count is a limit over all sources (packets: tutorial.pcap has 29)
    assert pcapx.read([FIXTURES / "tutorial.pcap"] * 2, count=40, all=True).num_rows == 40
    d = tmp_path / "d"
    d.mkdir()
    (d / "b.pcap").write_bytes((FIXTURES / "tutorial.pcap").read_bytes())
    (d / "a.pcap").write_bytes((FIXTURES / "dns.pcap").read_bytes())
    (d / "notes.txt").write_text("not a capture")
    got = pcapx.read(d, all=True)
    want = pa.concat_tables(
        [pcapx.read(d / "a.pcap", all=True), pcapx.read(d / "b.pcap", all=True)]
    )
    assert got.equals(want)


def test_batches_concatenated_equal_read(big_capture: Path) -> None:
    whole = pcapx.read(big_capture)
    assert whole.num_rows == 26 * 4000
    parts = list(pcapx.batches(big_capture, batch_rows=10_000))
    assert [b.num_rows for b in parts] == [10_000] * 10 + [4_000]
    assert pa.Table.from_batches(parts).equals(whole)
    small = list(pcapx.batches(FIXTURES / "tutorial.pcap", batch_rows=7, all=True))
    assert [b.num_rows for b in small] == [7, 7, 7, 7, 1]  # 29 packets
    assert pa.Table.from_batches(small).equals(pcapx.read(FIXTURES / "tutorial.pcap", all=True))


def test_batches_can_be_abandoned(big_capture: Path) -> None:
    it = pcapx.batches(big_capture, batch_rows=1000)
    first = next(it)
    assert first.num_rows == 1000
    it.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration):
        next(it)
    # and dropped mid-way without close
    it = pcapx.batches(big_capture, batch_rows=1000)
    next(it)
    del it


def test_the_same_table_for_any_thread_count(big_capture: Path) -> None:
    one = pcapx.read(big_capture, threads=1, all=True)
    two = pcapx.read(big_capture, threads=2, all=True)
    assert one.equals(two)


def test_default_table_is_the_tutorials() -> None:
    t = pcapx.read(FIXTURES / "tutorial.pcap")
    assert t.column_names == [
        "version", "ihl", "tos", "len", "id", "ip.flags", "frag", "ttl", "proto",
        "ip.chksum", "src", "dst", "ip.options", "time", "sport", "dport", "seq",
        "ack", "dataofs", "reserved", "tcp.flags", "window", "tcp.chksum",
        "urgptr", "tcp.options", "payload",
    ]  # fmt: skip
    assert t.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert t.schema.field("src").type == pa.string()
    assert t.schema.field("ttl").type == pa.uint8()
    assert t.schema.field("seq").type == pa.uint32()


MULTI = [
    FIXTURES / "tutorial.pcap",
    FIXTURES / "fragments.pcap",
    FIXTURES / "dns.pcap",
    FIXTURES / "tutorial.pcap",
]
MULTI_FIELDS = (
    "frame.number,frame.file,frame.time_epoch,ip.src,ip.dst,tcp.stream,udp.stream,"
    "communityid,tcp.analysis.retransmission,dns.qry.name"
)


def test_several_files_agree_with_the_cli(tmp_path: Path) -> None:
    """read/batches/stats/describe/summary on several files, a directory and
    a glob equal the CLI's output for the same arguments (one stream: frame
    numbers continue, frame.file names each row's file)."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "b.pcap").write_bytes((FIXTURES / "tutorial.pcap").read_bytes())
    (d / "a.pcap").write_bytes((FIXTURES / "dns.pcap").read_bytes())
    args = [str(p) for p in MULTI] + [str(d), str(d / "[ab].pcap")]
    out = tmp_path / "multi.parquet"
    cli("convert", *args, "--fields", MULTI_FIELDS, "-o", str(out))
    want = pq.read_table(out)
    got = pcapx.read(args, fields=MULTI_FIELDS)
    assert got.equals(want)
    assert pa.Table.from_batches(
        list(pcapx.batches(args, fields=MULTI_FIELDS, batch_rows=7))
    ).equals(want)
    numbers = got.column("frame.number").to_pylist()
    assert numbers == list(range(1, len(numbers) + 1))
    files = got.column("frame.file").to_pylist()
    assert files[0] == str(MULTI[0]) and files[-1] == str(d / "b.pcap")
    assert [f for i, f in enumerate(files) if i == 0 or files[i - 1] != f] == [
        str(MULTI[0]),
        str(MULTI[1]),
        str(MULTI[2]),
        str(MULTI[3]),
        str(d / "a.pcap"),
        str(d / "b.pcap"),
        str(d / "a.pcap"),
        str(d / "b.pcap"),
    ]
    # count spans files, as -c does.
    cli("convert", *args, "--fields", MULTI_FIELDS, "-c", "50", "-o", str(out))
    assert pcapx.read(args, fields=MULTI_FIELDS, count=50).equals(pq.read_table(out))
    # The statistics and summaries over the same stream.
    s = pcapx.stats(args, "src", sum="payload", sort="key").to_pylist()
    text = cli("stats", *args, "--group-by", "src", "--sum", "payload", "--sort", "key",
               "--format", "csv").stdout.splitlines()
    assert [f"{r['src']},{r['payload_sum']}" for r in s] == text[1:]
    assert pcapx.summary(args) == cli("summary", *args).stdout.splitlines()
    desc = pcapx.describe(args, ["payload"])
    assert desc["payload"]["count"] == sum(1 for r in pcapx.read(args).column("payload").to_pylist() if r is not None)


def test_a_missing_file_among_several_is_a_capture_error(tmp_path: Path) -> None:
    with pytest.raises(pcapx.CaptureError, match="missing.pcap"):
        pcapx.read([FIXTURES / "tutorial.pcap", tmp_path / "missing.pcap"])
    with pytest.raises(ValueError, match="no file matches"):
        pcapx.read(str(tmp_path / "*.pcap"))
