//! libpcap's own filter test data (`testprogs/TESTrun` of the libpcap source
//! tree, BSD licence, see `tests/libpcap/README.md`) as a conformance suite:
//!
//! * `apply.tsv`: expression × savefile → the filter's return value for every
//!   record (`filtertest -r`), run on the savefiles in `tests/libpcap/savefiles`;
//! * `reject.tsv`: expressions libpcap refuses for a link type.
//!
//! The expectations come from current libpcap (1.11-pre, newer than the 1.10
//! that Debian ships). Where pcapx differs from them, the test asks the local
//! tcpdump/libpcap 1.10: agreeing with it is accepted (and counted as "1.10
//! behaviour"), anything else fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Outcome, read_capture, tcpdump, tcpdump_available};
use pcapx_filter::{NullByteOrder, Options, compile_with, linktype_from_name};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libpcap")
}

fn rows(name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(dir().join(name)).expect("test data");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Can the local tcpdump be used as the 1.10 oracle?
fn oracle() -> bool {
    if tcpdump_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tcpdump is required in CI"
    );
    false
}

#[test]
fn apply_blocks() {
    let have_oracle = oracle();
    let (mut same, mut as_110, mut skipped) = (0, Vec::new(), 0);
    let mut failures = Vec::new();
    for row in rows("apply.tsv") {
        let [name, savefile, expr, results, netmask] = &row[..] else {
            panic!("bad row {row:?}");
        };
        if !netmask.is_empty() {
            // pcapx compiles like tcpdump reading a file: netmask 0
            skipped += 1;
            continue;
        }
        let path = dir().join("savefiles").join(savefile);
        let cap = read_capture(&path).unwrap_or_else(|| panic!("{savefile} unreadable"));
        let want: Vec<u32> = results
            .split(',')
            .map(|v| v.parse().expect("result"))
            .collect();
        assert_eq!(want.len(), cap.records.len(), "{name}: record count");
        let opts = Options {
            snaplen: cap.snaplen,
            null_byte_order: if cap.little_endian {
                NullByteOrder::Little
            } else {
                NullByteOrder::Big
            },
            ..Options::new(cap.linktype)
        };
        let got: Result<Vec<u32>, String> = compile_with(expr, &opts)
            .map(|p| {
                cap.records
                    .iter()
                    .map(|r| p.run(&r.data, r.wirelen))
                    .collect()
            })
            .map_err(|e| e.to_string());
        if got.as_ref() == Ok(&want) {
            same += 1;
            continue;
        }
        // Differs from current libpcap: accept libpcap 1.10's answer.
        if !have_oracle {
            skipped += 1;
            continue;
        }
        let ours_matched: Option<Vec<usize>> = got.as_ref().ok().map(|v| {
            v.iter()
                .enumerate()
                .filter(|(_, r)| **r != 0)
                .map(|(i, _)| i)
                .collect()
        });
        match (tcpdump(&path, expr, &cap), ours_matched) {
            (Outcome::Matches(t), Some(o)) if t == o => as_110.push(format!("{name}: '{expr}'")),
            (Outcome::Refused(_), None) => as_110.push(format!("{name}: '{expr}' (refused)")),
            (theirs, _) => failures.push(format!(
                "{name}: '{expr}' on {savefile}: pcapx {got:?}, libpcap 1.11 {want:?}, tcpdump 1.10 {}",
                match theirs {
                    Outcome::Matches(m) => format!("matched {m:?}"),
                    Outcome::Refused(e) => format!("refused ({e})"),
                }
            )),
        }
    }
    println!(
        "TESTrun apply blocks: {same} as libpcap 1.11, {} as the local libpcap 1.10 instead, {skipped} skipped, {} failures",
        as_110.len(),
        failures.len()
    );
    for d in &as_110 {
        println!("  1.10 behaviour: {d}");
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(same > 140, "too few TESTrun apply blocks agree: {same}");
    assert!(
        failures.is_empty(),
        "{} TESTrun apply failures",
        failures.len()
    );
}

#[test]
fn reject_tests() {
    let have_oracle = oracle();
    let (mut refused, mut as_110, mut skipped) = (0, Vec::new(), 0);
    let mut failures = Vec::new();
    for row in rows("reject.tsv") {
        let [name, dlt, expr, errstr] = &row[..] else {
            panic!("bad row {row:?}");
        };
        if expr.is_empty() {
            // savefile-opening tests
            continue;
        }
        let Some(lt) = linktype_from_name(dlt) else {
            failures.push(format!("{name}: unknown link type name {dlt}"));
            continue;
        };
        match compile_with(expr, &Options::new(lt)) {
            Err(_) => refused += 1,
            Ok(_) if !have_oracle => skipped += 1,
            Ok(p) => {
                // libpcap 1.10 (`tcpdump -y DLT -d`) may accept what 1.11 refuses.
                let out = Command::new("tcpdump")
                    .args(["-y", dlt, "-d", "--", expr])
                    .output()
                    .expect("tcpdump");
                let stderr = String::from_utf8_lossy(&out.stderr);
                if out.status.success() {
                    as_110.push(format!("{name}: '{expr}' on {dlt} (1.11: {errstr})"));
                } else if stderr.contains("invalid data link type")
                    || stderr.contains("not supported")
                {
                    // this tcpdump cannot compile for that link type at all
                    skipped += 1;
                } else {
                    failures.push(format!(
                        "{name}: '{expr}' on {dlt}: pcapx accepted, libpcap 1.11 ({errstr}) and 1.10 ({}) refuse:\n{}",
                        stderr.trim(),
                        p.dump()
                    ));
                }
            }
        }
    }
    println!(
        "TESTrun reject tests: {refused} refused as by libpcap 1.11, {} accepted as by libpcap 1.10, {skipped} undecidable, {} failures",
        as_110.len(),
        failures.len()
    );
    for d in &as_110 {
        println!("  1.10 behaviour: {d}");
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    assert!(
        refused > 100,
        "too few TESTrun reject tests refused: {refused}"
    );
    assert!(
        failures.is_empty(),
        "{} TESTrun reject failures",
        failures.len()
    );
}
