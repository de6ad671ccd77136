//! The cheap header parse: from a captured frame to the few fields flows need
//! (addresses, protocol, ports or ICMP type, TCP sequence numbers and flags,
//! payload lengths, VLAN id, fragment identity), without the engine.
//!
//! This runs once per packet, in stream order, before the numbering and
//! the flow tables (the flow-sharded path hands its result to the worker
//! that owns the flow), so it decodes only what it must. It never
//! panics and never reads outside `data`: a header cut short ends the parse
//! with what was found so far.

use std::ops::Range;

use crate::key::{Addr, ICMP, ICMPV6, SCTP, TCP, UDP};

/// TCP flag bits (the low byte of the flags field).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// The transport layer, as far as it was captured.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    Sctp {
        sport: u16,
        dport: u16,
    },
    Icmp {
        ty: u8,
        code: u8,
        /// The identifier of query/response messages (echo, timestamp, …).
        id: Option<u16>,
    },
    /// A non-first IP fragment: no transport header in this packet.
    Fragment,
    /// Another protocol, or a transport header cut short.
    #[default]
    Other,
}

/// The fragment header of an IPv4 or IPv6 fragment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Frag {
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    pub more: bool,
}

/// What the cheap parse found in one frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    /// The outermost 802.1Q/802.1ad VLAN id.
    pub vlan: Option<u16>,
    pub src: Option<Addr>,
    pub dst: Option<Addr>,
    /// IP protocol of the transport (after IPv6 extension headers).
    pub proto: u8,
    pub frag: Option<Frag>,
    pub l4: L4,
    /// The transport payload's bytes within the captured frame (may be cut
    /// short by the snaplen; empty when absent).
    pub payload: Range<usize>,
    /// The transport payload's length according to the headers (what was
    /// sent, not what was captured). For protocols without a known transport
    /// header it is the IP payload length.
    pub payload_len: u32,
    /// The IP payload length according to the IP header (for a fragment:
    /// this fragment's share of the datagram).
    pub ip_payload_len: u32,
    /// Was the whole IP payload captured (not cut by the snaplen)?
    pub ip_payload_captured: bool,
    /// The IP payload's captured bytes within the frame: after the IP header
    /// and its extension headers (for an IPv6 fragment, after the fragment
    /// header), at most the declared length.
    pub ip_payload: Range<usize>,
    /// For an ICMP/ICMPv6 error: the quoted datagram's addresses, protocol
    /// and transport header as far as it was quoted (a TCP header needs its
    /// first 16 bytes, through the window).
    pub quoted: Option<Quoted>,
}

/// The offending datagram quoted in an ICMP error.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Quoted {
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    pub l4: L4,
}

impl PacketInfo {
    pub fn is_ip(&self) -> bool {
        self.src.is_some()
    }
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b: [u8; 2] = d.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}
#[inline]
fn be32(d: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = d.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Link types this parse understands (the same as the engine's built-ins):
/// Ethernet (1), BSD null/loopback (0, 108), raw IP (12, 14, 101), Linux SLL
/// (113), SLL2 (276), raw IPv4 (228), raw IPv6 (229).
pub fn parse(linktype: u32, data: &[u8]) -> PacketInfo {
    let mut p = PacketInfo::default();
    let _ = parse_link(linktype, data, &mut p);
    p
}

fn parse_link(linktype: u32, d: &[u8], p: &mut PacketInfo) -> Option<()> {
    match linktype {
        1 => {
            let et = be16(d, 12)?;
            ethertype(et, d, 14, p)
        }
        0 | 108 => {
            let fam = [*d.first()?, *d.get(1)?, *d.get(2)?, *d.get(3)?];
            let f = if linktype == 108 {
                u32::from_be_bytes(fam)
            } else {
                // Host byte order of the capturing machine: accept either.
                let le = u32::from_le_bytes(fam);
                if le < 0x100 {
                    le
                } else {
                    u32::from_be_bytes(fam)
                }
            };
            match f {
                2 => ipv4(d, 4, p),
                24 | 28 | 30 => ipv6(d, 4, p),
                _ => None,
            }
        }
        12 | 14 | 101 => match d.first()? >> 4 {
            4 => ipv4(d, 0, p),
            6 => ipv6(d, 0, p),
            _ => None,
        },
        113 => ethertype(be16(d, 14)?, d, 16, p),
        276 => ethertype(be16(d, 0)?, d, 20, p),
        228 => ipv4(d, 0, p),
        229 => ipv6(d, 0, p),
        _ => None,
    }
}

fn ethertype(mut et: u16, d: &[u8], mut off: usize, p: &mut PacketInfo) -> Option<()> {
    // Stacked VLAN tags (802.1Q, 802.1ad, the old 0x9100): at most a few.
    for _ in 0..8 {
        match et {
            0x8100 | 0x88a8 | 0x9100 => {
                let tci = be16(d, off)?;
                if p.vlan.is_none() {
                    p.vlan = Some(tci & 0x0fff);
                }
                et = be16(d, off + 2)?;
                off += 4;
            }
            _ => break,
        }
    }
    match et {
        0x0800 => ipv4(d, off, p),
        0x86dd => ipv6(d, off, p),
        // 802.3 length with LLC/SNAP carrying an ethertype.
        n if n <= 1500 => {
            if d.get(off..off + 3)? == [0xaa, 0xaa, 0x03] {
                let et = be16(d, off + 6)?;
                match et {
                    0x0800 => ipv4(d, off + 8, p),
                    0x86dd => ipv6(d, off + 8, p),
                    _ => None,
                }
            } else {
                None
            }
        }
        _ => None,
    }
}

fn ipv4(d: &[u8], off: usize, p: &mut PacketInfo) -> Option<()> {
    // The fixed header in one bounds check (every field below is needed
    // before anything is recorded).
    let h: &[u8; 20] = d.get(off..off.checked_add(20)?)?.try_into().ok()?;
    let vihl = h[0];
    if vihl >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let id = u16::from_be_bytes([h[4], h[5]]);
    let fl = u16::from_be_bytes([h[6], h[7]]);
    let proto = h[9];
    let src = [h[12], h[13], h[14], h[15]];
    let dst = [h[16], h[17], h[18], h[19]];
    if ihl < 20 {
        return None;
    }
    p.src = Some(Addr::v4(src));
    p.dst = Some(Addr::v4(dst));
    p.proto = proto;
    // A total length of 0 is TSO-style "unknown": use what was captured.
    let avail = d.len().saturating_sub(off);
    let total = if total == 0 { avail } else { total };
    let ip_payload = total.saturating_sub(ihl);
    let end = off + total.min(avail).max(ihl.min(avail));
    let more = fl & 0x2000 != 0;
    let frag_off = u32::from(fl & 0x1fff) * 8;
    if more || frag_off > 0 {
        p.frag = Some(Frag {
            id: u32::from(id),
            offset: frag_off,
            more,
        });
    }
    let start = (off + ihl).min(end);
    transport(d, start..end, ip_payload, p)
}

fn ipv6(d: &[u8], off: usize, p: &mut PacketInfo) -> Option<()> {
    if d.get(off)? >> 4 != 6 {
        return None;
    }
    let plen = usize::from(be16(d, off + 4)?);
    let mut nh = *d.get(off + 6)?;
    let src: [u8; 16] = d.get(off + 8..off + 24)?.try_into().ok()?;
    let dst: [u8; 16] = d.get(off + 24..off + 40)?.try_into().ok()?;
    p.src = Some(Addr::v6(src));
    p.dst = Some(Addr::v6(dst));
    p.proto = nh;
    let avail = d.len().saturating_sub(off + 40);
    // A payload length of 0 (jumbogram or TSO): use what was captured.
    let plen = if plen == 0 { avail } else { plen };
    let end = off + 40 + plen.min(avail);
    let mut at = off + 40;
    let mut left = plen;
    for _ in 0..16 {
        match nh {
            0 | 43 | 60 => {
                let next = *d.get(at)?;
                let len = (usize::from(*d.get(at + 1)?) + 1) * 8;
                nh = next;
                at += len;
                left = left.saturating_sub(len);
            }
            51 => {
                let next = *d.get(at)?;
                let len = (usize::from(*d.get(at + 1)?) + 2) * 4;
                nh = next;
                at += len;
                left = left.saturating_sub(len);
            }
            44 => {
                let next = *d.get(at)?;
                let fo = be16(d, at + 2)?;
                let id = be32(d, at + 4)?;
                let frag_off = u32::from(fo >> 3) * 8;
                let more = fo & 1 != 0;
                p.frag = Some(Frag {
                    id,
                    offset: frag_off,
                    more,
                });
                nh = next;
                at += 8;
                left = left.saturating_sub(8);
            }
            _ => break,
        }
        p.proto = nh;
    }
    let start = at.min(end);
    transport(d, start..end, left, p)
}

fn transport(d: &[u8], r: Range<usize>, ip_payload: usize, p: &mut PacketInfo) -> Option<()> {
    let ip_payload32 = u32::try_from(ip_payload).unwrap_or(u32::MAX);
    p.ip_payload_len = ip_payload32;
    p.ip_payload_captured = r.len() >= ip_payload;
    p.ip_payload = r.clone();
    if p.frag.is_some_and(|f| f.offset > 0) {
        p.l4 = L4::Fragment;
        p.payload = r;
        p.payload_len = ip_payload32;
        return Some(());
    }
    let seg = d.get(r.clone())?;
    // By default the payload is the whole IP payload (other protocols).
    p.payload = r.clone();
    p.payload_len = ip_payload32;
    match p.proto {
        TCP => {
            // Through the window, in one bounds check.
            let h: &[u8; 16] = seg.get(..16)?.try_into().ok()?;
            let sport = u16::from_be_bytes([h[0], h[1]]);
            let dport = u16::from_be_bytes([h[2], h[3]]);
            let seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            let ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            let doff = usize::from(h[12] >> 4) * 4;
            let flags = h[13];
            let window = u16::from_be_bytes([h[14], h[15]]);
            p.l4 = L4::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
            };
            let hl = doff.max(20);
            p.payload = (r.start + hl).min(r.end)..r.end;
            p.payload_len = u32::try_from(ip_payload.saturating_sub(hl)).unwrap_or(u32::MAX);
        }
        UDP => {
            let sport = be16(seg, 0)?;
            let dport = be16(seg, 2)?;
            let ulen = usize::from(be16(seg, 4)?);
            p.l4 = L4::Udp { sport, dport };
            // The UDP length, unless it lies beyond the IP payload.
            let len = if ulen >= 8 && ulen <= ip_payload {
                ulen - 8
            } else {
                ip_payload.saturating_sub(8)
            };
            p.payload = (r.start + 8).min(r.end)..(r.start + 8 + len).min(r.end);
            p.payload_len = u32::try_from(len).unwrap_or(u32::MAX);
        }
        SCTP => {
            p.l4 = L4::Sctp {
                sport: be16(seg, 0)?,
                dport: be16(seg, 2)?,
            };
            p.payload = (r.start + 12).min(r.end)..r.end;
            p.payload_len = u32::try_from(ip_payload.saturating_sub(12)).unwrap_or(u32::MAX);
        }
        ICMP | ICMPV6 => {
            let ty = *seg.first()?;
            let code = *seg.get(1)?;
            let query = if p.proto == ICMP {
                matches!(ty, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
            } else {
                matches!(ty, 128 | 129)
            };
            let id = if query { be16(seg, 4) } else { None };
            p.l4 = L4::Icmp { ty, code, id };
            let error = if p.proto == ICMP {
                matches!(ty, 3 | 4 | 5 | 11 | 12)
            } else {
                matches!(ty, 1..=4)
            };
            if error && let Some(inner) = seg.get(8..) {
                p.quoted = quoted(inner);
            }
            let hl = if p.proto == ICMP { 8 } else { 4 };
            p.payload = (r.start + hl).min(r.end)..r.end;
            p.payload_len = u32::try_from(ip_payload.saturating_sub(hl)).unwrap_or(u32::MAX);
        }
        _ => {}
    }
    Some(())
}

/// Parse the datagram quoted in an ICMP error (no further quoting).
fn quoted(d: &[u8]) -> Option<Quoted> {
    let mut q = PacketInfo::default();
    match d.first()? >> 4 {
        4 => {
            let _ = ipv4(d, 0, &mut q);
        }
        6 => {
            let _ = ipv6(d, 0, &mut q);
        }
        _ => return None,
    }
    // A TCP header quoted without its flags and window (the usual 8 bytes
    // of ICMPv4) parses as `Other`: tshark too stops before its
    // conversation lookup.
    Some(Quoted {
        src: q.src?,
        dst: q.dst?,
        proto: q.proto,
        l4: q.l4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        f[12] = 0x81;
        f[13] = 0x00;
        f.extend_from_slice(&[0x00, 0x2a, 0x08, 0x00]); // VLAN 42, IPv4
        let total = 20 + 20 + payload.len();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        ip[2..4].copy_from_slice(&u16::try_from(total).unwrap().to_be_bytes());
        f.extend_from_slice(&ip);
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[4..8].copy_from_slice(&1000u32.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = tcp_flags::SYN;
        f.extend_from_slice(&tcp);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn vlan_ipv4_tcp() {
        let f = eth_ipv4_tcp(b"hello");
        let p = parse(1, &f);
        assert_eq!(p.vlan, Some(42));
        assert_eq!(p.proto, TCP);
        assert_eq!(p.src, Some(Addr::v4([10, 0, 0, 1])));
        assert_eq!(p.payload_len, 5);
        assert_eq!(&f[p.payload.clone()], b"hello");
        assert!(matches!(
            p.l4,
            L4::Tcp {
                sport: 1234,
                dport: 80,
                seq: 1000,
                flags: tcp_flags::SYN,
                ..
            }
        ));
    }

    #[test]
    fn truncation_never_panics() {
        let f = eth_ipv4_tcp(b"hello world");
        for n in 0..f.len() {
            for lt in [0, 1, 12, 101, 108, 113, 228, 229, 276] {
                let _ = parse(lt, &f[..n]);
            }
        }
    }
}
