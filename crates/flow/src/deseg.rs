//! TCP desegmentation for application dissectors: tshark's
//! `tcp_dissect_pdus` model, decided in one pass over the file.
//!
//! A [`Desegmenter`] sees every packet in file order (the stateful pass on
//! the reader's thread). For a TCP conversation whose port pair is bound in
//! `tcp.port` to a dissector that frames PDUs
//! ([`pcapx_core::Dissector::pdu_len`]; chosen by
//! [`pcapx_core::Engine::stream_framer`] at the conversation's first
//! payload), each direction's bytes go through a [`Stream`] (retransmissions,
//! overlaps, out-of-order segments, gaps, sequence wrap) and are cut into
//! PDUs with the dissector's `pdu_len`. Per segment the verdict is:
//!
//! - [`Deseg::Pdus`]: this segment completes one or more PDUs; their bytes
//!   (from the first byte of the earliest, possibly many segments ago) are
//!   appended to the caller's arena. The application layer is dissected from
//!   them at this packet, as tshark shows a reassembled PDU at the segment
//!   that completes it.
//! - [`Deseg::Partial`]: the segment only continues a PDU, is held out of
//!   order for later, or repeats bytes already delivered (a retransmission,
//!   which tshark does not dissect again); the application layer is not
//!   called here.
//! - [`Deseg::AsIs`]: no framing applies (no framer, the bytes are not the
//!   protocol's): dissect the segment as it is.
//!
//! A segment delivered in order with nothing pending that is exactly whole
//! PDUs gets [`Deseg::AsIs`]: dissecting it in place gives the same layers
//! as handing its PDUs over, without copying its bytes (the common case).
//!
//! A PDU that runs to the end of the stream ([`PduLen::UntilFin`]: an HTTP
//! response without a length) completes at the segment that carries the
//! sender's FIN, with or without payload (tshark's `DESEGMENT_UNTIL_FIN`).
//!
//! Bounds: a pending PDU holds at most [`DesegConfig::max_pdu`] bytes (more,
//! or a gap in the stream, drops it: counted, and framing restarts with the
//! next bytes); a direction holds at most [`DesegConfig::window`]
//! out-of-order bytes; at most [`DesegConfig::max_conversations`] framed
//! conversations are followed (beyond, the oldest is dropped, counted). A conversation ends on RST or when a SYN
//! starts it again (port reuse); after FINs both ways it is kept without
//! pending bytes, so a late retransmission is still one. Only the outermost TCP header of a packet
//! is followed; TCP inside reassembled IP fragments is dissected as is.

use std::collections::VecDeque;

use pcapx_core::dissector::TableId;
use pcapx_core::{Engine, Framer, PduCx, PduLen};

use crate::fasthash::{self, FastMap};
use crate::key::{Endpoint, TCP};
use crate::packet::tcp_flags::{ACK, RST, SYN};
use crate::packet::{L4, PacketInfo};
use crate::reassembly::{Class, Event, Stream, StreamConfig};

/// Limits of the desegmenter.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DesegConfig {
    /// Bytes of one PDU held while it is incomplete.
    pub max_pdu: usize,
    /// Out-of-order bytes held per direction.
    pub window: u64,
    /// Framed conversations followed at once.
    pub max_conversations: usize,
}

impl Default for DesegConfig {
    fn default() -> DesegConfig {
        DesegConfig {
            max_pdu: 1 << 20,
            window: 256 * 1024,
            max_conversations: 16_384,
        }
    }
}

/// What became of the PDUs.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DesegStats {
    /// Conversations framed by an application dissector.
    pub conversations: u64,
    /// PDUs handed on.
    pub pdus: u64,
    /// Incomplete PDUs dropped at a gap in the stream.
    pub dropped_at_gap: u64,
    /// Incomplete PDUs dropped for exceeding `max_pdu`.
    pub dropped_too_long: u64,
    /// Conversations dropped to stay within `max_conversations`.
    pub evicted: u64,
}

/// The desegmenter's decision for one packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Deseg {
    AsIs,
    Partial,
    /// The completed PDUs are `arena[at..at + len]`, from `segments`
    /// segments.
    Pdus {
        at: usize,
        len: usize,
        segments: u32,
    },
}

#[derive(Debug)]
struct Dir {
    stream: Stream,
    pending: Vec<u8>,
    /// Segments that contributed to `pending`.
    segments: u32,
    fin: bool,
    /// The bytes last looked at were the protocol's (`pdu_len` did not
    /// say "not mine"): held out-of-order segments wait for their PDU.
    /// Otherwise they are dissected as they are, like the in-order ones.
    framing: bool,
}

#[derive(Debug)]
struct Conv {
    framer: Framer,
    dirs: [Dir; 2],
    /// Creation number, to match `order` entries.
    serial: u64,
}

type Key = (Endpoint, Endpoint);

/// Follows the framed TCP conversations of one file.
#[derive(Debug)]
pub struct Desegmenter {
    cfg: DesegConfig,
    table: Option<TableId>,
    convs: FastMap<Key, Conv>,
    /// Conversations by creation (stale entries are skipped).
    order: VecDeque<(Key, u64)>,
    serial: u64,
    stats: DesegStats,
}

impl Desegmenter {
    /// A desegmenter for `engine`'s `tcp.port` table.
    pub fn new(engine: &Engine, cfg: DesegConfig) -> Desegmenter {
        Desegmenter {
            cfg,
            table: engine.table("tcp.port"),
            convs: fasthash::map(),
            order: VecDeque::new(),
            serial: 0,
            stats: DesegStats::default(),
        }
    }

    pub fn stats(&self) -> &DesegStats {
        &self.stats
    }

    /// Conversations followed now.
    pub fn conversations(&self) -> usize {
        self.convs.len()
    }

    fn new_dir(&self) -> Dir {
        Dir {
            stream: Stream::new(StreamConfig {
                capacity: self.cfg.window,
                max_ranges: 64,
                store: true,
            }),
            pending: Vec::new(),
            segments: 0,
            fin: false,
            framing: true,
        }
    }

    /// One packet, in file order (`p` its cheap parse, `l4` its transport
    /// layer after IP defragmentation). Completed PDUs are appended to
    /// `arena`.
    pub fn packet(
        &mut self,
        engine: &Engine,
        p: &PacketInfo,
        l4: L4,
        frame: &[u8],
        arena: &mut Vec<u8>,
    ) -> Deseg {
        let Some(table) = self.table else {
            return Deseg::AsIs;
        };
        let (
            L4::Tcp {
                sport,
                dport,
                seq,
                flags,
                ..
            },
            Some(src),
            Some(dst),
            TCP,
            None,
        ) = (l4, p.src, p.dst, p.proto, p.frag)
        else {
            return Deseg::AsIs;
        };
        let payload = frame.get(p.payload.clone()).unwrap_or(&[]);
        let s = Endpoint {
            addr: src,
            port: sport,
        };
        let d = Endpoint {
            addr: dst,
            port: dport,
        };
        let (key, dir) = if s <= d { ((s, d), 0) } else { ((d, s), 1) };
        // Most files have no framed conversation: no lookup then.
        let followed = !self.convs.is_empty() && self.convs.contains_key(&key);
        // A new SYN on a followed conversation: the ports were reused.
        if followed
            && flags & (SYN | ACK) == SYN
            && self
                .convs
                .get(&key)
                .is_some_and(|c| c.dirs[dir].stream.isn() != Some(seq.wrapping_add(1)))
        {
            self.convs.remove(&key);
        }
        let cx = PduCx::new(sport, dport);
        if !followed || !self.convs.contains_key(&key) {
            if payload.is_empty() {
                return Deseg::AsIs;
            }
            let Some(framer) = engine.stream_framer(table, sport, dport, payload, &cx) else {
                return Deseg::AsIs;
            };
            if self.convs.len() >= self.cfg.max_conversations.max(1) {
                self.evict();
            }
            self.stats.conversations += 1;
            self.serial += 1;
            let conv = Conv {
                framer,
                dirs: [self.new_dir(), self.new_dir()],
                serial: self.serial,
            };
            self.order.push_back((key, self.serial));
            self.convs.insert(key, conv);
        }
        let max_pdu = self.cfg.max_pdu;
        let Some(conv) = self.convs.get_mut(&key) else {
            return Deseg::AsIs;
        };
        let framer = conv.framer;
        let Dir {
            stream,
            pending,
            segments,
            fin,
            framing,
        } = &mut conv.dirs[dir];
        let mut added = 0usize;
        let mut gap_drop = false;
        let mut long_drop = false;
        let mut closed = false;
        let mut fin_now = false;
        // The whole segment delivered in order with nothing pending: it is
        // framed in place below, without copying it (most segments).
        let mut direct = false;
        let class = stream.segment(seq, flags, payload, p.payload_len, &mut |ev| match ev {
            Event::Data(b)
                if !direct
                    && pending.is_empty()
                    && std::ptr::eq(b.as_ptr(), payload.as_ptr())
                    && b.len() == payload.len() =>
            {
                direct = true;
                added += b.len();
            }
            Event::Data(b) => {
                if direct {
                    direct = false;
                    pending.extend_from_slice(&payload[..payload.len().min(max_pdu)]);
                }
                if pending.len() + b.len() > max_pdu {
                    long_drop |= !pending.is_empty();
                    pending.clear();
                    *segments = 0;
                    // Keep what fits of the new bytes: framing restarts there.
                    let keep = b.len().min(max_pdu);
                    pending.extend_from_slice(&b[..keep]);
                } else {
                    pending.extend_from_slice(b);
                }
                added += b.len();
            }
            Event::Gap(_) => {
                gap_drop |= !pending.is_empty() || direct;
                direct = false;
                pending.clear();
                *segments = 0;
            }
            Event::Fin => {
                *fin = true;
                fin_now = true;
            }
            Event::Rst => closed = true,
        });
        self.stats.dropped_at_gap += u64::from(gap_drop);
        self.stats.dropped_too_long += u64::from(long_drop);
        // A segment the snaplen cut is dissected as it is, as tshark does
        // (it desegments only wholly captured segments); a PDU in progress
        // is given up.
        if u64::try_from(payload.len()).unwrap_or(u64::MAX) < u64::from(p.payload_len) {
            pending.clear();
            *segments = 0;
            return Deseg::AsIs;
        }
        // In place: when the segment is exactly whole PDUs, dissecting it as
        // it is gives the same layers as handing them over; otherwise it
        // becomes the pending bytes, as if copied above.
        let mut tiled = false;
        if direct {
            let (mut pos, mut n) = (0usize, 0u64);
            while pos < payload.len() {
                match engine.pdu_len(framer, &payload[pos..], &cx) {
                    PduLen::Len(k) if k > 0 && pos + k <= payload.len() => {
                        pos += k;
                        n += 1;
                    }
                    _ => break,
                }
            }
            if pos == payload.len() {
                tiled = true;
                self.stats.pdus += n;
                *segments = 0;
                *framing = true;
            } else {
                pending.extend_from_slice(&payload[..payload.len().min(max_pdu)]);
            }
        }
        // The sender's FIN completes a PDU that runs to the end of the
        // stream (`PduLen::UntilFin`), even on a segment without payload.
        let flush = fin_now && !pending.is_empty();
        let verdict = if tiled {
            Deseg::AsIs
        } else if added == 0 && !flush {
            // Held out of order (it shows up in the PDU it helps complete),
            // or bytes already delivered (a retransmission: tshark does not
            // dissect them again) or not believed.
            if payload.is_empty() || class == Class::Empty || !*framing {
                Deseg::AsIs
            } else {
                Deseg::Partial
            }
        } else {
            *segments += u32::from(added > 0);
            let mut pos = 0usize;
            let mut not_mine = false;
            while pos < pending.len() {
                match engine.pdu_len(framer, &pending[pos..], &cx) {
                    PduLen::Len(n) if n > 0 && pos + n <= pending.len() => {
                        pos += n;
                        self.stats.pdus += 1;
                    }
                    PduLen::NotMine => {
                        not_mine = true;
                        break;
                    }
                    PduLen::UntilFin if fin_now => {
                        pos = pending.len();
                        self.stats.pdus += 1;
                        break;
                    }
                    _ => break,
                }
            }
            *framing = !not_mine;
            if pos > 0 {
                let at = arena.len();
                arena.extend_from_slice(&pending[..pos]);
                pending.drain(..pos);
                let n = *segments;
                *segments = u32::from(!pending.is_empty() && !not_mine);
                if not_mine {
                    pending.clear();
                }
                Deseg::Pdus {
                    at,
                    len: pos,
                    segments: n,
                }
            } else if not_mine {
                pending.clear();
                *segments = 0;
                Deseg::AsIs
            } else {
                Deseg::Partial
            }
        };
        // After FINs both ways the conversation is kept (its pending bytes
        // released) so that a late retransmission is still recognised as
        // one and not dissected again; a SYN reusing the ports or the
        // conversation bound replaces it.
        if conv.dirs[0].fin && conv.dirs[1].fin {
            for d in &mut conv.dirs {
                d.pending = Vec::new();
                d.segments = 0;
            }
        }
        if closed || flags & RST != 0 {
            self.convs.remove(&key);
        }
        verdict
    }

    /// Drop the oldest conversation still followed.
    fn evict(&mut self) {
        while let Some((k, serial)) = self.order.pop_front() {
            if self.convs.get(&k).is_some_and(|c| c.serial == serial) {
                self.convs.remove(&k);
                self.stats.evicted += 1;
                return;
            }
        }
    }
}
