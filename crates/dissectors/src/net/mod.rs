//! Link and network layers: Ethernet (with 802.3/LLC/SNAP), 802.1Q/802.1ad,
//! Linux SLL/SLL2, BSD null/loopback, raw IP, ARP, IPv4, IPv6 and its extension headers.

use pcapx_core::Dissector;

/// The link- and network-layer dissectors, in registration order.
pub fn all() -> Vec<Box<dyn Dissector>> {
    Vec::new()
}
