//! Network-infrastructure application protocols over UDP: DHCP/BOOTP
//! ([`dhcp::Dhcp`], UDP 67/68), DHCPv6 ([`dhcpv6::Dhcpv6`], UDP 546/547) and the
//! NetBIOS Name Service ([`nbns::Nbns`], UDP 137).
//!
//! Field names and values are tshark's; one-line summaries are Scapy's
//! (`BOOTP / DHCP Discover`, `DHCP6_Solicit / DHCP6OptClientId / …`).

use pcapx_core::Dissector;

pub mod dhcp;
pub mod dhcpv6;
pub mod nbns;

/// The infrastructure dissectors, in registration order.
pub fn all() -> Vec<Box<dyn Dissector>> {
    vec![
        Box::new(dhcp::Dhcp::default()),
        Box::new(dhcpv6::Dhcpv6::default()),
        Box::new(nbns::Nbns::default()),
    ]
}

#[cfg(test)]
mod tests;
