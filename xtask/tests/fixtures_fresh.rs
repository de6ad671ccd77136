//! The committed `fixtures/` must equal what `cargo xtask test-fixtures` generates.
//!
//! Runs the real binary with `--check`, so `cargo test --workspace` (and
//! `cargo nextest run --workspace`) fails when a fixture or its README drifts
//! from the generator, naming the files.

use std::path::Path;
use std::process::Command;

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("running xtask")
}

#[test]
fn committed_fixtures_are_fresh() {
    let out = xtask(&["test-fixtures", "--check"]);
    assert!(
        out.status.success(),
        "fixtures drifted (status {:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_fails_with_exit_1_and_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_str().expect("utf-8 temp path");
    assert!(xtask(&["test-fixtures", "--dir", d]).status.success());
    std::fs::write(Path::new(d).join("dns.pcap"), b"stale").expect("overwrite");
    let out = xtask(&["test-fixtures", "--check", "--dir", d]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dns.pcap"), "{err}");
    assert!(!err.contains("vlan.pcap"), "{err}");
}

#[test]
fn unknown_task_exits_2() {
    assert_eq!(xtask(&["no-such-task"]).status.code(), Some(2));
}
