//! pandas `describe()` of one column, computed exactly from a [`Distinct`] map.
//!
//! Numbers (integers, floats, booleans as 1/0, times as epoch seconds):
//! `count`, `mean`, `std` (sample, ddof = 1), `min`, `25%`, `50%`, `75%`, `max`,
//! with numpy's linear interpolation between the two nearest ranks (its `_lerp`,
//! which for `t >= 0.5` interpolates back from the upper value). Text-like
//! values (addresses, MACs, strings, bytes): `count`, `unique`, `top`, `freq`,
//! `top` being the most frequent value and, among equally frequent ones, the
//! first seen (what `value_counts()` puts first in pandas 2 and 3).
//!
//! Integer sums are exact (`i128`), so `mean` is the correctly rounded quotient
//! of the exact sum; `std` uses the exact integer numerator `n·Σx² − (Σx)²` when
//! it fits in `i128`, else a compensated two-pass float sum.

use pcapx_core::FieldType;

use crate::distinct::Distinct;
use crate::key::Scalar;

/// Is a field of this type described like numbers (else like text)?
pub fn is_numeric_type(t: FieldType) -> bool {
    t.is_numeric() || t == FieldType::Time
}

#[derive(Clone, Debug, PartialEq)]
pub enum Summary {
    Numeric {
        count: u64,
        mean: f64,
        std: f64,
        min: f64,
        q25: f64,
        q50: f64,
        q75: f64,
        max: f64,
    },
    Text {
        count: u64,
        unique: u64,
        top: Option<Scalar>,
        freq: Option<u64>,
    },
}

impl Summary {
    /// pandas' row names for this kind of summary.
    pub fn row_names(&self) -> &'static [&'static str] {
        match self {
            Summary::Numeric { .. } => &NUMERIC_ROWS,
            Summary::Text { .. } => &TEXT_ROWS,
        }
    }

    /// The cell for a row name (`None` when this summary has no such row).
    pub fn cell(&self, row: &str) -> Option<Cell> {
        Some(match (self, row) {
            (Summary::Numeric { count, .. } | Summary::Text { count, .. }, "count") => {
                Cell::Int(*count)
            }
            (Summary::Numeric { mean, .. }, "mean") => Cell::Float(*mean),
            (Summary::Numeric { std, .. }, "std") => Cell::Float(*std),
            (Summary::Numeric { min, .. }, "min") => Cell::Float(*min),
            (Summary::Numeric { q25, .. }, "25%") => Cell::Float(*q25),
            (Summary::Numeric { q50, .. }, "50%") => Cell::Float(*q50),
            (Summary::Numeric { q75, .. }, "75%") => Cell::Float(*q75),
            (Summary::Numeric { max, .. }, "max") => Cell::Float(*max),
            (Summary::Text { unique, .. }, "unique") => Cell::Int(*unique),
            (Summary::Text { top, .. }, "top") => match top {
                Some(s) => Cell::Text(s.to_string()),
                None => Cell::Float(f64::NAN),
            },
            (Summary::Text { freq, .. }, "freq") => match freq {
                Some(f) => Cell::Int(*f),
                None => Cell::Float(f64::NAN),
            },
            _ => return None,
        })
    }
}

/// One cell of a describe table.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Int(u64),
    /// NaN when undefined (no values, or `std` of one value).
    Float(f64),
    Text(String),
}

pub const NUMERIC_ROWS: [&str; 8] = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"];
pub const TEXT_ROWS: [&str; 4] = ["count", "unique", "top", "freq"];

/// Summarise the values of a field of type `ftype`.
pub fn describe(ftype: FieldType, d: &Distinct) -> Summary {
    if is_numeric_type(ftype) {
        numeric(d)
    } else {
        text(d)
    }
}

fn text(d: &Distinct) -> Summary {
    let mut top: Option<(Scalar, u64)> = None;
    for (s, n) in d.values() {
        // Strictly greater: among equal counts the first seen stays on top.
        if top.as_ref().is_none_or(|(_, best)| n > *best) {
            top = Some((s, n));
        }
    }
    Summary::Text {
        count: d.total(),
        unique: u64::try_from(d.len()).unwrap_or(u64::MAX),
        freq: top.as_ref().map(|t| t.1),
        top: top.map(|t| t.0),
    }
}

/// Sorted distinct values with counts.
struct Sorted {
    vals: Vec<(f64, u64)>,
    /// Cumulative counts: `cum[i]` values are at ranks `< cum[i]`.
    cum: Vec<u64>,
    n: u64,
}

impl Sorted {
    /// The value at 0-based rank `k` (`k < n`).
    fn at(&self, k: u64) -> f64 {
        let i = self.cum.partition_point(|&c| c <= k);
        self.vals.get(i).map_or(f64::NAN, |v| v.0)
    }

    /// numpy's `percentile(..., method="linear")` for `q = num / 4`.
    fn quarter(&self, num: u64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let pos = (self.n - 1) * num;
        let lo = pos / 4;
        let rem = pos % 4;
        let a = self.at(lo);
        let b = self.at((lo + 1).min(self.n - 1));
        #[allow(clippy::cast_precision_loss)] // rem < 4
        let t = rem as f64 / 4.0;
        lerp(a, b, t)
    }
}

/// numpy's `_lerp`: `a + (b - a)·t`, computed from `b` when `t >= 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

fn numeric(d: &Distinct) -> Summary {
    // Exact integers (times in ns) where possible, floats otherwise.
    let mut ints: Vec<(i128, u64)> = Vec::new();
    let mut floats: Vec<(f64, u64)> = Vec::new();
    let mut all_int = true;
    let mut has_time = false;
    for (s, n) in d.values() {
        if matches!(s, Scalar::Time(_)) {
            has_time = true;
        }
        match (s.to_i128(), s.to_f64()) {
            (Some(i), Some(f)) => {
                ints.push((i, n));
                floats.push((f, n));
            }
            (None, Some(f)) => {
                all_int = false;
                floats.push((f, n));
            }
            _ => {}
        }
    }
    // Times are integers in ns but pandas sees float seconds: use floats.
    let exact = all_int && !has_time;
    floats.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cum = Vec::with_capacity(floats.len());
    let mut acc = 0u64;
    for &(_, c) in &floats {
        acc += c;
        cum.push(acc);
    }
    let sorted = Sorted {
        vals: floats,
        cum,
        n: acc,
    };
    let n = sorted.n;
    if n == 0 {
        return Summary::Numeric {
            count: 0,
            mean: f64::NAN,
            std: f64::NAN,
            min: f64::NAN,
            q25: f64::NAN,
            q50: f64::NAN,
            q75: f64::NAN,
            max: f64::NAN,
        };
    }
    #[allow(clippy::cast_precision_loss)]
    let nf = n as f64;
    let (mean, std) = if exact {
        exact_moments(&ints, n)
    } else {
        float_moments(&sorted.vals, nf)
    };
    Summary::Numeric {
        count: n,
        mean,
        std,
        min: sorted.vals.first().map_or(f64::NAN, |v| v.0),
        q25: sorted.quarter(1),
        q50: sorted.quarter(2),
        q75: sorted.quarter(3),
        max: sorted.vals.last().map_or(f64::NAN, |v| v.0),
    }
}

#[allow(clippy::cast_precision_loss)] // final conversions to f64 are the point
fn exact_moments(ints: &[(i128, u64)], n: u64) -> (f64, f64) {
    let mut sum: i128 = 0;
    let mut sq: Option<i128> = Some(0);
    for &(x, c) in ints {
        let c = i128::from(c);
        sum = sum.saturating_add(x.saturating_mul(c));
        sq = sq.and_then(|s| x.checked_mul(x)?.checked_mul(c)?.checked_add(s));
    }
    let nn = i128::from(n);
    let mean = sum as f64 / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let num = sq.and_then(|s| nn.checked_mul(s)?.checked_sub(sum.checked_mul(sum)?));
    let std = match num.zip(nn.checked_mul(nn - 1)) {
        Some((num, den)) => (num as f64 / den as f64).sqrt(),
        None => {
            let vals: Vec<(f64, u64)> = ints.iter().map(|&(x, c)| (x as f64, c)).collect();
            float_moments(&vals, n as f64).1
        }
    };
    (mean, std)
}

/// Mean and sample standard deviation with Neumaier-compensated sums.
#[allow(clippy::cast_precision_loss)]
fn float_moments(vals: &[(f64, u64)], n: f64) -> (f64, f64) {
    let mut s = Neumaier::default();
    for &(x, c) in vals {
        s.add(x * c as f64);
    }
    let mean = s.value() / n;
    if n < 2.0 {
        return (mean, f64::NAN);
    }
    let mut v = Neumaier::default();
    for &(x, c) in vals {
        let d = x - mean;
        v.add(d * d * c as f64);
    }
    (mean, (v.value() / (n - 1.0)).sqrt())
}

#[derive(Default)]
struct Neumaier {
    sum: f64,
    comp: f64,
}

impl Neumaier {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }
    fn value(&self) -> f64 {
        self.sum + self.comp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcapx_core::Value;

    fn num(vals: &[u64]) -> Summary {
        let mut d = Distinct::new();
        for &v in vals {
            d.add(Value::U64(v));
        }
        describe(FieldType::U32, &d)
    }

    #[test]
    fn numbers_match_pandas() {
        // pd.Series([1, 2, 3, 4, 10]).describe()
        assert_eq!(
            num(&[10, 2, 1, 4, 3]),
            Summary::Numeric {
                count: 5,
                mean: 4.0,
                std: 3.535_533_905_932_737_6,
                min: 1.0,
                q25: 2.0,
                q50: 3.0,
                q75: 4.0,
                max: 10.0,
            }
        );
        // pd.Series([29, 45, 29, 57]).describe(): std 13.613718571108091, 25% 29.0, 50% 37.0, 75% 48.0
        let Summary::Numeric {
            q25, q50, q75, std, ..
        } = num(&[29, 45, 29, 57])
        else {
            panic!("numeric");
        };
        assert_eq!((q25, q50, q75), (29.0, 37.0, 48.0));
        assert_eq!(std, 13.613_718_571_108_091);
    }

    #[test]
    fn one_value_and_none() {
        let Summary::Numeric {
            count, std, q75, ..
        } = num(&[7])
        else {
            panic!("numeric");
        };
        assert_eq!((count, q75), (1, 7.0));
        assert!(std.is_nan());
        let Summary::Numeric { count, mean, .. } = num(&[]) else {
            panic!("numeric");
        };
        assert_eq!(count, 0);
        assert!(mean.is_nan());
    }

    #[test]
    fn text_top_is_first_seen_among_ties() {
        let mut d = Distinct::new();
        for s in ["b", "a", "a", "b", "c"] {
            d.add(Value::Str(s));
        }
        assert_eq!(
            describe(FieldType::Str, &d),
            Summary::Text {
                count: 5,
                unique: 3,
                top: Some(Scalar::Str("b".into())),
                freq: Some(2),
            }
        );
        assert_eq!(
            describe(FieldType::Ipv4, &Distinct::new()),
            Summary::Text {
                count: 0,
                unique: 0,
                top: None,
                freq: None
            }
        );
    }

    #[test]
    fn huge_integers_fall_back_to_floats() {
        let s = num(&[u64::MAX, u64::MAX - 1, 0]);
        let Summary::Numeric { std, mean, .. } = s else {
            panic!("numeric");
        };
        assert!(std.is_finite() && mean.is_finite());
    }
}
