//! pcapng: blocks, sections, interfaces, options, plausibility for resync.

use crate::bytes::{ByteOrder, pad4, u64_of, usize_sat};
use crate::damage::DamageKind;
use crate::info::{InterfaceInfo, SectionInfo, option_text};
use crate::parser::{Cand, Fmt, Parser, RecIdx, Step, Window};
use crate::time::{TsResolution, add_offset_s};

/// Section Header Block type, the same in both byte orders.
pub(crate) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
pub(crate) const SHB: u32 = 0x0a0d_0d0a;
pub(crate) const IDB: u32 = 1;
pub(crate) const OPB: u32 = 2;
pub(crate) const SPB: u32 = 3;
pub(crate) const NRB: u32 = 4;
pub(crate) const ISB: u32 = 5;
pub(crate) const EPB: u32 = 6;
const SYSTEMD_JOURNAL: u32 = 9;
const DSB: u32 = 0x0a;
const CUSTOM: u32 = 0x0bad;
const CUSTOM_NOCOPY: u32 = 0x4000_0bad;
/// Largest block accepted (bounds stream buffers).
pub(crate) const MAX_BLOCK: u32 = 64 << 20;
/// Interfaces one section may declare; later IDBs are reported as damage.
pub(crate) const MAX_SECTION_INTERFACES: usize = 65_536;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_HARDWARE: u16 = 2;
const SHB_OS: u16 = 3;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const IF_FCSLEN: u16 = 13;
const IF_TSOFFSET: u16 = 14;

/// Byte order from a section header's byte-order magic.
pub(crate) fn byte_order_of(bom: &[u8]) -> Option<ByteOrder> {
    match bom {
        [0x1a, 0x2b, 0x3c, 0x4d] => Some(ByteOrder::Big),
        [0x4d, 0x3c, 0x2b, 0x1a] => Some(ByteOrder::Little),
        _ => None,
    }
}

fn min_len(btype: u32) -> u32 {
    match btype {
        SHB => 28,
        IDB => 20,
        EPB | OPB => 32,
        SPB => 16,
        _ => 12,
    }
}

fn is_known(btype: u32) -> bool {
    matches!(
        btype,
        SHB | IDB | OPB | SPB | NRB | ISB | EPB | SYSTEMD_JOURNAL | DSB | CUSTOM | CUSTOM_NOCOPY
    )
}

/// Iterator over the (code, value) options of a block; stops at
/// `opt_endofopt` or at the first option that does not fit.
pub(crate) struct Options<'a> {
    bytes: &'a [u8],
    at: usize,
    order: ByteOrder,
}

impl<'a> Options<'a> {
    pub(crate) fn new(bytes: &'a [u8], order: ByteOrder) -> Self {
        Options {
            bytes,
            at: 0,
            order,
        }
    }
}

impl<'a> Iterator for Options<'a> {
    /// (code, offset of the value within the options area, value)
    type Item = (u16, usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let code = self.order.u16(self.bytes, self.at)?;
        let len = usize::from(self.order.u16(self.bytes, self.at.checked_add(2)?)?);
        if code == OPT_END {
            self.at = self.bytes.len();
            return None;
        }
        let start = self.at.checked_add(4)?;
        let value = self.bytes.get(start..start.checked_add(len)?)?;
        self.at = start.checked_add(usize_sat(pad4(u64_of(len))))?;
        Some((code, start, value))
    }
}

#[derive(Clone, Copy, Debug)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    tsresol: TsResolution,
    tsoffset: i64,
}

pub(crate) struct NgState {
    order: ByteOrder,
    ifaces: Vec<Iface>,
    sections_seen: u32,
}

impl NgState {
    pub(crate) fn new(order: ByteOrder) -> Self {
        NgState {
            order,
            ifaces: Vec::new(),
            sections_seen: 0,
        }
    }

    fn section(&self) -> u32 {
        self.sections_seen.saturating_sub(1)
    }

    /// Is there a plausible block at `q`: known type, sane length, and a
    /// trailer that repeats the length?
    pub(crate) fn candidate(&self, w: &Window<'_>, q: u64) -> Cand {
        let rest = w.rest(q);
        let need_more = if w.eof { Cand::No } else { Cand::NeedMore };
        let Some(head) = rest.get(..12) else {
            return need_more;
        };
        let order = if head.get(..4) == Some(&SHB_MAGIC[..]) {
            match head.get(8..12).and_then(byte_order_of) {
                Some(o) => o,
                None => return Cand::No,
            }
        } else {
            self.order
        };
        let (Some(btype), Some(len)) = (order.u32(head, 0), order.u32(head, 4)) else {
            return Cand::No;
        };
        if !is_known(btype) || len < min_len(btype) || !len.is_multiple_of(4) || len > MAX_BLOCK {
            return Cand::No;
        }
        if matches!(btype, EPB | OPB | SPB) {
            let iface = match btype {
                EPB => order.u32(rest, 8),
                OPB => order.u16(rest, 8).map(u32::from),
                _ => Some(0),
            };
            let caplen = match btype {
                SPB => Some(0),
                _ => order.u32(rest, 20),
            };
            let (Some(iface), Some(caplen)) = (iface, caplen) else {
                return need_more;
            };
            if usize_sat(u64::from(iface)) >= self.ifaces.len()
                || u64::from(caplen) + 32 > u64::from(len)
            {
                return Cand::No;
            }
        }
        let Some(block) = rest.get(..usize_sat(u64::from(len))) else {
            return need_more;
        };
        if order.u32(block, block.len().saturating_sub(4)) == Some(len) {
            Cand::Yes
        } else {
            Cand::No
        }
    }
}

impl Parser {
    pub(crate) fn step_ng(&mut self, w: &Window<'_>) -> Step {
        let Fmt::Ng(st) = &self.fmt else {
            return Step::End;
        };
        let cur_order = st.order;
        let pos = self.pos;
        let rest = w.rest(pos);
        if rest.is_empty() {
            return if w.eof { Step::End } else { Step::NeedMore };
        }
        let Some(head) = rest.get(..12) else {
            if !w.eof {
                return Step::NeedMore;
            }
            self.damage_to_end(
                w,
                DamageKind::Truncated,
                format!(
                    "file ends inside a block header ({} of 12 bytes)",
                    rest.len()
                ),
            );
            return Step::Skip;
        };
        let order = if head.get(..4) == Some(&SHB_MAGIC[..]) {
            match head.get(8..12).and_then(byte_order_of) {
                Some(o) => o,
                None => {
                    self.start_resync(
                        pos,
                        DamageKind::BadBlock,
                        DamageKind::BadBlock,
                        "section header block with an unknown byte-order magic".to_owned(),
                    );
                    return Step::Skip;
                }
            }
        } else {
            cur_order
        };
        let btype = order.u32(head, 0).unwrap_or(0);
        let len = order.u32(head, 4).unwrap_or(0);
        if len < min_len(btype) || !len.is_multiple_of(4) || len > MAX_BLOCK {
            self.start_resync(
                pos,
                DamageKind::BadLength,
                DamageKind::BadLength,
                format!("block of type {btype:#x} has an invalid total length {len}"),
            );
            return Step::Skip;
        }
        let Some(block) = rest.get(..usize_sat(u64::from(len))) else {
            if !w.eof {
                return Step::NeedMore;
            }
            self.start_resync(
                pos,
                DamageKind::Truncated,
                DamageKind::BadLength,
                format!(
                    "file ends inside a block of type {btype:#x} ({} of {len} bytes present)",
                    rest.len()
                ),
            );
            return Step::Skip;
        };
        let trailer = order.u32(block, block.len().saturating_sub(4)).unwrap_or(0);
        if trailer != len {
            self.start_resync(
                pos,
                DamageKind::TrailerMismatch,
                DamageKind::TrailerMismatch,
                format!("block of type {btype:#x} has total length {len} but trailer {trailer}"),
            );
            return Step::Skip;
        }
        self.pos = pos.saturating_add(u64::from(len));
        match btype {
            SHB => self.ng_section(block, order, pos),
            IDB => self.ng_interface(block, order, pos),
            EPB | OPB | SPB => self.ng_packet(btype, block, order, pos),
            _ => Step::Header {
                offset: pos,
                len: block.len(),
            },
        }
    }

    fn ng_section(&mut self, block: &[u8], order: ByteOrder, pos: u64) -> Step {
        let version = (
            order.u16(block, 12).unwrap_or(0),
            order.u16(block, 14).unwrap_or(0),
        );
        let mut section = SectionInfo {
            offset: pos,
            byte_order: order,
            version,
            comment: None,
            hardware: None,
            os: None,
            application: None,
        };
        let opts = block.get(24..block.len().saturating_sub(4)).unwrap_or(&[]);
        for (code, _, value) in Options::new(opts, order) {
            let text = || Some(option_text(trim_nul(value)));
            match code {
                OPT_COMMENT => section.comment = section.comment.take().or_else(text),
                SHB_HARDWARE => section.hardware = text(),
                SHB_OS => section.os = text(),
                SHB_USERAPPL => section.application = text(),
                _ => {}
            }
        }
        if let Fmt::Ng(st) = &mut self.fmt {
            st.order = order;
            st.ifaces.clear();
            st.sections_seen = st.sections_seen.saturating_add(1);
        }
        self.info.push_section(section);
        Step::Header {
            offset: pos,
            len: block.len(),
        }
    }

    fn ng_interface(&mut self, block: &[u8], order: ByteOrder, pos: u64) -> Step {
        if let Fmt::Ng(st) = &self.fmt
            && st.ifaces.len() >= MAX_SECTION_INTERFACES
        {
            // Bounded memory: a hostile section cannot declare millions of
            // interfaces. The block is kept (byte-exact copies keep it); its
            // packets are reported as `unknown-interface`.
            self.report(
                pos,
                DamageKind::BadBlock,
                format!(
                    "interface description block ignored: more than {MAX_SECTION_INTERFACES} interfaces in one section"
                ),
            );
            return Step::Header {
                offset: pos,
                len: block.len(),
            };
        }
        let linktype = u32::from(order.u16(block, 8).unwrap_or(0));
        let snaplen = order.u32(block, 12).unwrap_or(0);
        let opts = block.get(16..block.len().saturating_sub(4)).unwrap_or(&[]);
        let mut iface = Iface {
            linktype,
            snaplen,
            tsresol: TsResolution::MICRO,
            tsoffset: 0,
        };
        let (mut name, mut description, mut fcs_len) = (None, None, None);
        for (code, _, value) in Options::new(opts, order) {
            match code {
                IF_NAME => name = Some(option_text(trim_nul(value))),
                IF_DESCRIPTION => {
                    description = Some(option_text(trim_nul(value)));
                }
                IF_TSRESOL => {
                    if let Some(&r) = value.first() {
                        iface.tsresol = TsResolution(r);
                    }
                }
                IF_FCSLEN => fcs_len = value.first().copied(),
                IF_TSOFFSET => {
                    if let Some(v) = order.u64(value, 0) {
                        iface.tsoffset = i64::from_ne_bytes(v.to_ne_bytes());
                    }
                }
                _ => {}
            }
        }
        let (section, id) = match &mut self.fmt {
            Fmt::Ng(st) => {
                st.ifaces.push(iface);
                (
                    st.section(),
                    u32::try_from(st.ifaces.len() - 1).unwrap_or(u32::MAX),
                )
            }
            Fmt::Pcap(_) => (0, 0),
        };
        self.info.push_interface(InterfaceInfo {
            section,
            id,
            linktype,
            snaplen,
            tsresol: iface.tsresol,
            tsoffset: iface.tsoffset,
            name,
            description,
            fcs_len,
        });
        Step::Header {
            offset: pos,
            len: block.len(),
        }
    }

    fn ng_packet(&mut self, btype: u32, block: &[u8], order: ByteOrder, pos: u64) -> Step {
        let Fmt::Ng(st) = &self.fmt else {
            return Step::End;
        };
        let section = st.section();
        let body_end = block.len().saturating_sub(4);
        // (interface, timestamp units, caplen, wirelen, data offset)
        let fields = match btype {
            EPB | OPB => {
                let iface = if btype == EPB {
                    order.u32(block, 8)
                } else {
                    order.u16(block, 8).map(u32::from)
                };
                match (
                    iface,
                    order.u32(block, 12),
                    order.u32(block, 16),
                    order.u32(block, 20),
                    order.u32(block, 24),
                ) {
                    (Some(i), Some(hi), Some(lo), Some(cap), Some(wire)) => Some((
                        i,
                        Some((u64::from(hi) << 32) | u64::from(lo)),
                        cap,
                        wire,
                        28,
                    )),
                    _ => None,
                }
            }
            _ => order.u32(block, 8).map(|wire| {
                let avail = u32::try_from(body_end.saturating_sub(12)).unwrap_or(u32::MAX);
                let snap = st.ifaces.first().map_or(0, |i| i.snaplen);
                let mut cap = wire.min(avail);
                if snap != 0 {
                    cap = cap.min(snap);
                }
                (0, None, cap, wire, 12usize)
            }),
        };
        let Some((iface_id, units, caplen, wirelen, data_rel)) = fields else {
            self.report(
                pos,
                DamageKind::BadBlock,
                format!("packet block of type {btype:#x} is too short"),
            );
            return Step::Skip;
        };
        let Some(iface) = st.ifaces.get(usize_sat(u64::from(iface_id))).copied() else {
            let known = st.ifaces.len();
            self.report(
                pos,
                DamageKind::UnknownInterface,
                format!("packet refers to interface {iface_id} but the section declares {known}"),
            );
            return Step::Skip;
        };
        let data_end = u64_of(data_rel) + u64::from(caplen);
        if data_end > u64_of(body_end) {
            self.report(
                pos,
                DamageKind::BadBlock,
                format!(
                    "packet block claims {caplen} captured bytes but only {} fit in the block",
                    body_end.saturating_sub(data_rel)
                ),
            );
            return Step::Skip;
        }
        let opts_start = usize_sat(pad4(data_end)).min(body_end);
        let (mut comment_rel, mut comment_len) = (0u32, 0u32);
        if btype != SPB {
            let opts = block.get(opts_start..body_end).unwrap_or(&[]);
            if let Some((_, at, value)) =
                Options::new(opts, order).find(|(code, _, _)| *code == OPT_COMMENT)
            {
                let value = trim_nul(value);
                comment_rel = u32::try_from(opts_start + at).unwrap_or(0);
                comment_len = u32::try_from(value.len()).unwrap_or(0);
            }
        }
        let ts_ns = units.map_or(0, |u| {
            add_offset_s(iface.tsresol.units_to_ns(u), iface.tsoffset)
        });
        let number = self.take_number();
        Step::Record(RecIdx {
            number,
            offset: pos,
            pos: 0,
            raw_len: u32::try_from(block.len()).unwrap_or(u32::MAX),
            data_rel: u32::try_from(data_rel).unwrap_or(0),
            caplen,
            wirelen,
            ts_ns,
            linktype: iface.linktype,
            interface: iface_id,
            section,
            comment_rel,
            comment_len,
        })
    }
}

/// String options end at the first NUL: some writers NUL-terminate them and
/// leave junk after the terminator (Wireshark reads them as C strings too).
fn trim_nul(v: &[u8]) -> &[u8] {
    match v.iter().position(|&b| b == 0) {
        Some(end) => v.get(..end).unwrap_or(v),
        None => v,
    }
}
