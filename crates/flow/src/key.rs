//! Flow keys: the symmetric identity of a bidirectional conversation, and the
//! address-pair hash that shards flows across workers.

use crate::packet::{L4, PacketInfo};

pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;

/// An IP address as stored in keys: IPv4 in the first four bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Addr {
    pub bytes: [u8; 16],
    pub v6: bool,
}

impl Addr {
    pub fn v4(a: [u8; 4]) -> Addr {
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&a);
        Addr { bytes, v6: false }
    }
    pub fn v6(a: [u8; 16]) -> Addr {
        Addr { bytes: a, v6: true }
    }
    /// The address's own bytes (4 or 16).
    pub fn as_slice(&self) -> &[u8] {
        if self.v6 {
            &self.bytes
        } else {
            &self.bytes[..4]
        }
    }
    pub fn to_ip(&self) -> std::net::IpAddr {
        if self.v6 {
            std::net::IpAddr::from(self.bytes)
        } else {
            std::net::IpAddr::from([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
        }
    }
}

/// One side of a flow: address and port (ICMP: the type's port equivalent).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Endpoint {
    pub addr: Addr,
    pub port: u16,
}

/// A direction-free flow identity: the two endpoints in canonical (sorted)
/// order, the IP protocol, the VLAN id and, for ICMP query/response messages,
/// the identifier (so two pings between the same hosts are two flows).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub proto: u8,
    pub vlan: u16,
    pub aux: u16,
}

impl FlowKey {
    /// The key of a packet and whether the packet goes `lo → hi`. `None` for a
    /// packet without an IP header.
    pub fn of(p: &PacketInfo) -> Option<(FlowKey, bool)> {
        let (src, dst) = (p.src?, p.dst?);
        let (sport, dport, aux) = match p.l4 {
            L4::Tcp { sport, dport, .. }
            | L4::Udp { sport, dport, .. }
            | L4::Sctp { sport, dport } => (sport, dport, 0),
            L4::Icmp { ty, code, id } => {
                let (a, b, one_way) =
                    crate::community_id::icmp_ports(p.proto, u16::from(ty), u16::from(code));
                if one_way {
                    // Errors and other one-way messages: one flow per
                    // address pair and type/code, the sender first.
                    (a, b, 0)
                } else {
                    (a, b, id.unwrap_or(0))
                }
            }
            L4::Fragment | L4::Other => (0, 0, 0),
        };
        let s = Endpoint {
            addr: src,
            port: sport,
        };
        let d = Endpoint {
            addr: dst,
            port: dport,
        };
        let fwd = s <= d;
        let (lo, hi) = if fwd { (s, d) } else { (d, s) };
        Some((
            FlowKey {
                lo,
                hi,
                proto: p.proto,
                vlan: p.vlan.unwrap_or(0),
                aux,
            },
            fwd,
        ))
    }

    /// The shard of this key: a symmetric hash of the address pair only (not
    /// the ports), so every fragment of a datagram lands with its flow.
    pub fn shard(&self, shards: usize) -> usize {
        addr_pair_shard(&self.lo.addr, &self.hi.addr, shards)
    }
}

/// A symmetric hash of an address pair (FNV-1a over the sorted pair), reduced
/// to `shards` buckets.
pub fn addr_pair_shard(a: &Addr, b: &Addr, shards: usize) -> usize {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in x.bytes.iter().chain(y.bytes.iter()) {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let n = u64::try_from(shards.max(1)).unwrap_or(1);
    usize::try_from(h % n).unwrap_or(0)
}
