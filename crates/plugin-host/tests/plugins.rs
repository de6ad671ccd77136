//! Load every example and test-only plugin (built from source by the test):
//! field registry, NTP/TFTP against tshark on the corpus, and each fault.

mod common;

use std::path::Path;

use common::{build, corpus, each_packet, have_tshark, tshark_fields, tshark_time, value};
use pcapx_core::{Engine, Fields};
use pcapx_plugin_host::{Listing, LoadedPlugin, PluginError, load};

fn engine_with(plugins: &[&LoadedPlugin]) -> Engine {
    let mut b = pcapx_dissectors::builder().unwrap();
    for p in plugins {
        p.add_to(&mut b).unwrap();
    }
    b.build().unwrap()
}

fn has_anomaly(engine: &Engine, fields: &Fields, name: &str) -> bool {
    let id = engine.registry().anomaly_by_name(name).unwrap();
    fields.anomalies().iter().any(|a| a.id == id)
}

#[test]
fn ntp_plugin_declares_first_class_fields() {
    let b = build("dev");
    let ntp = load(b.ntp()).unwrap();
    let info = ntp.info();
    assert_eq!((info.name.as_str(), info.abi.as_str()), ("ntp", "1.1"));
    let proto = &info.protocols[0];
    assert_eq!(proto.name, "ntp");
    assert_eq!(proto.bindings[0].table, "udp.port");
    assert_eq!(proto.bindings[0].key, 123);
    let stratum = proto
        .fields
        .iter()
        .find(|f| f.name == "ntp.stratum")
        .unwrap();
    assert_eq!(stratum.ftype, "uint8");
    let engine = engine_with(&[&ntp]);
    let reg = engine.registry();
    for (name, ty) in [
        ("ntp.flags.li", "uint8"),
        ("ntp.rootdelay", "uint32"),
        ("ntp.refid", "bytes"),
        ("ntp.xmt", "time_ns"),
    ] {
        let id = reg.field_by_name(name).unwrap();
        assert_eq!(reg.field(id).ftype.name(), ty, "{name}");
        assert_eq!(reg.protocol(reg.field(id).proto).origin, "ntp");
    }
    assert!(engine.bindings().contains(&("udp.port", 123, "ntp")));
}

const NTP_FIELDS: [&str; 16] = [
    "ntp.flags",
    "ntp.flags.li",
    "ntp.flags.vn",
    "ntp.flags.mode",
    "ntp.stratum",
    "ntp.ppoll",
    "ntp.precision",
    "ntp.rootdelay",
    "ntp.rootdispersion",
    "ntp.refid",
    "ntp.reftime",
    "ntp.org",
    "ntp.rec",
    "ntp.xmt",
    "ntp.keyid",
    "ntp.mac",
];

#[test]
fn ntp_matches_tshark_on_the_corpus() {
    let b = build("dev");
    let Some(file) = corpus("ethernet-ipv4/ntp.pcap") else {
        return;
    };
    if !have_tshark() {
        return;
    }
    let ntp = load(b.ntp()).unwrap();
    let engine = engine_with(&[&ntp]);
    let expected = tshark_fields(&file, &NTP_FIELDS);
    let mut rows = Vec::new();
    let n = each_packet(&engine, &file, |_, f, data| {
        rows.push(
            NTP_FIELDS
                .iter()
                .map(|name| value(&engine, f, name))
                .collect::<Vec<_>>(),
        );
        let line = engine.summary_line(f, data, false);
        assert!(line.contains("NTP v4, "), "{line}");
        assert!(!has_anomaly(&engine, f, "plugin-failed"));
    });
    assert_eq!(n, 8);
    assert_eq!(expected.len(), rows.len());
    let mut compared = 0;
    for (i, (ours, theirs)) in rows.iter().zip(&expected).enumerate() {
        for (k, name) in NTP_FIELDS.iter().enumerate() {
            let mut want = theirs.get(k).cloned().unwrap_or_default();
            if ["ntp.reftime", "ntp.org", "ntp.rec", "ntp.xmt"].contains(name) {
                want = tshark_time(&want);
            }
            if *name == "ntp.flags" {
                want = u64::from_str_radix(want.trim_start_matches("0x"), 16)
                    .unwrap()
                    .to_string();
            }
            assert_eq!(ours[k], want, "frame {} field {name}", i + 1);
            compared += 1;
        }
    }
    assert_eq!(compared, 8 * NTP_FIELDS.len());
}

const TFTP_FIELDS: [&str; 8] = [
    "tftp.opcode",
    "tftp.source_file",
    "tftp.destination_file",
    "tftp.type",
    "tftp.block",
    "tftp.error.code",
    "tftp.error.message",
    "data.len",
];

#[test]
fn tftp_c_plugin_matches_tshark_on_the_corpus() {
    let b = build("dev");
    let Some(tftp_so) = b.c("pcapx_tftp") else {
        return;
    };
    let Some(file) = corpus("ethernet-ipv4/tftp.pcap") else {
        return;
    };
    if !have_tshark() {
        return;
    }
    let tftp = load(&tftp_so).unwrap();
    assert_eq!(
        tftp.info().protocols[0].heuristics,
        vec!["udp.port".to_owned()]
    );
    let engine = engine_with(&[&tftp]);
    let expected = tshark_fields(&file, &TFTP_FIELDS);
    let mut rows = Vec::new();
    let n = each_packet(&engine, &file, |_, f, _| {
        rows.push(
            TFTP_FIELDS
                .iter()
                .map(|name| value(&engine, f, name))
                .collect::<Vec<_>>(),
        );
        assert!(!has_anomaly(&engine, f, "plugin-failed"));
    });
    assert_eq!(n, 7);
    assert_eq!(expected.len(), rows.len());
    for (i, (ours, theirs)) in rows.iter().zip(&expected).enumerate() {
        let opcode = &theirs[0];
        for (k, name) in TFTP_FIELDS.iter().enumerate() {
            // tshark copies the request's file name onto DATA/ACK packets
            // through conversation tracking; the plugin is stateless (see
            // plugins/tftp/tftp.c), so file names are compared on requests.
            if name.ends_with("_file") && opcode != "1" && opcode != "2" {
                assert_eq!(ours[k], "", "frame {} {name}", i + 1);
                continue;
            }
            assert_eq!(
                ours[k],
                theirs.get(k).cloned().unwrap_or_default(),
                "frame {} {name}",
                i + 1
            );
        }
    }
}

#[test]
fn a_panicking_plugin_costs_only_its_packet() {
    let b = build("dev");
    let Some(file) = corpus("ethernet-ipv4/ntp.pcap") else {
        return;
    };
    let p = load(b.test("panicky")).unwrap();
    let engine = engine_with(&[&p]);
    let mut failed = 0;
    let n = each_packet(&engine, &file, |_, f, _| {
        failed += u64::from(has_anomaly(&engine, f, "plugin-failed"));
        // The layers below are intact; the value emitted before the panic stays.
        assert_ne!(value(&engine, f, "udp.srcport"), "");
        assert_ne!(value(&engine, f, "panicky.first"), "");
    });
    assert_eq!((n, failed), (8, 8));
}

#[test]
fn the_host_catches_overlong_lengths_unknown_fields_and_bad_types() {
    let b = build("dev");
    let Some(file) = corpus("ethernet-ipv4/ntp.pcap") else {
        return;
    };
    let p = load(b.test("overlong")).unwrap();
    let engine = engine_with(&[&p]);
    let mut failed = Vec::new();
    each_packet(&engine, &file, |num, f, _| {
        if has_anomaly(&engine, f, "plugin-failed") {
            failed.push(num);
        } else {
            assert_eq!(value(&engine, f, "overlong.name"), "ok");
        }
    });
    // Frame 1 claims len + 1, frame 2 an unknown field, frame 3 a wrong type.
    assert_eq!(failed, vec![1, 2, 3]);
}

#[test]
fn a_taken_field_name_is_a_load_error_naming_the_file() {
    let b = build("dev");
    let path = b.test("dupfield");
    let p = load(&path).unwrap();
    let mut builder = pcapx_dissectors::builder().unwrap();
    let err = p.add_to(&mut builder).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PluginError::Taken { .. }), "{msg}");
    // The message names who holds the name.
    assert!(
        msg.contains("field 'ip.src' is already registered by built-in protocol 'ip'"),
        "{msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    // Two plugins declaring the same protocol clash the same way.
    let ntp = load(b.ntp()).unwrap();
    let mut builder = pcapx_dissectors::builder().unwrap();
    ntp.add_to(&mut builder).unwrap();
    let again = ntp.add_to(&mut builder).unwrap_err().to_string();
    assert!(
        again.contains("field 'ntp.flags' is already registered by protocol 'ntp' of plugin 'ntp'")
            && again.contains("libpcapx_plugin_ntp.so"),
        "{again}"
    );
}

#[test]
fn another_abi_major_is_refused_without_calling_it() {
    let b = build("dev");
    let Some(path) = b.c("wrong_abi") else { return };
    let err = load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            PluginError::AbiMismatch {
                plugin_major: 2,
                host_major: 1,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("'libwrong_abi'") && msg.contains("ABI v2") && msg.contains("ABI v1"),
        "{msg}"
    );
}

#[test]
fn a_mistyped_entry_symbol_is_a_load_error() {
    let b = build("dev");
    let Some(path) = b.c("bad_magic") else { return };
    let msg = load(&path).unwrap_err().to_string();
    assert!(
        msg.contains("bad entry point") && msg.contains("libbad_magic.so"),
        "{msg}"
    );
}

#[test]
fn unreadable_and_foreign_files_are_load_errors() {
    let missing = load("/nonexistent/libnothing.so").unwrap_err().to_string();
    assert!(
        missing.contains("/nonexistent/libnothing.so") && missing.contains("cannot open"),
        "{missing}"
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.so");
    std::fs::write(&junk, b"not an ELF file").unwrap();
    let msg = load(&junk).unwrap_err().to_string();
    assert!(
        msg.contains("junk.so") && msg.contains("cannot open"),
        "{msg}"
    );
    // A real shared library without any pcapx entry point.
    let b = build("dev");
    if let Some(path) = b.c("no_entry") {
        let err = load(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PluginError::NoEntry { .. }), "{msg}");
        assert!(
            msg.contains("libno_entry.so") && msg.contains("not a pcapx plugin"),
            "{msg}"
        );
    }
}

#[test]
fn plugin_path_folders_are_scanned_in_name_order() {
    let b = build("dev");
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::copy(b.ntp(), d1.join("zz_ntp.so")).unwrap();
    std::fs::copy(b.test("panicky"), d1.join("aa_panicky.so")).unwrap();
    std::fs::write(d1.join("README.txt"), "not a plugin").unwrap();
    std::fs::copy(b.test("overlong"), d2.join("overlong.so")).unwrap();
    let list = std::env::join_paths([&d1, &d2]).unwrap();
    let files = pcapx_plugin_host::plugin_files_in(&list).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["aa_panicky.so", "zz_ntp.so", "overlong.so"]);
    let loaded: Vec<LoadedPlugin> = files.iter().map(load).collect::<Result<_, _>>().unwrap();
    assert_eq!(loaded[1].name(), "ntp");
    // A folder that does not exist is skipped (with a warning under -v);
    // one that cannot be read is an error naming it.
    let none = pcapx_plugin_host::plugin_files_in(dir.path().join("missing").as_os_str()).unwrap();
    assert!(none.is_empty());
    let file = dir.path().join("a/zz_ntp.so");
    let err = pcapx_plugin_host::plugin_files_in(file.as_os_str()).unwrap_err();
    assert!(err.to_string().contains("zz_ntp.so"), "{err}");
}

#[test]
fn listing_renders_text_and_json() {
    let b = build("dev");
    let ntp = load(b.ntp()).unwrap();
    let listing = Listing::new(std::slice::from_ref(&ntp));
    let text = listing.render_text();
    assert!(text.starts_with("ntp 0.1.0 (ABI 1.1)"), "{text}");
    assert!(
        text.contains("udp.port=123") && text.contains("ntp.stratum"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&listing.to_json()).unwrap();
    assert_eq!(json["host_abi"], "1.1");
    assert_eq!(
        json["plugins"][0]["protocols"][0]["fields"][4]["name"],
        "ntp.stratum"
    );
    assert_eq!(
        json["plugins"][0]["protocols"][0]["fields"][4]["type"],
        "uint8"
    );
    assert!(
        Listing::new(&[])
            .render_text()
            .starts_with("no plugins loaded")
    );
}

#[test]
fn concurrent_workers_get_the_same_results() {
    let b = build("dev");
    let Some(file) = corpus("ethernet-ipv4/ntp.pcap") else {
        return;
    };
    let ntp = load(b.ntp()).unwrap();
    let engine = engine_with(&[&ntp]);
    let serial = dump(&engine, &file);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..25).map(|_| dump(&engine, &file)).collect::<Vec<_>>()))
            .collect();
        for h in hs {
            for d in h.join().unwrap() {
                assert_eq!(d, serial);
            }
        }
    });
}

fn dump(engine: &Engine, file: &Path) -> Vec<Vec<String>> {
    let mut v = Vec::new();
    each_packet(engine, file, |_, f, _| {
        v.push(NTP_FIELDS.iter().map(|n| value(engine, f, n)).collect())
    });
    v
}

#[test]
fn truncated_ntp_never_fails_the_plugin() {
    let b = build("dev");
    let Some(file) = corpus("ethernet-ipv4/ntp.pcap") else {
        return;
    };
    let ntp = load(b.ntp()).unwrap();
    let engine = engine_with(&[&ntp]);
    let mut cap = pcapx_capture::Capture::open(&file).unwrap();
    let mut fields = engine.new_fields(pcapx_core::Wanted::All);
    cap.for_each(|r| {
        for cut in 0..=r.data.len() {
            let data = &r.data[..cut];
            let meta = pcapx_core::PacketMeta {
                number: r.number,
                caplen: u32::try_from(cut).unwrap(),
                wirelen: r.wirelen,
                linktype: r.linktype,
                ..Default::default()
            };
            engine.dissect(&meta, data, &mut fields);
            assert!(
                !has_anomaly(&engine, &fields, "plugin-failed"),
                "cut at {cut}"
            );
            // The UDP header ends at 42: past it, every cut NTP header is truncated.
            if (43..42 + 48).contains(&cut) {
                assert!(has_anomaly(&engine, &fields, "truncated"), "cut at {cut}");
                assert_eq!(value(&engine, &fields, "ntp.flags.vn"), "4");
            }
        }
    })
    .unwrap();
}
