//! `cargo xtask bench`: run pcapx's benchmarks on the generated capture side by
//! side with tshark/tcpdump and rewrite BENCHMARKS.md.
//!
//! Every job runs once untimed (to warm the page cache), then `--runs` times;
//! the median wall time is reported. Reference tools run `--ref-runs` times.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Result;

struct Opts {
    packets: u64,
    runs: usize,
    ref_runs: usize,
    out: PathBuf,
}

struct Job {
    name: &'static str,
    pcapx: Vec<String>,
    reference: Option<(String, Vec<String>)>,
    note: &'static str,
}

struct Outcome {
    name: &'static str,
    pcapx_cmd: String,
    pcapx_s: f64,
    ref_cmd: Option<String>,
    ref_s: Option<f64>,
    note: &'static str,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Wall time of one run of `prog args` (standard output discarded).
fn time_once(prog: &str, args: &[String]) -> Result<f64> {
    let t = Instant::now();
    let st = Command::new(prog)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{prog}: {e}"))?;
    let el = t.elapsed().as_secs_f64();
    if !st.success() {
        return Err(format!("{prog} {} failed: {st}", args.join(" ")).into());
    }
    Ok(el)
}

fn time(prog: &str, args: &[String], runs: usize) -> Result<f64> {
    time_once(prog, args)?; // warm-up
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        v.push(time_once(prog, args)?);
    }
    Ok(median(v))
}

/// `bench-data/bench-N.pcap`, generated when missing.
pub fn ensure_data(root: &Path, packets: u64) -> Result<PathBuf> {
    let data = root
        .join("bench-data")
        .join(format!("bench-{packets}.pcap"));
    if !data.exists() {
        eprintln!("bench: generating {}", data.display());
        let opts = crate::benchdata::Options {
            packets,
            ..crate::benchdata::Options::default()
        };
        crate::benchdata::run(&opts)?;
    }
    Ok(data)
}

/// Builds pcapx and its examples in release mode; returns the binary's path.
pub fn build_release(root: &Path) -> Result<String> {
    eprintln!("bench: building pcapx (release)");
    let st = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "pcapx",
            "--bins",
            "--examples",
        ])
        .current_dir(root)
        .status()?;
    if !st.success() {
        return Err("cargo build --release failed".into());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("release/pcapx").to_string_lossy().into_owned())
}

/// The number of cores, as `nproc` prints it.
pub fn nproc() -> String {
    sh("nproc")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

/// The tshark field list equivalent to the tutorial table's 26 columns.
const TSHARK_FIELDS: &[&str] = &[
    "ip.version",
    "ip.hdr_len",
    "ip.dsfield",
    "ip.len",
    "ip.id",
    "ip.flags",
    "ip.frag_offset",
    "ip.ttl",
    "ip.proto",
    "ip.checksum",
    "ip.src",
    "ip.dst",
    "ip.opt.type",
    "frame.time_epoch",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.hdr_len",
    "tcp.flags.res",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.checksum",
    "tcp.urgent_pointer",
    "tcp.option_kind",
    "tcp.len",
];

pub fn run(args: &[String]) -> Result<std::process::ExitCode> {
    let root = crate::workspace_root();
    let mut o = Opts {
        packets: 1_000_000,
        runs: 5,
        ref_runs: 1,
        out: root.join("BENCHMARKS.md"),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packets" => {
                o.packets = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--packets: {e}"))?
            }
            "--runs" => {
                o.runs = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--ref-runs" => {
                o.ref_runs = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--ref-runs: {e}"))?
            }
            "--out" => o.out = PathBuf::from(crate::value(&mut it, a)?),
            other => return Err(format!("bench: unknown argument '{other}'").into()),
        }
    }
    let data = ensure_data(&root, o.packets)?;
    let bin_s = build_release(&root)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let f = data.to_string_lossy().into_owned();
    let tmp = std::env::temp_dir().join("pcapx-bench");
    std::fs::create_dir_all(&tmp)?;
    let out = |n: &str| tmp.join(n).to_string_lossy().into_owned();

    // Dissect-only throughput (one core, the tutorial table's fields).
    eprintln!("bench: dissect-only throughput");
    let dis = Command::new(target.join("release/examples/dissect_throughput"))
        .args([f.as_str(), "--rounds", "5"])
        .output()?;
    let dissect_line = String::from_utf8_lossy(&dis.stdout).trim().to_owned();

    // Peak memory of the main job (GNU time's maximum resident set size).
    let rss_kb = if Path::new("/usr/bin/time").exists() {
        let o = Command::new("/usr/bin/time")
            .args([
                "-f",
                "%M",
                &bin_s,
                "convert",
                &f,
                "--to",
                "csv",
                "-o",
                &out("rss.csv"),
            ])
            .output()?;
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok())
    } else {
        None
    };

    // The plugin boundary: the same layer as a built-in and as a plugin.
    eprintln!("bench: plugin boundary overhead");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let plugins_ok = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "-q",
            "--manifest-path",
            "plugins/Cargo.toml",
        ])
        .env("CARGO_TARGET_DIR", target.join("plugins"))
        .current_dir(&root)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(&cargo)
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "pcapx-plugin-host",
                "--example",
                "plugin_overhead",
            ])
            .current_dir(&root)
            .status()
            .is_ok_and(|s| s.success());
    let plugin_line = if plugins_ok {
        let o = Command::new(target.join("release/examples/plugin_overhead"))
            .arg(target.join("plugins/release"))
            .output()?;
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    } else {
        "(plugins did not build)".to_owned()
    };

    let help_ok = |cmd: &str| {
        Command::new(&bin_s)
            .args([cmd, "--help"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut tshark_csv = s(&[
        "-n",
        "-r",
        &f,
        "-T",
        "fields",
        "-E",
        "separator=,",
        "-E",
        "occurrence=f",
    ]);
    for fld in TSHARK_FIELDS {
        tshark_csv.push("-e".into());
        tshark_csv.push((*fld).into());
    }
    let mut jobs = vec![
        Job {
            name: "convert --to csv (tutorial table)",
            pcapx: s(&["convert", &f, "--to", "csv"]),
            reference: have("tshark").then(|| ("tshark".to_owned(), tshark_csv.clone())),
            note: "both write the same 26 columns to standard output, which the harness discards (/dev/null)",
        },
        Job {
            name: "convert --to csv --threads 1",
            pcapx: s(&["convert", &f, "--to", "csv", "--threads", "1"]),
            reference: None,
            note: "single worker thread",
        },
        Job {
            name: "convert --to csv -o file",
            pcapx: s(&["convert", &f, "--to", "csv", "-o", &out("t.csv")]),
            reference: None,
            note: "writing the 114 MB CSV to a file",
        },
        Job {
            name: "convert --to parquet",
            pcapx: s(&["convert", &f, "-o", &out("t.parquet")]),
            reference: None,
            note: "Parquet needs a file; compare with `convert --to csv -o file` (the bar is within 2x)",
        },
        Job {
            name: "convert --to jsonl",
            pcapx: s(&["convert", &f, "--to", "jsonl"]),
            reference: None,
            note: "",
        },
        Job {
            name: "count (dissect everything, no output)",
            pcapx: s(&["count", &f]),
            reference: have("tshark").then(|| {
                (
                    "tshark".to_owned(),
                    s(&["-n", "-r", &f, "-q", "-z", "io,phs"]),
                )
            }),
            note: "sequential; tshark -z io,phs is the closest overview",
        },
    ];
    if help_ok("stats") {
        jobs.push(Job {
            name: "stats --group-by src --sum payload",
            pcapx: s(&[
                "stats",
                &f,
                "--group-by",
                "src",
                "--sum",
                "payload",
                "--format",
                "csv",
            ]),
            reference: have("tshark").then(|| {
                (
                    "tshark".to_owned(),
                    s(&["-n", "-r", &f, "-q", "-z", "endpoints,ip"]),
                )
            }),
            note: "tshark -q -z endpoints,ip",
        });
    }
    if help_ok("filter") {
        jobs.push(Job {
            name: "filter 'tcp and port 443' -o",
            pcapx: s(&["filter", &f, "tcp and port 443", "-o", &out("f.pcap")]),
            reference: have("tcpdump").then(|| {
                (
                    "tcpdump".to_owned(),
                    s(&["-r", &f, "-w", &out("td.pcap"), "tcp and port 443"]),
                )
            }),
            note: "tcpdump -r F -w out 'tcp and port 443'",
        });
    }

    let mut results = Vec::new();
    for j in &jobs {
        eprintln!("bench: {}", j.name);
        let p = time(&bin_s, &j.pcapx, o.runs)?;
        let (rc, rs) = match &j.reference {
            Some((prog, args)) => (
                Some(format!("{prog} {}", quote(args))),
                Some(time(prog, args, o.ref_runs)?),
            ),
            None => (None, None),
        };
        results.push(Outcome {
            name: j.name,
            pcapx_cmd: format!("pcapx {}", quote(&j.pcapx)),
            pcapx_s: p,
            ref_cmd: rc,
            ref_s: rs,
            note: j.note,
        });
    }
    let size = std::fs::metadata(&data).map(|m| m.len()).unwrap_or(0);
    write_report(
        &o,
        &data,
        size,
        &dissect_line,
        &results,
        rss_kb,
        &plugin_line,
    )?;
    // The issue's ratios and the --threads scaling table.
    eprintln!("bench: parallel scaling");
    match crate::scalebench::section(&bin_s, &data, o.runs) {
        Ok(sec) => {
            let doc = std::fs::read_to_string(&o.out)?;
            std::fs::write(&o.out, replace_section(&doc, &sec))?;
        }
        Err(e) => eprintln!("bench: scaling jobs failed: {e}"),
    }
    // Conversations: flows vs tshark -z conv on this capture and the
    // 1M-flow capture.
    let fpath = root.join("bench-data/flows-1000000.pcap");
    if have("tshark")
        && (fpath.exists() || crate::flowbench::write_flows_capture(&fpath, 1_000_000).is_ok())
    {
        let label = format!("bench-{}.pcap", o.packets);
        match crate::flowbench::section(
            &bin_s,
            &[
                (label.as_str(), data.clone()),
                ("flows-1000000.pcap", fpath),
            ],
            o.ref_runs,
        ) {
            Ok(sec) => {
                let doc = std::fs::read_to_string(&o.out)?;
                std::fs::write(&o.out, replace_section(&doc, &sec))?;
            }
            Err(e) => eprintln!("bench: conversations job failed: {e}"),
        }
    }
    // Live capture under load (needs root, ip, tcpreplay, tcpdump).
    let root_user = sh("id -u") == "0";
    if root_user && have("ip") && have("tcpreplay") && have("tcpdump") {
        match crate::capbench::section(&bin_s, &data, 0, 1) {
            Ok(sec) => {
                let doc = std::fs::read_to_string(&o.out)?;
                std::fs::write(&o.out, replace_section(&doc, &sec))?;
            }
            Err(e) => eprintln!("bench: live capture job failed: {e}"),
        }
    } else {
        eprintln!("bench: live capture job skipped (needs root, ip, tcpreplay and tcpdump)");
    }
    // The Python package (needs the virtual environment .ci/run makes).
    match crate::pybench::section(&root, &data, &bin_s, o.runs.min(3)) {
        Ok(Some(sec)) => {
            let doc = std::fs::read_to_string(&o.out)?;
            std::fs::write(&o.out, crate::pybench::insert(&doc, &sec))?;
        }
        Ok(None) => {}
        Err(e) => eprintln!("bench: Python jobs failed: {e}"),
    }
    eprintln!("bench: wrote {}", o.out.display());
    Ok(std::process::ExitCode::SUCCESS)
}

fn quote(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') || a.contains('\'') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .replace(
            &std::env::temp_dir()
                .join("pcapx-bench")
                .to_string_lossy()
                .into_owned(),
            "$TMP",
        )
}

fn write_report(
    o: &Opts,
    data: &Path,
    size: u64,
    dissect: &str,
    rs: &[Outcome],
    rss_kb: Option<u64>,
    plugin: &str,
) -> Result<()> {
    use std::fmt::Write as _;
    // Sections written by the other bench tasks or measured by hand are
    // kept across this rewrite.
    let old = std::fs::read_to_string(&o.out).unwrap_or_default();
    let kept: Vec<&str> = sections(&old)
        .into_iter()
        .filter(|s| !OWN_HEADINGS.iter().any(|h| s.lines().next() == Some(h)))
        .collect();
    let mut m = String::new();
    let cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
    let cores = sh("nproc");
    let mem = sh("free -g | awk '/Mem:/{print $2}'");
    let tshark = sh("tshark --version 2>/dev/null | head -1");
    let tcpdump = sh("tcpdump --version 2>&1 | head -1");
    let rustc = sh("rustc --version");
    writeln!(m, "# pcapx benchmarks\n")?;
    writeln!(
        m,
        "Generated by `cargo xtask bench --packets {} --runs {} --ref-runs {}` (rewrites this file).\n",
        o.packets, o.runs, o.ref_runs
    )?;
    writeln!(m, "- Machine: {} cores, {cpu}, {mem} GiB RAM", cores)?;
    writeln!(m, "- Tools: {rustc}; {tshark}; {tcpdump}")?;
    #[allow(clippy::cast_precision_loss)]
    let mb = size as f64 / 1e6;
    writeln!(
        m,
        "- Data: `{}` — {} packets, {mb:.0} MB, made by `cargo xtask bench-data --packets {}` (deterministic mix: mostly TCP with options, UDP/DNS, ICMP, ARP, IPv6, VLAN, padded small frames)",
        data.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        o.packets,
        o.packets
    )?;
    writeln!(
        m,
        "- Times are wall-clock medians of {} runs after one warm-up (page cache warm); reference tools: median of {}.\n",
        o.runs, o.ref_runs
    )?;
    writeln!(m, "## Dissect-only throughput\n")?;
    writeln!(
        m,
        "`cargo run --release -p pcapx --example dissect_throughput -- {}` (packets preloaded in memory, one thread, the tutorial table's fields materialised):\n",
        data.display()
    )?;
    writeln!(m, "```\n{dissect}\n```\n")?;
    writeln!(m, "## Jobs\n")?;
    writeln!(
        m,
        "| job | pcapx | reference | speed-up |\n|---|---:|---:|---:|"
    )?;
    for r in rs {
        let (rt, ratio) = match r.ref_s {
            Some(t) => (format!("{t:.2} s"), format!("{:.1}×", t / r.pcapx_s)),
            None => ("—".into(), "—".into()),
        };
        writeln!(m, "| {} | {:.3} s | {rt} | {ratio} |", r.name, r.pcapx_s)?;
    }
    let time_of = |name: &str| rs.iter().find(|r| r.name == name).map(|r| r.pcapx_s);
    if let (Some(pq), Some(csv)) = (
        time_of("convert --to parquet"),
        time_of("convert --to csv -o file"),
    ) {
        writeln!(
            m,
            "\nParquet vs CSV, both written to a file: {:.2}× the CSV time.",
            pq / csv
        )?;
    }
    if let (Some(t1), Some(tn)) = (
        time_of("convert --to csv --threads 1"),
        time_of("convert --to csv (tutorial table)"),
    ) {
        writeln!(
            m,
            "\nconvert --to csv, 1 worker thread vs {} cores: {:.2}× faster with all cores.",
            sh("nproc"),
            t1 / tn
        )?;
    }
    if let Some(kb) = rss_kb {
        #[allow(clippy::cast_precision_loss)]
        let mib = kb as f64 / 1024.0;
        writeln!(
            m,
            "\nPeak memory of `convert --to csv` on this {mb:.0} MB capture: {mib:.1} MiB maximum resident set size (GNU time); the file is memory-mapped in windows and released batch by batch, so it does not grow with the file.",
        )?;
    }
    writeln!(m, "\n### Commands\n")?;
    for r in rs {
        writeln!(m, "- **{}**: `{}`", r.name, r.pcapx_cmd)?;
        if let Some(c) = &r.ref_cmd {
            writeln!(m, "  - reference: `{c}`")?;
        }
        if !r.note.is_empty() {
            writeln!(m, "  - {}", r.note)?;
        }
    }
    writeln!(m, "\n## Plugin boundary\n")?;
    writeln!(
        m,
        "`cargo run --release -p pcapx-plugin-host --example plugin_overhead -- target/plugins/release`: the same layer dissected by a built-in and by a `.so` plugin (Rust SDK), Ethernet/IPv4/UDP + that layer, per packet:\n"
    )?;
    writeln!(m, "```\n{plugin}\n```\n")?;
    writeln!(
        m,
        "The fixed cost of crossing the boundary (the `null` layer) is the per-call overhead; each emitted field is one more host callback (about 2 ns each)."
    )?;
    for k in kept {
        writeln!(m, "\n{}", k.trim_end())?;
    }
    std::fs::write(&o.out, m)?;
    Ok(())
}

/// The sections the whole-file rewrite writes itself; every other `## `
/// section of the old file (application fields, Python, the hand-measured
/// profile, …) is kept, in its old order, after them.
const OWN_HEADINGS: &[&str] = &[
    "## Dissect-only throughput",
    "## Jobs",
    "## Plugin boundary",
];

/// Where the `## ` sections of `doc` start (each runs up to the next).
fn section_starts(doc: &str) -> Vec<usize> {
    let mut starts: Vec<usize> = doc.match_indices("\n## ").map(|(i, _)| i + 1).collect();
    if doc.starts_with("## ") {
        starts.insert(0, 0);
    }
    starts
}

/// The `## ` sections of `doc` (heading line included, each up to the next
/// `## ` heading), in order; text before the first is not a section.
fn sections(doc: &str) -> Vec<&str> {
    let starts = section_starts(doc);
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &doc[s..starts.get(k + 1).copied().unwrap_or(doc.len())])
        .collect()
}

/// `doc` with the `## ` section starting with `sec`'s first line (its
/// heading) replaced by `sec`, sub-sections included; appended when `doc`
/// has no such section. Every bench task updates BENCHMARKS.md through this.
pub fn replace_section(doc: &str, sec: &str) -> String {
    let heading = sec.lines().next().unwrap_or_default();
    let sec = format!("{}\n\n", sec.trim_end());
    let first = section_starts(doc).first().copied().unwrap_or(doc.len());
    let mut out = doc[..first].to_owned();
    let mut found = false;
    for s in sections(doc) {
        if s.lines().next() == Some(heading) {
            out.push_str(&sec);
            found = true;
        } else {
            out.push_str(s);
        }
    }
    if !found {
        let pad = out.len() - out.trim_end_matches('\n').len();
        if !out.is_empty() && pad < 2 {
            out.push_str(&"\n".repeat(2 - pad));
        }
        out.push_str(&sec);
    }
    format!("{}\n", out.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_replaced_in_place_with_its_subsections() {
        let doc = "# b\n\nintro\n\n## Jobs\n\nx\n\n### Commands\n\nc\n\n## Live\n\nold\n\n### Sub\n\ns\n\n## Plugin boundary\n\ny\n";
        let new = replace_section(doc, "## Live\n\nnew\n");
        assert_eq!(
            new,
            "# b\n\nintro\n\n## Jobs\n\nx\n\n### Commands\n\nc\n\n## Live\n\nnew\n\n## Plugin boundary\n\ny\n"
        );
        // A new section is appended; the last one is replaced up to the end.
        assert_eq!(
            replace_section("# b\n", "## S\n\nv\n"),
            "# b\n\n## S\n\nv\n"
        );
        assert_eq!(replace_section("", "## S\n\nv"), "## S\n\nv\n");
        assert_eq!(
            replace_section("# b\n\n## S\n\nold\n", "## S\n\nv\n"),
            "# b\n\n## S\n\nv\n"
        );
    }

    #[test]
    fn sections_split_at_level_two_headings_only() {
        let doc = "# t\n\n## A\n\na\n### A1\n\n## B\nb\n";
        assert_eq!(sections(doc), vec!["## A\n\na\n### A1\n\n", "## B\nb\n"]);
        assert_eq!(sections("## A\nx\n"), vec!["## A\nx\n"]);
        assert!(sections("no sections\n").is_empty());
    }
}
