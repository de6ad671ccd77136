//! Names of the built-in dispatch tables and newtypes for their common keys,
//! so that a binding reads `r.bind(tables::ETHERTYPE, EtherType::IPV4)`
//! instead of a string and a bare number. The newtypes are open registries
//! (any value converts), in the manner of etherparse's `EtherType`.

/// Names of the dispatch tables the built-in dissectors declare.
pub mod tables {
    /// LINKTYPE_* values of the capture's interfaces; declared by the engine.
    pub const LINKTYPE: &str = "linktype";
    /// EtherType / length-type field (Ethernet, 802.1Q, SLL, Null, ICMP's quote).
    pub const ETHERTYPE: &str = "ethertype";
    /// IPv4 protocol / IPv6 next header.
    pub const IP_PROTO: &str = "ip.proto";
    pub const TCP_PORT: &str = "tcp.port";
    pub const UDP_PORT: &str = "udp.port";
    /// 802.3 frames that carry an LLC header (key 0).
    pub const LLC: &str = "llc";
    /// LLC's DSAP (unbound by the built-ins; for plugins).
    pub const LLC_DSAP: &str = "llc.dsap";
    /// Linux cooked capture's protocol field for non-Ethernet frames.
    pub const SLL_LTYPE: &str = "sll.ltype";
}

macro_rules! key_newtype {
    ($(#[$m:meta])* $name:ident($int:ty) { $($(#[$cm:meta])* $c:ident = $v:expr,)* }) => {
        $(#[$m])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*
        }

        impl From<$name> for u64 {
            fn from(k: $name) -> u64 {
                u64::from(k.0)
            }
        }
    };
}

key_newtype! {
    /// An EtherType (the `ethertype` table's key).
    EtherType(u16) {
        IPV4 = 0x0800,
        ARP = 0x0806,
        /// IEEE 802.1Q VLAN tag.
        VLAN = 0x8100,
        RARP = 0x8035,
        IPV6 = 0x86dd,
        /// IEEE 802.1ad service tag (QinQ).
        QINQ = 0x88a8,
        /// The pre-standard QinQ tag some switches use.
        QINQ_OLD = 0x9100,
    }
}

key_newtype! {
    /// An IP protocol number / IPv6 next header (the `ip.proto` table's key).
    IpProto(u8) {
        HOPOPT = 0,
        ICMP = 1,
        /// IPv4 in IP.
        IPIP = 4,
        TCP = 6,
        UDP = 17,
        /// IPv6 encapsulation.
        IPV6 = 41,
        IPV6_ROUTE = 43,
        IPV6_FRAG = 44,
        ESP = 50,
        AH = 51,
        ICMPV6 = 58,
        IPV6_NONXT = 59,
        IPV6_OPTS = 60,
    }
}

key_newtype! {
    /// A TCP or UDP port (the `tcp.port` and `udp.port` tables' key).
    Port(u16) {
        DNS = 53,
        MDNS = 5353,
    }
}

key_newtype! {
    /// A LINKTYPE_* value (the `linktype` table's key).
    LinkType(u32) {
        NULL = 0,
        ETHERNET = 1,
        /// Raw IP under the historical DLT_RAW number of most BSDs.
        RAW_12 = 12,
        /// Raw IP under OpenBSD's historical DLT_RAW number.
        RAW_14 = 14,
        RAW = 101,
        LOOP = 108,
        LINUX_SLL = 113,
        IPV4 = 228,
        IPV6 = 229,
        LINUX_SLL2 = 276,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_convert_to_table_keys() {
        assert_eq!(u64::from(EtherType::IPV4), 0x0800);
        assert_eq!(u64::from(IpProto::TCP), 6);
        assert_eq!(u64::from(LinkType::LINUX_SLL2), 276);
        // Open registries: unknown values flow through.
        assert_eq!(u64::from(EtherType(0x88cc)), 0x88cc);
    }
}
