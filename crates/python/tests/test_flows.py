"""pcapx.flows against `pcapx flows -o x.parquet`: the same rows, columns and
types, on the fixtures and the corpus, with options and several files."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import pcapx
from conftest import FIXTURES, cli, corpus_captures, fixture_captures, need


def cli_flows(src: list[Path], out: Path, *args: str):
    p = cli("flows", *map(str, src), "-o", str(out), *args, check=False)
    if p.returncode != 0:
        return None
    return pq.read_table(out)


def check(src: list[Path], tmp: Path, *args: str, **kw) -> int:
    want = cli_flows(src, tmp / "f.parquet", *args)
    if want is None:
        with pytest.raises((pcapx.CaptureError, ValueError, pcapx.PcapxError)):
            pcapx.flows(src, **kw)
        return 0
    got = pcapx.flows(src, **kw)
    assert got.schema.equals(want.schema), f"{src}: {got.schema} != {want.schema}"
    assert got.equals(want), f"{src} {args}"
    return got.num_rows


def test_flows_equal_the_cli_on_every_fixture(tmp_path: Path) -> None:
    rows = sum(check([f], tmp_path) for f in fixture_captures())
    assert rows > 20


def test_flows_equal_the_cli_with_options_and_several_files(tmp_path: Path) -> None:
    files = [FIXTURES / "tutorial.pcap", FIXTURES / "dns.pcap", FIXTURES / "tutorial.pcap"]
    assert check(files, tmp_path) > 0
    assert check(files, tmp_path, "-f", "tcp", "-c", "30", filter="tcp", count=30) > 0
    assert (
        check(
            files,
            tmp_path,
            "--idle-timeout",
            "0.05",
            "--active-timeout",
            "0.2",
            "--community-id-seed",
            "7",
            "--threads",
            "3",
            idle_timeout=0.05,
            active_timeout=0.2,
            community_id_seed=7,
            threads=3,
        )
        > 0
    )
    for t in (1, 2, 4):
        assert pcapx.flows(files, threads=t).equals(pcapx.flows(files, threads=1))
    with pytest.raises(ValueError, match="idle-timeout"):
        pcapx.flows(files, idle_timeout=-1)


def test_flows_equal_the_cli_on_the_corpus(tmp_path: Path) -> None:
    files = corpus_captures()
    need(bool(files), "the capture corpus (PCAPX_CORPUS)")
    rows = 0
    for f in files:
        rows += check([f], tmp_path)
    assert rows > 100
