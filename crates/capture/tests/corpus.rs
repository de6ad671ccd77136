//! Conformance against the third-party corpus (`$PCAPX_CORPUS`): record
//! counts, formats, truncation and comment counts from `MANIFEST.md`,
//! `capinfos` counts, and every record of every pcap file against the
//! `pcap-file` crate as an independent oracle.

use pcapx_capture::{ByteOrder, Capture, Format};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(p);
        }
    }
}

/// One manifest row: the columns by header name.
type Row = BTreeMap<String, String>;

fn manifest(dir: &Path) -> BTreeMap<String, Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.md")).unwrap();
    let mut rows = BTreeMap::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
        {
            continue;
        }
        match &header {
            None => header = Some(cells),
            Some(h) => {
                if !h.iter().any(|c| c == "Pkts") {
                    continue;
                }
                let Some(path) = cells[0].strip_prefix('`').and_then(|p| p.strip_suffix('`'))
                else {
                    continue;
                };
                let row: Row = h.iter().cloned().zip(cells.iter().cloned()).collect();
                rows.insert(path.to_owned(), row);
            }
        }
    }
    rows
}

/// The number before `suffix` in `text` (e.g. "126 IDBs").
fn number_before(text: &str, suffix: &str) -> Option<usize> {
    let at = text.find(suffix)?;
    let digits: String = text[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn capinfos_available() -> bool {
    let ok = Command::new("capinfos")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "capinfos is required in CI"
        );
        println!("skipped capinfos cross-check: capinfos not found");
    }
    ok
}

fn capinfos_count(path: &Path) -> Option<u64> {
    let out = Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Number of packets:"))
        .and_then(|v| v.trim().parse().ok())
}

struct Summary {
    count: u64,
    truncated: u64,
    comments: u64,
    damage: usize,
    info: pcapx_capture::CaptureInfo,
}

fn summarize(mut cap: Capture) -> Summary {
    let mut s = Summary {
        count: 0,
        truncated: 0,
        comments: 0,
        damage: 0,
        info: cap.info().clone(),
    };
    cap.for_each(|r| {
        s.count += 1;
        s.truncated += u64::from(r.caplen < r.wirelen);
        s.comments += u64::from(r.comment.is_some());
    })
    .unwrap();
    s.damage = cap.damage().len();
    s.info = cap.info().clone();
    s
}

#[test]
fn corpus_counts_match_manifest_and_capinfos() {
    let Some(dir) = corpus() else { return };
    let rows = manifest(&dir);
    assert!(rows.len() > 100, "manifest parsed only {} rows", rows.len());
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let use_capinfos = capinfos_available();
    let (mut checked, mut capinfos_checked) = (0, 0);
    for file in &files {
        let rel = file
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let row = rows
            .get(&rel)
            .unwrap_or_else(|| panic!("{rel} is not in MANIFEST.md"));
        let expected: u64 = row["Pkts"].parse().unwrap();
        let mapped = Capture::open(file).unwrap_or_else(|e| panic!("{e}"));
        let s = summarize(mapped);
        let info = &s.info;
        assert_eq!(s.count, expected, "{rel}: record count");
        assert_eq!(s.damage, 0, "{rel}: unexpected damage");
        let streamed = summarize(Capture::open_streamed(file).unwrap());
        assert_eq!(streamed.count, expected, "{rel}: streamed record count");
        if let Some(trunc) = row.get("Trunc") {
            assert_eq!(
                s.truncated,
                trunc.parse::<u64>().unwrap(),
                "{rel}: Trunc column"
            );
        }
        // The Format column: pcap / pcap-ns / pcapng, BE, IDB and comment counts.
        let fmt = &row["Format"];
        let want_format = if fmt.starts_with("pcapng") {
            Format::PcapNg
        } else if fmt.starts_with("pcap-ns") {
            Format::PcapNano
        } else {
            Format::PcapMicro
        };
        assert_eq!(info.format, want_format, "{rel}: format");
        if want_format != Format::PcapNg {
            let be = fmt.contains(" BE");
            assert_eq!(info.byte_order() == ByteOrder::Big, be, "{rel}: byte order");
            let snap: Option<u32> = fmt
                .split("snaplen ")
                .nth(1)
                .and_then(|s| s.trim().parse().ok());
            assert_eq!(info.snaplen, snap, "{rel}: snaplen");
        }
        if let Some(idbs) = number_before(fmt, " IDBs") {
            assert_eq!(info.interfaces.len(), idbs, "{rel}: interfaces");
        }
        if let Some(comments) = number_before(fmt, " comment(s)") {
            let section_comments = info.sections.iter().filter(|s| s.comment.is_some()).count();
            assert_eq!(
                s.comments + u64::try_from(section_comments).unwrap(),
                u64::try_from(comments).unwrap(),
                "{rel}: comments"
            );
        }
        checked += 1;
        if use_capinfos && let Some(n) = capinfos_count(file) {
            assert_eq!(s.count, n, "{rel}: capinfos count");
            capinfos_checked += 1;
        }
    }
    for path in rows.keys() {
        assert!(
            dir.join(path).is_file(),
            "{path} is in MANIFEST.md but missing"
        );
    }
    println!("{checked} corpus files checked, {capinfos_checked} against capinfos");
    assert_eq!(checked, rows.len());
}

#[test]
fn corpus_pcap_records_match_pcap_file_crate() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let mut compared = 0u64;
    for file in files {
        let Ok(mut cap) = Capture::open(&file) else {
            continue;
        };
        if cap.info().format == Format::PcapNg {
            continue;
        }
        let oracle_file = std::fs::File::open(&file).unwrap();
        let Ok(mut oracle) = pcap_file::pcap::PcapReader::new(oracle_file) else {
            continue;
        };
        let nanos = matches!(
            oracle.header().ts_resolution,
            pcap_file::TsResolution::NanoSecond
        );
        assert_eq!(
            nanos,
            cap.info().format == Format::PcapNano,
            "{}",
            file.display()
        );
        let mut ours = Vec::new();
        cap.for_each(|r| ours.push((r.ts_ns, r.caplen, r.wirelen, r.data.to_vec())))
            .unwrap();
        let mut theirs = Vec::new();
        let mut oracle_failed = false;
        while let Some(p) = oracle.next_raw_packet() {
            match p {
                Ok(p) => {
                    let frac = i64::from(p.ts_frac) * if nanos { 1 } else { 1000 };
                    let ts = i64::from(p.ts_sec) * 1_000_000_000 + frac;
                    theirs.push((ts, p.incl_len, p.orig_len, p.data.into_owned()));
                }
                Err(_) => {
                    oracle_failed = true;
                    break;
                }
            }
        }
        let name = file.display();
        if oracle_failed {
            assert!(
                ours.len() >= theirs.len(),
                "{name}: pcap-file read more records"
            );
        } else {
            assert_eq!(ours.len(), theirs.len(), "{name}: record count");
        }
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                a == b,
                "{name}: record {} differs: ours (ts {}, caplen {}, len {}) pcap-file (ts {}, caplen {}, len {})",
                i + 1,
                a.0,
                a.1,
                a.2,
                b.0,
                b.1,
                b.2
            );
        }
        compared += theirs.len() as u64;
    }
    println!("{compared} pcap records compared with pcap-file");
    assert!(compared > 1000);
}

fn tshark_available() -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "tshark is required in CI");
        println!("skipped tshark cross-check: tshark not found");
    }
    ok
}

/// "1767663089.500330493" → ns (saturating, like the reader).
fn epoch_ns(text: &str) -> Option<i64> {
    let (sec, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<9}");
    let sec: i64 = sec.parse().ok()?;
    let frac: i64 = frac.get(..9)?.parse().ok()?;
    Some(sec.saturating_mul(1_000_000_000).saturating_add(frac))
}

#[test]
fn corpus_pcapng_records_match_tshark() {
    let Some(dir) = corpus() else { return };
    if !tshark_available() {
        return;
    }
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let (mut compared, mut comments) = (0usize, 0usize);
    for file in files {
        let Ok(mut cap) = Capture::open(&file) else {
            continue;
        };
        if cap.info().format != Format::PcapNg {
            continue;
        }
        let mut ours = Vec::new();
        cap.for_each(|r| {
            ours.push((
                r.ts_ns,
                r.wirelen,
                r.caplen,
                r.interface,
                r.comment.map(str::to_owned),
            ));
        })
        .unwrap();
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&file)
            .args(["-T", "fields", "-E", "separator=/t"])
            .args([
                "-e",
                "frame.time_epoch",
                "-e",
                "frame.len",
                "-e",
                "frame.cap_len",
            ])
            .args(["-e", "frame.interface_id", "-e", "frame.comment"])
            .output()
            .unwrap();
        if !out.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        let name = file.display();
        assert_eq!(ours.len(), theirs.len(), "{name}: record count");
        for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            let n = i + 1;
            assert_eq!(Some(o.0), epoch_ns(t[0]), "{name} #{n}: timestamp");
            assert_eq!(o.1.to_string(), t[1], "{name} #{n}: length");
            assert_eq!(o.2.to_string(), t[2], "{name} #{n}: captured length");
            assert_eq!(o.3.to_string(), t[3], "{name} #{n}: interface");
            let their_comment = t.get(4).copied().filter(|c| !c.is_empty());
            assert_eq!(o.4.as_deref(), their_comment, "{name} #{n}: comment");
            comments += usize::from(o.4.is_some());
        }
        compared += ours.len();
    }
    println!("{compared} pcapng records ({comments} with comments) compared with tshark");
    assert!(compared > 400);
}

/// Every record, damage event and batch boundary of one capture read with
/// `max_records`/`max_bytes`: (batch byte ranges, records, damage).
type Reading = (
    Vec<std::ops::Range<u64>>,
    Vec<(u64, i64, u32, u32, u32, u64, Vec<u8>)>,
    Vec<String>,
);

fn read_batches(mut cap: Capture, max_records: usize, max_bytes: usize) -> Reading {
    let mut ranges = Vec::new();
    let mut recs = Vec::new();
    loop {
        match cap.next_batch(max_records, max_bytes) {
            Ok(Some(b)) => {
                ranges.push(b.byte_range());
                for r in b.iter() {
                    recs.push((
                        r.number,
                        r.ts_ns,
                        r.caplen,
                        r.wirelen,
                        r.linktype,
                        r.offset,
                        r.raw.to_vec(),
                    ));
                }
            }
            Ok(None) => break,
            Err(e) => {
                ranges.push(u64::MAX..u64::MAX);
                recs.push((0, 0, 0, 0, 0, 0, e.to_string().into_bytes()));
                break;
            }
        }
    }
    let damage = cap
        .damage()
        .iter()
        .map(|d| format!("{} {} {:?} {}", d.packet, d.offset, d.kind, d.message))
        .collect();
    (ranges, recs, damage)
}

/// The memory-mapped reader indexes classic pcap records in a fast loop
/// (`Parser::run_pcap`) and everything else record by record; the streamed
/// reader always goes record by record. Both must give the same batches,
/// records and damage on every corpus capture, for small and large limits.
#[test]
fn corpus_mapped_and_streamed_batches_are_identical() {
    let Some(dir) = corpus() else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    assert!(!files.is_empty());
    let mut compared = 0;
    for f in &files {
        for (max_records, max_bytes) in [(7, 1 << 20), (1000, 3000), (64 << 10, 64 << 20)] {
            let (Ok(mapped), Ok(streamed)) = (Capture::open(f), Capture::open_streamed(f)) else {
                continue;
            };
            if !mapped.is_mapped() {
                continue;
            }
            let a = read_batches(mapped, max_records, max_bytes);
            let b = read_batches(streamed, max_records, max_bytes);
            assert!(
                a == b,
                "{}: mapped and streamed readings differ",
                f.display()
            );
            compared += 1;
        }
    }
    println!("{compared} readings compared");
    assert!(compared > 100);
}
