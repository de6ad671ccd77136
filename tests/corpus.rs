//! Every capture of the third-party corpus through the real binary: read
//! without panic, packet counts equal MANIFEST.md's Pkts column, one summary
//! line and one `--all` row per packet, a layered dump for every packet, and
//! damaged files reported rather than fatal.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{pcapx, stderr, stdout};

/// MANIFEST.md tables: path (first column, in backticks) → Pkts.
fn manifest(dir: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.md")).unwrap();
    let mut out = BTreeMap::new();
    let mut pkts_col = None;
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 {
            pkts_col = None;
            continue;
        }
        if let Some(i) = cells.iter().position(|c| *c == "Pkts") {
            pkts_col = Some(i);
            continue;
        }
        let (Some(i), Some(path)) = (
            pkts_col,
            cells
                .get(1)
                .and_then(|c| c.strip_prefix('`'))
                .and_then(|c| c.strip_suffix('`')),
        ) else {
            continue;
        };
        if let Some(n) = cells.get(i).and_then(|c| c.parse().ok()) {
            out.insert(path.to_owned(), n);
        }
    }
    out
}

#[test]
fn every_corpus_capture_reads_and_counts_right() {
    let Some(dir) = common::corpus("every_corpus_capture_reads_and_counts_right") else {
        return;
    };
    let want = manifest(&dir);
    let files = common::captures(&dir);
    assert!(
        files.len() >= 160,
        "only {} captures under {}",
        files.len(),
        dir.display()
    );
    let mut checked = 0;
    for f in &files {
        let rel = f
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let expected = *want
            .get(&rel)
            .unwrap_or_else(|| panic!("{rel} is not in MANIFEST.md"));
        let fs = f.to_str().unwrap();

        let info = pcapx(&["info", "--json", fs]);
        assert_eq!(
            info.status.code(),
            Some(0),
            "{rel}: info failed: {}",
            stderr(&info)
        );
        let j: serde_json::Value = serde_json::from_str(&stdout(&info)).unwrap();
        assert_eq!(j["packets"].as_u64(), Some(expected), "{rel}: packet count");

        let s = pcapx(&["summary", fs]);
        assert_eq!(
            s.status.code(),
            Some(0),
            "{rel}: summary failed: {}",
            stderr(&s)
        );
        assert_eq!(
            stdout(&s).lines().count() as u64,
            expected,
            "{rel}: one summary line per packet"
        );

        let c = pcapx(&[
            "convert",
            fs,
            "--all",
            "--fields",
            "frame.number,frame.protocols,ip.src,tcp.srcport,dns.qry.name",
            "--to",
            "jsonl",
        ]);
        assert_eq!(
            c.status.code(),
            Some(0),
            "{rel}: convert failed: {}",
            stderr(&c)
        );
        assert_eq!(
            stdout(&c).lines().count() as u64,
            expected,
            "{rel}: one row per packet"
        );

        let sh = pcapx(&["show", fs, "--hex"]);
        assert_eq!(
            sh.status.code(),
            Some(0),
            "{rel}: show failed: {}",
            stderr(&sh)
        );
        let blocks = stdout(&sh).matches("###[ Frame ]###").count() as u64;
        assert_eq!(blocks, expected, "{rel}: one dump per packet");
        checked += 1;
    }
    println!("checked {checked} corpus captures");
}

#[test]
fn truncated_and_malformed_captures_report_anomalies_not_errors() {
    let Some(dir) = common::corpus("truncated_and_malformed_captures_report_anomalies_not_errors")
    else {
        return;
    };
    let mut with_anomalies = 0;
    for group in ["truncated", "malformed", "zeek/truncated"] {
        for f in common::captures(&dir.join(group)) {
            let o = pcapx(&["show", f.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", f.display(), stderr(&o));
            if stdout(&o).contains("!! ") {
                with_anomalies += 1;
            }
        }
    }
    // Most of these files carry a truncated or malformed layer; they must be
    // reported as anomalies in the dump, not hidden.
    assert!(
        with_anomalies >= 20,
        "only {with_anomalies} damaged captures showed an anomaly"
    );
}
