//! The filter compiler on random expressions drawn from the pcap-filter(7)
//! grammar (the fuzzer's bytes choose the productions), for every link type
//! the compiler supports; each program that compiles is validated again,
//! dumped, and run on random packets, with metamorphic checks where the
//! language gives an exact answer: `not (not E)` decides every packet as `E`
//! does, so do `E and E` and `E or E` when E has no offset-changing keyword
//! (`vlan`, `mpls`, `pppoes`, `geneve`, `vxlan`), and the run is deterministic.
//! Half the inputs compile for a live capture (`Options::live`: `ifindex`,
//! `inbound`/`outbound` read socket metadata, NULL in host byte order) and run
//! with socket metadata drawn from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_filter::{Ancillary, Options, Program, compile_with};
use pcapx_fuzz::{Bytes, LINKTYPES};

const PRIMITIVES: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "vlan",
    "mpls",
    "pppoed",
    "pppoes",
    "sctp",
    "igmp",
    "broadcast",
    "multicast",
    "ether broadcast",
    "ip multicast",
    "ip6 multicast",
    "ip proto \\tcp",
    "ip6 proto 17",
    "proto 47",
    "ip protochain 6",
    "ether proto \\ip",
    "ether proto 0x86dd",
    "llc",
    "stp",
    "netbeui",
    "decnet",
    "atalk",
    "tcp[tcpflags] & tcp-syn != 0",
    "icmp[icmptype] = icmp-echo",
    "ip[8] < 5",
    "ether[0] & 1 = 1",
    "ip[2:2] > 576",
    "len <= 64",
    "greater 100",
    "less 60",
    "ip[0] & 0xf != 5",
    "udp[8:4] = 0x12345678",
    "ip6[6] = 58",
    "tcp[13] = 18",
    "ifindex 2",
    "inbound",
    "outbound",
    "byte 8 & 5",
    "link proto 0x0600",
];

const QUALIFIED: &[&str] = &[
    "host",
    "src host",
    "dst host",
    "net",
    "src net",
    "dst net",
    "port",
    "src port",
    "dst port",
    "portrange",
    "ether host",
    "ether src",
    "ether dst",
    "gateway",
    "tcp port",
    "udp port",
    "tcp src port",
    "ip host",
    "ip6 host",
    "ip net",
    "vlan",
    "mpls",
    "ip proto",
    "less",
    "greater",
];

const VALUES: &[&str] = &[
    "10.0.0.1",
    "192.168.1.0/24",
    "10.0.0.0 mask 255.0.0.0",
    "::1",
    "fe80::/10",
    "2001:db8::1",
    "80",
    "443",
    "53",
    "1-1024",
    "0",
    "65535",
    "00:11:22:33:44:55",
    "ff:ff:ff:ff:ff:ff",
    "http",
    "domain",
    "10",
    "4095",
    "1",
    "10.1",
    "256",
    "-1",
    "1.2.3.4/33",
    "x",
    "0x800",
    "",
];

const OPS: &[&str] = &["and", "or", "&&", "||"];

const ARITH: &[&str] = &["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"];
const REL: &[&str] = &["=", "!=", "<", "<=", ">", ">="];
const LOADS: &[&str] = &[
    "ip[0]",
    "ip[2:2]",
    "tcp[0:2]",
    "udp[2:2]",
    "ether[12:2]",
    "icmp[0]",
    "ip6[40]",
    "len",
    "ip[ip[0] & 0xf]",
    "tcp[tcp[12] >> 4]",
    "arp[7]",
    "ether[len - 1]",
];

fn arith(b: &mut Bytes, depth: u32, out: &mut String) {
    match b.pick(if depth > 2 { 2 } else { 4 }) {
        0 => out.push_str(LOADS[b.pick(LOADS.len())]),
        1 => out.push_str(&b.u16().to_string()),
        2 => {
            out.push('(');
            arith(b, depth + 1, out);
            out.push(' ');
            out.push_str(ARITH[b.pick(ARITH.len())]);
            out.push(' ');
            arith(b, depth + 1, out);
            out.push(')');
        }
        _ => {
            out.push_str("-");
            arith(b, depth + 1, out);
        }
    }
}

fn expr(b: &mut Bytes, depth: u32, out: &mut String) {
    let choices = if depth > 4 { 4 } else { 7 };
    match b.pick(choices) {
        0 => out.push_str(PRIMITIVES[b.pick(PRIMITIVES.len())]),
        1 | 2 => {
            out.push_str(QUALIFIED[b.pick(QUALIFIED.len())]);
            out.push(' ');
            out.push_str(VALUES[b.pick(VALUES.len())]);
        }
        3 => {
            arith(b, 0, out);
            out.push(' ');
            out.push_str(REL[b.pick(REL.len())]);
            out.push(' ');
            arith(b, 0, out);
        }
        4 => {
            out.push_str(if b.byte() & 1 == 0 { "not " } else { "! " });
            expr(b, depth + 1, out);
        }
        5 => {
            out.push('(');
            expr(b, depth + 1, out);
            out.push(')');
        }
        _ => {
            expr(b, depth + 1, out);
            out.push(' ');
            out.push_str(OPS[b.pick(OPS.len())]);
            out.push(' ');
            // Sometimes libpcap's implicit qualifier repetition: `port 80 or 443`.
            if b.byte() % 4 == 0 {
                out.push_str(VALUES[b.pick(VALUES.len())]);
            } else {
                expr(b, depth + 1, out);
            }
        }
    }
}

fn decide(p: &Program, data: &[u8], wirelen: u32, aux: &Ancillary) -> bool {
    let r = p.run_with(data, wirelen, aux);
    assert_eq!(r, p.run_with(data, wirelen, aux), "not deterministic");
    // The decoded program (`Program::run_with`, fused load+jump steps)
    // against the reference interpreter on the raw instructions.
    assert_eq!(
        r,
        pcapx_filter::run_with(p.insns(), data, wirelen, aux),
        "decoded program and reference interpreter disagree"
    );
    if *aux == Ancillary::default() {
        assert_eq!(r, p.run(data, wirelen));
        assert_eq!(r != 0, p.matches(data, wirelen));
    }
    r != 0
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let linktype = LINKTYPES[b.pick(LINKTYPES.len())];
    let snaplen = if b.byte() & 1 == 0 {
        0
    } else {
        u32::from(b.u16())
    };
    let live = b.byte() & 1 == 1;
    let opts = Options {
        snaplen,
        live,
        ..Options::new(linktype)
    };
    let compile = |e: &str| compile_with(e, &opts);
    let mut e = String::new();
    expr(&mut b, 0, &mut e);
    // To see what an artifact compiles: PCAPX_FUZZ_SHOW=1 TARGET ARTIFACT.
    if std::env::var_os("PCAPX_FUZZ_SHOW").is_some() {
        eprintln!("linktype {linktype}, live {live}, snaplen {snaplen}: {e}");
    }
    let Ok(prog) = compile(&e) else {
        return;
    };
    let again =
        Program::from_insns(prog.insns().to_vec(), linktype).expect("a compiled program validates");
    let _ = prog.dump();
    // libpcap's `vlan`, `mpls`, `pppoes`, `geneve` and `vxlan` move the
    // decoding offset for the rest of the expression whichever branch is
    // taken, so a repeated E tests the next tag or label: `(E) or (E)` is not
    // E for them (finding 1; crates/filter/tests/fuzz_regressions.rs checks
    // those programs against tcpdump). Negation does not move offsets, so
    // `not (not (E))` is E for every expression.
    let compositional = !["vlan", "mpls", "pppoe", "geneve", "vxlan"]
        .iter()
        .any(|k| e.contains(k));
    let both = compositional
        .then(|| compile(&format!("({e}) and ({e})")).ok())
        .flatten();
    let either = compositional
        .then(|| compile(&format!("({e}) or ({e})")).ok())
        .flatten();
    let double_negation =
        compile(&format!("not (not ({e}))")).expect("not (not (E)) compiles when E does");
    // The rest of the input is a run of packets: [len u16][bytes…].
    let mut packets = 0;
    while !b.is_empty() && packets < 16 {
        packets += 1;
        let len = usize::from(b.u16() % 1600);
        let pkt: Vec<u8> = (0..len).map(|_| b.byte()).collect();
        let wirelen = u32::try_from(len).unwrap_or(u32::MAX) + u32::from(b.byte() & 3);
        // socket metadata of a live capture (absent when reading a file)
        let aux = if live {
            Ancillary {
                pkttype: Some(u32::from(b.byte() % 8)),
                ifindex: Some(u32::from(b.byte() % 4)),
                protocol: Some(u32::from(b.u16())),
            }
        } else {
            Ancillary::default()
        };
        let run = |p: &Program| decide(p, &pkt, wirelen, &aux);
        let d = run(&prog);
        assert_eq!(d, run(&again));
        // Like libpcap's, the optimiser may fold `(E) or (E)` to a constant
        // while `E` keeps its loads (issue 12's dump identity pins pcapx to
        // libpcap's programs), so the equivalent forms may differ on a
        // packet too short for a load, which rejects. A difference counts
        // only if it remains when the packet is long enough for every load.
        let agree = |p: &Program, what: &str| {
            if run(p) != d {
                let padded: Vec<u8> = pkt
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0, 1 << 17))
                    .collect();
                let long = wirelen.saturating_add(1 << 17);
                assert_eq!(
                    decide(&prog, &padded, long, &aux),
                    decide(p, &padded, long, &aux),
                    "{what} differs from {e} on a packet long enough for every load"
                );
            }
        };
        agree(&double_negation, "not (not (E))");
        if let Some(p) = &both {
            agree(p, "(E) and (E)");
        }
        if let Some(p) = &either {
            agree(p, "(E) or (E)");
        }
    }
});
