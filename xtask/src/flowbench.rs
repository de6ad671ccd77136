//! `cargo xtask bench-flows [--packets N] [--flows M] [--runs R]`: the
//! conversations benchmark — `pcapx flows` against `tshark -q -z conv,tcp
//! -z conv,udp` on the 1M-packet bench capture and on a capture of M
//! distinct flows (default 10⁶) that are all open at once, with peak RSS;
//! writes the "Conversations" section of BENCHMARKS.md (and `bench` runs it
//! too).
//!
//! The flows capture (`bench-data/flows-M.pcap`, made here, deterministic):
//! three TCP flows in four are a SYN and SYN-ACK in a first phase and a RST
//! from the client in a second; one in four is a UDP query and, in the
//! second phase, its response. Every flow opens before any closes, so the
//! flow table holds all M at once: memory as the number of concurrent flows
//! grows.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Result;

const HEADING: &str = "## Conversations: `pcapx flows` vs `tshark -z conv`";

/// Ethernet/IPv4 frame around a TCP or UDP header (checksums left 0).
fn frame(
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    tcp: Option<(u32, u32, u8)>,
) -> Vec<u8> {
    let l4 = if tcp.is_some() { 20 } else { 8 };
    let payload = if tcp.is_some() { 0 } else { 32 };
    let mut f = Vec::with_capacity(34 + l4 + payload);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    let ip_len = u16::try_from(20 + l4 + payload).unwrap_or(0);
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&ip_len.to_be_bytes());
    let proto = if tcp.is_some() { 6 } else { 17 };
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    match tcp {
        Some((seq, ack, flags)) => {
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&ack.to_be_bytes());
            f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        }
        None => {
            f.extend_from_slice(&u16::try_from(8 + payload).unwrap_or(0).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
            f.resize(f.len() + payload, 0x61);
        }
    }
    f
}

/// Write the M-flow capture; returns its packet count.
pub fn write_flows_capture(path: &Path, flows: u32) -> Result<u64> {
    let mut w = BufWriter::new(File::create(path)?);
    w.write_all(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0])?;
    w.write_all(&[0; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let mut n = 0u64;
    let mut put = |w: &mut BufWriter<File>, us: u64, f: &[u8]| -> Result<()> {
        let len = u32::try_from(f.len()).unwrap_or(0);
        w.write_all(&u32::try_from(us / 1_000_000).unwrap_or(0).to_le_bytes())?;
        w.write_all(&u32::try_from(us % 1_000_000).unwrap_or(0).to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(f)?;
        n += 1;
        Ok(())
    };
    let start = 1_700_000_000_000_000u64;
    let client = |i: u32| {
        let [_, a, b, c] = i.to_be_bytes();
        [10, a, b, c]
    };
    let server = |i: u32| [192, 0, 2, 1 + u8::try_from(i % 200).unwrap_or(0)];
    let sport = |i: u32| 1024 + u16::try_from(i % 60_000).unwrap_or(0);
    // Phase 1: every flow opens (10 µs apart).
    for i in 0..flows {
        let t = start + u64::from(i) * 10;
        let (c, s, p) = (client(i), server(i), sport(i));
        if i % 4 == 3 {
            put(&mut w, t, &frame(c, s, p, 53, None))?;
        } else {
            let isn = i.wrapping_mul(2_654_435_761);
            put(&mut w, t, &frame(c, s, p, 443, Some((isn, 0, 0x02))))?;
            put(
                &mut w,
                t + 5,
                &frame(s, c, 443, p, Some((!isn, isn.wrapping_add(1), 0x12))),
            )?;
        }
    }
    // Phase 2: every flow closes, in the same order.
    let mid = start + u64::from(flows) * 10 + 1_000;
    for i in 0..flows {
        let t = mid + u64::from(i) * 10;
        let (c, s, p) = (client(i), server(i), sport(i));
        if i % 4 == 3 {
            put(&mut w, t, &frame(s, c, 53, p, None))?;
        } else {
            let isn = i.wrapping_mul(2_654_435_761);
            put(
                &mut w,
                t,
                &frame(c, s, p, 443, Some((isn.wrapping_add(1), 0, 0x04))),
            )?;
        }
    }
    w.flush()?;
    Ok(n)
}

/// Wall seconds and peak RSS (MiB) of one run under GNU time; stdout
/// discarded.
fn measure(prog: &str, args: &[&str]) -> Result<(f64, Option<u64>)> {
    let rss = std::env::temp_dir().join("pcapx-bench-rss.txt");
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", "-o"]).arg(&rss).arg(prog);
        c
    } else {
        Command::new(prog)
    };
    let t = Instant::now();
    let st = cmd
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let secs = t.elapsed().as_secs_f64();
    if !st.success() {
        return Err(format!("{prog} {args:?} failed: {st}").into());
    }
    let mib = timed
        .then(|| std::fs::read_to_string(&rss).ok())
        .flatten()
        .and_then(|s| s.lines().rev().find_map(|l| l.trim().parse::<u64>().ok()))
        .map(|kib| kib / 1024);
    Ok((secs, mib))
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Run the benchmark on `captures` (label, path) with the release binary
/// `pcapx`; `runs` alternating rounds. Returns the BENCHMARKS.md section.
pub fn section(pcapx: &str, captures: &[(&str, PathBuf)], runs: usize) -> Result<String> {
    use std::fmt::Write as _;
    let mut s = String::new();
    writeln!(s, "{HEADING}\n")?;
    writeln!(
        s,
        "`pcapx flows F --to csv -o OUT` (every protocol, Zeek-style rows) against `tshark -n -q -r F -z conv,tcp -z conv,udp` (both tables in one pass), alternating, {runs} round(s) each, wall time and peak RSS by GNU time. **The machine was loaded** (2 cores shared by several engineers and a fuzzing campaign; the 1-minute load average before each run is listed), so only the ratios measured side by side in the same round mean much; tshark is single-threaded, pcapx used its default threads.\n"
    )?;
    writeln!(
        s,
        "| capture | round | load | pcapx flows s | pcapx RSS MiB | tshark conv s | tshark RSS MiB | speed-up |"
    )?;
    writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|")?;
    let tmp = std::env::temp_dir().join("pcapx-bench");
    std::fs::create_dir_all(&tmp)?;
    let out = tmp.join("flows.csv").to_string_lossy().into_owned();
    for (label, path) in captures {
        let f = path.to_string_lossy().into_owned();
        for round in 1..=runs.max(1) {
            let l1 = load();
            eprintln!("bench-flows: {label} round {round}: pcapx");
            let (ps, pm) = measure(pcapx, &["flows", &f, "--to", "csv", "-o", &out])?;
            eprintln!("bench-flows: {label} round {round}: tshark");
            let (ts, tm) = measure(
                "tshark",
                &["-n", "-q", "-r", &f, "-z", "conv,tcp", "-z", "conv,udp"],
            )?;
            let mib = |m: Option<u64>| m.map_or("?".into(), |v| v.to_string());
            writeln!(
                s,
                "| {label} | {round} | {l1} | {ps:.2} | {} | {ts:.2} | {} | {:.1}× |",
                mib(pm),
                mib(tm),
                ts / ps
            )?;
        }
    }
    writeln!(
        s,
        "\nThe flows capture has every flow open at once (all SYNs and queries, then all RSTs and responses): `pcapx flows` memory grows with concurrent flows (its flow table holds each live one), while the per-packet stream numbering of packet tables is bounded (262,144 conversations per transport, see README). Made by `cargo xtask bench-flows`."
    )?;
    Ok(s)
}

pub fn run(args: &[String]) -> Result<std::process::ExitCode> {
    let root = crate::workspace_root();
    let (mut packets, mut flows, mut runs) = (1_000_000u64, 1_000_000u32, 1usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packets" => {
                packets = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--packets: {e}"))?;
            }
            "--flows" => {
                flows = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--flows: {e}"))?;
            }
            "--runs" => {
                runs = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?;
            }
            other => return Err(format!("bench-flows: unknown argument '{other}'").into()),
        }
    }
    let bench = crate::bench::ensure_data(&root, packets)?;
    let fpath = root.join(format!("bench-data/flows-{flows}.pcap"));
    if !fpath.exists() {
        eprintln!("bench-flows: writing {}", fpath.display());
        let n = write_flows_capture(&fpath, flows)?;
        eprintln!("bench-flows: {n} packets");
    }
    let bin = crate::bench::build_release(&root)?;
    let sec = section(
        &bin,
        &[
            (&format!("bench-{packets}.pcap") as &str, bench),
            (&format!("flows-{flows}.pcap"), fpath),
        ]
        .map(|(l, p)| (l, p)),
        runs,
    )?;
    let out = root.join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&out).unwrap_or_default();
    std::fs::write(&out, crate::bench::replace_section(&doc, &sec))?;
    eprintln!("bench-flows: wrote {}", out.display());
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_capture_has_the_flows_it_says() {
        let dir = std::env::temp_dir().join(format!("pcapx-flowbench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.pcap");
        // 8 flows: 6 TCP × 3 packets + 2 UDP × 2.
        assert_eq!(write_flows_capture(&p, 8).unwrap(), 22);
        assert_eq!(
            std::fs::metadata(&p).unwrap().len(),
            24 + 18 * (16 + 54) + 4 * (16 + 74)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
