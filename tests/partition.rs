//! `convert -o DIR --partition-by date|hour|file`: the Hive-partitioned
//! Parquet dataset holds exactly the rows of the unpartitioned Parquet
//! output, each in the partition its capture time (or file) names; memory
//! stays bounded when partitions come back out of order (rolling files);
//! the dataset is complete or absent; DIR is refused over an input or when
//! it is not empty. (The Python suite reads the same datasets with
//! pyarrow.dataset and DuckDB.)

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{ok, pcapx, stderr, tool};
use parquet::file::reader::{FileReader, SerializedFileReader};

const FIELDS: &str =
    "frame.number,frame.file,frame.time_epoch,ip.src,ip.dst,tcp.stream,udp.stream,frame.len";

/// `fixtures/tutorial.pcap` and `dns.pcap` shifted by whole days and hours
/// (`editcap -t`), listed twice and interleaved so that partitions come back
/// after more than `MAX_OPEN` others.
fn shifted(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..10i64 {
        let src = if i % 2 == 0 {
            "tutorial.pcap"
        } else {
            "dns.pcap"
        };
        let p = dir.join(format!("in-{i}.pcap"));
        // Back by 0-2 hours: never across midnight (the fixtures are at 22:1x).
        let secs = i * 86_400 - (i % 3) * 3_600;
        let st = std::process::Command::new("editcap")
            .args(["-t", &secs.to_string()])
            .arg(common::fixture(src))
            .arg(&p)
            .status()
            .expect("editcap");
        assert!(st.success());
        out.push(p.display().to_string());
    }
    let again: Vec<String> = out.iter().rev().cloned().collect();
    out.extend(again);
    out
}

/// Every row of a Parquet file, as text.
fn rows(path: &Path) -> Vec<String> {
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().to_string())
        .collect()
}

/// The dataset's files: (partition directory relative to DIR, rows).
fn dataset(dir: &Path) -> BTreeMap<PathBuf, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert!(
                    p.extension().is_some_and(|x| x == "parquet"),
                    "{}",
                    p.display()
                );
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), rows(&p));
            }
        }
    }
    out
}

/// frame.number → the row's ISO time, from the unpartitioned CSV.
fn times(inputs: &[String]) -> BTreeMap<String, String> {
    let mut a = vec!["convert"];
    a.extend(inputs.iter().map(String::as_str));
    a.extend([
        "--fields",
        "frame.number,frame.time_epoch",
        "--time-format",
        "iso",
    ]);
    ok(&a)
        .lines()
        .skip(1)
        .map(|l| {
            let (n, t) = l.split_once(',').unwrap();
            (n.to_owned(), t.to_owned())
        })
        .collect()
}

fn field<'a>(row: &'a str, name: &str) -> &'a str {
    let at = row.find(&format!("{name}: ")).unwrap() + name.len() + 2;
    let rest = &row[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim_matches('"')
}

#[test]
fn partitioned_dataset_equals_the_plain_table() {
    if !tool("editcap", "partitioned_dataset_equals_the_plain_table") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let inputs = shifted(tmp.path());
    let plain = tmp.path().join("plain.parquet");
    let mut a: Vec<&str> = vec!["convert"];
    a.extend(inputs.iter().map(String::as_str));
    a.extend(["--fields", FIELDS, "-o"]);
    let plain_s = plain.display().to_string();
    let mut pa = a.clone();
    pa.push(&plain_s);
    ok(&pa);
    let mut want = rows(&plain);
    want.sort();
    let time_of = times(&inputs);
    for by in ["date", "hour", "file"] {
        let ds = tmp.path().join(format!("ds-{by}"));
        let ds_s = ds.display().to_string();
        let mut da = a.clone();
        da.extend([ds_s.as_str(), "--partition-by", by]);
        ok(&da);
        let files = dataset(&ds);
        let mut got: Vec<String> = files.values().flatten().cloned().collect();
        got.sort();
        assert_eq!(got, want, "--partition-by {by}: the same rows");
        for (rel, rows) in &files {
            let parts: Vec<String> = rel
                .parent()
                .unwrap()
                .iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect();
            for row in rows {
                let t = &time_of[field(row, "frame.number")];
                match by {
                    "date" => assert_eq!(parts, [format!("date={}", &t[..10])]),
                    "hour" => assert_eq!(
                        parts,
                        [
                            format!("date={}", &t[..10]),
                            format!("hour={}", t[11..13].parse::<u32>().unwrap())
                        ]
                    ),
                    _ => {
                        let file = field(row, "frame.file");
                        let name = Path::new(file).file_name().unwrap().to_string_lossy();
                        assert_eq!(parts, [format!("file={name}")]);
                    }
                }
            }
        }
        // Ten dates in order, then back: at most eight writers are open, so
        // the first two dates were closed and get a second file each.
        if by == "date" {
            assert_eq!(files.len(), 12, "{:?}", files.keys());
            assert!(files.keys().any(|k| k.ends_with("part-00001.parquet")));
        }
        // Nothing else is left next to it.
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".pcapx-tmp"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn partitioned_output_is_complete_or_absent_and_never_over_an_input() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = tmp.path().join("ds");
    let ds_s = ds.display().to_string();
    // A bad file at the end of the stream: no dataset, no temporary.
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        "fixtures/not-a-capture.pcap",
        "-o",
        &ds_s,
        "--partition-by",
        "date",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!ds.exists());
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
    // An existing non-empty directory is refused and left alone.
    std::fs::create_dir(&ds).unwrap();
    std::fs::write(ds.join("keep"), "x").unwrap();
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        "-o",
        &ds_s,
        "--partition-by",
        "date",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(ds.join("keep")).unwrap(), "x");
    // An empty one is filled.
    std::fs::remove_file(ds.join("keep")).unwrap();
    ok(&[
        "convert",
        "fixtures/tutorial.pcap",
        "-o",
        &ds_s,
        "--partition-by",
        "hour",
    ]);
    assert!(
        ds.join("date=2023-11-14/hour=22/part-00000.parquet")
            .is_file()
    );
    // Inside an input directory, or an input itself: refused.
    let caps = tmp.path().join("caps");
    std::fs::create_dir(&caps).unwrap();
    std::fs::copy(common::fixture("dns.pcap"), caps.join("a.pcap")).unwrap();
    let caps_s = caps.display().to_string();
    let inside = caps.join("out").display().to_string();
    for (input, out) in [
        (caps_s.as_str(), inside.as_str()),
        (caps_s.as_str(), caps_s.as_str()),
    ] {
        let o = pcapx(&["convert", input, "-o", out, "--partition-by", "file"]);
        assert_eq!(o.status.code(), Some(2), "{input} -o {out}");
        assert!(stderr(&o).contains("input"), "{}", stderr(&o));
    }
    assert!(!caps.join("out").exists());
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        "--to",
        "csv",
        "-o",
        &ds_s,
        "--partition-by",
        "date",
    ]);
    assert_eq!(o.status.code(), Some(2));
}
