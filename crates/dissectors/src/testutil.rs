//! Test helpers for every dissector's unit tests: one engine with every
//! built-in, frames from hex, raw-IP wrappers for transport payloads, and the
//! `check`-style helpers that are the only callers of the engine API there.

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

pub(crate) const LINKTYPE_IPV4: u32 = 228;
pub(crate) const LINKTYPE_IPV6: u32 = 229;

/// IPv4 10.0.0.1 → 10.0.0.2 carrying `payload` as protocol `proto`.
pub(crate) fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let tl = u16::try_from(20 + payload.len()).expect("small test packet");
    let mut p = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    p[2..4].copy_from_slice(&tl.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// IPv6 2001:db8::1 → 2001:db8::2 carrying `payload` with next header `nh`.
pub(crate) fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let pl = u16::try_from(payload.len()).expect("small test packet");
    let mut p = vec![0x60, 0, 0, 0, 0, 0, nh, 64];
    p[4..6].copy_from_slice(&pl.to_be_bytes());
    for last in [1u8, 2] {
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        p.extend_from_slice(&[0; 11]);
        p.push(last);
    }
    p.extend_from_slice(payload);
    p
}

fn linktype(pkt: &[u8]) -> u32 {
    if pkt.first().is_some_and(|b| b >> 4 == 6) {
        LINKTYPE_IPV6
    } else {
        LINKTYPE_IPV4
    }
}

/// Dissect `pkt` (raw IP) with every field wanted; `wirelen` ≥ `pkt.len()`.
pub(crate) fn run_cut(pkt: &[u8], wirelen: usize) -> (&'static Engine, Fields) {
    (engine(), dissect(linktype(pkt), pkt, wirelen))
}

pub(crate) fn run(pkt: &[u8]) -> (&'static Engine, Fields) {
    run_cut(pkt, pkt.len())
}

/// Every occurrence of a field or alias, rendered like tshark, joined by `,`.
pub(crate) fn render(f: &Fields, name: &str) -> String {
    let col = engine()
        .registry()
        .resolve(name)
        .unwrap_or_else(|| panic!("unknown field {name}"));
    let Some(id) = f.column_field(&col) else {
        return String::new();
    };
    f.all(id)
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Dissect a raw IP packet and compare fields or aliases, every occurrence
/// joined by `,` (`""` = absent).
pub(crate) fn check_ip(pkt: &[u8], expected: &[(&str, &str)]) {
    let (_, f) = run(pkt);
    for (name, want) in expected {
        assert_eq!(render(&f, name), *want, "field {name}");
    }
}

/// Cut an IPv4 packet carrying `seg` at every length inside `seg` (as a snaplen
/// would): no panic, `truncated` recorded while the cut is inside the first
/// `hdr` bytes, and each `(min_len, field)` present once at least `min_len`
/// bytes of `seg` are there.
pub(crate) fn truncations(proto: u8, seg: &[u8], hdr: usize, present: &[(usize, &str)]) {
    let full = ipv4(proto, seg);
    for cut in 0..seg.len() {
        let pkt = full.get(..20 + cut).expect("in range");
        let (_, f) = run_cut(pkt, full.len());
        let names = anomalies(&f);
        assert!(
            cut >= hdr || names.iter().any(|n| n == "truncated"),
            "cut {cut}: no truncated anomaly ({names:?})"
        );
        for &(min, name) in present {
            let got = render(&f, name);
            assert_eq!(
                !got.is_empty(),
                cut >= min,
                "cut {cut}: field {name} = {got:?}"
            );
        }
    }
}
