//! DHCPv6 (RFC 8415), UDP ports 546 and 547: client/server messages
//! (message type, transaction id) and relay messages (hop count, link and
//! peer address), with their options — DUIDs, identity associations and their
//! addresses/prefixes (nested options walked depth-first, as tshark lists
//! them), the option request list, DNS servers, elapsed time, status code —
//! and Relay Message options decoded as the message they carry.
//!
//! Summaries are Scapy's layer names, one per top-level option
//! (`DHCP6_Solicit / DHCP6OptClientId / DHCP6OptIA_NA / …`); the UDP layer
//! keeps its ports, since no DHCPv6 layer has a summary of its own in Scapy.

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{AnomalyId, Ctx, Dissector, Outcome, Registrar, RegistryError, Value};

use crate::net::wire::{be16, be32, ipv6, u8_at};

/// Nesting bound for options inside options (IA_NA → IAADDR → status) and
/// relay messages inside relay messages (RFC 8415 allows 32 relay hops).
const MAX_DEPTH: u8 = 34;

pcapx_core::field_table! {
    struct Fields {
        msgtype = ("dhcpv6.msgtype", "Message type", U8,
            "1 Solicit, 2 Advertise, 3 Request, 5 Renew, 7 Reply, 8 Release, 11 Information-request, 12/13 relay, …"),
        hopcount = ("dhcpv6.hopcount", "Hopcount", U8, "Relay messages: relay agents passed"),
        linkaddr = ("dhcpv6.linkaddr", "Link address", Ipv6, "Relay messages"),
        peeraddr = ("dhcpv6.peeraddr", "Peer address", Ipv6, "Relay messages"),
        xid = ("dhcpv6.xid", "Transaction ID", U32, "24-bit transaction id").hex_digits(6),
        option_type = ("dhcpv6.option.type", "Option", U16, "Type of each option, nested ones included"),
        option_length = ("dhcpv6.option.length", "Length", U16, "Length of each option"),
        duid_bytes = ("dhcpv6.duid.bytes", "DUID", Bytes, "Each DUID (client and server identifier)"),
        duid_type = ("dhcpv6.duid.type", "DUID Type", U16, "1 LLT, 2 EN, 3 LL, 4 UUID"),
        client_duid = ("dhcpv6.client_duid", "Client DUID", Bytes,
            "pcapx: the Client Identifier option's DUID (tshark shows it as one of dhcpv6.duid.bytes)"),
        iaid_t1 = ("dhcpv6.iaid.t1", "T1", U32, "IA_NA/IA_PD renewal time"),
        iaid_t2 = ("dhcpv6.iaid.t2", "T2", U32, "IA_NA/IA_PD rebinding time"),
        iaaddr_ip = ("dhcpv6.iaaddr.ip", "IPv6 address", Ipv6, "Each IA Address option's address"),
        iaaddr_pref = ("dhcpv6.iaaddr.pref_lifetime", "Preferred lifetime", U32, ""),
        iaaddr_valid = ("dhcpv6.iaaddr.valid_lifetime", "Valid lifetime", U32, ""),
        iaprefix_pref = ("dhcpv6.iaprefix.pref_lifetime", "Preferred lifetime", U32, ""),
        iaprefix_valid = ("dhcpv6.iaprefix.valid_lifetime", "Valid lifetime", U32, ""),
        iaprefix_len = ("dhcpv6.iaprefix.pref_len", "Prefix length", U8, ""),
        iaprefix_addr = ("dhcpv6.iaprefix.pref_addr", "Prefix address", Ipv6, ""),
        requested_option = ("dhcpv6.requested_option_code", "Requested Option code", U16,
            "Option request list, each code"),
        preference = ("dhcpv6.option_preference", "Pref-value", U8, "Preference option"),
        elapsed_time = ("dhcpv6.elapsed_time", "Elapsed time", U16, "Hundredths of a second"),
        status_code = ("dhcpv6.status_code", "Status Code", U16, ""),
        dns_server = ("dhcpv6.dns_server", "DNS server address", Ipv6, "Each DNS recursive name server"),
        vendorclass_enterprise = ("dhcpv6.vendorclass.enterprise", "Enterprise ID", U32,
            "Vendor Class option's enterprise number"),
    }
}

/// DHCPv6 (`dhcpv6`).
pub struct Dhcpv6 {
    f: Fields,
    bad_option: AnomalyId,
}

impl Default for Dhcpv6 {
    fn default() -> Self {
        Dhcpv6 {
            f: Fields::UNSET,
            bad_option: AnomalyId(u32::MAX),
        }
    }
}

const RELAY_FORW: u8 = 12;
const RELAY_REPL: u8 = 13;

impl Dhcpv6 {
    /// One message (the UDP payload, or a Relay Message option's body).
    /// `false`: cut short or an option overruns.
    fn message(&self, data: &[u8], depth: u8, cx: &mut Ctx<'_>) -> bool {
        let f = &self.f;
        let Some(t) = u8_at(data, 0) else {
            return false;
        };
        cx.add(f.msgtype, Value::U64(u64::from(t)));
        let opts_at = if t == RELAY_FORW || t == RELAY_REPL {
            let Some(h) = u8_at(data, 1) else {
                return false;
            };
            cx.add(f.hopcount, Value::U64(u64::from(h)));
            let (Some(l), Some(p)) = (ipv6(data, 2), ipv6(data, 18)) else {
                return false;
            };
            cx.add(f.linkaddr, Value::Ipv6(l));
            cx.add(f.peeraddr, Value::Ipv6(p));
            34
        } else {
            let Some(x) = be32(data, 0) else {
                return false;
            };
            cx.add(f.xid, Value::U64(u64::from(x & 0x00ff_ffff)));
            4
        };
        self.options(data.get(opts_at..).unwrap_or(&[]), depth, cx)
    }

    fn options(&self, mut opts: &[u8], depth: u8, cx: &mut Ctx<'_>) -> bool {
        if depth > MAX_DEPTH {
            cx.malformed();
            return true;
        }
        let f = &self.f;
        while !opts.is_empty() {
            let (Some(code), Some(len)) = (be16(opts, 0), be16(opts, 2)) else {
                return false;
            };
            cx.add(f.option_type, Value::U64(u64::from(code)));
            cx.add(f.option_length, Value::U64(u64::from(len)));
            let end = 4 + usize::from(len);
            let Some(body) = opts.get(4..end) else {
                return false;
            };
            if !self.option(code, body, depth, cx) {
                cx.anomaly(self.bad_option);
            }
            opts = &opts[end..];
        }
        true
    }

    /// One option's body; `false` when it is too short for its kind.
    fn option(&self, code: u16, b: &[u8], depth: u8, cx: &mut Ctx<'_>) -> bool {
        let f = &self.f;
        let u32_at = |cx: &mut Ctx<'_>, id, at| match be32(b, at) {
            Some(v) => {
                cx.add(id, Value::U64(u64::from(v)));
                true
            }
            None => false,
        };
        match code {
            // Client / Server Identifier: a DUID.
            1 | 2 => {
                cx.add(f.duid_bytes, Value::Bytes(b));
                if code == 1 {
                    cx.add(f.client_duid, Value::Bytes(b));
                }
                match be16(b, 0) {
                    Some(t) => {
                        cx.add(f.duid_type, Value::U64(u64::from(t)));
                        true
                    }
                    None => false,
                }
            }
            // IA_NA and IA_PD: IAID, T1, T2, options; IA_TA: IAID, options.
            3 | 25 => {
                if !(u32_at(cx, f.iaid_t1, 4) && u32_at(cx, f.iaid_t2, 8)) {
                    return false;
                }
                self.options(&b[12..], depth + 1, cx)
            }
            4 => b.get(4..).is_some_and(|o| self.options(o, depth + 1, cx)),
            5 => {
                let Some(a) = ipv6(b, 0) else { return false };
                cx.add(f.iaaddr_ip, Value::Ipv6(a));
                if !(u32_at(cx, f.iaaddr_pref, 16) && u32_at(cx, f.iaaddr_valid, 20)) {
                    return false;
                }
                self.options(&b[24..], depth + 1, cx)
            }
            26 => {
                if !(u32_at(cx, f.iaprefix_pref, 0) && u32_at(cx, f.iaprefix_valid, 4)) {
                    return false;
                }
                let (Some(l), Some(p)) = (u8_at(b, 8), ipv6(b, 9)) else {
                    return false;
                };
                cx.add(f.iaprefix_len, Value::U64(u64::from(l)));
                cx.add(f.iaprefix_addr, Value::Ipv6(p));
                self.options(&b[25..], depth + 1, cx)
            }
            6 => {
                for c in b.chunks_exact(2) {
                    if let Some(v) = be16(c, 0) {
                        cx.add(f.requested_option, Value::U64(u64::from(v)));
                    }
                }
                b.len().is_multiple_of(2)
            }
            7 => match b {
                [p] => {
                    cx.add(f.preference, Value::U64(u64::from(*p)));
                    true
                }
                _ => false,
            },
            8 => match (be16(b, 0), b.len()) {
                (Some(v), 2) => {
                    cx.add(f.elapsed_time, Value::U64(u64::from(v)));
                    true
                }
                _ => false,
            },
            9 => self.message(b, depth + 1, cx),
            13 => match be16(b, 0) {
                Some(v) => {
                    cx.add(f.status_code, Value::U64(u64::from(v)));
                    true
                }
                None => false,
            },
            16 => u32_at(cx, f.vendorclass_enterprise, 0),
            23 => {
                for c in b.chunks_exact(16) {
                    if let Some(a) = ipv6(c, 0) {
                        cx.add(f.dns_server, Value::Ipv6(a));
                    }
                }
                b.len().is_multiple_of(16)
            }
            _ => true,
        }
    }
}

impl Dissector for Dhcpv6 {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("dhcpv6", "DHCPv6", "DHCPv6")?;
        self.f = Fields::register(r)?;
        self.bad_option = r.anomaly(
            "dhcpv6.bad-option",
            "a DHCPv6 option is too short for its kind",
            false,
        )?;
        r.bind(tables::UDP_PORT, 546u64);
        r.bind(tables::UDP_PORT, 547u64);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        if !self.message(data, 0, cx) {
            cx.short();
        }
        Outcome::end(data.len())
    }

    fn write_layer_name(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        // The layer's header is the whole message (`Outcome::end(data.len())`).
        let start = usize::try_from(rec.offset).unwrap_or(usize::MAX);
        let len = usize::try_from(rec.header_len).unwrap_or(0);
        let Some(msg) = view.data.get(start..start.saturating_add(len)) else {
            return false;
        };
        // The bytes must be the ones dissected (a layer rebuilt from other
        // bytes, such as a reassembled datagram, is named by its protocol).
        let msgtype = view.get(layer, "dhcpv6.msgtype").and_then(|v| v.as_u64());
        if msg.first().map(|&t| u64::from(t)) != msgtype {
            return false;
        }
        scapy_names(msg, out);
        true
    }
}

/// Scapy's layers for a DHCPv6 message: the message class, then one class per
/// top-level option (options nested in IA options are fields there).
fn scapy_names(msg: &[u8], out: &mut String) {
    let Some(&t) = msg.first() else {
        out.push_str("Raw");
        return;
    };
    let Some(name) = scapy_msg(t) else {
        out.push_str("Raw");
        return;
    };
    out.push_str(name);
    let mut opts = msg
        .get(
            if t == RELAY_FORW || t == RELAY_REPL {
                34
            } else {
                4
            }..,
        )
        .unwrap_or(&[]);
    while let (Some(code), Some(len)) = (be16(opts, 0), be16(opts, 2)) {
        out.push_str(" / ");
        out.push_str(scapy_opt(code));
        let end = 4 + usize::from(len);
        match opts.get(end..) {
            Some(rest) => opts = rest,
            None => break,
        }
    }
}

/// Scapy's `dhcp6_cls_by_type`.
fn scapy_msg(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "DHCP6_Solicit",
        2 => "DHCP6_Advertise",
        3 => "DHCP6_Request",
        4 => "DHCP6_Confirm",
        5 => "DHCP6_Renew",
        6 => "DHCP6_Rebind",
        7 => "DHCP6_Reply",
        8 => "DHCP6_Release",
        9 => "DHCP6_Decline",
        10 => "DHCP6_Reconf",
        11 => "DHCP6_InfoRequest",
        12 => "DHCP6_RelayForward",
        13 => "DHCP6_RelayReply",
        36 => "DHCP6_AddrRegInform",
        37 => "DHCP6_AddrRegReply",
        _ => return None,
    })
}

/// Scapy's `dhcp6opts_by_code` (`DHCP6OptUnknown` otherwise).
fn scapy_opt(code: u16) -> &'static str {
    match code {
        1 => "DHCP6OptClientId",
        2 => "DHCP6OptServerId",
        3 => "DHCP6OptIA_NA",
        4 => "DHCP6OptIA_TA",
        5 => "DHCP6OptIAAddress",
        6 => "DHCP6OptOptReq",
        7 => "DHCP6OptPref",
        8 => "DHCP6OptElapsedTime",
        9 => "DHCP6OptRelayMsg",
        11 => "DHCP6OptAuth",
        12 => "DHCP6OptServerUnicast",
        13 => "DHCP6OptStatusCode",
        14 => "DHCP6OptRapidCommit",
        15 => "DHCP6OptUserClass",
        16 => "DHCP6OptVendorClass",
        17 => "DHCP6OptVendorSpecificInfo",
        18 => "DHCP6OptIfaceId",
        19 => "DHCP6OptReconfMsg",
        20 => "DHCP6OptReconfAccept",
        21 => "DHCP6OptSIPDomains",
        22 => "DHCP6OptSIPServers",
        23 => "DHCP6OptDNSServers",
        24 => "DHCP6OptDNSDomains",
        25 => "DHCP6OptIA_PD",
        26 => "DHCP6OptIAPrefix",
        27 => "DHCP6OptNISServers",
        28 => "DHCP6OptNISPServers",
        29 => "DHCP6OptNISDomain",
        30 => "DHCP6OptNISPDomain",
        31 => "DHCP6OptSNTPServers",
        32 => "DHCP6OptInfoRefreshTime",
        33 => "DHCP6OptBCMCSDomains",
        34 => "DHCP6OptBCMCSServers",
        37 => "DHCP6OptRemoteID",
        38 => "DHCP6OptSubscriberID",
        39 => "DHCP6OptClientFQDN",
        40 => "DHCP6OptPanaAuthAgent",
        41 => "DHCP6OptNewPOSIXTimeZone",
        42 => "DHCP6OptNewTZDBTimeZone",
        43 => "DHCP6OptRelayAgentERO",
        48 => "DHCP6OptLQClientLink",
        56 => "DHCP6OptNTPServer",
        59 => "DHCP6OptBootFileUrl",
        60 => "DHCP6OptBootFileParam",
        61 => "DHCP6OptClientArchType",
        62 => "DHCP6OptClientNetworkInterId",
        65 => "DHCP6OptERPDomain",
        66 => "DHCP6OptRelaySuppliedOpt",
        68 => "DHCP6OptVSS",
        79 => "DHCP6OptClientLinkLayerAddr",
        103 => "DHCP6OptCaptivePortal",
        112 => "DHCP6OptMudUrl",
        148 => "DHCP6OptAddrRegEnable",
        _ => "DHCP6OptUnknown",
    }
}
