//! Compact binary keys for field values, and [`Scalar`], the owned value they
//! decode back into.
//!
//! Group keys and distinct-value sets are keyed by the *encoded* bytes of the
//! values: one tag byte, then a fixed-width big-endian payload (or a 4-byte
//! length and the bytes for strings and byte strings). A key of a few fixed-size
//! values (addresses, ports) fits [`Key`]'s inline buffer, so building and
//! looking one up needs no heap allocation; values are formatted only at the
//! end, once per group.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use pcapx_core::Value;
use pcapx_core::value::write_epoch;

const T_U64: u8 = 1;
const T_I64: u8 = 2;
const T_F64: u8 = 3;
const T_BOOL: u8 = 4;
const T_V4: u8 = 5;
const T_V6: u8 = 6;
const T_MAC: u8 = 7;
const T_BYTES: u8 = 8;
const T_STR: u8 = 9;
const T_TIME: u8 = 10;

/// Bytes a [`Key`] holds without a heap allocation: two IPv6 addresses with
/// their tags (34 bytes) fit.
pub const INLINE: usize = 38;

/// An encoded key: inline when short, boxed otherwise. Hashes and compares as
/// its bytes, so a map keyed by `Key` can be searched with a `&[u8]`.
#[derive(Clone)]
pub enum Key {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut buf = [0u8; INLINE];
                buf[..b.len()].copy_from_slice(b);
                Key::Inline { len, buf }
            }
            _ => Key::Heap(b.into()),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or(&[]),
            Key::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, o: &Key) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:02x?})", self.as_bytes())
    }
}

/// Append the encoding of `v` to `out`. Returns `false` (and appends nothing)
/// for a floating-point NaN, which statistics treat as a missing value like
/// pandas does. `-0.0` is stored as `0.0` so the two make one group.
pub fn encode(v: Value<'_>, out: &mut Vec<u8>) -> bool {
    match v {
        Value::U64(x) => {
            out.push(T_U64);
            out.extend_from_slice(&x.to_be_bytes());
        }
        Value::I64(x) => {
            out.push(T_I64);
            out.extend_from_slice(&x.to_be_bytes());
        }
        Value::Time(x) => {
            out.push(T_TIME);
            out.extend_from_slice(&x.to_be_bytes());
        }
        Value::F64(x) => {
            if x.is_nan() {
                return false;
            }
            let x = if x == 0.0 { 0.0 } else { x };
            out.push(T_F64);
            out.extend_from_slice(&x.to_bits().to_be_bytes());
        }
        Value::Bool(b) => {
            out.push(T_BOOL);
            out.push(u8::from(b));
        }
        Value::Ipv4(a) => {
            out.push(T_V4);
            out.extend_from_slice(&a);
        }
        Value::Ipv6(a) => {
            out.push(T_V6);
            out.extend_from_slice(&a);
        }
        Value::Mac(m) => {
            out.push(T_MAC);
            out.extend_from_slice(&m);
        }
        Value::Bytes(b) => {
            out.push(T_BYTES);
            push_len(out, b.len());
            out.extend_from_slice(b);
        }
        Value::Str(s) => {
            out.push(T_STR);
            push_len(out, s.len());
            out.extend_from_slice(s.as_bytes());
        }
    }
    true
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
}

fn take<const N: usize>(b: &[u8]) -> Option<([u8; N], &[u8])> {
    let head = b.get(..N)?;
    let arr: [u8; N] = head.try_into().ok()?;
    Some((arr, b.get(N..)?))
}

/// Decode the first value of an encoded key; returns it and the rest.
pub fn decode(b: &[u8]) -> Option<(Scalar, &[u8])> {
    let (&tag, rest) = b.split_first()?;
    Some(match tag {
        T_U64 => {
            let (a, r) = take::<8>(rest)?;
            (Scalar::U64(u64::from_be_bytes(a)), r)
        }
        T_I64 => {
            let (a, r) = take::<8>(rest)?;
            (Scalar::I64(i64::from_be_bytes(a)), r)
        }
        T_TIME => {
            let (a, r) = take::<8>(rest)?;
            (Scalar::Time(i64::from_be_bytes(a)), r)
        }
        T_F64 => {
            let (a, r) = take::<8>(rest)?;
            (Scalar::F64(f64::from_bits(u64::from_be_bytes(a))), r)
        }
        T_BOOL => {
            let (a, r) = take::<1>(rest)?;
            (Scalar::Bool(a[0] != 0), r)
        }
        T_V4 => {
            let (a, r) = take::<4>(rest)?;
            (Scalar::Ipv4(a), r)
        }
        T_V6 => {
            let (a, r) = take::<16>(rest)?;
            (Scalar::Ipv6(a), r)
        }
        T_MAC => {
            let (a, r) = take::<6>(rest)?;
            (Scalar::Mac(a), r)
        }
        T_BYTES | T_STR => {
            let (l, r) = take::<4>(rest)?;
            let n = usize::try_from(u32::from_be_bytes(l)).ok()?;
            let data = r.get(..n)?;
            let r = r.get(n..)?;
            if tag == T_BYTES {
                (Scalar::Bytes(data.to_vec()), r)
            } else {
                (Scalar::Str(String::from_utf8_lossy(data).into_owned()), r)
            }
        }
        _ => return None,
    })
}

/// Decode every value of an encoded key.
pub fn decode_all(mut b: &[u8]) -> Vec<Scalar> {
    let mut out = Vec::new();
    while let Some((s, rest)) = decode(b) {
        out.push(s);
        b = rest;
    }
    out
}

/// An owned field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
    Mac([u8; 6]),
    Bytes(Vec<u8>),
    Str(String),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
}

impl Scalar {
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Scalar::U64(x) => Value::U64(*x),
            Scalar::I64(x) => Value::I64(*x),
            Scalar::F64(x) => Value::F64(*x),
            Scalar::Bool(x) => Value::Bool(*x),
            Scalar::Ipv4(x) => Value::Ipv4(*x),
            Scalar::Ipv6(x) => Value::Ipv6(*x),
            Scalar::Mac(x) => Value::Mac(*x),
            Scalar::Bytes(x) => Value::Bytes(x),
            Scalar::Str(x) => Value::Str(x),
            Scalar::Time(x) => Value::Time(*x),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Scalar::Bool(_) => 0,
            Scalar::U64(_) | Scalar::I64(_) | Scalar::F64(_) => 1,
            Scalar::Time(_) => 2,
            Scalar::Ipv4(_) => 3,
            Scalar::Ipv6(_) => 4,
            Scalar::Mac(_) => 5,
            Scalar::Bytes(_) => 6,
            Scalar::Str(_) => 7,
        }
    }

    /// A total order that follows the values' types: numbers numerically,
    /// addresses by their bytes (so `10.0.0.2` < `10.0.0.10`), strings by
    /// their bytes.
    pub fn total_cmp(&self, o: &Scalar) -> Ordering {
        use Scalar::*;
        match (self, o) {
            (U64(a), U64(b)) => a.cmp(b),
            (I64(a), I64(b)) | (Time(a), Time(b)) => a.cmp(b),
            (F64(a), F64(b)) => a.total_cmp(b),
            (U64(a), I64(b)) => i128::from(*a).cmp(&i128::from(*b)),
            (I64(a), U64(b)) => i128::from(*a).cmp(&i128::from(*b)),
            (Bool(a), Bool(b)) => a.cmp(b),
            (Ipv4(a), Ipv4(b)) => a.cmp(b),
            (Ipv6(a), Ipv6(b)) => a.cmp(b),
            (Mac(a), Mac(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Str(a), Str(b)) => a.cmp(b),
            _ => match (self.to_f64(), o.to_f64()) {
                (Some(a), Some(b)) if self.rank() == o.rank() => a.total_cmp(&b),
                _ => self.rank().cmp(&o.rank()),
            },
        }
    }

    /// Is this a number for statistics (integers, floats, booleans, times)?
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Scalar::U64(_) | Scalar::I64(_) | Scalar::F64(_) | Scalar::Bool(_) | Scalar::Time(_)
        )
    }

    /// The value as a float the way pandas reads it from `convert`'s CSV:
    /// integers converted, booleans 1/0, times as epoch seconds (the nearest
    /// double to the nine-decimal text).
    pub fn to_f64(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)] // pandas converts the same way
        match *self {
            Scalar::U64(x) => Some(x as f64),
            Scalar::I64(x) => Some(x as f64),
            Scalar::F64(x) => Some(x),
            Scalar::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Scalar::Time(ns) => {
                let mut s = String::with_capacity(24);
                write_epoch(&mut s, ns).ok()?;
                s.parse().ok()
            }
            _ => None,
        }
    }

    /// The value as an exact integer, if it is one (times in nanoseconds).
    pub fn to_i128(&self) -> Option<i128> {
        match *self {
            Scalar::U64(x) => Some(i128::from(x)),
            Scalar::I64(x) | Scalar::Time(x) => Some(i128::from(x)),
            Scalar::Bool(b) => Some(i128::from(b)),
            _ => None,
        }
    }

    /// Write the value as JSON: numbers as numbers, booleans as booleans,
    /// everything else (addresses, bytes, times, strings) as its text.
    pub fn write_json(&self, out: &mut String) {
        match self {
            Scalar::U64(_) | Scalar::I64(_) => out.push_str(&self.to_string()),
            Scalar::F64(x) => push_float_json(out, *x),
            Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            _ => push_json_str(out, &self.to_string()),
        }
    }
}

impl fmt::Display for Scalar {
    /// The text `convert` writes for the value (tshark-style, decimal
    /// integers, epoch times with nine decimals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_value().write_plain(f)
    }
}

/// A float the way Python's `repr` writes it for ordinary magnitudes
/// (`12.0`, `0.1`, `412.3333333333333`).
pub fn fmt_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    format!("{x:?}")
}

/// A float as a JSON number (`null` when not finite).
pub fn push_float_json(out: &mut String, x: f64) {
    if x.is_finite() {
        out.push_str(&fmt_float(x));
    } else {
        out.push_str("null");
    }
}

/// A JSON string literal.
pub fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: Value<'_>) -> Scalar {
        let mut b = Vec::new();
        assert!(encode(v, &mut b));
        let (s, rest) = decode(&b).unwrap();
        assert!(rest.is_empty());
        s
    }

    #[test]
    fn values_roundtrip() {
        assert_eq!(roundtrip(Value::U64(443)), Scalar::U64(443));
        assert_eq!(roundtrip(Value::I64(-5)), Scalar::I64(-5));
        assert_eq!(
            roundtrip(Value::Ipv4([10, 0, 0, 1])),
            Scalar::Ipv4([10, 0, 0, 1])
        );
        assert_eq!(
            roundtrip(Value::Str("a.example")),
            Scalar::Str("a.example".into())
        );
        assert_eq!(roundtrip(Value::Bytes(&[1, 2])), Scalar::Bytes(vec![1, 2]));
        assert_eq!(roundtrip(Value::Time(-1)), Scalar::Time(-1));
        assert_eq!(roundtrip(Value::F64(-0.0)), Scalar::F64(0.0));
        assert!(!encode(Value::F64(f64::NAN), &mut Vec::new()));
    }

    #[test]
    fn multi_value_keys_are_unambiguous() {
        let mut a = Vec::new();
        encode(Value::Str("ab"), &mut a);
        encode(Value::Str("c"), &mut a);
        let mut b = Vec::new();
        encode(Value::Str("a"), &mut b);
        encode(Value::Str("bc"), &mut b);
        assert_ne!(a, b);
        assert_eq!(
            decode_all(&a),
            vec![Scalar::Str("ab".into()), Scalar::Str("c".into())]
        );
    }

    #[test]
    fn short_keys_are_inline() {
        let mut b = Vec::new();
        encode(Value::Ipv6([1; 16]), &mut b);
        encode(Value::Ipv6([2; 16]), &mut b);
        assert!(matches!(Key::new(&b), Key::Inline { .. }));
        assert_eq!(Key::new(&b).as_bytes(), &b[..]);
        b.extend_from_slice(&[0; 8]);
        assert!(matches!(Key::new(&b), Key::Heap(_)));
        assert_eq!(Key::new(&b).as_bytes(), &b[..]);
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[T_U64, 1, 2]), None);
        assert_eq!(decode(&[T_STR, 0, 0, 0, 9, b'a']), None);
        assert_eq!(decode(&[99]), None);
    }

    #[test]
    fn orders_by_type() {
        assert_eq!(
            Scalar::Ipv4([10, 0, 0, 2]).total_cmp(&Scalar::Ipv4([10, 0, 0, 10])),
            Ordering::Less
        );
        assert_eq!(
            Scalar::U64(3).total_cmp(&Scalar::I64(-3)),
            Ordering::Greater
        );
        assert_eq!(
            Scalar::Time(1_700_000_000_001_507_000).to_f64(),
            Some(1_700_000_000.001_507)
        );
        assert_eq!(fmt_float(12.0), "12.0");
        assert_eq!(fmt_float(412.0 / 3.0), "137.33333333333334");
    }
}
