//! `flows`: one row per bidirectional flow, like Zeek's conn.log (`pcapx
//! flows`, `pcapx.flows`).
//!
//! The flow-sharded path (see ARCHITECTURE.md): the reader's thread reads
//! batches (filter and `-c` applied there, as for every command) and writes
//! the output. A dispatcher thread runs the cheap header parse and tshark's
//! conversation numbering on each record in stream order and hands each
//! worker its share: the packets of the address pairs it owns (a symmetric
//! hash, not the ports, so every fragment of a datagram goes with its flow),
//! each with its parse, number and the clock at that packet (the latest time
//! seen in any shard). Each worker owns the flow table of its shard, so its
//! flows split and end exactly as in one table over the whole input. Ended
//! flows go to a merger thread and wait in a reorder buffer until every
//! worker's oldest live flow is younger, then are encoded (by the merger and
//! the reader's thread, a chunk each in turn) and written by the reader's
//! thread: rows are in first-packet order (a flow's first frame
//! number) for any thread count, while memory stays bounded by the live
//! flows. `tcp.stream` and `udp.stream` are those of the flow's first packet
//! in packet tables (tshark's numbering): flows split by a
//! timeout share their conversation's number. Several files are one stream
//! (see [`crate::source`]): a flow that continues in the next file is one
//! flow, as over `mergecap -a` of them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc;

use pcapx_core::{FieldId, FieldType, Fields, Value, Wanted};
use pcapx_dissectors::transport::services;
use pcapx_flow::key::addr_pair_shard;
use pcapx_flow::key::{ICMP, ICMPV6, SCTP, TCP, UDP};
use pcapx_flow::numbering::StreamNumbering;
use pcapx_flow::{FlowConfig, FlowRecord, FlowTable, PacketInfo};
use pcapx_output::{
    ColumnSpec, Encoded, Encoder, Occurrence, Scope, TableSpec, Target, TimeFormat,
};

use crate::input::{Feeder, Work};
use crate::{Error, Source};

/// The flow table's columns, in order.
pub const COLUMNS: &[(&str, FieldType)] = &[
    ("community_id", FieldType::Str),
    ("proto", FieldType::Str),
    ("src", FieldType::Str),
    ("sport", FieldType::U16),
    ("dst", FieldType::Str),
    ("dport", FieldType::U16),
    ("first_time", FieldType::Time),
    ("last_time", FieldType::Time),
    ("duration", FieldType::F64),
    ("orig_packets", FieldType::U64),
    ("orig_bytes", FieldType::U64),
    ("orig_payload_bytes", FieldType::U64),
    ("resp_packets", FieldType::U64),
    ("resp_bytes", FieldType::U64),
    ("resp_payload_bytes", FieldType::U64),
    ("tcp.stream", FieldType::U32),
    ("udp.stream", FieldType::U32),
    ("conn_state", FieldType::Str),
    ("history", FieldType::Str),
    ("retransmissions", FieldType::U64),
    ("out_of_order", FieldType::U64),
    ("lost_segments", FieldType::U64),
    ("vlan", FieldType::U16),
    ("service", FieldType::Str),
];

/// The flow table (for writers and the Arrow schema).
pub fn spec(time_format: TimeFormat) -> TableSpec {
    TableSpec {
        columns: COLUMNS
            .iter()
            .enumerate()
            .map(|(i, &(name, ftype))| ColumnSpec {
                name: name.to_owned(),
                fields: vec![FieldId(u32::try_from(i).unwrap_or(u32::MAX))],
                ftype,
                scope: Scope::Any,
                display: None,
            })
            .collect(),
        time_format,
        occurrence: Occurrence::First,
        require: None,
    }
}

fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        TCP => "tcp",
        UDP => "udp",
        ICMP => "icmp",
        ICMPV6 => "icmpv6",
        SCTP => "sctp",
        _ => return None,
    })
}

/// The service by port number (responder's port first, then the
/// originator's): a port-based guess until application dissectors identify
/// protocols from content.
fn service(r: &FlowRecord) -> Option<&'static str> {
    let name = match r.proto {
        TCP => services::tcp_name,
        UDP => services::udp_name,
        _ => return None,
    };
    name(r.dport).or_else(|| name(r.sport))
}

fn fill(fields: &mut Fields, r: &FlowRecord, scratch: &mut String) {
    fields.clear();
    let mut col = 0u32;
    let mut put = |fields: &mut Fields, v: Option<Value<'_>>| {
        if let Some(v) = v {
            fields.add(FieldId(col), v);
        }
        col += 1;
    };
    put(fields, Some(Value::Str(&r.community_id)));
    scratch.clear();
    match proto_name(r.proto) {
        Some(p) => scratch.push_str(p),
        None => scratch.push_str(&r.proto.to_string()),
    }
    put(fields, Some(Value::Str(scratch)));
    let addr = |a: &pcapx_flow::Addr| match a.to_ip() {
        std::net::IpAddr::V4(x) => Value::Ipv4(x.octets()),
        std::net::IpAddr::V6(x) => Value::Ipv6(x.octets()),
    };
    put(fields, Some(addr(&r.src)));
    put(
        fields,
        r.has_ports.then_some(Value::U64(u64::from(r.sport))),
    );
    put(fields, Some(addr(&r.dst)));
    put(
        fields,
        r.has_ports.then_some(Value::U64(u64::from(r.dport))),
    );
    put(fields, Some(Value::Time(r.first_ns)));
    put(fields, Some(Value::Time(r.last_ns)));
    #[allow(clippy::cast_precision_loss)]
    let dur = (r.last_ns - r.first_ns) as f64 / 1e9;
    put(fields, Some(Value::F64(dur)));
    for d in [&r.orig, &r.resp] {
        put(fields, Some(Value::U64(d.packets)));
        put(fields, Some(Value::U64(d.bytes)));
        put(fields, Some(Value::U64(d.payload_bytes)));
    }
    let (tcp, udp) = match r.proto {
        TCP => (r.stream, None),
        UDP => (None, r.stream),
        _ => (None, None),
    };
    put(fields, tcp.map(|x| Value::U64(u64::from(x))));
    put(fields, udp.map(|x| Value::U64(u64::from(x))));
    put(fields, Some(Value::Str(r.conn_state.as_str())));
    put(fields, Some(Value::Str(&r.history)));
    let tcp_only = |x: u64| (r.proto == TCP).then_some(Value::U64(x));
    put(
        fields,
        tcp_only(r.orig.retransmissions + r.resp.retransmissions),
    );
    put(fields, tcp_only(r.orig.out_of_order + r.resp.out_of_order));
    put(
        fields,
        tcp_only(r.orig.lost_segments + r.resp.lost_segments),
    );
    put(fields, r.vlan.map(|v| Value::U64(u64::from(v))));
    put(fields, service(r).map(Value::Str));
}

fn seconds(s: f64, what: &str) -> Result<i64, Error> {
    if !s.is_finite() || s <= 0.0 || s > 1e9 {
        return Err(Error::Usage(format!(
            "{what} must be a positive number of seconds, not {s}"
        )));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok((s * 1e9).round() as i64)
}

/// The flow table's configuration: idle timeout (seconds; every protocol
/// when given, else Zeek's defaults), active timeout (seconds, default
/// 1800), Community ID seed.
pub fn config(
    idle_timeout: Option<f64>,
    active_timeout: Option<f64>,
    community_id_seed: u16,
) -> Result<FlowConfig, Error> {
    let mut cfg = FlowConfig {
        community_id_seed,
        ..FlowConfig::default()
    };
    if let Some(s) = idle_timeout {
        let ns = seconds(s, "--idle-timeout")?;
        cfg.tcp_idle_ns = ns;
        cfg.udp_idle_ns = ns;
        cfg.other_idle_ns = ns;
    }
    if let Some(s) = active_timeout {
        cfg.active_ns = seconds(s, "--active-timeout")?;
    }
    Ok(cfg)
}

/// The flows of `src` (its files in order, one stream) as rows of
/// [`spec`]`(time_format)` encoded for `target`, handed to `sink` in
/// first-packet order; `limit` counts packets after the filter, as
/// everywhere. The workers do not check each batch: the source is checked
/// intact before the end of input ends the live flows and before each
/// write. Returns what was counted.
#[allow(clippy::too_many_arguments)]
pub fn run<E: From<Error>>(
    src: &mut Source,
    limit: Option<u64>,
    cfg: FlowConfig,
    threads: Option<usize>,
    time_format: TimeFormat,
    target: Target,
    mut sink: impl FnMut(Encoded) -> Result<(), E>,
) -> Result<Account, E> {
    let spec = spec(time_format);
    let threads = pcapx_pipeline::thread_count(threads);
    let feeder = Feeder::new(src, limit);
    let acc = sharded(feeder, cfg, threads, &spec, target, &mut sink)?;
    // The workers do not check each batch: make sure the mapped input did not
    // shrink under them before the output is made visible.
    src.check_intact().map_err(Error::from)?;
    Ok(acc)
}

/// What the reader and the workers counted.
#[derive(Default, Debug, Clone, Copy)]
pub struct Account {
    /// Packet records read.
    pub read: u64,
    /// Records the filter rejected.
    pub filtered_out: u64,
    /// Records with no IP layer (in no flow).
    pub not_ip: u64,
    /// Flows written.
    pub flows: u64,
    /// Fragments whose datagram's first fragment never came.
    pub orphan_fragments: u64,
}

const NO_STREAM: u32 = u32::MAX;

/// One packet of a worker's shard, parsed once on the reader's thread.
struct Item {
    number: u64,
    ts_ns: i64,
    /// The clock at this packet: the latest time of every record up to and
    /// including it that passed the filter, in any shard (the other
    /// shards' packets move this shard's clock forward too).
    clock: i64,
    wirelen: u32,
    stream: u32,
    info: PacketInfo,
}

/// A worker's share of one batch.
struct Share {
    items: Vec<Item>,
    /// The clock after the batch's last record.
    clock: i64,
    /// The frame number after the batch's last record.
    next_frame: u64,
}

/// A worker's report after a batch: the flows that ended, and the first
/// frame of its oldest live flow (every flow it ends later starts there or
/// after; `u64::MAX` after its last batch).
struct Report {
    worker: usize,
    flows: Vec<FlowRecord>,
    watermark: u64,
    orphan_fragments: u64,
}

/// Flows per report when the end of the input ends the live flows.
const FINISH_CHUNK: usize = 2048;

fn worker(
    me: usize,
    cfg: FlowConfig,
    rx: &mpsc::Receiver<Share>,
    tx: &mpsc::Sender<Report>,
    back: &mpsc::Sender<Vec<Item>>,
) {
    let mut table = FlowTable::new(cfg);
    let mut next_frame = 0u64;
    let mut ended = 0usize;
    while let Ok(mut share) = rx.recv() {
        let mut flows = Vec::with_capacity(ended);
        for it in &share.items {
            // `packet_in_stream` moves the clock to the packet's own time;
            // the others' packets before it may have moved it further.
            if it.clock > it.ts_ns {
                table.expire(it.clock, &mut flows);
            }
            let stream = (it.stream != NO_STREAM).then_some(it.stream);
            table.packet_in_stream(
                it.number, it.ts_ns, it.wirelen, &it.info, stream, &mut flows,
            );
        }
        table.expire(share.clock, &mut flows);
        ended = flows.len();
        next_frame = next_frame.max(share.next_frame);
        // The emptied vector goes back to the reader for a later batch.
        share.items.clear();
        let _ = back.send(share.items);
        let watermark = table.oldest_live().unwrap_or(next_frame);
        if tx
            .send(Report {
                worker: me,
                flows,
                watermark,
                orphan_fragments: 0,
            })
            .is_err()
        {
            return;
        }
    }
    // The live flows end with the input, in first-packet order and in
    // chunks, each with the first frame of the next as its watermark: the
    // merger encodes one chunk while the next is made.
    let orphans = table.stats().orphan_fragments;
    table.finish_chunked(FINISH_CHUNK, |flows, next| {
        let _ = tx.send(Report {
            worker: me,
            flows,
            watermark: next.unwrap_or(u64::MAX),
            orphan_fragments: if next.is_none() { orphans } else { 0 },
        });
    });
}

/// Rows for the reader's thread to write, in order: encoded by the merger,
/// or flows for the reader to encode itself.
enum Chunk {
    Encoded(Encoded),
    Flows(Vec<FlowRecord>),
}

/// Encodes flows as rows of the flow table.
struct RowEncoder<'a> {
    spec: &'a TableSpec,
    enc: Encoder,
    fields: Fields,
    scratch: String,
}

impl RowEncoder<'_> {
    fn new(spec: &TableSpec, target: Target) -> RowEncoder<'_> {
        RowEncoder {
            spec,
            enc: Encoder::new(spec, target),
            fields: Fields::new(COLUMNS.len(), Wanted::All),
            scratch: String::new(),
        }
    }

    fn encode(&mut self, flows: &[FlowRecord]) -> Encoded {
        for f in flows {
            fill(&mut self.fields, f, &mut self.scratch);
            self.enc.push(self.spec, &self.fields);
        }
        self.enc.take()
    }
}

/// The merger: ended flows wait in a reorder buffer until every worker's
/// oldest live flow is younger, then go to the reader's thread in
/// first-packet order, every other chunk encoded here and the others left
/// for the reader to encode (when the end of the input ends most flows at
/// once, the two threads encode them side by side). Returns the rows handed
/// over and the orphan fragments counted.
fn merger(
    n: usize,
    spec: &TableSpec,
    target: Target,
    rx: &mpsc::Receiver<Report>,
    tx: &mpsc::SyncSender<Chunk>,
) -> (u64, u64) {
    let mut enc = RowEncoder::new(spec, target);
    // The reorder buffer: the waiting flows in a slab, a min-heap of their
    // first frames (flow records are large; the heap moves small entries).
    let mut slab: Vec<Option<FlowRecord>> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mut marks = vec![0u64; n];
    let (mut rows, mut orphans) = (0u64, 0u64);
    let mut mine = true;
    for r in rx.iter() {
        for f in r.flows {
            let first = f.first_frame;
            let i = match free.pop() {
                Some(i) => {
                    slab[i as usize] = Some(f);
                    i
                }
                None => {
                    slab.push(Some(f));
                    u32::try_from(slab.len() - 1).unwrap_or(u32::MAX)
                }
            };
            heap.push(Reverse((first, i)));
        }
        marks[r.worker] = r.watermark;
        orphans += r.orphan_fragments;
        let safe = marks.iter().copied().min().unwrap_or(u64::MAX);
        let mut ready = Vec::new();
        while let Some(&Reverse((first, i))) = heap.peek() {
            if first >= safe {
                break;
            }
            heap.pop();
            free.push(i);
            if let Some(f) = slab.get_mut(i as usize).and_then(Option::take) {
                ready.push(f);
            }
        }
        if ready.is_empty() {
            continue;
        }
        rows += ready.len() as u64;
        let chunk = if mine {
            Chunk::Encoded(enc.encode(&ready))
        } else {
            Chunk::Flows(ready)
        };
        mine = !mine;
        if tx.send(chunk).is_err() {
            // The caller stopped (its writer failed).
            break;
        }
    }
    (rows, orphans)
}

/// The dispatcher: for every record of every batch in stream order, the
/// cheap parse, tshark's conversation number, the clock, and the share of
/// the worker that owns the packet's address pair. Returns what it counted.
fn dispatch(
    n: usize,
    rx: &mpsc::Receiver<Work>,
    txs: &[mpsc::SyncSender<Share>],
    back: &mpsc::Receiver<Vec<Item>>,
) -> Account {
    let mut acc = Account::default();
    let mut numbering = StreamNumbering::new();
    let mut clock = i64::MIN;
    let mut next_frame = 0u64;
    for work in rx.iter() {
        let mut shares: Vec<Vec<Item>> = (0..n)
            .map(|_| back.try_recv().unwrap_or_default())
            .collect();
        for (rec, pass) in work.records() {
            acc.read += 1;
            next_frame = rec.number + 1;
            // Conversations are numbered over every record, as in packet
            // tables (and tshark), whatever the filter.
            let info = pcapx_flow::parse(rec.linktype, rec.data);
            let st = numbering.packet(&info, rec.ts_ns);
            if !pass {
                acc.filtered_out += 1;
                continue;
            }
            clock = clock.max(rec.ts_ns);
            let (Some(a), Some(b)) = (info.src, info.dst) else {
                acc.not_ip += 1;
                continue;
            };
            let w = addr_pair_shard(&a, &b, n);
            shares[w].push(Item {
                number: rec.number,
                ts_ns: rec.ts_ns,
                clock,
                wirelen: rec.wirelen,
                stream: st.tcp_stream.or(st.udp_stream).unwrap_or(NO_STREAM),
                info,
            });
        }
        drop(work);
        for (tx, items) in txs.iter().zip(shares) {
            // A worker only stops early if the writer failed; the error
            // comes from the caller's sink.
            let _ = tx.send(Share {
                items,
                clock,
                next_frame,
            });
        }
    }
    acc
}

/// Run the flow-sharded path; `sink` gets the encoded rows in first-packet
/// order.
fn sharded<E: From<Error>>(
    mut feeder: Feeder<'_>,
    cfg: FlowConfig,
    threads: usize,
    spec: &TableSpec,
    target: Target,
    sink: &mut dyn FnMut(Encoded) -> Result<(), E>,
) -> Result<Account, E> {
    let n = threads.clamp(1, usize::from(u16::MAX));
    // Rows are made from the batches read so far: when everything read from
    // the current file is still the file's own (earlier files were checked
    // when the next was opened), all of theirs are.
    let mut own = RowEncoder::new(spec, target);
    let mut put = |c: Chunk,
                   feeder: &Feeder<'_>,
                   sink: &mut dyn FnMut(Encoded) -> Result<(), E>|
     -> Result<(), E> {
        let e = match c {
            Chunk::Encoded(e) => e,
            Chunk::Flows(flows) => own.encode(&flows),
        };
        feeder.check_intact().map_err(Error::from)?;
        sink(e)
    };
    let (mut acc, rows, orphans) = std::thread::scope(|s| -> Result<(Account, u64, u64), E> {
        let (res_tx, res_rx) = mpsc::channel::<Report>();
        let (back_tx, back_rx) = mpsc::channel::<Vec<Item>>();
        let (enc_tx, enc_rx) = mpsc::sync_channel::<Chunk>(8);
        let (work_tx, work_rx) = mpsc::sync_channel::<Work>(4);
        let spawn_err =
            |e: std::io::Error| Error::Usage(format!("cannot start a flow worker thread: {e}"));
        let mut txs = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Share>(4);
            txs.push(tx);
            let res_tx = res_tx.clone();
            let back_tx = back_tx.clone();
            std::thread::Builder::new()
                .name(format!("pcapx-flows-{w}"))
                .spawn_scoped(s, move || worker(w, cfg, &rx, &res_tx, &back_tx))
                .map_err(spawn_err)?;
        }
        drop((res_tx, back_tx));
        let merge = std::thread::Builder::new()
            .name("pcapx-flows-merge".into())
            .spawn_scoped(s, move || merger(n, spec, target, &res_rx, &enc_tx))
            .map_err(spawn_err)?;
        let disp = std::thread::Builder::new()
            .name("pcapx-flows-dispatch".into())
            .spawn_scoped(s, move || dispatch(n, &work_rx, &txs, &back_rx))
            .map_err(spawn_err)?;
        let mut result = Ok(());
        loop {
            let work = match feeder.next_work() {
                Ok(Some(w)) => w,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            if work_tx.send(work).is_err() {
                // The dispatcher panicked: its join below says so.
                break;
            }
            while let Ok(e) = enc_rx.try_recv() {
                put(e, &feeder, sink)?;
            }
        }
        // The end of the input ends every live flow: make sure it is the
        // file's end, not the zeroed pages of a file that shrank meanwhile.
        result?;
        feeder.check_intact().map_err(Error::from)?;
        drop(work_tx);
        for e in enc_rx.iter() {
            put(e, &feeder, sink)?;
        }
        let acc = disp.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        let (rows, orphans) = merge
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        Ok((acc, rows, orphans))
    })?;
    acc.flows = rows;
    acc.orphan_fragments = orphans;
    Ok(acc)
}
