//! IPv6 extension headers, each its own layer bound in `ip.proto` (Wireshark's
//! protocol names): hop-by-hop options (`ipv6.hopopts`, 0), routing
//! (`ipv6.routing`, 43: type 0 addresses and the type 4 segment routing header),
//! fragment (`ipv6.fraghdr`, 44), destination options (`ipv6.dstopts`, 60) and
//! the Authentication Header (`ah`, 51, also used over IPv4).
//!
//! Each sets `payload_len` to what remains of the length declared below it, so
//! trailing bytes stay padding. A jumbo payload option (RFC 2675) in the
//! hop-by-hop header supplies the length when the IPv6 payload length is 0.
//! Fragments follow IP defragmentation (the stateful pass's
//! [`pcapx_core::IpDefrag`]): a fragment that does not complete its datagram
//! ends the dissection, the one that completes it continues in the
//! reassembled payload; without defragmentation (`--no-defrag`) a first
//! fragment dispatches its own bytes and a later one ends the dissection.

use pcapx_core::{IpProto, keys::tables};
use std::sync::{Arc, OnceLock};

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{
    Ctx, Dissector, FieldId, IpDefrag, Next, Outcome, Registrar, RegistryError, Source, Value,
};

use super::ipv6::{NO_NEXT, OptIds};
use super::wire::{be16, be32, ipv6, u8_at};

/// The next header and header-length fields common to option/routing headers.
struct Common {
    nxt: FieldId,
    len: FieldId,
    len_oct: FieldId,
    ip_proto: TableId,
}

impl Common {
    /// The common ids of a header whose field table registered `[nxt, len, len_oct]`.
    fn new(r: &mut Registrar<'_>, [nxt, len, len_oct]: [FieldId; 3]) -> Common {
        Common {
            nxt,
            len,
            len_oct,
            ip_proto: r.declare_table(tables::IP_PROTO),
        }
    }
}

/// Declares the next header and length fields every option/routing header
/// starts with, under the header's own protocol name (as Wireshark does).
macro_rules! common_fields {
    ($name:ident, $p:literal $(, $($rest:tt)*)?) => {
        pcapx_core::field_table! {
            struct $name {
                nxt = (concat!($p, ".nxt"), "Next Header", U8, "Protocol of the header that follows"),
                len = (concat!($p, ".len"), "Length", U8,
                    "Header length in 8-octet units, not counting the first 8 octets"),
                len_oct = (concat!($p, ".len_oct"), "Length", U16, "Header length in bytes"),
                $($($rest)*)?
            }
        }
        impl $name {
            fn common(&self) -> [FieldId; 3] {
                [self.nxt, self.len, self.len_oct]
            }
        }
    };
}

common_fields!(HopFields, "ipv6.hopopts");
common_fields!(DstFields, "ipv6.dstopts");
common_fields!(
    RoutingFields,
    "ipv6.routing",
    typ = (
        "ipv6.routing.type",
        "Type",
        U8,
        "Routing type (0 source route, 2 mobile IPv6, 4 segment routing)"
    ),
    segleft = (
        "ipv6.routing.segleft",
        "Segments Left",
        U8,
        "Route segments still to visit"
    ),
    src_reserved = (
        "ipv6.routing.src.reserved",
        "Reserved",
        Bytes,
        "Type 0: reserved bytes"
    ),
    src_addr = (
        "ipv6.routing.src.addr",
        "Address",
        Ipv6,
        "Type 0: an address of the route, in order"
    ),
    srh_last = (
        "ipv6.routing.srh.last_entry",
        "Last Entry",
        U8,
        "Segment routing: index of the last segment"
    ),
    srh_flags = (
        "ipv6.routing.srh.flags",
        "Flags",
        U8,
        "Segment routing: flags"
    )
        .hex(),
    srh_tag = ("ipv6.routing.srh.tag", "Tag", Bytes, "Segment routing: tag"),
    srh_addr = (
        "ipv6.routing.srh.addr",
        "Address",
        Ipv6,
        "Segment routing: a segment, in list order"
    ),
);

/// Read next header and length; `None` when the header is cut short (already
/// reported). Returns (next header, header length in bytes).
fn read_common(c: &Common, data: &[u8], cx: &mut Ctx<'_>) -> Option<(u8, usize)> {
    let nxt = u8_at(data, 0);
    if let Some(n) = nxt {
        cx.add(c.nxt, Value::U64(u64::from(n)));
    }
    let Some(l) = u8_at(data, 1) else {
        cx.short();
        return None;
    };
    let hlen = (usize::from(l) + 1) * 8;
    cx.add(c.len, Value::U64(u64::from(l)));
    cx.add(c.len_oct, Value::U64(hlen as u64));
    nxt.map(|n| (n, hlen))
}

/// What remains of the declared length after a header of `hlen` bytes.
fn remaining(cx: &mut Ctx<'_>, hlen: usize) -> Option<usize> {
    let d = cx.declared_len()?;
    if d < hlen {
        cx.malformed();
    }
    Some(d.saturating_sub(hlen))
}

fn next(c: &Common, nxt: u8) -> Next {
    if nxt == NO_NEXT {
        Next::End
    } else {
        Next::Table(c.ip_proto, u64::from(nxt))
    }
}

/// The Mobile IPv6 Home Address destination option (RFC 6275).
const HOME_ADDRESS: u8 = 0xc9;

/// Walk TLV options (Pad1 is a single byte). Returns the jumbo payload length.
fn options(o: &OptIds, opts: &[u8], complete: bool, cx: &mut Ctx<'_>) -> Option<u32> {
    let mut jumbo = None;
    let mut i = 0usize;
    while let Some(&t) = opts.get(i) {
        cx.add(o.typ, Value::U64(u64::from(t)));
        if t == 0 {
            i += 1;
            continue;
        }
        let Some(&l) = opts.get(i + 1) else {
            if complete {
                cx.malformed();
            }
            break;
        };
        cx.add(o.length, Value::U64(u64::from(l)));
        // Wireshark reads a Home Address option's 16-byte address whatever
        // its length says, and goes on after the longer of the two.
        let data = if t == HOME_ADDRESS {
            usize::from(l).max(16)
        } else {
            usize::from(l)
        };
        let end = i + 2 + data;
        if end > opts.len() {
            if complete {
                cx.malformed();
            }
            break;
        }
        if t == 0xc2
            && l == 4
            && let Some(j) = be32(opts, i + 2)
        {
            cx.add(o.jumbo, Value::U64(u64::from(j)));
            jumbo = Some(j);
        }
        i = end;
    }
    jumbo
}

/// Hop-by-hop and destination options share one implementation.
struct OptHeader {
    proto: &'static str,
    display: &'static str,
    summary: &'static str,
    key: u64,
    /// Registers the header's field table, returning `[nxt, len, len_oct]`.
    fields: fn(&mut Registrar<'_>) -> Result<[FieldId; 3], RegistryError>,
    common: Option<Common>,
    opts: Arc<OnceLock<OptIds>>,
}

impl OptHeader {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol(self.proto, self.display, self.summary)?;
        // The `ipv6.opt.*` fields, registered by IPv6.
        r.also_fills("ipv6");
        let ids = (self.fields)(r)?;
        self.common = Some(Common::new(r, ids));
        r.bind(tables::IP_PROTO, self.key);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(c) = &self.common else {
            return Outcome::end(0);
        };
        let Some((nxt, hlen)) = read_common(c, data, cx) else {
            return Outcome::end(data.len());
        };
        let complete = data.len() >= hlen;
        let jumbo = match self.opts.get() {
            Some(o) => options(
                o,
                data.get(2..hlen.min(data.len())).unwrap_or(&[]),
                complete,
                cx,
            ),
            None => None,
        };
        if !complete {
            cx.short();
            return Outcome::end(data.len());
        }
        let payload_len = match (cx.declared_len(), jumbo) {
            // Jumbogram: the IPv6 payload length was 0 and left it to us.
            (None, Some(j)) if self.key == 0 => {
                let j = usize::try_from(j).unwrap_or(usize::MAX);
                if j < hlen {
                    cx.malformed();
                }
                let p = j.saturating_sub(hlen);
                if p > data.len() - hlen {
                    cx.short();
                }
                Some(p)
            }
            _ => remaining(cx, hlen),
        };
        Outcome {
            header_len: hlen,
            payload_len,
            next: next(c, nxt),
        }
    }
}

macro_rules! opt_header {
    ($(#[$m:meta])* $name:ident, $fields:ident, $proto:literal, $display:literal, $summary:literal, $key:literal) => {
        $(#[$m])*
        pub struct $name(OptHeader);

        impl $name {
            /// `opts`: the `ipv6.opt.*` field ids, filled in by [`super::Ipv6`].
            pub fn new(opts: Arc<OnceLock<OptIds>>) -> $name {
                $name(OptHeader {
                    proto: $proto,
                    display: $display,
                    summary: $summary,
                    key: $key,
                    fields: |r| Ok($fields::register(r)?.common()),
                    common: None,
                    opts,
                })
            }
        }

        impl Dissector for $name {
            fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
                self.0.register(r)
            }
            fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
                self.0.dissect(data, cx)
            }
        }
    };
}

opt_header!(
    /// Hop-by-hop options header (`ipv6.hopopts`, next header 0).
    HopOpts,
    HopFields,
    "ipv6.hopopts",
    "IPv6 Hop-by-Hop Option",
    "IPv6ExtHdrHopByHop",
    0
);
opt_header!(
    /// Destination options header (`ipv6.dstopts`, next header 60).
    DstOpts,
    DstFields,
    "ipv6.dstopts",
    "Destination Options for IPv6",
    "IPv6ExtHdrDestOpt",
    60
);

struct RoutingIds {
    common: Common,
    f: RoutingFields,
}

/// Routing header (`ipv6.routing`, next header 43).
#[derive(Default)]
pub struct Routing {
    ids: Option<RoutingIds>,
}

impl Dissector for Routing {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol(
            "ipv6.routing",
            "Routing Header for IPv6",
            "IPv6ExtHdrRouting",
        )?;
        let f = RoutingFields::register(r)?;
        let common = Common::new(r, f.common());
        r.bind(tables::IP_PROTO, IpProto::IPV6_ROUTE);
        self.ids = Some(RoutingIds { common, f });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let Some((nxt, hlen)) = read_common(&ids.common, data, cx) else {
            return Outcome::end(data.len());
        };
        let typ = u8_at(data, 2);
        if let Some(t) = typ {
            cx.add(ids.f.typ, Value::U64(u64::from(t)));
        }
        if let Some(s) = u8_at(data, 3) {
            cx.add(ids.f.segleft, Value::U64(u64::from(s)));
        }
        let body = data.get(..hlen.min(data.len())).unwrap_or(&[]);
        match typ {
            Some(0) => {
                if let Some(r) = body.get(4..8) {
                    cx.add(ids.f.src_reserved, Value::Bytes(r));
                }
                let mut at = 8;
                while let Some(a) = ipv6(body, at) {
                    cx.add(ids.f.src_addr, Value::Ipv6(a));
                    at += 16;
                }
            }
            Some(4) => {
                let last = u8_at(body, 4);
                if let Some(l) = last {
                    cx.add(ids.f.srh_last, Value::U64(u64::from(l)));
                }
                if let Some(fl) = u8_at(body, 5) {
                    cx.add(ids.f.srh_flags, Value::U64(u64::from(fl)));
                }
                if let Some(t) = body.get(6..8) {
                    cx.add(ids.f.srh_tag, Value::Bytes(t));
                }
                let n = last.map_or(0, |l| usize::from(l) + 1);
                for k in 0..n {
                    match ipv6(body, 8 + 16 * k) {
                        Some(a) => cx.add(ids.f.srh_addr, Value::Ipv6(a)),
                        None => {
                            if data.len() >= hlen {
                                cx.malformed();
                            }
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
        if data.len() < hlen || data.len() < 4 {
            cx.short();
            return Outcome::end(data.len());
        }
        Outcome {
            header_len: hlen,
            payload_len: remaining(cx, hlen),
            next: next(&ids.common, nxt),
        }
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.get(layer, "ipv6.routing.type")
            .and_then(|v| v.as_u64())
            .filter(|&t| t == 4)
            .map(|_| "IPv6ExtHdrSegmentRouting")
    }
}

pcapx_core::field_table! {
    struct FragFields {
        nxt = ("ipv6.fraghdr.nxt", "Next header", U8, "Protocol of the fragmented payload"),
        reserved_octet = ("ipv6.fraghdr.reserved_octet", "Reserved octet", U8, "Reserved").hex(),
        offset = ("ipv6.fraghdr.offset", "Offset", U16, "Fragment offset in 8-byte units"),
        reserved_bits = ("ipv6.fraghdr.reserved_bits", "Reserved bits", U16, "Reserved"),
        more = ("ipv6.fraghdr.more", "More Fragments", Bool, "More fragments follow"),
        ident = ("ipv6.fraghdr.ident", "Identification", U32, "Fragment identification").hex(),
    }
}

struct FragIds {
    f: FragFields,
    ip_proto: TableId,
}

/// Fragment header (`ipv6.fraghdr`, next header 44).
#[derive(Default)]
pub struct FragHdr {
    ids: Option<FragIds>,
}

impl Dissector for FragHdr {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ipv6.fraghdr", "IPv6 Fragment", "IPv6ExtHdrFragment")?;
        let f = FragFields::register(r)?;
        let ip_proto = r.declare_table(tables::IP_PROTO);
        r.bind(tables::IP_PROTO, IpProto::IPV6_FRAG);
        self.ids = Some(FragIds { f, ip_proto });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        if let Some(n) = u8_at(data, 0) {
            cx.add(ids.f.nxt, Value::U64(u64::from(n)));
        }
        if let Some(r) = u8_at(data, 1) {
            cx.add(ids.f.reserved_octet, Value::U64(u64::from(r)));
        }
        let off = be16(data, 2);
        if let Some(o) = off {
            cx.add(ids.f.offset, Value::U64(u64::from(o >> 3)));
            cx.add(ids.f.reserved_bits, Value::U64(u64::from((o >> 1) & 3)));
            cx.add(ids.f.more, Value::Bool(o & 1 == 1));
        }
        if let Some(i) = be32(data, 4) {
            cx.add(ids.f.ident, Value::U64(u64::from(i)));
        }
        let (Some(nxt), Some(off), true) = (u8_at(data, 0), off, data.len() >= 8) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let fragment = off >> 3 != 0 || off & 1 == 1;
        let as_is = if off >> 3 != 0 || nxt == NO_NEXT {
            Next::End
        } else {
            Next::Table(ids.ip_proto, u64::from(nxt))
        };
        // With IP defragmentation on, the upper layer appears at the
        // fragment that completes the datagram, in its reassembled payload.
        let next = if !fragment {
            as_is
        } else {
            match cx.take_ip_defrag() {
                IpDefrag::AsIs => as_is,
                IpDefrag::Held => Next::End,
                IpDefrag::Complete { .. } if nxt != NO_NEXT && cx.continue_in(Source::Ip) => {
                    Next::Table(ids.ip_proto, u64::from(nxt))
                }
                IpDefrag::Complete { .. } => Next::End,
            }
        };
        Outcome {
            header_len: 8,
            payload_len: remaining(cx, 8),
            next,
        }
    }
}

pcapx_core::field_table! {
    struct AhFields {
        nxt = ("ah.next_header", "Next header", U8, "Protocol of the authenticated payload"),
        length = ("ah.length", "Length", U8, "Header length in 32-bit words, minus 2"),
        reserved = ("ah.reserved", "Reserved", Bytes, ""),
        spi = ("ah.spi", "AH SPI", U32, "Security parameters index").hex(),
        sequence = ("ah.sequence", "AH Sequence", U32, "Sequence number"),
        icv = ("ah.icv", "AH ICV", Bytes, "Integrity check value"),
    }
}

struct AhIds {
    f: AhFields,
    ip_proto: TableId,
}

/// IP Authentication Header (`ah`, protocol 51; RFC 4302).
#[derive(Default)]
pub struct Ah {
    ids: Option<AhIds>,
}

impl Dissector for Ah {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ah", "Authentication Header", "AH")?;
        let f = AhFields::register(r)?;
        let ip_proto = r.declare_table(tables::IP_PROTO);
        r.bind(tables::IP_PROTO, IpProto::AH);
        self.ids = Some(AhIds { f, ip_proto });
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = &self.ids else {
            return Outcome::end(0);
        };
        let nxt = u8_at(data, 0);
        if let Some(n) = nxt {
            cx.add(ids.f.nxt, Value::U64(u64::from(n)));
        }
        let len = u8_at(data, 1);
        if let Some(l) = len {
            cx.add(ids.f.length, Value::U64(u64::from(l)));
        }
        if let Some(r) = data.get(2..4) {
            cx.add(ids.f.reserved, Value::Bytes(r));
        }
        if let Some(s) = be32(data, 4) {
            cx.add(ids.f.spi, Value::U64(u64::from(s)));
        }
        // Wireshark reads the sequence number even from a zero-length AH.
        if let Some(s) = be32(data, 8) {
            cx.add(ids.f.sequence, Value::U64(u64::from(s)));
        }
        let (Some(nxt), Some(len)) = (nxt, len) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let hlen = (usize::from(len) + 2) * 4;
        if hlen > 12
            && let Some(icv) = data.get(12..hlen)
        {
            cx.add(ids.f.icv, Value::Bytes(icv));
        }
        if data.len() < hlen.max(8) {
            cx.short();
            return Outcome::end(data.len());
        }
        Outcome {
            header_len: hlen,
            payload_len: remaining(cx, hlen),
            next: if nxt == NO_NEXT {
                Next::End
            } else {
                Next::Table(ids.ip_proto, u64::from(nxt))
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check, check_truncation, hex, summary};

    const V6_SRC: &str = "20010078000100320000000000000001";
    const V6_DST: &str = "20010078000100320000000000000002";

    fn v6(nxt: &str, payload: &str) -> Vec<u8> {
        let p = hex(payload);
        let mut d = hex(&format!(
            "60000000 {:04x} {nxt} 40 {V6_SRC} {V6_DST}",
            p.len()
        ));
        d.extend(p);
        d
    }

    #[test]
    fn hop_by_hop_then_routing_type0() {
        // HBH (router alert + PadN) → routing type 0 with 2 addresses → UDP-less data.
        let d = v6(
            "00",
            "2b00 05020000 0100
             3b04 00 02 00000000 20010078000100320000000000000001 20010078000100320000000000000002
             cafe",
        );
        check(
            229,
            &d,
            "ipv6:ipv6.hopopts:ipv6.routing:data",
            &[
                ("ipv6.hopopts.nxt", "43"),
                ("ipv6.hopopts.len", "0"),
                ("ipv6.hopopts.len_oct", "8"),
                ("ipv6.opt.type", "5,1"),
                ("ipv6.opt.length", "2,0"),
                ("ipv6.routing.nxt", "59"),
                ("ipv6.routing.type", "0"),
                ("ipv6.routing.segleft", "2"),
                ("ipv6.routing.src.reserved", "00000000"),
                ("ipv6.routing.src.addr", "2001:78:1:32::1,2001:78:1:32::2"),
                ("data.len", "2"),
            ],
            &[],
        );
        assert_eq!(
            summary(229, &d),
            "2001:78:1:32::1 > 2001:78:1:32::2 (0) / IPv6ExtHdrHopByHop / IPv6ExtHdrRouting / Raw"
        );
        check_truncation(
            229,
            &d,
            40 + 8 + 40,
            &[("ipv6.hopopts.nxt", 41), ("ipv6.routing.type", 51)],
        );
    }

    #[test]
    fn jumbogram_and_srh() {
        // Payload length 0, HBH with jumbo option 12 (8 HBH + 4 data), then 2 padding.
        let mut d = hex(&format!("60000000 0000 00 40 {V6_SRC} {V6_DST}"));
        d.extend(hex("3b00 c2040000000c 01020304 eeee"));
        check(
            229,
            &d,
            "ipv6:ipv6.hopopts:data:padding",
            &[
                ("ipv6.plen", "0"),
                ("ipv6.opt.jumbo", "12"),
                ("data.len", "4"),
                ("padding.len", "2"),
            ],
            &[],
        );
        // SRH with two segments → IPv6 in IPv6 (41).
        let inner = format!("60000000 0000 3b 40 {V6_SRC} {V6_DST}");
        let d = v6(
            "2b",
            &format!("2904 04 01 01 00 0000 {V6_SRC} {V6_DST} {inner}"),
        );
        check(
            229,
            &d,
            "ipv6:ipv6.routing:ipv6",
            &[
                ("ipv6.routing.type", "4"),
                ("ipv6.routing.srh.last_entry", "1"),
                ("ipv6.routing.srh.flags", "0"),
                ("ipv6.routing.srh.tag", "0000"),
                ("ipv6.routing.srh.addr", "2001:78:1:32::1,2001:78:1:32::2"),
            ],
            &[],
        );
        assert_eq!(
            summary(229, &d),
            "IPv6 / IPv6ExtHdrSegmentRouting / 2001:78:1:32::1 > 2001:78:1:32::2 (59)"
        );
    }

    #[test]
    fn fragments_and_dstopts_and_ah() {
        // First fragment (offset 0, M=1) of UDP-less data → dispatches to 59 = end.
        let d = v6("2c", "3b00 0001 00000001 aabb");
        check(
            229,
            &d,
            "ipv6:ipv6.fraghdr:data",
            &[
                ("ipv6.fraghdr.nxt", "59"),
                ("ipv6.fraghdr.offset", "0"),
                ("ipv6.fraghdr.more", "1"),
                ("ipv6.fraghdr.ident", "1"),
            ],
            &[],
        );
        // Later fragment: offset 362 → data, no further layer.
        let d = v6("2c", "1100 0b50 00000001 aabbccdd");
        check(
            229,
            &d,
            "ipv6:ipv6.fraghdr:data",
            &[("ipv6.fraghdr.offset", "362"), ("ipv6.fraghdr.more", "0")],
            &[],
        );
        check_truncation(
            229,
            &d,
            48,
            &[
                ("ipv6.fraghdr.nxt", 41),
                ("ipv6.fraghdr.offset", 44),
                ("ipv6.fraghdr.ident", 48),
            ],
        );
        // Destination options (PadN 4) → AH (len 4: 24 bytes) → no next header.
        let d = v6(
            "3c",
            "3300 0104 00000000 3b04 0000 00001000 00000007 0102030405060708090a0b0c",
        );
        check(
            229,
            &d,
            "ipv6:ipv6.dstopts:ah",
            &[
                ("ipv6.dstopts.nxt", "51"),
                ("ipv6.opt.type", "1"),
                ("ah.next_header", "59"),
                ("ah.length", "4"),
                ("ah.spi", "4096"),
                ("ah.sequence", "7"),
                ("ah.icv", "0102030405060708090a0b0c"),
            ],
            &[],
        );
        check_truncation(229, &d, 72, &[("ah.spi", 56), ("ah.sequence", 60)]);
        // AH over IPv4 (protocol 51) with a zero-length AH, as Wireshark reads it.
        let d = hex("45000020 0001 0000 40 33 0000 0a000001 0a000002 3a00 0000 00000001 80007ae6");
        let f = crate::testutil::dissect(228, &d, d.len());
        assert_eq!(
            crate::testutil::value(&f, "ah.sequence").as_deref(),
            Some("2147515110")
        );
    }

    #[test]
    fn header_longer_than_declared() {
        // Payload length 8 but the HBH header says 16 bytes.
        let d = v6("00", "3b01 0106 000000000000 00000000 00000000");
        let mut d2 = d.clone();
        d2[5] = 8;
        check(
            229,
            &d2,
            "ipv6:ipv6.hopopts:padding",
            &[("ipv6.hopopts.len_oct", "16")],
            &["malformed"],
        );
    }
}
