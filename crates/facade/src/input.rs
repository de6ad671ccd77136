//! Opening captures and walking their records, with the packet filter and the
//! `-c` limit applied the same way for every command and the Python package.

use std::ops::ControlFlow;

use std::sync::Arc;

use pcapx_capture::{Batch, Capture, Record};
use pcapx_core::{
    DatagramCx, DatagramState, Engine, FieldId, Fields, IpDefrag, PacketMeta, ProtoId, Reassembled,
    TcpDeseg, Value, Wanted,
};
use pcapx_flow::CommunityId;
use pcapx_flow::defrag::{DefragConfig, Defragmenter, Verdict};
use pcapx_flow::deseg::{Deseg, DesegConfig, Desegmenter};
use pcapx_flow::numbering::{StreamNumbering, packet_community_id, tcp_seglen};
use pcapx_flow::packet::L4;

use crate::source::Source;
use crate::{Error, ReadOptions};

/// Open a capture file (`-` is standard input). The error names the file.
pub fn open_file(file: &str) -> Result<Capture, Error> {
    // Named in plugin crash reports ("… on packet 60 of cap.pcap").
    pcapx_plugin_host::crash::set_input(if file == "-" { "<stdin>" } else { file });
    Ok(Capture::open(file)?)
}

/// The reassembly switches of a reading job (the CLI's input arguments,
/// [`ReadOptions`]).
pub trait PassOptions {
    /// Reassemble fragmented IP datagrams.
    fn defrag(&self) -> bool;
    /// Reassemble TCP segments into application PDUs.
    fn desegment(&self) -> bool;
}

impl PassOptions for ReadOptions {
    fn defrag(&self) -> bool {
        !self.no_defrag
    }
    fn desegment(&self) -> bool {
        !self.no_desegment
    }
}

/// The engine's view of a record.
pub fn meta<'a>(r: &Record<'a>) -> PacketMeta<'a> {
    PacketMeta {
        number: r.number,
        ts_ns: r.ts_ns,
        caplen: r.caplen,
        wirelen: r.wirelen,
        linktype: r.linktype,
        interface: r.interface,
        comment: r.comment,
    }
}

/// How many records a walk saw, and what became of them.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Counts {
    /// Records read from the file.
    pub read: u64,
    /// Records the filter rejected.
    pub filtered_out: u64,
    /// Records handed to the command.
    pub used: u64,
}

/// Walk every record of the source in order (file after file); `f` gets
/// the ones that pass the filter, until `limit` of them have been used or
/// `f` breaks.
pub fn walk<E: From<Error>>(
    src: &mut Source,
    limit: Option<u64>,
    f: impl FnMut(&Record<'_>) -> Result<ControlFlow<()>, E>,
) -> Result<Counts, E> {
    walk_committed(src, limit, f, || Ok(()))
}

/// [`walk`] with the stateful pass (see [`walk_with_committed`]).
pub fn walk_with<E: From<Error>>(
    src: &mut Source,
    limit: Option<u64>,
    pass: Option<&mut StreamPass<'_>>,
    f: impl FnMut(&Record<'_>, &Reassembled<'_>) -> Result<ControlFlow<()>, E>,
) -> Result<Counts, E> {
    walk_with_committed(src, limit, pass, f, || Ok(()))
}

/// [`walk`] for commands that print as they go: `commit` runs after each
/// batch once its bytes are known to be the file's own (see
/// [`Capture::try_for_each_committed`]), so output held back per batch and
/// written in `commit` never contains rows made from a shrinking file's
/// zeroed pages.
pub fn walk_committed<E: From<Error>>(
    src: &mut Source,
    limit: Option<u64>,
    mut f: impl FnMut(&Record<'_>) -> Result<ControlFlow<()>, E>,
    commit: impl FnMut() -> Result<(), E>,
) -> Result<Counts, E> {
    walk_with_committed(src, limit, None, |rec, _| f(rec), commit)
}

/// [`walk_committed`] with the stateful pass (IP defragmentation) run over
/// every record read, in file order, before the filter: `f` also gets the
/// packet's side input for [`Engine::dissect_with`]. The pass's state
/// carries over from one file of the source to the next.
pub fn walk_with_committed<E: From<Error>>(
    src: &mut Source,
    limit: Option<u64>,
    mut pass: Option<&mut StreamPass<'_>>,
    mut f: impl FnMut(&Record<'_>, &Reassembled<'_>) -> Result<ControlFlow<()>, E>,
    mut commit: impl FnMut() -> Result<(), E>,
) -> Result<Counts, E> {
    let mut arena = Vec::new();
    let mut c = Counts::default();
    let err: std::cell::RefCell<Option<E>> = std::cell::RefCell::new(None);
    if limit == Some(0) {
        return Ok(c);
    }
    loop {
        let (cap, filter) = src.parts();
        let broke = cap
            .try_for_each_committed(
                |rec| {
                    if let Err(e) = crate::interrupt::check() {
                        *err.borrow_mut() = Some(Error::from(e).into());
                        return ControlFlow::Break(());
                    }
                    c.read += 1;
                    arena.clear();
                    let side = match pass.as_deref_mut() {
                        Some(p) => p.record(rec, &mut arena).0,
                        None => SideRec::default(),
                    };
                    match filter.matches(rec) {
                        Ok(true) => {}
                        Ok(false) => {
                            c.filtered_out += 1;
                            return ControlFlow::Continue(());
                        }
                        Err(e) => {
                            *err.borrow_mut() = Some(e.into());
                            return ControlFlow::Break(());
                        }
                    }
                    c.used += 1;
                    match f(rec, &side.get(&arena)) {
                        Ok(ControlFlow::Continue(())) => {}
                        Ok(ControlFlow::Break(())) => return ControlFlow::Break(()),
                        Err(e) => {
                            *err.borrow_mut() = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                    if limit.is_some_and(|l| c.used >= l) {
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                },
                || {
                    // After an error in `f` nothing more is released.
                    if err.borrow().is_some() {
                        return ControlFlow::Break(());
                    }
                    match commit() {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(e) => {
                            *err.borrow_mut() = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                },
            )
            .map_err(Error::from)?;
        if broke.is_some() || err.borrow().is_some() || !src.advance()? {
            break;
        }
    }
    match err.into_inner() {
        Some(e) => Err(e),
        None => Ok(c),
    }
}

/// Tell the user on standard error what the reader had to skip. Damage is not
/// fatal: every good packet was processed.
pub fn report_damage(cap: &Capture) {
    if let Some(stats) = cap.live_stats() {
        let dropped: u64 = stats.iter().map(|s| s.dropped).sum();
        let received: u64 = stats.iter().map(|s| s.received).sum();
        if dropped > 0 {
            eprintln!(
                "pcapx: {}: warning: {dropped} of {received} packets dropped by kernel",
                cap.info().path
            );
        }
    }
    let n = cap.damage_count();
    if n == 0 {
        return;
    }
    let name = &cap.info().path;
    eprintln!(
        "pcapx: {name}: warning: {n} damaged record(s) or block(s) skipped; the rest was read"
    );
    for d in cap.damage().iter().take(5) {
        eprintln!("pcapx: {name}: {d}");
    }
    if n > 5 {
        eprintln!("pcapx: {name}: … and {} more", n - 5);
    }
}

/// A batch on its way to a pipeline worker, with what the reader decided for
/// each record: which passed the filter and how many the `-c` limit allows.
pub struct Work {
    pub batch: Batch,
    /// The batch's place in the feeder's sequence (0, 1, 2, …): the order
    /// in which per-batch results are combined.
    pub seq: u64,
    /// Records (from the start of the batch) that the reader has counted.
    pub take: usize,
    /// Per record: passed the filter.
    pub pass: Vec<bool>,
    /// Per record: the per-file fields (empty unless the table wants them).
    pub streams: Vec<StreamValues>,
    /// Where those values go.
    pub stream_ids: StreamIds,
    /// Per record: what the stateful pass reassembled for it (empty when
    /// the pass did not run), with the bytes in `arena`.
    pub side: Vec<SideRec>,
    pub arena: Vec<u8>,
    /// The file the batch was read from (`frame.file`).
    pub file: Arc<str>,
    /// Where the file name goes, when the job wants `frame.file`.
    pub file_field: Option<FieldId>,
    /// Every record the reader counted passed (no filter, no limit).
    pub all_pass: bool,
    /// The side input and bytes of that pass, once it ran.
    lazy_side: std::cell::OnceCell<(Vec<SideRec>, Vec<u8>)>,
    /// The latest timestamp among the records given the default side input
    /// without the pass (what the defragmenter's clock must reach).
    plain_ts: std::cell::Cell<Option<i64>>,
}

/// The field ids of the fields a sequential per-file pass provides:
/// `tcp.stream`, `udp.stream` (tshark's numbering) and `communityid`.
#[derive(Copy, Clone, Debug, Default)]
pub struct StreamIds {
    pub tcp: Option<FieldId>,
    pub udp: Option<FieldId>,
    pub cid: Option<FieldId>,
    /// The `tcp.analysis.*` fields, in [`pcapx_flow::analysis::FIELDS`]
    /// order.
    pub analysis: [Option<FieldId>; ANALYSIS_FIELDS],
}

/// Protocols whose fields neither TCP desegmentation nor the datagram
/// states can change: they are dissected from the frame before a TCP or UDP
/// payload is handed on, and the side input those two produce is read only
/// at that hand-off (the TCP dissector, after its own fields) and by
/// application dissectors. Absent extension-header and tunnel protocols are
/// simply not listed (the pass then runs, as always).
const BELOW_PAYLOAD: &[&str] = &[
    "eth",
    "sll",
    "null",
    "vlan",
    "ieee8021ad",
    "arp",
    "ip",
    "ipv6",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
];

/// The `frame` fields that do not depend on the layers dissected (unlike
/// `frame.protocols`, `frame.anomaly`, `frame.malformed`).
const FRAME_OWN: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "frame.len",
    "frame.cap_len",
    "frame.truncated",
    "frame.interface_id",
    "frame.linktype",
    "frame.comment",
    "frame.file",
];

/// Can TCP desegmentation or a datagram state change a field of `wanted`?
/// No when every wanted field is one of [`FRAME_OWN`] or belongs to a
/// protocol of [`BELOW_PAYLOAD`] and no plugin is loaded (a plugin may
/// dissect any protocol's layers from a TCP payload). Like `count`'s plain
/// count, a table of header fields (the tutorial's) then skips that work:
/// its output is the same either way.
pub fn app_state_matters(engine: &Engine, wanted: &Wanted) -> bool {
    let reg = engine.registry();
    if engine.has_plugins() {
        return true;
    }
    reg.fields().iter().enumerate().any(|(i, def)| {
        let id = FieldId(u32::try_from(i).unwrap_or(u32::MAX));
        wanted.contains(id)
            && !FRAME_OWN.contains(&def.name.as_str())
            && !BELOW_PAYLOAD.contains(&reg.protocol(def.proto).name.as_str())
    })
}

/// True when the record is certainly not an IP fragment: an Ethernet frame
/// (under any VLAN tags the full parse walks) with an IPv4 header whose MF
/// flag and fragment offset are zero, an IPv6 header followed directly by
/// TCP, UDP or ICMPv6, or an ethertype the full parse does not follow to IP
/// (ARP, LLDP, …; not an 802.3 length, whose LLC/SNAP may carry IP). False
/// when it may be one (the full parse decides then).
fn surely_unfragmented(linktype: u32, d: &[u8]) -> bool {
    if linktype != 1 {
        return false;
    }
    let (mut et, mut off) = (d.get(12..14), 14);
    // The tags `pcapx_flow::parse` skips, as many as it does.
    for _ in 0..8 {
        match et {
            Some([0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00]) => {
                et = d.get(off + 2..off + 4);
                off += 4;
            }
            _ => break,
        }
    }
    match et {
        Some([0x08, 0x00]) => {
            d.get(off).is_some_and(|v| v >> 4 == 4)
                && d.get(off + 6..off + 8)
                    .is_some_and(|f| u16::from_be_bytes([f[0], f[1]]) & 0x3fff == 0)
        }
        Some([0x86, 0xdd]) => d.get(off + 6).is_some_and(|nh| matches!(nh, 6 | 17 | 58)),
        // Still a tag after 8, or a length: leave it to the full parse.
        Some([0x81, 0x00] | [0x88, 0xa8] | [0x91, 0x00]) => false,
        Some(&[a, b]) => u16::from_be_bytes([a, b]) > 1500,
        _ => false,
    }
}

/// Records ahead of the stateful pass whose headers are requested into the
/// cache.
const PREFETCH_AHEAD: usize = 8;

const ANALYSIS_FIELDS: usize = pcapx_flow::analysis::FIELDS.len();

impl StreamIds {
    /// The ids among `wanted`; `None` when the job wants none of them.
    pub fn wanted(engine: &Engine, wanted: &Wanted) -> Option<StreamIds> {
        let reg = engine.registry();
        let pick = |name: &str| reg.field_by_name(name).filter(|&f| wanted.contains(f));
        let ids = StreamIds {
            tcp: pick("tcp.stream"),
            udp: pick("udp.stream"),
            cid: pick("communityid"),
            analysis: pcapx_flow::analysis::FIELDS.map(|(name, _)| pick(name)),
        };
        (ids.tcp.is_some() || ids.udp.is_some() || ids.cid.is_some() || ids.analyzing())
            .then_some(ids)
    }

    /// Does the job want any `tcp.analysis.*` field?
    pub fn analyzing(&self) -> bool {
        self.analysis.iter().any(Option::is_some)
    }
}

/// One record's per-file values (no heap: the Community ID is inline).
#[derive(Copy, Clone, Debug)]
pub struct StreamValues {
    tcp: u32,
    udp: u32,
    /// Which `tcp.analysis.*` fields are present (bit i: `FIELDS[i]`).
    analysis: u16,
    cid_len: u8,
    cid: [u8; pcapx_flow::community_id::LEN],
}

const NONE: u32 = u32::MAX;

impl StreamValues {
    /// tshark's `tcp.stream` of the packet.
    pub fn tcp_stream(&self) -> Option<u32> {
        (self.tcp != NONE).then_some(self.tcp)
    }
    /// tshark's `udp.stream` of the packet.
    pub fn udp_stream(&self) -> Option<u32> {
        (self.udp != NONE).then_some(self.udp)
    }
}

/// Where a record's reassembled bytes are in its batch's arena.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum SideIp {
    #[default]
    AsIs,
    Held,
    Complete {
        at: u32,
        len: u32,
        fragments: u32,
    },
}

/// Where a record's desegmented TCP PDUs are in its batch's arena.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum SideTcp {
    #[default]
    AsIs,
    Partial,
    Pdus {
        at: u32,
        len: u32,
        segments: u32,
    },
}

/// One record's side input, as ranges of the batch's arena (no heap per
/// packet): see [`pcapx_core::Reassembled`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SideRec {
    pub ip: SideIp,
    pub tcp: SideTcp,
    /// What a dissector's datagram state wrote: its protocol and
    /// `arena[at..at + len]`.
    pub datagram: Option<(ProtoId, u32, u32)>,
}

impl SideRec {
    /// The side input with its bytes from `arena`.
    pub fn get<'a>(&self, arena: &'a [u8]) -> Reassembled<'a> {
        let ip = match self.ip {
            SideIp::AsIs => IpDefrag::AsIs,
            SideIp::Held => IpDefrag::Held,
            SideIp::Complete { at, len, fragments } => {
                let (at, len) = (at as usize, len as usize);
                match arena.get(at..at + len) {
                    Some(payload) => IpDefrag::Complete { payload, fragments },
                    None => IpDefrag::AsIs,
                }
            }
        };
        let tcp = match self.tcp {
            SideTcp::AsIs => TcpDeseg::AsIs,
            SideTcp::Partial => TcpDeseg::Partial,
            SideTcp::Pdus { at, len, segments } => {
                let (at, len) = (at as usize, len as usize);
                match arena.get(at..at + len) {
                    Some(data) => TcpDeseg::Pdus { data, segments },
                    None => TcpDeseg::AsIs,
                }
            }
        };
        let datagram = self.datagram.and_then(|(p, at, len)| {
            let (at, len) = (at as usize, len as usize);
            arena.get(at..at + len).map(|b| (p, b))
        });
        Reassembled { ip, tcp, datagram }
    }
}

/// The stateful pass: the serial part of dissection, on the reader's
/// thread, in file order over every record read (whatever the filter, as
/// tshark reassembles and numbers over the whole file). It runs the cheap
/// header parse once per record and then
///
/// - IP defragmentation (on unless `--no-defrag`): which fragment completes
///   its datagram, and the datagram's bytes (copied into the batch's arena);
/// - the per-file fields, when the table wants them: tshark's
///   `tcp.stream`/`udp.stream` numbering and the packet's Community ID.
///
/// Its results travel with the batch ([`Work::side`], [`Work::streams`]),
/// so workers dissect in parallel and the output is the same for any thread
/// count.
pub struct StreamPass<'e> {
    ids: Option<StreamIds>,
    numbering: StreamNumbering,
    cid: CommunityId,
    scratch: String,
    defrag: Option<Defragmenter>,
    deseg: Option<(&'e Engine, Desegmenter)>,
    /// The dissectors' per-file datagram states (QUIC connections), run
    /// with desegmentation.
    datagram: Vec<(ProtoId, Box<dyn DatagramState>)>,
}

impl<'e> StreamPass<'e> {
    /// The pass for a job: `ids` the per-file fields it wants, `defrag`
    /// whether to reassemble IP fragments, `deseg` the engine whose
    /// application dissectors frame TCP PDUs (`None`: no desegmentation).
    /// `None` when there is nothing to do.
    pub fn new(
        ids: Option<StreamIds>,
        seed: u16,
        defrag: bool,
        deseg: Option<&'e Engine>,
    ) -> Option<StreamPass<'e>> {
        if ids.is_none() && !defrag && deseg.is_none() {
            return None;
        }
        Some(StreamPass {
            ids,
            numbering: StreamNumbering::new().analyzing(ids.is_some_and(|i| i.analyzing())),
            cid: CommunityId::new(seed),
            scratch: String::with_capacity(pcapx_flow::community_id::LEN),
            defrag: defrag.then(|| Defragmenter::new(DefragConfig::default())),
            deseg: deseg.map(|e| (e, Desegmenter::new(e, DesegConfig::default()))),
            datagram: deseg.map(Engine::datagram_states).unwrap_or_default(),
        })
    }

    /// The pass every reading command runs, from its input options.
    pub fn for_input(
        engine: &'e Engine,
        input: &impl PassOptions,
        ids: Option<StreamIds>,
        seed: u16,
    ) -> Option<StreamPass<'e>> {
        StreamPass::new(
            ids,
            seed,
            input.defrag(),
            input.desegment().then_some(engine),
        )
    }

    /// The pass a table job runs: [`StreamPass::for_input`], without TCP
    /// desegmentation and the datagram states when they cannot change any
    /// field of `wanted` (see [`app_state_matters`]) and no anomaly is
    /// counted (`tally`: an application layer's anomalies would be).
    pub fn for_table(
        engine: &'e Engine,
        input: &impl PassOptions,
        wanted: &Wanted,
        tally: bool,
        seed: u16,
    ) -> Option<StreamPass<'e>> {
        let deseg = input.desegment() && (tally || app_state_matters(engine, wanted));
        StreamPass::new(
            StreamIds::wanted(engine, wanted),
            seed,
            input.defrag(),
            deseg.then_some(engine),
        )
    }

    /// One record: its side input (bytes appended to `arena`) and, when
    /// wanted, its per-file values.
    pub fn record(
        &mut self,
        rec: &Record<'_>,
        arena: &mut Vec<u8>,
    ) -> (SideRec, Option<StreamValues>) {
        if self.skips(rec) {
            return (SideRec::default(), None);
        }
        self.record_parsed(rec, arena)
    }

    /// The common case of [`StreamPass::record`], done in place: only
    /// defragmenting, and the packet is certainly no fragment, so it needs
    /// nothing but the defragmenter's clock (what `Defragmenter::packet`
    /// does for it), not the full header parse; its side input is the
    /// default and it has no per-file values. False: the record needs
    /// [`StreamPass::record_parsed`]. Inlined into the reader's walk, which
    /// then stores the default side input straight into its batch (built
    /// on the stack and copied, it cost a store-forwarding stall per
    /// record).
    #[inline]
    fn skips(&mut self, rec: &Record<'_>) -> bool {
        if self.ids.is_none()
            && self.deseg.is_none()
            && self.datagram.is_empty()
            && surely_unfragmented(rec.linktype, rec.data)
        {
            if let Some(d) = self.defrag.as_mut() {
                d.tick(rec.ts_ns);
            }
            return true;
        }
        false
    }

    /// [`StreamPass::record`] for a record that needs the header parse.
    fn record_parsed(
        &mut self,
        rec: &Record<'_>,
        arena: &mut Vec<u8>,
    ) -> (SideRec, Option<StreamValues>) {
        let p = pcapx_flow::parse(rec.linktype, rec.data);
        let mut side = SideRec::default();
        let mut l4 = None;
        // The TCP segment's length as tshark knows it (for the sequence
        // analysis): the packet's own, unless it is a fragment.
        let own_seglen = || {
            rec.data
                .get(p.ip_payload.clone())
                .and_then(|t| tcp_seglen(t, p.ip_payload_len))
        };
        let mut seglen = None;
        if let Some(d) = self.defrag.as_mut() {
            match d.packet(&p, rec.data, rec.ts_ns) {
                Verdict::AsIs => {
                    l4 = Some(p.l4);
                    // Not a fragment, or an atomic one (RFC 6946); a cut
                    // fragment has no known segment length for tshark.
                    if p.frag.is_none_or(|f| f.offset == 0 && !f.more) {
                        seglen = own_seglen();
                    }
                }
                Verdict::Held => {
                    side.ip = SideIp::Held;
                    l4 = Some(L4::Fragment);
                }
                Verdict::Complete {
                    payload,
                    fragments,
                    first,
                } => {
                    seglen = u32::try_from(payload.len())
                        .ok()
                        .and_then(|n| tcp_seglen(payload, n));
                    if let (Ok(at), Ok(len)) =
                        (u32::try_from(arena.len()), u32::try_from(payload.len()))
                    {
                        arena.extend_from_slice(payload);
                        side.ip = SideIp::Complete { at, len, fragments };
                    }
                    l4 = Some(first);
                }
            }
        } else {
            seglen = own_seglen();
        }
        if let Some((engine, ds)) = self.deseg.as_mut() {
            let l4 = l4.unwrap_or(p.l4);
            side.tcp = match ds.packet(engine, &p, l4, rec.data, arena) {
                Deseg::AsIs => SideTcp::AsIs,
                Deseg::Partial => SideTcp::Partial,
                Deseg::Pdus { at, len, segments } => {
                    match (u32::try_from(at), u32::try_from(len)) {
                        (Ok(at), Ok(len)) => SideTcp::Pdus { at, len, segments },
                        _ => SideTcp::AsIs,
                    }
                }
            };
        }
        if !self.datagram.is_empty() {
            side.datagram = self.datagram_states(&p, rec.data, arena);
        }
        let Some(ids) = self.ids else {
            return (side, None);
        };
        let seglen = seglen.filter(|_| p.proto == pcapx_flow::key::TCP);
        let s = match l4 {
            Some(l4) => self
                .numbering
                .packet_analyzed(&p, l4, seglen.map(|n| (n, rec.ts_ns))),
            None => self.numbering.packet_segment(&p, rec.ts_ns, seglen),
        };
        let mut v = StreamValues {
            tcp: s.tcp_stream.unwrap_or(NONE),
            udp: s.udp_stream.unwrap_or(NONE),
            analysis: pcapx_flow::analysis::fields_of(s.tcp_analysis),
            cid_len: 0,
            cid: [0; pcapx_flow::community_id::LEN],
        };
        if ids.cid.is_some() {
            self.scratch.clear();
            if packet_community_id(&self.cid, &p, s.l4, &mut self.scratch) {
                let b = self.scratch.as_bytes();
                let n = b.len().min(v.cid.len());
                v.cid[..n].copy_from_slice(&b[..n]);
                v.cid_len = u8::try_from(n).unwrap_or(0);
            }
        }
        (side, Some(v))
    }

    /// Run the datagram states on an unfragmented UDP datagram; the first
    /// that writes something for it gets the packet's side input.
    fn datagram_states(
        &mut self,
        p: &pcapx_flow::packet::PacketInfo,
        frame: &[u8],
        arena: &mut Vec<u8>,
    ) -> Option<(ProtoId, u32, u32)> {
        let (L4::Udp { sport, dport }, Some(src), Some(dst), None) = (p.l4, p.src, p.dst, p.frag)
        else {
            return None;
        };
        let payload = frame.get(p.payload.clone())?;
        let cx = DatagramCx::new(src.bytes, dst.bytes, sport, dport);
        for (proto, st) in &mut self.datagram {
            let at = arena.len();
            if st.datagram(&cx, payload, arena) {
                let len = arena.len() - at;
                return match (u32::try_from(at), u32::try_from(len)) {
                    (Ok(at), Ok(len)) => Some((*proto, at, len)),
                    _ => None,
                };
            }
            arena.truncate(at);
        }
        None
    }

    /// Warn on standard error about datagrams given up on or still
    /// incomplete at the end of the input, and PDUs dropped.
    pub fn report(&self, name: &str) {
        for (_, st) in &self.datagram {
            if let Some(w) = st.report() {
                eprintln!("pcapx: {name}: warning: {w}");
            }
        }
        if let Some(d) = &self.defrag {
            let st = d.stats();
            let left = d.pending() as u64;
            if st.dropped() + left > 0 {
                eprintln!(
                    "pcapx: {name}: warning: {} fragmented datagram(s) never completed ({} timed out, {} over the memory bounds, {left} incomplete at the end)",
                    st.dropped() + left,
                    st.timed_out,
                    st.evicted + st.oversized
                );
            }
        }
        if self.ids.is_some() {
            let st = self.numbering.stats();
            if st.forgotten > 0 {
                eprintln!(
                    "pcapx: {name}: warning: stream numbering forgot {} conversation(s) over its bound of {} per transport; {} came back and got a new number (tshark would have kept the old one; later numbers shift)",
                    st.forgotten,
                    pcapx_flow::numbering::MAX_CONVERSATIONS,
                    st.renumbered
                );
            }
            if st.analysis_dropped > 0 {
                eprintln!(
                    "pcapx: {name}: warning: TCP sequence analysis could not remember {} unacknowledged segment(s) (bound: {})",
                    st.analysis_dropped,
                    pcapx_flow::analysis::MAX_UNACKED_TOTAL
                );
            }
        }
        if let Some((_, ds)) = &self.deseg {
            let st = ds.stats();
            let dropped = st.dropped_at_gap + st.dropped_too_long;
            if dropped + st.evicted > 0 {
                eprintln!(
                    "pcapx: {name}: warning: TCP desegmentation dropped {dropped} incomplete PDU(s) ({} at a gap, {} too long) and {} conversation(s) over the bound",
                    st.dropped_at_gap, st.dropped_too_long, st.evicted
                );
            }
        }
    }
}

impl Work {
    /// Record `i`'s side input for [`Engine::dissect_with`].
    pub fn reassembled(&self, i: usize) -> Reassembled<'_> {
        self.side
            .get(i)
            .map(|s| s.get(&self.arena))
            .unwrap_or_default()
    }

    /// Add record `i`'s per-file values and, when wanted, the batch's
    /// `frame.file` to `fields` (after the engine has dissected it).
    pub fn add_stream_fields(&self, i: usize, fields: &mut Fields) {
        if let Some(f) = self.file_field {
            fields.add(f, Value::Str(&self.file));
        }
        let Some(v) = self.streams.get(i) else { return };
        if let Some(f) = self.stream_ids.tcp
            && v.tcp != NONE
        {
            fields.add(f, Value::U64(u64::from(v.tcp)));
        }
        if let Some(f) = self.stream_ids.udp
            && v.udp != NONE
        {
            fields.add(f, Value::U64(u64::from(v.udp)));
        }
        if v.analysis != 0 {
            for (i, f) in self.stream_ids.analysis.iter().enumerate() {
                if let Some(f) = *f
                    && v.analysis & (1 << i) != 0
                {
                    fields.add(f, Value::Bool(true));
                }
            }
        }
        if let Some(f) = self.stream_ids.cid
            && v.cid_len > 0
            && let Ok(s) = std::str::from_utf8(&v.cid[..usize::from(v.cid_len)])
        {
            fields.add(f, Value::Str(s));
        }
    }
}

impl Work {
    /// The records a worker should process: `(record, passed the filter)`.
    pub fn records(&self) -> impl Iterator<Item = (Record<'_>, bool)> {
        self.batch.iter().take(self.take).enumerate().map(|(i, r)| {
            // On a worker the batch's bytes are in another core's cache
            // (or none): ask for the headers a few records ahead.
            self.batch.prefetch(i + PREFETCH_AHEAD);
            (r, self.pass.get(i).copied().unwrap_or(false))
        })
    }
}

/// Feeds the parallel pipeline from the reader's thread: batches in stream
/// order (file after file), the filter applied and the `-c` limit counted
/// there, so the limit is exact whatever the thread count. The stateful
/// pass is not run here but by [`PassStage`], batch after batch in the
/// same order, on whichever thread processes the batch.
pub struct Feeder<'a> {
    src: &'a mut Source,
    limit: Option<u64>,
    used: u64,
    done: bool,
    file_field: Option<FieldId>,
    /// Batches handed out so far.
    seq: u64,
}

impl<'a> Feeder<'a> {
    /// [`Source::check_intact`] on the source being fed: everything read
    /// so far from its current file is still the file's own.
    pub fn check_intact(&self) -> Result<(), pcapx_capture::CaptureError> {
        self.src.check_intact()
    }

    pub fn new(src: &'a mut Source, limit: Option<u64>) -> Feeder<'a> {
        Feeder {
            src,
            limit,
            used: 0,
            done: limit == Some(0),
            file_field: None,
            seq: 0,
        }
    }

    /// Records handed out so far that passed the filter (what the limit
    /// counts).
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Where [`Work::add_stream_fields`] puts the batch's file name
    /// (`frame.file`), when the job wants it.
    pub fn with_file_field(mut self, field: Option<FieldId>) -> Feeder<'a> {
        self.file_field = field;
        self
    }

    /// The next batch, or `None` at the end of the last file or of the
    /// limit.
    pub fn next_work(&mut self) -> Result<Option<Work>, Error> {
        if self.done {
            return Ok(None);
        }
        crate::interrupt::check()?;
        let Some(batch) = self.src.next_batch()? else {
            return Ok(None);
        };
        let file = Arc::clone(self.src.file());
        let filter = self.src.filter_mut();
        let all_pass = self.limit.is_none() && filter.passes_all();
        let pass = if all_pass {
            // Nothing to decide per record: the reader's thread does not
            // walk the batch again.
            self.used += u64::try_from(batch.len()).unwrap_or(u64::MAX);
            vec![true; batch.len()]
        } else {
            // One walk over the batch: the limit and the filter per record.
            let mut pass = Vec::with_capacity(batch.len());
            for (i, rec) in batch.iter().enumerate() {
                // The batch was walked (and its lines prefetched) long
                // enough ago that they have left the nearest caches.
                batch.prefetch(i + PREFETCH_AHEAD);
                if self.limit.is_some_and(|l| self.used >= l) {
                    self.done = true;
                    break;
                }
                let ok = filter.matches(&rec)?;
                self.used += u64::from(ok);
                pass.push(ok);
            }
            pass
        };
        let take = pass.len();
        let seq = self.seq;
        self.seq += 1;
        Ok(Some(Work {
            batch,
            seq,
            take,
            pass,
            streams: Vec::new(),
            stream_ids: StreamIds::default(),
            side: Vec::new(),
            arena: Vec::new(),
            file,
            file_field: self.file_field,
            all_pass,
            lazy_side: std::cell::OnceCell::new(),
            plain_ts: std::cell::Cell::new(None),
        }))
    }
}

/// The stateful pass ([`StreamPass`]) as a pipeline stage: each batch's
/// pass runs on the thread that processes the batch, just before it, one
/// batch at a time in the batches' order ([`pcapx_pipeline::Turns`]: the
/// state carries over from batch to batch and file to file). The reader's
/// thread then only reads — the part of the work every thread waits for —
/// and the pass of one batch overlaps the reading of the next.
pub struct PassStage<'a> {
    /// The batches' turns; a batch that did not need the pass posts the
    /// latest timestamp of its records (see [`PassStage::side_input`]).
    turns: pcapx_pipeline::Turns<Option<i64>>,
    pass: std::sync::Mutex<Option<StreamPass<'a>>>,
    /// There is a pass to run (kept beside the lock, so that batches of a
    /// job without one do not take turns for nothing).
    active: bool,
    /// The pass only defragments IP: it runs for a batch only when one of
    /// its records is not surely unfragmented.
    lazy: bool,
}

impl<'a> PassStage<'a> {
    /// The stage running `pass` (none: batches go through untouched).
    pub fn new(pass: Option<StreamPass<'a>>) -> PassStage<'a> {
        PassStage {
            turns: pcapx_pipeline::Turns::default(),
            active: pass.is_some(),
            lazy: pass.as_ref().is_some_and(StreamPass::defrag_only),
            pass: std::sync::Mutex::new(pass),
        }
    }

    /// The pass, for its counters once the run is over.
    pub fn into_pass(self) -> Option<StreamPass<'a>> {
        self.pass
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Before `work` is processed: runs the pass over its records in its
    /// turn (`work.seq`), filling its side input and per-file values —
    /// unless the pass only defragments and every record passed, when the
    /// pass waits for a record that needs it ([`PassStage::side_input`]).
    /// After a pass panicked the later ones are skipped (the run fails with
    /// that panic).
    pub fn run(&self, work: &mut Work) {
        if !self.active {
            return;
        }
        if self.is_lazy(work) {
            return;
        }
        self.in_turn(work.seq, |sp| sp.run_batch(work));
    }

    /// The pass runs for `w` only if one of its records needs it (see
    /// [`PassStage::side_input`]).
    #[inline]
    fn is_lazy(&self, w: &Work) -> bool {
        self.lazy && w.all_pass
    }

    /// Runs `f` on the pass as batch `seq`'s turn (once every earlier
    /// batch's turn ran or was posted; the posted ones are applied first).
    fn in_turn(&self, seq: u64, f: impl FnOnce(&mut StreamPass<'a>)) {
        self.turns.take_applying(
            seq,
            |ts| self.tick(ts),
            || {
                // Uncontended: only the thread whose turn it is gets here.
                let mut pass = self
                    .pass
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(sp) = pass.as_mut() {
                    f(sp);
                }
            },
        );
    }

    /// Record `i`'s side input for [`Engine::dissect_with`] (`rec`: the
    /// record), records taken in order.
    ///
    /// A pass that only defragments gives a record that is surely no
    /// fragment the default side input whatever its state, and such a
    /// record changes the state only by its timestamp (the defragmenter's
    /// clock: pending datagrams expire, a prefix of them, by the latest
    /// time seen — the same after many timestamps as after the largest).
    /// So a batch of such records is dissected without waiting for the
    /// earlier batches' passes: it posts its latest timestamp for its turn
    /// ([`PassStage::finish`]). At its first record that may be a
    /// fragment, the batch takes its turn and the pass runs over all its
    /// records as it would have before processing (the records already
    /// dissected got what the pass gives them).
    #[inline]
    pub fn side_input<'w>(&self, w: &'w Work, i: usize, rec: &Record<'_>) -> Reassembled<'w> {
        if !self.is_lazy(w) {
            return w.reassembled(i);
        }
        let from = |(side, arena): &'w (Vec<SideRec>, Vec<u8>)| {
            side.get(i).map(|s| s.get(arena)).unwrap_or_default()
        };
        if let Some(done) = w.lazy_side.get() {
            return from(done);
        }
        if surely_unfragmented(rec.linktype, rec.data) {
            let t = w.plain_ts.get();
            w.plain_ts
                .set(Some(t.map_or(rec.ts_ns, |t| t.max(rec.ts_ns))));
            return Reassembled::default();
        }
        from(w.lazy_side.get_or_init(|| self.pass_in_turn(w)))
    }

    /// Dissects every record of `w` that passed the filter, in order, into
    /// `fields` (with its side input and per-file values), and hands each
    /// to `f`. Returns how many passed.
    #[inline]
    pub fn dissect_each(
        &self,
        engine: &Engine,
        w: &Work,
        fields: &mut Fields,
        mut f: impl FnMut(&Record<'_>, &mut Fields),
    ) -> u64 {
        let mut passed = 0;
        for (i, (rec, pass)) in w.records().enumerate() {
            if !pass {
                continue;
            }
            passed += 1;
            engine.dissect_with(&meta(&rec), rec.data, &self.side_input(w, i, &rec), fields);
            w.add_stream_fields(i, fields);
            f(&rec, fields);
        }
        passed
    }

    /// The pass over a lazy batch's records, in its turn.
    #[cold]
    fn pass_in_turn(&self, w: &Work) -> (Vec<SideRec>, Vec<u8>) {
        let (mut side, mut arena, mut streams) = (Vec::new(), Vec::new(), Vec::new());
        self.in_turn(w.seq, |sp| {
            sp.walk(&w.batch, w.take, &mut side, &mut arena, &mut streams);
        });
        (side, arena)
    }

    /// After `work` was processed: a lazy batch that did not need the pass
    /// posts its latest timestamp for its turn (never waits).
    pub fn finish(&self, work: &Work) {
        if self.is_lazy(work) && work.lazy_side.get().is_none() {
            self.turns
                .post(work.seq, work.plain_ts.get(), |ts| self.tick(ts));
        }
    }

    /// A posted batch's turn: the defragmenter's clock moves to `ts`.
    fn tick(&self, ts: Option<i64>) {
        let Some(ts) = ts else { return };
        let mut pass = self
            .pass
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(d) = pass.as_mut().and_then(|sp| sp.defrag.as_mut()) {
            d.tick(ts);
        }
    }
}

impl StreamPass<'_> {
    /// Only IP defragmentation (no stream ids, desegmentation or datagram
    /// states): records that are surely no fragment need nothing from it.
    fn defrag_only(&self) -> bool {
        self.ids.is_none() && self.deseg.is_none() && self.datagram.is_empty()
    }

    /// The pass over one batch's records (those the reader counted).
    fn run_batch(&mut self, work: &mut Work) {
        work.stream_ids = self.ids.unwrap_or_default();
        self.walk(
            &work.batch,
            work.take,
            &mut work.side,
            &mut work.arena,
            &mut work.streams,
        );
    }

    /// The pass over the first `n` records of `batch`: their side input
    /// (bytes in `arena`) and, when wanted, per-file values.
    fn walk(
        &mut self,
        batch: &Batch,
        n: usize,
        side: &mut Vec<SideRec>,
        arena: &mut Vec<u8>,
        streams: &mut Vec<StreamValues>,
    ) {
        if self.ids.is_some() {
            streams.reserve(n);
        }
        side.reserve(n);
        for (i, rec) in batch.iter().take(n).enumerate() {
            batch.prefetch(i + PREFETCH_AHEAD);
            if self.skips(&rec) {
                side.push(SideRec::default());
            } else {
                let (s, v) = self.record_parsed(&rec, arena);
                side.push(s);
                if let Some(v) = v {
                    streams.push(v);
                }
            }
        }
    }
}

/// [`pcapx_pipeline::run`] over a [`Feeder`]'s work, with `stage`'s pass
/// run on each batch before `process` and every batch checked after its
/// worker used it: the output of a batch whose memory-mapped bytes
/// changed under it (the file shrank) never reaches `sink`; the run stops
/// with the capture's "file shrank" error instead.
pub fn pipeline<S: Send, O: Send, E: From<Error> + From<pcapx_pipeline::PipelineError>>(
    threads: usize,
    stage: &PassStage<'_>,
    next: impl FnMut() -> Result<Option<Work>, E>,
    init: impl Fn() -> S + Sync,
    process: impl Fn(&mut S, &Work) -> O + Sync,
    sink: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E> {
    pipeline_keeping_states(threads, stage, next, init, process, sink).map(drop)
}

/// [`pipeline`], returning the per-thread states (see
/// [`pcapx_pipeline::run_keeping_states`]).
pub fn pipeline_keeping_states<
    S: Send,
    O: Send,
    E: From<Error> + From<pcapx_pipeline::PipelineError>,
>(
    threads: usize,
    stage: &PassStage<'_>,
    next: impl FnMut() -> Result<Option<Work>, E>,
    init: impl Fn() -> S + Sync,
    process: impl Fn(&mut S, &Work) -> O + Sync,
    mut sink: impl FnMut(O) -> Result<(), E>,
) -> Result<Vec<S>, E> {
    pcapx_pipeline::run_keeping_states(
        threads,
        next,
        init,
        |state, mut work: Work| {
            stage.run(&mut work);
            // A lazy batch that panics before posting its turn must not
            // keep the later batches waiting for it.
            let unwind = stage.turns.break_on_unwind();
            let out = process(state, &work);
            stage.finish(&work);
            drop(unwind);
            (out, work.batch.check_intact())
        },
        |(out, intact)| {
            intact.map_err(|e| E::from(Error::from(e)))?;
            sink(out)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::surely_unfragmented;

    /// Whatever `surely_unfragmented` passes by, the full parse would have
    /// called no fragment (or an atomic one, which the defragmenter leaves
    /// as it is): checked on frames of random bytes whose ethertype, IP
    /// version, flags and next-header bytes are drawn from the values that
    /// matter.
    #[test]
    fn the_quick_check_never_passes_a_fragment() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut passed = 0;
        for _ in 0..200_000 {
            let len = usize::try_from(next() % 80).unwrap_or(0);
            let mut d: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            let r = next();
            // Up to two VLAN tags (of the three kinds), then the ethertype
            // and the bytes that matter, at their offsets.
            let tags = usize::try_from((r >> 20) % 3).unwrap_or(0);
            let off = 14 + 4 * tags;
            if d.len() > off + 7 {
                for t in 0..tags {
                    let tpid = [[0x81, 0x00], [0x88, 0xa8], [0x91, 0x00]]
                        [usize::try_from((r >> (24 + 2 * t)) % 3).unwrap_or(0)];
                    d[12 + 4 * t..14 + 4 * t].copy_from_slice(&tpid);
                }
                let et: [u8; 2] = match (r >> 30) % 4 {
                    0 | 1 => [0x08, 0x00],
                    2 => [0x86, 0xdd],
                    _ => [[0x08, 0x06], [0x05, 0xdc], [0x88, 0xcc], [0x00, 0x40]]
                        [usize::try_from((r >> 40) % 4).unwrap_or(0)],
                };
                d[off - 2..off].copy_from_slice(&et);
                if r & 2 == 0 {
                    d[off] = 0x45;
                }
                if r & 4 == 0 {
                    d[off + 6] &= 0xc0;
                    d[off + 7] = 0;
                }
                if r & 8 == 0 {
                    d[off + 6] = [6, 17, 58, 44, 0][usize::try_from(r >> 8).unwrap_or(0) % 5];
                }
                if r & 16 == 0 && d.len() > off + 14 {
                    // LLC/SNAP carrying IPv4 behind an 802.3 length.
                    d[off - 2..off].copy_from_slice(&[0x00, 0x40]);
                    d[off..off + 3].copy_from_slice(&[0xaa, 0xaa, 0x03]);
                    d[off + 6..off + 8].copy_from_slice(&[0x08, 0x00]);
                    d[off + 8] = 0x45;
                    d[off + 14] |= 0x20;
                }
            }
            if surely_unfragmented(1, &d) {
                passed += 1;
                let p = pcapx_flow::parse(1, &d);
                assert!(
                    p.frag.is_none_or(|f| f.offset == 0 && !f.more),
                    "{d:02x?} passed the quick check but parses as {:?}",
                    p.frag
                );
            }
            assert!(
                !surely_unfragmented(113, &d),
                "only Ethernet is checked quickly"
            );
        }
        assert!(passed > 10_000, "only {passed} frames passed");
    }
}
