//! [`Distinct`]: an exact value → count map that remembers first-seen order.
//!
//! It is what `unique` prints and what `describe` summarises (exact quantiles
//! for numbers, `top`/`freq` for text). Partials from consecutive batches merge
//! with `+=` in batch order, which keeps the first-seen order of the whole
//! capture. Memory grows with the number of distinct values, not of packets.

use pcapx_core::Value;

use crate::fxhash::FxHashMap;
use crate::key::{Key, Scalar, decode};

#[derive(Clone, Debug, Default)]
pub struct Distinct {
    index: FxHashMap<Key, usize>,
    /// Encoded value and count, in first-seen order.
    entries: Vec<(Key, u64)>,
    /// Values counted (absent values are not values).
    total: u64,
    scratch: Vec<u8>,
}

impl Distinct {
    pub fn new() -> Distinct {
        Distinct::default()
    }

    /// Count one value. A NaN is skipped, like pandas skips missing values.
    pub fn add(&mut self, v: Value<'_>) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        if crate::key::encode(v, &mut buf) {
            self.add_encoded(&buf, 1);
        }
        self.scratch = buf;
    }

    /// Count an already encoded value `n` times.
    pub fn add_encoded(&mut self, key: &[u8], n: u64) {
        self.total += n;
        match self.index.get(key) {
            Some(&i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.1 += n;
                }
            }
            None => {
                let k = Key::new(key);
                self.index.insert(k.clone(), self.entries.len());
                self.entries.push((k, n));
            }
        }
    }

    /// Number of values counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The distinct values and their counts, in first-seen order.
    pub fn values(&self) -> impl Iterator<Item = (Scalar, u64)> + '_ {
        self.entries
            .iter()
            .filter_map(|(k, n)| decode(k.as_bytes()).map(|(s, _)| (s, *n)))
    }
}

impl std::ops::AddAssign for Distinct {
    /// Merge a *later* partial: its new values come after ours.
    fn add_assign(&mut self, other: Distinct) {
        if self.entries.is_empty() {
            let scratch = std::mem::take(&mut self.scratch);
            *self = other;
            self.scratch = scratch;
            return;
        }
        for (k, n) in other.entries {
            self.add_encoded(k.as_bytes(), n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(d: &Distinct) -> Vec<(String, u64)> {
        d.values().map(|(s, n)| (s.to_string(), n)).collect()
    }

    #[test]
    fn first_seen_order_survives_merging() {
        let mut a = Distinct::new();
        for x in [3u64, 1, 3] {
            a.add(Value::U64(x));
        }
        let mut b = Distinct::new();
        for x in [2u64, 1, 2, 2] {
            b.add(Value::U64(x));
        }
        let mut whole = Distinct::new();
        for x in [3u64, 1, 3, 2, 1, 2, 2] {
            whole.add(Value::U64(x));
        }
        a += b;
        assert_eq!(counts(&a), counts(&whole));
        assert_eq!(
            counts(&a),
            vec![("3".into(), 2), ("1".into(), 2), ("2".into(), 3)]
        );
        assert_eq!(a.total(), 7);
        let mut empty = Distinct::new();
        empty += a;
        assert_eq!(counts(&empty), counts(&whole));
    }

    #[test]
    fn nan_is_not_a_value() {
        let mut d = Distinct::new();
        d.add(Value::F64(f64::NAN));
        d.add(Value::F64(1.5));
        assert_eq!(d.total(), 1);
        assert_eq!(d.len(), 1);
    }
}
