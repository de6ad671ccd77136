//! Network-infrastructure application protocols: DHCP/BOOTP
//! ([`dhcp::Dhcp`], UDP 67/68), DHCPv6 ([`dhcpv6::Dhcpv6`], UDP 546/547) and the
//! NetBIOS Name and Datagram Services ([`nbns::Nbns`], UDP 137;
//! [`nbdgm::Nbdgm`], UDP 138); plus SSH's banner and KEXINIT ([`ssh::Ssh`],
//! TCP 22).
//!
//! Field names and values are tshark's; one-line summaries are Scapy's
//! (`BOOTP / DHCP Discover`, `DHCP6_Solicit / DHCP6OptClientId / …`).

use pcapx_core::Dissector;

pub mod dhcp;
pub mod dhcpv6;
pub mod nbdgm;
pub mod nbns;
pub mod ssh;

/// The infrastructure dissectors, in registration order.
pub fn all() -> Vec<Box<dyn Dissector>> {
    vec![
        Box::new(dhcp::Dhcp::default()),
        Box::new(dhcpv6::Dhcpv6::default()),
        Box::new(nbns::Nbns::default()),
        Box::new(nbdgm::Nbdgm::default()),
        Box::new(ssh::Ssh::default()),
    ]
}

#[cfg(test)]
mod tests;
