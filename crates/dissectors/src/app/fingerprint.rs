//! TLS client and server fingerprints: JA3/JA3S (Salesforce; the strings and
//! MD5 hashes exactly as tshark's `tls.handshake.ja3*` fields) and JA4 (FoxIO,
//! `technical_details/JA4.md`).
//!
//! Everything is computed from a parsed [`Hello`] (slices into the packet),
//! with the per-thread scratch buffers of [`Scratch`], so nothing is
//! allocated per packet once the buffers are warm.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// GREASE values (RFC 8701): `0x?a?a` with both bytes equal.
pub(crate) fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A ClientHello or ServerHello, as slices of its body.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Hello<'a> {
    /// `legacy_version` (client_version / server_version).
    pub version: u16,
    /// ClientHello: the cipher suite list (2 bytes each). ServerHello: the
    /// chosen suite (2 bytes).
    pub ciphers: &'a [u8],
    /// The extensions block (type, length, data …), possibly empty.
    pub extensions: &'a [u8],
}

/// One extension.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ext<'a> {
    pub ty: u16,
    pub data: &'a [u8],
}

/// The extensions of a block, stopping at the first one that does not fit.
pub(crate) fn extensions(mut b: &[u8]) -> impl Iterator<Item = Ext<'_>> {
    std::iter::from_fn(move || {
        let ty = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
        let data = b.get(4..4 + len)?;
        b = b.get(4 + len..).unwrap_or(&[]);
        Some(Ext { ty, data })
    })
}

/// Big-endian `u16`s of a list (an odd trailing byte is ignored).
pub(crate) fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]))
}

/// The list inside an extension that starts with a `u16` length.
pub(crate) fn list16(data: &[u8]) -> &[u8] {
    let n = data
        .get(..2)
        .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    data.get(2..2 + n)
        .unwrap_or_else(|| data.get(2..).unwrap_or(&[]))
}

/// The list inside an extension that starts with a `u8` length.
pub(crate) fn list8(data: &[u8]) -> &[u8] {
    let n = data.first().map_or(0, |&l| usize::from(l));
    data.get(1..1 + n)
        .unwrap_or_else(|| data.get(1..).unwrap_or(&[]))
}

/// Reused buffers for fingerprint strings.
#[derive(Default)]
pub(crate) struct Scratch {
    pub text: String,
    pub nums: Vec<u16>,
}

fn dash_list(out: &mut String, items: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in items.filter(|&v| !is_grease(v)) {
        if !first {
            out.push('-');
        }
        first = false;
        let _ = write!(out, "{v}");
    }
}

/// tshark's `ja3_full`: `version,ciphers,extensions,groups,point formats`,
/// decimal, `-`-joined, GREASE values left out.
pub(crate) fn ja3_full(h: &Hello<'_>, out: &mut String) {
    let _ = write!(out, "{},", h.version);
    dash_list(out, u16s(h.ciphers));
    out.push(',');
    dash_list(out, extensions(h.extensions).map(|e| e.ty));
    out.push(',');
    let groups = extensions(h.extensions)
        .find(|e| e.ty == 10)
        .map_or(&[][..], |e| list16(e.data));
    dash_list(out, u16s(groups));
    out.push(',');
    let formats = extensions(h.extensions)
        .find(|e| e.ty == 11)
        .map_or(&[][..], |e| list8(e.data));
    dash_list(out, formats.iter().map(|&b| u16::from(b)));
}

/// tshark's `ja3s_full`: `version,cipher,extensions`.
pub(crate) fn ja3s_full(h: &Hello<'_>, out: &mut String) {
    let cipher = u16s(h.ciphers).next().unwrap_or(0);
    let _ = write!(out, "{},{cipher},", h.version);
    dash_list(out, extensions(h.extensions).map(|e| e.ty));
}

/// Lower-case hex MD5 of `text` appended to `out`.
pub(crate) fn md5_hex(text: &str, out: &mut Vec<u8>) {
    let d = Md5::digest(text.as_bytes());
    push_hex(out, &d);
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// JA4's two-character version code.
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// One ALPN character: the byte itself when ASCII alphanumeric.
fn alpn_chars(v: &[u8]) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match (v.first(), v.last()) {
        (Some(&a), Some(&z)) if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() => [a, z],
        // The spec: otherwise the first and last characters of the value's
        // hex form (high nibble of the first byte, low nibble of the last).
        (Some(&a), Some(&z)) => [HEX[usize::from(a >> 4)], HEX[usize::from(z & 15)]],
        _ => *b"00",
    }
}

/// First 12 hex digits of SHA-256 of `text`, or twelve zeros when `empty`.
fn sha12(text: &str, empty: bool, out: &mut Vec<u8>) {
    if empty {
        out.extend_from_slice(b"000000000000");
        return;
    }
    let d = Sha256::digest(text.as_bytes());
    push_hex(out, d.get(..6).unwrap_or(&[]));
}

fn hex4_list(out: &mut String, items: &[u16]) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v:04x}");
    }
}

/// FoxIO JA4 of a ClientHello (`proto`: `b't'` over TCP, `b'q'` over QUIC).
pub(crate) fn ja4(h: &Hello<'_>, proto: u8, s: &mut Scratch, out: &mut Vec<u8>) {
    let exts = || extensions(h.extensions).filter(|e| !is_grease(e.ty));
    let version = exts()
        .find(|e| e.ty == 43)
        .and_then(|e| {
            u16s(list8(e.data))
                .filter(|&v| !is_grease(v))
                .max_by_key(|&v| ja4_rank(v))
        })
        .unwrap_or(h.version);
    let sni = exts().any(|e| e.ty == 0);
    let ciphers = u16s(h.ciphers).filter(|&v| !is_grease(v)).count();
    let n_ext = exts().count();
    let alpn = exts()
        .find(|e| e.ty == 16)
        .and_then(|e| {
            let l = list16(e.data);
            let n = usize::from(*l.first()?);
            l.get(1..1 + n)
        })
        .map_or(*b"00", alpn_chars);
    out.push(proto);
    out.extend_from_slice(ja4_version(version).as_bytes());
    out.push(if sni { b'd' } else { b'i' });
    let two = |out: &mut Vec<u8>, n: usize| {
        let n = n.min(99);
        out.push(b'0' + u8::try_from(n / 10).unwrap_or(9));
        out.push(b'0' + u8::try_from(n % 10).unwrap_or(9));
    };
    two(out, ciphers);
    two(out, n_ext);
    out.extend_from_slice(&alpn);
    out.push(b'_');
    // b: sorted cipher suites.
    s.nums.clear();
    s.nums.extend(u16s(h.ciphers).filter(|&v| !is_grease(v)));
    s.nums.sort_unstable();
    s.text.clear();
    hex4_list(&mut s.text, &s.nums);
    sha12(&s.text, s.nums.is_empty(), out);
    out.push(b'_');
    // c: sorted extensions without SNI and ALPN, then the signature
    // algorithms in their order.
    s.nums.clear();
    s.nums
        .extend(exts().map(|e| e.ty).filter(|&t| t != 0 && t != 16));
    s.nums.sort_unstable();
    s.text.clear();
    hex4_list(&mut s.text, &s.nums);
    let empty = s.nums.is_empty();
    if let Some(sig) = exts().find(|e| e.ty == 13) {
        s.nums.clear();
        s.nums
            .extend(u16s(list16(sig.data)).filter(|&v| !is_grease(v)));
        if !s.nums.is_empty() {
            s.text.push('_');
            let nums = std::mem::take(&mut s.nums);
            hex4_list(&mut s.text, &nums);
            s.nums = nums;
        }
    }
    sha12(&s.text, empty, out);
}

/// Order of versions for "highest": DTLS versions count down.
fn ja4_rank(v: u16) -> u32 {
    match v {
        0xfeff => 0x0302,
        0xfefd => 0x0303,
        0xfefc => 0x0304,
        v => u32::from(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && is_grease(0x3a3a));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301) && !is_grease(0x000a));
    }

    /// The JA4 specification's example: its cipher list hashes to the
    /// published `8daaf6152771`.
    #[test]
    fn ja4_spec_cipher_hash() {
        let mut out = Vec::new();
        sha12(
            "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9",
            false,
            &mut out,
        );
        assert_eq!(out, b"8daaf6152771");
    }

    #[test]
    fn alpn() {
        assert_eq!(&alpn_chars(b"h2"), b"h2");
        assert_eq!(&alpn_chars(b"http/1.1"), b"h1");
        assert_eq!(&alpn_chars(&[0xab, 0xcd]), b"ad");
        assert_eq!(&alpn_chars(b""), b"00");
    }
}
