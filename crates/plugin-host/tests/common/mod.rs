//! Building the example and test-only plugins from a clean checkout, and
//! small helpers shared by the plugin tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use pcapx_core::{Engine, Fields, PacketMeta, Wanted};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the plugins are built: `target/plugins` (its own cargo target dir,
/// so building them never waits on the lock of the workspace build).
pub fn out_dir() -> PathBuf {
    root().join("target/plugins")
}

pub struct Built {
    /// Rust plugins (cargo profile dir).
    pub rust: PathBuf,
    /// C plugins, `None` when no C compiler is available outside CI.
    pub c: Option<PathBuf>,
}

impl Built {
    pub fn ntp(&self) -> PathBuf {
        self.rust.join("libpcapx_plugin_ntp.so")
    }
    pub fn test(&self, name: &str) -> PathBuf {
        self.rust.join(format!("libpcapx_test_plugin_{name}.so"))
    }
    pub fn c(&self, name: &str) -> Option<PathBuf> {
        self.c.as_ref().map(|d| d.join(format!("lib{name}.so")))
    }
}

fn cc() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    if Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        Some(cc)
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no C compiler ({cc})"
        );
        println!("skipped C plugins: no C compiler");
        None
    }
}

/// Build every plugin once per test process: `profile` is `dev` or `release`.
pub fn build(profile: &str) -> Built {
    static DEV: OnceLock<Built> = OnceLock::new();
    static REL: OnceLock<Built> = OnceLock::new();
    let cell = if profile == "release" { &REL } else { &DEV };
    let b = cell.get_or_init(|| build_now(profile));
    Built {
        rust: b.rust.clone(),
        c: b.c.clone(),
    }
}

fn build_now(profile: &str) -> Built {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--profile", profile, "--manifest-path"])
        .arg(root().join("plugins/Cargo.toml"))
        .env("CARGO_TARGET_DIR", out_dir())
        .status()
        .expect("run cargo to build the plugins");
    assert!(status.success(), "building plugins/ failed");
    let rust = out_dir().join(if profile == "dev" { "debug" } else { profile });
    let c = cc().map(|cc| {
        let dir = out_dir().join(format!("c-{profile}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, src) in [
            ("pcapx_tftp", "plugins/tftp/tftp.c"),
            ("wrong_abi", "plugins/tests/c/wrong_abi.c"),
            ("bad_magic", "plugins/tests/c/bad_magic.c"),
            ("no_entry", "plugins/tests/c/no_entry.c"),
        ] {
            // Build under a private name, then rename: other test processes
            // may be loading the previous copy.
            let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
            let out = Command::new(&cc)
                .args([
                    "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I",
                ])
                .arg(root().join("crates/plugin-abi/include"))
                .arg(root().join(src))
                .arg("-o")
                .arg(&tmp)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cc {src}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::fs::rename(&tmp, dir.join(format!("lib{name}.so"))).unwrap();
        }
        dir
    });
    Built { rust, c }
}

/// `$PCAPX_CORPUS/rel`, or `None` (with the skip message) when unset.
pub fn corpus(rel: &str) -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("PCAPX_CORPUS") else {
        println!("skipped: PCAPX_CORPUS not set");
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "PCAPX_CORPUS={} is not a folder",
        dir.display()
    );
    Some(dir.join(rel))
}

/// Is tshark here? (fails under CI when missing)
pub fn have_tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but tshark is missing"
        );
        println!("skipped: tshark not installed");
    }
    ok
}

/// tshark `-T fields` rows for `fields`, one Vec per packet.
pub fn tshark_fields(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Dissect every packet of `file`; `f` sees each record's number and fields.
pub fn each_packet(engine: &Engine, file: &Path, mut f: impl FnMut(u64, &Fields, &[u8])) -> u64 {
    let mut cap = pcapx_capture::Capture::open(file).unwrap();
    let mut fields = engine.new_fields(Wanted::All);
    cap.for_each(|r| {
        let meta = PacketMeta {
            number: r.number,
            ts_ns: r.ts_ns,
            caplen: r.caplen,
            wirelen: r.wirelen,
            linktype: r.linktype,
            interface: r.interface,
            comment: r.comment,
        };
        engine.dissect(&meta, r.data, &mut fields);
        f(r.number, &fields, r.data);
    })
    .unwrap()
}

/// A field's first value as tshark prints it in `-T fields` (bytes without
/// separators), or "" when absent.
pub fn value(engine: &Engine, fields: &Fields, name: &str) -> String {
    let id = engine
        .registry()
        .field_by_name(name)
        .unwrap_or_else(|| panic!("no field {name}"));
    match fields.first(id) {
        None => String::new(),
        Some(pcapx_core::Value::Bytes(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(v) => v.to_string(),
    }
}

/// Parse tshark's absolute time (`Jun 19, 2017 14:12:09.516015118 UTC`,
/// `NULL` for the all-zero NTP timestamp) into `secs.nanos` like ours.
pub fn tshark_time(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if s == "NULL" {
        return "0.000000000".to_owned();
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = s.split_whitespace().collect();
    assert_eq!(parts.len(), 5, "unexpected tshark time {s}");
    let m = i64::try_from(MONTHS.iter().position(|&m| m == parts[0]).unwrap()).unwrap() + 1;
    let d: i64 = parts[1].trim_end_matches(',').parse().unwrap();
    let y: i64 = parts[2].parse().unwrap();
    let (hms, frac) = parts[3].split_once('.').unwrap();
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    // Howard Hinnant's days_from_civil.
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    format!("{secs}.{frac:0<9}")
}
