//! Application layers over TCP and UDP: TLS, HTTP/1.x and QUIC.
//!
//! * [`tls::Tls`] — TLS records and handshake messages, found by a heuristic
//!   on every TCP port; JA3/JA3S/JA4 fingerprints ([`fingerprint`]);
//! * [`http::Http`] — HTTP/1.x heads (pipelined messages too), found by
//!   tshark's start-line heuristic on every TCP port;
//! * [`quic::Quic`] — QUIC v1/v2 headers on UDP, client Initial decryption
//!   and the ClientHello in its CRYPTO frames (TLS fields, JA4 `q…`);
//! * [`x509`] — the certificates of TLS Certificate messages (`x509af`,
//!   `x509if`, `x509sat`, `x509ce` fields, declared by field-only
//!   protocols and filled by TLS).

use std::sync::{Arc, OnceLock};

use pcapx_core::{Ctx, Dissector, FieldId, Value};

pub mod fingerprint;
pub mod http;
pub mod quic;
pub mod quic_state;
pub mod tls;
pub mod x509;

pub(crate) use crate::net::wire::be16;

/// The application-layer dissectors, in registration order.
pub fn all() -> Vec<Box<dyn Dissector>> {
    let tls_ids = Arc::new(OnceLock::new());
    let x509 = Arc::new(x509::X509Cells::default());
    let mut v = x509::declarations(&x509);
    v.extend([
        Box::new(tls::Tls::new(Arc::clone(&tls_ids), x509)) as Box<dyn Dissector>,
        Box::new(http::Http::new()),
        Box::new(quic::Quic::new(tls_ids)),
    ]);
    v
}

/// Big-endian 24-bit integer at `i`.
pub(crate) fn be24(d: &[u8], i: usize) -> Option<u32> {
    let b = d.get(i..i + 3)?;
    Some(u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]))
}

/// Store text from the wire: as is when it is UTF-8, otherwise with each
/// invalid sequence replaced by U+FFFD (what tshark's raw bytes read as).
pub(crate) fn add_text(cx: &mut Ctx<'_>, f: FieldId, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => cx.add(f, Value::Str(s)),
        Err(_) => cx.add_str_with(f, |o| {
            for chunk in b.utf8_chunks() {
                o.extend_from_slice(chunk.valid().as_bytes());
                if !chunk.invalid().is_empty() {
                    o.extend_from_slice("\u{fffd}".as_bytes());
                }
            }
        }),
    }
}

#[cfg(test)]
mod tests;
