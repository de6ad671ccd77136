"""The Scapy + pandas tutorial ("pcap to DataFrame"), redone with pcapx.

The tutorial reads a capture with Scapy and builds a pandas DataFrame packet
by packet (``pd.concat`` per packet: about 20 minutes per 100,000 packets,
everything in memory), then looks at it with ``describe()``, ``unique()``,
a group-by sum and a horizontal bar plot. Here the DataFrame comes from one
call, ``pcapx.read``, with the same 26 columns (``ip.flags``/``tcp.flags``,
``ip.chksum``/``tcp.chksum``, ``ip.options``/``tcp.options`` keep the two
layers' fields apart; the tutorial's ``payload_raw``/``payload_hex`` are
``--fields``-style extras, not part of the table).

Run: ``python examples/tutorial.py fixtures/tutorial.pcap [plot.png]``.
"""

from __future__ import annotations

import sys
from typing import Optional

import pandas as pd

import pcapx


def tutorial_dataframe(path: str) -> pd.DataFrame:
    """The tutorial's DataFrame: one row per IPv4 packet, its 26 columns."""
    return pcapx.read(path).to_pandas()


def main(path: str, plot: Optional[str] = None) -> None:
    df = tutorial_dataframe(path)
    print(df.head())

    # Statistics of the payload sizes, the tutorial's describe().
    print(df["payload"].describe())

    # Who talks: unique sources and destinations.
    print("sources:", df["src"].unique())
    print("destinations:", df["dst"].unique())

    # Bytes sent per source: the group-by sum...
    sent = df.groupby("src")["payload"].sum().sort_values()
    print(sent)
    # ... which pcapx can also compute without building the table.
    print(pcapx.stats(path, "src", sum="payload").to_pandas())

    # The tutorial's horizontal bar chart.
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = sent.plot(kind="barh", title="Addresses sending payloads", figsize=(8, 5))
        ax.set_xlabel("payload bytes")
        plt.tight_layout()
        plt.savefig(plot)
        print(f"plot written to {plot}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: tutorial.py CAPTURE [PLOT.png]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
