//! ICMP for IPv4 (RFC 792), `ip.proto` 1.
//!
//! Error messages (destination unreachable, source quench, redirect, time
//! exceeded, parameter problem) carry the offending IP header and at least 8
//! bytes of its payload: that copy is handed back to the `ethertype` table
//! (0x0800) as a quoted packet, so it shows as second occurrences of `ip.src`,
//! `udp.srcport`, … (tshark) and as `IPerror / UDPerror` in summaries (Scapy).

use pcapx_core::{IpProto, keys::tables};
use std::fmt::Write as _;

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{Ctx, Dissector, Next, Outcome, Registrar, RegistryError, Value};

use super::{arr, len64};

const HDR: usize = 8;

pcapx_core::field_table! {
    struct Fields {
        ty = ("icmp.type", "Type", U8, ""),
        code = ("icmp.code", "Code", U8, ""),
        checksum = ("icmp.checksum", "Checksum", U16, "").hex(),
        ident = ("icmp.ident", "Identifier (BE)", U16, "Echo/timestamp/information/mask identifier, big-endian"),
        ident_le = ("icmp.ident_le", "Identifier (LE)", U16, "The identifier read little-endian"),
        seq = ("icmp.seq", "Sequence Number (BE)", U16, "Echo/timestamp/information/mask sequence number, big-endian"),
        seq_le = ("icmp.seq_le", "Sequence Number (LE)", U16, "The sequence number read little-endian"),
        mtu = ("icmp.mtu", "MTU of next hop", U16, "Destination unreachable, fragmentation needed"),
        redir_gw = ("icmp.redir_gw", "Gateway Address", Ipv4, "Redirect: the better gateway"),
        payload_len = ("icmp.payload_len", "Payload Length", U32, "pcapx: bytes after the 8-byte ICMP header within the IP datagram").alias("payload"),
    }
}

/// The ICMP dissector.
pub struct Icmp {
    f: Fields,
    ethertype: TableId,
}

/// Types whose bytes 4..8 are an identifier and a sequence number (tshark's list).
fn has_ident_seq(ty: u8) -> bool {
    matches!(ty, 0 | 8 | 13..=18)
}

/// Error types that quote the offending datagram.
pub(crate) fn is_error(ty: u8) -> bool {
    matches!(ty, 3 | 4 | 5 | 11 | 12)
}

impl Icmp {
    pub fn new() -> Icmp {
        Icmp {
            f: Fields::UNSET,
            ethertype: TableId(u32::MAX),
        }
    }
}

impl Default for Icmp {
    fn default() -> Self {
        Self::new()
    }
}

impl Dissector for Icmp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("icmp", "Internet Control Message Protocol", "ICMP")?;
        self.f = Fields::register(r)?;
        self.ethertype = r.declare_table(tables::ETHERTYPE);
        r.bind(tables::IP_PROTO, IpProto::ICMP);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some((ty, code)) = super::icmp_head(data, cx, self.f.ty, self.f.code, self.f.checksum)
        else {
            return Outcome::end(data.len());
        };
        let Some(rest) = arr::<4>(data, 4) else {
            cx.short();
            return Outcome::end(data.len());
        };
        if has_ident_seq(ty) {
            let id = [rest[0], rest[1]];
            let seq = [rest[2], rest[3]];
            cx.add(self.f.ident, Value::U64(u64::from(u16::from_be_bytes(id))));
            cx.add(
                self.f.ident_le,
                Value::U64(u64::from(u16::from_le_bytes(id))),
            );
            cx.add(self.f.seq, Value::U64(u64::from(u16::from_be_bytes(seq))));
            cx.add(
                self.f.seq_le,
                Value::U64(u64::from(u16::from_le_bytes(seq))),
            );
        } else if ty == 3 && code == 4 {
            let mtu = u16::from_be_bytes([rest[2], rest[3]]);
            cx.add(self.f.mtu, Value::U64(u64::from(mtu)));
        } else if ty == 5 {
            cx.add(self.f.redir_gw, Value::Ipv4(rest));
        }
        let payload = cx.declared_len().unwrap_or(data.len()).saturating_sub(HDR);
        cx.add(self.f.payload_len, Value::U64(len64(payload)));
        let next = if is_error(ty) && data.len() > HDR {
            cx.set_quoted();
            Next::Table(self.ethertype, 0x0800)
        } else {
            Next::End
        };
        Outcome {
            header_len: HDR,
            payload_len: Some(payload),
            next,
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        if view.layer(layer).is_none_or(|l| l.quoted) {
            return false;
        }
        let num = |n: &str| view.get(layer, n).and_then(|v| v.as_u64());
        let (Some(ty), Some(code)) = (num("icmp.type"), num("icmp.code")) else {
            return false;
        };
        let (Ok(ty), Ok(code)) = (u8::try_from(ty), u8::try_from(code)) else {
            return false;
        };
        out.push_str("ICMP ");
        let below = layer.saturating_sub(1);
        if view.proto_name(below) == Some("ip")
            && let (Some(s), Some(d)) = (
                view.get(below, "ip.src"),
                view.get(below, "ip.cur_rt")
                    .or_else(|| view.get(below, "ip.dst")),
            )
        {
            let _ = write!(out, "{s} > {d} ");
        }
        match type_name(ty) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{ty}");
            }
        }
        out.push(' ');
        match code_name(ty, code) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{code}");
            }
        }
        true
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.layer(layer)
            .is_some_and(|l| l.quoted)
            .then_some("ICMPerror")
    }
}

/// Scapy's `icmptypes`.
fn type_name(ty: u8) -> Option<&'static str> {
    Some(match ty {
        0 => "echo-reply",
        3 => "dest-unreach",
        4 => "source-quench",
        5 => "redirect",
        8 => "echo-request",
        9 => "router-advertisement",
        10 => "router-solicitation",
        11 => "time-exceeded",
        12 => "parameter-problem",
        13 => "timestamp-request",
        14 => "timestamp-reply",
        15 => "information-request",
        16 => "information-response",
        17 => "address-mask-request",
        18 => "address-mask-reply",
        30 => "traceroute",
        31 => "datagram-conversion-error",
        32 => "mobile-host-redirect",
        33 => "ipv6-where-are-you",
        34 => "ipv6-i-am-here",
        35 => "mobile-registration-request",
        36 => "mobile-registration-reply",
        37 => "domain-name-request",
        38 => "domain-name-reply",
        39 => "skip",
        40 => "photuris",
        _ => return None,
    })
}

/// Scapy's `icmpcodes`.
fn code_name(ty: u8, code: u8) -> Option<&'static str> {
    Some(match (ty, code) {
        (3, 0) => "network-unreachable",
        (3, 1) => "host-unreachable",
        (3, 2) => "protocol-unreachable",
        (3, 3) => "port-unreachable",
        (3, 4) => "fragmentation-needed",
        (3, 5) => "source-route-failed",
        (3, 6) => "network-unknown",
        (3, 7) => "host-unknown",
        (3, 9) => "network-prohibited",
        (3, 10) => "host-prohibited",
        (3, 11) => "TOS-network-unreachable",
        (3, 12) => "TOS-host-unreachable",
        (3, 13) => "communication-prohibited",
        (3, 14) => "host-precedence-violation",
        (3, 15) => "precedence-cutoff",
        (5, 0) => "network-redirect",
        (5, 1) => "host-redirect",
        (5, 2) => "TOS-network-redirect",
        (5, 3) => "TOS-host-redirect",
        (11, 0) => "ttl-zero-during-transit",
        (11, 1) => "ttl-zero-during-reassembly",
        (12, 0) => "ip-header-bad",
        (12, 1) => "required-option-missing",
        (40, 0) => "bad-spi",
        (40, 1) => "authentication-failed",
        (40, 2) => "decompression-failed",
        (40, 3) => "decryption-failed",
        (40, 4) => "need-authentification",
        (40, 5) => "need-authorization",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check_ip, ipv4, run, truncations};

    const ECHO: &[u8] = &[8, 0, 0xf7, 0xfd, 0x00, 0x01, 0x00, 0x02, b'a', b'b'];

    #[test]
    fn echo_request() {
        let pkt = ipv4(1, ECHO);
        check_ip(
            &pkt,
            &[
                ("icmp.type", "8"),
                ("icmp.code", "0"),
                ("icmp.checksum", "63485"),
                ("icmp.ident", "1"),
                ("icmp.ident_le", "256"),
                ("icmp.seq", "2"),
                ("icmp.seq_le", "512"),
                ("icmp.payload_len", "2"),
                ("payload", "2"),
                ("data.data", "6162"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / ICMP 10.0.0.1 > 10.0.0.2 echo-request 0 / Raw"
        );
    }

    #[test]
    fn port_unreachable_quotes_udp() {
        let udp = [0x8d, 0x10, 0x1f, 0x40, 0x00, 0x08, 0xab, 0xcd];
        let inner = ipv4(17, &udp);
        let mut msg = vec![3, 3, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(&inner[..28]);
        let pkt = ipv4(1, &msg);
        check_ip(
            &pkt,
            &[
                ("icmp.type", "3"),
                ("icmp.code", "3"),
                ("icmp.ident", ""),
                ("ip.src", "10.0.0.1,10.0.0.1"),
                ("udp.srcport", "36112"),
                ("icmp.payload_len", "28"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert!(f.layers().iter().rev().take(2).all(|l| l.quoted));
        assert!(f.anomalies().is_empty(), "{:?}", f.anomalies());
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / ICMP 10.0.0.1 > 10.0.0.2 dest-unreach port-unreachable / IPerror / UDPerror"
        );
    }

    #[test]
    fn redirect_and_mtu() {
        let pkt = ipv4(1, &[5, 1, 0, 0, 192, 168, 0, 1]);
        check_ip(
            &pkt,
            &[("icmp.redir_gw", "192.168.0.1"), ("icmp.payload_len", "0")],
        );
        let pkt = ipv4(1, &[3, 4, 0, 0, 0, 0, 0x05, 0xdc]);
        check_ip(&pkt, &[("icmp.mtu", "1500")]);
    }

    #[test]
    fn every_truncation() {
        truncations(
            1,
            ECHO,
            8,
            &[
                (1, "icmp.type"),
                (2, "icmp.code"),
                (4, "icmp.checksum"),
                (8, "icmp.seq"),
            ],
        );
    }
}
