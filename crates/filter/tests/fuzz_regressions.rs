//! Regression tests for what the `filter` fuzz target found (FUZZING.md).
//!
//! Finding 1: `(mpls) or (mpls)` accepted a frame that `mpls` rejects. That is
//! libpcap's semantics, not a bug: `vlan`, `mpls`, `pppoes`, `geneve` and
//! `vxlan` move the decoding offset for the rest of the expression whichever
//! branch is taken, so a repeated keyword tests the next tag or label (the
//! second `mpls` of `mpls or mpls` looks at the bottom-of-stack bit of the
//! first label even when the frame is not MPLS). The programs for repeated and
//! mixed offset-changing keywords must be libpcap's instruction for
//! instruction, and must keep exactly the records tcpdump keeps.
//!
//! Finding 2: `(E) and (E)` decided a packet differently from `E` for an
//! arithmetic relation mixing `tcp[]` and `arp[]` loads on a NULL link. pcapx
//! required the protocol checks of both operands of `+`, `&`, … (TCP and ARP
//! at once, never true) and folded the negation to "accept", where libpcap's
//! `gen_arth()` keeps only the left operand's checks: the right operand is
//! loaded unguarded, and a load beyond the packet rejects it. Verdicts are
//! compared with tcpdump's on whole and truncated packets.

mod common;

use common::{Capture, Outcome, Record, tcpdump, tcpdump_or_skip};
use pcapx_filter::{DEFAULT_SNAPLEN, compile};

/// Repeated and mixed offset-changing keywords whose program equals
/// `tcpdump -y EN10MB -d`. (`geneve` is laid out differently by libpcap 1.10
/// and `vxlan` is libpcap 1.11 only; both are checked by their matches below.)
const SAME_DUMP: &[&str] = &[
    "mpls or mpls",
    "mpls and mpls",
    "mpls 1 or mpls 2",
    "mpls 16 and mpls 17",
    "vlan or vlan",
    "vlan and vlan",
    "vlan 10 or vlan 20",
    "vlan 10 and vlan 20",
    "pppoes or pppoes",
    "pppoes and pppoes",
    "pppoes 1 or pppoes 2",
    "vlan and mpls",
    "vlan or mpls",
    "vlan and pppoes",
    "pppoes and mpls",
    "not vlan and vlan",
    "(vlan or mpls) and ip",
    "vlan and (ip or vlan)",
    "not mpls",
    "not (vlan or vlan)",
];

/// Combinations libpcap refuses, with its message.
const REFUSED: &[(&str, &str)] = &[
    ("mpls or vlan", "no VLAN match after MPLS"),
    ("mpls and mpls and vlan", "no VLAN match after MPLS"),
    ("mpls and pppoes", "unsupported protocol over mpls"),
    ("pppoes and vlan", "no VLAN support for PPP"),
];

/// Expressions whose matches are compared with tcpdump's on [`frames`].
const SAME_MATCHES: &[&str] = &[
    "mpls",
    "mpls or mpls",
    "mpls and mpls",
    "mpls 1 or mpls 2",
    "mpls and mpls and ip",
    "vlan",
    "vlan or vlan",
    "vlan and vlan",
    "vlan 10 or vlan 20",
    "vlan 10 and vlan 20",
    "vlan and vlan and ip",
    "pppoes",
    "pppoes or pppoes",
    "pppoes and pppoes",
    "vlan and mpls",
    "vlan or mpls",
    "vlan and pppoes and ip",
    "pppoes and mpls",
    "mpls and geneve",
    "geneve and mpls",
    "vlan and geneve and vlan",
    "not vlan or vlan",
    "geneve",
    "geneve or geneve",
    "geneve and geneve",
    "geneve and vlan",
    "vlan and geneve",
    "vlan or geneve",
    "vxlan or vxlan",
    "vxlan and vxlan",
    "vlan and vxlan",
];

/// Tiny deterministic generator (the test must not depend on a seed source).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.next() as usize % xs.len()]
    }
}

/// An IPv4/UDP packet to `dport` carrying `payload`, without link header.
fn ipv4_udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + 8 + payload.len()).unwrap();
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(&[0x30, 0x39]);
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&(total - 20).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Frames that exercise one, two and three offset-changing headers: random
/// EtherTypes at each tag position (so a repeated keyword meets tags, labels
/// and plain payloads), plus hand-built stacks and Geneve/VXLAN tunnels.
fn frames() -> Vec<Vec<u8>> {
    const TYPES: &[u16] = &[
        0x8100, 0x88a8, 0x9100, 0x8847, 0x8848, 0x8864, 0x0800, 0x86dd,
    ];
    let mut rng = Lcg(0x5eed);
    let mut out = Vec::new();
    for _ in 0..400 {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        f.extend_from_slice(&rng.pick(TYPES).to_be_bytes());
        let len = 40 + rng.next() as usize % 60;
        for i in 0..len {
            // Positions of the next EtherType after one or two VLAN tags, and
            // MPLS labels with small label values, get plausible values.
            let b = match i {
                2 | 6 => rng.pick(TYPES).to_be_bytes()[0],
                3 | 7 => rng.pick(TYPES).to_be_bytes()[1],
                0 | 4 => rng.pick(&[0u8, 0, 0x0a, 0x14, 0x45]),
                _ => rng.next().to_be_bytes()[3],
            };
            f.push(b);
        }
        out.push(f);
    }
    // VLAN 10 then VLAN 20 then IPv4/UDP; the reverse; VLAN 10 alone.
    for tags in [&[10u16, 20][..], &[20, 10], &[10], &[20, 20]] {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for &t in tags {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&t.to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend(ipv4_udp(53, b"vlan"));
        out.push(f);
    }
    // MPLS stacks of one, two and three labels (labels 1, 2, 16, 17) over IPv4.
    for labels in [&[1u32][..], &[2, 1], &[16, 17], &[1, 2, 3]] {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0x47];
        for (i, &l) in labels.iter().enumerate() {
            let bos = u32::from(i + 1 == labels.len());
            f.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
        }
        f.extend(ipv4_udp(53, b"mpls"));
        out.push(f);
    }
    // PPPoE session 1 and 2 carrying IPv4 (PPP 0x0021) or MPLS (0x0281), and
    // nested after a VLAN tag.
    for (vlan, session, mpls) in [
        (false, 1u16, false),
        (false, 2, false),
        (true, 1, false),
        (false, 1, true),
    ] {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        }
        let mut payload = Vec::new();
        if mpls {
            payload.extend_from_slice(&[0x00, 0x01, 0x01, 0x40]);
        }
        payload.extend(ipv4_udp(53, b"pppoe"));
        f.extend_from_slice(&[0x88, 0x64, 0x11, 0x00]);
        f.extend_from_slice(&session.to_be_bytes());
        f.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        f.extend_from_slice(if mpls { &[0x02, 0x81] } else { &[0x00, 0x21] });
        f.extend(payload);
        out.push(f);
    }
    // Geneve (6081) and VXLAN (4789) carrying Ethernet/IPv4, once and nested
    // twice, optionally behind a VLAN tag or an MPLS label.
    for (dport, depth, outer_tag) in [
        (6081u16, 1, None),
        (6081, 2, None),
        (6081, 1, Some([0x81, 0x00, 0x00, 0x0a])),
        (6081, 1, Some([0x88, 0x47, 0x00, 0x01])),
        (4789, 1, None),
        (4789, 2, None),
        (4789, 1, Some([0x81, 0x00, 0x00, 0x0a])),
    ] {
        let mut inner = vec![0x02, 0, 0, 0, 0, 3, 0x02, 0, 0, 0, 0, 4, 0x08, 0x00];
        inner.extend(ipv4_udp(53, b"inner"));
        for _ in 0..depth {
            let hdr: &[u8] = if dport == 6081 {
                &[0, 0, 0x65, 0x58, 0, 0, 10, 0]
            } else {
                &[0x08, 0, 0, 0, 0, 0, 10, 0]
            };
            let mut enc = hdr.to_vec();
            enc.extend(&inner);
            let mut outer = vec![0x02, 0, 0, 0, 0, 5, 0x02, 0, 0, 0, 0, 6, 0x08, 0x00];
            outer.extend(ipv4_udp(dport, &enc));
            inner = outer;
        }
        match outer_tag {
            // VLAN: the tag goes before the EtherType.
            Some(tag) if tag[0] == 0x81 => {
                let mut f = inner[..12].to_vec();
                f.extend_from_slice(&tag);
                f.extend_from_slice(&inner[12..]);
                inner = f;
            }
            // MPLS: EtherType 0x8847 and one bottom-of-stack label.
            Some(tag) => {
                let mut f = inner[..12].to_vec();
                f.extend_from_slice(&tag);
                f.extend_from_slice(&[0x01, 0x40]);
                f.extend_from_slice(&inner[14..]);
                inner = f;
            }
            None => {}
        }
        out.push(inner);
    }
    // Geneve carrying Ethernet/MPLS/IPv4, and VLAN-tagged Geneve carrying
    // VLAN-tagged Ethernet.
    for (outer_vlan, inner_tag) in [
        (false, [0x88, 0x47, 0x00, 0x01, 0x01, 0x40]),
        (false, [0x81, 0x00, 0x00, 0x14, 0x08, 0x00]),
        (true, [0x81, 0x00, 0x00, 0x14, 0x08, 0x00]),
    ] {
        let mut enc = vec![0, 0, 0x65, 0x58, 0, 0, 10, 0];
        enc.extend_from_slice(&[0x02, 0, 0, 0, 0, 3, 0x02, 0, 0, 0, 0, 4]);
        enc.extend_from_slice(&inner_tag);
        enc.extend(ipv4_udp(53, b"inner"));
        let mut f = vec![0x02, 0, 0, 0, 0, 5, 0x02, 0, 0, 0, 0, 6];
        if outer_vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend(ipv4_udp(6081, &enc));
        out.push(f);
    }
    out
}

#[test]
fn repeated_offset_keywords_dump_like_tcpdump() {
    if !tcpdump_or_skip() {
        return;
    }
    for expr in SAME_DUMP {
        let out = std::process::Command::new("tcpdump")
            .args(["-y", "EN10MB", "-d", "--", expr])
            .output()
            .unwrap();
        assert!(out.status.success(), "tcpdump -d '{expr}' failed");
        let want = String::from_utf8_lossy(&out.stdout);
        let got = compile(expr, 1, DEFAULT_SNAPLEN).unwrap().dump();
        assert_eq!(got, want, "dump differs from tcpdump -d for '{expr}'");
    }
    for (expr, msg) in REFUSED {
        let out = std::process::Command::new("tcpdump")
            .args(["-y", "EN10MB", "-d", "--", expr])
            .output()
            .unwrap();
        assert!(!out.status.success(), "tcpdump accepted '{expr}'");
        let theirs = String::from_utf8_lossy(&out.stderr);
        assert!(theirs.contains(msg), "tcpdump on '{expr}': {theirs}");
        let e = compile(expr, 1, DEFAULT_SNAPLEN).expect_err(expr);
        assert!(e.to_string().contains(msg), "pcapx on '{expr}': {e}");
    }
}

#[test]
fn repeated_offset_keywords_match_like_tcpdump() {
    if !tcpdump_or_skip() {
        return;
    }
    let frames = frames();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offsets.pcap");
    let input = Capture::of_frames(1, &frames);
    input.write_pcap(&path);
    let (mut compared, mut refused) = (0, Vec::new());
    for expr in SAME_MATCHES {
        let prog = compile(expr, 1, 65535).unwrap_or_else(|e| panic!("'{expr}': {e}"));
        let ours: Vec<usize> = (0..frames.len())
            .filter(|&i| prog.matches(&frames[i], input.records[i].wirelen))
            .collect();
        match tcpdump(&path, expr, &input) {
            Outcome::Matches(want) => {
                assert_eq!(ours, want, "'{expr}' keeps other frames than tcpdump");
                // The frames separate: each expression keeps some, not all.
                assert!(
                    !want.is_empty() && want.len() < frames.len(),
                    "'{expr}' keeps {} of {} frames",
                    want.len(),
                    frames.len()
                );
                compared += 1;
            }
            // Debian's libpcap 1.10 has no `vxlan` (libpcap 1.11).
            Outcome::Refused(msg) => {
                assert!(expr.contains("vxlan"), "tcpdump refused '{expr}': {msg}");
                refused.push(*expr);
            }
        }
    }
    // The fuzz finding itself: a frame that is not MPLS, whose byte 16 has
    // the bottom-of-stack bit clear, passes the second `mpls`.
    let mut f = vec![0u8; 60];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let either = compile("mpls or mpls", 1, 65535).unwrap();
    assert!(!compile("mpls", 1, 65535).unwrap().matches(&f, 60));
    assert!(either.matches(&f, 60));
    f[16] = 1;
    assert!(!either.matches(&f, 60));
    println!(
        "{compared} expressions keep tcpdump's frames out of {}; refused by this tcpdump: {refused:?}",
        frames.len()
    );
}

/// Arithmetic relations whose operands need different protocols (finding 2),
/// the fuzz input itself among them.
const CROSS_PROTOCOL_ARITH: &[&str] = &[
    "tcp[0] + arp[7] < 1",
    "not (tcp[0] + arp[7] < 1)",
    "(tcp[0] + arp[7] < 1) and (tcp[0] + arp[7] < 1)",
    "tcp[0] & arp[7] != 0",
    "not (tcp[13] & arp[7] = 0)",
    "ip[0] - udp[0] > 3",
    "udp[0] * tcp[0] = 0",
    "not (udp[2:2] >> tcp[0] = 1)",
    "tcp[0] + 1 + arp[7] > 2",
    "(tcp[0] | udp[1]) + icmp[0] != 5",
    "tcp[tcp[0] & 3] + arp[1] = 0",
    "arp[7] + tcp[0] < 1",
    "tcp[0] < arp[7]",
    "not (((tcp[0:2] << tcp[0:2]) + tcp[0:2]) & ((arp[7] << tcp[0:2]) << (ip[ip[0] & 0xf] << tcp[0:2]))) < (--tcp[0:2] << ((tcp[0:2] << ip[ip[0] & 0xf]) << 0))",
];

/// IPv4/TCP, IPv4/UDP, IPv4/ICMP and ARP payloads (no link header), varied so
/// the relations above split them.
fn cross_protocol_payloads() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (proto, l4) in [
        (
            6u8,
            vec![
                0x00, 0x50, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x20, 0, 0, 0, 0, 0,
            ],
        ),
        (
            6,
            vec![
                0x03, 0x50, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0x20, 0, 0, 0, 0, 0,
            ],
        ),
        (
            17,
            vec![0x00, 0x35, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4],
        ),
        (
            17,
            vec![0x01, 0x01, 0x00, 0x35, 0x00, 0x0c, 0, 0, 1, 2, 3, 4],
        ),
        (1, vec![0x05, 0, 0, 0, 0, 1, 0, 1]),
        (1, vec![0x08, 0, 0, 0, 0, 1, 0, 1]),
    ] {
        for ttl in [0u8, 1, 64] {
            let total = u16::try_from(20 + l4.len()).unwrap();
            let mut p = vec![0x45, 0];
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 1, 0, 0, ttl, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
            p.extend_from_slice(&l4);
            out.push(p);
        }
    }
    // ARP requests with two different opcodes.
    for op in [1u8, 2] {
        out.push(vec![
            0, 1, 8, 0, 6, 4, 0, op, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
        ]);
    }
    out
}

/// Records for `linktype` (NULL: a little-endian AF_INET word; EN10MB: an
/// Ethernet header with the payload's EtherType): every payload whole, and
/// every one of them truncated to each shorter capture length (the original
/// length stays whole, as in a capture with a small snaplen).
fn cross_protocol_records(linktype: u32) -> Vec<Record> {
    let mut out = Vec::new();
    for p in cross_protocol_payloads() {
        let arp = p.len() == 28 && p[2] == 8;
        let mut f = match linktype {
            0 => vec![if arp { 0 } else { 2 }, 0, 0, 0],
            _ => {
                let mut h = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
                h.extend_from_slice(if arp { &[0x08, 0x06] } else { &[0x08, 0x00] });
                h
            }
        };
        f.extend_from_slice(&p);
        let wirelen = u32::try_from(f.len()).unwrap();
        for cut in (0..=f.len()).rev() {
            out.push(Record {
                wirelen,
                data: f[..cut].to_vec(),
            });
        }
    }
    out
}

#[test]
fn arithmetic_keeps_only_the_left_operands_protocol_checks_like_libpcap() {
    if !tcpdump_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for linktype in [0u32, 1] {
        let path = dir.path().join(format!("arith-{linktype}.pcap"));
        let input = Capture {
            linktype,
            snaplen: 65535,
            little_endian: true,
            records: cross_protocol_records(linktype),
        };
        input.write_pcap(&path);
        for expr in CROSS_PROTOCOL_ARITH {
            let want = match tcpdump(&path, expr, &input) {
                Outcome::Matches(want) => want,
                Outcome::Refused(msg) => {
                    // "expression rejects all packets": pcapx refuses it too.
                    let e = compile(expr, linktype, 65535).expect_err(&format!(
                        "tcpdump refused '{expr}' ({msg}), pcapx compiled it"
                    ));
                    assert!(
                        msg.contains(&e.to_string()) || msg.contains("rejects all"),
                        "{msg} / {e}"
                    );
                    continue;
                }
            };
            let prog = compile(expr, linktype, 65535)
                .unwrap_or_else(|e| panic!("'{expr}' on link type {linktype}: {e}"));
            let ours: Vec<usize> = (0..input.records.len())
                .filter(|&i| prog.matches(&input.records[i].data, input.records[i].wirelen))
                .collect();
            assert_eq!(
                ours, want,
                "'{expr}' on link type {linktype} keeps other records than tcpdump"
            );
            compared += 1;
        }
    }
    // The relations do split the records (not all kept, not all dropped).
    assert!(compared >= 20, "only {compared} expressions compared");
}
