//! The dissection engine on every link type: the first byte picks the link
//! type, the rest is the frame. Every field of every layer is materialised
//! and formatted (what `show` prints), plus the summary line (`summary`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_core::{PacketMeta, Wanted};
use pcapx_fuzz::{Bytes, LINKTYPES, engine};
use std::fmt::Write;

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
});
