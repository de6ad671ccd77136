"""Type stub of the Rust extension module ``pcapx._pcapx`` (see
``pcapx/__init__.py`` for the documented API, which normalises arguments
and calls these)."""

from typing import Any, Iterator, Optional

import pyarrow

__version__: str

class CaptureError(OSError):
    """A capture could not be read: missing, unreadable, not a pcap/pcapng file, or truncated."""

class FilterError(ValueError):
    """A filter expression that does not compile; the message shows the
    expression with a caret under the error."""

class PcapxError(Exception):
    """Any other failure of a pcapx job (plugins, internal errors)."""

class Batches(Iterator[pyarrow.RecordBatch]):
    def __iter__(self) -> "Batches": ...
    def __next__(self) -> pyarrow.RecordBatch: ...
    def close(self) -> None: ...

def read(
    paths: list[str],
    fields: Optional[str],
    all: bool,
    filter: Optional[str],
    count: Optional[int],
    threads: Optional[int],
    occurrence_: str,
    plugins: list[str],
    no_defrag: bool,
    no_desegment: bool,
    community_id_seed: int,
    batch_rows: int,
) -> pyarrow.Table: ...
def batches(
    paths: list[str],
    fields: Optional[str],
    all: bool,
    filter: Optional[str],
    count: Optional[int],
    threads: Optional[int],
    occurrence_: str,
    plugins: list[str],
    no_defrag: bool,
    no_desegment: bool,
    community_id_seed: int,
    batch_rows: int,
) -> Batches: ...
def stats(
    paths: list[str],
    group_by: list[str],
    aggs: list[tuple[str, Optional[str]]],
    all: bool,
    filter: Optional[str],
    count: Optional[int],
    threads: Optional[int],
    sort: str,
    top: Optional[int],
    plugins: list[str],
    no_defrag: bool,
    no_desegment: bool,
) -> pyarrow.Table: ...
def describe(
    paths: list[str],
    fields: list[str],
    all: bool,
    filter: Optional[str],
    count: Optional[int],
    threads: Optional[int],
    plugins: list[str],
    no_defrag: bool,
    no_desegment: bool,
) -> dict[str, dict[str, Any]]: ...
def summary(
    paths: list[str],
    filter: Optional[str],
    count: Optional[int],
    numeric: bool,
    plugins: list[str],
    no_defrag: bool,
    no_desegment: bool,
) -> list[str]: ...
def fields(plugins: list[str], layer: Optional[str]) -> list[dict[str, Any]]: ...
def schema(
    fields: Optional[str], all: bool, occurrence_: str, plugins: list[str]
) -> pyarrow.Schema: ...
def sniff(
    interfaces: list[str],
    count: Optional[int],
    duration: Optional[float],
    filter: Optional[str],
    fields: Optional[str],
    all: bool,
    snaplen: Optional[int],
    promisc: bool,
    occurrence_: str,
    threads: Optional[int],
) -> pyarrow.Table: ...
def flows(
    paths: list[str],
    filter: Optional[str],
    count: Optional[int],
    idle_timeout: Optional[float],
    active_timeout: Optional[float],
    community_id_seed: int,
    threads: Optional[int],
) -> pyarrow.Table: ...
