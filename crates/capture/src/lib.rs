//! pcapx capture files: read pcap and pcapng (plain, gzip or zstd, from a
//! file or standard input) as batches of records for a parallel pipeline,
//! survive damaged files, and write captures.
//!
//! # Principal types
//!
//! * [`Capture`] — an open capture: [`Capture::open`] (`-` is standard input),
//!   [`Capture::info`], [`Capture::next_batch`], [`Capture::damage`],
//!   [`Capture::for_each`] / [`Capture::try_for_each`] for sequential walks.
//! * [`Batch`] — `Send + 'static` run of records in file order, with the
//!   non-packet blocks ([`HeaderBlock`]) between them; [`Record`] is one
//!   packet (number, `ts_ns`, lengths, link type, interface, data, comment,
//!   offset, raw bytes).
//! * [`CaptureInfo`] — format, byte order(s), version, snaplen, sections,
//!   interfaces ([`InterfaceInfo`]), compression.
//! * [`Damage`] — what was skipped and where ([`DamageKind`]).
//! * [`CaptureWriter`] / [`copy_through`] — byte-exact filtered copies;
//!   [`PcapWriter`] / [`PcapNgWriter`] — build new files.
//! * [`CaptureError`] — errors naming the file.
//!
//! # Module layout
//!
//! * `capture` — opening (map or stream), the batch loop.
//! * `parser` — the format-independent step machine and resynchronisation;
//!   `pcap` and `pcapng` — the two formats.
//! * `source` — streamed input with gzip/zstd detection and a bounded buffer.
//! * `live` — live capture (Linux `AF_PACKET`, TPACKET_V3 ring) as a pcapng
//!   byte stream ([`Capture::open_live`]); its `sys` module holds the socket
//!   and ring `unsafe`.
//! * `mmap` — the memory map and `MADV_DONTNEED` release of dropped batches.
//! * `batch` — [`Batch`], [`Record`], [`HeaderBlock`].
//! * `time` — integer nanosecond timestamp conversions ([`TsResolution`]).
//! * `info`, `damage`, `error`, `writer`, `bytes` (bounds-checked reads).
//!
//! # Invariants
//!
//! * **No `unsafe` outside `mmap.rs` and `live/sys.rs`**, and each block
//!   there has a `SAFETY:` comment.
//! * **Never panics on input**: every read of file bytes is bounds-checked;
//!   lengths are validated before use; arithmetic saturates.
//! * **Always advances**: each parser step consumes at least one byte or
//!   ends, so any input — random bytes included — terminates.
//! * **Bounded memory**: records are indexed batch by batch (never the whole
//!   file); streams buffer only unconsumed bytes (a record or block is at most
//!   64 MiB); mapped pages of dropped batches are released to the kernel;
//!   at most 10 000 damage events and 65 536 interface descriptions are kept.
//! * **Timestamps** are `i64` nanoseconds since the epoch, converted with
//!   integer arithmetic and saturation (no floats).
//! * **Numbers**: records are numbered from 1 across the whole file; damaged
//!   records that cannot be read get no number.
//! * **Damage** never stops reading: the reader reports it, then resumes at the
//!   next plausible record or block (pcap: sane lengths and timestamps, and
//!   the following header also sane; pcapng: known type, sane length,
//!   matching trailer).

mod batch;
mod bytes;
mod capture;
mod damage;
mod error;
mod info;
pub mod live;
mod mmap;
mod parser;
mod pcap;
mod pcapng;
mod scout;
mod source;
mod time;
mod writer;

pub use batch::{Batch, HeaderBlock, Record};
pub use bytes::ByteOrder;
pub use capture::{Capture, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, STDIN_NAME};
pub use damage::{Damage, DamageKind};
pub use error::{CaptureError, CopyError};
pub use info::{CaptureInfo, Compression, Format, InterfaceInfo, SectionInfo};
pub use live::{
    FilterPlace, InterfaceListing, LiveConfig, LiveInterface, LiveStats, RecordFraming, RingPacket,
};
pub use mmap::prefetch;
#[doc(hidden)]
pub use scout::check_scouts_follow_the_chain;
pub use time::TsResolution;
pub use writer::{
    CaptureWriter, CopyStats, InterfaceSpec, PcapHeader, PcapNgWriter, PcapWriter, copy_through,
};

#[cfg(test)]
mod tests;
