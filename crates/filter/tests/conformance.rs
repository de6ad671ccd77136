//! Conformance against tcpdump/libpcap: for every capture of the corpus and of
//! libpcap's own filter savefiles (`tests/libpcap/savefiles`) — pcap, or pcapng
//! whose interfaces all share one link type, of ANY link type — that tcpdump
//! reads cleanly, and for lists of expressions, the set of matching record
//! numbers must equal tcpdump's, and expressions tcpdump refuses must be
//! refused too.
//!
//! The broad [`EXPRESSIONS`] list runs on the link types pcapx filtered before
//! (Ethernet, raw IP, cooked, loopback); [`LINK_EXPRESSIONS`] (link-independent
//! primitives and protocol dispatch) and [`KEYWORD_EXPRESSIONS`] (LLC, DECnet,
//! OSI/IS-IS, SS7, ...) run on every file. Files are checked on two threads.
//!
//! Input records are read with `pcapx-capture`. tcpdump's matches are obtained
//! with `tcpdump -r FILE -w - EXPR` and mapped back to record numbers by walking
//! the input records in order, matching original length and bytes (records equal
//! in both get the same verdict from any filter, so the mapping is exact).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{Outcome, read_capture, tcpdump, tcpdump_available};
use pcapx_filter::{NullByteOrder, Options, compile_with};

/// Expressions checked on the Ethernet, raw IP, cooked and loopback captures.
const EXPRESSIONS: &[&str] = &[
    "",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "sctp",
    "igmp",
    "pim",
    "vrrp",
    "ah",
    "esp",
    "ip proto 6",
    "ip proto 17",
    "ip6 proto 17",
    "ip6 proto 58",
    "proto 47",
    "ip proto \\udp",
    "proto \\tcp",
    "ip6 protochain 6",
    "ip6 protochain 17",
    "protochain 58",
    "ip protochain 6",
    "host 10.0.0.1",
    "host 192.168.1.1 or host 10.0.0.2",
    "src host 10.0.0.1",
    "dst host 192.168.0.1",
    "src and dst net 10.0.0.0/8",
    "src or dst net 192.168.0.0/16",
    "net 10.0.0.0/8",
    "net 192.168.0.0 mask 255.255.0.0",
    "net 172.16",
    "dst net 224.0.0.0/4",
    "ip6 net fe80::/10",
    "ip6 host ::1",
    "net 2001:db8::/32",
    "ether host ff:ff:ff:ff:ff:ff",
    "ether src 00:00:00:00:00:00",
    "ether dst 01:00:5e:00:00:01 or ether dst 33:33:00:00:00:01",
    "ether proto 0x0800",
    "ether proto 0x86dd",
    "ether proto \\arp",
    "ether proto 1",
    "ether broadcast",
    "ether multicast",
    "broadcast",
    "multicast",
    "ip broadcast",
    "ip multicast",
    "ip6 multicast",
    "port 53",
    "port 80 or 443",
    "tcp port 80",
    "udp port 53",
    "tcp port http",
    "port domain",
    "udp port bootps or bootpc",
    "src port 53",
    "dst port 80",
    "tcp src port 22 or 179",
    "portrange 1-1023",
    "tcp portrange 1024-65535",
    "udp dst portrange 67-68",
    "sctp port 7",
    "tcp or udp and port 53",
    "not tcp and port 80",
    "not (tcp or udp)",
    "!ip && !arp",
    "tcp and not port 22",
    "host 10.0.0.1 and (port 80 or 443)",
    "less 64",
    "greater 1000",
    "len > 100",
    "len <= 60",
    "len - 14 > 3 * 100",
    "ip[6:2] & 0x1fff != 0",
    "ip[0] & 0xf != 5",
    "ip[8] < 64",
    "ip[2:2] > 576",
    "ip6[6] = 58",
    "ip6[7] = 255",
    "icmp[icmptype] = icmp-echo",
    "icmp[icmptype] = icmp-echoreply or icmp[icmptype] = icmp-unreach",
    "icmp[icmpcode] != 0",
    "icmp6[icmp6type] = icmp6-echo",
    "icmp6[icmp6type] = icmp6-neighborsolicit or icmp6[icmp6type] = icmp6-routeradvert",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0",
    "tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack = 0",
    "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0",
    "tcp[tcpflags] & (tcp-ece|tcp-cwr|tcp-urg|tcp-push) != 0",
    "tcp[13] = 0x18",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "udp[8:2] = 0x0100 + 0",
    "udp[4:2] - 8 > 100",
    "ether[12:2] = 0x0800",
    "ether[0] & 1 = 1",
    "ether[2*6:2] = 0x86dd",
    "ip[1] ^ 1 | 2 = 3",
    "ip[4:2] % 7 = 3",
    "ip[4:2] / 256 = 0",
    "-ip[0] != 0",
    "arp[6:2] = 1",
    "vlan",
    "vlan and ip",
    "vlan 100 and tcp",
    "vlan and vlan",
    "vlan and not ip",
    "mpls",
    "mpls and ip",
    "mpls 16 and mpls",
    "pppoed",
    "pppoes",
    "pppoes and ip",
    "pppoes 1 and udp",
    "llc",
    "iso",
    "stp",
    "ipx",
    "atalk",
    "decnet",
    "byte 12 = 8",
    "ip and ip6",
    "ip or ip6",
    "tcp[100000] = 1",
    "ether[1000:4] = 0 or ip",
    "geneve",
    "geneve and ip",
    "geneve 786734",
    "geneve 786734 and tcp",
    "geneve 10 and tcp",
    "geneve and tcp port 80",
    "geneve and tcp dst port 80",
    "geneve and udp",
    "geneve and ip6",
    "geneve and arp",
    "geneve and host 10.0.0.226",
    "geneve and src net 192.168.0.0/16",
    "geneve and ether host 26:ed:54:f8:c4:28",
    "geneve and ether src 00:11:22:33:44:55",
    "geneve and ether broadcast",
    "geneve and ether multicast",
    "geneve and broadcast",
    "geneve and ether proto 0x0800",
    "geneve and vlan",
    "geneve and mpls",
    "geneve and llc",
    "geneve and pppoes and ip",
    "geneve and ip[9] = 6",
    "geneve and ether[12:2] = 0x0800",
    "geneve and tcp[tcpflags] & tcp-syn != 0",
    "geneve and tcp[13] & 0x18 = 0x18",
    "geneve and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "geneve and udp[8:2] = 0x0100",
    "geneve and icmp6[icmp6type] = icmp6-echo",
    "geneve and ip[2:2] > 100 and tcp",
    "geneve and geneve",
    "geneve and not tcp",
    "not geneve",
    "ip and geneve",
    "udp and geneve and tcp",
    "vlan and geneve",
    "geneve and protochain 6",
    "geneve 16777216",
];

/// Only for link types that carry a direction.
const DIRECTION_EXPRESSIONS: &[&str] = &[
    "inbound",
    "outbound",
    "inbound and tcp",
    "ifindex 1",
    "ifindex 2 or ifindex 3",
];

/// The link types [`EXPRESSIONS`] runs on.
const CORE_LINKTYPES: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// Expressions checked on every file, whatever its link type.
const LINK_EXPRESSIONS: &[&str] = &[
    "",
    "len > 100",
    "len <= 60",
    "greater 200",
    "less 100",
    "link[0] = 0",
    "link[1] & 0x80 != 0",
    "link[2:2] > 0x800",
    "ether[0] = 0xff",
    "byte 0 = 0",
    "ip",
    "ip6",
    "arp",
    "rarp",
    "tcp",
    "udp",
    "icmp",
    "host 10.0.0.1",
    "net 192.168.0.0/16",
    "port 53",
    "tcp port 80",
    "ip[9] = 17",
    "ip6[6] = 58",
    "ip proto 1",
    "proto 89",
    "ether host ff:ff:ff:ff:ff:ff",
    "ether src 00:00:00:00:00:00",
    "ether proto 0x0800",
    "broadcast",
    "multicast",
    "ip multicast",
    "inbound",
    "outbound",
    "vlan",
    "mpls",
    "mpls and ip",
    "llc",
    "pppoes",
    "atalk",
    "not ip and not ip6",
    "tcp and udp",
];

/// The keyword families: checked on every file.
const KEYWORD_EXPRESSIONS: &[&str] = &[
    "llc i",
    "llc s",
    "llc u",
    "llc rr",
    "llc rnr",
    "llc rej",
    "llc ui",
    "llc ua",
    "llc disc",
    "llc dm",
    "llc sabme",
    "llc test",
    "llc xid",
    "llc frmr",
    "decnet",
    "decnet src 1.1",
    "decnet dst 1.1",
    "decnet host 1.2",
    "decnet src 10.1 or decnet dst 63.1023",
    "iso",
    "clnp",
    "esis",
    "isis",
    "l1",
    "l2",
    "iih",
    "lsp",
    "snp",
    "csnp",
    "psnp",
    "isis proto 17",
    "iso proto \\isis",
    "stp",
    "ipx",
    "netbeui",
    "aarp",
    "sca",
    "lat",
    "mopdl",
    "moprc",
    "ether proto \\aarp",
    "ether proto \\loopback",
    "link proto \\stp",
    "portrange 20-ftp",
    "portrange domain-60",
    "tcp portrange 1-http",
    "protochain 50",
    "ip6 protochain 44",
    "fisu",
    "lssu",
    "msu",
    "sio 3",
    "sio > 0x80",
    "opc 1",
    "dpc (1 or 2 or 3)",
    // not `!=`: libpcap 1.10 compiles `sio|opc|dpc|sls != N` as `== N`
    // (fixed in libpcap 1.11; tests/libpcap/apply.tsv checks the fixed form)
    "sls > 0",
    "hsio 3",
    "hopc 1",
    "hdpc 2",
    "hsls 1",
    "type mgt",
    "type data",
    "type ctl subtype ack",
    "type mgt subtype beacon",
    "subtype probe-req",
    "subtype qos-data",
    "dir tods",
    "dir fromds or dir 3",
    "wlan addr1 ff:ff:ff:ff:ff:ff",
    "wlan addr2 00:00:00:00:00:00 or wlan addr3 00:00:00:00:00:00",
    "wlan addr4 00:00:00:00:00:00",
    "wlan ra ff:ff:ff:ff:ff:ff",
    "wlan ta 00:00:00:00:00:00",
    "radio[0] = 0",
    "radio[2:2] > 20",
];

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "pcap" || e == "cap" || e == "pcapng" || e == "ntar")
        {
            out.push(p);
        }
    }
}

/// Differences from the local tcpdump (libpcap 1.10) that are on purpose:
/// pcapx follows current libpcap where it fixed or extended 1.10.
fn known_difference(expr: &str, linktype: u32) -> Option<&'static str> {
    let p80211 = ["type ", "subtype ", "dir "]
        .iter()
        .any(|k| expr.starts_with(k));
    if linktype == 192 && p80211 {
        return Some("libpcap 1.11 allows type/subtype/dir on PPI, 1.10 refuses them");
    }
    if linktype == 165 && (expr == "broadcast" || expr.contains('$')) {
        return Some("libpcap 1.11 has MS/TP addresses and broadcast, 1.10 refuses them");
    }
    if linktype == 281 || linktype == 284 {
        return Some("libpcap 1.11 filters through DSA_TAG_BRCM/DSA_TAG_DSA headers, 1.10 refuses");
    }
    None
}

/// Outcome counters and mismatch descriptions for one file.
#[derive(Default)]
struct Tally {
    files: usize,
    pcapng: usize,
    records: usize,
    checks: usize,
    both_refused: usize,
    mismatches: Vec<String>,
    known: Vec<String>,
    linktypes: Vec<u32>,
}

fn check_file(file: &Path, root: &Path, t: &mut Tally) {
    let Some(cap) = read_capture(file) else {
        return;
    };
    // Only files tcpdump reads completely, record for record.
    match tcpdump(file, "", &cap) {
        Outcome::Matches(all) if all.len() == cap.records.len() => {}
        _ => return,
    }
    t.files += 1;
    if !t.linktypes.contains(&cap.linktype) {
        t.linktypes.push(cap.linktype);
    }
    if file
        .extension()
        .is_some_and(|e| e == "pcapng" || e == "ntar")
    {
        t.pcapng += 1;
    }
    t.records += cap.records.len();
    let opts = Options {
        null_byte_order: if cap.little_endian {
            NullByteOrder::Little
        } else {
            NullByteOrder::Big
        },
        ..Options::new(cap.linktype)
    };
    let core = CORE_LINKTYPES.contains(&cap.linktype);
    let direction = matches!(cap.linktype, 113 | 276);
    let mut exprs: Vec<&str> = Vec::new();
    if core {
        exprs.extend(EXPRESSIONS);
        if direction {
            exprs.extend(DIRECTION_EXPRESSIONS);
        }
    }
    for e in LINK_EXPRESSIONS.iter().chain(KEYWORD_EXPRESSIONS) {
        if !exprs.contains(e) {
            exprs.push(e);
        }
    }
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    for expr in exprs {
        t.checks += 1;
        let ours = compile_with(expr, &opts);
        let theirs = tcpdump(file, expr, &cap);
        let before = t.mismatches.len();
        match (ours, theirs) {
            (Err(_), Outcome::Refused(_)) => t.both_refused += 1,
            (Ok(_), Outcome::Refused(msg)) => {
                t.mismatches.push(format!(
                    "{rel} (linktype {}): '{expr}': tcpdump refused ({msg}), pcapx accepted",
                    cap.linktype
                ));
            }
            (Err(e), Outcome::Matches(_)) => {
                t.mismatches.push(format!(
                    "{rel} (linktype {}): '{expr}': pcapx refused ({e}), tcpdump accepted",
                    cap.linktype
                ));
            }
            (Ok(prog), Outcome::Matches(want)) => {
                let got: Vec<usize> = cap
                    .records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| prog.matches(&r.data, r.wirelen))
                    .map(|(i, _)| i)
                    .collect();
                if got != want {
                    let only_us: Vec<usize> = got
                        .iter()
                        .filter(|i| !want.contains(i))
                        .map(|i| i + 1)
                        .collect();
                    let only_them: Vec<usize> = want
                        .iter()
                        .filter(|i| !got.contains(i))
                        .map(|i| i + 1)
                        .collect();
                    t.mismatches.push(format!(
                        "{rel} (linktype {}): '{expr}': only pcapx matched records {only_us:?}, only tcpdump matched {only_them:?}",
                        cap.linktype
                    ));
                }
            }
        }
        if t.mismatches.len() > before
            && let Some(why) = known_difference(expr, cap.linktype)
        {
            let m = t.mismatches.pop().unwrap_or_default();
            t.known.push(format!("{m} [{why}]"));
        }
    }
}

#[test]
fn matches_tcpdump_on_corpus() {
    let Some(corpus) = std::env::var_os("PCAPX_CORPUS") else {
        println!("skipped: PCAPX_CORPUS not set");
        return;
    };
    let corpus = PathBuf::from(corpus);
    assert!(
        corpus.is_dir(),
        "PCAPX_CORPUS={} is not a directory",
        corpus.display()
    );
    if !tcpdump_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tcpdump is required in CI"
        );
        println!("skipped: tcpdump not installed");
        return;
    }
    let libpcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libpcap/savefiles");
    let mut files = Vec::new();
    collect(&corpus, &mut files);
    let corpus_files = files.len();
    collect(&libpcap, &mut files);
    let next = Mutex::new(0usize);
    let total = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(file) = files.get(i) else { break };
                    let root = if i < corpus_files { &corpus } else { &libpcap };
                    let mut t = Tally::default();
                    check_file(file, root, &mut t);
                    let mut tot = total.lock().unwrap();
                    tot.files += t.files;
                    tot.pcapng += t.pcapng;
                    tot.records += t.records;
                    tot.checks += t.checks;
                    tot.both_refused += t.both_refused;
                    tot.mismatches.extend(t.mismatches);
                    tot.known.extend(t.known);
                    for lt in t.linktypes {
                        if !tot.linktypes.contains(&lt) {
                            tot.linktypes.push(lt);
                        }
                    }
                }
            });
        }
    });
    let mut t = total.into_inner().unwrap();
    t.mismatches.sort();
    t.linktypes.sort_unstable();
    t.known.sort();
    let agree = t.checks - t.mismatches.len() - t.known.len();
    #[allow(clippy::cast_precision_loss)]
    let pct = 100.0 * agree as f64 / t.checks.max(1) as f64;
    println!(
        "conformance: {} files ({} pcapng, {} records, link types {:?}) x expressions = {} checks, {} refused by both, {} mismatches, {} known differences: {agree}/{} = {pct:.2}% agreement with tcpdump",
        t.files,
        t.pcapng,
        t.records,
        t.linktypes,
        t.checks,
        t.both_refused,
        t.mismatches.len(),
        t.known.len(),
        t.checks
    );
    for k in &t.known {
        println!("KNOWN {k}");
    }
    for m in &t.mismatches {
        println!("MISMATCH {m}");
    }
    assert!(t.files > 80, "too few capture files checked: {}", t.files);
    assert!(t.pcapng > 0, "no pcapng capture was checked");
    assert!(
        t.linktypes.len() > 15,
        "too few link types checked: {:?}",
        t.linktypes
    );
    assert!(
        t.mismatches.is_empty(),
        "{} mismatches with tcpdump",
        t.mismatches.len()
    );
}
