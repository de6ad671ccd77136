//! tshark's TCP sequence analysis (`tcp.analysis.*` flags), one
//! conversation at a time, in file order.
//!
//! This follows Wireshark 4.0's `tcp_analyze_sequence_number`
//! (epan/dissectors/packet-tcp.c) check by check, on relative sequence and
//! acknowledgement numbers (the caller subtracts the base sequence numbers
//! tshark's numbering keeps, see [`crate::numbering`]):
//!
//! 1. zero window probe (1 byte at the next expected sequence number while
//!    the other side's window is 0) — ends the forward checks;
//! 2. zero window (window 0 without SYN/FIN/RST);
//! 3. **lost segment**: the segment starts beyond the highest sequence number
//!    seen so far in its direction (not for RST);
//! 4. keep-alive (0 or 1 byte one before the next expected number);
//! 5. window update, keep-alive ACK, zero window probe ACK and **duplicate
//!    ACK** (a pure ACK repeating the direction's last ACK and window);
//! 6. ACKed unseen segment (acknowledges beyond what the other side sent;
//!    then the bound moves to the ACK, or over the run of unacknowledged
//!    segments that starts there), or a window update resuming after a zero
//!    window probe;
//! 7. for a segment with data, SYN or FIN: **spurious retransmission** when
//!    all of its bytes were already acknowledged; then, if it does not
//!    advance its direction's sequence number: **fast retransmission** (the other side
//!    sent at least two duplicate ACKs for this sequence number less than
//!    20 ms ago), **out-of-order** (less than the handshake's RTT — 3 ms
//!    when unknown — after the highest segment, and not ending exactly where
//!    that one ended; tshark 4.0 does not yet look for a copy among the
//!    unacknowledged segments), else a plain **retransmission**.
//!    A keep-alive is none of them; a segment of more than one byte starting
//!    one before the next expected number is not "not advancing" (it may
//!    follow a zero window probe).
//!
//! tshark shows a fast or spurious retransmission with
//! `tcp.analysis.retransmission` as well; [`fields_of`] does the same.
//!
//! Checked against tshark 4.0 (`tests/tcp_analysis.rs`). Known differences,
//! so not offered as fields: `tcp.analysis.ack_lost_segment` (tshark 4.0
//! stops flagging a direction after its first ACKed-unseen segment until the
//! other side skips ahead, which this does not reproduce; the flag is still
//! computed because later checks depend on its state), and tshark 4.0 calls
//! a few retransmissions "fast" without two duplicate ACKs being visible
//! (pcapx calls them plain retransmissions: `tcp.analysis.retransmission` is
//! the same, `tcp.analysis.fast_retransmission` is a subset of tshark's).
//!
//! State per direction is a handful of numbers and the list of segments
//! sent and not yet acknowledged (tshark's `segments` list, at most 10,000
//! per direction as in tshark). The lists of every conversation share one
//! [`Pool`] whose total size is bounded too: once it is full, new segments
//! are not remembered (counted in [`Pool::dropped`]), which can only turn a
//! later retransmission of them into out-of-order, as tshark does when its
//! own per-direction limit is reached.

/// Analysis flags of one segment (tshark's `TCP_A_*`).
pub mod flag {
    pub const RETRANSMISSION: u16 = 1;
    pub const LOST_PACKET: u16 = 1 << 1;
    pub const ACK_LOST_PACKET: u16 = 1 << 2;
    pub const KEEP_ALIVE: u16 = 1 << 3;
    pub const DUPLICATE_ACK: u16 = 1 << 4;
    pub const ZERO_WINDOW: u16 = 1 << 5;
    pub const ZERO_WINDOW_PROBE: u16 = 1 << 6;
    pub const ZERO_WINDOW_PROBE_ACK: u16 = 1 << 7;
    pub const KEEP_ALIVE_ACK: u16 = 1 << 8;
    pub const OUT_OF_ORDER: u16 = 1 << 9;
    pub const FAST_RETRANSMISSION: u16 = 1 << 10;
    pub const WINDOW_UPDATE: u16 = 1 << 11;
    pub const SPURIOUS_RETRANSMISSION: u16 = 1 << 12;
}

/// The `tcp.analysis.*` fields a set of flags shows, in tshark's names.
pub const FIELDS: [(&str, u16); 11] = [
    (
        "tcp.analysis.retransmission",
        flag::RETRANSMISSION | flag::FAST_RETRANSMISSION | flag::SPURIOUS_RETRANSMISSION,
    ),
    (
        "tcp.analysis.fast_retransmission",
        flag::FAST_RETRANSMISSION,
    ),
    (
        "tcp.analysis.spurious_retransmission",
        flag::SPURIOUS_RETRANSMISSION,
    ),
    ("tcp.analysis.out_of_order", flag::OUT_OF_ORDER),
    ("tcp.analysis.lost_segment", flag::LOST_PACKET),
    ("tcp.analysis.duplicate_ack", flag::DUPLICATE_ACK),
    ("tcp.analysis.keep_alive", flag::KEEP_ALIVE),
    ("tcp.analysis.keep_alive_ack", flag::KEEP_ALIVE_ACK),
    ("tcp.analysis.zero_window", flag::ZERO_WINDOW),
    ("tcp.analysis.zero_window_probe", flag::ZERO_WINDOW_PROBE),
    (
        "tcp.analysis.zero_window_probe_ack",
        flag::ZERO_WINDOW_PROBE_ACK,
    ),
];

/// Which of [`FIELDS`] a segment with `flags` shows (bit i: `FIELDS[i]`).
pub fn fields_of(flags: u16) -> u16 {
    let mut out = 0;
    for (i, (_, mask)) in FIELDS.iter().enumerate() {
        if flags & mask != 0 {
            out |= 1 << i;
        }
    }
    out
}

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// tshark's `TCP_MAX_UNACKED_SEGMENTS`.
pub const MAX_UNACKED_PER_DIRECTION: u32 = 10_000;
/// Unacknowledged segments remembered over all conversations (12 bytes
/// each: 24 MiB).
pub const MAX_UNACKED_TOTAL: usize = 2 * 1024 * 1024;

const NIL: u32 = u32::MAX;
const FAST_RT_NS: u64 = 20_000_000;
const OOO_NS: u64 = 3_000_000;

// tshark's GT_SEQ/LT_SEQ/GE_SEQ/LE_SEQ (packet-tcp.h), exactly: at a
// distance of exactly 2^31 both GT and LT hold.
fn gt(a: u32, b: u32) -> bool {
    b.wrapping_sub(a).cast_signed() < 0
}
fn lt(a: u32, b: u32) -> bool {
    a.wrapping_sub(b).cast_signed() < 0
}
fn ge(a: u32, b: u32) -> bool {
    b.wrapping_sub(a).cast_signed() <= 0
}
fn le(a: u32, b: u32) -> bool {
    a.wrapping_sub(b).cast_signed() <= 0
}

#[derive(Copy, Clone, Debug)]
struct Node {
    seq: u32,
    nextseq: u32,
    next: u32,
}

/// The unacknowledged-segment lists of every conversation, in one slab
/// (no allocation per segment once the slab has grown).
#[derive(Debug)]
pub struct Pool {
    nodes: Vec<Node>,
    free: u32,
    live: usize,
    max: usize,
    dropped: u64,
}

impl Default for Pool {
    fn default() -> Pool {
        Pool::new(MAX_UNACKED_TOTAL)
    }
}

impl Pool {
    pub fn new(max: usize) -> Pool {
        Pool {
            nodes: Vec::new(),
            free: NIL,
            live: 0,
            max,
            dropped: 0,
        }
    }

    /// Segments not remembered because the pool was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Segments remembered now.
    pub fn live(&self) -> usize {
        self.live
    }

    /// The bound on [`Pool::live`].
    pub fn max(&self) -> usize {
        self.max
    }

    fn alloc(&mut self, n: Node) -> Option<u32> {
        if self.live >= self.max {
            self.dropped += 1;
            return None;
        }
        self.live += 1;
        if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].next;
            self.nodes[i as usize] = n;
            return Some(i);
        }
        let i = u32::try_from(self.nodes.len()).ok()?;
        self.nodes.push(n);
        Some(i)
    }

    fn release(&mut self, i: u32) {
        if let Some(n) = self.nodes.get_mut(i as usize) {
            n.next = self.free;
            self.free = i;
            self.live = self.live.saturating_sub(1);
        }
    }

    fn node(&self, i: u32) -> Node {
        self.nodes[i as usize]
    }
}

/// One direction's state (tshark's `tcp_flow_t` with its
/// `tcp_analyze_seq_info`). Sequence numbers are relative.
#[derive(Copy, Clone, Debug)]
struct Dir {
    nextseq: u32,
    nextseq_ts: i64,
    lastack: u32,
    lastack_ts: i64,
    maxseqtobeacked: u32,
    dupacknum: u32,
    window: u32,
    lastsegmentflags: u16,
    /// Newest first, as tshark's list.
    head: u32,
    count: u32,
}

impl Default for Dir {
    fn default() -> Dir {
        Dir {
            nextseq: 0,
            nextseq_ts: 0,
            lastack: 0,
            lastack_ts: 0,
            maxseqtobeacked: 0,
            dupacknum: 0,
            window: u32::MAX,
            lastsegmentflags: 0,
            head: NIL,
            count: 0,
        }
    }
}

/// One segment as the analysis sees it.
#[derive(Copy, Clone, Debug)]
pub struct Segment {
    /// Relative sequence number (the raw one minus its direction's base).
    pub seq: u32,
    /// Relative acknowledgement number when ACK is set, else the raw field.
    pub ack: u32,
    pub flags: u8,
    /// The window field as sent (not scaled).
    pub window: u16,
    /// TCP payload length from the IP header's length.
    pub seglen: u32,
    pub ts_ns: i64,
}

/// One conversation's analysis state (both directions).
#[derive(Copy, Clone, Debug, Default)]
pub struct Conversation {
    dir: [Dir; 2],
    /// Time of the most recent pure SYN (0: none, as tshark's zero
    /// `nstime`).
    mru_syn: i64,
    /// The handshake's RTT: from the most recent SYN to the first pure ACK
    /// (0: unknown).
    first_rtt: i64,
}

impl Conversation {
    /// Give the conversation's remembered segments back to the pool (when
    /// it is replaced or forgotten).
    pub fn release(&mut self, pool: &mut Pool) {
        for d in &mut self.dir {
            let mut i = d.head;
            while i != NIL {
                let next = pool.node(i).next;
                pool.release(i);
                i = next;
            }
            d.head = NIL;
            d.count = 0;
        }
    }

    /// A pure SYN repeating its direction's base sequence number in an
    /// existing conversation (a retransmitted SYN): tshark restores the
    /// direction's next expected number to what was acknowledged (its
    /// issue 17616: a RST may carry the acknowledged number).
    pub fn syn_again(&mut self, dir: usize) {
        let d = &mut self.dir[dir & 1];
        d.nextseq = d.maxseqtobeacked;
    }

    /// Analyse one segment sent in direction `dir` (0 or 1); returns its
    /// [`flag`]s.
    pub fn segment(&mut self, pool: &mut Pool, dir: usize, s: &Segment) -> u16 {
        let (a, b) = self.dir.split_at_mut(1);
        let (fwd, rev) = if dir & 1 == 0 {
            (&mut a[0], &mut b[0])
        } else {
            (&mut b[0], &mut a[0])
        };
        let flags = analyze(fwd, rev, pool, self.first_rtt, s);
        // After the analysis, as in dissect_tcp: the handshake's RTT (a time
        // of exactly 0 counts as none, as in tshark).
        if s.flags & (SYN | ACK) == SYN {
            self.mru_syn = s.ts_ns;
        }
        if s.flags & (SYN | ACK) == ACK && self.mru_syn != 0 && self.first_rtt == 0 {
            self.first_rtt = s.ts_ns.wrapping_sub(self.mru_syn);
        }
        flags
    }
}

/// tshark's unsigned nanosecond difference (negative wraps to huge).
fn delta(now: i64, then: i64) -> u64 {
    now.wrapping_sub(then).cast_unsigned()
}

fn analyze(fwd: &mut Dir, rev: &mut Dir, pool: &mut Pool, first_rtt: i64, s: &Segment) -> u16 {
    use flag::*;
    let (seq, ack, seglen, fl) = (s.seq, s.ack, s.seglen, s.flags);
    let window = u32::from(s.window);
    let sfr = fl & (SYN | FIN | RST) == 0;
    let mut ta: u16 = 0;

    'fwd: {
        if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
            ta |= ZERO_WINDOW_PROBE;
            break 'fwd;
        }
        if window == 0 && sfr {
            ta |= ZERO_WINDOW;
        }
        if fwd.nextseq != 0 && gt(seq, fwd.nextseq) && fl & RST == 0 {
            ta |= LOST_PACKET;
        }
        if seglen <= 1 && seq == fwd.nextseq.wrapping_sub(1) && sfr {
            ta |= KEEP_ALIVE;
        }
        if seglen == 0
            && window != 0
            && window != fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && sfr
        {
            ta |= WINDOW_UPDATE;
        }
        if seglen == 0
            && window != 0
            && window == fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && rev.lastsegmentflags & KEEP_ALIVE != 0
            && sfr
        {
            ta |= KEEP_ALIVE_ACK;
            break 'fwd;
        }
        if seglen == 0
            && window == 0
            && window == fwd.window
            && seq == fwd.nextseq
            && (ack == fwd.lastack || ack == fwd.lastack.wrapping_add(1))
            && rev.lastsegmentflags & ZERO_WINDOW_PROBE != 0
            && sfr
        {
            ta |= ZERO_WINDOW_PROBE_ACK;
            if ack == fwd.lastack.wrapping_add(1) {
                rev.nextseq = ack;
                rev.maxseqtobeacked = ack;
            }
            break 'fwd;
        }
        if seglen == 0
            && window != 0
            && window == fwd.window
            && seq == fwd.nextseq
            && ack == fwd.lastack
            && sfr
        {
            fwd.dupacknum += 1;
            ta |= DUPLICATE_ACK;
            break 'fwd;
        }
    }

    // finished_fwd
    if ack != fwd.lastack {
        fwd.dupacknum = 0;
    }

    // ACKED LOST PACKET
    if rev.maxseqtobeacked != 0 && gt(ack, rev.maxseqtobeacked) && fl & ACK != 0 {
        if ack == fwd.lastack.wrapping_add(1)
            && seq == fwd.nextseq
            && rev.lastsegmentflags & ZERO_WINDOW_PROBE != 0
        {
            // Resuming after a zero window probe: a window update.
            rev.nextseq = ack;
            rev.maxseqtobeacked = ack;
            ta |= WINDOW_UPDATE;
        } else {
            // Push the bound over the contiguous run of unacknowledged
            // segments starting at this ACK, if there is one.
            let (mut tail_le, mut tail_re) = (0u32, 0u32);
            let mut i = rev.head;
            while i != NIL {
                let n = pool.node(i);
                if tail_le == tail_re {
                    tail_le = n.seq;
                    tail_re = n.nextseq;
                }
                if ge(n.seq, ack) {
                    if n.nextseq == tail_le {
                        tail_le = n.seq;
                    } else {
                        tail_le = n.seq;
                        tail_re = n.nextseq;
                    }
                }
                i = n.next;
            }
            rev.maxseqtobeacked = if ack == tail_le && gt(tail_re, ack) {
                tail_re
            } else {
                ack
            };
            ta |= ACK_LOST_PACKET;
        }
    }

    // RETRANSMISSION / FAST RETRANSMISSION / OUT-OF-ORDER
    let mut not_advanced = fwd.nextseq != 0 && lt(seq, fwd.nextseq);
    'retrans: {
        if !(seglen > 0 || fl & (SYN | FIN) != 0) {
            break 'retrans;
        }
        if ta & KEEP_ALIVE != 0 {
            break 'retrans;
        }
        if seglen > 1 && fwd.nextseq.wrapping_sub(1) == seq {
            not_advanced = false;
        }
        let end = seq.wrapping_add(seglen);
        if seglen > 0 && rev.lastack != 0 && le(end, rev.lastack) {
            ta |= SPURIOUS_RETRANSMISSION;
            break 'retrans;
        }
        if !not_advanced {
            break 'retrans;
        }
        let t = delta(s.ts_ns, rev.lastack_ts);
        if rev.dupacknum >= 2 && rev.lastack == seq && t < FAST_RT_NS {
            ta |= FAST_RETRANSMISSION;
            break 'retrans;
        }
        let t = delta(s.ts_ns, fwd.nextseq_ts);
        let ooo_thres = if first_rtt == 0 {
            OOO_NS
        } else {
            first_rtt.cast_unsigned()
        };
        let syn_fin = u32::from(fl & (SYN | FIN) != 0);
        if t < ooo_thres && fwd.nextseq != end.wrapping_add(syn_fin) {
            ta |= OUT_OF_ORDER;
            break 'retrans;
        }
        ta |= RETRANSMISSION;
    }

    let mut nextseq = seq.wrapping_add(seglen);
    if (seglen > 0 || fl & (SYN | FIN) != 0) && fwd.count < MAX_UNACKED_PER_DIRECTION {
        if fl & (SYN | FIN) != 0 {
            nextseq = nextseq.wrapping_add(1);
        }
        if let Some(i) = pool.alloc(Node {
            seq,
            nextseq,
            next: fwd.head,
        }) {
            fwd.head = i;
            fwd.count += 1;
        }
    }
    if (gt(nextseq, fwd.nextseq) || fwd.nextseq == 0) && ta & ZERO_WINDOW_PROBE == 0 {
        fwd.nextseq = nextseq;
        fwd.nextseq_ts = s.ts_ns;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && ta & ZERO_WINDOW_PROBE == 0 {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = window;
    fwd.lastack = ack;
    fwd.lastack_ts = s.ts_ns;
    fwd.lastsegmentflags = ta;

    // Forget the other direction's segments this acknowledges.
    let mut prev = NIL;
    let mut i = rev.head;
    while i != NIL {
        let n = pool.node(i);
        if ack != n.nextseq && gt(n.nextseq, ack) {
            prev = i;
            i = n.next;
            continue;
        }
        if prev == NIL {
            rev.head = n.next;
        } else {
            pool.nodes[prev as usize].next = n.next;
        }
        pool.release(i);
        rev.count = rev.count.saturating_sub(1);
        i = n.next;
    }
    ta
}

#[cfg(test)]
mod tests {
    use super::flag::*;
    use super::*;

    fn seg(seq: u32, ack: u32, flags: u8, len: u32, ms: i64) -> Segment {
        Segment {
            seq,
            ack,
            flags,
            window: 1000,
            seglen: len,
            ts_ns: ms * 1_000_000,
        }
    }

    #[test]
    fn retransmission_lost_and_out_of_order() {
        let mut pool = Pool::default();
        let mut c = Conversation::default();
        assert_eq!(c.segment(&mut pool, 0, &seg(0, 0, SYN, 0, 0)), 0);
        assert_eq!(c.segment(&mut pool, 1, &seg(0, 1, SYN | ACK, 0, 10)), 0);
        assert_eq!(c.segment(&mut pool, 0, &seg(1, 1, ACK, 0, 20)), 0);
        assert_eq!(c.segment(&mut pool, 0, &seg(1, 1, ACK, 100, 30)), 0);
        // 101..201 missing: the next one is after a hole.
        assert_eq!(
            c.segment(&mut pool, 0, &seg(201, 1, ACK, 100, 31)),
            LOST_PACKET
        );
        // The hole's segment 1 ms later: out of order (under 3 ms).
        assert_eq!(
            c.segment(&mut pool, 0, &seg(101, 1, ACK, 100, 32)),
            OUT_OF_ORDER
        );
        // A copy of an unacknowledged segment: retransmission.
        assert_eq!(
            c.segment(&mut pool, 0, &seg(201, 1, ACK, 100, 33)),
            RETRANSMISSION
        );
        // Acknowledged, then sent again: spurious.
        assert_eq!(c.segment(&mut pool, 1, &seg(1, 301, ACK, 0, 40)), 0);
        assert_eq!(
            c.segment(&mut pool, 0, &seg(1, 1, ACK, 100, 400)),
            SPURIOUS_RETRANSMISSION
        );
        c.release(&mut pool);
        assert_eq!(pool.live(), 0);
    }

    #[test]
    fn fast_retransmission_after_duplicate_acks() {
        let mut pool = Pool::default();
        let mut c = Conversation::default();
        c.segment(&mut pool, 0, &seg(1, 1, ACK, 100, 0));
        c.segment(&mut pool, 0, &seg(101, 1, ACK, 100, 1));
        c.segment(&mut pool, 1, &seg(1, 101, ACK, 0, 2));
        assert_eq!(
            c.segment(&mut pool, 1, &seg(1, 101, ACK, 0, 3)),
            DUPLICATE_ACK
        );
        assert_eq!(
            c.segment(&mut pool, 1, &seg(1, 101, ACK, 0, 4)),
            DUPLICATE_ACK
        );
        assert_eq!(
            c.segment(&mut pool, 0, &seg(101, 1, ACK, 100, 5)),
            FAST_RETRANSMISSION
        );
    }

    #[test]
    fn the_pool_is_bounded_and_counts_what_it_drops() {
        let mut pool = Pool::new(4);
        let mut c = Conversation::default();
        for k in 0..10u32 {
            c.segment(&mut pool, 0, &seg(1 + 10 * k, 1, ACK, 10, i64::from(k)));
        }
        assert_eq!(pool.live(), 4);
        assert_eq!(pool.dropped(), 6);
        // Acknowledging everything gives the nodes back.
        c.segment(&mut pool, 1, &seg(1, 101, ACK, 0, 20));
        assert_eq!(pool.live(), 0);
    }
}
