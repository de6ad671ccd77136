//! `cargo xtask <task>`: project automation.
//!
//! Tasks:
//! - `test-fixtures [--check]`: write (or verify) the small captures in `fixtures/`.
//! - `bench-data [--packets N] [--out DIR] [--pcapng] [--seed S] [--app]`: a large deterministic capture for benchmarks
//!   (`--app`: TLS and HTTP conversations).
//! - `bench --app`: the application-field benchmark against tshark ([`appbench`]).
//! - `fuzz --list | fuzz TARGET [--seconds N]`: coverage-guided fuzzing ([`fuzz`]).
//!
//! Modules: [`packets`] holds the frame builders every task shares, [`fixtures`]
//! the fixture table, [`benchdata`] the benchmark traffic model. A `bench` task
//! plugs in as one more module and one more arm in [`main`].

mod appbench;
mod bench;
mod benchdata;
mod capbench;
mod fixtures;
mod flowbench;
mod fuzz;
mod packets;
mod plugins;
mod pybench;
mod scalebench;

use std::path::PathBuf;
use std::process::ExitCode;

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Errors of this binary: anything printable.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test-fixtures [--check] [--dir DIR]
      write the fixtures into fixtures/ (or DIR); with --check, regenerate in
      memory and exit 1 naming every file that differs from the committed one
  bench-data [--packets N] [--out DIR] [--pcapng] [--seed S] [--app]
      write a deterministic benchmark capture (default 1000000 packets into
      bench-data/)
  bench [--packets N] [--runs R] [--ref-runs R] [--out FILE]
      run the benchmarks on bench-data/bench-N.pcap (generated if missing)
      side by side with tshark/tcpdump and rewrite BENCHMARKS.md
  bench --app [--packets N] [--runs R] [--out FILE]
      application fields only: convert --fields frame.number,ip.src,
      tls.handshake.extensions_server_name,http.host against tshark -T fields
      on bench-data/bench-app-N.pcap (bench-data --app; default 300000),
      alternating runs; rewrites that BENCHMARKS.md section
  bench-flows [--packets N] [--flows M] [--runs R]
      pcapx flows vs tshark -z conv,tcp -z conv,udp on bench-N.pcap and on
      bench-data/flows-M.pcap (M distinct flows all open at once, default
      1000000; generated if missing), with peak RSS; rewrites the
      Conversations section of BENCHMARKS.md
  bench-scaling [--packets N] [--runs R]
      only the Parallel scaling section: --threads 1 vs all cores for convert
      (CSV, JSONL, Parquet), stats and count, the serial fraction, and the
      issue's ratios (csv vs cat, CPU per row, Parquet vs CSV, stats vs count)
  bench-capture [--packets N] [--limit L] [--runs R]
      live capture under load only (root): tcpreplay --topspeed the first L
      packets (0: all) of bench-N.pcap onto a veth in a private namespace while
      pcapx, then tcpdump, captures the peer; updates that BENCHMARKS.md section
  plugins [--out DIR]
      build the example plugins (NTP in Rust, TFTP in C) into DIR (default
      target/pcapx-plugins) and print the PCAPX_PLUGIN_PATH line to use them
  fuzz --list | fuzz TARGET [--seconds N] [--seed N] [--seeds]
      list the fuzz targets, or run one (libFuzzer via cargo-fuzz) for N
      seconds (default 60) on its seed corpus in fuzz/corpus/TARGET; exits
      non-zero on a crash, timeout or out-of-memory (see FUZZING.md);
      --seed N fixes libFuzzer's random seed (reproducible runs, as in CI)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    let Some((task, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Ok(ExitCode::from(2));
    };
    match task.as_str() {
        "test-fixtures" => test_fixtures(rest),
        "bench-data" => bench_data(rest),
        "bench" if rest.iter().any(|a| a == "--app") => appbench::run(rest),
        "bench" => bench::run(rest),
        "bench-capture" => capbench::run(rest),
        "bench-flows" => flowbench::run(rest),
        "bench-scaling" => scalebench::run(rest),
        "fuzz" => fuzz::run(rest),
        "plugins" => plugins::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown task '{other}'\n{USAGE}").into()),
    }
}

/// Pulls the value following a flag.
fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a String> {
    it.next()
        .ok_or_else(|| format!("{flag} needs a value").into())
}

fn test_fixtures(args: &[String]) -> Result<ExitCode> {
    let mut check = false;
    let mut dir = fixtures::default_dir();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--dir" => dir = PathBuf::from(value(&mut it, a)?),
            other => return Err(format!("test-fixtures: unknown argument '{other}'").into()),
        }
    }
    if check {
        let drift = fixtures::check(&dir)?;
        if drift.is_empty() {
            println!(
                "fixtures up to date ({} files in {})",
                fixtures::FIXTURES.len() + 1,
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!(
            "fixtures out of date in {}: {}",
            dir.display(),
            drift.join(", ")
        );
        eprintln!("run `cargo xtask test-fixtures` and commit the result");
        return Ok(ExitCode::from(1));
    }
    let written = fixtures::write_all(&dir)?;
    let total: usize = written.iter().map(|(_, n)| n).sum();
    for (name, n) in &written {
        println!("{n:>8}  {name}");
    }
    println!("{total:>8}  total in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn bench_data(args: &[String]) -> Result<ExitCode> {
    let mut opts = benchdata::Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packets" => {
                opts.packets = value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--packets: {e}"))?
            }
            "--out" => opts.out = PathBuf::from(value(&mut it, a)?),
            "--seed" => {
                opts.seed = value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--pcapng" => opts.pcapng = true,
            "--app" => opts.app = true,
            other => return Err(format!("bench-data: unknown argument '{other}'").into()),
        }
    }
    let s = benchdata::run(&opts)?;
    let secs = s.elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // display only
    let (mb, avg) = (
        s.bytes as f64 / 1e6,
        s.frame_bytes as f64 / s.packets.max(1) as f64,
    );
    println!(
        "{}: {} packets, {} bytes ({mb:.1} MB, average frame {avg:.0} bytes) in {secs:.2} s",
        s.path.display(),
        s.packets,
        s.bytes
    );
    Ok(ExitCode::SUCCESS)
}
