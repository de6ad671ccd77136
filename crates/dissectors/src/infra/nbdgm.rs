//! NetBIOS Datagram Service (RFC 1002 §4.4), UDP port 138: the datagram
//! header (type, flags, id, source address and port), the length and offset
//! and source/destination names of direct and broadcast datagrams, the error
//! code of error datagrams and the destination name of query datagrams.
//!
//! The user data (an SMB mailslot message on Windows LANs) is left to the
//! `data` layer: pcapx has no SMB dissector, so where Scapy prints
//! `NBTDatagram / SMB_Header / Tran …` pcapx prints `NBTDatagram / Raw`.

use pcapx_core::keys::tables;
use pcapx_core::{Ctx, Dissector, Outcome, Registrar, RegistryError, Value};

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
            Some(len) => Outcome::end(len.min(data.len())),
            None => {
                cx.short();
                Outcome::end(data.len())
            }
        }
    }
}
