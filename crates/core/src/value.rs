//! Field types and borrowed field values.

use std::fmt;

/// The type of a registered field. Unsigned integers keep their wire width so that
/// typed outputs (Parquet) can use the narrowest column type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FieldType {
    U8 = 1,
    U16 = 2,
    U32 = 3,
    U64 = 4,
    I64 = 5,
    F64 = 6,
    Bool = 7,
    Ipv4 = 8,
    Ipv6 = 9,
    Mac = 10,
    Bytes = 11,
    Str = 12,
    /// Absolute time, integer nanoseconds since the Unix epoch.
    Time = 13,
    /// Signed integers narrower than 64 bits (values are [`Value::I64`]
    /// within the width).
    I8 = 14,
    I16 = 15,
    I32 = 16,
}

impl FieldType {
    /// The name used by `pcapx fields` (close to Wireshark's `FT_*` names).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::U8 => "uint8",
            FieldType::U16 => "uint16",
            FieldType::U32 => "uint32",
            FieldType::U64 => "uint64",
            FieldType::I8 => "int8",
            FieldType::I16 => "int16",
            FieldType::I32 => "int32",
            FieldType::I64 => "int64",
            FieldType::F64 => "double",
            FieldType::Bool => "bool",
            FieldType::Ipv4 => "ipv4",
            FieldType::Ipv6 => "ipv6",
            FieldType::Mac => "ether",
            FieldType::Bytes => "bytes",
            FieldType::Str => "string",
            FieldType::Time => "time_ns",
        }
    }

    /// Parse the tag used across the plugin ABI and in docs.
    pub fn from_u8(v: u8) -> Option<FieldType> {
        Some(match v {
            1 => FieldType::U8,
            2 => FieldType::U16,
            3 => FieldType::U32,
            4 => FieldType::U64,
            5 => FieldType::I64,
            6 => FieldType::F64,
            7 => FieldType::Bool,
            8 => FieldType::Ipv4,
            9 => FieldType::Ipv6,
            10 => FieldType::Mac,
            11 => FieldType::Bytes,
            12 => FieldType::Str,
            13 => FieldType::Time,
            14 => FieldType::I8,
            15 => FieldType::I16,
            16 => FieldType::I32,
            _ => return None,
        })
    }

    pub fn is_unsigned(self) -> bool {
        matches!(
            self,
            FieldType::U8 | FieldType::U16 | FieldType::U32 | FieldType::U64
        )
    }

    pub fn is_signed(self) -> bool {
        matches!(
            self,
            FieldType::I8 | FieldType::I16 | FieldType::I32 | FieldType::I64
        )
    }

    /// Unsigned or signed integer (the types that can carry value names).
    pub fn is_integer(self) -> bool {
        self.is_unsigned() || self.is_signed()
    }

    /// Hex digits of this type's width, as tshark pads a `BASE_HEX` field
    /// (`0x0800` for a uint16); `None` for non-unsigned types.
    pub fn hex_digits(self) -> Option<usize> {
        match self {
            FieldType::U8 => Some(2),
            FieldType::U16 => Some(4),
            FieldType::U32 => Some(8),
            FieldType::U64 => Some(16),
            _ => None,
        }
    }

    pub fn is_numeric(self) -> bool {
        self.is_unsigned() || self.is_signed() || matches!(self, FieldType::F64 | FieldType::Bool)
    }

    /// The range a signed field of this type can hold.
    pub fn signed_range(self) -> Option<(i64, i64)> {
        match self {
            FieldType::I8 => Some((i64::from(i8::MIN), i64::from(i8::MAX))),
            FieldType::I16 => Some((i64::from(i16::MIN), i64::from(i16::MAX))),
            FieldType::I32 => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
            FieldType::I64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    /// Largest value an unsigned field of this type can hold.
    pub fn max_unsigned(self) -> Option<u64> {
        match self {
            FieldType::U8 => Some(u64::from(u8::MAX)),
            FieldType::U16 => Some(u64::from(u16::MAX)),
            FieldType::U32 => Some(u64::from(u32::MAX)),
            FieldType::U64 => Some(u64::MAX),
            _ => None,
        }
    }
}

/// How an integer field is displayed: by `show` always, by tables with
/// `--display-base` (as `tshark -T fields` does). Default tables use decimal.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Base {
    #[default]
    Dec,
    Hex,
}

/// One field value, borrowed from the packet or from the [`crate::Fields`] arena.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// Any unsigned integer (the field's [`FieldType`] gives the width).
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
    Mac([u8; 6]),
    Bytes(&'a [u8]),
    Str(&'a str),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
}

impl Value<'_> {
    /// Does this value fit a field of type `t`?
    pub fn fits(&self, t: FieldType) -> bool {
        match (self, t) {
            (Value::U64(v), t) if t.is_unsigned() => t.max_unsigned().is_some_and(|m| *v <= m),
            (Value::I64(v), t) if t.is_signed() => t
                .signed_range()
                .is_some_and(|(lo, hi)| (lo..=hi).contains(v)),
            (Value::F64(_), FieldType::F64)
            | (Value::Bool(_), FieldType::Bool)
            | (Value::Ipv4(_), FieldType::Ipv4)
            | (Value::Ipv6(_), FieldType::Ipv6)
            | (Value::Mac(_), FieldType::Mac)
            | (Value::Bytes(_), FieldType::Bytes)
            | (Value::Str(_), FieldType::Str)
            | (Value::Time(_), FieldType::Time) => true,
            _ => false,
        }
    }

    /// The value as a number, if it is one (used by statistics).
    pub fn as_f64(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        match *self {
            Value::U64(v) => Some(v as f64),
            Value::I64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::Time(t) => Some(t as f64 / 1e9),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) => Some(v),
            Value::Bool(b) => Some(u64::from(b)),
            _ => None,
        }
    }

    /// Write the value the way tshark's `-T fields` prints it, with integers in
    /// decimal: dotted IPv4, RFC 5952 IPv6, colon MAC, lower-case hex bytes
    /// without separators, time as epoch seconds with all nine decimals.
    pub fn write_plain<W: fmt::Write>(&self, w: &mut W) -> fmt::Result {
        match *self {
            Value::U64(v) => write!(w, "{v}"),
            Value::I64(v) => write!(w, "{v}"),
            Value::F64(v) => write!(w, "{v}"),
            Value::Bool(b) => w.write_str(if b { "1" } else { "0" }),
            Value::Ipv4(a) => write!(w, "{}", std::net::Ipv4Addr::from(a)),
            Value::Ipv6(a) => write!(w, "{}", std::net::Ipv6Addr::from(a)),
            Value::Mac(m) => write!(
                w,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Value::Bytes(b) => write_hex(w, b, '\0'),
            Value::Str(s) => w.write_str(s),
            Value::Time(ns) => write_epoch(w, ns),
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_plain(f)
    }
}

/// Lower-case hex with a separator between bytes (`sep = '\0'` for none).
pub fn write_hex<W: fmt::Write>(w: &mut W, b: &[u8], sep: char) -> fmt::Result {
    for (i, x) in b.iter().enumerate() {
        if i > 0 && sep != '\0' {
            w.write_char(sep)?;
        }
        write!(w, "{x:02x}")?;
    }
    Ok(())
}

/// Epoch seconds with nine decimals, exact (no float rounding), negative-safe.
pub fn write_epoch<W: fmt::Write>(w: &mut W, ns: i64) -> fmt::Result {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    write!(w, "{secs}.{frac:09}")
}

/// ISO 8601 UTC with nanoseconds, e.g. `2024-03-01T12:00:00.123456789Z`.
pub fn write_iso8601<W: fmt::Write>(w: &mut W, ns: i64) -> fmt::Result {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    write!(
        w,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian, UTC).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: Value<'_>) -> String {
        let mut s = String::new();
        v.write_plain(&mut s).unwrap();
        s
    }

    #[test]
    fn formats_like_tshark() {
        assert_eq!(plain(Value::Ipv4([10, 0, 0, 1])), "10.0.0.1");
        let mut v6 = [0u8; 16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[2] = 0x0d;
        v6[3] = 0xb8;
        v6[15] = 1;
        assert_eq!(plain(Value::Ipv6(v6)), "2001:db8::1");
        assert_eq!(
            plain(Value::Mac([0, 0x1b, 0x21, 0xab, 0xcd, 0xef])),
            "00:1b:21:ab:cd:ef"
        );
        assert_eq!(plain(Value::Bytes(&[1, 0xab])), "01ab");
        assert_eq!(
            plain(Value::Time(1_700_000_000_000_000_001)),
            "1700000000.000000001"
        );
        assert_eq!(plain(Value::Time(-1)), "-1.999999999");
    }

    #[test]
    fn iso_dates() {
        let mut s = String::new();
        write_iso8601(&mut s, 0).unwrap();
        assert_eq!(s, "1970-01-01T00:00:00.000000000Z");
        s.clear();
        write_iso8601(&mut s, 951_782_400_123_456_789).unwrap();
        assert_eq!(s, "2000-02-29T00:00:00.123456789Z");
    }

    #[test]
    fn fits_checks_width() {
        assert!(Value::U64(255).fits(FieldType::U8));
        assert!(!Value::U64(256).fits(FieldType::U8));
        assert!(!Value::Str("x").fits(FieldType::Bytes));
    }
}
