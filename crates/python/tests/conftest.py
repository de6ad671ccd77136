"""Shared helpers of the pcapx Python tests: the repository, the `pcapx`
binary (the oracle the package must agree with), the corpus, and the rule
that a missing optional tool skips locally but fails under CI=true."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures"
CI = os.environ.get("CI", "") not in ("", "0", "false")


def need(condition: bool, what: str) -> None:
    """Skip (locally) or fail (under CI) when `what` is missing."""
    if condition:
        return
    if CI:
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} not available")


def pcapx_bin() -> Path:
    env = os.environ.get("PCAPX_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("debug", "release"):
        p = target / profile / "pcapx"
        if p.exists():
            return p
    found = shutil.which("pcapx")
    if found:
        return Path(found)
    pytest.fail("the pcapx binary is needed (cargo build, or PCAPX_BIN)")
    raise AssertionError  # unreachable


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the pcapx CLI."""
    p = subprocess.run(
        [str(pcapx_bin()), *args], capture_output=True, text=True, cwd=ROOT
    )
    if check and p.returncode != 0:
        raise AssertionError(f"pcapx {' '.join(args)} failed: {p.stderr}")
    return p


def corpus() -> Path | None:
    env = os.environ.get("PCAPX_CORPUS")
    if env and Path(env).is_dir():
        return Path(env)
    return None


CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz")


def captures(d: Path) -> list[Path]:
    """Every capture file under `d`, sorted."""
    return sorted(
        p for p in d.rglob("*") if p.is_file() and p.name.lower().endswith(CAPTURE_SUFFIXES)
    )


def fixture_captures() -> list[Path]:
    return captures(FIXTURES)


def corpus_captures() -> list[Path]:
    c = corpus()
    return captures(c) if c else []


def repeated_capture(src: Path, times: int, out: Path) -> Path:
    """A classic pcap whose records are `src`'s records `times` over (the
    same packets, many batches)."""
    data = src.read_bytes()
    header, body = data[:24], data[24:]
    magic = struct.unpack("<I", header[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    records = []
    off = 0
    while off + 16 <= len(body):
        incl = struct.unpack(endian + "I", body[off + 8 : off + 12])[0]
        records.append(body[off : off + 16 + incl])
        off += 16 + incl
    chunk = b"".join(records)
    with open(out, "wb") as f:
        f.write(header)
        for _ in range(times):
            f.write(chunk)
    return out


@pytest.fixture(scope="session")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """tutorial.pcap's 29 packets 4,000 times over (116,000 packets)."""
    d = tmp_path_factory.mktemp("big")
    yield repeated_capture(FIXTURES / "tutorial.pcap", 4000, d / "big.pcap")
