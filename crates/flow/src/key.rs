//! Flow keys: the symmetric identity of a bidirectional conversation, and the
//! address-pair hash that shards flows across workers.

use std::hash::{Hash, Hasher};

use crate::packet::{L4, PacketInfo};

pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMPV6: u8 = 58;
pub const SCTP: u8 = 132;

/// An IP address as stored in keys: IPv4 in the first four bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
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
    /// The address's bytes as one number, the family in the low bit (the
    /// per-packet hashes: one word instead of a length-prefixed slice).
    fn bits(&self) -> u128 {
        u128::from_le_bytes(self.bytes) ^ u128::from(self.v6)
    }
    pub fn to_ip(&self) -> std::net::IpAddr {
        if self.v6 {
            std::net::IpAddr::from(self.bytes)
        } else {
            std::net::IpAddr::from([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
        }
    }
}

// The keys of the per-packet maps are hashed field by field: the derived
// `Hash` of `[u8; 16]` writes a length prefix and a slice, and with the
// flag, the port and the key's other fields that was nine hasher calls per
// endpoint pair, a large part of a map lookup. These write whole words
// (consistent with the derived `Eq`: equal values write equal words).
impl Hash for Addr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.bits());
    }
}

/// One side of a flow: address and port (ICMP: the type's port equivalent).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Endpoint {
    pub addr: Addr,
    pub port: u16,
}

impl Hash for Endpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.addr.bits());
        state.write_u16(self.port);
    }
}

/// A direction-free flow identity: the two endpoints in canonical (sorted)
/// order, the IP protocol, the VLAN id and, for ICMP query/response messages,
/// the identifier (so two pings between the same hosts are two flows).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub proto: u8,
    pub vlan: u16,
    pub aux: u16,
}

impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.lo.addr.bits());
        state.write_u128(self.hi.addr.bits());
        state.write_u64(
            u64::from(self.lo.port)
                | u64::from(self.hi.port) << 16
                | u64::from(self.aux) << 32
                | u64::from(self.vlan) << 48,
        );
        state.write_u8(self.proto);
    }
}

impl FlowKey {
    /// The key of a packet and whether the packet goes `lo → hi`. `None` for a
    /// packet without an IP header.
    pub fn of(p: &PacketInfo) -> Option<(FlowKey, bool)> {
        FlowKey::with_l4(p, &p.l4)
    }

    /// [`FlowKey::of`] with the transport layer `l4` in place of the
    /// packet's own (a later fragment's is its first fragment's).
    pub fn with_l4(p: &PacketInfo, l4: &L4) -> Option<(FlowKey, bool)> {
        let (src, dst) = (p.src?, p.dst?);
        let (sport, dport, aux) = match *l4 {
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

/// A symmetric hash of an address pair, reduced to `shards` buckets: the
/// sum of a multiply-xorshift mix of each address (a sum does not depend on
/// the order of the pair), reduced by a multiply-shift. It runs for every
/// packet on the reader's thread, so it costs a few dozen instructions;
/// which worker a flow goes to never shows in the output.
pub fn addr_pair_shard(a: &Addr, b: &Addr, shards: usize) -> usize {
    let n = u64::try_from(shards.max(1)).unwrap_or(1);
    if n == 1 {
        return 0;
    }
    let mix = |x: &Addr| {
        let v = x.bits();
        #[allow(clippy::cast_possible_truncation)]
        let (lo, hi) = (v as u64, (v >> 64) as u64);
        let mut h = lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        h ^= h >> 29;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^ (h >> 32)
    };
    let h = mix(a).wrapping_add(mix(b));
    #[allow(clippy::cast_possible_truncation)]
    let bucket = ((u128::from(h) * u128::from(n)) >> 64) as u64;
    usize::try_from(bucket).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_is_symmetric_and_spreads() {
        let mut counts = [0usize; 3];
        for i in 0..3000u32 {
            let a = Addr::v4(i.to_be_bytes());
            let b = Addr::v6([7; 16]);
            let s = addr_pair_shard(&a, &b, 3);
            assert_eq!(s, addr_pair_shard(&b, &a, 3));
            counts[s] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        assert_eq!(addr_pair_shard(&Addr::v4([1; 4]), &Addr::v4([2; 4]), 1), 0);
    }
}
