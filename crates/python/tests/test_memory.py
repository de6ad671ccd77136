"""pcapx.batches keeps memory bounded: the peak RSS (VmHWM from
/proc/self/status, in a child process) of iterating the batches of a
capture, each dropped, does not grow with the capture's size, while keeping
the whole table (pcapx.read) does. BENCHMARKS.md's one-off 407 MiB peak of
this job on the 1M-packet capture was not reproduced (see there)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, repeated_capture

CHILD = r"""
import sys, pcapx
if sys.argv[2] == "batches":
    n = sum(b.num_rows for b in pcapx.batches(sys.argv[1], threads=2))
else:
    n = pcapx.read(sys.argv[1], threads=2).num_rows
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(n, int(hwm.split()[1]) // 1024)
"""


def peak(path: Path, how: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), how], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[0]), int(out[1])


def test_batches_peak_memory_does_not_grow_with_the_capture(tmp_path: Path) -> None:
    small = repeated_capture(FIXTURES / "tutorial.pcap", 5_000, tmp_path / "small.pcap")
    big = repeated_capture(FIXTURES / "tutorial.pcap", 40_000, tmp_path / "big.pcap")
    n_small, p_small = peak(small, "batches")
    n_big, p_big = peak(big, "batches")
    assert n_big == 8 * n_small == 8 * 26 * 5_000
    # 8x the rows (1,040,000 rows, 116 MiB of capture): within a few
    # batches' worth of the small run's peak.
    assert p_big - p_small < 64, (p_small, p_big)
    assert p_big < 200, p_big
    # The whole table in memory does grow: the measurement can tell.
    _, p_read = peak(big, "read")
    assert p_read > p_big + 25, (p_big, p_read)
