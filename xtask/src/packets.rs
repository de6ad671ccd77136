//! Frame builders shared by the fixture generator and the benchmark-data generator.
//!
//! Every builder returns the bytes of one layer including everything below it
//! (`tcp` returns header + payload, `ipv4` wraps a transport segment, `ether`
//! wraps a network packet). Headers are filled through `pnet_packet`'s
//! `Mutable*Packet` views and checksums come from its checksum functions, so a
//! fixture is correct unless it deliberately says otherwise.
//!
//! The builders only run on data this crate chose itself; a size that does not
//! fit a header field is a bug in the fixture table and panics with a message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::arp::{ArpHardwareType, ArpOperation, MutableArpPacket};
use pnet_packet::ethernet::{EtherType, MutableEthernetPacket};
use pnet_packet::icmp::MutableIcmpPacket;
use pnet_packet::icmpv6::MutableIcmpv6Packet;
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::MutableIpv4Packet;
use pnet_packet::ipv6::MutableIpv6Packet;
use pnet_packet::sll::MutableSLLPacket;
use pnet_packet::tcp::{MutableTcpPacket, TcpOption, TcpOptionNumber};
use pnet_packet::udp::MutableUdpPacket;
use pnet_packet::vlan::{ClassOfService, MutableVlanPacket};

/// A 48-bit MAC address as bytes.
pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];

/// EtherType values used by the fixtures.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
    pub const QINQ: u16 = 0x88a8;
}

/// IP protocol numbers used by the fixtures.
pub mod proto {
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IGMP: u8 = 2;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const DSTOPTS: u8 = 60;
}

/// TCP flag bits (the low byte of the flags field).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Ethernet minimum frame length without the FCS.
pub const ETHER_MIN: usize = 60;

fn len_u16(n: usize, what: &str) -> u16 {
    u16::try_from(n).unwrap_or_else(|_| panic!("{what} length {n} does not fit 16 bits"))
}

fn len_u8(n: usize, what: &str) -> u8 {
    u8::try_from(n).unwrap_or_else(|_| panic!("{what} length {n} does not fit 8 bits"))
}

fn view<P>(made: Option<P>, what: &str) -> P {
    made.unwrap_or_else(|| panic!("buffer too small for a {what} header"))
}

// ---------------------------------------------------------------------------
// Transport layer

/// One TCP option: pnet's `TcpOption` constructors plus the kinds pnet lacks.
pub fn tcp_opt_eol() -> TcpOption {
    TcpOption {
        number: TcpOptionNumber(0),
        length: vec![],
        data: vec![],
    }
}

/// An option of any kind with a length byte (`kind`, `2 + data.len()`, `data`).
pub fn tcp_opt_raw(kind: u8, data: &[u8]) -> TcpOption {
    TcpOption {
        number: TcpOptionNumber(kind),
        length: vec![len_u8(data.len() + 2, "TCP option")],
        data: data.to_vec(),
    }
}

fn tcp_opt_len(o: &TcpOption) -> usize {
    match o.length.first() {
        Some(&l) => usize::from(l),
        None => 1,
    }
}

/// The usual Linux SYN option list: MSS, SACK permitted, timestamps, NOP, window scale.
pub fn linux_syn_options(mss: u16, tsval: u32, tsecr: u32, wscale: u8) -> Vec<TcpOption> {
    vec![
        TcpOption::mss(mss),
        TcpOption::sack_perm(),
        TcpOption::timestamp(tsval, tsecr),
        TcpOption::nop(),
        TcpOption::wscale(wscale),
    ]
}

/// NOP, NOP, timestamps: the option list of an established Linux connection.
pub fn ts_options(tsval: u32, tsecr: u32) -> Vec<TcpOption> {
    vec![
        TcpOption::nop(),
        TcpOption::nop(),
        TcpOption::timestamp(tsval, tsecr),
    ]
}

/// The fields of one TCP segment.
#[derive(Clone, Debug, Default)]
pub struct Tcp<'a> {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub urgent: u16,
    pub options: &'a [TcpOption],
    pub payload: &'a [u8],
}

/// A TCP segment (header, options padded with EOL to a multiple of 4, payload)
/// with its checksum computed over the pseudo header of `src`/`dst`.
pub fn tcp(src: IpAddr, dst: IpAddr, t: &Tcp<'_>) -> Vec<u8> {
    let opt_len: usize = t.options.iter().map(tcp_opt_len).sum();
    let hdr_len = 20 + opt_len.div_ceil(4) * 4;
    assert!(hdr_len <= 60, "TCP options too long: {opt_len}");
    let mut buf = vec![0u8; hdr_len + t.payload.len()];
    {
        let mut p = view(MutableTcpPacket::new(&mut buf), "TCP");
        p.set_source(t.sport);
        p.set_destination(t.dport);
        p.set_sequence(t.seq);
        p.set_acknowledgement(t.ack);
        p.set_data_offset(len_u8(hdr_len / 4, "TCP header"));
        p.set_flags(t.flags);
        p.set_window(t.window);
        p.set_urgent_ptr(t.urgent);
        p.set_options(t.options);
        p.set_payload(t.payload);
        let sum = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                pnet_packet::tcp::ipv4_checksum(&p.to_immutable(), &s, &d)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                pnet_packet::tcp::ipv6_checksum(&p.to_immutable(), &s, &d)
            }
            _ => panic!("TCP pseudo header with mixed address families"),
        };
        p.set_checksum(sum);
    }
    buf
}

/// A UDP datagram with its checksum over the pseudo header of `src`/`dst`.
pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + payload.len()];
    {
        let mut p = view(MutableUdpPacket::new(&mut buf), "UDP");
        p.set_source(sport);
        p.set_destination(dport);
        p.set_length(len_u16(8 + payload.len(), "UDP"));
        p.set_payload(payload);
        let sum = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                pnet_packet::udp::ipv4_checksum(&p.to_immutable(), &s, &d)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                pnet_packet::udp::ipv6_checksum(&p.to_immutable(), &s, &d)
            }
            _ => panic!("UDP pseudo header with mixed address families"),
        };
        // A computed zero is sent as all ones (RFC 768).
        p.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
    buf
}

/// An ICMP message: type, code, the 4-byte "rest of header" and the body.
pub fn icmp(ty: u8, code: u8, rest: u32, body: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + body.len()];
    buf[4..8].copy_from_slice(&rest.to_be_bytes());
    buf[8..].copy_from_slice(body);
    let mut p = view(MutableIcmpPacket::new(&mut buf), "ICMP");
    p.set_icmp_type(pnet_packet::icmp::IcmpType(ty));
    p.set_icmp_code(pnet_packet::icmp::IcmpCode(code));
    let sum = pnet_packet::icmp::checksum(&p.to_immutable());
    p.set_checksum(sum);
    buf
}

/// An ICMP echo request (type 8) or reply (type 0).
pub fn icmp_echo(reply: bool, id: u16, seq: u16, body: &[u8]) -> Vec<u8> {
    let rest = (u32::from(id) << 16) | u32::from(seq);
    icmp(if reply { 0 } else { 8 }, 0, rest, body)
}

#[cfg(test)]
/// Checks a finished ICMP message's checksum (used by the tests).
pub fn icmp_checksum_ok(msg: &[u8]) -> bool {
    pnet_packet::icmp::IcmpPacket::new(msg)
        .is_some_and(|p| pnet_packet::icmp::checksum(&p) == p.get_checksum())
}

/// An ICMPv6 message: type, code, the 4-byte "rest of header" and the body.
pub fn icmpv6(src: Ipv6Addr, dst: Ipv6Addr, ty: u8, code: u8, rest: u32, body: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 8 + body.len()];
    buf[4..8].copy_from_slice(&rest.to_be_bytes());
    buf[8..].copy_from_slice(body);
    let mut p = view(MutableIcmpv6Packet::new(&mut buf), "ICMPv6");
    p.set_icmpv6_type(pnet_packet::icmpv6::Icmpv6Type(ty));
    p.set_icmpv6_code(pnet_packet::icmpv6::Icmpv6Code(code));
    let sum = pnet_packet::icmpv6::checksum(&p.to_immutable(), &src, &dst);
    p.set_checksum(sum);
    buf
}

/// IGMP uses the same checksum as ICMP over the whole message.
pub fn igmp(ty: u8, max_resp: u8, group: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![ty, max_resp, 0, 0, 0, 0, 0, 0];
    buf[4..8].copy_from_slice(&group.octets());
    let sum = pnet_packet::util::checksum(&buf, 1);
    buf[2..4].copy_from_slice(&sum.to_be_bytes());
    buf
}

// ---------------------------------------------------------------------------
// Network layer

/// The fields of an IPv4 header; `options` are raw option bytes (padded with
/// EOL to a multiple of 4 by [`ipv4`]).
#[derive(Clone, Debug)]
pub struct Ipv4<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub id: u16,
    pub ttl: u8,
    pub tos: u8,
    /// 3-bit flags: DF = 2, MF = 1.
    pub flags: u8,
    /// Fragment offset in 8-byte units.
    pub frag: u16,
    pub options: &'a [u8],
}

impl<'a> Ipv4<'a> {
    /// A DF-flagged header with TTL 64, as Linux sends.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, id: u16) -> Self {
        Self {
            src,
            dst,
            proto,
            id,
            ttl: 64,
            tos: 0,
            flags: 2,
            frag: 0,
            options: &[],
        }
    }
}

/// An IPv4 packet with a correct header checksum.
pub fn ipv4(h: &Ipv4<'_>, payload: &[u8]) -> Vec<u8> {
    let hdr_len = 20 + h.options.len().div_ceil(4) * 4;
    assert!(hdr_len <= 60, "IPv4 options too long");
    let mut buf = vec![0u8; hdr_len + payload.len()];
    buf[20..20 + h.options.len()].copy_from_slice(h.options);
    buf[hdr_len..].copy_from_slice(payload);
    let mut p = view(MutableIpv4Packet::new(&mut buf), "IPv4");
    p.set_version(4);
    p.set_header_length(len_u8(hdr_len / 4, "IPv4 header"));
    p.set_dscp(h.tos >> 2);
    p.set_ecn(h.tos & 3);
    p.set_total_length(len_u16(hdr_len + payload.len(), "IPv4"));
    p.set_identification(h.id);
    p.set_flags(h.flags);
    p.set_fragment_offset(h.frag);
    p.set_ttl(h.ttl);
    p.set_next_level_protocol(IpNextHeaderProtocol(h.proto));
    p.set_source(h.src);
    p.set_destination(h.dst);
    let sum = pnet_packet::ipv4::checksum(&p.to_immutable());
    p.set_checksum(sum);
    buf
}

#[cfg(test)]
/// Checks a finished IPv4 header's checksum (used by the tests).
pub fn ipv4_checksum_ok(pkt: &[u8]) -> bool {
    pnet_packet::ipv4::Ipv4Packet::new(pkt)
        .is_some_and(|p| pnet_packet::ipv4::checksum(&p) == p.get_checksum())
}

/// The fields of an IPv6 header.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6 {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next: u8,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Ipv6 {
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, next: u8) -> Self {
        Self {
            src,
            dst,
            next,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
    }
}

/// An IPv6 packet; `payload` starts with the header named by `h.next`.
pub fn ipv6(h: &Ipv6, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 40 + payload.len()];
    let mut p = view(MutableIpv6Packet::new(&mut buf), "IPv6");
    p.set_version(6);
    p.set_traffic_class(h.traffic_class);
    p.set_flow_label(h.flow_label);
    p.set_payload_length(len_u16(payload.len(), "IPv6 payload"));
    p.set_next_header(IpNextHeaderProtocol(h.next));
    p.set_hop_limit(h.hop_limit);
    p.set_source(h.src);
    p.set_destination(h.dst);
    p.set_payload(payload);
    buf
}

/// An IPv6 extension header of the Hop-by-Hop / Destination Options / Routing
/// shape: next header, length in 8-octet units beyond the first, then `body`
/// (padded with Pad1/PadN to a multiple of 8), then `rest`.
pub fn ipv6_ext(next: u8, body: &[u8], rest: &[u8]) -> Vec<u8> {
    let total = (2 + body.len()).div_ceil(8) * 8;
    let mut buf = Vec::with_capacity(total + rest.len());
    buf.push(next);
    buf.push(len_u8(total / 8 - 1, "IPv6 extension header"));
    buf.extend_from_slice(body);
    let pad = total - 2 - body.len();
    match pad {
        0 => {}
        1 => buf.push(0),
        n => {
            buf.push(1);
            buf.push(len_u8(n - 2, "PadN"));
            buf.resize(total, 0);
        }
    }
    buf.extend_from_slice(rest);
    buf
}

/// An IPv6 Fragment header followed by `rest`; `offset` is in 8-byte units.
pub fn ipv6_frag(next: u8, offset: u16, more: bool, id: u32, rest: &[u8]) -> Vec<u8> {
    let mut buf = vec![next, 0];
    buf.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(rest);
    buf
}

/// An Ethernet/IPv4 ARP message.
pub fn arp(op: u16, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; 28];
    let mut p = view(MutableArpPacket::new(&mut buf), "ARP");
    p.set_hardware_type(ArpHardwareType(1));
    p.set_protocol_type(EtherType(ethertype::IPV4));
    p.set_hw_addr_len(6);
    p.set_proto_addr_len(4);
    p.set_operation(ArpOperation(op));
    p.set_sender_proto_addr(spa);
    p.set_target_proto_addr(tpa);
    // pnet_packet does not re-export pnet_base's MacAddr: write the hardware addresses directly.
    buf[8..14].copy_from_slice(&sha);
    buf[18..24].copy_from_slice(&tha);
    buf
}

// ---------------------------------------------------------------------------
// Link layer

/// One 802.1Q/802.1ad tag: the TPID that announces it, priority, DEI and VLAN id.
#[derive(Clone, Copy, Debug)]
pub struct Tag {
    pub tpid: u16,
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
}

impl Tag {
    pub const fn dot1q(vid: u16) -> Self {
        Self {
            tpid: ethertype::VLAN,
            pcp: 0,
            dei: false,
            vid,
        }
    }
    pub const fn dot1ad(vid: u16) -> Self {
        Self {
            tpid: ethertype::QINQ,
            pcp: 0,
            dei: false,
            vid,
        }
    }
}

/// An Ethernet II frame (no FCS, no padding) with optional VLAN tags, outermost first.
pub fn ether_tagged(dst: Mac, src: Mac, tags: &[Tag], ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 14 + 4 * tags.len() + payload.len()];
    {
        let mut p = view(MutableEthernetPacket::new(&mut buf), "Ethernet");
        p.set_ethertype(EtherType(tags.first().map_or(ty, |t| t.tpid)));
    }
    // pnet_packet does not re-export pnet_base's MacAddr: write the addresses directly.
    buf[0..6].copy_from_slice(&dst);
    buf[6..12].copy_from_slice(&src);
    for (i, tag) in tags.iter().enumerate() {
        let inner = tags.get(i + 1).map_or(ty, |t| t.tpid);
        let at = 14 + 4 * i;
        let mut v = view(MutableVlanPacket::new(&mut buf[at..]), "VLAN");
        v.set_priority_code_point(ClassOfService(tag.pcp));
        v.set_drop_eligible_indicator(u8::from(tag.dei));
        v.set_vlan_identifier(tag.vid);
        v.set_ethertype(EtherType(inner));
    }
    let at = 14 + 4 * tags.len();
    buf[at..].copy_from_slice(payload);
    buf
}

/// An untagged Ethernet II frame.
pub fn ether(dst: Mac, src: Mac, ty: u16, payload: &[u8]) -> Vec<u8> {
    ether_tagged(dst, src, &[], ty, payload)
}

/// Pads a frame with `fill` bytes up to the 60-byte Ethernet minimum.
pub fn pad_min(mut frame: Vec<u8>, fill: u8) -> Vec<u8> {
    if frame.len() < ETHER_MIN {
        frame.resize(ETHER_MIN, fill);
    }
    frame
}

/// Linux cooked capture v1 packet types.
pub mod sll_type {
    pub const HOST: u16 = 0;
    pub const BROADCAST: u16 = 1;
    pub const OTHERHOST: u16 = 3;
    pub const OUTGOING: u16 = 4;
}

/// A Linux cooked capture (SLL, link type 113) header in front of `payload`.
/// `addr` is the link-layer source address (at most 8 bytes).
pub fn sll(pkttype: u16, hatype: u16, addr: &[u8], proto: u16, payload: &[u8]) -> Vec<u8> {
    assert!(addr.len() <= 8, "SLL address longer than 8 bytes");
    let mut buf = vec![0u8; 16 + payload.len()];
    let mut a = [0u8; 8];
    a[..addr.len()].copy_from_slice(addr);
    let mut p = view(MutableSLLPacket::new(&mut buf), "SLL");
    p.set_packet_type(pkttype);
    p.set_link_layer_address_type(hatype);
    p.set_link_layer_address_len(len_u16(addr.len(), "SLL address"));
    p.set_link_layer_address(&a);
    p.set_protocol(EtherType(proto));
    p.set_payload(payload);
    buf
}

// ---------------------------------------------------------------------------
// Checks used by the tests

#[cfg(test)]
/// Verifies the TCP checksum of a segment carried between `src` and `dst`.
pub fn tcp_checksum_ok(src: IpAddr, dst: IpAddr, seg: &[u8]) -> bool {
    let Some(p) = pnet_packet::tcp::TcpPacket::new(seg) else {
        return false;
    };
    let want = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pnet_packet::tcp::ipv4_checksum(&p, &s, &d),
        (IpAddr::V6(s), IpAddr::V6(d)) => pnet_packet::tcp::ipv6_checksum(&p, &s, &d),
        _ => return false,
    };
    want == p.get_checksum()
}

#[cfg(test)]
/// Verifies the UDP checksum of a datagram carried between `src` and `dst`.
pub fn udp_checksum_ok(src: IpAddr, dst: IpAddr, dgram: &[u8]) -> bool {
    let Some(p) = pnet_packet::udp::UdpPacket::new(dgram) else {
        return false;
    };
    let want = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pnet_packet::udp::ipv4_checksum(&p, &s, &d),
        (IpAddr::V6(s), IpAddr::V6(d)) => pnet_packet::udp::ipv6_checksum(&p, &s, &d),
        _ => return false,
    };
    want == p.get_checksum() || (want == 0 && p.get_checksum() == 0xffff)
}

#[cfg(test)]
/// Verifies an ICMPv6 checksum.
pub fn icmpv6_checksum_ok(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> bool {
    pnet_packet::icmpv6::Icmpv6Packet::new(msg)
        .is_some_and(|p| pnet_packet::icmpv6::checksum(&p, &src, &dst) == p.get_checksum())
}

// ---------------------------------------------------------------------------
// DNS messages

/// A DNS message written field by field, so a fixture controls exactly where
/// names are compressed (including deliberately broken pointers).
#[derive(Clone, Debug, Default)]
pub struct Dns {
    pub b: Vec<u8>,
}

/// DNS record types used by the fixtures.
pub mod rr {
    pub const A: u16 = 1;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
}

impl Dns {
    /// Header: id, flags, and the four section counts.
    pub fn new(id: u16, flags: u16, counts: [u16; 4]) -> Self {
        let mut d = Self {
            b: Vec::with_capacity(128),
        };
        d.u16(id).u16(flags);
        for c in counts {
            d.u16(c);
        }
        d
    }

    /// A standard query (RD set) with one question, uncompressed.
    pub fn query(id: u16, name: &str, qtype: u16) -> Self {
        let mut d = Self::new(id, 0x0100, [1, 0, 0, 0]);
        d.name(name).u16(qtype).u16(1);
        d
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.b.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.b.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.b.extend_from_slice(v);
        self
    }

    /// Current offset (for later compression pointers).
    pub fn here(&self) -> u16 {
        len_u16(self.b.len(), "DNS message")
    }

    /// The labels of `name` without a terminator (follow with `ptr` or `root`).
    pub fn labels(&mut self, name: &str) -> &mut Self {
        for label in name.split('.').filter(|l| !l.is_empty()) {
            self.b.push(len_u8(label.len(), "DNS label"));
            self.b.extend_from_slice(label.as_bytes());
        }
        self
    }

    /// The root label ending a name.
    pub fn root(&mut self) -> &mut Self {
        self.b.push(0);
        self
    }

    /// A full, uncompressed name.
    pub fn name(&mut self, name: &str) -> &mut Self {
        self.labels(name).root()
    }

    /// A compression pointer to `offset`.
    pub fn ptr(&mut self, offset: u16) -> &mut Self {
        self.u16(0xc000 | offset)
    }

    /// Type, class IN and TTL of a resource record whose owner name was just written.
    pub fn rr(&mut self, rtype: u16, ttl: u32) -> &mut Self {
        self.u16(rtype).u16(1).u32(ttl)
    }

    /// RDLENGTH followed by whatever `f` writes as RDATA.
    pub fn rdata(&mut self, f: impl FnOnce(&mut Self)) -> &mut Self {
        let at = self.b.len();
        self.u16(0);
        f(self);
        let len = len_u16(self.b.len() - at - 2, "DNS RDATA");
        self.b[at..at + 2].copy_from_slice(&len.to_be_bytes());
        self
    }

    /// An answer owned by the name at `owner` (compressed) with an A address.
    pub fn answer_a(&mut self, owner: u16, ttl: u32, addr: Ipv4Addr) -> &mut Self {
        self.ptr(owner).rr(rr::A, ttl).rdata(|d| {
            d.bytes(&addr.octets());
        })
    }

    /// An answer owned by the name at `owner` (compressed) with an AAAA address.
    pub fn answer_aaaa(&mut self, owner: u16, ttl: u32, addr: Ipv6Addr) -> &mut Self {
        self.ptr(owner).rr(rr::AAAA, ttl).rdata(|d| {
            d.bytes(&addr.octets());
        })
    }

    /// A message prefixed with its 2-byte length, as DNS over TCP sends it.
    pub fn tcp_framed(&self) -> Vec<u8> {
        let mut out = len_u16(self.b.len(), "DNS message").to_be_bytes().to_vec();
        out.extend_from_slice(&self.b);
        out
    }
}

// ---------------------------------------------------------------------------
// TCP conversations

/// Addressing of one endpoint.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub mac: Mac,
    pub ip: IpAddr,
    pub port: u16,
    pub ttl: u8,
}

/// A TCP conversation that tracks sequence numbers, IPv4 ids and timestamps
/// and renders each segment as a full Ethernet frame.
#[derive(Clone, Debug)]
pub struct TcpConv {
    pub client: Endpoint,
    pub server: Endpoint,
    /// Next sequence number each side will send.
    pub seq: [u32; 2],
    /// IPv4 identification counters.
    pub ip_id: [u16; 2],
    /// TCP timestamp clocks: the last TSval each side sent (None: no timestamp options).
    pub tsval: Option<[u32; 2]>,
    pub window: [u16; 2],
    pub tags: Vec<Tag>,
    /// Pad frames shorter than 60 bytes.
    pub pad: bool,
}

/// Which side sends a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

impl TcpConv {
    pub fn new(client: Endpoint, server: Endpoint, isn: [u32; 2]) -> Self {
        Self {
            client,
            server,
            seq: isn,
            ip_id: [0x4d2e, 0],
            tsval: Some([isn[0] ^ 0x0a1b_2c3d, isn[1] ^ 0x5e6f_7081]),
            window: [502, 1050],
            tags: Vec::new(),
            pad: false,
        }
    }

    fn side(dir: Dir) -> (usize, usize) {
        match dir {
            Dir::ToServer => (0, 1),
            Dir::ToClient => (1, 0),
        }
    }

    /// One segment with explicit options; sequence numbers advance by the
    /// payload length plus one for SYN and FIN.
    pub fn segment_with(
        &mut self,
        dir: Dir,
        fl: u8,
        options: &[TcpOption],
        payload: &[u8],
    ) -> Vec<u8> {
        let (me, peer) = Self::side(dir);
        let (from, to) = if me == 0 {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let ack = if fl & flags::ACK != 0 {
            self.seq[peer]
        } else {
            0
        };
        let seg = tcp(
            from.ip,
            to.ip,
            &Tcp {
                sport: from.port,
                dport: to.port,
                seq: self.seq[me],
                ack,
                flags: fl,
                window: if fl & flags::SYN != 0 {
                    64240
                } else {
                    self.window[me]
                },
                urgent: 0,
                options,
                payload,
            },
        );
        let advance = payload.len() + usize::from(fl & (flags::SYN | flags::FIN) != 0);
        self.seq[me] = self.seq[me].wrapping_add(u32::try_from(advance).unwrap_or(u32::MAX));
        let ip_pkt = match (from.ip, to.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let id = self.ip_id[me];
                self.ip_id[me] = id.wrapping_add(1);
                let mut h = Ipv4::new(s, d, proto::TCP, id);
                h.ttl = from.ttl;
                ipv4(&h, &seg)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut h = Ipv6::new(s, d, proto::TCP);
                h.hop_limit = from.ttl;
                ipv6(&h, &seg)
            }
            _ => panic!("TCP conversation with mixed address families"),
        };
        let ty = if from.ip.is_ipv4() {
            ethertype::IPV4
        } else {
            ethertype::IPV6
        };
        let frame = ether_tagged(to.mac, from.mac, &self.tags, ty, &ip_pkt);
        if self.pad { pad_min(frame, 0) } else { frame }
    }

    /// A segment with the conversation's default options: the Linux SYN list on
    /// SYNs, NOP/NOP/timestamps otherwise (when timestamps are on).
    pub fn segment(&mut self, dir: Dir, fl: u8, payload: &[u8]) -> Vec<u8> {
        let (me, peer) = Self::side(dir);
        // Each side's clock ticks before it sends; the echo is the peer's last value.
        if let Some(ts) = self.tsval.as_mut() {
            ts[me] = ts[me].wrapping_add(7);
        }
        let opts = match self.tsval {
            Some(ts) => {
                let ecr = if fl & flags::ACK != 0 { ts[peer] } else { 0 };
                if fl & flags::SYN != 0 {
                    linux_syn_options(1460, ts[me], ecr, 7)
                } else {
                    ts_options(ts[me], ecr)
                }
            }
            None if fl & flags::SYN != 0 => vec![TcpOption::mss(1460)],
            None => Vec::new(),
        };
        self.segment_with(dir, fl, &opts, payload)
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.segment(Dir::ToServer, flags::SYN, &[]),
            self.segment(Dir::ToClient, flags::SYN | flags::ACK, &[]),
            self.segment(Dir::ToServer, flags::ACK, &[]),
        ]
    }

    /// FIN-ACK from the client, FIN-ACK from the server, final ACK.
    pub fn close(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.segment(Dir::ToServer, flags::FIN | flags::ACK, &[]),
            self.segment(Dir::ToClient, flags::FIN | flags::ACK, &[]),
            self.segment(Dir::ToServer, flags::ACK, &[]),
        ]
    }
}

/// Deterministic filler bytes (a simple counter pattern mixed with `seed`).
pub fn filler(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| i.to_le_bytes()[0].wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn tcp_options_are_padded_and_checksummed() {
        let opts = [
            TcpOption::mss(1460),
            TcpOption::sack_perm(),
            TcpOption::wscale(7),
        ];
        let seg = tcp(
            A.into(),
            B.into(),
            &Tcp {
                sport: 1,
                dport: 2,
                flags: flags::SYN,
                options: &opts,
                ..Tcp::default()
            },
        );
        // 4 + 2 + 3 = 9 option bytes -> 12 with EOL padding.
        assert_eq!(seg.len(), 32);
        assert_eq!(seg[12] >> 4, 8);
        assert_eq!(&seg[20..32], &[2, 4, 0x05, 0xb4, 4, 2, 3, 3, 7, 0, 0, 0]);
        assert!(tcp_checksum_ok(A.into(), B.into(), &seg));
        assert!(!tcp_checksum_ok(
            A.into(),
            Ipv4Addr::new(10, 0, 0, 3).into(),
            &seg
        ));
    }

    #[test]
    fn ipv4_header_fields_and_checksum() {
        let mut h = Ipv4::new(A, B, proto::UDP, 0x1234);
        h.options = &[1, 1, 0];
        let pkt = ipv4(&h, &[9, 9]);
        assert_eq!(pkt[0], 0x46);
        assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]), 26);
        assert_eq!(pkt[6], 0x40);
        assert_eq!(&pkt[20..24], &[1, 1, 0, 0]);
        assert!(ipv4_checksum_ok(&pkt));
    }

    #[test]
    fn icmp_and_udp_checksums() {
        assert!(icmp_checksum_ok(&icmp_echo(false, 7, 1, b"abc")));
        let d = udp(A.into(), B.into(), 53, 5353, b"hello");
        assert!(udp_checksum_ok(A.into(), B.into(), &d));
        assert_eq!(u16::from_be_bytes([d[4], d[5]]), 13);
    }

    #[test]
    fn vlan_tags_chain_ethertypes() {
        let f = ether_tagged(
            BROADCAST,
            [2; 6],
            &[Tag::dot1ad(200), Tag::dot1q(100)],
            ethertype::IPV4,
            &[0xaa],
        );
        assert_eq!(&f[12..14], &[0x88, 0xa8]);
        assert_eq!(&f[14..18], &[0x00, 200, 0x81, 0x00]);
        assert_eq!(&f[18..22], &[0x00, 100, 0x08, 0x00]);
        assert_eq!(f[22], 0xaa);
        assert_eq!(pad_min(f, 0).len(), ETHER_MIN);
    }

    #[test]
    fn ipv6_ext_pads_to_eight() {
        let h = ipv6_ext(proto::ICMPV6, &[5, 2, 0, 0], &[]);
        assert_eq!(h, vec![58, 0, 5, 2, 0, 0, 1, 0]);
        let h = ipv6_ext(proto::UDP, &[], &[]);
        assert_eq!(h, vec![17, 0, 1, 4, 0, 0, 0, 0]);
    }

    #[test]
    fn dns_rdata_length_is_filled_in() {
        let mut d = Dns::query(1, "example.com", rr::A);
        d.answer_a(12, 60, Ipv4Addr::new(1, 2, 3, 4));
        let n = d.b.len();
        assert_eq!(&d.b[n - 6..n - 4], &[0, 4]);
        assert_eq!(&d.tcp_framed()[..2], &len_u16(n, "t").to_be_bytes());
    }

    #[test]
    fn conversation_tracks_sequence_numbers() {
        let c = Endpoint {
            mac: [2; 6],
            ip: A.into(),
            port: 40000,
            ttl: 64,
        };
        let s = Endpoint {
            mac: [4; 6],
            ip: B.into(),
            port: 80,
            ttl: 57,
        };
        let mut conv = TcpConv::new(c, s, [100, 900]);
        let hs = conv.handshake();
        assert_eq!(hs.len(), 3);
        let data = conv.segment(Dir::ToServer, flags::PSH | flags::ACK, b"GET /");
        let seg = &data[34..];
        assert_eq!(u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]), 101);
        assert_eq!(u32::from_be_bytes([seg[8], seg[9], seg[10], seg[11]]), 901);
        assert!(tcp_checksum_ok(A.into(), B.into(), seg));
        assert_eq!(conv.seq[0], 106);
    }
}
