//! Classic pcap: file header, record headers, plausibility for resync.

use crate::bytes::{ByteOrder, u64_of};
use crate::damage::DamageKind;
use crate::info::{InterfaceInfo, SectionInfo};
use crate::parser::{Cand, Fmt, Parser, RecIdx, Step, Window};
use crate::scout::{Checks, Hdr};
use crate::time::{TsResolution, pcap_ts_ns};

pub(crate) const FILE_HEADER_LEN: usize = 24;
pub(crate) const RECORD_HEADER_LEN: usize = 16;
/// Records may exceed the file snaplen (libpcap tolerates it) up to this.
pub(crate) const MIN_RECORD_LIMIT: u32 = 262_144;
/// Hard cap on any record, whatever the snaplen says (bounds stream buffers).
pub(crate) const MAX_RECORD_LIMIT: u32 = 64 << 20;
/// Largest original length a resync candidate may claim.
const MAX_PLAUSIBLE_WIRELEN: u32 = 256 << 20;
/// Largest gap between consecutive timestamps a resync candidate may show.
const MAX_PLAUSIBLE_GAP_S: u32 = 86_400;

/// Link-type field: FCS length present flag and FCS length (libpcap LT_ macros).
const LT_FCS_LENGTH_PRESENT: u32 = 0x0400_0000;

/// Recognises a pcap magic: (byte order, nanosecond resolution).
pub(crate) fn magic(m: &[u8]) -> Option<(ByteOrder, bool)> {
    match m {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((ByteOrder::Little, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((ByteOrder::Big, false)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((ByteOrder::Little, true)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((ByteOrder::Big, true)),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct PcapState {
    pub order: ByteOrder,
    pub nanos: bool,
    pub snaplen: u32,
    pub linktype_field: u32,
    pub linktype: u32,
    /// Largest acceptable captured length.
    pub limit: u32,
    header_done: bool,
    prev_sec: Option<u32>,
}

impl PcapState {
    /// Builds the state from a complete 24-byte file header.
    pub(crate) fn from_header(
        h: &[u8],
        order: ByteOrder,
        nanos: bool,
    ) -> (PcapState, SectionInfo, InterfaceInfo) {
        let major = order.u16(h, 4).unwrap_or(0);
        let minor = order.u16(h, 6).unwrap_or(0);
        let snaplen = order.u32(h, 16).unwrap_or(0);
        let linktype_field = order.u32(h, 20).unwrap_or(0);
        let linktype = linktype_field & 0xffff;
        let fcs_len = (linktype_field & LT_FCS_LENGTH_PRESENT != 0)
            .then(|| u8::try_from(linktype_field >> 28).unwrap_or(0));
        let st = PcapState {
            order,
            nanos,
            snaplen,
            linktype_field,
            linktype,
            limit: snaplen.clamp(MIN_RECORD_LIMIT, MAX_RECORD_LIMIT),
            header_done: false,
            prev_sec: None,
        };
        let section = SectionInfo {
            offset: 0,
            byte_order: order,
            version: (major, minor),
            comment: None,
            hardware: None,
            os: None,
            application: None,
        };
        let iface = InterfaceInfo {
            section: 0,
            id: 0,
            linktype,
            snaplen,
            tsresol: if nanos {
                TsResolution::NANO
            } else {
                TsResolution::MICRO
            },
            tsoffset: 0,
            name: None,
            description: None,
            fcs_len,
        };
        (st, section, iface)
    }

    fn plausible(&self, h: &Hdr, prev_sec: Option<u32>) -> bool {
        let frac_limit = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        h.caplen <= self.limit
            && h.wirelen >= h.caplen
            && h.wirelen <= MAX_PLAUSIBLE_WIRELEN
            && h.frac < frac_limit
            && prev_sec.is_none_or(|p| p.abs_diff(h.sec) <= MAX_PLAUSIBLE_GAP_S)
    }

    /// Is there a plausible record at `q`, followed by another plausible
    /// record header (or by the exact end of the file)?
    pub(crate) fn candidate(&self, w: &Window<'_>, q: u64) -> Cand {
        let rest = w.rest(q);
        let need_more = if w.eof { Cand::No } else { Cand::NeedMore };
        let Some(h) = Hdr::parse(rest, self.order) else {
            return need_more;
        };
        if !self.plausible(&h, self.prev_sec) {
            return Cand::No;
        }
        let len = u64::from(h.caplen) + u64_of(RECORD_HEADER_LEN);
        if w.eof && q.saturating_add(len) == w.end() {
            return Cand::Yes;
        }
        let next = usize::try_from(len)
            .ok()
            .and_then(|n| rest.get(n..))
            .and_then(|r| Hdr::parse(r, self.order));
        match next {
            None => need_more,
            Some(n) if self.plausible(&n, Some(h.sec)) => Cand::Yes,
            Some(_) => Cand::No,
        }
    }
}

impl PcapState {
    /// Structurally odd header fields (timestamps are not judged here:
    /// fuzzed and badly-clocked captures have wild ones that libpcap accepts).
    fn odd(&self, h: &Hdr) -> bool {
        self.checks().odd(h)
    }

    fn frac_limit(&self) -> u32 {
        if self.nanos { 1_000_000_000 } else { 1_000_000 }
    }

    /// The fast path's checks of a record header (those of [`Self::odd`],
    /// the captured-length limit and completeness).
    fn checks(&self) -> Checks {
        Checks {
            order: self.order,
            limit: self.limit,
            max_wirelen: MAX_PLAUSIBLE_WIRELEN,
            frac_limit: self.frac_limit(),
        }
    }

    /// For a suspicious record at `q` (complete in the window): does the
    /// next header look like a record of the same capture?
    fn follower_ok(&self, w: &Window<'_>, q: u64, h: &Hdr) -> Cand {
        let len = u64::from(h.caplen) + u64_of(RECORD_HEADER_LEN);
        let next_at = q.saturating_add(len);
        if w.eof && next_at >= w.end() {
            return Cand::Yes;
        }
        let Some(n) = Hdr::parse(w.rest(next_at), self.order) else {
            // At EOF: a truncated follower is reported on its own.
            return if w.eof { Cand::Yes } else { Cand::NeedMore };
        };
        if n.caplen <= self.limit && n.wirelen <= MAX_PLAUSIBLE_WIRELEN {
            Cand::Yes
        } else {
            Cand::No
        }
    }
}

impl Parser {
    pub(crate) fn step_pcap(&mut self, w: &Window<'_>) -> Step {
        let Fmt::Pcap(st) = &mut self.fmt else {
            return Step::End;
        };
        if !st.header_done {
            st.header_done = true;
            self.pos = u64_of(FILE_HEADER_LEN);
            return Step::Header {
                offset: 0,
                len: FILE_HEADER_LEN,
            };
        }
        let st = *st;
        let pos = self.pos;
        let rest = w.rest(pos);
        if rest.is_empty() {
            return if w.eof { Step::End } else { Step::NeedMore };
        }
        let Some(h) = Hdr::parse(rest, st.order) else {
            if !w.eof {
                return Step::NeedMore;
            }
            self.damage_to_end(
                w,
                DamageKind::Truncated,
                format!(
                    "file ends inside a record header ({} of {RECORD_HEADER_LEN} bytes)",
                    rest.len()
                ),
            );
            return Step::Skip;
        };
        if h.caplen > st.limit {
            self.start_resync(
                pos,
                DamageKind::BadLength,
                DamageKind::BadLength,
                format!(
                    "record claims {} captured bytes (limit {})",
                    h.caplen, st.limit
                ),
            );
            return Step::Skip;
        }
        let total = u64::from(h.caplen) + u64_of(RECORD_HEADER_LEN);
        if u64_of(rest.len()) < total {
            if !w.eof {
                return Step::NeedMore;
            }
            self.start_resync(
                pos,
                DamageKind::Truncated,
                DamageKind::BadLength,
                format!(
                    "file ends inside a record ({} of {total} bytes present)",
                    rest.len()
                ),
            );
            return Step::Skip;
        }
        // A header with odd fields (bad fraction, caplen > wirelen, a huge
        // original length) is what real files sometimes contain, but also what a
        // misaligned read after a lying length looks like. Accept it only if
        // the next header is acceptable too (or the file ends right after it).
        if st.odd(&h) {
            match st.follower_ok(w, pos, &h) {
                Cand::Yes => {}
                Cand::NeedMore => return Step::NeedMore,
                Cand::No => {
                    self.start_resync(
                        pos,
                        DamageKind::BadLength,
                        DamageKind::BadLength,
                        format!(
                            "implausible record header (captured {}, original {}, time {}.{})",
                            h.caplen, h.wirelen, h.sec, h.frac
                        ),
                    );
                    return Step::Skip;
                }
            }
        }
        if let Fmt::Pcap(s) = &mut self.fmt {
            s.prev_sec = Some(h.sec);
        }
        self.pos = pos.saturating_add(total);
        let number = self.take_number();
        Step::Record(st.record(number, pos, total, &h))
    }
}

impl PcapState {
    /// The index entry of the record at file offset `pos` (`total` bytes
    /// with its header); `pos` within the batch is set by the batch builder.
    #[inline(always)]
    fn record(&self, number: u64, pos: u64, total: u64, h: &Hdr) -> RecIdx {
        RecIdx {
            number,
            offset: pos,
            pos: 0,
            // `total` ≤ MAX_RECORD_LIMIT + 16.
            raw_len: u32::try_from(total).unwrap_or(u32::MAX),
            data_rel: 16,
            caplen: h.caplen,
            wirelen: h.wirelen,
            ts_ns: pcap_ts_ns(h.sec, h.frac, self.nanos),
            linktype: self.linktype,
            interface: 0,
            section: 0,
            comment_rel: 0,
            comment_len: 0,
        }
    }
}

/// Where [`Parser::run_pcap`] must stop adding records to a batch (the same
/// rule [`crate::Capture::next_batch`] applies record by record).
pub(crate) struct BatchLimit {
    pub max_records: usize,
    pub max_bytes: u64,
}

impl Parser {
    /// The reader's fast path for a memory-mapped classic pcap file: indexes
    /// the well-formed records that follow into `records` (adding their
    /// sizes to `bytes`), calling `ahead` with each record's offset first,
    /// until the batch is full or a record needs [`Parser::step_pcap`]'s
    /// judgement (the window's end, a cut header or record, a captured
    /// length over the limit, odd header fields, resynchronisation). Returns
    /// how many records it added; 0 means: take one slow step. Every record
    /// it indexes is one `step_pcap` would return with the same fields, in
    /// the same batch (the record-by-record loop cost ≈ 230 instructions a
    /// record in moves of the 80-byte index entry through `Step`; this ≈ 60).
    pub(crate) fn run_pcap(
        &mut self,
        w: &Window<'_>,
        records: &mut Vec<RecIdx>,
        headers: usize,
        bytes: &mut u64,
        limit: &BatchLimit,
        mut ahead: impl FnMut(u64),
    ) -> usize {
        if self.resync.is_some() {
            return 0;
        }
        let Fmt::Pcap(st) = &mut self.fmt else {
            return 0;
        };
        if !st.header_done || !w.eof || w.base != 0 {
            return 0;
        }
        let data = w.data;
        let mut pos = self.pos;
        let mut number = self.next_number;
        let mut added = 0;
        let mut prev_sec = st.prev_sec;
        let checks = st.checks();
        let scouts = &mut self.scouts;
        loop {
            let n = records.len() + headers;
            if n > 0
                && (records.len() >= limit.max_records
                    || n >= limit.max_records.saturating_mul(4)
                    || *bytes >= limit.max_bytes)
            {
                break;
            }
            // A record a scout found at this offset is the one the read
            // below would give (see `crate::scout`), without waiting for it.
            let Some((h, total)) = scouts.take(pos).or_else(|| checks.record_at(data, pos)) else {
                break;
            };
            if n > 0 && bytes.saturating_add(total) > limit.max_bytes {
                break;
            }
            ahead(pos);
            records.push(RecIdx {
                // A mapped batch's data is the file: its records are
                // placed at their file offsets.
                pos: usize::try_from(pos).unwrap_or(usize::MAX),
                ..st.record(number, pos, total, &h)
            });
            *bytes = bytes.saturating_add(total);
            prev_sec = Some(h.sec);
            pos = pos.saturating_add(total);
            number = number.saturating_add(1);
            added += 1;
            scouts.step(data, &checks, pos, h.sec);
        }
        st.prev_sec = prev_sec;
        self.pos = pos;
        self.next_number = number;
        added
    }
}
