//! A fast keyed hasher for the per-packet maps of this crate (conversations
//! of the desegmenter, the stream numbering and the flow table, fragment
//! sets).
//!
//! These maps are looked up for every packet — the desegmenter's on the
//! reader's thread, the serial part of every parallel job — and std's
//! SipHash-1-3 cost about 390 instructions per lookup of an endpoint-pair
//! key (nine small `write`s), a sixth of the serial pass's instructions on
//! the bench capture. This hasher folds each word into the state with one
//! 64×64→128-bit multiply (the "folded multiply" of foldhash/wyhash), about
//! five instructions per word.
//!
//! The keys come from the capture, so they are attacker-chosen: each map
//! draws two secret 64-bit keys from std's `RandomState` (seeded per
//! process from the OS) so that colliding keys cannot be prepared offline.
//! The output never depends on the hash: iteration order of these maps is
//! never observed (eviction follows explicit creation order).

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// `HashMap` with [`FoldState`].
pub type FastMap<K, V> = HashMap<K, V, FoldState>;

/// Make an empty [`FastMap`].
pub fn map<K, V>() -> FastMap<K, V> {
    HashMap::with_hasher(FoldState::default())
}

/// Per-map secret keys.
#[derive(Clone, Copy, Debug)]
pub struct FoldState {
    seed: u64,
    mul: u64,
}

impl Default for FoldState {
    fn default() -> FoldState {
        let s = RandomState::new();
        FoldState {
            seed: s.hash_one(0x243f_6a88_85a3_08d3_u64),
            // Odd, and never small: the multiplier must spread every bit.
            mul: s.hash_one(0x1319_8a2e_0370_7344_u64) | 0x8000_0000_0000_0001,
        }
    }
}

impl BuildHasher for FoldState {
    type Hasher = FoldHasher;

    #[inline]
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            acc: self.seed,
            mul: self.mul,
        }
    }
}

/// See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct FoldHasher {
    acc: u64,
    mul: u64,
}

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let f = u128::from(a) * u128::from(b);
    #[allow(clippy::cast_possible_truncation)] // the two halves, on purpose
    let (lo, hi) = (f as u64, (f >> 64) as u64);
    lo ^ hi
}

impl FoldHasher {
    #[inline(always)]
    fn add(&mut self, w: u64) {
        self.acc = fold(self.acc ^ w, self.mul).wrapping_add(self.mul);
    }
}

impl Hasher for FoldHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length in the top byte: "ab" and "ab\0" differ.
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
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

    #[inline]
    fn finish(&self) -> u64 {
        // One more round so the last word reaches the high bits hashbrown
        // takes its control byte from.
        fold(self.acc, self.mul.rotate_left(32) | 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{Addr, Endpoint};

    #[test]
    fn equal_keys_hash_equal_and_neighbours_differ() {
        let s = FoldState::default();
        let e = |a: [u8; 4], port| Endpoint {
            addr: Addr::v4(a),
            port,
        };
        let k = (e([10, 0, 0, 1], 80), e([10, 0, 0, 2], 40000));
        assert_eq!(s.hash_one(k), s.hash_one(k));
        let mut seen = std::collections::HashSet::new();
        // Every port of one address pair: no two hash alike, and the
        // control byte (top 7 bits) takes many values.
        let mut top = std::collections::HashSet::new();
        for port in 0..=u16::MAX {
            let h = s.hash_one((e([10, 0, 0, 1], 80), e([10, 0, 0, 2], port)));
            assert!(seen.insert(h), "collision at port {port}");
            top.insert(h >> 57);
        }
        assert_eq!(top.len(), 128);
        // Bytes of different lengths with the same prefix differ.
        let h = |b: &[u8]| {
            let mut x = s.build_hasher();
            x.write(b);
            x.finish()
        };
        assert_ne!(h(b"ab"), h(b"ab\0"));
    }

    #[test]
    fn maps_are_keyed_per_map() {
        let (a, b) = (FoldState::default(), FoldState::default());
        assert_ne!(a.hash_one(1u64), b.hash_one(1u64));
    }

    #[test]
    fn a_map_works() {
        let mut m: FastMap<(u32, u32), u32> = map();
        for i in 0..10_000 {
            m.insert((i, i * 7), i);
        }
        for i in 0..10_000 {
            assert_eq!(m.get(&(i, i * 7)), Some(&i));
        }
        assert_eq!(m.get(&(1, 1)), None);
    }
}
