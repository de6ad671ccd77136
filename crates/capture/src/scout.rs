//! Scouts: speculative record chains ahead of the classic-pcap reader.
//!
//! A pcap file is a chain — each record's header gives the next one's
//! offset — so indexing it is one dependent memory load after another, and
//! on a file larger than the caches each load waits a full trip to memory
//! (≈ 92 % of [`crate::parser::Parser::run_pcap`]'s time was that one load).
//! Scouts break the chain into pieces walked side by side: each starts at a
//! guessed offset further into the map, synchronises on the first offset
//! where a plausible header is followed by plausible headers, and walks its
//! own chain from there, one record per step of the reader. The loads of
//! the pieces are independent, so the memory serves them in parallel.
//!
//! Nothing a scout finds is trusted: the reader walks the true chain from
//! the file header and takes a scout's record only when the offset it has
//! reached is one the scout found. From a true record offset the chain is a
//! function of the bytes, and a scout applies the reader's own checks to
//! each header (the same [`Checks`]), so every record taken is exactly the
//! one the reader would have read itself. A scout that synchronised on
//! payload bytes, or whose chain never meets the reader's, costs time, never
//! a wrong record; offsets the reader has passed are dropped.

use std::collections::VecDeque;

use crate::bytes::{ByteOrder, u64_of};

/// Bytes between the offsets where consecutive scouts start.
pub(crate) const SPACING: u64 = 512 << 10;
/// Scouts walking at once (chains in flight, besides the reader's own).
const SCOUTS: usize = 8;
/// How far past the reader the scouts start, at most, in spacings (the
/// pages they touch are mapped: this bounds the resident set they add).
const AHEAD_SPACINGS: u64 = 16;
/// How far past the reader the scouts start, at most, by default.
pub(crate) const MAX_AHEAD: u64 = SPACING * AHEAD_SPACINGS;
/// Records found and not yet taken, at most, over all scouts: a scout
/// pauses while the reader is this far behind.
const MAX_FOUND: usize = 8192;
/// Records the reader indexes before scouts start (to learn their size).
const WARM_UP: u64 = 64;
/// Scouts pay off where records are small: many headers, each its own
/// wait. Above this average size (bytes with the header) none start.
const MAX_AVG_RECORD: u64 = 4096;
/// A scout looks for its synchronisation point this many average records
/// past its start (and [`MIN_SYNC_SEARCH`] at least).
const SYNC_SEARCH_RECORDS: u64 = 8;
const MIN_SYNC_SEARCH: u64 = 4096;
/// After this many scouts in a row that found no synchronisation point, no
/// more start on this map (each search reads its window byte by byte).
const MAX_FAILED_SYNCS: u32 = 8;
/// Plausible headers in a row a synchronisation point needs.
const SYNC_RUN: usize = 4;
/// Largest distance in seconds of a synchronisation point's timestamps from
/// the reader's last one.
const SYNC_MAX_GAP_S: u32 = 86_400;

/// A record header as the reader's fast path reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hdr {
    pub sec: u32,
    pub frac: u32,
    pub caplen: u32,
    pub wirelen: u32,
}

impl Hdr {
    #[inline]
    pub(crate) fn parse(b: &[u8], o: ByteOrder) -> Option<Hdr> {
        Some(Hdr {
            sec: o.u32(b, 0)?,
            frac: o.u32(b, 4)?,
            caplen: o.u32(b, 8)?,
            wirelen: o.u32(b, 12)?,
        })
    }
}

/// The checks the reader's fast path applies to a record header: the
/// record fits the data, its captured length is within the limit, and its
/// fields are not odd. A header that fails stops the fast path (and a
/// scout).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checks {
    pub order: ByteOrder,
    /// Largest acceptable captured length.
    pub limit: u32,
    /// Largest acceptable original length.
    pub max_wirelen: u32,
    /// Sub-second field bound (10⁶ or 10⁹).
    pub frac_limit: u32,
}

impl Checks {
    /// The record at `pos` of `data`, if its header passes: (header, bytes
    /// with the header).
    #[inline]
    pub(crate) fn record_at(&self, data: &[u8], pos: u64) -> Option<(Hdr, u64)> {
        let rest = usize::try_from(pos).ok().and_then(|p| data.get(p..))?;
        let h = Hdr::parse(rest, self.order)?;
        let total = u64::from(h.caplen) + 16;
        let ok = h.caplen <= self.limit && u64_of(rest.len()) >= total && !self.odd(&h);
        ok.then_some((h, total))
    }

    /// Structurally odd header fields: an original length over the bound
    /// or under the captured one, a sub-second field of a second or more.
    #[inline]
    pub(crate) fn odd(&self, h: &Hdr) -> bool {
        h.wirelen > self.max_wirelen || h.frac >= self.frac_limit || h.caplen > h.wirelen
    }

    /// A synchronisation point: a header with some captured bytes, a
    /// timestamp near `sec`, followed by [`SYNC_RUN`] − 1 more that pass.
    fn sync_at(&self, data: &[u8], pos: u64, sec: u32) -> bool {
        let mut at = pos;
        for i in 0..SYNC_RUN {
            let Some((h, total)) = self.record_at(data, at) else {
                return false;
            };
            if (i == 0 && h.caplen == 0) || h.sec.abs_diff(sec) > SYNC_MAX_GAP_S {
                return false;
            }
            at += total;
        }
        true
    }
}

#[derive(Clone, Copy, Debug)]
struct Found {
    pos: u64,
    hdr: Hdr,
    total: u64,
}

#[derive(Debug, Default)]
struct Scout {
    /// Where its synchronisation point is (`None`: none found).
    first: Option<u64>,
    /// The next header offset of its chain.
    at: u64,
    /// Still walking.
    live: bool,
    /// Records found, in file order, not yet taken or dropped.
    found: VecDeque<Found>,
}

/// The scouts of one map (see the module documentation).
#[derive(Debug)]
pub(crate) struct Scouts {
    /// Bytes between scouts' starts ([`SPACING`]; smaller in tests).
    spacing: u64,
    /// The reader's first offset seen and records seen since (their
    /// average size decides whether scouts start).
    origin: Option<u64>,
    seen: u64,
    /// Scouts in a row that found no synchronisation point.
    failed_syncs: u32,
    /// In file order of their starts.
    scouts: VecDeque<Scout>,
    /// Where the next scout starts.
    next_start: u64,
    /// Records found and not taken, over all scouts.
    found: usize,
    /// Scouts walking.
    live: usize,
    /// Scouts recycled (their `found` buffers keep their capacity).
    spare: Vec<Scout>,
}

impl Default for Scouts {
    fn default() -> Scouts {
        Scouts::with_spacing(SPACING)
    }
}

impl Scouts {
    /// Scouts starting `spacing` bytes apart (at most [`AHEAD_SPACINGS`]
    /// spacings past the reader).
    pub(crate) fn with_spacing(spacing: u64) -> Scouts {
        Scouts {
            spacing: spacing.max(1),
            origin: None,
            seen: 0,
            failed_syncs: 0,
            scouts: VecDeque::new(),
            next_start: 0,
            found: 0,
            live: 0,
            spare: Vec::new(),
        }
    }

    /// The record at `pos` — the reader's next offset on the true chain —
    /// if a scout found it; drops what the reader has passed.
    #[inline]
    pub(crate) fn take(&mut self, pos: u64) -> Option<(Hdr, u64)> {
        while let Some(s) = self.scouts.front_mut() {
            while let Some(f) = s.found.front() {
                if f.pos >= pos {
                    break;
                }
                s.found.pop_front();
                self.found -= 1;
            }
            if let Some(f) = s.found.front() {
                if f.pos == pos {
                    let f = *f;
                    s.found.pop_front();
                    self.found -= 1;
                    return Some((f.hdr, f.total));
                }
                return None;
            }
            if s.live && s.first.is_some() && s.at > pos {
                // Walking, ahead of the reader, nothing found yet kept.
                return None;
            }
            // Exhausted, stopped or never synchronised, and the reader is at
            // or past its chain's end: done with it.
            if let Some(s) = self.scouts.pop_front() {
                self.recycle(s);
            }
        }
        None
    }

    fn recycle(&mut self, mut s: Scout) {
        self.found -= s.found.len();
        self.live -= usize::from(s.live);
        s.found.clear();
        self.spare.push(s);
    }

    /// After the reader indexed a record and moved to `pos` (`sec`: that
    /// record's timestamp): one step of every walking scout (one header
    /// each: the loads go out together), after starting new scouts ahead.
    #[inline]
    pub(crate) fn step(&mut self, data: &[u8], checks: &Checks, pos: u64, sec: u32) {
        let origin = *self.origin.get_or_insert(pos);
        self.seen += 1;
        if self.found >= MAX_FOUND {
            return;
        }
        if self.seen >= WARM_UP && self.failed_syncs < MAX_FAILED_SYNCS {
            self.start_scouts(
                data,
                checks,
                pos,
                sec,
                pos.saturating_sub(origin) / self.seen,
            );
        }
        self.walk(data, checks);
    }

    /// Starts scouts (up to [`SCOUTS`] walking, within the reach ahead of
    /// `pos`), when records average `avg` bytes or fewer.
    fn start_scouts(&mut self, data: &[u8], checks: &Checks, pos: u64, sec: u32, avg: u64) {
        if avg > MAX_AVG_RECORD {
            return;
        }
        let len = u64_of(data.len());
        let first_start = pos.saturating_add(self.spacing);
        if self.next_start < first_start {
            self.next_start = first_start;
        }
        let reach = pos
            .saturating_add(self.spacing.saturating_mul(AHEAD_SPACINGS))
            .min(len);
        let search = (avg * SYNC_SEARCH_RECORDS).max(MIN_SYNC_SEARCH);
        while self.live < SCOUTS && self.next_start < reach && self.failed_syncs < MAX_FAILED_SYNCS
        {
            let start = self.next_start;
            self.next_start = start.saturating_add(self.spacing);
            let mut s = self.spare.pop().unwrap_or_default();
            let end = start.saturating_add(search).min(len);
            s.first = (start..end).find(|&q| checks.sync_at(data, q, sec));
            s.at = s.first.unwrap_or(start);
            s.live = s.first.is_some();
            if s.live {
                self.failed_syncs = 0;
                self.live += 1;
            } else {
                self.failed_syncs += 1;
            }
            self.scouts.push_back(s);
        }
    }

    /// One step of every walking scout.
    #[inline]
    fn walk(&mut self, data: &[u8], checks: &Checks) {
        let n = self.scouts.len();
        for k in 0..n {
            // The next scout's synchronisation point ends this one's walk.
            let stop = self
                .scouts
                .get(k + 1)
                .and_then(|s| s.first)
                .unwrap_or(u64::MAX);
            let Some(s) = self.scouts.get_mut(k) else {
                break;
            };
            if !s.live {
                continue;
            }
            if s.at >= stop {
                s.live = false;
                self.live -= 1;
                continue;
            }
            match checks.record_at(data, s.at) {
                Some((hdr, total)) => {
                    s.found.push_back(Found {
                        pos: s.at,
                        hdr,
                        total,
                    });
                    self.found += 1;
                    s.at += total;
                    // The next step's header, on its way meanwhile.
                    crate::mmap::prefetch(data, s.at);
                }
                None => {
                    s.live = false;
                    self.live -= 1;
                }
            }
        }
    }
}

/// The reader's walk of a classic pcap body (record headers from offset 0,
/// little-endian, microseconds) with scouts `spacing` bytes apart, against
/// the same walk reading every header itself: panics if a record taken from
/// a scout differs from the one read, or the chains differ. Returns the
/// records walked and how many came from scouts. For tests and the fuzz
/// runner (which gives it arbitrary bytes).
#[doc(hidden)]
pub fn check_scouts_follow_the_chain(data: &[u8], spacing: u64) -> (usize, usize) {
    let c = Checks {
        order: ByteOrder::Little,
        limit: 262_144,
        max_wirelen: 256 << 20,
        frac_limit: 1_000_000,
    };
    let mut s = Scouts::with_spacing(spacing);
    let mut pos = 0u64;
    let (mut walked, mut taken) = (0, 0);
    while let Some((h, total)) = c.record_at(data, pos) {
        if let Some((sh, st)) = s.take(pos) {
            assert_eq!(
                (sh.sec, sh.frac, sh.caplen, sh.wirelen, st),
                (h.sec, h.frac, h.caplen, h.wirelen, total),
                "record at {pos}"
            );
            taken += 1;
        }
        walked += 1;
        pos += total;
        s.step(data, &c, pos, h.sec);
    }
    // The scouts' bookkeeping holds.
    assert_eq!(
        s.found,
        s.scouts.iter().map(|x| x.found.len()).sum::<usize>()
    );
    assert_eq!(s.live, s.scouts.iter().filter(|x| x.live).count());
    (walked, taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pcap body (no file header) of records with lengths from `lens`,
    /// payload bytes that look like nothing in particular.
    fn body(lens: &[u32]) -> (Vec<u8>, Vec<u64>) {
        let mut d = Vec::new();
        let mut at = Vec::new();
        for (i, &l) in lens.iter().enumerate() {
            at.push(u64_of(d.len()));
            d.extend_from_slice(&1_700_000_000u32.to_le_bytes());
            d.extend_from_slice(&u32::try_from(i % 1000).unwrap_or(0).to_le_bytes());
            d.extend_from_slice(&l.to_le_bytes());
            d.extend_from_slice(&l.to_le_bytes());
            d.extend((0..l).map(|j| u8::try_from((j * 7 + 3) % 251).unwrap_or(0)));
        }
        (d, at)
    }

    /// Walks `data` with scouts at several spacings: records as read, and
    /// `truth` records walked; returns the most taken from scouts.
    fn walk(data: &[u8], truth: &[u64]) -> usize {
        let mut most = 0;
        for spacing in [1000, 4096, 65_536, SPACING] {
            let (walked, taken) = check_scouts_follow_the_chain(data, spacing);
            assert_eq!(walked, truth.len(), "spacing {spacing}");
            most = most.max(taken);
        }
        most
    }

    #[test]
    fn scouts_find_the_true_chain_ahead() {
        let lens: Vec<u32> = (0..20_000u32).map(|i| 60 + (i * 37) % 1400).collect();
        let (d, truth) = body(&lens);
        let taken = walk(&d, &truth);
        // Nearly every record after the first scout's start comes from one.
        assert!(taken > truth.len() * 3 / 4, "{taken} of {}", truth.len());
    }

    #[test]
    fn a_scout_synchronised_on_payload_never_gives_a_record() {
        // Payloads that hold fake record headers pointing elsewhere: a scout
        // may synchronise on them, but the reader takes only true offsets.
        let mut lens = Vec::new();
        for i in 0..6000u32 {
            lens.push(if i % 3 == 0 { 200 } else { 90 + i % 50 });
        }
        let (mut d, truth) = body(&lens);
        for (k, &at) in truth.iter().enumerate() {
            if k % 3 == 0 {
                // A plausible chain of fake headers inside the payload.
                let p = usize::try_from(at).unwrap_or(0) + 16 + 8;
                for j in 0..5usize {
                    let q = p + j * 24;
                    if q + 16 <= d.len() {
                        d[q..q + 4].copy_from_slice(&1_700_000_000u32.to_le_bytes());
                        d[q + 4..q + 8].copy_from_slice(&5u32.to_le_bytes());
                        d[q + 8..q + 12].copy_from_slice(&8u32.to_le_bytes());
                        d[q + 12..q + 16].copy_from_slice(&8u32.to_le_bytes());
                    }
                }
            }
        }
        walk(&d, &truth);
    }

    #[test]
    fn garbage_and_a_cut_end_stop_scouts_quietly() {
        let lens: Vec<u32> = (0..5000u32).map(|i| 100 + i % 900).collect();
        let (mut d, truth) = body(&lens);
        let cut = truth[4000];
        // Garbage from record 4000 on: the reader's chain ends there.
        for b in d.iter_mut().skip(usize::try_from(cut).unwrap_or(0) + 8) {
            *b = 0xff;
        }
        walk(&d, &truth[..4000]);
        d.truncate(usize::try_from(truth[2500]).unwrap_or(0) + 20);
        walk(&d, &truth[..2500]);
    }

    #[test]
    fn no_scouts_start_where_records_are_large_or_syncs_fail() {
        // 8 KiB records: over the average size scouts pay off at.
        let (d, truth) = body(&vec![8000; 400]);
        assert_eq!(check_scouts_follow_the_chain(&d, 4096), (truth.len(), 0));
        // Small records whose timestamps are far from the reader's: every
        // search fails, and after a few the scouts give up.
        let (mut d, truth) = body(&vec![200; 4000]);
        for &at in &truth[100..] {
            let at = usize::try_from(at).unwrap_or(0);
            d[at..at + 4].copy_from_slice(&5u32.to_le_bytes());
        }
        let mut s = Scouts::with_spacing(4096);
        let c = Checks {
            order: ByteOrder::Little,
            limit: 262_144,
            max_wirelen: 256 << 20,
            frac_limit: 1_000_000,
        };
        let mut pos = 0;
        for _ in 0..truth.len() {
            let Some((_, total)) = c.record_at(&d, pos) else {
                break;
            };
            pos += total;
            s.step(&d, &c, pos, 1_700_000_000);
        }
        assert_eq!(s.failed_syncs, MAX_FAILED_SYNCS);
        let failed = s.scouts.iter().filter(|x| x.first.is_none()).count();
        assert_eq!(failed, usize::try_from(MAX_FAILED_SYNCS).unwrap_or(0));
    }
}
