//! Raw IP link types without a link header: LINKTYPE_RAW (101) and the
//! historical DLT_RAW values 12 and 14. A pseudo layer (`raw`, as Wireshark
//! names it) that reads the version nibble and hands the packet, from its first
//! byte, to IPv4 or IPv6 through the `ethertype` table. It has no fields and no
//! Scapy name (Scapy shows such packets as `IP / …`).
//!
//! LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229) need no pseudo layer: the IPv4
//! and IPv6 dissectors bind those link types directly, as in Wireshark.

use pcapx_core::dissector::TableId;
use pcapx_core::{Ctx, Dissector, Next, Outcome, Registrar, RegistryError};
use pcapx_core::{LinkType, keys::tables};

use super::wire::u8_at;

/// Raw IP (`raw`).
#[derive(Default)]
pub struct RawIp {
    ethertype: Option<TableId>,
}

impl Dissector for RawIp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("raw", "Raw packet data", "")?;
        self.ethertype = Some(r.declare_table(tables::ETHERTYPE));
        r.bind(tables::LINKTYPE, LinkType::RAW);
        r.bind(tables::LINKTYPE, LinkType::RAW_12);
        r.bind(tables::LINKTYPE, LinkType::RAW_14);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ethertype) = self.ethertype else {
            return Outcome::end(0);
        };
        let Some(b0) = u8_at(data, 0) else {
            cx.short();
            return Outcome::end(0);
        };
        match b0 >> 4 {
            4 => Outcome::next(0, Next::Table(ethertype, 0x0800)),
            6 => Outcome::next(0, Next::Table(ethertype, 0x86dd)),
            _ => {
                cx.malformed();
                Outcome::end(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, hex, summary};

    #[test]
    fn dispatches_by_version() {
        let d = hex(
            "60000000 0000 3b 40 00000000000000000000000000000001 00000000000000000000000000000001",
        );
        check(101, &d, "raw:ipv6", &[("ipv6.nxt", "59")], &[]);
        assert_eq!(summary(101, &d), "::1 > ::1 (59)");
        let d = hex("45000014 0001 0000 40 ff 65e8 0a000001 0a000002");
        check(12, &d, "raw:ip", &[("ip.ttl", "64")], &[]);
        check(14, &hex("f0"), "raw:data", &[], &["malformed"]);
        check(101, &[], "raw", &[], &["malformed"]);
    }
}
