//! Plugins through the real binary: `--plugin`, `PCAPX_PLUGIN_PATH`,
//! `pcapx plugins`, and plugin fields first-class in fields/summary/convert/
//! stats, checked against tshark; load errors exit 2 naming the file.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{ok, pcapx, stderr, stdout};

/// Build the example NTP plugin (Rust) and the TFTP plugin (C) once.
fn plugins() -> &'static (PathBuf, Option<PathBuf>) {
    static BUILT: OnceLock<(PathBuf, Option<PathBuf>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = common::root();
        let target = root.join("target/plugins");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--quiet", "--manifest-path"])
            .arg(root.join("plugins/Cargo.toml"))
            .args(["-p", "pcapx-plugin-ntp"])
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo");
        assert!(st.success(), "building the NTP plugin failed");
        let ntp = target.join("debug/libpcapx_plugin_ntp.so");
        let cdir = target.join("cli-c");
        std::fs::create_dir_all(&cdir).unwrap();
        let tftp = cdir.join("libtftp.so");
        let built = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-Wall", "-I"])
            .arg(root.join("crates/plugin-abi/include"))
            .arg(root.join("plugins/tftp/tftp.c"))
            .arg("-o")
            .arg(&tftp)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            built || std::env::var_os("CI").is_none(),
            "CI is set but the C plugin did not build"
        );
        (ntp, built.then_some(tftp))
    })
}

#[test]
fn plugin_listing_and_fields() {
    let (ntp, _) = plugins();
    let n = ntp.to_str().unwrap();
    let list = ok(&["plugins", "--plugin", n]);
    assert!(
        list.contains("ntp") && list.contains("udp.port=123"),
        "{list}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["plugins", "--json", "--plugin", n])).unwrap();
    assert!(j.to_string().contains("ntp.stratum"));
    let f = ok(&["fields", "--layer", "ntp", "--plugin", n]);
    assert!(f.contains("ntp.stratum") && f.contains("ntp.xmt"), "{f}");
    // Without the plugin the field is unknown, with a hint.
    let o = pcapx(&["fields", "--layer", "ntp"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn plugin_path_env_loads_a_folder() {
    let (ntp, _) = plugins();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(ntp, dir.path().join("ntp.so")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args(["plugins"])
        .env("PCAPX_PLUGIN_PATH", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ntp"));
}

#[test]
fn ntp_plugin_fields_match_tshark_everywhere() {
    let Some(c) = common::corpus("ntp_plugin_fields_match_tshark_everywhere") else {
        return;
    };
    let (ntp, _) = plugins();
    let n = ntp.to_str().unwrap();
    let f = c.join("ethernet-ipv4/ntp.pcap");
    let f = f.to_str().unwrap();
    let summary = ok(&["summary", f, "--plugin", n]);
    assert!(summary.lines().all(|l| l.contains("/ NTP")), "{summary}");
    let ours = ok(&[
        "convert",
        f,
        "--plugin",
        n,
        "--fields",
        "frame.number,ntp.stratum,ntp.flags.mode,ntp.ppoll",
        "--to",
        "csv",
    ]);
    let stats = ok(&[
        "stats",
        f,
        "--plugin",
        n,
        "--group-by",
        "ntp.flags.mode",
        "--count",
        "--format",
        "csv",
    ]);
    assert!(stats.starts_with("ntp.flags.mode,count"), "{stats}");
    if !common::tool("tshark", "ntp_plugin_fields_match_tshark_everywhere") {
        return;
    }
    let theirs = common::tshark_fields(
        f,
        &["frame.number", "ntp.stratum", "ntp.flags.mode", "ntp.ppoll"],
    );
    let ours_rows: Vec<&str> = ours.lines().skip(1).collect();
    let theirs_rows: Vec<&str> = theirs.lines().collect();
    assert_eq!(ours_rows, theirs_rows, "pcapx vs tshark");
}

#[test]
fn tftp_c_plugin_matches_tshark() {
    let Some(c) = common::corpus("tftp_c_plugin_matches_tshark") else {
        return;
    };
    let (_, tftp) = plugins();
    let Some(tftp) = tftp else { return };
    let f = c.join("ethernet-ipv4/tftp.pcap");
    let f = f.to_str().unwrap();
    let ours = ok(&[
        "convert",
        f,
        "--plugin",
        tftp.to_str().unwrap(),
        "--fields",
        "frame.number,tftp.opcode,tftp.block",
        "--to",
        "csv",
    ]);
    if !common::tool("tshark", "tftp_c_plugin_matches_tshark") {
        return;
    }
    let theirs = common::tshark_fields(f, &["frame.number", "tftp.opcode", "tftp.block"]);
    let ours_rows: Vec<&str> = ours.lines().skip(1).collect();
    assert_eq!(ours_rows, theirs.lines().collect::<Vec<_>>());
}

#[test]
fn bad_plugin_is_a_load_error_naming_the_file() {
    let o = pcapx(&[
        "count",
        "fixtures/tutorial.pcap",
        "--plugin",
        "fixtures/not-a-capture.pcap",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("fixtures/not-a-capture.pcap"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}
