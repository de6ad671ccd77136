//! Scapy's name tables used in one-line summaries, as Scapy 2.x prints them on a
//! Debian system: `IP_PROTOS` is read from `/etc/protocols` (names passed through
//! Scapy's `fixname`: lower case, `-` → `_`) and `ETHER_TYPES` from Scapy's bundled
//! ethertypes list. Scapy on another system may print other names; unknown values
//! print as numbers (`IP.proto`) or lower-case hex (`Ether.type`, `0x9000`).

/// Scapy's `IP_PROTOS[proto]`.
pub(crate) fn ip_proto(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        3 => "ggp",
        4 => "ipencap",
        5 => "st",
        6 => "tcp",
        8 => "egp",
        9 => "igp",
        12 => "pup",
        17 => "udp",
        20 => "hmp",
        22 => "xns_idp",
        27 => "rdp",
        29 => "iso_tp4",
        33 => "dccp",
        36 => "xtp",
        37 => "ddp",
        38 => "idpr_cmtp",
        41 => "ipv6",
        43 => "ipv6_route",
        44 => "ipv6_frag",
        45 => "idrp",
        46 => "rsvp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        57 => "skip",
        58 => "ipv6_icmp",
        59 => "ipv6_nonxt",
        60 => "ipv6_opts",
        73 => "rspf",
        81 => "vmtp",
        88 => "eigrp",
        89 => "ospf",
        93 => "ax_25",
        94 => "ipip",
        97 => "etherip",
        98 => "encap",
        103 => "pim",
        108 => "ipcomp",
        112 => "vrrp",
        115 => "l2tp",
        124 => "isis",
        132 => "sctp",
        133 => "fc",
        135 => "mobility_header",
        136 => "udplite",
        137 => "mpls_in_ip",
        138 => "manet",
        139 => "hip",
        140 => "shim6",
        141 => "wesp",
        142 => "rohc",
        143 => "ethernet",
        _ => return None,
    })
}

/// Scapy's `ETHER_TYPES[t]`.
pub(crate) fn ether_type(t: u16) -> Option<&'static str> {
    Some(match t {
        0x0800 => "IPv4",
        0x0805 => "X25",
        0x0806 => "ARP",
        0x0808 => "FR_ARP",
        0x08ff => "BPQ",
        0x22f3 => "TRILL",
        0x22f4 => "L2_IS_IS",
        0x6558 => "TEB",
        0x6559 => "RAW_FR",
        0x8035 => "RARP",
        0x809b => "ATALK",
        0x80f3 => "AARP",
        0x8100 => "n_802_1Q",
        0x8137 => "IPX",
        0x8191 => "NetBEUI",
        0x86dd => "IPv6",
        0x880b => "PPP",
        0x8847 => "MPLS",
        0x8848 => "MPLS_MULTI",
        0x884c => "ATMMPOA",
        0x8863 => "PPP_DISC",
        0x8864 => "PPP_SES",
        0x8884 => "ATMFATE",
        0x888e => "EAPOL",
        0x88a8 => "802_1AD",
        0x88c7 => "EAP_PREAUTH",
        0x88cc => "LLDP",
        0x88e5 => "802_1AE",
        0x88e7 => "802_1AH",
        0x88f5 => "MVRP",
        0x88f7 => "PTP",
        0x8906 => "FCOE",
        0x8914 => "FIP",
        0x8915 => "ROCE",
        0xa0ed => "6LoWPAN",
        _ => return None,
    })
}

/// Write an `XShortEnumField` value the way Scapy does: its name, or `0x…` hex.
pub(crate) fn write_ether_type(out: &mut String, t: u16) {
    use std::fmt::Write;
    match ether_type(t) {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "{t:#x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_scapy() {
        assert_eq!(ip_proto(6), Some("tcp"));
        assert_eq!(ip_proto(58), Some("ipv6_icmp"));
        assert_eq!(ip_proto(255), None);
        let mut s = String::new();
        write_ether_type(&mut s, 0x0800);
        s.push(' ');
        write_ether_type(&mut s, 0x9000);
        s.push(' ');
        write_ether_type(&mut s, 0x32);
        assert_eq!(s, "IPv4 0x9000 0x32");
    }
}
