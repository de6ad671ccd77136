//! Timestamp conversions. Everything is integer nanoseconds since the Unix
//! epoch (`i64`); conversions use wide integers and saturate instead of
//! overflowing. No floating point.

const NS_PER_S: i64 = 1_000_000_000;

/// A pcapng `if_tsresol` value: high bit clear means 10^-n seconds per unit,
/// high bit set means 2^-n seconds per unit. The default is 6 (microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TsResolution(pub u8);

impl TsResolution {
    /// Microseconds (pcap `a1b2c3d4`, pcapng default).
    pub const MICRO: TsResolution = TsResolution(6);
    /// Nanoseconds (pcap `a1b23c4d`).
    pub const NANO: TsResolution = TsResolution(9);

    /// True for the 2^-n form.
    pub fn is_power_of_two(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// The exponent n.
    pub fn exponent(self) -> u8 {
        self.0 & 0x7f
    }

    /// Converts a count of units to nanoseconds, truncating towards zero and
    /// saturating at `i64::MAX`.
    pub fn units_to_ns(self, units: u64) -> i64 {
        let scaled = u128::from(units) * 1_000_000_000;
        let e = u32::from(self.exponent());
        let ns = if self.is_power_of_two() {
            scaled >> e
        } else {
            // 10^39 exceeds u128; any exponent above 38 makes the result 0
            // because scaled < 2^64 * 10^9 < 10^29.
            match 10u128.checked_pow(e) {
                Some(div) => scaled / div,
                None => 0,
            }
        };
        i64::try_from(ns).unwrap_or(i64::MAX)
    }

    /// Converts nanoseconds to units (for writers), clamping negative values
    /// to 0 and saturating at `u64::MAX`.
    pub fn ns_to_units(self, ns: i64) -> u64 {
        let Ok(ns) = u128::try_from(ns) else { return 0 };
        let e = u32::from(self.exponent());
        let units = if self.is_power_of_two() {
            // ns * 2^e / 1e9, computed without overflowing u128 for large e.
            match ns.checked_shl(e).filter(|v| v >> e == ns) {
                Some(v) => v / 1_000_000_000,
                None => u128::MAX,
            }
        } else {
            match 10u128.checked_pow(e).and_then(|m| ns.checked_mul(m)) {
                Some(v) => v / 1_000_000_000,
                None => u128::MAX,
            }
        };
        u64::try_from(units).unwrap_or(u64::MAX)
    }
}

impl std::fmt::Display for TsResolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_power_of_two() {
            write!(f, "2^-{}", self.exponent())
        } else {
            write!(f, "10^-{}", self.exponent())
        }
    }
}

/// pcap record timestamp → ns. `frac` is µs or ns depending on the magic;
/// out-of-range fractions (≥ 1 s) are kept arithmetically, as libpcap does.
pub fn pcap_ts_ns(sec: u32, frac: u32, nanos: bool) -> i64 {
    let frac_ns = if nanos {
        i64::from(frac)
    } else {
        i64::from(frac).saturating_mul(1000)
    };
    i64::from(sec)
        .saturating_mul(NS_PER_S)
        .saturating_add(frac_ns)
}

/// Adds a pcapng `if_tsoffset` (seconds) to a timestamp, saturating.
pub fn add_offset_s(ns: i64, offset_s: i64) -> i64 {
    ns.saturating_add(offset_s.saturating_mul(NS_PER_S))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(resol: u8, units: u64, expected_ns: i64) {
        assert_eq!(
            TsResolution(resol).units_to_ns(units),
            expected_ns,
            "resol {resol:#x} units {units}"
        );
    }

    #[test]
    fn units_to_ns_variants() {
        check(6, 1_500_000, 1_500_000_000);
        check(9, 1_500_000_001, 1_500_000_001);
        check(0, 3, 3_000_000_000);
        check(3, 1, 1_000_000);
        check(12, 1_000_001, 1_000);
        check(0x80, 2, 2_000_000_000);
        check(0x80 | 1, 3, 1_500_000_000);
        check(0x80 | 10, 1024, 1_000_000_000);
        check(0x80 | 30, 1 << 30, 1_000_000_000);
        check(0x80 | 127, u64::MAX, 0);
        check(127, u64::MAX, 0);
        check(38, u64::MAX, 0);
        check(0, u64::MAX, i64::MAX);
        check(6, u64::MAX, i64::MAX);
    }

    #[test]
    fn ns_to_units_round_trips() {
        for resol in [0u8, 3, 6, 9, 0x80 | 10, 0x80 | 20] {
            let r = TsResolution(resol);
            let ns = 1_700_000_000_000_000_000i64;
            assert_eq!(r.units_to_ns(r.ns_to_units(ns)), ns, "{r}");
        }
        assert_eq!(TsResolution(6).ns_to_units(-5), 0);
        assert_eq!(TsResolution(0x80 | 127).ns_to_units(i64::MAX), u64::MAX);
    }

    #[test]
    fn pcap_timestamps() {
        assert_eq!(pcap_ts_ns(1, 2, false), 1_000_002_000);
        assert_eq!(pcap_ts_ns(1, 2, true), 1_000_000_002);
        assert_eq!(
            pcap_ts_ns(u32::MAX, 999_999, false),
            4_294_967_295_999_999_000
        );
        // invalid fraction (>= 1 s) is carried over arithmetically
        assert_eq!(pcap_ts_ns(0, 2_000_000, false), 2_000_000_000);
        assert_eq!(add_offset_s(5, 1), 1_000_000_005);
        assert_eq!(add_offset_s(5, i64::MAX), i64::MAX);
        assert_eq!(add_offset_s(-5, i64::MIN), i64::MIN);
    }
}
