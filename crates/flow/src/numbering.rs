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
//! Like tshark, this remembers every conversation key of the file (about 60
//! bytes each): it is a per-file pass, not bounded by concurrent flows.

use std::collections::HashMap;

use crate::community_id::{CommunityId, Tuple};
use crate::key::{Addr, Endpoint, ICMP, ICMPV6, SCTP, TCP, UDP};
use crate::packet::tcp_flags::{ACK, SYN};
use crate::packet::{L4, PacketInfo};
use crate::reassembly::Assembler;

#[derive(Clone, Copy, Debug)]
struct TcpConv {
    stream: u32,
    /// Base sequence number per direction (0: lo → hi, 1: hi → lo).
    base: [Option<u32>; 2],
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
#[derive(Default)]
pub struct StreamNumbering {
    tcp: HashMap<(Endpoint, Endpoint), TcpConv>,
    udp: HashMap<(Endpoint, Endpoint), u32>,
    next_tcp: u32,
    next_udp: u32,
    frags: HashMap<(Addr, Addr, u8, u32), Pending>,
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
}

impl StreamNumbering {
    pub fn new() -> StreamNumbering {
        StreamNumbering::default()
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

    /// [`StreamNumbering::packet`] when IP defragmentation was done by the
    /// caller (a [`crate::defrag::Defragmenter`] over the same packets):
    /// `l4` is [`crate::defrag::Verdict`]'s transport layer — the packet's
    /// own for `AsIs`, [`L4::Fragment`] for `Held`, the first fragment's for
    /// `Complete`.
    pub fn packet_defragmented(&mut self, p: &PacketInfo, l4: L4) -> PacketStreams {
        let mut out = PacketStreams::default();
        let (Some(src), Some(dst)) = (p.src, p.dst) else {
            return out;
        };
        out.l4 = l4;
        self.layer(src, dst, p.proto, l4, p.frag.is_some(), &mut out);
        if let Some(q) = p.quoted {
            self.layer(q.src, q.dst, q.proto, q.l4, true, &mut out);
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
    fn layer(
        &mut self,
        src: Addr,
        dst: Addr,
        proto: u8,
        l4: L4,
        no_base: bool,
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
                    ..
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
                let next = &mut self.next_tcp;
                let conv = self.tcp.entry(key).or_insert_with(|| {
                    *next += 1;
                    TcpConv {
                        stream: *next - 1,
                        base: [None; 2],
                    }
                });
                if flags & (SYN | ACK) == SYN && conv.base[dir].is_some_and(|b| b != seq) {
                    *next += 1;
                    *conv = TcpConv {
                        stream: *next - 1,
                        base: [None; 2],
                    };
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
                let next = &mut self.next_udp;
                let id = *self.udp.entry(key).or_insert_with(|| {
                    *next += 1;
                    *next - 1
                });
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
