//! Ethernet II and IEEE 802.3 (LINKTYPE_ETHERNET, 1). A type/length value of
//! 0x0600 or more is an ethertype; 1500 or less is an 802.3 length, followed by
//! an 802.2 LLC header (the `llc` dissector). Linktype 1 carries no FCS.
//!
//! Scapy shows Ethernet II as `Ether` and 802.3 frames as `Dot3`.

use pcapx_core::{LinkType, keys::tables};
use std::fmt::Write;

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{Ctx, Dissector, FieldId, Next, Outcome, Registrar, RegistryError, Value};

use super::lentype::{MAX_LEN, MIN_ETHERTYPE};
use super::names::write_ether_type;
use super::wire::{be16, mac};

const HDR: usize = 14;

pcapx_core::field_table! {
    struct Fields {
        dst = ("eth.dst", "Destination", Mac, "Destination hardware address"),
        src = ("eth.src", "Source", Mac, "Source hardware address"),
        addr = ("eth.addr", "Address", Mac, "Source or destination address (both occurrences: destination, then source)"),
        typ = ("eth.type", "Type", U16, "EtherType of the payload (Ethernet II frames)").hex(),
        len = ("eth.len", "Length", U16, "IEEE 802.3 length of the LLC payload (802.3 frames)"),
        invalid = ("eth.invalid_lentype", "Invalid length/type", U16, "Type/length value between 1501 and 1535: neither a length nor an EtherType").hex(),
    }
}

struct Ids {
    f: Fields,
    ethertype: TableId,
    llc: TableId,
}

/// Ethernet II / 802.3 (`eth`).
#[derive(Default)]
pub struct Ethernet {
    ids: Option<Ids>,
}

impl Dissector for Ethernet {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("eth", "Ethernet", "Ether")?;
        r.length_field("802.3 length");
        let f = Fields::register(r)?;
        let ethertype = r.declare_table(tables::ETHERTYPE);
        let llc = r.declare_table(tables::LLC);
        r.bind(tables::LINKTYPE, LinkType::ETHERNET);
        self.ids = Some(Ids { f, ethertype, llc });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        if let Some(m) = mac(data, 0) {
            cx.add(ids.f.dst, Value::Mac(m));
            cx.add(ids.f.addr, Value::Mac(m));
        }
        if let Some(m) = mac(data, 6) {
            cx.add(ids.f.src, Value::Mac(m));
            cx.add(ids.f.addr, Value::Mac(m));
        }
        let Some(lt) = be16(data, 12) else {
            cx.short();
            return Outcome::end(data.len());
        };
        length_or_type(
            cx,
            data.len() - HDR,
            lt,
            ids.f.typ,
            ids.f.len,
            Some(ids.f.invalid),
            HDR,
            ids.ethertype,
            ids.llc,
        )
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let (Some(src), Some(dst)) = (view.get(layer, "eth.src"), view.get(layer, "eth.dst"))
        else {
            return false;
        };
        if view.get(layer, "eth.len").is_some() {
            let _ = write!(out, "802.3 {src} > {dst}");
            return true;
        }
        let _ = write!(out, "{src} > {dst} (");
        match view.get(layer, "eth.type").and_then(|v| v.as_u64()) {
            Some(t) => write_ether_type(out, u16::try_from(t).unwrap_or(0)),
            None => out.push('?'),
        }
        out.push(')');
        true
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.get(layer, "eth.len").map(|_| "Dot3")
    }
}

/// The type/length field shared by Ethernet and 802.1Q tags: an ethertype goes
/// to the `ethertype` table; an 802.3 length declares the LLC payload length
/// (what follows it is padding); values in between are invalid.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn length_or_type(
    cx: &mut Ctx<'_>,
    avail: usize,
    lt: u16,
    typ: FieldId,
    len: FieldId,
    invalid: Option<FieldId>,
    header_len: usize,
    ethertype: TableId,
    llc: TableId,
) -> Outcome {
    if lt >= MIN_ETHERTYPE {
        cx.add(typ, Value::U64(u64::from(lt)));
        Outcome::next(header_len, Next::Table(ethertype, u64::from(lt)))
    } else if lt <= MAX_LEN {
        cx.add(len, Value::U64(u64::from(lt)));
        if usize::from(lt) > avail {
            cx.short();
        }
        Outcome {
            header_len,
            payload_len: Some(usize::from(lt)),
            next: Next::Table(llc, 0),
        }
    } else {
        if let Some(f) = invalid {
            cx.add(f, Value::U64(u64::from(lt)));
        }
        cx.malformed();
        Outcome::end(header_len)
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    // Ethernet II / IPv4 / UDP 53, as captured (from the arp-who-has style traces).
    const ETH_ARP: &str = "ffffffffffff f8eda5c0a4f1 0806
        0001 0800 06 04 0001 f8eda5c0a4f1 0a000002 000000000000 0a000001";

    #[test]
    fn ethernet_ii() {
        let d = hex(ETH_ARP);
        check(
            1,
            &d,
            "eth:arp",
            &[
                ("eth.dst", "ff:ff:ff:ff:ff:ff"),
                ("eth.src", "f8:ed:a5:c0:a4:f1"),
                ("eth.addr", "ff:ff:ff:ff:ff:ff,f8:ed:a5:c0:a4:f1"),
                ("eth.type", "2054"),
                ("eth.len", ""),
            ],
            &[],
        );
        check_truncation(
            1,
            &d,
            14,
            &[("eth.dst", 6), ("eth.src", 12), ("eth.type", 14)],
        );
    }

    #[test]
    fn unknown_ethertype_summary() {
        let d = hex("aabbcc000200 aabbcc000200 9000 0000 0100");
        check(
            1,
            &d,
            "eth:data",
            &[("eth.type", "36864"), ("data.len", "4")],
            &["unknown-next"],
        );
        assert_eq!(
            summary(1, &d),
            "aa:bb:cc:00:02:00 > aa:bb:cc:00:02:00 (0x9000) / Raw"
        );
    }

    #[test]
    fn dot3_llc_with_padding() {
        // 802.3 length 38: LLC STP BPDU, then 8 bytes of padding.
        let mut d = hex("0180c2000000 aabbcc000310 0026 424203");
        d.extend(std::iter::repeat_n(0u8, 35));
        d.extend(std::iter::repeat_n(0xeeu8, 8));
        check(
            1,
            &d,
            "eth:llc:data:padding",
            &[
                ("eth.len", "38"),
                ("eth.type", ""),
                ("llc.dsap", "66"),
                ("llc.ssap", "66"),
                ("llc.control", "3"),
                ("data.len", "35"),
                ("padding.len", "8"),
            ],
            &["unknown-next"],
        );
        assert_eq!(
            summary(1, &d),
            "802.3 aa:bb:cc:00:03:10 > 01:80:c2:00:00:00 / LLC / Raw / Padding"
        );
    }

    #[test]
    fn dot3_length_past_end_and_invalid_lentype() {
        let d = hex("0180c2000000 aabbcc000310 0100 424203 00");
        check(
            1,
            &d,
            "eth:llc:data",
            &[("eth.len", "256")],
            &["malformed", "unknown-next"],
        );
        let d = hex("0180c2000000 aabbcc000310 05ff 424203");
        check(
            1,
            &d,
            "eth:data",
            &[
                ("eth.invalid_lentype", "1535"),
                ("eth.len", ""),
                ("eth.type", ""),
            ],
            &["malformed"],
        );
    }
}
