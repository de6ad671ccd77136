//! NetBIOS Datagram Service (RFC 1002 §4.4), UDP port 138: the datagram
//! header (type, flags, id, source address and port), the length and offset
//! and source/destination names of direct and broadcast datagrams, the error
//! code of error datagrams and the destination name of query datagrams.
//!
//! The user data is an SMB mailslot message on Windows LANs. pcapx has no
//! SMB dissector (no `smb.*` fields): an SMB1 message (`\xffSMB`) is taken
//! into the `nbdgm` layer, and its summary is Scapy's (2.6+, default
//! layers): `NBTDatagram / SMB_Header / Tran b'\\MAILSLOT\\BROWSE'
//! HostAnnouncement for b'NAME'` — Scapy's transaction request and its
//! browser (`BRWS`) message, found the way Scapy finds them (the data at
//! `DataBufferOffset`, `DataLen` bytes; `BRWS` only for `\MAILSLOT\BROWSE`,
//! other mailslots' data has an empty summary). Other user data stays
//! `data` (`NBTDatagram / Raw`).

use pcapx_core::dissector::PacketView;
use pcapx_core::keys::tables;
use pcapx_core::{Ctx, Dissector, Outcome, Registrar, RegistryError, Value};

use crate::transport::dns::py_bytes_repr;

use super::nbns::{read_name, write_tshark_name};
use crate::net::wire::{be16, ipv4, u8_at};

pcapx_core::field_table! {
    struct Fields {
        msg_type = ("nbdgm.type", "Message Type", U8,
            "16 direct unique, 17 direct group, 18 broadcast, 19 error, 20-22 query"),
        flags = ("nbdgm.flags", "Flags", U8, "").hex(),
        next = ("nbdgm.next", "More fragments follow", Bool, ""),
        first = ("nbdgm.first", "This is first fragment", Bool, ""),
        node_type = ("nbdgm.node_type", "Node Type", U8, "0 B, 1 P, 2 M, 3 NBDD"),
        dgram_id = ("nbdgm.dgram_id", "Datagram ID", U16, "").hex(),
        src_ip = ("nbdgm.src.ip", "Source IP", Ipv4, ""),
        src_port = ("nbdgm.src.port", "Source Port", U16, ""),
        dgram_len = ("nbdgm.dgram_len", "Datagram length", U16, "Bytes after the header's length field"),
        pkt_offset = ("nbdgm.pkt_offset", "Packet offset", U16, ""),
        error_code = ("nbdgm.error_code", "Error code", U8, "").hex(),
        source_name = ("nbdgm.source_name", "Source name", Str, "NAME<suffix>"),
        destination_name = ("nbdgm.destination_name", "Destination name", Str, "NAME<suffix>"),
    }
}

/// NetBIOS Datagram Service (`nbdgm`).
#[derive(Default)]
pub struct Nbdgm {
    f: Fields,
}

impl Nbdgm {
    /// Decode the header; returns its length, `None` when cut short.
    fn header(&self, d: &[u8], cx: &mut Ctx<'_>) -> Option<usize> {
        let f = &self.f;
        let t = u8_at(d, 0)?;
        cx.add(f.msg_type, Value::U64(u64::from(t)));
        let fl = u8_at(d, 1)?;
        cx.add(f.flags, Value::U64(u64::from(fl)));
        cx.add(f.next, Value::Bool(fl & 1 != 0));
        cx.add(f.first, Value::Bool(fl & 2 != 0));
        cx.add(f.node_type, Value::U64(u64::from((fl >> 2) & 3)));
        cx.add(f.dgram_id, Value::U64(u64::from(be16(d, 2)?)));
        cx.add(f.src_ip, Value::Ipv4(ipv4(d, 4)?));
        cx.add(f.src_port, Value::U64(u64::from(be16(d, 8)?)));
        match t {
            0x10..=0x12 => {
                cx.add(f.dgram_len, Value::U64(u64::from(be16(d, 10)?)));
                cx.add(f.pkt_offset, Value::U64(u64::from(be16(d, 12)?)));
                let end = self.name(d, 14, f.source_name, cx)?;
                self.name(d, end, f.destination_name, cx)
            }
            0x13 => {
                cx.add(f.error_code, Value::U64(u64::from(u8_at(d, 10)?)));
                Some(11)
            }
            0x14..=0x16 => self.name(d, 10, f.destination_name, cx),
            _ => Some(10),
        }
    }

    fn name(
        &self,
        d: &[u8],
        at: usize,
        id: pcapx_core::FieldId,
        cx: &mut Ctx<'_>,
    ) -> Option<usize> {
        let (n, end) = read_name(d, at)?;
        if let Some(n) = n {
            cx.add_str_with(id, |out| write_tshark_name(out, &n));
        }
        Some(end)
    }
}

impl Dissector for Nbdgm {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("nbdgm", "NetBIOS Datagram Service", "NBTDatagram")?;
        self.f = Fields::register(r)?;
        r.bind(tables::UDP_PORT, 138u64);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        match self.header(data, cx) {
            // An SMB message: part of this layer (no SMB dissector).
            Some(len) if data.get(len..).is_some_and(is_smb1) => Outcome::end(data.len()),
            Some(len) => Outcome::end(len.min(data.len())),
            None => {
                cx.short();
                Outcome::end(data.len())
            }
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let (Ok(start), Ok(len)) = (usize::try_from(rec.offset), usize::try_from(rec.header_len))
        else {
            return false;
        };
        let Some(d) = view.bytes(layer).get(start..start.saturating_add(len)) else {
            return false;
        };
        let Some(smb) = user_data(d).filter(|u| is_smb1(u)) else {
            return false;
        };
        out.push_str("NBTDatagram / ");
        scapy_smb(smb, out);
        true
    }
}

/// An SMB1 message with its whole 32-byte header (Scapy shows a shorter
/// one as `Raw`: its header fields fail to parse).
fn is_smb1(d: &[u8]) -> bool {
    d.len() >= 32 && d.starts_with(b"\xffSMB")
}

/// The user data of a direct or broadcast datagram.
fn user_data(d: &[u8]) -> Option<&[u8]> {
    if !(0x10..=0x12).contains(d.first()?) {
        return None;
    }
    let (_, end) = read_name(d, 14)?;
    let (_, end) = read_name(d, end)?;
    d.get(end..)
}

/// Little-endian 16-bit integer at `i`.
fn le16(d: &[u8], i: usize) -> Option<usize> {
    let b = d.get(i..i + 2)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

/// Scapy's summary of an SMB1 message (`SMB_Header / Tran …`).
fn scapy_smb(m: &[u8], out: &mut String) {
    out.push_str("SMB_Header");
    let (Some(&cmd), Some(&flags), Some(body)) = (m.get(4), m.get(9), m.get(32..)) else {
        return;
    };
    let Some(&wc) = body.first() else {
        return;
    };
    if cmd != 0x25 {
        out.push_str(" / Raw");
        return;
    }
    if flags & 0x80 != 0 && wc != 0x11 {
        out.push_str(" / SMBTransaction_Response");
        return;
    }
    // SMB_COM_TRANSACTION request (Scapy's SMBTransaction_Request or
    // SMBMailslot_Write): 31 bytes of words and ByteCount, the setup words,
    // the NUL-terminated name, then the buffer.
    let n = body.get(27).map_or(0, |&c| usize::from(c));
    let name_at = 31 + 2 * n;
    let Some(rest) = body.get(name_at..) else {
        out.push_str(" / Raw");
        return;
    };
    let (name, buffer) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    out.push_str(" / Tran ");
    py_bytes_repr(name, out);
    // The data: `DataLen` bytes at `DataBufferOffset` (from the SMB header)
    // within the buffer, when there are any.
    let base = 32 + name_at + name.len() + 1;
    let data = match (le16(body, 23), le16(body, 25)) {
        (Some(len), Some(off)) if off >= base => {
            let at = off - base;
            buffer.get(at.min(buffer.len())..at.saturating_add(len).min(buffer.len()))
        }
        _ => None,
    };
    let Some(data) = data.filter(|x| !x.is_empty()) else {
        return;
    };
    out.push(' ');
    if name == b"\\MAILSLOT\\BROWSE" {
        brws_summary(data, out);
    }
}

/// Scapy's `BRWS` summary: the opcode, and the server name of host and
/// local master announcements or the browser of BecomeBackup.
fn brws_summary(d: &[u8], out: &mut String) {
    let op = d[0];
    match op {
        0x01 => out.push_str("HostAnnouncement"),
        0x02 => out.push_str("AnnouncementRequest"),
        0x08 => out.push_str("RequestElection"),
        0x09 => out.push_str("GetBackupListRequest"),
        0x0a => out.push_str("GetBackupListResponse"),
        0x0b => out.push_str("BecomeBackup"),
        0x0c => out.push_str("DomainAnnouncement"),
        0x0d => out.push_str("MasterAnnouncement"),
        0x0e => out.push_str("ResetStateRequest"),
        0x0f => out.push_str("LocalMasterAnnouncement"),
        _ => {
            let _ = std::fmt::Write::write_fmt(out, format_args!("{op}"));
        }
    }
    match op {
        // ServerName: 16 bytes after OpCode, UpdateCount and Periodicity,
        // trailing NULs dropped.
        0x01 | 0x0f => {
            out.push_str(" for ");
            let name = d.get(6..d.len().min(22)).unwrap_or(&[]);
            let end = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            py_bytes_repr(&name[..end], out);
        }
        0x0b => {
            out.push_str(" from ");
            let rest = &d[1..];
            let name = rest
                .iter()
                .position(|&b| b == 0)
                .map_or(rest, |i| &rest[..i]);
            py_bytes_repr(name, out);
        }
        _ => {}
    }
}
