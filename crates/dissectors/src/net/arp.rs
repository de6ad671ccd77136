//! ARP (ethertype 0x0806) and RARP (0x8035), RFC 826 / RFC 903.
//!
//! Addresses are typed (`arp.src.hw_mac`, `arp.src.proto_ipv4`) when the
//! hardware type is Ethernet/IEEE 802 with 6-byte addresses and the protocol is
//! IPv4 with 4-byte addresses, as Wireshark does; other sizes give the raw
//! `arp.src.hw` / `arp.src.proto` bytes. What follows the addresses is padding.

use pcapx_core::{EtherType, keys::tables};
use std::fmt::Write;

use pcapx_core::dissector::PacketView;
use pcapx_core::{
    Ctx, Dissector, FieldDef, FieldId, FieldType, Outcome, Registrar, RegistryError, Value,
};

use super::wire::{be16, u8_at};

const HDR: usize = 8;

struct Ids {
    hw_type: FieldId,
    proto_type: FieldId,
    hw_size: FieldId,
    proto_size: FieldId,
    opcode: FieldId,
    src_hw_mac: FieldId,
    src_hw: FieldId,
    src_ipv4: FieldId,
    src_proto: FieldId,
    dst_hw_mac: FieldId,
    dst_hw: FieldId,
    dst_ipv4: FieldId,
    dst_proto: FieldId,
}

/// ARP / RARP (`arp`).
#[derive(Default)]
pub struct Arp {
    ids: Option<Ids>,
}

impl Dissector for Arp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("arp", "Address Resolution Protocol", "ARP")?;
        let mut f =
            |n: &str, d: &str, t: FieldType, desc: &str| r.field(FieldDef::new(n, d, t, desc));
        let hw_type = f(
            "arp.hw.type",
            "Hardware type",
            FieldType::U16,
            "Hardware type (1 = Ethernet)",
        )?;
        let proto_type = r.field(
            FieldDef::new(
                "arp.proto.type",
                "Protocol type",
                FieldType::U16,
                "Protocol type (an EtherType; 0x0800 = IPv4)",
            )
            .hex(),
        )?;
        let mut f =
            |n: &str, d: &str, t: FieldType, desc: &str| r.field(FieldDef::new(n, d, t, desc));
        let hw_size = f(
            "arp.hw.size",
            "Hardware size",
            FieldType::U8,
            "Hardware address length",
        )?;
        let proto_size = f(
            "arp.proto.size",
            "Protocol size",
            FieldType::U8,
            "Protocol address length",
        )?;
        let opcode = f(
            "arp.opcode",
            "Opcode",
            FieldType::U16,
            "1 request, 2 reply, 3 RARP request, 4 RARP reply, 8/9 InARP",
        )?;
        let src_hw_mac = f(
            "arp.src.hw_mac",
            "Sender MAC address",
            FieldType::Mac,
            "Sender hardware address",
        )?;
        let src_hw = f(
            "arp.src.hw",
            "Sender hardware address",
            FieldType::Bytes,
            "Sender hardware address (not a 6-byte Ethernet address)",
        )?;
        let src_ipv4 = f(
            "arp.src.proto_ipv4",
            "Sender IP address",
            FieldType::Ipv4,
            "Sender IPv4 address",
        )?;
        let src_proto = f(
            "arp.src.proto",
            "Sender protocol address",
            FieldType::Bytes,
            "Sender protocol address (not a 4-byte IPv4 address)",
        )?;
        let dst_hw_mac = f(
            "arp.dst.hw_mac",
            "Target MAC address",
            FieldType::Mac,
            "Target hardware address",
        )?;
        let dst_hw = f(
            "arp.dst.hw",
            "Target hardware address",
            FieldType::Bytes,
            "Target hardware address (not a 6-byte Ethernet address)",
        )?;
        let dst_ipv4 = f(
            "arp.dst.proto_ipv4",
            "Target IP address",
            FieldType::Ipv4,
            "Target IPv4 address",
        )?;
        let dst_proto = f(
            "arp.dst.proto",
            "Target protocol address",
            FieldType::Bytes,
            "Target protocol address (not a 4-byte IPv4 address)",
        )?;
        r.bind(tables::ETHERTYPE, EtherType::ARP);
        r.bind(tables::ETHERTYPE, EtherType::RARP);
        self.ids = Some(Ids {
            hw_type,
            proto_type,
            hw_size,
            proto_size,
            opcode,
            src_hw_mac,
            src_hw,
            src_ipv4,
            src_proto,
            dst_hw_mac,
            dst_hw,
            dst_ipv4,
            dst_proto,
        });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let hrd = be16(data, 0);
        let pro = be16(data, 2);
        let hln = u8_at(data, 4);
        let pln = u8_at(data, 5);
        let op = be16(data, 6);
        for (id, v) in [
            (ids.hw_type, hrd.map(u64::from)),
            (ids.proto_type, pro.map(u64::from)),
            (ids.hw_size, hln.map(u64::from)),
            (ids.proto_size, pln.map(u64::from)),
            (ids.opcode, op.map(u64::from)),
        ] {
            match v {
                Some(v) => cx.add(id, Value::U64(v)),
                None => {
                    cx.short();
                    return Outcome::end(data.len());
                }
            }
        }
        let (Some(hrd), Some(pro), Some(hln), Some(pln)) = (hrd, pro, hln, pln) else {
            return Outcome::end(data.len());
        };
        let (hln, pln) = (usize::from(hln), usize::from(pln));
        // Wireshark's ARP_HW_IS_ETHER and ARP_PRO_IS_IPv4 (0x00cc: AX.25 IP).
        let is_mac = (hrd == 1 || hrd == 6) && hln == 6;
        let is_ipv4 = (pro == 0x0800 || pro == 0x00cc) && pln == 4;
        let mut at = HDR;
        let hw = |cx: &mut Ctx<'_>, b: &[u8], mac_id: FieldId, raw_id: FieldId| match b.try_into() {
            Ok(m) if is_mac => cx.add(mac_id, Value::Mac(m)),
            _ => cx.add(raw_id, Value::Bytes(b)),
        };
        let pr = |cx: &mut Ctx<'_>, b: &[u8], v4_id: FieldId, raw_id: FieldId| match b.try_into() {
            Ok(a) if is_ipv4 => cx.add(v4_id, Value::Ipv4(a)),
            _ => cx.add(raw_id, Value::Bytes(b)),
        };
        for (n, is_hw, typed, raw) in [
            (hln, true, ids.src_hw_mac, ids.src_hw),
            (pln, false, ids.src_ipv4, ids.src_proto),
            (hln, true, ids.dst_hw_mac, ids.dst_hw),
            (pln, false, ids.dst_ipv4, ids.dst_proto),
        ] {
            let Some(b) = data.get(at..at + n) else {
                cx.short();
                return Outcome::end(data.len());
            };
            if is_hw {
                hw(cx, b, typed, raw);
            } else {
                pr(cx, b, typed, raw);
            }
            at += n;
        }
        Outcome {
            header_len: at,
            payload_len: Some(0),
            next: pcapx_core::Next::End,
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(op) = view.get(layer, "arp.opcode").and_then(|v| v.as_u64()) else {
            return false;
        };
        let addr = |typed: &str, raw: &str| view.get(layer, typed).or_else(|| view.get(layer, raw));
        let psrc = addr("arp.src.proto_ipv4", "arp.src.proto");
        let pdst = addr("arp.dst.proto_ipv4", "arp.dst.proto");
        let hwsrc = addr("arp.src.hw_mac", "arp.src.hw");
        let _ = match op {
            1 => write!(out, "ARP who has {} says {}", Shown(pdst), Shown(psrc)),
            2 => write!(out, "ARP is at {} says {}", Shown(hwsrc), Shown(psrc)),
            _ => {
                let name = match op {
                    3 => "RARP-req",
                    4 => "RARP-rep",
                    5 => "Dyn-RARP-req",
                    6 => "Dyn-RAR-rep",
                    7 => "Dyn-RARP-err",
                    8 => "InARP-req",
                    9 => "InARP-rep",
                    _ => "",
                };
                if name.is_empty() {
                    write!(out, "ARP {op} {} > {}", Shown(psrc), Shown(pdst))
                } else {
                    write!(out, "ARP {name} {} > {}", Shown(psrc), Shown(pdst))
                }
            }
        };
        true
    }
}

/// A value as the summary prints it; nothing when absent (no allocation).
struct Shown<'a>(Option<pcapx_core::Value<'a>>);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    const REPLY: &str = "f8eda5c0a4f2 f8eda5c0a4f1 0806
        0001 0800 06 04 0002 f8eda5c0a4f1 0a000001 f8eda5c0a4f2 0a000002
        000000000000000000000000000000000000";

    #[test]
    fn reply_with_padding() {
        let d = hex(REPLY);
        check(
            1,
            &d,
            "eth:arp:padding",
            &[
                ("arp.hw.type", "1"),
                ("arp.proto.type", "2048"),
                ("arp.hw.size", "6"),
                ("arp.proto.size", "4"),
                ("arp.opcode", "2"),
                ("arp.src.hw_mac", "f8:ed:a5:c0:a4:f1"),
                ("arp.src.proto_ipv4", "10.0.0.1"),
                ("arp.dst.hw_mac", "f8:ed:a5:c0:a4:f2"),
                ("arp.dst.proto_ipv4", "10.0.0.2"),
                ("arp.src.hw", ""),
                ("padding.len", "18"),
            ],
            &[],
        );
        assert_eq!(
            summary(1, &d),
            "Ether / ARP is at f8:ed:a5:c0:a4:f1 says 10.0.0.1 / Padding"
        );
        check_truncation(
            1,
            &d,
            42,
            &[
                ("arp.hw.type", 16),
                ("arp.opcode", 22),
                ("arp.src.hw_mac", 28),
                ("arp.src.proto_ipv4", 32),
                ("arp.dst.hw_mac", 38),
                ("arp.dst.proto_ipv4", 42),
            ],
        );
    }

    #[test]
    fn odd_sizes_are_bytes_and_rarp() {
        // Unknown hardware type 0x3030 with 14-byte addresses (arp-too-long-tha).
        let d = hex("ffffffffffff 000000000001 0806 3030 0800 0e 04 0001
             3030303030303030303030303030 0a000001
             3030303030303030303030303030 0a000002");
        check(
            1,
            &d,
            "eth:arp",
            &[
                ("arp.hw.size", "14"),
                ("arp.src.hw", "3030303030303030303030303030"),
                ("arp.src.hw_mac", ""),
                ("arp.src.proto_ipv4", "10.0.0.1"),
            ],
            &[],
        );
        let d = hex("ffffffffffff 000000000001 8035 0001 0800 06 04 0003
             000000000001 00000000 000000000001 00000000");
        check(1, &d, "eth:arp", &[("arp.opcode", "3")], &[]);
        assert_eq!(summary(1, &d), "Ether / ARP RARP-req 0.0.0.0 > 0.0.0.0");
    }
}
