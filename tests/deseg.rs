//! TCP desegmentation through the binary: DNS over TCP (the built-in DNS
//! dissector frames messages by their 2-byte length) on a conversation whose
//! messages span segments, checked frame by frame against tshark — the DNS
//! layer appears at the segment that completes each message, a segment in
//! the middle of one (or a retransmission) shows TCP only.

mod common;

use std::process::Command;

use common::{ok, stderr};

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.protocols",
    "tcp.len",
    "dns.id",
    "dns.count.answers",
    "dns.qry.name",
];

fn make_capture(dir: &std::path::Path) -> Option<String> {
    if !common::python_with(&["scapy.all"], "deseg") {
        return None;
    }
    let out = dir.join("dns-tcp.pcap");
    let script = common::root().join("tests/deseg_dns_tcp.py");
    let o = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .output()
        .expect("run python3");
    assert!(o.status.success(), "{}: {}", script.display(), stderr(&o));
    Some(out.to_str().unwrap().to_owned())
}

fn tshark(file: &str) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", file, "-T", "fields", "-E", "separator=\t"]);
    cmd.args(["-E", "occurrence=f"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("run tshark");
    assert!(o.status.success(), "tshark on {file}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            l.split('\t')
                .map(|v| match v.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16).map_or(v.to_owned(), |n| n.to_string()),
                    None => v.replace("eth:ethertype:", "eth:"),
                })
                .collect()
        })
        .collect()
}

fn ours(file: &str, extra: &[&str]) -> Vec<Vec<String>> {
    common::pcapx_rows(file, FIELDS, extra)
}

#[test]
fn dns_over_tcp_messages_decode_where_tshark_shows_them() {
    if !common::tool(
        "tshark",
        "dns_over_tcp_messages_decode_where_tshark_shows_them",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(f) = make_capture(dir.path()) else {
        return;
    };
    let (o, t) = (ours(&f, &[]), tshark(&f));
    assert_eq!(o.len(), t.len());
    let mut dns_frames = 0;
    for (o, t) in o.iter().zip(&t) {
        for (i, name) in FIELDS.iter().enumerate() {
            let theirs = t.get(i).map_or("", String::as_str);
            assert_eq!(o[i], theirs, "frame {}: {name}", o[0]);
        }
        dns_frames += usize::from(o[1].ends_with(":dns"));
    }
    assert_eq!(dns_frames, 4, "{o:?}");
    // The same for any thread count, and through summary.
    let fields = FIELDS.join(",");
    let one = ok(&["convert", &f, "--fields", &fields, "--threads", "1"]);
    let three = ok(&["convert", &f, "--fields", &fields, "--threads", "3"]);
    assert_eq!(one, three);
    let summary = ok(&["summary", &f]);
    assert_eq!(
        summary.lines().filter(|l| l.contains("/ DNS ")).count(),
        4,
        "{summary}"
    );
    // Without desegmentation each segment is dissected alone: the length
    // prefix alone is a (short) DNS layer.
    let off = ours(&f, &["--no-desegment"]);
    assert!(off[3][1].ends_with(":dns"), "{:?}", off[3]);
}
