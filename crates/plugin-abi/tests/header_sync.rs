//! `include/pcapx_plugin.h` and `src/lib.rs` describe the same ABI: compile a C
//! program against the header that prints every struct size, member offset and
//! constant, and compare with `size_of`/`offset_of!` on the Rust definitions.

use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use pcapx_plugin_abi as abi;

/// `(c expression, rust value)` pairs, built by the macros below.
struct Checks {
    items: Vec<(String, u64)>,
}

macro_rules! layout {
    ($checks:expr, $rust:ty => $c:literal { $($rf:ident => $cf:literal),* $(,)? }) => {{
        $checks.items.push((format!("sizeof({})", $c), size_of::<$rust>() as u64));
        $( $checks.items.push((format!("offsetof({}, {})", $c, $cf), offset_of!($rust, $rf) as u64)); )*
    }};
}

macro_rules! constants {
    ($checks:expr, $($c:literal => $v:expr),* $(,)?) => {{
        $( $checks.items.push((format!("(unsigned long long)({})", $c), u64::from($v))); )*
    }};
}

fn checks() -> Checks {
    let mut k = Checks { items: Vec::new() };
    layout!(k, abi::StrRef => "pcapx_str" { ptr => "ptr", len => "len" });
    layout!(k, abi::FieldDecl => "pcapx_field" {
        size => "size", ftype => "ftype", base => "base", alias_count => "alias_count",
        name => "name", display => "display", description => "description", aliases => "aliases",
        value_name_count => "value_name_count", value_names => "value_names",
    });
    layout!(k, abi::ValueNameDecl => "pcapx_value_name" { size => "size", value => "value", name => "name" });
    layout!(k, abi::BindingDecl => "pcapx_binding" { size => "size", table => "table", key => "key" });
    layout!(k, abi::AnomalyDecl => "pcapx_anomaly" { size => "size", name => "name", description => "description" });
    layout!(k, abi::LayerInfo => "pcapx_layer_info" {
        size => "size", flags => "flags", frame_number => "frame_number", offset => "offset",
        declared_len => "declared_len", prev_proto => "prev_proto",
    });
    layout!(k, abi::OutcomeOut => "pcapx_outcome" {
        size => "size", next => "next", header_len => "header_len", payload_len => "payload_len",
        table => "table", src_port => "src_port", dst_port => "dst_port", key => "key",
    });
    layout!(k, abi::HostApi => "pcapx_host_api" {
        size => "size", abi_minor => "abi_minor", add_u64 => "add_u64", add_i64 => "add_i64",
        add_f64 => "add_f64", add_bool => "add_bool", add_time => "add_time",
        add_bytes => "add_bytes", add_str => "add_str", wants => "wants", anomaly => "anomaly",
        short => "short_", malformed => "malformed", panic_message => "panic_message",
        in_plugin_call => "in_plugin_call",
    });
    layout!(k, abi::ProtocolDecl => "pcapx_protocol" {
        size => "size", field_count => "field_count", binding_count => "binding_count",
        heuristic_count => "heuristic_count", table_count => "table_count",
        anomaly_count => "anomaly_count", name => "name", display => "display",
        summary_name => "summary_name", fields => "fields", bindings => "bindings",
        heuristics => "heuristics", tables => "tables", anomalies => "anomalies", user => "user",
        dissect => "dissect", accepts => "accepts", summary => "summary",
    });
    layout!(k, abi::PluginDecl => "pcapx_plugin" {
        magic => "magic", size => "size", abi_major => "abi_major", abi_minor => "abi_minor",
        flags => "flags", name => "name", version => "version", description => "description",
        protocol_count => "protocol_count", protocols => "protocols",
    });
    layout!(k, abi::HostInfo => "pcapx_host_info" {
        size => "size", abi_major => "abi_major", abi_minor => "abi_minor", host_version => "host_version",
        api => "api",
    });
    constants!(k,
        "PCAPX_ABI_MAJOR" => abi::ABI_MAJOR, "PCAPX_ABI_MINOR" => abi::ABI_MINOR,
        "PCAPX_PLUGIN_MAGIC" => abi::PLUGIN_MAGIC,
        "PCAPX_FT_U8" => abi::FT_U8, "PCAPX_FT_U16" => abi::FT_U16, "PCAPX_FT_U32" => abi::FT_U32,
        "PCAPX_FT_U64" => abi::FT_U64, "PCAPX_FT_I64" => abi::FT_I64, "PCAPX_FT_F64" => abi::FT_F64,
        "PCAPX_FT_BOOL" => abi::FT_BOOL, "PCAPX_FT_IPV4" => abi::FT_IPV4, "PCAPX_FT_IPV6" => abi::FT_IPV6,
        "PCAPX_FT_MAC" => abi::FT_MAC, "PCAPX_FT_BYTES" => abi::FT_BYTES, "PCAPX_FT_STR" => abi::FT_STR,
        "PCAPX_FT_TIME" => abi::FT_TIME, "PCAPX_FT_I8" => abi::FT_I8, "PCAPX_FT_I16" => abi::FT_I16, "PCAPX_FT_I32" => abi::FT_I32,
        "PCAPX_BASE_DEC" => abi::BASE_DEC, "PCAPX_BASE_HEX" => abi::BASE_HEX,
        "PCAPX_NEXT_END" => abi::NEXT_END, "PCAPX_NEXT_TABLE" => abi::NEXT_TABLE,
        "PCAPX_NEXT_PORTS" => abi::NEXT_PORTS, "PCAPX_NEXT_NOT_MINE" => abi::NEXT_NOT_MINE, "PCAPX_NO_LEN" => abi::NO_LEN,
        "PCAPX_STATUS_OK" => u32::try_from(abi::STATUS_OK).unwrap(),
        "PCAPX_STATUS_FAILED" => u32::try_from(abi::STATUS_FAILED).unwrap(),
        "PCAPX_STATUS_PANICKED" => u32::try_from(abi::STATUS_PANICKED).unwrap(),
        "PCAPX_PLUGIN_SINGLE_THREADED" => abi::PLUGIN_SINGLE_THREADED,
        "PCAPX_LAYER_QUOTED" => abi::LAYER_QUOTED,
    );
    k
}

fn compiler() -> Option<String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let ok = Command::new(&cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(cc)
    } else if std::env::var_os("CI").is_some() {
        panic!("CI is set but no C compiler ({cc}) is available");
    } else {
        None
    }
}

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

#[test]
fn header_matches_rust_definitions() {
    let Some(cc) = compiler() else {
        println!("skipped: no C compiler");
        return;
    };
    let k = checks();
    let mut src = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"pcapx_plugin.h\"\nint main(void) {\n",
    );
    for (expr, _) in &k.items {
        writeln!(src, "  printf(\"%llu\\n\", (unsigned long long)({expr}));").unwrap();
    }
    // The entry point's prototype must match EntryFn.
    src.push_str(
        "  const pcapx_plugin *(*entry)(const pcapx_host_info *) = pcapx_plugin_v1; (void)entry;\n",
    );
    src.push_str("  return 0;\n}\nconst pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *h) { (void)h; return 0; }\n");
    let dir = std::env::temp_dir().join(format!("pcapx-abi-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("sync.c");
    let exe = dir.join("sync");
    std::fs::write(&c, &src).unwrap();
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(include_dir())
        .arg(&c)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success());
    let text = String::from_utf8(run.stdout).unwrap();
    let got: Vec<u64> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(got.len(), k.items.len());
    let mismatches: Vec<String> = k
        .items
        .iter()
        .zip(&got)
        .filter(|((_, rust), c)| rust != *c)
        .map(|((expr, rust), c)| format!("{expr}: C {c}, Rust {rust}"))
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        mismatches.is_empty(),
        "header out of sync:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn entry_symbol_names_the_major_version() {
    let sym = std::str::from_utf8(abi::ENTRY_SYMBOL).unwrap();
    assert_eq!(sym, format!("{}{}\0", abi::ENTRY_PREFIX, abi::ABI_MAJOR));
    let header = std::fs::read_to_string(include_dir().join("pcapx_plugin.h")).unwrap();
    assert!(header.contains(&format!(
        "#define PCAPX_ENTRY_SYMBOL \"{}\"",
        sym.trim_end_matches('\0')
    )));
    assert!(header.contains(&format!(
        "*{}(const pcapx_host_info *host);",
        sym.trim_end_matches('\0')
    )));
}
