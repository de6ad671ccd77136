"""pcapx: packet captures as Arrow tables, decoded in Rust.

``pcapx.read("trace.pcap").to_pandas()`` is the Scapy tutorial's DataFrame
(one row per IPv4 packet, its 26 columns), built by the same engine as
``pcapx convert trace.pcap -o x.parquet``: the same rows, column names, types
and values, handed to pyarrow through the Arrow C data interface.

Every function releases the GIL while Rust works (``threads`` defaults to the
machine's cores; results are identical for any count), and Ctrl-C raises
``KeyboardInterrupt`` and stops the job at its next batch.

Errors: :class:`CaptureError` (an ``OSError``: missing, unreadable or
malformed capture), :class:`FilterError` (a ``ValueError``: the expression
with a caret under the error), ``ValueError`` (unknown field, bad argument),
:class:`PcapxError` (anything else).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

from . import _pcapx
from ._pcapx import CaptureError, FilterError, PcapxError

if TYPE_CHECKING:
    import pyarrow

__all__ = [
    "CaptureError",
    "FilterError",
    "PcapxError",
    "Source",
    "batches",
    "describe",
    "fields",
    "flows",
    "read",
    "sniff",
    "stats",
    "summary",
]

__version__: str = _pcapx.__version__

#: A capture path, or a list of them, read in order as one stream: a
#: directory stands for its capture files (in name order, not recursive), a
#: glob pattern (``"day-*.pcap"``) for the files it matches — exactly as the
#: CLI reads its FILE arguments.
Source = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]


def _paths(source: Source) -> list[str]:
    """The arguments of ``source`` as strings; pcapx expands directories and
    globs itself (as ``pcapx convert A B DIR 'GLOB'`` does)."""
    if isinstance(source, (str, os.PathLike)):
        return [os.fspath(source)]
    out = [os.fspath(item) for item in source]
    if not out:
        raise ValueError("no capture given")
    return out


def _fields_arg(fields: Union[str, Sequence[str], None]) -> Optional[str]:
    if fields is None:
        return None
    if isinstance(fields, str):
        return fields
    return ",".join(fields)


def _plugins(plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]]) -> list[str]:
    return [os.fspath(p) for p in plugins or ()]


def read(
    source: Source,
    *,
    fields: Union[str, Sequence[str], None] = None,
    all: bool = False,
    filter: Optional[str] = None,
    count: Optional[int] = None,
    threads: Optional[int] = None,
    occurrence: str = "first",
    plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
    defrag: bool = True,
    desegment: bool = True,
    community_id_seed: int = 0,
) -> "pyarrow.Table":
    """Decode captures into a table: the rows and columns of
    ``pcapx convert SOURCE -o x.parquet`` with the same options.

    Args:
        source: a capture path (pcap or pcapng, optionally gzip/zstd
            compressed), a directory, a glob pattern, or a list of them,
            read in order as one stream: frame numbers continue from one
            file to the next (as ``mergecap -a`` numbers them), the filter
            and ``count`` apply to the whole stream, stream numbering and
            reassembly carry over, and the ``frame.file`` field names each
            row's file.
        fields: field names or aliases (``"ip.src,tcp.dstport"`` or a
            list); one row per packet. Default: the Scapy tutorial's 26
            columns, one row per IPv4 packet.
        all: one row per packet of any kind with the default columns.
        filter: tcpdump/libpcap filter expression, e.g. ``"tcp port 443"``.
        count: stop after this many packets (counted after the filter,
            over all sources).
        threads: threads doing the work, i.e. cores used (default: all cores;
            1: everything on the job thread).
        occurrence: which occurrence of a repeated field a cell shows:
            ``"first"``, ``"last"`` or ``"all"`` (strings joined by ``;``).
        plugins: dissector plugin files to load (besides PCAPX_PLUGIN_PATH).
        defrag: reassemble fragmented IP datagrams.
        desegment: reassemble TCP segments into application PDUs.
        community_id_seed: seed of the ``communityid`` field.

    Returns:
        A ``pyarrow.Table``; ``.to_pandas()`` gives the DataFrame (integer
        columns with missing values become float64 there, as pandas does;
        ``.to_pandas(types_mapper=pd.ArrowDtype)`` keeps them exact).
    """
    return _pcapx.read(
        _paths(source),
        _fields_arg(fields),
        all,
        filter,
        count,
        threads,
        occurrence,
        _plugins(plugins),
        not defrag,
        not desegment,
        community_id_seed,
        65536,
    )


def sniff(
    iface: Union[str, Sequence[str]],
    *,
    count: Optional[int] = None,
    duration: Optional[float] = None,
    filter: Optional[str] = None,
    fields: Union[str, Sequence[str], None] = None,
    all: bool = False,
    snaplen: Optional[int] = None,
    promisc: bool = True,
    occurrence: str = "first",
    threads: Optional[int] = None,
) -> "pyarrow.Table":
    """Capture live packets (Linux; root or ``CAP_NET_RAW``) and return their
    table: the rows and columns :func:`read` gives for a capture file of the
    same packets (Scapy's ``sniff()``, as a table). The capture path is
    ``pcapx capture``'s: an ``AF_PACKET`` ring, the filter compiled by pcapx
    and attached in the kernel.

    It stops after ``count`` packets (counted after the filter), after
    ``duration`` seconds, or both, whichever comes first; with neither it
    runs until Ctrl-C. Ctrl-C raises ``KeyboardInterrupt`` (as :func:`read`
    does; what was captured is dropped), and the capture is closed.

    Args:
        iface: interface name (``"any"``: every interface, cooked), or a
            list of them.
        count: stop after this many packets.
        duration: stop after this many seconds.
        filter: tcpdump/libpcap filter expression (runs in the kernel).
        fields, all, occurrence, threads: as :func:`read`.
        snaplen: bytes kept per packet (default 262144).
        promisc: put the interfaces in promiscuous mode.

    Raises:
        CaptureError: unknown interface, or no privilege to capture.
        FilterError: the filter does not compile.
    """
    interfaces = [iface] if isinstance(iface, str) else list(iface)
    return _pcapx.sniff(
        interfaces,
        count,
        duration,
        filter,
        _fields_arg(fields),
        all,
        snaplen,
        promisc,
        occurrence,
        threads,
    )


def batches(
    source: Source,
    *,
    batch_rows: int = 65536,
    fields: Union[str, Sequence[str], None] = None,
    all: bool = False,
    filter: Optional[str] = None,
    count: Optional[int] = None,
    threads: Optional[int] = None,
    occurrence: str = "first",
    plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
    defrag: bool = True,
    desegment: bool = True,
    community_id_seed: int = 0,
) -> Iterator["pyarrow.RecordBatch"]:
    """The rows of :func:`read` as record batches of ``batch_rows`` rows
    (the last may be shorter), decoded while you iterate: memory stays
    bounded by a few batches whatever the capture's size. Concatenated, the
    batches equal :func:`read`'s table. Other arguments as :func:`read`.
    """
    return _pcapx.batches(
        _paths(source),
        _fields_arg(fields),
        all,
        filter,
        count,
        threads,
        occurrence,
        _plugins(plugins),
        not defrag,
        not desegment,
        community_id_seed,
        batch_rows,
    )


def _names(v: Union[str, Sequence[str], None]) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return list(v)


def stats(
    source: Source,
    group_by: Union[str, Sequence[str]],
    *,
    size: bool = False,
    sum: Union[str, Sequence[str], None] = None,
    mean: Union[str, Sequence[str], None] = None,
    min: Union[str, Sequence[str], None] = None,
    max: Union[str, Sequence[str], None] = None,
    nunique: Union[str, Sequence[str], None] = None,
    aggs: Optional[Sequence[tuple[str, Optional[str]]]] = None,
    sort: str = "value",
    top: Optional[int] = None,
    all: bool = False,
    filter: Optional[str] = None,
    count: Optional[int] = None,
    threads: Optional[int] = None,
    plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
    defrag: bool = True,
    desegment: bool = True,
) -> "pyarrow.Table":
    """Group-by aggregates over the rows of :func:`read` (``pcapx stats``):
    ``stats(src, "src", sum="payload")`` is the tutorial's
    ``df.groupby("src")["payload"].sum()``, exact and in one pass.

    Aggregates come out as columns ``<field>_<agg>`` (``count`` for
    ``size=True``), in this order: ``size``, ``sum``, ``mean``, ``min``,
    ``max``, ``nunique`` — or exactly ``aggs``, a list of
    ``(agg, field)`` pairs (``("count", None)``) when given. With none,
    ``count``. Rows are sorted by the first aggregate, descending
    (``sort="key"``: by key), ``top`` keeps the first rows. ``count`` is the
    packet limit, as in :func:`read`. A row with a key field absent is
    dropped (pandas' ``dropna``).
    """
    if aggs is None:
        agg_list: list[tuple[str, Optional[str]]] = []
        if size:
            agg_list.append(("count", None))
        for kind, value in (
            ("sum", sum),
            ("mean", mean),
            ("min", min),
            ("max", max),
            ("nunique", nunique),
        ):
            agg_list.extend((kind, f) for f in _names(value))
    else:
        agg_list = [(k, f) for k, f in aggs]
    if not agg_list:
        agg_list = [("count", None)]
    return _pcapx.stats(
        _paths(source),
        _names(group_by),
        agg_list,
        all,
        filter,
        count,
        threads,
        sort,
        top,
        _plugins(plugins),
        not defrag,
        not desegment,
    )


def describe(
    source: Source,
    fields: Union[str, Sequence[str]],
    *,
    all: bool = False,
    filter: Optional[str] = None,
    count: Optional[int] = None,
    threads: Optional[int] = None,
    plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
    defrag: bool = True,
    desegment: bool = True,
) -> dict[str, dict[str, Any]]:
    """pandas ``describe()`` of fields over the rows of :func:`read`
    (``pcapx describe``), exact: ``{field: {"count": …, "mean": …, …}}``
    for numeric fields (count, mean, std, min, 25%, 50%, 75%, max) and
    ``{"count", "unique", "top", "freq"}`` for the others.
    ``pandas.DataFrame(describe(...))`` has pandas' layout.
    """
    return _pcapx.describe(
        _paths(source),
        _names(fields),
        all,
        filter,
        count,
        threads,
        _plugins(plugins),
        not defrag,
        not desegment,
    )


def summary(
    source: Source,
    *,
    count: Optional[int] = None,
    filter: Optional[str] = None,
    numeric: bool = False,
    plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
    defrag: bool = True,
    desegment: bool = True,
) -> list[str]:
    """One Scapy-style summary line per packet (``pcapx summary``);
    ``numeric``: port numbers instead of service names."""
    return _pcapx.summary(
        _paths(source),
        filter,
        count,
        numeric,
        _plugins(plugins),
        not defrag,
        not desegment,
    )


def flows(
    source: Source,
    *,
    filter: Optional[str] = None,
    count: Optional[int] = None,
    idle_timeout: Optional[float] = None,
    active_timeout: Optional[float] = None,
    community_id_seed: int = 0,
    threads: Optional[int] = None,
) -> "pyarrow.Table":
    """One row per bidirectional flow, like Zeek's conn.log: exactly the
    rows, columns and types of ``pcapx flows SOURCE -o x.parquet`` with the
    same options (see the README's "Flows").

    Args:
        source: as :func:`read` (several files are one stream: a flow that
            continues in the next file is one flow).
        filter: tcpdump/libpcap filter expression; packets it rejects are in
            no flow.
        count: stop after this many packets (after the filter).
        idle_timeout: end a flow after this many seconds without a packet
            (every protocol; default TCP 300 s, others 60 s, as Zeek).
        active_timeout: end a flow this many seconds after its first packet
            (default 1800 s, as nfstream).
        community_id_seed: seed of the ``community_id`` column.
        threads: threads doing the work (default: all cores); the table is the same
            for any count.

    Returns:
        A ``pyarrow.Table`` in first-packet order: ``community_id``,
        ``proto``, ``src``, ``sport``, ``dst``, ``dport``, ``first_time``,
        ``last_time``, ``duration``, packets/bytes/payload bytes each way,
        ``tcp.stream``, ``udp.stream``, ``conn_state``, ``history``,
        retransmission/out-of-order/lost counts, ``vlan``, ``service``.
    """
    return _pcapx.flows(
        _paths(source),
        filter,
        count,
        idle_timeout,
        active_timeout,
        community_id_seed,
        threads,
    )


def fields(
    layer: Optional[str] = None,
    *,
    plugins: Optional[Sequence[Union[str, "os.PathLike[str]"]]] = None,
) -> list[dict[str, Any]]:
    """Every registered field (``pcapx fields --json``): dicts with
    ``protocol``, ``name``, ``display``, ``type``, ``aliases``,
    ``description``, ``origin``; ``layer`` keeps one protocol's."""
    return _pcapx.fields(_plugins(plugins), layer)

