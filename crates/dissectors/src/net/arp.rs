//! ARP (ethertype 0x0806) and RARP (0x8035), RFC 826 / RFC 903.
//!
//! Addresses are typed (`arp.src.hw_mac`, `arp.src.proto_ipv4`) when the
//! hardware type is Ethernet/IEEE 802 with 6-byte addresses and the protocol is
//! IPv4 with 4-byte addresses, as Wireshark does; other sizes give the raw
//! `arp.src.hw` / `arp.src.proto` bytes. What follows the addresses is padding.

use pcapx_core::{EtherType, keys::tables};
use std::fmt::Write;

use pcapx_core::dissector::PacketView;
use pcapx_core::{Ctx, Dissector, FieldId, Outcome, Registrar, RegistryError, Value};

use super::wire::{be16, u8_at};

const HDR: usize = 8;

pcapx_core::field_table! {
    struct Fields {
        hw_type = ("arp.hw.type", "Hardware type", U16, "Hardware type (1 = Ethernet)"),
        proto_type = ("arp.proto.type", "Protocol type", U16, "Protocol type (an EtherType; 0x0800 = IPv4)").hex(),
        hw_size = ("arp.hw.size", "Hardware size", U8, "Hardware address length"),
        proto_size = ("arp.proto.size", "Protocol size", U8, "Protocol address length"),
        opcode = ("arp.opcode", "Opcode", U16, "1 request, 2 reply, 3 RARP request, 4 RARP reply, 8/9 InARP"),
        src_hw_mac = ("arp.src.hw_mac", "Sender MAC address", Mac, "Sender hardware address"),
        src_hw = ("arp.src.hw", "Sender hardware address", Bytes, "Sender hardware address (not a 6-byte Ethernet address)"),
        src_ipv4 = ("arp.src.proto_ipv4", "Sender IP address", Ipv4, "Sender IPv4 address"),
        src_proto = ("arp.src.proto", "Sender protocol address", Bytes, "Sender protocol address (not a 4-byte IPv4 address)"),
        dst_hw_mac = ("arp.dst.hw_mac", "Target MAC address", Mac, "Target hardware address"),
        dst_hw = ("arp.dst.hw", "Target hardware address", Bytes, "Target hardware address (not a 6-byte Ethernet address)"),
        dst_ipv4 = ("arp.dst.proto_ipv4", "Target IP address", Ipv4, "Target IPv4 address"),
        dst_proto = ("arp.dst.proto", "Target protocol address", Bytes, "Target protocol address (not a 4-byte IPv4 address)"),
    }
}

/// ARP / RARP (`arp`).
#[derive(Default)]
pub struct Arp {
    ids: Option<Fields>,
}

impl Dissector for Arp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("arp", "Address Resolution Protocol", "ARP")?;
        self.ids = Some(Fields::register(r)?);
        r.bind(tables::ETHERTYPE, EtherType::ARP);
        r.bind(tables::ETHERTYPE, EtherType::RARP);
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
