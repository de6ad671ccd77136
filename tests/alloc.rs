#![allow(unsafe_code)] // the counting global allocator: test-only, each block has a SAFETY comment
//! The hot path allocates nothing per packet: a counting global allocator
//! around the stateful pass's IP defragmentation (cheap parse +
//! `Defragmenter`), `Engine::dissect_with` (every field wanted) and
//! `Engine::summary_into_with` (into a reused `String`) over every fixture
//! and corpus capture, after one warm-up pass over the same packets has
//! grown the per-worker buffers.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use pcapx_core::{Engine, IpDefrag, PacketMeta, Reassembled, Wanted};
use pcapx_flow::defrag::{DefragConfig, Defragmenter, Verdict};

/// Counts allocations made by the current thread while it is armed.
struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    let _ = ARMED.try_with(|a| {
        if a.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to the system allocator unchanged; counting
// touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's (a non-zero-sized layout).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: `ptr` was allocated by `System` (every allocation goes
        // through this allocator) with `layout`, as the caller guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(Cell::get)
}

struct Packet {
    number: u64,
    ts_ns: i64,
    caplen: u32,
    wirelen: u32,
    linktype: u32,
    interface: u32,
    data: Vec<u8>,
}

impl Packet {
    /// The record the reader would hand over for this packet.
    fn record(&self) -> pcapx_capture::Record<'_> {
        pcapx_capture::Record {
            number: self.number,
            ts_ns: self.ts_ns,
            caplen: self.caplen,
            wirelen: self.wirelen,
            linktype: self.linktype,
            interface: self.interface,
            section: 0,
            offset: 0,
            data: &self.data,
            comment: None,
            raw: &self.data,
        }
    }
}

fn read(file: &Path) -> Vec<Packet> {
    let mut out = Vec::new();
    let Ok(mut cap) = pcapx_capture::Capture::open(file) else {
        return out; // not a capture (a deliberately broken file): nothing to dissect
    };
    let _ = cap.for_each(|r| {
        out.push(Packet {
            number: r.number,
            ts_ns: r.ts_ns,
            caplen: r.caplen,
            wirelen: r.wirelen,
            linktype: r.linktype,
            interface: r.interface,
            data: r.data.to_vec(),
        });
    });
    out
}

/// Dissect and summarise every packet twice; the second pass must not
/// allocate. Returns the packets checked.
fn check_file(engine: &Engine, file: &Path) -> usize {
    let packets = read(file);
    let mut fields = engine.new_fields(Wanted::All);
    let mut line = String::new();
    let meta = |p: &Packet| PacketMeta {
        number: p.number,
        ts_ns: p.ts_ns,
        caplen: p.caplen,
        wirelen: p.wirelen,
        linktype: p.linktype,
        interface: p.interface,
        comment: None,
    };
    // The stateful pass's IP defragmentation, with the reassembled bytes
    // in a reused arena as the CLI's batches carry them.
    let mut defrag = Defragmenter::new(DefragConfig::default());
    let mut arena: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut side = |p: &Packet, arena: &mut Vec<u8>| -> Option<(usize, u32)> {
        arena.clear();
        let info = pcapx_flow::parse(p.linktype, &p.data);
        match defrag.packet(&info, &p.data, p.ts_ns) {
            Verdict::Complete {
                payload, fragments, ..
            } => {
                arena.extend_from_slice(payload);
                Some((payload.len(), fragments))
            }
            Verdict::Held => Some((usize::MAX, 0)),
            Verdict::AsIs => None,
        }
    };
    fn reassembled(s: Option<(usize, u32)>, arena: &[u8]) -> Reassembled<'_> {
        Reassembled {
            ip: match s {
                None => IpDefrag::AsIs,
                Some((usize::MAX, _)) => IpDefrag::Held,
                Some((n, fragments)) => IpDefrag::Complete {
                    payload: &arena[..n],
                    fragments,
                },
            },
            ..Reassembled::default()
        }
    }
    for p in &packets {
        let s = side(p, &mut arena);
        let r = reassembled(s, &arena);
        engine.dissect_with(&meta(p), &p.data, &r, &mut fields);
        line.clear();
        engine.summary_into_with(&fields, &p.data, &r, false, &mut line);
    }
    for p in &packets {
        let m = meta(p);
        let mut s = None;
        let pass = allocations(|| s = side(p, &mut arena));
        let r = reassembled(s, &arena);
        let dissect = allocations(|| engine.dissect_with(&m, &p.data, &r, &mut fields));
        line.clear();
        let summary =
            allocations(|| engine.summary_into_with(&fields, &p.data, &r, false, &mut line));
        assert_eq!(
            pass,
            0,
            "{}: packet {}: the stateful pass allocated after warm-up",
            file.display(),
            p.number
        );
        assert_eq!(
            (dissect, summary),
            (0, 0),
            "{}: packet {} allocated after warm-up (dissect, summary) (summary: {line})",
            file.display(),
            p.number
        );
    }
    packets.len()
}

fn engine() -> Engine {
    pcapx_dissectors::builder()
        .expect("built-ins register")
        .build()
        .expect("built-ins build")
}

#[test]
fn dissecting_the_fixtures_allocates_nothing_per_packet() {
    let engine = engine();
    let files = common::captures(&common::root().join("fixtures"));
    assert!(files.len() >= 10, "fixtures missing");
    let n: usize = files.iter().map(|f| check_file(&engine, f)).sum();
    assert!(n > 100, "only {n} fixture packets");
}

#[test]
fn dissecting_the_corpus_allocates_nothing_per_packet() {
    let Some(dir) = common::corpus("dissecting_the_corpus_allocates_nothing_per_packet") else {
        return;
    };
    let engine = engine();
    let files = common::captures(&dir);
    assert!(!files.is_empty(), "no captures in the corpus");
    let n: usize = files.iter().map(|f| check_file(&engine, f)).sum();
    assert!(n > 1000, "only {n} corpus packets");
}

/// The whole per-file stateful pass as every reading command runs it
/// (`pcapx_facade::input::StreamPass` with IP defragmentation, TCP
/// desegmentation, tshark's stream numbering with the `tcp.analysis`
/// sequence analysis, and the Community ID) over one capture, one record at
/// a time into a reused arena. It keeps state per conversation, fragmented
/// datagram and PDU, so it may allocate when one begins or grows — never
/// per packet: the allocations must stay within a small multiple of the
/// conversations and datagrams the file holds. Returns (packets,
/// allocations, bound).
fn check_stream_pass(engine: &Engine, file: &Path) -> (usize, u64, u64) {
    use std::collections::HashSet;

    use pcapx_facade::input::{StreamIds, StreamPass};
    use pcapx_flow::packet::L4;

    let packets = read(file);
    let ids = StreamIds::wanted(engine, &Wanted::All).expect("the stream fields are registered");
    let mut pass = StreamPass::new(Some(ids), 0, true, Some(engine)).expect("a pass");
    let mut arena: Vec<u8> = Vec::with_capacity(1 << 20);
    // What may legitimately cost allocations: each conversation (either
    // direction, any transport), each fragmented datagram.
    let mut conversations = HashSet::new();
    let mut datagrams = HashSet::new();
    for p in &packets {
        let info = pcapx_flow::parse(p.linktype, &p.data);
        let (sp, dp) = match info.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } | L4::Sctp { sport, dport } => {
                (sport, dport)
            }
            _ => (0, 0),
        };
        let (a, b) = (
            (format!("{:?}", info.src), sp),
            (format!("{:?}", info.dst), dp),
        );
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        conversations.insert((info.proto, a, b));
        if let Some(f) = info.frag {
            datagrams.insert((format!("{:?}{:?}", info.src, info.dst), info.proto, f.id));
        }
    }
    let mut total = 0;
    for p in &packets {
        let rec = p.record();
        arena.clear();
        total += allocations(|| {
            let _ = pass.record(&rec, &mut arena);
        });
    }
    let bound = 64 + 8 * (conversations.len() + datagrams.len()) as u64;
    (packets.len(), total, bound)
}

fn check_stream_passes(files: &[std::path::PathBuf]) -> usize {
    let engine = engine();
    let mut n = 0;
    let mut total = (0, 0);
    for f in files {
        let (packets, allocs, bound) = check_stream_pass(&engine, f);
        assert!(
            allocs <= bound,
            "{}: the stateful pass made {allocs} allocations over {packets} packets (bound {bound}: 64 + 8 per conversation or fragmented datagram)",
            f.display()
        );
        n += packets;
        total.0 += allocs;
        total.1 += bound;
    }
    eprintln!(
        "stateful pass: {n} packets in {} files, {} allocations (bound {})",
        files.len(),
        total.0,
        total.1
    );
    n
}

#[test]
fn the_stateful_pass_allocates_per_conversation_not_per_packet_on_the_fixtures() {
    let files = common::captures(&common::root().join("fixtures"));
    assert!(check_stream_passes(&files) > 100);
}

#[test]
fn the_stateful_pass_allocates_per_conversation_not_per_packet_on_the_corpus() {
    let Some(dir) =
        common::corpus("the_stateful_pass_allocates_per_conversation_not_per_packet_on_the_corpus")
    else {
        return;
    };
    assert!(check_stream_passes(&common::captures(&dir)) > 1000);
}

/// Frames of one long conversation built here, so that a per-packet (or
/// per-PDU) allocation in the stateful pass shows as thousands of
/// allocations where the conversation may cost a handful.
mod long {
    pub fn eth_ipv4(proto: u8, l4: &[u8], id: u16, frag: u16) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = u16::try_from(20 + l4.len()).unwrap();
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(l4);
        f
    }

    pub fn swap(mut f: Vec<u8>) -> Vec<u8> {
        // Reverse direction: swap MACs, addresses and ports.
        for i in 0..6 {
            f.swap(i, 6 + i);
        }
        for i in 0..4 {
            f.swap(26 + i, 30 + i);
        }
        f.swap(34, 36);
        f.swap(35, 37);
        f
    }

    pub fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::with_capacity(20 + payload.len());
        t.extend_from_slice(&sport.to_be_bytes());
        t.extend_from_slice(&dport.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend_from_slice(payload);
        t
    }

    /// A TCP conversation to `port`: handshake, then `messages` messages
    /// from the client, each sent as the segments `split` cuts it into and
    /// ACKed by the server, then FINs.
    pub fn conversation(
        port: u16,
        message: &[u8],
        split: &[usize],
        messages: usize,
    ) -> Vec<Vec<u8>> {
        const SYN: u8 = 0x02;
        const ACK: u8 = 0x10;
        const PSH: u8 = 0x08;
        const FIN: u8 = 0x01;
        let (mut c, s) = (1000u32, 5000u32);
        let mut out = vec![
            eth_ipv4(6, &tcp(40000, port, c, 0, SYN, &[]), 1, 0x4000),
            swap(eth_ipv4(
                6,
                &tcp(40000, port, s, c + 1, SYN | ACK, &[]),
                1,
                0x4000,
            )),
            eth_ipv4(6, &tcp(40000, port, c + 1, s + 1, ACK, &[]), 2, 0x4000),
        ];
        c += 1;
        for m in 0..messages {
            let mut at = 0;
            for &cut in split.iter().chain(std::iter::once(&message.len())) {
                let part = &message[at..cut];
                let id = u16::try_from(m % 60000).unwrap();
                out.push(eth_ipv4(
                    6,
                    &tcp(40000, port, c, s + 1, ACK | PSH, part),
                    id,
                    0x4000,
                ));
                c = c.wrapping_add(u32::try_from(part.len()).unwrap());
                out.push(swap(eth_ipv4(
                    6,
                    &tcp(40000, port, s + 1, c, ACK, &[]),
                    id,
                    0x4000,
                )));
                at = cut;
            }
        }
        out.push(eth_ipv4(
            6,
            &tcp(40000, port, c, s + 1, FIN | ACK, &[]),
            3,
            0x4000,
        ));
        out.push(swap(eth_ipv4(
            6,
            &tcp(40000, port, s + 1, c + 1, FIN | ACK, &[]),
            3,
            0x4000,
        )));
        out
    }
}

/// Allocations of the whole stateful pass over `frames` (Ethernet), and
/// the records that completed desegmented PDUs.
fn stateful_pass_allocations(frames: &[Vec<u8>]) -> (u64, u64) {
    use pcapx_facade::input::{SideTcp, StreamIds, StreamPass};

    let engine = engine();
    let ids = StreamIds::wanted(&engine, &Wanted::All).expect("the stream fields are registered");
    let mut pass = StreamPass::new(Some(ids), 0, true, Some(&engine)).expect("a pass");
    let mut arena: Vec<u8> = Vec::with_capacity(1 << 20);
    let (mut total, mut pdus) = (0, 0);
    for (i, f) in frames.iter().enumerate() {
        let n = u64::try_from(i).unwrap() + 1;
        let len = u32::try_from(f.len()).unwrap();
        let rec = pcapx_capture::Record {
            number: n,
            ts_ns: i64::try_from(n).unwrap() * 1_000_000,
            caplen: len,
            wirelen: len,
            linktype: 1,
            interface: 0,
            section: 0,
            offset: 0,
            data: f,
            comment: None,
            raw: f,
        };
        arena.clear();
        let mut side = None;
        total += allocations(|| {
            side = Some(pass.record(&rec, &mut arena).0);
        });
        pdus += u64::from(matches!(side.map(|s| s.tcp), Some(SideTcp::Pdus { .. })));
    }
    (total, pdus)
}

#[test]
fn a_long_conversation_costs_the_stateful_pass_a_fixed_number_of_allocations() {
    // 3,000 HTTP requests, each one whole segment (framed in place).
    let get = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";
    let http = long::conversation(80, get, &[], 3000);
    // 3,000 TLS application-data records of 1,200 bytes, each cut in three
    // segments (the PDU is assembled from pending bytes every time).
    let mut record = vec![23, 3, 3, 0x04, 0xb0];
    record.resize(5 + 1200, 0xab);
    let tls = long::conversation(443, &record, &[3, 600], 3000);
    // Bytes no dissector frames, on a port none is bound to (numbering and
    // the sequence analysis only; TLS is found on any port by heuristic, so
    // these are not TLS records).
    let plain = long::conversation(9999, &[0x00; 1205], &[3, 600], 3000);
    // Upper-case letters could begin an HTTP method token: the HTTP framer
    // must give up after MAX_METHOD of them, not hold (and rescan) the
    // stream as a head in progress.
    let letters = long::conversation(9999, &[b'Z'; 1205], &[3, 600], 3000);
    for (what, frames, framed) in [
        ("HTTP", &http, 0),
        ("TLS", &tls, 3000),
        ("unframed TCP", &plain, 0),
        ("upper-case letters", &letters, 0),
    ] {
        let (n, pdus) = stateful_pass_allocations(frames);
        eprintln!(
            "{what}: {} packets, {n} allocations, {pdus} records completing PDUs",
            frames.len()
        );
        // HTTP requests fill their segments exactly: dissected in place.
        assert_eq!(pdus, framed, "{what}: PDUs assembled from pending bytes");
        assert!(
            n <= 64,
            "{what}: the stateful pass made {n} allocations over {} packets of one conversation",
            frames.len()
        );
    }
}
