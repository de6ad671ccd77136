//! IP defragmentation (IPv4 and IPv6) with tshark's choices, in bounded
//! memory.
//!
//! One [`Defragmenter`] sees every packet of a file in order (the stateful
//! pass on the reader's thread) and says, per fragment, whether its datagram
//! is still incomplete ([`Verdict::Held`]) or complete at this fragment
//! ([`Verdict::Complete`], with the reassembled payload).
//!
//! The rules are Wireshark's `reassemble.c` (`fragment_add_work`,
//! `fragment_defragment_and_free`) as used by `packet-ip.c` and
//! `packet-ipv6.c` with their defaults:
//!
//! - A datagram is keyed by source, destination, protocol and
//!   identification; once complete it is forgotten, so a later fragment with
//!   the same key starts a new datagram.
//! - Its length is set by the first fragment without "more fragments"; it is
//!   complete when the fragments received cover `[0, length)` without a hole,
//!   in any arrival order (RFC 815's hole list, as a sorted walk).
//! - Overlaps: the fragments are laid out in offset order (equal offsets in
//!   arrival order) and each contributes only the bytes beyond what the ones
//!   before it covered, so the lowest offset wins and, at equal offsets, the
//!   first received. Unlike RFC 5722's advice for IPv6 the datagram is not
//!   discarded (tshark flags the overlap and reassembles). Bytes past the
//!   datagram's length are ignored.
//! - A fragment whose payload was cut by the snaplen is not reassembled; it
//!   is dissected as it is ([`Verdict::AsIs`]). So is an atomic fragment
//!   (offset 0, no more fragments).
//!
//! Bounds (tshark has none): at most [`DefragConfig::max_datagram`] bytes
//! stored per datagram (more: the datagram is dropped), at most
//! [`DefragConfig::max_bytes`] and [`DefragConfig::max_pending`] over all
//! pending datagrams (beyond: the oldest is dropped), and a datagram whose
//! first fragment is older than [`DefragConfig::timeout_ns`] (packet time)
//! is dropped. Every drop is counted in [`DefragStats`]; the fragments of a
//! dropped datagram stay [`Verdict::Held`] (their payload is shown as data).
//! Buffers of finished datagrams are reused, and eight 64 KiB datagram
//! buffers are made at the file's first fragment, so fragmented traffic
//! allocates nothing per packet unless more datagrams are pending at once
//! or one needs more than 64 KiB.

use std::collections::VecDeque;

use crate::fasthash::FastMap;
use crate::key::Addr;
use crate::packet::{L4, PacketInfo};

/// Limits of the defragmenter.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    /// Payload bytes stored per datagram (the largest IP datagram's payload
    /// with every fragment overlapping once is about 128 KiB).
    pub max_datagram: usize,
    /// Payload bytes stored over all pending datagrams.
    pub max_bytes: usize,
    /// Pending datagrams at most.
    pub max_pending: usize,
    /// A datagram not complete this long after its first fragment (packet
    /// timestamps, nanoseconds) is dropped.
    pub timeout_ns: i64,
}

impl Default for DefragConfig {
    fn default() -> DefragConfig {
        DefragConfig {
            max_datagram: 256 * 1024,
            max_bytes: 64 * 1024 * 1024,
            max_pending: 65_536,
            timeout_ns: 60_000_000_000,
        }
    }
}

/// What became of the datagrams.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments added to a datagram.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub completed: u64,
    /// Datagrams dropped incomplete after the timeout.
    pub timed_out: u64,
    /// Datagrams dropped to stay within `max_bytes`/`max_pending`.
    pub evicted: u64,
    /// Datagrams dropped for storing more than `max_datagram` bytes.
    pub oversized: u64,
    /// Fragments that overlapped bytes already received.
    pub overlaps: u64,
}

impl DefragStats {
    /// Datagrams given up on (every reason).
    pub fn dropped(&self) -> u64 {
        self.timed_out + self.evicted + self.oversized
    }
}

/// The defragmenter's decision for one packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Not a fragment to reassemble: dissect the packet as it is.
    AsIs,
    /// A fragment of a datagram not complete at this packet.
    Held,
    /// This fragment completes its datagram: the reassembled IP payload,
    /// how many fragments made it, and the transport header the first
    /// fragment carried (as the cheap parse saw it).
    Complete {
        payload: &'a [u8],
        fragments: u32,
        first: L4,
    },
}

type Key = (Addr, Addr, u8, u32);

#[derive(Copy, Clone, Debug)]
struct Piece {
    offset: u32,
    len: u32,
    /// Where its bytes are in `Pending::data`.
    at: u32,
}

#[derive(Debug, Default)]
struct Pending {
    pieces: Vec<Piece>,
    data: Vec<u8>,
    total: Option<u32>,
    first: Option<L4>,
    first_ts: i64,
    /// Creation number, to match `order` entries.
    serial: u64,
}

/// Reassembles the IP datagrams of one file, fragment by fragment.
#[derive(Debug, Default)]
pub struct Defragmenter {
    cfg: DefragConfig,
    pending: FastMap<Key, Pending>,
    /// Pending datagrams by creation (stale entries are skipped).
    order: VecDeque<(Key, u64)>,
    serial: u64,
    bytes: usize,
    /// Buffers of finished datagrams, for reuse.
    spare: Vec<Pending>,
    /// The last reassembled payload.
    out: Vec<u8>,
    /// Sort scratch.
    idx: Vec<usize>,
    /// The buffers for the first datagrams were made.
    primed: bool,
    stats: DefragStats,
}

/// Spare buffers kept at most.
const SPARE: usize = 64;
/// Datagram buffers made ready at the first fragment, and their size.
const PRIMED: usize = 8;
const PRIMED_BYTES: usize = 64 * 1024;

impl Defragmenter {
    pub fn new(cfg: DefragConfig) -> Defragmenter {
        Defragmenter {
            cfg,
            ..Defragmenter::default()
        }
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Datagrams waiting for fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Payload bytes stored for pending datagrams.
    pub fn buffered(&self) -> usize {
        self.bytes
    }

    /// One packet, in file order: `p` is its cheap parse, `frame` its bytes,
    /// `ts_ns` its time.
    /// What [`Defragmenter::packet`] does for a packet that is not a
    /// fragment: let the clock advance to `ts_ns` (datagrams waiting too
    /// long are given up). For a caller that can tell cheaply that a packet
    /// is no fragment.
    #[inline]
    pub fn tick(&mut self, ts_ns: i64) {
        if !self.order.is_empty() {
            self.expire(ts_ns);
        }
    }

    pub fn packet(&mut self, p: &PacketInfo, frame: &[u8], ts_ns: i64) -> Verdict<'_> {
        self.expire(ts_ns);
        let (Some(fr), Some(src), Some(dst)) = (p.frag, p.src, p.dst) else {
            return Verdict::AsIs;
        };
        if (fr.offset == 0 && !fr.more) || !p.ip_payload_captured {
            return Verdict::AsIs;
        }
        let Some(bytes) = frame
            .get(p.ip_payload.clone())
            .and_then(|b| b.get(..usize::try_from(p.ip_payload_len).unwrap_or(usize::MAX)))
        else {
            return Verdict::AsIs;
        };
        let key = (src, dst, p.proto, fr.id);
        if !self.primed {
            // The first fragment of the file: buffers for a few concurrent
            // datagrams at once, so fragmented traffic does not allocate
            // per datagram (a file without fragments pays nothing).
            self.primed = true;
            self.pending.reserve(PRIMED);
            self.order.reserve(PRIMED);
            self.idx.reserve(64);
            self.out.reserve(PRIMED_BYTES);
            for _ in 0..PRIMED {
                self.spare.push(Pending {
                    pieces: Vec::with_capacity(64),
                    data: Vec::with_capacity(PRIMED_BYTES),
                    ..Pending::default()
                });
            }
        }
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.cfg.max_pending.max(1) {
                if !self.evict_oldest() {
                    break;
                }
            }
            let mut st = self.spare.pop().unwrap_or_default();
            // (A primed or reused buffer has room for a typical datagram;
            // a fresh one grows with its bytes, so capacity stays close to
            // what `bytes` counts against `max_bytes`.)
            self.serial += 1;
            st.serial = self.serial;
            st.first_ts = ts_ns;
            self.order.push_back((key, self.serial));
            self.pending.insert(key, st);
        }
        let stored = self.pending.get(&key).map_or(0, |s| s.data.len());
        if stored + bytes.len() > self.cfg.max_datagram {
            self.stats.oversized += 1;
            self.drop_datagram(&key);
            return Verdict::Held;
        }
        while self.bytes + bytes.len() > self.cfg.max_bytes {
            let oldest = self.order.front().map(|&(k, _)| k);
            if oldest == Some(key) || !self.evict_oldest() {
                break;
            }
        }
        self.stats.fragments += 1;
        let Some(st) = self.pending.get_mut(&key) else {
            return Verdict::Held;
        };
        let end = fr.offset.saturating_add(p.ip_payload_len);
        if st
            .pieces
            .iter()
            .any(|q| q.offset < end && fr.offset < q.offset + q.len)
        {
            self.stats.overlaps += 1;
        }
        st.pieces.push(Piece {
            offset: fr.offset,
            len: p.ip_payload_len,
            at: u32::try_from(st.data.len()).unwrap_or(u32::MAX),
        });
        st.data.extend_from_slice(bytes);
        self.bytes += bytes.len();
        if fr.offset == 0 && st.first.is_none() {
            st.first = Some(p.l4);
        }
        if !fr.more && st.total.is_none() {
            st.total = Some(end);
        }
        let Some(total) = st.total else {
            return Verdict::Held;
        };
        // Offset order, equal offsets in arrival order (a stable sort).
        self.idx.clear();
        self.idx.extend(0..st.pieces.len());
        let pieces = &st.pieces;
        self.idx.sort_by_key(|&i| pieces[i].offset);
        let mut covered = 0u32;
        for &i in &self.idx {
            let q = pieces[i];
            if q.offset > covered {
                break;
            }
            covered = covered.max(q.offset + q.len);
        }
        if covered < total {
            return Verdict::Held;
        }
        self.out.clear();
        self.out.resize(total as usize, 0);
        let mut pos = 0u32;
        for &i in &self.idx {
            let q = pieces[i];
            let q_end = (q.offset + q.len).min(total);
            if q_end <= pos {
                continue;
            }
            let from = pos.max(q.offset);
            let src_at = (q.at + (from - q.offset)) as usize;
            let n = (q_end - from) as usize;
            if let (Some(dst), Some(src)) = (
                self.out.get_mut(from as usize..from as usize + n),
                st.data.get(src_at..src_at + n),
            ) {
                dst.copy_from_slice(src);
            }
            pos = q_end;
        }
        let fragments = u32::try_from(st.pieces.len()).unwrap_or(u32::MAX);
        let first = st.first.unwrap_or(L4::Other);
        self.stats.completed += 1;
        self.drop_datagram(&key);
        Verdict::Complete {
            payload: &self.out,
            fragments,
            first,
        }
    }

    /// Drop datagrams whose first fragment is older than the timeout.
    fn expire(&mut self, now: i64) {
        while let Some(&(key, serial)) = self.order.front() {
            match self.pending.get(&key) {
                Some(st) if st.serial == serial => {
                    if now.saturating_sub(st.first_ts) <= self.cfg.timeout_ns {
                        return;
                    }
                    self.stats.timed_out += 1;
                    self.drop_datagram(&key);
                }
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }

    /// Drop the oldest pending datagram; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((key, serial)) = self.order.pop_front() {
            if self.pending.get(&key).is_some_and(|s| s.serial == serial) {
                self.stats.evicted += 1;
                self.drop_datagram(&key);
                return true;
            }
        }
        false
    }

    fn drop_datagram(&mut self, key: &Key) {
        if let Some(mut st) = self.pending.remove(key) {
            self.bytes = self.bytes.saturating_sub(st.data.len());
            if self.spare.len() < SPARE && st.data.capacity() <= self.cfg.max_datagram {
                st.pieces.clear();
                st.data.clear();
                st.total = None;
                st.first = None;
                self.spare.push(st);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
mod tests {
    use super::*;
    use crate::packet::Frag;

    /// A fragment as the cheap parse would describe it: the frame is the
    /// fragment's payload alone.
    fn frag(id: u32, offset: u32, more: bool, payload: &[u8]) -> (PacketInfo, Vec<u8>) {
        let p = PacketInfo {
            src: Some(Addr::v4([10, 0, 0, 1])),
            dst: Some(Addr::v4([10, 0, 0, 2])),
            proto: 17,
            frag: Some(Frag { id, offset, more }),
            l4: if offset == 0 {
                L4::Udp { sport: 1, dport: 2 }
            } else {
                L4::Fragment
            },
            ip_payload_len: payload.len() as u32,
            ip_payload_captured: true,
            ip_payload: 0..payload.len(),
            ..PacketInfo::default()
        };
        (p, payload.to_vec())
    }

    fn run(d: &mut Defragmenter, frags: &[(u32, u32, bool, Vec<u8>)]) -> Vec<Option<Vec<u8>>> {
        frags
            .iter()
            .enumerate()
            .map(|(i, (id, off, more, data))| {
                let (p, f) = frag(*id, *off, *more, data);
                match d.packet(&p, &f, i as i64) {
                    Verdict::Complete { payload, .. } => Some(payload.to_vec()),
                    Verdict::Held => None,
                    Verdict::AsIs => panic!("fragment {i} not reassembled"),
                }
            })
            .collect()
    }

    #[test]
    fn in_order_and_out_of_order() {
        let data: Vec<u8> = (0..40u8).collect();
        let parts = |order: &[usize]| -> Vec<(u32, u32, bool, Vec<u8>)> {
            order
                .iter()
                .map(|&k| {
                    let off = (k * 16) as u32;
                    let end = (k * 16 + 16).min(40);
                    (7, off, end < 40, data[k * 16..end].to_vec())
                })
                .collect()
        };
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut d = Defragmenter::default();
            let got = run(&mut d, &parts(&order));
            assert_eq!(got[0], None);
            assert_eq!(got[1], None);
            assert_eq!(got[2].as_deref(), Some(&data[..]), "order {order:?}");
            assert_eq!(d.pending(), 0);
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn overlaps_lowest_offset_then_first_received_wins() {
        let mut d = Defragmenter::default();
        // [0,16) of 'a', then [8,24) of 'b' (last), then a duplicate [0,16) of 'c'.
        let got = run(
            &mut d,
            &[(1, 8, false, vec![b'b'; 16]), (1, 0, true, vec![b'a'; 16])],
        );
        let mut want = vec![b'a'; 16];
        want.extend_from_slice(&[b'b'; 8]);
        assert_eq!(got[1].as_deref(), Some(&want[..]));
        assert_eq!(d.stats().overlaps, 1);
        // Equal offsets: the first received wins.
        let got = run(
            &mut d,
            &[(2, 8, false, vec![b'z'; 8]), (2, 0, true, vec![b'x'; 8])],
        );
        assert_eq!(got[1].as_deref(), Some(&b"xxxxxxxxzzzzzzzz"[..]));
        let mut d = Defragmenter::default();
        let got = run(
            &mut d,
            &[
                (3, 0, true, vec![b'1'; 8]),
                (3, 0, true, vec![b'2'; 16]),
                (3, 16, false, vec![b'3'; 8]),
            ],
        );
        assert_eq!(got[2].as_deref(), Some(&b"111111112222222233333333"[..]));
    }

    #[test]
    fn a_datagram_is_forgotten_once_complete() {
        let mut d = Defragmenter::default();
        let got = run(
            &mut d,
            &[
                (5, 0, true, vec![1; 8]),
                (5, 8, false, vec![2; 8]),
                (5, 8, false, vec![3; 8]),
            ],
        );
        assert!(got[1].is_some());
        assert_eq!(got[2], None, "a late duplicate starts a new datagram");
        assert_eq!(d.pending(), 1);
    }

    #[test]
    fn bounds_time_out_and_evict() {
        let cfg = DefragConfig {
            max_datagram: 32,
            max_bytes: 64,
            max_pending: 3,
            timeout_ns: 100,
        };
        let mut d = Defragmenter::new(cfg);
        // Four datagrams that never complete: the fourth evicts the first.
        for id in 0..4 {
            let (p, f) = frag(id, 0, true, &[0; 8]);
            assert_eq!(d.packet(&p, &f, 0), Verdict::Held);
        }
        assert_eq!(d.pending(), 3);
        assert_eq!(d.stats().evicted, 1);
        // Too much for one datagram.
        let (p, f) = frag(9, 8, true, &[0; 40]);
        assert_eq!(d.packet(&p, &f, 1), Verdict::Held);
        assert_eq!(d.stats().oversized, 1);
        // Later than the timeout: everything pending goes.
        let (p, f) = frag(10, 0, true, &[0; 8]);
        assert_eq!(d.packet(&p, &f, 1_000), Verdict::Held);
        assert_eq!(d.stats().timed_out, 2);
        assert_eq!(d.pending(), 1);
        // Total bytes stay under max_bytes whatever arrives.
        for id in 100..200 {
            let (p, f) = frag(id, 0, true, &[0; 24]);
            let _ = d.packet(&p, &f, 1_000);
            assert!(d.buffered() <= 64);
            assert!(d.pending() <= 3);
        }
    }

    #[test]
    fn cut_and_atomic_fragments_are_dissected_as_they_are() {
        let mut d = Defragmenter::default();
        let (p, f) = frag(1, 0, false, &[0; 8]);
        assert_eq!(d.packet(&p, &f, 0), Verdict::AsIs);
        let (mut p, f) = frag(1, 0, true, &[0; 8]);
        p.ip_payload_captured = false;
        assert_eq!(d.packet(&p, &f, 0), Verdict::AsIs);
        assert_eq!(d.pending(), 0);
    }
}
