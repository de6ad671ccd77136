//! tshark's conversation numbering for packet tables: `tcp.stream` and
//! `udp.stream` in order of first appearance, exactly as tshark assigns them,
//! and the packet's Community ID.
//!
//! tshark's rules (epan/dissectors/packet-tcp.c, `dissect_tcp` and
//! `tcp_analyze_sequence_number`): a conversation is an address/port pair
//! (no VLAN, no timeout); a pure SYN whose sequence number differs from the
//! base sequence number of its direction starts a new conversation (port
//! reuse). A direction's base sequence number is set by its first segment
//! (the SYN's sequence number, else the segment's minus one) or, before
//! that, from the other direction's first ACK (acknowledgement minus one);
//! segments in IP fragments set nothing. UDP conversations never split.
//!
//! IP fragments follow tshark's defragmentation: a fragment that does not
//! complete its datagram has no transport layer (no stream, a port-less
//! Community ID); the one that completes it carries the first fragment's
//! transport header.
//!
//! With [`StreamNumbering::analyzing`], TCP segments also go through
//! tshark's sequence analysis ([`crate::analysis`]): the `tcp.analysis.*`
//! flags, on the same conversations (a conversation started again by port
//! reuse starts its analysis again, as tshark's new conversation does).
//!
//! # Memory
//! tshark remembers every conversation of the file. This remembers at most
//! [`MAX_CONVERSATIONS`] TCP and as many UDP conversations (the bound can be
//! set with [`StreamNumbering::with_bound`]): beyond it, the conversation
//! seen least recently is forgotten (counted in
//! [`NumberingStats::forgotten`]). Numbers are exactly tshark's as long as no
//! forgotten conversation sends again; one that does gets the next free
//! number (tshark would give its old one), and every later new conversation
//! is then one further than tshark's (counted in
//! [`NumberingStats::renumbered`] when the key is recognised by a small
//! fixed-size filter of forgotten keys). About 250 bytes per TCP and 110
//! per UDP conversation: some 100 MiB at the default bound, whatever the
//! file's size.

use crate::analysis::{self, Pool};
use crate::community_id::{CommunityId, Tuple};
use crate::fasthash::{self, FastMap};
use crate::key::{Addr, Endpoint, ICMP, ICMPV6, SCTP, TCP, UDP};
use crate::packet::tcp_flags::{ACK, SYN};
use crate::packet::{L4, PacketInfo};
use crate::reassembly::Assembler;

/// Conversations remembered per transport (TCP, UDP) by default.
pub const MAX_CONVERSATIONS: usize = 262_144;

#[derive(Clone, Copy, Debug, Default)]
struct TcpConv {
    stream: u32,
    /// Base sequence number per direction (0: lo → hi, 1: hi → lo).
    base: [Option<u32>; 2],
    analysis: analysis::Conversation,
}

type Key = (Endpoint, Endpoint);

const NIL: u32 = u32::MAX;

struct Slot<V> {
    key: Key,
    val: V,
}

/// A slot's neighbours in recency order (kept apart from the slots: moving
/// a conversation to the back, done for every packet, touches three small
/// entries instead of three large slots).
#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

/// A map of conversations with a bound: the least recently used one is
/// forgotten to make room (an intrusive list over a slab, O(1) per packet).
struct Lru<V> {
    map: FastMap<Key, u32>,
    slots: Vec<Slot<V>>,
    links: Vec<Link>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    cap: usize,
    /// Bits of hashes of forgotten keys (a Bloom filter with one hash).
    gone: Vec<u64>,
    evicted: u64,
}

/// Bits in the filter of forgotten keys (128 KiB).
const GONE_BITS: usize = 1 << 20;

impl<V> Lru<V> {
    fn new(cap: usize) -> Lru<V> {
        Lru {
            map: fasthash::map(),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            cap: cap.max(1),
            gone: Vec::new(),
            evicted: 0,
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = self.links[i as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
    }

    fn push_back(&mut self, i: u32) {
        let t = self.tail;
        {
            self.links[i as usize] = Link { prev: t, next: NIL };
        }
        if t == NIL {
            self.head = i;
        } else {
            self.links[t as usize].next = i;
        }
        self.tail = i;
    }

    fn gone_bit(&self, key: &Key) -> usize {
        let h = self.map.hasher().hash_one(key);
        usize::try_from(h & (GONE_BITS as u64 - 1)).unwrap_or(0)
    }

    /// The conversation of `key`, made most recently used, or `None`.
    fn get(&mut self, key: &Key) -> Option<u32> {
        let i = *self.map.get(key)?;
        if self.tail != i {
            self.unlink(i);
            self.push_back(i);
        }
        Some(i)
    }

    /// Insert a new conversation (the key is not present). Returns its slot
    /// and whether the key had been forgotten before (as far as the filter
    /// tells); `evict` sees the value of a conversation forgotten for room.
    fn insert(&mut self, key: Key, val: V, evict: &mut impl FnMut(&mut V)) -> (u32, bool) {
        if self.map.len() >= self.cap && self.head != NIL {
            let h = self.head;
            self.unlink(h);
            let old = self.slots[h as usize].key;
            self.map.remove(&old);
            evict(&mut self.slots[h as usize].val);
            if self.gone.is_empty() {
                self.gone = vec![0; GONE_BITS / 64];
            }
            let b = self.gone_bit(&old);
            self.gone[b / 64] |= 1 << (b % 64);
            self.free.push(h);
            self.evicted += 1;
        }
        let returning = !self.gone.is_empty() && {
            let b = self.gone_bit(&key);
            self.gone[b / 64] & (1 << (b % 64)) != 0
        };
        let slot = Slot { key, val };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.links.push(Link {
                    prev: NIL,
                    next: NIL,
                });
                u32::try_from(self.slots.len() - 1).unwrap_or(NIL - 1)
            }
        };
        self.map.insert(key, i);
        self.push_back(i);
        (i, returning)
    }

    fn val(&mut self, i: u32) -> &mut V {
        &mut self.slots[i as usize].val
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// What the numbering forgot to stay within its bound.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberingStats {
    /// Conversations forgotten to make room for new ones.
    pub forgotten: u64,
    /// New conversations whose key had probably been forgotten (a
    /// conversation that came back: tshark would have given it its old
    /// number).
    pub renumbered: u64,
    /// TCP segments the sequence analysis could not remember (its pool of
    /// unacknowledged segments was full).
    pub analysis_dropped: u64,
}

/// A fragmented datagram being put together (what tshark's IP
/// defragmentation decides: the upper layer appears at the fragment that
/// completes the datagram, and no earlier).
#[derive(Clone, Debug, Default)]
struct Pending {
    first: Option<L4>,
    have: Assembler,
    total: Option<u64>,
    first_ts: i64,
}

/// Datagrams pending at most (older than 60 s are dropped first).
const MAX_PENDING: usize = 65_536;
const PENDING_NS: i64 = 60_000_000_000;

/// The per-file numbering state.
pub struct StreamNumbering {
    tcp: Lru<TcpConv>,
    udp: Lru<u32>,
    next_tcp: u32,
    next_udp: u32,
    frags: FastMap<(Addr, Addr, u8, u32), Pending>,
    analyzing: bool,
    pool: Pool,
    stats: NumberingStats,
}

impl Default for StreamNumbering {
    fn default() -> StreamNumbering {
        StreamNumbering::with_bound(MAX_CONVERSATIONS)
    }
}

/// What a packet gets.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketStreams {
    pub tcp_stream: Option<u32>,
    pub udp_stream: Option<u32>,
    /// The transport layer as tshark sees it with IP defragmentation on: a
    /// fragment is [`L4::Fragment`] unless it completes its datagram, which
    /// then carries the first fragment's transport header.
    pub l4: L4,
    /// tshark's sequence analysis flags ([`analysis::flag`]) of the TCP
    /// segment (0 unless [`StreamNumbering::analyzing`] and the segment's
    /// length is known).
    pub tcp_analysis: u16,
}

/// The TCP segment length tshark computes (IP payload length minus the TCP
/// header length), from the transport header's bytes and the IP payload
/// length; `None` when the header's length field is not captured or the
/// payload is shorter than the header (tshark's "short segment").
pub fn tcp_seglen(tcp: &[u8], ip_payload_len: u32) -> Option<u32> {
    let hl = u32::from(tcp.get(12)? >> 4) * 4;
    ip_payload_len.checked_sub(hl)
}

impl StreamNumbering {
    pub fn new() -> StreamNumbering {
        StreamNumbering::default()
    }

    /// A numbering that remembers at most `max` conversations per transport.
    pub fn with_bound(max: usize) -> StreamNumbering {
        StreamNumbering {
            tcp: Lru::new(max),
            udp: Lru::new(max),
            next_tcp: 0,
            next_udp: 0,
            frags: fasthash::map(),
            analyzing: false,
            pool: Pool::default(),
            stats: NumberingStats::default(),
        }
    }

    /// Also run tshark's TCP sequence analysis
    /// ([`PacketStreams::tcp_analysis`]).
    pub fn analyzing(mut self, on: bool) -> StreamNumbering {
        self.analyzing = on;
        self
    }

    /// What was forgotten to stay within the bounds.
    pub fn stats(&self) -> NumberingStats {
        NumberingStats {
            forgotten: self.tcp.evicted + self.udp.evicted,
            analysis_dropped: self.pool.dropped(),
            ..self.stats
        }
    }

    /// Conversations remembered now (TCP, UDP).
    pub fn remembered(&self) -> (usize, usize) {
        (self.tcp.len(), self.udp.len())
    }

    /// Number one packet (call for every packet, in file order). A TCP or
    /// UDP header quoted in an ICMP error is numbered too (tshark looks its
    /// conversation up, creating it if new), without setting sequence bases.
    pub fn packet(&mut self, p: &PacketInfo, ts_ns: i64) -> PacketStreams {
        if p.src.is_none() || p.dst.is_none() {
            return PacketStreams::default();
        }
        let l4 = self.defragment(p, ts_ns);
        self.packet_defragmented(p, l4)
    }

    /// [`StreamNumbering::packet`] with the TCP segment length for the
    /// sequence analysis ([`tcp_seglen`] of an unfragmented packet; a
    /// segment in a fragmented datagram is numbered but not analysed).
    pub fn packet_segment(
        &mut self,
        p: &PacketInfo,
        ts_ns: i64,
        seglen: Option<u32>,
    ) -> PacketStreams {
        if p.src.is_none() || p.dst.is_none() {
            return PacketStreams::default();
        }
        let l4 = self.defragment(p, ts_ns);
        let segment = seglen
            .filter(|_| p.frag.is_none_or(|f| f.offset == 0 && !f.more))
            .map(|l| (l, ts_ns));
        self.packet_analyzed(p, l4, segment)
    }

    /// [`StreamNumbering::packet`] when IP defragmentation was done by the
    /// caller (a [`crate::defrag::Defragmenter`] over the same packets):
    /// `l4` is [`crate::defrag::Verdict`]'s transport layer — the packet's
    /// own for `AsIs`, [`L4::Fragment`] for `Held`, the first fragment's for
    /// `Complete`.
    pub fn packet_defragmented(&mut self, p: &PacketInfo, l4: L4) -> PacketStreams {
        self.packet_analyzed(p, l4, None)
    }

    /// [`StreamNumbering::packet_defragmented`] with what tshark's sequence
    /// analysis needs: `segment` is the TCP segment's length ([`tcp_seglen`],
    /// of the reassembled datagram for one completed by this fragment) and
    /// the packet's time, `None` where tshark does not know the length (a
    /// fragment it did not reassemble).
    pub fn packet_analyzed(
        &mut self,
        p: &PacketInfo,
        l4: L4,
        segment: Option<(u32, i64)>,
    ) -> PacketStreams {
        let mut out = PacketStreams::default();
        let (Some(src), Some(dst)) = (p.src, p.dst) else {
            return out;
        };
        out.l4 = l4;
        let segment = segment.filter(|_| self.analyzing);
        // An atomic fragment (offset 0, no more) is not fragmented for
        // tshark (RFC 6946).
        let fragment = p.frag.is_some_and(|f| f.offset != 0 || f.more);
        self.layer(src, dst, p.proto, l4, fragment, segment, &mut out);
        if let Some(q) = p.quoted {
            self.layer(q.src, q.dst, q.proto, q.l4, true, None, &mut out);
        }
        out
    }

    fn defragment(&mut self, p: &PacketInfo, ts: i64) -> L4 {
        let (Some(fr), Some(src), Some(dst)) = (p.frag, p.src, p.dst) else {
            return p.l4;
        };
        // tshark reassembles only fragments captured whole; a cut one is
        // dissected as it is (the first carries its transport header).
        if !p.ip_payload_captured {
            return p.l4;
        }
        let key = (src, dst, p.proto, fr.id);
        if !self.frags.contains_key(&key) && self.frags.len() >= MAX_PENDING {
            self.frags
                .retain(|_, v| ts.saturating_sub(v.first_ts) <= PENDING_NS);
            if self.frags.len() >= MAX_PENDING {
                return L4::Fragment;
            }
        }
        let st = self.frags.entry(key).or_insert_with(|| Pending {
            first_ts: ts,
            ..Pending::default()
        });
        let start = u64::from(fr.offset);
        let end = start + u64::from(p.ip_payload_len);
        st.have.add(start, end);
        if fr.offset == 0 {
            st.first = Some(p.l4);
        }
        if !fr.more {
            st.total = Some(end);
        }
        let complete = st.total.is_some_and(|t| {
            st.have
                .ranges()
                .first()
                .is_some_and(|&(a, b)| a == 0 && b >= t)
        });
        if complete {
            let l4 = st.first.unwrap_or(L4::Other);
            self.frags.remove(&key);
            l4
        } else {
            L4::Fragment
        }
    }

    /// One transport layer; the first layer that gets a number keeps it in
    /// `out` (tshark's first occurrence).
    #[allow(clippy::too_many_arguments)]
    fn layer(
        &mut self,
        src: Addr,
        dst: Addr,
        proto: u8,
        l4: L4,
        no_base: bool,
        segment: Option<(u32, i64)>,
        out: &mut PacketStreams,
    ) {
        match (proto, l4) {
            (
                TCP,
                L4::Tcp {
                    sport,
                    dport,
                    seq,
                    ack,
                    flags,
                    window,
                },
            ) => {
                let s = Endpoint {
                    addr: src,
                    port: sport,
                };
                let d = Endpoint {
                    addr: dst,
                    port: dport,
                };
                let (key, dir) = if s <= d { ((s, d), 0) } else { ((d, s), 1) };
                let pool = &mut self.pool;
                let i = match self.tcp.get(&key) {
                    Some(i) => i,
                    None => {
                        let conv = TcpConv {
                            stream: self.next_tcp,
                            ..TcpConv::default()
                        };
                        self.next_tcp += 1;
                        let (i, back) = self.tcp.insert(key, conv, &mut |c: &mut TcpConv| {
                            c.analysis.release(pool);
                        });
                        self.stats.renumbered += u64::from(back);
                        i
                    }
                };
                let conv = self.tcp.val(i);
                if flags & (SYN | ACK) == SYN && !no_base && conv.base[dir] == Some(seq) {
                    conv.analysis.syn_again(dir);
                }
                if flags & (SYN | ACK) == SYN && conv.base[dir].is_some_and(|b| b != seq) {
                    conv.analysis.release(pool);
                    *conv = TcpConv {
                        stream: self.next_tcp,
                        ..TcpConv::default()
                    };
                    self.next_tcp += 1;
                }
                if !no_base {
                    if conv.base[dir].is_none() {
                        conv.base[dir] = Some(if flags & SYN != 0 {
                            seq
                        } else {
                            seq.wrapping_sub(1)
                        });
                    }
                    if conv.base[1 - dir].is_none() && flags & ACK != 0 {
                        conv.base[1 - dir] = Some(ack.wrapping_sub(1));
                    }
                }
                if let Some((seglen, ts_ns)) = segment {
                    let rel = |v: u32, b: Option<u32>| v.wrapping_sub(b.unwrap_or(0));
                    let seg = analysis::Segment {
                        seq: rel(seq, conv.base[dir]),
                        ack: if flags & ACK != 0 {
                            rel(ack, conv.base[1 - dir])
                        } else {
                            ack
                        },
                        flags,
                        window,
                        seglen,
                        ts_ns,
                    };
                    out.tcp_analysis = conv.analysis.segment(pool, dir, &seg);
                }
                out.tcp_stream.get_or_insert(conv.stream);
            }
            (UDP, L4::Udp { sport, dport }) => {
                let s = Endpoint {
                    addr: src,
                    port: sport,
                };
                let d = Endpoint {
                    addr: dst,
                    port: dport,
                };
                let key = if s <= d { (s, d) } else { (d, s) };
                let i = match self.udp.get(&key) {
                    Some(i) => i,
                    None => {
                        let (i, back) = self.udp.insert(key, self.next_udp, &mut |_| {});
                        self.next_udp += 1;
                        self.stats.renumbered += u64::from(back);
                        i
                    }
                };
                let id = *self.udp.val(i);
                out.udp_stream.get_or_insert(id);
            }
            _ => {}
        }
    }
}

/// The Community ID of one packet whose transport layer is `l4` (from
/// [`PacketStreams::l4`]); false without an IP header or for a transport
/// header cut short. An IPv4 fragment that does not complete its datagram is
/// hashed without ports and an IPv6 one gets none, as in tshark.
pub fn packet_community_id(cid: &CommunityId, p: &PacketInfo, l4: L4, out: &mut String) -> bool {
    let (Some(src), Some(dst)) = (p.src, p.dst) else {
        return false;
    };
    let (sport, dport) = match l4 {
        L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } | L4::Sctp { sport, dport } => {
            (sport, dport)
        }
        L4::Icmp { ty, code, .. } => (u16::from(ty), u16::from(code)),
        // tshark (4.0) gives an IPv6 fragment no Community ID at all.
        L4::Fragment if src.v6 => return false,
        L4::Fragment => {
            cid.write_without_ports(src.as_slice(), dst.as_slice(), p.proto, out);
            return true;
        }
        // A transport header cut short: its ports are unknown.
        L4::Other if matches!(p.proto, TCP | UDP | SCTP | ICMP | ICMPV6) => return false,
        L4::Other => (0, 0),
    };
    cid.write(
        &Tuple {
            src: src.as_slice(),
            dst: dst.as_slice(),
            proto: p.proto,
            sport,
            dport,
        },
        out,
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(sport: u16) -> PacketInfo {
        PacketInfo {
            src: Some(Addr::v4([10, 0, 0, 1])),
            dst: Some(Addr::v4([10, 0, 0, 2])),
            proto: UDP,
            l4: L4::Udp { sport, dport: 53 },
            ..PacketInfo::default()
        }
    }

    #[test]
    fn the_bound_forgets_the_least_recently_seen_and_counts_returns() {
        let mut n = StreamNumbering::with_bound(2);
        let id = |n: &mut StreamNumbering, port| n.packet(&udp(port), 0).udp_stream;
        assert_eq!(id(&mut n, 1), Some(0));
        assert_eq!(id(&mut n, 2), Some(1));
        // Seen again: most recently used, so 2 is the one forgotten next.
        assert_eq!(id(&mut n, 1), Some(0));
        assert_eq!(id(&mut n, 3), Some(2));
        assert_eq!(n.remembered().1, 2);
        assert_eq!(n.stats().forgotten, 1);
        // 1 is still remembered; 2 comes back with a new number.
        assert_eq!(id(&mut n, 1), Some(0));
        assert_eq!(id(&mut n, 2), Some(3));
        let st = n.stats();
        assert_eq!((st.forgotten, st.renumbered), (2, 1));
    }

    #[test]
    fn within_the_bound_numbers_are_never_forgotten() {
        let mut n = StreamNumbering::with_bound(1000);
        for round in 0..3 {
            for port in 0..1000u16 {
                assert_eq!(
                    n.packet(&udp(port), round).udp_stream,
                    Some(u32::from(port))
                );
            }
        }
        assert_eq!(n.stats(), NumberingStats::default());
    }
}
