//! Application layers (TLS, HTTP/1.x, QUIC) against tshark, field by field,
//! on every packet of the real captures in `fixtures/app/` and the corpus's
//! TLS/HTTP/QUIC captures; JA4 against FoxIO's published values.
//!
//! QUIC with connection state, as tshark: the server's Initials and the
//! client's Initials to a new DCID decrypted with the keys of the first
//! DCID, a ClientHello whose CRYPTO frames span datagrams decoded at the
//! datagram that completes it, short headers' DCIDs.
//!
//! TCP: pcapx desegments TLS records and HTTP messages and shows them at
//! the segment that completes them, as tshark does. tshark runs with
//! `tcp.reassemble_out_of_order:TRUE`: pcapx's reassembly places
//! out-of-order segments and the new bytes of a partly retransmitted one in
//! the stream (tshark's default drops them), the one deliberate difference.
//!
//! Certificates: the X.509 fields tshark shows for TLS 1.2 Certificate
//! messages and stapled OCSP responses, and (second test) the subject and
//! issuer names against tshark's labels.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::ok;

/// Fields compared, every occurrence, in order.
const FIELDS: &[&str] = &[
    "tls.record.content_type",
    "tls.record.version",
    "tls.record.length",
    "tls.handshake.type",
    "tls.handshake.length",
    "tls.handshake.version",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.extension.len",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.extensions_supported_group",
    "tls.handshake.sig_hash_alg",
    "tls.handshake.extensions_ec_point_format",
    "tls.handshake.certificate_length",
    "tls.handshake.ja3_full",
    "tls.handshake.ja3",
    "tls.handshake.ja3s_full",
    "tls.handshake.ja3s",
    "x509af.version",
    "x509af.serialNumber",
    "x509af.algorithm.id",
    "x509af.rdnSequence",
    "x509af.notBefore",
    "x509af.notAfter",
    "x509af.utcTime",
    "x509af.generalizedTime",
    "x509af.extension.id",
    "x509if.rdnSequence",
    "x509if.RDNSequence_item",
    "x509if.oid",
    "x509sat.CountryName",
    "x509sat.PrintableString",
    "x509sat.IA5String",
    "x509sat.DirectoryString",
    "x509sat.teletexString",
    "x509sat.printableString",
    "x509sat.universalString",
    "x509sat.bmpString",
    "x509sat.uTF8String",
    "x509ce.dNSName",
    "x509ce.uniformResourceIdentifier",
    "x509ce.rfc822Name",
    "http.request.method",
    "http.request.uri",
    "http.request.version",
    "http.request.full_uri",
    "http.response.version",
    "http.response.code",
    "http.response.phrase",
    "http.host",
    "http.user_agent",
    "http.referer",
    "http.cookie",
    "http.authorization",
    "http.server",
    "http.content_type",
    "http.content_length",
    "http.location",
    "http.transfer_encoding",
    "quic.header_form",
    "quic.version",
    "quic.long.packet_type",
    "quic.long.packet_type_v2",
    "quic.dcid",
    "quic.scid",
    "quic.token_length",
    "quic.length",
    "quic.packet_number",
    "quic.packet_length",
];

/// Corpus captures compared besides `fixtures/app/`. (Not
/// `zeek/fileformat/get-to-ssh-server.pcap`: an HTTP GET to port 22, which
/// tshark gives to its SSH dissector by port before any heuristic runs.)
const CORPUS: &[&str] = &[
    "linktypes/quic_handshake.pcap",
    "zeek/linktypes/openjdk-25.0.2-zeek.org.pcap",
    "zeek/vlan/http-vlan-0.pcap",
    "zeek/vlan/http-qinq-0.pcap",
    "zeek/fragments/ipv6-http-atomic-frag.pcap",
    "ethernet-ipv4/print-flags.pcap",
    "pcapplusplus/fileformat/pcapng-example.pcapng",
];

fn app_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::fixture("app"))
        .expect("fixtures/app")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// tshark's value list: `0x…` numbers as decimal.
fn norm(v: &str) -> Vec<String> {
    if v.is_empty() {
        return Vec::new();
    }
    v.split('\u{1}')
        .map(|s| match s.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).map_or_else(|_| s.to_owned(), |n| n.to_string()),
            None => s.to_owned(),
        })
        .collect()
}

/// tshark's absolute time (`Sep  1, 2015 13:33:37.000000000 UTC`, with
/// `TZ=UTC`) as pcapx writes times: seconds since the epoch, nanoseconds.
fn abs_time(t: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let w: Vec<&str> = t.split_whitespace().collect();
    let (Some(mon), Some(day), Some(year), Some(time), Some(&"UTC")) =
        (w.first(), w.get(1), w.get(2), w.get(3), w.get(4))
    else {
        panic!("tshark time {t:?}");
    };
    let m = i64::try_from(MONTHS.iter().position(|x| x == mon).expect("month")).unwrap() + 1;
    let d: i64 = day.trim_end_matches(',').parse().expect("day");
    let y: i64 = year.parse().expect("year");
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let p: Vec<i64> = hms.split(':').map(|x| x.parse().expect("time")).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + p[0] * 3600 + p[1] * 60 + p[2];
    format!("{secs}.{frac:0<9}")
}

fn json_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

/// Compare one capture; returns its packet count and appends differences
/// to `report`.
fn compare(
    path: &Path,
    stats: &mut BTreeMap<&'static str, (usize, usize)>,
    report: &mut String,
    quic_reassembled: &mut usize,
    tls_reassembled: &mut usize,
) -> usize {
    let mut cmd = Command::new("tshark");
    // Absolute times (`x509af.generalizedTime`) in UTC.
    cmd.env("TZ", "UTC");
    // pcapx's TCP reassembly places out-of-order segments (and the new
    // bytes of a partly retransmitted one) in the stream, as tshark does
    // with this preference; by default tshark drops those bytes.
    cmd.args(["-o", "tcp.reassemble_out_of_order:TRUE"]);
    cmd.arg("-n").arg("-r").arg(path);
    cmd.args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=\u{1}",
        "-E",
        "separator=/t",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    cmd.args([
        "-e",
        "tcp.reassembled_in",
        "-e",
        "tcp.reassembled.length",
        "-e",
        "tcp.analysis.retransmission",
        "-e",
        "tls.record.opaque_type",
        "-e",
        "tcp.analysis.out_of_order",
        "-e",
        "quic.crypto.fragment.count",
        "-e",
        "udp.srcport",
        "-e",
        "tls.handshake.fragment.count",
    ]);
    let o = cmd.output().expect("run tshark");
    assert!(
        o.status.success(),
        "tshark on {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let theirs = String::from_utf8_lossy(&o.stdout).into_owned();
    let list = FIELDS.join(",");
    let ours = ok(&[
        "convert",
        path.to_str().expect("utf-8 path"),
        "--all",
        "--occurrence",
        "all",
        "--to",
        "jsonl",
        "--fields",
        &list,
    ]);
    let ours: Vec<serde_json::Value> = ours
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let rows: Vec<&str> = theirs.lines().collect();
    assert_eq!(rows.len(), ours.len(), "{}: packet count", path.display());
    let mut opaque = 0;
    for (i, (row, mine)) in rows.iter().zip(&ours).enumerate() {
        let cols: Vec<&str> = row.split('\t').collect();
        let extra = |k: usize| cols.get(FIELDS.len() + k).copied().unwrap_or("");
        if !extra(5).is_empty() {
            *quic_reassembled += 1;
        }
        if !extra(7).is_empty() && extra(6).is_empty() {
            *tls_reassembled += 1;
        }
        for (k, name) in FIELDS.iter().enumerate() {
            let mut want = norm(cols.get(k).copied().unwrap_or(""));
            if *name == "x509af.generalizedTime" {
                want = want.iter().map(|t| abs_time(t)).collect();
            }
            if *name == "tls.record.content_type" && !extra(3).is_empty() {
                // tshark names a TLS 1.3 session's encrypted records'
                // type `opaque_type` (it knows the session's version); pcapx
                // decodes each packet alone and calls every record's type
                // `content_type`. Counted, compared as one list.
                opaque += 1;
                let mut all = want;
                all.extend(norm(extra(3)));
                all.sort();
                let mut got = json_list(&mine[*name]);
                got.sort();
                want = all;
                if want == got {
                    let e = stats.entry(name).or_default();
                    e.0 += 1;
                    continue;
                }
            }
            let got = json_list(&mine[*name]);
            if want.is_empty() && got.is_empty() {
                continue;
            }
            let e = stats.entry(name).or_default();
            e.0 += 1;
            if want != got {
                e.1 += 1;
                let _ = writeln!(
                    report,
                    "{} #{}: {name}: pcapx {got:?} tshark {want:?}",
                    path.display(),
                    i + 1
                );
            }
        }
    }
    if opaque > 0 {
        println!(
            "{}: {opaque} packets with TLS 1.3 opaque_type records",
            path.display()
        );
    }
    rows.len()
}

#[test]
fn app_fields_match_tshark() {
    if !common::tool("tshark", "app_fields_match_tshark") {
        return;
    }
    let mut files = app_files();
    if let Some(c) = common::corpus("app_fields_match_tshark (corpus part)") {
        files.extend(CORPUS.iter().map(|f| c.join(f)));
    }
    let mut stats = BTreeMap::new();
    let mut report = String::new();
    let mut packets = 0;
    let mut quic_reassembled = 0;
    let mut tls_reassembled = 0;
    for f in &files {
        packets += compare(
            f,
            &mut stats,
            &mut report,
            &mut quic_reassembled,
            &mut tls_reassembled,
        );
    }
    println!("{tls_reassembled} TCP packets complete a TLS handshake message split across records");
    println!(
        "{quic_reassembled} QUIC packets complete a handshake message from several CRYPTO fragments"
    );
    println!(
        "{} files, {packets} packets, every one compared",
        files.len()
    );
    for (name, (n, bad)) in &stats {
        println!("{name}: {n} packets with values, {bad} differ");
    }
    print!("{report}");
    assert!(report.is_empty(), "values differ from tshark (see above)");
    assert!(
        quic_reassembled >= 2,
        "no reassembled CRYPTO stream compared"
    );
    for must in [
        "quic.dcid",
        "quic.packet_number",
        "tls.handshake.ja3",
        "tls.handshake.ja3s",
        "tls.handshake.extensions_server_name",
        "x509af.generalizedTime",
        "x509af.notBefore",
        "http.host",
        "http.response.code",
    ] {
        assert!(
            stats.get(must).is_some_and(|s| s.0 > 0),
            "no {must} compared"
        );
    }
}

/// JA4 of the ClientHellos in FoxIO's own test captures equals the value
/// FoxIO's reference implementation publishes for them
/// (`python/test/testdata/*.json` in FoxIO-LLC/ja4). For the non-ASCII ALPN
/// capture the published value (`…99…`) predates the specification's rule
/// (JA4.md, "ALPN Extension Value": the first and last characters of the
/// value's hex form when its first or last byte is not ASCII alphanumeric);
/// pcapx follows the specification there, and the two hashes still match.
#[test]
fn ja4_matches_foxio_published_values() {
    let cases = [
        ("foxio-tls12.pcap", "t13d1715h2_5b57614c22b0_3d5424432f57"),
        (
            "foxio-tls-alpn-h2.pcap",
            "t12d4605h2_85626a9a5f7f_aaf95bb78ec9",
        ),
        // QUIC: FoxIO's Rust snapshot (rust/ja4/src/snapshots/
        // ja4__insta@quic-with-several-tls-frames.pcapng.snap).
        (
            "foxio-quic-with-several-tls-frames.pcapng",
            "q13d0310h3_55b375c5d22e_cd85d2d88918",
        ),
        // Published: t13d151699_8daaf6152771_e5627efa2ab1 (ALPN 0xba 0xad).
        (
            "foxio-tls-non-ascii-alpn.pcapng",
            "t13d1516bd_8daaf6152771_e5627efa2ab1",
        ),
    ];
    for (file, want) in cases {
        let path = common::fixture("app").join(file);
        let out = ok(&[
            "convert",
            path.to_str().expect("utf-8"),
            "--all",
            "--fields",
            "tls.handshake.ja4",
        ]);
        let got: Vec<&str> = out.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert_eq!(got, [want], "{file}");
    }
}

/// `&amp;`-style entities of PDML attribute values.
fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// The `showname` attribute of a PDML line.
fn showname(line: &str) -> Option<String> {
    let i = line.find("showname=\"")? + "showname=\"".len();
    let j = line[i..].find('"')?;
    Some(xml_unescape(&line[i..i + j]))
}

/// Per frame, the subject and issuer names of its certificates as tshark
/// labels them: each RDN's label (`RDNSequence item: 1 item (TEXT)`) under
/// a certificate's `issuer`/`subject`, last RDN first, joined by `,` — the
/// text tshark puts on the whole sequence, which it cuts at 240 characters.
fn tshark_cert_names(path: &Path) -> BTreeMap<u64, (Vec<String>, Vec<String>)> {
    let o = Command::new("tshark")
        .args(["-o", "tcp.reassemble_out_of_order:TRUE", "-n", "-r"])
        .arg(path)
        .args(["-Y", "x509af.subject", "-T", "pdml"])
        .output()
        .expect("run tshark");
    assert!(o.status.success(), "tshark on {}", path.display());
    let pdml = String::from_utf8_lossy(&o.stdout);
    let mut out: BTreeMap<u64, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut frame = 0u64;
    // 1: issuer, 2: subject.
    let mut mode = 0;
    let mut rdns: Vec<String> = Vec::new();
    let mut flush = |frame: u64, mode: i32, rdns: &mut Vec<String>| {
        if mode == 0 {
            return;
        }
        let text = rdns.iter().rev().cloned().collect::<Vec<_>>().join(",");
        rdns.clear();
        let e = out.entry(frame).or_default();
        if mode == 1 { &mut e.1 } else { &mut e.0 }.push(text);
    };
    for line in pdml.lines() {
        if line.contains("name=\"frame.number\"") {
            let i = line.find("show=\"").expect("show") + 6;
            frame = line[i..i + line[i..].find('"').expect("quote")]
                .parse()
                .expect("frame number");
        } else if line.contains("<field name=\"x509af.issuer\"") {
            flush(frame, mode, &mut rdns);
            mode = 1;
        } else if line.contains("<field name=\"x509af.subject\"") {
            flush(frame, mode, &mut rdns);
            mode = 2;
        } else if line.contains("<field name=\"x509af.validity")
            || line.contains("<field name=\"x509af.subjectPublicKeyInfo")
        {
            flush(frame, mode, &mut rdns);
            mode = 0;
        } else if mode != 0 && line.contains("<field name=\"x509if.RDNSequence_item\"") {
            let label = showname(line).expect("showname");
            let i = label.find(" (").expect("RDN text") + 2;
            rdns.push(label[i..label.len() - 1].to_owned());
        }
    }
    out
}

/// The certificates' subject and issuer (`tls.handshake.certificate.subject`
/// / `.issuer`, pcapx's one-line names) equal the names tshark labels each
/// certificate's issuer and subject with, on every certificate of every
/// capture that has one (TLS 1.2 Certificate messages and the OCSP
/// responses of CertificateStatus messages, including certificates that
/// span segments).
#[test]
fn certificate_names_match_tshark_labels() {
    if !common::tool("tshark", "certificate_names_match_tshark_labels") {
        return;
    }
    let mut files = app_files();
    if let Some(c) = common::corpus("certificate_names_match_tshark_labels (corpus part)") {
        files.extend(CORPUS.iter().map(|f| c.join(f)));
    }
    let mut compared = 0;
    for path in &files {
        let want = tshark_cert_names(path);
        let ours = ok(&[
            "convert",
            path.to_str().expect("utf-8 path"),
            "--occurrence",
            "all",
            "--to",
            "jsonl",
            "--fields",
            "frame.number,tls.handshake.certificate.subject,tls.handshake.certificate.issuer",
        ]);
        let mut got: BTreeMap<u64, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for l in ours.lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            let subject = json_list(&v["tls.handshake.certificate.subject"]);
            if subject.is_empty() {
                continue;
            }
            let frame = json_list(&v["frame.number"])[0].parse().expect("frame");
            got.insert(
                frame,
                (subject, json_list(&v["tls.handshake.certificate.issuer"])),
            );
        }
        assert_eq!(got, want, "{}", path.display());
        compared += want.values().map(|(s, _)| s.len()).sum::<usize>();
    }
    println!("{compared} certificates: subject and issuer equal tshark's labels");
    assert!(compared >= 30, "only {compared} certificates compared");
}
