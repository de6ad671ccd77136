//! `pcapx follow` against `tshark -q -z follow,PROTO,FORMAT,N`: byte-identical
//! output (header, node lines, records, direction markers) on a generated
//! capture with every byte value, reordering, a retransmission and a hole,
//! and on the corpus's TCP captures.

mod common;

use std::process::Command;

use common::{pcapx, stderr, stdout};

fn tshark_follow(file: &str, proto: &str, format: &str, stream: u32) -> String {
    let o = Command::new("tshark")
        .args(["-n", "-q", "-r", file, "-z"])
        .arg(format!("follow,{proto},{format},{stream}"))
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "tshark on {file}: {}", stderr(&o));
    stdout(&o)
}

fn same(file: &str, proto: &str, format: &str, stream: u32) {
    let theirs = tshark_follow(file, proto, format, stream);
    let s = stream.to_string();
    let o = pcapx(&[
        "follow", file, "--proto", proto, "--format", format, "--stream", &s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ours = stdout(&o);
    assert!(
        ours == theirs,
        "{file} follow,{proto},{format},{stream}:\n--- tshark\n{theirs}\n--- pcapx\n{ours}"
    );
}

#[test]
fn follow_matches_tshark_on_a_generated_capture() {
    if !common::tool("tshark", "follow_matches_tshark_on_a_generated_capture")
        || !common::python_with(
            &["scapy.all"],
            "follow_matches_tshark_on_a_generated_capture",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("follow.pcap");
    let script = common::root().join("tests/follow_streams.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let f = f.to_str().unwrap();
    for format in ["raw", "ascii", "hex"] {
        for stream in [0, 1, 7] {
            same(f, "tcp", format, stream);
        }
        same(f, "udp", format, 0);
    }
}

#[test]
fn follow_matches_tshark_on_the_corpus() {
    let Some(corpus) = common::corpus("follow_matches_tshark_on_the_corpus") else {
        return;
    };
    if !common::tool("tshark", "follow_matches_tshark_on_the_corpus") {
        return;
    }
    let mut compared = 0;
    for dir in [
        "ethernet-ipv4",
        "ipv6",
        "pcapplusplus/fileformat",
        "zeek/ipv6",
        "vlan",
    ] {
        for file in common::captures(&corpus.join(dir)) {
            let f = file.to_str().unwrap();
            let streams = common::tshark_fields(f, &["tcp.stream"]);
            let Some(last) = streams.lines().filter_map(|l| l.parse::<u32>().ok()).max() else {
                continue;
            };
            for stream in 0..=last.min(1) {
                same(f, "tcp", "raw", stream);
                compared += 1;
            }
            same(f, "tcp", "hex", 0);
        }
    }
    assert!(compared >= 10, "only {compared} streams compared");
}

/// The bytes of each node in tshark's raw follow output (without its
/// "missing" markers, which `--all` files leave out).
fn tshark_nodes(file: &str, proto: &str, stream: u32) -> [Vec<u8>; 2] {
    let text = tshark_follow(file, proto, "raw", stream);
    let mut out = [Vec::new(), Vec::new()];
    for line in text.lines().skip(6) {
        if line.starts_with('=') {
            break;
        }
        let (node, hex) = match line.strip_prefix('\t') {
            Some(h) => (1, h),
            None => (0, line),
        };
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        if bytes.ends_with(b" missing in capture file]\0") {
            continue;
        }
        out[node].extend_from_slice(&bytes);
    }
    out
}

#[test]
fn follow_all_writes_every_direction_in_one_pass() {
    if !common::tool("tshark", "follow_all_writes_every_direction_in_one_pass")
        || !common::python_with(
            &["scapy.all"],
            "follow_all_writes_every_direction_in_one_pass",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("follow.pcap");
    let script = common::root().join("tests/follow_streams.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let f = f.to_str().unwrap();
    let out = dir.path().join("streams");
    let o_dir = out.to_str().unwrap();
    for proto in ["tcp", "udp"] {
        let o = pcapx(&["follow", f, "--all", "-o", o_dir, "--proto", proto]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "tcp-stream-0-node0.bin",
            "tcp-stream-0-node1.bin",
            "tcp-stream-1-node0.bin",
            "tcp-stream-1-node1.bin",
            "udp-stream-0-node0.bin",
            "udp-stream-0-node1.bin",
        ],
        "no temporary left behind"
    );
    for (proto, stream) in [("tcp", 0), ("tcp", 1), ("udp", 0)] {
        let want = tshark_nodes(f, proto, stream);
        for (node, bytes) in want.iter().enumerate() {
            let got =
                std::fs::read(out.join(format!("{proto}-stream-{stream}-node{node}.bin"))).unwrap();
            assert_eq!(&got, bytes, "{proto} stream {stream} node {node}");
        }
    }
    // Usage errors.
    assert_eq!(pcapx(&["follow", f, "--all"]).status.code(), Some(2));
    assert_eq!(pcapx(&["follow", f]).status.code(), Some(2));
}
