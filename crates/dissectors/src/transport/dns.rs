//! DNS (RFC 1035) over UDP port 53, mDNS (UDP 5353, decoded as DNS) and DNS
//! over TCP port 53 (with its 2-byte length prefix, `dns.length`; one message
//! per segment, no reassembly).
//!
//! Names are written like tshark's: labels joined by `.` without the trailing
//! dot, the root as `<Root>`, bytes outside printable ASCII escaped as C escapes
//! (`\t`) or three octal digits (`\001`). Decompression is loop-safe: every
//! pointer must point strictly before the segment it jumps from, so a name
//! walk always ends; a self, forward or looping pointer records
//! `dns.pointer-loop` (and, like tshark, the name reads
//! `<Name contains a pointer that loops>`), a name over 255 bytes `malformed`.

use pcapx_core::{Port, keys::tables};
use std::fmt::Write as _;

use pcapx_core::dissector::PacketView;
use pcapx_core::{
    AnomalyId, Ctx, Dissector, FieldId, Outcome, PduCx, PduLen, Registrar, RegistryError, Value,
};

use super::{arr, be16, be32};

const HDR: usize = 12;
const MAX_NAME: usize = 255;
const LOOP_TEXT: &[u8] = b"<Name contains a pointer that loops>";

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum NameErr {
    /// The name runs past the message.
    Short,
    /// A compression pointer that does not point strictly backwards.
    Loop,
    /// Longer than 255 bytes, or an unsupported label type.
    Bad,
}

/// Result of walking one name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct NameWalk {
    /// Offset just past the name where it is written (before any jump).
    end: Option<usize>,
    err: Option<NameErr>,
}

/// Append one label byte the way tshark prints it (ASCII only).
fn push_escaped(out: &mut Vec<u8>, b: u8) {
    let esc = match b {
        0x07 => b'a',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x0b => b'v',
        0x20..=0x7e => {
            out.push(b);
            return;
        }
        _ => {
            out.extend_from_slice(&[
                b'\\',
                b'0' + (b >> 6),
                b'0' + ((b >> 3) & 7),
                b'0' + (b & 7),
            ]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', esc]);
}

/// How a decoded name is written.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Style {
    /// tshark: escaped, no trailing dot, root as `<Root>`.
    Tshark,
    /// Scapy's raw bytes: labels each followed by `.`, root as `.`.
    Raw,
}

/// Walk (and, with `out`, write) the name at `start` of `msg`.
fn walk_name(msg: &[u8], start: usize, mut out: Option<&mut Vec<u8>>, style: Style) -> NameWalk {
    let base = out.as_ref().map_or(0, |o| o.len());
    let mut pos = start;
    let mut end = None;
    let mut limit = start;
    let mut wire = 1usize;
    let mut labels = 0usize;
    let err = loop {
        let Some(&len) = msg.get(pos) else {
            break Some(NameErr::Short);
        };
        match len >> 6 {
            0 if len == 0 => {
                end = end.or(Some(pos + 1));
                break None;
            }
            0 => {
                let len = usize::from(len);
                let Some(label) = msg.get(pos + 1..pos + 1 + len) else {
                    break Some(NameErr::Short);
                };
                wire += len + 1;
                if wire > MAX_NAME {
                    break Some(NameErr::Bad);
                }
                if let Some(o) = out.as_deref_mut() {
                    match style {
                        Style::Tshark => {
                            if labels > 0 {
                                o.push(b'.');
                            }
                            for &b in label {
                                push_escaped(o, b);
                            }
                        }
                        Style::Raw => {
                            o.extend_from_slice(label);
                            o.push(b'.');
                        }
                    }
                }
                labels += 1;
                pos += 1 + len;
            }
            3 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    break Some(NameErr::Short);
                };
                end = end.or(Some(pos + 2));
                let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                if target >= limit {
                    break Some(NameErr::Loop);
                }
                limit = target;
                pos = target;
            }
            _ => break Some(NameErr::Bad),
        }
    };
    if let Some(o) = out {
        if err == Some(NameErr::Loop) && style == Style::Tshark {
            o.truncate(base);
            o.extend_from_slice(LOOP_TEXT);
        } else if err.is_none() && labels == 0 {
            o.extend_from_slice(if style == Style::Tshark {
                b"<Root>"
            } else {
                b"."
            });
        }
    }
    NameWalk { end, err }
}

pcapx_core::field_table! {
    struct Fields {
        length = ("dns.length", "Length", U16, "Message length prefix (DNS over TCP)"),
        id = ("dns.id", "Transaction ID", U16, "").hex(),
        flags = ("dns.flags", "Flags", U16, "").hex(),
        response = ("dns.flags.response", "Response", Bool, ""),
        opcode = ("dns.flags.opcode", "Opcode", U16, ""),
        authoritative = ("dns.flags.authoritative", "Authoritative", Bool, ""),
        truncated = ("dns.flags.truncated", "Truncated", Bool, ""),
        recdesired = ("dns.flags.recdesired", "Recursion desired", Bool, ""),
        recavail = ("dns.flags.recavail", "Recursion available", Bool, ""),
        z = ("dns.flags.z", "Z", Bool, ""),
        authenticated = ("dns.flags.authenticated", "Answer authenticated", Bool, ""),
        checkdisable = ("dns.flags.checkdisable", "Non-authenticated data", Bool, ""),
        rcode = ("dns.flags.rcode", "Reply code", U16, ""),
        count_queries = ("dns.count.queries", "Questions", U16, ""),
        count_answers = ("dns.count.answers", "Answer RRs", U16, ""),
        count_auth_rr = ("dns.count.auth_rr", "Authority RRs", U16, ""),
        count_add_rr = ("dns.count.add_rr", "Additional RRs", U16, ""),
        qry_name = ("dns.qry.name", "Name", Str, "Question name, without the trailing dot"),
        qry_type = ("dns.qry.type", "Type", U16, ""),
        qry_class = ("dns.qry.class", "Class", U16, "Question class (mDNS: without the unicast-response bit)").hex(),
        qry_qu = ("dns.qry.qu", "\"QU\" question", Bool, "mDNS: unicast response requested (top bit of the class)"),
        resp_name = ("dns.resp.name", "Name", Str, "Resource record owner name"),
        resp_type = ("dns.resp.type", "Type", U16, ""),
        resp_class = ("dns.resp.class", "Class", U16, "Record class (mDNS: without the cache-flush bit)").hex(),
        resp_cache_flush = ("dns.resp.cache_flush", "Cache flush", Bool, "mDNS: the record replaces cached ones (top bit of the class)"),
        resp_ttl = ("dns.resp.ttl", "Time to live", U32, ""),
        resp_len = ("dns.resp.len", "Data length", U16, ""),
        a = ("dns.a", "Address", Ipv4, ""),
        aaaa = ("dns.aaaa", "AAAA Address", Ipv6, ""),
        cname = ("dns.cname", "CNAME", Str, ""),
        ns = ("dns.ns", "Name Server", Str, ""),
        ptr = ("dns.ptr.domain_name", "Domain Name", Str, ""),
        mx_pref = ("dns.mx.preference", "Preference", U16, ""),
        mx_name = ("dns.mx.mail_exchange", "Mail Exchange", Str, ""),
        txt = ("dns.txt", "TXT", Str, "One TXT character-string"),
        soa_mname = ("dns.soa.mname", "Primary name server", Str, ""),
        soa_rname = ("dns.soa.rname", "Responsible authority's mailbox", Str, ""),
    }
}

/// Is this DNS layer mDNS (UDP port 5353 on either side, as Wireshark's
/// `mdns` dissector is bound)?
fn is_mdns(cx: &Ctx<'_>) -> bool {
    cx.prev_name() == Some("udp") && cx.ports().is_some_and(|(s, d)| s == 5353 || d == 5353)
}

/// The DNS dissector.
pub struct Dns {
    f: Fields,
    /// Questions, answer, authority and additional record counts.
    counts: [FieldId; 4],
    pointer_loop: AnomalyId,
}

impl Default for Dns {
    fn default() -> Self {
        Self::new()
    }
}

impl Dns {
    pub fn new() -> Dns {
        Dns {
            f: Fields::UNSET,
            counts: [FieldId::UNSET; 4],
            pointer_loop: AnomalyId(u32::MAX),
        }
    }

    /// Decode the name at `start` into field `f` (only if wanted) and return
    /// the offset after it; anomalies are recorded here.
    fn name(&self, cx: &mut Ctx<'_>, f: FieldId, msg: &[u8], start: usize) -> Option<usize> {
        let walk = walk_name(msg, start, None, Style::Tshark);
        // A name cut off where it is written yields no value (tshark shows none).
        if walk.end.is_some() {
            cx.add_str_with(f, |buf| {
                walk_name(msg, start, Some(buf), Style::Tshark);
            });
        }
        match walk.err {
            Some(NameErr::Loop) => cx.anomaly(self.pointer_loop),
            Some(NameErr::Bad) => cx.malformed(),
            Some(NameErr::Short) => cx.short(),
            None => {}
        }
        walk.end
    }

    /// One resource record at `off`; returns the offset after it.
    fn rr(&self, cx: &mut Ctx<'_>, msg: &[u8], off: usize) -> Option<usize> {
        let off = self.name(cx, self.f.resp_name, msg, off)?;
        let (Some(ty), Some(class), Some(ttl), Some(rdlen)) = (
            be16(msg, off),
            be16(msg, off + 2),
            be32(msg, off + 4),
            be16(msg, off + 8),
        ) else {
            cx.short();
            return None;
        };
        cx.add(self.f.resp_type, Value::U64(u64::from(ty)));
        if ty != 41 {
            // mDNS (RFC 6762 10.2): the class's top bit is the cache-flush bit.
            if is_mdns(cx) {
                cx.add(self.f.resp_class, Value::U64(u64::from(class & 0x7fff)));
                cx.add(self.f.resp_cache_flush, Value::Bool(class & 0x8000 != 0));
            } else {
                cx.add(self.f.resp_class, Value::U64(u64::from(class)));
            }
            cx.add(self.f.resp_ttl, Value::U64(u64::from(ttl)));
        }
        cx.add(self.f.resp_len, Value::U64(u64::from(rdlen)));
        let start = off + 10;
        let end = start + usize::from(rdlen);
        let Some(rdata) = msg.get(start..end) else {
            cx.short();
            return None;
        };
        match ty {
            1 => {
                if let Some(a) = arr::<4>(rdata, 0) {
                    cx.add(self.f.a, Value::Ipv4(a));
                }
            }
            28 => {
                if let Some(a) = arr::<16>(rdata, 0) {
                    cx.add(self.f.aaaa, Value::Ipv6(a));
                }
            }
            2 => {
                self.name(cx, self.f.ns, msg, start);
            }
            5 => {
                self.name(cx, self.f.cname, msg, start);
            }
            12 => {
                self.name(cx, self.f.ptr, msg, start);
            }
            15 => {
                if let Some(pref) = be16(rdata, 0) {
                    cx.add(self.f.mx_pref, Value::U64(u64::from(pref)));
                    self.name(cx, self.f.mx_name, msg, start + 2);
                }
            }
            6 => {
                if let Some(next) = self.name(cx, self.f.soa_mname, msg, start) {
                    self.name(cx, self.f.soa_rname, msg, next);
                }
            }
            16 => {
                let mut rest = rdata;
                while let Some((&n, tail)) = rest.split_first() {
                    let Some(s) = tail.get(..usize::from(n)) else {
                        cx.malformed();
                        break;
                    };
                    cx.add_str_with(self.f.txt, |buf| {
                        for &b in s {
                            push_escaped(buf, b);
                        }
                    });
                    rest = tail.get(usize::from(n)..).unwrap_or(&[]);
                }
            }
            _ => {}
        }
        Some(end)
    }

    fn message(&self, msg: &[u8], cx: &mut Ctx<'_>) -> usize {
        let Some(id) = be16(msg, 0) else {
            cx.short();
            return msg.len();
        };
        cx.add(self.f.id, Value::U64(u64::from(id)));
        let Some(flags) = be16(msg, 2) else {
            cx.short();
            return msg.len();
        };
        cx.add(self.f.flags, Value::U64(u64::from(flags)));
        cx.add(self.f.response, Value::Bool(flags & 0x8000 != 0));
        cx.add(self.f.opcode, Value::U64(u64::from((flags >> 11) & 0xf)));
        let bits = [
            (self.f.authoritative, 0x0400),
            (self.f.truncated, 0x0200),
            (self.f.recdesired, 0x0100),
            (self.f.recavail, 0x0080),
            (self.f.z, 0x0040),
            (self.f.authenticated, 0x0020),
            (self.f.checkdisable, 0x0010),
        ];
        for (f, mask) in bits {
            cx.add(f, Value::Bool(flags & mask != 0));
        }
        cx.add(self.f.rcode, Value::U64(u64::from(flags & 0xf)));
        let mut counts = [0u16; 4];
        for (i, (&f, c)) in self.counts.iter().zip(counts.iter_mut()).enumerate() {
            let Some(v) = be16(msg, 4 + 2 * i) else {
                cx.short();
                return msg.len();
            };
            *c = v;
            cx.add(f, Value::U64(u64::from(v)));
        }
        let mut off = HDR;
        for _ in 0..counts[0] {
            let Some(next) = self.name(cx, self.f.qry_name, msg, off) else {
                return msg.len();
            };
            let (Some(ty), Some(class)) = (be16(msg, next), be16(msg, next + 2)) else {
                cx.short();
                return msg.len();
            };
            cx.add(self.f.qry_type, Value::U64(u64::from(ty)));
            // mDNS (RFC 6762 5.4): the class's top bit asks for a unicast reply.
            if is_mdns(cx) {
                cx.add(self.f.qry_class, Value::U64(u64::from(class & 0x7fff)));
                cx.add(self.f.qry_qu, Value::Bool(class & 0x8000 != 0));
            } else {
                cx.add(self.f.qry_class, Value::U64(u64::from(class)));
            }
            off = next + 4;
        }
        let rrs = u32::from(counts[1]) + u32::from(counts[2]) + u32::from(counts[3]);
        for _ in 0..rrs {
            match self.rr(cx, msg, off) {
                Some(next) => off = next,
                None => return msg.len(),
            }
        }
        off
    }
}

impl Dissector for Dns {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("dns", "Domain Name System", "DNS")?;
        self.f = Fields::register(r)?;
        let f = &self.f;
        self.counts = [
            f.count_queries,
            f.count_answers,
            f.count_auth_rr,
            f.count_add_rr,
        ];
        self.pointer_loop = r.anomaly(
            "dns.pointer-loop",
            "a DNS name compression pointer does not point strictly backwards (a loop, a self or forward pointer)",
            false,
        )?;
        r.bind(tables::UDP_PORT, Port::DNS);
        r.bind(tables::UDP_PORT, Port::MDNS);
        r.bind(tables::TCP_PORT, Port::DNS);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        if cx.prev_name() != Some("tcp") {
            let used = self.message(data, cx);
            return Outcome::end(used.min(data.len()));
        }
        let Some(len) = be16(data, 0) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.length, Value::U64(u64::from(len)));
        let end = 2 + usize::from(len);
        let msg = data.get(2..end.min(data.len())).unwrap_or(&[]);
        let used = self.message(msg, cx);
        if end > data.len() && used < msg.len() {
            // Parsed fine but the message continues in another segment.
            cx.short();
        }
        Outcome::end((2 + used).min(data.len()))
    }

    /// DNS over TCP (RFC 1035 4.2.2): each message follows its 2-byte
    /// length, so a message spanning segments is desegmented and decodes at
    /// the segment that completes it, as in tshark.
    fn pdu_len(&self, data: &[u8], _cx: &PduCx) -> PduLen {
        match be16(data, 0) {
            Some(len) => PduLen::Len(2 + usize::from(len)),
            None => PduLen::NeedMore,
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let below = layer.checked_sub(1);
        let over_tcp = below.and_then(|l| view.proto_name(l)) == Some("tcp");
        let mdns = below.and_then(|l| view.proto_name(l)) == Some("udp")
            && below
                .and_then(|l| view.get(l, "udp.dstport"))
                .and_then(|v| v.as_u64())
                == Some(5353);
        let start = usize::try_from(rec.offset).unwrap_or(usize::MAX);
        let Some(mut msg) = view.bytes(layer).get(start..) else {
            return false;
        };
        if over_tcp {
            msg = msg.get(2..).unwrap_or(&[]);
        }
        scapy_summary(msg, mdns, out);
        true
    }
}

thread_local! {
    /// The summary's name/rdata scratch, reused per worker thread so that a
    /// summary line allocates nothing once warm.
    static SUMMARY_SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Scapy's `DNS.mysummary` from the message bytes.
fn scapy_summary(msg: &[u8], mdns: bool, out: &mut String) {
    let mut buf = SUMMARY_SCRATCH.take();
    buf.clear();
    scapy_summary_with(msg, mdns, out, &mut buf);
    SUMMARY_SCRATCH.set(buf);
}

fn scapy_summary_with(msg: &[u8], mdns: bool, out: &mut String, buf: &mut Vec<u8>) {
    if mdns {
        out.push('m');
    }
    let flags = be16(msg, 2).unwrap_or(0);
    let qd = be16(msg, 4).unwrap_or(0);
    let an = be16(msg, 6).unwrap_or(0);
    if flags & 0x8000 == 0 {
        out.push_str("DNS Qry");
        if qd > 0 {
            let w = walk_name(msg, HDR, Some(buf), Style::Raw);
            if w.err.is_none() {
                out.push(' ');
                py_bytes_repr(buf, out);
            }
        }
        return;
    }
    out.push_str("DNS Ans");
    // Skip the questions to reach the first answer.
    let mut off = Some(HDR);
    for _ in 0..qd {
        off = off
            .and_then(|o| walk_name(msg, o, None, Style::Raw).end)
            .map(|o| o + 4);
    }
    let first = if an > 0 {
        off.and_then(|o| first_rdata(msg, o, buf, out))
    } else {
        None
    };
    match first {
        // Written: a space and the answer's data.
        Some(Some(())) => {}
        // The first answer is of a type Scapy decodes with a dedicated class.
        Some(None) => {}
        None => {
            let rcode = flags & 0xf;
            if rcode != 0 {
                out.push(' ');
                match rcode {
                    1 => out.push_str("format-error"),
                    2 => out.push_str("server-failure"),
                    3 => out.push_str("name-error"),
                    4 => out.push_str("not-implemented"),
                    5 => out.push_str("refused"),
                    n => {
                        let _ = write!(out, "{n}");
                    }
                }
            }
        }
    }
}

/// Scapy's printed `rdata` of the answer at `off`: `None` when there is no
/// decodable answer (nothing written), `Some(None)` when the answer is not a
/// plain `DNSRR`; `Some(Some(()))` after writing a space and the data to `s`.
fn first_rdata(msg: &[u8], off: usize, name: &mut Vec<u8>, s: &mut String) -> Option<Option<()>> {
    let w = walk_name(msg, off, None, Style::Raw);
    let off = w.end?;
    let ty = be16(msg, off)?;
    let rdlen = usize::from(be16(msg, off + 8)?);
    let start = off + 10;
    let rdata = msg.get(start..start + rdlen)?;
    if matches!(
        ty,
        6 | 13 | 15 | 33 | 35 | 41 | 43 | 46 | 47 | 48 | 50 | 51 | 64 | 65 | 250 | 32769
    ) {
        return Some(None);
    }
    let mark = s.len();
    s.push(' ');
    match ty {
        1 => {
            let a = arr::<4>(rdata, 0)?;
            let _ = write!(s, "{}", std::net::Ipv4Addr::from(a));
        }
        28 => {
            let a = arr::<16>(rdata, 0)?;
            let _ = write!(s, "{}", std::net::Ipv6Addr::from(a));
        }
        2 | 3 | 4 | 5 | 12 | 39 => {
            name.clear();
            let w = walk_name(msg, start, Some(name), Style::Raw);
            if w.err.is_some() {
                s.truncate(mark);
                return None;
            }
            py_bytes_repr(name, s);
        }
        16 => {
            s.push('[');
            let mut rest = rdata;
            let mut first = true;
            while let Some((&n, tail)) = rest.split_first() {
                let piece = tail.get(..usize::from(n)).unwrap_or(tail);
                if !first {
                    s.push_str(", ");
                }
                first = false;
                py_bytes_repr(piece, s);
                rest = tail.get(usize::from(n)..).unwrap_or(&[]);
            }
            s.push(']');
        }
        _ => py_bytes_repr(rdata, s),
    }
    Some(Some(()))
}

/// Python's `repr(bytes)`: `b'…'` (or `b"…"` when only `'` appears), as
/// Scapy prints DNS names and NBNS names in summaries.
pub(crate) fn py_bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::{NameErr, Style, py_bytes_repr, walk_name};
    use crate::testutil::{anomalies, check_ip, ipv4, run};

    fn udp53(dns: &[u8]) -> Vec<u8> {
        let len = u16::try_from(8 + dns.len()).unwrap();
        let mut u = vec![0x8d, 0x10, 0, 53];
        u.extend_from_slice(&len.to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(dns);
        ipv4(17, &u)
    }

    /// Query for example.com A, id 0x1234, RD.
    const QUERY: &[u8] = &[
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, //
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, //
        0, 1, 0, 1,
    ];

    fn response() -> Vec<u8> {
        let mut m = QUERY.to_vec();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 4; // answers
        // CNAME www -> example.com (pointer to 12)
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6]);
        m.extend_from_slice(&[3, b'w', b'w', b'w', 0xc0, 12]);
        // A 93.184.216.34
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
        // MX 10 mail.example.com
        m.extend_from_slice(&[0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 9, 0, 10]);
        m.extend_from_slice(&[4, b'm', b'a', b'i', b'l', 0xc0, 12]);
        // TXT "a b", "\x01"
        m.extend_from_slice(&[
            0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'a', b' ', b'b', 1, 1,
        ]);
        m
    }

    #[test]
    fn query() {
        let pkt = udp53(QUERY);
        check_ip(
            &pkt,
            &[
                ("dns.id", "4660"),
                ("dns.flags", "256"),
                ("dns.flags.response", "0"),
                ("dns.flags.recdesired", "1"),
                ("dns.flags.opcode", "0"),
                ("dns.count.queries", "1"),
                ("dns.count.answers", "0"),
                ("dns.qry.name", "example.com"),
                ("dns.qry.type", "1"),
                ("dns.qry.class", "1"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert!(f.anomalies().is_empty());
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / UDP / DNS Qry b'example.com.'"
        );
    }

    #[test]
    fn answers() {
        let pkt = udp53(&response());
        check_ip(
            &pkt,
            &[
                ("dns.flags.response", "1"),
                ("dns.flags.recavail", "1"),
                ("dns.count.answers", "4"),
                (
                    "dns.resp.name",
                    "example.com,example.com,example.com,example.com",
                ),
                ("dns.resp.type", "5,1,15,16"),
                ("dns.resp.ttl", "3600,60,60,60"),
                ("dns.cname", "www.example.com"),
                ("dns.a", "93.184.216.34"),
                ("dns.mx.preference", "10"),
                ("dns.mx.mail_exchange", "mail.example.com"),
                ("dns.txt", "a b,\\001"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert!(f.anomalies().is_empty(), "{:?}", anomalies(&f));
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / UDP / DNS Ans b'www.example.com.'"
        );
    }

    #[test]
    fn root_and_escapes() {
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[0, 0, 2, 0, 1]);
        check_ip(
            &udp53(&m),
            &[("dns.qry.name", "<Root>"), ("dns.qry.type", "2")],
        );
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[4, b'a', 0x01, b'\t', 0x7f, 0, 0, 1, 0, 1]);
        let pkt = udp53(&m);
        check_ip(&pkt, &[("dns.qry.name", "a\\001\\t\\177")]);
        let (eng, f) = run(&pkt);
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / UDP / DNS Qry b'a\\x01\\t\\x7f.'"
        );
    }

    fn name_err(msg: &[u8], start: usize) -> Option<NameErr> {
        let mut out = Vec::new();
        walk_name(msg, start, Some(&mut out), Style::Tshark).err
    }

    #[test]
    fn pointer_loops_end() {
        // self pointer at 12
        assert_eq!(
            name_err(
                &[0; 12]
                    .iter()
                    .chain(&[0xc0, 12])
                    .copied()
                    .collect::<Vec<_>>(),
                12
            ),
            Some(NameErr::Loop)
        );
        // forward pointer
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[0xc0, 14, 1, b'a', 0]);
        assert_eq!(name_err(&m, 12), Some(NameErr::Loop));
        // two names pointing at each other: 12: "a" -> 16, 16: "b" -> 12
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12]);
        assert_eq!(name_err(&m, 12), Some(NameErr::Loop));
        assert_eq!(name_err(&m, 16), Some(NameErr::Loop));
        // backwards chain is fine: 12 "com", 17 "x" -> 12, 21 "y" -> 17
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[3, b'c', b'o', b'm', 0, 1, b'x', 0xc0, 12, 1, b'y', 0xc0, 17]);
        let mut out = Vec::new();
        let w = walk_name(&m, 21, Some(&mut out), Style::Tshark);
        assert_eq!((w.err, w.end), (None, Some(25)));
        assert_eq!(out, b"y.x.com");
        // pointer past the end, label past the end
        assert_eq!(name_err(&[0xc0], 0), Some(NameErr::Short));
        assert_eq!(name_err(&[5, b'a'], 0), Some(NameErr::Short));
        // extended label types are rejected
        assert_eq!(name_err(&[0x41, 0], 0), Some(NameErr::Bad));
    }

    #[test]
    fn pointer_loop_in_packet() {
        let mut m = QUERY[..12].to_vec();
        m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        let pkt = udp53(&m);
        check_ip(
            &pkt,
            &[
                ("dns.qry.name", "<Name contains a pointer that loops>"),
                ("dns.qry.type", "1"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert!(anomalies(&f).iter().any(|a| a == "dns.pointer-loop"));
        assert_eq!(eng.summary_line(&f, &pkt, false), "IP / UDP / DNS Qry");
    }

    #[test]
    fn overlong_name() {
        let mut m = QUERY[..12].to_vec();
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        let (_, f) = run(&udp53(&m));
        assert!(anomalies(&f).iter().any(|a| a == "malformed"));
    }

    #[test]
    fn bad_counts_stop_cleanly() {
        let mut m = QUERY.to_vec();
        m[4] = 0xff; // 65281 questions
        m[11] = 0xff;
        let (_, f) = run(&udp53(&m));
        let names = anomalies(&f);
        assert!(names.iter().any(|a| a == "malformed"), "{names:?}");
        check_ip(
            &udp53(&m),
            &[
                ("dns.qry.name", "example.com"),
                ("dns.count.queries", "65281"),
            ],
        );
    }

    #[test]
    fn every_truncation() {
        let full_msg = response();
        let full = udp53(&full_msg);
        // (cut 0 leaves no DNS byte: UDP then hands nothing on)
        for cut in 1..full_msg.len() {
            let pkt = &full[..28 + cut];
            let (_, f) = crate::testutil::run_cut(pkt, full.len());
            let names = anomalies(&f);
            assert!(
                names.iter().any(|n| n == "truncated"),
                "cut {cut}: {names:?}"
            );
            let id = crate::testutil::render(&f, "dns.id");
            assert_eq!(id.is_empty(), cut < 2, "cut {cut}");
        }
    }

    #[test]
    fn python_repr() {
        let mut s = String::new();
        py_bytes_repr(b"it's", &mut s);
        s.push(' ');
        py_bytes_repr(b"a'\"\\\x00", &mut s);
        assert_eq!(s, "b\"it's\" b'a\\'\"\\\\\\x00'");
    }
}
