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

use common::exprs::{
    CORE_LINKTYPES, DIRECTION_EXPRESSIONS, EXPRESSIONS, KEYWORD_EXPRESSIONS, LINK_EXPRESSIONS,
};
use common::{Outcome, read_capture, tcpdump, tcpdump_or_skip};
use pcapx_filter::{NullByteOrder, Options, compile_with};

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
    if !tcpdump_or_skip() {
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
