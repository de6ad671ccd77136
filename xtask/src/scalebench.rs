//! The "Parallel scaling" section of BENCHMARKS.md (`cargo xtask bench`, or
//! alone with `cargo xtask bench-scaling`): the ratios measured side
//! by side in one run — `convert --to csv` against `cat F > /dev/null`, CPU
//! per row, Parquet against CSV-to-file, `stats` against `count` — and the
//! `--threads 1` / `--threads N` table with the serial fraction each
//! speed-up implies (Amdahl).

use std::path::Path;

use crate::Result;

const HEADING: &str = "## Parallel scaling";

// Wall and CPU (user + system) seconds of one run, output discarded.
use crate::appbench::timed as run_once;

/// Two commands measured side by side: one warm-up each, then `runs`
/// alternating runs (a, b, a, b, …), so that a slow spell of this shared
/// machine falls on both.
struct Pair {
    /// Median wall and CPU of each.
    a: (f64, f64),
    b: (f64, f64),
    /// Median of the per-round ratios a / b (wall).
    ratio: f64,
}

fn measure_pair(prog: &str, a: &[String], b: &[String], runs: usize) -> Result<Pair> {
    run_once(prog, a)?;
    run_once(prog, b)?;
    let (mut wa, mut ca, mut wb, mut cb, mut r) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let (w1, c1) = run_once(prog, a)?;
        let (w2, c2) = run_once(prog, b)?;
        wa.push(w1);
        ca.push(c1);
        wb.push(w2);
        cb.push(c2);
        r.push(w1 / w2);
    }
    Ok(Pair {
        a: (median(wa), median(ca)),
        b: (median(wb), median(cb)),
        ratio: median(r),
    })
}

/// Median wall and median CPU of `runs` runs after one warm-up.
fn measure(prog: &str, args: &[String], runs: usize) -> Result<(f64, f64)> {
    run_once(prog, args)?;
    let (mut w, mut c) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let (a, b) = run_once(prog, args)?;
        w.push(a);
        c.push(b);
    }
    Ok((median(w), median(c)))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

/// Serial fraction `s` from a speed-up `k` on `n` workers:
/// `k = 1 / (s + (1 - s) / n)`.
fn serial_fraction(k: f64, n: f64) -> f64 {
    if n <= 1.0 {
        return f64::NAN;
    }
    ((n / k) - 1.0) / (n - 1.0)
}

/// Alternating rounds per pair at least: wall times on a shared 2-core VM
/// vary by 10–30 % from run to run, in spells.
const MIN_ROUNDS: usize = 7;

/// The section, measured with `bin` on `data` (`runs` runs per job, at
/// least [`MIN_ROUNDS`] alternating rounds per compared pair).
pub fn section(bin: &str, data: &Path, runs: usize) -> Result<String> {
    use std::fmt::Write as _;
    let rounds = runs.max(MIN_ROUNDS);
    let f = data.to_string_lossy().into_owned();
    let tmp = std::env::temp_dir().join("pcapx-bench");
    std::fs::create_dir_all(&tmp)?;
    let out = |n: &str| tmp.join(n).to_string_lossy().into_owned();
    let n: usize = std::thread::available_parallelism().map_or(1, usize::from);
    let nt = n.to_string();

    // Rows of the tutorial table (for CPU per row).
    let csv = out("scale-rows.csv");
    run_once(bin, &s(&["convert", &f, "--to", "csv", "-o", &csv]))?;
    let rows = std::fs::read(&csv)?
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1);
    let cat = measure("sh", &s(&["-c", &format!("cat '{f}' > /dev/null")]), runs)?;

    let jobs: [(&str, Vec<String>); 5] = [
        ("convert --to csv", s(&["convert", &f, "--to", "csv"])),
        ("convert --to jsonl", s(&["convert", &f, "--to", "jsonl"])),
        (
            "convert -o x.parquet",
            s(&["convert", &f, "-o", &out("scale.parquet")]),
        ),
        (
            "stats --group-by src --sum payload",
            s(&["stats", &f, "--group-by", "src", "--sum", "payload"]),
        ),
        ("count", s(&["count", &f])),
    ];
    let mut m = String::new();
    writeln!(m, "{HEADING}\n")?;
    writeln!(
        m,
        "`cargo xtask bench` (or `cargo xtask bench-scaling`) on `{}`, {n} cores. Each comparison is measured side by side: one warm-up each, then {rounds} alternating rounds (`--threads 1`, `--threads {n}`, `--threads 1`, …); walls and CPU are medians, a speed-up or ratio is the median of the per-round ratios, so a slow spell of the shared machine falls on both sides. CPU is user + system time of the process (GNU time). The serial fraction is what Amdahl's law gives for the measured speed-up: s = (N/k − 1)/(N − 1) for speed-up k on N threads. `--threads N` is the number of threads doing work: with 1 everything (reading, the stream pass, dissection, encoding, writing) runs on one thread; with N the caller's thread reads and writes and also processes batches beside N − 1 workers.\n",
        data.file_name()
            .map(|x| x.to_string_lossy().into_owned())
            .unwrap_or_default()
    )?;
    writeln!(
        m,
        "| job | --threads 1 wall | --threads {n} wall | speed-up | serial fraction | CPU (--threads {n}) |\n|---|---:|---:|---:|---:|---:|"
    )?;
    let mut walls = Vec::new();
    for (name, args) in &jobs {
        let mut a1 = args.clone();
        a1.extend(s(&["--threads", "1"]));
        let mut an = args.clone();
        an.extend(s(&["--threads", &nt]));
        let p = measure_pair(bin, &a1, &an, rounds)?;
        let (w1, (wn, cn), k) = (p.a.0, p.b, p.ratio);
        #[allow(clippy::cast_precision_loss)]
        let sf = serial_fraction(k, n as f64);
        // A speed-up below 1 (noise on a loaded machine) implies no
        // meaningful serial fraction.
        let sf = if (1.0..=n as f64).contains(&k) {
            format!("{:.0} %", sf * 100.0)
        } else {
            "—".to_owned()
        };
        writeln!(
            m,
            "| {name} | {w1:.3} s | {wn:.3} s | {k:.2}× | {sf} | {cn:.2} s |"
        )?;
        walls.push((*name, wn, cn));
    }
    let get = |name: &str| walls.iter().find(|(x, ..)| *x == name).copied();
    writeln!(m)?;
    if let Some((_, w, c)) = get("convert --to csv") {
        #[allow(clippy::cast_precision_loss)]
        let per_row = c / rows.max(1) as f64 * 1e6;
        writeln!(
            m,
            "- `convert --to csv` (to /dev/null): {w:.3} s = {:.1}× `cat F > /dev/null` ({:.3} s, same run; target ≤ 6×); CPU {c:.2} s over {rows} rows = {per_row:.2} µs per row (target ≤ 0.8 µs).",
            w / cat.0,
            cat.0
        )?;
    }
    let pq = measure_pair(
        bin,
        &s(&["convert", &f, "-o", &out("scale.parquet")]),
        &s(&["convert", &f, "--to", "csv", "-o", &csv]),
        rounds,
    )?;
    writeln!(
        m,
        "- Parquet vs CSV, both to a file ({rounds} alternating rounds): {:.3} s vs {:.3} s, median ratio {:.2}× (target ≤ 1.3×).",
        pq.a.0, pq.b.0, pq.ratio
    )?;
    let sc = measure_pair(
        bin,
        &s(&["stats", &f, "--group-by", "src", "--sum", "payload"]),
        &s(&["count", &f]),
        rounds,
    )?;
    writeln!(
        m,
        "- `stats --group-by src --sum payload` vs `count` ({rounds} alternating rounds): {:.3} s vs {:.3} s, median ratio {:.2}× (target ≤ 1.5×).",
        sc.a.0, sc.b.0, sc.ratio
    )?;
    Ok(m)
}

/// `cargo xtask bench-scaling [--packets N] [--runs N]`: only this section.
pub fn run(args: &[String]) -> Result<std::process::ExitCode> {
    let root = crate::workspace_root();
    let (mut packets, mut runs) = (1_000_000u64, 3usize);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packets" => {
                packets = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--packets: {e}"))?;
            }
            "--runs" => {
                runs = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?;
            }
            other => return Err(format!("bench-scaling: unknown argument '{other}'").into()),
        }
    }
    let data = crate::bench::ensure_data(&root, packets)?;
    let bin = crate::bench::build_release(&root)?;
    let sec = section(&bin, &data, runs)?;
    let path = root.join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, crate::bench::replace_section(&doc, &sec))?;
    eprintln!("bench-scaling: wrote {}", path.display());
    Ok(std::process::ExitCode::SUCCESS)
}
