//! The dissection engine on every link type: the first byte picks the link
//! type, the rest is the frame. Every field of every layer is materialised
//! and formatted (what `show` prints), plus the summary line (`summary`).
//! Two invariants are checked on every input: each layer fills only its own
//! protocol's fields or those its dissector declares (`Engine::fills`), and
//! a table's sink that stops the walk early (`Engine::new_fields_for`)
//! reads the same values of its fields as the full walk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_core::{Fields, PacketMeta, Wanted};
use pcapx_fuzz::{Bytes, LINKTYPES, engine};
use std::fmt::Write;
use std::sync::OnceLock;

/// Tables whose sinks stop the walk: header fields, DNS, TLS/HTTP.
const TABLES: [&[&str]; 3] = [
    &[
        "eth.src", "vlan.id", "ip.src", "ip.version", "ip.proto", "ipv6.src", "ipv6.opt.type",
        "tcp.srcport", "tcp.len", "udp.dstport", "icmp.type", "icmpv6.type", "arp.opcode",
    ],
    &["ip.dst", "dns.qry.name", "dns.a", "udp.length"],
    &["tls.handshake.type", "tls.handshake.extensions_server_name", "http.host", "x509af.version"],
];

/// Each table's wanted field ids and a sink for it (built once).
fn tables() -> &'static [Vec<pcapx_core::FieldId>] {
    static T: OnceLock<Vec<Vec<pcapx_core::FieldId>>> = OnceLock::new();
    T.get_or_init(|| {
        let reg = engine().registry();
        TABLES
            .iter()
            .map(|names| names.iter().filter_map(|n| reg.field_by_name(n)).collect())
            .collect()
    })
}

fn values(fields: &Fields, ids: &[pcapx_core::FieldId]) -> Vec<String> {
    ids.iter()
        .map(|&f| {
            let mut s = String::new();
            for v in fields.all(f) {
                let _ = v.write_plain(&mut s);
                s.push('|');
            }
            s
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let linktype = LINKTYPES[b.pick(LINKTYPES.len())];
    let cut = b.byte();
    let frame = b.rest();
    let engine = engine();
    let mut fields = engine.new_fields(Wanted::All);
    let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let meta = PacketMeta {
        number: 1,
        ts_ns: 1_700_000_000_123_456_789,
        caplen,
        // Sometimes claim the frame was cut by the snaplen.
        wirelen: caplen.saturating_add(u32::from(cut & 0x0f)),
        linktype,
        interface: 0,
        comment: None,
    };
    engine.dissect(&meta, frame, &mut fields);
    let mut out = engine.summary_line(&fields, frame, cut & 0x80 != 0);
    let reg = engine.registry();
    for (li, layer) in fields.layers().iter().enumerate() {
        let _ = write!(out, "{}", reg.protocol(layer.proto).name);
        for e in fields.layer_entries(u16::try_from(li).unwrap_or(u16::MAX)) {
            let _ = write!(out, " {}=", reg.field(e.field).name);
            let _ = fields.value(e).write_plain(&mut out);
        }
    }
    for e in fields.entries() {
        let _ = fields.value(e).write_plain(&mut out);
    }
    for a in fields.anomalies() {
        out.push_str(&reg.anomaly(a.id).name);
    }
    std::hint::black_box(out);

    for e in fields.entries() {
        let owner = reg.field(e.field).proto;
        let layer = fields.layers()[usize::from(e.layer)].proto;
        assert!(
            engine.fills(layer, owner),
            "a {} layer filled {}",
            reg.protocol(layer).name,
            reg.field(e.field).name
        );
    }
    let ids = &tables()[usize::from(cut) % TABLES.len()];
    let mut wanted = Wanted::none(reg.field_count());
    for &f in ids {
        wanted.insert(f);
    }
    let mut early = engine.new_fields_for(wanted, &[]);
    engine.dissect(&meta, frame, &mut early);
    assert_eq!(values(&fields, ids), values(&early, ids));
});
