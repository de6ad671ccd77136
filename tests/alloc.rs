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
