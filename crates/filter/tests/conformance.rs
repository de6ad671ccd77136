//! Conformance against tcpdump/libpcap: for every corpus capture (pcap, or
//! pcapng whose interfaces all share one link type) with a supported link type
//! that tcpdump reads cleanly, and for a broad list of expressions, the set of
//! matching record numbers must equal tcpdump's, and expressions tcpdump refuses
//! must be refused too.
//!
//! Input records are read with `pcapx-capture`. tcpdump's matches are obtained
//! with `tcpdump -r FILE -w - EXPR` and mapped back to record numbers by walking
//! the input records in order, matching original length and bytes (records equal
//! in both get the same verdict from any filter, so the mapping is exact).

use std::path::{Path, PathBuf};
use std::process::Command;

use pcapx_capture::{ByteOrder, Capture as CaptureFile};
use pcapx_filter::{NullByteOrder, Options, compile_with};

/// Expressions checked on every file.
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
const DIRECTION_EXPRESSIONS: &[&str] = &["inbound", "outbound", "inbound and tcp"];

const SUPPORTED: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// One input record.
struct Record {
    wirelen: u32,
    data: Vec<u8>,
}

/// An input capture with one link type.
struct Capture {
    linktype: u32,
    /// Byte order of the (first) section, for `DLT_NULL`.
    little_endian: bool,
    records: Vec<Record>,
}

/// Read a pcap or pcapng file with `pcapx-capture`. `None` for anything
/// unreadable or damaged, and for pcapng files whose interfaces have different
/// link types (tcpdump cannot read those).
fn read_capture(path: &Path) -> Option<Capture> {
    let mut file = CaptureFile::open(path).ok()?;
    let mut records = Vec::new();
    let mut linktypes = Vec::new();
    file.for_each(|rec| {
        if !linktypes.contains(&rec.linktype) {
            linktypes.push(rec.linktype);
        }
        records.push(Record {
            wirelen: rec.wirelen,
            data: rec.data.to_vec(),
        });
    })
    .ok()?;
    if file.damage_count() > 0 {
        return None;
    }
    let info = file.info();
    for i in &info.interfaces {
        if !linktypes.contains(&i.linktype) {
            linktypes.push(i.linktype);
        }
    }
    let [linktype] = linktypes[..] else {
        return None;
    };
    let little_endian = info.sections.first()?.byte_order == ByteOrder::Little;
    Some(Capture {
        linktype,
        little_endian,
        records,
    })
}

/// Minimal reader for tcpdump's pcap output: (original length, bytes) per record.
fn read_pcap_output(bytes: &[u8]) -> Option<Vec<(u32, &[u8])>> {
    let magic = bytes.get(..4)?;
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut records = Vec::new();
    let mut off = 24;
    while off < bytes.len() {
        let incl = usize::try_from(u32_at(off + 8)?).ok()?;
        let orig_len = u32_at(off + 12)?;
        records.push((orig_len, bytes.get(off + 16..off + 16 + incl)?));
        off += 16 + incl;
    }
    Some(records)
}

enum Outcome {
    Refused(String),
    Matches(Vec<usize>),
}

/// Run tcpdump with `expr` and map its output records back to input indices.
fn tcpdump(file: &Path, expr: &str, input: &Capture) -> Outcome {
    let mut cmd = Command::new("tcpdump");
    cmd.arg("-r").arg(file).arg("-w").arg("-");
    if !expr.is_empty() {
        cmd.arg("--").arg(expr);
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Outcome::Refused(format!("could not run tcpdump: {e}")),
    };
    if !out.status.success() {
        return Outcome::Refused(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let Some(got) = read_pcap_output(&out.stdout) else {
        return Outcome::Refused("unreadable tcpdump output".into());
    };
    let mut idx = Vec::new();
    let mut j = 0;
    for &(orig_len, data) in &got {
        while j < input.records.len() {
            let c = &input.records[j];
            j += 1;
            if c.wirelen == orig_len && c.data == data {
                idx.push(j - 1);
                break;
            }
        }
    }
    Outcome::Matches(idx)
}

fn tcpdump_available() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

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
    let mut files = Vec::new();
    collect(&corpus, &mut files);
    let (mut checked_files, mut checks, mut both_refused, mut packets) = (0, 0, 0, 0usize);
    let mut pcapng_files = 0;
    let mut mismatches = Vec::new();
    for file in &files {
        let Some(cap) = read_capture(file) else {
            continue;
        };
        if !SUPPORTED.contains(&cap.linktype) {
            continue;
        }
        // Only files tcpdump reads completely, record for record.
        match tcpdump(file, "", &cap) {
            Outcome::Matches(all) if all.len() == cap.records.len() => {}
            _ => continue,
        }
        checked_files += 1;
        if file
            .extension()
            .is_some_and(|e| e == "pcapng" || e == "ntar")
        {
            pcapng_files += 1;
        }
        packets += cap.records.len();
        let opts = Options {
            null_byte_order: if cap.little_endian {
                NullByteOrder::Little
            } else {
                NullByteOrder::Big
            },
            ..Options::new(cap.linktype)
        };
        let direction = matches!(cap.linktype, 113 | 276);
        let exprs = EXPRESSIONS.iter().chain(if direction {
            DIRECTION_EXPRESSIONS
        } else {
            &[]
        });
        for expr in exprs {
            checks += 1;
            let ours = compile_with(expr, &opts);
            let theirs = tcpdump(file, expr, &cap);
            let rel = file.strip_prefix(&corpus).unwrap_or(file).display();
            match (ours, theirs) {
                (Err(_), Outcome::Refused(_)) => both_refused += 1,
                (Ok(_), Outcome::Refused(msg)) => {
                    mismatches.push(format!(
                        "{rel}: '{expr}': tcpdump refused ({msg}), pcapx accepted"
                    ));
                }
                (Err(e), Outcome::Matches(_)) => {
                    mismatches.push(format!(
                        "{rel}: '{expr}': pcapx refused ({e}), tcpdump accepted"
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
                        mismatches.push(format!(
                            "{rel}: '{expr}': only pcapx matched records {only_us:?}, only tcpdump matched {only_them:?}"
                        ));
                    }
                }
            }
        }
    }
    println!(
        "conformance: {checked_files} files ({pcapng_files} pcapng, {packets} records) x expressions = {checks} checks, {both_refused} refused by both, {} mismatches",
        mismatches.len()
    );
    for m in mismatches.iter().take(60) {
        println!("MISMATCH {m}");
    }
    assert!(
        checked_files > 50,
        "too few corpus files checked: {checked_files}"
    );
    assert!(pcapng_files > 0, "no pcapng corpus file was checked");
    assert!(
        mismatches.is_empty(),
        "{} mismatches with tcpdump",
        mismatches.len()
    );
}
