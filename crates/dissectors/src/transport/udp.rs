//! UDP (RFC 768), `ip.proto` 17, dispatching on `udp.port`.

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{AnomalyId, Ctx, Dissector, Outcome, Registrar, RegistryError, Value};
use pcapx_core::{IpProto, keys::tables};

use super::{be16, len64};

const HDR: usize = 8;

pcapx_core::field_table! {
    struct Fields {
        srcport = ("udp.srcport", "Source Port", U16, "").alias("sport"),
        dstport = ("udp.dstport", "Destination Port", U16, "").alias("dport"),
        length = ("udp.length", "Length", U16, "Length of header and payload as declared"),
        checksum = ("udp.checksum", "Checksum", U16, "").hex(),
        payload_len = ("udp.payload_len", "Payload Length", U32,
            "pcapx: UDP length minus 8, as declared (the captured payload when the length is invalid)",
        ).alias("payload"),
        payload = ("udp.payload", "Payload", Bytes, ""),
        // Filled by a per-file pass outside the engine, like `tcp.stream`.
        stream = ("udp.stream", "Stream index", U32,
            "The UDP conversation's index in order of first appearance, numbered as tshark does",
        ),
    }
}

/// The UDP dissector.
pub struct Udp {
    f: Fields,
    bad_length: AnomalyId,
    port_table: TableId,
}

impl Udp {
    pub fn new() -> Udp {
        Udp {
            f: Fields::UNSET,
            bad_length: AnomalyId(u32::MAX),
            port_table: TableId(u32::MAX),
        }
    }
}

impl Default for Udp {
    fn default() -> Self {
        Self::new()
    }
}

impl Dissector for Udp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("udp", "User Datagram Protocol", "UDP")?;
        r.length_field("UDP length");
        self.f = Fields::register(r)?;
        self.bad_length = r.anomaly(
            "udp.bad-length",
            "the UDP length is below 8 or beyond the IP payload",
            false,
        )?;
        self.port_table = r.declare_table(tables::UDP_PORT);
        r.bind(tables::IP_PROTO, IpProto::UDP);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let fields = [
            self.f.srcport,
            self.f.dstport,
            self.f.length,
            self.f.checksum,
        ];
        let mut words = [0u16; 4];
        for (i, (&id, w)) in fields.iter().zip(words.iter_mut()).enumerate() {
            let Some(v) = be16(data, 2 * i) else {
                cx.short();
                return Outcome::end(data.len());
            };
            *w = v;
            cx.add(id, Value::U64(u64::from(v)));
        }
        let [sport, dport, length, _] = words;
        let length = usize::from(length);
        // What the IP layer says the datagram is; the captured bytes otherwise.
        let avail = cx.declared_len().unwrap_or(data.len());
        let payload_len = if length < HDR || length > avail {
            cx.anomaly(self.bad_length);
            cx.malformed();
            data.len().saturating_sub(HDR)
        } else {
            length - HDR
        };
        cx.add(self.f.payload_len, Value::U64(len64(payload_len)));
        super::transport_payload(
            cx,
            data,
            HDR,
            payload_len,
            self.f.payload,
            self.port_table,
            sport,
            dport,
        )
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some((sport, dport)) = super::summary_ports(view, layer, "udp.srcport", "udp.dstport")
        else {
            return false;
        };
        out.push_str("UDP ");
        super::write_endpoints(view, layer, out, sport, dport, true);
        true
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.layer(layer)
            .is_some_and(|l| l.quoted)
            .then_some("UDPerror")
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{anomalies, check_ip, ipv4, ipv6, run, truncations};

    const DGRAM: &[u8] = &[0x8d, 0x10, 0x1f, 0x40, 0x00, 0x0c, 0xab, 0xcd, 1, 2, 3, 4];

    #[test]
    fn fields_and_summary() {
        let pkt = ipv4(17, DGRAM);
        check_ip(
            &pkt,
            &[
                ("udp.srcport", "36112"),
                ("dport", "8000"),
                ("udp.length", "12"),
                ("udp.checksum", "43981"),
                ("udp.payload_len", "4"),
                ("payload", "4"),
                ("udp.payload", "01020304"),
                ("data.data", "01020304"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / UDP 10.0.0.1:36112 > 10.0.0.2:8000 / Raw"
        );
        let pkt6 = ipv6(17, DGRAM);
        let (eng, f) = run(&pkt6);
        assert_eq!(
            eng.summary_line(&f, &pkt6, false),
            "IPv6 / UDP 2001:db8::1:36112 > 2001:db8::2:8000 / Raw"
        );
    }

    #[test]
    fn a_header_cut_by_the_ip_total_length_says_so() {
        use pcapx_core::{Cut, Limit};
        // IPv4 total length 24: only 4 of the UDP header's 8 bytes belong to
        // the datagram, though the frame carries all 12.
        let mut pkt = ipv4(17, DGRAM);
        pkt[2..4].copy_from_slice(&24u16.to_be_bytes());
        let (eng, f) = run(&pkt);
        assert_eq!(anomalies(&f), ["malformed"]);
        let ip = eng.registry().proto_by_name("ip").unwrap();
        assert_eq!(
            f.anomalies()[0].cut,
            Some(Cut {
                at: 24,
                limit: Limit::Declared(ip)
            })
        );
        assert_eq!(eng.registry().length_name(ip), Some("IPv4 total length"));
    }

    #[test]
    fn short_length_is_declared_payload_and_rest_is_padding() {
        let mut d = DGRAM.to_vec();
        d[5] = 10; // two bytes of the IP payload are past the UDP datagram
        let pkt = ipv4(17, &d);
        check_ip(
            &pkt,
            &[
                ("udp.payload_len", "2"),
                ("data.data", "0102"),
                ("padding.data", "0304"),
            ],
        );
    }

    #[test]
    fn bad_lengths_fall_back_to_captured() {
        for bad in [3u8, 200] {
            let mut d = DGRAM.to_vec();
            d[5] = bad;
            let pkt = ipv4(17, &d);
            check_ip(
                &pkt,
                &[("udp.length", &bad.to_string()), ("udp.payload_len", "4")],
            );
            let (_, f) = run(&pkt);
            let names = anomalies(&f);
            assert!(names.iter().any(|n| n == "udp.bad-length"), "{names:?}");
        }
    }

    #[test]
    fn every_truncation() {
        truncations(
            17,
            DGRAM,
            8,
            &[
                (2, "udp.srcport"),
                (4, "udp.dstport"),
                (6, "udp.length"),
                (8, "udp.payload_len"),
            ],
        );
    }
}
