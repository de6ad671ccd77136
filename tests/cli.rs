//! End-to-end tests of the `pcapx` binary: inspect commands (insta snapshots on
//! the fixtures), exit codes and error messages.

mod common;

use common::{fixture, ok, pcapx, stderr, stdout};

fn snap(name: &str, args: &[&str]) {
    let out = ok(args);
    insta::assert_snapshot!(name, out);
}

#[test]
fn summary_snapshots() {
    for f in [
        "tutorial.pcap",
        "vlan.pcap",
        "icmp-errors.pcap",
        "dns.pcap",
        "multi-interface-le.pcapng",
        "sll.pcap",
        "ipv4-options.pcap",
        "fragments.pcap",
        "padded-min-frames.pcap",
        "snaplen-truncated.pcap",
        "tcp-options.pcap",
        "ipv6-ext.pcapng",
    ] {
        snap(
            &format!("summary-{f}"),
            &["summary", &format!("fixtures/{f}")],
        );
    }
    snap(
        "summary-n-tutorial",
        &["summary", "-n", "fixtures/tutorial.pcap", "-c", "12"],
    );
}

#[test]
fn show_snapshots() {
    snap(
        "show-tutorial-p3",
        &["show", "fixtures/tutorial.pcap", "-p", "3"],
    );
    snap(
        "show-tutorial-p10-hex",
        &["show", "fixtures/tutorial.pcap", "-p", "10", "--hex"],
    );
    snap(
        "show-icmp-errors-1",
        &["show", "fixtures/icmp-errors.pcap", "-p", "1"],
    );
    snap("show-vlan-c2", &["show", "fixtures/vlan.pcap", "-c", "2"]);
}

/// `count` (plain, `--hierarchy`, `--hierarchy --json`) on a capture of
/// many batches whose later batches bring protocols the first ones lack:
/// the same output for any thread count, and the totals add up.
#[test]
fn count_is_identical_for_any_thread_count() {
    use pcapx_capture::{Capture, PcapHeader, PcapWriter};
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("mixed.pcap");
    {
        let f = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        let mut w = PcapWriter::new(
            f,
            PcapHeader {
                nanos: true,
                ..PcapHeader::default()
            },
        )
        .unwrap();
        let mut n = 0i64;
        // 300 × the tutorial (several 4096-record batches), then the
        // Ethernet records of fixtures with other protocols, twice.
        let mut files = vec!["tutorial.pcap"; 300];
        for _ in 0..2 {
            files.extend([
                "dns.pcap",
                "vlan.pcap",
                "icmp-errors.pcap",
                "fragments.pcap",
                "tcp-options.pcap",
                "padded-min-frames.pcap",
            ]);
        }
        for name in files {
            let mut cap = Capture::open(fixture(name)).unwrap();
            cap.for_each(|r| {
                if r.linktype == 1 {
                    n += 1;
                    w.write_packet(n * 1000, r.wirelen, r.data).unwrap();
                }
            })
            .unwrap();
        }
        use std::io::Write as _;
        w.into_inner().flush().unwrap();
    }
    let big = big.to_str().unwrap();
    for extra in [
        &[][..],
        &["--hierarchy"],
        &["--hierarchy", "--json"],
        &["--json"],
    ] {
        let args = |t: &'static str| [&["count", big][..], extra, &["--threads", t]].concat();
        let one = ok(&args("1"));
        for t in ["2", "3", "8"] {
            assert_eq!(
                one,
                ok(&args(t)),
                "count {extra:?} differs with {t} threads"
            );
        }
    }
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["count", big, "--json", "--threads", "2"])).unwrap();
    let sum: u64 = ["TCP", "UDP", "ICMP", "Other"]
        .iter()
        .map(|k| v[k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, v["packets"].as_u64().unwrap());
    let tree = ok(&["count", big, "--hierarchy", "--threads", "2"]);
    assert!(tree.contains("dns"), "{tree}");
}

#[test]
fn count_snapshots() {
    snap("count-tutorial", &["count", "fixtures/tutorial.pcap"]);
    snap(
        "count-hierarchy-tutorial",
        &["count", "--hierarchy", "fixtures/tutorial.pcap"],
    );
    snap(
        "count-hierarchy-vlan",
        &["count", "--hierarchy", "fixtures/vlan.pcap"],
    );
}

#[test]
fn fields_snapshots() {
    snap("fields-all", &["fields"]);
    snap("fields-tcp", &["fields", "--layer", "tcp"]);
}

#[test]
fn every_field_is_described() {
    let json: serde_json::Value = serde_json::from_str(&ok(&["fields", "--json"])).unwrap();
    let rows = json.as_array().unwrap();
    assert!(rows.len() > 100, "only {} fields", rows.len());
    for r in rows {
        for k in ["protocol", "name", "display", "type", "description"] {
            assert!(
                r[k].as_str().is_some_and(|s| !s.is_empty()),
                "field {r} lacks {k}"
            );
        }
    }
    // The tutorial's aliases all resolve.
    let aliases: Vec<&str> = rows
        .iter()
        .flat_map(|r| r["aliases"].as_array().unwrap())
        .filter_map(|a| a.as_str())
        .collect();
    for a in [
        "src", "dst", "sport", "dport", "ttl", "payload", "time", "len", "id", "proto", "seq",
        "ack", "window",
    ] {
        assert!(aliases.contains(&a), "alias {a} missing");
    }
}

#[test]
fn info_on_every_fixture_capture() {
    snap(
        "info-multi-interface-be",
        &["info", "fixtures/multi-interface-be.pcapng"],
    );
    snap(
        "info-truncated-record",
        &["info", "fixtures/truncated-record.pcap"],
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["info", "--json", "fixtures/tutorial.pcap.gz"])).unwrap();
    assert_eq!(j["compression"], "gzip");
    let plain: serde_json::Value =
        serde_json::from_str(&ok(&["info", "--json", "fixtures/tutorial.pcap"])).unwrap();
    assert_eq!(j["packets"], plain["packets"]);
}

#[test]
fn not_a_capture_is_a_clean_error() {
    let o = pcapx(&["summary", "fixtures/not-a-capture.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "pcapx: fixtures/not-a-capture.pcap: not a pcap or pcapng file"
    );
    assert!(o.stdout.is_empty());
}

#[test]
fn missing_file_names_the_file() {
    let o = pcapx(&["count", "fixtures/no-such-file.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("pcapx: fixtures/no-such-file.pcap: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn damaged_file_keeps_good_packets_and_reports() {
    let o = pcapx(&["summary", "fixtures/truncated-record.pcap"]);
    assert_eq!(o.status.code(), Some(0));
    let lines = stdout(&o).lines().count();
    assert!(lines > 0);
    let err = stderr(&o);
    assert!(
        err.contains("fixtures/truncated-record.pcap") && err.contains("damaged"),
        "{err}"
    );
}

#[test]
fn stdin_reads_like_a_file() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let bytes = std::fs::read(fixture("tutorial.pcap.gz")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args(["summary", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        ok(&["summary", "fixtures/tutorial.pcap"])
    );
}

#[test]
fn closed_pipe_exits_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pcap");
    common::repeated_capture("tutorial.pcap", 4000, &big);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args(["summary", big.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here: the pipe is closed while pcapx still has
    // megabytes to write, as with `pcapx summary big.pcap | head`.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "status {:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_command_has_help() {
    for cmd in ["summary", "show", "count", "fields", "info", "convert"] {
        let out = ok(&[cmd, "--help"]);
        assert!(out.contains("Usage: pcapx"), "{cmd}: {out}");
    }
}

/// A layer cut by the snaplen says so and where: the byte is the packet's
/// captured length as tshark reports it, for every truncated packet.
#[test]
fn show_says_where_and_why_a_layer_was_cut() {
    if !common::tool("tshark", "show_says_where_and_why_a_layer_was_cut") {
        return;
    }
    let file = fixture("snaplen-truncated.pcap");
    let file = file.to_str().expect("utf-8 path");
    let caplens: Vec<u32> = common::tshark_fields(file, &["frame.cap_len"])
        .lines()
        .map(|l| l.trim().parse().expect("cap_len"))
        .collect();
    let mut seen = 0;
    for (i, caplen) in caplens.iter().enumerate() {
        let n = (i + 1).to_string();
        let out = ok(&["show", file, "-p", &n]);
        for line in out.lines().filter(|l| l.contains("!! truncated")) {
            let want = format!(
                "!! truncated at byte {caplen}: cut by the capture snaplen (caplen {caplen})"
            );
            assert_eq!(line.trim(), want, "packet {n}");
            seen += 1;
        }
    }
    assert!(seen > 0, "no truncated layer in the snaplen fixture");
}

#[test]
fn anomalies_are_fields_and_totals() {
    // The snaplen fixture: `show` marks some layers `!! truncated`.
    let f = "fixtures/snaplen-truncated.pcap";
    let show = ok(&["show", f]);
    let shown = show
        .split("###[ Frame")
        .filter(|p| p.contains("!! truncated"))
        .count();
    assert!(shown > 0, "{show}");
    let csv = ok(&[
        "convert",
        f,
        "--all",
        "--fields",
        "frame.anomaly,frame.malformed",
        "--occurrence",
        "all",
    ]);
    let flagged = csv
        .lines()
        .skip(1)
        .filter(|l| l.contains("truncated"))
        .count();
    assert_eq!(flagged, shown, "{csv}");
    let j: serde_json::Value = serde_json::from_str(&ok(&["info", f, "--json"])).unwrap();
    assert_eq!(j["anomalies"]["truncated"], shown, "{j}");
    let g = ok(&[
        "stats",
        f,
        "--all",
        "--group-by",
        "anomaly",
        "--count",
        "--format",
        "csv",
    ]);
    assert!(g.contains(&format!("truncated,{shown}")), "{g}");
}
