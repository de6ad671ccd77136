//! IEEE 802.2 LLC, with SNAP (RFC 1042) decoded in the same layer as Wireshark
//! does (`llc.oui`, `llc.type`/`llc.pid`). Reached through table `llc` (key 0)
//! from 802.3 length frames and through `sll.ltype` 4 (LINUX_SLL_P_802_2).
//!
//! SNAP with OUI 00-00-00 or 00-00-F8 carries an ethertype (`llc.type`, then the
//! `ethertype` table); Cisco's OUI 00-00-0C carries `llc.cisco_pid`; other OUIs
//! carry `llc.pid`. Non-SNAP payloads go to table `llc.dsap` by DSAP.
//!
//! Scapy shows two layers, `LLC / SNAP`; pcapx has one layer whose summary name
//! is `LLC / SNAP` when a SNAP header is present, so the text matches.

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::keys::tables;
use pcapx_core::{Ctx, Dissector, Next, Outcome, Registrar, RegistryError, Value};

use super::wire::{be16, u8_at};

const SAP_SNAP: u8 = 0xaa;
const OUI_CISCO: u32 = 0x00_000c;
const OUI_CISCO_90: u32 = 0x00_00f8;

pcapx_core::field_table! {
    struct Fields {
        dsap = ("llc.dsap", "DSAP", U8, "Destination service access point").hex(),
        ssap = ("llc.ssap", "SSAP", U8, "Source service access point").hex(),
        control = ("llc.control", "Control", U16, "Control field (1 byte for U frames, 2 for I and S frames)").hex(),
        oui = ("llc.oui", "Organization Code", U32, "SNAP organizationally unique identifier (24 bits)"),
        typ = ("llc.type", "Type", U16, "SNAP protocol id as an EtherType (OUI 00-00-00 / 00-00-F8)").hex(),
        pid = ("llc.pid", "Protocol ID", U16, "SNAP protocol id (other OUIs)").hex(),
        cisco_pid = ("llc.cisco_pid", "PID", U16, "SNAP protocol id under Cisco's OUI 00-00-0C (CDP 0x2000, DTP 0x2004, ...)").hex(),
    }
}

struct Ids {
    f: Fields,
    ethertype: TableId,
    by_dsap: TableId,
}

/// 802.2 LLC and SNAP (`llc`).
#[derive(Default)]
pub struct Llc {
    ids: Option<Ids>,
}

impl Dissector for Llc {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("llc", "Logical-Link Control", "LLC")?;
        let f = Fields::register(r)?;
        let ethertype = r.declare_table(tables::ETHERTYPE);
        let by_dsap = r.declare_table(tables::LLC_DSAP);
        r.bind(tables::LLC, 0u64); // 802.3 frames with an LLC header
        r.bind(tables::SLL_LTYPE, 4u64); // LINUX_SLL_P_802_2
        self.ids = Some(Ids {
            f,
            ethertype,
            by_dsap,
        });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let (Some(dsap), Some(ssap), Some(c0)) = (u8_at(data, 0), u8_at(data, 1), u8_at(data, 2))
        else {
            if let Some(d) = u8_at(data, 0) {
                cx.add(ids.f.dsap, Value::U64(u64::from(d)));
            }
            if let Some(s) = u8_at(data, 1) {
                cx.add(ids.f.ssap, Value::U64(u64::from(s)));
            }
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(ids.f.dsap, Value::U64(u64::from(dsap)));
        cx.add(ids.f.ssap, Value::U64(u64::from(ssap)));
        // U frames have a 1-byte control field; I and S frames use 2 bytes.
        let (control, hlen) = if c0 & 0x03 == 0x03 {
            (u16::from(c0), 3)
        } else {
            match be16(data, 2) {
                Some(c) => (c.swap_bytes(), 4),
                None => {
                    cx.short();
                    return Outcome::end(data.len());
                }
            }
        };
        cx.add(ids.f.control, Value::U64(u64::from(control)));
        if !(dsap == SAP_SNAP && ssap == SAP_SNAP && control == 0x03) {
            return Outcome::next(hlen, Next::Table(ids.by_dsap, u64::from(dsap)));
        }
        let oui = data
            .get(3..6)
            .map(|b| u32::from_be_bytes([0, b[0], b[1], b[2]]));
        let Some(oui) = oui else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(ids.f.oui, Value::U64(u64::from(oui)));
        let Some(pid) = be16(data, 6) else {
            cx.short();
            return Outcome::end(data.len());
        };
        match oui {
            0 | OUI_CISCO_90 => {
                cx.add(ids.f.typ, Value::U64(u64::from(pid)));
                Outcome::next(8, Next::Table(ids.ethertype, u64::from(pid)))
            }
            OUI_CISCO => {
                cx.add(ids.f.cisco_pid, Value::U64(u64::from(pid)));
                Outcome::end(8)
            }
            _ => {
                cx.add(ids.f.pid, Value::U64(u64::from(pid)));
                Outcome::end(8)
            }
        }
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.get(layer, "llc.oui").map(|_| "LLC / SNAP")
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    #[test]
    fn snap_cisco_and_ethertype() {
        // 802.3 / LLC / SNAP Cisco CDP (pid 0x2000).
        let d = hex("01000ccccccc aabbcc000310 000c aaaa03 00000c 2000 0102 0304");
        check(
            1,
            &d,
            "eth:llc:data",
            &[
                ("llc.dsap", "170"),
                ("llc.oui", "12"),
                ("llc.cisco_pid", "8192"),
                ("llc.type", ""),
                ("data.len", "4"),
            ],
            &[],
        );
        assert_eq!(
            summary(1, &d),
            "802.3 aa:bb:cc:00:03:10 > 01:00:0c:cc:cc:cc / LLC / SNAP / Raw"
        );
        check_truncation(
            1,
            &d,
            22,
            &[
                ("llc.dsap", 15),
                ("llc.ssap", 16),
                ("llc.control", 17),
                ("llc.oui", 20),
                ("llc.cisco_pid", 22),
            ],
        );
        // RFC 1042 encapsulated ARP.
        let d = hex("ffffffffffff 000000000001 0024 aaaa03 000000 0806
             0001 0800 0604 0001 000000000001 0a000001 000000000000 0a000002");
        check(
            1,
            &d,
            "eth:llc:arp",
            &[("llc.type", "2054"), ("arp.opcode", "1"), ("llc.pid", "")],
            &[],
        );
    }

    #[test]
    fn i_frame_has_two_byte_control() {
        let d = hex("0180c2000000 aabbcc000310 0006 f0f0 0401 abcd");
        check(
            1,
            &d,
            "eth:llc:data",
            &[("llc.control", "260"), ("data.len", "2")],
            &["unknown-next"],
        );
    }
}
