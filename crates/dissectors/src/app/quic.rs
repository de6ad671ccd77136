//! QUIC v1 (RFC 9000) and v2 (RFC 9369) packet headers over UDP, and the
//! decryption of client Initial packets (RFC 9001 §5) to reach the
//! ClientHello in their CRYPTO frames.
//!
//! Found like tshark finds it: a heuristic on every UDP port for a long
//! header with a known version; UDP port 443 is bound too, so that
//! short-header packets there (which only connection state could identify)
//! are shown as QUIC. Every packet coalesced in the datagram is decoded.
//!
//! Initial keys come from the Destination Connection ID of the packet
//! itself: HKDF-Extract with the version's salt, HKDF-Expand-Label
//! `client in`, then `quic key`/`quic iv`/`quic hp` (`quicv2 …` for v2);
//! header protection is AES-128-ECB over a 16-byte sample; the payload is
//! AEAD_AES_128_GCM. CRYPTO frames of every Initial packet in the datagram
//! are placed at their offsets; the contiguous stream from offset 0 goes to
//! the TLS handshake decoder (`tls.handshake.*` fields, JA3, JA4 with its
//! `q` prefix).
//!
//! Without per-connection state (not available to a per-packet dissector),
//! two things tshark shows are not shown here: the server's Initial packets
//! (their keys come from the client's original DCID, which they do not
//! carry) and a ClientHello whose CRYPTO frames span several datagrams
//! (`quic.crypto-continues`). The short header's DCID length is connection
//! state too, so `quic.dcid` is shown for long headers only.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{AnomalyId, Ctx, Dissector, Outcome, Port, Registrar, RegistryError, Value};

use super::be16;
use super::tls::{self, TlsIds};

const V1: u32 = 0x0000_0001;
const V2: u32 = 0x6b33_43cf;
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// Drafts 29–32 (the last drafts browsers shipped).
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

/// The CRYPTO stream assembled per datagram is bounded (a ClientHello is a
/// few KiB; a datagram holds at most 64 KiB).
const MAX_CRYPTO: usize = 64 * 1024;
/// CRYPTO frames remembered per datagram.
const MAX_FRAMES: usize = 64;

fn salt(version: u32) -> Option<&'static [u8; 20]> {
    match version {
        V1 => Some(&SALT_V1),
        V2 => Some(&SALT_V2),
        0xff00_001d..=0xff00_0020 => Some(&SALT_DRAFT29),
        _ => None,
    }
}

fn known_version(v: u32) -> bool {
    salt(v).is_some() || v == 0
}

/// The Initial packet protection keys of one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Keys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &[u8], out: &mut [u8]) -> bool {
    let mut info = [0u8; 64];
    let full = 6 + label.len();
    if full + 4 > info.len() {
        return false;
    }
    let len = u16::try_from(out.len()).unwrap_or(0).to_be_bytes();
    info[0] = len[0];
    info[1] = len[1];
    info[2] = u8::try_from(full).unwrap_or(0);
    info[3..9].copy_from_slice(b"tls13 ");
    info[9..9 + label.len()].copy_from_slice(label);
    info[9 + label.len()] = 0;
    hk.expand(&info[..full + 4], out).is_ok()
}

/// Client Initial keys for `dcid` (RFC 9001 §5.2, RFC 9369 §3.3.1).
pub(crate) fn client_initial_keys(version: u32, dcid: &[u8]) -> Option<Keys> {
    let salt = salt(version)?;
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut secret = [0u8; 32];
    if !expand_label(&initial, b"client in", &mut secret) {
        return None;
    }
    let hk = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let (lk, li, lh): (&[u8], &[u8], &[u8]) = if version == V2 {
        (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
    } else {
        (b"quic key", b"quic iv", b"quic hp")
    };
    let mut k = Keys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    let ok = expand_label(&hk, lk, &mut k.key)
        && expand_label(&hk, li, &mut k.iv)
        && expand_label(&hk, lh, &mut k.hp);
    ok.then_some(k)
}

/// The header-protection mask: AES-128-ECB of the sample, first 5 bytes.
pub(crate) fn hp_mask(hp: &[u8; 16], sample: &[u8; 16]) -> [u8; 5] {
    let c = Aes128::new(hp.into());
    let mut block = aes::Block::from(*sample);
    c.encrypt_block(&mut block);
    let mut m = [0u8; 5];
    m.copy_from_slice(&block[..5]);
    m
}

/// A QUIC variable-length integer at `off`: (value, bytes).
fn varint(b: &[u8], off: usize) -> Option<(u64, usize)> {
    let first = *b.get(off)?;
    let n = 1usize << (first >> 6);
    let bytes = b.get(off..off + n)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    Some((v, n))
}

pcapx_core::field_table! {
    /// Fields of `quic`.
    struct QuicFields {
        header_form = ("quic.header_form", "Header Form", U8, "1 long header, 0 short header"),
        fixed_bit = ("quic.fixed_bit", "Fixed Bit", U8, ""),
        long_type = ("quic.long.packet_type", "Packet Type", U8, "Long header type (v1: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry)"),
        long_type_v2 = ("quic.long.packet_type_v2", "Packet Type", U8, "Long header type of QUIC v2 (1 Initial, 2 0-RTT, 3 Handshake, 0 Retry)"),
        version = ("quic.version", "Version", U32, "").hex(),
        dcil = ("quic.dcil", "Destination Connection ID Length", U8, ""),
        dcid = ("quic.dcid", "Destination Connection ID", Bytes, "Long headers only (a short header's DCID length is connection state)"),
        scil = ("quic.scil", "Source Connection ID Length", U8, ""),
        scid = ("quic.scid", "Source Connection ID", Bytes, ""),
        token_length = ("quic.token_length", "Token Length", U64, ""),
        length = ("quic.length", "Length", U64, "Length field of a long header (packet number and payload)"),
        packet_number = ("quic.packet_number", "Packet Number", U64, "Of decrypted client Initial packets"),
        packet_length = ("quic.packet_length", "Packet Length", U32, "Length of each QUIC packet in the datagram"),
    }
}

/// Field and anomaly ids of `quic`.
#[derive(Clone, Copy, Debug)]
struct Ids {
    f: QuicFields,
    decrypt_failed: AnomalyId,
    crypto_continues: AnomalyId,
}

/// Per-thread buffers: the decrypted payloads of the datagram's Initial
/// packets, and the CRYPTO stream assembled from them.
#[derive(Default)]
struct Buffers {
    plain: Vec<u8>,
    crypto: Vec<u8>,
    /// (stream offset, start in `plain`, length) of each CRYPTO frame.
    frames: Vec<(usize, usize, usize)>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// The QUIC dissector.
pub struct Quic {
    ids: Option<Ids>,
    tls: Arc<OnceLock<TlsIds>>,
}

impl Quic {
    pub(crate) fn new(tls: Arc<OnceLock<TlsIds>>) -> Quic {
        Quic { ids: None, tls }
    }
}

/// Does the datagram start with a long header of a known version?
pub(crate) fn looks_like_quic(d: &[u8]) -> bool {
    let (Some(&first), Some(v)) = (d.first(), d.get(1..5)) else {
        return false;
    };
    let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    first & 0x80 != 0
        && (first & 0x40 != 0 || version == 0)
        && known_version(version)
        && d.get(5).is_some_and(|&l| l <= 20)
}

/// A parsed long header.
struct Long<'a> {
    first: u8,
    version: u32,
    dcid: &'a [u8],
    /// Where the packet number starts, and where the packet ends.
    pn_offset: usize,
    end: usize,
    /// The packet type in v1 numbering (0 Initial, 1 0-RTT, 2 Handshake, 3 Retry).
    ty: u8,
}

impl Quic {
    /// One long-header packet at the start of `p`; returns its length.
    fn long(&self, ids: &Ids, p: &[u8], b: &mut Buffers, cx: &mut Ctx<'_>) -> usize {
        let first = p[0];
        cx.add(ids.f.header_form, Value::U64(1));
        cx.add(ids.f.fixed_bit, Value::U64(u64::from((first >> 6) & 1)));
        let Some(v) = p.get(1..5) else {
            cx.short();
            return p.len();
        };
        let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let raw_ty = (first >> 4) & 3;
        // v2 renumbers the types (RFC 9369 §3.2); tshark shows them in
        // their own field.
        let ty = if version == V2 {
            (raw_ty + 3) & 3
        } else {
            raw_ty
        };
        if version != 0 {
            if version == V2 {
                cx.add(ids.f.long_type_v2, Value::U64(u64::from(raw_ty)));
            } else {
                cx.add(ids.f.long_type, Value::U64(u64::from(raw_ty)));
            }
        }
        cx.add(ids.f.version, Value::U64(u64::from(version)));
        let parsed = (|| {
            let dcil = usize::from(*p.get(5)?);
            let dcid = p.get(6..6 + dcil)?;
            let scil = usize::from(*p.get(6 + dcil)?);
            let scid = p.get(7 + dcil..7 + dcil + scil)?;
            Some((dcil, dcid, scil, scid, 7 + dcil + scil))
        })();
        let Some((dcil, dcid, scil, scid, mut off)) = parsed else {
            cx.short();
            return p.len();
        };
        cx.add(ids.f.dcil, Value::U64(dcil as u64));
        if !dcid.is_empty() {
            cx.add(ids.f.dcid, Value::Bytes(dcid));
        }
        cx.add(ids.f.scil, Value::U64(scil as u64));
        if !scid.is_empty() {
            cx.add(ids.f.scid, Value::Bytes(scid));
        }
        if version == 0 || ty == 3 {
            // Version Negotiation and Retry fill the datagram.
            cx.add(ids.f.packet_length, Value::U64(p.len() as u64));
            return p.len();
        }
        if ty == 0 {
            let Some((tlen, n)) = varint(p, off) else {
                cx.short();
                return p.len();
            };
            cx.add(ids.f.token_length, Value::U64(tlen));
            off = off
                .saturating_add(n)
                .saturating_add(usize::try_from(tlen).unwrap_or(usize::MAX));
        }
        let Some((len, n)) = varint(p, off) else {
            cx.short();
            return p.len();
        };
        cx.add(ids.f.length, Value::U64(len));
        let pn_offset = off + n;
        let end = pn_offset.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        cx.add(ids.f.packet_length, Value::U64(end.min(p.len()) as u64));
        if end > p.len() {
            cx.short();
            return p.len();
        }
        if ty == 0 {
            let h = Long {
                first,
                version,
                dcid,
                pn_offset,
                end,
                ty,
            };
            self.initial(ids, &p[..end], &h, b, cx);
        }
        end
    }

    /// Remove header protection, decrypt, and collect the CRYPTO frames of
    /// a client Initial packet.
    fn initial(&self, ids: &Ids, p: &[u8], h: &Long<'_>, b: &mut Buffers, cx: &mut Ctx<'_>) {
        debug_assert_eq!(h.ty, 0);
        let Some(keys) = client_initial_keys(h.version, h.dcid) else {
            return;
        };
        let Some(sample) = p
            .get(h.pn_offset + 4..h.pn_offset + 20)
            .and_then(|s| <[u8; 16]>::try_from(s).ok())
        else {
            return;
        };
        let mask = hp_mask(&keys.hp, &sample);
        let first = h.first ^ (mask[0] & 0x0f);
        let pn_len = usize::from(first & 3) + 1;
        let header_end = h.pn_offset + pn_len;
        let Some(ct) = p.get(header_end..h.end) else {
            return;
        };
        if ct.len() < 16 {
            return;
        }
        // The unprotected header is the AEAD's associated data.
        let mut aad = [0u8; 1536];
        let Some(aad) = aad.get_mut(..header_end) else {
            return;
        };
        aad.copy_from_slice(&p[..header_end]);
        aad[0] = first;
        let mut pn = 0u64;
        for i in 0..pn_len {
            aad[h.pn_offset + i] ^= mask[1 + i];
            pn = (pn << 8) | u64::from(aad[h.pn_offset + i]);
        }
        let mut nonce = keys.iv;
        for (i, byte) in pn.to_be_bytes().iter().enumerate() {
            nonce[4 + i] ^= byte;
        }
        let (body, tag) = ct.split_at(ct.len() - 16);
        let start = b.plain.len();
        if start + body.len() > MAX_CRYPTO * 2 {
            return;
        }
        b.plain.extend_from_slice(body);
        let cipher = Aes128Gcm::new((&keys.key).into());
        let ok = cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                aad,
                &mut b.plain[start..],
                Tag::from_slice(tag),
            )
            .is_ok();
        if !ok {
            // Not a client Initial (a server's, or a corrupted one).
            b.plain.truncate(start);
            cx.anomaly(ids.decrypt_failed);
            return;
        }
        cx.add(ids.f.packet_number, Value::U64(pn));
        collect_crypto(b, start);
    }
}

/// Walk the decrypted frames at `plain[start..]`, remembering CRYPTO frames.
fn collect_crypto(b: &mut Buffers, start: usize) {
    let end = b.plain.len();
    let mut off = start;
    while off < end {
        let Some((ty, n)) = varint(&b.plain[..end], off) else {
            return;
        };
        off += n;
        match ty {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, (ECN).
                let mut vals = [0u64; 4];
                for v in &mut vals {
                    let Some((x, n)) = varint(&b.plain[..end], off) else {
                        return;
                    };
                    *v = x;
                    off += n;
                }
                let extra = usize::try_from(vals[2])
                    .unwrap_or(usize::MAX)
                    .saturating_mul(2)
                    + if ty == 0x03 { 3 } else { 0 };
                for _ in 0..extra.min(end) {
                    let Some((_, n)) = varint(&b.plain[..end], off) else {
                        return;
                    };
                    off += n;
                }
            }
            0x06 => {
                let Some((coff, n1)) = varint(&b.plain[..end], off) else {
                    return;
                };
                let Some((clen, n2)) = varint(&b.plain[..end], off + n1) else {
                    return;
                };
                let data = off + n1 + n2;
                let (Ok(coff), Ok(clen)) = (usize::try_from(coff), usize::try_from(clen)) else {
                    return;
                };
                if data + clen > end {
                    return;
                }
                if b.frames.len() < MAX_FRAMES {
                    b.frames.push((coff, data, clen));
                }
                off = data + clen;
            }
            _ => return,
        }
    }
}

/// Assemble the CRYPTO frames into `b.crypto`; returns the length of the
/// contiguous stream from offset 0, and whether bytes past it exist.
fn assemble(b: &mut Buffers) -> (usize, bool) {
    b.frames.sort_unstable_by_key(|f| f.0);
    b.crypto.clear();
    let mut contiguous = 0usize;
    let mut beyond = false;
    for &(coff, start, len) in &b.frames {
        if coff > contiguous {
            beyond = true;
            break;
        }
        let end = coff + len;
        if end > MAX_CRYPTO {
            beyond = true;
            break;
        }
        if end > contiguous {
            let skip = contiguous - coff;
            b.crypto
                .extend_from_slice(&b.plain[start + skip..start + len]);
            contiguous = end;
        }
    }
    (contiguous, beyond)
}

impl Dissector for Quic {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("quic", "QUIC IETF", "QUIC")?;
        let ids = Ids {
            f: QuicFields::register(r)?,
            decrypt_failed: r.anomaly(
                "quic.decrypt-failed",
                "a QUIC Initial packet did not decrypt with the client keys of its DCID (a server Initial, whose keys need the connection's state, or damage)",
                false,
            )?,
            crypto_continues: r.anomaly(
                "quic.crypto-continues",
                "the CRYPTO stream of the datagram's Initial packets has a gap or continues in another datagram (not reassembled)",
                false,
            )?,
        };
        self.ids = Some(ids);
        r.heuristic(tables::UDP_PORT);
        r.bind(tables::UDP_PORT, Port(443));
        Ok(())
    }

    fn accepts(&self, data: &[u8], _cx: &Ctx<'_>) -> bool {
        looks_like_quic(data)
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = self.ids else {
            return Outcome::end(0);
        };
        // Short headers (and anything else) on the bound port: only when the
        // fixed bit says QUIC.
        if data.first().is_none_or(|&f| f & 0xc0 == 0) {
            return Outcome::end(0);
        }
        BUFFERS.with(|cell| {
            let Ok(mut b) = cell.try_borrow_mut() else {
                return;
            };
            let b = &mut *b;
            b.plain.clear();
            b.frames.clear();
            let mut off = 0;
            while let Some(&first) = data.get(off) {
                let p = &data[off..];
                if first & 0x80 == 0 {
                    // Short header: the rest of the datagram.
                    cx.add(ids.f.header_form, Value::U64(0));
                    cx.add(ids.f.fixed_bit, Value::U64(u64::from((first >> 6) & 1)));
                    cx.add(ids.f.packet_length, Value::U64(p.len() as u64));
                    break;
                }
                if first & 0x40 == 0 && off > 0 {
                    // Padding after the last packet.
                    break;
                }
                off += self.long(&ids, p, b, cx).max(1);
            }
            if b.frames.is_empty() {
                return;
            }
            let (n, beyond) = assemble(b);
            if beyond || n == 0 {
                cx.anomaly(ids.crypto_continues);
            }
            if let (Some(tls_ids), true) = (self.tls.get(), n > 0) {
                let crypto = std::mem::take(&mut b.crypto);
                if be16(&crypto, 0).is_some() {
                    tls::handshake(tls_ids, &crypto[..n], 0, true, cx);
                }
                b.crypto = crypto;
            }
        });
        Outcome::end(data.len())
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let start = usize::try_from(rec.offset).unwrap_or(usize::MAX);
        let Some(&first) = view.data.get(start) else {
            return false;
        };
        out.push_str("QUIC ");
        if first & 0x80 == 0 {
            out.push_str("Short");
            return true;
        }
        let version = view
            .data
            .get(start + 1..start + 5)
            .map_or(0, |v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        let raw = (first >> 4) & 3;
        let ty = if version == V2 { (raw + 3) & 3 } else { raw };
        out.push_str(match (version, ty) {
            (0, _) => "VersionNegotiation",
            (_, 0) => "Initial",
            (_, 1) => "0-RTT",
            (_, 2) => "Handshake",
            _ => "Retry",
        });
        if let Some(Value::Str(sni)) = view.get(layer, "tls.handshake.extensions_server_name") {
            out.push_str(" SNI=");
            out.push_str(sni);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        crate::testutil::hex(s)
    }

    /// RFC 9001 Appendix A.1 and A.2: keys and header-protection mask.
    #[test]
    fn rfc9001_test_vectors() {
        let dcid = hex("8394c8f03e515708");
        let k = client_initial_keys(V1, &dcid).expect("keys");
        assert_eq!(k.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let sample: [u8; 16] = hex("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(hp_mask(&k.hp, &sample).to_vec(), hex("437b9aec36"));
    }

    /// RFC 9369 Appendix A.1: QUIC v2 client Initial keys.
    #[test]
    fn rfc9369_test_vectors() {
        let dcid = hex("8394c8f03e515708");
        let k = client_initial_keys(V2, &dcid).expect("keys");
        assert_eq!(k.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(k.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(k.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    #[test]
    fn varints() {
        assert_eq!(
            varint(&hex("c2197c5eff14e88c"), 0),
            Some((151_288_809_941_952_652, 8))
        );
        assert_eq!(varint(&hex("9d7f3e7d"), 0), Some((494_878_333, 4)));
        assert_eq!(varint(&hex("7bbd"), 0), Some((15_293, 2)));
        assert_eq!(varint(&hex("25"), 0), Some((37, 1)));
        assert_eq!(varint(&hex("7b"), 0), None);
    }
}
