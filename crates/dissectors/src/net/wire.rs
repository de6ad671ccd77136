//! Bounds-checked big-endian reads over untrusted packet bytes.
//!
//! Every reader returns `None` instead of panicking when the bytes are not
//! there, so dissectors can emit the fields that are present and stop at the
//! first one that is not (a Wireshark-like partial decode).

#[inline]
pub(crate) fn u8_at(d: &[u8], i: usize) -> Option<u8> {
    d.get(i).copied()
}

#[inline]
pub(crate) fn be16(d: &[u8], i: usize) -> Option<u16> {
    let b = d.get(i..i.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[inline]
pub(crate) fn be32(d: &[u8], i: usize) -> Option<u32> {
    let b: [u8; 4] = d.get(i..i.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// `N` bytes at `i` as an array.
#[inline]
pub(crate) fn arr<const N: usize>(d: &[u8], i: usize) -> Option<[u8; N]> {
    d.get(i..i.checked_add(N)?)?.try_into().ok()
}

#[inline]
pub(crate) fn mac(d: &[u8], i: usize) -> Option<[u8; 6]> {
    d.get(i..i.checked_add(6)?)?.try_into().ok()
}

#[inline]
pub(crate) fn ipv4(d: &[u8], i: usize) -> Option<[u8; 4]> {
    d.get(i..i.checked_add(4)?)?.try_into().ok()
}

#[inline]
pub(crate) fn ipv6(d: &[u8], i: usize) -> Option<[u8; 16]> {
    d.get(i..i.checked_add(16)?)?.try_into().ok()
}

/// The Internet checksum (RFC 1071) of `d`: 0 when a header with its checksum
/// field included verifies.
pub(crate) fn internet_checksum(d: &[u8]) -> u16 {
    // One's-complement sums can be taken over any word size and folded
    // afterwards (RFC 1071 §2): add big-endian 32-bit words into 64 bits.
    let mut sum: u64 = 0;
    let mut words = d.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut tail = words.remainder().chunks_exact(2);
    for c in &mut tail {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = tail.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    #[allow(clippy::cast_possible_truncation)] // folded to 16 bits above
    let s = sum as u16;
    !s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let d = [1u8, 2, 3, 4, 5];
        assert_eq!(be16(&d, 3), Some(0x0405));
        assert_eq!(be16(&d, 4), None);
        assert_eq!(be16(&d, usize::MAX), None);
        assert_eq!(be32(&d, 1), Some(0x0203_0405));
        assert_eq!(be32(&d, 2), None);
        assert_eq!(mac(&d, 0), None);
        assert_eq!(ipv4(&d, 1), Some([2, 3, 4, 5]));
        assert_eq!(ipv6(&d, 0), None);
        assert_eq!(u8_at(&d, 5), None);
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // A real IPv4 header with a valid checksum (0xb861).
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&h), 0);
        let mut bad = h;
        bad[11] = 0x62;
        assert_ne!(internet_checksum(&bad), 0);
        assert_eq!(internet_checksum(&[0xff]), !0xff00);
        // Every length and carry pattern against the plain 16-bit sum.
        let reference = |d: &[u8]| {
            let mut sum: u32 = 0;
            for c in d.chunks(2) {
                sum += u32::from(c[0]) << 8 | u32::from(c.get(1).copied().unwrap_or(0));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            !u16::try_from(sum).unwrap()
        };
        let data: Vec<u8> = (0..200u32)
            .map(|i| u8::try_from((i * 97 + 13) % 256).unwrap() | 0x80)
            .collect();
        for len in 0..data.len() {
            assert_eq!(
                internet_checksum(&data[..len]),
                reference(&data[..len]),
                "len {len}"
            );
        }
        assert_eq!(internet_checksum(&[0xff; 64]), reference(&[0xff; 64]));
        assert_eq!(internet_checksum(&[0; 20]), reference(&[0; 20]));
    }
}
