//! Linux "cooked" captures: SLL (LINKTYPE_LINUX_SLL, 113; 16-byte header) and
//! SLL2 (LINKTYPE_LINUX_SLL2, 276; 20-byte header). Both are Wireshark's `sll`
//! protocol; Scapy calls them `CookedLinux` and `CookedLinuxV2`.
//!
//! The protocol field is an ethertype (`sll.etype`), a Linux protocol number of
//! 1536 or less (`sll.ltype`, table `sll.ltype`; 4 is 802.2 LLC), or for GRE
//! tunnel devices (ARPHRD_IPGRE, 778) a GRE protocol type (`sll.gretype`).

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{Ctx, Dissector, Next, Outcome, Registrar, RegistryError, Value};
use pcapx_core::{LinkType, keys::tables};

use super::wire::{be16, be32, ipv4, u8_at};

const ARPHRD_IPGRE: u16 = 778;
/// "yes, 1536 - that's how Linux does it" (Wireshark's packet-sll.c).
const MAX_LTYPE: u16 = 1536;

pcapx_core::field_table! {
    struct Fields {
        pkttype = ("sll.pkttype", "Packet type", U16, "0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us"),
        hatype = ("sll.hatype", "Link-layer address type", U16, "ARPHRD_* type of the interface (1 Ethernet, 772 loopback, 778 IP GRE)"),
        halen = ("sll.halen", "Link-layer address length", U16, "Length of the source link-layer address"),
        src_eth = ("sll.src.eth", "Source", Mac, "Source link-layer address (6 bytes)"),
        src_ipv4 = ("sll.src.ipv4", "Source", Ipv4, "Source address of a GRE tunnel device (4 bytes)"),
        src_other = ("sll.src.other", "Source", Bytes, "Source link-layer address of another length"),
        unused = ("sll.unused", "Unused", Bytes, "Address bytes past the address length (v1); the reserved field (v2)"),
        ltype = ("sll.ltype", "Protocol", U16, "Linux protocol number (1536 or less), e.g. 4 = 802.2 LLC").hex(),
        gretype = ("sll.gretype", "Protocol", U16, "GRE protocol type (GRE tunnel devices)").hex(),
        etype = ("sll.etype", "Protocol", U16, "EtherType of the payload").hex(),
        ifindex = ("sll.ifindex", "Interface index", U32, "SLL2: index of the capturing interface"),
    }
}

struct Ids {
    f: Fields,
    ethertype: TableId,
    ltype_table: TableId,
}

/// Linux cooked capture v1 and v2 (`sll`).
#[derive(Default)]
pub struct Sll {
    ids: Option<Ids>,
}

impl Dissector for Sll {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("sll", "Linux cooked-mode capture", "CookedLinux")?;
        let f = Fields::register(r)?;
        let ethertype = r.declare_table(tables::ETHERTYPE);
        let ltype_table = r.declare_table(tables::SLL_LTYPE);
        r.bind(tables::LINKTYPE, LinkType::LINUX_SLL);
        r.bind(tables::LINKTYPE, LinkType::LINUX_SLL2);
        self.ids = Some(Ids {
            f,
            ethertype,
            ltype_table,
        });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let v2 = cx.meta().linktype == 276;
        let u16v = |x: Option<u16>| x.map(u64::from);
        let (proto, hatype, hdr) = if v2 {
            let proto = be16(data, 0);
            if let Some(r) = data.get(2..4) {
                cx.add(ids.f.unused, Value::Bytes(r));
            }
            if let Some(i) = be32(data, 4) {
                cx.add(ids.f.ifindex, Value::U64(u64::from(i)));
            }
            let hatype = be16(data, 8);
            if let Some(h) = u16v(hatype) {
                cx.add(ids.f.hatype, Value::U64(h));
            }
            if let Some(p) = u8_at(data, 10) {
                cx.add(ids.f.pkttype, Value::U64(u64::from(p)));
            }
            let halen = u8_at(data, 11).map(u16::from);
            self.address(ids, data, 12, hatype, halen, false, cx);
            (proto, hatype, 20)
        } else {
            if let Some(p) = u16v(be16(data, 0)) {
                cx.add(ids.f.pkttype, Value::U64(p));
            }
            let hatype = be16(data, 2);
            if let Some(h) = u16v(hatype) {
                cx.add(ids.f.hatype, Value::U64(h));
            }
            let halen = be16(data, 4);
            self.address(ids, data, 6, hatype, halen, true, cx);
            (be16(data, 14), hatype, 16)
        };
        let (Some(proto), Some(hatype), true) = (proto, hatype, data.len() >= hdr) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let key = u64::from(proto);
        if proto <= MAX_LTYPE {
            cx.add(ids.f.ltype, Value::U64(key));
            Outcome::next(hdr, Next::Table(ids.ltype_table, key))
        } else if hatype == ARPHRD_IPGRE {
            cx.add(ids.f.gretype, Value::U64(key));
            Outcome::next(hdr, Next::Table(ids.ethertype, key))
        } else {
            cx.add(ids.f.etype, Value::U64(key));
            Outcome::next(hdr, Next::Table(ids.ethertype, key))
        }
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.get(layer, "sll.ifindex").map(|_| "CookedLinuxV2")
    }
}

impl Sll {
    /// The 8-byte source address field at `at`: typed by its length, the rest
    /// (v1 only) as `sll.unused`.
    #[allow(clippy::too_many_arguments)]
    fn address(
        &self,
        ids: &Ids,
        data: &[u8],
        at: usize,
        hatype: Option<u16>,
        halen: Option<u16>,
        v1: bool,
        cx: &mut Ctx<'_>,
    ) {
        let Some(halen) = halen else { return };
        cx.add(ids.f.halen, Value::U64(u64::from(halen)));
        let Some(field) = data.get(at..at + 8) else {
            return;
        };
        let n = usize::from(halen).min(8);
        let addr = &field[..n];
        if let Ok(m) = <[u8; 6]>::try_from(addr) {
            cx.add(ids.f.src_eth, Value::Mac(m));
        } else if n == 4 && hatype == Some(ARPHRD_IPGRE) {
            if let Some(a) = ipv4(addr, 0) {
                cx.add(ids.f.src_ipv4, Value::Ipv4(a));
            }
        } else if n > 0 {
            cx.add(ids.f.src_other, Value::Bytes(addr));
        }
        if v1 && n < 8 {
            cx.add(ids.f.unused, Value::Bytes(&field[n..]));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    const ARP: &str = "0000 0001 0006 cc2de02619990000 0806
        0001 0800 0604 0001 cc2de0261999 c0a81601 000000000000 c0a816a0";

    #[test]
    fn v1_ethernet_arp() {
        let d = hex(ARP);
        check(
            113,
            &d,
            "sll:arp",
            &[
                ("sll.pkttype", "0"),
                ("sll.hatype", "1"),
                ("sll.halen", "6"),
                ("sll.src.eth", "cc:2d:e0:26:19:99"),
                ("sll.unused", "0000"),
                ("sll.etype", "2054"),
                ("sll.ifindex", ""),
            ],
            &[],
        );
        assert_eq!(
            summary(113, &d),
            "CookedLinux / ARP who has 192.168.22.160 says 192.168.22.1"
        );
        check_truncation(
            113,
            &d,
            16,
            &[
                ("sll.pkttype", 2),
                ("sll.hatype", 4),
                ("sll.src.eth", 14),
                ("sll.etype", 16),
            ],
        );
    }

    #[test]
    fn v1_gre_device_and_ltype() {
        let d = hex(
            "0000 030a 0000 0000000000000000 86dd
             60000000 0000 3b 01 00000000000000000000000000000001 00000000000000000000000000000001",
        );
        check(
            113,
            &d,
            "sll:ipv6",
            &[
                ("sll.hatype", "778"),
                ("sll.gretype", "34525"),
                ("sll.unused", "0000000000000000"),
                ("sll.etype", ""),
            ],
            &[],
        );
        let d = hex("0000 0001 0006 aabbccddeeff0000 0004 424203 00");
        check(
            113,
            &d,
            "sll:llc:data",
            &[("sll.ltype", "4"), ("llc.dsap", "66")],
            &["unknown-next"],
        );
    }

    #[test]
    fn v2_loopback_ipv6() {
        let d = hex(
            "86dd 0000 00000001 0304 00 06 000000000000 0000
             60000000 0000 3b 40 00000000000000000000000000000001 00000000000000000000000000000001",
        );
        check(
            276,
            &d,
            "sll:ipv6",
            &[
                ("sll.etype", "34525"),
                ("sll.unused", "0000"),
                ("sll.ifindex", "1"),
                ("sll.hatype", "772"),
                ("sll.pkttype", "0"),
                ("sll.halen", "6"),
                ("sll.src.eth", "00:00:00:00:00:00"),
            ],
            &[],
        );
        assert_eq!(summary(276, &d), "CookedLinuxV2 / ::1 > ::1 (59)");
        check_truncation(
            276,
            &d,
            20,
            &[("sll.ifindex", 8), ("sll.hatype", 10), ("sll.src.eth", 20)],
        );
    }
}
