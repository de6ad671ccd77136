//! Never lose data: outputs that resolve to an input are refused, outputs are
//! all-or-nothing (also on SIGTERM/SIGINT), an input that shrinks while it is
//! read gives an error instead of a SIGBUS death, and hostile inputs stay
//! within bounded memory.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, stderr};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pcapx")
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run pcapx")
}

fn spawn_in(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pcapx")
}

fn temps_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pcapx-tmp-"))
        .collect()
}

/// A plain little-endian µs pcap of `packets` Ethernet/IPv4/UDP frames of
/// `size` bytes each (large enough that reading it takes a while).
fn big_capture(path: &Path, packets: u32, size: usize) {
    use std::io::Write;
    let mut frame = Vec::with_capacity(size);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
    let ip_len = u16::try_from(size - 14).unwrap();
    frame.extend_from_slice(&[0x45, 0]);
    frame.extend_from_slice(&ip_len.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    frame.extend_from_slice(&1234u16.to_be_bytes());
    frame.extend_from_slice(&53u16.to_be_bytes());
    frame.extend_from_slice(&(ip_len - 20).to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.resize(size, 0x5a);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(path).unwrap());
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    out.write_all(&hdr).unwrap();
    let len = u32::try_from(size).unwrap();
    for i in 0..packets {
        out.write_all(&i.to_le_bytes()).unwrap();
        out.write_all(&0u32.to_le_bytes()).unwrap();
        out.write_all(&len.to_le_bytes()).unwrap();
        out.write_all(&len.to_le_bytes()).unwrap();
        out.write_all(&frame).unwrap();
    }
    out.flush().unwrap();
}

// ---------------------------------------------------------------- output guard

/// Every output-producing command, with `OUT` standing for the output path.
const WRITERS: &[&[&str]] = &[
    &["convert", "t.pcap", "--to", "csv", "-o", "OUT"],
    &["convert", "t.pcap", "--to", "json", "-o", "OUT"],
    &["convert", "t.pcap", "--to", "jsonl", "-o", "OUT"],
    &["convert", "t.pcap", "--to", "parquet", "-o", "OUT"],
    &["filter", "t.pcap", "tcp", "-o", "OUT"],
    &["flows", "t.pcap", "--to", "csv", "-o", "OUT"],
    &["flows", "t.pcap", "--to", "parquet", "-o", "OUT"],
    &["stats", "t.pcap", "--group-by", "src", "--plot", "OUT.svg"],
    &["stats", "t.pcap", "--group-by", "src", "--plot", "OUT.png"],
];

#[test]
fn every_output_over_its_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("t.pcap");
    fs::copy(fixture("tutorial.pcap"), &input).unwrap();
    let original = fs::read(&input).unwrap();
    for args in WRITERS {
        let plot = args.iter().any(|a| a.starts_with("OUT."));
        let ext = args
            .iter()
            .find_map(|a| a.strip_prefix("OUT"))
            .unwrap_or("");
        for how in ["same", "hard", "symlink"] {
            let out: PathBuf = match how {
                // A plot needs an .svg/.png name: the same file under that name
                // is only reachable through a link.
                "same" if plot => continue,
                "same" => input.clone(),
                "hard" => {
                    let p = d.join(format!("hard{ext}"));
                    let _ = fs::remove_file(&p);
                    fs::hard_link(&input, &p).unwrap();
                    p
                }
                _ => {
                    let p = d.join(format!("link{ext}"));
                    let _ = fs::remove_file(&p);
                    std::os::unix::fs::symlink("t.pcap", &p).unwrap();
                    p
                }
            };
            let name = out.file_name().unwrap().to_str().unwrap().to_owned();
            let argv: Vec<String> = args
                .iter()
                .map(|a| {
                    if a.starts_with("OUT") {
                        name.clone()
                    } else {
                        (*a).to_owned()
                    }
                })
                .collect();
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let o = run_in(d, &argv);
            assert_eq!(o.status.code(), Some(2), "{argv:?} ({how}): {}", stderr(&o));
            assert_eq!(
                stderr(&o).trim(),
                format!("pcapx: output {name} is the input t.pcap"),
                "{argv:?} ({how})"
            );
            assert_eq!(fs::read(&input).unwrap(), original, "{argv:?} ({how})");
            assert!(temps_in(d).is_empty(), "{argv:?} ({how})");
        }
    }
    // Through /dev/fd of an open descriptor of the input.
    let o = Command::new("sh")
        .args([
            "-c",
            &format!("exec 3<t.pcap; exec {} convert t.pcap -o /dev/fd/3", bin()),
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("output /dev/fd/3 is the input t.pcap"));
    assert_eq!(fs::read(&input).unwrap(), original);
}

#[test]
fn outputs_that_are_not_regular_files_are_written_directly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(fixture("tutorial.pcap"), d.join("t.pcap")).unwrap();
    for args in [
        &["convert", "t.pcap", "--to", "csv", "-o", "/dev/null"][..],
        &["filter", "t.pcap", "tcp", "-o", "/dev/null"],
    ] {
        let o = run_in(d, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    // -o /dev/stdout streams to standard output.
    let o = run_in(
        d,
        &["convert", "t.pcap", "--to", "csv", "-o", "/dev/stdout"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let direct = run_in(d, &["convert", "t.pcap", "--to", "csv"]);
    assert_eq!(o.stdout, direct.stdout);
    assert!(temps_in(d).is_empty());
}

#[test]
fn a_failed_run_leaves_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("out.csv"), b"precious").unwrap();
    fs::copy(fixture("not-a-capture.pcap"), d.join("bad.pcap")).unwrap();
    let o = run_in(d, &["convert", "bad.pcap", "-o", "out.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(fs::read(d.join("out.csv")).unwrap(), b"precious");
    assert!(temps_in(d).is_empty());
    // A successful run replaces it whole.
    fs::copy(fixture("tutorial.pcap"), d.join("t.pcap")).unwrap();
    let o = run_in(d, &["convert", "t.pcap", "-o", "out.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let direct = run_in(d, &["convert", "t.pcap"]);
    assert_eq!(fs::read(d.join("out.csv")).unwrap(), direct.stdout);
}

// ---------------------------------------------------------------- signals

/// Starts `args`, waits until its temporary output has data, sends `signal`.
fn interrupt_mid_write(signal: &str, code: i32, args: &[&str], out: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    big_capture(&d.join("big.pcap"), 150_000, 600);
    fs::write(d.join(out), b"precious old output").unwrap();
    let mut child = spawn_in(d, args);
    let start = Instant::now();
    let mut sent = false;
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{args:?} finished ({status}) before its output had data; make the input larger"
            );
        }
        let written = temps_in(d)
            .iter()
            .any(|t| fs::metadata(d.join(t)).is_ok_and(|m| m.len() > 0));
        if written {
            let pid = child.id().to_string();
            let k = Command::new("kill")
                .args([&format!("-{signal}"), &pid])
                .status()
                .unwrap();
            assert!(k.success());
            sent = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(sent, "no temporary output appeared");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.signal(), None, "died of a signal: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("interrupted by SIG{signal}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(d.join(out)).unwrap(), b"precious old output");
    assert!(temps_in(d).is_empty(), "left behind: {:?}", temps_in(d));
}

#[test]
fn sigterm_mid_convert_keeps_the_existing_output_whole() {
    interrupt_mid_write(
        "TERM",
        143,
        &["convert", "big.pcap", "--all", "-o", "out.csv"],
        "out.csv",
    );
}

#[test]
fn sigint_mid_filter_keeps_the_existing_output_whole() {
    interrupt_mid_write(
        "INT",
        130,
        &["filter", "big.pcap", "udp", "-o", "out.pcap"],
        "out.pcap",
    );
}

// ---------------------------------------------------------------- shrinking input

/// Runs `args` on a large capture and truncates it to 40 % while the command
/// reads it (the delay comes from timing an undisturbed run and is adjusted
/// until the truncation lands mid-read; bounded in time). The command must
/// exit 2 with the "file shrank" message, never die of a signal, and leave
/// no output file or temporary behind; what it printed on standard output
/// before the error is a prefix, in whole lines, of the undisturbed run's
/// output (no line made from the zeroed pages of the lost part).
fn truncate_while_reading(args: &[&str], out: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src.pcap");
    big_capture(&src, 200_000, 500);
    let input = d.join("in.pcap");
    let full = fs::metadata(&src).unwrap().len();
    let cut = full * 2 / 5;
    // How long an undisturbed run takes.
    fs::copy(&src, &input).unwrap();
    let t0 = Instant::now();
    let o = run_in(d, args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    let whole = t0.elapsed();
    let undisturbed = o.stdout;
    if let Some(out) = out {
        fs::remove_file(d.join(out)).unwrap();
    }
    let mut delay = whole / 3;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut landed = false;
    while Instant::now() < deadline {
        fs::copy(&src, &input).unwrap();
        let child = spawn_in(d, args);
        std::thread::sleep(delay);
        let f = fs::OpenOptions::new().write(true).open(&input).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.signal(),
            None,
            "{args:?} died of a signal: {}",
            stderr(&o)
        );
        let err = stderr(&o);
        if o.status.success() {
            // Finished before the cut (or the cut came before it mapped the
            // file and it read the shorter file): try earlier / later. Its
            // complete output is removed, so that the next attempt's check
            // "no output after the error" sees only what that attempt left.
            if let Some(out) = out {
                let _ = fs::remove_file(d.join(out));
            }
            delay = delay * 2 / 3;
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        let msg = format!(
            "pcapx: in.pcap: file shrank from {} MB to {} MB while being read (after packet ",
            full / 1_000_000,
            cut / 1_000_000
        );
        assert!(err.starts_with(&msg), "{args:?}: {err}");
        // The packet named is the last one read intact: inside the file (it
        // may lie past the cut when it was read before the truncation).
        let after: u64 = err[msg.len()..]
            .trim_end()
            .trim_end_matches(')')
            .parse()
            .unwrap_or_else(|_| panic!("{err}"));
        assert!(after < 200_000, "{args:?}: {err}");
        assert!(
            undisturbed.starts_with(&o.stdout)
                && (o.stdout.is_empty() || o.stdout.ends_with(b"\n")),
            "{args:?}: {} bytes printed before the error are not a prefix of the \
             undisturbed run's output: {:?}… vs {:?}…",
            o.stdout.len(),
            String::from_utf8_lossy(&o.stdout[..o.stdout.len().min(400)]),
            String::from_utf8_lossy(&undisturbed[..undisturbed.len().min(400)])
        );
        if let Some(out) = out {
            assert!(
                !d.join(out).exists(),
                "{args:?}: output written despite the error"
            );
        }
        assert!(temps_in(d).is_empty(), "{args:?}: {:?}", temps_in(d));
        landed = true;
        break;
    }
    assert!(landed, "{args:?}: the truncation never landed mid-read");
}

#[test]
fn input_truncated_during_convert_is_an_error_not_sigbus() {
    truncate_while_reading(
        &["convert", "in.pcap", "--all", "-o", "out.csv"],
        Some("out.csv"),
    );
}

#[test]
fn input_truncated_during_stats_is_an_error_not_sigbus() {
    truncate_while_reading(
        &["stats", "in.pcap", "--group-by", "src", "--sum", "len"],
        None,
    );
}

#[test]
fn input_truncated_during_summary_prints_no_line_of_the_lost_part() {
    truncate_while_reading(&["summary", "in.pcap"], None);
}

#[test]
fn input_truncated_during_flows_prints_no_row_of_the_lost_part() {
    truncate_while_reading(&["flows", "in.pcap", "--to", "csv"], None);
}

#[test]
fn input_truncated_during_filter_is_an_error_not_sigbus() {
    truncate_while_reading(
        &["filter", "in.pcap", "udp", "-o", "out.pcap"],
        Some("out.pcap"),
    );
}

// ---------------------------------------------------------------- hostile input

/// Runs pcapx under GNU time; returns the output and the peak resident set
/// size in MiB. `None` (skipped) without /usr/bin/time, a failure under CI.
fn peak_rss(dir: &Path, args: &[&str], stdin: Option<&Path>) -> Option<(Output, u64)> {
    if !Path::new("/usr/bin/time").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "GNU time (/usr/bin/time) is required under CI"
        );
        println!("skipped: /usr/bin/time not installed");
        return None;
    }
    let rss = dir.join("rss.txt");
    let o = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(bin())
        .args(args)
        .current_dir(dir)
        .stdin(match stdin {
            Some(p) => Stdio::from(fs::File::open(p).unwrap()),
            None => Stdio::null(),
        })
        .output()
        .expect("run /usr/bin/time pcapx");
    let text = fs::read_to_string(&rss).unwrap();
    let kib: u64 = text
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {text:?}"));
    Some((o, kib / 1024))
}

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// pcapng: a section header block (little-endian, no options).
fn shb() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&le32(0x0a0d_0d0a));
    b.extend_from_slice(&le32(28));
    b.extend_from_slice(&le32(0x1a2b_3c4d));
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    b.extend_from_slice(&le32(28));
    b
}

/// pcapng: an Ethernet interface description block.
fn idb() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&le32(1));
    b.extend_from_slice(&le32(20));
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&le32(65535));
    b.extend_from_slice(&le32(20));
    b
}

/// pcapng: an enhanced packet block on `iface` with `data`.
fn epb(iface: u32, data: &[u8]) -> Vec<u8> {
    let padded = data.len().div_ceil(4) * 4;
    let len = u32::try_from(32 + padded).unwrap();
    let mut b = Vec::new();
    b.extend_from_slice(&le32(6));
    b.extend_from_slice(&le32(len));
    b.extend_from_slice(&le32(iface));
    b.extend_from_slice(&le32(0));
    b.extend_from_slice(&le32(1));
    let n = u32::try_from(data.len()).unwrap();
    b.extend_from_slice(&le32(n));
    b.extend_from_slice(&le32(n));
    b.extend_from_slice(data);
    b.resize(b.len() + padded - data.len(), 0);
    b.extend_from_slice(&le32(len));
    b
}

fn udp_frame(dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
    let ip_len = u16::try_from(28 + payload.len()).unwrap();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&5353u16.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(ip_len - 20).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn count_of(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout).trim().to_owned()
}

#[test]
fn blocks_and_records_claiming_gigabytes_are_damage_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = epb(0, &udp_frame(9, b"hello"));
    // pcapng: an EPB whose length claims 3.9 GB, then good packets.
    let mut ng = shb();
    ng.extend(idb());
    ng.extend(&good);
    let mut liar = epb(0, &udp_frame(9, b"liar"));
    liar[4..8].copy_from_slice(&le32(0xf000_0000));
    ng.extend(liar);
    for _ in 0..3 {
        ng.extend(&good);
    }
    fs::write(d.join("ng.pcapng"), &ng).unwrap();
    // pcap: a record whose caplen claims 2 GB, then good records.
    let frame = udp_frame(9, b"hello");
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&le32(0xa1b2_c3d4));
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&le32(65535));
    pcap.extend_from_slice(&le32(1));
    let rec = |caplen: u32| {
        let mut r = Vec::new();
        r.extend_from_slice(&le32(1));
        r.extend_from_slice(&le32(0));
        r.extend_from_slice(&le32(caplen));
        r.extend_from_slice(&le32(caplen.min(1 << 20)));
        r.extend_from_slice(&frame);
        r
    };
    let n = u32::try_from(frame.len()).unwrap();
    pcap.extend(rec(n));
    pcap.extend(rec(0x8000_0000));
    for _ in 0..3 {
        pcap.extend(rec(n));
    }
    fs::write(d.join("big.pcap"), &pcap).unwrap();
    for file in ["ng.pcapng", "big.pcap"] {
        // Mapped, and streamed through standard input.
        for streamed in [false, true] {
            let (args, stdin) = if streamed {
                (vec!["count", "-"], Some(d.join(file)))
            } else {
                (vec!["count", file], None)
            };
            let Some((o, mib)) = peak_rss(d, &args, stdin.as_deref()) else {
                return;
            };
            assert!(o.status.success(), "{file}: {}", stderr(&o));
            assert!(
                count_of(&o.stdout).contains("UDP:4"),
                "{file}: {}",
                count_of(&o.stdout)
            );
            assert!(stderr(&o).contains("damaged"), "{file}: {}", stderr(&o));
            assert!(
                mib < 80,
                "{file} (streamed: {streamed}): peak RSS {mib} MiB"
            );
        }
    }
}

/// A pcap header followed by `records` records of `size` zero bytes each.
fn zero_records(records: usize, size: u32, out: &mut impl std::io::Write) {
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&le32(0xa1b2_c3d4));
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&le32(64 << 20));
    hdr.extend_from_slice(&le32(1));
    out.write_all(&hdr).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for i in 0..records {
        let mut r = Vec::new();
        r.extend_from_slice(&le32(u32::try_from(i).unwrap()));
        r.extend_from_slice(&le32(0));
        r.extend_from_slice(&le32(size));
        r.extend_from_slice(&le32(size));
        out.write_all(&r).unwrap();
        let mut left = size as usize;
        while left > 0 {
            let n = left.min(zeros.len());
            out.write_all(&zeros[..n]).unwrap();
            left -= n;
        }
    }
}

#[test]
fn gzip_and_zstd_bombs_are_read_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 24 records of 12 MiB of zeros: 288 MiB decompressed from ~300 KiB.
    let gz = d.join("bomb.pcap.gz");
    let mut enc =
        flate2::write::GzEncoder::new(fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    zero_records(24, 12 << 20, &mut enc);
    enc.finish().unwrap();
    let zst = d.join("bomb.pcap.zst");
    let mut enc = zstd::Encoder::new(fs::File::create(&zst).unwrap(), 1).unwrap();
    zero_records(24, 12 << 20, &mut enc);
    enc.finish().unwrap();
    for file in ["bomb.pcap.gz", "bomb.pcap.zst"] {
        assert!(fs::metadata(d.join(file)).unwrap().len() < 4 << 20);
        let Some((o, mib)) = peak_rss(d, &["count", file], None) else {
            return;
        };
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        assert!(
            count_of(&o.stdout).contains("Other:24"),
            "{file}: {}",
            count_of(&o.stdout)
        );
        assert!(
            mib < 200,
            "{file}: peak RSS {mib} MiB for 288 MiB decompressed"
        );
    }
}

#[test]
fn a_million_interfaces_are_capped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut ng = shb();
    let one = idb();
    ng.reserve(one.len() * 1_000_000 + 1000);
    for _ in 0..1_000_000 {
        ng.extend_from_slice(&one);
    }
    ng.extend(epb(0, &udp_frame(9, b"first")));
    ng.extend(epb(999_999, &udp_frame(9, b"beyond the cap")));
    ng.extend(epb(1, &udp_frame(9, b"second")));
    fs::write(d.join("ifaces.pcapng"), &ng).unwrap();
    drop(ng);
    let Some((o, mib)) = peak_rss(d, &["count", "ifaces.pcapng"], None) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        count_of(&o.stdout).contains("UDP:2"),
        "{}",
        count_of(&o.stdout)
    );
    let err = stderr(&o);
    assert!(
        err.contains("more than 65536 interfaces in one section"),
        "{err}"
    );
    // Uncapped, the interface tables alone would take ~150 MiB here.
    assert!(mib < 90, "peak RSS {mib} MiB");
    let Some((o, mib)) = peak_rss(d, &["info", "ifaces.pcapng"], None) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(mib < 100, "info: peak RSS {mib} MiB");
}

#[test]
fn dns_counts_and_lengths_that_lie_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Header claims 65535 of every section; the one question's name is a
    // pointer to itself, an answer's rdlength runs past the message.
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut m = vec![0x12, 0x34, 0x81, 0x80];
    m.extend_from_slice(&[0xff; 8]);
    m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    msgs.push(m);
    let mut m = vec![
        0x12, 0x34, 0x81, 0x80, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    m.extend_from_slice(&[3, b'a', b'b', b'c', 0, 0, 1, 0, 1]);
    for _ in 0..200 {
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0xff, 0xff]);
    }
    msgs.push(m);
    // Labels whose lengths run past the end.
    let mut m = vec![0x12, 0x34, 1, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[63, b'x', b'y']);
    msgs.push(m);
    let mut ng = shb();
    ng.extend(idb());
    for i in 0..30_000 {
        ng.extend(epb(0, &udp_frame(53, &msgs[i % msgs.len()])));
    }
    fs::write(d.join("dns.pcapng"), &ng).unwrap();
    let Some((o, mib)) = peak_rss(
        d,
        &[
            "convert",
            "dns.pcapng",
            "--fields",
            "dns.qry.name,dns.a,dns.count.answers",
            "--occurrence",
            "all",
            "-o",
            "dns.csv",
        ],
        None,
    ) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = fs::read_to_string(d.join("dns.csv")).unwrap();
    assert_eq!(csv.lines().count(), 30_001);
    assert!(
        csv.contains("<Name contains a pointer that loops>"),
        "{}",
        &csv[..300]
    );
    assert!(mib < 100, "peak RSS {mib} MiB");
    let Some((o, mib)) = peak_rss(d, &["summary", "dns.pcapng"], None) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(mib < 100, "summary: peak RSS {mib} MiB");
}

// ------------------------------------------------- conversations at scale

/// An Ethernet/IPv4/TCP frame with `payload` zero bytes (checksums left 0).
fn tcp_frame(
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: usize,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(54 + payload);
    f.extend_from_slice(&[0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10, 0x08, 0x00]);
    let ip_len = u16::try_from(40 + payload).unwrap();
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    f.resize(54 + payload, 0);
    f
}

/// Write a µs pcap of `(time µs, frame)` records.
fn write_pcap(path: &Path, records: impl Iterator<Item = (u64, Vec<u8>)>) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(fs::File::create(path).unwrap());
    w.write_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .unwrap();
    w.write_all(&le32(65535)).unwrap();
    w.write_all(&le32(1)).unwrap();
    for (us, f) in records {
        let len = u32::try_from(f.len()).unwrap();
        w.write_all(&le32(u32::try_from(us / 1_000_000).unwrap()))
            .unwrap();
        w.write_all(&le32(u32::try_from(us % 1_000_000).unwrap()))
            .unwrap();
        w.write_all(&le32(len)).unwrap();
        w.write_all(&le32(len)).unwrap();
        w.write_all(&f).unwrap();
    }
    w.flush().unwrap();
}

/// 10⁶ concurrent TCP flows (a half-open SYN flood: a million sources, one
/// SYN each, all within a second, none answered): `flows` writes one S0 row
/// per flow, and the packet table's stream numbering stays within its bound
/// (it forgets beyond 262,144 conversations and says so) — no panic, and
/// peak RSS reported and bounded.
#[test]
fn a_million_concurrent_half_open_flows_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("synflood.pcap");
    const N: u32 = 1_000_000;
    write_pcap(
        &cap,
        (0..N).map(|i| {
            let [_, a, b, c] = i.to_be_bytes();
            let frame = tcp_frame(
                [10, a, b, c],
                [192, 0, 2, 1],
                (1024 + (i % 60_000) as u16, 80),
                i.wrapping_mul(2_654_435_761),
                0,
                0x02,
                0,
            );
            (1_700_000_000_000_000 + u64::from(i), frame)
        }),
    );
    let Some((o, flows_mib)) = peak_rss(
        dir.path(),
        &["flows", "synflood.pcap", "--to", "csv", "-o", "flows.csv"],
        None,
    ) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = fs::read_to_string(dir.path().join("flows.csv")).unwrap();
    let mut lines = rows.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let state = header.iter().position(|&h| h == "conn_state").unwrap();
    let mut n = 0u32;
    for l in lines {
        assert_eq!(l.split(',').nth(state), Some("S0"), "{l}");
        n += 1;
    }
    assert_eq!(n, N, "one S0 row per half-open flow");

    let Some((o, convert_mib)) = peak_rss(
        dir.path(),
        &[
            "convert",
            "synflood.pcap",
            "--all",
            "--fields",
            "frame.number,tcp.stream,tcp.analysis.lost_segment",
            "--to",
            "csv",
            "-o",
            "streams.csv",
        ],
        None,
    ) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("stream numbering forgot 737856 conversation(s)"),
        "{err}"
    );
    // Every SYN is a new conversation: the numbers are still tshark's.
    let streams = fs::read_to_string(dir.path().join("streams.csv")).unwrap();
    let last = streams.lines().last().unwrap();
    assert_eq!(last, format!("{N},{},", N - 1));
    println!(
        "10^6 half-open flows: flows peak RSS {flows_mib} MiB, convert --fields tcp.stream {convert_mib} MiB"
    );
    // The flow table holds every live flow (they are all concurrent); the
    // per-file numbering holds at most its bound.
    assert!(flows_mib < 1500, "flows: peak RSS {flows_mib} MiB");
    assert!(convert_mib < 400, "convert: peak RSS {convert_mib} MiB");
}

/// One conversation whose segments jump by absurd amounts (half the
/// sequence space, forwards and backwards) between runs of ordinary ones,
/// with copies, 30,000 segments never acknowledged: no panic, memory stays
/// bounded (the unacknowledged lists stop at tshark's 10,000), and the flags
/// are tshark's on every packet; `flows` counts the anomalies.
#[test]
fn absurd_sequence_jumps_are_flagged_as_tshark_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("jumps.pcap");
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut recs = vec![
        (0u64, tcp_frame(a, b, (4000, 80), 100, 0, 0x02, 0)),
        (1000, tcp_frame(b, a, (80, 4000), 900, 101, 0x12, 0)),
        (2000, tcp_frame(a, b, (4000, 80), 101, 901, 0x10, 0)),
    ];
    let mut seq = 101u32;
    let mut x = 0x1234_5678u32;
    for i in 0..30_000u64 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        match x % 16 {
            0 => seq = seq.wrapping_add(0x8000_0000),
            1 => seq = seq.wrapping_add(0x7fff_fff0),
            2 => seq = seq.wrapping_sub(0x4000_0000),
            _ => {}
        }
        let len = 1 + (x >> 8) as usize % 200;
        let t = 3000 + i * 100;
        recs.push((t, tcp_frame(a, b, (4000, 80), seq, 901, 0x18, len)));
        if x.is_multiple_of(7) {
            recs.push((t + 50, tcp_frame(a, b, (4000, 80), seq, 901, 0x18, len)));
        }
        seq = seq.wrapping_add(u32::try_from(len).unwrap());
    }
    write_pcap(&cap, recs.into_iter());
    let fields = "frame.number,tcp.analysis.retransmission,tcp.analysis.out_of_order,tcp.analysis.lost_segment,tcp.analysis.spurious_retransmission";
    let Some((o, mib)) = peak_rss(
        dir.path(),
        &[
            "convert",
            "jumps.pcap",
            "--all",
            "--fields",
            fields,
            "--to",
            "csv",
        ],
        None,
    ) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(mib < 100, "peak RSS {mib} MiB");
    let ours: Vec<String> = common::stdout(&o)
        .lines()
        .skip(1)
        .map(|l| l.replace("true", "1").replace("false", ""))
        .collect();
    let counts = |col: usize| {
        ours.iter()
            .filter(|l| l.split(',').nth(col) == Some("1"))
            .count()
    };
    let (retrans, lost) = (counts(1), counts(3));
    println!(
        "absurd jumps: {} packets, {retrans} retransmissions, {lost} lost segments, peak RSS {mib} MiB",
        ours.len()
    );
    assert!(lost > 1000 && retrans > 1000);
    if common::tool(
        "tshark",
        "absurd_sequence_jumps_are_flagged_as_tshark_and_bounded",
    ) {
        let theirs = common::tshark_fields(
            &cap.to_string_lossy(),
            &fields.split(',').collect::<Vec<_>>(),
        );
        let theirs: Vec<&str> = theirs.lines().collect();
        assert_eq!(theirs.len(), ours.len());
        let diffs: Vec<_> = theirs
            .iter()
            .zip(&ours)
            .filter(|(t, o)| *t != o)
            .take(10)
            .collect();
        assert!(diffs.is_empty(), "differences from tshark: {diffs:?}");
    }
    let (o, _) = peak_rss(dir.path(), &["flows", "jumps.pcap", "--to", "csv"], None).unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    let header: Vec<&str> = out.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|&h| h == name).unwrap()];
    assert!(col("lost_segments").parse::<u64>().unwrap() > 0, "{out}");
}
