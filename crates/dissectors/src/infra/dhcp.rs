//! DHCP / BOOTP over IPv4 (RFC 2131, RFC 2132), UDP ports 67 and 68.
//!
//! One layer, `dhcp`, as in Wireshark: the fixed 236-byte BOOTP header, the
//! magic cookie and the options. Field names and values are tshark's
//! (`dhcp.option.dhcp`, `dhcp.hw.mac_addr`, `dhcp.ip.client`, …), including
//! its quirk of showing the End option's `dhcp.option.type` as 0.
//!
//! Summaries follow Scapy, which splits the layer in two: `BOOTP`, then
//! `DHCP <Type>` when the magic cookie is there (the UDP ports are shown only
//! when DHCP has no message type, as Scapy does).
//!
//! Options are walked once, bounded by the UDP payload; an option whose length
//! runs past the data is `dhcp.bad-option` (plus `malformed`/`truncated`).

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{AnomalyId, Ctx, Dissector, Outcome, Registrar, RegistryError, Value};

use crate::net::wire::{be16, be32, ipv4, mac, u8_at};

/// Fixed BOOTP header length (before the magic cookie).
const HDR: usize = 236;
/// RFC 2131's magic cookie, 99.130.83.99.
const COOKIE: [u8; 4] = [99, 130, 83, 99];

pcapx_core::field_table! {
    struct Fields {
        bootp_type = ("dhcp.type", "Message type", U8, "1 Boot Request, 2 Boot Reply"),
        hw_type = ("dhcp.hw.type", "Hardware type", U8, "Hardware address type (1 = Ethernet)").hex(),
        hw_len = ("dhcp.hw.len", "Hardware address length", U8, ""),
        hops = ("dhcp.hops", "Hops", U8, ""),
        id = ("dhcp.id", "Transaction ID", U32, "").hex(),
        secs = ("dhcp.secs", "Seconds elapsed", U16, ""),
        flags = ("dhcp.flags", "Bootp flags", U16, "").hex(),
        flags_bc = ("dhcp.flags.bc", "Broadcast flag", Bool, ""),
        ip_client = ("dhcp.ip.client", "Client IP address", Ipv4, "ciaddr"),
        ip_your = ("dhcp.ip.your", "Your (client) IP address", Ipv4, "yiaddr"),
        ip_server = ("dhcp.ip.server", "Next server IP address", Ipv4, "siaddr"),
        ip_relay = ("dhcp.ip.relay", "Relay agent IP address", Ipv4, "giaddr"),
        hw_mac_addr = ("dhcp.hw.mac_addr", "Client MAC address", Mac,
            "chaddr, when the hardware type is Ethernet with 6-byte addresses"),
        hw_addr = ("dhcp.hw.addr", "Client hardware address", Bytes,
            "chaddr (hardware address length bytes) for other hardware types"),
        hw_addr_padding = ("dhcp.hw.addr_padding", "Client hardware address padding", Bytes,
            "The rest of the 16-byte chaddr field"),
        server = ("dhcp.server", "Server host name", Str, "sname, when given"),
        file = ("dhcp.file", "Boot file name", Str, "file, when given"),
        cookie = ("dhcp.cookie", "Magic cookie", Ipv4, "99.130.83.99 when options follow"),
        option_type = ("dhcp.option.type", "Option", U8,
            "Type of each option (tshark shows the End option as 0)"),
        option_length = ("dhcp.option.length", "Length", U8, "Length of each option (not Pad/End)"),
        msg_type = ("dhcp.option.dhcp", "DHCP", U8,
            "DHCP message type (option 53): 1 Discover, 2 Offer, 3 Request, 4 Decline, 5 ACK, 6 NAK, 7 Release, 8 Inform, 10-13 lease query"),
        subnet_mask = ("dhcp.option.subnet_mask", "Subnet Mask", Ipv4, "Option 1"),
        router = ("dhcp.option.router", "Router", Ipv4, "Option 3, each address"),
        dns = ("dhcp.option.domain_name_server", "Domain Name Server", Ipv4, "Option 6, each address"),
        hostname = ("dhcp.option.hostname", "Host Name", Str, "Option 12"),
        domain_name = ("dhcp.option.domain_name", "Domain Name", Str, "Option 15"),
        broadcast = ("dhcp.option.broadcast_address", "Broadcast Address", Ipv4, "Option 28"),
        requested_ip = ("dhcp.option.requested_ip_address", "Requested IP Address", Ipv4, "Option 50"),
        lease_time = ("dhcp.option.ip_address_lease_time", "IP Address Lease Time", U32,
            "Option 51, seconds"),
        server_id = ("dhcp.option.dhcp_server_id", "DHCP Server Identifier", Ipv4, "Option 54"),
        request_item = ("dhcp.option.request_list_item", "Parameter Request List Item", U8,
            "Option 55, each requested option"),
        message = ("dhcp.option.message", "Message", Str, "Option 56"),
        max_size = ("dhcp.option.dhcp_max_message_size", "Maximum DHCP Message Size", U16, "Option 57"),
        renewal = ("dhcp.option.renewal_time_value", "Renewal Time Value", U32, "Option 58, seconds"),
        rebinding = ("dhcp.option.rebinding_time_value", "Rebinding Time Value", U32,
            "Option 59, seconds"),
        vendor_class = ("dhcp.option.vendor_class_id", "Vendor class identifier", Str, "Option 60"),
        client_id_type = ("dhcp.client_id.type", "Type", U8,
            "Option 61's type when it is 0 (a name) or 255 (IAID and DUID)"),
        client_id_undef = ("dhcp.client_id.undef", "Client Identifier", Str,
            "Option 61 of type 0: the identifier as text"),
        client_id = ("dhcp.client_id", "Client Identifier", Bytes,
            "Option 61 after its hardware type byte, for hardware other than 6-byte Ethernet"),
        end = ("dhcp.option.end", "Option End", U8, "255 at the End option"),
    }
}

/// DHCP / BOOTP (`dhcp`).
pub struct Dhcp {
    f: Fields,
    bad_option: AnomalyId,
}

impl Default for Dhcp {
    fn default() -> Self {
        Dhcp {
            f: Fields::UNSET,
            bad_option: AnomalyId(u32::MAX),
        }
    }
}

/// Scapy's `DHCPTypes`, capitalised as its `DHCP.mysummary` prints them.
fn scapy_type(t: u8) -> &'static str {
    match t {
        1 => "Discover",
        2 => "Offer",
        3 => "Request",
        4 => "Decline",
        5 => "Ack",
        6 => "Nak",
        7 => "Release",
        8 => "Inform",
        9 => "Force_renew",
        10 => "Lease_query",
        11 => "Lease_unassigned",
        12 => "Lease_unknown",
        13 => "Lease_active",
        _ => "",
    }
}

/// A string option or header field as tshark shows it: up to the first NUL,
/// non-printable bytes as `\xhh`.
pub(crate) fn add_text(cx: &mut Ctx<'_>, id: pcapx_core::FieldId, b: &[u8]) {
    let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
    if b.iter().all(|c| (0x20..0x7f).contains(c)) {
        if let Ok(s) = std::str::from_utf8(b) {
            cx.add(id, Value::Str(s));
        }
        return;
    }
    cx.add_str_with(id, |out| {
        for &c in b {
            if (0x20..0x7f).contains(&c) {
                out.push(c);
            } else {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ]);
            }
        }
    });
}

impl Dhcp {
    fn header(&self, data: &[u8], cx: &mut Ctx<'_>) -> bool {
        let f = &self.f;
        for (id, at) in [
            (f.bootp_type, 0),
            (f.hw_type, 1),
            (f.hw_len, 2),
            (f.hops, 3),
        ] {
            match u8_at(data, at) {
                Some(v) => cx.add(id, Value::U64(u64::from(v))),
                None => return false,
            }
        }
        let Some(id) = be32(data, 4) else {
            return false;
        };
        cx.add(f.id, Value::U64(u64::from(id)));
        let (Some(secs), Some(flags)) = (be16(data, 8), be16(data, 10)) else {
            return false;
        };
        cx.add(f.secs, Value::U64(u64::from(secs)));
        cx.add(f.flags, Value::U64(u64::from(flags)));
        cx.add(f.flags_bc, Value::Bool(flags & 0x8000 != 0));
        for (id, at) in [
            (f.ip_client, 12),
            (f.ip_your, 16),
            (f.ip_server, 20),
            (f.ip_relay, 24),
        ] {
            match ipv4(data, at) {
                Some(a) => cx.add(id, Value::Ipv4(a)),
                None => return false,
            }
        }
        let Some(chaddr) = data.get(28..44) else {
            return false;
        };
        let (htype, hlen) = (data[1], usize::from(data[2]));
        if htype == 1 && hlen == 6 {
            if let Some(m) = mac(chaddr, 0) {
                cx.add(f.hw_mac_addr, Value::Mac(m));
            }
            cx.add(f.hw_addr_padding, Value::Bytes(&chaddr[6..]));
        } else if (1..=16).contains(&hlen) {
            cx.add(f.hw_addr, Value::Bytes(&chaddr[..hlen]));
            if hlen < 16 {
                cx.add(f.hw_addr_padding, Value::Bytes(&chaddr[hlen..]));
            }
        } else {
            cx.add(f.hw_addr, Value::Bytes(chaddr));
        }
        let (Some(sname), Some(file)) = (data.get(44..108), data.get(108..HDR)) else {
            return false;
        };
        for (id, b) in [(f.server, sname), (f.file, file)] {
            if b.first().is_some_and(|&c| c != 0) {
                add_text(cx, id, b);
            }
        }
        true
    }

    /// Walk the options after the cookie; returns `false` when one runs past
    /// the data.
    fn options(&self, mut opts: &[u8], cx: &mut Ctx<'_>) -> bool {
        let f = &self.f;
        while let Some((&code, rest)) = opts.split_first() {
            if code == 255 {
                cx.add(f.option_type, Value::U64(0));
                cx.add(f.end, Value::U64(255));
                return true;
            }
            cx.add(f.option_type, Value::U64(u64::from(code)));
            if code == 0 {
                opts = rest;
                continue;
            }
            let Some((&len, rest)) = rest.split_first() else {
                return false;
            };
            cx.add(f.option_length, Value::U64(u64::from(len)));
            let Some(body) = rest.get(..usize::from(len)) else {
                return false;
            };
            self.option(code, body, cx);
            opts = &rest[usize::from(len)..];
        }
        true
    }

    fn option(&self, code: u8, b: &[u8], cx: &mut Ctx<'_>) {
        let f = &self.f;
        let one_ip = |id| ipv4(b, 0).filter(|_| b.len() == 4).map(|a| (id, a));
        let ip_list = |cx: &mut Ctx<'_>, id| {
            if b.len().is_multiple_of(4) {
                for c in b.chunks_exact(4) {
                    if let Some(a) = ipv4(c, 0) {
                        cx.add(id, Value::Ipv4(a));
                    }
                }
            }
        };
        let u32_opt = |id| be32(b, 0).filter(|_| b.len() == 4).map(|v| (id, v));
        match code {
            1 | 28 | 50 | 54 => {
                let id = match code {
                    1 => f.subnet_mask,
                    28 => f.broadcast,
                    50 => f.requested_ip,
                    _ => f.server_id,
                };
                if let Some((id, a)) = one_ip(id) {
                    cx.add(id, Value::Ipv4(a));
                }
            }
            3 => ip_list(cx, f.router),
            6 => ip_list(cx, f.dns),
            12 => add_text(cx, f.hostname, b),
            15 => add_text(cx, f.domain_name, b),
            56 => add_text(cx, f.message, b),
            60 => add_text(cx, f.vendor_class, b),
            51 | 58 | 59 => {
                let id = match code {
                    51 => f.lease_time,
                    58 => f.renewal,
                    _ => f.rebinding,
                };
                if let Some((id, v)) = u32_opt(id) {
                    cx.add(id, Value::U64(u64::from(v)));
                }
            }
            53 => {
                if let [t] = b {
                    cx.add(f.msg_type, Value::U64(u64::from(*t)));
                }
            }
            55 => {
                for &item in b {
                    cx.add(f.request_item, Value::U64(u64::from(item)));
                }
            }
            57 => {
                if let (Some(v), 2) = (be16(b, 0), b.len()) {
                    cx.add(f.max_size, Value::U64(u64::from(v)));
                }
            }
            61 => {
                // Type 1 with a 6-byte address: tshark shows the hardware type
                // and MAC again (dhcp.hw.type, dhcp.hw.mac_addr); other types
                // as the raw identifier.
                match b.split_first() {
                    Some((&1, id)) if id.len() == 6 => {
                        cx.add(f.hw_type, Value::U64(1));
                        if let Some(m) = mac(id, 0) {
                            cx.add(f.hw_mac_addr, Value::Mac(m));
                        }
                    }
                    Some((&t, id)) if t == 0 || t == 255 => {
                        cx.add(f.client_id_type, Value::U64(u64::from(t)));
                        if t == 0 {
                            add_text(cx, f.client_id_undef, id);
                        }
                    }
                    Some((&t, id)) => {
                        cx.add(f.hw_type, Value::U64(u64::from(t)));
                        cx.add(f.client_id, Value::Bytes(id));
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }
}

impl Dissector for Dhcp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("dhcp", "Dynamic Host Configuration Protocol", "BOOTP")?;
        self.f = Fields::register(r)?;
        self.bad_option = r.anomaly(
            "dhcp.bad-option",
            "a DHCP option's length runs past the end of the message",
            false,
        )?;
        r.bind(tables::UDP_PORT, 67u64);
        r.bind(tables::UDP_PORT, 68u64);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        if !self.header(data, cx) {
            cx.short();
            return Outcome::end(data.len());
        }
        match ipv4(data, HDR) {
            Some(c) if c == COOKIE => {
                cx.add(self.f.cookie, Value::Ipv4(c));
                let opts = data.get(HDR + 4..).unwrap_or(&[]);
                if !self.options(opts, cx) {
                    cx.anomaly(self.bad_option);
                    cx.short();
                }
            }
            // No cookie: a plain BOOTP message whose vendor area tshark
            // leaves undecoded.
            _ => {}
        }
        Outcome::end(data.len())
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        if !has_cookie(view, layer) {
            return false;
        }
        match view.get(layer, "dhcp.option.dhcp").and_then(|v| v.as_u64()) {
            Some(t) => {
                out.push_str("BOOTP / DHCP ");
                out.push_str(scapy_type(u8::try_from(t).unwrap_or(0)));
                true
            }
            None => false,
        }
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        has_cookie(view, layer).then_some("BOOTP / DHCP")
    }
}

/// Scapy decodes a `DHCP` layer after BOOTP when the options start with the cookie.
fn has_cookie(view: &PacketView<'_>, layer: usize) -> bool {
    matches!(view.get(layer, "dhcp.cookie"), Some(Value::Ipv4(c)) if c == COOKIE)
}
