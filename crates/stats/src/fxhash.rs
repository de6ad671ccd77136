//! A small, fast non-cryptographic hasher (the Fx hash of rustc/Firefox) for
//! the group and distinct-value maps.
//!
//! The maps are keyed by encoded field values — short byte strings — and
//! SipHash (std's default, built to resist hash flooding) was a visible part
//! of the per-row cost. Flooding is not a concern worth that price here: the
//! worst an adversarial capture can do is make one local `stats` run slower,
//! and the output never depends on the hash (groups and distinct values are
//! kept in first-seen order and sorted at the end).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The Fx hasher: `h = (h.rotl(5) ^ word) * SEED` per 8-byte word.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        // The last 1–7 bytes as one little-endian word, zero-padded, read
        // in 4-, 2- and 1-byte pieces: copied into a zeroed array (a
        // `memcpy` call) and read back as 8 bytes, they cost a
        // store-forwarding stall on every short key (an IPv4 address key
        // is 5 bytes).
        let mut rest = chunks.remainder();
        if !rest.is_empty() {
            let (mut w, mut shift) = (0u64, 0u32);
            if let Some((a, tail)) = rest.split_first_chunk::<4>() {
                w = u64::from(u32::from_le_bytes(*a));
                (rest, shift) = (tail, 32);
            }
            if let Some((a, tail)) = rest.split_first_chunk::<2>() {
                w |= u64::from(u16::from_le_bytes(*a)) << shift;
                (rest, shift) = (tail, shift + 16);
            }
            if let Some(&b) = rest.first() {
                w |= u64::from(b) << shift;
            }
            self.add(w);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The state rotated: the table takes a bucket from the hash's low
    /// bits, and a product's low bits depend only on the multiplicand's low
    /// bits — unrotated, every key that starts with the same two bytes (an
    /// IPv4 address key's tag and first octet) started its probe at the same
    /// bucket, and a lookup among the bench capture's 905 source addresses
    /// walked a long cluster. Bits 26 and up depend on the word's first
    /// 26 + n bits (rustc-hash 2 rotates the same way).
    #[inline]
    fn finish(&self) -> u64 {
        self.hash.rotate_left(26)
    }
}

/// `BuildHasher` for [`FxHasher`].
pub type FxBuild = BuildHasherDefault<FxHasher>;
/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, FxBuild>;
/// A `HashSet` with [`FxHasher`].
pub type FxHashSet<K> = HashSet<K, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    fn h(b: &[u8]) -> u64 {
        FxBuild::default().hash_one(b)
    }

    #[test]
    fn distinct_inputs_hash_differently() {
        let samples: [&[u8]; 6] = [
            b"",
            b"\x05\x0a\x00\x00\x01",
            b"\x05\x0a\x00\x00\x02",
            b"\x05\x0a\x00\x00\x01\x00",
            b"0123456789abcdef",
            b"0123456789abcdeg",
        ];
        for (i, a) in samples.iter().enumerate() {
            for b in &samples[i + 1..] {
                assert_ne!(h(a), h(b), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(h(b"abc"), h(b"abc"));
    }

    /// Keys that differ only past their first bytes (IPv4 addresses in one
    /// /8, ports) spread over the low bits, which pick the bucket.
    #[test]
    fn keys_alike_in_their_first_bytes_spread_over_the_buckets() {
        let mut buckets = std::collections::HashSet::new();
        for host in 0..1024u32 {
            let mut key = vec![5u8, 10, 0];
            key.extend_from_slice(&u16::try_from(host).unwrap_or(0).to_be_bytes());
            buckets.insert(h(&key) & 2047);
        }
        // 1024 keys into 2048 buckets: a uniform hash leaves ~800 distinct.
        assert!(buckets.len() > 600, "{} buckets", buckets.len());
    }

    #[test]
    fn map_works_as_a_map() {
        let mut m: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
        for i in 0..1000u32 {
            m.insert(i.to_be_bytes().to_vec(), i as usize);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get(7u32.to_be_bytes().as_slice()), Some(&7));
    }

    #[test]
    fn every_length_hashes_as_zero_padded_little_endian_words() {
        // The reference: each 8-byte word, the last one zero-padded.
        fn reference(bytes: &[u8]) -> u64 {
            let mut h = FxHasher::default();
            for c in bytes.chunks(8) {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                h.add(u64::from_le_bytes(w));
            }
            h.finish()
        }
        let data: Vec<u8> = (1..=40u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..=data.len() {
            let mut h = FxHasher::default();
            h.write(&data[..len]);
            assert_eq!(h.finish(), reference(&data[..len]), "length {len}");
        }
    }
}
