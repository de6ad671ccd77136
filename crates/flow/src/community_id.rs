//! Corelight Community ID v1: a flow hash that Zeek, Suricata, tshark and
//! others compute the same way, so their records can be joined.
//!
//! The spec (github.com/corelight/community-id-spec): SHA-1 over
//! `seed (u16 BE) · src addr · dst addr · proto (u8) · 0 (u8) · src port (u16 BE) ·
//! dst port (u16 BE)`, the endpoints ordered so the smaller (address, port)
//! comes first, base64 with padding, prefixed `1:`. ICMP and ICMPv6 use the
//! message type as the source "port" and, for types that come in
//! request/response pairs, the counterpart type as the destination "port"
//! (otherwise the code); messages without a counterpart are one-way and keep
//! their direction. Protocols other than TCP, UDP, SCTP, ICMP and ICMPv6
//! hash without ports.

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::key::{ICMP, ICMPV6, SCTP, TCP, UDP};

/// The hash's inputs for one packet (or flow), either direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Tuple<'a> {
    /// 4 bytes (IPv4) or 16 bytes (IPv6); both addresses the same length.
    pub src: &'a [u8],
    pub dst: &'a [u8],
    pub proto: u8,
    /// Source port, or the ICMP/ICMPv6 type.
    pub sport: u16,
    /// Destination port, or the ICMP/ICMPv6 code.
    pub dport: u16,
}

/// ICMPv4 request/response pairs (spec: echo, timestamp, information, router
/// solicitation/advertisement, address mask).
fn icmp4_counterpart(t: u16) -> Option<u16> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        10 => 9,
        9 => 10,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// ICMPv6 pairs (spec: echo, router and neighbour discovery, multicast
/// listener query/report, node information query/response, home agent
/// address discovery).
fn icmp6_counterpart(t: u16) -> Option<u16> {
    Some(match t {
        128 => 129,
        129 => 128,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        130 => 131,
        131 => 130,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        _ => return None,
    })
}

/// The port equivalents of an ICMP/ICMPv6 message: `(type, counterpart or
/// code, one_way)`.
pub fn icmp_ports(proto: u8, ty: u16, code: u16) -> (u16, u16, bool) {
    let counterpart = if proto == ICMP {
        icmp4_counterpart(ty)
    } else {
        icmp6_counterpart(ty)
    };
    match counterpart {
        Some(c) => (ty, c, false),
        None => (ty, code, true),
    }
}

/// A Community ID v1 calculator with its seed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CommunityId {
    pub seed: u16,
}

/// Length of `1:` plus 28 base64 characters.
pub const LEN: usize = 30;

impl CommunityId {
    pub fn new(seed: u16) -> CommunityId {
        CommunityId { seed }
    }

    /// The 20-byte SHA-1 digest of the ordered tuple.
    pub fn digest(&self, t: &Tuple<'_>) -> [u8; 20] {
        let (mut sport, mut dport) = (t.sport, t.dport);
        let ports = matches!(t.proto, TCP | UDP | SCTP | ICMP | ICMPV6);
        let mut one_way = false;
        if t.proto == ICMP || t.proto == ICMPV6 {
            (sport, dport, one_way) = icmp_ports(t.proto, t.sport, t.dport);
        }
        let (mut a, mut b, mut pa, mut pb) = (t.src, t.dst, sport, dport);
        let ordered = a < b || (a == b && pa <= pb);
        if !one_way && !ordered {
            std::mem::swap(&mut a, &mut b);
            std::mem::swap(&mut pa, &mut pb);
        }
        let mut h = Sha1::new();
        h.update(self.seed.to_be_bytes());
        h.update(a);
        h.update(b);
        h.update([t.proto, 0]);
        if ports {
            h.update(pa.to_be_bytes());
            h.update(pb.to_be_bytes());
        }
        h.finalize().into()
    }

    /// The digest without ports, as for a datagram whose transport header is
    /// not at hand (an IP fragment): tshark hashes those this way.
    pub fn digest_without_ports(&self, src: &[u8], dst: &[u8], proto: u8) -> [u8; 20] {
        let (a, b) = if src <= dst { (src, dst) } else { (dst, src) };
        let mut h = Sha1::new();
        h.update(self.seed.to_be_bytes());
        h.update(a);
        h.update(b);
        h.update([proto, 0]);
        h.finalize().into()
    }

    /// Append the textual ID (`1:` + base64) to `out`, without allocating
    /// when `out` has room.
    pub fn write(&self, t: &Tuple<'_>, out: &mut String) {
        let d = self.digest(t);
        Self::encode(d, out);
    }

    /// [`CommunityId::write`] for [`CommunityId::digest_without_ports`].
    pub fn write_without_ports(&self, src: &[u8], dst: &[u8], proto: u8, out: &mut String) {
        Self::encode(self.digest_without_ports(src, dst, proto), out);
    }

    fn encode(d: [u8; 20], out: &mut String) {
        let mut buf = [0u8; 28];
        // 20 bytes always encode to exactly 28 characters with padding.
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(d, &mut buf)
            .unwrap_or(0);
        out.push_str("1:");
        // base64 output is ASCII.
        out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or(""));
    }

    /// The textual ID as a new string.
    pub fn compute(&self, t: &Tuple<'_>) -> String {
        let mut s = String::with_capacity(LEN);
        self.write(t, &mut s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn addr(s: &str) -> Vec<u8> {
        match s.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }

    fn check(seed: u16, proto: u8, src: &str, dst: &str, ports: Option<(u16, u16)>, want: &str) {
        let (s, d) = (addr(src), addr(dst));
        let (sport, dport) = ports.unwrap_or((0, 0));
        let got = CommunityId::new(seed).compute(&Tuple {
            src: &s,
            dst: &d,
            proto,
            sport,
            dport,
        });
        assert_eq!(
            got, want,
            "seed {seed} proto {proto} {src}:{sport} -> {dst}:{dport}"
        );
    }

    // The spec's published test vectors: corelight/community-id-spec,
    // `baseline/baseline_deflt.json` (seed 0) and `baseline/baseline_seed1.json`
    // (seed 1), commit c4ec2bc40d65ddbcbdd642582bf5609797a80772. Each row is
    // (proto, saddr, daddr, sport, dport, seed 0 ID, seed 1 ID); for ICMP the
    // "ports" are the message type and code as the spec's generator passes them.
    type Vector = (
        u8,
        &'static str,
        &'static str,
        Option<(u16, u16)>,
        &'static str,
        &'static str,
    );
    #[rustfmt::skip]
    const BASELINE: &[Vector] = &[
        (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((135, 136)), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
        (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((136, 135)), "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="),
        (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", Some((135, 136)), "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="),
        (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", Some((136, 135)), "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="),
        (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((3, 0)), "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="),
        (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", Some((1, 4)), "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="),
        (58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", Some((128, 129)), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="),
        (58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", Some((129, 128)), "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="),
        (58, "fe80::200:86ff:fe05:80da", "ff02::2", Some((133, 134)), "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="),
        (58, "fe80::260:97ff:fe07:69ea", "ff02::1", Some((134, 133)), "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc="),
        (1, "192.168.0.89", "192.168.0.1", Some((8, 0)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
        (1, "192.168.0.1", "192.168.0.89", Some((0, 8)), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),
        (1, "10.0.0.1", "10.0.0.2", Some((11, 0)), "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20="),
        (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", Some((63943, 25)), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
        (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", Some((25, 63943)), "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="),
        (132, "192.168.170.8", "192.168.170.56", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
        (132, "192.168.170.56", "192.168.170.8", Some((7, 7)), "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="),
        (6, "128.232.110.120", "66.35.250.204", Some((34855, 80)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
        (6, "66.35.250.204", "128.232.110.120", Some((80, 34855)), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="),
        (17, "192.168.1.52", "8.8.8.8", Some((54585, 53)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
        (17, "8.8.8.8", "192.168.1.52", Some((53, 54585)), "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="),
        (46, "10.1.12.1", "10.1.12.2", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="),
        (46, "10.1.12.2", "10.1.12.1", None, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="),
    ];

    #[test]
    fn spec_baseline_vectors() {
        for &(proto, src, dst, ports, seed0, seed1) in BASELINE {
            check(0, proto, src, dst, ports, seed0);
            check(1, proto, src, dst, ports, seed1);
        }
    }

    // The README's examples (same repository): TCP/UDP 1.2.3.4:1122 ->
    // 5.6.7.8:3344, ICMP echo, both directions.
    #[test]
    fn spec_readme_examples() {
        check(
            0,
            6,
            "1.2.3.4",
            "5.6.7.8",
            Some((1122, 3344)),
            "1:wCb3OG7yAFWelaUydu0D+125CLM=",
        );
        check(
            0,
            6,
            "5.6.7.8",
            "1.2.3.4",
            Some((3344, 1122)),
            "1:wCb3OG7yAFWelaUydu0D+125CLM=",
        );
        check(
            0,
            17,
            "1.2.3.4",
            "5.6.7.8",
            Some((1122, 3344)),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
        );
        check(
            0,
            1,
            "1.2.3.4",
            "5.6.7.8",
            Some((8, 0)),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
        );
        check(
            0,
            1,
            "5.6.7.8",
            "1.2.3.4",
            Some((0, 0)),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
        );
        check(
            1,
            6,
            "1.2.3.4",
            "5.6.7.8",
            Some((1122, 3344)),
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=",
        );
    }
}
