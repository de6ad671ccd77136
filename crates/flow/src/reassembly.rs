//! TCP stream reassembly, one direction at a time.
//!
//! Modelled on smoltcp's `storage::Assembler`: instead of keeping segments,
//! a [`Stream`] keeps a short sorted list of the byte ranges it holds beyond
//! the delivery point and, when asked to store payload, one buffer for those
//! out-of-order bytes. In-order data (the common case) is handed to the
//! consumer straight from the packet, without a copy.
//!
//! Memory is bounded per direction: at most [`StreamConfig::capacity`] bytes
//! and [`StreamConfig::max_ranges`] ranges are held. When a segment lands
//! beyond that window, the stream gives up on the missing bytes before it:
//! what is buffered is delivered, each hole becomes a [`Event::Gap`] and is
//! counted, never waited for forever. Retransmitted and overlapping bytes are
//! delivered once: the first copy received wins (later copies of bytes already
//! held are ignored, like most TCP stacks). Sequence numbers are unwrapped to
//! 64-bit stream offsets, so a stream may cross the 2³² wrap any number of
//! times. A segment more than 1 GiB (the largest TCP window with scaling)
//! ahead of the delivery point is not believed: it is dropped and counted as
//! an absurd jump.

use crate::packet::tcp_flags::{FIN, RST, SYN};

/// Largest believable distance from the delivery point: the largest TCP
/// window (65535 << 14).
pub const MAX_JUMP: u64 = 1 << 30;

/// A contiguous byte range `[start, end)` in stream offsets.
pub type Range = (u64, u64);

/// The ranges held beyond the delivery point: sorted, disjoint, never
/// adjacent (adjacent ranges are merged), at most `max` of them.
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    ranges: Vec<Range>,
}

impl Assembler {
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
    /// Bytes of `[s, e)` already held.
    pub fn covered(&self, s: u64, e: u64) -> u64 {
        self.ranges
            .iter()
            .map(|&(a, b)| b.min(e).saturating_sub(a.max(s)))
            .sum()
    }
    /// Call `f` for each sub-range of `[s, e)` not yet held.
    pub fn for_each_hole(&self, s: u64, e: u64, mut f: impl FnMut(u64, u64)) {
        let mut at = s;
        for &(a, b) in &self.ranges {
            if b <= at {
                continue;
            }
            if a >= e {
                break;
            }
            if a > at {
                f(at, a.min(e));
            }
            at = b;
            if at >= e {
                return;
            }
        }
        if at < e {
            f(at, e);
        }
    }
    /// Would adding `[s, e)` need a new range slot?
    pub fn adds_range(&self, s: u64, e: u64) -> bool {
        !self.ranges.iter().any(|&(a, b)| s <= b && e >= a)
    }
    /// Hold `[s, e)`, merging with any range it touches.
    pub fn add(&mut self, s: u64, e: u64) {
        if s >= e {
            return;
        }
        let i = self.ranges.partition_point(|&(_, b)| b < s);
        let mut j = i;
        let (mut ns, mut ne) = (s, e);
        while j < self.ranges.len() && self.ranges[j].0 <= e {
            ns = ns.min(self.ranges[j].0);
            ne = ne.max(self.ranges[j].1);
            j += 1;
        }
        self.ranges.splice(i..j, std::iter::once((ns, ne)));
    }
    /// Forget everything below `x`.
    pub fn remove_below(&mut self, x: u64) {
        let n = self.ranges.partition_point(|&(_, b)| b <= x);
        self.ranges.drain(..n);
        if let Some(r) = self.ranges.first_mut() {
            r.0 = r.0.max(x);
        }
    }
    pub fn front(&self) -> Option<Range> {
        self.ranges.first().copied()
    }
    pub fn back_end(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.1)
    }
}

/// What a stream delivers, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The next bytes of the stream.
    Data(&'a [u8]),
    /// Bytes that will never be delivered (not captured, or given up on).
    Gap(u64),
    /// The sender's FIN, after all data before it.
    Fin,
    /// The sender reset the connection.
    Rst,
}

/// How a segment relates to what the stream had seen.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// No payload and no SYN/FIN: nothing to place.
    Empty,
    /// Starts where the previous data ended.
    InOrder,
    /// Starts beyond the highest byte seen: the segment(s) before it were
    /// not captured (tshark's "previous segment not captured").
    AfterGap,
    /// Fills a hole below the highest byte seen.
    OutOfOrder,
    /// Carries only (or starts with) bytes already seen.
    Retransmission,
    /// A keep-alive probe (one byte or none, one below the next expected).
    KeepAlive,
    /// Not believed (absurd sequence jump) or before the stream's start.
    Ignored,
}

/// Limits of one direction's reassembly.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// Out-of-order bytes held at most (the window beyond the delivery point).
    pub capacity: u64,
    /// Disjoint ranges held at most.
    pub max_ranges: usize,
    /// Keep the payload (to deliver [`Event::Data`]); when false only the
    /// sequence space is tracked (classification and gap counts).
    pub store: bool,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            capacity: 1 << 20,
            max_ranges: 64,
            store: true,
        }
    }
}

/// Counters of one direction.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub segments: u64,
    pub delivered_bytes: u64,
    /// Holes given up on, and their bytes.
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmissions: u64,
    pub retransmitted_bytes: u64,
    pub out_of_order: u64,
    pub lost_segments: u64,
    pub keep_alives: u64,
    pub absurd_jumps: u64,
    /// Bytes that overlapped held data with different contents (the first
    /// copy was kept).
    pub inconsistent_overlaps: u64,
}

/// One direction of a TCP connection.
#[derive(Clone, Debug)]
pub struct Stream {
    cfg: StreamConfig,
    /// Sequence number of stream offset 0.
    isn: Option<u32>,
    /// Offset of the next byte to deliver.
    base: u64,
    /// Highest offset seen (end of the furthest segment).
    high: u64,
    /// `buf[i]` is the byte at offset `base + i` (when held and `store`).
    buf: Vec<u8>,
    held: Assembler,
    /// Held ranges whose bytes were not captured (snaplen): delivered as gaps.
    missing: Assembler,
    fin: Option<u64>,
    fin_sent: bool,
    rst_sent: bool,
    stats: StreamStats,
}

impl Default for Stream {
    fn default() -> Stream {
        Stream::new(StreamConfig::default())
    }
}

impl Stream {
    pub fn new(cfg: StreamConfig) -> Stream {
        Stream {
            cfg,
            isn: None,
            base: 0,
            high: 0,
            buf: Vec::new(),
            held: Assembler::default(),
            missing: Assembler::default(),
            fin: None,
            fin_sent: false,
            rst_sent: false,
            stats: StreamStats::default(),
        }
    }

    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }
    /// Offset of the next byte to deliver (bytes delivered plus gaps).
    pub fn delivered_offset(&self) -> u64 {
        self.base
    }
    /// The sequence number of stream offset 0, once known.
    pub fn isn(&self) -> Option<u32> {
        self.isn
    }
    /// Bytes currently held for reassembly.
    pub fn buffered(&self) -> u64 {
        self.held.ranges().iter().map(|r| r.1 - r.0).sum()
    }
    /// Has this direction's FIN been delivered?
    pub fn finished(&self) -> bool {
        self.fin_sent
    }

    /// Unwrap a sequence number to a stream offset near the highest seen.
    fn offset(&self, seq: u32, isn: u32) -> i128 {
        let rel = seq.wrapping_sub(isn);
        let reference = self.high.max(self.base);
        // Truncation to the low 32 bits is the point: distance modulo 2³².
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let diff = rel.wrapping_sub(reference as u32) as i32;
        i128::from(reference) + i128::from(diff)
    }

    /// Place one segment: `seq` and `flags` from its TCP header, `payload` the
    /// captured payload bytes, `wire_len` the payload length the headers
    /// claim (bytes past the captured ones are delivered as a gap). Events
    /// go to `emit` in stream order.
    pub fn segment(
        &mut self,
        seq: u32,
        flags: u8,
        payload: &[u8],
        wire_len: u32,
        emit: &mut dyn FnMut(Event<'_>),
    ) -> Class {
        self.stats.segments += 1;
        let syn = flags & SYN != 0;
        let fin = flags & FIN != 0;
        let rst = flags & RST != 0;
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        let isn = match self.isn {
            Some(i) => i,
            None => {
                self.isn = Some(data_seq);
                data_seq
            }
        };
        let wire = u64::from(wire_len.max(u32::try_from(payload.len()).unwrap_or(u32::MAX)));
        let captured = (payload.len() as u64).min(wire);
        let s = self.offset(data_seq, isn);
        let e = s + i128::from(wire);
        let mut class = Class::Empty;
        if wire > 0 {
            class = self.place(
                s,
                e,
                &payload[..usize::try_from(captured).unwrap_or(0)],
                emit,
            );
        } else if !syn && !fin && !rst && s == i128::from(self.base) - 1 {
            self.stats.keep_alives += 1;
            class = Class::KeepAlive;
        }
        if fin
            && class != Class::Ignored
            && let Ok(f) = u64::try_from(e)
        {
            if self.fin.is_none() && f >= self.base {
                self.fin = Some(f);
            }
            self.high = self.high.max(f);
        }
        self.deliver_front(emit);
        if rst && !self.rst_sent {
            self.rst_sent = true;
            emit(Event::Rst);
        }
        class
    }

    fn place(&mut self, s: i128, e: i128, data: &[u8], emit: &mut dyn FnMut(Event<'_>)) -> Class {
        let base = i128::from(self.base);
        if e <= 0 {
            return Class::Ignored;
        }
        if s - base > i128::from(MAX_JUMP) {
            self.stats.absurd_jumps += 1;
            return Class::Ignored;
        }
        let len = u64::try_from(e - s).unwrap_or(0);
        if e <= base {
            if len <= 1 && s == base - 1 {
                self.stats.keep_alives += 1;
                return Class::KeepAlive;
            }
            self.stats.retransmissions += 1;
            self.stats.retransmitted_bytes += len;
            return Class::Retransmission;
        }
        // From here on the segment reaches past the delivery point.
        let (s, data, cut) = if s < base {
            let skip = usize::try_from(base - s).unwrap_or(usize::MAX);
            (self.base, data.get(skip..).unwrap_or(&[]), true)
        } else {
            (u64::try_from(s).unwrap_or(0), data, false)
        };
        let e = u64::try_from(e).unwrap_or(0);
        let high_before = self.high;
        let class = if cut {
            self.stats.retransmissions += 1;
            self.stats.retransmitted_bytes += self.base.saturating_sub(s);
            Class::Retransmission
        } else if s > high_before {
            self.stats.lost_segments += 1;
            Class::AfterGap
        } else if s < high_before && self.held.covered(s, e) == e - s {
            self.stats.retransmissions += 1;
            self.stats.retransmitted_bytes += e - s;
            Class::Retransmission
        } else if s < high_before && s > self.base {
            self.stats.out_of_order += 1;
            Class::OutOfOrder
        } else if s < high_before && s == self.base && high_before > e {
            // Fills the first hole exactly.
            self.stats.out_of_order += 1;
            Class::OutOfOrder
        } else {
            Class::InOrder
        };
        self.high = self.high.max(e);
        let data_end = s + data.len() as u64;
        if e - self.base > self.cfg.capacity {
            // Beyond the window: give up on every hole before this segment
            // (held bytes are delivered), which makes it the next in order.
            self.skip_to(s, emit);
        }
        // Giving up on holes may have delivered held bytes past `s` (a copy
        // of the segment's start, held earlier): the rest of the segment is
        // then in order.
        let (s, data) = if s < self.base {
            let skip = usize::try_from(self.base - s).unwrap_or(usize::MAX);
            (self.base, data.get(skip..).unwrap_or(&[]))
        } else {
            (s, data)
        };
        if s == self.base {
            // In order: deliver straight from the packet, except where bytes
            // are already held (the first copy wins) or were not captured.
            while self.base < e {
                let limit = self.held.front().map_or(u64::MAX, |r| r.0);
                if limit <= self.base {
                    self.deliver_front(emit);
                    continue;
                }
                let to = e.min(limit);
                let dto = data_end.min(to);
                if dto > self.base {
                    let x = usize::try_from(self.base - s).unwrap_or(0);
                    let y = usize::try_from(dto - s).unwrap_or(0);
                    self.deliver_owned_prefix(&data[x..y], emit);
                }
                if to > self.base {
                    // The uncaptured tail (snaplen) is a gap.
                    self.gap_to(to, emit);
                }
            }
            return class;
        }
        // Out of order: hold it.
        while self.held.len() >= self.cfg.max_ranges && self.held.adds_range(s, e) {
            let Some((_, fe)) = self.held.front() else {
                break;
            };
            self.skip_to(fe, emit);
        }
        // `data` starts at `data_start`; making room above may have moved
        // the delivery point past it.
        let data_start = s;
        let s = s.max(self.base);
        if s >= e {
            return class;
        }
        if self.cfg.store {
            let need = usize::try_from(e - self.base).unwrap_or(usize::MAX);
            if self.buf.len() < need {
                self.buf.resize(need, 0);
            }
            let base = self.base;
            let start = s;
            let buf = &mut self.buf;
            let stats = &mut self.stats;
            // Check held overlaps for consistency, fill only the holes.
            for &(a, b) in self.held.ranges() {
                let (x, y) = (a.max(start), b.min(data_end));
                if x < y {
                    let held = &buf[usize::try_from(x - base).unwrap_or(0)
                        ..usize::try_from(y - base).unwrap_or(0)];
                    let new = &data[usize::try_from(x - data_start).unwrap_or(0)
                        ..usize::try_from(y - data_start).unwrap_or(0)];
                    if held != new {
                        stats.inconsistent_overlaps += y - x;
                    }
                }
            }
            self.held.for_each_hole(start, data_end.max(start), |x, y| {
                let (bx, by) = (
                    usize::try_from(x - base).unwrap_or(0),
                    usize::try_from(y - base).unwrap_or(0),
                );
                let (dx, dy) = (
                    usize::try_from(x - data_start).unwrap_or(0),
                    usize::try_from(y - data_start).unwrap_or(0),
                );
                buf[bx..by].copy_from_slice(&data[dx..dy]);
            });
        }
        if data_end < e {
            let mut miss = Vec::new();
            self.held
                .for_each_hole(data_end.max(s), e, |x, y| miss.push((x, y)));
            for (x, y) in miss {
                self.missing.add(x, y);
            }
        }
        self.held.add(s, e);
        class
    }

    /// Deliver `data`, which starts at the delivery point, then drop whatever
    /// held bytes it covered.
    fn deliver_owned_prefix(&mut self, data: &[u8], emit: &mut dyn FnMut(Event<'_>)) {
        let n = data.len() as u64;
        if self.cfg.store {
            emit(Event::Data(data));
        }
        self.stats.delivered_bytes += n;
        self.advance(n);
    }

    /// Move the delivery point forward by `n` bytes (delivered or skipped).
    fn advance(&mut self, n: u64) {
        self.base += n;
        let k = usize::try_from(n).unwrap_or(usize::MAX).min(self.buf.len());
        self.buf.drain(..k);
        self.held.remove_below(self.base);
        self.missing.remove_below(self.base);
    }

    fn gap_to(&mut self, to: u64, emit: &mut dyn FnMut(Event<'_>)) {
        if to > self.base {
            let n = to - self.base;
            self.stats.gaps += 1;
            self.stats.gap_bytes += n;
            emit(Event::Gap(n));
            self.advance(n);
        }
    }

    /// Deliver the held ranges that start at the delivery point, then a FIN
    /// that has been reached.
    fn deliver_front(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        while let Some((a, b)) = self.held.front() {
            if a > self.base {
                break;
            }
            // Walk [base, b): missing parts are gaps, the rest data.
            while self.base < b {
                let next_missing = self
                    .missing
                    .ranges()
                    .iter()
                    .find(|r| r.1 > self.base)
                    .copied();
                match next_missing {
                    Some((ma, mb)) if ma <= self.base => {
                        let to = mb.min(b);
                        self.gap_to(to, emit);
                    }
                    other => {
                        let to = other.map_or(b, |(ma, _)| ma.min(b));
                        let n = usize::try_from(to - self.base).unwrap_or(0);
                        if self.cfg.store {
                            let n = n.min(self.buf.len());
                            emit(Event::Data(&self.buf[..n]));
                        }
                        self.stats.delivered_bytes += to - self.base;
                        self.advance(to - self.base);
                    }
                }
            }
        }
        if let Some(f) = self.fin
            && !self.fin_sent
            && self.base >= f
        {
            self.fin_sent = true;
            emit(Event::Fin);
        }
    }

    /// Give up on every hole below `to`: deliver held data, gaps for holes.
    fn skip_to(&mut self, to: u64, emit: &mut dyn FnMut(Event<'_>)) {
        while self.base < to {
            match self.held.front() {
                Some((a, _)) if a <= self.base => self.deliver_front(emit),
                Some((a, _)) => self.gap_to(a.min(to), emit),
                None => self.gap_to(to, emit),
            }
        }
        self.deliver_front(emit);
    }

    /// The connection is over (closed, reset, timed out or end of capture):
    /// deliver everything held, holes as gaps, up to the FIN if one was seen.
    pub fn flush(&mut self, emit: &mut dyn FnMut(Event<'_>)) {
        let end = self
            .held
            .back_end()
            .unwrap_or(self.base)
            .max(self.fin.unwrap_or(self.base));
        self.skip_to(end, emit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tcp_flags::ACK;

    /// Feed segments `(seq, flags, payload)`; return (bytes, gap bytes, fin).
    fn run(cfg: StreamConfig, segs: &[(u32, u8, &[u8])]) -> (Vec<u8>, u64, bool, Stream) {
        let mut st = Stream::new(cfg);
        let mut out = Vec::new();
        let mut gaps = 0;
        let mut fin = false;
        let mut emit = |e: Event<'_>| match e {
            Event::Data(d) => out.extend_from_slice(d),
            Event::Gap(n) => gaps += n,
            Event::Fin => fin = true,
            Event::Rst => {}
        };
        for &(seq, fl, p) in segs {
            st.segment(seq, fl, p, u32::try_from(p.len()).unwrap(), &mut emit);
        }
        st.flush(&mut emit);
        (out, gaps, fin, st)
    }

    /// Found by the `reassembly` fuzz target: a segment beyond the window
    /// whose start was already held. Giving up on the holes delivers that
    /// held copy; the rest of the segment must follow from its own bytes at
    /// the right place (it was copied misaligned).
    #[test]
    fn window_skip_over_a_held_copy_of_the_segment_start() {
        let byte_at = |o: u32| o.wrapping_mul(2_654_435_761).to_be_bytes()[1];
        let seg = |o: u32, n: u32| -> Vec<u8> { (o..o + n).map(byte_at).collect() };
        let (a, b, c, d) = (seg(0, 3), seg(2809, 75), seg(3912, 75), seg(3912, 255));
        let cfg = StreamConfig {
            capacity: 4144,
            max_ranges: 8,
            store: true,
        };
        let (out, gaps, _, _) = run(
            cfg,
            &[
                (1000, ACK, &a),
                (1000 + 2809, ACK, &b),
                (1000 + 3912, ACK, &c),
                (1000 + 3912, ACK, &d),
            ],
        );
        let want: Vec<u8> = [a, b, d].concat();
        assert_eq!(out, want);
        assert_eq!(gaps, 2806 + 1028);
    }

    #[test]
    fn in_order_with_syn_and_fin() {
        let (out, gaps, fin, _) = run(
            StreamConfig::default(),
            &[
                (100, SYN, b""),
                (101, ACK, b"hello "),
                (107, ACK | FIN, b"world"),
            ],
        );
        assert_eq!(out, b"hello world");
        assert_eq!(gaps, 0);
        assert!(fin);
    }

    #[test]
    fn reordered_and_retransmitted() {
        let (out, gaps, _, st) = run(
            StreamConfig::default(),
            &[
                (1, ACK, b"ab"),
                (5, ACK, b"ef"),
                (3, ACK, b"cd"),
                (3, ACK, b"cd"),
                (1, ACK, b"abc"),
            ],
        );
        assert_eq!(out, b"abcdef");
        assert_eq!(gaps, 0);
        assert_eq!(st.stats().retransmissions, 2);
        assert_eq!(st.stats().lost_segments, 1);
        assert_eq!(st.stats().out_of_order, 1);
    }

    #[test]
    fn sequence_wrap() {
        let start = u32::MAX - 3;
        let (out, _, _, _) = run(
            StreamConfig::default(),
            &[
                (start, ACK, b"0123"),
                (start.wrapping_add(8), ACK, b"89"),
                (start.wrapping_add(4), ACK, b"4567"),
            ],
        );
        assert_eq!(out, b"0123456789");
    }

    #[test]
    fn gap_is_skipped_when_window_overflows() {
        let cfg = StreamConfig {
            capacity: 8,
            ..StreamConfig::default()
        };
        let (out, gaps, _, st) = run(cfg, &[(0, ACK, b"aa"), (4, ACK, b"cc"), (20, ACK, b"zz")]);
        assert_eq!(out, b"aacczz");
        assert_eq!(gaps, 2 + 14);
        assert_eq!(st.stats().gaps, 2);
        assert_eq!(st.buffered(), 0);
    }

    #[test]
    fn absurd_jump_is_ignored() {
        let (out, gaps, _, st) = run(
            StreamConfig::default(),
            &[(0, ACK, b"ab"), (0x8000_0000, ACK, b"xx"), (2, ACK, b"cd")],
        );
        assert_eq!(out, b"abcd");
        assert_eq!(gaps, 0);
        assert_eq!(st.stats().absurd_jumps, 1);
    }

    #[test]
    fn first_copy_wins_on_overlap() {
        let (out, _, _, st) = run(
            StreamConfig::default(),
            &[(0, ACK, b"a"), (2, ACK, b"CD"), (1, ACK, b"bxyz")],
        );
        assert_eq!(out, b"abCDz");
        assert_eq!(st.stats().inconsistent_overlaps, 0);
        let (out, _, _, st) = run(
            StreamConfig::default(),
            &[(0, ACK, b"a"), (3, ACK, b"DE"), (2, ACK, b"cxy")],
        );
        assert_eq!(out, b"acDE");
        assert_eq!(st.stats().inconsistent_overlaps, 2);
    }

    #[test]
    fn snaplen_cut_payload_is_a_gap() {
        let mut st = Stream::default();
        let mut out = Vec::new();
        let mut gaps = 0;
        let mut emit = |e: Event<'_>| match e {
            Event::Data(d) => out.extend_from_slice(d),
            Event::Gap(n) => gaps += n,
            _ => {}
        };
        st.segment(0, ACK, b"abc", 10, &mut emit);
        st.segment(10, ACK, b"kl", 2, &mut emit);
        assert_eq!(out, b"abckl");
        assert_eq!(gaps, 7);
    }
}
