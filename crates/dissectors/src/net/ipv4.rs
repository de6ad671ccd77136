//! IPv4 (RFC 791): ethertype 0x0800, LINKTYPE_IPV4 (228), IP protocol 4 (IP in IP).
//!
//! * Header checksum verified (generic `bad-checksum` anomaly), except inside an
//!   ICMP error's quoted copy and when it is 0 (never filled in: checksum
//!   offload on the sender, hand-made packets). tshark does not verify IPv4
//!   checksums by default (`ip.checksum.status` "unverified").
//! * Options: `ip.opt.type`/`ip.opt.len` per option up to End of Options List
//!   (as Wireshark), and `ip.opt.count` counting options the way Scapy's
//!   `len(IP.options)` does (every byte after EOL parses as another EOL).
//! * `payload_len` is total length − header length, so Ethernet padding becomes
//!   the engine's `padding` layer. Total length 0 (TSO) means "the rest", and
//!   `ip.len` then shows the frame's remaining length, as Wireshark does.
//! * Fragments follow IP defragmentation (the stateful pass's
//!   [`pcapx_core::IpDefrag`], as tshark): a fragment that does not complete
//!   its datagram ends with its payload as `data`, the one that completes it
//!   dispatches the reassembled payload via `ip.proto`. Without the pass
//!   (`--no-defrag`): offset 0 dispatches its own bytes, later fragments end
//!   with the raw data.
//! * A version-6 packet (e.g. on linktype 228) is handed to IPv6 with a
//!   `malformed` anomaly, as Wireshark does.

use pcapx_core::{EtherType, IpProto, LinkType, keys::tables};
use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{
    AnomalyId, Ctx, Dissector, FieldId, FieldMask, IpDefrag, Next, Outcome, Registrar,
    RegistryError, Source, Value,
};

use super::names::ip_proto;
use super::wire::{be16, internet_checksum, ipv4, u8_at};

const MIN_HDR: usize = 20;

pcapx_core::field_table! {
    struct Fields {
        version = ("ip.version", "Version", U8, "IP version (4)").alias("version"),
        hdr_len = ("ip.hdr_len", "Header Length", U8, "Header length in bytes"),
        ihl = ("ip.ihl", "IHL", U8, "pcapx: header length in 32-bit words (Scapy's IP.ihl)").alias("ihl"),
        dsfield = ("ip.dsfield", "Differentiated Services Field", U8, "The former type-of-service byte: DSCP and ECN").hex().alias("tos"),
        dscp = ("ip.dsfield.dscp", "Differentiated Services Codepoint", U8, "DSCP, the upper 6 bits of the DS field"),
        ecn = ("ip.dsfield.ecn", "Explicit Congestion Notification", U8, "ECN, the lower 2 bits of the DS field"),
        len = ("ip.len", "Total Length", U16, "Datagram length including the header").alias("len"),
        id = ("ip.id", "Identification", U16, "Identification (fragment group)").hex().alias("id"),
        flags = ("ip.flags", "Flags", U8, "The 3 flag bits as a number: reserved 4, DF 2, MF 1").hex(),
        rb = ("ip.flags.rb", "Reserved bit", Bool, "Reserved (evil) bit"),
        df = ("ip.flags.df", "Don't fragment", Bool, "Don't fragment flag"),
        mf = ("ip.flags.mf", "More fragments", Bool, "More fragments flag"),
        frag_offset = ("ip.frag_offset", "Fragment Offset", U16, "Fragment offset in 8-byte units (as tshark 4.0 and Scapy's IP.frag)").alias("frag"),
        ttl = ("ip.ttl", "Time to Live", U8, "Time to live").alias("ttl"),
        proto = ("ip.proto", "Protocol", U8, "Protocol of the payload").alias("proto"),
        checksum = ("ip.checksum", "Header Checksum", U16, "Header checksum as sent").hex().alias("ip.chksum"),
        src = ("ip.src", "Source Address", Ipv4, "Source address").alias("src"),
        dst = ("ip.dst", "Destination Address", Ipv4, "Destination address").alias("dst"),
        cur_rt = ("ip.cur_rt", "Current Route", Ipv4, "The header's destination address when a source-route option (LSRR/SSRR) names a different final destination, which is then ip.dst (as Wireshark shows it)"),
        addr = ("ip.addr", "Source or Destination Address", Ipv4, "Both addresses (source, then destination)"),
        opt_type = ("ip.opt.type", "Type", U8, "Option type, one per option (up to EOL)"),
        opt_len = ("ip.opt.len", "Length", U8, "Option length, for options that have one"),
        opt_count = ("ip.opt.count", "Option count", U8, "pcapx: number of options as Scapy's len(IP.options) counts them (NOP and each EOL byte count)").alias("ip.options"),
    }
}

struct Ids {
    f: Fields,
    bad_checksum: AnomalyId,
    ip_proto: TableId,
    ethertype: TableId,
    /// `ip.dsfield` and its parts: one test for the three.
    tos_mask: FieldMask,
    /// `ip.flags`, its bits and `ip.frag_offset`.
    flag_mask: FieldMask,
}

/// IPv4 (`ip`).
pub struct Ipv4 {
    ids: Option<Ids>,
    version_out: Arc<OnceLock<FieldId>>,
}

impl Ipv4 {
    /// `version_out` receives the id of `ip.version`, which IPv6 also sets.
    pub fn new(version_out: Arc<OnceLock<FieldId>>) -> Ipv4 {
        Ipv4 {
            ids: None,
            version_out,
        }
    }
}

impl Dissector for Ipv4 {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ip", "Internet Protocol Version 4", "IP")?;
        r.length_field("IPv4 total length");
        let f = Fields::register(r)?;
        let _ = self.version_out.set(f.version);
        let bad_checksum = r.anomaly("bad-checksum", "a header checksum does not verify", true)?;
        let ip_proto = r.declare_table(tables::IP_PROTO);
        let ethertype = r.declare_table(tables::ETHERTYPE);
        r.bind(tables::ETHERTYPE, EtherType::IPV4);
        r.bind(tables::LINKTYPE, LinkType::IPV4);
        r.bind(tables::IP_PROTO, IpProto::IPIP);
        self.ids = Some(Ids {
            f,
            bad_checksum,
            ip_proto,
            ethertype,
            tos_mask: FieldMask::of(&[f.dsfield, f.dscp, f.ecn]),
            flag_mask: FieldMask::of(&[f.flags, f.rb, f.df, f.mf, f.frag_offset]),
        });
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
        if version == 6 {
            // IPv6 sets `ip.version` itself.
            cx.malformed();
            return Outcome::next(0, Next::Table(ids.ethertype, 0x86dd));
        }
        cx.add(ids.f.version, Value::U64(u64::from(version)));
        if version != 4 {
            cx.malformed();
            return Outcome::end(0);
        }
        let ihl = b0 & 0x0f;
        let hlen = usize::from(ihl) * 4;
        cx.add(ids.f.hdr_len, Value::U64(u64::from(ihl) * 4));
        cx.add(ids.f.ihl, Value::U64(u64::from(ihl)));
        if hlen < MIN_HDR {
            cx.malformed();
            return Outcome::end(0);
        }
        let u = |v: Option<u8>| v.map(u64::from);
        if let Some(tos) = u8_at(data, 1)
            && cx.wants_any(ids.tos_mask)
        {
            cx.add(ids.f.dsfield, Value::U64(u64::from(tos)));
            cx.add(ids.f.dscp, Value::U64(u64::from(tos >> 2)));
            cx.add(ids.f.ecn, Value::U64(u64::from(tos & 3)));
        }
        let tot = be16(data, 2);
        match tot {
            // TSO: Wireshark shows the reported length instead of 0.
            Some(0) => {
                let m = cx.meta();
                let cut = u64::from(m.wirelen.saturating_sub(m.caplen));
                cx.add(ids.f.len, Value::U64(data.len() as u64 + cut));
            }
            Some(t) => cx.add(ids.f.len, Value::U64(u64::from(t))),
            None => {}
        }
        if let Some(i) = be16(data, 4) {
            cx.add(ids.f.id, Value::U64(u64::from(i)));
        }
        let ff = be16(data, 6);
        if let Some(ff) = ff
            && cx.wants_any(ids.flag_mask)
        {
            cx.add(ids.f.flags, Value::U64(u64::from(ff >> 13)));
            cx.add(ids.f.rb, Value::Bool(ff & 0x8000 != 0));
            cx.add(ids.f.df, Value::Bool(ff & 0x4000 != 0));
            cx.add(ids.f.mf, Value::Bool(ff & 0x2000 != 0));
            cx.add(ids.f.frag_offset, Value::U64(u64::from(ff & 0x1fff)));
        }
        if let Some(t) = u(u8_at(data, 8)) {
            cx.add(ids.f.ttl, Value::U64(t));
        }
        let proto = u8_at(data, 9);
        if let Some(p) = u(proto) {
            cx.add(ids.f.proto, Value::U64(p));
        }
        if let Some(c) = be16(data, 10) {
            cx.add(ids.f.checksum, Value::U64(u64::from(c)));
        }
        if let Some(a) = ipv4(data, 12) {
            cx.add(ids.f.src, Value::Ipv4(a));
            cx.add(ids.f.addr, Value::Ipv4(a));
        }
        if let Some(a) = ipv4(data, 16) {
            // With a loose/strict source route, Wireshark's ip.dst is the final
            // destination (the route's last address) and the header's address
            // is the current hop, ip.cur_rt.
            match source_route_final(data.get(MIN_HDR..hlen.min(data.len())).unwrap_or(&[])) {
                Some(f) => {
                    cx.add(ids.f.dst, Value::Ipv4(f));
                    cx.add(ids.f.cur_rt, Value::Ipv4(a));
                    cx.add(ids.f.addr, Value::Ipv4(f));
                }
                None => {
                    cx.add(ids.f.dst, Value::Ipv4(a));
                    cx.add(ids.f.addr, Value::Ipv4(a));
                }
            }
        }
        let (Some(tot), Some(ff), Some(proto), true) = (tot, ff, proto, data.len() >= MIN_HDR)
        else {
            cx.short();
            return Outcome::end(data.len());
        };
        let complete = data.len() >= hlen;
        let opts = data.get(MIN_HDR..hlen.min(data.len())).unwrap_or(&[]);
        if opts.is_empty() {
            // What the walk does for no options, without the call.
            cx.add(ids.f.opt_count, Value::U64(0));
        } else {
            self.options(ids, opts, complete, cx);
        }
        if !complete {
            cx.short();
            return Outcome::end(data.len());
        }
        // A zero checksum was never filled in (checksum offload on the sending
        // host, or a hand-made packet): pcapx leaves it unverified.
        let stored = be16(data, 10).unwrap_or(0);
        if cx.verifies()
            && !cx.quoted()
            && stored != 0
            && internet_checksum(data.get(..hlen).unwrap_or(&[])) != 0
        {
            cx.anomaly(ids.bad_checksum);
        }
        let tot = usize::from(tot);
        let payload_len = if tot == 0 {
            // TSO super-frame captured before segmentation: length unknown.
            None
        } else if tot < hlen {
            cx.malformed();
            return Outcome::end(hlen);
        } else {
            if tot > data.len() {
                cx.short();
            }
            Some(tot - hlen)
        };
        let as_is = if ff & 0x1fff == 0 {
            Next::Table(ids.ip_proto, u64::from(proto))
        } else {
            Next::End
        };
        // With IP defragmentation on, the upper layer appears at the
        // fragment that completes the datagram, in its reassembled payload.
        let next = if ff & 0x3fff == 0 {
            as_is
        } else {
            match cx.take_ip_defrag() {
                IpDefrag::AsIs => as_is,
                IpDefrag::Held => Next::End,
                IpDefrag::Complete { .. } if cx.continue_in(Source::Ip) => {
                    Next::Table(ids.ip_proto, u64::from(proto))
                }
                IpDefrag::Complete { .. } => Next::End,
            }
        };
        Outcome {
            header_len: hlen,
            payload_len,
            next,
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        if view.layer(layer).is_some_and(|l| l.quoted) {
            return false;
        }
        let (Some(src), Some(dst), Some(p)) = (
            view.get(layer, "ip.src"),
            // Scapy shows the header's destination (ip.cur_rt when source-routed).
            view.get(layer, "ip.cur_rt")
                .or_else(|| view.get(layer, "ip.dst")),
            view.get(layer, "ip.proto").and_then(|v| v.as_u64()),
        ) else {
            return false;
        };
        let _ = write!(out, "{src} > {dst} ");
        match u8::try_from(p).ok().and_then(ip_proto) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{p}");
            }
        }
        if let Some(fr) = view.get(layer, "ip.frag_offset").and_then(|v| v.as_u64())
            && fr != 0
        {
            let _ = write!(out, " frag:{fr}");
        }
        true
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.layer(layer).filter(|l| l.quoted).map(|_| "IPerror")
    }
}

impl Ipv4 {
    /// Walk the options area. `complete`: the whole header was captured, so a
    /// length running past it is malformed rather than cut by the snaplen.
    fn options(&self, ids: &Ids, opts: &[u8], complete: bool, cx: &mut Ctx<'_>) {
        let mut i = 0usize;
        let mut count = 0u64;
        let mut ended = false;
        while let Some(&t) = opts.get(i) {
            count += 1;
            if !ended {
                cx.add(ids.f.opt_type, Value::U64(u64::from(t)));
            }
            match t {
                0 => {
                    ended = true;
                    i += 1;
                }
                1 => i += 1,
                _ => {
                    let Some(&l) = opts.get(i + 1) else {
                        if complete && !ended {
                            cx.malformed();
                        }
                        break;
                    };
                    if !ended {
                        cx.add(ids.f.opt_len, Value::U64(u64::from(l)));
                    }
                    let l = usize::from(l);
                    if l < 2 || i + l > opts.len() {
                        if complete && !ended {
                            cx.malformed();
                        }
                        break;
                    }
                    i += l;
                }
            }
        }
        cx.add(ids.f.opt_count, Value::U64(count));
    }
}

/// The final destination named by a complete LSRR (131) or SSRR (137) option:
/// the last address of its route data.
fn source_route_final(opts: &[u8]) -> Option<[u8; 4]> {
    let mut i = 0usize;
    while let Some(&t) = opts.get(i) {
        match t {
            0 => return None,
            1 => i += 1,
            _ => {
                let l = usize::from(*opts.get(i + 1)?);
                if l < 2 {
                    return None;
                }
                if (t == 131 || t == 137) && l >= 7 && (l - 3) % 4 == 0 {
                    return ipv4(opts.get(i..i + l)?, l - 4);
                }
                i += l;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    // Ethernet / IPv4 (router alert option) / IGMP, from igmpv3-queries.pcap.
    const IGMP: &str = "01005e000001 000a0b0c0d0e 0800
        4600 0020 0001 0000 0102 0000 0a000001 e0000001 94040000
        1164 ee9b 00000000 0000 0000";

    fn with_checksum(mut d: Vec<u8>, ip_at: usize) -> Vec<u8> {
        let hlen = usize::from(d[ip_at] & 0x0f) * 4;
        d[ip_at + 10] = 0;
        d[ip_at + 11] = 0;
        let c = crate::net::wire::internet_checksum(&d[ip_at..ip_at + hlen]);
        d[ip_at + 10..ip_at + 12].copy_from_slice(&c.to_be_bytes());
        d
    }

    #[test]
    fn header_fields_and_options() {
        let d = with_checksum(hex(IGMP), 14);
        check(
            1,
            &d,
            "eth:ip:data:padding",
            &[
                ("ip.version", "4"),
                ("ip.hdr_len", "24"),
                ("ip.ihl", "6"),
                ("ip.dsfield", "0"),
                ("ip.len", "32"),
                ("ip.id", "1"),
                ("ip.flags", "0"),
                ("ip.frag_offset", "0"),
                ("ip.ttl", "1"),
                ("ip.proto", "2"),
                ("ip.checksum", "15061"),
                ("ip.src", "10.0.0.1"),
                ("ip.dst", "224.0.0.1"),
                ("ip.addr", "10.0.0.1,224.0.0.1"),
                ("ip.opt.type", "148"),
                ("ip.opt.len", "4"),
                ("ip.opt.count", "1"),
                ("data.len", "8"),
                ("padding.len", "4"),
            ],
            &["unknown-next"],
        );
        check_truncation(
            1,
            &d,
            14 + 24,
            &[
                ("ip.version", 15),
                ("ip.len", 18),
                ("ip.id", 20),
                ("ip.frag_offset", 22),
                ("ip.ttl", 23),
                ("ip.proto", 24),
                ("ip.checksum", 26),
                ("ip.src", 30),
                ("ip.dst", 34),
                ("ip.opt.type", 35),
            ],
        );
        assert_eq!(
            summary(1, &d),
            "Ether / 10.0.0.1 > 224.0.0.1 igmp / Raw / Padding"
        );
    }

    #[test]
    fn checksum_flags_and_fragments() {
        // MF fragment at offset 0 dispatches; offset 6 (DF clear) stops.
        let first = with_checksum(
            hex(
                "45000026 abcd 2000 40 11 0000 a4017ba3 a4017b3d 007b 0089 0012 0000 0102 0304 0506 0708 0900",
            ),
            0,
        );
        // UDP 123 → 137: no NTP dissector (a plugin), so port 137 (NBNS)
        // takes the 10 payload bytes (Scapy binds it the same way, and shows
        // them as Raw: too short for its NBNSHeader).
        check(
            228,
            &first,
            "ip:udp:nbns",
            &[
                ("ip.flags", "1"),
                ("ip.flags.mf", "1"),
                ("ip.flags.df", "0"),
                ("ip.id", "43981"),
            ],
            // Ten bytes cannot hold NBNS's 12-byte header.
            &["malformed"],
        );
        let later = with_checksum(
            hex("4500001c abcd 0006 40 11 0000 a4017ba3 a4017b3d 0102030405060708 09000000"),
            0,
        );
        check(
            228,
            &later,
            "ip:data:padding",
            &[("ip.frag_offset", "6"), ("data.len", "8")],
            &[],
        );
        assert_eq!(
            summary(228, &later),
            "164.1.123.163 > 164.1.123.61 udp frag:6 / Raw / Padding"
        );
        let mut bad = later.clone();
        bad[11] ^= 1;
        check(228, &bad, "ip:data:padding", &[], &["bad-checksum"]);
    }

    #[test]
    fn bad_lengths() {
        // IHL 4 (16 bytes): fields up to the header length, then malformed.
        let d = hex("44000028 0001 0000 40 06 0000 0a000001 0a000002");
        check(
            228,
            &d,
            "ip:data",
            &[("ip.hdr_len", "16"), ("ip.src", "")],
            &["malformed"],
        );
        // Total length 10 < header length.
        let d = with_checksum(hex("4500000a 0001 0000 40 06 0000 0a000001 0a000002 00"), 0);
        check(228, &d, "ip:data", &[("ip.len", "10")], &["malformed"]);
        // Total length larger than the frame (not cut by snaplen): malformed.
        let d = with_checksum(hex("45000100 0001 0000 40 ff 0000 0a000001 0a000002 00"), 0);
        check(
            228,
            &d,
            "ip:data",
            &[("ip.len", "256")],
            &["malformed", "unknown-next"],
        );
        // Option length running past the header.
        let d = with_checksum(
            hex("46000018 0001 0000 40 ff 0000 0a000001 0a000002 8308 0000"),
            0,
        );
        check(
            228,
            &d,
            "ip",
            &[("ip.opt.type", "131"), ("ip.opt.count", "1")],
            &["malformed"],
        );
        // Version 6 on linktype 228: handed to IPv6.
        let d = hex(
            "60000000 0000 3b 40 00000000000000000000000000000001 00000000000000000000000000000002",
        );
        check(
            228,
            &d,
            "ip:ipv6",
            &[("ip.version", "6"), ("ipv6.nxt", "59")],
            &["malformed"],
        );
    }

    #[test]
    fn scapy_aliases() {
        let r = crate::testutil::engine().registry();
        for (alias, field) in [
            ("version", "ip.version"),
            ("ihl", "ip.ihl"),
            ("tos", "ip.dsfield"),
            ("len", "ip.len"),
            ("id", "ip.id"),
            ("frag", "ip.frag_offset"),
            ("ttl", "ip.ttl"),
            ("proto", "ip.proto"),
            ("ip.chksum", "ip.checksum"),
            ("src", "ip.src"),
            ("dst", "ip.dst"),
            ("ip.options", "ip.opt.count"),
        ] {
            let col = r.resolve(alias).unwrap_or_else(|| panic!("alias {alias}"));
            let first = col.fields.first().map(|f| r.field(*f).name.as_str());
            assert_eq!(first, Some(field), "alias {alias}");
        }
    }

    #[test]
    fn scapy_option_count() {
        // NOP, EOL, then two zero bytes of padding: Scapy counts 4 options.
        let d = with_checksum(
            hex("46000018 0001 0000 40 ff 0000 0a000001 0a000002 01000000"),
            0,
        );
        check(
            228,
            &d,
            "ip",
            &[("ip.opt.type", "1,0"), ("ip.opt.count", "4")],
            &[],
        );
    }
}
