//! QUIC connection state for the stateful pass: tshark's connection
//! tracking (`packet-quic.c`, single pass), so that
//!
//! - Initial packets of both sides decrypt with the keys of the client's
//!   *original* Destination Connection ID (the server's Initials and the
//!   client's later ones carry other CIDs);
//! - the CRYPTO stream of each side's Initial packets is reassembled by
//!   offset across packets and datagrams, and a handshake message (a
//!   post-quantum ClientHello spans two or more Initials) is decoded at the
//!   datagram that completes it;
//! - a short header's DCID is shown with the length of the connection's
//!   CID when the connection is known.
//!
//! Connections are found as tshark finds them: a client Initial by its
//! first DCID (`quic_initial_connections`); other long headers by their
//! DCID among the client's and the server's first source CIDs (only CIDs
//! of a length seen before are looked up); a long header with an empty
//! DCID, and a short header whose leading bytes start with the peer's CID,
//! by the UDP 5-tuple; a short header otherwise by every known CID length
//! from 19 down. A client Initial to an unknown DCID creates a connection;
//! the server's first Initial/Handshake/Retry packet sets the server CID; a
//! Retry resets the original DCID to the client's next Initial.
//!
//! Which datagrams are QUIC is tshark's choice too: a long header of a
//! known version binds its UDP conversation (5-tuple) to QUIC, and later
//! datagrams of the conversation are QUIC whatever their port; a short
//! header on port 443 in a conversation not bound is plain UDP (a capture
//! that starts mid-connection).
//!
//! Bounds: [`MAX_CONNECTIONS`] connections (the oldest is forgotten first,
//! counted); [`MAX_CRYPTO`] CRYPTO bytes held per direction past the
//! messages already delivered, in at most [`MAX_RANGES`] pieces (more, or a
//! message that cannot fit, gives the direction up: counted). Bytes are
//! released as soon as their messages are complete.
//!
//! The state writes, per datagram it claims, a small record for the
//! dissector ([`view`] reads it): flags, the original DCID, the short
//! header's DCID length, where its packets end, then the handshake
//! messages completed here.

use std::collections::{HashMap, VecDeque};

use pcapx_core::{DatagramCx, DatagramState};

use super::be24;
use super::quic::{
    StateView, coalesced_dcid, crypto_frames, decrypt_initial, initial_keys, looks_like_quic,
    parse_long,
};

/// Connections followed at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// CRYPTO bytes held per direction beyond the delivered messages.
pub const MAX_CRYPTO: usize = 32 * 1024;
/// Disjoint pieces of a direction's CRYPTO stream held at once.
pub const MAX_RANGES: usize = 64;

const CID_MAX: usize = 20;
/// flags, original DCID length, original DCID, short DCID length, where
/// the datagram's QUIC packets end (u32, big-endian).
const HEAD: usize = 3 + CID_MAX + 4;
const F_CONN: u8 = 1;
const F_SERVER: u8 = 2;
const F_SHORT: u8 = 4;
/// The datagram's UDP conversation carries QUIC (tshark's conversation
/// binding: a long header seen on it).
const F_CONV: u8 = 8;

/// A connection ID.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Cid {
    len: u8,
    b: [u8; CID_MAX],
}

impl Cid {
    fn new(s: &[u8]) -> Cid {
        let n = s.len().min(CID_MAX);
        let mut b = [0; CID_MAX];
        b[..n].copy_from_slice(&s[..n]);
        Cid {
            len: u8::try_from(n).unwrap_or(0),
            b,
        }
    }
    fn as_slice(&self) -> &[u8] {
        &self.b[..usize::from(self.len)]
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// tshark's `quic_cids_has_match`: `raw` starts with this CID (an empty
    /// CID matches anything).
    fn prefix_of(&self, raw: &[u8]) -> bool {
        raw.starts_with(self.as_slice())
    }
}

/// One direction's Initial CRYPTO stream.
#[derive(Debug, Default)]
struct CryptoDir {
    /// Stream bytes from `delivered` on (holes are zeros).
    buf: Vec<u8>,
    /// Held pieces, absolute offsets, sorted and disjoint, all past
    /// `delivered`.
    ranges: Vec<(u64, u64)>,
    /// Bytes of complete messages already handed out.
    delivered: u64,
    failed: bool,
}

impl CryptoDir {
    fn give_up(&mut self) {
        self.failed = true;
        self.buf = Vec::new();
        self.ranges = Vec::new();
    }

    /// Place one CRYPTO frame; `false` when the direction is given up now.
    fn add(&mut self, off: u64, data: &[u8]) -> bool {
        if self.failed {
            return true;
        }
        let end = off.saturating_add(data.len() as u64);
        if end <= self.delivered || data.is_empty() {
            // A retransmission of delivered bytes: tshark does not dissect
            // them again.
            return true;
        }
        let (off, data) = if off < self.delivered {
            let skip = usize::try_from(self.delivered - off).unwrap_or(usize::MAX);
            (self.delivered, data.get(skip..).unwrap_or(&[]))
        } else {
            (off, data)
        };
        let rel = usize::try_from(off - self.delivered).unwrap_or(usize::MAX);
        let rel_end = rel.saturating_add(data.len());
        if rel_end > MAX_CRYPTO {
            self.give_up();
            return false;
        }
        if self.buf.len() < rel_end {
            self.buf.resize(rel_end, 0);
        }
        self.buf[rel..rel_end].copy_from_slice(data);
        // Merge (off, end) into the sorted ranges.
        let (mut s, mut e) = (off, end);
        let mut i = 0;
        while i < self.ranges.len() {
            let (rs, re) = self.ranges[i];
            if re < s {
                i += 1;
            } else if rs > e {
                break;
            } else {
                s = s.min(rs);
                e = e.max(re);
                self.ranges.remove(i);
            }
        }
        self.ranges.insert(i, (s, e));
        if self.ranges.len() > MAX_RANGES {
            self.give_up();
            return false;
        }
        true
    }

    /// Append the handshake messages now complete and not yet delivered to
    /// `out`; `false` when the direction is given up now (a message longer
    /// than the bound).
    fn take_complete(&mut self, out: &mut Vec<u8>) -> bool {
        if self.failed {
            return true;
        }
        let Some(&(s, e)) = self.ranges.first() else {
            return true;
        };
        if s != self.delivered {
            return true;
        }
        let n = usize::try_from(e - s).unwrap_or(0);
        let mut pos = 0usize;
        while let Some(len) = be24(&self.buf[..n], pos + 1) {
            let next = pos + 4 + len as usize;
            if next > MAX_CRYPTO {
                self.give_up();
                return false;
            }
            if next > n {
                break;
            }
            pos = next;
        }
        if pos == 0 {
            return true;
        }
        out.extend_from_slice(&self.buf[..pos]);
        self.buf.drain(..pos);
        self.delivered += pos as u64;
        if self.ranges[0].1 == self.delivered {
            self.ranges.remove(0);
        } else {
            self.ranges[0].0 = self.delivered;
        }
        if self.ranges.is_empty() {
            self.buf = Vec::new();
        }
        true
    }
}

/// Addresses and ports of a UDP 5-tuple in canonical order.
type ConvKey = ([u8; 16], u16, [u8; 16], u16);

fn conv_key(cx: &DatagramCx) -> ConvKey {
    let a = (cx.src, cx.sport);
    let b = (cx.dst, cx.dport);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (lo.0, lo.1, hi.0, hi.1)
}

#[derive(Debug)]
struct Conn {
    server_addr: [u8; 16],
    server_port: u16,
    conv: ConvKey,
    /// The first client Initial's DCID: the Initial keys.
    client_dcid_initial: Cid,
    client_dcid_set: bool,
    /// The first source CIDs of each side.
    client_cid: Cid,
    server_cid: Cid,
    /// Client's and server's Initial CRYPTO streams.
    crypto: [CryptoDir; 2],
}

/// What the state gave up on.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct QuicStats {
    pub connections: u64,
    /// Connections forgotten to stay within [`MAX_CONNECTIONS`].
    pub evicted: u64,
    /// Directions whose CRYPTO stream exceeded the bounds.
    pub crypto_dropped: u64,
    /// Times the set of QUIC conversations was full and forgotten.
    pub bindings_forgotten: u64,
}

/// The QUIC connections of one file (see the module documentation).
#[derive(Debug, Default)]
pub struct QuicState {
    conns: HashMap<u64, Conn>,
    /// Connection ids in creation order.
    order: VecDeque<u64>,
    next: u64,
    initial: HashMap<Cid, u64>,
    client: HashMap<Cid, u64>,
    server: HashMap<Cid, u64>,
    conv: HashMap<ConvKey, u64>,
    /// UDP conversations bound to QUIC.
    bound: HashMap<ConvKey, ()>,
    /// Bit n: a CID of length n is known (tshark's `quic_cid_lengths`).
    lengths: u32,
    stats: QuicStats,
    plain: Vec<u8>,
}

/// Read what [`QuicState`] wrote for a datagram.
pub(crate) fn view(b: &[u8]) -> Option<StateView<'_>> {
    let head = b.get(..HEAD)?;
    let flags = head[0];
    let n = usize::from(head[1]).min(CID_MAX);
    Some(StateView {
        keys: (flags & F_CONN != 0).then(|| (&head[2..2 + n], flags & F_SERVER != 0)),
        short_dcid: (flags & F_SHORT != 0).then_some(usize::from(head[2 + CID_MAX])),
        quic_conversation: flags & F_CONV != 0,
        end: u32::from_be_bytes([
            head[HEAD - 4],
            head[HEAD - 3],
            head[HEAD - 2],
            head[HEAD - 1],
        ]) as usize,
        crypto: &b[HEAD..],
    })
}

impl QuicState {
    pub fn stats(&self) -> &QuicStats {
        &self.stats
    }

    fn known_len(&self, n: usize) -> bool {
        n < 32 && self.lengths & (1 << n) != 0
    }

    fn live(&self, id: Option<&u64>) -> Option<u64> {
        id.copied().filter(|i| self.conns.contains_key(i))
    }

    /// tshark's `quic_connection_find_dcid`: by DCID among the sides'
    /// CIDs, or (`None`/empty) by the 5-tuple; with the direction.
    fn find_dcid(&self, cx: &DatagramCx, dcid: Option<&[u8]>) -> Option<(u64, bool)> {
        let (id, mut from_server, check_ports) = match dcid.filter(|d| !d.is_empty()) {
            Some(d) => {
                if !self.known_len(d.len()) {
                    return None;
                }
                let c = Cid::new(d);
                if let Some(id) = self.live(self.client.get(&c)) {
                    (id, true, self.server.contains_key(&c))
                } else {
                    (self.live(self.server.get(&c))?, false, false)
                }
            }
            None => (self.live(self.conv.get(&conv_key(cx)))?, false, true),
        };
        if check_ports {
            let c = &self.conns[&id];
            from_server = c.server_port == cx.sport && c.server_addr == cx.src;
        }
        Some((id, from_server))
    }

    /// tshark's `quic_connection_find` for a long header.
    fn find_long(&self, cx: &DatagramCx, ty: u8, dcid: &[u8]) -> Option<(u64, bool)> {
        if (ty == 0 || ty == 1) && !dcid.is_empty() {
            if let Some(id) = self.live(self.initial.get(&Cid::new(dcid))) {
                return Some((id, false));
            }
            if ty == 1 {
                return None;
            }
        }
        let (id, from_server) = self.find_dcid(cx, Some(dcid).filter(|d| !d.is_empty()))?;
        let c = &self.conns[&id];
        if ty == 0
            && !from_server
            && !dcid.is_empty()
            && c.client_dcid_initial.as_slice() != dcid
            && !c.server_cid.prefix_of(dcid)
        {
            // A fresh client Initial (after Version Negotiation, say).
            return None;
        }
        Some((id, from_server))
    }

    /// tshark's `quic_connection_find` for a short header whose bytes after
    /// the first are `raw`: the connection, the direction and the DCID
    /// length.
    fn find_short(&self, cx: &DatagramCx, raw: &[u8]) -> Option<(u64, bool, usize)> {
        let raw = &raw[..raw.len().min(CID_MAX)];
        let mut found = self.find_dcid(cx, Some(raw)).filter(|_| !raw.is_empty());
        if found.is_none()
            && let Some((id, from_server)) = self.find_dcid(cx, None)
        {
            let c = &self.conns[&id];
            let peer = if from_server {
                &c.client_cid
            } else {
                &c.server_cid
            };
            if peer.prefix_of(raw) {
                found = Some((id, from_server));
            }
        }
        let mut n = raw.len();
        while found.is_none() && n > 1 {
            n -= 1;
            if self.known_len(n) {
                found = self.find_dcid(cx, Some(&raw[..n]));
            }
        }
        let (id, from_server) = found?;
        let c = &self.conns[&id];
        let len = if from_server {
            c.client_cid.len
        } else {
            c.server_cid.len
        };
        Some((id, from_server, usize::from(len)))
    }

    fn insert_cid(&mut self, server: bool, cid: Cid, id: u64) {
        self.lengths |= 1 << cid.len;
        if server {
            self.server.insert(cid, id);
        } else {
            self.client.insert(cid, id);
        }
    }

    /// tshark's `quic_connection_update_initial`.
    fn update_initial(&mut self, id: u64, scid: &[u8], dcid: &[u8]) {
        if !scid.is_empty() {
            self.insert_cid(false, Cid::new(scid), id);
            if let Some(c) = self.conns.get_mut(&id) {
                c.client_cid = Cid::new(scid);
            }
        }
        if !dcid.is_empty() {
            self.initial.insert(Cid::new(dcid), id);
            if let Some(c) = self.conns.get_mut(&id) {
                c.client_dcid_initial = Cid::new(dcid);
                c.client_dcid_set = true;
            }
        }
    }

    fn create(&mut self, cx: &DatagramCx) -> u64 {
        if self.conns.len() >= MAX_CONNECTIONS {
            self.evict();
        }
        self.next += 1;
        let id = self.next;
        let conv = conv_key(cx);
        self.conns.insert(
            id,
            Conn {
                server_addr: cx.dst,
                server_port: cx.dport,
                conv,
                client_dcid_initial: Cid::default(),
                client_dcid_set: false,
                client_cid: Cid::default(),
                server_cid: Cid::default(),
                crypto: Default::default(),
            },
        );
        self.order.push_back(id);
        self.conv.insert(conv, id);
        self.stats.connections += 1;
        id
    }

    /// Forget the oldest connection and the keys that lead to it.
    fn evict(&mut self) {
        while let Some(id) = self.order.pop_front() {
            let Some(c) = self.conns.remove(&id) else {
                continue;
            };
            for (map, k) in [
                (&mut self.initial, c.client_dcid_initial),
                (&mut self.client, c.client_cid),
                (&mut self.server, c.server_cid),
            ] {
                if map.get(&k) == Some(&id) {
                    map.remove(&k);
                }
            }
            if self.conv.get(&c.conv) == Some(&id) {
                self.conv.remove(&c.conv);
            }
            self.stats.evicted += 1;
            return;
        }
    }

    /// tshark's `quic_connection_create_or_update`.
    fn create_or_update(
        &mut self,
        cx: &DatagramCx,
        found: Option<(u64, bool)>,
        ty: u8,
        scid: &[u8],
        dcid: &[u8],
    ) -> Option<(u64, bool)> {
        let from_server = found.is_some_and(|f| f.1);
        match (ty, found) {
            (0, None) => {
                let id = self.create(cx);
                self.update_initial(id, scid, dcid);
                Some((id, false))
            }
            (0, Some((id, false))) => {
                let reset = self
                    .conns
                    .get(&id)
                    .is_some_and(|c| !c.client_dcid_set && !dcid.is_empty());
                if reset {
                    // The client's Initial after a Retry: new keys, and the
                    // next server Initial sets the server CID again.
                    self.update_initial(id, scid, dcid);
                    if let Some(c) = self.conns.get_mut(&id) {
                        let old = std::mem::take(&mut c.server_cid);
                        if self.server.get(&old) == Some(&id) {
                            self.server.remove(&old);
                        }
                    }
                }
                found
            }
            (0 | 2 | 3, Some((id, true))) => {
                let mut insert = None;
                if let Some(c) = self.conns.get_mut(&id) {
                    if ty == 3 {
                        let old = std::mem::take(&mut c.client_dcid_initial);
                        c.client_dcid_set = false;
                        if self.initial.get(&old) == Some(&id) {
                            self.initial.remove(&old);
                        }
                    }
                    if c.server_cid.is_empty() && !scid.is_empty() {
                        c.server_cid = Cid::new(scid);
                        insert = Some(c.server_cid);
                    }
                }
                if let Some(cid) = insert {
                    self.insert_cid(true, cid, id);
                }
                debug_assert!(from_server);
                found
            }
            _ => found,
        }
    }

    /// Decrypt an Initial packet with its connection's keys and place its
    /// CRYPTO frames.
    fn initial_crypto(
        &mut self,
        id: u64,
        from_server: bool,
        p: &[u8],
        version: u32,
        pn_offset: usize,
        dcid: &[u8],
    ) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        let odcid = if c.client_dcid_set {
            c.client_dcid_initial.as_slice()
        } else {
            dcid
        };
        let Some(keys) = initial_keys(version, odcid, from_server) else {
            return;
        };
        self.plain.clear();
        if !decrypt_initial(p, pn_offset, &keys, &mut self.plain, 64 * 1024).is_some_and(|d| d.1) {
            return;
        }
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        let dir = &mut c.crypto[usize::from(from_server)];
        let mut dropped = false;
        crypto_frames(&self.plain, |off, data| {
            dropped |= !dir.add(off, data);
        });
        self.stats.crypto_dropped += u64::from(dropped);
    }
}

impl DatagramState for QuicState {
    fn datagram(&mut self, cx: &DatagramCx, d: &[u8], out: &mut Vec<u8>) -> bool {
        if d.is_empty() {
            return false;
        }
        // The datagrams the dissector may get: a long header of a known
        // version anywhere, anything on port 443 or in a conversation bound
        // to QUIC.
        let port443 = cx.sport == 443 || cx.dport == 443;
        let key = conv_key(cx);
        let long = looks_like_quic(d);
        let bound = self.bound.contains_key(&key);
        if !(long || port443 || bound) {
            return false;
        }
        if long && !bound {
            // tshark binds the conversation to QUIC at its first long
            // header: later datagrams (short headers) are QUIC.
            if self.bound.len() >= 4 * MAX_CONNECTIONS {
                self.bound.clear();
                self.stats.bindings_forgotten += 1;
            }
            self.bound.insert(key, ());
        }
        let head = out.len();
        out.resize(head + HEAD, 0);
        let mut conn: Option<(u64, bool)> = None;
        let mut first_dcid: &[u8] = &[];
        let mut off = 0;
        while let Some(&first) = d.get(off) {
            let p = &d[off..];
            if off > 0 {
                // tshark's check of a coalesced packet: its DCID must be
                // the first packet's (else the rest is padding).
                let short_len = conn.and_then(|(id, from_server)| {
                    let c = self.conns.get(&id)?;
                    Some(usize::from(if from_server {
                        c.client_cid.len
                    } else {
                        c.server_cid.len
                    }))
                });
                if coalesced_dcid(p, short_len).is_some_and(|x| x != first_dcid) {
                    break;
                }
            }
            if first & 0x80 == 0 {
                if let Some((id, from_server, n)) = self.find_short(cx, &p[1..]) {
                    out[head] |= F_SHORT;
                    out[head + 2 + CID_MAX] = u8::try_from(n).unwrap_or(0);
                    conn.get_or_insert((id, from_server));
                }
                off = d.len();
                break;
            }
            if first & 0x40 == 0 && off > 0 {
                break;
            }
            if off == 0 {
                first_dcid = coalesced_dcid(p, None).unwrap_or(&[]);
            }
            let Some(h) = parse_long(p) else {
                off = d.len();
                break;
            };
            if h.version == 0 {
                // Version Negotiation: only looked up.
                if let Some(f) = self.find_dcid(cx, Some(h.dcid).filter(|x| !x.is_empty())) {
                    conn.get_or_insert(f);
                }
                off = d.len();
                break;
            }
            let found = self.find_long(cx, h.ty, h.dcid);
            let now = self.create_or_update(cx, found, h.ty, h.scid, h.dcid);
            if let Some(f) = now {
                conn.get_or_insert(f);
            }
            if h.fills_datagram() || h.end > p.len() {
                off = d.len();
                break;
            }
            if let (0, Some((id, from_server))) = (h.ty, now) {
                self.initial_crypto(id, from_server, &p[..h.end], h.version, h.pn_offset, h.dcid);
            }
            off += h.end.max(1);
        }
        if long || bound {
            out[head] |= F_CONV;
        }
        let end = u32::try_from(off.min(d.len())).unwrap_or(u32::MAX);
        out[head + HEAD - 4..head + HEAD].copy_from_slice(&end.to_be_bytes());
        if let Some((id, from_server)) = conn
            && let Some(c) = self.conns.get_mut(&id)
        {
            out[head] |= F_CONN | if from_server { F_SERVER } else { 0 };
            let k = c.client_dcid_initial;
            out[head + 1] = k.len;
            out[head + 2..head + 2 + usize::from(k.len)].copy_from_slice(k.as_slice());
            if !c.client_dcid_set {
                // After a Retry the keys come from the next client Initial:
                // until then none.
                out[head] &= !F_CONN;
            }
            if !c.crypto[usize::from(from_server)].take_complete(out) {
                self.stats.crypto_dropped += 1;
            }
        }
        true
    }

    fn report(&self) -> Option<String> {
        let s = &self.stats;
        (s.evicted + s.crypto_dropped + s.bindings_forgotten > 0).then(|| {
            format!(
                "QUIC connection state forgot {} of {} connection(s) over its bound of {MAX_CONNECTIONS}, gave up {} CRYPTO stream(s) over {MAX_CRYPTO} bytes, and forgot its QUIC conversations {} time(s)",
                s.evicted, s.connections, s.crypto_dropped, s.bindings_forgotten
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypto_reassembles_out_of_order_and_bounds() {
        let msg: Vec<u8> = [&[1u8, 0, 0, 6][..], b"abcdef"].concat();
        let mut d = CryptoDir::default();
        let mut out = Vec::new();
        assert!(d.add(5, &msg[5..]));
        assert!(d.take_complete(&mut out));
        assert!(out.is_empty());
        assert!(d.add(0, &msg[..5]));
        assert!(d.take_complete(&mut out));
        assert_eq!(out, msg);
        // A retransmission is not delivered again.
        out.clear();
        assert!(d.add(0, &msg));
        assert!(d.take_complete(&mut out));
        assert!(out.is_empty());
        // A message that cannot fit gives the direction up.
        let mut d = CryptoDir::default();
        assert!(d.add(0, &[1, 0xff, 0xff, 0xff]));
        assert!(!d.take_complete(&mut out));
        assert!(!d.add(MAX_CRYPTO as u64, b"x") || d.failed);
    }
}
