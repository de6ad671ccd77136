//! Several inputs read as one stream: `pcapx CMD a.pcap b.pcap DIR 'GLOB'`
//! equals the same command on `mergecap -a` of the files (rows, frame
//! numbers, stream numbering, reassembly, flows), `frame.file` names each
//! row's file, directories and globs expand in name order, and a missing or
//! bad file is an error naming it.

mod common;

use std::path::Path;

use common::{ok, pcapx, stderr, stdout, tool};

/// Three fixtures, one of them twice: the second copy's conversations are
/// the first copy's again, so the stream numbering and the sequence
/// analysis must carry over (as in `mergecap -a`).
const FILES: [&str; 4] = [
    "fixtures/tutorial.pcap",
    "fixtures/fragments.pcap",
    "fixtures/dns.pcap",
    "fixtures/tutorial.pcap",
];

const FIELDS: &str = "frame.number,frame.time_epoch,frame.len,frame.protocols,ip.src,ip.dst,ip.id,\
tcp.stream,udp.stream,communityid,tcp.analysis.retransmission,tcp.analysis.duplicate_ack,\
dns.qry.name,udp.length";

fn mergecap(dir: &Path, files: &[&str]) -> String {
    let merged = dir.join("merged.pcapng");
    let st = std::process::Command::new("mergecap")
        .arg("-a")
        .arg("-w")
        .arg(&merged)
        .args(files)
        .current_dir(common::root())
        .status()
        .expect("mergecap");
    assert!(st.success(), "mergecap failed");
    merged.display().to_string()
}

fn args<'a>(cmd: &'a [&'a str], files: &'a [&'a str], rest: &'a [&'a str]) -> Vec<&'a str> {
    cmd.iter()
        .chain(files.iter())
        .chain(rest.iter())
        .copied()
        .collect()
}

#[test]
fn files_equal_their_mergecap_concatenation() {
    if !tool("mergecap", "files_equal_their_mergecap_concatenation") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let merged = mergecap(tmp.path(), &FILES);
    let one = [merged.as_str()];
    for (cmd, rest) in [
        (&["convert"][..], &["--fields", FIELDS][..]),
        (&["convert"], &["--fields", FIELDS, "-c", "40"]),
        (&["convert"], &["--fields", FIELDS, "-f", "udp"]),
        (&["convert"], &[]),
        (&["summary"], &[]),
        (&["stats"], &["--group-by", "src", "--sum", "payload"]),
        (&["describe"], &["--field", "payload", "--field", "src"]),
        (&["unique"], &["--field", "dst", "--counts"]),
        (&["flows"], &[]),
        (&["count"], &["--hierarchy"]),
    ] {
        let many = ok(&args(cmd, &FILES, rest));
        let merged_out = ok(&args(cmd, &one, rest));
        assert!(!many.is_empty(), "{cmd:?} {rest:?} printed nothing");
        assert_eq!(many, merged_out, "{cmd:?} {rest:?}: files vs mergecap -a");
    }
    // The first count line names the inputs; the counts are the same.
    let many = ok(&args(&["count"], &FILES, &[]));
    let merged_out = ok(&["count", &merged]);
    let counts = |s: &str| s.split_once(':').map(|x| x.1.to_owned());
    assert_eq!(counts(&many), counts(&merged_out));
    assert!(many.starts_with("<tutorial.pcap,fragments.pcap,dns.pcap,tutorial.pcap:"));
}

#[test]
fn frame_numbers_continue_and_frame_file_names_the_file() {
    let per_file: Vec<usize> = FILES
        .iter()
        .map(|f| {
            ok(&["convert", f, "--fields", "frame.number"])
                .lines()
                .count()
                - 1
        })
        .collect();
    let out = ok(&args(
        &["convert"],
        &FILES,
        &["--fields", "frame.number,frame.file"],
    ));
    let rows: Vec<(u64, String)> = out
        .lines()
        .skip(1)
        .map(|l| {
            let (n, f) = l.split_once(',').unwrap();
            (n.parse().unwrap(), f.to_owned())
        })
        .collect();
    assert_eq!(rows.len(), per_file.iter().sum::<usize>());
    let mut at = 0;
    for (file, n) in FILES.iter().zip(&per_file) {
        for r in &rows[at..at + n] {
            assert_eq!(&r.1, file);
        }
        at += n;
    }
    // mergecap -a numbering: 1.. over the whole stream.
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.0, i as u64 + 1);
    }
    // A table's frame.file for statistics.
    let s = ok(&args(
        &["stats"],
        &FILES[..3],
        &[
            "--all",
            "--group-by",
            "frame.file",
            "--count",
            "--format",
            "csv",
        ],
    ));
    assert!(s.contains("fixtures/dns.pcap,"), "{s}");
}

#[test]
fn threads_do_not_change_the_output() {
    let base = args(
        &["convert"],
        &FILES,
        &["--fields", FIELDS, "--threads", "1"],
    );
    let one = ok(&base);
    for t in ["2", "3"] {
        let mut a = base.clone();
        let last = a.len() - 1;
        a[last] = t;
        assert_eq!(ok(&a), one, "--threads {t}");
    }
}

#[test]
fn directories_and_globs_expand_in_name_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let root = common::root();
    std::fs::copy(root.join("fixtures/dns.pcap"), d.join("b.pcap")).unwrap();
    std::fs::copy(root.join("fixtures/tutorial.pcap"), d.join("a.pcap")).unwrap();
    std::fs::copy(root.join("fixtures/tutorial.pcap.gz"), d.join("c.pcap.gz")).unwrap();
    std::fs::write(d.join("notes.txt"), "not a capture").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::copy(root.join("fixtures/vlan.pcap"), d.join("sub/z.pcap")).unwrap();
    let dir = d.display().to_string();
    let fields = ["--fields", "frame.number,frame.file,ip.src,udp.stream"];
    let explicit = ok(&args(
        &["convert"],
        &[
            &format!("{dir}/a.pcap"),
            &format!("{dir}/b.pcap"),
            &format!("{dir}/c.pcap.gz"),
        ],
        &fields,
    ));
    assert_eq!(ok(&args(&["convert"], &[&dir], &fields)), explicit);
    // The shell does not expand a quoted pattern: pcapx does.
    assert_eq!(
        ok(&args(&["convert"], &[&format!("{dir}/*.pcap*")], &fields)),
        explicit
    );
    assert_eq!(
        ok(&args(&["convert"], &[&format!("{dir}/[ab].pcap")], &fields))
            .lines()
            .count(),
        explicit.lines().count()
            - (ok(&[
                "convert",
                "fixtures/tutorial.pcap",
                "--fields",
                "frame.number"
            ])
            .lines()
            .count()
                - 1)
    );
    // Not recursive: sub/z.pcap is not read.
    assert!(!explicit.contains("z.pcap"));
    let o = pcapx(&["count", &format!("{dir}/*.nothing")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no file matches"), "{}", stderr(&o));
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = pcapx(&["count", &empty.display().to_string()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no capture files"), "{}", stderr(&o));
}

#[test]
fn a_missing_or_bad_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t.parquet");
    let out_s = out.display().to_string();
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        "fixtures/missing.pcap",
        "-o",
        &out_s,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("fixtures/missing.pcap"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Found only when reading reaches it: the output is still not made.
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        "fixtures/not-a-capture.pcap",
        "-o",
        &out_s,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("fixtures/not-a-capture.pcap"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "no temporary left"
    );
    // An output that is one of the inputs is refused before reading.
    let copy = tmp.path().join("c.pcap");
    std::fs::copy(common::fixture("dns.pcap"), &copy).unwrap();
    let o = pcapx(&[
        "convert",
        "fixtures/tutorial.pcap",
        &copy.display().to_string(),
        "--to",
        "csv",
        "-o",
        &copy.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    // info reads one file.
    let o = pcapx(&["info", "fixtures/tutorial.pcap", "fixtures/dns.pcap"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
}
