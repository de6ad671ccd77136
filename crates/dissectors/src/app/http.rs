//! HTTP/1.x request and response heads over TCP.
//!
//! Found like tshark's TCP heuristic (enabled by default): the segment's
//! first line is complete and either starts with `HTTP/` or ends with
//! ` HTTP/1.x`. Messages are TCP desegmentation PDUs ([`message_len`],
//! tshark's framing), so a head or body spanning segments is decoded at the
//! segment that completes the message. Every message handed over is
//! decoded (pipelining): the start line, the headers tshark has fields for,
//! and the body's length — never the body. Without desegmentation a head
//! without its blank line in the segment records `http.continues` (heads
//! are searched for at most [`MAX_HEAD`] bytes).

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{
    AnomalyId, Ctx, Dissector, Outcome, PduCx, PduLen, Registrar, RegistryError, Value,
};

use super::add_text;

/// A head longer than this is not searched further for its end.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

pcapx_core::field_table! {
    /// Fields of `http`.
    struct HttpFields {
        request = ("http.request", "Request", Bool, "The message is a request"),
        response = ("http.response", "Response", Bool, "The message is a response"),
        method = ("http.request.method", "Request Method", Str, ""),
        uri = ("http.request.uri", "Request URI", Str, ""),
        req_version = ("http.request.version", "Request Version", Str, ""),
        full_uri = ("http.request.full_uri", "Full request URI", Str, "http:// + Host + URI (or an absolute URI as sent)"),
        resp_version = ("http.response.version", "Response Version", Str, ""),
        code = ("http.response.code", "Status Code", U16, ""),
        phrase = ("http.response.phrase", "Response Phrase", Str, ""),
        host = ("http.host", "Host", Str, ""),
        user_agent = ("http.user_agent", "User-Agent", Str, ""),
        referer = ("http.referer", "Referer", Str, ""),
        cookie = ("http.cookie", "Cookie", Str, ""),
        authorization = ("http.authorization", "Authorization", Str, "Authorization header (credentials; never shown in summaries)"),
        server = ("http.server", "Server", Str, ""),
        content_type = ("http.content_type", "Content-Type", Str, ""),
        content_length = ("http.content_length", "Content length", U64, "Content-Length header"),
        location = ("http.location", "Location", Str, ""),
        transfer_encoding = ("http.transfer_encoding", "Transfer-Encoding", Str, ""),
        body_len = ("http.body_len", "Body length in segment", U64, "pcapx: bytes of the message body in this segment (bodies are not decoded)"),
    }
}

/// Field and anomaly ids of `http`.
#[derive(Clone, Copy, Debug)]
struct Ids {
    f: HttpFields,
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

/// Longest request method token looked for before the space
/// (`BASELINE-CONTROL`, WebDAV's longest, has 16).
const MAX_METHOD: usize = 20;

/// tshark's heuristic: a start line of HTTP/1.x.
pub(crate) fn looks_like_http(data: &[u8]) -> bool {
    // Cheap rejection first (this runs on every unclaimed TCP payload): a
    // start line begins with `HTTP/` or with a method token of upper-case
    // letters, `-` or `_` and a space, as every method tshark knows does.
    if !data.starts_with(b"HTTP/") {
        let token = data
            .iter()
            .take(MAX_METHOD + 1)
            .position(|&b| !(b.is_ascii_uppercase() || b == b'-' || b == b'_'));
        match token {
            Some(n) if n > 0 && data[n] == b' ' => {}
            _ => return false,
        }
    }
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

/// The next line of `data` from `off`: (its length without the line end,
/// the offset after the line end), when the line end is there (LF, CR LF,
/// or a lone CR as tshark's `tvb_find_line_end` accepts).
fn line_at(data: &[u8], off: usize) -> Option<(usize, usize)> {
    let rest = data.get(off..)?;
    let i = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
    if rest[i] == b'\n' {
        return Some((i, off + i + 1));
    }
    // A CR: CR LF, or a lone CR when a byte follows it.
    match rest.get(i + 1) {
        Some(b'\n') => Some((i, off + i + 2)),
        Some(_) => Some((i, off + i + 1)),
        None => None,
    }
}

/// Where a chunked body starting at `data[0]` ends, tshark's way
/// (`req_resp_hdrs_do_reassembly`): chunk-size lines (extensions after `;`
/// ignored) and their data, then after the zero-size chunk exactly one more
/// line. `Err(true)`: more bytes needed; `Err(false)`: not a chunk size
/// (tshark stops desegmenting: the message ends where the bytes end).
fn chunked_end(data: &[u8]) -> Result<usize, bool> {
    let mut off = 0usize;
    loop {
        let (len, next) = line_at(data, off).ok_or(true)?;
        let line = &data[off..off + len];
        let line = line.split(|&b| b == b';').next().unwrap_or(line);
        let line = trim_start(line);
        let hex = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if hex == 0 {
            return Err(false);
        }
        // sscanf("%x") into 32 bits, then tshark refuses sizes over 2^31.
        let digits = line[..hex].iter().skip_while(|&&b| b == b'0').count();
        let size = if digits > 8 {
            return Err(false);
        } else {
            u64::from_str_radix(std::str::from_utf8(&line[..hex]).map_err(|_| false)?, 16)
                .map_err(|_| false)?
        };
        if size > 1 << 31 {
            return Err(false);
        }
        if size == 0 {
            let (_, after) = line_at(data, next).ok_or(true)?;
            return Ok(after);
        }
        let size = usize::try_from(size).map_err(|_| false)?;
        // tshark's test: more bytes after the size line's start than the
        // chunk's size, then the chunk and its CR LF are skipped.
        if data.len() - off <= size {
            return Err(true);
        }
        off = next + size + 2;
        if off > data.len() {
            return Err(true);
        }
    }
}

/// How a message at the start of `data` is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// The head (and the body its headers announce) ends at this offset.
    Whole(usize),
    /// The head or the body continues past `data`.
    Partial,
}

/// The length of the HTTP message at the start of `data`, as tshark's
/// `req_resp_hdrs_do_reassembly` desegments it (headers and body on):
/// the head up to its blank line, then a chunked body, a body of
/// `Content-Length` bytes (the last such header; a value that is not a
/// whole non-negative 32-bit number is ignored), nothing for a request
/// without either or a 1xx/204/304 response, and for any other response the
/// rest of the stream ([`PduLen::UntilFin`]). Not HTTP: a complete first line
/// that is not a request or status line, or a head not ended within
/// [`MAX_HEAD`] bytes.
pub(crate) fn message_len(data: &[u8]) -> PduLen {
    // Cheap rejection before looking for a line end (this runs on the first
    // payload of every TCP direction the desegmenter is asked to frame).
    if !could_start(data) {
        return PduLen::NotMine;
    }
    match first_line(data) {
        Some(_) if !looks_like_http(data) => return PduLen::NotMine,
        None if data.len() >= MAX_HEAD || !could_start(data) => return PduLen::NotMine,
        None => return PduLen::NeedMore,
        Some(_) => {}
    }
    let Some(end) = head_end(data) else {
        return if data.len() >= MAX_HEAD {
            PduLen::NotMine
        } else {
            PduLen::NeedMore
        };
    };
    let head = &data[..end];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start = lines.next().unwrap_or(&[]);
    let code = start
        .starts_with(b"HTTP/")
        .then(|| parse_u64(split_sp(start).1).unwrap_or(0));
    if let Some(c) = code
        && ((100..200).contains(&c) || c == 204 || c == 304)
    {
        return PduLen::Len(end);
    }
    let (mut chunked, mut length) = (false, None);
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let v = value.trim_ascii();
            if !v.is_empty()
                && v.iter().all(u8::is_ascii_digit)
                && let Some(n) = parse_u64(v).filter(|&n| n <= i32::MAX as u64)
            {
                length = usize::try_from(n).ok();
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let v = trim_start(value);
            chunked |= v.len() >= 7 && v[..7].eq_ignore_ascii_case(b"chunked");
        }
    }
    if chunked {
        return match chunked_end(&data[end..]) {
            Ok(n) => PduLen::Len(end + n),
            Err(true) => PduLen::NeedMore,
            // tshark stops desegmenting at a bad chunk size: the message
            // is what the bytes hold.
            Err(false) => PduLen::Len(data.len()),
        };
    }
    match (length, code) {
        (Some(n), _) => PduLen::Len(end.saturating_add(n)),
        (None, Some(_)) => PduLen::UntilFin,
        (None, None) => PduLen::Len(end),
    }
}

/// Could `data` (no line end yet) begin a request or status line? An
/// upper-case method token or `HTTP/`, as far as the bytes go.
fn could_start(data: &[u8]) -> bool {
    let n = data.len().min(5);
    if b"HTTP/"[..n] == data[..n] {
        return true;
    }
    // At most MAX_METHOD + 1 bytes are looked at: a longer run of
    // upper-case letters is no method (as in `looks_like_http`), and an
    // uncapped scan made a stream of them quadratic — every segment
    // rescanned the whole pending head.
    let token = data
        .iter()
        .take(MAX_METHOD + 1)
        .take_while(|b| b.is_ascii_uppercase() || **b == b'-' || **b == b'_')
        .count();
    token > 0 && token <= MAX_METHOD && (token == data.len() || data[token] == b' ')
}

/// Frame the message at the start of `data` (one segment, or the PDUs the
/// desegmenter completed): [`message_len`], where a body that runs to the
/// end of the stream ends with `data`.
pub(crate) fn framing(data: &[u8]) -> Framing {
    match message_len(data) {
        PduLen::Len(n) if n <= data.len() => Framing::Whole(n),
        PduLen::UntilFin => Framing::Whole(data.len()),
        _ => Framing::Partial,
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
            cx.add(ids.f.response, Value::Bool(true));
            let (ver, rest) = split_sp(start);
            let (code, phrase) = split_sp(rest);
            add_text(cx, ids.f.resp_version, ver);
            if let Some(c) = parse_u64(code).and_then(|c| u16::try_from(c).ok()) {
                cx.add(ids.f.code, Value::U64(u64::from(c)));
            }
            add_text(cx, ids.f.phrase, phrase);
        } else {
            cx.add(ids.f.request, Value::Bool(true));
            let (method, rest) = split_sp(start);
            let cut = rest.iter().rposition(|&b| b == b' ').unwrap_or(rest.len());
            uri = &rest[..cut];
            let ver = rest.get(cut + 1..).unwrap_or(&[]);
            add_text(cx, ids.f.method, method);
            add_text(cx, ids.f.uri, uri);
            add_text(cx, ids.f.req_version, ver);
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
                ids.f.host
            } else if name.eq_ignore_ascii_case(b"user-agent") {
                ids.f.user_agent
            } else if name.eq_ignore_ascii_case(b"referer") {
                ids.f.referer
            } else if name.eq_ignore_ascii_case(b"cookie") {
                ids.f.cookie
            } else if name.eq_ignore_ascii_case(b"authorization") {
                ids.f.authorization
            } else if name.eq_ignore_ascii_case(b"server") {
                ids.f.server
            } else if name.eq_ignore_ascii_case(b"content-type") {
                ids.f.content_type
            } else if name.eq_ignore_ascii_case(b"location") {
                ids.f.location
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                ids.f.transfer_encoding
            } else if name.eq_ignore_ascii_case(b"content-length") {
                if let Some(n) = parse_u64(value) {
                    cx.add(ids.f.content_length, Value::U64(n));
                }
                continue;
            } else {
                continue;
            };
            add_text(cx, f, value);
        }
        if let Some(h) = host.filter(|_| !is_response) {
            if uri.first() == Some(&b'/') {
                cx.add_str_with(ids.f.full_uri, |o| {
                    o.extend_from_slice(b"http://");
                    o.extend_from_slice(h);
                    o.extend_from_slice(uri);
                });
            } else if !uri.is_empty() {
                add_text(cx, ids.f.full_uri, uri);
            }
        }
        let body = msg.len() - end;
        if body > 0 {
            cx.add(ids.f.body_len, Value::U64(body as u64));
        }
    }
}

/// Did the snaplen cut this frame?
fn snaplen_cut(cx: &Ctx<'_>) -> bool {
    cx.meta().caplen < cx.meta().wirelen
}

impl Dissector for Http {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("http", "Hypertext Transfer Protocol", "HTTP")?;
        let ids = Ids {
            f: HttpFields::register(r)?,
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
    fn accepts(&self, data: &[u8], cx: &Ctx<'_>) -> bool {
        looks_like_http(data) && (matches!(framing(data), Framing::Whole(_)) || snaplen_cut(cx))
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
                _ if snaplen_cut(cx) => {
                    // The capture cut the message: its complete lines are
                    // shown (tshark does not desegment what was not
                    // captured).
                    let lines = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                    if lines > 0 {
                        self.message(&ids, &rest[..lines], cx);
                    }
                    cx.short();
                    off = data.len();
                    break;
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

    /// TCP desegmentation: one message (head and body) per PDU, framed as
    /// tshark frames it ([`message_len`]).
    fn pdu_len(&self, data: &[u8], _cx: &PduCx) -> PduLen {
        message_len(data)
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let start = usize::try_from(rec.offset).unwrap_or(usize::MAX);
        let Some(line) = view.bytes(layer).get(start..).and_then(first_line) else {
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
