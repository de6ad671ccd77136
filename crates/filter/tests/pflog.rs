//! PFLOG (DLT 117): the variable-length `struct pfloghdr` (its length byte
//! rounded up to 4 at run time), protocol dispatch on its address family,
//! and the pf primitives (`ifname`/`on`, `ruleset`/`rset`, `rnr`/`rulenum`,
//! `srnr`/`subrulenum`, `reason`, `action`) — matches compared with tcpdump
//! reading a PFLOG capture built here, and the programs of the fixed-offset
//! primitives compared with `tcpdump -y PFLOG -d`.

mod common;

use common::{Capture, Outcome, tcpdump, tcpdump_or_skip};
use pcapx_filter::{DEFAULT_SNAPLEN, compile};

const PFLOG: u32 = 117;

const EXPRESSIONS: &[&str] = &[
    "ip",
    "ip6",
    "tcp",
    "udp",
    "tcp port 80",
    "udp port 53",
    "host 10.0.0.1",
    "src host 10.0.0.2",
    "ip6 host 2001:db8::1",
    "tcp[13] & 2 != 0",
    "ip[9] = 17",
    "len > 120",
    "on em0",
    "ifname em1",
    "on lo0",
    "rnr 3",
    "rulenum 1",
    "srnr 2",
    "subrulenum 0",
    "reason match",
    "reason fragment",
    "reason 2",
    "action pass",
    "action block",
    "action drop",
    "action scrub",
    "ruleset foo",
    "rset anchor1",
    "inbound",
    "outbound",
    "on em0 and tcp port 80",
    "not action pass and ip6",
    "rnr 3 or srnr 2",
    "(ifname em1 or ifname lo0) and udp",
    "inbound and action block and host 10.0.0.1",
];

/// Fixed-offset primitives whose program equals `tcpdump -y PFLOG -d`.
const SAME_DUMP: &[&str] = &[
    "ifname em0",
    "on em0",
    "rnr 3",
    "rulenum 3",
    "srnr 2",
    "subrulenum 2",
    "reason match",
    "reason 2",
    "reason state-mismatch",
    "action pass",
    "action block",
    "action synproxy-drop",
    "rset foo",
    "ruleset foo",
    "ip",
    "ip6",
    "inbound",
    "outbound",
    "len > 100",
    "ip and not rnr 3",
    "action drop or reason short",
];

/// Refused as libpcap refuses, with its message.
const REFUSED: &[(&str, u32, &str)] = &[
    ("reason bogus", PFLOG, "unknown PF reason \"bogus\""),
    ("action bogus", PFLOG, "unknown PF action \"bogus\""),
    (
        "ruleset averyveryverylongname",
        PFLOG,
        "ruleset names can only be 15 characters",
    ),
    (
        "on averyverylongname",
        PFLOG,
        "ifname interface names can only be 15 characters",
    ),
    ("arp", PFLOG, "expression rejects all packets"),
    ("ifname em0", 1, "ifname supported only on PF linktype"),
    ("rnr 3", 1, "rnr supported only on PF linktype"),
    ("action pass", 1, "action supported only on PF linktype"),
];

fn ip_packet(v6: bool, proto: u8, sport: u16, dport: u16, i: u8) -> Vec<u8> {
    let mut l4 = Vec::new();
    l4.extend_from_slice(&sport.to_be_bytes());
    l4.extend_from_slice(&dport.to_be_bytes());
    if proto == 6 {
        l4.extend_from_slice(&[0, 0, 0, u32::from(i).to_be_bytes()[3], 0, 0, 0, 0]);
        l4.extend_from_slice(&[
            0x50,
            if i.is_multiple_of(3) { 0x02 } else { 0x10 },
            0xff,
            0xff,
            0,
            0,
            0,
            0,
        ]);
    } else {
        l4.extend_from_slice(&[0, 8 + 4 * (i % 20), 0, 0]);
    }
    l4.extend(std::iter::repeat_n(i, usize::from(4 * (i % 20))));
    let mut p = Vec::new();
    if v6 {
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        p.extend_from_slice(&u16::try_from(l4.len()).unwrap().to_be_bytes());
        p.extend_from_slice(&[proto, 64]);
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        a[15] = 1 + i % 2;
        p.extend_from_slice(&a);
        a[15] = 2 - i % 2;
        p.extend_from_slice(&a);
    } else {
        let total = u16::try_from(20 + l4.len()).unwrap();
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&[
            0,
            1,
            0,
            0,
            64,
            proto,
            0,
            0,
            10,
            0,
            0,
            1 + i % 2,
            10,
            0,
            0,
            2 - i % 2,
        ]);
    }
    p.extend(l4);
    p
}

/// Records with every combination that matters: header length byte 61, 62
/// or 64 (so the rounding matters), address family, action, reason,
/// interface, ruleset, rule numbers and direction varied.
fn records() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0u8..96 {
        let mut h = vec![0u8; 64];
        h[0] = [61, 62, 64][usize::from(i % 3)];
        let v6 = i % 4 == 3;
        h[1] = if v6 { 10 } else { 2 };
        h[2] = i % 3; // action: pass, drop, scrub
        h[3] = (i / 3) % 4; // reason: match, bad-offset, fragment, short
        let ifname: &[u8] = [&b"em0"[..], b"em1", b"lo0"][usize::from((i / 2) % 3)];
        h[4..4 + ifname.len()].copy_from_slice(ifname);
        let ruleset: &[u8] = [&b""[..], b"foo", b"anchor1"][usize::from((i / 5) % 3)];
        h[20..20 + ruleset.len()].copy_from_slice(ruleset);
        h[36..40].copy_from_slice(&u32::from(1 + i % 4).to_be_bytes());
        h[40..44].copy_from_slice(&u32::from(i % 3).to_be_bytes());
        h[60] = 1 + i % 2; // PF_IN, PF_OUT
        let len = (usize::from(h[0]) + 3) & !3;
        h.truncate(len);
        let (proto, sport, dport) = match i % 5 {
            0 | 1 => (6, 40000 + u16::from(i), 80),
            2 => (17, 5353, 53),
            3 => (6, 80, 1024),
            _ => (17, 53, 40000),
        };
        h.extend(ip_packet(v6, proto, sport, dport, i));
        out.push(h);
    }
    out
}

#[test]
fn pflog_matches_like_tcpdump() {
    if !tcpdump_or_skip() {
        return;
    }
    let frames = records();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pflog.pcap");
    let input = Capture::of_frames(PFLOG, &frames);
    input.write_pcap(&path);
    for expr in EXPRESSIONS {
        let prog = compile(expr, PFLOG, 65535).unwrap_or_else(|e| panic!("'{expr}': {e}"));
        let ours: Vec<usize> = (0..frames.len())
            .filter(|&i| prog.matches(&frames[i], input.records[i].wirelen))
            .collect();
        match tcpdump(&path, expr, &input) {
            Outcome::Matches(want) => {
                assert_eq!(ours, want, "'{expr}' keeps other records than tcpdump");
                assert!(
                    !want.is_empty() && want.len() < frames.len(),
                    "'{expr}' keeps {} of {}",
                    want.len(),
                    frames.len()
                );
            }
            Outcome::Refused(msg) => panic!("tcpdump refused '{expr}': {msg}"),
        }
    }
}

#[test]
fn pflog_programs_and_errors_like_tcpdump() {
    if !tcpdump_or_skip() {
        return;
    }
    for expr in SAME_DUMP {
        let out = std::process::Command::new("tcpdump")
            .args(["-y", "PFLOG", "-d", "--", expr])
            .output()
            .unwrap();
        assert!(out.status.success(), "tcpdump -d '{expr}' failed");
        let want = String::from_utf8_lossy(&out.stdout);
        let got = compile(expr, PFLOG, DEFAULT_SNAPLEN)
            .unwrap_or_else(|e| panic!("'{expr}': {e}"))
            .dump();
        assert_eq!(got, want, "dump differs from tcpdump -y PFLOG -d '{expr}'");
    }
    for (expr, lt, msg) in REFUSED {
        let name = if *lt == PFLOG { "PFLOG" } else { "EN10MB" };
        let out = std::process::Command::new("tcpdump")
            .args(["-y", name, "-d", "--", expr])
            .output()
            .unwrap();
        assert!(!out.status.success(), "tcpdump accepted '{expr}'");
        let theirs = String::from_utf8_lossy(&out.stderr);
        assert!(theirs.contains(msg), "tcpdump on '{expr}': {theirs}");
        let e = compile(expr, *lt, DEFAULT_SNAPLEN).expect_err(expr);
        assert_eq!(e.message, *msg, "pcapx on '{expr}'");
    }
}
