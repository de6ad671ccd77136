//! TCP reassembly: segments of a known byte stream (byte at absolute offset
//! `o` is a fixed function of `o`) at offsets and lengths the fuzzer
//! chooses — duplicated, reordered, overlapping, far beyond the window,
//! across the sequence-number wrap — through `reassembly::Stream` with a
//! small window and few ranges. Checks: every delivered byte is the
//! original byte at its offset, data and gap events tile the stream
//! exactly (`delivered_offset`), and the held bytes stay within the window.
//! The same segments (and acknowledgements the fuzzer picks for the other
//! direction) also go through tshark's sequence analysis
//! (`analysis::Conversation`) with a tiny pool of unacknowledged segments:
//! the pool stays within its bound and is empty once released.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pcapx_flow::analysis::{Conversation, Pool, Segment};
use pcapx_flow::reassembly::{Event, Stream, StreamConfig};
use pcapx_fuzz::Bytes;

fn byte_at(off: u64) -> u8 {
    (off.wrapping_mul(0x9E37_79B9) >> 11) as u8
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let isn = b.u32();
    let cfg = StreamConfig {
        capacity: 64 + u64::from(b.byte()) * 16,
        max_ranges: 1 + b.pick(8),
        store: true,
    };
    let mut st = Stream::new(cfg);
    // The absolute offset of stream offset 0 (the first segment's).
    let mut origin: Option<u64> = None;
    let mut at = 0u64;
    let mut pool = Pool::new(1 + b.pick(16));
    let mut conv = Conversation::default();
    let mut ts = 0i64;
    while !b.is_empty() {
        let off = u64::from(b.u16()) + if b.byte() & 1 == 1 { 1 << 20 } else { 0 };
        let len = usize::from(b.byte());
        let flags = b.byte() & 0x15; // FIN, RST, ACK; no SYN (it moves the origin)
        let payload: Vec<u8> = (0..len as u64).map(|i| byte_at(off + i)).collect();
        let o = *origin.get_or_insert(off);
        let seq = isn.wrapping_add(off as u32);
        ts += i64::from(b.byte()) * 1_000_000 - 60_000_000;
        conv.segment(
            &mut pool,
            0,
            &Segment {
                seq: seq.wrapping_sub(isn),
                ack: 1,
                flags: flags | 0x10,
                window: u16::from(b.byte()),
                seglen: len as u32,
                ts_ns: ts,
            },
        );
        if b.byte() & 3 == 0 {
            // An ACK (maybe a duplicate, maybe beyond what was sent) back.
            conv.segment(
                &mut pool,
                1,
                &Segment {
                    seq: 1,
                    ack: u32::from(b.u16()),
                    flags: 0x10,
                    window: u16::from(b.byte()),
                    seglen: 0,
                    ts_ns: ts,
                },
            );
        }
        assert!(
            pool.live() <= pool.max(),
            "unacknowledged segments beyond the pool"
        );
        let mut bad = None;
        st.segment(seq, flags, &payload, len as u32, &mut |ev| match ev {
            Event::Data(d) => {
                for (i, &x) in d.iter().enumerate() {
                    let pos = at + i as u64;
                    if bad.is_none() && byte_at(o + pos) != x {
                        bad = Some(pos);
                    }
                }
                at += d.len() as u64;
            }
            Event::Gap(n) => at += n,
            Event::Fin | Event::Rst => {}
        });
        assert_eq!(bad, None, "a delivered byte differs from the original");
        assert!(
            st.buffered() <= cfg.capacity,
            "held bytes beyond the window"
        );
        assert_eq!(st.delivered_offset(), at, "events tile the stream");
    }
    st.flush(&mut |ev| match ev {
        Event::Data(d) => at += d.len() as u64,
        Event::Gap(n) => at += n,
        Event::Fin | Event::Rst => {}
    });
    assert_eq!(st.delivered_offset(), at);
    conv.release(&mut pool);
    assert_eq!(pool.live(), 0, "a released conversation holds no segment");
});
