"""Perturb a capture's TCP data segments for the sequence-analysis oracle test.

Usage: tcp_analysis_perturb.py SRC DST SEED MODE

Deterministic for a seed: each TCP segment with payload is dropped (10 %),
duplicated (10 %) or swapped with the packet before it (10 %). MODE ``keep``
keeps the original timestamps (a swap makes time go backwards); ``mono``
re-times every packet at a fixed step (0.5, 2 or 20 ms by seed), so swaps
and copies fall inside or outside tshark's out-of-order and
fast-retransmission time windows.
"""

import random
import sys

from scapy.all import TCP, rdpcap, wrpcap  # type: ignore[import-untyped]


def main(src: str, dst: str, seed: int, mode: str) -> None:
    r = random.Random(seed)
    packets = list(rdpcap(src))
    out = []
    for p in packets:
        if TCP in p and len(p[TCP].payload) > 0:
            x = r.random()
            if x < 0.10:
                continue
            if x < 0.20:
                out.append(p)
                out.append(p.copy())
                continue
            if x < 0.30 and out:
                prev = out.pop()
                out.append(p)
                out.append(prev)
                continue
        out.append(p)
    if mode == "mono" and packets:
        t = float(packets[0].time)
        step = [0.0005, 0.002, 0.02][seed % 3]
        for p in out:
            p.time = t
            t += step
    wrpcap(dst, out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
