//! What a capture file is: format, byte order, sections, interfaces.

use crate::bytes::ByteOrder;
use crate::time::TsResolution;
use std::fmt;

/// Container format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Classic pcap, microsecond timestamps (magic `a1b2c3d4`).
    PcapMicro,
    /// Classic pcap, nanosecond timestamps (magic `a1b23c4d`).
    PcapNano,
    /// pcapng.
    PcapNg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::PcapMicro => "pcap",
            Format::PcapNano => "pcap (nanosecond)",
            Format::PcapNg => "pcapng",
        })
    }
}

/// Compression of the file on disk (detected by magic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain file.
    None,
    /// gzip (`1f 8b`), possibly multi-member.
    Gzip,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// One pcapng section (pcap files have exactly one, at offset 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionInfo {
    /// Byte offset of the section header (the SHB or the pcap file header).
    pub offset: u64,
    /// Byte order of the section.
    pub byte_order: ByteOrder,
    /// Format version (major, minor).
    pub version: (u16, u16),
    /// pcapng `opt_comment` of the section header.
    pub comment: Option<String>,
    /// pcapng `shb_hardware`.
    pub hardware: Option<String>,
    /// pcapng `shb_os`.
    pub os: Option<String>,
    /// pcapng `shb_userappl` (the application that wrote the section).
    pub application: Option<String>,
}

/// One capture interface. A pcap file has one; a pcapng file one per IDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// 0-based index of the section the interface belongs to.
    pub section: u32,
    /// Interface id within its section (what packets refer to).
    pub id: u32,
    /// Link type (LINKTYPE_ value; for pcap the low 16 bits of the field).
    pub linktype: u32,
    /// Snapshot length (0 = unlimited in pcapng).
    pub snaplen: u32,
    /// Timestamp resolution (pcap: 10^-6 or 10^-9).
    pub tsresol: TsResolution,
    /// `if_tsoffset` in seconds (0 when absent).
    pub tsoffset: i64,
    /// `if_name`.
    pub name: Option<String>,
    /// `if_description`.
    pub description: Option<String>,
    /// FCS length in bytes: pcapng `if_fcslen`, or pcap's link-type field
    /// FCS bits when its "FCS length present" flag is set.
    pub fcs_len: Option<u8>,
}

/// Interfaces kept in [`CaptureInfo::interfaces`] at most (more are counted).
pub(crate) const MAX_INFO_INTERFACES: usize = 65_536;
/// Sections kept in [`CaptureInfo::sections`] at most (more are counted).
pub(crate) const MAX_INFO_SECTIONS: usize = 65_536;
/// Longest text kept from one option (names, descriptions, comments of
/// sections and interfaces); longer values are cut at a character boundary.
pub(crate) const MAX_OPTION_TEXT: usize = 4096;

/// An option's text, NUL-trimmed by the caller, lossily decoded and capped at
/// [`MAX_OPTION_TEXT`] bytes.
pub(crate) fn option_text(value: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(value.get(..MAX_OPTION_TEXT).unwrap_or(value)).into_owned();
    if s.len() > MAX_OPTION_TEXT {
        let mut cut = MAX_OPTION_TEXT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Everything known about a capture. Filled at open time with what precedes
/// the first packet; sections and interfaces found later in the file are
/// appended as the reader reaches them, so the info is complete once the
/// whole file has been read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureInfo {
    /// The file as named by the caller (`<stdin>` for standard input).
    pub path: String,
    /// Container format of the first section.
    pub format: Format,
    /// Compression on disk.
    pub compression: Compression,
    /// Whether the file is read through a memory map (otherwise streamed).
    pub mapped: bool,
    /// pcap only: the file header's snaplen.
    pub snaplen: Option<u32>,
    /// pcap only: the raw 32-bit link-type field (with FCS/reserved bits).
    pub linktype_field: Option<u32>,
    /// Sections, in file order (pcap: one; capped at 65536, see
    /// [`CaptureInfo::section_count`]).
    pub sections: Vec<SectionInfo>,
    /// Total number of sections seen.
    pub section_total: u64,
    /// Interfaces, in file order (capped at 65536; see `interface_count`).
    pub interfaces: Vec<InterfaceInfo>,
    /// Total number of interfaces seen.
    pub interface_count: u64,
}

impl CaptureInfo {
    /// Number of sections seen (pcap: 1).
    pub fn section_count(&self) -> usize {
        usize::try_from(self.section_total)
            .unwrap_or(usize::MAX)
            .max(self.sections.len())
    }

    pub(crate) fn push_section(&mut self, s: SectionInfo) {
        self.section_total = self.section_total.saturating_add(1);
        if self.sections.len() < MAX_INFO_SECTIONS {
            self.sections.push(s);
        }
    }

    /// Byte order of the first section.
    pub fn byte_order(&self) -> ByteOrder {
        self.sections
            .first()
            .map_or(ByteOrder::Little, |s| s.byte_order)
    }

    /// Version of the first section (pcap: file header version).
    pub fn version(&self) -> (u16, u16) {
        self.sections.first().map_or((0, 0), |s| s.version)
    }

    /// Distinct byte orders over all sections, in order of appearance.
    pub fn byte_orders(&self) -> Vec<ByteOrder> {
        let mut v = Vec::new();
        for s in &self.sections {
            if !v.contains(&s.byte_order) {
                v.push(s.byte_order);
            }
        }
        v
    }

    pub(crate) fn push_interface(&mut self, i: InterfaceInfo) {
        self.interface_count = self.interface_count.saturating_add(1);
        if self.interfaces.len() < MAX_INFO_INTERFACES {
            self.interfaces.push(i);
        }
    }
}
