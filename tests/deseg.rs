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

/// A table of header fields skips desegmentation and the datagram states
/// (and, for packets that are surely no fragment, the whole stateful pass):
/// over every corpus capture and fixture, its rows equal those of the same
/// table with `frame.protocols` added — a field that makes the pass run,
/// because desegmentation changes the layers it lists — with that column
/// dropped. The same holds with `--occurrence all`.
#[test]
fn header_tables_do_not_depend_on_skipping_the_stateful_pass() {
    let Some(corpus) = common::corpus("header_tables_do_not_depend_on_skipping_the_stateful_pass")
    else {
        return;
    };
    const HEADERS: &[&str] = &[
        "frame.number",
        "frame.time_epoch",
        "frame.len",
        "eth.src",
        "ip.src",
        "ip.dst",
        "ip.flags.mf",
        "ip.frag_offset",
        "ipv6.src",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.len",
        "tcp.seq",
        "tcp.flags",
        "udp.dstport",
        "udp.length",
        "icmp.type",
    ];
    let mut with_pass: Vec<&str> = HEADERS.to_vec();
    with_pass.push("frame.protocols");
    let mut files = common::captures(&corpus);
    files.extend(common::captures(&common::root().join("fixtures")));
    let (mut rows, mut compared) = (0, 0);
    for f in &files {
        let file = f.to_str().unwrap();
        for extra in [&["--all"][..], &["--all", "--occurrence", "all"][..]] {
            // Unreadable or damaged files fail the same way both times; the
            // readable ones must agree row by row.
            let a = common::pcapx(
                &[
                    &[
                        "convert",
                        file,
                        "--to",
                        "jsonl",
                        "--fields",
                        &HEADERS.join(","),
                    ][..],
                    extra,
                ]
                .concat(),
            );
            if !a.status.success() {
                continue;
            }
            let skipped = common::pcapx_rows(file, HEADERS, extra);
            let full = common::pcapx_rows(file, &with_pass, extra);
            assert_eq!(skipped.len(), full.len(), "{file} {extra:?}: row counts");
            for (i, (s, w)) in skipped.iter().zip(&full).enumerate() {
                assert_eq!(s[..], w[..HEADERS.len()], "{file} {extra:?}: row {}", i + 1);
            }
            rows += skipped.len();
            compared += 1;
        }
    }
    println!(
        "{compared} tables of {} captures, {rows} rows compared",
        files.len()
    );
    // The skip is real: on a capture whose desegmentation gives up PDUs at
    // a gap, only the table that needs it says so.
    let cut = common::fixture("snaplen-truncated.pcap");
    let cut = cut.to_str().unwrap();
    let warns = |fields: &[&str]| {
        let o = common::pcapx(&["convert", cut, "--all", "--fields", &fields.join(",")]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        common::stderr(&o).contains("TCP desegmentation")
    };
    assert!(warns(&with_pass), "the pass ran for frame.protocols");
    assert!(!warns(HEADERS), "no desegmentation for a header table");
    assert!(
        compared > 200 && rows > 5_000,
        "only {compared} tables, {rows} rows compared"
    );
}
