//! Property tests of TCP reassembly: a known byte stream cut into segments,
//! duplicated, reordered and overlapped reassembles to the original, or
//! reports exactly which bytes it gave up on.

use pcapx_flow::packet::tcp_flags::{ACK, FIN, SYN};
use pcapx_flow::reassembly::{Event, Stream, StreamConfig};
use proptest::prelude::*;

/// Replay `(offset, len)` segments of `data` (ISN `isn`) in the given order;
/// check every delivered byte against the original at its offset. Returns
/// (bytes delivered, bytes reported as gaps, fin seen).
fn replay(
    data: &[u8],
    isn: u32,
    segs: &[(usize, usize)],
    cfg: StreamConfig,
    fin_at_end: bool,
) -> (u64, u64, bool) {
    let mut st = Stream::new(cfg);
    let mut at = 0usize;
    let mut delivered = 0u64;
    let mut gaps = 0u64;
    let mut fin = false;
    {
        let mut emit = |e: Event<'_>| match e {
            Event::Data(d) => {
                assert_eq!(d, &data[at..at + d.len()], "bytes at offset {at}");
                at += d.len();
                delivered += d.len() as u64;
            }
            Event::Gap(n) => {
                at += usize::try_from(n).unwrap();
                gaps += n;
            }
            Event::Fin => fin = true,
            Event::Rst => {}
        };
        st.segment(isn, SYN, &[], 0, &mut emit);
        for &(o, l) in segs {
            let seq = isn.wrapping_add(1).wrapping_add(u32::try_from(o).unwrap());
            let last = o + l == data.len();
            let flags = if fin_at_end && last { ACK | FIN } else { ACK };
            st.segment(
                seq,
                flags,
                &data[o..o + l],
                u32::try_from(l).unwrap(),
                &mut emit,
            );
        }
        st.flush(&mut emit);
    }
    assert!(st.buffered() == 0, "nothing stays buffered after a flush");
    (delivered, gaps, fin)
}

/// Cut `len` bytes into consecutive pieces at the given cut points.
fn pieces(len: usize, cuts: &[usize]) -> Vec<(usize, usize)> {
    let mut c: Vec<usize> = cuts
        .iter()
        .map(|&x| x % len.max(1))
        .filter(|&x| x > 0)
        .collect();
    c.sort_unstable();
    c.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for x in c.into_iter().chain(std::iter::once(len)) {
        if x > prev {
            out.push((prev, x - prev));
            prev = x;
        }
    }
    out
}

fn shuffle<T>(v: &mut [T], seed: &[usize]) {
    for (i, s) in seed.iter().enumerate() {
        if v.is_empty() {
            return;
        }
        let a = i % v.len();
        let b = s % v.len();
        v.swap(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every byte covered, ample window: the original comes back whole, once,
    /// whatever the order, duplication, overlap or sequence wrap.
    #[test]
    fn reorder_duplicate_overlap_reassembles(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        isn in prop_oneof![any::<u32>(), (u32::MAX - 4000)..=u32::MAX],
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        order in proptest::collection::vec(any::<usize>(), 0..60),
        dups in proptest::collection::vec(any::<usize>(), 0..10),
        overlaps in proptest::collection::vec((any::<usize>(), 1usize..400), 0..10),
    ) {
        let len = data.len();
        let mut segs = pieces(len, &cuts);
        for d in &dups {
            let s = segs[d % segs.len()];
            segs.push(s);
        }
        for &(o, l) in &overlaps {
            let o = o % len;
            segs.push((o, l.min(len - o)));
        }
        shuffle(&mut segs, &order);
        let cfg = StreamConfig { capacity: 1 << 16, max_ranges: 1024, store: true };
        let (delivered, gaps, fin) = replay(&data, isn, &segs, cfg, true);
        prop_assert_eq!(delivered, len as u64);
        prop_assert_eq!(gaps, 0);
        prop_assert!(fin);
    }

    /// Missing segments, small windows and few range slots: delivered bytes
    /// are still the original's at their offsets, and delivered + gaps
    /// accounts for the whole stream up to the furthest byte seen.
    #[test]
    fn losses_are_reported_as_gaps(
        data in proptest::collection::vec(any::<u8>(), 1..3000),
        isn in any::<u32>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        order in proptest::collection::vec(any::<usize>(), 0..60),
        drop in proptest::collection::vec(any::<bool>(), 0..40),
        capacity in 1u64..600,
        max_ranges in 1usize..6,
    ) {
        let len = data.len();
        let all = pieces(len, &cuts);
        let last = *all.last().unwrap();
        let mut segs: Vec<(usize, usize)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop.get(*i).copied().unwrap_or(false))
            .map(|(_, s)| *s)
            .collect();
        // Keep the last piece so the stream's length is known.
        if !segs.contains(&last) {
            segs.push(last);
        }
        shuffle(&mut segs, &order);
        let cfg = StreamConfig { capacity, max_ranges, store: true };
        let (delivered, gaps, _) = replay(&data, isn, &segs, cfg, false);
        prop_assert_eq!(delivered + gaps, len as u64);
        let covered: usize = {
            let mut seen = vec![false; len];
            for &(o, l) in &segs {
                for b in &mut seen[o..o + l] { *b = true; }
            }
            seen.iter().filter(|&&b| b).count()
        };
        prop_assert!(delivered <= covered as u64);
        if segs.len() == all.len() && capacity >= len as u64 && max_ranges >= all.len() {
            prop_assert_eq!(gaps, 0);
        }
    }
}
