//! `tcp.analysis.*` flags checked against tshark on every packet: the
//! corpus and fixture captures as they are, and the TCP captures among them
//! perturbed (segments dropped, duplicated, swapped; original or re-timed
//! timestamps) so that every kind of flag occurs many times.
//!
//! tshark's one-pass and two-pass (`-2`) runs give the same flags (its
//! sequence analysis runs once, on the first pass, in file order); pcapx's
//! single in-order pass matches both.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// The flags compared exactly.
const EXACT: &[&str] = &[
    "tcp.analysis.retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
];
/// pcapx's are a subset of tshark's (see crates/flow/src/analysis.rs).
const SUBSET: &str = "tcp.analysis.fast_retransmission";

#[derive(Default, Debug)]
struct Tally {
    /// Per field: packets tshark flags, and differences.
    flagged: HashMap<&'static str, u64>,
    diffs: Vec<String>,
    compared_packets: u64,
    /// Flags on packets whose conversation pcapx does not see (a link layer
    /// or tunnel its cheap parse does not walk: `tcp.stream` differs).
    unseen: u64,
    refused: Vec<String>,
}

fn fields() -> Vec<&'static str> {
    let mut f = vec!["frame.number", "tcp.stream"];
    f.extend_from_slice(EXACT);
    f.push(SUBSET);
    f
}

fn compare(file: &Path, t: &mut Tally) {
    let name = file.to_string_lossy().into_owned();
    let fields = fields();
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", &name, "-T", "fields"]);
    for f in &fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("tshark");
    if !o.status.success() {
        // A capture tshark refuses (an unknown link type): nothing to compare.
        t.refused.push(name);
        return;
    }
    let theirs: Vec<Vec<String>> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let ours = common::pcapx_rows(&name, &fields, &["--all"]);
    let ours: HashMap<&str, &Vec<String>> = ours.iter().map(|r| (r[0].as_str(), r)).collect();
    let present = |v: Option<&String>| v.is_some_and(|s| !s.is_empty() && s != "false");
    for th in &theirs {
        let Some(us) = ours.get(th[0].as_str()) else {
            panic!("{name}: pcapx has no row for frame {}", th[0]);
        };
        let flags = (2..fields.len()).filter(|&i| present(th.get(i))).count() as u64;
        if th.get(1) != us.get(1) {
            t.unseen += flags;
            continue;
        }
        t.compared_packets += 1;
        for (i, f) in fields.iter().enumerate().skip(2) {
            let (a, b) = (present(th.get(i)), present(us.get(i)));
            *t.flagged.entry(f).or_default() += u64::from(a);
            let bad = if *f == SUBSET { b && !a } else { a != b };
            if bad {
                t.diffs.push(format!(
                    "{name}: frame {}: {f}: tshark {a}, pcapx {b}",
                    th[0]
                ));
            }
        }
    }
}

fn report(t: &Tally) {
    let mut f: Vec<_> = t.flagged.iter().collect();
    f.sort();
    println!(
        "{} packets compared, flags tshark set: {f:?}, flags on conversations pcapx does not parse: {}, captures tshark refused: {:?}",
        t.compared_packets, t.unseen, t.refused
    );
    assert!(
        t.diffs.is_empty(),
        "{} differences from tshark:\n{}",
        t.diffs.len(),
        t.diffs[..t.diffs.len().min(40)].join("\n")
    );
}

#[test]
fn analysis_flags_match_tshark_on_corpus_and_fixtures() {
    let Some(corpus) = common::corpus("analysis_flags_match_tshark_on_corpus_and_fixtures") else {
        return;
    };
    if !common::tool(
        "tshark",
        "analysis_flags_match_tshark_on_corpus_and_fixtures",
    ) {
        return;
    }
    let mut files = common::captures(&corpus);
    files.extend(common::captures(&common::root().join("fixtures")));
    files.extend(common::captures(&common::root().join("fixtures/app")));
    files.retain(|f| !f.ends_with("not-a-capture.pcap"));
    let mut t = Tally::default();
    for f in &files {
        compare(f, &mut t);
    }
    report(&t);
    assert!(t.flagged["tcp.analysis.retransmission"] >= 15);
    assert!(t.flagged["tcp.analysis.lost_segment"] >= 20);
    assert!(t.flagged["tcp.analysis.duplicate_ack"] >= 15);
}

/// The TCP captures to perturb.
const SOURCES: &[&str] = &[
    "corpus:ethernet-ipv4/ssh.pcap",
    "corpus:fileformat/of13_ericsson.pcapng",
    "corpus:zeek/fragments/ipv6-http-atomic-frag.pcap",
    "fixtures/app/zeek-ssh_kex_curve25519.pcap",
    "fixtures/app/zeek-tls-ecdhe.pcap",
    "fixtures/app/zeek-tls-dhe.pcap",
    "fixtures/app/zeek-http-post.pcap",
    "fixtures/app/zeek-tls-tls1.2.pcap",
    "fixtures/tcp-options.pcap",
    "fixtures/app/foxio-tls12.pcap",
];

#[test]
fn analysis_flags_match_tshark_on_perturbed_captures() {
    let test = "analysis_flags_match_tshark_on_perturbed_captures";
    let Some(corpus) = common::corpus(test) else {
        return;
    };
    if !common::tool("tshark", test) || !common::python_with(&["scapy"], test) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = common::root().join("tests/tcp_analysis_perturb.py");
    let mut t = Tally::default();
    let mut made = 0;
    for src in SOURCES {
        let path = match src.strip_prefix("corpus:") {
            Some(rel) => corpus.join(rel),
            None => common::root().join(src),
        };
        for seed in 1..=3 {
            for mode in ["keep", "mono"] {
                let out = dir.path().join(format!("{made}-{seed}-{mode}.pcap"));
                let o = Command::new("python3")
                    .arg(&script)
                    .arg(&path)
                    .arg(&out)
                    .arg(seed.to_string())
                    .arg(mode)
                    .output()
                    .expect("python3");
                assert!(
                    o.status.success(),
                    "perturb {src}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                compare(&out, &mut t);
                made += 1;
            }
        }
    }
    report(&t);
    assert_eq!(made, SOURCES.len() * 6);
    assert!(t.flagged["tcp.analysis.retransmission"] >= 100, "{t:?}");
    assert!(t.flagged["tcp.analysis.lost_segment"] >= 100, "{t:?}");
    assert!(
        t.flagged["tcp.analysis.spurious_retransmission"] >= 20,
        "{t:?}"
    );
    assert!(t.flagged["tcp.analysis.duplicate_ack"] >= 20, "{t:?}");
    assert!(t.flagged["tcp.analysis.out_of_order"] >= 3, "{t:?}");
}

#[test]
fn analysis_flags_identical_for_any_thread_count() {
    let f = common::fixture("tcp-options.pcap");
    let f = f.to_string_lossy();
    let fields = "frame.number,tcp.stream,tcp.analysis.retransmission,tcp.analysis.lost_segment,tcp.analysis.duplicate_ack,tcp.analysis.out_of_order";
    let one = common::ok(&["convert", &f, "--all", "--fields", fields, "--threads", "1"]);
    let four = common::ok(&["convert", &f, "--all", "--fields", fields, "--threads", "4"]);
    assert_eq!(one, four);
    assert!(one.lines().any(|l| l.contains('1')));
}
