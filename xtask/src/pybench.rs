//! The "Python" section of BENCHMARKS.md: `crates/python/bench/bench_python.py`
//! (pcapx.read vs convert + pyarrow, vs the Scapy tutorial loop on 100k
//! packets, peak RSS of pcapx.batches), run in the virtual environment
//! `target/py-venv` (or `PCAPX_VENV`) after `maturin develop --release`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;

/// The section's Markdown, or `None` (with the reason on standard error)
/// when the environment is missing.
pub fn section(root: &Path, data: &Path, bin: &str, runs: usize) -> Result<Option<String>> {
    let venv = std::env::var_os("PCAPX_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/py-venv"));
    let python = venv.join("bin/python");
    let maturin = venv.join("bin/maturin");
    if !python.exists() || !maturin.exists() {
        eprintln!(
            "bench: Python jobs skipped (no virtual environment with maturin at {}; bash .ci/run makes it)",
            venv.display()
        );
        return Ok(None);
    }
    let built = Command::new(&maturin)
        .args(["develop", "--release", "--quiet", "-m"])
        .arg(root.join("crates/python/Cargo.toml"))
        .env("VIRTUAL_ENV", &venv)
        .status()?;
    if !built.success() {
        return Err("maturin develop --release failed".into());
    }
    let out = Command::new(&python)
        .arg(root.join("crates/python/bench/bench_python.py"))
        .arg(data)
        .arg(bin)
        .arg(runs.to_string())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "bench_python.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let body = String::from_utf8_lossy(&out.stdout);
    Ok(Some(format!(
        "## Python\n\n`python crates/python/bench/bench_python.py {} pcapx {runs}` (release extension, `maturin develop --release`):\n\n{body}\n",
        data.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    )))
}

/// `doc` with `section` placed before "## Plugin boundary" (or at the end).
pub fn insert(doc: &str, section: &str) -> String {
    match doc.find("## Plugin boundary") {
        Some(i) => format!("{}{section}\n{}", &doc[..i], &doc[i..]),
        None => format!("{doc}\n{section}"),
    }
}
