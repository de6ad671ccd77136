//! Shared helpers of the fuzz targets: a byte-driven reader of the fuzzer's
//! input and the built-in engine.

use std::sync::OnceLock;

use pcapx_core::Engine;

/// Reads choices from the fuzzer's bytes; zeros once they run out.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data }
    }
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    /// One of `n` choices (`n > 0`).
    pub fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Everything not consumed yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// The engine with every built-in dissector (built once per process).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        pcapx_dissectors::builder()
            .expect("built-in dissectors register")
            .build()
            .expect("built-in dispatch tables are declared")
    })
}

/// Link types the engine or the filter compiler handle, plus an unknown one.
pub const LINKTYPES: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

/// Application-layer targets (`tls`, `http`, `quic`): the first byte picks
/// the server port from `ports` (or, past the list, a random one from the
/// next two bytes), the second whether the snaplen cut the frame; the rest is
/// the TCP (`udp == false`) or UDP payload, sent in a raw IPv4 frame
/// (LINKTYPE_IPV4) to the engine. Every field is materialised and
/// formatted, and the summary line built. Over TCP the payload is also
/// framed as a stream (`pdu_len`, as TCP desegmentation does) and dissected
/// again as reassembled PDUs.
pub fn app_target(data: &[u8], udp: bool, ports: &[u16]) {
    use pcapx_core::{PacketMeta, Wanted};
    use std::fmt::Write;
    let mut b = Bytes::new(data);
    let i = b.pick(ports.len() + 1);
    let port = ports.get(i).copied().unwrap_or_else(|| b.u16());
    let cut = b.byte();
    let payload = b.rest();
    let mut frame = Vec::with_capacity(48 + payload.len());
    let l4 = if udp { 8 } else { 20 };
    let total = u16::try_from(20 + l4 + payload.len()).unwrap_or(u16::MAX);
    frame.extend_from_slice(&[
        0x45,
        0,
        0,
        0,
        0,
        1,
        0x40,
        0,
        64,
        if udp { 17 } else { 6 },
        0,
        0,
    ]);
    frame[2..4].copy_from_slice(&total.to_be_bytes());
    frame.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    frame.extend_from_slice(&40000u16.to_be_bytes());
    frame.extend_from_slice(&port.to_be_bytes());
    if udp {
        let len = u16::try_from(8 + payload.len()).unwrap_or(u16::MAX);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
    } else {
        frame.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    }
    frame.extend_from_slice(payload);
    let engine = engine();
    let mut fields = engine.new_fields(Wanted::All);
    let caplen = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let meta = PacketMeta {
        number: 1,
        ts_ns: 0,
        caplen,
        wirelen: caplen.saturating_add(u32::from(cut & 0x0f)),
        linktype: 228,
        interface: 0,
        comment: None,
    };
    engine.dissect(&meta, &frame, &mut fields);
    let mut out = engine.summary_line(&fields, &frame, false);
    let reg = engine.registry();
    for e in fields.entries() {
        let _ = write!(out, " {}=", reg.field(e.field).name);
        let _ = fields.value(e).write_plain(&mut out);
    }
    std::hint::black_box(&out);
    if udp {
        // The datagram states of the stateful pass (QUIC connections): the
        // payload as a client datagram, again from the server, then its two
        // halves, each dissected with what its state wrote.
        use pcapx_core::{DatagramCx, Reassembled};
        let mut states = engine.datagram_states();
        let half = payload.len() / 2;
        let (a, b) = ([10u8; 16], [20u8; 16]);
        let mut side_bytes = Vec::new();
        for (k, d) in [payload, payload, &payload[..half], &payload[half..]]
            .into_iter()
            .enumerate()
        {
            let cx = if k % 2 == 0 {
                DatagramCx::new(a, b, 40000, port)
            } else {
                DatagramCx::new(b, a, port, 40000)
            };
            for (proto, st) in &mut states {
                side_bytes.clear();
                if st.datagram(&cx, d, &mut side_bytes) {
                    let side = Reassembled {
                        datagram: Some((*proto, &side_bytes)),
                        ..Reassembled::default()
                    };
                    engine.dissect_with(&meta, &frame, &side, &mut fields);
                    out.clear();
                    engine.summary_into_with(&fields, &frame, &side, false, &mut out);
                    std::hint::black_box(&out);
                    break;
                }
            }
        }
        for (_, st) in &states {
            std::hint::black_box(st.report());
        }
        return;
    }
    // TCP desegmentation: frame the payload as a stream the way the
    // stateful pass does (`stream_framer`, then `pdu_len` PDU after PDU),
    // and dissect the frame again with the payload as reassembled PDUs.
    use pcapx_core::{PduCx, PduLen, Reassembled, TcpDeseg};
    let cx = PduCx::new(40000, port);
    if let Some(table) = engine.table("tcp.port")
        && let Some(framer) = engine.stream_framer(table, 40000, port, payload, &cx)
    {
        let mut pos = 0;
        while pos < payload.len() {
            match engine.pdu_len(framer, &payload[pos..], &cx) {
                PduLen::Len(n) if n > 0 => pos = pos.saturating_add(n),
                _ => break,
            }
        }
    }
    let side = Reassembled {
        tcp: TcpDeseg::Pdus {
            data: payload,
            segments: 2,
        },
        ..Reassembled::default()
    };
    engine.dissect_with(&meta, &frame, &side, &mut fields);
    out.clear();
    engine.summary_into_with(&fields, &frame, &side, false, &mut out);
    for e in fields.entries() {
        let _ = write!(out, " {}=", reg.field(e.field).name);
        let _ = fields.value(e).write_plain(&mut out);
    }
    std::hint::black_box(out);
}
