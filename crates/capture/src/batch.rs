//! Batches of records for the parallel pipeline, and the record view.

use crate::mmap::MappedRange;
use crate::parser::RecIdx;
use std::ops::Range;
use std::sync::Mutex;

/// Record index vectors of dropped batches, for the reader's next batches.
/// A batch's index (4,096 records × 80 bytes) is above glibc's mmap
/// threshold, so a fresh one per batch was a fresh map and a page fault per
/// 4 KiB when the batch is dropped on another thread than the reader's.
static SPARE_INDEX: Mutex<Vec<Vec<RecIdx>>> = Mutex::new(Vec::new());
/// How many wait for reuse at most, and the largest kept (in records).
const SPARE_INDEX_MAX: usize = 8;
const SPARE_INDEX_CAP: usize = 16 << 10;

/// An empty index vector with room for `n` records, reused if one waits.
pub(crate) fn spare_index(n: usize) -> Vec<RecIdx> {
    let mut v = SPARE_INDEX
        .lock()
        .ok()
        .and_then(|mut s| s.pop())
        .unwrap_or_default();
    v.reserve(n);
    v
}

fn keep_index(mut v: Vec<RecIdx>) {
    if v.capacity() == 0 || v.capacity() > SPARE_INDEX_CAP {
        return;
    }
    v.clear();
    if let Ok(mut s) = SPARE_INDEX.lock()
        && s.len() < SPARE_INDEX_MAX
    {
        s.push(v);
    }
}

/// One packet record, borrowed from a [`Batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// 1-based record number, global across batches (damaged records that
    /// were skipped get no number).
    pub number: u64,
    /// Timestamp in nanoseconds since the Unix epoch (saturated; 0 for
    /// pcapng simple packet blocks, which carry none).
    pub ts_ns: i64,
    /// Captured length (`data.len()`).
    pub caplen: u32,
    /// Original length on the wire.
    pub wirelen: u32,
    /// Link type of the record's interface (LINKTYPE_ value).
    pub linktype: u32,
    /// Interface id within its section (pcap: 0).
    pub interface: u32,
    /// 0-based pcapng section index (pcap: 0).
    pub section: u32,
    /// Byte offset of the record header / block in the (decompressed) file.
    pub offset: u64,
    /// Captured packet bytes.
    pub data: &'a [u8],
    /// The first packet comment (pcapng `opt_comment`, cut at a NUL), if
    /// present and valid UTF-8.
    pub comment: Option<&'a str>,
    /// The whole record (pcap header + data) or block, byte for byte.
    pub raw: &'a [u8],
}

/// A non-packet block that precedes a record in file order: the pcap file
/// header, or a pcapng SHB, IDB, NRB, ISB, DSB, custom or unknown block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderBlock<'a> {
    /// Index (within the batch) of the record this block precedes;
    /// `batch.len()` for blocks after the batch's last record.
    pub before: usize,
    /// Byte offset in the (decompressed) file.
    pub offset: u64,
    /// The block, byte for byte.
    pub bytes: &'a [u8],
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HdrIdx {
    pub offset: u64,
    pub pos: usize,
    pub len: usize,
    pub before: usize,
}

pub(crate) enum BatchData {
    Mapped(MappedRange),
    Owned(Vec<u8>),
}

/// A run of consecutive records (at most the requested number of records and,
/// unless a single record is larger, bytes), in file order, plus the
/// non-packet blocks between them. `Send + 'static`: a mapped batch holds an
/// `Arc` of the map and its record index; a streamed batch owns a copy of its
/// bytes. Dropping a mapped batch advises the kernel that its pages are no
/// longer needed. A batch may hold header blocks and no records (e.g. the
/// first batch of a capture without packets).
pub struct Batch {
    pub(crate) data: BatchData,
    pub(crate) records: Vec<RecIdx>,
    pub(crate) headers: Vec<HdrIdx>,
    pub(crate) range: Range<u64>,
    /// Number of the last record before this batch (0: none).
    pub(crate) after: u64,
    /// Added to the record numbers (`Capture::set_number_base`).
    pub(crate) base: u64,
}

impl Drop for Batch {
    fn drop(&mut self) {
        keep_index(std::mem::take(&mut self.records));
    }
}

impl Batch {
    /// Checks that the bytes this batch was read from are still the file's:
    /// call it after using a batch of a memory-mapped file (a file truncated
    /// by another process meanwhile reads as zeros past its new end, see
    /// ARCHITECTURE.md). Always `Ok` for streamed input, whose bytes are owned.
    pub fn check_intact(&self) -> Result<(), crate::CaptureError> {
        match &self.data {
            BatchData::Mapped(r) if !r.map.intact(self.range.end) => Err(r.map.shrank(self.after)),
            _ => Ok(()),
        }
    }

    /// Number of the last record before this batch (0 when none).
    pub fn number_before(&self) -> u64 {
        self.after
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.data {
            BatchData::Mapped(r) => r.map.bytes(),
            BatchData::Owned(v) => v,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when the batch holds no record (it may still hold header blocks).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Record number of the first record.
    pub fn first_number(&self) -> Option<u64> {
        self.records.first().map(|r| r.number + self.base)
    }

    /// The file byte range the batch covers (including skipped damage).
    pub fn byte_range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// The `i`-th record, or `None` when `i >= len()`.
    pub fn get(&self, i: usize) -> Option<Record<'_>> {
        self.records.get(i).map(|idx| self.view(idx))
    }

    /// The `i`-th record.
    ///
    /// # Panics
    /// When `i >= len()` (a caller bug, like slice indexing).
    pub fn record(&self, i: usize) -> Record<'_> {
        match self.get(i) {
            Some(r) => r,
            None => panic!(
                "record index {i} out of range for a batch of {}",
                self.len()
            ),
        }
    }

    /// Hints the CPU to bring the first bytes of record `i`'s packet (its
    /// headers) into the cache, for a walk over the batch that will read
    /// them a few records later. Does nothing for an owned batch or an
    /// index past the end.
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if let (BatchData::Mapped(r), Some(idx)) = (&self.data, self.records.get(i)) {
            let at = u64::try_from(idx.pos)
                .unwrap_or(u64::MAX)
                .saturating_add(u64::from(idx.data_rel));
            crate::mmap::prefetch(r.map.bytes(), at);
            crate::mmap::prefetch(r.map.bytes(), at.saturating_add(64));
        }
    }

    /// The records in file order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Record<'_>> + '_ {
        self.records.iter().map(|idx| self.view(idx))
    }

    /// The non-packet blocks, in file order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = HeaderBlock<'_>> + '_ {
        let bytes = self.bytes();
        self.headers.iter().map(move |h| HeaderBlock {
            before: h.before,
            offset: h.offset,
            bytes: h
                .pos
                .checked_add(h.len)
                .and_then(|end| bytes.get(h.pos..end))
                .unwrap_or(&[]),
        })
    }

    // Inlined into callers in other crates: built in registers, a record
    // is not stored by the callee and reloaded in wider pieces by the
    // caller (a store-forwarding stall per record in the reader's walk).
    #[inline]
    fn view(&self, idx: &RecIdx) -> Record<'_> {
        let raw = usize::try_from(idx.raw_len)
            .ok()
            .and_then(|len| idx.pos.checked_add(len))
            .and_then(|end| self.bytes().get(idx.pos..end))
            .unwrap_or(&[]);
        let sub = |rel: u32, len: u32| -> Option<&[u8]> {
            let start = usize::try_from(rel).ok()?;
            raw.get(start..start.checked_add(usize::try_from(len).ok()?)?)
        };
        let data = sub(idx.data_rel, idx.caplen).unwrap_or(&[]);
        let comment = if idx.comment_len > 0 {
            sub(idx.comment_rel, idx.comment_len).and_then(|c| std::str::from_utf8(c).ok())
        } else {
            None
        };
        Record {
            number: idx.number + self.base,
            ts_ns: idx.ts_ns,
            caplen: idx.caplen,
            wirelen: idx.wirelen,
            linktype: idx.linktype,
            interface: idx.interface,
            section: idx.section,
            offset: idx.offset,
            data,
            comment,
            raw,
        }
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("records", &self.records.len())
            .field("headers", &self.headers.len())
            .field("range", &self.range)
            .field("mapped", &matches!(self.data, BatchData::Mapped(_)))
            .finish()
    }
}

/// Accumulates the next batch.
#[derive(Default)]
pub(crate) struct Builder {
    pub records: Vec<RecIdx>,
    pub headers: Vec<HdrIdx>,
    pub buf: Vec<u8>,
    pub bytes: u64,
    pub start: u64,
}

impl Builder {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.headers.is_empty()
    }

    pub fn items(&self) -> usize {
        self.records.len() + self.headers.len()
    }

    /// `src` is the record's bytes for streamed input (copied), `None` for
    /// mapped input (the record is referenced by its file offset).
    pub fn push_record(&mut self, mut r: RecIdx, src: Option<&[u8]>) {
        r.pos = match src {
            Some(bytes) => {
                let pos = self.buf.len();
                self.buf.extend_from_slice(bytes);
                pos
            }
            None => usize::try_from(r.offset).unwrap_or(usize::MAX),
        };
        self.bytes = self.bytes.saturating_add(u64::from(r.raw_len));
        self.records.push(r);
    }

    pub fn push_header(&mut self, offset: u64, len: usize, src: Option<&[u8]>) {
        let pos = match src {
            Some(bytes) => {
                let pos = self.buf.len();
                self.buf.extend_from_slice(bytes);
                pos
            }
            None => usize::try_from(offset).unwrap_or(usize::MAX),
        };
        self.bytes = self
            .bytes
            .saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        self.headers.push(HdrIdx {
            offset,
            pos,
            len,
            before: self.records.len(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_static<T: Send + 'static>() {}

    #[test]
    fn batch_is_send_and_static() {
        assert_send_static::<Batch>();
        assert_send_static::<crate::Capture>();
    }
}
