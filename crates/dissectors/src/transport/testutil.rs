//! Test helpers: build engines, wrap transport bytes in IPv4/IPv6, check fields.
//!
//! Until the real IPv4/IPv6 dissectors exist in `net`, a minimal test-only IPv4
//! and IPv6 (no options, no extension headers) stands in for them, bound to the
//! raw-IP link types 228/229 and to the `ethertype` table.

use pcapx_core::dissector::TableId;
use pcapx_core::{
    Ctx, Dissector, Engine, FieldDef, FieldId, FieldType, Fields, Next, Outcome, PacketMeta,
    Registrar, RegistryError, Value, Wanted,
};
use pcapx_core::{EtherType, keys::tables};

use super::{UNSET, arr, be16};

pub(crate) const LINKTYPE_IPV4: u32 = 228;
pub(crate) const LINKTYPE_IPV6: u32 = 229;

struct MiniIp {
    v6: bool,
    src: FieldId,
    dst: FieldId,
    table: TableId,
}

impl Dissector for MiniIp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        let (p, ty) = if self.v6 {
            ("ipv6", FieldType::Ipv6)
        } else {
            ("ip", FieldType::Ipv4)
        };
        r.protocol(p, "test IP", if self.v6 { "IPv6" } else { "IP" })?;
        self.src = r.field(FieldDef::new(&format!("{p}.src"), "src", ty, ""))?;
        self.dst = r.field(FieldDef::new(&format!("{p}.dst"), "dst", ty, ""))?;
        self.table = r.declare_table(tables::IP_PROTO);
        if self.v6 {
            r.bind(tables::LINKTYPE, u64::from(LINKTYPE_IPV6));
            r.bind(tables::ETHERTYPE, EtherType::IPV6);
        } else {
            r.bind(tables::LINKTYPE, u64::from(LINKTYPE_IPV4));
            r.bind(tables::ETHERTYPE, EtherType::IPV4);
        }
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        if self.v6 {
            let (Some(plen), Some(nh), Some(s), Some(d)) = (
                be16(data, 4),
                data.get(6),
                arr::<16>(data, 8),
                arr::<16>(data, 24),
            ) else {
                cx.short();
                return Outcome::end(data.len());
            };
            cx.add(self.src, Value::Ipv6(s));
            cx.add(self.dst, Value::Ipv6(d));
            return Outcome {
                header_len: 40,
                payload_len: Some(usize::from(plen)),
                next: Next::Table(self.table, u64::from(*nh)),
            };
        }
        let (Some(tl), Some(proto), Some(s), Some(d)) = (
            be16(data, 2),
            data.get(9),
            arr::<4>(data, 12),
            arr::<4>(data, 16),
        ) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.src, Value::Ipv4(s));
        cx.add(self.dst, Value::Ipv4(d));
        let hl = usize::from(data.first().copied().unwrap_or(0x45) & 0xf) * 4;
        Outcome {
            header_len: hl,
            payload_len: Some(usize::from(tl).saturating_sub(hl)),
            next: Next::Table(self.table, u64::from(*proto)),
        }
    }

    fn layer_name(
        &self,
        view: &pcapx_core::dissector::PacketView<'_>,
        layer: usize,
    ) -> Option<&'static str> {
        let quoted = view.layer(layer).is_some_and(|l| l.quoted);
        match (quoted, self.v6) {
            (true, true) => Some("IPerror6"),
            (true, false) => Some("IPerror"),
            _ => None,
        }
    }
}

/// All built-ins, plus the stand-in IPv4/IPv6 while `net` has none.
pub(crate) fn engine() -> Engine {
    let mut b = crate::builder().expect("built-ins register");
    for v6 in [false, true] {
        let name = if v6 { "ipv6" } else { "ip" };
        if b.registry().proto_by_name(name).is_none() {
            let d = MiniIp {
                v6,
                src: UNSET,
                dst: UNSET,
                table: TableId(0),
            };
            b.add(Box::new(d), "test").expect("test IP registers");
        }
    }
    b.build().expect("test engine builds")
}

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
pub(crate) fn run_cut(pkt: &[u8], wirelen: usize) -> (Engine, Fields) {
    let eng = engine();
    let mut f = eng.new_fields(Wanted::All);
    let meta = PacketMeta {
        number: 1,
        caplen: u32::try_from(pkt.len()).expect("small"),
        wirelen: u32::try_from(wirelen).expect("small"),
        linktype: linktype(pkt),
        ..PacketMeta::default()
    };
    eng.dissect(&meta, pkt, &mut f);
    (eng, f)
}

pub(crate) fn run(pkt: &[u8]) -> (Engine, Fields) {
    run_cut(pkt, pkt.len())
}

/// Every occurrence of a field or alias, rendered like tshark, joined by `,`.
pub(crate) fn render(eng: &Engine, f: &Fields, name: &str) -> String {
    let col = eng
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

/// Dissect and compare fields (`""` = absent).
pub(crate) fn check(pkt: &[u8], expected: &[(&str, &str)]) {
    let (eng, f) = run(pkt);
    for (name, want) in expected {
        assert_eq!(render(&eng, &f, name), *want, "field {name}");
    }
}

/// Names of the anomalies recorded.
pub(crate) fn anomalies(eng: &Engine, f: &Fields) -> Vec<String> {
    f.anomalies()
        .iter()
        .map(|a| eng.registry().anomaly(a.id).name.clone())
        .collect()
}

/// Cut an IPv4 packet carrying `seg` at every length inside `seg` (as a snaplen
/// would): no panic, `truncated` recorded while the cut is inside the first
/// `hdr` bytes, and each `(min_len, field)` present once at least `min_len`
/// bytes of `seg` are there.
pub(crate) fn truncations(proto: u8, seg: &[u8], hdr: usize, present: &[(usize, &str)]) {
    let full = ipv4(proto, seg);
    for cut in 0..seg.len() {
        let pkt = full.get(..20 + cut).expect("in range");
        let (eng, f) = run_cut(pkt, full.len());
        let names = anomalies(&eng, &f);
        assert!(
            cut >= hdr || names.iter().any(|n| n == "truncated"),
            "cut {cut}: no truncated anomaly ({names:?})"
        );
        for &(min, name) in present {
            let got = render(&eng, &f, name);
            assert_eq!(
                !got.is_empty(),
                cut >= min,
                "cut {cut}: field {name} = {got:?}"
            );
        }
    }
}
