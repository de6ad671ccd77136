//! IP defragmentation (on by default, `--no-defrag` off) checked against
//! tshark on the corpus's fragment traces: every packet's layer chain and
//! upper-layer fields equal tshark's — fragments that do not complete a
//! datagram are `data`, the one that completes it decodes the reassembled
//! transport and application layers.

mod common;

use std::process::Command;

use common::{ok, pcapx, stderr};

/// Upper-layer fields compared on every packet.
const FIELDS: &[&str] = &[
    "frame.number",
    "frame.protocols",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.len",
    "dns.id",
    "dns.qry.name",
    "dns.count.answers",
    "data.len",
];

const FILES: &[&str] = &[
    "zeek/fragments/fragmented-1.pcap",
    "zeek/fragments/fragmented-3.pcap",
    "zeek/fragments/ipv6-fragmented-dns.pcap",
    "zeek/fragments/ipv6-http-atomic-frag.pcap",
    "pcapplusplus/fragments/ip4_fragments.pcap",
    "ethernet-ipv4/afs.pcap",
    "malformed/ipv6_frag6_negative_len.pcap",
];

fn tshark(file: &str, defrag: bool) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r", file, "-T", "fields", "-E", "separator=\t"]);
    cmd.args(["-E", "occurrence=f"]);
    if !defrag {
        cmd.args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]);
    }
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().expect("run tshark");
    assert!(o.status.success(), "tshark on {file}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn ours(file: &str, extra: &[&str]) -> Vec<Vec<String>> {
    common::pcapx_rows(file, FIELDS, extra)
}

/// The protocols pcapx dissects (the headings of `pcapx fields`).
fn pcapx_protocols() -> &'static std::collections::HashSet<String> {
    static P: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        ok(&["fields"])
            .lines()
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect()
    })
}

/// tshark's protocol chain in pcapx's names: no `ethertype` pseudo-layer,
/// and application protocols pcapx does not dissect (NTP, RPC/NFS, HTTP, …)
/// are pcapx's `data` — or, when the other port of the pair is one pcapx
/// knows, that port's protocol (tshark takes the lower port, 123 = NTP,
/// first; without an NTP dissector pcapx goes on to the higher, 137 = NBNS,
/// as tshark would without one).
fn chain_matches(ours: &str, theirs: &str) -> bool {
    let ours: Vec<&str> = ours.split(':').filter(|p| *p != "padding").collect();
    let theirs: Vec<&str> = theirs.split(':').filter(|p| *p != "ethertype").collect();
    for (i, p) in ours.iter().enumerate() {
        match theirs.get(i) {
            Some(t) if t == p => {}
            // pcapx stops at `data` where tshark knows the application.
            Some(_) if *p == "data" && i + 1 == ours.len() => return true,
            // tshark's application protocol is one pcapx does not have.
            Some(t) if i > 0 && !pcapx_protocols().contains(*t) => return true,
            // tshark holds a TCP payload it is desegmenting (HTTP here):
            // no layer above TCP in this frame.
            None if *p == "data" && i + 1 == ours.len() && theirs.last() == Some(&"tcp") => {
                return true;
            }
            _ => return false,
        }
    }
    ours.len() == theirs.len()
}

fn compare(corpus: &std::path::Path, defrag: bool) -> usize {
    let mut rows = 0;
    for rel in FILES {
        let path = corpus.join(rel);
        let f = path.to_str().unwrap();
        let extra: &[&str] = if defrag { &[] } else { &["--no-defrag"] };
        let (o, t) = (ours(f, extra), tshark(f, defrag));
        assert_eq!(o.len(), t.len(), "{rel}: rows");
        for (o, t) in o.iter().zip(&t) {
            let frame = &o[0];
            assert!(
                chain_matches(&o[1], &t[1]),
                "{rel} frame {frame}: protocols pcapx {} vs tshark {}",
                o[1],
                t[1]
            );
            let chain = o[1].trim_end_matches(":padding");
            let app_unknown = chain.ends_with(":data") && !t[1].ends_with(":data");
            let frag = t[1].contains("fraghdr") || o[1].contains("fraghdr");
            for (i, name) in FIELDS.iter().enumerate().skip(2) {
                if *name == "data.len" && app_unknown {
                    continue;
                }
                // Without defragmentation tshark leaves `tcp.len` out of a
                // TCP header in a first fragment (pcapx gives the
                // fragment's share), a pre-existing, documented difference.
                if *name == "tcp.len" && !defrag {
                    continue;
                }
                let theirs = t.get(i).map_or("", String::as_str);
                let theirs = match theirs.strip_prefix("0x") {
                    Some(h) => {
                        u64::from_str_radix(h, 16).map_or(theirs.to_owned(), |v| v.to_string())
                    }
                    None => theirs.to_owned(),
                };
                assert_eq!(
                    o[i], theirs,
                    "{rel} frame {frame}: {name} pcapx {:?} vs tshark {theirs:?}",
                    o[i]
                );
            }
            rows += 1;
            let _ = frag;
        }
    }
    rows
}

#[test]
fn reassembled_datagrams_decode_like_tshark() {
    let Some(corpus) = common::corpus("reassembled_datagrams_decode_like_tshark") else {
        return;
    };
    if !common::tool("tshark", "reassembled_datagrams_decode_like_tshark") {
        return;
    }
    let rows = compare(&corpus, true);
    assert!(rows > 600, "compared {rows} rows");
    // The same files with defragmentation off on both sides.
    let rows_off = compare(&corpus, false);
    assert_eq!(rows, rows_off);
}

/// The fragments of a datagram come out the same for any thread count, and
/// the count/summary commands see the reassembled layers too.
#[test]
fn defrag_is_thread_independent_and_everywhere() {
    let Some(corpus) = common::corpus("defrag_is_thread_independent_and_everywhere") else {
        return;
    };
    let f = corpus.join("pcapplusplus/fragments/ip4_fragments.pcap");
    let f = f.to_str().unwrap();
    let one = ok(&[
        "convert",
        f,
        "--threads",
        "1",
        "--fields",
        "frame.protocols,udp.length",
    ]);
    let four = ok(&[
        "convert",
        f,
        "--threads",
        "4",
        "--fields",
        "frame.protocols,udp.length",
    ]);
    assert_eq!(one, four);
    let udp_rows = one.lines().filter(|l| l.contains(":udp")).count();
    assert!(udp_rows >= 8, "{one}");
    let summary = ok(&["summary", f]);
    assert_eq!(
        summary.lines().filter(|l| l.contains("/ UDP ")).count(),
        udp_rows
    );
    let off = ok(&["summary", f, "--no-defrag"]);
    assert_ne!(summary, off);
    let count = ok(&["count", f]);
    let count_off = ok(&["count", f, "--no-defrag"]);
    assert_ne!(count, count_off, "count sees reassembled UDP");
    let o = pcapx(&["stats", f, "--group-by", "udp.length", "--no-defrag"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Fragments that never complete: 80 000 first fragments of distinct
/// datagrams (1 000 bytes each, 1 ms apart, so 80 s of them), streamed from
/// standard input. The defragmenter's bounds (65 536 datagrams, 64 MiB, 60 s)
/// hold: no panic, every packet counted, the given-up datagrams reported,
/// and the peak RSS stays far below the 80 MB the fragments hold.
#[test]
#[allow(clippy::cast_possible_truncation)] // small, known sizes
fn fragments_that_never_complete_stay_bounded() {
    use std::io::Write as _;
    if !std::path::Path::new("/usr/bin/time").exists() {
        assert!(
            !common::ci(),
            "GNU time (/usr/bin/time) is required under CI"
        );
        println!("skipped: /usr/bin/time not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frags.pcap");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut hdr = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        if hdr.len() == 4 {
            hdr.extend_from_slice(&2u16.to_le_bytes());
            hdr.extend_from_slice(&4u16.to_le_bytes());
            continue;
        }
        hdr.extend_from_slice(&v.to_le_bytes());
    }
    w.write_all(&hdr).unwrap();
    const N: u32 = 80_000;
    let payload = vec![0x5au8; 1000];
    for i in 0..N {
        let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = 20 + payload.len() as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&((i & 0xffff) as u16).to_be_bytes());
        f.extend_from_slice(&[0x20, 0, 64, 17, 0, 0]); // MF, offset 0, UDP
        f.extend_from_slice(&[10, (i >> 16) as u8, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&payload);
        let (sec, usec) = (1_000 + i / 1000, (i % 1000) * 1000);
        for v in [sec, usec, f.len() as u32, f.len() as u32] {
            w.write_all(&v.to_le_bytes()).unwrap();
        }
        w.write_all(&f).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let rss = dir.path().join("rss.txt");
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(env!("CARGO_BIN_EXE_pcapx"))
        .args(["count", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .expect("run pcapx under GNU time");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&N.to_string()), "every packet counted: {out}");
    let err = stderr(&o);
    assert!(
        err.contains("never completed"),
        "given-up datagrams reported: {err}"
    );
    let kib: u64 = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap();
    assert!(kib / 1024 < 150, "peak RSS {} MiB", kib / 1024);
    println!("peak RSS {} MiB; {}", kib / 1024, err.trim());
}

/// One Ethernet/IPv4/UDP frame: `frag` = (identification, more fragments,
/// offset in 8-byte units); the UDP header is written in a first fragment
/// (offset 0) only, with the datagram's full UDP length `udp_len`.
fn udp_frame(id: u16, more: bool, offset: u16, body: &[u8], udp_len: u16) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
    let l4 = if offset == 0 {
        8 + body.len()
    } else {
        body.len()
    };
    let total = u16::try_from(20 + l4).unwrap();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&(offset | if more { 0x2000 } else { 0 }).to_be_bytes());
    f.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    if offset == 0 {
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35]);
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
    }
    f.extend_from_slice(body);
    f
}

/// Defragmenting is lazy: a batch whose records are all surely no fragment
/// is dissected without waiting for the earlier batches' passes and only
/// moves the defragmenter's clock (its latest timestamp, posted for its
/// turn). On 30 000 packets (8 batches) whose fragmented datagrams have
/// their fragments batches apart, with fragment-free batches between, and
/// a two-minute jump in time and back inside a fragment-free batch (the
/// datagram pending over it expires, as the defragmenter's 60 s timeout
/// says, though the batches after it are back in time): the
/// rows are the same for 1, 2 and 4 threads and the same as with a filter
/// that passes every packet (which runs the pass over every batch, as
/// before), and exactly the datagrams that should complete do.
#[test]
fn lazy_defragmenting_equals_the_pass_over_every_batch() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lazy.pcap");
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.drain(4..8);
    out.splice(4..4, [2u8, 0, 4, 0]);
    let body = [0x5au8; 48];
    let mut expect_complete = Vec::new();
    let mut usec: u64 = 0;
    for i in 0..30_000u32 {
        usec += 1000;
        // Two minutes forward and back again, inside a fragment-free
        // batch (a merged capture's clock can do that): only that batch's
        // timestamps say datagram 2 has expired.
        if i == 21_000 {
            usec += 120_000_000;
        }
        if i == 21_010 {
            usec -= 120_000_000;
        }
        let k = i % 16_384;
        let id = u16::try_from(i / 16_384 + 1).unwrap();
        let frame = if k == 100 {
            // First fragment: 8-byte UDP header + 48 bytes; full datagram 104.
            udp_frame(id, true, 0, &body, 104)
        } else if k == 10_100 {
            let second = i + 1;
            expect_complete.push((second, id));
            udp_frame(id, false, 7, &body, 0)
        } else {
            udp_frame(u16::try_from(i % 60_000).unwrap(), false, 0, &body, 56)
        };
        let (sec, us) = (1_000 + usec / 1_000_000, usec % 1_000_000);
        let len = u32::try_from(frame.len()).unwrap();
        for v in [
            u32::try_from(sec).unwrap(),
            u32::try_from(us).unwrap(),
            len,
            len,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&out)
        .unwrap();
    let f = path.to_str().unwrap();
    // Fields desegmentation cannot change: the pass only defragments.
    let fields = "frame.number,ip.id,udp.length";
    // The first line where two outputs differ (not 30 000 lines of both).
    let same = |a: &str, b: &str, what: &str| {
        let diff = a.lines().zip(b.lines()).find(|(x, y)| x != y);
        assert!(diff.is_none(), "{what}: {diff:?}");
        assert_eq!(a.lines().count(), b.lines().count(), "{what}");
    };
    let lazy = ok(&["convert", f, "--fields", fields, "--threads", "1"]);
    for t in ["2", "4"] {
        let other = ok(&["convert", f, "--fields", fields, "--threads", t]);
        same(&other, &lazy, &format!("--threads {t}"));
    }
    for t in ["1", "2"] {
        let eager = ok(&[
            "convert",
            f,
            "--fields",
            fields,
            "--threads",
            t,
            "-f",
            "ip or not ip",
        ]);
        same(&eager, &lazy, &format!("filtered, --threads {t}"));
    }
    // Datagram 1's fragments (records 101 and 10 101) meet; datagram 2's
    // first fragment (16 485) expired at the jump, before its second
    // (26 485) came.
    let complete: Vec<&str> = lazy.lines().filter(|l| l.ends_with(",104")).collect();
    assert_eq!(complete.len(), 1, "{complete:?}");
    assert!(complete[0].starts_with("10101,"), "{complete:?}");
    assert_eq!(expect_complete.len(), 2);
    let count = ok(&["count", f, "--threads", "2"]);
    assert_eq!(count, ok(&["count", f, "--threads", "1"]));
    let stats = ["stats", f, "--group-by", "udp.length", "--threads"];
    assert_eq!(
        ok(&[&stats[..], &["2"]].concat()),
        ok(&[&stats[..], &["1"]].concat())
    );
}
