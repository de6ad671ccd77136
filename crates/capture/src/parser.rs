//! The format-independent record scanner.
//!
//! [`Parser::step`] looks at a [`Window`] of file bytes and produces one
//! [`Step`]: a packet record, a non-packet block to copy (file header, SHB,
//! IDB, …), a skip over damage, a request for more bytes (streams only), or
//! the end. Invariant: every step other than `NeedMore`/`End` strictly
//! advances the parser (its position, or the one-time header flag), and
//! `NeedMore` is only returned when the window is not at end of file, so the
//! reader always terminates. Nothing here indexes without a bounds check.

use crate::bytes::{u64_of, usize_sat};
use crate::damage::{Damage, DamageKind, DamageLog};
use crate::error::CaptureError;
use crate::info::{CaptureInfo, Compression, Format};
use crate::pcap::PcapState;
use crate::pcapng::NgState;

/// Bytes of the file starting at offset `base`; `eof` says that nothing
/// follows `data`.
#[derive(Clone, Copy)]
pub(crate) struct Window<'a> {
    pub data: &'a [u8],
    pub base: u64,
    pub eof: bool,
}

impl<'a> Window<'a> {
    /// Offset just past the available bytes.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(u64_of(self.data.len()))
    }

    /// The available bytes from file offset `pos` on (empty if outside).
    pub fn rest(&self, pos: u64) -> &'a [u8] {
        pos.checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.data.get(i..))
            .unwrap_or(&[])
    }

    /// `len` bytes at file offset `offset`, if available.
    pub fn slice(&self, offset: u64, len: usize) -> Option<&'a [u8]> {
        self.rest(offset).get(..len)
    }
}

/// Where one packet record is, and its decoded header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecIdx {
    pub number: u64,
    /// File offset of the record header / block start.
    pub offset: u64,
    /// Index of the record's first byte in the batch data (set by the batch builder).
    pub pos: usize,
    pub raw_len: u32,
    /// Packet data offset within the raw record.
    pub data_rel: u32,
    pub caplen: u32,
    pub wirelen: u32,
    pub ts_ns: i64,
    pub linktype: u32,
    pub interface: u32,
    pub section: u32,
    /// Comment offset within the raw record, when `comment_len > 0`.
    pub comment_rel: u32,
    pub comment_len: u32,
}

/// One parsing step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A packet record.
    Record(RecIdx),
    /// A non-packet block to keep (file header, SHB, IDB, NRB, ISB, unknown …).
    Header { offset: u64, len: usize },
    /// Progress without output (damage skipped, resync advanced).
    Skip,
    /// The window ends too early; supply more bytes (never returned at EOF).
    NeedMore,
    /// Nothing more to read.
    End,
}

/// Result of testing a resynchronisation candidate.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cand {
    Yes,
    No,
    NeedMore,
}

pub(crate) enum Fmt {
    Pcap(PcapState),
    Ng(NgState),
}

pub(crate) struct Resync {
    start: u64,
    event: Option<usize>,
    found_kind: DamageKind,
}

pub(crate) struct Parser {
    /// File offset of the next unparsed byte.
    pub pos: u64,
    /// Number the next packet record will get (1-based).
    pub next_number: u64,
    pub info: CaptureInfo,
    pub damage: DamageLog,
    pub(crate) fmt: Fmt,
    pub(crate) resync: Option<Resync>,
    /// The classic-pcap fast path's scouts (see `crate::scout`).
    pub(crate) scouts: crate::scout::Scouts,
}

/// Outcome of format detection on the first bytes.
pub(crate) enum Detect {
    Found(Box<Parser>),
    NeedMore,
}

impl Parser {
    /// Recognises the format from the first bytes of the (decompressed) file.
    pub fn detect(
        w: &Window<'_>,
        path: &str,
        compression: Compression,
        mapped: bool,
    ) -> Result<Detect, CaptureError> {
        let head = w.rest(0);
        let not_capture = || CaptureError::NotCapture {
            path: path.to_owned(),
        };
        let bad = |message: String| CaptureError::BadHeader {
            path: path.to_owned(),
            message,
        };
        let Some(magic) = head.get(..4) else {
            return if w.eof {
                Err(not_capture())
            } else {
                Ok(Detect::NeedMore)
            };
        };
        let mut info = CaptureInfo {
            path: path.to_owned(),
            format: Format::PcapMicro,
            compression,
            mapped,
            snaplen: None,
            linktype_field: None,
            sections: Vec::new(),
            interfaces: Vec::new(),
            interface_count: 0,
            section_total: 0,
        };
        if magic == crate::pcapng::SHB_MAGIC {
            // The byte-order magic decides whether this is pcapng at all.
            let Some(bom) = head.get(8..12) else {
                return if w.eof {
                    Err(not_capture())
                } else {
                    Ok(Detect::NeedMore)
                };
            };
            let Some(order) = crate::pcapng::byte_order_of(bom) else {
                return Err(not_capture());
            };
            let len = order.u32(head, 4).unwrap_or(0);
            if len < 28 || !len.is_multiple_of(4) || len > crate::pcapng::MAX_BLOCK {
                return Err(bad(format!("section header block length {len} is invalid")));
            }
            let Some(shb) = head.get(..usize_sat(u64::from(len))) else {
                return if w.eof {
                    Err(bad(format!(
                        "file ends inside the section header ({} of {len} bytes)",
                        head.len()
                    )))
                } else {
                    Ok(Detect::NeedMore)
                };
            };
            let trailer = order.u32(shb, shb.len().saturating_sub(4)).unwrap_or(0);
            if trailer != len {
                return Err(bad(format!(
                    "section header length {len} does not match its trailer {trailer}"
                )));
            }
            info.format = Format::PcapNg;
            return Ok(Detect::Found(Box::new(Parser::new(
                info,
                Fmt::Ng(NgState::new(order)),
            ))));
        }
        let Some((order, nanos)) = crate::pcap::magic(magic) else {
            return Err(not_capture());
        };
        let Some(header) = head.get(..crate::pcap::FILE_HEADER_LEN) else {
            return if w.eof {
                Err(bad(format!(
                    "file ends inside the pcap file header ({} of {} bytes)",
                    head.len(),
                    crate::pcap::FILE_HEADER_LEN
                )))
            } else {
                Ok(Detect::NeedMore)
            };
        };
        let (state, section, iface) = PcapState::from_header(header, order, nanos);
        info.format = if nanos {
            Format::PcapNano
        } else {
            Format::PcapMicro
        };
        info.snaplen = Some(state.snaplen);
        info.linktype_field = Some(state.linktype_field);
        info.push_section(section);
        info.push_interface(iface);
        Ok(Detect::Found(Box::new(Parser::new(info, Fmt::Pcap(state)))))
    }

    fn new(info: CaptureInfo, fmt: Fmt) -> Parser {
        Parser {
            pos: 0,
            next_number: 1,
            info,
            damage: DamageLog::default(),
            fmt,
            resync: None,
            scouts: crate::scout::Scouts::default(),
        }
    }

    /// One step; see the module documentation for the guarantees.
    pub fn step(&mut self, w: &Window<'_>) -> Step {
        if self.resync.is_some() {
            return self.continue_resync(w);
        }
        match self.fmt {
            Fmt::Pcap(_) => self.step_pcap(w),
            Fmt::Ng(_) => self.step_ng(w),
        }
    }

    /// Takes the next record number.
    pub(crate) fn take_number(&mut self) -> u64 {
        let n = self.next_number;
        self.next_number = n.saturating_add(1);
        n
    }

    /// Records a damage event at `offset`.
    pub(crate) fn report(
        &mut self,
        offset: u64,
        kind: DamageKind,
        message: String,
    ) -> Option<usize> {
        self.damage.push(Damage {
            packet: self.next_number,
            offset,
            kind,
            message,
        })
    }

    /// Reports damage that runs to the end of the window (at EOF).
    pub(crate) fn damage_to_end(&mut self, w: &Window<'_>, kind: DamageKind, message: String) {
        let at = self.pos;
        self.report(at, kind, message);
        self.pos = w.end().max(at.saturating_add(1));
    }

    /// Reports damage at `at` and starts scanning for a plausible record from `at + 1`.
    pub(crate) fn start_resync(
        &mut self,
        at: u64,
        kind: DamageKind,
        found_kind: DamageKind,
        message: String,
    ) {
        let event = self.report(at, kind, message);
        self.resync = Some(Resync {
            start: at,
            event,
            found_kind,
        });
        self.pos = at.saturating_add(1);
    }

    fn continue_resync(&mut self, w: &Window<'_>) -> Step {
        loop {
            if w.rest(self.pos).is_empty() {
                if !w.eof {
                    return Step::NeedMore;
                }
                self.finish_resync(None);
                return Step::Skip;
            }
            let cand = match &self.fmt {
                Fmt::Pcap(st) => st.candidate(w, self.pos),
                Fmt::Ng(st) => st.candidate(w, self.pos),
            };
            match cand {
                Cand::Yes => {
                    self.finish_resync(Some(self.pos));
                    return Step::Skip;
                }
                Cand::No => self.pos = self.pos.saturating_add(1),
                Cand::NeedMore if !w.eof => return Step::NeedMore,
                // At EOF a candidate can never get its missing bytes.
                Cand::NeedMore => self.pos = self.pos.saturating_add(1),
            }
        }
    }

    fn finish_resync(&mut self, found: Option<u64>) {
        let Some(r) = self.resync.take() else { return };
        let skipped = self.pos.saturating_sub(r.start);
        let Some(ev) = r.event.and_then(|i| self.damage.events.get_mut(i)) else {
            return;
        };
        match found {
            Some(at) => {
                ev.kind = r.found_kind;
                ev.message.push_str(&format!(
                    "; resynchronised at offset {at} after skipping {skipped} bytes"
                ));
            }
            None => ev.message.push_str(&format!(
                "; no further record in the remaining {skipped} bytes"
            )),
        }
    }
}
