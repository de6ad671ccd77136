//! Bounds-checked, byte-order aware integer reads. Every read returns `None`
//! instead of panicking when the slice is too short.

/// Byte order of a pcap file or of one pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first.
    Little,
    /// Most significant byte first (network order).
    Big,
}

impl ByteOrder {
    /// Reads a `u16` at `at`, or `None` when out of bounds.
    pub fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let raw: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u16::from_le_bytes(raw),
            ByteOrder::Big => u16::from_be_bytes(raw),
        })
    }

    /// Reads a `u32` at `at`, or `None` when out of bounds.
    pub fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let raw: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u32::from_le_bytes(raw),
            ByteOrder::Big => u32::from_be_bytes(raw),
        })
    }

    /// Reads a `u64` at `at`, or `None` when out of bounds.
    pub fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let raw: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u64::from_le_bytes(raw),
            ByteOrder::Big => u64::from_be_bytes(raw),
        })
    }

    /// Encodes a `u16` in this byte order.
    pub fn put_u16(self, out: &mut Vec<u8>, v: u16) {
        match self {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Encodes a `u32` in this byte order.
    pub fn put_u32(self, out: &mut Vec<u8>, v: u32) {
        match self {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Encodes a `u64` in this byte order.
    pub fn put_u64(self, out: &mut Vec<u8>, v: u64) {
        match self {
            ByteOrder::Little => out.extend_from_slice(&v.to_le_bytes()),
            ByteOrder::Big => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

impl std::fmt::Display for ByteOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ByteOrder::Little => "little-endian",
            ByteOrder::Big => "big-endian",
        })
    }
}

/// Rounds `n` up to a multiple of 4, saturating.
pub(crate) fn pad4(n: u64) -> u64 {
    n.saturating_add(3) & !3
}

/// `u64` → `usize`, saturating (only matters on 32-bit targets).
pub(crate) fn usize_sat(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `usize` → `u64` (lossless on every supported target).
pub(crate) fn u64_of(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(ByteOrder::Little.u16(&b, 0), Some(0x0201));
        assert_eq!(ByteOrder::Big.u16(&b, 0), Some(0x0102));
        assert_eq!(ByteOrder::Big.u32(&b, 1), Some(0x0203_0405));
        assert_eq!(ByteOrder::Big.u32(&b, 2), None);
        assert_eq!(ByteOrder::Little.u64(&b, 0), None);
        assert_eq!(ByteOrder::Little.u32(&b, usize::MAX), None);
        assert_eq!(pad4(0), 0);
        assert_eq!(pad4(5), 8);
        assert_eq!(pad4(8), 8);
    }
}
