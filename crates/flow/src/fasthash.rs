//! The hash map of the flow crate's per-packet maps (conversations of the
//! desegmenter, the stream numbering and the flow table, fragment sets).
//!
//! These maps are looked up for every packet — the desegmenter's on the
//! reader's thread, the serial part of every parallel job — and std's
//! SipHash-1-3 cost about 390 instructions per lookup of an endpoint-pair
//! key, a sixth of the serial pass's instructions on the bench capture.
//! `ahash` (already in the build through Arrow) costs a fraction of that.
//!
//! The keys come from the capture, so they are attacker-chosen: `ahash`'s
//! `RandomState` draws its keys per process from the OS (`runtime-rng`), so
//! colliding keys cannot be prepared offline. The output never depends on
//! the hash: iteration order of these maps is never observed (eviction
//! follows explicit creation order), and the stream numbering's
//! forgotten-conversation filter only widens what is counted as "came
//! back" (see `numbering`).

use std::collections::HashMap;

/// `HashMap` with `ahash`'s randomly keyed hasher.
pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// Make an empty [`FastMap`].
pub fn map<K, V>() -> FastMap<K, V> {
    HashMap::default()
}

#[cfg(test)]
mod tests {

    #[test]
    fn maps_are_keyed_per_map() {
        let (a, b) = (super::map::<u64, ()>(), super::map::<u64, ()>());
        assert_ne!(a.hasher().hash_one(1u64), b.hasher().hash_one(1u64));
    }

    #[test]
    fn a_map_works() {
        let mut m = super::map();
        let key = |i: u32| (i, i.to_le_bytes());
        for i in 0..1000u32 {
            m.insert(key(i), i);
        }
        assert!((0..1000u32).all(|i| m[&key(i)] == i));
    }
}
