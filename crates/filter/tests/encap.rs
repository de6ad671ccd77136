//! `vxlan` and `geneve` on the corpus's tunnel captures, with expectations
//! written down by hand from what the packets contain (`tshark -T fields -e
//! vxlan.vni -e vxlan.flags -e ip.src -e tcp.srcport -e tcp.dstport -e tcp.flags
//! -e eth.src -e http.request.method`). tcpdump 4.99 / libpcap 1.10 has no
//! `vxlan`, so these are the oracle for it (`geneve` is also checked against
//! tcpdump in `conformance.rs`).
//!
//! * `zeek/tunnels/vxlan-encapsulated-http.pcap`: 12 records, IPv4/UDP to 4789,
//!   VXLAN flags 0x08 (I), VNI 1, inner Ethernet 48:f1:7f:a3:b6:ff (client
//!   172.16.11.201 to server 54.86.237.188, records 1 3 4 7 9 10 12, port
//!   40354 -> 80) or 74:ac:b9:3f:d2:7d (replies, records 2 5 6 8 11, 80 ->
//!   40354); SYN in 1,
//!   SYN-ACK in 2, the `GET` in 4; outer Ethernet source 12:42:cd:c5:e8:22.
//! * `tunnels/gso-ipv4-vxlan-ipv4.pcap`: 1 record, VNI 5001, inner TCP
//!   37099 -> 41547.
//! * `tunnels/nsh-over-vxlan-gpe.pcap`: 1 record, VXLAN-GPE on UDP port 4790
//!   (not VXLAN).
//! * `zeek/tunnels/geneve-many-options.pcap`: 10 records, Geneve VNI 0x0c012e
//!   (786734) with options, protocol 0x6558, inner TCP port 80; SYN in 1 and 2.

use std::path::PathBuf;

use pcapx_capture::Capture;
use pcapx_filter::{DEFAULT_SNAPLEN, compile};

const VXLAN_HTTP: &str = "zeek/tunnels/vxlan-encapsulated-http.pcap";
const VXLAN_GSO: &str = "tunnels/gso-ipv4-vxlan-ipv4.pcap";
const VXLAN_GPE: &str = "tunnels/nsh-over-vxlan-gpe.pcap";
const GENEVE: &str = "zeek/tunnels/geneve-many-options.pcap";

const CLIENT: &[u64] = &[1, 3, 4, 7, 9, 10, 12];
const ALL_12: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const ALL_10: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/// (file, expression, matching record numbers)
const EXPECTATIONS: &[(&str, &str, &[u64])] = &[
    (VXLAN_HTTP, "vxlan", ALL_12),
    (VXLAN_HTTP, "vxlan 1", ALL_12),
    (VXLAN_HTTP, "vxlan 123", &[]),
    (VXLAN_HTTP, "vxlan and tcp port 80", ALL_12),
    (VXLAN_HTTP, "vxlan and tcp dst port 80", CLIENT),
    (VXLAN_HTTP, "vxlan and tcp src port 80", &[2, 5, 6, 8, 11]),
    (VXLAN_HTTP, "vxlan and udp", &[]),
    (VXLAN_HTTP, "vxlan and ip6", &[]),
    (VXLAN_HTTP, "vxlan and host 172.16.11.201", ALL_12),
    (VXLAN_HTTP, "vxlan and src host 172.16.11.201", CLIENT),
    (VXLAN_HTTP, "vxlan and dst host 54.86.237.188", CLIENT),
    (VXLAN_HTTP, "vxlan and host 10.1.200.131", &[]),
    (VXLAN_HTTP, "vxlan and ether src 48:f1:7f:a3:b6:ff", CLIENT),
    (VXLAN_HTTP, "vxlan and ether src 12:42:cd:c5:e8:22", &[]),
    (VXLAN_HTTP, "vxlan and ether proto 0x0800", ALL_12),
    (
        VXLAN_HTTP,
        "vxlan and tcp[tcpflags] & tcp-syn != 0",
        &[1, 2],
    ),
    (
        VXLAN_HTTP,
        "vxlan and tcp[tcpflags] & tcp-fin != 0",
        &[10, 11],
    ),
    (
        VXLAN_HTTP,
        "vxlan and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
        &[4],
    ),
    (VXLAN_HTTP, "vxlan and ip[2:2] > 1000", &[8]),
    (VXLAN_HTTP, "not vxlan", &[]),
    (VXLAN_HTTP, "udp port 4789 and not vxlan 1", &[]),
    (VXLAN_HTTP, "vxlan and vxlan", &[]),
    (VXLAN_HTTP, "geneve", &[]),
    (VXLAN_GSO, "vxlan", &[1]),
    (VXLAN_GSO, "vxlan 5001", &[1]),
    (VXLAN_GSO, "vxlan 5000", &[]),
    (VXLAN_GSO, "vxlan and tcp port 80", &[]),
    (VXLAN_GSO, "vxlan and tcp dst port 41547", &[1]),
    (VXLAN_GSO, "vxlan 5001 and tcp src port 37099", &[1]),
    (VXLAN_GPE, "vxlan", &[]),
    (VXLAN_GPE, "udp port 4790", &[1]),
    (GENEVE, "vxlan", &[]),
    (GENEVE, "geneve", ALL_10),
    (GENEVE, "geneve 786734 and tcp port 80", ALL_10),
    (GENEVE, "geneve 786735", &[]),
    (GENEVE, "geneve and tcp[tcpflags] & tcp-syn != 0", &[1, 2]),
    (GENEVE, "geneve and udp", &[]),
];

#[test]
fn tunnel_filters_match_packet_contents() {
    let Some(corpus) = std::env::var_os("PCAPX_CORPUS") else {
        println!("skipped: PCAPX_CORPUS not set");
        return;
    };
    let corpus = PathBuf::from(corpus);
    assert!(
        corpus.is_dir(),
        "PCAPX_CORPUS={} is not a directory",
        corpus.display()
    );
    let mut failures = Vec::new();
    for (file, expr, want) in EXPECTATIONS {
        let prog = compile(expr, 1, DEFAULT_SNAPLEN)
            .unwrap_or_else(|e| panic!("'{expr}' does not compile: {e}"));
        let path = corpus.join(file);
        let mut cap =
            Capture::open(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        let mut got = Vec::new();
        cap.for_each(|rec| {
            assert_eq!(rec.linktype, 1, "{file} is not Ethernet");
            if prog.matches(rec.data, rec.wirelen) {
                got.push(rec.number);
            }
        })
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if got != *want {
            failures.push(format!("{file}: '{expr}': got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vni_range_and_variable_offset_errors() {
    let err = |e: &str| compile(e, 1, DEFAULT_SNAPLEN).unwrap_err().to_string();
    assert!(err("vxlan 16777216").contains("VXLAN VNI 16777216 greater than maximum 16777215"));
    assert!(err("geneve 16777216").contains("Geneve VNI 16777216 greater than maximum 16777215"));
    assert!(err("vxlan and protochain 6").contains("variable length headers"));
    // Nested tunnels need three scratch registers each.
    assert!(compile("vxlan and geneve and vxlan and geneve", 1, 0).is_ok());
    assert!(err("vxlan and vxlan and vxlan and vxlan and vxlan").contains("too many registers"));
    // After pppoes the link layer is PPP: no Ethernet addresses (libpcap too).
    assert!(err("pppoes and ether host 1:2:3:4:5:6").contains("ethernet addresses"));
}
