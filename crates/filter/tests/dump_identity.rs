//! `--dump` identity with `tcpdump -y LINKTYPE -d EXPR` (libpcap 1.10's
//! optimised program), measured over
//!
//! * every link type that both pcapx and the local libpcap compile for (both
//!   accept the empty expression) × every expression of the conformance lists
//!   (`common::exprs`), and
//! * libpcap's own `testprogs/TESTrun` expressions on the link type TESTrun
//!   pairs them with (`tests/libpcap/accept.tsv`, `apply.tsv`, `reject.tsv`).
//!
//! Each case is identical (same program text), different (both compile, the
//! programs differ), refused by both, or refused by only one side. The counts
//! are printed per link type. Every case that is not identical or refused by
//! both must be listed in `tests/dump_exceptions.tsv` with its reason, and
//! every listed case must still differ: the test fails when a new difference
//! appears and when a listed exception becomes identical (then delete its
//! line). The reasons are documented in ARCHITECTURE.md (`crates/filter`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::exprs::{DIRECTION_EXPRESSIONS, EXPRESSIONS, KEYWORD_EXPRESSIONS, LINK_EXPRESSIONS};
use common::tcpdump_or_skip;
use pcapx_filter::{Options, compile_with, linktype_from_name, linktype_names};

/// Why a listed case is not identical; the keys of the fourth column of
/// `dump_exceptions.tsv`.
const REASONS: &[(&str, &str)] = &[
    (
        "protochain-loop",
        "libpcap's protochain program loops (a backward `ja`); pcapx unrolls the header walk \
         so one loop-free program serves the kernel and the interpreter",
    ),
    (
        "libpcap-1.11",
        "pcapx follows current libpcap where it fixed or extended 1.10 (range errors, \
         `sls|vpi|vci != N`, PPI type/dir, DSA tags, MS/TP and ARCnet `$XX` addresses, \
         `ether proto lldp|slow`, `vxlan`, optimiser fixes for `byte N & M` on IPV4 and \
         `ldb` + `& 0xffffffff`); the local 1.10 compiles or refuses differently",
    ),
    (
        "libpcap-uninit-reg",
        "libpcap computes the radio/PFLOG header length into the register that `pppoes` or \
         `geneve` re-pointed the link-layer offset to, so its program reads a scratch slot \
         nothing wrote (undefined; Linux refuses to attach such a program); pcapx computes \
         the offsets into the registers its tests read. Checked on both programs below",
    ),
    (
        "libpcap-clobbered-reg",
        "libpcap allocates PFLOG's header-length register on its first use, after a relation \
         before it freed its registers, and computes the header length into it at the start \
         (`insert_compute_vloffsets`); the relation's own code then stores its value there, so \
         the protocol tests after it read that value as the header length (`len > 100 and \
         tcp`: `ldb [109]`, byte 9 of a 100-byte header). pcapx keeps the header length in \
         its own register. Checked on libpcap's unoptimised program below",
    ),
    (
        "open",
        "not yet matched: same verdicts as libpcap (conformance test), different program text",
    ),
];

const EXCEPTIONS: &str = "tests/dump_exceptions.tsv";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Same,
    Differ,
    BothRefused,
    OnlyPcapxRefused,
    OnlyTcpdumpRefused,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Same => "same",
            Kind::Differ => "differ",
            Kind::BothRefused => "both-refused",
            Kind::OnlyPcapxRefused => "pcapx-refuses",
            Kind::OnlyTcpdumpRefused => "tcpdump-refuses",
        }
    }
}

fn tcpdump_d(lt: &str, expr: &str) -> Result<String, String> {
    tcpdump_listing(lt, expr, "-d")
}

/// `tcpdump -y LT -O -d EXPR`: libpcap's program with its optimiser off.
fn tcpdump_unoptimised(lt: &str, expr: &str) -> Result<String, String> {
    tcpdump_listing(lt, expr, "-Od")
}

fn tcpdump_listing(lt: &str, expr: &str, flags: &str) -> Result<String, String> {
    let out = Command::new("tcpdump")
        .args(["-y", lt, flags, "--", expr])
        .output()
        .map_err(|e| format!("could not run tcpdump: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// `pcapx filter --dump EXPR --linktype LT`: a live-capture program, as
/// `tcpdump -d` compiles one.
fn pcapx_d(lt: u32, expr: &str) -> Result<String, String> {
    let opts = Options {
        live: true,
        ..Options::new(lt)
    };
    compile_with(expr, &opts)
        .map(|p| p.dump())
        .map_err(|e| e.to_string())
}

fn classify(lt_name: &str, lt: u32, expr: &str) -> Kind {
    match (pcapx_d(lt, expr), tcpdump_d(lt_name, expr)) {
        (Ok(a), Ok(b)) if a == b => Kind::Same,
        (Ok(_), Ok(_)) => Kind::Differ,
        (Err(_), Err(_)) => Kind::BothRefused,
        (Err(_), Ok(_)) => Kind::OnlyPcapxRefused,
        (Ok(_), Err(_)) => Kind::OnlyTcpdumpRefused,
    }
}

fn libpcap_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libpcap")
}

fn tsv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The scratch-slot operations of a `-d` listing, in order: (mnemonic,
/// slot) for each `st`/`stx`/`ld`/`ldx M[k]`.
fn slot_ops(listing: &str) -> impl Iterator<Item = (&str, usize)> {
    listing.lines().filter_map(|line| {
        let mut words = line.split_whitespace().skip(1);
        let (op, arg) = (words.next()?, words.next()?);
        let k = arg
            .strip_prefix("M[")
            .and_then(|a| a.strip_suffix(']'))
            .and_then(|a| a.parse::<usize>().ok())
            .filter(|&k| k < 16)?;
        Some((op, k))
    })
}

/// Does a `-d` listing store a scratch slot twice with no load of it in
/// between (a value overwritten before anything read it)?
fn overwrites_unread_slot(listing: &str) -> bool {
    let mut unread = [false; 16];
    for (op, k) in slot_ops(listing) {
        match op {
            "st" | "stx" if unread[k] => return true,
            "st" | "stx" => unread[k] = true,
            "ld" | "ldx" => unread[k] = false,
            _ => {}
        }
    }
    false
}

/// Does a `-d` listing load a scratch slot (`ld`/`ldx M[k]`) before any
/// instruction stores it? Classic BPF jumps only forward, so a load with no
/// store to its slot earlier in the listing reads it uninitialised on every
/// path that reaches it.
fn reads_unwritten_slot(listing: &str) -> bool {
    let mut written = [false; 16];
    for (op, k) in slot_ops(listing) {
        match op {
            "st" | "stx" => written[k] = true,
            "ld" | "ldx" if !written[k] => return true,
            _ => {}
        }
    }
    false
}

/// The link-type name tcpdump prints for a savefile (`link-type NAME`).
fn savefile_linktype(file: &Path) -> Option<String> {
    let out = Command::new("tcpdump")
        .arg("-c1")
        .arg("-r")
        .arg(file)
        .output()
        .ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let rest = &err[err.find("link-type ")? + "link-type ".len()..];
    Some(rest.split_whitespace().next()?.to_string())
}

/// (link-type name, expression) pairs of libpcap's TESTrun tables.
fn testrun_cases() -> Vec<(String, String)> {
    let dir = libpcap_dir();
    let mut cases = Vec::new();
    for row in tsv(&dir.join("accept.tsv")) {
        cases.push((row[1].clone(), row.get(2).cloned().unwrap_or_default()));
    }
    for row in tsv(&dir.join("reject.tsv")) {
        cases.push((row[1].clone(), row[2].clone()));
    }
    let mut lt_of = BTreeMap::new();
    for row in tsv(&dir.join("apply.tsv")) {
        let file = row[1].clone();
        let lt = lt_of
            .entry(file.clone())
            .or_insert_with(|| savefile_linktype(&dir.join("savefiles").join(&file)))
            .clone();
        if let Some(lt) = lt {
            cases.push((lt, row[2].clone()));
        }
    }
    cases
}

#[test]
fn dump_identity_per_linktype() {
    if !tcpdump_or_skip() {
        return;
    }
    // Link types both sides compile for, one name per DLT value.
    let mut seen = BTreeSet::new();
    let mut linktypes = Vec::new();
    for (name, _, _) in linktype_names() {
        let Some(lt) = linktype_from_name(name) else {
            continue;
        };
        if seen.contains(&lt) {
            continue;
        }
        if pcapx_d(lt, "").is_ok() && tcpdump_d(name, "").is_ok() {
            seen.insert(lt);
            linktypes.push((name, lt));
        }
    }
    let mut exprs: Vec<&str> = Vec::new();
    for e in EXPRESSIONS
        .iter()
        .chain(DIRECTION_EXPRESSIONS)
        .chain(LINK_EXPRESSIONS)
        .chain(KEYWORD_EXPRESSIONS)
    {
        if !exprs.contains(e) {
            exprs.push(e);
        }
    }
    // (source, link-type name, DLT, expression), deduplicated.
    let mut cases: BTreeSet<(&str, String, u32, String)> = BTreeSet::new();
    for &(name, lt) in &linktypes {
        for e in &exprs {
            cases.insert(("conformance", name.to_string(), lt, (*e).to_string()));
        }
    }
    for (name, expr) in testrun_cases() {
        let Some(lt) = linktype_from_name(&name) else {
            continue;
        };
        let canonical = linktypes.iter().find(|(_, l)| *l == lt);
        if let Some((n, _)) = canonical
            && !cases.contains(&("conformance", (*n).to_string(), lt, expr.clone()))
        {
            cases.insert(("testrun", (*n).to_string(), lt, expr));
        }
    }
    let cases: Vec<_> = cases.into_iter().collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((src, name, lt, expr)) = cases.get(i) else {
                        break;
                    };
                    let k = classify(name, *lt, expr);
                    results
                        .lock()
                        .unwrap()
                        .push((*src, name.clone(), expr.clone(), k));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort();

    // Per link type and source: counts of each kind.
    let mut table: BTreeMap<(String, &str), BTreeMap<Kind, usize>> = BTreeMap::new();
    let mut observed: BTreeMap<(String, String), Kind> = BTreeMap::new();
    for (src, name, expr, k) in &results {
        *table
            .entry((name.clone(), src))
            .or_default()
            .entry(*k)
            .or_default() += 1;
        if !matches!(k, Kind::Same | Kind::BothRefused) {
            observed.insert((name.clone(), expr.clone()), *k);
        }
    }
    println!(
        "dump identity vs tcpdump -d: link type, source: identical/compared (differ, pcapx-refuses, tcpdump-refuses, both-refused)"
    );
    let (mut same, mut compared) = (0, 0);
    for ((name, src), counts) in &table {
        let c = |k| counts.get(&k).copied().unwrap_or(0);
        let cmp = c(Kind::Same)
            + c(Kind::Differ)
            + c(Kind::OnlyPcapxRefused)
            + c(Kind::OnlyTcpdumpRefused);
        same += c(Kind::Same);
        compared += cmp;
        println!(
            "  {name:<26} {src:<11} {}/{cmp} ({}, {}, {}, {})",
            c(Kind::Same),
            c(Kind::Differ),
            c(Kind::OnlyPcapxRefused),
            c(Kind::OnlyTcpdumpRefused),
            c(Kind::BothRefused)
        );
    }
    println!(
        "dump identity: {} link types, {} cases, {same}/{compared} identical where at least one side compiles",
        linktypes.len(),
        results.len()
    );

    // The asserted exceptions.
    let listed_rows = tsv(&Path::new(env!("CARGO_MANIFEST_DIR")).join(EXCEPTIONS));
    let mut listed: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for row in listed_rows {
        let [lt, expr, kind, reason] = &row[..] else {
            panic!("{EXCEPTIONS}: bad row {row:?}");
        };
        assert!(
            REASONS.iter().any(|(r, _)| r == reason),
            "{EXCEPTIONS}: unknown reason '{reason}'"
        );
        listed.insert((lt.clone(), expr.clone()), (kind.clone(), reason.clone()));
    }
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for ((lt, expr), k) in &observed {
        match listed.get(&(lt.clone(), expr.clone())) {
            Some((kind, reason)) if kind == k.name() => {
                *by_reason.entry(reason.as_str()).or_default() += 1;
                if reason == "libpcap-clobbered-reg" {
                    let theirs = tcpdump_unoptimised(lt, expr).unwrap_or_default();
                    let ours = linktype_from_name(lt)
                        .and_then(|l| pcapx_d(l, expr).ok())
                        .unwrap_or_default();
                    if !overwrites_unread_slot(&theirs) || overwrites_unread_slot(&ours) {
                        failures.push(format!(
                            "{lt}\t{expr}: listed as libpcap-clobbered-reg, but libpcap's \
                             unoptimised program overwrites no unread slot, or pcapx's does"
                        ));
                    }
                }
                if reason == "libpcap-uninit-reg" {
                    let theirs = tcpdump_d(lt, expr).unwrap_or_default();
                    let ours = linktype_from_name(lt)
                        .and_then(|l| pcapx_d(l, expr).ok())
                        .unwrap_or_default();
                    if !reads_unwritten_slot(&theirs) || reads_unwritten_slot(&ours) {
                        failures.push(format!(
                            "{lt}\t{expr}: listed as libpcap-uninit-reg, but tcpdump's program \
                             does not read an unwritten slot, or pcapx's does"
                        ));
                    }
                }
            }
            Some((kind, _)) => {
                failures.push(format!("{lt}\t{expr}\t{}\t(listed as {kind})", k.name()))
            }
            None => failures.push(format!("NEW\t{lt}\t{expr}\t{}", k.name())),
        }
    }
    for (lt, expr) in listed.keys() {
        if !observed.contains_key(&(lt.clone(), expr.clone())) {
            failures.push(format!(
                "NOW IDENTICAL (or refused by both): {lt}\t{expr}: delete its line from {EXCEPTIONS}"
            ));
        }
    }
    for (reason, n) in &by_reason {
        println!("exceptions: {n} {reason}");
    }
    for f in &failures {
        println!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} differences from tcpdump -d not as listed in {EXCEPTIONS}",
        failures.len()
    );
}
