//! Corpus comparisons: field values against tshark, summary lines against Scapy.
//!
//! Reads `$PCAPX_CORPUS` (skipped with a message when unset). tshark / Scapy
//! missing: skipped with a message, or a failure when `CI` is set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pcapx_core::{Engine, PacketMeta, Wanted};

/// Captures compared (all classic little-endian pcap files).
const DIRS: &[&str] = &["ethernet-ipv4", "dns", "ipv6", "zeek/icmp"];

/// Fields compared with tshark's first occurrence.
const FIELDS: &[&str] = &[
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq",
    "tcp.ack",
    "tcp.window_size_value",
    "tcp.hdr_len",
    "tcp.flags",
    "tcp.len",
    "tcp.options.mss_val",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "dns.id",
    "dns.qry.name",
    "dns.a",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
];

fn corpus() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("PCAPX_CORPUS") else {
        println!("skipped: PCAPX_CORPUS not set");
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "PCAPX_CORPUS={} is not a folder",
        dir.display()
    );
    Some(dir)
}

fn tool_missing(what: &str) -> bool {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is required when CI is set"
    );
    println!("skipped: {what} not available");
    true
}

struct Record {
    caplen: u32,
    wirelen: u32,
    data: Vec<u8>,
}

/// A minimal classic-pcap reader (either byte order, µs or ns), enough for
/// the files compared here.
fn read_pcap(path: &Path) -> (u32, Vec<Record>) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let magic = b.get(..4).expect("pcap header");
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{}: not a classic pcap file", path.display()),
    };
    let u32_at = |at: usize| -> u32 {
        let w: [u8; 4] = b[at..at + 4].try_into().expect("4 bytes");
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let linktype = u32_at(20) & 0xffff;
    let mut recs = Vec::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32_at(off + 8);
        let wirelen = u32_at(off + 12);
        let start = off + 16;
        let end = start + usize::try_from(caplen).expect("fits");
        let Some(data) = b.get(start..end) else { break };
        recs.push(Record {
            caplen,
            wirelen,
            data: data.to_vec(),
        });
        off = end;
    }
    (linktype, recs)
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for d in DIRS {
        let dir = root.join(d);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
            .collect();
        names.sort();
        v.extend(names);
    }
    v
}

/// tshark prints hex-based fields as `0x…`: compare numbers.
fn normalize(s: &str) -> String {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).map_or_else(|_| s.to_owned(), |n| n.to_string()),
        None => s.to_owned(),
    }
}

fn engine() -> &'static Engine {
    crate::testutil::engine()
}

#[test]
fn fields_match_tshark() {
    let Some(root) = corpus() else { return };
    if Command::new("tshark").arg("-v").output().is_err() && tool_missing("tshark") {
        return;
    }
    let eng = engine();
    let ids: Vec<_> = FIELDS
        .iter()
        .map(|n| eng.registry().field_by_name(n).expect("registered"))
        .collect();
    let mut fields = eng.new_fields(Wanted::All);
    let mut compared: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut report = String::new();
    let mut packets = 0usize;
    let mut fragments = 0usize;
    for path in files(&root) {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(&path);
        cmd.args(["-o", "tcp.relative_sequence_numbers:FALSE"]);
        cmd.args(["-T", "fields", "-E", "occurrence=f", "-E", "separator=/t"]);
        for f in FIELDS {
            cmd.args(["-e", f]);
        }
        // Not compared: they tell which packets tshark reassembles.
        cmd.args(["-e", "ip.flags.mf", "-e", "ip.frag_offset"]);
        let out = cmd.output().expect("tshark runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let (linktype, recs) = read_pcap(&path);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), recs.len(), "{}: tshark rows", path.display());
        for (i, (rec, row)) in recs.iter().zip(rows).enumerate() {
            packets += 1;
            let cols: Vec<&str> = row.split('\t').collect();
            let extra = cols.get(FIELDS.len()..).unwrap_or(&[]);
            // Accepted: tshark reassembles IPv4 fragments and shows the UDP
            // header on the last fragment; pcapx dissects each frame alone.
            if extra.first().is_some_and(|mf| *mf == "1")
                || extra.get(1).is_some_and(|o| !o.is_empty() && *o != "0")
            {
                fragments += 1;
                continue;
            }
            // Accepted: tshark decodes UDP port 8053 as DNS; pcapx binds DNS
            // to 53 and 5353 only, as Scapy does (which shows Raw here too).
            let port_8053 = path.ends_with("dns_udp_8053.pcap");
            let meta = PacketMeta {
                number: u64::try_from(i + 1).expect("fits"),
                caplen: rec.caplen,
                wirelen: rec.wirelen,
                linktype,
                ..PacketMeta::default()
            };
            eng.dissect(&meta, &rec.data, &mut fields);
            for ((name, id), want) in FIELDS.iter().zip(&ids).zip(cols) {
                if port_8053 && name.starts_with("dns.") {
                    continue;
                }
                let got = fields.first(*id).map(|v| v.to_string()).unwrap_or_default();
                let want = normalize(want);
                if got.is_empty() && want.is_empty() {
                    continue;
                }
                let e = compared.entry(name).or_default();
                e.0 += 1;
                if got != want {
                    e.1 += 1;
                    let _ = writeln!(
                        report,
                        "{} #{}: {name}: pcapx {got:?} tshark {want:?}",
                        path.display(),
                        i + 1
                    );
                }
            }
        }
    }
    println!("{packets} packets, {fragments} IPv4 fragments not compared");
    for (name, (n, bad)) in &compared {
        println!("{name}: {n} values compared, {bad} differ");
    }
    print!("{report}");
    assert!(report.is_empty(), "values differ from tshark (see above)");
}

const SCAPY: &str = r#"
import sys
from scapy.all import rdpcap
for f in sys.argv[1:]:
    for i, p in enumerate(rdpcap(f)):
        print("%s\t%d\t%s" % (f, i, p.summary()))
"#;

/// Scapy lines whose layers pcapx also has: Ether / IP / TCP or UDP, then
/// only DNS, Raw or Padding (Scapy decodes NTP, DHCP, … that pcapx leaves raw).
fn comparable(line: &str) -> bool {
    let Some(rest) = line
        .strip_prefix("Ether / IP / TCP")
        .or_else(|| line.strip_prefix("Ether / IP / UDP"))
    else {
        return false;
    };
    rest.split(" / ").skip(1).all(|part| {
        part == "Raw" || part == "Padding" || part.starts_with("DNS ") || part.starts_with("mDNS ")
    })
}

#[test]
fn summaries_match_scapy() {
    let Some(root) = corpus() else { return };
    let probe = Command::new("python3")
        .args(["-c", "import scapy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) && tool_missing("python3 with scapy") {
        return;
    }
    let eng = engine();
    let dirs = [root.join("ethernet-ipv4"), root.join("dns")];
    let paths: Vec<PathBuf> = files(&root)
        .into_iter()
        .filter(|p| dirs.iter().any(|d| p.starts_with(d)))
        .collect();
    let out = Command::new("python3")
        .args(["-c", SCAPY])
        .args(&paths)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in text.lines() {
        let mut it = line.splitn(3, '\t');
        if let (Some(f), Some(_), Some(s)) = (it.next(), it.next(), it.next()) {
            by_file.entry(f).or_default().push(s);
        }
    }
    let mut fields = eng.new_fields(Wanted::All);
    let (mut total, mut skipped, mut same) = (0usize, 0usize, 0usize);
    let mut pcapx_only = 0usize;
    let mut report = String::new();
    for path in &paths {
        let (linktype, recs) = read_pcap(path);
        let key = path.to_str().expect("utf-8 path");
        let lines = by_file.get(key).cloned().unwrap_or_default();
        assert_eq!(lines.len(), recs.len(), "{key}: Scapy lines");
        for (i, (rec, want)) in recs.iter().zip(lines).enumerate() {
            total += 1;
            if !comparable(want) {
                skipped += 1;
                continue;
            }
            let meta = PacketMeta {
                number: u64::try_from(i + 1).expect("fits"),
                caplen: rec.caplen,
                wirelen: rec.wirelen,
                linktype,
                ..PacketMeta::default()
            };
            eng.dissect(&meta, &rec.data, &mut fields);
            let got = eng.summary_line(&fields, &rec.data, false);
            // Deliberate: pcapx names layers Scapy does not decode by
            // default (SSH on port 22: Scapy shows Raw) with its own line.
            if got
                .split(" / ")
                .any(|p| p == "SSH" || p.starts_with("SSH "))
            {
                pcapx_only += 1;
                continue;
            }
            if got == want || crate::net::corpus_tests::app_layer_where_scapy_has_raw(&got, want) {
                same += 1;
            } else {
                let _ = writeln!(report, "{key} #{}:\n  pcapx {got}\n  scapy {want}", i + 1);
            }
        }
    }
    println!(
        "{total} packets; {} Ethernet/IPv4 TCP/UDP packets compared, {same} identical; {skipped} not comparable (other layers); {pcapx_only} with a pcapx-only application layer (SSH)",
        total - skipped - pcapx_only
    );
    print!("{report}");
    assert!(
        report.is_empty(),
        "summary lines differ from Scapy (see above)"
    );
}
