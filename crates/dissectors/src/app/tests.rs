//! Unit and property tests of the application layers: hand-built records
//! and messages, every truncation, random bytes.

use proptest::prelude::*;

use crate::testutil::{anomalies, check_ip, ipv4, run, run_cut};

/// A TCP segment 40000 → `dport` carrying `payload`, in IPv4.
fn tcp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0x9c, 0x40];
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4(6, &t)
}

fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn with_len16(data: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    v.extend_from_slice(data);
    v
}

/// A ClientHello with GREASE values, SNI example.com, ALPN h2 + http/1.1,
/// supported versions, groups, point formats and signature algorithms.
fn client_hello_body() -> Vec<u8> {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&[0x11; 32]);
    b.push(0); // session id
    b.extend_from_slice(&with_len16(&[0x0a, 0x0a, 0x13, 0x01, 0xc0, 0x2f]));
    b.extend_from_slice(&[1, 0]); // compression: null
    let mut exts = Vec::new();
    exts.extend(ext(0x1a1a, &[]));
    let mut sni = vec![0];
    sni.extend_from_slice(&with_len16(b"example.com"));
    exts.extend(ext(0, &with_len16(&sni)));
    exts.extend(ext(16, &with_len16(b"\x02h2\x08http/1.1")));
    exts.extend(ext(43, &[4, 0x2a, 0x2a, 0x03, 0x04]));
    exts.extend(ext(10, &with_len16(&[0x0a, 0x0a, 0x00, 0x1d, 0x00, 0x17])));
    exts.extend(ext(11, &[1, 0]));
    exts.extend(ext(13, &with_len16(&[0x04, 0x03, 0x08, 0x04])));
    b.extend_from_slice(&with_len16(&exts));
    b
}

fn record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 1];
    r.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let n = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut h = vec![ty, n[1], n[2], n[3]];
    h.extend_from_slice(body);
    h
}

#[test]
fn client_hello_fields_and_fingerprints() {
    let rec = record(22, &handshake(1, &client_hello_body()));
    let pkt = tcp(443, &rec);
    let ja3 = "771,4865-49199,0-16-43-10-11-13,29-23,0";
    check_ip(
        &pkt,
        &[
            ("tls.record.content_type", "22"),
            ("tls.record.version", "769"),
            ("tls.handshake.type", "1"),
            ("tls.handshake.version", "771"),
            ("tls.handshake.ciphersuite", "2570,4865,49199"),
            ("tls.handshake.extension.type", "6682,0,16,43,10,11,13"),
            ("tls.handshake.extensions_server_name", "example.com"),
            ("tls.handshake.extensions_alpn_str", "h2,http/1.1"),
            ("tls.handshake.extensions.supported_version", "10794,772"),
            ("tls.handshake.extensions_supported_group", "2570,29,23"),
            ("tls.handshake.sig_hash_alg", "1027,2052"),
            ("tls.handshake.ja3_full", ja3),
        ],
    );
    let (eng, f) = run(&pkt);
    assert!(f.anomalies().is_empty(), "{:?}", anomalies(&f));
    // MD5 of the JA3 string, computed independently.
    let md5 = crate::testutil::render(&f, "tls.handshake.ja3");
    let want: String = md5::Md5::digest_str(ja3)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(md5, want);
    // JA4: TCP, TLS 1.3, SNI, 2 ciphers, 6 extensions, ALPN h2; hashes of
    // the sorted lists (as the spec's worked example builds them).
    let ja4 = crate::testutil::render(&f, "tls.handshake.ja4");
    let b = sha12("1301,c02f");
    let c = sha12("000a,000b,000d,002b_0403,0804");
    assert_eq!(ja4, format!("t13d0206h2_{b}_{c}"));
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / TCP / TLS ClientHello SNI=example.com"
    );
}

trait DigestStr {
    fn digest_str(s: &str) -> Vec<u8>;
}
impl DigestStr for md5::Md5 {
    fn digest_str(s: &str) -> Vec<u8> {
        use md5::Digest as _;
        md5::Md5::digest(s.as_bytes()).to_vec()
    }
}

fn sha12(s: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(s.as_bytes());
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[test]
fn server_hello_and_ja3s_any_port() {
    let mut b = vec![0x03, 0x03];
    b.extend_from_slice(&[0x22; 32]);
    b.push(0);
    b.extend_from_slice(&[0x13, 0x01, 0]);
    let mut exts = ext(43, &[0x03, 0x04]);
    exts.extend(ext(51, &[0, 0x1d, 0, 1, 9]));
    b.extend_from_slice(&with_len16(&exts));
    let mut payload = record(22, &handshake(2, &b));
    payload.extend(record(20, &[1]));
    payload.extend(record(23, &[0xaa; 30]));
    // Port 8443 is not bound: the heuristic finds it.
    let pkt = tcp(8443, &payload);
    check_ip(
        &pkt,
        &[
            ("tls.record.content_type", "22,20,23"),
            ("tls.handshake.type", "2"),
            ("tls.handshake.ciphersuite", "4865"),
            ("tls.handshake.extensions.supported_version", "772"),
            ("tls.handshake.ja3s_full", "771,4865,43-51"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / TCP / TLS ServerHello, ChangeCipherSpec, ApplicationData"
    );
}

#[test]
fn encrypted_handshake_and_partial_record() {
    // 40 random-looking bytes after CCS: an encrypted Finished.
    let mut payload = record(20, &[1]);
    payload.extend(record(22, &[0x5e; 40]));
    let pkt = tcp(443, &payload);
    check_ip(
        &pkt,
        &[
            ("tls.record.content_type", "20,22"),
            ("tls.handshake.type", ""),
        ],
    );
    // A record that continues in the next segment shows nothing here.
    let rec = record(22, &handshake(1, &client_hello_body()));
    let mut two = record(21, &[2, 40]);
    two.extend_from_slice(&rec[..30]);
    let pkt = tcp(443, &two);
    check_ip(
        &pkt,
        &[
            ("tls.record.content_type", "21"),
            ("tls.handshake.type", ""),
        ],
    );
    let (_, f) = run(&pkt);
    assert_eq!(anomalies(&f), ["tls.record-continues"]);
}

#[test]
fn not_tls() {
    let pkt = tcp(443, b"\x16\x03\x07\x00\x10hello, not a record");
    check_ip(
        &pkt,
        &[
            ("tls.record.content_type", ""),
            ("frame.protocols", "ip:tcp:data"),
        ],
    );
}

#[test]
fn every_truncation_is_quiet_and_bounded() {
    let rec = record(22, &handshake(1, &client_hello_body()));
    let full = tcp(443, &rec);
    for cut in 0..full.len() {
        let (_, f) = run_cut(&full[..cut], full.len());
        let names = anomalies(&f);
        assert!(
            !names.iter().any(|n| n == "malformed"),
            "cut {cut}: {names:?}"
        );
    }
}

#[test]
fn http_request_response_pipelined() {
    let req = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\nReferer: http://a/\r\nCookie: a=b\r\nAuthorization: Basic eDp5\r\n\r\nHEAD /x HTTP/1.1\r\nhost: example.com\r\n\r\n";
    let pkt = tcp(80, req);
    check_ip(
        &pkt,
        &[
            ("http.request.method", "GET,HEAD"),
            ("http.request.uri", "/index.html,/x"),
            ("http.request.version", "HTTP/1.1,HTTP/1.1"),
            (
                "http.request.full_uri",
                "http://example.com/index.html,http://example.com/x",
            ),
            ("http.host", "example.com,example.com"),
            ("http.user_agent", "t/1"),
            ("http.referer", "http://a/"),
            ("http.cookie", "a=b"),
            ("http.authorization", "Basic eDp5"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert!(f.anomalies().is_empty());
    let line = eng.summary_line(&f, &pkt, false);
    assert_eq!(line, "IP / TCP / HTTP GET /index.html");
    assert!(!line.contains("eDp5"));

    let resp = b"HTTP/1.1 301 Moved Permanently\r\nServer: s\r\nLocation: /new\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let pkt = tcp(80, resp);
    check_ip(
        &pkt,
        &[
            ("http.response.code", "301,200"),
            ("http.response.phrase", "Moved Permanently,OK"),
            ("http.server", "s"),
            ("http.location", "/new"),
            ("http.content_type", "text/html"),
            ("http.content_length", "5"),
            ("http.transfer_encoding", "chunked"),
            ("http.body_len", "5,13"),
        ],
    );
    let (eng, f) = run(&pkt);
    assert_eq!(
        eng.summary_line(&f, &pkt, false),
        "IP / TCP / HTTP 301 Moved Permanently"
    );
}

#[test]
fn http_incomplete_shows_nothing_here() {
    // Head without its end, and a body announced longer than the segment.
    for msg in [
        &b"GET / HTTP/1.1\r\nHost: a\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"[..],
    ] {
        let pkt = tcp(80, msg);
        check_ip(
            &pkt,
            &[
                ("http.request.method", ""),
                ("http.response.code", ""),
                ("frame.protocols", "ip:tcp:data"),
            ],
        );
    }
    // A pipelined second message cut by the segment end is counted.
    let pkt = tcp(80, b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n");
    check_ip(&pkt, &[("http.request.uri", "/")]);
    let (_, f) = run(&pkt);
    assert_eq!(anomalies(&f), ["http.continues"]);
}

#[test]
fn http_head_without_end_is_bounded() {
    let mut m = b"GET / HTTP/1.1\r\n".to_vec();
    while m.len() < 200_000 {
        m.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(super::http::framing(&m), super::http::Framing::Partial);
}

#[test]
fn tls_record_claiming_16mb_is_not_tls() {
    // Lengths over 2^14 + 2048 are refused by the heuristic; a 24-bit
    // handshake length of 16 MB inside a record is a cut message.
    assert!(!super::tls::looks_like_record(&[22, 3, 3, 0xff, 0xff]));
    let mut body = vec![1, 0xff, 0xff, 0xff];
    body.extend_from_slice(&[0; 60]);
    let pkt = tcp(443, &record(22, &body));
    check_ip(
        &pkt,
        &[("tls.record.length", "64"), ("tls.handshake.type", "")],
    );
}

/// A DER element.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(u8::try_from(n).unwrap());
    } else {
        v.extend_from_slice(&[
            0x82,
            u8::try_from(n >> 8).unwrap(),
            u8::try_from(n & 0xff).unwrap(),
        ]);
    }
    v.extend_from_slice(content);
    v
}

/// One RDN of one attribute.
fn rdn(oid_last: u8, tag: u8, value: &[u8]) -> Vec<u8> {
    der(
        0x31,
        &der(
            0x30,
            &[der(0x06, &[0x55, 0x04, oid_last]), der(tag, value)].concat(),
        ),
    )
}

/// A small v3 certificate: issuer C=GB,O=Test CA (printable), subject
/// CN=a.example (UTF-8), UTCTime validity, a SAN with two DNS names.
fn certificate_der() -> Vec<u8> {
    let sha256_rsa = der(
        0x30,
        &der(
            0x06,
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
        ),
    );
    let issuer = der(
        0x30,
        &[rdn(6, 0x13, b"GB"), rdn(10, 0x13, b"Test CA")].concat(),
    );
    let subject = der(0x30, &rdn(3, 0x0c, b"a.example"));
    let validity = der(
        0x30,
        &[der(0x17, b"250101000000Z"), der(0x17, b"991231235959Z")].concat(),
    );
    let spki = der(
        0x30,
        &[
            der(
                0x30,
                &der(
                    0x06,
                    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
                ),
            ),
            der(0x03, &[0, 1, 2]),
        ]
        .concat(),
    );
    let san = der(
        0x30,
        &[der(0x82, b"a.example"), der(0x82, b"b.example")].concat(),
    );
    let ext = der(
        0x30,
        &[der(0x06, &[0x55, 0x1d, 0x11]), der(0x04, &san)].concat(),
    );
    let exts = der(0xa3, &der(0x30, &ext));
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &[0x00, 0x9a, 0x01]),
            sha256_rsa.clone(),
            issuer,
            validity,
            subject,
            spki,
            exts,
        ]
        .concat(),
    );
    der(0x30, &[tbs, sha256_rsa, der(0x03, &[0, 9, 9])].concat())
}

/// A TLS 1.2 Certificate message record carrying `certs`.
fn certificate_record(certs: &[Vec<u8>]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in certs {
        let n = u32::try_from(c.len()).unwrap().to_be_bytes();
        list.extend_from_slice(&n[1..]);
        list.extend_from_slice(c);
    }
    let n = u32::try_from(list.len()).unwrap().to_be_bytes();
    let mut body = n[1..].to_vec();
    body.extend_from_slice(&list);
    let mut r = record(22, &handshake(11, &body));
    r[2] = 3;
    r
}

#[test]
fn certificate_fields_and_names() {
    let pkt = tcp(443, &certificate_record(&[certificate_der()]));
    check_ip(
        &pkt,
        &[
            ("tls.handshake.type", "11"),
            ("x509af.version", "2"),
            ("x509af.serialNumber", "009a01"),
            (
                "x509af.algorithm.id",
                "1.2.840.113549.1.1.11,1.2.840.113549.1.1.1,1.2.840.113549.1.1.11",
            ),
            ("x509if.rdnSequence", "2"),
            ("x509af.rdnSequence", "1"),
            ("x509if.oid", "2.5.4.6,2.5.4.10,2.5.4.3"),
            ("x509sat.CountryName", "GB"),
            ("x509sat.printableString", "Test CA"),
            ("x509sat.uTF8String", "a.example"),
            ("x509sat.DirectoryString", "1,4"),
            (
                "x509af.utcTime",
                "2025-01-01 00:00:00 (UTC),1999-12-31 23:59:59 (UTC)",
            ),
            ("x509af.extension.id", "2.5.29.17"),
            ("x509ce.dNSName", "a.example,b.example"),
            (
                "tls.handshake.certificate.subject",
                "id-at-commonName=a.example",
            ),
            (
                "tls.handshake.certificate.issuer",
                "id-at-organizationName=Test CA,id-at-countryName=GB",
            ),
        ],
    );
}

#[test]
fn tls_and_http_frame_pdus_like_tshark() {
    use pcapx_core::PduLen;
    let rec = record(23, &[7; 40]);
    assert_eq!(super::tls::record_len(&rec), PduLen::Len(45));
    assert_eq!(super::tls::record_len(&rec[..3]), PduLen::NeedMore);
    assert_eq!(super::tls::record_len(b"GET /"), PduLen::NotMine);
    let http = super::http::message_len;
    assert_eq!(
        http(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"),
        PduLen::Len(27)
    );
    assert_eq!(http(b"GET / HT"), PduLen::NeedMore);
    // A method token is at most 20 characters: a longer run of upper-case
    // letters is not held as a head in progress (it was, and a stream of
    // them was rescanned at every segment).
    assert_eq!(http(b"PROPFIND"), PduLen::NeedMore);
    assert_eq!(http(&[b'Z'; 20]), PduLen::NeedMore);
    assert_eq!(http(&[b'Z'; 21]), PduLen::NotMine);
    assert_eq!(http(&[b'Z'; 1205]), PduLen::NotMine);
    assert_eq!(
        http(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"),
        PduLen::Len(43)
    );
    assert_eq!(
        http(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"),
        PduLen::Len(48)
    );
    assert_eq!(
        http(b"HTTP/1.0 200 OK\r\nServer: s\r\n\r\nbody"),
        PduLen::UntilFin
    );
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nX";
    assert_eq!(http(chunked), PduLen::Len(chunked.len() - 1));
    assert_eq!(http(&chunked[..60]), PduLen::NeedMore);
    // Not a whole non-negative number: no body length (a request: head only).
    assert_eq!(
        http(b"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"),
        PduLen::Len(39)
    );
    assert_eq!(http(b"\x16\x03\x01\x00\x05hello"), PduLen::NotMine);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_payloads_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), port in prop_oneof![Just(80u16), Just(443u16), any::<u16>()]) {
        let (_, _f) = run(&tcp(port, &data));
    }

    #[test]
    fn mutated_client_hellos_never_panic(pos in 0usize..400, val in any::<u8>(), cut in 0usize..400) {
        let mut rec = record(22, &handshake(1, &client_hello_body()));
        if let Some(b) = rec.get_mut(pos) { *b = val; }
        rec.truncate(cut.max(5));
        let (eng, f) = run(&tcp(443, &rec));
        let _ = eng.summary_line(&f, &tcp(443, &rec), false);
    }

    #[test]
    fn mutated_certificates_never_panic(pos in 0usize..600, val in any::<u8>(), cut in 0usize..600) {
        let mut c = certificate_der();
        if let Some(b) = c.get_mut(pos) { *b = val; }
        c.truncate(cut.max(1));
        let pkt = tcp(443, &certificate_record(&[c.clone(), certificate_der()]));
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }

    #[test]
    fn pdu_lengths_never_panic_and_agree_with_framing(data in proptest::collection::vec(any::<u8>(), 1..300), head in "(GET|HTTP/1.1|POST) [ -~]{0,30}\r\n([A-Za-z-]{1,20}: [ -~]{0,20}\r\n){0,5}(\r\n)?") {
        let _ = super::tls::record_len(&data);
        let _ = super::http::message_len(&data);
        let mut m = head.into_bytes();
        m.extend_from_slice(&data);
        if let pcapx_core::PduLen::Len(n) = super::http::message_len(&m) {
            prop_assert!(n > 0);
            if n <= m.len() {
                prop_assert_eq!(super::http::framing(&m), super::http::Framing::Whole(n));
            }
        }
    }

    #[test]
    fn random_http_never_panics(lines in proptest::collection::vec("[ -~]{0,40}", 0..12), tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut m = b"HTTP/1.1 200 OK\r\n".to_vec();
        for l in &lines { m.extend_from_slice(l.as_bytes()); m.extend_from_slice(b"\r\n"); }
        m.extend_from_slice(&tail);
        let pkt = tcp(80, &m);
        let (eng, f) = run(&pkt);
        let _ = eng.summary_line(&f, &pkt, false);
    }
}
