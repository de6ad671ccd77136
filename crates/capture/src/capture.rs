//! [`Capture`]: opening a file (mapped or streamed) and reading it batch by batch.

use crate::batch::{Batch, BatchData, Builder, Record};
use crate::damage::{Damage, DamageKind};
use crate::error::CaptureError;
use crate::info::{CaptureInfo, Compression};
use crate::live::{LiveConfig, LiveInterface, LiveSource, LiveStats, RingPacket};
use crate::mmap::{MappedFile, MappedRange, ReadAhead};
use crate::parser::{Detect, Parser, Step, Window};
use crate::source::{Fill, Stream, open_stream};
use std::fs::File;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

/// Default records per batch for [`Capture::for_each`] and [`crate::copy_through`].
pub const DEFAULT_BATCH_RECORDS: usize = 4096;
/// Default bytes per batch for [`Capture::for_each`] and [`crate::copy_through`].
pub const DEFAULT_BATCH_BYTES: usize = 4 << 20;

/// The name used for standard input in messages and errors.
pub const STDIN_NAME: &str = "<stdin>";

enum Backing {
    Mapped(Arc<MappedFile>),
    Stream(Stream),
    Live(Box<LiveStream>),
}

/// Live packets as a pcapng byte stream: the source appends blocks, the
/// parser consumes them, consumed bytes are dropped at the next fill.
struct LiveStream {
    src: LiveSource,
    buf: Vec<u8>,
    base: u64,
    eof: bool,
}

impl LiveStream {
    fn window(&self) -> Window<'_> {
        Window {
            data: &self.buf,
            base: self.base,
            eof: self.eof,
        }
    }

    /// Drops the bytes before `keep_from`, then appends what the rings hold
    /// (waiting for at least one packet with `wait`). Returns whether bytes
    /// were added or the stream ended.
    fn fill(&mut self, keep_from: u64, wait: bool) -> io::Result<bool> {
        if self.eof {
            return Ok(true);
        }
        let drop = usize::try_from(keep_from.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        if drop > 0 {
            self.buf.drain(..drop);
            self.base = self.base.saturating_add(crate::bytes::u64_of(drop));
        }
        let before = self.buf.len();
        if self.src.fill(&mut self.buf, wait)? {
            self.eof = true;
        }
        Ok(self.eof || self.buf.len() > before)
    }
}

/// An open capture file being read front to back.
pub struct Capture {
    backing: Backing,
    parser: Box<Parser>,
    builder: Builder,
    spare: Option<Builder>,
    done: bool,
    /// Live input: whether a fill may block (only while the batch being
    /// built has no record yet, so packets are handed on promptly).
    live_wait: bool,
    /// Number of the last record in the batches handed out so far.
    handed_out: u64,
    /// Added to every record number handed out (see
    /// [`Capture::set_number_base`]).
    number_base: u64,
    /// How far ahead of the parser a mapped file's pages are mapped and
    /// its bytes requested into the cache.
    ahead: ReadAhead,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("path", &self.parser.info.path)
            .field("format", &self.parser.info.format)
            .field("position", &self.parser.pos)
            .field("done", &self.done)
            .finish()
    }
}

fn io_err(path: &str) -> impl Fn(io::Error) -> CaptureError + '_ {
    move |err| CaptureError::Io {
        path: path.to_owned(),
        err,
    }
}

impl Capture {
    /// Opens `path`; `-` means standard input. Regular uncompressed files are
    /// memory-mapped; gzip/zstd files, standard input, pipes and other
    /// non-regular files are streamed.
    pub fn open(path: impl AsRef<Path>) -> Result<Capture, CaptureError> {
        Self::open_impl(path.as_ref(), true)
    }

    /// Like [`Capture::open`] but never memory-maps.
    pub fn open_streamed(path: impl AsRef<Path>) -> Result<Capture, CaptureError> {
        Self::open_impl(path.as_ref(), false)
    }

    /// Reads a capture from any byte stream (gzip/zstd detected by magic).
    /// `name` is used in errors and [`CaptureInfo::path`].
    pub fn from_reader(
        name: &str,
        reader: impl Read + Send + 'static,
    ) -> Result<Capture, CaptureError> {
        let (stream, compression) = open_stream(Box::new(reader)).map_err(io_err(name))?;
        Self::with_stream(name, stream, compression)
    }

    fn open_impl(path: &Path, allow_map: bool) -> Result<Capture, CaptureError> {
        if path.as_os_str() == "-" {
            return Self::from_reader(STDIN_NAME, io::stdin());
        }
        let name = path.display().to_string();
        let file = File::open(path).map_err(io_err(&name))?;
        let meta = file.metadata().map_err(io_err(&name))?;
        if allow_map
            && meta.is_file()
            && meta.len() > 0
            && let Some(map) = MappedFile::open(&file, &name).map_err(io_err(&name))?
        {
            let compressed = matches!(
                map.bytes().get(..4),
                Some([0x1f, 0x8b, ..] | [0x28, 0xb5, 0x2f, 0xfd])
            );
            if !compressed {
                return Self::with_map(&name, map);
            }
        }
        Self::from_reader(&name, file)
    }

    fn with_map(name: &str, map: MappedFile) -> Result<Capture, CaptureError> {
        let map = Arc::new(map);
        let w = Window {
            data: map.bytes(),
            base: 0,
            eof: true,
        };
        let parser = match Parser::detect(&w, name, Compression::None, true)? {
            Detect::Found(p) => p,
            // Unreachable at EOF; treat defensively as "not a capture".
            Detect::NeedMore => {
                return Err(CaptureError::NotCapture {
                    path: name.to_owned(),
                });
            }
        };
        Self::start(Backing::Mapped(map), parser)
    }

    fn with_stream(
        name: &str,
        mut stream: Stream,
        compression: Compression,
    ) -> Result<Capture, CaptureError> {
        let mut corrupt = None;
        let mut parser = loop {
            match Parser::detect(&stream.window(), name, compression, false)? {
                Detect::Found(p) => break p,
                Detect::NeedMore => {
                    if let Fill::Corrupt(msg) = stream.fill(0).map_err(io_err(name))? {
                        corrupt = Some(msg);
                    }
                }
            }
        };
        if let Some(msg) = corrupt {
            parser.report(
                stream.end(),
                DamageKind::Decompression,
                format!("decompression failed: {msg}"),
            );
        }
        Self::start(Backing::Stream(stream), parser)
    }

    fn start(backing: Backing, parser: Box<Parser>) -> Result<Capture, CaptureError> {
        let mut cap = Capture {
            backing,
            parser,
            builder: Builder::default(),
            spare: None,
            done: false,
            live_wait: false,
            handed_out: 0,
            number_base: 0,
            ahead: ReadAhead::default(),
        };
        // Read the headers that precede the first packet so that `info()`
        // already knows the first section's interfaces. They (and the first
        // record) stay queued for the first batch.
        loop {
            match cap.next_item()? {
                Step::Record(r) => {
                    cap.push_record(r);
                    break;
                }
                Step::Header { offset, len } => cap.push_header(offset, len),
                // Live input with no packet yet.
                Step::NeedMore => break,
                _ => {
                    cap.done = true;
                    break;
                }
            }
        }
        Ok(cap)
    }

    /// Starts a live capture (Linux `AF_PACKET`): the packets arrive as the
    /// records of a pcapng capture with one interface per captured
    /// interface, batch by batch, until the configured duration passes or a
    /// stop signal arrives (or forever). A batch is handed out as soon as the
    /// kernel ring has nothing more, so packets are not held back.
    pub fn open_live(cfg: &LiveConfig) -> Result<Capture, CaptureError> {
        let mut src = LiveSource::open(cfg)?;
        let name = src.name().to_owned();
        let mut buf = Vec::new();
        src.fill(&mut buf, false).map_err(io_err(&name))?;
        let live = LiveStream {
            src,
            buf,
            base: 0,
            eof: false,
        };
        let parser = match Parser::detect(&live.window(), &name, Compression::None, false)? {
            Detect::Found(p) => p,
            Detect::NeedMore => return Err(CaptureError::NotCapture { path: name }),
        };
        Self::start(Backing::Live(Box::new(live)), parser)
    }

    /// A live capture's packets straight from the kernel's ring, one ring
    /// block at a time, for writing them out without copying them first
    /// (`capture -w`): `f` gets the packets of a block (user-space filter
    /// applied), which returns to the kernel when `f` returns; `f` returns
    /// `true` to stop. With `wait`, blocks until there are packets or the
    /// capture ends. Returns `true` at the end (duration, stop signal, or `f`
    /// asked to stop). Packets handed out this way never appear in
    /// [`Capture::next_batch`]; use one or the other. For a file, returns
    /// `true` at once.
    ///
    /// # Errors
    /// The ring cannot be read or polled, or `f` failed.
    pub fn live_direct(
        &mut self,
        wait: bool,
        f: &mut dyn FnMut(&[RingPacket<'_>]) -> io::Result<bool>,
    ) -> Result<bool, CaptureError> {
        match &mut self.backing {
            Backing::Live(l) => l.src.drain_direct(wait, f).map_err(|err| CaptureError::Io {
                path: l.src.name().to_owned(),
                err,
            }),
            _ => Ok(true),
        }
    }

    /// Whether this is a live capture.
    pub fn is_live(&self) -> bool {
        matches!(self.backing, Backing::Live(_))
    }

    /// A live capture's interfaces (id order), `None` for a file.
    pub fn live_interfaces(&self) -> Option<Vec<LiveInterface>> {
        match &self.backing {
            Backing::Live(l) => Some(l.src.interfaces().cloned().collect()),
            _ => None,
        }
    }

    /// A live capture's counters per interface (kernel received/dropped,
    /// delivered), `None` for a file.
    pub fn live_stats(&self) -> Option<Vec<LiveStats>> {
        match &self.backing {
            Backing::Live(l) => Some(l.src.stats()),
            _ => None,
        }
    }

    /// What is known about the file so far (complete after the last batch).
    pub fn info(&self) -> &CaptureInfo {
        &self.parser.info
    }

    /// Damage events so far (at most 10 000 are kept; see [`Capture::damage_count`]).
    pub fn damage(&self) -> &[Damage] {
        &self.parser.damage.events
    }

    /// Total number of damage events so far.
    pub fn damage_count(&self) -> u64 {
        self.parser.damage.total
    }

    /// Number the records of this capture from `base + 1` on (the records
    /// of earlier files read as one stream, as `mergecap -a` numbers them).
    /// Applies to batches made after the call; messages about the file
    /// itself (damage, a file that shrank) keep the file's own numbers.
    pub fn set_number_base(&mut self, base: u64) {
        self.number_base = base;
    }

    /// Number of records read so far (handed out or queued).
    pub fn records_read(&self) -> u64 {
        self.parser.next_number.saturating_sub(1)
    }

    /// Checks that everything read so far from a memory-mapped file is still
    /// the file's own (it did not shrink meanwhile): for consumers that do
    /// not check each batch with [`Batch::check_intact`], call it after the
    /// last batch was used. Always `Ok` for streamed input.
    pub fn check_intact(&self) -> Result<(), CaptureError> {
        match &self.backing {
            Backing::Mapped(map) if !map.intact(self.parser.pos) => {
                Err(map.shrank(self.handed_out))
            }
            _ => Ok(()),
        }
    }

    /// Whether the file is memory-mapped.
    pub fn is_mapped(&self) -> bool {
        matches!(self.backing, Backing::Mapped(_))
    }

    /// The next step that yields something (record, header block or end),
    /// fetching more bytes for streams as needed.
    fn next_item(&mut self) -> Result<Step, CaptureError> {
        loop {
            let step = match &self.backing {
                Backing::Mapped(map) => {
                    map.read_ahead(&mut self.ahead, self.parser.pos);
                    let w = Window {
                        data: map.bytes(),
                        base: 0,
                        eof: true,
                    };
                    self.parser.step(&w)
                }
                Backing::Stream(s) => self.parser.step(&s.window()),
                Backing::Live(l) => self.parser.step(&l.window()),
            };
            match step {
                Step::Skip => {}
                Step::NeedMore => match &mut self.backing {
                    // Defensive: the parser never asks for more at EOF.
                    Backing::Stream(s) if s.window().eof => return Ok(Step::End),
                    Backing::Stream(s) => {
                        let fill = s.fill(self.parser.pos);
                        match fill.map_err(io_err(&self.parser.info.path))? {
                            Fill::Ok => {}
                            Fill::Corrupt(msg) => {
                                let at = s.end();
                                self.parser.report(
                                    at,
                                    DamageKind::Decompression,
                                    format!("decompression failed: {msg}"),
                                );
                            }
                        }
                    }
                    // A map is always complete: the parser never asks for more.
                    Backing::Mapped(_) => return Ok(Step::End),
                    Backing::Live(l) => {
                        if l.window().eof {
                            return Ok(Step::End);
                        }
                        let wait = self.live_wait;
                        let got =
                            l.fill(self.parser.pos, wait)
                                .map_err(|err| CaptureError::Io {
                                    path: l.src.name().to_owned(),
                                    err,
                                })?;
                        if !got && !wait {
                            return Ok(Step::NeedMore);
                        }
                    }
                },
                other => return Ok(other),
            }
        }
    }

    fn source_bytes(&self, offset: u64, len: usize) -> Option<&[u8]> {
        match &self.backing {
            Backing::Mapped(_) => None,
            Backing::Stream(s) => Some(s.window().slice(offset, len).unwrap_or(&[])),
            Backing::Live(l) => Some(l.window().slice(offset, len).unwrap_or(&[])),
        }
    }

    fn push_record(&mut self, r: crate::parser::RecIdx) {
        let len = usize::try_from(r.raw_len).unwrap_or(0);
        let src = match &self.backing {
            Backing::Mapped(_) => None,
            Backing::Stream(s) => Some(s.window().slice(r.offset, len).unwrap_or(&[])),
            Backing::Live(l) => Some(l.window().slice(r.offset, len).unwrap_or(&[])),
        };
        self.builder.push_record(r, src);
    }

    fn push_header(&mut self, offset: u64, len: usize) {
        let src = self.source_bytes(offset, len).map(<[u8]>::to_vec);
        // Header blocks are rare (once per file/section/interface): the copy
        // here sidesteps borrowing the stream and the builder together.
        self.builder.push_header(offset, len, src.as_deref());
    }

    fn finish_batch(&mut self, end: u64) -> Batch {
        // The next batch's index is as long as this one's, most likely:
        // reserve it at once rather than growing it record by record.
        let fresh = self.spare.take().unwrap_or_else(|| Builder {
            records: crate::batch::spare_index(self.builder.records.len()),
            ..Builder::default()
        });
        let b = std::mem::replace(&mut self.builder, fresh);
        self.builder.start = end;
        let range = b.start..end.max(b.start);
        let data = match &self.backing {
            Backing::Mapped(map) => BatchData::Mapped(MappedRange {
                map: Arc::clone(map),
                start: range.start,
                end: range.end,
            }),
            Backing::Stream(_) | Backing::Live(_) => BatchData::Owned(b.buf),
        };
        Batch {
            data,
            records: b.records,
            headers: b.headers,
            range,
            after: self.handed_out,
            base: self.number_base,
        }
    }

    /// The next batch of at most `max_records` records (at least 1) and at
    /// most `max_bytes` bytes of records and header blocks (unless a single
    /// record is larger), in file order; `None` at the end. The first batch
    /// always starts with the file header / first section header, even when
    /// the capture has no packets.
    ///
    /// A memory-mapped file that shrinks while it is read gives
    /// [`CaptureError::Shrank`] (here, or from [`Batch::check_intact`] for a
    /// batch already handed out), never a signal.
    pub fn next_batch(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Option<Batch>, CaptureError> {
        let batch = self.next_batch_unchecked(max_records, max_bytes)?;
        if let Backing::Mapped(map) = &self.backing {
            // The batch was indexed from the map: its bytes (and the parser's
            // view of what follows) are only good if the file did not shrink.
            let end = batch.as_ref().map_or(self.parser.pos, |b| b.range.end);
            if !map.intact(end) {
                self.done = true;
                return Err(map.shrank(self.handed_out));
            }
        }
        if let Some(last) = batch.as_ref().and_then(|b| b.records.last()) {
            self.handed_out = last.number;
        }
        Ok(batch)
    }

    fn next_batch_unchecked(
        &mut self,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Option<Batch>, CaptureError> {
        let max_records = max_records.max(1);
        let max_bytes = u64::try_from(max_bytes).unwrap_or(u64::MAX);
        loop {
            if !self.builder.is_empty()
                && (self.builder.records.len() >= max_records
                    || self.builder.items() >= max_records.saturating_mul(4)
                    || self.builder.bytes >= max_bytes)
            {
                return Ok(Some(self.finish_batch(self.parser.pos)));
            }
            if self.done {
                break;
            }
            if let Backing::Mapped(map) = &self.backing {
                let ahead = &mut self.ahead;
                let limit = crate::pcap::BatchLimit {
                    max_records,
                    max_bytes,
                };
                let w = Window {
                    data: map.bytes(),
                    base: 0,
                    eof: true,
                };
                let headers = self.builder.headers.len();
                let added = self.parser.run_pcap(
                    &w,
                    &mut self.builder.records,
                    headers,
                    &mut self.builder.bytes,
                    &limit,
                    |pos| map.map_ahead(ahead, pos),
                );
                if added > 0 {
                    continue;
                }
            }
            self.live_wait = self.builder.records.is_empty();
            match self.next_item()? {
                Step::Record(r) => {
                    let over = self.builder.bytes.saturating_add(u64::from(r.raw_len)) > max_bytes;
                    if over && !self.builder.is_empty() {
                        let batch = self.finish_batch(r.offset);
                        self.push_record(r);
                        return Ok(Some(batch));
                    }
                    self.push_record(r);
                }
                Step::Header { offset, len } => self.push_header(offset, len),
                // Live input: the rings are empty for now; hand on what we have.
                Step::NeedMore if !self.builder.is_empty() => {
                    return Ok(Some(self.finish_batch(self.parser.pos)));
                }
                Step::NeedMore => {}
                _ => self.done = true,
            }
        }
        if self.builder.is_empty() {
            Ok(None)
        } else {
            Ok(Some(self.finish_batch(self.parser.pos)))
        }
    }

    /// Gives a finished batch's buffers back for reuse (optional; saves the
    /// per-batch allocations).
    pub fn recycle(&mut self, batch: Batch) {
        let mut batch = batch;
        let data = std::mem::replace(&mut batch.data, BatchData::Owned(Vec::new()));
        let mut records = std::mem::take(&mut batch.records);
        let mut headers = std::mem::take(&mut batch.headers);
        drop(batch);
        records.clear();
        headers.clear();
        let mut buf = match data {
            BatchData::Owned(v) => v,
            BatchData::Mapped(_) => Vec::new(),
        };
        buf.clear();
        self.spare = Some(Builder {
            records,
            headers,
            buf,
            bytes: 0,
            start: 0,
        });
    }

    /// Calls `f` on every remaining record in order; returns how many.
    pub fn for_each<F: FnMut(&Record<'_>)>(&mut self, mut f: F) -> Result<u64, CaptureError> {
        let mut n = 0u64;
        let flow = self.try_for_each(|r| {
            n += 1;
            f(r);
            ControlFlow::<()>::Continue(())
        })?;
        debug_assert!(flow.is_none());
        Ok(n)
    }

    /// Calls `f` on every remaining record until it breaks; returns the break value.
    pub fn try_for_each<B, F: FnMut(&Record<'_>) -> ControlFlow<B>>(
        &mut self,
        f: F,
    ) -> Result<Option<B>, CaptureError> {
        self.try_for_each_committed(f, || ControlFlow::Continue(()))
    }

    /// Like [`Capture::try_for_each`], and `commit` runs after each batch,
    /// once the batch's mapped bytes are verified to be the file's own (also
    /// when `f` broke off inside it). A consumer that holds its output back
    /// per batch and releases it in `commit` never shows output made from
    /// bytes a shrinking file took away: the [`CaptureError::Shrank`] comes
    /// first.
    pub fn try_for_each_committed<B, F, C>(
        &mut self,
        mut f: F,
        mut commit: C,
    ) -> Result<Option<B>, CaptureError>
    where
        F: FnMut(&Record<'_>) -> ControlFlow<B>,
        C: FnMut() -> ControlFlow<B>,
    {
        while let Some(batch) = self.next_batch(DEFAULT_BATCH_RECORDS, DEFAULT_BATCH_BYTES)? {
            let mut broke = None;
            for rec in batch.iter() {
                if let ControlFlow::Break(b) = f(&rec) {
                    broke = Some(b);
                    break;
                }
            }
            batch.check_intact()?;
            if let ControlFlow::Break(b) = commit() {
                return Ok(Some(b));
            }
            if broke.is_some() {
                return Ok(broke);
            }
            self.recycle(batch);
        }
        Ok(None)
    }
}
