//! Transport and application layers: TCP, UDP, ICMP, ICMPv6, DNS.
//!
//! * [`tcp::Tcp`] (`ip.proto` 6) with its options, dispatching on `tcp.port`;
//! * [`udp::Udp`] (`ip.proto` 17), dispatching on `udp.port`;
//! * [`icmp::Icmp`] (`ip.proto` 1) and [`icmpv6::Icmpv6`] (`ip.proto` 58), whose
//!   error messages hand the quoted datagram back to the `ethertype` table as a
//!   quoted packet (Scapy's `IPerror`/`TCPerror`/`UDPerror`);
//! * [`dns::Dns`] on UDP and TCP port 53 and UDP 5353 (mDNS);
//! * [`services`]: Scapy's port → service names for summaries.

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{Ctx, Dissector, FieldId, Next, Outcome, Registrar, RegistryError, Value};

pub mod dns;
pub mod icmp;
pub mod icmpv6;
pub mod services;
pub mod tcp;
pub mod udp;

#[cfg(test)]
mod corpus_tests;

/// The transport- and application-layer dissectors, in registration order.
pub fn all() -> Vec<Box<dyn Dissector>> {
    vec![
        Box::new(tcp::Tcp::new()),
        Box::new(udp::Udp::new()),
        Box::new(icmp::Icmp::new()),
        Box::new(icmpv6::Icmpv6::new()),
        Box::new(dns::Dns::new()),
        Box::new(CommunityIdField),
    ]
}

pcapx_core::field_table! {
    struct CommunityIdFields {
        communityid = ("communityid", "Community ID", Str,
            "Corelight Community ID v1 of the packet's flow (seed 0 unless --community-id-seed)",
        ).alias("community_id"),
    }
}

/// Declares the `communityid` field (alias `community_id`): Corelight
/// Community ID v1 of the packet's flow, tshark's field name. It is bound to
/// no table, so the engine never calls it; the value comes from a per-file
/// pass outside the engine (pcapx-flow), only when a table asks for it.
#[derive(Default)]
pub struct CommunityIdField;

impl Dissector for CommunityIdField {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("communityid", "Community ID Flow Hashing", "CommunityID")?;
        CommunityIdFields::register(r)?;
        Ok(())
    }

    fn dissect(&self, _data: &[u8], _cx: &mut Ctx<'_>) -> Outcome {
        Outcome::end(0)
    }
}

// The crate's one set of bounds-checked readers.
pub(crate) use crate::net::wire::{arr, be16, be32};

/// `u64` from a `usize` length (lossless on every platform pcapx supports).
pub(crate) fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Scapy's `%IP.src%:port > %IP.dst%:port` prefix when the layer below is IPv4 or
/// IPv6 (not an extension header: Scapy looks at the direct underlayer only).
pub(crate) fn write_endpoints(
    view: &pcapx_core::dissector::PacketView<'_>,
    layer: usize,
    out: &mut String,
    sport: u16,
    dport: u16,
    udp: bool,
) {
    use std::fmt::Write as _;
    let below = layer.checked_sub(1).and_then(|l| view.proto_name(l));
    let (src, dst) = match below {
        Some("ip") => ("ip.src", "ip.dst"),
        Some("ipv6") => ("ipv6.src", "ipv6.dst"),
        _ => ("", ""),
    };
    let below_is_ip = src == "ip.src";
    let below = layer.saturating_sub(1);
    let addrs = if src.is_empty() {
        None
    } else {
        // Scapy shows the header's destination: with a source route that is
        // ip.cur_rt (ip.dst is then the route's final address, as in Wireshark).
        let hdr_dst = if below_is_ip {
            view.get(below, "ip.cur_rt")
        } else {
            None
        };
        view.get(below, src)
            .zip(hdr_dst.or_else(|| view.get(below, dst)))
    };
    match addrs {
        Some((s, d)) => {
            let _ = write!(out, "{s}:");
            services::write_port(out, sport, udp, view.numeric);
            let _ = write!(out, " > {d}:");
            services::write_port(out, dport, udp, view.numeric);
        }
        None => {
            services::write_port(out, sport, udp, view.numeric);
            out.push_str(" > ");
            services::write_port(out, dport, udp, view.numeric);
        }
    }
}

/// The end of a TCP or UDP layer: the payload bytes (only when wanted and not
/// empty) and the hand-off to the port tables when there is a payload.
#[allow(clippy::too_many_arguments)] // one call site per transport, all plain values
pub(crate) fn transport_payload(
    cx: &mut Ctx<'_>,
    data: &[u8],
    hdr_len: usize,
    payload_len: usize,
    payload_field: FieldId,
    port_table: TableId,
    sport: u16,
    dport: u16,
) -> Outcome {
    if payload_len > 0 && cx.wants(payload_field) {
        let end = data.len().min(hdr_len + payload_len);
        if let Some(p) = data.get(hdr_len..end) {
            cx.add(payload_field, Value::Bytes(p));
        }
    }
    let next = if payload_len > 0 && data.len() > hdr_len {
        Next::Ports(port_table, sport, dport)
    } else {
        Next::End
    };
    Outcome {
        header_len: hdr_len,
        payload_len: Some(payload_len),
        next,
    }
}

/// Source and destination port of a (not quoted) TCP/UDP layer, for summaries.
pub(crate) fn summary_ports(
    view: &PacketView<'_>,
    layer: usize,
    src: &str,
    dst: &str,
) -> Option<(u16, u16)> {
    if view.layer(layer).is_none_or(|l| l.quoted) {
        return None;
    }
    let port = |n: &str| {
        view.get(layer, n)
            .and_then(|v| v.as_u64())
            .and_then(|v| u16::try_from(v).ok())
    };
    Some((port(src)?, port(dst)?))
}

/// The type, code and checksum that ICMP and ICMPv6 share. Emits what is
/// present; `None` (with `short` recorded) when the 4 bytes are not all there.
pub(crate) fn icmp_head(
    data: &[u8],
    cx: &mut Ctx<'_>,
    ty_field: FieldId,
    code_field: FieldId,
    checksum_field: FieldId,
) -> Option<(u8, u8)> {
    if let Some(&ty) = data.first() {
        cx.add(ty_field, Value::U64(u64::from(ty)));
    }
    let (Some(&ty), Some(&code)) = (data.first(), data.get(1)) else {
        cx.short();
        return None;
    };
    cx.add(code_field, Value::U64(u64::from(code)));
    let Some(ck) = be16(data, 2) else {
        cx.short();
        return None;
    };
    cx.add(checksum_field, Value::U64(u64::from(ck)));
    Some((ty, code))
}
