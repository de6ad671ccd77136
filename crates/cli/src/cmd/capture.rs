//! `pcapx capture`: live capture like tcpdump — summaries on standard output,
//! or pcap/pcapng files (optionally a ring of files), tcpdump's counters on
//! standard error. Packets come from `Capture::open_live`, the same batches
//! as a file.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use pcapx_capture::{
    ByteOrder, Capture, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS, FilterPlace, InterfaceSpec,
    LiveConfig, LiveInterface, LiveStats, PcapHeader, PcapNgWriter, PcapWriter, Record,
    RecordFraming, RingPacket, TsResolution,
};
use pcapx_core::{Engine, Fields, Wanted};

use crate::cli::{CaptureArgs, CaptureFormat, TimePrecision};
use crate::filter::PacketFilter;
use crate::input;

use super::linktype_name;

pub fn run(a: &CaptureArgs, plugins: &[PathBuf]) -> Result<ExitCode> {
    if a.list {
        list()?;
        return Ok(ExitCode::SUCCESS);
    }
    if a.interfaces.is_empty() {
        bail!("capture: no interface given: use -i IFACE (see --list-interfaces)");
    }
    let ring = RingOpts::from_args(a)?;
    let name = a.interfaces.join(",");
    // A filter that does not compile fails before any socket is opened.
    // Checked against the link types live capture will use: Ethernet, and
    // LINUX_SLL2 for `any` (where `inbound`/`outbound` work).
    let probes: &[u32] = if a.interfaces.iter().any(|i| i == "any") {
        &[276, 1]
    } else {
        &[1, 276]
    };
    let mut filter = PacketFilter::live(&name, a.filter.as_deref(), probes)?;
    let format = match (a.format, a.output.as_deref()) {
        (Some(f), _) => f,
        (None, Some(out)) if is_pcapng_name(out) => CaptureFormat::Pcapng,
        _ => CaptureFormat::Pcap,
    };
    let cfg = live_config(
        &a.interfaces,
        a.snaplen,
        a.buffer,
        !a.no_promisc,
        a.filter.clone(),
        a.duration,
        a.time_precision,
    )?;
    let engine_for_summary = if a.output.is_none() {
        Some(crate::engine::build(plugins)?)
    } else {
        None
    };
    let mut cap = Capture::open_live(&cfg)?;
    let ifaces = cap.live_interfaces().unwrap_or_default();
    if format == CaptureFormat::Pcap && a.output.is_some() {
        check_pcap_linktypes(&ifaces)?;
    }
    if !a.quiet {
        announce(&ifaces);
    }
    let nanos = a.time_precision == TimePrecision::Nano;
    let mut sink = match (&a.output, engine_for_summary) {
        (Some(out), _) => Sink::File(Box::new(FileSink::create(
            out, format, nanos, &ifaces, ring,
        )?)),
        (None, Some(engine)) => {
            let fields = engine.new_fields(Wanted::All);
            Sink::Summary {
                engine: Box::new(engine),
                fields: Box::new(fields),
                out: io::BufWriter::with_capacity(1 << 16, io::stdout()),
                numeric: a.numeric,
            }
        }
        (None, None) => unreachable!("an engine is built whenever there is no -w"),
    };
    let captured = match &mut sink {
        // Files are written straight from the kernel's ring blocks (the
        // filter already ran there, in the kernel or in user space).
        Sink::File(f) => capture_direct(&mut cap, a.count, f),
        Sink::Summary { .. } => capture_loop(&mut cap, &mut filter, a.count, &mut sink),
    };
    let stats = cap.live_stats().unwrap_or_default();
    let result = captured.and_then(|n| sink.finish(&stats).map(|()| n));
    let n = result?;
    let received: u64 = stats.iter().map(|s| s.received).sum();
    let dropped: u64 = stats.iter().map(|s| s.dropped).sum();
    print_counters(n, received, dropped);
    Ok(ExitCode::SUCCESS)
}

/// tcpdump's closing lines, with its singular/plural.
pub fn print_counters(captured: u64, received: u64, dropped: u64) {
    let s = |n: u64| if n == 1 { "" } else { "s" };
    eprintln!("{captured} packet{} captured", s(captured));
    eprintln!("{received} packet{} received by filter", s(received));
    eprintln!("{dropped} packet{} dropped by kernel", s(dropped));
}

/// The live configuration shared by `capture` and the reading commands' `-i`.
pub fn live_config(
    interfaces: &[String],
    snaplen: u32,
    buffer_mib: u32,
    promisc: bool,
    filter: Option<String>,
    duration: Option<f64>,
    precision: TimePrecision,
) -> Result<LiveConfig> {
    let duration = match duration {
        None => None,
        Some(d) if d.is_finite() && d >= 0.0 => Some(Duration::from_secs_f64(d)),
        Some(d) => bail!("--duration {d}: not a number of seconds"),
    };
    if buffer_mib == 0 {
        bail!("--buffer 0: the ring needs at least 1 MiB");
    }
    let mut cfg = LiveConfig::new(interfaces.to_vec());
    cfg.snaplen = snaplen;
    cfg.buffer_bytes = usize::try_from(buffer_mib)
        .unwrap_or(usize::MAX)
        .saturating_mul(1 << 20);
    cfg.promisc = promisc;
    cfg.filter = filter;
    cfg.duration = duration;
    cfg.stop_on_signals = true;
    cfg.tsresol = if precision == TimePrecision::Micro {
        6
    } else {
        9
    };
    Ok(cfg)
}

/// tcpdump's "listening on" line per interface, and where the filter runs.
pub fn announce(ifaces: &[LiveInterface]) {
    for i in ifaces {
        eprintln!(
            "pcapx: listening on {}, link-type {}, snapshot length {} bytes",
            i.name,
            linktype_name(i.linktype),
            i.snaplen
        );
        match &i.filter {
            FilterPlace::User(why) => {
                eprintln!("pcapx: {}: filtering in user space: {why}", i.name);
            }
            FilterPlace::RejectAll => {
                eprintln!(
                    "pcapx: {}: the filter rejects every packet of link type {}",
                    i.name,
                    linktype_name(i.linktype)
                );
            }
            FilterPlace::None | FilterPlace::Kernel => {}
        }
    }
}

fn is_pcapng_name(out: &str) -> bool {
    let l = out.to_ascii_lowercase();
    l.ends_with(".pcapng") || l.ends_with(".ntar") || l.ends_with(".pcapng.gz")
}

fn check_pcap_linktypes(ifaces: &[LiveInterface]) -> Result<()> {
    if let Some(first) = ifaces.first() {
        for i in ifaces {
            if i.linktype != first.linktype {
                bail!(
                    "a pcap file holds one link type, but {} is {} and {} is {}: write pcapng (--format pcapng)",
                    first.name,
                    linktype_name(first.linktype),
                    i.name,
                    linktype_name(i.linktype)
                );
            }
        }
    }
    Ok(())
}

fn list() -> Result<()> {
    let list = pcapx_capture::live::list_interfaces()?;
    let mut out = io::stdout().lock();
    let mut n = 0usize;
    for i in &list {
        n += 1;
        let mut flags = Vec::new();
        if i.up {
            flags.push("Up");
        }
        if i.running {
            flags.push("Running");
        }
        if i.loopback {
            flags.push("Loopback");
        }
        let flags = if flags.is_empty() {
            "none".to_owned()
        } else {
            flags.join(", ")
        };
        writeln!(
            out,
            "{n}.{} [{flags}] {}",
            i.name,
            linktype_name(i.linktype)
        )?;
    }
    writeln!(
        out,
        "{}.any (Pseudo-device that captures on all interfaces) [Up, Running] LINUX_SLL2",
        n + 1
    )?;
    Ok(())
}

/// Reads batches until the end of the capture (duration, signal) or `-c`.
fn capture_loop(
    cap: &mut Capture,
    filter: &mut PacketFilter,
    limit: Option<u64>,
    sink: &mut Sink,
) -> Result<u64> {
    let mut used = 0u64;
    if limit == Some(0) {
        return Ok(0);
    }
    while let Some(batch) = cap.next_batch(DEFAULT_BATCH_RECORDS, DEFAULT_BATCH_BYTES)? {
        let mut done = false;
        for rec in batch.iter() {
            if !filter.matches(&rec)? {
                continue;
            }
            sink.packet(&rec)?;
            used += 1;
            if limit.is_some_and(|l| used >= l) {
                done = true;
                break;
            }
        }
        sink.end_batch()?;
        cap.recycle(batch);
        if done {
            break;
        }
    }
    Ok(used)
}

/// `capture -w`: each ring block's packets go to the file in one vectored
/// write, from the ring itself, until the end of the capture or `-c`.
fn capture_direct(cap: &mut Capture, limit: Option<u64>, f: &mut FileSink) -> Result<u64> {
    let mut used = 0u64;
    if limit == Some(0) {
        return Ok(0);
    }
    let mut failed: Option<anyhow::Error> = None;
    loop {
        let ended = cap.live_direct(true, &mut |pkts| {
            let n = match limit {
                Some(l) => pkts
                    .len()
                    .min(usize::try_from(l - used).unwrap_or(usize::MAX)),
                None => pkts.len(),
            };
            if let Err(e) = f.write_ring(&pkts[..n]) {
                failed = Some(e);
                return Err(io::Error::other("write failed"));
            }
            used += n as u64;
            Ok(limit.is_some_and(|l| used >= l))
        });
        if let Some(e) = failed.take() {
            return Err(e);
        }
        if ended? {
            return Ok(used);
        }
    }
}

enum Sink {
    Summary {
        engine: Box<Engine>,
        fields: Box<Fields>,
        out: io::BufWriter<io::Stdout>,
        numeric: bool,
    },
    File(Box<FileSink>),
}

impl Sink {
    fn packet(&mut self, rec: &Record<'_>) -> Result<()> {
        match self {
            Sink::Summary {
                engine,
                fields,
                out,
                numeric,
            } => {
                engine.dissect(&input::meta(rec), rec.data, fields);
                let line = engine.summary_line(fields, rec.data, *numeric);
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                Ok(())
            }
            Sink::File(f) => f.packet(rec),
        }
    }

    fn end_batch(&mut self) -> Result<()> {
        match self {
            Sink::Summary { out, .. } => Ok(out.flush()?),
            Sink::File(f) => f.commit(),
        }
    }

    fn finish(&mut self, stats: &[LiveStats]) -> Result<()> {
        match self {
            Sink::Summary { out, .. } => Ok(out.flush()?),
            Sink::File(f) => f.finish(stats),
        }
    }
}

/// A file written so that what is on disk always ends at a record boundary:
/// bytes are buffered and written per batch; when a write fails (a full
/// disk), the file is cut back to the last complete record.
struct SafeOut {
    dst: Dst,
    buf: Vec<u8>,
    /// Where each complete record (or header) ends in `buf`.
    marks: Vec<usize>,
    good: u64,
}

enum Dst {
    File(File),
    Stdout(io::Stdout),
}

impl Write for SafeOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SafeOut {
    /// Marks the end of a complete record (or of the headers).
    fn mark(&mut self) {
        self.marks.push(self.buf.len());
    }

    fn commit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut written = 0usize;
        let res = loop {
            let Some(rest) = self.buf.get(written..).filter(|r| !r.is_empty()) else {
                break Ok(());
            };
            let r = match &mut self.dst {
                Dst::File(f) => f.write(rest),
                Dst::Stdout(s) => s.write(rest),
            };
            match r {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let res = res.and_then(|()| match &mut self.dst {
            Dst::Stdout(s) => s.flush(),
            Dst::File(_) => Ok(()),
        });
        match res {
            Ok(()) => {
                self.good += self.buf.len() as u64;
                self.buf.clear();
                self.marks.clear();
                Ok(())
            }
            Err(e) => {
                // Keep the complete records that reached the disk and cut
                // the partial one (a device like /dev/full cannot be
                // truncated, and needs no cut).
                let keep = self
                    .marks
                    .iter()
                    .rev()
                    .copied()
                    .find(|&m| m <= written)
                    .unwrap_or(0);
                if let Dst::File(f) = &mut self.dst {
                    let _ = f.set_len(self.good + keep as u64);
                }
                self.good += keep as u64;
                self.buf.clear();
                self.marks.clear();
                Err(e)
            }
        }
    }

    fn size(&self) -> u64 {
        self.good + self.buf.len() as u64
    }

    /// Writes whole records with vectored writes (after anything buffered):
    /// `ends` are the byte offsets where each record ends. When a write
    /// fails, the file is cut back to the last record that reached it
    /// whole, as [`SafeOut::commit`] does.
    fn write_records(&mut self, mut iov: &mut [io::IoSlice<'_>], ends: &[usize]) -> io::Result<()> {
        self.commit()?;
        let total = ends.last().copied().unwrap_or(0);
        let mut written = 0usize;
        let res = loop {
            if iov.is_empty() {
                break Ok(());
            }
            let r = match &mut self.dst {
                Dst::File(f) => f.write_vectored(iov),
                Dst::Stdout(s) => s.write_vectored(iov),
            };
            match r {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    written += n;
                    io::IoSlice::advance_slices(&mut iov, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        let res = res.and_then(|()| match &mut self.dst {
            Dst::Stdout(s) => s.flush(),
            Dst::File(_) => Ok(()),
        });
        match res {
            Ok(()) => {
                self.good += total as u64;
                Ok(())
            }
            Err(e) => {
                let keep = ends
                    .iter()
                    .rev()
                    .copied()
                    .find(|&m| m <= written)
                    .unwrap_or(0);
                if let Dst::File(f) = &mut self.dst {
                    let _ = f.set_len(self.good + keep as u64);
                }
                self.good += keep as u64;
                Err(e)
            }
        }
    }
}

enum Writer {
    Pcap(PcapWriter<SafeOut>),
    Ng(PcapNgWriter<SafeOut>),
}

impl Writer {
    fn out(&mut self) -> &mut SafeOut {
        match self {
            Writer::Pcap(w) => w.get_mut(),
            Writer::Ng(w) => w.get_mut(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct RingOpts {
    size: Option<u64>,
    seconds: Option<u64>,
    files: Option<u64>,
}

impl RingOpts {
    fn from_args(a: &CaptureArgs) -> Result<Option<RingOpts>> {
        let r = RingOpts {
            size: a.ring_size,
            seconds: a.ring_seconds,
            files: a.ring_files,
        };
        if r.size.is_none() && r.seconds.is_none() && r.files.is_none() {
            return Ok(None);
        }
        match a.output.as_deref() {
            None | Some("-") => bail!("--ring-size/--ring-seconds/--ring-files need -w FILE"),
            Some(_) => {}
        }
        if r.size.is_none() && r.seconds.is_none() {
            bail!("--ring-files needs --ring-size or --ring-seconds to say when to switch files");
        }
        if r.size == Some(0) || r.seconds == Some(0) || r.files == Some(0) {
            bail!("ring buffer sizes, seconds and file counts must be at least 1");
        }
        Ok(Some(r))
    }
}

struct FileSink {
    /// `None`: standard output.
    path: Option<PathBuf>,
    format: CaptureFormat,
    nanos: bool,
    ifaces: Vec<LiveInterface>,
    ring: Option<RingOpts>,
    writer: Writer,
    /// Ring: number of the current file, when it was opened, files kept.
    file_no: u64,
    opened: Instant,
    kept: VecDeque<PathBuf>,
    current: PathBuf,
}

impl FileSink {
    fn create(
        out: &str,
        format: CaptureFormat,
        nanos: bool,
        ifaces: &[LiveInterface],
        ring: Option<RingOpts>,
    ) -> Result<FileSink> {
        let path = (out != "-").then(|| PathBuf::from(out));
        let (current, dst) = match &path {
            None => (PathBuf::from("<stdout>"), Dst::Stdout(io::stdout())),
            Some(p) => {
                let p = if ring.is_some() {
                    ring_name(p, 1)
                } else {
                    p.clone()
                };
                let f = File::create(&p).with_context(|| p.display().to_string())?;
                (p, Dst::File(f))
            }
        };
        let writer = new_writer(dst, format, nanos, ifaces)
            .with_context(|| current.display().to_string())?;
        let mut s = FileSink {
            path,
            format,
            nanos,
            ifaces: ifaces.to_vec(),
            ring,
            writer,
            file_no: 1,
            opened: Instant::now(),
            kept: VecDeque::new(),
            current: current.clone(),
        };
        s.kept.push_back(current);
        s.commit()?;
        Ok(s)
    }

    fn err(&self, e: io::Error) -> anyhow::Error {
        anyhow!("{}: write error: {e}", self.current.display())
    }

    fn commit(&mut self) -> Result<()> {
        let r = self.writer.out().commit();
        r.map_err(|e| self.err(e))
    }

    fn rotate_due(&mut self) -> bool {
        let Some(r) = self.ring else {
            return false;
        };
        let size = self.writer.out().size();
        r.size
            .is_some_and(|mib| size >= mib.saturating_mul(1 << 20))
            || r.seconds
                .is_some_and(|s| self.opened.elapsed() >= Duration::from_secs(s))
    }

    fn rotate(&mut self) -> Result<()> {
        self.commit()?;
        let Some(base) = self.path.clone() else {
            return Ok(());
        };
        self.file_no += 1;
        let p = ring_name(&base, self.file_no);
        let f = File::create(&p).with_context(|| p.display().to_string())?;
        self.writer = new_writer(Dst::File(f), self.format, self.nanos, &self.ifaces)
            .with_context(|| p.display().to_string())?;
        self.current = p.clone();
        self.opened = Instant::now();
        self.kept.push_back(p);
        if let Some(k) = self.ring.and_then(|r| r.files) {
            while self.kept.len() as u64 > k {
                if let Some(old) = self.kept.pop_front() {
                    std::fs::remove_file(&old).with_context(|| {
                        format!("{}: removing the oldest ring file", old.display())
                    })?;
                }
            }
        }
        self.commit()
    }

    fn packet(&mut self, rec: &Record<'_>) -> Result<()> {
        if self.rotate_due() {
            self.rotate()?;
        }
        let r = match &mut self.writer {
            Writer::Pcap(w) => w.write_packet(rec.ts_ns, rec.wirelen, rec.data),
            Writer::Ng(w) => w.write_packet(rec.interface, rec.ts_ns, rec.wirelen, rec.data, None),
        };
        r.map_err(|e| self.err(e))?;
        self.writer.out().mark();
        if self.writer.out().buf.len() >= 1 << 20 {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes packets straight from a ring block (rotating files as due).
    fn write_ring(&mut self, pkts: &[RingPacket<'_>]) -> Result<()> {
        let framing = RecordFraming {
            pcapng: self.format == CaptureFormat::Pcapng,
            nanos: self.nanos,
        };
        let mut rest = pkts;
        while !rest.is_empty() {
            if self.rotate_due() {
                self.rotate()?;
            }
            // Up to the record that reaches the ring file size.
            let mut n = rest.len();
            if let Some(mib) = self.ring.and_then(|r| r.size) {
                let limit = mib.saturating_mul(1 << 20);
                let mut size = self.writer.out().size();
                for (i, p) in rest.iter().enumerate() {
                    if i > 0 && size >= limit {
                        n = i;
                        break;
                    }
                    size += framing.record_len(p) as u64;
                }
            }
            let (now, later) = rest.split_at(n);
            let mut arena = Vec::new();
            let mut iov = Vec::with_capacity(now.len() * 4);
            let mut ends = Vec::with_capacity(now.len());
            framing.frame(now, &mut arena, &mut iov, &mut ends);
            let r = self.writer.out().write_records(&mut iov, &ends);
            r.map_err(|e| self.err(e))?;
            rest = later;
        }
        Ok(())
    }

    /// pcapng: an Interface Statistics Block per interface (received and
    /// dropped by the kernel); then the last bytes are written.
    fn finish(&mut self, stats: &[LiveStats]) -> Result<()> {
        if let Writer::Ng(w) = &mut self.writer {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let units = if self.nanos {
                u64::try_from(now.as_nanos()).unwrap_or(u64::MAX)
            } else {
                u64::try_from(now.as_micros()).unwrap_or(u64::MAX)
            };
            let o = ByteOrder::Little;
            for (id, st) in stats.iter().enumerate() {
                let mut body = Vec::with_capacity(48);
                o.put_u32(&mut body, u32::try_from(id).unwrap_or(u32::MAX));
                o.put_u32(&mut body, u32::try_from(units >> 32).unwrap_or(0));
                o.put_u32(&mut body, u32::try_from(units & 0xffff_ffff).unwrap_or(0));
                for (code, v) in [(4u16, st.received), (5u16, st.dropped)] {
                    o.put_u16(&mut body, code);
                    o.put_u16(&mut body, 8);
                    o.put_u64(&mut body, v);
                }
                o.put_u16(&mut body, 0);
                o.put_u16(&mut body, 0);
                let r = w.write_block(5, &body);
                r.map_err(|e| anyhow!("{}: write error: {e}", self.current.display()))?;
                w.get_mut().mark();
            }
        }
        self.commit()
    }
}

fn new_writer(
    dst: Dst,
    format: CaptureFormat,
    nanos: bool,
    ifaces: &[LiveInterface],
) -> io::Result<Writer> {
    let out = SafeOut {
        dst,
        buf: Vec::with_capacity(1 << 20),
        marks: Vec::new(),
        good: 0,
    };
    let snaplen = ifaces.first().map_or(262_144, |i| i.snaplen);
    Ok(match format {
        CaptureFormat::Pcap => {
            let mut w = PcapWriter::new(
                out,
                PcapHeader {
                    nanos,
                    byte_order: ByteOrder::Little,
                    snaplen,
                    linktype: ifaces.first().map_or(1, |i| i.linktype),
                },
            )?;
            w.get_mut().mark();
            Writer::Pcap(w)
        }
        CaptureFormat::Pcapng => {
            let mut w = PcapNgWriter::new(out, ByteOrder::Little)?;
            for i in ifaces {
                w.add_interface(&InterfaceSpec {
                    linktype: u16::try_from(i.linktype).unwrap_or(1),
                    snaplen: i.snaplen,
                    name: Some(i.name.clone()),
                    tsresol: if nanos {
                        TsResolution::NANO
                    } else {
                        TsResolution::MICRO
                    },
                    tsoffset: 0,
                    fcs_len: None,
                })?;
            }
            w.get_mut().mark();
            Writer::Ng(w)
        }
    })
}

/// `OUT_00001_YYYYmmddHHMMSS.ext` next to `OUT.ext` (dumpcap's ring names; UTC).
fn ring_name(base: &Path, n: u64) -> PathBuf {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = match base.extension() {
        Some(ext) => format!(
            "{stem}_{n:05}_{}.{}",
            utc_stamp(secs),
            ext.to_string_lossy()
        ),
        None => format!("{stem}_{n:05}_{}", utc_stamp(secs)),
    };
    base.with_file_name(name)
}

/// `YYYYmmddHHMMSS` in UTC for seconds since the epoch (Howard Hinnant's
/// civil-from-days).
fn utc_stamp(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc_stamp;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101000000");
        assert_eq!(utc_stamp(951_782_400), "20000229000000");
        assert_eq!(utc_stamp(1_796_172_159), "20261202004239");
    }
}
