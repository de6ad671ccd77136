//! PLUGINS.md's snippets are real: the guide's `Cargo.toml` + `src/lib.rs`
//! (Rust SDK) and its C plugin are extracted, built and loaded, and decode a
//! packet as the guide says.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use pcapx_core::{Engine, PacketMeta, Wanted};

/// The fenced code blocks of PLUGINS.md tagged `lang`, in order.
fn blocks(lang: &str) -> Vec<String> {
    let guide = std::fs::read_to_string(common::root().join("PLUGINS.md")).unwrap();
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in guide.lines() {
        match &mut cur {
            None if line.trim_end() == format!("```{lang}") => cur = Some(String::new()),
            Some(b) if line.starts_with("```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

fn engine_with(path: &Path) -> Engine {
    let p = pcapx_plugin_host::load(path).unwrap_or_else(|e| panic!("{e}"));
    let mut b = pcapx_dissectors::builder().unwrap();
    pcapx_plugin_host::add_all(std::slice::from_ref(&p), &mut b).unwrap();
    b.build().unwrap()
}

/// Ethernet/IPv4/UDP to port 7 carrying `payload`.
fn udp7(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0xff; 6];
    p.extend_from_slice(&[0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00]);
    let ip_len = u16::try_from(28 + payload.len()).unwrap();
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&ip_len.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(&[0x30, 0x39, 0, 7]);
    p.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

fn decode(engine: &Engine, frame: &[u8]) -> (String, Vec<(String, String)>) {
    let mut fields = engine.new_fields(Wanted::All);
    let len = u32::try_from(frame.len()).unwrap();
    let meta = PacketMeta {
        number: 1,
        ts_ns: 0,
        caplen: len,
        wirelen: len,
        linktype: 1,
        interface: 0,
        comment: None,
    };
    engine.dissect(&meta, frame, &mut fields);
    let reg = engine.registry();
    let mut vals = Vec::new();
    for name in [
        "echo.seq",
        "echo.delta",
        "echo.text",
        "frame.anomaly",
        "frame.protocols",
    ] {
        if let Some(id) = reg.field_by_name(name)
            && let Some(v) = fields.first(id)
        {
            vals.push((name.to_owned(), v.to_string()));
        }
    }
    (engine.summary_line(&fields, frame, true), vals)
}

fn has(vals: &[(String, String)], k: &str, v: &str) -> bool {
    vals.iter().any(|(a, b)| a == k && b == v)
}

#[test]
fn the_guides_rust_plugin_builds_and_decodes() {
    let toml = blocks("toml");
    let rust = blocks("rust");
    assert_eq!(
        (toml.len(), rust.len()),
        (1, 1),
        "one Cargo.toml and one lib.rs in the guide"
    );
    let root = common::root();
    let dir = common::out_dir().join("guide-echo");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let sdk = root.join("crates/plugin-sdk").canonicalize().unwrap();
    let manifest =
        toml[0].replace("…/crates/plugin-sdk", sdk.to_str().unwrap()) + "\n[workspace]\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), &rust[0]).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--offline", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", common::out_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the guide's Rust plugin does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let so: PathBuf = common::out_dir().join("debug/libpcapx_plugin_echo.so");
    let engine = engine_with(&so);
    let (summary, vals) = decode(&engine, &udp7(b"\0\0\0\x2a\xff\x9chello"));
    assert!(has(&vals, "echo.seq", "42"), "{vals:?}");
    assert!(has(&vals, "echo.delta", "-100"), "{vals:?}");
    assert!(has(&vals, "echo.text", "hello"), "{vals:?}");
    assert!(summary.ends_with("/ Echo hello"), "{summary}");
    // Value names: `show` and `convert --names` use the field's declaration.
    let delta = engine.registry().field_by_name("echo.delta").unwrap();
    let def = engine.registry().field(delta);
    assert_eq!(def.value_name(pcapx_core::Value::I64(-1)), Some("BACK"));
    assert_eq!(def.value_name(pcapx_core::Value::I64(0)), Some("SAME"));
    assert_eq!(def.value_name(pcapx_core::Value::I64(-100)), None);
    // No text: the declared anomaly is data.
    let (_, vals) = decode(&engine, &udp7(b"\0\0\0\x01\0\x01"));
    assert!(has(&vals, "frame.anomaly", "echo.empty-text"), "{vals:?}");
    // Too short: `short()` — all bytes present, so malformed; fields kept.
    let (_, vals) = decode(&engine, &udp7(b"\0\0"));
    assert!(has(&vals, "frame.anomaly", "malformed"), "{vals:?}");
    // Bad magic: not mine, the bytes become data.
    let (_, vals) = decode(&engine, &udp7(b"\x7f\0\0\0\0\0"));
    assert!(has(&vals, "frame.protocols", "eth:ip:udp:data"), "{vals:?}");
}

#[test]
fn the_guides_c_plugin_builds_and_decodes() {
    let c = blocks("c");
    assert_eq!(c.len(), 1, "one C plugin in the guide");
    let dir = common::out_dir().join("guide-c");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("echo.c"), &c[0]).unwrap();
    let so = dir.join(format!("libpcapx_echo.{}.so", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let Ok(out) = Command::new(&cc)
        .args([
            "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I",
        ])
        .arg(common::root().join("crates/plugin-abi/include"))
        .arg(dir.join("echo.c"))
        .arg("-o")
        .arg(&so)
        .output()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but there is no C compiler"
        );
        println!("skipped: no C compiler");
        return;
    };
    assert!(
        out.status.success(),
        "the guide's C plugin does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let engine = engine_with(&so);
    let (_, vals) = decode(&engine, &udp7(b"\x01\x02rest"));
    assert!(has(&vals, "echo.seq", "258"), "{vals:?}");
    // Its value name reaches the registry; the host's summary shows it.
    let (summary, _) = decode(&engine, &udp7(b"\x00\x00rest"));
    assert!(summary.ends_with("/ Echo FIRST / Raw"), "{summary}");
}
