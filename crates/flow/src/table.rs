//! The flow table: bidirectional flows with Zeek's `conn_state` and
//! `history`, split on idle and active timeouts and on TCP port reuse.
//!
//! # Who is the originator
//! The sender of the flow's first packet, except that a flow whose first
//! packet is a SYN-ACK is flipped (the SYN-ACK's receiver is the originator
//! and the history starts with `^`, as in Zeek). Zeek's other flip heuristic
//! (well-known responder ports) is not applied.
//!
//! # `conn_state` and `history`
//! Each TCP endpoint runs Zeek's endpoint state machine (inactive, SYN sent,
//! SYN-ACK sent, partial, established, closed, reset) and `conn_state` is
//! derived from the two states exactly as Zeek's `conn_state()` does. History
//! letters follow Zeek (upper case from the originator, lower case from the
//! responder): `S` SYN, `H` SYN-ACK, `A` pure ACK, `D` data, `F` FIN, `R` RST,
//! `I` FIN+RST together, `Q` SYN with FIN or RST, `T` retransmitted payload,
//! `G` a content gap given up on, `W` zero window, `^` flipped. `A`, `D`, `I`
//! and `Q` appear at most once per direction; `S`, `H`, `F` and `R` again
//! only when the sequence number differs from the previous packet of the same
//! kind; `T`, `G` and `W` are logarithmic (at the 1st, 10th, 100th, …
//! occurrence). Zeek's `C` (bad checksum) is never produced: checksums are not
//! verified. The history is capped at 64 letters. UDP flows get `D`/`d` for
//! the first datagram each way; other protocols have no history.
//! For UDP `conn_state` is `SF` (both sides sent), `S0` (only the
//! originator), `SHR` (only the responder, which cannot happen after the
//! flip rule above) and `OTH` for every other protocol.
//!
//! # Timeouts (defaults, overridable)
//! Idle: TCP 300 s (Zeek's `tcp_inactivity_timeout`), UDP 60 s
//! (`udp_inactivity_timeout`), ICMP and others 60 s
//! (`icmp_inactivity_timeout`). Active: 1800 s (nfstream's
//! `active_timeout`): a flow older than that is ended at its next packet and a
//! new one starts. A TCP SYN (without ACK) whose sequence number differs from
//! the one that opened the flow in that direction, once the flow has been
//! closed or reset or has seen a different SYN, starts a new flow (port reuse).
//!
//! # Memory
//! Live flows sit in a hash map and in one least-recently-used list per idle
//! timeout, so expiry costs O(1) per expired flow; nothing is kept for a flow
//! once it has been handed out.

use std::collections::BTreeSet;

use crate::community_id::{CommunityId, Tuple};
use crate::fasthash::{self, FastMap};
use crate::key::{Addr, FlowKey, ICMP, ICMPV6, TCP, UDP};
use crate::packet::tcp_flags::{ACK, FIN, RST, SYN};
use crate::packet::{L4, PacketInfo};
use crate::reassembly::{Class, Event, Stream, StreamConfig};

const SEC: i64 = 1_000_000_000;
const MAX_HISTORY: usize = 64;

/// Timeouts and the Community ID seed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    pub tcp_idle_ns: i64,
    pub udp_idle_ns: i64,
    pub other_idle_ns: i64,
    pub active_ns: i64,
    pub community_id_seed: u16,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig {
            tcp_idle_ns: 300 * SEC,
            udp_idle_ns: 60 * SEC,
            other_idle_ns: 60 * SEC,
            active_ns: 1800 * SEC,
            community_id_seed: 0,
        }
    }
}

/// Zeek's connection states.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

/// Why a flow ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EndReason {
    Idle,
    Active,
    PortReuse,
    EndOfCapture,
}

/// Zeek's TCP endpoint states.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
enum Ep {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// Per-direction counters of a finished flow.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    pub packets: u64,
    /// Frame bytes on the wire (like tshark's conversation bytes).
    pub bytes: u64,
    /// Transport payload bytes according to the headers.
    pub payload_bytes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
    pub lost_segments: u64,
}

/// One finished flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Frame number of the flow's first packet (the output order).
    pub first_frame: u64,
    pub proto: u8,
    pub src: Addr,
    pub dst: Addr,
    /// Ports; for ICMP the first packet's type and code.
    pub sport: u16,
    pub dport: u16,
    pub has_ports: bool,
    pub first_ns: i64,
    pub last_ns: i64,
    pub orig: DirStats,
    pub resp: DirStats,
    pub conn_state: ConnState,
    pub history: String,
    pub vlan: Option<u16>,
    pub community_id: String,
    pub end: EndReason,
    /// Gaps given up on by the reassembler (both directions).
    pub gaps: u64,
    /// Segments with an absurd sequence jump (both directions).
    pub absurd_jumps: u64,
    /// The conversation number (`tcp.stream`/`udp.stream`) the caller gave
    /// the flow's first packet, if any.
    pub stream: Option<u32>,
}

#[derive(Clone, Debug, Default)]
struct Side {
    stats: DirStats,
    ep: Ep,
    hist_mask: u16,
    last_syn: Option<u32>,
    last_fin: Option<u32>,
    last_rst: Option<u32>,
    /// Sequence number of this side's first SYN (port-reuse check).
    syn_seq: Option<u32>,
    t: Scaled,
    g: Scaled,
    w: Scaled,
    stream: Option<Box<Stream>>,
}

#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u64,
    next: u64,
}
impl Default for Scaled {
    fn default() -> Scaled {
        Scaled { count: 0, next: 1 }
    }
}
impl Scaled {
    fn hit(&mut self) -> bool {
        self.count += 1;
        if self.count == self.next {
            self.next = self.next.saturating_mul(10);
            true
        } else {
            false
        }
    }
}

const H_SYN: u16 = 1;
const H_FIN: u16 = 2;
const H_RST: u16 = 4;
const H_ACK: u16 = 8;
const H_DATA: u16 = 16;
const H_CORRUPT: u16 = 32;
const H_MULTI: u16 = 64;

#[derive(Clone, Debug)]
struct Flow {
    key: FlowKey,
    stream: Option<u32>,
    /// The originator is the key's `lo` endpoint.
    orig_lo: bool,
    first_frame: u64,
    first_ns: i64,
    last_ns: i64,
    sport: u16,
    dport: u16,
    has_ports: bool,
    orig: Side,
    resp: Side,
    history: String,
    class: usize,
    prev: u32,
    next: u32,
}

const NIL: u32 = u32::MAX;

/// Counters of what the table saw.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub packets: u64,
    pub not_ip: u64,
    pub flows: u64,
    pub max_concurrent: u64,
    /// Non-first fragments whose first fragment was not seen (kept in an
    /// address-pair flow without ports).
    pub orphan_fragments: u64,
    /// First fragments not remembered because 65,536 fragmented datagrams
    /// were already pending (per table: with several workers this limit is
    /// per shard, the one case where the thread count can change a flow).
    pub untracked_fragments: u64,
}

/// The live flows of one worker (or of the whole file, sequentially).
pub struct FlowTable {
    cfg: FlowConfig,
    cid: CommunityId,
    map: FastMap<FlowKey, u32>,
    slots: Vec<Option<Flow>>,
    free: Vec<u32>,
    /// LRU heads/tails per idle class (TCP, UDP, other).
    head: [u32; 3],
    tail: [u32; 3],
    /// First fragment's ports by (src, dst, proto, id), for later fragments.
    frags: FastMap<(Addr, Addr, u8, u32), (L4, i64)>,
    now: i64,
    stats: TableStats,
    /// First-frame numbers of the live flows (for ordered output).
    live_first: BTreeSet<u64>,
}

fn class_of(proto: u8) -> usize {
    match proto {
        TCP => 0,
        UDP => 1,
        _ => 2,
    }
}

/// Cap on remembered first fragments (entries older than 60 s are dropped
/// when it is reached; a later fragment never matches an entry that old).
const MAX_FRAGS: usize = 65_536;
const FRAG_TIMEOUT_NS: i64 = 60 * SEC;

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> FlowTable {
        FlowTable {
            cid: CommunityId::new(cfg.community_id_seed),
            cfg,
            map: fasthash::map(),
            slots: Vec::new(),
            free: Vec::new(),
            head: [NIL; 3],
            tail: [NIL; 3],
            frags: fasthash::map(),
            now: i64::MIN,
            stats: TableStats::default(),
            live_first: BTreeSet::new(),
        }
    }

    pub fn stats(&self) -> &TableStats {
        &self.stats
    }

    /// Flows currently live.
    pub fn live(&self) -> usize {
        self.map.len()
    }

    /// The first-frame number of the oldest live flow: every flow handed out
    /// from now on starts at or after it, so ended flows that start before
    /// it can be written in first-packet order.
    pub fn oldest_live(&self) -> Option<u64> {
        self.live_first.first().copied()
    }

    fn idle(&self, class: usize) -> i64 {
        match class {
            0 => self.cfg.tcp_idle_ns,
            1 => self.cfg.udp_idle_ns,
            _ => self.cfg.other_idle_ns,
        }
    }

    fn unlink(&mut self, i: u32) {
        let (class, prev, next) = {
            let Some(f) = self.slots[i as usize].as_ref() else {
                return;
            };
            (f.class, f.prev, f.next)
        };
        if prev == NIL {
            self.head[class] = next;
        } else if let Some(p) = self.slots[prev as usize].as_mut() {
            p.next = next;
        }
        if next == NIL {
            self.tail[class] = prev;
        } else if let Some(n) = self.slots[next as usize].as_mut() {
            n.prev = prev;
        }
    }

    fn push_back(&mut self, i: u32) {
        let Some(class) = self.slots[i as usize].as_ref().map(|f| f.class) else {
            return;
        };
        let t = self.tail[class];
        if let Some(f) = self.slots[i as usize].as_mut() {
            f.prev = t;
            f.next = NIL;
        }
        if t == NIL {
            self.head[class] = i;
        } else if let Some(p) = self.slots[t as usize].as_mut() {
            p.next = i;
        }
        self.tail[class] = i;
    }

    /// End every flow idle for longer than its timeout at time `now`.
    pub fn expire(&mut self, now: i64, out: &mut Vec<FlowRecord>) {
        if now > self.now {
            self.now = now;
        }
        for class in 0..3 {
            let idle = self.idle(class);
            loop {
                let h = self.head[class];
                if h == NIL {
                    break;
                }
                let Some(last) = self.slots[h as usize].as_ref().map(|f| f.last_ns) else {
                    break;
                };
                if self.now.saturating_sub(last) <= idle {
                    break;
                }
                self.end(h, EndReason::Idle, out);
            }
        }
        if self.frags.len() > MAX_FRAGS / 2 {
            let now = self.now;
            self.frags
                .retain(|_, v| now.saturating_sub(v.1) <= FRAG_TIMEOUT_NS);
        }
    }

    /// The live flows' (first frame, slot), in first-packet order.
    fn live_in_first_packet_order(&self) -> Vec<(u64, u32)> {
        let mut live: Vec<(u64, u32)> = self
            .map
            .values()
            .filter_map(|&i| self.slots[i as usize].as_ref().map(|f| (f.first_frame, i)))
            .collect();
        live.sort_unstable();
        live
    }

    /// End every live flow (end of the capture), in first-packet order.
    pub fn finish(&mut self, out: &mut Vec<FlowRecord>) {
        let live = self.live_in_first_packet_order();
        for (_, i) in live {
            self.end(i, EndReason::EndOfCapture, out);
        }
    }

    /// [`FlowTable::finish`] in chunks of at most `chunk` records, in
    /// first-packet order: `emit` gets each chunk and the first frame of the
    /// next chunk's first flow (`None` after the last; called once with an
    /// empty chunk when no flow is live). A caller that merges several
    /// tables can write each chunk before the next is made. The table is
    /// emptied at once rather than flow by flow.
    pub fn finish_chunked(
        &mut self,
        chunk: usize,
        mut emit: impl FnMut(Vec<FlowRecord>, Option<u64>),
    ) {
        let live = self.live_in_first_packet_order();
        let mut slots = std::mem::take(&mut self.slots);
        let chunk = chunk.max(1);
        let mut parts = live.chunks(chunk).peekable();
        if parts.peek().is_none() {
            emit(Vec::new(), None);
        }
        while let Some(part) = parts.next() {
            let mut out = Vec::with_capacity(part.len());
            for &(_, i) in part {
                if let Some(mut f) = slots.get_mut(i as usize).and_then(Option::take) {
                    out.push(self.record(&mut f, EndReason::EndOfCapture));
                }
            }
            emit(
                out,
                parts
                    .peek()
                    .and_then(|p| p.first())
                    .map(|&(first, _)| first),
            );
        }
        slots.clear();
        self.slots = slots;
        self.map.clear();
        self.live_first.clear();
        self.free.clear();
        self.head = [NIL; 3];
        self.tail = [NIL; 3];
    }

    fn end(&mut self, i: u32, reason: EndReason, out: &mut Vec<FlowRecord>) {
        self.unlink(i);
        let Some(mut f) = self.slots[i as usize].take() else {
            return;
        };
        self.map.remove(&f.key);
        self.live_first.remove(&f.first_frame);
        self.free.push(i);
        out.push(self.record(&mut f, reason));
    }

    fn record(&self, f: &mut Flow, end: EndReason) -> FlowRecord {
        let (src, dst) = if f.orig_lo {
            (f.key.lo, f.key.hi)
        } else {
            (f.key.hi, f.key.lo)
        };
        let mut gaps = 0;
        let mut absurd = 0;
        let mut history = std::mem::take(&mut f.history);
        for (side, upper) in [(&mut f.orig, true), (&mut f.resp, false)] {
            if let Some(st) = side.stream.as_mut() {
                let mut g = 0u64;
                st.flush(&mut |e| {
                    if let Event::Gap(_) = e {
                        g += 1;
                    }
                });
                for _ in 0..g {
                    if side.g.hit() {
                        push_hist(&mut history, 'G', upper);
                    }
                }
                let s = st.stats();
                gaps += s.gaps;
                absurd += s.absurd_jumps;
            }
        }
        let community_id = self.cid.compute(&Tuple {
            src: src.addr.as_slice(),
            dst: dst.addr.as_slice(),
            proto: f.key.proto,
            sport: f.sport,
            dport: f.dport,
        });
        FlowRecord {
            first_frame: f.first_frame,
            proto: f.key.proto,
            src: src.addr,
            dst: dst.addr,
            sport: f.sport,
            dport: f.dport,
            has_ports: f.has_ports,
            first_ns: f.first_ns,
            last_ns: f.last_ns,
            orig: f.orig.stats,
            resp: f.resp.stats,
            conn_state: conn_state(f, &history),
            history,
            vlan: if f.key.vlan == 0 {
                None
            } else {
                Some(f.key.vlan)
            },
            community_id,
            end,
            gaps,
            absurd_jumps: absurd,
            stream: f.stream,
        }
    }

    /// Account one packet: frame `number` at `ts_ns`, `wire_len` bytes on the
    /// wire. Flows it ends (port reuse, active timeout) and flows that went
    /// idle before it are appended to `out`.
    pub fn packet(
        &mut self,
        number: u64,
        ts_ns: i64,
        wire_len: u32,
        p: &PacketInfo,
        out: &mut Vec<FlowRecord>,
    ) {
        self.packet_in_stream(number, ts_ns, wire_len, p, None, out);
    }

    /// [`FlowTable::packet`] with the packet's conversation number (tshark's
    /// `tcp.stream`/`udp.stream`, from [`crate::numbering`]); a flow keeps
    /// its first packet's, so flow and packet tables join on it.
    pub fn packet_in_stream(
        &mut self,
        number: u64,
        ts_ns: i64,
        wire_len: u32,
        p: &PacketInfo,
        stream: Option<u32>,
        out: &mut Vec<FlowRecord>,
    ) {
        self.stats.packets += 1;
        self.expire(ts_ns, out);
        let mut p_l4 = p.l4;
        if let (Some(fr), Some(src), Some(dst)) = (p.frag, p.src, p.dst) {
            let k = (src, dst, p.proto, fr.id);
            if fr.offset == 0 {
                if !matches!(p.l4, L4::Other) {
                    if self.frags.len() >= MAX_FRAGS {
                        let now = self.now;
                        self.frags
                            .retain(|_, v| now.saturating_sub(v.1) <= FRAG_TIMEOUT_NS);
                    }
                    if self.frags.len() < MAX_FRAGS {
                        self.frags.insert(k, (p.l4, ts_ns));
                    } else {
                        self.stats.untracked_fragments += 1;
                    }
                }
            } else if let Some(&(l4, first_ts)) = self.frags.get(&k)
                && self.now.saturating_sub(first_ts) <= FRAG_TIMEOUT_NS
            {
                p_l4 = l4;
                if !fr.more {
                    self.frags.remove(&k);
                }
            } else {
                self.stats.orphan_fragments += 1;
            }
        }
        let Some((key, fwd)) = FlowKey::with_l4(p, &p_l4) else {
            self.stats.not_ip += 1;
            return;
        };
        let is_first_frag = p.frag.is_none_or(|f| f.offset == 0);
        let tcp = match (key.proto, p.l4) {
            (
                TCP,
                L4::Tcp {
                    seq, flags, window, ..
                },
            ) if is_first_frag => Some((seq, flags, window)),
            _ => None,
        };
        let idx = match self.map.get(&key).copied() {
            Some(i) => {
                // Whether a flow ends here depends only on its own packets
                // and the clock (the latest time seen), never on other
                // flows: the LRU sweep in `expire` may end an idle flow
                // earlier, but only one this check would end anyway, so one
                // table and many shards make the same flows.
                let idle = self.idle(class_of(key.proto));
                let reason = self.slots[i as usize].as_ref().and_then(|f| {
                    if self.now.saturating_sub(f.last_ns) > idle {
                        Some(EndReason::Idle)
                    } else if ts_ns.saturating_sub(f.first_ns) > self.cfg.active_ns {
                        Some(EndReason::Active)
                    } else if tcp.is_some_and(|(seq, flags, _)| port_reuse(f, fwd, seq, flags)) {
                        Some(EndReason::PortReuse)
                    } else {
                        None
                    }
                });
                if let Some(reason) = reason {
                    self.end(i, reason, out);
                    self.new_flow(key, fwd, number, ts_ns, &p_l4, stream)
                } else {
                    i
                }
            }
            None => self.new_flow(key, fwd, number, ts_ns, &p_l4, stream),
        };
        self.unlink(idx);
        if let Some(f) = self.slots[idx as usize].as_mut() {
            f.last_ns = f.last_ns.max(ts_ns);
            let from_orig = fwd == f.orig_lo;
            let side = if from_orig { &mut f.orig } else { &mut f.resp };
            side.stats.packets += 1;
            side.stats.bytes += u64::from(wire_len);
            side.stats.payload_bytes += u64::from(p.payload_len);
            match tcp {
                Some((seq, flags, window)) => {
                    let payload = p.payload.clone();
                    tcp_update(
                        f,
                        from_orig,
                        seq,
                        flags,
                        window,
                        p.payload_len,
                        payload.len(),
                    );
                }
                None if key.proto == UDP && is_first_frag => {
                    let (side, upper) = if from_orig {
                        (&mut f.orig, true)
                    } else {
                        (&mut f.resp, false)
                    };
                    if side.hist_mask & H_DATA == 0 {
                        side.hist_mask |= H_DATA;
                        push_hist(&mut f.history, 'D', upper);
                    }
                }
                None => {
                    let side = if from_orig { &mut f.orig } else { &mut f.resp };
                    side.hist_mask |= H_DATA;
                }
            }
        }
        self.push_back(idx);
    }

    fn new_flow(
        &mut self,
        key: FlowKey,
        fwd: bool,
        number: u64,
        ts: i64,
        l4: &L4,
        stream: Option<u32>,
    ) -> u32 {
        // A first packet that is a SYN-ACK: its receiver is the originator.
        let flip = matches!(*l4, L4::Tcp { flags, .. } if flags & (SYN | ACK) == (SYN | ACK) && flags & (RST | FIN) == 0);
        let orig_lo = fwd != flip;
        let (sport, dport, has_ports) = match *l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } | L4::Sctp { sport, dport } => {
                if flip {
                    (dport, sport, true)
                } else {
                    (sport, dport, true)
                }
            }
            L4::Icmp { ty, code, .. } => (u16::from(ty), u16::from(code), true),
            _ => (0, 0, false),
        };
        let mut f = Flow {
            key,
            stream,
            orig_lo,
            first_frame: number,
            first_ns: ts,
            last_ns: ts,
            sport,
            dport,
            has_ports: has_ports
                && matches!(key.proto, TCP | UDP | ICMP | ICMPV6 | crate::key::SCTP),
            orig: Side::default(),
            resp: Side::default(),
            history: String::new(),
            class: class_of(key.proto),
            prev: NIL,
            next: NIL,
        };
        if key.proto == TCP {
            let cfg = StreamConfig {
                store: false,
                ..StreamConfig::default()
            };
            f.orig.stream = Some(Box::new(Stream::new(cfg)));
            f.resp.stream = Some(Box::new(Stream::new(cfg)));
        }
        if flip {
            f.history.push('^');
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(f);
                i
            }
            None => {
                self.slots.push(Some(f));
                u32::try_from(self.slots.len() - 1).unwrap_or(NIL)
            }
        };
        self.map.insert(key, i);
        self.live_first.insert(number);
        self.stats.flows += 1;
        self.stats.max_concurrent = self.stats.max_concurrent.max(self.map.len() as u64);
        // Linked by the caller (unlink + push_back).
        if let Some(f) = self.slots[i as usize].as_mut() {
            let class = f.class;
            f.prev = self.tail[class];
            f.next = NIL;
        }
        let t = self.tail[class_of(key.proto)];
        if t == NIL {
            self.head[class_of(key.proto)] = i;
        } else if let Some(prev) = self.slots[t as usize].as_mut() {
            prev.next = i;
        }
        self.tail[class_of(key.proto)] = i;
        i
    }
}

/// A pure SYN that opens a new connection on the same ports: its sequence
/// number differs from the SYN that opened this flow in the same direction
/// (or this direction's first SYN comes after the flow was closed or reset).
fn port_reuse(f: &Flow, fwd: bool, seq: u32, flags: u8) -> bool {
    if flags & (SYN | ACK) != SYN {
        return false;
    }
    let from_orig = fwd == f.orig_lo;
    let side = if from_orig { &f.orig } else { &f.resp };
    match side.syn_seq {
        Some(s) => s != seq,
        None => {
            let closed = |e: Ep| matches!(e, Ep::Closed | Ep::Reset);
            closed(f.orig.ep) || closed(f.resp.ep)
        }
    }
}

/// Zeek's `CheckHistory`: add the letter the first time; true if seen before.
fn check(h: &mut String, upper: bool, me: &mut Side, mask: u16, c: char) -> bool {
    if me.hist_mask & mask == 0 {
        me.hist_mask |= mask;
        push_hist(h, c, upper);
        false
    } else {
        true
    }
}

fn push_hist(h: &mut String, c: char, upper: bool) {
    if h.len() < MAX_HISTORY {
        h.push(if upper { c } else { c.to_ascii_lowercase() });
    }
}

fn tcp_update(
    f: &mut Flow,
    from_orig: bool,
    seq: u32,
    flags: u8,
    window: u16,
    payload_len: u32,
    captured: usize,
) {
    let syn = flags & SYN != 0;
    let fin = flags & FIN != 0;
    let rst = flags & RST != 0;
    let ack = flags & ACK != 0;
    let len = payload_len;
    let (me, peer) = if from_orig {
        (&mut f.orig, &mut f.resp)
    } else {
        (&mut f.resp, &mut f.orig)
    };
    let h = &mut f.history;
    let upper = from_orig;
    if syn && flags & ACK == 0 && me.syn_seq.is_none() {
        me.syn_seq = Some(seq);
    }
    // History letters (Zeek's update_history).
    let bits = u8::from(syn) + u8::from(fin) + u8::from(rst);
    if bits > 1 {
        if fin && rst {
            check(h, upper, me, H_CORRUPT, 'I');
        } else {
            check(h, upper, me, H_MULTI, 'Q');
        }
    } else if bits == 1 {
        if syn {
            let c = if ack { 'H' } else { 'S' };
            if check(h, upper, me, H_SYN, c) && me.last_syn != Some(seq) {
                push_hist(h, c, upper);
            }
            me.last_syn = Some(seq);
        }
        if fin {
            let end = seq.wrapping_add(len);
            if check(h, upper, me, H_FIN, 'F') && me.last_fin != Some(end) {
                push_hist(h, 'F', upper);
            }
            me.last_fin = Some(end);
        }
        if rst {
            if check(h, upper, me, H_RST, 'R') && me.last_rst != Some(seq) {
                push_hist(h, 'R', upper);
            }
            me.last_rst = Some(seq);
        }
    } else if len > 0 {
        check(h, upper, me, H_DATA, 'D');
    } else if ack {
        check(h, upper, me, H_ACK, 'A');
    }
    if window == 0 && !syn && !fin && !rst && me.w.hit() {
        push_hist(h, 'W', upper);
    }
    // Sequence analysis on this direction's stream (tracking only).
    if let Some(st) = me.stream.as_mut() {
        let mut gaps = 0u64;
        let class = st.segment(
            seq,
            flags,
            &[],
            len.max(u32::try_from(captured).unwrap_or(0)),
            &mut |e| {
                if let Event::Gap(_) = e {
                    gaps += 1;
                }
            },
        );
        // Tracking only: every payload byte counts as "uncaptured"; gaps
        // from that are not content gaps, so only window overflows count.
        let _ = gaps;
        match class {
            Class::Retransmission => {
                me.stats.retransmissions += 1;
                if me.t.hit() {
                    push_hist(h, 'T', upper);
                }
            }
            Class::OutOfOrder => me.stats.out_of_order += 1,
            Class::AfterGap => me.stats.lost_segments += 1,
            _ => {}
        }
    }
    // Zeek's endpoint state machine.
    match me.ep {
        Ep::Inactive => {
            if syn {
                if from_orig {
                    me.ep = if ack { Ep::SynAckSent } else { Ep::SynSent };
                } else if ack {
                    if peer.ep == Ep::SynSent {
                        peer.ep = Ep::Established;
                    }
                    me.ep = Ep::Established;
                } else {
                    me.ep = Ep::SynAckSent;
                    if peer.ep != Ep::Inactive {
                        peer.ep = Ep::Established;
                    }
                }
            }
            if fin {
                me.ep = Ep::Closed;
            }
            if rst {
                me.ep = Ep::Reset;
            } else if me.ep == Ep::Inactive {
                me.ep = Ep::Partial;
            }
        }
        Ep::SynSent | Ep::SynAckSent => {
            if fin {
                me.ep = Ep::Closed;
            }
            if rst {
                me.ep = Ep::Reset;
            } else if ack && !syn && me.ep == Ep::SynAckSent && peer.ep != Ep::Inactive {
                me.ep = Ep::Established;
            }
        }
        Ep::Partial | Ep::Established => {
            if syn && me.ep == Ep::Partial && peer.ep == Ep::Inactive && !ack {
                me.ep = Ep::SynSent;
            }
            if fin && !rst {
                me.ep = Ep::Closed;
            }
            if rst {
                me.ep = Ep::Reset;
            }
        }
        Ep::Closed => {
            if rst {
                me.ep = Ep::Reset;
            }
        }
        Ep::Reset => {}
    }
}

/// Zeek's `conn_state()` from the two endpoint states.
fn conn_state(f: &Flow, history: &str) -> ConnState {
    if f.key.proto == UDP {
        let o = f.orig.hist_mask & H_DATA != 0 || f.orig.stats.packets > 0;
        let r = f.resp.stats.packets > 0;
        return match (o, r) {
            (true, true) => ConnState::SF,
            (true, false) => ConnState::S0,
            (false, true) => ConnState::SHR,
            (false, false) => ConnState::OTH,
        };
    }
    if f.key.proto != TCP {
        return ConnState::OTH;
    }
    let (os, rs) = (f.orig.ep, f.resp.ep);
    let inactive = |e: Ep| matches!(e, Ep::Inactive | Ep::Partial);
    let (o_inactive, r_inactive) = (inactive(os), inactive(rs));
    if rs == Ep::Reset {
        if matches!(os, Ep::SynSent | Ep::SynAckSent)
            || (os == Ep::Reset
                && f.orig.stats.payload_bytes == 0
                && f.resp.stats.payload_bytes == 0)
        {
            ConnState::REJ
        } else if o_inactive {
            ConnState::RSTRH
        } else {
            ConnState::RSTR
        }
    } else if os == Ep::Reset {
        if r_inactive {
            if rstos0_history(history) {
                ConnState::RSTOS0
            } else {
                ConnState::OTH
            }
        } else {
            ConnState::RSTO
        }
    } else if rs == Ep::Closed && os == Ep::Closed {
        ConnState::SF
    } else if os == Ep::Closed {
        if r_inactive {
            ConnState::SH
        } else {
            ConnState::S2
        }
    } else if rs == Ep::Closed {
        if o_inactive {
            ConnState::SHR
        } else {
            ConnState::S3
        }
    } else if os == Ep::SynSent && rs == Ep::Inactive {
        ConnState::S0
    } else if os == Ep::Established && rs == Ep::Established {
        ConnState::S1
    } else {
        ConnState::OTH
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/`: a SYN, then an originator RST before any
/// handshake, ACK, FIN, gap, inconsistency or multi-flag packet.
fn rstos0_history(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}
