//! The desegmentation API end to end with a test-only application
//! dissector ("toy": a magic byte 0xAA, a length byte, that many body bytes,
//! on TCP port 7777) over hand-built Ethernet/IPv4/TCP frames: PDUs split
//! over segments, several per segment, out of order, retransmitted, after a
//! gap, too long; and the engine decoding the reassembled bytes at the
//! segment that completes them.

#![allow(clippy::cast_possible_truncation)] // frame lengths in tests are small

use pcapx_core::{
    Ctx, Dissector, Engine, FieldDef, FieldId, FieldType, Outcome, PacketMeta, PduCx, PduLen, Port,
    Reassembled, Registrar, RegistryError, Source, TcpDeseg, Value, Wanted, keys::tables,
};
use pcapx_flow::deseg::{Deseg, DesegConfig, Desegmenter};
use pcapx_flow::packet::tcp_flags::{ACK, PSH, RST, SYN};

const MAGIC: u8 = 0xAA;

#[derive(Default)]
struct Toy {
    len: Option<FieldId>,
}

impl Dissector for Toy {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("toy", "Toy framed protocol", "Toy")?;
        self.len = Some(r.field(FieldDef::new(
            "toy.len",
            "Body length",
            FieldType::U64,
            "one per PDU",
        ))?);
        r.bind(tables::TCP_PORT, Port(7777));
        Ok(())
    }
    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        // Every PDU in the bytes handed over.
        let mut at = 0;
        while let (Some(&MAGIC), Some(&n)) = (data.get(at), data.get(at + 1)) {
            if let Some(f) = self.len {
                cx.add(f, Value::U64(u64::from(n)));
            }
            at += 2 + usize::from(n);
        }
        Outcome::end(data.len())
    }
    fn pdu_len(&self, data: &[u8], _cx: &PduCx) -> PduLen {
        match data {
            [] | [MAGIC] => PduLen::NeedMore,
            [MAGIC, n, ..] => PduLen::Len(2 + usize::from(*n)),
            _ => PduLen::NotMine,
        }
    }
}

fn engine() -> Engine {
    let mut b = pcapx_dissectors::builder().expect("built-ins");
    b.add(Box::new(Toy::default()), "test")
        .expect("toy registers");
    b.build().expect("engine builds")
}

fn pdu(n: u8, fill: u8) -> Vec<u8> {
    let mut v = vec![MAGIC, n];
    v.extend(std::iter::repeat_n(fill, usize::from(n)));
    v
}

/// An Ethernet/IPv4/TCP frame from 10.0.0.1:40000 to 10.0.0.2:7777 (or
/// back when `back`).
fn frame(back: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (src, dst, sp, dp) = if back {
        (b, a, 7777u16, 40000u16)
    } else {
        (a, b, 40000, 7777)
    };
    let mut f = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = u16::try_from(40 + payload.len()).unwrap();
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0, 0, 64, 6, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&1u32.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

struct Run {
    engine: Engine,
    deseg: Desegmenter,
    arena: Vec<u8>,
}

impl Run {
    fn new(cfg: DesegConfig) -> Run {
        let engine = engine();
        let deseg = Desegmenter::new(&engine, cfg);
        Run {
            engine,
            deseg,
            arena: Vec::new(),
        }
    }
    /// One frame's verdict; for `Pdus`, the PDU bytes and segment count.
    fn seg(&mut self, back: bool, seq: u32, flags: u8, payload: &[u8]) -> (Deseg, Vec<u8>) {
        let f = frame(back, seq, flags, payload);
        let p = pcapx_flow::parse(1, &f);
        self.arena.clear();
        let v = self
            .deseg
            .packet(&self.engine, &p, p.l4, &f, &mut self.arena);
        let bytes = match v {
            Deseg::Pdus { at, len, .. } => self.arena[at..at + len].to_vec(),
            _ => Vec::new(),
        };
        (v, bytes)
    }
}

fn segments(v: Deseg) -> u32 {
    match v {
        Deseg::Pdus { segments, .. } => segments,
        _ => 0,
    }
}

#[test]
fn a_pdu_over_three_segments_completes_at_the_third() {
    let mut r = Run::new(DesegConfig::default());
    let p = pdu(100, 7);
    assert_eq!(r.seg(false, 1000, SYN, &[]).0, Deseg::AsIs);
    assert_eq!(r.seg(false, 1001, ACK | PSH, &p[..1]).0, Deseg::Partial);
    assert_eq!(r.seg(false, 1002, ACK | PSH, &p[1..50]).0, Deseg::Partial);
    let (v, bytes) = r.seg(false, 1051, ACK | PSH, &p[50..]);
    assert_eq!(bytes, p);
    assert_eq!(segments(v), 3);
    // The other direction is its own stream. A segment that is exactly
    // whole PDUs is dissected in place (the same layers, no copy).
    let q = pdu(3, 1);
    assert_eq!(r.seg(true, 9000, ACK | PSH, &q).0, Deseg::AsIs);
    assert_eq!(r.deseg.stats().pdus, 2);
    // … and a PDU that continues in the next segment is handed over there.
    let (a, b) = (pdu(2, 1), pdu(6, 2));
    let seg = [a.clone(), b[..3].to_vec()].concat();
    let (v, bytes) = r.seg(true, 9005, ACK | PSH, &seg);
    assert_eq!((bytes, segments(v)), (a, 1));
    let (v, bytes) = r.seg(true, 9012, ACK | PSH, &b[3..]);
    assert_eq!((bytes, segments(v)), (b, 2));
    assert_eq!(r.deseg.stats().pdus, 4);
}

#[test]
fn several_pdus_in_one_segment_and_one_spanning_the_next() {
    let mut r = Run::new(DesegConfig::default());
    let (a, b, c) = (pdu(5, 1), pdu(0, 2), pdu(20, 3));
    let mut seg1 = [a.clone(), b.clone()].concat();
    seg1.extend_from_slice(&c[..4]);
    let (v, bytes) = r.seg(false, 1, ACK, &seg1);
    assert_eq!(bytes, [a, b].concat());
    assert_eq!(segments(v), 1);
    let (v, bytes) = r.seg(false, 1 + seg1.len() as u32, ACK, &c[4..]);
    assert_eq!(bytes, c);
    assert_eq!(segments(v), 2);
}

#[test]
fn out_of_order_and_retransmitted_segments() {
    let mut r = Run::new(DesegConfig::default());
    let p = pdu(60, 9);
    // First byte seen, then the third part before the second.
    assert_eq!(r.seg(false, 100, ACK, &p[..20]).0, Deseg::Partial);
    assert_eq!(r.seg(false, 140, ACK, &p[40..]).0, Deseg::Partial);
    // A retransmission of bytes already delivered: not dissected again.
    assert_eq!(r.seg(false, 100, ACK, &p[..20]).0, Deseg::Partial);
    let (v, bytes) = r.seg(false, 120, ACK, &p[20..40]);
    assert_eq!(bytes, p, "the hole filled completes the PDU");
    assert!(matches!(v, Deseg::Pdus { .. }));
    // Retransmitting the whole PDU afterwards hands nothing on.
    assert_eq!(r.seg(false, 100, ACK, &p).0, Deseg::Partial);
}

#[test]
fn a_gap_drops_the_pending_pdu_and_framing_restarts() {
    let cfg = DesegConfig {
        window: 64,
        ..DesegConfig::default()
    };
    let mut r = Run::new(cfg);
    let p = pdu(50, 4);
    assert_eq!(r.seg(false, 1, ACK, &p[..10]).0, Deseg::Partial);
    // The rest never arrives; far beyond the window a new PDU starts.
    let q = pdu(2, 5);
    assert_eq!(r.seg(false, 10_000, ACK, &q).0, Deseg::AsIs);
    assert_eq!(r.deseg.stats().dropped_at_gap, 1);
    assert_eq!(r.deseg.stats().pdus, 1);
    // Bytes that are not the protocol's are dissected as they are.
    let (v, _) = r.seg(false, 10_004, ACK, b"hello");
    assert_eq!(v, Deseg::AsIs);
    // Framing restarts with the next PDU.
    let (v, bytes) = r.seg(false, 10_009, ACK, &q[..2]);
    assert_eq!((v, bytes), (Deseg::Partial, Vec::new()));
    let (_, bytes) = r.seg(false, 10_011, ACK, &q[2..]);
    assert_eq!(bytes, q);
}

#[test]
fn first_payload_not_framed_means_no_desegmentation() {
    let mut r = Run::new(DesegConfig::default());
    assert_eq!(r.seg(false, 1, ACK, b"GET /").0, Deseg::AsIs);
    assert_eq!(r.deseg.conversations(), 0);
    // Another port: no framer at all.
    let f = {
        let mut f = frame(false, 1, ACK, &pdu(1, 1));
        f[36..38].copy_from_slice(&8888u16.to_be_bytes());
        f
    };
    let p = pcapx_flow::parse(1, &f);
    let mut arena = Vec::new();
    assert_eq!(
        r.deseg.packet(&r.engine, &p, p.l4, &f, &mut arena),
        Deseg::AsIs
    );
}

#[test]
fn bounds_too_long_pdus_and_too_many_conversations() {
    let cfg = DesegConfig {
        max_pdu: 100,
        window: 1 << 16,
        max_conversations: 4,
    };
    let mut r = Run::new(cfg);
    let big = pdu(250, 1);
    assert_eq!(r.seg(false, 1, ACK, &big[..90]).0, Deseg::Partial);
    let _ = r.seg(false, 91, ACK, &big[90..180]);
    assert_eq!(r.deseg.stats().dropped_too_long, 1);
    // Many conversations: at most four are followed.
    for port in 0..50u16 {
        let mut f = frame(false, 1, ACK, &pdu(9, 1)[..5]);
        f[34..36].copy_from_slice(&(1000 + port).to_be_bytes());
        let p = pcapx_flow::parse(1, &f);
        let mut arena = Vec::new();
        let _ = r.deseg.packet(&r.engine, &p, p.l4, &f, &mut arena);
        assert!(r.deseg.conversations() <= 4);
    }
    assert!(r.deseg.stats().evicted >= 46);
    // RST ends a conversation.
    let n = r.deseg.conversations();
    let mut f = frame(false, 1, RST, &[]);
    f[34..36].copy_from_slice(&1049u16.to_be_bytes());
    let p = pcapx_flow::parse(1, &f);
    let mut arena = Vec::new();
    let _ = r.deseg.packet(&r.engine, &p, p.l4, &f, &mut arena);
    assert_eq!(r.deseg.conversations(), n - 1);
}

#[test]
fn the_engine_decodes_the_pdus_at_the_completing_segment() {
    let mut r = Run::new(DesegConfig::default());
    let (a, b) = (pdu(30, 1), pdu(4, 2));
    let whole = [a.clone(), b.clone()].concat();
    let mut fields = r.engine.new_fields(Wanted::All);
    let toy_len = r.engine.registry().field_by_name("toy.len").unwrap();
    let toy = r.engine.registry().proto_by_name("toy").unwrap();
    let mut seen = Vec::new();
    for (seq, part) in [(1u32, &whole[..10]), (11, &whole[10..])] {
        let f = frame(false, seq, ACK, part);
        let p = pcapx_flow::parse(1, &f);
        r.arena.clear();
        let v = r.deseg.packet(&r.engine, &p, p.l4, &f, &mut r.arena);
        let side = Reassembled {
            tcp: match v {
                Deseg::AsIs => TcpDeseg::AsIs,
                Deseg::Partial => TcpDeseg::Partial,
                Deseg::Pdus { at, len, segments } => TcpDeseg::Pdus {
                    data: &r.arena[at..at + len],
                    segments,
                },
            },
            ..Reassembled::default()
        };
        let meta = PacketMeta {
            number: u64::from(seq),
            caplen: f.len() as u32,
            wirelen: f.len() as u32,
            linktype: 1,
            ..PacketMeta::default()
        };
        r.engine.dissect_with(&meta, &f, &side, &mut fields);
        let layers: Vec<_> = fields
            .layers()
            .iter()
            .map(|l| (l.proto, l.source))
            .collect();
        let lens: Vec<String> = fields.all(toy_len).map(|v| v.to_string()).collect();
        seen.push((layers.contains(&(toy, Source::Tcp)), lens));
        // No `data` layer: the partial segment's payload stays TCP's own.
        let data = r.engine.registry().proto_by_name("data").unwrap();
        assert!(fields.layers().iter().all(|l| l.proto != data));
    }
    assert_eq!(seen[0], (false, vec![]));
    assert_eq!(seen[1], (true, vec!["30".to_owned(), "4".to_owned()]));
}
