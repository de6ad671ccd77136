"""pcapx.stats / describe / summary / fields against the CLI (and stats
against pandas on pcapx.read's table)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import pcapx
from conftest import FIXTURES, cli, corpus, corpus_captures, need

TUTORIAL = FIXTURES / "tutorial.pcap"


def py_value(v: Any) -> Any:
    """A table cell as the CLI's JSON writes it."""
    if isinstance(v, pd.Timestamp):
        ns = v.value
        return f"{ns // 10**9}.{ns % 10**9:09d}"
    if isinstance(v, float) and v != v:
        return None
    return v


def stats_rows(table: Any) -> list[dict[str, Any]]:
    return [
        {k: py_value(v) for k, v in row.items()}
        for row in table.to_pandas(types_mapper=None).astype(object).to_dict("records")
    ]


CASES = [
    (["src"], ["--sum", "payload"], dict(sum="payload")),
    (["src"], ["--sum", "payload", "--count", "--mean", "ttl"],
     dict(aggs=[("sum", "payload"), ("count", None), ("mean", "ttl")])),
    (["src", "proto"], ["--max", "time", "--min", "len"], dict(aggs=[("max", "time"), ("min", "len")])),
    (["dst"], ["--nunique", "sport"], dict(nunique="sport")),
    (["proto"], [], {}),
]  # fmt: skip


@pytest.mark.parametrize("keys,flags,kw", CASES)
def test_stats_equals_cli(keys: list[str], flags: list[str], kw: dict[str, Any]) -> None:
    want = json.loads(
        cli("stats", str(TUTORIAL), "--group-by", ",".join(keys), *flags, "--format", "json").stdout
    )
    got = pcapx.stats(TUTORIAL, keys, **kw)
    assert stats_rows(got) == want


def test_stats_equals_cli_on_the_corpus_with_all_rows() -> None:
    need(corpus() is not None, "the capture corpus (PCAPX_CORPUS)")
    checked = 0
    for f in corpus_captures()[::7]:
        p = cli(
            "stats", str(f), "--all", "--group-by", "frame.protocols",
            "--sum", "frame.len", "--count", "--sort", "key", "--format", "json",
            check=False,
        )  # fmt: skip
        if p.returncode != 0:
            with pytest.raises(pcapx.CaptureError):
                pcapx.stats(f, "frame.protocols", all=True, sum="frame.len", size=True)
            continue
        got = pcapx.stats(
            f, "frame.protocols", all=True, sort="key",
            aggs=[("sum", "frame.len"), ("count", None)],
        )  # fmt: skip
        assert stats_rows(got) == json.loads(p.stdout), f.name
        checked += 1
    assert checked > 20


def test_stats_equals_pandas_groupby_on_read(big_capture: Path) -> None:
    df = pcapx.read(big_capture).to_pandas()
    want = df.groupby("src")["payload"].sum()
    got = pcapx.stats(big_capture, "src", sum="payload").to_pandas().set_index("src")
    assert got["payload_sum"].sort_index().to_dict() == want.sort_index().to_dict()
    want = df.groupby(["src", "proto"])["ttl"].agg(["mean", "min", "max", "count"])
    got = (
        pcapx.stats(big_capture, ["src", "proto"], mean="ttl", min="ttl", max="ttl", size=True)
        .to_pandas()
        .set_index(["src", "proto"])
        .sort_index()
    )
    for agg in ("mean", "min", "max"):
        assert got[f"ttl_{agg}"].to_dict() == pytest.approx(want[agg].sort_index().to_dict())
    assert got["count"].to_dict() == want["count"].sort_index().to_dict()


def test_describe_equals_cli_and_pandas() -> None:
    want = json.loads(
        cli("describe", str(TUTORIAL), "--field", "payload", "--field", "src", "--format", "json").stdout
    )
    got = pcapx.describe(TUTORIAL, ["payload", "src"])
    assert got == want
    df = pcapx.read(TUTORIAL).to_pandas()
    pd_payload = df["payload"].describe().to_dict()
    assert got["payload"] == pytest.approx(pd_payload)
    pd_src = df["src"].describe().to_dict()
    assert got["src"] == pd_src


def test_summary_equals_cli() -> None:
    for f in [TUTORIAL, FIXTURES / "dns.pcap", FIXTURES / "ipv6-ext.pcapng"]:
        want = cli("summary", str(f)).stdout.splitlines()
        assert pcapx.summary(f) == want
        want = cli("summary", str(f), "-n", "-c", "3", "--filter", "udp or tcp").stdout.splitlines()
        assert pcapx.summary(f, numeric=True, count=3, filter="udp or tcp") == want


def test_fields_equals_cli() -> None:
    assert pcapx.fields() == json.loads(cli("fields", "--json").stdout)
    tcp = pcapx.fields("tcp")
    assert tcp and all(f["protocol"] == "tcp" for f in tcp)
    assert any("dport" in f["aliases"] for f in tcp)
    with pytest.raises(ValueError, match="unknown protocol"):
        pcapx.fields("nosuchproto")


def test_decimal_times_agree() -> None:
    # time is nanoseconds since the epoch, UTC, as the CLI's epoch text
    t = pcapx.read(TUTORIAL, fields="frame.time_epoch").column(0).to_pylist()[0]
    text = cli("convert", str(TUTORIAL), "--fields", "frame.time_epoch").stdout.splitlines()[1]
    assert Decimal(int(pd.Timestamp(t).value)) / 10**9 == Decimal(text)
