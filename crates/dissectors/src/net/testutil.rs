//! Test helpers: one engine with every built-in, and `check`-style helpers that
//! are the only callers of the engine API in the unit tests.

use std::sync::OnceLock;

use pcapx_core::{Engine, Fields, PacketMeta, Wanted};

pub(crate) fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        crate::builder()
            .expect("built-ins register")
            .build()
            .expect("built-ins build")
    })
}

/// Bytes from a hex string; whitespace and newlines are ignored.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits
        .chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

/// Dissect `data` as a frame of `linktype` whose original length is `wirelen`.
pub(crate) fn dissect(linktype: u32, data: &[u8], wirelen: usize) -> Fields {
    let e = engine();
    let mut f = e.new_fields(Wanted::All);
    let meta = PacketMeta {
        number: 1,
        caplen: u32::try_from(data.len()).unwrap(),
        wirelen: u32::try_from(wirelen).unwrap(),
        linktype,
        ..PacketMeta::default()
    };
    e.dissect(&meta, data, &mut f);
    f
}

/// Every occurrence of field `name`, as tshark prints them, joined by `,`;
/// `None` when absent.
pub(crate) fn value(f: &Fields, name: &str) -> Option<String> {
    let id = engine()
        .registry()
        .field_by_name(name)
        .unwrap_or_else(|| panic!("unknown field {name}"));
    let v: Vec<String> = f.all(id).map(|v| v.to_string()).collect();
    (!v.is_empty()).then(|| v.join(","))
}

/// First occurrence of field `name` (tshark's `-E occurrence=f`).
pub(crate) fn first(f: &Fields, name: &str) -> Option<String> {
    let id = engine()
        .registry()
        .field_by_name(name)
        .unwrap_or_else(|| panic!("unknown field {name}"));
    f.first(id).map(|v| v.to_string())
}

pub(crate) fn anomalies(f: &Fields) -> Vec<String> {
    let r = engine().registry();
    f.anomalies()
        .iter()
        .map(|a| r.anomaly(a.id).name.clone())
        .collect()
}

pub(crate) fn protocols(f: &Fields) -> String {
    value(f, "frame.protocols").unwrap_or_default()
}

/// Dissect a complete frame and compare fields (`""` = must be absent), plus
/// the `frame.protocols` chain and the anomalies.
pub(crate) fn check(
    linktype: u32,
    data: &[u8],
    protos: &str,
    expected: &[(&str, &str)],
    expect_anomalies: &[&str],
) -> Fields {
    let f = dissect(linktype, data, data.len());
    assert_eq!(protocols(&f), protos, "frame.protocols");
    for (name, want) in expected {
        let got = value(&f, name).unwrap_or_default();
        assert_eq!(&got, want, "field {name}");
    }
    assert_eq!(anomalies(&f), expect_anomalies, "anomalies");
    f
}

/// Scapy-style summary of a complete frame.
pub(crate) fn summary(linktype: u32, data: &[u8]) -> String {
    let f = dissect(linktype, data, data.len());
    engine().summary_line(&f, data, false)
}

/// Cut `data` at every length. Never panics; below `header_end` the cut is
/// reported (`truncated` when the snaplen cut it, `malformed` when the frame
/// itself is that short); a field listed with the offset where its bytes end is
/// present, with its full-frame value, whenever the cut keeps it whole.
pub(crate) fn check_truncation(
    linktype: u32,
    data: &[u8],
    header_end: usize,
    fields: &[(&str, usize)],
) {
    let full = dissect(linktype, data, data.len());
    for cut in 0..data.len() {
        let part = &data[..cut];
        for (wirelen, want) in [(data.len(), "truncated"), (cut, "malformed")] {
            let f = dissect(linktype, part, wirelen);
            let an = anomalies(&f);
            if cut < header_end {
                assert!(
                    an.iter().any(|a| a == want),
                    "cut at {cut} (wirelen {wirelen}): expected {want}, got {an:?}"
                );
            }
            for &(name, end) in fields {
                if end <= cut {
                    assert_eq!(
                        first(&f, name),
                        first(&full, name),
                        "cut at {cut}: field {name}"
                    );
                }
            }
        }
    }
}
