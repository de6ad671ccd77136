//! `Program::dump()` snapshots for representative expressions, and exact
//! equality with `tcpdump -d` where libpcap's optimised program is simple.

mod common;

use std::process::Command;

use pcapx_filter::{DEFAULT_SNAPLEN, Options, compile, compile_with, linktype_from_name};

/// (link type, expression) pairs snapshotted.
const SNAPSHOTS: &[(&str, &str)] = &[
    ("EN10MB", "ip"),
    ("EN10MB", "tcp port 80"),
    ("EN10MB", "port 80 or 443"),
    ("EN10MB", "host 1.2.3.4 and not port 22"),
    (
        "EN10MB",
        "src net 10.0.0.0/8 or dst net 192.168.0.0 mask 255.255.0.0",
    ),
    ("EN10MB", "ip6 net fe80::/10"),
    ("EN10MB", "ether src 00:11:22:33:44:55"),
    ("EN10MB", "vlan 100 and tcp"),
    ("EN10MB", "mpls 16 and ip"),
    ("EN10MB", "pppoes 3 and udp port 53"),
    ("EN10MB", "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0"),
    ("EN10MB", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420"),
    ("EN10MB", "icmp[icmptype] = icmp-echo"),
    ("EN10MB", "portrange 1000-2000"),
    ("EN10MB", "less 64 or greater 1500"),
    ("EN10MB", "ip6 protochain 17"),
    ("EN10MB", "llc"),
    ("EN10MB", "geneve"),
    ("EN10MB", "geneve 10 and tcp port 80"),
    ("EN10MB", "geneve and ether host 1:2:3:4:5:6"),
    ("EN10MB", "vxlan"),
    ("EN10MB", "vxlan 42 and tcp[tcpflags] & tcp-syn != 0"),
    ("RAW", "vxlan and ip6"),
    ("LINUX_SLL", "geneve and vlan 5 and udp"),
    ("RAW", "tcp port 80"),
    ("IPV4", "udp"),
    ("IPV6", "icmp6"),
    ("LINUX_SLL", "inbound and ip"),
    ("LINUX_SLL2", "outbound and arp"),
    ("NULL", "ip6"),
    ("LOOP", "ip"),
    ("C_HDLC", "isis"),
    ("PPP", "tcp port 80"),
    ("FDDI", "ether src 1:2:3:4:5:6 and ip"),
    ("ARCNET_LINUX", "link host $c0"),
    ("MTP2", "sio 3 and dpc 2 and sls != 1"),
    ("IEEE802_11", "wlan src 1:2:3:4:5:6"),
    ("IEEE802_11_RADIO", "tcp port 80"),
    ("IEEE802_11_RADIO", "type mgt subtype beacon"),
    ("PRISM_HEADER", "radio[0] = 0 and ip"),
    ("EN10MB", "llc ui"),
    ("EN10MB", "decnet src 1.1"),
];

fn name(lt: &str, expr: &str) -> String {
    let clean: String = expr
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{lt}__{clean}")
}

#[test]
fn dump_snapshots() {
    for (lt, expr) in SNAPSHOTS {
        let p = compile(expr, linktype_from_name(lt).unwrap(), DEFAULT_SNAPLEN)
            .unwrap_or_else(|e| panic!("{lt} '{expr}': {e}"));
        insta::assert_snapshot!(name(lt, expr), p.dump(), &format!("{lt}: {expr}"));
    }
}

/// Expressions whose optimised libpcap program we reproduce instruction for instruction.
const SAME_AS_TCPDUMP: &[&str] = &[
    "ip",
    "arp",
    "tcp",
    "udp port 53",
    "tcp port 80",
    "ip6 host ::1",
    "vlan 100 and tcp",
    "greater 100",
    "src net 10.0.0.0/8",
    "ether host 1:2:3:4:5:6",
    "broadcast",
    "multicast",
    "ip multicast",
    "ip broadcast",
    "icmp",
    "mpls and ip",
    "pppoes and ip",
    "host 1.2.3.4",
    "icmp6[icmp6type] = icmp6-echo",
    "len - 1 > 3 * 4",
    "ether proto 1",
    "iso",
    "stp",
    "ip[6:2] & 0x1fff != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
    "src port 80 or src port 443",
    "portrange 1000-2000",
    "tcp dst port 80 or 8080",
    // OR chains and negated tests: libpcap's block order (convert_code_r).
    "port 80 or 443",
    "tcp port 22 or 80 or 443",
    "udp port 53 or 67 or 123",
    "port 80 or port 443 or port 8080",
    "host 1.2.3.4 or host 5.6.7.8",
    "not ip",
    "not tcp",
    "not vlan",
    "not port 80",
    "not (tcp or udp)",
    "host 1.2.3.4 and not port 22",
    "less 64 or greater 1500",
    "llc",
    "src net 10.0.0.0/8 or dst net 192.168.0.0 mask 255.255.0.0",
];

/// (link type, expression) pairs beyond Ethernet whose program equals
/// `tcpdump -y LINKTYPE -d` instruction for instruction.
const SAME_AS_TCPDUMP_ON: &[(&str, &str)] = &[
    ("EN10MB", "l1"),
    ("EN10MB", "l2"),
    ("EN10MB", "iih"),
    ("EN10MB", "lsp"),
    ("EN10MB", "snp"),
    ("EN10MB", "csnp"),
    ("EN10MB", "psnp"),
    ("EN10MB", "clnp"),
    ("EN10MB", "esis"),
    ("EN10MB", "isis proto 17"),
    ("EN10MB", "iso proto \\isis"),
    ("EN10MB", "decnet src 1.1"),
    ("EN10MB", "decnet host 10.20"),
    ("EN10MB", "llc s"),
    ("EN10MB", "llc u"),
    ("EN10MB", "llc rr"),
    ("EN10MB", "llc ui"),
    ("EN10MB", "netbeui"),
    ("EN10MB", "ipx"),
    ("EN10MB", "atalk"),
    ("EN10MB", "aarp"),
    ("EN10MB", "sca"),
    ("EN10MB", "lat"),
    ("EN10MB", "mopdl"),
    ("EN10MB", "moprc"),
    ("EN10MB", "portrange 25-smtp"),
    ("EN10MB", "portrange smtp-25"),
    ("C_HDLC", "ip"),
    ("C_HDLC", "isis"),
    ("C_HDLC", "mpls"),
    ("PPP", "tcp port 80"),
    ("PPP", "mpls and ip"),
    ("FDDI", "ip"),
    ("FDDI", "isis proto 17"),
    ("FDDI", "ether src 1:2:3:4:5:6"),
    ("FDDI", "broadcast"),
    ("IEEE802", "arp"),
    ("IEEE802", "multicast"),
    ("ARCNET_LINUX", "ip6"),
    ("ARCNET", "ip"),
    ("ARCNET", "broadcast"),
    ("MTP2", "sio 3"),
    ("MTP2", "dpc (1 or 2)"),
    ("MTP2_WITH_PHDR", "hopc 5"),
    ("ERF", "msu"),
    ("SUNATM", "llc i"),
    ("FRELAY", "isis"),
    ("IP_OVER_FC", "ip and udp"),
    ("PPP_ETHER", "ip6"),
    ("PPP_BSDOS", "ip"),
    ("JUNIPER_ETHER", "ip"),
    ("IPNET", "ip6"),
    ("BACNET_MS_TP", "ip"),
    ("NETANALYZER", "tcp"),
    ("ATM_RFC1483", "stp"),
    ("ENC", "len > 1"),
    ("LTALK", "atalk"),
    ("SLIP", "inbound"),
    // libpcap's relations leave the constant index / right operand in X
    // (`ldx #k`), so a later block recomputing A's value is emptied.
    ("SLIP", "inbound and tcp"),
    ("SLIP", "link[0] & 1 = 0 and tcp"),
    ("RAW", "len - 1 > 100 and (ip or ip6)"),
    ("IEEE802_11", "len > 20"),
    ("SUNATM", "vpi 1"),
    ("SUNATM", "vci 5"),
    ("SUNATM", "vpi (1 or 2)"),
    ("SUNATM", "metac"),
    ("SUNATM", "bcc"),
    ("SUNATM", "oam"),
    ("SUNATM", "oamf4ec"),
    ("SUNATM", "oamf4sc"),
    ("SUNATM", "sc"),
    ("SUNATM", "ilmic"),
    ("SUNATM", "connectmsg"),
    ("SUNATM", "metaconnect"),
    ("SUNATM", "lane and ip"),
    ("SUNATM", "lane and ether host 1:2:3:4:5:6"),
    ("SUNATM", "lane and vpi 1"),
    ("SUNATM", "lane and vlan 3 and ip"),
    ("SUNATM", "lane and tcp port 80"),
    ("LINUX_SLL2", "ifindex 3"),
    ("NFLOG", "link[0] = 2"),
    ("DSA_TAG_EDSA", "greater 64"),
    // Run-time header lengths (libpcap's register numbers, and its
    // unoptimised code where its code generator turns the optimiser off).
    ("IEEE802_11", "ip"),
    ("IEEE802_11", "tcp port 80"),
    ("IEEE802_11", "ip[8] < 64"),
    ("IEEE802_11", "len > 100"),
    ("IEEE802_11", "type mgt"),
    ("IEEE802_11", "host 10.0.0.1"),
    ("IEEE802_11", "icmp6"),
    ("IEEE802_11", "ip6 host ::1"),
    ("IEEE802_11", "udp[4:2] - 8 > 100"),
    ("IEEE802_11", "llc"),
    ("IEEE802_11_RADIO", "ip"),
    ("IEEE802_11_RADIO", "tcp port 80"),
    ("IEEE802_11_RADIO", "ip[8] < 64"),
    ("IEEE802_11_RADIO", "len > 100"),
    ("IEEE802_11_RADIO", "type mgt"),
    ("IEEE802_11_RADIO", "host 10.0.0.1"),
    ("IEEE802_11_RADIO", "icmp6"),
    ("IEEE802_11_RADIO", "ip6 host ::1"),
    ("IEEE802_11_RADIO", "udp[4:2] - 8 > 100"),
    ("IEEE802_11_RADIO", "llc"),
    ("PRISM_HEADER", "ip"),
    ("PRISM_HEADER", "tcp port 80"),
    ("PRISM_HEADER", "ip[8] < 64"),
    ("PRISM_HEADER", "len > 100"),
    ("PRISM_HEADER", "type mgt"),
    ("PRISM_HEADER", "host 10.0.0.1"),
    ("PRISM_HEADER", "icmp6"),
    ("PRISM_HEADER", "ip6 host ::1"),
    ("PRISM_HEADER", "udp[4:2] - 8 > 100"),
    ("PRISM_HEADER", "llc"),
    ("IEEE802_11_RADIO_AVS", "ip"),
    ("IEEE802_11_RADIO_AVS", "tcp port 80"),
    ("IEEE802_11_RADIO_AVS", "ip[8] < 64"),
    ("IEEE802_11_RADIO_AVS", "len > 100"),
    ("IEEE802_11_RADIO_AVS", "type mgt"),
    ("IEEE802_11_RADIO_AVS", "host 10.0.0.1"),
    ("IEEE802_11_RADIO_AVS", "icmp6"),
    ("IEEE802_11_RADIO_AVS", "ip6 host ::1"),
    ("IEEE802_11_RADIO_AVS", "udp[4:2] - 8 > 100"),
    ("IEEE802_11_RADIO_AVS", "llc"),
    ("PPI", "ip"),
    ("PPI", "tcp port 80"),
    ("PPI", "ip[8] < 64"),
    ("PPI", "len > 100"),
    ("PPI", "host 10.0.0.1"),
    ("PPI", "icmp6"),
    ("PPI", "ip6 host ::1"),
    ("PPI", "udp[4:2] - 8 > 100"),
    ("PPI", "llc"),
    ("PFLOG", "tcp"),
    ("PFLOG", "host 10.0.0.1"),
    ("PFLOG", "tcp port 80 and rnr 3"),
    ("EN10MB", "geneve and ip"),
    ("EN10MB", "geneve 786734 and tcp"),
    ("EN10MB", "geneve and tcp[tcpflags] & tcp-syn != 0"),
    ("EN10MB", "not geneve"),
    ("EN10MB", "vlan and geneve"),
    ("EN10MB", "geneve and pppoes and ip"),
    ("PFLOG", "ip[9] = 6"),
    ("PFLOG", "ip[8] < 64"),
    ("PFLOG", "tcp[13] = 0x18"),
    ("IEEE802_11_RADIO", "link[0] = 0"),
    ("IEEE802_11_RADIO_AVS", "ether[0] = 0xff"),
    // Live Linux capture: the socket's packet type (`ldh [type]`).
    ("EN10MB", "inbound"),
    ("EN10MB", "outbound"),
    ("EN10MB", "outbound and udp"),
    ("LINUX_SLL2", "inbound and udp"),
    // Live capture: the socket's interface index on any link type; NULL in
    // host byte order with Linux's AF_INET6.
    ("EN10MB", "ifindex 3"),
    ("IEEE802_11_RADIO", "ifindex 2 or ifindex 3"),
    ("NULL", "ip6 and udp"),
    ("ENC", "tcp port 80"),
    // libpcap's constant blocks (gen_true/gen_false): the leading `ld #k`
    // (opt_root), and unoptimised geneve programs.
    ("IPV4", "tcp port 80"),
    ("IPV6", "icmp6"),
    ("IPV4", "geneve and tcp"),
    ("NULL", "not geneve"),
    // SLL2: libpcap's gen_linktype default, LLC SAPs included.
    ("LINUX_SLL2", "stp"),
    ("LINUX_SLL2", "iso"),
    // PPP protocol numbers for Ethernet types (ethertype_to_ppptype).
    ("PPP", "link proto 0x0600"),
    ("PPP", "ether proto 0x8137"),
];

#[test]
fn dump_equals_tcpdump_d() {
    if !common::tcpdump_or_skip() {
        return;
    }
    for expr in SAME_AS_TCPDUMP {
        let out = Command::new("tcpdump")
            .args(["-y", "EN10MB", "-d", "--", expr])
            .output()
            .unwrap();
        assert!(out.status.success(), "tcpdump -d '{expr}' failed");
        let want = String::from_utf8_lossy(&out.stdout);
        let got = compile(expr, 1, DEFAULT_SNAPLEN).unwrap().dump();
        assert_eq!(got, want, "dump differs from tcpdump -d for '{expr}'");
    }
    for (lt, expr) in SAME_AS_TCPDUMP_ON {
        let out = Command::new("tcpdump")
            .args(["-y", lt, "-d", "--", expr])
            .output()
            .unwrap();
        assert!(out.status.success(), "tcpdump -y {lt} -d '{expr}' failed");
        let want = String::from_utf8_lossy(&out.stdout);
        // `tcpdump -d` compiles for a live capture.
        let opts = Options {
            live: true,
            ..Options::new(linktype_from_name(lt).unwrap())
        };
        let got = compile_with(expr, &opts)
            .unwrap_or_else(|e| panic!("{lt} '{expr}': {e}"))
            .dump();
        assert_eq!(got, want, "dump differs from tcpdump -y {lt} -d '{expr}'");
    }
    println!(
        "dump: {} expressions identical to tcpdump -d",
        SAME_AS_TCPDUMP.len() + SAME_AS_TCPDUMP_ON.len()
    );
}

/// Contradictions of arithmetic relations: libpcap's jump threading proves
/// some ("expression rejects all packets": the second `jeq` on the same value
/// after the first was taken), not others (ranges); pcapx refuses exactly the
/// ones tcpdump refuses and dumps the others identically.
#[test]
fn contradictions_refused_as_tcpdump() {
    if !common::tcpdump_or_skip() {
        return;
    }
    for expr in [
        "ether[0] & 1 = 1 and ether[0] & 1 = 0",
        "tcp[13] & 2 != 0 and tcp[13] & 2 = 0",
        "ip[0] & 0xf = 5 and ip[0] & 0xf = 6",
        "len = 60 and len = 61",
        "len > 100 and len < 50",
        "ip[8] > 64 and ip[8] < 32",
    ] {
        assert_as_tcpdump("EN10MB", expr);
    }
}

/// A relation's load and a protocol test on the same bytes (libpcap's first
/// optimiser phase numbers the relation's indexed load apart from the
/// test's direct one, so neither decides the other), and a relation whose
/// `and #k; jeq #0` stays so because its load repeats the one before
/// (libpcap's peephole then has no `last` statement). Same program or same
/// refusal as tcpdump, in both orders and under `or`/`not`.
#[test]
fn relations_beside_protocol_tests_as_tcpdump() {
    if !common::tcpdump_or_skip() {
        return;
    }
    for (lt, expr) in [
        ("RAW", "ip[0] & 0xf0 = 0x40 and (ip or ip6)"),
        ("RAW", "ip[0] & 0xf0 = 0x40 and ip[0] & 0xf = 0x5"),
        ("RAW", "ip[0] & 0xf0 = 0x60 and ip6"),
        ("RAW", "ip[9] = 6 and tcp"),
        ("RAW", "ip[0] = 0x45 and ip[0] & 0xf = 0"),
        ("EN10MB", "ether[12:2] = 0x800 and (ip or ip6)"),
        ("EN10MB", "ether[12:2] = 0x86dd and ip6"),
        ("EN10MB", "ip6 and ether[12:2] = 0x86dd"),
        ("EN10MB", "ether[12:2] = 0x806 and ip"),
        ("EN10MB", "ether[12:2] = 0x800 or ip"),
        ("EN10MB", "not ether[12:2] = 0x800 and ip"),
        ("EN10MB", "ether[12:2] != 0x800 and not ip"),
        ("EN10MB", "link[12:2] = 0x800 and ip"),
        ("EN10MB", "ip[9] = 6 and tcp"),
        ("EN10MB", "tcp and ip[9] = 6"),
        ("EN10MB", "ip[9] = 6 and ip[9] = 17"),
        ("EN10MB", "ether[23] = 6 and ip[9] = 17"),
        ("EN10MB", "ether[14] & 0xf0 = 0x40 and ip[0] & 0xf0 = 0x60"),
        ("EN10MB", "udp[0:2] = 53 and udp port 53"),
        ("EN10MB", "udp port 53 and udp[0:2] = 53"),
        ("EN10MB", "tcp[2:2] = 80 and tcp dst port 80"),
        ("EN10MB", "ip6[6] = 58 and icmp6"),
        ("EN10MB", "ether[0] = 0 and ether[0] & 0xf = 0"),
        ("EN10MB", "ether[0] > 3 and ether[0] & 0xf = 0"),
        ("EN10MB", "ether[0] = 0 or ether[0] & 0xf = 0"),
        ("EN10MB", "ether[0] & 0xf0 = 0 and ether[0] & 0xf = 0"),
        ("EN10MB", "ether[1] = 0 and ether[0] & 0xf = 0"),
        (
            "EN10MB",
            "ether[0] = 0 and ether[0] & 0xf = 0 and ether[0] & 0xf0 = 0",
        ),
        ("PPP", "link[2:2] = 0x21 and (ip or ip6)"),
        ("PPP", "ip and link[2:2] = 0x21"),
        ("LINUX_SLL", "link[14:2] = 0x800 and ip"),
        ("LINUX_SLL2", "link[0:2] = 0x800 and (ip or ip6)"),
        ("SLIP", "link[0] = 0 and link[0] & 0xf = 0"),
        ("SLIP", "inbound and link[0] & 0xf = 0"),
        ("SLIP", "link[0] & 0xf = 0 and link[0] = 0"),
        ("NULL", "link[0:4] = 2 and ip6"),
        ("NULL", "ip6 and link[0:4] = 2"),
        ("LOOP", "link[0:4] = 2 and ip6"),
        ("LOOP", "link[0:4] = 2 and ip"),
        ("LOOP", "link[0:4] = 2 and link[0:4] = 10"),
        // both sides computed, in libpcap's order
        ("EN10MB", "ip[0] = ip[1]"),
        ("EN10MB", "6 = ip[9] and tcp"),
        ("EN10MB", "ip[9] = ip[9] and tcp"),
        ("EN10MB", "len = ip[2:2] + 14"),
        ("EN10MB", "ip[2:2] + 14 = len"),
        ("EN10MB", "ip[9] = ip[ip[0] & 0xf]"),
        ("EN10MB", "tcp[13] & 2 = tcp[13] & 16"),
        ("RAW", "ip[9] < ip[8]"),
        // a side that is itself a computation (gen_arth order, registers)
        ("EN10MB", "len = 100 + len"),
        ("EN10MB", "100 + len = len"),
        ("EN10MB", "len + 100 = len"),
        ("EN10MB", "ip[0] + ip[1] = ip[2] + ip[3]"),
        ("EN10MB", "ip[0] + ip[1] = 5"),
        ("EN10MB", "5 - ip[0] = ip[1]"),
        ("EN10MB", "ip[0] = -ip[1]"),
        ("EN10MB", "ip[0] - ip[1] = len or tcp"),
        ("EN10MB", "not len - 14 = ip[2:2] + 0"),
        ("EN10MB", "ip[0] * ip[1] - ip[2] > ip[3] / ip[4]"),
        ("LINUX_SLL", "tcp[0] + tcp[1] = tcp[2]"),
        ("RAW", "ip[ip[0] & 3] = ip[1] + 1"),
        ("PFLOG", "ip[0] = ip[1] + ip[2]"),
        ("PFLOG", "ip[0] + ip[1] + ip[2] = 3"),
        ("IEEE802_11_RADIO", "ip[0] + ip[1] = ip[2] + ip[3]"),
        ("PPP_BSDOS", "udp[0] * 2 = udp[2] - udp[3] and ip[0] = 0x45"),
    ] {
        assert_as_tcpdump(lt, expr);
    }
}

/// The same program as `tcpdump -y LT -d EXPR`, or a refusal where tcpdump
/// refuses.
/// [`assert_as_tcpdump`] for every link type × expression.
fn assert_all_as_tcpdump(lts: &[&str], exprs: &[&str]) {
    for lt in lts {
        for expr in exprs {
            assert_as_tcpdump(lt, expr);
        }
    }
}

fn assert_as_tcpdump(lt: &str, expr: &str) {
    let out = Command::new("tcpdump")
        .args(["-y", lt, "-d", "--", expr])
        .output()
        .unwrap();
    let opts = Options {
        live: true,
        ..Options::new(linktype_from_name(lt).unwrap())
    };
    match compile_with(expr, &opts) {
        Ok(p) => {
            assert!(
                out.status.success(),
                "tcpdump -y {lt} refuses '{expr}', pcapx compiles it"
            );
            assert_eq!(
                p.dump(),
                String::from_utf8_lossy(&out.stdout),
                "-y {lt} '{expr}'"
            );
        }
        Err(e) => assert!(
            !out.status.success(),
            "pcapx refuses -y {lt} '{expr}' ({e}), tcpdump compiles it"
        ),
    }
}

/// A test repeated after a join of two tests of one value, as `ip` is on
/// ARCnet and PPP_BSDOS (two link-type tests): libpcap's `or_pullup` /
/// `and_pullup` move the repeated test up to the join ("at the top": every
/// predecessor there computes that value), where the tests before it
/// decide it on each edge. Same program or same refusal as tcpdump.
#[test]
fn repeated_test_pulled_up_to_a_join_as_tcpdump() {
    if !common::tcpdump_or_skip() {
        return;
    }
    assert_all_as_tcpdump(
        &[
            "ARCNET",
            "ARCNET_LINUX",
            "PPP_BSDOS",
            "EN10MB",
            "RAW",
            "LINUX_SLL",
        ],
        &[
            "ip[0] = 0x45 and (ip proto 6 or ip[0] = 0x45)",
            "ip[0] = 0x45 and (ip proto 17 or ip[0] = 0x45)",
            "ip[1] = 0 and (ip proto 6 or ip[1] = 0)",
            "ip[0] & 0xf = 5 and (ip proto 6 or ip[0] & 0xf = 5)",
            "ip[0] & 0xf = 5 and not (ip proto 17 or ip[0] & 0xf = 5)",
            "ip[0] = 0x45 or (ip proto 6 and ip[0] = 0x45)",
            "len > 100 and (tcp or len > 100)",
            "ip[6:2] & 0x1fff = 0 and (ip proto 6 or ip[6:2] & 0x1fff = 0)",
            "ip broadcast and not (udp or ip broadcast)",
            "(ip6 or ether[0] & 1 = 1) and (udp or ip6)",
            "not port 53 and (tcp port 80 or port 53)",
        ],
    );
}

/// The first test, libpcap's root block, decided either way by the tests
/// after it (`ip6` on ARCNET_LINUX and PPP_BSDOS, where `udp` tests the link
/// type again): libpcap's `opt_root()` moves the root to the block both
/// branches lead to and keeps the old root's statements in front of the new
/// root's (a leading, unused `ldb [4]` / `ldh [5]`). Same program or same
/// refusal as tcpdump.
#[test]
fn passthrough_root_keeps_its_statements_as_tcpdump() {
    if !common::tcpdump_or_skip() {
        return;
    }
    assert_all_as_tcpdump(
        &[
            "ARCNET",
            "ARCNET_LINUX",
            "PPP_BSDOS",
            "EN10MB",
            "RAW",
            "LINUX_SLL",
            "NULL",
        ],
        &[
            "(udp and ip6 proto 58) or (ether[0] & 1 = 1 and udp)",
            "(udp and ip proto 17) or (ether[0] & 1 = 1 and udp)",
        ],
    );
}
