//! SSH (RFC 4253) over TCP port 22: the version banner (`ssh.protocol`) and
//! the KEXINIT message — packet and padding length, message code, cookie, the
//! ten algorithm name-lists with their lengths, first-KEX-follows — under
//! tshark's field names.
//!
//! Framed for TCP desegmentation as tshark frames SSH before encryption
//! ([`ssh_pdu_len`]: the version line, then binary packets by length), so a
//! banner or KEXINIT spanning segments decodes at the segment completing
//! it. Other cleartext binary packets (the key exchange proper) are walked
//! but not decoded; bytes that cannot be a cleartext packet (everything
//! encrypted after NEWKEYS) are not framed and show as an `ssh` layer
//! without fields. Telling a cleartext KEX message from ciphertext exactly
//! needs per-connection state, which tshark keeps and pcapx does not: a
//! ciphertext segment whose first bytes happen to look like a packet header
//! (length ≤ 35000, a multiple of 8 with its length field, padding ≥ 4, a
//! message code 1–49; about 1 in 20 000) is held as one.

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{
    Ctx, Dissector, FieldId, Outcome, PduCx, PduLen, Registrar, RegistryError, Value,
};

use crate::net::wire::{be32, u8_at};

/// SSH_MSG_KEXINIT.
const KEXINIT: u8 = 20;
/// RFC 4253 §6.1: implementations must handle packets of 35000 bytes.
const MAX_PACKET: usize = 35_000;

pcapx_core::field_table! {
    struct Fields {
        protocol = ("ssh.protocol", "Protocol", Str, "The version banner, without CR LF"),
        packet_length = ("ssh.packet_length", "Packet Length", U32, "KEXINIT packets"),
        padding_length = ("ssh.padding_length", "Padding Length", U8, "KEXINIT packets"),
        message_code = ("ssh.message_code", "Message Code", U8, "20 KEXINIT (other messages are not decoded)"),
        cookie = ("ssh.cookie", "Cookie", Bytes, "KEXINIT random cookie"),
        kex_len = ("ssh.kex_algorithms_length", "kex_algorithms length", U32, ""),
        kex = ("ssh.kex_algorithms", "kex_algorithms string", Str, ""),
        hostkey_len = ("ssh.server_host_key_algorithms_length", "server_host_key_algorithms length", U32, ""),
        hostkey = ("ssh.server_host_key_algorithms", "server_host_key_algorithms string", Str, ""),
        enc_cs_len = ("ssh.encryption_algorithms_client_to_server_length", "encryption_algorithms_client_to_server length", U32, ""),
        enc_cs = ("ssh.encryption_algorithms_client_to_server", "encryption_algorithms_client_to_server string", Str, ""),
        enc_sc_len = ("ssh.encryption_algorithms_server_to_client_length", "encryption_algorithms_server_to_client length", U32, ""),
        enc_sc = ("ssh.encryption_algorithms_server_to_client", "encryption_algorithms_server_to_client string", Str, ""),
        mac_cs_len = ("ssh.mac_algorithms_client_to_server_length", "mac_algorithms_client_to_server length", U32, ""),
        mac_cs = ("ssh.mac_algorithms_client_to_server", "mac_algorithms_client_to_server string", Str, ""),
        mac_sc_len = ("ssh.mac_algorithms_server_to_client_length", "mac_algorithms_server_to_client length", U32, ""),
        mac_sc = ("ssh.mac_algorithms_server_to_client", "mac_algorithms_server_to_client string", Str, ""),
        comp_cs_len = ("ssh.compression_algorithms_client_to_server_length", "compression_algorithms_client_to_server length", U32, ""),
        comp_cs = ("ssh.compression_algorithms_client_to_server", "compression_algorithms_client_to_server string", Str, ""),
        comp_sc_len = ("ssh.compression_algorithms_server_to_client_length", "compression_algorithms_server_to_client length", U32, ""),
        comp_sc = ("ssh.compression_algorithms_server_to_client", "compression_algorithms_server_to_client string", Str, ""),
        lang_cs_len = ("ssh.languages_client_to_server_length", "languages_client_to_server length", U32, ""),
        lang_cs = ("ssh.languages_client_to_server", "languages_client_to_server string", Str, ""),
        lang_sc_len = ("ssh.languages_server_to_client_length", "languages_server_to_client length", U32, ""),
        lang_sc = ("ssh.languages_server_to_client", "languages_server_to_client string", Str, ""),
        first_kex_follows = ("ssh.first_kex_packet_follows", "First KEX Packet Follows", U8, ""),
        reserved = ("ssh.kex.reserved", "Reserved", Bytes, ""),
    }
}

/// How long the SSH PDU at the start of `data` is: the version line
/// (`SSH-…` up to its LF, at most 255 bytes), or a cleartext binary packet
/// (RFC 4253 §6: a length up to [`MAX_PACKET`], padding of at least 4 bytes,
/// a total that is a multiple of 8, a transport or key-exchange message
/// code). Anything else (ciphertext) is not framed.
pub(crate) fn ssh_pdu_len(data: &[u8]) -> PduLen {
    const LINE: usize = 255;
    let n = data.len().min(4);
    if data[..n] == b"SSH-"[..n] {
        return match data.iter().take(LINE).position(|&c| c == b'\n') {
            Some(i) => PduLen::Len(i + 1),
            None if data.len() < LINE => PduLen::NeedMore,
            None => PduLen::NotMine,
        };
    }
    let Some(plen) = be32(data, 0) else {
        // A length cut by the segment end: plausible only with a zero
        // high byte.
        return if data.first() == Some(&0) {
            PduLen::NeedMore
        } else {
            PduLen::NotMine
        };
    };
    let plen = usize::try_from(plen).unwrap_or(usize::MAX);
    if !(12..=MAX_PACKET).contains(&plen) || !(plen + 4).is_multiple_of(8) {
        return PduLen::NotMine;
    }
    match (u8_at(data, 4), u8_at(data, 5)) {
        (Some(pad), Some(code))
            if usize::from(pad) >= 4 && usize::from(pad) < plen && (1..=49).contains(&code) =>
        {
            PduLen::Len(4 + plen)
        }
        (Some(_), Some(_)) => PduLen::NotMine,
        _ => PduLen::NeedMore,
    }
}

/// SSH (`ssh`).
#[derive(Default)]
pub struct Ssh {
    f: Fields,
}

/// An SSH name-list: printable ASCII only (anything else is not a KEXINIT).
fn name_list(b: &[u8]) -> Option<&str> {
    b.iter()
        .all(|c| (0x20..0x7f).contains(c))
        .then(|| std::str::from_utf8(b).ok())
        .flatten()
}

impl Ssh {
    fn banner(&self, data: &[u8], cx: &mut Ctx<'_>) -> bool {
        if !data.starts_with(b"SSH-") {
            return false;
        }
        let line = data.split(|&c| c == b'\n').next().unwrap_or(data);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match name_list(line) {
            Some(s) => {
                cx.add(self.f.protocol, Value::Str(s));
                true
            }
            None => false,
        }
    }

    /// A whole KEXINIT packet at the start of `data`; `false` (nothing
    /// recorded) when it is not one or not all here.
    fn kexinit(&self, data: &[u8], cx: &mut Ctx<'_>) -> bool {
        let (Some(plen), Some(pad), Some(code)) = (be32(data, 0), u8_at(data, 4), u8_at(data, 5))
        else {
            return false;
        };
        let plen = usize::try_from(plen).unwrap_or(usize::MAX);
        if code != KEXINIT || plen > MAX_PACKET || plen < usize::from(pad) + 1 {
            return false;
        }
        // The whole packet, padding included, must be in this segment.
        if data.len() < 4 + plen {
            return false;
        }
        let Some(payload) = data.get(6..4 + plen - usize::from(pad)) else {
            return false;
        };
        // Parse first (cookie, ten name-lists, flag, reserved), record after.
        let Some(cookie) = payload.get(..16) else {
            return false;
        };
        let mut lists: [&str; 10] = [""; 10];
        let mut at = 16;
        for l in &mut lists {
            let Some(n) = be32(payload, at).and_then(|n| usize::try_from(n).ok()) else {
                return false;
            };
            let Some(s) = payload.get(at + 4..at + 4 + n).and_then(name_list) else {
                return false;
            };
            *l = s;
            at += 4 + n;
        }
        let (Some(follows), Some(reserved)) = (u8_at(payload, at), payload.get(at + 1..at + 5))
        else {
            return false;
        };
        let f = &self.f;
        cx.add(f.packet_length, Value::U64(plen as u64));
        cx.add(f.padding_length, Value::U64(u64::from(pad)));
        cx.add(f.message_code, Value::U64(u64::from(code)));
        cx.add(f.cookie, Value::Bytes(cookie));
        let ids: [(FieldId, FieldId); 10] = [
            (f.kex_len, f.kex),
            (f.hostkey_len, f.hostkey),
            (f.enc_cs_len, f.enc_cs),
            (f.enc_sc_len, f.enc_sc),
            (f.mac_cs_len, f.mac_cs),
            (f.mac_sc_len, f.mac_sc),
            (f.comp_cs_len, f.comp_cs),
            (f.comp_sc_len, f.comp_sc),
            (f.lang_cs_len, f.lang_cs),
            (f.lang_sc_len, f.lang_sc),
        ];
        for ((len_id, str_id), s) in ids.into_iter().zip(lists) {
            cx.add(len_id, Value::U64(s.len() as u64));
            if !s.is_empty() {
                cx.add(str_id, Value::Str(s));
            }
        }
        cx.add(f.first_kex_follows, Value::U64(u64::from(follows)));
        cx.add(f.reserved, Value::Bytes(reserved));
        true
    }
}

impl Dissector for Ssh {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("ssh", "SSH Protocol", "SSH")?;
        self.f = Fields::register(r)?;
        r.bind(tables::TCP_PORT, 22u64);
        Ok(())
    }

    /// TCP desegmentation, as tshark frames SSH before encryption: the
    /// version line, then binary packets by their length. Bytes that cannot
    /// be a cleartext packet (ciphertext after NEWKEYS) are not framed.
    fn pdu_len(&self, data: &[u8], _cx: &PduCx) -> PduLen {
        ssh_pdu_len(data)
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        // A banner, then (desegmented, or in the same segment) binary
        // packets: each whole cleartext one is walked, KEXINITs decoded.
        let mut off = 0;
        if self.banner(data, cx) {
            off = data
                .iter()
                .position(|&c| c == b'\n')
                .map_or(data.len(), |i| i + 1);
        }
        while let Some(rest) = data.get(off..).filter(|r| !r.is_empty()) {
            let Some(n) = be32(rest, 0)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n <= MAX_PACKET && n + 4 <= rest.len())
            else {
                break;
            };
            self.kexinit(&rest[..n + 4], cx);
            off += n + 4;
        }
        Outcome::end(data.len())
    }

    /// pcapx's own line (Scapy has no SSH layer by default): the banner, or
    /// `SSH KEXINIT`, or just `SSH` for other packets.
    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        if let Some(Value::Str(p)) = view.get(layer, "ssh.protocol") {
            out.push_str("SSH ");
            out.push_str(p);
            return true;
        }
        if view.get(layer, "ssh.message_code").is_some() {
            out.push_str("SSH KEXINIT");
            return true;
        }
        false
    }
}
