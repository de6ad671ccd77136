//! `flows`: one row per bidirectional flow, like Zeek's conn.log (`pcapx
//! flows`, `pcapx.flows`).
//!
//! The flow-sharded path: the reader's thread reads batches (filter and `-c`
//! applied there, as for every command), runs the cheap header parse on each
//! record and picks its worker by a symmetric hash of the IP address pair
//! (not the ports, so every fragment of a datagram goes with its flow). Each
//! worker owns the flow table of its shard and walks every batch in stream
//! order, placing its own packets and advancing its clock on the others, so
//! its flows split and end exactly as in one table over the whole input.
//! Ended flows come back to the caller's thread and wait in a reorder buffer
//! until every worker's oldest live flow is younger, then are encoded: rows
//! are in first-packet order (a flow's first frame number) for any thread
//! count, while memory stays bounded by the live flows. `tcp.stream` and
//! `udp.stream` are those of the flow's first packet in packet tables
//! (tshark's numbering, computed on the reader's thread): flows split by a
//! timeout share their conversation's number. Several files are one stream
//! (see [`crate::source`]): a flow that continues in the next file is one
//! flow, as over `mergecap -a` of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc;

use pcapx_core::{FieldId, FieldType, Fields, Value, Wanted};
use pcapx_dissectors::transport::services;
use pcapx_flow::key::addr_pair_shard;
use pcapx_flow::key::{ICMP, ICMPV6, SCTP, TCP, UDP};
use pcapx_flow::numbering::StreamNumbering;
use pcapx_flow::{FlowConfig, FlowRecord, FlowTable};
use pcapx_output::{
    ColumnSpec, Encoded, Encoder, Format, Occurrence, Scope, TableSpec, TimeFormat,
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
/// [`spec`]`(time_format)` encoded for `format`, handed to `sink` in
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
    format: Format,
    mut sink: impl FnMut(Encoded) -> Result<(), E>,
) -> Result<Account, E> {
    let spec = spec(time_format);
    let mut enc = Encoder::new(&spec, format);
    let mut fields = Fields::new(COLUMNS.len(), Wanted::All);
    let mut scratch = String::new();
    let mut rows = 0u64;
    let mut write = |flows: &mut Vec<FlowRecord>| -> Result<(), E> {
        if flows.is_empty() {
            return Ok(());
        }
        for r in flows.drain(..) {
            fill(&mut fields, &r, &mut scratch);
            enc.push(&spec, &fields);
            rows += 1;
        }
        sink(enc.take())
    };
    let threads = pcapx_pipeline::thread_count(threads);
    let feeder = Feeder::new(src, limit);
    let mut acc = sharded(feeder, cfg, threads, &mut write)?;
    // The workers do not check each batch: make sure the mapped input did not
    // shrink under them before the output is made visible.
    src.check_intact().map_err(Error::from)?;
    acc.flows = rows;
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

/// Marks a record that goes to no worker (not IP, or filtered out).
const NO_SHARD: u16 = u16::MAX;

/// A batch and each record's worker and conversation number, shared by
/// every worker.
struct Shared {
    work: Work,
    shard: Vec<u16>,
    stream: Vec<u32>,
}

const NO_STREAM: u32 = u32::MAX;

/// A worker's report after a batch: the flows that ended, and the first
/// frame of its oldest live flow (every flow it ends later starts there or
/// after; `u64::MAX` after its last batch).
struct Report {
    worker: usize,
    flows: Vec<FlowRecord>,
    watermark: u64,
    orphan_fragments: u64,
}

fn worker(me: usize, cfg: FlowConfig, rx: &mpsc::Receiver<Arc<Shared>>, tx: &mpsc::Sender<Report>) {
    let mut table = FlowTable::new(cfg);
    let mut next_frame = 0u64;
    let me16 = u16::try_from(me).unwrap_or(NO_SHARD);
    while let Ok(b) = rx.recv() {
        let mut flows = Vec::new();
        for (i, (rec, pass)) in b.work.records().enumerate() {
            next_frame = rec.number + 1;
            if !pass {
                continue;
            }
            if b.shard.get(i).copied() == Some(me16) {
                let info = pcapx_flow::parse(rec.linktype, rec.data);
                let stream = b.stream.get(i).copied().filter(|&s| s != NO_STREAM);
                table.packet_in_stream(
                    rec.number,
                    rec.ts_ns,
                    rec.wirelen,
                    &info,
                    stream,
                    &mut flows,
                );
            } else {
                // Another worker's packet still moves the clock forward.
                table.expire(rec.ts_ns, &mut flows);
            }
        }
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
    let mut flows = Vec::new();
    table.finish(&mut flows);
    let _ = tx.send(Report {
        worker: me,
        flows,
        watermark: u64::MAX,
        orphan_fragments: table.stats().orphan_fragments,
    });
}

/// Run the flow-sharded path; `write` gets ended flows in first-packet order.
fn sharded<E: From<Error>>(
    mut feeder: Feeder<'_>,
    cfg: FlowConfig,
    threads: usize,
    write: &mut dyn FnMut(&mut Vec<FlowRecord>) -> Result<(), E>,
) -> Result<Account, E> {
    let n = threads.clamp(1, usize::from(NO_SHARD));
    let mut acc = Account::default();
    let (res_tx, res_rx) = mpsc::channel::<Report>();
    let mut pending: BTreeMap<u64, FlowRecord> = BTreeMap::new();
    let mut marks = vec![0u64; n];
    let mut numbering = StreamNumbering::new();
    let mut out = Vec::new();
    // The last batch handed to the workers: the flows a report brings were
    // made from it or from earlier batches, so when its mapped bytes are
    // still the file's own, all of theirs are (a file only shrinks from its
    // end).
    let mut last: Option<Arc<Shared>> = None;
    let mut take = |r: Report,
                    pending: &mut BTreeMap<u64, FlowRecord>,
                    marks: &mut [u64],
                    acc: &mut Account,
                    last: Option<&Shared>|
     -> Result<(), E> {
        for f in r.flows {
            pending.insert(f.first_frame, f);
        }
        marks[r.worker] = r.watermark;
        acc.orphan_fragments += r.orphan_fragments;
        let safe = marks.iter().copied().min().unwrap_or(u64::MAX);
        while let Some(e) = pending.first_entry() {
            if *e.key() >= safe {
                break;
            }
            out.push(e.remove());
        }
        if !out.is_empty()
            && let Some(l) = last
        {
            l.work.batch.check_intact().map_err(Error::from)?;
        }
        write(&mut out)
    };
    std::thread::scope(|s| -> Result<(), E> {
        let mut txs = Vec::with_capacity(n);
        for w in 0..n {
            let (tx, rx) = mpsc::sync_channel::<Arc<Shared>>(4);
            txs.push(tx);
            let res_tx = res_tx.clone();
            std::thread::Builder::new()
                .name(format!("pcapx-flows-{w}"))
                .spawn_scoped(s, move || worker(w, cfg, &rx, &res_tx))
                .map_err(|e| Error::Usage(format!("cannot start a flow worker thread: {e}")))?;
        }
        drop(res_tx);
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
            let mut shard = Vec::with_capacity(work.take);
            let mut stream = Vec::with_capacity(work.take);
            for (rec, pass) in work.records() {
                acc.read += 1;
                // Conversations are numbered over every record, as in
                // packet tables (and tshark), whatever the filter.
                let info = pcapx_flow::parse(rec.linktype, rec.data);
                let s = numbering.packet(&info, rec.ts_ns);
                stream.push(s.tcp_stream.or(s.udp_stream).unwrap_or(NO_STREAM));
                if !pass {
                    acc.filtered_out += 1;
                    shard.push(NO_SHARD);
                    continue;
                }
                match (info.src, info.dst) {
                    (Some(a), Some(b)) => {
                        shard.push(u16::try_from(addr_pair_shard(&a, &b, n)).unwrap_or(0));
                    }
                    _ => {
                        acc.not_ip += 1;
                        shard.push(NO_SHARD);
                    }
                }
            }
            let shared = Arc::new(Shared {
                work,
                shard,
                stream,
            });
            for tx in &txs {
                // A worker only stops early if the writer failed; the
                // error comes from `take` below.
                let _ = tx.send(Arc::clone(&shared));
            }
            last = Some(shared);
            while let Ok(r) = res_rx.try_recv() {
                take(r, &mut pending, &mut marks, &mut acc, last.as_deref())?;
            }
        }
        // The end of the input ends every live flow: make sure it is the
        // file's end, not the zeroed pages of a file that shrank meanwhile.
        result?;
        feeder.check_intact().map_err(Error::from)?;
        drop(txs);
        for r in res_rx.iter() {
            take(r, &mut pending, &mut marks, &mut acc, last.as_deref())?;
        }
        Ok(())
    })?;
    Ok(acc)
}
