//! Damage events: what the reader skipped or could not read, and where.

use std::fmt;

/// Kinds of damage the reader recovers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DamageKind {
    /// The file ends inside a record or block (the usual "cut short" capture).
    Truncated,
    /// A record or block length is impossible (absurd, not a multiple of 4,
    /// below the minimum, or running past the end of the file while more
    /// plausible records follow).
    BadLength,
    /// A pcapng block's trailing length differs from its leading length.
    TrailerMismatch,
    /// A block's body is inconsistent (e.g. captured length larger than the
    /// block, section header with an unknown byte-order magic).
    BadBlock,
    /// A packet refers to an interface that no IDB of its section declared.
    UnknownInterface,
    /// Decompressing the input failed part-way (corrupt or cut gzip/zstd).
    Decompression,
}

impl DamageKind {
    /// A short stable name (`truncated`, `bad-length`, …).
    pub fn name(self) -> &'static str {
        match self {
            DamageKind::Truncated => "truncated",
            DamageKind::BadLength => "bad-length",
            DamageKind::TrailerMismatch => "trailer-mismatch",
            DamageKind::BadBlock => "bad-block",
            DamageKind::UnknownInterface => "unknown-interface",
            DamageKind::Decompression => "decompression",
        }
    }
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One damage event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Number (1-based) of the packet that was about to be read.
    pub packet: u64,
    /// Byte offset in the (decompressed) file where the damage starts.
    pub offset: u64,
    /// What happened.
    pub kind: DamageKind,
    /// Human-readable explanation, including how the reader recovered.
    pub message: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "packet {}, offset {}: {} ({})",
            self.packet, self.offset, self.message, self.kind
        )
    }
}

/// Most events kept in memory; further events are only counted.
pub(crate) const MAX_KEPT: usize = 10_000;

/// The reader's damage log: a bounded list plus a total count.
#[derive(Debug, Default)]
pub(crate) struct DamageLog {
    pub events: Vec<Damage>,
    pub total: u64,
}

impl DamageLog {
    /// Records an event; returns its index when it was kept.
    pub fn push(&mut self, d: Damage) -> Option<usize> {
        self.total = self.total.saturating_add(1);
        if self.events.len() < MAX_KEPT {
            self.events.push(d);
            Some(self.events.len() - 1)
        } else {
            None
        }
    }
}
