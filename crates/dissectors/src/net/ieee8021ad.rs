//! IEEE 802.1ad service tag (S-tag, ethertype 0x88a8). Wireshark decodes it as
//! its own protocol `ieee8021ad` (its type field is `ieee8021ah.etype` there;
//! pcapx names it `ieee8021ad.etype`); Scapy calls the layer `Dot1AD`.

use pcapx_core::dissector::PacketView;
use pcapx_core::{Ctx, Dissector, Outcome, Registrar, RegistryError};
use pcapx_core::{EtherType, keys::tables};

use super::vlan::{TagIds, dissect_tag, tag_summary};

pcapx_core::field_table! {
    struct Fields {
        priority = ("ieee8021ad.priority", "Priority", U16, "Priority code point (PCP), 3 bits"),
        dei = ("ieee8021ad.dei", "DEI", U16, "Drop eligible indicator (0 or 1; an integer as in Wireshark)"),
        id = ("ieee8021ad.id", "ID", U16, "Service VLAN identifier, 12 bits"),
        etype = ("ieee8021ad.etype", "Type", U16, "pcapx: EtherType after the S-tag (tshark shows it as ieee8021ah.etype)").hex(),
        len = ("ieee8021ad.len", "Length", U16, "pcapx: 802.3 length after the S-tag, when the value is 1500 or less"),
    }
}

/// 802.1ad S-tag (`ieee8021ad`).
#[derive(Default)]
pub struct Ieee8021ad {
    ids: Option<TagIds>,
}

impl Dissector for Ieee8021ad {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ieee8021ad", "IEEE 802.1ad", "Dot1AD")?;
        r.length_field("802.3 length");
        let Fields {
            priority,
            dei,
            id,
            etype,
            len,
        } = Fields::register(r)?;
        let ethertype = r.declare_table(tables::ETHERTYPE);
        let llc = r.declare_table(tables::LLC);
        r.bind(tables::ETHERTYPE, EtherType::QINQ);
        self.ids = Some(TagIds {
            priority,
            dei,
            dei_bool: false,
            id,
            etype,
            len,
            ethertype,
            llc,
        });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        match &self.ids {
            Some(ids) => dissect_tag(ids, data, cx),
            None => Outcome::end(0),
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        tag_summary(
            view,
            layer,
            out,
            "ieee8021ad.id",
            "ieee8021ad.etype",
            "ieee8021ad.len",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    #[test]
    fn qinq_arp() {
        // From vlan/802.1ad_QinQ.pcap, frame 1 (S-tag 200, C-tag 2001, ARP request).
        let d = hex("ffffffffffff 0020d25afb3f 88a8 00c8 8100 07d1 0806
             0001 0800 0604 0001 0020d25afb3f ac154f61 000000000000 ac154f64
             00000000000000000000 00000000");
        check(
            1,
            &d,
            "eth:ieee8021ad:vlan:arp:padding",
            &[
                ("ieee8021ad.id", "200"),
                ("ieee8021ad.priority", "0"),
                ("ieee8021ad.dei", "0"),
                ("ieee8021ad.etype", "33024"),
                ("vlan.id", "2001"),
                ("vlan.etype", "2054"),
                ("arp.dst.proto_ipv4", "172.21.79.100"),
                ("padding.len", "14"),
            ],
            &[],
        );
        assert_eq!(
            summary(1, &d),
            "Ether / Dot1AD / Dot1Q / ARP who has 172.21.79.100 says 172.21.79.97 / Padding"
        );
        check_truncation(1, &d, 46, &[("ieee8021ad.id", 16), ("vlan.id", 20)]);
    }
}
