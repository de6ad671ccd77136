//! IP defragmentation and TCP desegmentation, the stateful pass: a sequence
//! of IPv4/IPv6 fragments (chosen ids, offsets, lengths, "more" flags; the
//! first fragment of a datagram carries a UDP or TCP header) and TCP
//! segments through `Defragmenter` and `Desegmenter` with small bounds, and
//! every packet dissected with its side input (`Engine::dissect_with`).
//! Checks: a completed datagram is exactly as long as its fragments say,
//! and the bounds hold (bytes and datagrams pending, conversations).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_core::{IpDefrag, PacketMeta, Reassembled, TcpDeseg, Wanted};
use pcapx_flow::defrag::{DefragConfig, Defragmenter, Verdict};
use pcapx_flow::deseg::{Deseg, DesegConfig, Desegmenter};
use pcapx_fuzz::{Bytes, engine};

fn frame(b: &mut Bytes<'_>) -> Vec<u8> {
    let v6 = b.byte() & 1 == 1;
    let id = u32::from(b.byte() & 3);
    let off = u16::from(b.byte() & 0x1f); // in 8-byte units
    let more = b.byte() & 1 == 1;
    let len = usize::from(b.byte() & 0x3f) * 2;
    let tcp = b.byte() & 1 == 1;
    let mut payload: Vec<u8> = (0..len).map(|_| b.byte()).collect();
    if off == 0 && payload.len() >= 20 {
        // A transport header to the DNS port (which desegments over TCP).
        payload[0..4].copy_from_slice(&[0x9c, 0x40, 0, 53]);
        if tcp {
            payload[12] = 0x50;
        }
    }
    let proto = if tcp { 6 } else { 17 };
    let mut f = vec![0u8; 12];
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        let plen = u16::try_from(8 + payload.len()).unwrap_or(0);
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[44, 64]);
        f.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        let fo = (off << 3) | u16::from(more);
        f.extend_from_slice(&[proto, 0]);
        f.extend_from_slice(&fo.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
    } else {
        f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
        let total = u16::try_from(20 + payload.len()).unwrap_or(0);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&(id as u16).to_be_bytes());
        let ff = off | if more { 0x2000 } else { 0 };
        f.extend_from_slice(&ff.to_be_bytes());
        f.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    }
    f.extend_from_slice(&payload);
    f
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let dcfg = DefragConfig {
        max_datagram: 512,
        max_bytes: 2048,
        max_pending: 4,
        timeout_ns: 50,
    };
    let engine = engine();
    let mut defrag = Defragmenter::new(dcfg);
    let mut deseg = Desegmenter::new(
        engine,
        DesegConfig {
            max_pdu: 300,
            window: 256,
            max_conversations: 3,
        },
    );
    let mut fields = engine.new_fields(Wanted::All);
    let mut arena = Vec::new();
    let mut ts = 0i64;
    while !b.is_empty() {
        ts += i64::from(b.byte() & 0x0f);
        let f = frame(&mut b);
        let p = pcapx_flow::parse(1, &f);
        arena.clear();
        let (ip, l4) = match defrag.packet(&p, &f, ts) {
            Verdict::AsIs => (None, p.l4),
            Verdict::Held => (Some(None), pcapx_flow::packet::L4::Fragment),
            Verdict::Complete { payload, first, .. } => {
                assert!(payload.len() <= dcfg.max_datagram);
                arena.extend_from_slice(payload);
                (Some(Some(payload.len())), first)
            }
        };
        assert!(defrag.buffered() <= dcfg.max_bytes);
        assert!(defrag.pending() <= dcfg.max_pending);
        let ip_len = arena.len();
        let tcp = deseg.packet(engine, &p, l4, &f, &mut arena);
        assert!(deseg.conversations() <= 3);
        let side = Reassembled {
            ip: match ip {
                None => IpDefrag::AsIs,
                Some(None) => IpDefrag::Held,
                Some(Some(n)) => IpDefrag::Complete {
                    payload: &arena[..n],
                    fragments: 1,
                },
            },
            tcp: match tcp {
                Deseg::AsIs => TcpDeseg::AsIs,
                Deseg::Partial => TcpDeseg::Partial,
                Deseg::Pdus { at, len, segments } => {
                    assert!(at >= ip_len && at + len <= arena.len());
                    TcpDeseg::Pdus {
                        data: &arena[at..at + len],
                        segments,
                    }
                }
            },
            datagram: None,
        };
        let caplen = u32::try_from(f.len()).unwrap_or(u32::MAX);
        let meta = PacketMeta {
            number: 1,
            caplen,
            wirelen: caplen,
            linktype: 1,
            ..PacketMeta::default()
        };
        engine.dissect_with(&meta, &f, &side, &mut fields);
        let mut line = String::new();
        engine.summary_into_with(&fields, &f, &side, false, &mut line);
        std::hint::black_box(line);
    }
});
