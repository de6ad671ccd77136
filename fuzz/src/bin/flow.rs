//! The flow path: a sequence of frames (each a length byte and that many
//! bytes, time stepping by a chosen amount, sometimes backwards) through the
//! cheap header parse, tshark's stream numbering and the flow table, with
//! short timeouts so flows end, split and expire. Checks: every packet is
//! accounted to exactly one flow record once the table is finished. The
//! numbering runs with tshark's TCP sequence analysis on and a bound of a
//! few conversations, so forgetting and renumbering happen; it never
//! remembers more than its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_flow::numbering::{StreamNumbering, tcp_seglen};
use pcapx_flow::{FlowConfig, FlowTable};
use pcapx_fuzz::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let linktype = [1u32, 101, 113, 276, 0][b.pick(5)];
    let cfg = FlowConfig {
        tcp_idle_ns: 3_000,
        udp_idle_ns: 2_000,
        other_idle_ns: 1_000,
        active_ns: 10_000,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(cfg);
    let bound = 1 + b.pick(8);
    let mut numbering = StreamNumbering::with_bound(bound).analyzing(true);
    let mut out = Vec::new();
    let mut ts = 1_000_000i64;
    let mut n = 0u64;
    let mut ip_packets = 0u64;
    while !b.is_empty() {
        let len = usize::from(b.byte()) + usize::from(b.byte() & 1) * 256;
        let step = i64::from(b.byte()) * 100 - 2_000;
        ts = ts.saturating_add(step);
        let frame: Vec<u8> = (0..len).map(|_| b.byte()).collect();
        n += 1;
        let p = pcapx_flow::parse(linktype, &frame);
        let seglen = frame
            .get(p.ip_payload.clone())
            .and_then(|t| tcp_seglen(t, p.ip_payload_len));
        let s = numbering.packet_segment(&p, ts, seglen);
        let (tcp, udp) = numbering.remembered();
        assert!(tcp <= bound && udp <= bound, "numbering over its bound");
        let stream = s.tcp_stream.or(s.udp_stream);
        ip_packets += u64::from(p.is_ip());
        let wire = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        table.packet_in_stream(n, ts, wire, &p, stream, &mut out);
    }
    table.finish(&mut out);
    let counted: u64 = out.iter().map(|r| r.orig.packets + r.resp.packets).sum();
    let st = table.stats();
    assert_eq!(st.packets, n);
    assert_eq!(
        counted + st.not_ip,
        n,
        "every packet in exactly one flow record, or counted as not IP"
    );
    assert!(counted <= ip_packets);
    assert_eq!(table.live(), 0, "finish ends every flow");
});
