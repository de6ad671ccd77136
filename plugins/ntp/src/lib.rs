//! Example pcapx plugin written with the SDK: the Network Time Protocol
//! (RFC 5905) header on UDP port 123, with tshark's field names and types.
//!
//! Timestamps become `Time` values (nanoseconds since the Unix epoch) the way
//! Wireshark converts them: seconds with the top bit clear are in NTP era 1
//! (after 2036), the fraction is truncated to nanoseconds, and an all-zero
//! timestamp (tshark shows "NULL") is the Unix epoch, 0.

use pcapx_plugin_sdk::{Cx, Declare, Field, FieldSpec, FieldType, Outcome, Protocol, pcapx_plugin};

/// The NTP dissector's field handles (immutable after `declare`).
pub struct Ntp {
    flags: Field,
    li: Field,
    vn: Field,
    mode: Field,
    stratum: Field,
    ppoll: Field,
    precision: Field,
    rootdelay: Field,
    rootdispersion: Field,
    refid: Field,
    reftime: Field,
    org: Field,
    rec: Field,
    xmt: Field,
    keyid: Field,
    mac: Field,
}

const HEADER: usize = 48;
/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// NTP 64-bit timestamp to Unix nanoseconds, as Wireshark does.
pub fn ntp_time_ns(seconds: u32, fraction: u32) -> i64 {
    if seconds == 0 && fraction == 0 {
        return 0;
    }
    let secs = if seconds & 0x8000_0000 != 0 {
        i64::from(seconds) - NTP_UNIX_OFFSET
    } else {
        i64::from(seconds) + (1i64 << 32) - NTP_UNIX_OFFSET
    };
    // (fraction * 1e9) >> 32 is below 1e9, so it fits an i64.
    let nanos = i64::try_from((u64::from(fraction) * 1_000_000_000) >> 32).unwrap_or(0);
    secs * 1_000_000_000 + nanos
}

fn mode_name(mode: u8) -> &'static str {
    match mode {
        1 => "symmetric active",
        2 => "symmetric passive",
        3 => "client",
        4 => "server",
        5 => "broadcast",
        6 => "NTP control message",
        7 => "reserved for private use",
        _ => "reserved",
    }
}

impl Protocol for Ntp {
    fn declare(d: &mut Declare) -> Ntp {
        d.protocol("ntp", "Network Time Protocol", "NTPHeader");
        d.bind("udp.port", 123);
        let u8f = |d: &mut Declare, n: &str, disp: &str, desc: &str| {
            d.field(FieldSpec::new(n, disp, FieldType::U8, desc))
        };
        let time = |d: &mut Declare, n: &str, disp: &str, desc: &str| {
            d.field(FieldSpec::new(n, disp, FieldType::Time, desc))
        };
        Ntp {
            flags: d.field(
                FieldSpec::new(
                    "ntp.flags",
                    "Flags",
                    FieldType::U8,
                    "Flags (Leap/Version/Mode)",
                )
                .hex(),
            ),
            li: u8f(
                d,
                "ntp.flags.li",
                "Leap Indicator",
                "Warning of an impending leap second",
            ),
            vn: u8f(d, "ntp.flags.vn", "Version number", "NTP version"),
            mode: u8f(
                d,
                "ntp.flags.mode",
                "Mode",
                "Association mode (3 client, 4 server, …)",
            ),
            stratum: u8f(
                d,
                "ntp.stratum",
                "Peer Clock Stratum",
                "Stratum of the server",
            ),
            ppoll: u8f(
                d,
                "ntp.ppoll",
                "Peer Polling Interval",
                "Maximum interval between successive messages (log2 seconds)",
            ),
            precision: u8f(
                d,
                "ntp.precision",
                "Peer Clock Precision",
                "The precision of the system clock (signed log2 seconds, as a raw byte)",
            ),
            rootdelay: d.field(FieldSpec::new(
                "ntp.rootdelay",
                "Root Delay",
                FieldType::U32,
                "Total round-trip delay to the reference clock (raw NTP short format)",
            )),
            rootdispersion: d.field(FieldSpec::new(
                "ntp.rootdispersion",
                "Root Dispersion",
                FieldType::U32,
                "Total dispersion to the reference clock (raw NTP short format)",
            )),
            refid: d.field(FieldSpec::new(
                "ntp.refid",
                "Reference ID",
                FieldType::Bytes,
                "Particular server or reference clock being used",
            )),
            reftime: time(
                d,
                "ntp.reftime",
                "Reference Timestamp",
                "Time when the system clock was last set or corrected",
            ),
            org: time(
                d,
                "ntp.org",
                "Origin Timestamp",
                "Time at the client when the request departed for the server",
            ),
            rec: time(
                d,
                "ntp.rec",
                "Receive Timestamp",
                "Time at the server when the request arrived from the client",
            ),
            xmt: time(
                d,
                "ntp.xmt",
                "Transmit Timestamp",
                "Time at the server when the response left for the client",
            ),
            keyid: d.field(FieldSpec::new("ntp.keyid", "Key ID", FieldType::Bytes, "")),
            mac: d.field(FieldSpec::new(
                "ntp.mac",
                "Message Authentication Code",
                FieldType::Bytes,
                "",
            )),
        }
    }

    fn dissect(&self, data: &[u8], cx: &mut Cx<'_>) -> Outcome {
        let Some(&b0) = data.first() else {
            cx.short();
            return Outcome::end(0);
        };
        cx.add_u64(self.flags, u64::from(b0));
        cx.add_u64(self.li, u64::from(b0 >> 6));
        cx.add_u64(self.vn, u64::from((b0 >> 3) & 7));
        cx.add_u64(self.mode, u64::from(b0 & 7));
        for (i, f) in [self.stratum, self.ppoll, self.precision]
            .into_iter()
            .enumerate()
        {
            match data.get(1 + i) {
                Some(&v) => cx.add_u64(f, u64::from(v)),
                None => {
                    cx.short();
                    return Outcome::end(data.len());
                }
            }
        }
        for (at, f) in [(4, self.rootdelay), (8, self.rootdispersion)] {
            match be32(data, at) {
                Some(v) => cx.add_u64(f, u64::from(v)),
                None => {
                    cx.short();
                    return Outcome::end(data.len());
                }
            }
        }
        match data.get(12..16) {
            Some(r) => cx.add_bytes(self.refid, r),
            None => {
                cx.short();
                return Outcome::end(data.len());
            }
        }
        for (k, f) in [self.reftime, self.org, self.rec, self.xmt]
            .into_iter()
            .enumerate()
        {
            let at = 16 + 8 * k;
            match (be32(data, at), be32(data, at + 4)) {
                (Some(s), Some(fr)) => cx.add_time(f, ntp_time_ns(s, fr)),
                _ => {
                    cx.short();
                    return Outcome::end(data.len());
                }
            }
        }
        // Optional authenticator: key id + MD5 (16) or SHA-1 (20) digest, or
        // the 4-byte crypto-NAK. Anything else is left to the `data` layer.
        let rest = data.get(HEADER..).unwrap_or(&[]);
        match rest.len() {
            4 | 20 | 24 => {
                let (key, mac) = rest.split_at(4);
                cx.add_bytes(self.keyid, key);
                if !mac.is_empty() {
                    cx.add_bytes(self.mac, mac);
                }
                Outcome::end(data.len())
            }
            _ => Outcome::end(HEADER),
        }
    }

    fn summary(&self, data: &[u8], _header_len: usize, out: &mut String) -> bool {
        let Some(&b0) = data.first() else {
            return false;
        };
        out.push_str("NTP v");
        out.push(char::from(b'0' + ((b0 >> 3) & 7)));
        out.push_str(", ");
        out.push_str(mode_name(b0 & 7));
        true
    }
}

pcapx_plugin! {
    name: "ntp",
    version: env!("CARGO_PKG_VERSION"),
    description: "Network Time Protocol (UDP 123), tshark field names",
    protocols: [Ntp],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_timestamps_like_wireshark() {
        assert_eq!(ntp_time_ns(0, 0), 0);
        // 1987-07-25 21:08:33.007738396 (era 0) and 2093-03-22 (era 1).
        assert_eq!(ntp_time_ns(0xa4b3_9cd1, 0), 554_245_713_000_000_000);
        assert_eq!(ntp_time_ns(0x6b70_caf9, 0), 3_888_532_601_000_000_000);
        // The fraction is truncated to nanoseconds: 0x8000_0000 is half a second.
        assert_eq!(
            ntp_time_ns(0xa4b3_9cd1, 0x8000_0000) % 1_000_000_000,
            500_000_000
        );
        assert_eq!(
            ntp_time_ns(0xa4b3_9cd1, 0xffff_ffff) % 1_000_000_000,
            999_999_999
        );
    }
}
