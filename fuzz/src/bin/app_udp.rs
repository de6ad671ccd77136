//! The UDP application dissectors (DHCP/BOOTP on 67/68, DHCPv6 on 546/547,
//! NBNS on 137, NBDGM on 138) and SSH (TCP 22):
//! the first byte picks the port and IP version, the rest is the UDP payload,
//! wrapped in a valid raw-IP/UDP header so every input reaches the dissector.
//! Every field is materialised and formatted, plus the summary line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_core::{PacketMeta, Wanted};
use pcapx_fuzz::{Bytes, engine};
use std::fmt::Write;

/// (port, IPv6?) pairs the application dissectors are bound to.
const PORTS: &[(u16, bool)] = &[
    (67, false),
    (68, false),
    (546, true),
    (547, true),
    (67, true),
    (137, false),
    (138, false),
    // TCP port 22 (SSH): the same payload behind a TCP header instead.
    (22, false),
];

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let (port, v6) = PORTS[b.pick(PORTS.len())];
    let payload = b.rest();
    let Ok(udp_len) = u16::try_from(8 + payload.len()) else {
        return;
    };
    let mut frame = Vec::with_capacity(48 + payload.len());
    if v6 {
        frame.extend_from_slice(&[0x60, 0, 0, 0]);
        frame.extend_from_slice(&udp_len.to_be_bytes());
        frame.extend_from_slice(&[17, 64]);
        frame.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        frame.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]);
    } else {
        let Some(total) = udp_len.checked_add(20) else {
            return;
        };
        frame.extend_from_slice(&[0x45, 0]);
        frame.extend_from_slice(&total.to_be_bytes());
        frame.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 255, 255, 255, 255]);
    }
    if port == 22 {
        // IPv4 protocol 6, a 20-byte TCP header (the IPv4 total length
        // counts 8 bytes of UDP header; TCP's 12 extra fit in `udp_len + 12`).
        frame[9] = 6;
        let total = u16::try_from(20 + 20 + payload.len()).unwrap_or(u16::MAX);
        frame[2..4].copy_from_slice(&total.to_be_bytes());
        frame.extend_from_slice(&[0xc3, 0x50, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18]);
        frame.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    } else {
        frame.extend_from_slice(&port.to_be_bytes());
        frame.extend_from_slice(&port.to_be_bytes());
        frame.extend_from_slice(&udp_len.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
    }
    frame.extend_from_slice(payload);
    let engine = engine();
    let mut fields = engine.new_fields(Wanted::All);
    let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let meta = PacketMeta {
        number: 1,
        caplen,
        wirelen: caplen,
        linktype: if v6 { 229 } else { 228 },
        ..PacketMeta::default()
    };
    engine.dissect(&meta, &frame, &mut fields);
    let mut out = engine.summary_line(&fields, &frame, false);
    let reg = engine.registry();
    for e in fields.entries() {
        let _ = write!(out, " {}=", reg.field(e.field).name);
        let _ = fields.value(e).write_plain(&mut out);
    }
    for a in fields.anomalies() {
        out.push_str(&reg.anomaly(a.id).name);
    }
    std::hint::black_box(out);
});
