//! IPv6 (RFC 8200): ethertype 0x86dd, LINKTYPE_IPV6 (229), IP protocol 41.
//!
//! Extension headers are separate dissectors in [`super::ipv6ext`], bound in
//! `ip.proto` like any upper layer. The `ipv6.opt.*` fields (hop-by-hop and
//! destination options) are owned by this protocol, as in Wireshark, and are
//! shared with those dissectors through [`OptIds`].
//!
//! `payload_len` is the payload length, except that a payload length of 0 with
//! a hop-by-hop header next leaves the length to the jumbo payload option.

use pcapx_core::{EtherType, IpProto, LinkType, keys::tables};
use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{Ctx, Dissector, FieldId, Next, Outcome, Registrar, RegistryError, Value};

use super::wire::{be16, be32, ipv6, u8_at};

const HDR: usize = 40;
/// IPv6 "No Next Header".
pub(crate) const NO_NEXT: u8 = 59;

/// Ids of the option fields shared by hop-by-hop and destination options.
#[derive(Copy, Clone, Debug)]
pub struct OptIds {
    pub(crate) typ: FieldId,
    pub(crate) length: FieldId,
    pub(crate) jumbo: FieldId,
}

pcapx_core::field_table! {
    struct Fields {
        version = ("ipv6.version", "Version", U8, "IP version (6)"),
        tclass = ("ipv6.tclass", "Traffic Class", U32, "Traffic class (DSCP and ECN)").hex(),
        dscp = ("ipv6.tclass.dscp", "Differentiated Services Codepoint", U32, "DSCP, upper 6 bits of the traffic class"),
        ecn = ("ipv6.tclass.ecn", "Explicit Congestion Notification", U32, "ECN, lower 2 bits of the traffic class"),
        flow = ("ipv6.flow", "Flow Label", U32, "Flow label (20 bits)").hex_digits(6),
        plen = ("ipv6.plen", "Payload Length", U16, "Length of everything after the 40-byte header"),
        nxt = ("ipv6.nxt", "Next Header", U8, "Protocol of the next header"),
        hlim = ("ipv6.hlim", "Hop Limit", U8, "Hop limit"),
        src = ("ipv6.src", "Source Address", Ipv6, "Source address"),
        dst = ("ipv6.dst", "Destination Address", Ipv6, "Destination address"),
        addr = ("ipv6.addr", "Source or Destination Address", Ipv6, "Both addresses (source, then destination)"),
        opt_type = ("ipv6.opt.type", "Type", U8, "Hop-by-hop / destination option type, one per option").hex(),
        opt_length = ("ipv6.opt.length", "Length", U8, "Option data length (not for Pad1)"),
        opt_jumbo = ("ipv6.opt.jumbo", "Payload Length", U32, "Jumbo payload option: length after the IPv6 header"),
    }
}

struct Ids {
    f: Fields,
    ip_proto: TableId,
}

/// IPv6 (`ipv6`).
pub struct Ipv6 {
    ids: Option<Ids>,
    opts: Arc<OnceLock<OptIds>>,
    ip_version: Arc<OnceLock<FieldId>>,
}

impl Ipv6 {
    /// `opts` is filled with the `ipv6.opt.*` field ids at registration;
    /// `ip_version` holds `ip.version` (registered by IPv4) when IPv4 is
    /// registered first: IPv6 sets it too, as Wireshark does, so the `version`
    /// alias works for both.
    pub fn new(opts: Arc<OnceLock<OptIds>>, ip_version: Arc<OnceLock<FieldId>>) -> Ipv6 {
        Ipv6 {
            ids: None,
            opts,
            ip_version,
        }
    }
}

impl Dissector for Ipv6 {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ipv6", "Internet Protocol Version 6", "IPv6")?;
        r.length_field("IPv6 payload length");
        // `ip.version`, as Wireshark sets it for IPv6 too.
        r.also_fills("ip");
        let f = Fields::register(r)?;
        let _ = self.opts.set(OptIds {
            typ: f.opt_type,
            length: f.opt_length,
            jumbo: f.opt_jumbo,
        });
        let ip_proto = r.declare_table(tables::IP_PROTO);
        r.bind(tables::ETHERTYPE, EtherType::IPV6);
        r.bind(tables::LINKTYPE, LinkType::IPV6);
        r.bind(tables::IP_PROTO, IpProto::IPV6);
        self.ids = Some(Ids { f, ip_proto });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let Some(b0) = u8_at(data, 0) else {
            cx.short();
            return Outcome::end(0);
        };
        let version = b0 >> 4;
        if let Some(&v) = self.ip_version.get() {
            cx.add(v, Value::U64(u64::from(version)));
        }
        cx.add(ids.f.version, Value::U64(u64::from(version)));
        if version != 6 {
            cx.malformed();
            return Outcome::end(0);
        }
        if let Some(w) = be32(data, 0) {
            let tc = (w >> 20) & 0xff;
            cx.add(ids.f.tclass, Value::U64(u64::from(tc)));
            cx.add(ids.f.dscp, Value::U64(u64::from(tc >> 2)));
            cx.add(ids.f.ecn, Value::U64(u64::from(tc & 3)));
            cx.add(ids.f.flow, Value::U64(u64::from(w & 0x000f_ffff)));
        }
        let plen = be16(data, 4);
        if let Some(p) = plen {
            cx.add(ids.f.plen, Value::U64(u64::from(p)));
        }
        let nxt = u8_at(data, 6);
        if let Some(n) = nxt {
            cx.add(ids.f.nxt, Value::U64(u64::from(n)));
        }
        if let Some(h) = u8_at(data, 7) {
            cx.add(ids.f.hlim, Value::U64(u64::from(h)));
        }
        if let Some(a) = ipv6(data, 8) {
            cx.add(ids.f.src, Value::Ipv6(a));
            cx.add(ids.f.addr, Value::Ipv6(a));
        }
        if let Some(a) = ipv6(data, 24) {
            cx.add(ids.f.dst, Value::Ipv6(a));
            cx.add(ids.f.addr, Value::Ipv6(a));
        }
        let (Some(plen), Some(nxt), true) = (plen, nxt, data.len() >= HDR) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let plen = usize::from(plen);
        let payload_len = if plen == 0 && nxt == 0 {
            None
        } else {
            if plen > data.len() - HDR {
                cx.short();
            }
            Some(plen)
        };
        Outcome {
            header_len: HDR,
            payload_len,
            next: if nxt == NO_NEXT {
                Next::End
            } else {
                Next::Table(ids.ip_proto, u64::from(nxt))
            },
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        if view.layer(layer).is_some_and(|l| l.quoted) {
            return false;
        }
        let (Some(src), Some(dst), Some(nh)) = (
            view.get(layer, "ipv6.src"),
            view.get(layer, "ipv6.dst"),
            view.get(layer, "ipv6.nxt"),
        ) else {
            return false;
        };
        let _ = write!(out, "{src} > {dst} ({nh})");
        true
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.layer(layer).filter(|l| l.quoted).map(|_| "IPerror6")
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    // IPv6 / No Next Header with 4 bytes of payload, then 2 of padding.
    const NONXT: &str = "6a312345 0004 3b 40
        20050000000000000000000000000001 20080000000000000000000000000001
        01020304 eeee";

    #[test]
    fn fixed_header() {
        let d = hex(NONXT);
        check(
            229,
            &d,
            "ipv6:data:padding",
            &[
                ("ipv6.version", "6"),
                ("ip.version", "6"),
                ("ipv6.tclass", "163"),
                ("ipv6.tclass.dscp", "40"),
                ("ipv6.tclass.ecn", "3"),
                ("ipv6.flow", "74565"),
                ("ipv6.plen", "4"),
                ("ipv6.nxt", "59"),
                ("ipv6.hlim", "64"),
                ("ipv6.src", "2005::1"),
                ("ipv6.dst", "2008::1"),
                ("ipv6.addr", "2005::1,2008::1"),
                ("data.len", "4"),
                ("padding.len", "2"),
            ],
            &[],
        );
        assert_eq!(summary(229, &d), "2005::1 > 2008::1 (59) / Raw / Padding");
        check_truncation(
            229,
            &d,
            40,
            &[
                ("ipv6.version", 1),
                ("ipv6.flow", 4),
                ("ipv6.plen", 6),
                ("ipv6.nxt", 7),
                ("ipv6.hlim", 8),
                ("ipv6.src", 24),
                ("ipv6.dst", 40),
            ],
        );
    }

    #[test]
    fn bad_version_and_short_payload() {
        let d = hex(
            "50000000 0000 3b 40 00000000000000000000000000000001 00000000000000000000000000000002",
        );
        check(
            229,
            &d,
            "ipv6:data",
            &[("ipv6.version", "5"), ("ipv6.src", "")],
            &["malformed"],
        );
        let d = hex(
            "60000000 0010 3b 40 00000000000000000000000000000001 00000000000000000000000000000002 00",
        );
        check(229, &d, "ipv6:data", &[("ipv6.plen", "16")], &["malformed"]);
    }
}
