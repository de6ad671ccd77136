//! Taking a cell's value(s) out of a dissected packet and formatting them.

use std::cmp::Ordering;

use pcapx_core::value::write_iso8601;
use pcapx_core::{Fields, ProtoId, Value};

use crate::table::{ColumnDisplay, ColumnSpec, Occurrence, Scope, TimeFormat};

/// Call `f` for each value the cell holds under `occ` (none when absent).
pub fn for_each_value<'f>(
    col: &ColumnSpec,
    fields: &'f Fields,
    occ: Occurrence,
    f: impl FnMut(Value<'f>),
) {
    Row::new(fields).for_each(col, occ, f);
}

/// One packet's cells: [`for_each_value`] with what every column of a row
/// shares (the layer a [`Scope::After`] column reads) worked out once.
pub(crate) struct Row<'f> {
    fields: &'f Fields,
    /// The last `Scope::After` protocol asked for and its target layer.
    after: Option<(ProtoId, Option<u16>)>,
}

impl<'f> Row<'f> {
    #[inline]
    pub(crate) fn new(fields: &'f Fields) -> Row<'f> {
        Row {
            fields,
            after: None,
        }
    }

    /// The layer directly above the first layer of protocol `p`.
    #[inline]
    fn target(&mut self, p: ProtoId) -> Option<u16> {
        match self.after {
            Some((q, t)) if q == p => t,
            _ => {
                let t = self
                    .fields
                    .layers()
                    .iter()
                    .position(|l| l.proto == p)
                    .and_then(|li| u16::try_from(li + 1).ok());
                self.after = Some((p, t));
                t
            }
        }
    }

    /// The cell's value under [`Occurrence::First`].
    #[inline]
    pub(crate) fn first(&mut self, col: &ColumnSpec) -> Option<Value<'f>> {
        let fields = self.fields;
        self.first_entry(col).map(|e| fields.value(e))
    }

    /// The entry of the cell's value under [`Occurrence::First`]. Callers
    /// that format it turn it into a [`Value`] right where they match on
    /// it ([`Fields::value`] is inlined), so the value never goes through
    /// memory as an `Option<Value>` (whose byte-wise copy stalled the CSV
    /// encoder on store forwarding, ≈ 30 % of its time).
    #[inline]
    pub(crate) fn first_entry(&mut self, col: &ColumnSpec) -> Option<&'f pcapx_core::Entry> {
        let fields = self.fields;
        // The column's earliest entry in the packet (entries are in layer order).
        let e = fields.outermost_entry(&col.fields)?;
        match col.scope {
            Scope::Any => Some(e),
            Scope::After(p) => {
                let target = self.target(p)?;
                match e.layer.cmp(&target) {
                    Ordering::Equal => Some(e),
                    // Past the target layer: the target layer has none.
                    Ordering::Greater => None,
                    // An earlier layer has one: look in the target layer.
                    Ordering::Less => fields
                        .layer_entries(target)
                        .find(|e| col.fields.contains(&e.field)),
                }
            }
        }
    }

    /// Call `f` for each value the cell holds under `occ`.
    pub(crate) fn for_each(
        &mut self,
        col: &ColumnSpec,
        occ: Occurrence,
        mut f: impl FnMut(Value<'f>),
    ) {
        if occ == Occurrence::First {
            if let Some(v) = self.first(col) {
                f(v);
            }
            return;
        }
        let fields = self.fields;
        match col.scope {
            Scope::Any => {
                let Some(field) = fields.outermost(&col.fields) else {
                    return;
                };
                match occ {
                    Occurrence::Last => {
                        if let Some(v) = fields.last(field) {
                            f(v);
                        }
                    }
                    _ => fields.all(field).for_each(f),
                }
            }
            Scope::After(p) => {
                let Some(target) = self.target(p) else {
                    return;
                };
                let it = fields
                    .layer_entries(target)
                    .filter(|e| col.fields.contains(&e.field))
                    .map(|e| fields.value(e));
                match occ {
                    Occurrence::Last => {
                        if let Some(v) = it.last() {
                            f(v);
                        }
                    }
                    _ => it.for_each(f),
                }
            }
        }
    }
}

/// Formats values as text cells into a byte buffer, reusing scratch space.
#[derive(Default)]
pub struct CellWriter {
    pub time_format: TimeFormat,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Two-digit decimal strings `00` … `99`.
const DIGITS2: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Write the last two decimal digits of `x` (< 100) at `out[0..2]`.
#[inline]
fn two_digits(out: &mut [u8], x: u64) {
    #[allow(clippy::cast_possible_truncation)] // x < 100
    let i = 2 * (x as usize);
    out[..2].copy_from_slice(&DIGITS2[i..i + 2]);
}

/// Append `x` in decimal (what `itoa`/`Display` write), without a call into
/// the formatting machinery or `memcpy`.
#[inline(always)]
pub(crate) fn push_u64(out: &mut Vec<u8>, x: u64) {
    if x < 10 {
        #[allow(clippy::cast_possible_truncation)] // x < 10
        out.push(b'0' + x as u8);
        return;
    }
    let n = x.ilog10() as usize + 1; // 2..=20 digits
    let mut tmp = [0u8; 20];
    let mut i = n;
    let mut x = x;
    while x >= 100 {
        i -= 2;
        two_digits(&mut tmp[i..], x % 100);
        x /= 100;
    }
    if x >= 10 {
        two_digits(&mut tmp[i - 2..], x);
    } else {
        #[allow(clippy::cast_possible_truncation)] // x < 10
        let d = b'0' + x as u8;
        tmp[i - 1] = d;
    }
    // A fixed-size copy (a few stores) and a cut beat a variable-length memcpy.
    let len = out.len();
    out.extend_from_slice(&tmp);
    out.truncate(len + n);
}

#[inline]
fn push_i64(out: &mut Vec<u8>, x: i64) {
    if x < 0 {
        out.push(b'-');
    }
    push_u64(out, x.unsigned_abs());
}

/// Append `x` (< 10⁹) as exactly nine digits.
#[inline]
fn push_nine(out: &mut Vec<u8>, x: u64) {
    let mut tmp = [0u8; 9];
    let mut x = x;
    #[allow(clippy::cast_possible_truncation)] // a digit
    let last = b'0' + (x % 10) as u8;
    tmp[8] = last;
    x /= 10;
    for i in (0..8).step_by(2).rev() {
        two_digits(&mut tmp[i..], x % 100);
        x /= 100;
    }
    out.extend_from_slice(&tmp);
}

/// Append a dotted-quad IPv4 address.
#[inline]
fn push_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    let mut tmp = [0u8; 16];
    let mut n = 0;
    for (i, &o) in a.iter().enumerate() {
        if i > 0 {
            tmp[n] = b'.';
            n += 1;
        }
        let o = u64::from(o);
        if o >= 100 {
            #[allow(clippy::cast_possible_truncation)] // a digit
            let h = b'0' + (o / 100) as u8;
            tmp[n] = h;
            two_digits(&mut tmp[n + 1..], o % 100);
            n += 3;
        } else if o >= 10 {
            two_digits(&mut tmp[n..], o);
            n += 2;
        } else {
            #[allow(clippy::cast_possible_truncation)] // a digit
            let d = b'0' + o as u8;
            tmp[n] = d;
            n += 1;
        }
    }
    let len = out.len();
    out.extend_from_slice(&tmp);
    out.truncate(len + n);
}

/// Epoch seconds with nine decimals, exactly as
/// [`pcapx_core::value::write_epoch`] writes them.
#[inline]
fn push_epoch(out: &mut Vec<u8>, ns: i64) {
    push_i64(out, ns.div_euclid(1_000_000_000));
    out.push(b'.');
    push_nine(out, ns.rem_euclid(1_000_000_000).unsigned_abs());
}

impl CellWriter {
    /// Append the plain-text form of `v` (tshark's `-T fields` style, decimal
    /// integers, booleans as 1/0).
    ///
    /// Inlined so that it merges with the caller's match on the stored value;
    /// the rare types are formatted out of line.
    #[inline(always)]
    pub fn text(&self, out: &mut Vec<u8>, v: Value<'_>) {
        match v {
            Value::U64(x) => push_u64(out, x),
            Value::I64(x) => push_i64(out, x),
            Value::Bool(b) => out.push(if b { b'1' } else { b'0' }),
            Value::Ipv4(a) => push_ipv4(out, a),
            Value::Str(s) => out.extend_from_slice(s.as_bytes()),
            Value::Time(ns) if self.time_format == TimeFormat::Epoch => push_epoch(out, ns),
            _ => self.text_other(out, v),
        }
    }

    /// Append `v` in a column's display form (`--names`, `--display-base`):
    /// its value name if it has one, else `0x…` for a hex column, else its
    /// plain text. Returns whether a name was written (names may need CSV
    /// quoting; numbers never do).
    #[inline(never)]
    pub fn display(&self, out: &mut Vec<u8>, d: &ColumnDisplay, v: Value<'_>) -> bool {
        let key = match v {
            Value::U64(x) => x,
            // Negative values are keyed by their two's-complement pattern.
            #[allow(clippy::cast_sign_loss)]
            Value::I64(x) => x as u64,
            _ => {
                self.text(out, v);
                return false;
            }
        };
        if let Some(name) = d.name(key) {
            out.extend_from_slice(name.as_bytes());
            return true;
        }
        match (v, d.hex_digits) {
            (Value::U64(x), Some(digits)) => {
                use std::io::Write as _;
                let _ = write!(out, "0x{x:0digits$x}");
            }
            _ => self.text(out, v),
        }
        false
    }

    /// [`CellWriter::text`], or [`CellWriter::display`] when the column has
    /// a display form; returns whether a value name was written.
    #[inline(always)]
    pub fn cell(&self, out: &mut Vec<u8>, col: &ColumnSpec, v: Value<'_>) -> bool {
        match &col.display {
            None => {
                self.text(out, v);
                false
            }
            Some(d) => self.display(out, d, v),
        }
    }

    #[inline(never)]
    fn text_other(&self, out: &mut Vec<u8>, v: Value<'_>) {
        match v {
            Value::U64(x) => push_u64(out, x),
            Value::I64(x) => push_i64(out, x),
            Value::Bool(b) => out.push(if b { b'1' } else { b'0' }),
            Value::Ipv4(a) => push_ipv4(out, a),
            Value::Str(s) => out.extend_from_slice(s.as_bytes()),
            Value::Mac(m) => {
                for (i, o) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(b':');
                    }
                    out.push(HEX[usize::from(o >> 4)]);
                    out.push(HEX[usize::from(o & 15)]);
                }
            }
            Value::Bytes(b) => {
                out.reserve(2 * b.len());
                for o in b {
                    out.push(HEX[usize::from(o >> 4)]);
                    out.push(HEX[usize::from(o & 15)]);
                }
            }
            Value::Time(ns) => match self.time_format {
                TimeFormat::Epoch => push_epoch(out, ns),
                TimeFormat::Iso => {
                    let _ = write_iso8601(&mut VecFmt(out), ns);
                }
            },
            Value::F64(_) | Value::Ipv6(_) => {
                use std::io::Write as _;
                let _ = write!(out, "{v}");
            }
        }
    }
}

/// `fmt::Write` into a byte vector, so `Display`-style formatting needs no
/// intermediate `String`.
pub(crate) struct VecFmt<'a>(pub &'a mut Vec<u8>);

impl std::fmt::Write for VecFmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: Value<'_>) -> String {
        let mut out = b"x".to_vec();
        CellWriter::default().text(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_match_display() {
        let mut xs = vec![
            0u64,
            1,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            65535,
            u64::MAX,
            u64::MAX - 1,
        ];
        xs.extend((0..20).map(|k| 10u64.pow(k)));
        xs.extend((1..20).map(|k| 10u64.pow(k) - 1));
        for x in xs {
            assert_eq!(text(Value::U64(x)), format!("x{x}"));
        }
        for x in [0i64, -1, 7, -10, 12345, i64::MIN, i64::MAX] {
            assert_eq!(text(Value::I64(x)), format!("x{x}"));
        }
    }

    #[test]
    fn addresses_and_times_match_core_formatting() {
        for a in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 99, 100],
            [1, 22, 203, 9],
        ] {
            assert_eq!(text(Value::Ipv4(a)), format!("x{}", Value::Ipv4(a)));
        }
        for ns in [
            0i64,
            1,
            -1,
            999_999_999,
            1_000_000_000,
            1_700_000_000_123_456_789,
            -1_500_000_000,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(
                text(Value::Time(ns)),
                format!("x{}", Value::Time(ns)),
                "{ns}"
            );
        }
    }
}
