//! Helpers shared by the end-to-end tests: run the real binary, find the
//! corpus and the oracle tools, with the project's skip/fail rules.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// `pcapx ARGS…` with the working directory at the repository root.
pub fn pcapx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("run pcapx")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run pcapx and require exit 0; returns standard output.
pub fn ok(args: &[&str]) -> String {
    let o = pcapx(args);
    assert!(o.status.success(), "pcapx {args:?} failed: {}", stderr(&o));
    stdout(&o)
}

pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The third-party corpus, or `None` (with a printed skip) when PCAPX_CORPUS
/// is unset. Panics when it is set but missing.
pub fn corpus(test: &str) -> Option<PathBuf> {
    match std::env::var_os("PCAPX_CORPUS") {
        None => {
            println!("skipped {test}: PCAPX_CORPUS not set");
            None
        }
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.join("MANIFEST.md").is_file(),
                "PCAPX_CORPUS={} has no MANIFEST.md",
                p.display()
            );
            Some(p)
        }
    }
}

/// Is an oracle tool on PATH? Missing is a failure under CI, a skip otherwise.
pub fn tool(name: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !ci(),
            "{test}: {name} is required under CI but not installed"
        );
        println!("skipped {test}: {name} not installed");
    }
    found
}

/// Python with the given modules importable (same skip/fail rule as [`tool`]).
pub fn python_with(modules: &[&str], test: &str) -> bool {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let found = Command::new("python3")
        .args(["-c", &code])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !ci(),
            "{test}: python3 with {modules:?} is required under CI"
        );
        println!("skipped {test}: python3 with {modules:?} not available");
    }
    found
}

/// Every capture file under `dir`, sorted.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("pcap" | "pcapng" | "cap")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Write a capture of `copies` × the records of fixture `name` (timestamps
/// shifted by one second per copy) to `out`: a larger input that spans many
/// pipeline batches, built only from committed fixtures.
pub fn repeated_capture(name: &str, copies: usize, out: &Path) {
    use pcapx_capture::{Capture, PcapHeader, PcapWriter};
    let mut cap = Capture::open(fixture(name)).expect("open fixture");
    let mut recs: Vec<(i64, u32, Vec<u8>)> = Vec::new();
    cap.for_each(|r| recs.push((r.ts_ns, r.wirelen, r.data.to_vec())))
        .expect("read fixture");
    let f = std::io::BufWriter::new(std::fs::File::create(out).expect("create"));
    let mut w = PcapWriter::new(
        f,
        PcapHeader {
            nanos: true,
            ..PcapHeader::default()
        },
    )
    .expect("header");
    for i in 0..copies {
        let shift = i64::try_from(i).unwrap() * 1_000_000_000;
        for (ts, wl, d) in &recs {
            w.write_packet(ts + shift, *wl, d).expect("write");
        }
    }
    use std::io::Write as _;
    w.into_inner().flush().expect("flush");
}

/// `tshark -n -r FILE -T fields -E separator=, -e F…`: one CSV line per packet.
pub fn tshark_fields(file: &str, fields: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", file, "-T", "fields", "-E", "separator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("run tshark");
    assert!(
        o.status.success(),
        "tshark failed on {file}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `pcapx convert FILE --fields F… --to jsonl` plus `extra`, as rows of
/// strings in `fields` order (JSON null is the empty string), for comparing
/// with tshark's `-T fields` rows.
pub fn pcapx_rows(file: &str, fields: &[&str], extra: &[&str]) -> Vec<Vec<String>> {
    let joined = fields.join(",");
    let mut args = vec!["convert", file, "--fields", &joined, "--to", "jsonl"];
    args.extend_from_slice(extra);
    ok(&args)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl row");
            fields
                .iter()
                .map(|f| match &v[*f] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}
