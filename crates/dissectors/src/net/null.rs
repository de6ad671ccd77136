//! BSD null/loopback encapsulation: LINKTYPE_NULL (0), a 4-byte address family
//! in the capturing host's byte order, and LINKTYPE_LOOP (108), the same in
//! network byte order. Wireshark's `null` protocol; Scapy's `Loopback`.
//!
//! For linktype 0 the byte order is detected as Wireshark does: a value with
//! any of its upper 16 bits set (read big-endian) was written little-endian.
//! A value above 1500 is an EtherType (`null.type`, very old captures), else
//! an address family (`null.family`): 2 → IPv4; 10, 24, 28, 30 (the AF_INET6
//! values of Linux, NetBSD/OpenBSD, FreeBSD and macOS) → IPv6.

use pcapx_core::dissector::TableId;
use pcapx_core::{Ctx, Dissector, Next, Outcome, Registrar, RegistryError, Value};
use pcapx_core::{LinkType, keys::tables};

use super::wire::be32;

pcapx_core::field_table! {
    struct Fields {
        family = ("null.family", "Family", U32, "Address family (2 IPv4; 10/24/28/30 IPv6, by OS)"),
        typ = ("null.type", "Type", U16, "EtherType, in captures that store one instead of a family").hex(),
    }
}

struct Ids {
    f: Fields,
    ethertype: TableId,
}

/// BSD loopback (`null`).
#[derive(Default)]
pub struct Null {
    ids: Option<Ids>,
}

impl Dissector for Null {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("null", "Null/Loopback", "Loopback")?;
        let f = Fields::register(r)?;
        let ethertype = r.declare_table(tables::ETHERTYPE);
        r.bind(tables::LINKTYPE, LinkType::NULL);
        r.bind(tables::LINKTYPE, LinkType::LOOP);
        self.ids = Some(Ids { f, ethertype });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let Some(mut v) = be32(data, 0) else {
            cx.short();
            return Outcome::end(data.len());
        };
        if cx.meta().linktype == 0 && v & 0xffff_0000 != 0 {
            v = v.swap_bytes();
        }
        if v > 1500 {
            let Ok(t) = u16::try_from(v) else {
                cx.malformed();
                return Outcome::end(4);
            };
            cx.add(ids.f.typ, Value::U64(u64::from(t)));
            return Outcome::next(4, Next::Table(ids.ethertype, u64::from(t)));
        }
        cx.add(ids.f.family, Value::U64(u64::from(v)));
        match v {
            2 => Outcome::next(4, Next::Table(ids.ethertype, 0x0800)),
            10 | 24 | 28 | 30 => Outcome::next(4, Next::Table(ids.ethertype, 0x86dd)),
            _ => Outcome::end(4),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    const V6: &str =
        "60000000 0000 3b 40 00000000000000000000000000000001 00000000000000000000000000000001";

    #[test]
    fn both_byte_orders() {
        // Little-endian AF 30 (macOS) on linktype 0.
        let d = hex(&format!("1e000000 {V6}"));
        check(
            0,
            &d,
            "null:ipv6",
            &[("null.family", "30"), ("null.type", "")],
            &[],
        );
        assert_eq!(summary(0, &d), "Loopback / ::1 > ::1 (59)");
        check_truncation(0, &d, 4, &[("null.family", 4)]);
        // Big-endian AF 24 on linktype 0 and on linktype 108.
        let d = hex(&format!("00000018 {V6}"));
        check(0, &d, "null:ipv6", &[("null.family", "24")], &[]);
        check(108, &d, "null:ipv6", &[("null.family", "24")], &[]);
        // Linktype 108 is always network order: 0x02000000 is no known family.
        let d = hex(&format!("02000000 {V6}"));
        check(108, &d, "null:data", &[("null.type", "")], &["malformed"]);
    }

    #[test]
    fn unknown_family_is_data() {
        let d = hex("07000000 0102");
        check(0, &d, "null:data", &[("null.family", "7")], &[]);
    }
}
