"""Benchmarks of the Python package (the rows of BENCHMARKS.md's "Python"
section):

1. ``pcapx.read`` on the 1M-packet capture vs ``pcapx convert -o x.parquet``
   followed by ``pyarrow.parquet.read_table`` (the CLI route into Python);
2. ``pcapx.read(...).to_pandas()`` vs the Scapy tutorial's ``PcapReader``
   loop building the same rows on the first 100,000 packets;
3. peak RSS of iterating ``pcapx.batches`` over the 1M capture (in a child
   process, ``ru_maxrss``).

Usage (release builds: ``maturin develop --release`` in the environment and
``cargo build --release -p pcapx``)::

    python crates/python/bench/bench_python.py BENCH-1000000.pcap PCAPX_BINARY [RUNS]

Prints Markdown: a table row per measurement, medians of RUNS (default 3)
after one warm-up; the Scapy loop runs once (it takes minutes).
"""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import pyarrow.parquet as pq

import pcapx


def median_time(f: Callable[[], object], runs: int) -> float:
    f()  # warm-up (page cache, engine)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def first_packets(src: Path, n: int, out: Path) -> Path:
    """A classic pcap with the first `n` records of `src`."""
    with open(src, "rb") as f:
        header = f.read(24)
        magic = struct.unpack("<I", header[:4])[0]
        endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        with open(out, "wb") as o:
            o.write(header)
            for _ in range(n):
                rh = f.read(16)
                if len(rh) < 16:
                    break
                incl = struct.unpack(endian + "I", rh[8:12])[0]
                o.write(rh + f.read(incl))
    return out


def scapy_tutorial_rows(path: Path) -> int:
    """The tutorial's loop over PcapReader (rows collected in a list and
    made into one DataFrame, which is faster than its per-packet concat)."""
    import pandas as pd
    from scapy.all import IP, TCP, PcapReader

    ip_fields = [f.name for f in IP().fields_desc]
    tcp_fields = [f.name for f in TCP().fields_desc]
    columns = ip_fields + ["time"] + tcp_fields + ["payload"]
    rows = []
    for packet in PcapReader(str(path)):
        if IP not in packet:
            continue
        values: list[object] = []
        for field in ip_fields:
            if field == "options":
                values.append(len(packet[IP].fields[field]))
            else:
                values.append(packet[IP].fields[field])
        values.append(packet.time)
        layer_type = type(packet[IP].payload)
        for field in tcp_fields:
            try:
                if field == "options":
                    values.append(len(packet[layer_type].fields[field]))
                else:
                    values.append(packet[layer_type].fields[field])
            except Exception:
                values.append(None)
        values.append(len(packet[layer_type].payload))
        rows.append(values)
    return len(pd.DataFrame(rows, columns=columns))


def batches_peak_rss(path: Path) -> float:
    """Peak RSS (MiB) of a child process that iterates pcapx.batches."""
    code = (
        "import resource, sys, pcapx\n"
        "n = sum(b.num_rows for b in pcapx.batches(sys.argv[1]))\n"
        "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[1]) / 1024


def main() -> None:
    src = Path(sys.argv[1])
    binary = sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with tempfile.TemporaryDirectory() as tmp:
        pq_path = Path(tmp) / "x.parquet"

        def via_cli() -> object:
            subprocess.run([binary, "convert", str(src), "-o", str(pq_path)], check=True)
            return pq.read_table(pq_path)

        rows = pcapx.read(src).num_rows
        t_read = median_time(lambda: pcapx.read(src), runs)
        t_cli = median_time(via_cli, runs)
        print(f"- capture: {src.name}, {rows} tutorial rows; medians of {runs} runs after a warm-up")
        print()
        print("| job | time | vs pcapx.read |")
        print("|---|---:|---:|")
        print(f"| `pcapx.read(path)` (pyarrow.Table) | {t_read:.3f} s | 1.0× |")
        print(f"| `pcapx convert -o x.parquet` + `pq.read_table` | {t_cli:.3f} s | {t_cli / t_read:.2f}× slower |")

        small = first_packets(src, 100_000, Path(tmp) / "first-100000.pcap")
        t_pd = median_time(lambda: pcapx.read(small).to_pandas(), runs)
        t0 = time.perf_counter()
        n = scapy_tutorial_rows(small)
        t_scapy = time.perf_counter() - t0
        assert n == pcapx.read(small).num_rows, (n, pcapx.read(small).num_rows)
        print(f"| 100k packets: `pcapx.read(path).to_pandas()` | {t_pd:.3f} s | — |")
        print(
            f"| 100k packets: Scapy `PcapReader` tutorial loop (list of rows, one DataFrame) "
            f"| {t_scapy:.1f} s | {t_scapy / t_pd:.0f}× slower than pcapx |"
        )
    rss = batches_peak_rss(src)
    size = os.path.getsize(src) / 2**20
    print()
    print(f"Peak RSS of iterating `pcapx.batches` (65,536 rows each) over the {size:.0f} MiB capture: {rss:.1f} MiB.")


if __name__ == "__main__":
    main()
