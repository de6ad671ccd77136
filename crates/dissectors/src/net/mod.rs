//! Link and network layers: Ethernet (with 802.3/LLC/SNAP), 802.1Q/802.1ad,
//! Linux SLL/SLL2, BSD null/loopback, raw IP, ARP, IPv4, IPv6 and its extension
//! headers (hop-by-hop, routing, fragment, destination options) and AH.
//!
//! Field names are Wireshark's (`tshark -G fields`); layer names in one-line
//! summaries are Scapy's class names. Headers are read with the bounds-checked
//! helpers in [`wire`] rather than `pnet_packet` views: every dissector emits the
//! fields that are fully present before reporting a short header, which a
//! fixed-size view (`Ipv4Packet::new` needs 20 bytes) cannot do without a
//! second code path.
//!
//! Dispatch tables used here: `linktype`, `ethertype`, `ip.proto`, plus
//! `llc` (key 0: "an 802.2 LLC header follows", used by Ethernet/VLAN length
//! frames), `llc.dsap` (LLC payloads by DSAP) and `sll.ltype` (Linux cooked
//! capture protocol numbers below 0x0600).

use std::sync::{Arc, OnceLock};

use pcapx_core::Dissector;

mod arp;
mod eth;
mod ieee8021ad;
mod ipv4;
mod ipv6;
mod ipv6ext;
mod llc;
pub(crate) mod names;
mod null;
mod raw;
mod sll;
mod vlan;
pub(crate) mod wire;

#[cfg(test)]
pub(crate) mod corpus_tests;

pub use arp::Arp;
pub use eth::Ethernet;
pub use ieee8021ad::Ieee8021ad;
pub use ipv4::Ipv4;
pub use ipv6::Ipv6;
pub use ipv6ext::{Ah, DstOpts, FragHdr, HopOpts, Routing};
pub use llc::Llc;
pub use null::Null;
pub use raw::RawIp;
pub use sll::Sll;
pub use vlan::Vlan;

/// The link- and network-layer dissectors, in registration order.
pub fn all() -> Vec<Box<dyn Dissector>> {
    // The IPv6 dissector registers the `ipv6.opt.*` fields (owned by `ipv6`, as in
    // Wireshark); the hop-by-hop and destination-options dissectors emit them.
    let opts = Arc::new(OnceLock::new());
    // `ip.version` (alias `version`) is also set by IPv6, as in Wireshark.
    let ip_version = Arc::new(OnceLock::new());
    vec![
        Box::new(Ethernet::default()),
        Box::new(Sll::default()),
        Box::new(Null::default()),
        Box::new(RawIp::default()),
        Box::new(Llc::default()),
        Box::new(Vlan::default()),
        Box::new(Ieee8021ad::default()),
        Box::new(Arp::default()),
        Box::new(Ipv4::new(Arc::clone(&ip_version))),
        Box::new(Ipv6::new(Arc::clone(&opts), ip_version)),
        Box::new(HopOpts::new(Arc::clone(&opts))),
        Box::new(Routing::default()),
        Box::new(FragHdr::default()),
        Box::new(DstOpts::new(opts)),
        Box::new(Ah::default()),
    ]
}

/// Ethertype and LLC dispatch shared by Ethernet, VLAN tags and SNAP: a value of
/// 1536 or more is an ethertype; 1500 or less is an 802.3 length (an LLC header
/// follows).
pub(crate) mod lentype {
    /// Smallest value that is an ethertype rather than an 802.3 length.
    pub(crate) const MIN_ETHERTYPE: u16 = 0x0600;
    /// Largest 802.3 length.
    pub(crate) const MAX_LEN: u16 = 1500;
}
