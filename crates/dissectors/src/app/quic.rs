//! QUIC v1 (RFC 9000) and v2 (RFC 9369) packet headers over UDP, and the
//! decryption of Initial packets (RFC 9001 §5) to reach the ClientHello and
//! ServerHello in their CRYPTO frames.
//!
//! Found like tshark finds it: a heuristic on every UDP port for a long
//! header with a known version, then (with the stateful pass) every later
//! datagram of a UDP conversation where one was seen. UDP port 443 is bound
//! too: without the pass its short headers are QUIC; with it, a port-443
//! datagram of a conversation without a long header is declined (tshark
//! shows it as UDP). Every packet coalesced in the datagram is decoded
//! while its DCID is the first packet's (tshark's check; after that,
//! padding).
//!
//! Initial keys come from the client's original Destination Connection ID:
//! HKDF-Extract with the version's salt, HKDF-Expand-Label `client in` /
//! `server in`, then `quic key`/`quic iv`/`quic hp` (`quicv2 …` for v2);
//! header protection is AES-128-ECB over a 16-byte sample; the payload is
//! AEAD_AES_128_GCM.
//!
//! With the stateful pass (the default; [`super::quic_state`]), the
//! connection is tracked as tshark tracks it: the state says which keys a
//! datagram's Initials use (the server's too), which handshake messages of
//! the reassembled CRYPTO stream the datagram completes (they go to the TLS
//! handshake decoder: `tls.handshake.*`, JA3/JA3S, JA4 with its `q`
//! prefix), and how long a short header's DCID is. Without it
//! (`--no-desegment`, or the engine used alone), each datagram is decoded
//! by itself: client Initials with the keys of their own DCID, the CRYPTO
//! frames of the datagram's Initials placed at their offsets and the
//! contiguous stream from 0 decoded (`quic.crypto-continues` when it has a
//! gap), no short-header DCID.

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
use pcapx_core::{
    AnomalyId, Ctx, Dissector, Outcome, Port, ProtoId, Registrar, RegistryError, Value,
};

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

pub(crate) fn salt(version: u32) -> Option<&'static [u8; 20]> {
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
    initial_keys(version, dcid, false)
}

/// Initial keys of the client (`server` false) or the server for the
/// client's original `dcid` (RFC 9001 §5.2, RFC 9369 §3.3.1).
pub(crate) fn initial_keys(version: u32, dcid: &[u8], server: bool) -> Option<Keys> {
    let salt = salt(version)?;
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let mut secret = [0u8; 32];
    let label: &[u8] = if server { b"server in" } else { b"client in" };
    if !expand_label(&initial, label, &mut secret) {
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

/// Remove the header protection of the Initial packet `p` (its long header
/// has the packet number at `pn_offset`; the packet ends at `p.len()`) and
/// decrypt its payload with `keys`, appended to `out`. Returns the packet
/// number and whether the payload decrypted (`out` is unchanged when it did
/// not), or `None` when the packet is too short for header protection.
pub(crate) fn decrypt_initial(
    p: &[u8],
    pn_offset: usize,
    keys: &Keys,
    out: &mut Vec<u8>,
    limit: usize,
) -> Option<(u64, bool)> {
    let first = *p.first()?;
    let sample: [u8; 16] = p.get(pn_offset + 4..pn_offset + 20)?.try_into().ok()?;
    let mask = hp_mask(&keys.hp, &sample);
    let first = first ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 3) + 1;
    let header_end = pn_offset + pn_len;
    let ct = p.get(header_end..)?;
    // The unprotected header is the AEAD's associated data.
    let mut aad = [0u8; 1536];
    let aad = aad.get_mut(..header_end)?;
    aad.copy_from_slice(&p[..header_end]);
    aad[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        aad[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(aad[pn_offset + i]);
    }
    let mut nonce = keys.iv;
    for (i, byte) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= byte;
    }
    if ct.len() < 16 {
        return Some((pn, false));
    }
    let (body, tag) = ct.split_at(ct.len() - 16);
    let start = out.len();
    if start + body.len() > limit {
        return Some((pn, false));
    }
    out.extend_from_slice(body);
    let cipher = Aes128Gcm::new((&keys.key).into());
    let ok = cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&nonce),
            aad,
            &mut out[start..],
            Tag::from_slice(tag),
        )
        .is_ok();
    if !ok {
        out.truncate(start);
    }
    Some((pn, ok))
}

/// The DCID tshark compares when it checks a coalesced packet
/// (`check_dcid_on_coalesced_packet`): a long header's own; a short
/// header's first `short_len` bytes, the connection's CID length. `None`
/// when that length is unknown (no connection): any short header passes.
pub(crate) fn coalesced_dcid(p: &[u8], short_len: Option<usize>) -> Option<&[u8]> {
    let first = *p.first()?;
    if first & 0x80 != 0 {
        let n = usize::from(*p.get(5)?);
        if n == 0 || n > 20 {
            return Some(&[]);
        }
        return Some(p.get(6..6 + n).unwrap_or(&p[p.len().min(6)..]));
    }
    let n = short_len?;
    Some(p.get(1..1 + n).unwrap_or(&p[p.len().min(1)..]))
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
pub(crate) fn varint(b: &[u8], off: usize) -> Option<(u64, usize)> {
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
        dcid = ("quic.dcid", "Destination Connection ID", Bytes, "Short headers: only when the connection (and so its CID length) is known"),
        scil = ("quic.scil", "Source Connection ID Length", U8, ""),
        scid = ("quic.scid", "Source Connection ID", Bytes, ""),
        token_length = ("quic.token_length", "Token Length", U64, ""),
        length = ("quic.length", "Length", U64, "Length field of a long header (packet number and payload)"),
        packet_number = ("quic.packet_number", "Packet Number", U64, "Of Initial packets (header protection removed)"),
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
    proto: Option<ProtoId>,
    tls: Arc<OnceLock<TlsIds>>,
}

impl Quic {
    pub(crate) fn new(tls: Arc<OnceLock<TlsIds>>) -> Quic {
        Quic {
            ids: None,
            proto: None,
            tls,
        }
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

/// A parsed long header (shared by the dissector and the connection state).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Long<'a> {
    pub version: u32,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// The packet type in v1 numbering (0 Initial, 1 0-RTT, 2 Handshake,
    /// 3 Retry); Version Negotiation has version 0.
    pub ty: u8,
    pub token_len: Option<u64>,
    pub len: Option<u64>,
    /// Where the packet number starts, and where the packet ends (the
    /// datagram's end for Version Negotiation and Retry; may exceed the
    /// captured bytes).
    pub pn_offset: usize,
    pub end: usize,
}

impl Long<'_> {
    /// Version Negotiation and Retry fill the datagram.
    pub fn fills_datagram(&self) -> bool {
        self.version == 0 || self.ty == 3
    }
}

/// Parse the long header at the start of `p` (`p[0] & 0x80` set). `None`
/// when cut short; the fields parsed so far are lost then, which the
/// dissector reports itself.
pub(crate) fn parse_long(p: &[u8]) -> Option<Long<'_>> {
    let first = *p.first()?;
    let v = p.get(1..5)?;
    let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    let raw_ty = (first >> 4) & 3;
    // v2 renumbers the types (RFC 9369 §3.2).
    let ty = if version == V2 {
        (raw_ty + 3) & 3
    } else {
        raw_ty
    };
    let dcil = usize::from(*p.get(5)?);
    let dcid = p.get(6..6 + dcil)?;
    let scil = usize::from(*p.get(6 + dcil)?);
    let scid = p.get(7 + dcil..7 + dcil + scil)?;
    let mut off = 7 + dcil + scil;
    let mut h = Long {
        version,
        dcid,
        scid,
        ty,
        token_len: None,
        len: None,
        pn_offset: off,
        end: p.len(),
    };
    if h.fills_datagram() {
        return Some(h);
    }
    if ty == 0 {
        let (tlen, n) = varint(p, off)?;
        h.token_len = Some(tlen);
        off = off
            .saturating_add(n)
            .saturating_add(usize::try_from(tlen).unwrap_or(usize::MAX));
    }
    let (len, n) = varint(p, off)?;
    h.len = Some(len);
    h.pn_offset = off + n;
    h.end = h
        .pn_offset
        .saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
    Some(h)
}

/// Walk decrypted frames, calling `f(offset, data)` for each CRYPTO frame;
/// stops at the first frame type an Initial packet may not carry.
pub(crate) fn crypto_frames(plain: &[u8], mut f: impl FnMut(u64, &[u8])) {
    let end = plain.len();
    let mut off = 0;
    while off < end {
        let Some((ty, n)) = varint(plain, off) else {
            return;
        };
        off += n;
        match ty {
            0x00 | 0x01 => {}
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, (ECN).
                let mut vals = [0u64; 4];
                for v in &mut vals {
                    let Some((x, n)) = varint(plain, off) else {
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
                    let Some((_, n)) = varint(plain, off) else {
                        return;
                    };
                    off += n;
                }
            }
            0x06 => {
                let Some((coff, n1)) = varint(plain, off) else {
                    return;
                };
                let Some((clen, n2)) = varint(plain, off + n1) else {
                    return;
                };
                let data = off + n1 + n2;
                let Ok(clen) = usize::try_from(clen) else {
                    return;
                };
                let Some(bytes) = plain.get(data..data.saturating_add(clen)) else {
                    return;
                };
                f(coff, bytes);
                off = data + clen;
            }
            _ => return,
        }
    }
}

/// What the connection state ([`super::quic_state`]) says about a datagram.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StateView<'a> {
    /// The connection's Initial keys: the client's original DCID, and
    /// whether the datagram comes from the server.
    pub keys: Option<(&'a [u8], bool)>,
    /// The length of a short header's DCID, when the connection is known.
    pub short_dcid: Option<usize>,
    /// The UDP conversation is bound to QUIC (a long header seen on it).
    pub quic_conversation: bool,
    /// Where the datagram's QUIC packets end (coalesced padding after).
    pub end: usize,
    /// The CRYPTO stream's handshake messages completed by this datagram.
    pub crypto: &'a [u8],
}

impl Quic {
    /// One long-header packet at the start of `p`; returns its length.
    fn long(
        &self,
        ids: &Ids,
        p: &[u8],
        st: Option<&StateView<'_>>,
        b: &mut Buffers,
        cx: &mut Ctx<'_>,
    ) -> usize {
        let first = p[0];
        cx.add(ids.f.header_form, Value::U64(1));
        cx.add(ids.f.fixed_bit, Value::U64(u64::from((first >> 6) & 1)));
        let Some(v) = p.get(1..5) else {
            cx.short();
            return p.len();
        };
        let version = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        let raw_ty = (first >> 4) & 3;
        if version != 0 {
            // tshark shows v2's numbering in its own field.
            if version == V2 {
                cx.add(ids.f.long_type_v2, Value::U64(u64::from(raw_ty)));
            } else {
                cx.add(ids.f.long_type, Value::U64(u64::from(raw_ty)));
            }
        }
        cx.add(ids.f.version, Value::U64(u64::from(version)));
        // The connection IDs first (shown even when the rest is cut).
        let cids = (|| {
            let dcil = usize::from(*p.get(5)?);
            let dcid = p.get(6..6 + dcil)?;
            let scil = usize::from(*p.get(6 + dcil)?);
            let scid = p.get(7 + dcil..7 + dcil + scil)?;
            Some((dcid, scid))
        })();
        let Some((dcid, scid)) = cids else {
            cx.short();
            return p.len();
        };
        cx.add(ids.f.dcil, Value::U64(dcid.len() as u64));
        if !dcid.is_empty() {
            cx.add(ids.f.dcid, Value::Bytes(dcid));
        }
        cx.add(ids.f.scil, Value::U64(scid.len() as u64));
        if !scid.is_empty() {
            cx.add(ids.f.scid, Value::Bytes(scid));
        }
        let h = parse_long(p);
        if let Some(h) = h.filter(|h| h.fills_datagram()) {
            cx.add(ids.f.packet_length, Value::U64(h.end as u64));
            return p.len();
        }
        if let Some(t) = h.and_then(|h| h.token_len).or_else(|| {
            // A token length whose token is cut: still shown.
            if (first >> 4) & 3 == if version == V2 { 1 } else { 0 } {
                varint(p, 7 + dcid.len() + scid.len()).map(|x| x.0)
            } else {
                None
            }
        }) {
            cx.add(ids.f.token_length, Value::U64(t));
        }
        let Some(h) = h else {
            cx.short();
            return p.len();
        };
        if let Some(len) = h.len {
            cx.add(ids.f.length, Value::U64(len));
        }
        cx.add(ids.f.packet_length, Value::U64(h.end.min(p.len()) as u64));
        if h.end > p.len() {
            cx.short();
            return p.len();
        }
        if h.ty == 0 {
            self.initial(ids, &p[..h.end], &h, st, b, cx);
        }
        h.end
    }

    /// Remove header protection and decrypt an Initial packet: with the
    /// connection's keys when the state knows it, else with the client keys
    /// of the packet's own DCID (and then collect its CRYPTO frames).
    fn initial(
        &self,
        ids: &Ids,
        p: &[u8],
        h: &Long<'_>,
        st: Option<&StateView<'_>>,
        b: &mut Buffers,
        cx: &mut Ctx<'_>,
    ) {
        let keys = match st.and_then(|s| s.keys) {
            Some((odcid, server)) => initial_keys(h.version, odcid, server),
            None => client_initial_keys(h.version, h.dcid),
        };
        let Some(keys) = keys else {
            return;
        };
        let start = b.plain.len();
        let Some((pn, ok)) = decrypt_initial(p, h.pn_offset, &keys, &mut b.plain, MAX_CRYPTO * 2)
        else {
            cx.anomaly(ids.decrypt_failed);
            return;
        };
        // With the connection's keys tshark shows the packet number once
        // header protection is removed, whether the payload decrypts or not.
        if ok || st.is_some_and(|s| s.keys.is_some()) {
            cx.add(ids.f.packet_number, Value::U64(pn));
        }
        if !ok {
            cx.anomaly(ids.decrypt_failed);
            return;
        }
        if st.is_some() {
            // The state assembled the CRYPTO stream.
            b.plain.truncate(start);
            return;
        }
        let Buffers { plain, frames, .. } = b;
        crypto_frames(&plain[start..], |coff, data| {
            let at = data.as_ptr() as usize - plain.as_ptr() as usize;
            if let Ok(coff) = usize::try_from(coff)
                && frames.len() < MAX_FRAMES
            {
                frames.push((coff, at, data.len()));
            }
        });
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
        let end = coff.saturating_add(len);
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
        self.proto = Some(r.protocol("quic", "QUIC IETF", "QUIC")?);
        // The TLS handshake its CRYPTO frames carry, certificates included.
        r.also_fills("tls");
        for p in crate::app::x509::PROTOCOLS {
            r.also_fills(p);
        }
        let ids = Ids {
            f: QuicFields::register(r)?,
            decrypt_failed: r.anomaly(
                "quic.decrypt-failed",
                "a QUIC Initial packet did not decrypt with its connection's Initial keys (or, without connection state, with the client keys of its DCID): damage, or a connection whose first Initial was not seen",
                false,
            )?,
            crypto_continues: r.anomaly(
                "quic.crypto-continues",
                "without connection state (--no-desegment): the CRYPTO stream of the datagram's Initial packets has a gap or continues in another datagram (not reassembled)",
                false,
            )?,
        };
        self.ids = Some(ids);
        r.heuristic(tables::UDP_PORT);
        r.bind(tables::UDP_PORT, Port(443));
        Ok(())
    }

    fn accepts(&self, data: &[u8], cx: &Ctx<'_>) -> bool {
        looks_like_quic(data)
            || (data.first().is_some_and(|&f| f & 0xc0 != 0)
                && matches!(cx.reassembled().datagram, Some((p, b))
                    if Some(p) == self.proto
                        && super::quic_state::view(b).is_some_and(|s| s.quic_conversation)))
    }

    fn datagram_state(&self) -> Option<Box<dyn pcapx_core::DatagramState>> {
        Some(Box::new(super::quic_state::QuicState::default()))
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
        let state = self
            .proto
            .and_then(|p| cx.take_datagram_state(p))
            .and_then(super::quic_state::view);
        if state.is_some_and(|s| !s.quic_conversation) {
            // Port 443 in a conversation with no long header seen: tshark
            // leaves it to UDP.
            return Outcome::not_mine();
        }
        BUFFERS.with(|cell| {
            let Ok(mut b) = cell.try_borrow_mut() else {
                return;
            };
            let b = &mut *b;
            b.plain.clear();
            b.frames.clear();
            let end = state.map_or(data.len(), |s| s.end.min(data.len()));
            let mut first_dcid: &[u8] = &[];
            let mut off = 0;
            while let Some(&first) = data[..end].get(off) {
                let p = &data[off..];
                if off == 0 {
                    first_dcid = coalesced_dcid(p, None).unwrap_or(&[]);
                } else if state.is_none()
                    && coalesced_dcid(p, None).is_some_and(|x| x != first_dcid)
                {
                    // Without state only long headers are checked.
                    break;
                }
                if first & 0x80 == 0 {
                    // Short header: the rest of the datagram.
                    cx.add(ids.f.header_form, Value::U64(0));
                    cx.add(ids.f.fixed_bit, Value::U64(u64::from((first >> 6) & 1)));
                    if let Some(dcid) = state
                        .and_then(|s| s.short_dcid)
                        .filter(|&n| n > 0)
                        .and_then(|n| p.get(1..1 + n))
                    {
                        cx.add(ids.f.dcid, Value::Bytes(dcid));
                    }
                    cx.add(ids.f.packet_length, Value::U64(p.len() as u64));
                    break;
                }
                if first & 0x40 == 0 && off > 0 {
                    // Padding after the last packet.
                    break;
                }
                off += self.long(&ids, p, state.as_ref(), b, cx).max(1);
            }
            let Some(tls_ids) = self.tls.get() else {
                return;
            };
            if let Some(s) = state {
                // The handshake messages this datagram completes.
                if !s.crypto.is_empty() {
                    tls::handshake(tls_ids, s.crypto, 0, true, cx);
                }
                return;
            }
            if b.frames.is_empty() {
                return;
            }
            let (n, beyond) = assemble(b);
            if beyond || n == 0 {
                cx.anomaly(ids.crypto_continues);
            }
            if n > 0 {
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
