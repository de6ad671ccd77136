//! NetBIOS Name Service (RFC 1002), UDP port 137: header, flags, the
//! question and resource records with their first-level-encoded NetBIOS names
//! (`NAME<suffix>`, as tshark shows them), TTL and NB records (flags, address).
//!
//! Summaries follow Scapy's `NBNSHeader` and the layer it picks from the
//! header (`NBNSQueryRequest who has '\\NAME'`, `Register Unique name b'NAME'
//! at 10.0.0.1`, `NBNSQueryResponse '\\NAME' is at 10.0.0.1`).

use std::fmt::Write as _;

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{Ctx, Dissector, Outcome, Registrar, RegistryError, Value};

use crate::net::wire::{be16, be32, ipv4};

const HDR: usize = 12;

pcapx_core::field_table! {
    struct Fields {
        id = ("nbns.id", "Transaction ID", U16, "").hex(),
        flags = ("nbns.flags", "Flags", U16, "").hex(),
        response = ("nbns.flags.response", "Response", Bool, ""),
        opcode = ("nbns.flags.opcode", "Opcode", U16, "0 query, 5 registration, 6 release, 7 WACK, 8 refresh"),
        authoritative = ("nbns.flags.authoritative", "Authoritative", Bool, "Responses only"),
        truncated = ("nbns.flags.truncated", "Truncated", Bool, ""),
        recdesired = ("nbns.flags.recdesired", "Recursion desired", Bool, ""),
        recavail = ("nbns.flags.recavail", "Recursion available", Bool, "Responses only"),
        broadcast = ("nbns.flags.broadcast", "Broadcast", Bool, ""),
        rcode = ("nbns.flags.rcode", "Reply code", U16, "Responses only"),
        count_queries = ("nbns.count.queries", "Questions", U16, ""),
        count_answers = ("nbns.count.answers", "Answer RRs", U16, ""),
        count_auth_rr = ("nbns.count.auth_rr", "Authority RRs", U16, ""),
        count_add_rr = ("nbns.count.add_rr", "Additional RRs", U16, ""),
        name = ("nbns.name", "Name", Str,
            "Each name: NAME<suffix> (non-printable bytes as <xx>), records also '(service)'"),
        rtype = ("nbns.type", "Type", U16, "32 NB, 33 NBSTAT"),
        class = ("nbns.class", "Class", U16, ""),
        ttl = ("nbns.ttl", "Time to live", U32, ""),
        data_length = ("nbns.data_length", "Data length", U16, ""),
        nb_flags = ("nbns.nb_flags", "Name flags", U16, "NB record flags").hex(),
        nb_group = ("nbns.nb_flags.group", "Name type", Bool, "Group name (not unique)"),
        nb_ont = ("nbns.nb_flags.ont", "ONT", U16, "Owner node type: 0 B, 1 P, 2 M, 3 H"),
        addr = ("nbns.addr", "Addr", Ipv4, "NB record address"),
    }
}

/// NetBIOS Name Service (`nbns`).
#[derive(Default)]
pub struct Nbns {
    f: Fields,
}

/// A decoded first-level NetBIOS name: 15 name bytes and the suffix byte.
#[derive(Clone, Copy)]
pub(crate) struct NbName {
    pub(crate) bytes: [u8; 16],
}

impl NbName {
    /// The name without trailing spaces (the suffix excluded).
    pub(crate) fn name(&self) -> &[u8] {
        let n = &self.bytes[..15];
        let end = n.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        &n[..end]
    }
    pub(crate) fn suffix(&self) -> u8 {
        self.bytes[15]
    }
}

/// Read the name at `at` in `msg` (following one compression pointer that
/// points backwards). Returns the name and the offset after it at `at`.
pub(crate) fn read_name(msg: &[u8], at: usize) -> Option<(Option<NbName>, usize)> {
    let len = *msg.get(at)?;
    if len & 0xc0 == 0xc0 {
        let ptr = usize::from(u16::from_be_bytes([len & 0x3f, *msg.get(at + 1)?]));
        if ptr >= at {
            return Some((None, at + 2));
        }
        let (n, _) = read_name(msg, ptr).filter(|(n, _)| n.is_some())?;
        return Some((n, at + 2));
    }
    // The first label (the encoded name), then scope labels up to the root.
    let first = msg.get(at + 1..at + 1 + usize::from(len))?;
    let mut end = at + 1 + usize::from(len);
    let mut labels = 0;
    loop {
        let l = *msg.get(end)?;
        end += 1;
        if l == 0 {
            break;
        }
        if l & 0xc0 != 0 || labels > 64 {
            return None;
        }
        end += usize::from(l);
        labels += 1;
    }
    let name = (first.len() == 32).then(|| {
        let mut bytes = [0u8; 16];
        for (b, pair) in bytes.iter_mut().zip(first.chunks_exact(2)) {
            *b = (pair[0].wrapping_sub(b'A') << 4) | (pair[1].wrapping_sub(b'A') & 0x0f);
        }
        NbName { bytes }
    });
    Some((name, end))
}

/// Wireshark's descriptions of the name suffixes (`netbios_name_type_descr`).
fn suffix_descr(s: u8) -> &'static str {
    match s {
        0x00 | 0x02 => "Workstation/Redirector",
        0x01 => "Browser",
        0x03 => "Messenger service/Main name",
        0x05 => "Forwarded name",
        0x06 => "RAS Server service",
        0x1b => "Domain Master Browser",
        0x1c => "Domain Controllers",
        0x1d => "Local Master Browser",
        0x1e => "Browser Election Service",
        0x1f => "Net DDE Service",
        0x20 => "Server service",
        0x21 => "RAS client service",
        0x22 => "Exchange Interchange (MSMail Connector)",
        0x23 => "Exchange Store",
        0x24 => "Exchange Directory",
        0x2b => "Lotus Notes Server service",
        0x30 => "Modem sharing server service",
        0x31 => "Modem sharing client service",
        0x43 => "SMS Clients Remote Control",
        0x44 => "SMS Administrators Remote Control Tool",
        0x45 => "SMS Clients Remote Chat",
        0x46 => "SMS Clients Remote Transfer",
        0x4c | 0x52 => "DEC Pathworks TCP/IP Service on Windows NT",
        0x6a => "Microsoft Exchange IMC",
        0x87 => "Microsoft Exchange MTA",
        0xbe => "Network Monitor Agent",
        0xbf => "Network Monitor Analyzer",
        _ => "Unknown",
    }
}

/// tshark's rendering: printable bytes as is, others as `<xx>`, then `<suffix>`.
pub(crate) fn write_tshark_name(out: &mut Vec<u8>, n: &NbName) {
    for &c in n.name() {
        if (0x20..0x7f).contains(&c) {
            out.push(c);
        } else {
            let _ = push_fmt(out, format_args!("<{c:02x}>"));
        }
    }
    let _ = push_fmt(out, format_args!("<{:02x}>", n.suffix()));
}

fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) -> std::fmt::Result {
    struct W<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    W(out).write_fmt(args)
}

impl Nbns {
    fn header(&self, d: &[u8], cx: &mut Ctx<'_>) -> Option<[u16; 4]> {
        let f = &self.f;
        let id = be16(d, 0)?;
        cx.add(f.id, Value::U64(u64::from(id)));
        let fl = be16(d, 2)?;
        let bit = |m: u16| Value::Bool(fl & m != 0);
        let response = fl & 0x8000 != 0;
        cx.add(f.flags, Value::U64(u64::from(fl)));
        cx.add(f.response, bit(0x8000));
        cx.add(f.opcode, Value::U64(u64::from((fl >> 11) & 0xf)));
        if response {
            cx.add(f.authoritative, bit(0x0400));
        }
        cx.add(f.truncated, bit(0x0200));
        cx.add(f.recdesired, bit(0x0100));
        if response {
            cx.add(f.recavail, bit(0x0080));
        }
        cx.add(f.broadcast, bit(0x0010));
        if response {
            cx.add(f.rcode, Value::U64(u64::from(fl & 0xf)));
        }
        let mut counts = [0u16; 4];
        for (i, (c, id)) in counts
            .iter_mut()
            .zip([
                f.count_queries,
                f.count_answers,
                f.count_auth_rr,
                f.count_add_rr,
            ])
            .enumerate()
        {
            *c = be16(d, 4 + 2 * i)?;
            cx.add(id, Value::U64(u64::from(*c)));
        }
        Some(counts)
    }

    fn add_name(&self, cx: &mut Ctx<'_>, n: &NbName, record: bool) {
        cx.add_str_with(self.f.name, |out| {
            write_tshark_name(out, n);
            if record {
                out.extend_from_slice(b" (");
                out.extend_from_slice(suffix_descr(n.suffix()).as_bytes());
                out.push(b')');
            }
        });
    }

    /// Questions then records; `None` when cut short.
    fn body(&self, d: &[u8], counts: [u16; 4], cx: &mut Ctx<'_>) -> Option<()> {
        let f = &self.f;
        let mut at = HDR;
        for _ in 0..counts[0] {
            let (n, end) = read_name(d, at)?;
            if let Some(n) = n {
                self.add_name(cx, &n, false);
            }
            let (t, c) = (be16(d, end)?, be16(d, end + 2)?);
            cx.add(f.rtype, Value::U64(u64::from(t)));
            cx.add(f.class, Value::U64(u64::from(c)));
            at = end + 4;
        }
        let records = u32::from(counts[1]) + u32::from(counts[2]) + u32::from(counts[3]);
        for _ in 0..records {
            let (n, end) = read_name(d, at)?;
            if let Some(n) = n {
                self.add_name(cx, &n, true);
            }
            let (t, c) = (be16(d, end)?, be16(d, end + 2)?);
            cx.add(f.rtype, Value::U64(u64::from(t)));
            cx.add(f.class, Value::U64(u64::from(c)));
            let ttl = be32(d, end + 4)?;
            cx.add(f.ttl, Value::U64(u64::from(ttl)));
            let rdlen = be16(d, end + 8)?;
            cx.add(f.data_length, Value::U64(u64::from(rdlen)));
            let rdata = d.get(end + 10..end + 10 + usize::from(rdlen))?;
            if t == 32 {
                for e in rdata.chunks_exact(6) {
                    let (Some(fl), Some(a)) = (be16(e, 0), ipv4(e, 2)) else {
                        continue;
                    };
                    cx.add(f.nb_flags, Value::U64(u64::from(fl)));
                    cx.add(f.nb_group, Value::Bool(fl & 0x8000 != 0));
                    cx.add(f.nb_ont, Value::U64(u64::from((fl >> 13) & 3)));
                    cx.add(f.addr, Value::Ipv4(a));
                }
            }
            at = end + 10 + usize::from(rdlen);
        }
        Some(())
    }
}

impl Dissector for Nbns {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("nbns", "NetBIOS Name Service", "NBNSHeader")?;
        self.f = Fields::register(r)?;
        r.bind(tables::UDP_PORT, 137u64);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        match self.header(data, cx) {
            Some(counts) if self.body(data, counts, cx).is_some() => {}
            _ => cx.short(),
        }
        Outcome::end(data.len())
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(d) = layer_bytes(view, layer) else {
            return false;
        };
        scapy_summary(d, out)
    }

    fn write_layer_name(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(d) = layer_bytes(view, layer) else {
            return false;
        };
        // Scapy cannot build its 12-byte NBNSHeader from fewer bytes and
        // shows them as Raw.
        if d.len() < HDR {
            out.push_str("Raw");
            return true;
        }
        out.push_str("NBNSHeader");
        match scapy_layer(d) {
            Some(ScapyLayer::Wack) => out.push_str(" / NBNSWackResponse"),
            Some(_) => {}
            None if d.len() > HDR => out.push_str(" / Raw"),
            None => {}
        }
        true
    }
}

/// The layer's own bytes (the whole message), when they are what was dissected.
fn layer_bytes<'a>(view: &PacketView<'a>, layer: usize) -> Option<&'a [u8]> {
    let rec = view.layer(layer)?;
    let start = usize::try_from(rec.offset).ok()?;
    let len = usize::try_from(rec.header_len).ok()?;
    let d = view.data.get(start..start.checked_add(len)?)?;
    let id = view.get(layer, "nbns.id").and_then(|v| v.as_u64());
    (be16(d, 0).map(u64::from) == id).then_some(d)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScapyLayer {
    QueryRequest,
    QueryResponse,
    NodeStatusRequest,
    Registration,
    Wack,
}

/// The layer Scapy's `NBNSHeader.guess_payload_class` picks (its bindings on
/// OPCODE, NM_FLAGS, RESPONSE and the counts).
fn scapy_layer(d: &[u8]) -> Option<ScapyLayer> {
    let fl = be16(d, 2)?;
    let (qd, an) = (be16(d, 4)?, be16(d, 6)?);
    let response = fl >> 15;
    let opcode = (fl >> 11) & 0xf;
    let nm = (fl >> 4) & 0x7f;
    if d.len() <= HDR {
        return None;
    }
    Some(match (opcode, nm) {
        (0, 0x11) if qd == 1 => ScapyLayer::QueryRequest,
        (0, 0x50 | 0x58 | 0x70 | 0x78) if response == 1 && an == 1 => ScapyLayer::QueryResponse,
        (0, 0 | 1) if qd == 1 => ScapyLayer::NodeStatusRequest,
        (5, _) => ScapyLayer::Registration,
        (7, 0x40) if response == 1 && an == 1 => ScapyLayer::Wack,
        _ => return None,
    })
}

/// Scapy's `NetBIOSNameField` at `at`: 15 decoded bytes, trailing spaces cut.
fn scapy_name(d: &[u8], at: usize) -> Option<NbName> {
    let enc = d.get(at + 1..at + 33)?;
    let mut bytes = [0u8; 16];
    for (b, p) in bytes.iter_mut().zip(enc.chunks_exact(2)) {
        *b = ((p[0].wrapping_sub(1) & 0xf) << 4) | (p[1].wrapping_sub(1) & 0xf);
    }
    Some(NbName { bytes })
}

/// Python's `bytes.decode(errors="backslashreplace")` for ASCII-or-not bytes.
fn push_backslashreplace(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => {
            for &c in b {
                if c.is_ascii() {
                    out.push(char::from(c));
                } else {
                    let _ = write!(out, "\\x{c:02x}");
                }
            }
        }
    }
}

fn scapy_summary(d: &[u8], out: &mut String) -> bool {
    let Some(layer) = scapy_layer(d) else {
        return false;
    };
    let Some(name) = scapy_name(d, HDR) else {
        return false;
    };
    match layer {
        ScapyLayer::QueryRequest | ScapyLayer::NodeStatusRequest => {
            out.push_str(if layer == ScapyLayer::QueryRequest {
                "NBNSHeader / NBNSQueryRequest who has '\\\\"
            } else {
                "NBNSHeader / NBNSNodeStatusRequest who has '\\\\"
            });
            push_backslashreplace(out, name.name());
            out.push('\'');
        }
        ScapyLayer::QueryResponse => {
            out.push_str("NBNSHeader / NBNSQueryResponse");
            // RR_NAME (34 bytes), NULL, type, class, TTL, RDLENGTH, then
            // the first address entry (flags, address).
            if let Some(a) = ipv4(d, HDR + 34 + 12) {
                out.push_str(" '\\\\");
                push_backslashreplace(out, name.name());
                let _ = write!(out, "' is at {}.{}.{}.{}", a[0], a[1], a[2], a[3]);
            }
        }
        ScapyLayer::Registration => {
            // QUESTION_NAME 34 bytes, type, class, RR_NAME pointer, RR type,
            // class, TTL, RDLENGTH, then G (bit 15) and the address.
            let at = HDR + 34 + 4 + 2 + 4 + 4 + 2;
            let (Some(fl), Some(a)) = (be16(d, at), ipv4(d, at + 2)) else {
                return false;
            };
            out.push_str("NBNSHeader / Register ");
            out.push_str(if fl & 0x8000 != 0 {
                "Group name"
            } else {
                "Unique name"
            });
            out.push(' ');
            crate::transport::dns::py_bytes_repr(name.name(), out);
            let _ = write!(out, " at {}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        ScapyLayer::Wack => return false,
    }
    true
}
