//! Port → service names, as Scapy prints them (`TCP 10.0.0.1:36112 > 10.0.0.2:https`).
//!
//! Source mirrored: Scapy 2.8.0's `TCP_SERVICES` / `UDP_SERVICES` as loaded on the
//! reference machine (Debian 12), i.e. Scapy's `load_services("/etc/services")`
//! over Debian's `netbase` `/etc/services`, with Scapy's `fixname` applied
//! (`ftp-data` → `ftp_data`). Scapy on a machine without `/etc/services`
//! prints plain numbers; on another OS its names follow that OS's file.
//! Regenerate with:
//! `python3 -c "from scapy.data import TCP_SERVICES as T; print(sorted(T.d.items()))"`.

/// Scapy's `TCP_SERVICES` on the reference machine, sorted by port.
const TCP: &[(u16, &str)] = &[
    (1, "tcpmux"),
    (7, "echo"),
    (9, "discard"),
    (11, "systat"),
    (13, "daytime"),
    (15, "netstat"),
    (17, "qotd"),
    (19, "chargen"),
    (20, "ftp_data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (37, "time"),
    (43, "whois"),
    (49, "tacacs"),
    (53, "domain"),
    (70, "gopher"),
    (79, "finger"),
    (80, "http"),
    (88, "kerberos"),
    (102, "iso_tsap"),
    (104, "acr_nema"),
    (106, "poppassd"),
    (110, "pop3"),
    (111, "sunrpc"),
    (113, "auth"),
    (119, "nntp"),
    (135, "epmap"),
    (139, "netbios_ssn"),
    (143, "imap2"),
    (161, "snmp"),
    (162, "snmp_trap"),
    (163, "cmip_man"),
    (164, "cmip_agent"),
    (174, "mailq"),
    (179, "bgp"),
    (199, "smux"),
    (209, "qmtp"),
    (210, "z3950"),
    (345, "pawserv"),
    (346, "zserv"),
    (369, "rpc2portmap"),
    (370, "codaauth2"),
    (389, "ldap"),
    (427, "svrloc"),
    (443, "https"),
    (444, "snpp"),
    (445, "microsoft_ds"),
    (464, "kpasswd"),
    (465, "submissions"),
    (487, "saft"),
    (512, "exec"),
    (513, "login"),
    (514, "shell"),
    (515, "printer"),
    (538, "gdomap"),
    (540, "uucp"),
    (543, "klogin"),
    (544, "kshell"),
    (548, "afpovertcp"),
    (554, "rtsp"),
    (563, "nntps"),
    (587, "submission"),
    (607, "nqs"),
    (628, "qmqp"),
    (631, "ipp"),
    (636, "ldaps"),
    (646, "ldp"),
    (655, "tinc"),
    (706, "silc"),
    (749, "kerberos_adm"),
    (750, "kerberos4"),
    (751, "kerberos_master"),
    (754, "krb_prop"),
    (775, "moira_db"),
    (777, "moira_update"),
    (783, "spamd"),
    (853, "domain_s"),
    (871, "supfilesrv"),
    (873, "rsync"),
    (989, "ftps_data"),
    (990, "ftps"),
    (992, "telnets"),
    (993, "imaps"),
    (995, "pop3s"),
    (1080, "socks"),
    (1093, "proofd"),
    (1094, "rootd"),
    (1099, "rmiregistry"),
    (1127, "supfiledbg"),
    (1178, "skkserv"),
    (1194, "openvpn"),
    (1236, "rmtcfg"),
    (1313, "xtel"),
    (1314, "xtelw"),
    (1352, "lotusnote"),
    (1433, "ms_sql_s"),
    (1524, "ingreslock"),
    (1645, "datametrics"),
    (1646, "sa_msg_port"),
    (1649, "kermit"),
    (1677, "groupwise"),
    (1812, "radius"),
    (1813, "radius_acct"),
    (2000, "cisco_sccp"),
    (2049, "nfs"),
    (2086, "gnunet"),
    (2101, "rtcm_sc104"),
    (2119, "gsigatekeeper"),
    (2121, "iprop"),
    (2135, "gris"),
    (2401, "cvspserver"),
    (2430, "venus"),
    (2431, "venus_se"),
    (2432, "codasrv"),
    (2433, "codasrv_se"),
    (2583, "mon"),
    (2600, "zebrasrv"),
    (2601, "zebra"),
    (2602, "ripd"),
    (2603, "ripngd"),
    (2604, "ospfd"),
    (2605, "bgpd"),
    (2606, "ospf6d"),
    (2607, "ospfapi"),
    (2608, "isisd"),
    (2628, "dict"),
    (2792, "f5_globalsite"),
    (2811, "gsiftp"),
    (2947, "gpsd"),
    (3050, "gds_db"),
    (3205, "isns"),
    (3260, "iscsi_target"),
    (3306, "mysql"),
    (3389, "ms_wbt_server"),
    (3493, "nut"),
    (3632, "distcc"),
    (3689, "daap"),
    (3690, "svn"),
    (4031, "suucp"),
    (4094, "sysrqd"),
    (4190, "sieve"),
    (4353, "f5_iquery"),
    (4369, "epmd"),
    (4373, "remctl"),
    (4460, "ntske"),
    (4557, "fax"),
    (4559, "hylafax"),
    (4691, "mtn"),
    (4899, "radmin_port"),
    (4949, "munin"),
    (5060, "sip"),
    (5061, "sip_tls"),
    (5222, "xmpp_client"),
    (5269, "xmpp_server"),
    (5308, "cfengine"),
    (5432, "postgresql"),
    (5556, "freeciv"),
    (5666, "nrpe"),
    (5667, "nsca"),
    (5671, "amqps"),
    (5672, "amqp"),
    (5680, "canna"),
    (6000, "x11"),
    (6001, "x11_1"),
    (6002, "x11_2"),
    (6003, "x11_3"),
    (6004, "x11_4"),
    (6005, "x11_5"),
    (6006, "x11_6"),
    (6007, "x11_7"),
    (6346, "gnutella_svc"),
    (6347, "gnutella_rtr"),
    (6379, "redis"),
    (6444, "sge_qmaster"),
    (6445, "sge_execd"),
    (6446, "mysql_proxy"),
    (6514, "syslog_tls"),
    (6566, "sane_port"),
    (6667, "ircd"),
    (6697, "ircs_u"),
    (7000, "bbs"),
    (7100, "font_service"),
    (8021, "zope_ftp"),
    (8080, "http_alt"),
    (8081, "tproxy"),
    (8088, "omniorb"),
    (8140, "puppet"),
    (8990, "clc_build_daemon"),
    (9098, "xinetd"),
    (9101, "bacula_dir"),
    (9102, "bacula_fd"),
    (9103, "bacula_sd"),
    (9418, "git"),
    (9667, "xmms2"),
    (9673, "zope"),
    (10000, "webmin"),
    (10050, "zabbix_agent"),
    (10051, "zabbix_trapper"),
    (10080, "amanda"),
    (10081, "kamanda"),
    (10082, "amandaidx"),
    (10083, "amidxtape"),
    (10809, "nbd"),
    (11112, "dicom"),
    (11371, "hkp"),
    (17004, "sgi_cad"),
    (17500, "db_lsp"),
    (22125, "dcap"),
    (22128, "gsidcap"),
    (22273, "wnn6"),
    (24554, "binkp"),
    (27374, "asp"),
    (30865, "csync2"),
    (57000, "dircproxy"),
    (60177, "tfido"),
    (60179, "fido"),
];

/// Scapy's `UDP_SERVICES` on the reference machine, sorted by port.
const UDP: &[(u16, &str)] = &[
    (7, "echo"),
    (9, "discard"),
    (13, "daytime"),
    (19, "chargen"),
    (21, "fsp"),
    (37, "time"),
    (49, "tacacs"),
    (53, "domain"),
    (67, "bootps"),
    (68, "bootpc"),
    (69, "tftp"),
    (88, "kerberos"),
    (111, "sunrpc"),
    (123, "ntp"),
    (137, "netbios_ns"),
    (138, "netbios_dgm"),
    (161, "snmp"),
    (162, "snmp_trap"),
    (163, "cmip_man"),
    (164, "cmip_agent"),
    (177, "xdmcp"),
    (213, "ipx"),
    (319, "ptp_event"),
    (320, "ptp_general"),
    (369, "rpc2portmap"),
    (370, "codaauth2"),
    (371, "clearcase"),
    (389, "ldap"),
    (427, "svrloc"),
    (443, "https"),
    (464, "kpasswd"),
    (500, "isakmp"),
    (512, "biff"),
    (513, "who"),
    (514, "syslog"),
    (517, "talk"),
    (518, "ntalk"),
    (520, "route"),
    (538, "gdomap"),
    (546, "dhcpv6_client"),
    (547, "dhcpv6_server"),
    (554, "rtsp"),
    (623, "asf_rmcp"),
    (636, "ldaps"),
    (646, "ldp"),
    (655, "tinc"),
    (750, "kerberos4"),
    (751, "kerberos_master"),
    (752, "passwd_server"),
    (779, "moira_ureg"),
    (853, "domain_s"),
    (1194, "openvpn"),
    (1210, "predict"),
    (1434, "ms_sql_m"),
    (1645, "datametrics"),
    (1646, "sa_msg_port"),
    (1701, "l2f"),
    (1812, "radius"),
    (1813, "radius_acct"),
    (2049, "nfs"),
    (2086, "gnunet"),
    (2101, "rtcm_sc104"),
    (2102, "zephyr_srv"),
    (2103, "zephyr_clt"),
    (2104, "zephyr_hm"),
    (2430, "venus"),
    (2431, "venus_se"),
    (2432, "codasrv"),
    (2433, "codasrv_se"),
    (2583, "mon"),
    (3130, "icpv2"),
    (3205, "isns"),
    (3493, "nut"),
    (4500, "ipsec_nat_t"),
    (4569, "iax"),
    (5060, "sip"),
    (5061, "sip_tls"),
    (5353, "mdns"),
    (5555, "rplay"),
    (6346, "gnutella_svc"),
    (6347, "gnutella_rtr"),
    (6696, "babel"),
    (7000, "afs3_fileserver"),
    (7001, "afs3_callback"),
    (7002, "afs3_prserver"),
    (7003, "afs3_vlserver"),
    (7004, "afs3_kaserver"),
    (7005, "afs3_volser"),
    (7007, "afs3_bos"),
    (7008, "afs3_update"),
    (7009, "afs3_rmtsys"),
    (17001, "sgi_cmsd"),
    (17002, "sgi_crsd"),
    (17003, "sgi_gcd"),
    (27374, "asp"),
];

/// Scapy's name for TCP port `port`, if it has one.
pub fn tcp_name(port: u16) -> Option<&'static str> {
    lookup(TCP, port)
}

/// Scapy's name for UDP port `port`, if it has one.
pub fn udp_name(port: u16) -> Option<&'static str> {
    lookup(UDP, port)
}

fn lookup(table: &'static [(u16, &'static str)], port: u16) -> Option<&'static str> {
    table
        .binary_search_by_key(&port, |&(p, _)| p)
        .ok()
        .and_then(|i| table.get(i))
        .map(|&(_, n)| n)
}

/// Write `port` as Scapy does: its service name, or the number (`numeric`: always the number).
pub fn write_port(out: &mut String, port: u16, udp: bool, numeric: bool) {
    use std::fmt::Write as _;
    let name = if numeric {
        None
    } else if udp {
        udp_name(port)
    } else {
        tcp_name(port)
    };
    match name {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "{port}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        for t in [TCP, UDP] {
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    #[test]
    fn names_as_scapy_prints_them() {
        assert_eq!(tcp_name(443), Some("https"));
        assert_eq!(tcp_name(80), Some("http"));
        assert_eq!(tcp_name(20), Some("ftp_data"));
        assert_eq!(udp_name(53), Some("domain"));
        assert_eq!(tcp_name(36112), None);
        let mut s = String::new();
        write_port(&mut s, 53, true, false);
        s.push(' ');
        write_port(&mut s, 53, true, true);
        assert_eq!(s, "domain 53");
    }
}
