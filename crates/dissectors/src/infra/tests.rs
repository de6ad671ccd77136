//! DHCP and DHCPv6 unit and property tests: fields of hand-built messages,
//! Scapy summaries, every truncation, hostile option lengths and nesting.

use proptest::prelude::*;

use crate::testutil::{anomalies, check_ip, ipv4, ipv6, run, run_cut};

/// UDP header (checksum 0) around `payload`.
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("small");
    let mut v = Vec::new();
    for w in [sport, dport, len, 0] {
        v.extend_from_slice(&w.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// A DHCP Discover from 00:11:22:33:44:55 with `opts` after the cookie.
fn bootp(opts: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 236];
    m[..4].copy_from_slice(&[1, 1, 6, 0]);
    m[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    m[10] = 0x80; // broadcast flag
    m[24..28].copy_from_slice(&[10, 0, 0, 254]); // giaddr
    m[28..34].copy_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    m[44..48].copy_from_slice(b"srv\0");
    m.extend_from_slice(&[99, 130, 83, 99]);
    m.extend_from_slice(opts);
    m
}

const DISCOVER_OPTS: &[u8] = &[
    53, 1, 1, // Discover
    12, 4, b'h', b'o', b's', b't', // hostname
    50, 4, 192, 168, 1, 7, // requested address
    55, 3, 1, 3, 6, // parameter request list
    60, 4, b'M', b'S', b'F', b'T', // vendor class
    3, 8, 10, 0, 0, 1, 10, 0, 0, 2, // two routers
    51, 4, 0, 1, 81, 128, // lease 86400
    0, 255,
];

#[test]
fn dhcp_discover_fields_and_summary() {
    let pkt = ipv4(17, &udp(68, 67, &bootp(DISCOVER_OPTS)));
    check_ip(
        &pkt,
        &[
            ("dhcp.type", "1"),
            ("dhcp.id", "305419896"),
            ("dhcp.flags.bc", "1"),
            ("dhcp.ip.relay", "10.0.0.254"),
            ("dhcp.hw.mac_addr", "00:11:22:33:44:55"),
            ("dhcp.server", "srv"),
            ("dhcp.file", ""),
            ("dhcp.cookie", "99.130.83.99"),
            ("dhcp.option.dhcp", "1"),
            ("dhcp.option.hostname", "host"),
            ("dhcp.option.requested_ip_address", "192.168.1.7"),
            ("dhcp.option.request_list_item", "1,3,6"),
            ("dhcp.option.vendor_class_id", "MSFT"),
            ("dhcp.option.router", "10.0.0.1,10.0.0.2"),
            ("dhcp.option.ip_address_lease_time", "86400"),
            ("dhcp.option.type", "53,12,50,55,60,3,51,0,0"),
            ("dhcp.option.end", "255"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert!(anomalies(&f).is_empty(), "{:?}", anomalies(&f));
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / UDP / BOOTP / DHCP Discover"
    );
}

#[test]
fn bootp_without_cookie_keeps_udp_ports_in_the_summary() {
    let mut m = bootp(&[]);
    m.truncate(236);
    m.extend_from_slice(&[0; 64]);
    let pkt = ipv4(17, &udp(67, 67, &m));
    let (eng, f) = run(&pkt);
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / UDP 10.0.0.1:bootps > 10.0.0.2:bootps / BOOTP"
    );
    check_ip(&pkt, &[("dhcp.cookie", ""), ("dhcp.option.type", "")]);
}

#[test]
fn dhcp_cookie_without_message_type_is_named_not_summarised() {
    let pkt = ipv4(17, &udp(68, 67, &bootp(&[12, 1, b'x', 255])));
    let (eng, f) = run(&pkt);
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / UDP 10.0.0.1:bootpc > 10.0.0.2:bootps / BOOTP / DHCP"
    );
}

#[test]
fn dhcp_option_past_the_end_is_an_anomaly() {
    let pkt = ipv4(17, &udp(68, 67, &bootp(&[53, 1, 3, 12, 200, b'a'])));
    let (_, f) = run(&pkt);
    let an = anomalies(&f);
    assert!(an.iter().any(|a| a == "dhcp.bad-option"), "{an:?}");
    check_ip(
        &pkt,
        &[("dhcp.option.dhcp", "3"), ("dhcp.option.hostname", "")],
    );
}

#[test]
fn dhcp_every_truncation_never_panics_and_is_reported() {
    let seg = udp(68, 67, &bootp(DISCOVER_OPTS));
    let full = ipv4(17, &seg);
    for cut in 8..seg.len() {
        let pkt = &full[..20 + cut];
        let (eng, f) = run_cut(pkt, full.len());
        let _ = eng.summary_line(&f, pkt, false);
        // The header and each option are complete or reported as cut.
        if cut < seg.len() - 1 {
            let an = anomalies(&f);
            assert!(an.iter().any(|a| a == "truncated"), "cut {cut}: {an:?}");
        }
    }
}

/// Solicit: client id (DUID-LL), IA_NA with an IA address, ORO, elapsed time.
fn solicit() -> Vec<u8> {
    let mut m = vec![1, 0xab, 0xcd, 0xef];
    m.extend_from_slice(&[0, 1, 0, 10, 0, 3, 0, 1, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    let mut ia = vec![0, 0, 0, 1, 0, 0, 0x0e, 0x10, 0, 0, 0x15, 0x18];
    ia.extend_from_slice(&[0, 5, 0, 24]);
    ia.extend_from_slice(&[
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42,
    ]);
    ia.extend_from_slice(&[0, 0, 0x1c, 0x20, 0, 0, 0x1d, 0x4c]);
    m.extend_from_slice(&[0, 3, 0, u8::try_from(ia.len()).expect("small")]);
    m.extend_from_slice(&ia);
    m.extend_from_slice(&[0, 6, 0, 4, 0, 23, 0, 24]);
    m.extend_from_slice(&[0, 8, 0, 2, 0, 0]);
    m
}

#[test]
fn dhcpv6_solicit_fields_and_scapy_names() {
    let pkt = ipv6(17, &udp(546, 547, &solicit()));
    check_ip(
        &pkt,
        &[
            ("dhcpv6.msgtype", "1"),
            ("dhcpv6.xid", "11259375"),
            ("dhcpv6.duid.type", "3"),
            ("dhcpv6.client_duid", "00030001001122334455"),
            ("dhcpv6.iaid.t1", "3600"),
            ("dhcpv6.iaaddr.ip", "2001:db8::42"),
            ("dhcpv6.iaaddr.valid_lifetime", "7500"),
            ("dhcpv6.option.type", "1,3,5,6,8"),
            ("dhcpv6.requested_option_code", "23,24"),
            ("dhcpv6.elapsed_time", "0"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert!(anomalies(&f).is_empty(), "{:?}", anomalies(&f));
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IPv6 / UDP 2001:db8::1:dhcpv6_client > 2001:db8::2:dhcpv6_server / DHCP6_Solicit / DHCP6OptClientId / DHCP6OptIA_NA / DHCP6OptOptReq / DHCP6OptElapsedTime"
    );
}

#[test]
fn dhcpv6_relay_nesting_is_bounded() {
    // 60 Relay-forward messages nested in Relay Message options: decoded to
    // the depth bound, then `malformed`, never a stack overflow.
    let mut m = solicit();
    for _ in 0..60 {
        let mut r = vec![12, 0];
        r.extend_from_slice(&[0; 32]);
        r.extend_from_slice(&9u16.to_be_bytes());
        r.extend_from_slice(&u16::try_from(m.len()).unwrap_or(u16::MAX).to_be_bytes());
        r.extend_from_slice(&m);
        m = r;
        if m.len() > 60_000 {
            break;
        }
    }
    let pkt = ipv6(17, &udp(547, 547, &m));
    let (_, f) = run(&pkt);
    assert!(anomalies(&f).iter().any(|a| a == "malformed"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_dhcp_options_never_panic(opts in proptest::collection::vec(any::<u8>(), 0..400)) {
        let pkt = ipv4(17, &udp(68, 67, &bootp(&opts)));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }

    #[test]
    fn random_dhcpv6_messages_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        for dport in [546u16, 547] {
            let pkt = ipv6(17, &udp(1000, dport, &body));
            let (eng, f) = run(&pkt);
            let _ = eng.summary_line(&f, &pkt, false);
        }
    }

    #[test]
    fn corrupted_solicit_never_panics(at in 0usize..80, byte in any::<u8>(), cut in 0usize..80) {
        let mut m = solicit();
        if let Some(b) = m.get_mut(at) {
            *b = byte;
        }
        m.truncate(cut.max(1));
        let pkt = ipv6(17, &udp(546, 547, &m));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }
}

/// NBNS name query for `ARBEITSGRUPPE<1b>` (broadcast, recursion desired).
fn nbns_query() -> Vec<u8> {
    let mut m = vec![0x89, 0x21, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20];
    let mut name = *b"ARBEITSGRUPPE   ";
    name[15] = 0x1b;
    for c in name {
        m.push(b'A' + (c >> 4));
        m.push(b'A' + (c & 0x0f));
    }
    m.extend_from_slice(&[0, 0, 0x20, 0, 1]);
    m
}

#[test]
fn nbns_query_fields_and_summary() {
    let pkt = ipv4(17, &udp(137, 137, &nbns_query()));
    check_ip(
        &pkt,
        &[
            ("nbns.id", "35105"),
            ("nbns.flags.opcode", "0"),
            ("nbns.flags.broadcast", "1"),
            ("nbns.flags.rcode", ""),
            ("nbns.name", "ARBEITSGRUPPE<1b>"),
            ("nbns.type", "32"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert!(anomalies(&f).is_empty(), "{:?}", anomalies(&f));
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / UDP / NBNSHeader / NBNSQueryRequest who has '\\\\ARBEITSGRUPPE'"
    );
}

#[test]
fn nbns_pointer_loops_and_truncations_are_bounded() {
    // A record whose name is a pointer to itself: no loop, the packet is kept.
    let mut m = vec![0, 1, 0x85, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12];
    m.extend_from_slice(&[0, 32, 0, 1, 0, 0, 0, 1, 0, 6, 0, 0, 10, 0, 0, 9]);
    let pkt = ipv4(17, &udp(137, 137, &m));
    let (eng, f) = run(&pkt);
    let _ = eng.summary_line(&f, &pkt, false);
    let full = nbns_query();
    // Cut 0 leaves no UDP payload, so no NBNS layer.
    for cut in 1..full.len() {
        let pkt = ipv4(17, &udp(137, 137, &full[..cut]));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
        assert!(!anomalies(&f).is_empty(), "cut {cut}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_nbns_messages_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let pkt = ipv4(17, &udp(137, 1000, &body));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }
}

#[test]
fn nbdgm_direct_group_datagram_fields_and_truncations() {
    let mut m = vec![
        0x11, 0x0e, 0x89, 0x1d, 192, 168, 1, 249, 0, 138, 0, 100, 0, 0,
    ];
    for name in [*b"DJP95S0J       \x00", *b"ARBEITSGRUPPE  \x1d"] {
        m.push(0x20);
        for c in name {
            m.push(b'A' + (c >> 4));
            m.push(b'A' + (c & 0x0f));
        }
        m.push(0);
    }
    m.extend_from_slice(b"\xffSMB payload");
    let pkt = ipv4(17, &udp(138, 138, &m));
    check_ip(
        &pkt,
        &[
            ("nbdgm.type", "17"),
            ("nbdgm.node_type", "3"),
            ("nbdgm.first", "1"),
            ("nbdgm.src.ip", "192.168.1.249"),
            ("nbdgm.source_name", "DJP95S0J<00>"),
            ("nbdgm.destination_name", "ARBEITSGRUPPE<1d>"),
            ("data.data", "ff534d42207061796c6f6164"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / UDP 10.0.0.1:netbios_dgm > 10.0.0.2:netbios_dgm / NBTDatagram / Raw"
    );
    for cut in 1..m.len() - 12 {
        let pkt = ipv4(17, &udp(138, 138, &m[..cut]));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
        assert!(!anomalies(&f).is_empty(), "cut {cut}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_nbdgm_datagrams_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let pkt = ipv4(17, &udp(138, 1000, &body));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }
}

/// TCP segment 50000 → 22 (header length 20, PSH ACK) carrying `payload`.
fn tcp22(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![
        0xc3, 0x50, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
    ];
    v.extend_from_slice(payload);
    v
}

/// A KEXINIT with the given name-lists (kex first) and 4 bytes of padding.
fn kexinit(lists: [&str; 10]) -> Vec<u8> {
    let mut p = vec![20];
    p.extend_from_slice(&[0x11; 16]);
    for l in lists {
        p.extend_from_slice(&u32::try_from(l.len()).expect("small").to_be_bytes());
        p.extend_from_slice(l.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 0, 0, 0]);
    let pad = 4u8;
    let mut m = u32::try_from(p.len() + 1 + usize::from(pad))
        .expect("small")
        .to_be_bytes()
        .to_vec();
    m.push(pad);
    m.extend_from_slice(&p);
    m.extend_from_slice(&[0; 4]);
    m
}

#[test]
fn ssh_banner_and_kexinit() {
    let pkt = ipv4(6, &tcp22(b"SSH-2.0-OpenSSH_9.6\r\n"));
    check_ip(&pkt, &[("ssh.protocol", "SSH-2.0-OpenSSH_9.6")]);
    let (eng, f) = run(&pkt);
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / TCP / SSH SSH-2.0-OpenSSH_9.6"
    );
    let lists = [
        "curve25519-sha256,ext-info-c",
        "ssh-ed25519",
        "aes128-ctr",
        "aes256-ctr",
        "hmac-sha2-256",
        "hmac-sha2-512",
        "none",
        "none,zlib",
        "",
        "",
    ];
    let pkt = ipv4(6, &tcp22(&kexinit(lists)));
    check_ip(
        &pkt,
        &[
            ("ssh.message_code", "20"),
            ("ssh.kex_algorithms", "curve25519-sha256,ext-info-c"),
            ("ssh.server_host_key_algorithms", "ssh-ed25519"),
            ("ssh.encryption_algorithms_server_to_client", "aes256-ctr"),
            ("ssh.compression_algorithms_server_to_client", "none,zlib"),
            ("ssh.languages_client_to_server", ""),
            ("ssh.languages_client_to_server_length", "0"),
            ("ssh.first_kex_packet_follows", "0"),
        ],
    );
    // Cut anywhere: no KEXINIT fields and no panic (alone, without the
    // stateful pass that joins it with the next segment).
    let full = tcp22(&kexinit(lists));
    for cut in 21..full.len() {
        let pkt = ipv4(6, &full[..cut]);
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
        check_ip(&pkt, &[("ssh.kex_algorithms", "")]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_ssh_segments_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), code in any::<bool>()) {
        let mut body = body;
        if code && body.len() > 6 {
            body[5] = 20; // looks like a KEXINIT with hostile lengths
        }
        let pkt = ipv4(6, &tcp22(&body));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }
}
