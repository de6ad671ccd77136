//! The filter language through the real binary: `--dump` against `tcpdump -d`,
//! `pcapx filter -o` against `tcpdump -r -w` record for record, `--filter` on
//! the reading commands, and error messages with a caret.

mod common;

use std::process::Command;

use common::{fixture, ok, pcapx, stderr};
use pcapx_capture::Capture;

/// (ts, wirelen, data) of every record of a capture.
fn records(path: &std::path::Path) -> Vec<(i64, u32, Vec<u8>)> {
    let mut cap = Capture::open(path).unwrap();
    let mut v = Vec::new();
    cap.for_each(|r| v.push((r.ts_ns, r.wirelen, r.data.to_vec())))
        .unwrap();
    v
}

const EXPRS: &[&str] = &[
    "tcp",
    "udp port 53",
    "tcp and port 443",
    "icmp or arp",
    "host 10.169.226.59 and not port 80",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "vlan and ip",
    "ip6",
    "ip[6:2] & 0x1fff != 0 or ip[6] & 0x20 != 0",
    "greater 100",
    "net 10.0.0.0/8",
    "not ip",
];

#[test]
fn dump_matches_tcpdump() {
    if !common::tool("tcpdump", "dump_matches_tcpdump") {
        return;
    }
    for e in [
        "tcp port 80",
        "host 1.2.3.4",
        "ip6 host ::1",
        "vlan 100 and tcp",
        "udp",
    ] {
        let ours = ok(&["filter", "--dump", e]);
        let theirs = Command::new("tcpdump")
            .args(["-y", "EN10MB", "-d", e])
            .output()
            .unwrap();
        assert_eq!(ours, String::from_utf8_lossy(&theirs.stdout), "{e}");
    }
    let raw = ok(&["filter", "--dump", "--linktype", "RAW", "udp"]);
    assert!(raw.contains("ret"), "{raw}");
    // every libpcap link-type name, as `tcpdump -y NAME -d` where both agree
    for (lt, e) in [
        ("C_HDLC", "ip"),
        ("PPP", "tcp port 80"),
        ("PPP_SERIAL", "ip6"),
        ("FDDI", "ip"),
        ("IEEE802", "arp"),
        ("ARCNET_LINUX", "ip6"),
        ("MTP2", "sio 3"),
        ("BACNET_MS_TP", "len > 100"),
        ("NFLOG", "link[0] = 2"),
        ("DSA_TAG_EDSA", "greater 64"),
        ("pktap", "len >= 10"),
    ] {
        let ours = ok(&["filter", "--dump", "--linktype", lt, e]);
        let theirs = Command::new("tcpdump")
            .args(["-y", lt, "-d", e])
            .output()
            .unwrap();
        assert_eq!(ours, String::from_utf8_lossy(&theirs.stdout), "{lt}: {e}");
    }
}

#[test]
fn filter_output_equals_tcpdump_record_for_record() {
    if !common::tool("tcpdump", "filter_output_equals_tcpdump_record_for_record") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for f in [
        "tutorial.pcap",
        "vlan.pcap",
        "fragments.pcap",
        "icmp-errors.pcap",
        "dns.pcap",
        "big-endian.pcap",
        "nanosecond.pcap",
        "sll.pcap",
    ] {
        for e in EXPRS {
            let ours = dir.path().join("ours.pcap");
            let theirs = dir.path().join("theirs.pcap");
            let input = fixture(f);
            let o = pcapx(&[
                "filter",
                input.to_str().unwrap(),
                e,
                "-o",
                ours.to_str().unwrap(),
            ]);
            let t = Command::new("tcpdump")
                .arg("--time-stamp-precision=nano")
                .arg("-r")
                .arg(&input)
                .arg("-w")
                .arg(&theirs)
                .arg(e)
                .output()
                .unwrap();
            if !t.status.success() {
                // libpcap refuses the expression for this link type: so must we.
                assert_eq!(
                    o.status.code(),
                    Some(2),
                    "{f} {e}: tcpdump refused, pcapx accepted"
                );
                continue;
            }
            assert!(o.status.success(), "{f} {e}: {}", stderr(&o));
            assert_eq!(records(&ours), records(&theirs), "{f} {e}");
            // Same file header, byte for byte (pcap: the first 24 bytes).
            let (a, b) = (
                std::fs::read(&ours).unwrap(),
                std::fs::read(&input).unwrap(),
            );
            assert_eq!(a[..24], b[..24], "{f}: header not kept");
            compared += 1;
        }
    }
    println!("compared {compared} filtered files with tcpdump");
    assert!(compared > 50);
}

#[test]
fn no_match_is_still_a_valid_capture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.pcapng");
    ok(&[
        "filter",
        "fixtures/multi-interface-le.pcapng",
        "udp port 7777",
        "-o",
        out.to_str().unwrap(),
    ]);
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["info", "--json", out.to_str().unwrap()])).unwrap();
    assert_eq!(j["packets"], 0);
    assert_eq!(j["format"], "pcapng");
}

#[test]
fn filter_applies_to_every_reading_command() {
    let f = "fixtures/tutorial.pcap";
    let e = "tcp port 443";
    let n = ok(&["summary", f, "--filter", e]).lines().count();
    assert!(n > 0);
    let info: serde_json::Value =
        serde_json::from_str(&ok(&["info", "--json", f, "--filter", e])).unwrap();
    assert_eq!(info["packets"].as_u64(), Some(n as u64));
    assert_eq!(ok(&["convert", f, "--filter", e]).lines().count() - 1, n);
    assert_eq!(
        ok(&["show", f, "--filter", e])
            .matches("###[ Frame ]###")
            .count(),
        n
    );
    assert!(ok(&["count", f, "--filter", e]).contains(&format!("TCP:{n} UDP:0 ICMP:0 Other:0")));
    let stats = ok(&[
        "stats",
        f,
        "--filter",
        e,
        "--group-by",
        "src",
        "--count",
        "--format",
        "csv",
    ]);
    let total: usize = stats
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, n);
}

#[test]
fn multi_link_type_pcapng_gets_one_program_per_link_type() {
    // Ethernet, raw IPv4 and Linux SLL interfaces in one file.
    let all = ok(&["summary", "fixtures/multi-interface-le.pcapng"])
        .lines()
        .count();
    let ip = ok(&[
        "summary",
        "fixtures/multi-interface-le.pcapng",
        "--filter",
        "ip",
    ])
    .lines()
    .count();
    let not_ip = ok(&[
        "summary",
        "fixtures/multi-interface-le.pcapng",
        "--filter",
        "not ip",
    ])
    .lines()
    .count();
    assert_eq!(ip + not_ip, all);
    assert!(ip > 3, "IPv4 on several link types: {ip}");
}

#[test]
fn errors_have_a_caret_and_exit_2() {
    let o = pcapx(&[
        "summary",
        "fixtures/tutorial.pcap",
        "--filter",
        "tcp port and",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.starts_with("pcapx: filter: expected a port number after 'port'"),
        "{err}"
    );
    assert!(
        err.contains("at column 10") && err.contains("             ^"),
        "{err}"
    );
    let o = pcapx(&[
        "filter",
        "--dump",
        "--linktype",
        "RAW",
        "ether host 1:2:3:4:5:6",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // libpcap's refusals, with its wording
    let o = pcapx(&["filter", "--dump", "--linktype", "NFLOG", "ip"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("NFLOG link-layer type filtering not implemented"),
        "{}",
        stderr(&o)
    );
    let o = pcapx(&["filter", "--dump", "port 70000"]);
    assert_eq!(o.status.code(), Some(2));
    let o = pcapx(&["filter", "fixtures/tutorial.pcap", "tcp"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("-o OUT"));
}
