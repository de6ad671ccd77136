//! TLS (SSL 3.0 – TLS 1.3) records and handshake messages over TCP.
//!
//! Found the way tshark finds it: a heuristic on every TCP port
//! ([`looks_like_record`]: content type 20–24, version 3.0–3.4, a record
//! length within 2^14 + 2048) — which also covers the well-known ports,
//! where tshark's port binding sees the same records. Records are TCP
//! desegmentation PDUs ([`record_len`]): a record spanning segments is
//! decoded at the segment that completes it. Every record handed over is
//! decoded; a handshake message split across records is decoded at the
//! record that completes it when those records are dissected together (one
//! segment, or the PDUs one segment completes); one still cut at the end
//! of them records `tls.record-continues`.
//! Certificates are walked by [`super::x509`].
//!
//! Handshake records that do not tile into well-formed messages of known
//! types are taken as encrypted (TLS 1.2's Finished after ChangeCipherSpec,
//! renegotiation) and only their record fields are shown, as tshark shows
//! "Encrypted Handshake Message".
//!
//! The handshake walker ([`handshake`]) is shared with QUIC, which feeds it
//! the CRYPTO stream of its Initial packets.

use std::sync::{Arc, OnceLock};

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{
    AnomalyId, Ctx, Dissector, Outcome, PduCx, PduLen, Registrar, RegistryError, Value,
};

use super::fingerprint::{self, Ext, Hello, Scratch, extensions, list8, list16, u16s};
use super::x509::{self, X509Cells, X509Ids};
use super::{add_text, be16, be24};

/// Largest record body TLS allows (2^14 plus the 2048 bytes of expansion
/// TLSCiphertext may add).
pub(crate) const MAX_RECORD: usize = 16384 + 2048;

pcapx_core::field_table! {
    /// Fields of `tls` (QUIC shows the ClientHello it decrypts with them).
    pub(crate) struct TlsFields {
        rec_type = ("tls.record.content_type", "Content Type", U8, "Record content type (20 ChangeCipherSpec, 21 Alert, 22 Handshake, 23 Application Data, 24 Heartbeat)"),
        rec_version = ("tls.record.version", "Version", U16, "Record layer version").hex(),
        rec_length = ("tls.record.length", "Length", U16, "Record body length"),
        hs_type = ("tls.handshake.type", "Handshake Message Type", U8, "1 ClientHello, 2 ServerHello, 11 Certificate, …"),
        hs_length = ("tls.handshake.length", "Length", U32, "Handshake message length"),
        hs_version = ("tls.handshake.version", "Version", U16, "ClientHello/ServerHello legacy_version").hex(),
        session_id_length = ("tls.handshake.session_id_length", "Session ID Length", U16, ""),
        ciphersuite = ("tls.handshake.ciphersuite", "Cipher Suite", U16, "Every offered suite (ClientHello, GREASE included) or the chosen one (ServerHello)").hex(),
        comp_method = ("tls.handshake.comp_method", "Compression Method", U8, ""),
        ext_type = ("tls.handshake.extension.type", "Type", U16, "Extension type, in order (GREASE included)"),
        ext_len = ("tls.handshake.extension.len", "Length", U16, "Extension length"),
        server_name = ("tls.handshake.extensions_server_name", "Server Name", Str, "SNI host name"),
        alpn = ("tls.handshake.extensions_alpn_str", "ALPN Next Protocol", Str, "ALPN protocol names (offered, or chosen by the server)"),
        supported_version = ("tls.handshake.extensions.supported_version", "Supported Version", U16, "supported_versions extension entries").hex(),
        supported_group = ("tls.handshake.extensions_supported_group", "Supported Group", U16, "supported_groups extension entries").hex(),
        sig_hash_alg = ("tls.handshake.sig_hash_alg", "Signature Algorithm", U16, "signature_algorithms(_cert) entries, CertificateRequest and ServerKeyExchange signature algorithms").hex(),
        ec_point_format = ("tls.handshake.extensions_ec_point_format", "EC point format", U8, ""),
        certificate_length = ("tls.handshake.certificate_length", "Certificate Length", U32, "Length of each certificate of a Certificate message"),
        ja3_full = ("tls.handshake.ja3_full", "JA3 Fullstring", Str, "JA3 string of a ClientHello (as tshark)"),
        ja3 = ("tls.handshake.ja3", "JA3", Str, "MD5 of the JA3 string"),
        ja3s_full = ("tls.handshake.ja3s_full", "JA3S Fullstring", Str, "JA3S string of a ServerHello (as tshark)"),
        ja3s = ("tls.handshake.ja3s", "JA3S", Str, "MD5 of the JA3S string"),
        ja4 = ("tls.handshake.ja4", "JA4", Str, "FoxIO JA4 of a ClientHello (t… over TCP, q… over QUIC)"),
        cert_subject = ("tls.handshake.certificate.subject", "Certificate Subject", Str, "pcapx: each certificate's subject name as tshark labels it (id-at-commonName=…,id-at-organizationName=…: last RDN first)"),
        cert_issuer = ("tls.handshake.certificate.issuer", "Certificate Issuer", Str, "pcapx: each certificate's issuer name as tshark labels it"),
    }
}

/// Field and anomaly ids of the `tls` protocol, shared with QUIC (which
/// shows the ClientHello it decrypts with the same fields, as tshark does).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TlsIds {
    pub f: TlsFields,
    pub continues: AnomalyId,
    /// The X.509 fields certificates are shown with.
    pub x509: X509Ids,
}

impl TlsIds {
    fn register(r: &mut Registrar<'_>, x509: X509Ids) -> Result<TlsIds, RegistryError> {
        Ok(TlsIds {
            f: TlsFields::register(r)?,
            continues: r.anomaly(
                "tls.record-continues",
                "a TLS record or handshake message continues past the end of the segment (not reassembled)",
                false,
            )?,
            x509,
        })
    }
}

/// Does `data` start with a TLS record header?
pub(crate) fn looks_like_record(data: &[u8]) -> bool {
    let (Some(&ct), Some(ver), Some(len)) = (data.first(), be16(data, 1), be16(data, 3)) else {
        return false;
    };
    (20..=24).contains(&ct) && (0x0300..=0x0304).contains(&ver) && usize::from(len) <= MAX_RECORD
}

/// TCP desegmentation: one record per PDU. A record header cut by the
/// segment end needs more bytes when what is there can start one.
pub(crate) fn record_len(data: &[u8]) -> PduLen {
    if data.len() >= 5 {
        return match be16(data, 3) {
            Some(n) if looks_like_record(data) => PduLen::Len(5 + usize::from(n)),
            _ => PduLen::NotMine,
        };
    }
    let ok = data.first().is_some_and(|ct| (20..=24).contains(ct))
        && data.get(1).is_none_or(|&v| v == 3)
        && data.get(2).is_none_or(|&v| v <= 4)
        && data
            .get(3)
            .is_none_or(|&h| usize::from(h) << 8 <= MAX_RECORD);
    if ok {
        PduLen::NeedMore
    } else {
        PduLen::NotMine
    }
}

/// The TLS dissector.
pub struct Tls {
    ids: Arc<OnceLock<TlsIds>>,
    x509: Arc<X509Cells>,
}

impl Tls {
    /// A TLS dissector whose field ids are published into `ids` at
    /// registration (QUIC reads them from there); the X.509 field ids come
    /// from `x509`, filled by the declaring dissectors registered before.
    pub(crate) fn new(ids: Arc<OnceLock<TlsIds>>, x509: Arc<X509Cells>) -> Tls {
        Tls { ids, x509 }
    }
}

/// Handshake bytes carried from one record to the next in a segment.
const MAX_CARRY: usize = 64 * 1024;

thread_local! {
    /// The start of a handshake message continued in the next record (a
    /// message split across records), reused per worker thread.
    static CARRY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Fingerprint scratch, reused per worker thread.
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Run `f` with this thread's fingerprint scratch.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut s = SCRATCH.take();
    let r = f(&mut s);
    SCRATCH.set(s);
    r
}

/// Known handshake message types (a record made of others is encrypted).
fn known_hs_type(t: u8) -> bool {
    matches!(
        t,
        0 | 1
            | 2
            | 3
            | 4
            | 5
            | 6
            | 8
            | 11
            | 12
            | 13
            | 14
            | 15
            | 16
            | 20
            | 21
            | 22
            | 23
            | 24
            | 25
            | 254
    )
}

/// Do the bytes start with well-formed handshake messages of known types?
/// Every whole message must fit exactly; the last one may run past the end
/// (a message continued in the next record) only with a plausible length.
/// Encrypted handshake records (TLS 1.2's Finished) fail this.
fn plausible_handshake(b: &[u8]) -> bool {
    let mut off = 0;
    while let Some(&t) = b.get(off) {
        if !known_hs_type(t) {
            return false;
        }
        let Some(len) = be24(b, off + 1) else {
            return off > 0;
        };
        off += 4 + len as usize;
        if off > b.len() {
            return len <= 0x1_0000;
        }
    }
    off > 0
}

/// Decode the handshake messages in `b` (one record's body, or QUIC's CRYPTO
/// stream). `quic` selects JA4's `q` prefix. A message cut by the end
/// records `tls.record-continues`.
pub(crate) fn handshake(ids: &TlsIds, b: &[u8], record_version: u16, quic: bool, cx: &mut Ctx<'_>) {
    if handshake_messages(ids, b, record_version, quic, cx) < b.len() {
        cx.anomaly(ids.continues);
    }
}

/// [`handshake`] without the anomaly: returns the number of bytes of whole
/// messages decoded (a message cut by the end shows nothing here; tshark
/// shows it where it completes).
fn handshake_messages(
    ids: &TlsIds,
    b: &[u8],
    record_version: u16,
    quic: bool,
    cx: &mut Ctx<'_>,
) -> usize {
    let mut off = 0;
    while off < b.len() {
        let Some(&t) = b.get(off) else { break };
        let start = off + 4;
        let Some(body) = be24(b, off + 1).and_then(|len| b.get(start..start + len as usize)) else {
            return off;
        };
        cx.add(ids.f.hs_type, Value::U64(u64::from(t)));
        cx.add(ids.f.hs_length, Value::U64(body.len() as u64));
        let len = body.len();
        match t {
            1 => client_hello(ids, body, quic, cx),
            2 => server_hello(ids, body, cx),
            11 => certificate(ids, body, quic, cx),
            12 if record_version == 0x0303 => server_key_exchange(ids, body, cx),
            // TLS 1.2 CertificateVerify: its signature algorithm.
            15 if record_version == 0x0303 && !quic => {
                if let Some(alg) = be16(body, 0) {
                    cx.add(ids.f.sig_hash_alg, Value::U64(u64::from(alg)));
                }
            }
            // CertificateStatus (OCSP stapling): status type 1, then the
            // OCSP response.
            22 if body.first() == Some(&1) => {
                if let Some(resp) = be24(body, 1).and_then(|n| body.get(4..4 + n as usize)) {
                    x509::ocsp_response(
                        &ids.x509,
                        (ids.f.cert_subject, ids.f.cert_issuer),
                        ids.f.sig_hash_alg,
                        resp,
                        cx,
                    );
                }
            }
            13 => certificate_request(ids, body, record_version, quic, cx),
            _ => {}
        }
        off = start + len;
    }
    off
}

/// The parts of a ClientHello body (`None`: cut short).
fn parse_client_hello(b: &[u8]) -> Option<(Hello<'_>, usize, &[u8])> {
    let version = be16(b, 0)?;
    let sid_len = usize::from(*b.get(34)?);
    let mut off = 35 + sid_len;
    let cs_len = usize::from(be16(b, off)?);
    let ciphers = b.get(off + 2..off + 2 + cs_len)?;
    off += 2 + cs_len;
    let comp_len = usize::from(*b.get(off)?);
    let comps = b.get(off + 1..off + 1 + comp_len)?;
    off += 1 + comp_len;
    let extensions = match be16(b, off) {
        Some(n) => b.get(off + 2..off + 2 + usize::from(n))?,
        None => &[],
    };
    Some((
        Hello {
            version,
            ciphers,
            extensions,
        },
        sid_len,
        comps,
    ))
}

fn client_hello(ids: &TlsIds, body: &[u8], quic: bool, cx: &mut Ctx<'_>) {
    if let Some(v) = be16(body, 0) {
        cx.add(ids.f.hs_version, Value::U64(u64::from(v)));
    }
    let Some((h, sid_len, comps)) = parse_client_hello(body) else {
        cx.malformed();
        return;
    };
    cx.add(ids.f.session_id_length, Value::U64(sid_len as u64));
    for c in u16s(h.ciphers) {
        cx.add(ids.f.ciphersuite, Value::U64(u64::from(c)));
    }
    for &m in comps {
        cx.add(ids.f.comp_method, Value::U64(u64::from(m)));
    }
    for e in extensions(h.extensions) {
        ext(ids, e, true, cx);
    }
    fingerprints_client(ids, &h, quic, cx);
}

/// `ja3_full`, `ja3` and `ja4` of a ClientHello.
pub(crate) fn fingerprints_client(ids: &TlsIds, h: &Hello<'_>, quic: bool, cx: &mut Ctx<'_>) {
    let (w_full, w_ja3, w_ja4) = (
        cx.wants(ids.f.ja3_full),
        cx.wants(ids.f.ja3),
        cx.wants(ids.f.ja4),
    );
    if !(w_full || w_ja3 || w_ja4) {
        return;
    }
    with_scratch(|s| {
        if w_full || w_ja3 {
            let mut text = std::mem::take(&mut s.text);
            text.clear();
            fingerprint::ja3_full(h, &mut text);
            cx.add(ids.f.ja3_full, Value::Str(&text));
            cx.add_str_with(ids.f.ja3, |o| fingerprint::md5_hex(&text, o));
            s.text = text;
        }
        if w_ja4 {
            cx.add_str_with(ids.f.ja4, |o| {
                fingerprint::ja4(h, if quic { b'q' } else { b't' }, s, o);
            });
        }
    });
}

fn server_hello(ids: &TlsIds, body: &[u8], cx: &mut Ctx<'_>) {
    let Some(version) = be16(body, 0) else {
        cx.malformed();
        return;
    };
    cx.add(ids.f.hs_version, Value::U64(u64::from(version)));
    let parsed = (|| {
        let sid_len = usize::from(*body.get(34)?);
        let off = 35 + sid_len;
        let cipher = body.get(off..off + 2)?;
        let comp = *body.get(off + 2)?;
        let extensions = match be16(body, off + 3) {
            Some(n) => body.get(off + 5..off + 5 + usize::from(n))?,
            None => &[],
        };
        Some((sid_len, cipher, comp, extensions))
    })();
    let Some((sid_len, cipher, comp, exts)) = parsed else {
        cx.malformed();
        return;
    };
    cx.add(ids.f.session_id_length, Value::U64(sid_len as u64));
    let h = Hello {
        version,
        ciphers: cipher,
        extensions: exts,
    };
    for c in u16s(cipher) {
        cx.add(ids.f.ciphersuite, Value::U64(u64::from(c)));
    }
    cx.add(ids.f.comp_method, Value::U64(u64::from(comp)));
    for e in extensions(exts) {
        ext(ids, e, false, cx);
    }
    if cx.wants(ids.f.ja3s_full) || cx.wants(ids.f.ja3s) {
        with_scratch(|s| {
            let mut text = std::mem::take(&mut s.text);
            text.clear();
            fingerprint::ja3s_full(&h, &mut text);
            cx.add(ids.f.ja3s_full, Value::Str(&text));
            cx.add_str_with(ids.f.ja3s, |o| fingerprint::md5_hex(&text, o));
            s.text = text;
        });
    }
}

/// One extension's fields. `client`: in a ClientHello (supported_versions
/// is a list there, one value in a ServerHello).
fn ext(ids: &TlsIds, e: Ext<'_>, client: bool, cx: &mut Ctx<'_>) {
    cx.add(ids.f.ext_type, Value::U64(u64::from(e.ty)));
    cx.add(ids.f.ext_len, Value::U64(e.data.len() as u64));
    match e.ty {
        0 => {
            let mut l = list16(e.data);
            while let (Some(&kind), Some(n)) = (l.first(), be16(l, 1)) {
                let Some(name) = l.get(3..3 + usize::from(n)) else {
                    break;
                };
                if kind == 0 {
                    add_text(cx, ids.f.server_name, name);
                }
                l = l.get(3 + usize::from(n)..).unwrap_or(&[]);
            }
        }
        16 => {
            let mut l = list16(e.data);
            while let Some((&n, rest)) = l.split_first() {
                let Some(p) = rest.get(..usize::from(n)) else {
                    break;
                };
                add_text(cx, ids.f.alpn, p);
                l = rest.get(usize::from(n)..).unwrap_or(&[]);
            }
        }
        43 if client => {
            for v in u16s(list8(e.data)) {
                cx.add(ids.f.supported_version, Value::U64(u64::from(v)));
            }
        }
        43 => {
            if let Some(v) = be16(e.data, 0) {
                cx.add(ids.f.supported_version, Value::U64(u64::from(v)));
            }
        }
        10 => {
            for g in u16s(list16(e.data)) {
                cx.add(ids.f.supported_group, Value::U64(u64::from(g)));
            }
        }
        // signature_algorithms, signature_algorithms_cert, delegated_credentials
        13 | 34 | 50 => {
            for a in u16s(list16(e.data)) {
                cx.add(ids.f.sig_hash_alg, Value::U64(u64::from(a)));
            }
        }
        // signed_certificate_timestamp from the server: the SCTs'
        // signature algorithms.
        18 if !client => x509::sct_list(ids.f.sig_hash_alg, e.data, cx),
        11 => {
            for &p in list8(e.data) {
                cx.add(ids.f.ec_point_format, Value::U64(u64::from(p)));
            }
        }
        _ => {}
    }
}

fn certificate(ids: &TlsIds, body: &[u8], tls13: bool, cx: &mut Ctx<'_>) {
    // TLS 1.3 (and QUIC) prefix a request context.
    let mut off = if tls13 {
        1 + usize::from(body.first().copied().unwrap_or(0))
    } else {
        0
    };
    let Some(total) = be24(body, off) else { return };
    off += 3;
    let end = (off + total as usize).min(body.len());
    while off + 3 <= end {
        let Some(n) = be24(body, off) else { break };
        cx.add(ids.f.certificate_length, Value::U64(u64::from(n)));
        if let Some(der) = body.get(off + 3..off + 3 + n as usize) {
            x509::certificate(
                &ids.x509,
                (ids.f.cert_subject, ids.f.cert_issuer),
                ids.f.sig_hash_alg,
                der,
                cx,
            );
        }
        off += 3 + n as usize;
        if tls13 {
            off += 2 + usize::from(be16(body, off).unwrap_or(0));
        }
    }
}

/// TLS 1.2 ServerKeyExchange: the signature algorithm after ECDHE
/// (named curve) or DHE parameters, when the message is exactly that shape.
fn server_key_exchange(ids: &TlsIds, b: &[u8], cx: &mut Ctx<'_>) {
    let fits = |params_end: usize| -> Option<u16> {
        let alg = be16(b, params_end)?;
        let sig_len = usize::from(be16(b, params_end + 2)?);
        (params_end + 4 + sig_len == b.len()).then_some(alg)
    };
    let ecdhe = (b.first() == Some(&3))
        .then(|| b.get(3).map(|&n| 4 + usize::from(n)))
        .flatten()
        .and_then(fits);
    let dhe = || {
        let mut off = 0usize;
        for _ in 0..3 {
            off += 2 + usize::from(be16(b, off)?);
        }
        fits(off)
    };
    if let Some(alg) = ecdhe.or_else(dhe) {
        cx.add(ids.f.sig_hash_alg, Value::U64(u64::from(alg)));
    }
}

fn certificate_request(ids: &TlsIds, b: &[u8], version: u16, tls13: bool, cx: &mut Ctx<'_>) {
    if tls13 {
        // context, then extensions (signature_algorithms inside).
        let off = 1 + usize::from(b.first().copied().unwrap_or(0));
        let exts = b.get(off..).map(list16).unwrap_or(&[]);
        for e in extensions(exts) {
            ext(ids, e, false, cx);
        }
        return;
    }
    if version != 0x0303 {
        return;
    }
    let types = usize::from(b.first().copied().unwrap_or(0));
    let algs = b.get(1 + types..).map(list16).unwrap_or(&[]);
    for a in u16s(algs) {
        cx.add(ids.f.sig_hash_alg, Value::U64(u64::from(a)));
    }
}

impl Dissector for Tls {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("tls", "Transport Layer Security", "TLS")?;
        for p in crate::app::x509::PROTOCOLS {
            r.also_fills(p);
        }
        let ids = TlsIds::register(r, self.x509.ids())?;
        let _ = self.ids.set(ids);
        r.heuristic(tables::TCP_PORT);
        Ok(())
    }

    /// A segment whose first record continues past it is left to `data`,
    /// as tshark leaves a segment of a PDU it reassembles.
    fn accepts(&self, data: &[u8], _cx: &Ctx<'_>) -> bool {
        looks_like_record(data) && be16(data, 3).is_some_and(|n| data.len() >= 5 + usize::from(n))
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = self.ids.get() else {
            return Outcome::end(0);
        };
        let mut off = 0;
        while off < data.len() {
            let rest = &data[off..];
            if !looks_like_record(rest) {
                if rest.len() < 5 && off > 0 {
                    // A record header cut by the segment end.
                    cx.anomaly(ids.continues);
                    off = data.len();
                }
                break;
            }
            let (ct, ver, len) = (
                rest[0],
                be16(rest, 1).unwrap_or(0),
                usize::from(be16(rest, 3).unwrap_or(0)),
            );
            let Some(body) = rest.get(5..5 + len) else {
                // The record continues past the segment: tshark shows it
                // where it completes, so nothing of it here.
                if cx.meta().caplen < cx.meta().wirelen {
                    cx.short();
                } else {
                    cx.anomaly(ids.continues);
                }
                off = data.len();
                break;
            };
            cx.add(ids.f.rec_type, Value::U64(u64::from(ct)));
            cx.add(ids.f.rec_version, Value::U64(u64::from(ver)));
            cx.add(ids.f.rec_length, Value::U64(len as u64));
            if ct == 22 {
                CARRY.with(|c| {
                    let Ok(mut carry) = c.try_borrow_mut() else {
                        return;
                    };
                    let carry = &mut *carry;
                    if !carry.is_empty() {
                        // A message continued from the previous handshake
                        // record: decoded at the record that completes it,
                        // as tshark reassembles handshake fragments.
                        carry.extend_from_slice(body);
                        if plausible_handshake(carry) {
                            let n = handshake_messages(ids, carry, ver, false, cx);
                            carry.drain(..n);
                        } else {
                            carry.clear();
                        }
                    } else if plausible_handshake(body) {
                        let n = handshake_messages(ids, body, ver, false, cx);
                        if n < body.len() && body.len() - n <= MAX_CARRY {
                            carry.extend_from_slice(&body[n..]);
                        }
                    }
                    if carry.len() > MAX_CARRY {
                        carry.clear();
                    }
                });
            } else {
                CARRY.with(|c| c.borrow_mut().clear());
            }
            off += 5 + len;
        }
        // A message still cut at the end of the records here: not
        // reassembled across segments.
        let cut = CARRY.with(|c| {
            let mut c = c.borrow_mut();
            let cut = !c.is_empty();
            c.clear();
            cut
        });
        if cut {
            cx.anomaly(ids.continues);
        }
        Outcome::end(off)
    }

    /// Records spanning segments decode at the segment that completes
    /// them, as tshark's TLS desegmentation shows them.
    fn pdu_len(&self, data: &[u8], _cx: &PduCx) -> PduLen {
        record_len(data)
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let start = usize::try_from(rec.offset).unwrap_or(usize::MAX);
        let Some(data) = view.bytes(layer).get(start..) else {
            return false;
        };
        summary_line(data, out);
        true
    }
}

fn hs_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        _ => return None,
    })
}

/// `TLS ClientHello SNI=example.com`, `TLS ServerHello, Certificate`,
/// `TLS ApplicationData`: the records' messages, repeats collapsed.
fn summary_line(data: &[u8], out: &mut String) {
    out.push_str("TLS");
    let mut last: Option<&str> = None;
    let mut sep = " ";
    let mut push = |out: &mut String, name: &'static str| {
        if last != Some(name) {
            out.push_str(sep);
            out.push_str(name);
            sep = ", ";
            last = Some(name);
        }
    };
    let mut off = 0;
    while let Some(rest) = data.get(off..).filter(|r| looks_like_record(r)) {
        let len = usize::from(be16(rest, 3).unwrap_or(0));
        let Some(body) = rest.get(5..5 + len) else {
            if off == 0 {
                push(out, "Fragment");
            }
            break;
        };
        match rest[0] {
            20 => push(out, "ChangeCipherSpec"),
            21 => push(out, "Alert"),
            23 => push(out, "ApplicationData"),
            24 => push(out, "Heartbeat"),
            _ if !plausible_handshake(body) => push(out, "EncryptedHandshake"),
            _ => {
                let mut m = 0;
                while let (Some(&t), Some(l)) = (body.get(m), be24(body, m + 1)) {
                    if m + 4 + l as usize > body.len() {
                        break;
                    }
                    push(out, hs_name(t).unwrap_or("Handshake"));
                    if t == 1 {
                        write_sni(body.get(m + 4..m + 4 + l as usize).unwrap_or(&[]), out);
                    }
                    m += 4 + l as usize;
                }
            }
        }
        off += 5 + len;
    }
}

/// ` SNI=name` of a ClientHello body, when it has one.
pub(crate) fn write_sni(body: &[u8], out: &mut String) {
    let Some((h, _, _)) = parse_client_hello(body) else {
        return;
    };
    let sni = extensions(h.extensions).find(|e| e.ty == 0).and_then(|e| {
        let l = list16(e.data);
        let n = usize::from(be16(l, 1)?);
        l.get(3..3 + n)
    });
    if let Some(name) = sni {
        out.push_str(" SNI=");
        for &c in name {
            if (0x21..0x7f).contains(&c) {
                out.push(char::from(c));
            } else {
                out.push('?');
            }
        }
    }
}
