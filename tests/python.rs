//! Runs the Python package's pytest suite (`crates/python/tests/*.py`) as
//! part of `cargo nextest run --workspace`: builds the extension into the
//! virtual environment with `maturin develop` (the workspace's `target/` and
//! the test profile's opt-level, so the Rust tests' artifacts are reused), then
//! runs pytest against this package's `pcapx` binary (the oracle the Python
//! package must agree with).
//!
//! The environment: `PCAPX_VENV` or `target/py-venv` (`.ci/run` creates it
//! with maturin, pytest, pandas, pyarrow, scapy, pyspark and matplotlib).
//! Without it the test prints `skipped` — and fails under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

#[test]
fn pytest_suite() {
    let root = root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let venv = std::env::var_os("PCAPX_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target.join("py-venv"));
    let python = venv.join("bin/python");
    let maturin = venv.join("bin/maturin");
    if !python.exists() || !maturin.exists() {
        assert!(
            !ci(),
            "pytest_suite: the virtual environment {} (with maturin) is required under CI",
            venv.display()
        );
        println!(
            "skipped pytest_suite: no virtual environment at {} (bash .ci/run creates it; or set PCAPX_VENV)",
            venv.display()
        );
        return;
    }
    let status = Command::new(&maturin)
        .args(["develop", "--quiet", "-m"])
        .arg(root.join("crates/python/Cargo.toml"))
        .env("VIRTUAL_ENV", &venv)
        .env("CARGO_TARGET_DIR", &target)
        // The dev profile with the test profile's opt-level: the same
        // settings, so the dependencies the Rust tests built are reused
        // (`--profile test` would build the library as a test harness).
        .env("CARGO_PROFILE_DEV_OPT_LEVEL", "1")
        .status()
        .expect("maturin develop");
    assert!(status.success(), "maturin develop failed");
    let mut pytest = Command::new(&python);
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("crates/python/tests"))
        .current_dir(&root)
        .env("PCAPX_BIN", env!("CARGO_BIN_EXE_pcapx"));
    let out = pytest.output().expect("pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pytest failed (see above)");
}
