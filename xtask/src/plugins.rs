//! `cargo xtask plugins [--out DIR]`: builds the example plugins (NTP in
//! Rust, TFTP in C) in release mode and puts them in one folder, so that
//! `PCAPX_PLUGIN_PATH=DIR` gives a user both with one command.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use crate::{Result, value, workspace_root};

pub fn run(args: &[String]) -> Result<ExitCode> {
    let root = workspace_root();
    let mut out = root.join("target/pcapx-plugins");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = PathBuf::from(value(&mut it, a)?),
            other => return Err(format!("plugins: unknown argument '{other}'").into()),
        }
    }
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let target = root.join("target/plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(root.join("plugins/Cargo.toml"))
        .args(["-p", "pcapx-plugin-ntp"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !st.success() {
        return Err("building the NTP plugin failed".into());
    }
    let ntp = out.join("ntp.so");
    fs::copy(target.join("release/libpcapx_plugin_ntp.so"), &ntp)
        .map_err(|e| format!("{}: {e}", ntp.display()))?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let tftp = out.join("tftp.so");
    let st = Command::new(&cc)
        .args(["-std=c99", "-O2", "-Wall", "-shared", "-fPIC", "-I"])
        .arg(root.join("crates/plugin-abi/include"))
        .arg(root.join("plugins/tftp/tftp.c"))
        .arg("-o")
        .arg(&tftp)
        .status()
        .map_err(|e| format!("{cc}: {e} (a C compiler is needed for the TFTP plugin)"))?;
    if !st.success() {
        return Err(format!("{cc} plugins/tftp/tftp.c failed").into());
    }
    println!("{}", ntp.display());
    println!("{}", tftp.display());
    println!("export PCAPX_PLUGIN_PATH={}", out.display());
    Ok(ExitCode::SUCCESS)
}
