//! Group-by aggregates: `count`, `sum`, `mean`, `min`, `max`, `nunique`.
//!
//! A [`GroupPartial`] holds the aggregates of one batch of rows, keyed by the
//! encoded group key (see [`crate::key`]); partials merge with `+=` in batch
//! order and [`GroupPartial::finish`] turns the merged whole into a sorted
//! [`GroupTable`]. Semantics follow pandas' `groupby` with its defaults: a row
//! whose key (any key field) is absent is dropped (`dropna=True`); a value
//! absent in a row is skipped by `sum`/`mean`/`min`/`max`/`nunique`
//! (`skipna=True`); `count` is the number of rows in the group (`size()`).
//!
//! Exactness: integer fields (and times, in nanoseconds) are summed in `i128`,
//! so sums and counts are exact whatever the order; only floating-point fields
//! are summed in `f64`, within each batch in packet order and then batch by
//! batch, which depends on the batch boundaries but never on the thread count.

use std::cmp::Ordering;

use pcapx_core::{FieldType, Value};

use crate::fxhash::{FxHashMap, FxHashSet};
use crate::key::{Key, Scalar, decode_all, encode, fmt_float};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AggKind {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    NUnique,
}

impl AggKind {
    /// The suffix of the output column (`payload_sum`), and the flag name.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum => "sum",
            AggKind::Mean => "mean",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::NUnique => "nunique",
        }
    }

    fn needs_number(self) -> bool {
        matches!(
            self,
            AggKind::Sum | AggKind::Mean | AggKind::Min | AggKind::Max
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupError {
    #[error("--{agg} needs a numeric field, but '{field}' is {ftype}")]
    NotNumeric {
        agg: &'static str,
        field: String,
        ftype: &'static str,
    },
    #[error("--{0} needs a field name")]
    NoField(&'static str),
    #[error("at least one --group-by field is needed")]
    NoKeys,
}

/// A value column: the field an aggregate reads.
#[derive(Clone, Debug)]
pub struct ValueCol {
    pub name: String,
    pub ftype: FieldType,
    /// What this column must keep per group.
    need_sum: bool,
    need_min: bool,
    need_max: bool,
    need_set: bool,
}

#[derive(Clone, Debug)]
pub struct Agg {
    pub kind: AggKind,
    /// Index into [`GroupSpec::values`]; `None` for `count`.
    pub value: Option<usize>,
}

/// What to compute: key names and the aggregates in output order.
#[derive(Clone, Debug)]
pub struct GroupSpec {
    pub keys: Vec<String>,
    pub values: Vec<ValueCol>,
    pub aggs: Vec<Agg>,
}

impl GroupSpec {
    /// `aggs` are (kind, field name and type); the field is ignored for
    /// `count`. With no aggregate, `count` is implied.
    pub fn new(
        keys: Vec<String>,
        aggs: &[(AggKind, Option<(String, FieldType)>)],
    ) -> Result<GroupSpec, GroupError> {
        if keys.is_empty() {
            return Err(GroupError::NoKeys);
        }
        let mut spec = GroupSpec {
            keys,
            values: Vec::new(),
            aggs: Vec::new(),
        };
        for (kind, field) in aggs {
            let kind = *kind;
            if kind == AggKind::Count {
                spec.aggs.push(Agg { kind, value: None });
                continue;
            }
            let Some((name, ftype)) = field else {
                return Err(GroupError::NoField(kind.name()));
            };
            let numeric = ftype.is_numeric() || *ftype == FieldType::Time;
            if kind.needs_number() && !numeric {
                return Err(GroupError::NotNumeric {
                    agg: kind.name(),
                    field: name.clone(),
                    ftype: ftype.name(),
                });
            }
            let idx = match spec.values.iter().position(|v| v.name == *name) {
                Some(i) => i,
                None => {
                    spec.values.push(ValueCol {
                        name: name.clone(),
                        ftype: *ftype,
                        need_sum: false,
                        need_min: false,
                        need_max: false,
                        need_set: false,
                    });
                    spec.values.len() - 1
                }
            };
            if let Some(v) = spec.values.get_mut(idx) {
                match kind {
                    AggKind::Sum | AggKind::Mean => v.need_sum = true,
                    AggKind::Min => v.need_min = true,
                    AggKind::Max => v.need_max = true,
                    AggKind::NUnique => v.need_set = true,
                    AggKind::Count => {}
                }
            }
            spec.aggs.push(Agg {
                kind,
                value: Some(idx),
            });
        }
        if spec.aggs.is_empty() {
            spec.aggs.push(Agg {
                kind: AggKind::Count,
                value: None,
            });
        }
        Ok(spec)
    }

    /// Whether the aggregates come out the same whatever order the rows are
    /// added in (and partials merged in): everything but a floating-point
    /// sum (or mean), whose rounding depends on the order. Integer sums are
    /// exact (`i128`), minima and maxima and distinct sets do not depend on
    /// order, and [`GroupPartial::finish`] sorts the groups completely.
    pub fn order_free(&self) -> bool {
        self.values
            .iter()
            .all(|v| !v.need_sum || v.ftype != FieldType::F64)
    }

    /// Output column name of aggregate `i`: `count`, `payload_sum`, ….
    pub fn agg_name(&self, a: &Agg) -> String {
        match a.value.and_then(|i| self.values.get(i)) {
            Some(v) => format!("{}_{}", v.name, a.kind.name()),
            None => a.kind.name().to_owned(),
        }
    }
}

/// An exact number: integers (and times in ns) as `i128`, floats as `f64`.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(v: Value<'_>) -> Option<Num> {
        Some(match v {
            Value::U64(x) => Num::Int(i128::from(x)),
            Value::I64(x) | Value::Time(x) => Num::Int(i128::from(x)),
            Value::Bool(b) => Num::Int(i128::from(b)),
            Value::F64(x) if !x.is_nan() => Num::Float(x),
            _ => return None,
        })
    }

    #[allow(clippy::cast_precision_loss)]
    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn add(self, o: Num) -> Num {
        match (self, o) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.saturating_add(b)),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        }
    }

    fn cmp(self, o: Num) -> Ordering {
        match (self, o) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct ValAcc {
    /// Values seen (for the mean).
    n: u64,
    sum: Option<Num>,
    min: Option<Num>,
    max: Option<Num>,
    set: FxHashSet<Key>,
}

impl ValAcc {
    fn merge(&mut self, o: ValAcc) {
        self.n += o.n;
        self.sum = match (self.sum, o.sum) {
            (Some(a), Some(b)) => Some(a.add(b)),
            (a, b) => a.or(b),
        };
        self.min = match (self.min, o.min) {
            (Some(a), Some(b)) => Some(if b.cmp(a) == Ordering::Less { b } else { a }),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, o.max) {
            (Some(a), Some(b)) => Some(if b.cmp(a) == Ordering::Greater { b } else { a }),
            (a, b) => a.or(b),
        };
        if self.set.is_empty() {
            self.set = o.set;
        } else {
            self.set.extend(o.set);
        }
    }
}

#[derive(Clone, Debug)]
struct Group {
    rows: u64,
    vals: Vec<ValAcc>,
}

/// The aggregates of some rows (one batch, or everything merged so far).
#[derive(Clone, Debug, Default)]
pub struct GroupPartial {
    index: FxHashMap<Key, usize>,
    groups: Vec<(Key, Group)>,
    scratch: Vec<u8>,
}

impl GroupPartial {
    pub fn new() -> GroupPartial {
        GroupPartial::default()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Add one row. `key` is the encoding of its key values (all present, see
    /// [`KeyBuilder`]); `value_of(i)` gives the row's value of value column
    /// `i`, or `None` when absent.
    pub fn add_row<'v>(
        &mut self,
        spec: &GroupSpec,
        key: &[u8],
        mut value_of: impl FnMut(usize) -> Option<Value<'v>>,
    ) {
        let gi = match self.index.get(key) {
            Some(&i) => i,
            None => {
                let k = Key::new(key);
                self.index.insert(k.clone(), self.groups.len());
                self.groups.push((
                    k,
                    Group {
                        rows: 0,
                        vals: vec![ValAcc::default(); spec.values.len()],
                    },
                ));
                self.groups.len() - 1
            }
        };
        let Some((_, g)) = self.groups.get_mut(gi) else {
            return;
        };
        g.rows += 1;
        for (i, (col, acc)) in spec.values.iter().zip(g.vals.iter_mut()).enumerate() {
            let Some(v) = value_of(i) else { continue };
            if col.need_set {
                self.scratch.clear();
                if encode(v, &mut self.scratch) && !acc.set.contains(self.scratch.as_slice()) {
                    acc.set.insert(Key::new(&self.scratch));
                }
            }
            let Some(x) = Num::of(v) else { continue };
            acc.n += 1;
            if col.need_sum {
                acc.sum = Some(acc.sum.map_or(x, |s| s.add(x)));
            }
            if col.need_min && acc.min.is_none_or(|m| x.cmp(m) == Ordering::Less) {
                acc.min = Some(x);
            }
            if col.need_max && acc.max.is_none_or(|m| x.cmp(m) == Ordering::Greater) {
                acc.max = Some(x);
            }
        }
    }

    /// The sorted result, `top` rows at most.
    pub fn finish(self, spec: &GroupSpec, order: Order, top: Option<usize>) -> GroupTable {
        let mut rows: Vec<GroupRow> = self
            .groups
            .into_iter()
            .map(|(k, g)| GroupRow {
                key: decode_all(k.as_bytes()),
                aggs: spec.aggs.iter().map(|a| stat(spec, a, &g)).collect(),
            })
            .collect();
        rows.sort_by(|a, b| match order {
            Order::Key => cmp_keys(&a.key, &b.key),
            Order::Value => match (a.aggs.first(), b.aggs.first()) {
                (Some(x), Some(y)) => x.cmp_desc(y),
                _ => Ordering::Equal,
            }
            .then_with(|| cmp_keys(&a.key, &b.key)),
        });
        if let Some(n) = top {
            rows.truncate(n);
        }
        GroupTable {
            key_names: spec.keys.clone(),
            agg_names: spec.aggs.iter().map(|a| spec.agg_name(a)).collect(),
            rows,
        }
    }
}

impl std::ops::AddAssign for GroupPartial {
    /// Merge a later partial into this one.
    fn add_assign(&mut self, other: GroupPartial) {
        if self.groups.is_empty() {
            *self = other;
            return;
        }
        for (k, g) in other.groups {
            match self.index.get(k.as_bytes()) {
                Some(&i) => {
                    if let Some((_, mine)) = self.groups.get_mut(i) {
                        mine.rows += g.rows;
                        for (a, b) in mine.vals.iter_mut().zip(g.vals) {
                            a.merge(b);
                        }
                    }
                }
                None => {
                    self.index.insert(k.clone(), self.groups.len());
                    self.groups.push((k, g));
                }
            }
        }
    }
}

fn cmp_keys(a: &[Scalar], b: &[Scalar]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.total_cmp(y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn stat(spec: &GroupSpec, a: &Agg, g: &Group) -> Stat {
    let Some((col, acc)) = a
        .value
        .and_then(|i| Some((spec.values.get(i)?, g.vals.get(i)?)))
    else {
        return Stat::Int(i128::from(g.rows));
    };
    let time = col.ftype == FieldType::Time;
    let typed = |n: Option<Num>| match n {
        None => Stat::Missing,
        Some(Num::Int(i)) if time => Stat::Time(i),
        Some(Num::Int(i)) => Stat::Int(i),
        Some(Num::Float(f)) => Stat::Float(f),
    };
    match a.kind {
        AggKind::Count => Stat::Int(i128::from(g.rows)),
        AggKind::Sum => match acc.sum {
            // pandas: the sum of no values is 0.
            None => Stat::Int(0),
            s => typed(s),
        },
        AggKind::Min => typed(acc.min),
        AggKind::Max => typed(acc.max),
        AggKind::NUnique => Stat::Int(i128::try_from(acc.set.len()).unwrap_or(i128::MAX)),
        AggKind::Mean => match acc.sum {
            None => Stat::Missing,
            #[allow(clippy::cast_precision_loss)]
            Some(s) => {
                let m = s.as_f64() / acc.n as f64;
                Stat::Float(if time { m / 1e9 } else { m })
            }
        },
    }
}

/// How rows are ordered.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Order {
    /// By the first aggregate, descending (missing last), ties by key.
    #[default]
    Value,
    /// By key, ascending.
    Key,
}

/// One aggregate's value.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Stat {
    Int(i128),
    Float(f64),
    /// A time (sum, min or max of a time field), nanoseconds since the epoch.
    Time(i128),
    /// No value (mean/min/max of a group where the field was always absent).
    Missing,
}

impl Stat {
    /// Descending order, missing (and NaN) last.
    fn cmp_desc(&self, o: &Stat) -> Ordering {
        match (self.sort_num(), o.sort_num()) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => b.cmp(a),
        }
    }

    fn sort_num(&self) -> Option<Num> {
        match *self {
            Stat::Int(i) | Stat::Time(i) => Some(Num::Int(i)),
            Stat::Float(f) if !f.is_nan() => Some(Num::Float(f)),
            _ => None,
        }
    }

    /// The value as a float (for plots); `None` when missing.
    pub fn as_f64(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        match *self {
            Stat::Int(i) => Some(i as f64),
            Stat::Time(ns) => Some(ns as f64 / 1e9),
            Stat::Float(f) if !f.is_nan() => Some(f),
            _ => None,
        }
    }

    /// The text of the value; `None` when missing.
    pub fn text(&self) -> Option<String> {
        match *self {
            Stat::Int(i) => Some(i.to_string()),
            Stat::Float(f) if !f.is_nan() => Some(fmt_float(f)),
            Stat::Time(ns) => {
                let secs = ns.div_euclid(1_000_000_000);
                let frac = ns.rem_euclid(1_000_000_000);
                Some(format!("{secs}.{frac:09}"))
            }
            _ => None,
        }
    }

    /// Is this written as a JSON number (times are strings, like `convert`)?
    pub fn is_json_number(&self) -> bool {
        matches!(self, Stat::Int(_) | Stat::Float(_))
    }
}

/// One output row.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRow {
    pub key: Vec<Scalar>,
    pub aggs: Vec<Stat>,
}

/// The finished, sorted result.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupTable {
    pub key_names: Vec<String>,
    pub agg_names: Vec<String>,
    pub rows: Vec<GroupRow>,
}

/// Builds a row's encoded key in a reused buffer.
#[derive(Default, Debug)]
pub struct KeyBuilder {
    buf: Vec<u8>,
    complete: bool,
}

impl KeyBuilder {
    pub fn new() -> KeyBuilder {
        KeyBuilder::default()
    }
    /// Start a new row's key.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.complete = true;
    }
    /// Append one key value, or mark the key incomplete (`None`: absent).
    pub fn push(&mut self, v: Option<Value<'_>>) {
        match v {
            Some(v) if self.complete => self.complete = encode(v, &mut self.buf),
            _ => self.complete = false,
        }
    }
    /// The encoded key, or `None` when a key value was absent (row dropped).
    pub fn key(&self) -> Option<&[u8]> {
        self.complete.then_some(self.buf.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row<'a> = (&'a str, Option<u64>, Option<&'a str>);

    fn spec(aggs: &[(AggKind, &str)]) -> GroupSpec {
        let a: Vec<_> = aggs
            .iter()
            .map(|&(k, f)| {
                let t = if f == "name" {
                    FieldType::Str
                } else {
                    FieldType::U32
                };
                (k, (!f.is_empty()).then(|| (f.to_owned(), t)))
            })
            .collect();
        GroupSpec::new(vec!["src".into()], &a).unwrap()
    }

    fn run(spec: &GroupSpec, rows: &[Row<'_>], split: usize) -> GroupPartial {
        let mut whole = GroupPartial::new();
        for chunk in rows.chunks(split.max(1)) {
            let mut p = GroupPartial::new();
            let mut kb = KeyBuilder::new();
            for &(k, len, name) in chunk {
                kb.clear();
                kb.push((!k.is_empty()).then_some(Value::Str(k)));
                let Some(key) = kb.key() else { continue };
                p.add_row(spec, key, |i| match spec.values[i].name.as_str() {
                    "payload" => len.map(Value::U64),
                    _ => name.map(Value::Str),
                });
            }
            whole += p;
        }
        whole
    }

    fn text(t: &GroupTable) -> Vec<String> {
        t.rows
            .iter()
            .map(|r| {
                let mut s: Vec<String> = r.key.iter().map(ToString::to_string).collect();
                s.extend(
                    r.aggs
                        .iter()
                        .map(|a| a.text().unwrap_or_else(|| "-".into())),
                );
                s.join(" ")
            })
            .collect()
    }

    const ROWS: &[Row<'static>] = &[
        ("a", Some(10), Some("x")),
        ("b", Some(5), None),
        ("a", None, Some("y")),
        ("", Some(100), Some("z")),
        ("c", Some(5), Some("x")),
        ("a", Some(3), Some("x")),
        ("b", Some(7), Some("q")),
        ("d", None, None),
    ];

    /// Only a floating-point sum (or mean) depends on the order rows come
    /// in; everything else may be accumulated per thread.
    #[test]
    fn order_free_unless_a_float_is_summed() {
        assert!(spec(&[(AggKind::Sum, "payload"), (AggKind::NUnique, "name")]).order_free());
        assert!(spec(&[(AggKind::Mean, "payload"), (AggKind::Count, "")]).order_free());
        let float = |kind| {
            GroupSpec::new(
                vec!["src".into()],
                &[(kind, Some(("rtt".to_owned(), FieldType::F64)))],
            )
            .unwrap()
        };
        assert!(float(AggKind::Min).order_free());
        assert!(float(AggKind::Max).order_free());
        assert!(float(AggKind::NUnique).order_free());
        assert!(!float(AggKind::Sum).order_free());
        assert!(!float(AggKind::Mean).order_free());
    }

    #[test]
    fn aggregates_like_pandas() {
        let s = spec(&[
            (AggKind::Sum, "payload"),
            (AggKind::Mean, "payload"),
            (AggKind::Count, ""),
            (AggKind::Min, "payload"),
            (AggKind::Max, "payload"),
            (AggKind::NUnique, "name"),
        ]);
        let t = run(&s, ROWS, 100).finish(&s, Order::Value, None);
        assert_eq!(
            t.agg_names,
            [
                "payload_sum",
                "payload_mean",
                "count",
                "payload_min",
                "payload_max",
                "name_nunique"
            ]
        );
        assert_eq!(
            text(&t),
            [
                "a 13 6.5 3 3 10 2",
                "b 12 6.0 2 5 7 1",
                "c 5 5.0 1 5 5 1",
                "d 0 - 1 - - 0"
            ]
        );
        let by_key = run(&s, ROWS, 100).finish(&s, Order::Key, Some(2));
        assert_eq!(text(&by_key), ["a 13 6.5 3 3 10 2", "b 12 6.0 2 5 7 1"]);
    }

    #[test]
    fn merging_in_any_split_gives_the_same_table() {
        let s = spec(&[(AggKind::Mean, "payload"), (AggKind::NUnique, "name")]);
        let one = run(&s, ROWS, 100).finish(&s, Order::Value, None);
        for split in 1..ROWS.len() {
            assert_eq!(run(&s, ROWS, split).finish(&s, Order::Value, None), one);
        }
    }

    #[test]
    fn count_is_implied_and_text_fields_are_refused() {
        let s = GroupSpec::new(vec!["src".into()], &[]).unwrap();
        assert_eq!(s.aggs.len(), 1);
        assert_eq!(s.agg_name(&s.aggs[0]), "count");
        assert_eq!(
            GroupSpec::new(
                vec!["src".into()],
                &[(AggKind::Sum, Some(("dst".into(), FieldType::Ipv4)))]
            )
            .unwrap_err()
            .to_string(),
            "--sum needs a numeric field, but 'dst' is ipv4"
        );
    }
}
