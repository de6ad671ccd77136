//! IEEE 802.1Q VLAN tags (ethertypes 0x8100 and the pre-standard QinQ 0x9100),
//! any depth: each tag is one layer, as in Wireshark (`vlan`) and Scapy (`Dot1Q`).
//! The S-tag of 802.1ad (0x88a8) is its own protocol, [`super::Ieee8021ad`].

use pcapx_core::{EtherType, keys::tables};
use std::fmt::Write;

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{Ctx, Dissector, FieldId, Outcome, Registrar, RegistryError, Value};

use super::eth::length_or_type;
use super::names::write_ether_type;
use super::wire::be16;

pub(crate) struct TagIds {
    pub(crate) priority: FieldId,
    pub(crate) dei: FieldId,
    pub(crate) dei_bool: bool,
    pub(crate) id: FieldId,
    pub(crate) etype: FieldId,
    pub(crate) len: FieldId,
    pub(crate) ethertype: TableId,
    pub(crate) llc: TableId,
}

/// Decode one 4-byte tag: TCI (priority, DEI, VLAN id) and the inner type/length.
pub(crate) fn dissect_tag(ids: &TagIds, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
    let Some(tci) = be16(data, 0) else {
        cx.short();
        return Outcome::end(data.len());
    };
    cx.add(ids.priority, Value::U64(u64::from(tci >> 13)));
    let dei = (tci >> 12) & 1 == 1;
    cx.add(
        ids.dei,
        if ids.dei_bool {
            Value::Bool(dei)
        } else {
            Value::U64(u64::from(dei))
        },
    );
    cx.add(ids.id, Value::U64(u64::from(tci & 0x0fff)));
    let Some(lt) = be16(data, 2) else {
        cx.short();
        return Outcome::end(data.len());
    };
    length_or_type(
        cx,
        data.len() - 4,
        lt,
        ids.etype,
        ids.len,
        None,
        4,
        ids.ethertype,
        ids.llc,
    )
}

/// Scapy's `Dot1Q.mysummary` (inherited by `Dot1AD`).
pub(crate) fn tag_summary(
    view: &PacketView<'_>,
    layer: usize,
    out: &mut String,
    id: &str,
    etype: &str,
    len: &str,
) -> bool {
    let Some(vid) = view.get(layer, id) else {
        return false;
    };
    let t = view
        .get(layer, etype)
        .or_else(|| view.get(layer, len))
        .and_then(|v| v.as_u64())
        .and_then(|v| u16::try_from(v).ok());
    let below_ether = layer
        .checked_sub(1)
        .filter(|&l| view.proto_name(l) == Some("eth") && view.get(l, "eth.type").is_some());
    out.push_str("802.1q ");
    if let Some(l) = below_ether
        && let (Some(s), Some(d)) = (view.get(l, "eth.src"), view.get(l, "eth.dst"))
    {
        let _ = write!(out, "{s} > {d} ");
    }
    out.push('(');
    match t {
        Some(t) => write_ether_type(out, t),
        None => out.push('?'),
    }
    let _ = write!(out, ") vlan {vid}");
    true
}

pcapx_core::field_table! {
    struct Fields {
        priority = ("vlan.priority", "Priority", U16, "Priority code point (PCP), 3 bits"),
        dei = ("vlan.dei", "DEI", Bool, "Drop eligible indicator (formerly CFI)"),
        id = ("vlan.id", "ID", U16, "VLAN identifier, 12 bits"),
        etype = ("vlan.etype", "Type", U16, "EtherType of the tagged payload").hex(),
        len = ("vlan.len", "Length", U16, "802.3 length of the tagged LLC payload"),
    }
}

/// 802.1Q tag (`vlan`).
#[derive(Default)]
pub struct Vlan {
    ids: Option<TagIds>,
}

impl Dissector for Vlan {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("vlan", "802.1Q Virtual LAN", "Dot1Q")?;
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
        r.bind(tables::ETHERTYPE, EtherType::VLAN);
        r.bind(tables::ETHERTYPE, EtherType::QINQ_OLD);
        self.ids = Some(TagIds {
            priority,
            dei,
            dei_bool: true,
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
        tag_summary(view, layer, out, "vlan.id", "vlan.etype", "vlan.len")
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    #[test]
    fn three_stacked_tags() {
        // VLAN 30 / 20 / 10 (PCP 5, DEI on the first) around IPv4.
        let d = hex(
            "000102030405 0a0b0c0d0e0f 8100 b01e 8100 0014 8100 000a 0800
             4500 0014 0001 0000 40ff 0000 0a000001 0a000002",
        );
        check(
            1,
            &d,
            "eth:vlan:vlan:vlan:ip",
            &[
                ("vlan.id", "30,20,10"),
                ("vlan.priority", "5,0,0"),
                ("vlan.dei", "1,0,0"),
                ("vlan.etype", "33024,33024,2048"),
                ("ip.src", "10.0.0.1"),
            ],
            &[],
        );
        check_truncation(1, &d, 26, &[("vlan.id", 16), ("vlan.etype", 18)]);
    }

    #[test]
    fn summaries_like_scapy() {
        // Deepest tag with a length: Ether / 802.1q … (0x32) vlan 1213 / LLC / Raw
        let d = hex("01000ccccccd aabbcc000310 8100 04bd 0032 424203 00000000");
        assert_eq!(
            summary(1, &d),
            "Ether / 802.1q aa:bb:cc:00:03:10 > 01:00:0c:cc:cc:cd (0x32) vlan 1213 / LLC / Raw"
        );
        let d = hex("01000ccccccd aabbcc000310 8100 04bd 9000 00000000");
        assert_eq!(
            summary(1, &d),
            "Ether / 802.1q aa:bb:cc:00:03:10 > 01:00:0c:cc:cc:cd (0x9000) vlan 1213 / Raw"
        );
    }
}
