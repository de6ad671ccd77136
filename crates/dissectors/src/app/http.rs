//! HTTP/1.x request and response heads over TCP.
//!
//! Found like tshark's TCP heuristic (enabled by default): the segment's
//! first line is complete and either starts with `HTTP/` or ends with
//! ` HTTP/1.x`. Every message that starts in the segment is decoded
//! (pipelining): the start line, the headers tshark has fields for, and the
//! body's length — a body is skipped by its `Content-Length` when the
//! segment holds it, never decoded. A head without its blank line in the
//! segment is decoded as far as its complete lines go and records
//! `http.continues` (heads are searched for at most [`MAX_HEAD`] bytes).

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{
    AnomalyId, Ctx, Dissector, FieldDef, FieldId, FieldType, Outcome, Registrar, RegistryError,
    Value,
};

use super::add_text;

/// A head longer than this is not searched further for its end.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
struct Ids {
    request: FieldId,
    response: FieldId,
    method: FieldId,
    uri: FieldId,
    req_version: FieldId,
    full_uri: FieldId,
    resp_version: FieldId,
    code: FieldId,
    phrase: FieldId,
    host: FieldId,
    user_agent: FieldId,
    referer: FieldId,
    cookie: FieldId,
    authorization: FieldId,
    server: FieldId,
    content_type: FieldId,
    content_length: FieldId,
    location: FieldId,
    transfer_encoding: FieldId,
    body_len: FieldId,
    continues: AnomalyId,
}

/// The HTTP/1.x dissector.
#[derive(Default)]
pub struct Http {
    ids: Option<Ids>,
}

impl Http {
    pub fn new() -> Http {
        Http::default()
    }
}

/// The first line of `data`, without its line end, when the line end is there.
fn first_line(data: &[u8]) -> Option<&[u8]> {
    let n = data.iter().take(MAX_HEAD).position(|&b| b == b'\n')?;
    let line = &data[..n];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// tshark's heuristic: a start line of HTTP/1.x.
pub(crate) fn looks_like_http(data: &[u8]) -> bool {
    let Some(line) = first_line(data) else {
        return false;
    };
    if line.starts_with(b"HTTP/") {
        return true;
    }
    line.len() >= 9 && {
        let tail = &line[line.len() - 9..];
        tail.starts_with(b" HTTP/1.")
    }
}

/// Split `line` at the first space.
fn split_sp(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

fn trim_start(v: &[u8]) -> &[u8] {
    let n = v.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &v[n..]
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    let v = trim_start(v);
    let n = v.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 19 {
        return None;
    }
    std::str::from_utf8(&v[..n]).ok()?.parse().ok()
}

/// Where the head ends (just after the blank line), if in `data`.
fn head_end(data: &[u8]) -> Option<usize> {
    let limit = data.len().min(MAX_HEAD);
    let d = &data[..limit];
    let mut i = 0;
    while let Some(p) = d[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        let next = nl + 1;
        if d.get(next) == Some(&b'\n') {
            return Some(next + 1);
        }
        if d.get(next) == Some(&b'\r') && d.get(next + 1) == Some(&b'\n') {
            return Some(next + 2);
        }
        i = next;
    }
    None
}

/// How a message at the start of `data` is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// The head (and the body its headers announce) ends at this offset.
    Whole(usize),
    /// The head or the body continues past `data`.
    Partial,
}

/// Header value of `name` in a complete head (first occurrence).
fn header<'a>(head: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| trim_start(&line[colon + 1..]))
    })
}

/// Where a chunked body starting at `data[0]` ends (after the last chunk
/// and its trailers), if it ends in `data`.
fn chunked_end(data: &[u8]) -> Option<usize> {
    let mut off = 0;
    loop {
        let line_len = data
            .get(off..)?
            .iter()
            .take(1024)
            .position(|&b| b == b'\n')?;
        let line = &data[off..off + line_len];
        let hex = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex == 0 || hex > 15 {
            return None;
        }
        let size = usize::from_str_radix(std::str::from_utf8(&line[..hex]).ok()?, 16).ok()?;
        off += line_len + 1;
        if size == 0 {
            // Trailers, then a blank line.
            loop {
                let n = data
                    .get(off..)?
                    .iter()
                    .take(MAX_HEAD)
                    .position(|&b| b == b'\n')?;
                let blank = n == 0 || (n == 1 && data[off] == b'\r');
                off += n + 1;
                if blank {
                    return Some(off);
                }
            }
        }
        off = off.checked_add(size)?;
        // CRLF after the chunk data.
        match (data.get(off), data.get(off + 1)) {
            (Some(b'\r'), Some(b'\n')) => off += 2,
            (Some(b'\n'), _) => off += 1,
            _ => return None,
        }
    }
}

/// Frame the message at the start of `data`: its head, then a body of
/// `Content-Length` bytes, a chunked body, none (a request without
/// either), or the rest of the segment (a response without either).
pub(crate) fn framing(data: &[u8]) -> Framing {
    let Some(end) = head_end(data) else {
        return Framing::Partial;
    };
    let head = &data[..end];
    let response = head.starts_with(b"HTTP/");
    let chunked = header(head, b"transfer-encoding")
        .is_some_and(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")));
    if chunked {
        return match chunked_end(&data[end..]) {
            Some(n) => Framing::Whole(end + n),
            None => Framing::Partial,
        };
    }
    match header(head, b"content-length").and_then(parse_u64) {
        Some(n) => match usize::try_from(n).ok().and_then(|n| end.checked_add(n)) {
            Some(total) if total <= data.len() => Framing::Whole(total),
            _ => Framing::Partial,
        },
        None if response => Framing::Whole(data.len()),
        None => Framing::Whole(end),
    }
}

impl Http {
    /// Decode the whole message `msg` (head and body, as [`framing`] found it).
    fn message(&self, ids: &Ids, msg: &[u8], cx: &mut Ctx<'_>) {
        let end = head_end(msg).unwrap_or(msg.len());
        let head = &msg[..end];
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let start = lines.next().unwrap_or(&[]);
        let is_response = start.starts_with(b"HTTP/");
        let mut uri: &[u8] = &[];
        if is_response {
            cx.add(ids.response, Value::Bool(true));
            let (ver, rest) = split_sp(start);
            let (code, phrase) = split_sp(rest);
            add_text(cx, ids.resp_version, ver);
            if let Some(c) = parse_u64(code).and_then(|c| u16::try_from(c).ok()) {
                cx.add(ids.code, Value::U64(u64::from(c)));
            }
            add_text(cx, ids.phrase, phrase);
        } else {
            cx.add(ids.request, Value::Bool(true));
            let (method, rest) = split_sp(start);
            let cut = rest.iter().rposition(|&b| b == b' ').unwrap_or(rest.len());
            uri = &rest[..cut];
            let ver = rest.get(cut + 1..).unwrap_or(&[]);
            add_text(cx, ids.method, method);
            add_text(cx, ids.uri, uri);
            add_text(cx, ids.req_version, ver);
        }
        let mut host: Option<&[u8]> = None;
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = &line[..colon];
            let value = trim_start(&line[colon + 1..]);
            let f = if name.eq_ignore_ascii_case(b"host") {
                host = Some(value);
                ids.host
            } else if name.eq_ignore_ascii_case(b"user-agent") {
                ids.user_agent
            } else if name.eq_ignore_ascii_case(b"referer") {
                ids.referer
            } else if name.eq_ignore_ascii_case(b"cookie") {
                ids.cookie
            } else if name.eq_ignore_ascii_case(b"authorization") {
                ids.authorization
            } else if name.eq_ignore_ascii_case(b"server") {
                ids.server
            } else if name.eq_ignore_ascii_case(b"content-type") {
                ids.content_type
            } else if name.eq_ignore_ascii_case(b"location") {
                ids.location
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                ids.transfer_encoding
            } else if name.eq_ignore_ascii_case(b"content-length") {
                if let Some(n) = parse_u64(value) {
                    cx.add(ids.content_length, Value::U64(n));
                }
                continue;
            } else {
                continue;
            };
            add_text(cx, f, value);
        }
        if let Some(h) = host.filter(|_| !is_response) {
            if uri.first() == Some(&b'/') {
                cx.add_str_with(ids.full_uri, |o| {
                    o.extend_from_slice(b"http://");
                    o.extend_from_slice(h);
                    o.extend_from_slice(uri);
                });
            } else if !uri.is_empty() {
                add_text(cx, ids.full_uri, uri);
            }
        }
        let body = msg.len() - end;
        if body > 0 {
            cx.add(ids.body_len, Value::U64(body as u64));
        }
    }
}

impl Dissector for Http {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        use FieldType::{Bool, Str, U16, U64};
        r.protocol("http", "Hypertext Transfer Protocol", "HTTP")?;
        let mut f = |name: &str, disp: &str, ty: FieldType, desc: &str| {
            r.field(FieldDef::new(name, disp, ty, desc))
        };
        let ids = Ids {
            request: f("http.request", "Request", Bool, "The message is a request")?,
            response: f("http.response", "Response", Bool, "The message is a response")?,
            method: f("http.request.method", "Request Method", Str, "")?,
            uri: f("http.request.uri", "Request URI", Str, "")?,
            req_version: f("http.request.version", "Request Version", Str, "")?,
            full_uri: f("http.request.full_uri", "Full request URI", Str, "http:// + Host + URI (or an absolute URI as sent)")?,
            resp_version: f("http.response.version", "Response Version", Str, "")?,
            code: f("http.response.code", "Status Code", U16, "")?,
            phrase: f("http.response.phrase", "Response Phrase", Str, "")?,
            host: f("http.host", "Host", Str, "")?,
            user_agent: f("http.user_agent", "User-Agent", Str, "")?,
            referer: f("http.referer", "Referer", Str, "")?,
            cookie: f("http.cookie", "Cookie", Str, "")?,
            authorization: f("http.authorization", "Authorization", Str, "Authorization header (credentials; never shown in summaries)")?,
            server: f("http.server", "Server", Str, "")?,
            content_type: f("http.content_type", "Content-Type", Str, "")?,
            content_length: f("http.content_length", "Content length", U64, "Content-Length header")?,
            location: f("http.location", "Location", Str, "")?,
            transfer_encoding: f("http.transfer_encoding", "Transfer-Encoding", Str, "")?,
            body_len: f("http.body_len", "Body length in segment", U64, "pcapx: bytes of the message body in this segment (bodies are not decoded)")?,
            continues: r.anomaly(
                "http.continues",
                "an HTTP message (head or announced body) continues past the end of the segment; shown where it completes once TCP desegmentation is on",
                false,
            )?,
        };
        self.ids = Some(ids);
        r.heuristic(tables::TCP_PORT);
        Ok(())
    }

    /// A message whose head or announced body continues past the segment
    /// is left to `data`, as tshark leaves a segment of a PDU it reassembles.
    fn accepts(&self, data: &[u8], _cx: &Ctx<'_>) -> bool {
        looks_like_http(data) && matches!(framing(data), Framing::Whole(_))
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let Some(ids) = self.ids else {
            return Outcome::end(0);
        };
        let mut off = 0;
        while off < data.len() {
            let rest = &data[off..];
            if off > 0 && !looks_like_http(rest) {
                break;
            }
            match framing(rest) {
                Framing::Whole(n) if n > 0 => {
                    self.message(&ids, &rest[..n], cx);
                    off += n;
                }
                _ => {
                    // Shown where it completes (tshark's reassembly); here
                    // only counted.
                    cx.anomaly(ids.continues);
                    break;
                }
            }
        }
        Outcome::end(off)
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let start = usize::try_from(rec.offset).unwrap_or(usize::MAX);
        let Some(line) = view.data.get(start..).and_then(first_line) else {
            return false;
        };
        out.push_str("HTTP ");
        let (a, rest) = split_sp(line);
        let shown = if a.starts_with(b"HTTP/") {
            // `HTTP 200 OK`
            rest
        } else {
            // `HTTP GET /index.html`
            let cut = rest.iter().rposition(|&b| b == b' ').unwrap_or(rest.len());
            push_printable(out, a);
            out.push(' ');
            &rest[..cut]
        };
        push_printable(out, shown);
        true
    }
}

fn push_printable(out: &mut String, b: &[u8]) {
    for &c in b.iter().take(200) {
        out.push(if (0x20..0x7f).contains(&c) {
            char::from(c)
        } else {
            '?'
        });
    }
}
