//! ICMPv6 (RFC 4443) and Neighbor Discovery (RFC 4861), `ip.proto` 58.
//!
//! Error messages (types 1–4) quote the offending IPv6 packet, handed back to
//! the `ethertype` table (0x86dd) as a quoted packet. Echo data and ND options
//! belong to the ICMPv6 layer (as in Scapy, whose echo classes keep the data in
//! a field), so they do not become a `data` layer.

use pcapx_core::{IpProto, keys::tables};
use std::fmt::Write as _;

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{AnomalyId, Ctx, Dissector, Next, Outcome, Registrar, RegistryError, Value};

use super::{arr, be32, len64};

const HDR: usize = 8;

pcapx_core::field_table! {
    struct Fields {
        ty = ("icmpv6.type", "Type", U8, ""),
        code = ("icmpv6.code", "Code", U8, ""),
        checksum = ("icmpv6.checksum", "Checksum", U16, "").hex(),
        mtu = ("icmpv6.mtu", "MTU", U32, "Packet Too Big: the next-hop MTU"),
        echo_id = ("icmpv6.echo.identifier", "Identifier", U16, ""),
        echo_seq = ("icmpv6.echo.sequence_number", "Sequence", U16, ""),
        ns_target = ("icmpv6.nd.ns.target_address", "Target Address", Ipv6, "Neighbor Solicitation target"),
        na_target = ("icmpv6.nd.na.target_address", "Target Address", Ipv6, "Neighbor Advertisement target"),
        opt_type = ("icmpv6.opt.type", "Type", U8, "Type of each Neighbor Discovery option"),
        payload_len = ("icmpv6.payload_len", "Payload Length", U32, "pcapx: bytes after the first 8 bytes of the ICMPv6 message within the IPv6 payload").alias("payload"),
    }
}

/// The ICMPv6 dissector.
pub struct Icmpv6 {
    f: Fields,
    bad_option: AnomalyId,
    ethertype: TableId,
}

impl Icmpv6 {
    pub fn new() -> Icmpv6 {
        Icmpv6 {
            f: Fields::UNSET,
            bad_option: AnomalyId(u32::MAX),
            ethertype: TableId(u32::MAX),
        }
    }

    /// Walk ND options (type, length in 8-byte units).
    fn nd_options(&self, mut opts: &[u8], cx: &mut Ctx<'_>) {
        while let Some(&ty) = opts.first() {
            cx.add(self.f.opt_type, Value::U64(u64::from(ty)));
            let units = opts.get(1).copied().unwrap_or(0);
            let len = usize::from(units) * 8;
            if len == 0 {
                cx.anomaly(self.bad_option);
                return;
            }
            let Some(rest) = opts.get(len..) else {
                cx.short();
                return;
            };
            opts = rest;
        }
    }
}

impl Default for Icmpv6 {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the ND options start, for ND message types.
fn nd_options_at(ty: u8) -> Option<usize> {
    match ty {
        133 => Some(8),
        134 => Some(16),
        135 | 136 => Some(24),
        137 => Some(40),
        _ => None,
    }
}

impl Dissector for Icmpv6 {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("icmpv6", "Internet Control Message Protocol v6", "ICMPv6")?;
        self.f = Fields::register(r)?;
        self.bad_option = r.anomaly(
            "icmpv6.bad-option",
            "a Neighbor Discovery option has length 0",
            false,
        )?;
        self.ethertype = r.declare_table(tables::ETHERTYPE);
        r.bind(tables::IP_PROTO, IpProto::ICMPV6);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some((ty, _code)) = super::icmp_head(data, cx, self.f.ty, self.f.code, self.f.checksum)
        else {
            return Outcome::end(data.len());
        };
        let Some(word) = be32(data, 4) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let message = cx.declared_len().unwrap_or(data.len());
        let payload = message.saturating_sub(HDR);
        match ty {
            2 => cx.add(self.f.mtu, Value::U64(u64::from(word))),
            128 | 129 => {
                cx.add(self.f.echo_id, Value::U64(u64::from(word >> 16)));
                cx.add(self.f.echo_seq, Value::U64(u64::from(word & 0xffff)));
            }
            135 | 136 => {
                let Some(target) = arr::<16>(data, 8) else {
                    cx.add(self.f.payload_len, Value::U64(len64(payload)));
                    cx.short();
                    return Outcome::end(data.len());
                };
                let id = if ty == 135 {
                    self.f.ns_target
                } else {
                    self.f.na_target
                };
                cx.add(id, Value::Ipv6(target));
            }
            _ => {}
        }
        cx.add(self.f.payload_len, Value::U64(len64(payload)));
        if (1..=4).contains(&ty) {
            if data.len() > HDR {
                cx.set_quoted();
                return Outcome {
                    header_len: HDR,
                    payload_len: Some(payload),
                    next: Next::Table(self.ethertype, 0x86dd),
                };
            }
            return Outcome::end(HDR);
        }
        if let Some(at) = nd_options_at(ty) {
            match data.get(at..) {
                Some(opts) => self.nd_options(opts, cx),
                None => cx.short(),
            }
        }
        Outcome {
            header_len: data.len(),
            payload_len: Some(payload),
            next: Next::End,
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        if view.layer(layer).is_none_or(|l| l.quoted) {
            return false;
        }
        let num = |n: &str| view.get(layer, n).and_then(|v| v.as_u64());
        match num("icmpv6.type") {
            Some(ty @ (128 | 129)) => {
                let (Some(id), Some(seq)) = (
                    num("icmpv6.echo.identifier"),
                    num("icmpv6.echo.sequence_number"),
                ) else {
                    return false;
                };
                let name = if ty == 128 { "Request" } else { "Reply" };
                let _ = write!(out, "ICMPv6 Echo {name} (id: {id:#x} seq: {seq:#x})");
                true
            }
            Some(ty @ (135 | 136)) => {
                let (field, name) = if ty == 135 {
                    ("icmpv6.nd.ns.target_address", "Solicitation")
                } else {
                    ("icmpv6.nd.na.target_address", "Advertisement")
                };
                let Some(t) = view.get(layer, field) else {
                    return false;
                };
                let _ = write!(
                    out,
                    "ICMPv6 Neighbor Discovery - Neighbor {name} (tgt: {t})"
                );
                true
            }
            _ => false,
        }
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        let ty = view.get(layer, "icmpv6.type").and_then(|v| v.as_u64())?;
        let long = view
            .get(layer, "icmpv6.payload_len")
            .and_then(|v| v.as_u64())
            .is_some_and(|p| p + 8 >= 28);
        Some(match ty {
            1 => "ICMPv6DestUnreach",
            2 => "ICMPv6PacketTooBig",
            3 => "ICMPv6TimeExceeded",
            4 => "ICMPv6ParamProblem",
            128 => "ICMPv6EchoRequest",
            129 => "ICMPv6EchoReply",
            130 if long => "ICMPv6MLQuery2",
            130 => "ICMPv6MLQuery",
            131 => "ICMPv6MLReport",
            132 => "ICMPv6MLDone",
            133 => "ICMPv6ND_RS",
            134 => "ICMPv6ND_RA",
            135 => "ICMPv6ND_NS",
            136 => "ICMPv6ND_NA",
            137 => "ICMPv6ND_Redirect",
            139 => "ICMPv6NIQuery",
            140 => "ICMPv6NIReply",
            141 => "ICMPv6ND_INDSol",
            142 => "ICMPv6ND_INDAdv",
            143 => "ICMPv6MLReport2",
            144 => "ICMPv6HAADRequest",
            145 => "ICMPv6HAADReply",
            146 => "ICMPv6MPSol",
            147 => "ICMPv6MPAdv",
            151 => "ICMPv6MRD_Advertisement",
            152 => "ICMPv6MRD_Solicitation",
            153 => "ICMPv6MRD_Termination",
            155 => "ICMPv6RPL",
            _ => "ICMPv6Unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{anomalies, check_ip, ipv6, run};

    #[test]
    fn echo_request() {
        let pkt = ipv6(58, &[128, 0, 0x12, 0x34, 0, 1, 0, 3, b'x', b'y']);
        check_ip(
            &pkt,
            &[
                ("icmpv6.type", "128"),
                ("icmpv6.checksum", "4660"),
                ("icmpv6.echo.identifier", "1"),
                ("icmpv6.echo.sequence_number", "3"),
                ("icmpv6.payload_len", "2"),
                ("payload", "2"),
                ("data.data", ""),
            ],
        );
        let (eng, f) = run(&pkt);
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IPv6 / ICMPv6 Echo Request (id: 0x1 seq: 0x3)"
        );
    }

    #[test]
    fn neighbor_solicitation_with_options() {
        let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m.extend_from_slice(&[1, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55]); // src LL addr
        m.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]); // nonce
        let pkt = ipv6(58, &m);
        check_ip(
            &pkt,
            &[
                ("icmpv6.nd.ns.target_address", "fe80::1"),
                ("icmpv6.opt.type", "1,14"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IPv6 / ICMPv6 Neighbor Discovery - Neighbor Solicitation (tgt: fe80::1)"
        );
        // a zero-length option stops the walk with an anomaly
        m.extend_from_slice(&[1, 0]);
        let pkt = ipv6(58, &m);
        let (_, f) = run(&pkt);
        assert!(anomalies(&f).iter().any(|a| a == "icmpv6.bad-option"));
    }

    #[test]
    fn packet_too_big_quotes_ipv6() {
        let inner = ipv6(17, &[0, 53, 0, 54, 0, 8, 0, 0]);
        let mut m = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        m.extend_from_slice(&inner);
        let pkt = ipv6(58, &m);
        check_ip(
            &pkt,
            &[
                ("icmpv6.mtu", "1280"),
                ("ipv6.src", "2001:db8::1,2001:db8::1"),
                ("udp.dstport", "54"),
            ],
        );
        let (eng, f) = run(&pkt);
        let line = eng.summary_line(&f, &pkt, false);
        assert!(
            line.ends_with("/ ICMPv6PacketTooBig / IPerror6 / UDPerror"),
            "{line}"
        );
    }

    #[test]
    fn every_truncation() {
        let mut m = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
        m.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let full = ipv6(58, &m);
        for cut in 0..m.len() {
            let (_, f) = crate::testutil::run_cut(&full[..40 + cut], full.len());
            let names = anomalies(&f);
            assert!(
                names.iter().any(|n| n == "truncated"),
                "cut {cut}: {names:?}"
            );
            let got = crate::testutil::render(&f, "icmpv6.type");
            assert_eq!(got.is_empty(), cut == 0, "cut {cut}");
        }
    }
}
