//! Writers: [`CaptureWriter`] copies selected records byte for byte (the
//! `filter -o` path), [`PcapWriter`] and [`PcapNgWriter`] build new files.

use crate::batch::{Batch, Record};
use crate::bytes::{ByteOrder, pad4, u64_of, usize_sat};
use crate::capture::{Capture, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS};
use crate::error::CopyError;
use crate::time::TsResolution;
use std::io::{self, BufWriter, IoSlice, Write};
use std::ops::Range;

/// Copies records and header blocks unchanged, so the output has the same
/// format, byte order(s), file/section headers and interface blocks as the
/// input. Feed it every batch in order; it writes each batch's header blocks
/// and the records the caller keeps. With no record kept the output is still
/// a valid capture (its headers). Damaged regions of the input are not
/// copied. Section headers are copied as they are, including their
/// section-length field (writers normally leave it at -1, "unknown").
pub struct CaptureWriter<W: Write> {
    out: BufWriter<W>,
    records: u64,
    /// The byte ranges of the batch being written (reused).
    runs: Vec<Range<usize>>,
}

/// Slices handed to one vectored write.
const IOV: usize = 64;

impl<W: Write> CaptureWriter<W> {
    /// Wraps `out` (buffered internally).
    pub fn new(out: W) -> Self {
        CaptureWriter {
            out: BufWriter::with_capacity(256 * 1024, out),
            records: 0,
            runs: Vec::new(),
        }
    }

    /// Writes the batch's header blocks and the records for which
    /// `keep(index_in_batch, record)` is true, in file order.
    ///
    /// The kept bytes are gathered as runs of the batch's memory (adjacent
    /// records merge into one run) and, when they are more than the buffer
    /// holds, written straight from there with vectored writes: a mapped
    /// file's records reach the kernel without a copy in user space. If the
    /// file shrank meanwhile, the kernel's read of a page past its new end
    /// fails the write (`EFAULT`, not the SIGBUS a user-space read gets):
    /// on a write error, callers check [`Batch::check_intact`] first and
    /// report the shrinking.
    pub fn write_batch<F: FnMut(usize, &Record<'_>) -> bool>(
        &mut self,
        batch: &Batch,
        mut keep: F,
    ) -> io::Result<u64> {
        let bytes = batch.bytes();
        let mut runs = std::mem::take(&mut self.runs);
        runs.clear();
        let mut add = |at: usize, len: usize| {
            let Some(end) = at.checked_add(len).filter(|&e| e <= bytes.len()) else {
                return;
            };
            match runs.last_mut() {
                Some(last) if last.end == at => last.end = end,
                _ if len > 0 => runs.push(at..end),
                _ => {}
            }
        };
        let mut headers = batch.headers.iter().peekable();
        let mut written = 0u64;
        for (i, (idx, rec)) in batch.records.iter().zip(batch.iter()).enumerate() {
            while let Some(h) = headers.next_if(|h| h.before <= i) {
                add(h.pos, h.len);
            }
            if keep(i, &rec) {
                add(idx.pos, rec.raw.len());
                written += 1;
            }
        }
        for h in headers {
            add(h.pos, h.len);
        }
        let result = self.write_runs(bytes, &runs);
        self.runs = runs;
        result?;
        self.records += written;
        Ok(written)
    }

    /// Writes `runs` of `bytes` in order: through the buffer when they fit
    /// in it, else (after flushing it) with vectored writes.
    fn write_runs(&mut self, bytes: &[u8], runs: &[Range<usize>]) -> io::Result<()> {
        let total: usize = runs.iter().map(ExactSizeIterator::len).sum();
        if total < self.out.capacity() {
            for r in runs {
                self.out.write_all(&bytes[r.clone()])?;
            }
            return Ok(());
        }
        self.out.flush()?;
        let inner = self.out.get_mut();
        for chunk in runs.chunks(IOV) {
            let mut slices = [IoSlice::new(&[]); IOV];
            for (s, r) in slices.iter_mut().zip(chunk) {
                *s = IoSlice::new(&bytes[r.clone()]);
            }
            let mut bufs = &mut slices[..chunk.len()];
            while !bufs.is_empty() {
                match inner.write_vectored(bufs) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => IoSlice::advance_slices(&mut bufs, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Writes one record's raw bytes.
    pub fn write_record(&mut self, rec: &Record<'_>) -> io::Result<()> {
        self.records += 1;
        self.out.write_all(rec.raw)
    }

    /// Writes a header block's raw bytes.
    pub fn write_header(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.records
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        self.out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

/// Counts from [`copy_through`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Records read.
    pub read: u64,
    /// Records written.
    pub written: u64,
}

/// Streams the rest of `capture` into `out`, keeping the records for which
/// `keep` is true (tcpdump `-r IN -w OUT EXPR`). Memory stays bounded; works
/// for mapped, compressed and standard input alike (output is uncompressed).
/// Returns the underlying writer's flush result through the counts.
pub fn copy_through<W: Write, F: FnMut(&Record<'_>) -> bool>(
    capture: &mut Capture,
    out: W,
    mut keep: F,
) -> Result<CopyStats, CopyError> {
    let mut w = CaptureWriter::new(out);
    let mut read = 0u64;
    while let Some(batch) = capture.next_batch(DEFAULT_BATCH_RECORDS, DEFAULT_BATCH_BYTES)? {
        read += u64_of(batch.len());
        if let Err(e) = w.write_batch(&batch, |_, r| keep(r)) {
            // Written straight from the map: a page past a shrunk end makes
            // the write fail (`EFAULT`); that is the file's shrinking.
            batch.check_intact()?;
            return Err(CopyError::Write(e));
        }
        batch.check_intact()?;
        capture.recycle(batch);
    }
    let written = w.records_written();
    w.finish().map_err(CopyError::Write)?;
    Ok(CopyStats { read, written })
}

fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "packet too long for a capture record",
    )
}

/// Settings of a new pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapHeader {
    /// Nanosecond magic (`a1b23c4d`) instead of microseconds.
    pub nanos: bool,
    /// File byte order.
    pub byte_order: ByteOrder,
    /// Snapshot length.
    pub snaplen: u32,
    /// The full 32-bit link-type field (link type plus optional FCS bits).
    pub linktype: u32,
}

impl Default for PcapHeader {
    fn default() -> Self {
        PcapHeader {
            nanos: false,
            byte_order: ByteOrder::Little,
            snaplen: 262_144,
            linktype: 1,
        }
    }
}

/// Writes a classic pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    header: PcapHeader,
    scratch: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header.
    pub fn new(mut out: W, header: PcapHeader) -> io::Result<Self> {
        let o = header.byte_order;
        let mut h = Vec::with_capacity(24);
        o.put_u32(
            &mut h,
            if header.nanos {
                0xa1b2_3c4d
            } else {
                0xa1b2_c3d4
            },
        );
        o.put_u16(&mut h, 2);
        o.put_u16(&mut h, 4);
        o.put_u32(&mut h, 0);
        o.put_u32(&mut h, 0);
        o.put_u32(&mut h, header.snaplen);
        o.put_u32(&mut h, header.linktype);
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            header,
            scratch: Vec::new(),
        })
    }

    /// Writes a record; `ts_ns` is split into seconds and µs/ns (negative
    /// times clamp to 0, times past 2106 saturate).
    pub fn write_packet(&mut self, ts_ns: i64, wirelen: u32, data: &[u8]) -> io::Result<()> {
        let ns = u64::try_from(ts_ns).unwrap_or(0);
        let sec = u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX);
        let sub = ns % 1_000_000_000;
        let frac = if self.header.nanos { sub } else { sub / 1000 };
        let caplen = u32::try_from(data.len()).map_err(|_| too_long())?;
        self.write_record_raw(sec, u32::try_from(frac).unwrap_or(0), caplen, wirelen, data)
    }

    /// Writes a record header with arbitrary field values followed by `data`
    /// (for building damaged test inputs: `caplen` need not match `data`).
    pub fn write_record_raw(
        &mut self,
        sec: u32,
        frac: u32,
        caplen: u32,
        wirelen: u32,
        data: &[u8],
    ) -> io::Result<()> {
        let o = self.header.byte_order;
        self.scratch.clear();
        o.put_u32(&mut self.scratch, sec);
        o.put_u32(&mut self.scratch, frac);
        o.put_u32(&mut self.scratch, caplen);
        o.put_u32(&mut self.scratch, wirelen);
        self.out.write_all(&self.scratch)?;
        self.out.write_all(data)
    }

    /// Writes raw bytes (e.g. garbage, for tests).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The underlying writer, mutably (e.g. to flush or sync it between records).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Settings of one pcapng interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceSpec {
    /// Link type.
    pub linktype: u16,
    /// Snapshot length (0 = unlimited).
    pub snaplen: u32,
    /// `if_name`.
    pub name: Option<String>,
    /// `if_tsresol` (written only when not 6).
    pub tsresol: TsResolution,
    /// `if_tsoffset` in seconds (written only when not 0).
    pub tsoffset: i64,
    /// `if_fcslen`.
    pub fcs_len: Option<u8>,
}

impl Default for InterfaceSpec {
    fn default() -> Self {
        InterfaceSpec {
            linktype: 1,
            snaplen: 0,
            name: None,
            tsresol: TsResolution::MICRO,
            tsoffset: 0,
            fcs_len: None,
        }
    }
}

/// Writes a pcapng file: sections, interfaces, enhanced/simple/obsolete
/// packet blocks with comments, and arbitrary blocks.
pub struct PcapNgWriter<W: Write> {
    out: W,
    order: ByteOrder,
    ifaces: Vec<(TsResolution, i64)>,
    body: Vec<u8>,
    block: Vec<u8>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes the first section header block.
    pub fn new(out: W, order: ByteOrder) -> io::Result<Self> {
        let mut w = PcapNgWriter {
            out,
            order,
            ifaces: Vec::new(),
            body: Vec::new(),
            block: Vec::new(),
        };
        w.new_section(order)?;
        Ok(w)
    }

    /// Starts a new section (new byte order, no interfaces yet).
    pub fn new_section(&mut self, order: ByteOrder) -> io::Result<()> {
        self.order = order;
        self.ifaces.clear();
        self.body.clear();
        order.put_u32(&mut self.body, 0x1a2b_3c4d);
        order.put_u16(&mut self.body, 1);
        order.put_u16(&mut self.body, 0);
        order.put_u64(&mut self.body, u64::MAX);
        self.emit(crate::pcapng::SHB)
    }

    /// Adds an interface to the current section; returns its id.
    pub fn add_interface(&mut self, spec: &InterfaceSpec) -> io::Result<u32> {
        let o = self.order;
        self.body.clear();
        o.put_u16(&mut self.body, spec.linktype);
        o.put_u16(&mut self.body, 0);
        o.put_u32(&mut self.body, spec.snaplen);
        if let Some(name) = &spec.name {
            put_option(&mut self.body, o, 2, name.as_bytes())?;
        }
        if spec.tsresol != TsResolution::MICRO {
            put_option(&mut self.body, o, 9, &[spec.tsresol.0])?;
        }
        if let Some(f) = spec.fcs_len {
            put_option(&mut self.body, o, 13, &[f])?;
        }
        if spec.tsoffset != 0 {
            let mut v = Vec::with_capacity(8);
            o.put_u64(&mut v, u64::from_ne_bytes(spec.tsoffset.to_ne_bytes()));
            put_option(&mut self.body, o, 14, &v)?;
        }
        end_options(&mut self.body, o);
        self.emit(crate::pcapng::IDB)?;
        self.ifaces.push((spec.tsresol, spec.tsoffset));
        Ok(u32::try_from(self.ifaces.len() - 1).unwrap_or(u32::MAX))
    }

    fn units(&self, iface: u32, ts_ns: i64) -> io::Result<u64> {
        let (resol, offset) = self
            .ifaces
            .get(usize_sat(u64::from(iface)))
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unknown interface"))?;
        let rel = ts_ns.saturating_sub(offset.saturating_mul(1_000_000_000));
        Ok(resol.ns_to_units(rel))
    }

    fn packet_body(
        &mut self,
        iface_field: &[u8],
        units: u64,
        wirelen: u32,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let o = self.order;
        let caplen = u32::try_from(data.len()).map_err(|_| too_long())?;
        self.body.clear();
        self.body.extend_from_slice(iface_field);
        o.put_u32(&mut self.body, u32::try_from(units >> 32).unwrap_or(0));
        o.put_u32(
            &mut self.body,
            u32::try_from(units & 0xffff_ffff).unwrap_or(0),
        );
        o.put_u32(&mut self.body, caplen);
        o.put_u32(&mut self.body, wirelen);
        self.body.extend_from_slice(data);
        pad_to_4(&mut self.body);
        if let Some(c) = comment {
            put_option(&mut self.body, o, 1, c.as_bytes())?;
            end_options(&mut self.body, o);
        }
        Ok(())
    }

    /// Writes an enhanced packet block.
    pub fn write_packet(
        &mut self,
        iface: u32,
        ts_ns: i64,
        wirelen: u32,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let units = self.units(iface, ts_ns)?;
        let mut f = Vec::with_capacity(4);
        self.order.put_u32(&mut f, iface);
        self.packet_body(&f, units, wirelen, data, comment)?;
        self.emit(crate::pcapng::EPB)
    }

    /// Writes an obsolete packet block (type 2).
    pub fn write_obsolete_packet(
        &mut self,
        iface: u16,
        ts_ns: i64,
        wirelen: u32,
        data: &[u8],
        comment: Option<&str>,
    ) -> io::Result<()> {
        let units = self.units(u32::from(iface), ts_ns)?;
        let mut f = Vec::with_capacity(4);
        self.order.put_u16(&mut f, iface);
        self.order.put_u16(&mut f, 0);
        self.packet_body(&f, units, wirelen, data, comment)?;
        self.emit(crate::pcapng::OPB)
    }

    /// Writes a simple packet block (interface 0, no timestamp).
    pub fn write_simple_packet(&mut self, wirelen: u32, data: &[u8]) -> io::Result<()> {
        self.body.clear();
        self.order.put_u32(&mut self.body, wirelen);
        self.body.extend_from_slice(data);
        pad_to_4(&mut self.body);
        self.emit(crate::pcapng::SPB)
    }

    /// Writes a block of any type with the given body (padded to 4 bytes).
    pub fn write_block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        self.body.clear();
        self.body.extend_from_slice(body);
        pad_to_4(&mut self.body);
        self.emit(block_type)
    }

    /// Writes raw bytes (e.g. garbage, for tests).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The underlying writer, mutably (e.g. to flush or sync it between records).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, block_type: u32) -> io::Result<()> {
        let o = self.order;
        let total = u32::try_from(pad4(u64_of(self.body.len())) + 12).map_err(|_| too_long())?;
        self.block.clear();
        o.put_u32(&mut self.block, block_type);
        o.put_u32(&mut self.block, total);
        self.block.extend_from_slice(&self.body);
        pad_to_4(&mut self.block);
        o.put_u32(&mut self.block, total);
        self.out.write_all(&self.block)
    }
}

fn pad_to_4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn put_option(v: &mut Vec<u8>, o: ByteOrder, code: u16, value: &[u8]) -> io::Result<()> {
    let len = u16::try_from(value.len()).map_err(|_| too_long())?;
    o.put_u16(v, code);
    o.put_u16(v, len);
    v.extend_from_slice(value);
    pad_to_4(v);
    Ok(())
}

fn end_options(v: &mut Vec<u8>, o: ByteOrder) {
    o.put_u16(v, 0);
    o.put_u16(v, 0);
}
