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

/// The value a cell shows under [`Occurrence::First`] (`convert`'s default),
/// if any: [`for_each_value`]'s first value, returned directly. Inlined,
/// the value stays in registers (collected through `for_each_value`'s
/// closure into an `Option`, it was stored in parts and reloaded whole: a
/// store-forwarding stall per cell).
#[inline]
pub fn first_value<'f>(col: &ColumnSpec, fields: &'f Fields) -> Option<Value<'f>> {
    Row::new(fields).first(col)
}

/// One packet's cells: [`for_each_value`] with what every column of a row
/// shares (the layer a [`Scope::After`] column reads) worked out once.
pub(crate) struct Row<'f> {
    fields: &'f Fields,
    /// The last `Scope::After` protocol asked for and its target layer.
    after: Option<(ProtoId, Option<u16>)>,
}

/// The first of `col`'s fields recorded on layer `layer` (a scoped column
/// whose field an earlier layer also has).
#[cold]
#[inline(never)]
fn in_layer<'f>(fields: &'f Fields, layer: u16, col: &ColumnSpec) -> Option<&'f pcapx_core::Entry> {
    fields
        .layer_entries(layer)
        .find(|e| col.fields.contains(&e.field))
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
    ///
    /// Inlined into the encoders' per-cell loops: as a call (26 a row on the
    /// tutorial table) its prologue and epilogue alone cost ≈ 145 instructions
    /// a row; the rare search of a later layer stays out of line.
    #[inline(always)]
    pub(crate) fn first_entry(&mut self, col: &ColumnSpec) -> Option<&'f pcapx_core::Entry> {
        let fields = self.fields;
        // The column's earliest entry in the packet (entries are in layer order).
        let e = match col.fields.as_slice() {
            // Most columns name one field: its first entry, no search.
            [f] => fields.first_entry(*f)?,
            candidates => fields.outermost_entry(candidates)?,
        };
        match col.scope {
            Scope::Any => Some(e),
            Scope::After(p) => {
                let target = self.target(p)?;
                match e.layer.cmp(&target) {
                    Ordering::Equal => Some(e),
                    // Past the target layer: the target layer has none.
                    Ordering::Greater => None,
                    // An earlier layer has one: look in the target layer.
                    Ordering::Less => in_layer(fields, target, col),
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

/// `x` (< 10⁸) as eight ASCII digit values 0–9 (leading zeros included),
/// the first digit in the lowest byte: the digits are split in registers
/// (SWAR: 4+4, then 2+2 per half, then tens and ones per pair), so a cell is
/// one 8-byte store. Building them byte by byte in a stack buffer and
/// copying that out stalled on store forwarding (small stores, one wide
/// load): 10 % of the CSV encoder's time in `perf`.
#[inline(always)]
fn eight_digit_values(x: u64) -> u64 {
    debug_assert!(x < 100_000_000);
    // two 4-digit lanes of 32 bits: abcd (low), efgh
    let v = (x / 10_000) | ((x % 10_000) << 32);
    // per 32-bit lane: the lane / 100 (exact below 43,699), then the rest
    let h = ((v * 5243) >> 19) & 0x0000_007f_0000_007f;
    // four 16-bit lanes: ab, cd, ef, gh
    let v = h | ((v - h * 100) << 16);
    // per 16-bit lane: tens (x * 103 >> 10 is x / 10 below 179), then ones
    let t = ((v * 103) >> 10) & 0x000f_000f_000f_000f;
    t | ((v - t * 10) << 8)
}

const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// Append the 8-digit group `x` (< 10⁸) with its leading zeros.
#[inline(always)]
fn push_eight(out: &mut Vec<u8>, x: u64) {
    out.extend_from_slice(&(eight_digit_values(x) + ASCII_ZEROS).to_le_bytes());
}

/// Append `x` (1 ≤ x < 10⁸) without leading zeros: the zero digits at the
/// front are the low zero bytes of the digit values, shifted out.
#[inline(always)]
fn push_short(out: &mut Vec<u8>, x: u64) {
    let d = eight_digit_values(x);
    let zeros = (d.trailing_zeros() / 8) as usize; // x ≥ 1: at most 7
    let len = out.len();
    out.extend_from_slice(&((d + ASCII_ZEROS) >> (8 * zeros)).to_le_bytes());
    out.truncate(len + 8 - zeros);
}

/// Append `x` in decimal (what `itoa`/`Display` write), without a call into
/// the formatting machinery or `memcpy`.
#[inline(always)]
pub(crate) fn push_u64(out: &mut Vec<u8>, x: u64) {
    if x < 10 {
        #[allow(clippy::cast_possible_truncation)] // x < 10
        out.push(b'0' + x as u8);
    } else if x < 100_000_000 {
        push_short(out, x);
    } else {
        push_long(out, x);
    }
}

/// [`push_u64`] followed by `sep` (a CSV cell and its separator): below
/// 10⁷ the digits and the separator are one 8-byte store, which saves the
/// separator's own push on most cells.
#[inline(always)]
pub(crate) fn push_u64_then(out: &mut Vec<u8>, x: u64, sep: u8) {
    if x < 10 {
        #[allow(clippy::cast_possible_truncation)] // x < 10
        out.extend_from_slice(&[b'0' + x as u8, sep]);
    } else if x < 10_000_000 {
        let d = eight_digit_values(x);
        // x < 10⁷: at least one leading zero digit, so 1 ≤ zeros ≤ 6 and the
        // separator lands inside the word.
        let zeros = (d.trailing_zeros() / 8) as usize;
        let word = ((d + ASCII_ZEROS) >> (8 * zeros)) | (u64::from(sep) << (8 * (8 - zeros)));
        let len = out.len();
        out.extend_from_slice(&word.to_le_bytes());
        out.truncate(len + 9 - zeros);
    } else {
        push_u64(out, x);
        out.push(sep);
    }
}

/// [`push_u64`] for x ≥ 10⁸ (sequence numbers, epoch seconds): the leading
/// group without zeros, then 8-digit groups.
#[inline(never)]
fn push_long(out: &mut Vec<u8>, x: u64) {
    const E8: u64 = 100_000_000;
    let hi = x / E8;
    if hi < E8 {
        push_short(out, hi);
    } else {
        // x < 2⁶⁴ < 10²⁰: at most four leading digits
        push_short(out, hi / E8);
        push_eight(out, hi % E8);
    }
    push_eight(out, x % E8);
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
    #[allow(clippy::cast_possible_truncation)] // a digit
    out.push(b'0' + (x / 100_000_000) as u8);
    push_eight(out, x % 100_000_000);
}

/// Each octet's decimal digits followed by a `.` (bytes 0–3, little-endian
/// order), and in bits 32.. how many of those bytes there are (2 to 4).
const OCTETS: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u64;
        t[i] = if v >= 100 {
            (4 << 32)
                | (b'0' as u64 + v / 100)
                | ((b'0' as u64 + v / 10 % 10) << 8)
                | ((b'0' as u64 + v % 10) << 16)
                | ((b'.' as u64) << 24)
        } else if v >= 10 {
            (3 << 32)
                | (b'0' as u64 + v / 10)
                | ((b'0' as u64 + v % 10) << 8)
                | ((b'.' as u64) << 16)
        } else {
            (2 << 32) | (b'0' as u64 + v) | ((b'.' as u64) << 8)
        };
        i += 1;
    }
    t
};

/// Append a dotted-quad IPv4 address: each octet's digits and dot are one
/// 4-byte store from a table, straight into the output (the last dot is cut
/// off). Assembling the address in a `u128` first cost ≈ 135 instructions an
/// address in variable 128-bit shifts; this ≈ 40.
#[inline]
pub(crate) fn push_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    let len = out.len();
    out.extend_from_slice(&[0u8; 20]);
    let Some(buf) = out.get_mut(len..len + 20) else {
        return;
    };
    let mut p = 0usize;
    for o in a {
        let d = OCTETS[usize::from(o)];
        // `p` is at most 12 here (three octets of at most 4 bytes); the mask
        // only lets the compiler see that the store stays inside `buf`.
        let at = p & 15;
        #[allow(clippy::cast_possible_truncation)] // the low four bytes
        buf[at..at + 4].copy_from_slice(&(d as u32).to_le_bytes());
        #[allow(clippy::cast_possible_truncation)] // 2 to 4
        {
            p += (d >> 32) as usize;
        }
    }
    out.truncate(len + p - 1);
}

/// Epoch seconds with nine decimals, exactly as
/// [`pcapx_core::value::write_epoch`] writes them.
///
/// Times from 2001-09-09 to 2286 (ten-digit seconds, nearly every capture)
/// are four stores straight into the output: two digits, eight digits, the
/// point and the first decimal, eight decimals (≈ 200 instructions a cell
/// through the general path, ≈ 90 this way).
#[inline]
fn push_epoch(out: &mut Vec<u8>, ns: i64) {
    const E8: u64 = 100_000_000;
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000).unsigned_abs();
    if let Ok(s) = u64::try_from(secs)
        && (1_000_000_000..10_000_000_000).contains(&s)
    {
        let (hi, lo) = (s / E8, s % E8); // hi: 10..=99
        let len = out.len();
        out.extend_from_slice(&[0u8; 20]);
        let Some(buf) = out.get_mut(len..len + 20) else {
            return;
        };
        #[allow(clippy::cast_possible_truncation)] // digits
        let head = [b'0' + (hi / 10) as u8, b'0' + (hi % 10) as u8];
        buf[0..2].copy_from_slice(&head);
        buf[2..10].copy_from_slice(&(eight_digit_values(lo) + ASCII_ZEROS).to_le_bytes());
        #[allow(clippy::cast_possible_truncation)] // a digit
        let point = [b'.', b'0' + (frac / E8) as u8];
        buf[10..12].copy_from_slice(&point);
        buf[12..20].copy_from_slice(&(eight_digit_values(frac % E8) + ASCII_ZEROS).to_le_bytes());
        return;
    }
    push_i64(out, secs);
    out.push(b'.');
    push_nine(out, frac);
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
    fn every_digit_count_and_group_boundary_matches_display() {
        // every value below 10^6, then a spread over each power of ten (the
        // 8-digit groups' edges and leading zeros inside a group)
        let mut out = Vec::new();
        let mut check = |x: u64| {
            out.clear();
            push_u64(&mut out, x);
            assert_eq!(out, x.to_string().as_bytes(), "{x}");
        };
        let mut with_sep = Vec::new();
        let mut check = |x: u64| {
            check(x);
            with_sep.clear();
            push_u64_then(&mut with_sep, x, b',');
            assert_eq!(with_sep, format!("{x},").as_bytes(), "{x}");
        };
        (0..1_000_000).for_each(&mut check);
        let mut x = 1u64;
        loop {
            for d in [0, 1, 7, 99, 100_000_001, 12_345_678_901] {
                for y in [x.wrapping_sub(d), x.wrapping_add(d), x.wrapping_mul(7)] {
                    check(y);
                }
            }
            match x.checked_mul(10) {
                Some(n) => x = n,
                None => break,
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            check(seed >> (seed % 64));
        }
    }

    #[test]
    fn epoch_times_match_write_epoch_on_both_paths() {
        let check = |ns: i64| {
            let mut out = Vec::new();
            push_epoch(&mut out, ns);
            let mut want = String::new();
            pcapx_core::value::write_epoch(&mut want, ns).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{ns}");
        };
        const S: i64 = 1_000_000_000;
        for base in [
            0,
            1,
            S,
            10 * S,
            S * S,
            1_700_000_000 * S,
            9_223_372_036 * S,
            i64::MAX,
        ] {
            for d in [
                0,
                1,
                9,
                10,
                99_999_999,
                100_000_000,
                999_999_999,
                S,
                S + 1,
                12_345_678_901,
            ] {
                for ns in [
                    base.saturating_add(d),
                    base.saturating_sub(d),
                    base.saturating_neg().saturating_sub(d),
                ] {
                    check(ns);
                }
            }
        }
        check(i64::MIN);
        check(i64::MAX);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            #[allow(clippy::cast_possible_wrap)]
            check((seed >> (seed % 64)) as i64);
            #[allow(clippy::cast_possible_wrap)]
            check(1_600_000_000 * S + (seed % (200_000_000 * S as u64)) as i64);
        }
    }

    #[test]
    fn every_octet_in_every_position_matches_display() {
        for o in 0..=255u8 {
            for a in [
                [o, 0, 0, 0],
                [9, o, 99, 0],
                [255, 100, o, 1],
                [1, 10, 200, o],
                [o; 4],
            ] {
                assert_eq!(text(Value::Ipv4(a)), format!("x{}", Value::Ipv4(a)));
            }
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
