//! Plugins through the real binary: `--plugin`, `PCAPX_PLUGIN_PATH`,
//! `pcapx plugins`, and plugin fields first-class in fields/summary/convert/
//! stats, checked against tshark; load errors exit 2 naming the file.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use common::{ok, pcapx, stderr, stdout};

/// Builds one package of the `plugins/` workspace (debug) and returns its
/// `.so`.
fn cargo_plugin(package: &str) -> PathBuf {
    let root = common::root();
    let target = root.join("target/plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("plugins/Cargo.toml"))
        .args(["-p", package])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo");
    assert!(st.success(), "building {package} failed");
    target.join(format!("debug/lib{}.so", package.replace('-', "_")))
}

/// The test-only plugin that panics on every packet (bound to UDP 123 and
/// 69), built once.
fn panicky() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| cargo_plugin("pcapx-test-plugin-panicky"))
}

/// Build the example NTP plugin (Rust) and the TFTP plugin (C) once.
fn plugins() -> &'static (PathBuf, Option<PathBuf>) {
    static BUILT: OnceLock<(PathBuf, Option<PathBuf>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let ntp = cargo_plugin("pcapx-plugin-ntp");
        (ntp, c_plugin("plugins/tftp/tftp.c", "tftp", &[]))
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

// ------------------------------------------------------------ native crashes

/// Builds a C plugin from `src` (relative to the repository) as
/// `lib{name}.so` with extra `-D` definitions; `None` without a C compiler
/// outside CI.
fn c_plugin(src: &str, name: &str, defines: &[&str]) -> Option<PathBuf> {
    let root = common::root();
    let dir = root.join("target/plugins/cli-c");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(format!("lib{name}.so"));
    let tmp = dir.join(format!("lib{name}.{}.tmp", std::process::id()));
    let built = Command::new("cc")
        .args(["-std=c99", "-O0", "-Wall", "-shared", "-fPIC", "-I"])
        .arg(root.join("crates/plugin-abi/include"))
        .arg(root.join(src))
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-o")
        .arg(&tmp)
        .status()
        .is_ok_and(|s| s.success());
    if !built {
        assert!(
            !common::ci(),
            "CI is set but the C test plugin did not build"
        );
        println!("skipped: no C compiler");
        return None;
    }
    std::fs::rename(&tmp, &out).unwrap();
    Some(out)
}

/// `plugins/tests/c/crasher.c` (SIGSEGV) or its `-DCRASH_ABORT` variant
/// (SIGABRT, what a Rust plugin with `panic = "abort"` does).
fn crasher(abort: bool) -> Option<PathBuf> {
    if abort {
        c_plugin("plugins/tests/c/crasher.c", "aborter", &["CRASH_ABORT"])
    } else {
        c_plugin("plugins/tests/c/crasher.c", "crasher", &[])
    }
}

/// `n` Ethernet/IPv4/UDP packets to `port`, one byte of payload each:
/// 0x01, except packet number `bad` (1-based), whose byte is 0xEE.
fn udp_to(path: &std::path::Path, port: u16, n: u32, bad: u32) {
    udp_payloads(path, port, n, |i| if i == bad { 0xee } else { 0x01 });
}

/// `n` Ethernet/IPv4/UDP packets to `port`; packet `i` (1-based) carries
/// the one byte `payload(i)`.
fn udp_payloads(path: &std::path::Path, port: u16, n: u32, payload: impl Fn(u32) -> u8) {
    let bytes: Vec<[u8; 1]> = (1..=n).map(|i| [payload(i)]).collect();
    let refs: Vec<&[u8]> = bytes.iter().map(|b| &b[..]).collect();
    udp_datagrams(path, port, &refs);
}

/// Ethernet/IPv4/UDP packets from 10.0.0.1:12345 to 10.0.0.2:`port`, one per
/// payload, in a classic pcap file.
fn udp_datagrams(path: &std::path::Path, port: u16, payloads: &[&[u8]]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&[
        2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ]);
    for (i, payload) in (1u32..).zip(payloads) {
        let udp_len = u16::try_from(8 + payload.len()).unwrap();
        let mut p = vec![0xff; 6];
        p.extend_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&(20 + udp_len).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(&[0x30, 0x39]);
        p.extend_from_slice(&port.to_be_bytes());
        p.extend_from_slice(&udp_len.to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let len = u32::try_from(p.len()).unwrap();
        for v in [i, 0, len, len] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&p);
    }
    std::fs::write(path, f).unwrap();
}

fn crash_is_reported(abort: bool) {
    let Some(plugin) = crasher(abort) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    udp_to(&d.join("cap.pcap"), 7777, 100, 60);
    let p = plugin.to_str().unwrap();
    let (name, sig) = if abort {
        ("aborter", "SIGABRT")
    } else {
        ("crasher", "SIGSEGV")
    };
    let kind = format!("{name}.kind");
    let want = format!("pcapx: plugin {name} ({p}) crashed with {sig} on packet 60 of cap.pcap");
    for args in [
        vec![
            "convert", "cap.pcap", "--all", "-o", "out.csv", "--plugin", p,
        ],
        vec![
            "convert",
            "cap.pcap",
            "-o",
            "out.parquet",
            "--threads",
            "2",
            "--plugin",
            p,
        ],
        vec!["summary", "cap.pcap", "--plugin", p],
        vec![
            "stats",
            "cap.pcap",
            "--group-by",
            &kind,
            "--count",
            "--plugin",
            p,
        ],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_pcapx"))
            .args(&args)
            .current_dir(d)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.lines().any(|l| l == want), "{args:?}: {err}");
        // Outputs are complete or absent: no file, no temporary.
        let left: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "cap.pcap")
            .collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
    // Packets before the crash decode: the plugin works on the others.
    let o = Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args([
            "convert", "cap.pcap", "-c", "59", "--fields", &kind, "--plugin", p,
        ])
        .current_dir(d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().filter(|l| *l == "1").count(), 59);
}

#[test]
fn a_segfaulting_c_plugin_is_reported_by_name_and_packet_with_no_output() {
    crash_is_reported(false);
}

#[test]
fn an_aborting_plugin_is_reported_by_name_and_packet_with_no_output() {
    crash_is_reported(true);
}

#[test]
fn a_plugin_panicking_on_every_packet_is_reported_once_then_counted() {
    let p = panicky().to_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ntp.pcap");
    udp_to(&f, 123, 300, 0);
    let f = f.to_str().unwrap();
    let claimed = 300;
    let o = Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args(["convert", f, "--plugin", &p, "--threads", "2"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with(&format!("pcapx: plugin panicky ({p}) panicked on packet "))
            && lines[0].contains(" of ")
            && lines[0].contains("panicky plugin: deliberate panic on frame"),
        "{err}"
    );
    assert_eq!(
        lines[1],
        format!("pcapx: plugin panicky panicked on {claimed} packets")
    );
}

#[test]
fn a_panic_outside_a_call_from_pcapx_is_printed_by_the_panic_hook() {
    // The SDK's hook is silent only while pcapx is calling into the plugin
    // (it asks the host, ABI 1.1 `in_plugin_call`); a panic while the entry
    // point declares the plugin is not such a call, so its message shows,
    // and the entry point returning NULL skips the plugin.
    let p = panicky().to_str().unwrap().to_owned();
    let o = Command::new(env!("CARGO_BIN_EXE_pcapx"))
        .args(["plugins", "--plugin", &p])
        .env("PANICKY_AT_LOAD", "1")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        err.contains("panicky plugin: deliberate panic while declaring"),
        "{err}"
    );
    assert!(
        err.contains("the entry point returned NULL (the plugin declined to load); skipped"),
        "{err}"
    );
}

// ------------------------------------------------------------ loading rules

#[test]
fn a_missing_plugin_folder_is_skipped_with_a_warning_under_verbose() {
    let Some(p) = crasher(false) else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&p, dir.path().join("crasher.so")).unwrap();
    let path = format!("/nonexistent/pcapx/plugins:{}", dir.path().display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pcapx"))
            .args(args)
            .current_dir(common::root())
            .env("PCAPX_PLUGIN_PATH", &path)
            .output()
            .unwrap()
    };
    let warning = "pcapx: warning: plugin folder /nonexistent/pcapx/plugins (from PCAPX_PLUGIN_PATH) does not exist; skipped";
    let o = run(&["count", "fixtures/dns.pcap"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let o = run(&["convert", "fixtures/dns.pcap", "-v"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).lines().any(|l| l == warning), "{}", stderr(&o));
    let o = run(&["plugins"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).lines().any(|l| l == warning), "{}", stderr(&o));
    assert!(stdout(&o).contains("crasher"), "{}", stdout(&o));
}

#[test]
fn a_plugin_whose_entry_returns_null_is_skipped_with_a_warning() {
    let Some(p) = c_plugin("plugins/tests/c/declines.c", "declines", &[]) else {
        return;
    };
    let p = p.to_str().unwrap();
    let o = pcapx(&["count", "fixtures/dns.pcap", "--plugin", p]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        format!(
            "pcapx: warning: plugin {p}: the entry point returned NULL (the plugin declined to load); skipped"
        )
    );
    assert!(stdout(&o).contains("UDP"), "{}", stdout(&o));
}

#[test]
fn a_binding_a_built_in_holds_is_listed_as_shadowed() {
    let Some(p) = crasher(false) else { return };
    let list = ok(&["plugins", "--plugin", p.to_str().unwrap()]);
    assert!(
        list.contains("udp.port=7777, udp.port=53 (shadowed by built-in protocol 'dns')"),
        "{list}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["plugins", "--json", "--plugin", p.to_str().unwrap()])).unwrap();
    let b = &j["plugins"][0]["protocols"][0]["bindings"];
    assert_eq!(b[0].get("shadowed_by"), None, "{b}");
    assert_eq!(b[1]["shadowed_by"], "built-in protocol 'dns'", "{b}");
}

#[test]
fn joining_a_built_in_alias_group_takes_an_explicit_plus() {
    let Some(plain) = c_plugin(
        "plugins/tests/c/crasher.c",
        "alias_plain",
        &["ALIAS=\"sport\""],
    ) else {
        return;
    };
    let Some(plus) = c_plugin(
        "plugins/tests/c/crasher.c",
        "alias_plus",
        &["ALIAS=\"+sport\""],
    ) else {
        return;
    };
    let o = pcapx(&[
        "count",
        "fixtures/dns.pcap",
        "--plugin",
        plain.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "alias 'sport' of field 'crasher.kind' is already an alias of tcp.srcport (built-in), udp.srcport (built-in); declare it as '+sport'"
        ),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cap.pcap");
    udp_to(&f, 7777, 3, 0);
    let csv = ok(&[
        "convert",
        f.to_str().unwrap(),
        "--fields",
        "sport,crasher.kind",
        "--plugin",
        plus.to_str().unwrap(),
    ]);
    // `sport` is whichever member occurs first: the outer UDP source port.
    assert_eq!(csv, "sport,crasher.kind\n12345,1\n12345,1\n12345,1\n");
}

#[test]
fn plugin_failures_are_countable_anomalies() {
    let p = panicky().to_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.pcap");
    udp_to(&f, 123, 40, 0);
    let f = f.to_str().unwrap();
    // info: totals per kind (JSON and text).
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["info", f, "--json", "--plugin", &p])).unwrap();
    assert_eq!(j["anomalies"]["plugin-failed"], 40, "{j}");
    let text = ok(&["info", f, "--plugin", &p]);
    assert!(
        text.contains("Anomalies:           plugin-failed 40"),
        "{text}"
    );
    // A column, a group-by key and a unique value like any field.
    let csv = ok(&[
        "convert",
        f,
        "--fields",
        "frame.number,frame.anomaly",
        "--plugin",
        &p,
    ]);
    assert_eq!(
        csv.lines()
            .filter(|l| l.ends_with(",plugin-failed"))
            .count(),
        40
    );
    let u = ok(&[
        "unique", f, "--field", "anomaly", "--counts", "--plugin", &p,
    ]);
    assert!(u.contains("plugin-failed") && u.contains("40"), "{u}");
    // -v prints the totals.
    let o = pcapx(&["convert", f, "-v", "--plugin", &p]);
    assert!(
        stderr(&o).contains("anomalies (packets per kind): plugin-failed 40"),
        "{}",
        stderr(&o)
    );
    // Without the plugin: no anomaly at all.
    let j: serde_json::Value = serde_json::from_str(&ok(&["info", f, "--json"])).unwrap();
    assert_eq!(j["anomalies"], serde_json::json!({}));
}

#[test]
fn a_plugin_can_say_not_mine() {
    let Some(p) = crasher(false) else { return };
    let p = p.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cap.pcap");
    // 1: its own; 2: not mine; 3: not mine after emitting (a breach).
    udp_payloads(&f, 7777, 3, |i| [0x01, 0x00, 0x0f][i as usize - 1]);
    let f = f.to_str().unwrap();
    let csv = ok(&[
        "convert",
        f,
        "--fields",
        "frame.protocols,crasher.kind,data.len,frame.anomaly",
        "--plugin",
        p,
    ]);
    assert_eq!(
        csv,
        "frame.protocols,crasher.kind,data.len,frame.anomaly\n\
         eth:ip:udp:crasher,1,,\n\
         eth:ip:udp:data,,1,\n\
         eth:ip:udp:crasher,15,,plugin-failed\n"
    );
}

#[test]
fn narrow_signed_fields_are_typed_and_checked() {
    let Some(p) = crasher(false) else { return };
    let p = p.to_str().unwrap();
    let f = ok(&["fields", "--layer", "crasher", "--plugin", p]);
    assert!(
        f.lines()
            .any(|l| l.contains("crasher.offset") && l.contains("int16")),
        "{f}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("cap.pcap");
    udp_payloads(&cap, 7777, 2, |i| [0x01, 0x02][i as usize - 1]);
    let csv = ok(&[
        "convert",
        cap.to_str().unwrap(),
        "--fields",
        "crasher.offset,frame.anomaly",
        "--plugin",
        p,
    ]);
    // -300 fits; 40000 does not fit an int16: the plugin broke the contract.
    assert_eq!(csv, "crasher.offset,frame.anomaly\n-300,\n,plugin-failed\n");
}

/// The `gamex` test plugin (value names, a hex field), or its build with
/// ABI 1.0's field records.
fn gamex(abi_1_0: bool) -> Option<PathBuf> {
    if abi_1_0 {
        c_plugin("plugins/tests/c/gamex.c", "gamex10", &["ABI_1_0_FIELDS"])
    } else {
        c_plugin("plugins/tests/c/gamex.c", "gamex", &[])
    }
}

/// JOIN at x=5, MOVE OFFSCREEN with flags 0x0012, an unnamed type 9.
fn gamex_capture(dir: &std::path::Path) -> PathBuf {
    let f = dir.join("game.pcap");
    udp_datagrams(
        &f,
        27960,
        &[
            &[1, 0, 5, 0, 0],
            &[2, 0xff, 0xff, 0x00, 0x12],
            &[9, 0x01, 0x00, 0xab, 0xcd],
        ],
    );
    f
}

#[test]
fn value_names_are_shown_by_show_and_summary() {
    let Some(p) = gamex(false) else { return };
    let p = p.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = gamex_capture(dir.path());
    let f = f.to_str().unwrap();
    let show = ok(&["show", f, "-p", "2", "--plugin", p]);
    let game: Vec<&str> = show
        .lines()
        .skip_while(|l| !l.contains("(gamex)"))
        .skip(1)
        .take(3)
        .map(str::trim)
        .collect();
    assert_eq!(
        game,
        [
            "type           = 2 (MOVE)",
            "x              = -1 (OFFSCREEN)",
            "flags          = 0x0012"
        ],
        "{show}"
    );
    let summary = ok(&["summary", f, "--plugin", p]);
    let tails: Vec<&str> = summary
        .lines()
        .map(|l| l.rsplit(" / ").next().unwrap())
        .collect();
    // The plugin leaves its summary to the host: the names of its values;
    // a message with no named value is shown by the protocol's name.
    assert_eq!(
        tails,
        ["GameX JOIN", "GameX MOVE OFFSCREEN", "GameX"],
        "{summary}"
    );
    // `pcapx fields --json` lists them (and the hex base).
    let fields: serde_json::Value = serde_json::from_str(&ok(&[
        "fields", "--json", "--layer", "gamex", "--plugin", p,
    ]))
    .unwrap();
    assert_eq!(fields[0]["value_names"][1]["name"], "MOVE");
    assert_eq!(fields[1]["value_names"][0]["value"], -1);
    assert_eq!(fields[2]["base"], "hex");
}

#[test]
fn tables_write_value_names_and_the_display_base_on_request() {
    let Some(p) = gamex(false) else { return };
    let p = p.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = gamex_capture(dir.path());
    let f = f.to_str().unwrap();
    let cols = "gamex.type,gamex.x,gamex.flags";
    let table = |extra: &[&str]| {
        let mut args = vec!["convert", f, "--fields", cols, "--plugin", p];
        args.extend_from_slice(extra);
        ok(&args)
    };
    let head = "gamex.type,gamex.x,gamex.flags\n";
    assert_eq!(table(&[]), format!("{head}1,5,0\n2,-1,18\n9,256,43981\n"));
    assert_eq!(
        table(&["--names"]),
        format!("{head}JOIN,5,0\nMOVE,OFFSCREEN,18\n9,256,43981\n")
    );
    assert_eq!(
        table(&["--display-base"]),
        format!("{head}1,5,0x0000\n2,-1,0x0012\n9,256,0xabcd\n")
    );
    assert_eq!(
        table(&["--names", "--display-base", "--to", "jsonl"]),
        "{\"gamex.type\":\"JOIN\",\"gamex.x\":\"5\",\"gamex.flags\":\"0x0000\"}\n\
         {\"gamex.type\":\"MOVE\",\"gamex.x\":\"OFFSCREEN\",\"gamex.flags\":\"0x0012\"}\n\
         {\"gamex.type\":\"9\",\"gamex.x\":\"256\",\"gamex.flags\":\"0xabcd\"}\n"
    );
    // Parquet: the display columns are strings.
    let pq = dir.path().join("game.parquet");
    ok(&[
        "convert",
        f,
        "--fields",
        cols,
        "--plugin",
        p,
        "--names",
        "-o",
        pq.to_str().unwrap(),
    ]);
    use parquet::basic::LogicalType;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(&pq).unwrap()).unwrap();
    let schema = r.metadata().file_metadata().schema_descr_ptr();
    let types: Vec<Option<LogicalType>> = (0..3)
        .map(|i| schema.column(i).logical_type_ref().cloned())
        .collect();
    // type and x have names (text); flags has none and no --display-base: int.
    assert_eq!(
        types,
        [
            Some(LogicalType::String),
            Some(LogicalType::String),
            Some(LogicalType::integer(16, false))
        ]
    );
    let rows: Vec<String> = r
        .get_row_iter(None)
        .unwrap()
        .map(|row| row.unwrap().to_string())
        .collect();
    assert_eq!(
        rows,
        [
            "{gamex.type: \"JOIN\", gamex.x: \"5\", gamex.flags: 0}",
            "{gamex.type: \"MOVE\", gamex.x: \"OFFSCREEN\", gamex.flags: 18}",
            "{gamex.type: \"9\", gamex.x: \"256\", gamex.flags: 43981}",
        ]
    );
}

#[test]
fn an_abi_1_0_plugin_loads_without_value_names_and_bad_names_are_refused() {
    let Some(p) = gamex(true) else { return };
    let p = p.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = gamex_capture(dir.path());
    let f = f.to_str().unwrap();
    let csv = ok(&[
        "convert",
        f,
        "--fields",
        "gamex.type,gamex.flags",
        "--plugin",
        p,
        "--names",
        "--display-base",
    ]);
    assert_eq!(
        csv,
        "gamex.type,gamex.flags\n1,0x0000\n2,0x0012\n9,0xabcd\n"
    );
    let Some(bad) = c_plugin("plugins/tests/c/gamex.c", "gamexbad", &["BAD_NAMES"]) else {
        return;
    };
    let out = pcapx(&["fields", "--plugin", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("gamex.flags") && err.contains("value names but is not an integer field"),
        "{err}"
    );
}
