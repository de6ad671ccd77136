//! `pcapx flows`: one row per bidirectional flow, like Zeek's conn.log.
//!
//! The reader's thread runs the cheap header parse and the flow table; ended
//! flows wait in a reorder buffer until no live flow started before them, so
//! rows come out in first-packet order (a flow's first frame number) while
//! memory stays bounded by the flows live within one timeout. `tcp.stream`
//! and `udp.stream` number the TCP (UDP) rows in that order from 0.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pcapx_core::{FieldId, FieldType, Fields, Value, Wanted};
use pcapx_dissectors::transport::services;
use pcapx_flow::key::{ICMP, ICMPV6, SCTP, TCP, UDP};
use pcapx_flow::{FlowConfig, FlowRecord, FlowTable};
use pcapx_output::{ColumnSpec, Encoder, Format, Occurrence, Scope, TableSpec, TimeFormat, Writer};

use crate::cli::{FlowsArgs, TimeFmt};
use crate::input;

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

fn spec(time_format: TimeFormat) -> TableSpec {
    TableSpec {
        columns: COLUMNS
            .iter()
            .enumerate()
            .map(|(i, &(name, ftype))| ColumnSpec {
                name: name.to_owned(),
                fields: vec![FieldId(u32::try_from(i).unwrap_or(u32::MAX))],
                ftype,
                scope: Scope::Any,
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

/// Stream numbers handed out in output order.
#[derive(Default)]
struct Numbering {
    tcp: u32,
    udp: u32,
}

fn fill(fields: &mut Fields, r: &FlowRecord, n: &mut Numbering, scratch: &mut String) {
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
        TCP => {
            n.tcp += 1;
            (Some(n.tcp - 1), None)
        }
        UDP => {
            n.udp += 1;
            (None, Some(n.udp - 1))
        }
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

fn seconds(s: f64, what: &str) -> Result<i64> {
    if !s.is_finite() || s <= 0.0 || s > 1e9 {
        bail!("{what} must be a positive number of seconds, not {s}");
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok((s * 1e9).round() as i64)
}

pub fn run(a: &FlowsArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let format = super::convert::format_from(a.to, a.output.as_deref())?;
    if format == Format::Parquet && a.output.is_none() {
        bail!("Parquet output needs a file: -o OUT.parquet");
    }
    let mut cfg = FlowConfig {
        community_id_seed: a.community_id_seed,
        ..FlowConfig::default()
    };
    if let Some(s) = a.idle_timeout {
        let ns = seconds(s, "--idle-timeout")?;
        cfg.tcp_idle_ns = ns;
        cfg.udp_idle_ns = ns;
        cfg.other_idle_ns = ns;
    }
    if let Some(s) = a.active_timeout {
        cfg.active_ns = seconds(s, "--active-timeout")?;
    }
    let spec = spec(match a.time_format {
        TimeFmt::Epoch => TimeFormat::Epoch,
        TimeFmt::Iso => TimeFormat::Iso,
    });
    let mut cap = input::open(&a.input.file)?;
    let mut filter = ctx.filter(&a.input, &cap)?;
    let out: Box<dyn Write + Send> = match &a.output {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        None => Box::new(std::io::stdout()),
    };
    let out_name = a
        .output
        .as_ref()
        .map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    let mut writer = Writer::new(BufWriter::with_capacity(64 << 10, out), &spec, format)
        .with_context(|| format!("writing {out_name}"))?;
    let mut enc = Encoder::new(&spec, format);
    let mut fields = Fields::new(COLUMNS.len(), Wanted::All);
    let mut table = FlowTable::new(cfg);
    let mut ended: Vec<FlowRecord> = Vec::new();
    // Ended flows waiting for every older live flow to end.
    let mut pending: BTreeMap<u64, FlowRecord> = BTreeMap::new();
    let mut numbering = Numbering::default();
    let mut scratch = String::new();
    let mut rows = 0u64;
    let mut max_pending = 0usize;

    let mut emit = |pending: &mut BTreeMap<u64, FlowRecord>,
                    upto: Option<u64>,
                    enc: &mut Encoder,
                    writer: &mut Writer<_>|
     -> Result<()> {
        let mut n = 0;
        while let Some(e) = pending.first_entry() {
            if upto.is_some_and(|u| *e.key() >= u) {
                break;
            }
            let r = e.remove();
            fill(&mut fields, &r, &mut numbering, &mut scratch);
            enc.push(&spec, &fields);
            n += 1;
        }
        if n > 0 {
            rows += n;
            writer
                .write(enc.take())
                .with_context(|| format!("writing {out_name}"))?;
        }
        Ok(())
    };

    let counts = input::walk(&mut cap, &mut filter, a.input.limit, |rec| {
        let info = pcapx_flow::parse(rec.linktype, rec.data);
        table.packet(rec.number, rec.ts_ns, rec.wirelen, &info, &mut ended);
        if !ended.is_empty() {
            for r in ended.drain(..) {
                pending.insert(r.first_frame, r);
            }
            max_pending = max_pending.max(pending.len());
            let upto = table.oldest_live();
            if pending
                .first_key_value()
                .is_some_and(|(k, _)| upto.is_none_or(|u| *k < u))
            {
                emit(&mut pending, upto, &mut enc, &mut writer)?;
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    table.finish(&mut ended);
    for r in ended.drain(..) {
        pending.insert(r.first_frame, r);
    }
    emit(&mut pending, None, &mut enc, &mut writer)?;
    writer
        .finish()
        .with_context(|| format!("writing {out_name}"))?;
    input::report_damage(&cap);
    if a.verbose {
        let s = table.stats();
        eprintln!(
            "pcapx: {}: {} packets read, {} filtered out, {} not IP, {} flows written, at most {} live and {} waiting to be written, {} orphan fragments",
            a.input.file,
            counts.read,
            counts.filtered_out,
            s.not_ip,
            rows,
            s.max_concurrent,
            max_pending,
            s.orphan_fragments
        );
    }
    Ok(ExitCode::SUCCESS)
}
