//! `pcapx stats FILE --conversations [tcp|udp|ip|ipv6]`: the numbers of
//! `tshark -q -z conv,tcp|udp|ip|ipv6` — frames and bytes each way, relative
//! start and duration per conversation.
//!
//! TCP and UDP conversations are the flow table's flows with no timeouts (so
//! only TCP port reuse splits one, as in tshark); IP conversations are
//! address pairs. Address A is the source of the conversation's first packet.
//! Rows are sorted like tshark's: most frames first, ties in order of first
//! appearance. Bytes are exact (tshark rounds totals of 10 000 bytes or more
//! to kB in its text table).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Context, Result};
use pcapx_flow::key::{Addr, TCP, UDP};
use pcapx_flow::{FlowConfig, FlowRecord, FlowTable};

use super::Ctx;
use crate::cli::{ConvKind, Input, StatsFormat};
use crate::input;

/// One row of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conversation {
    pub address_a: String,
    pub port_a: Option<u16>,
    pub address_b: String,
    pub port_b: Option<u16>,
    /// B → A (tshark's `<-`).
    pub frames_b_to_a: u64,
    pub bytes_b_to_a: u64,
    /// A → B (tshark's `->`).
    pub frames_a_to_b: u64,
    pub bytes_a_to_b: u64,
    pub frames: u64,
    pub bytes: u64,
    /// Seconds from the capture's first packet to the conversation's first.
    pub rel_start: f64,
    pub duration: f64,
    #[serde(skip)]
    first_frame: u64,
}

#[allow(clippy::cast_precision_loss)]
fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

fn from_flow(r: &FlowRecord, t0: i64) -> Conversation {
    // A flipped flow (first packet a SYN-ACK) has its responder as A.
    let flipped = r.history.starts_with('^');
    let (a, pa, b, pb, ab, ba) = if flipped {
        (r.dst, r.dport, r.src, r.sport, r.resp, r.orig)
    } else {
        (r.src, r.sport, r.dst, r.dport, r.orig, r.resp)
    };
    Conversation {
        address_a: a.to_ip().to_string(),
        port_a: Some(pa),
        address_b: b.to_ip().to_string(),
        port_b: Some(pb),
        frames_b_to_a: ba.packets,
        bytes_b_to_a: ba.bytes,
        frames_a_to_b: ab.packets,
        bytes_a_to_b: ab.bytes,
        frames: ab.packets + ba.packets,
        bytes: ab.bytes + ba.bytes,
        rel_start: secs(r.first_ns - t0),
        duration: secs(r.last_ns - r.first_ns),
        first_frame: r.first_frame,
    }
}

/// IP address-pair conversations.
#[derive(Default)]
struct IpPairs {
    map: HashMap<(Addr, Addr), usize>,
    rows: Vec<(Addr, Addr, [u64; 4], i64, i64, u64)>,
}

impl IpPairs {
    fn add(&mut self, src: Addr, dst: Addr, ts: i64, len: u32, frame: u64) {
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let i = *self.map.entry(key).or_insert_with(|| {
            self.rows.push((src, dst, [0; 4], ts, ts, frame));
            self.rows.len() - 1
        });
        let r = &mut self.rows[i];
        let ab = src == r.0;
        let k = if ab { 0 } else { 2 };
        r.2[k] += 1;
        r.2[k + 1] += u64::from(len);
        r.3 = r.3.min(ts);
        r.4 = r.4.max(ts);
    }
}

pub fn report(
    _ctx: &Ctx,
    input_args: &Input,
    kind: ConvKind,
    format: StatsFormat,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let mut cap = input::open(input_args)?;
    let cfg = FlowConfig {
        tcp_idle_ns: i64::MAX,
        udp_idle_ns: i64::MAX,
        other_idle_ns: i64::MAX,
        active_ns: i64::MAX,
        community_id_seed: 0,
    };
    let mut table = FlowTable::new(cfg);
    let mut ended = Vec::new();
    let mut pairs = IpPairs::default();
    let mut t0: Option<i64> = None;
    let want_proto = match kind {
        ConvKind::Tcp => Some(TCP),
        ConvKind::Udp => Some(UDP),
        ConvKind::Ip | ConvKind::Ipv6 => None,
    };
    input::walk(&mut cap, input_args.limit, |rec| {
        t0.get_or_insert(rec.ts_ns);
        let info = pcapx_flow::parse(rec.linktype, rec.data);
        let (Some(src), Some(dst)) = (info.src, info.dst) else {
            return Ok(ControlFlow::Continue(()));
        };
        match want_proto {
            Some(p) => {
                if info.proto == p {
                    table.packet(rec.number, rec.ts_ns, rec.wirelen, &info, &mut ended);
                }
            }
            None => {
                if src.v6 == (kind == ConvKind::Ipv6) {
                    pairs.add(src, dst, rec.ts_ns, rec.wirelen, rec.number);
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    cap.report_damage();
    table.finish(&mut ended);
    let t0 = t0.unwrap_or(0);
    let mut rows: Vec<Conversation> = if want_proto.is_some() {
        ended.iter().map(|r| from_flow(r, t0)).collect()
    } else {
        pairs
            .rows
            .iter()
            .map(|&(a, b, c, first, last, frame)| Conversation {
                address_a: a.to_ip().to_string(),
                port_a: None,
                address_b: b.to_ip().to_string(),
                port_b: None,
                frames_a_to_b: c[0],
                bytes_a_to_b: c[1],
                frames_b_to_a: c[2],
                bytes_b_to_a: c[3],
                frames: c[0] + c[2],
                bytes: c[1] + c[3],
                rel_start: secs(first - t0),
                duration: secs(last - first),
                first_frame: frame,
            })
            .collect()
    };
    rows.sort_by(|x, y| {
        y.frames
            .cmp(&x.frames)
            .then(x.first_frame.cmp(&y.first_frame))
    });
    let title = match kind {
        ConvKind::Tcp => "TCP",
        ConvKind::Udp => "UDP",
        ConvKind::Ip => "IPv4",
        ConvKind::Ipv6 => "IPv6",
    };
    let text = match format {
        StatsFormat::Json => {
            let mut s = serde_json::to_string_pretty(&rows)?;
            s.push('\n');
            s
        }
        StatsFormat::Csv => csv(&rows),
        StatsFormat::Table => text_table(title, &rows),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing standard output")?;
    Ok(ExitCode::SUCCESS)
}

fn endpoint(addr: &str, port: Option<u16>) -> String {
    match port {
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_owned(),
    }
}

fn csv(rows: &[Conversation]) -> String {
    let mut s = String::from(
        "address_a,port_a,address_b,port_b,frames_b_to_a,bytes_b_to_a,frames_a_to_b,bytes_a_to_b,frames,bytes,rel_start,duration\n",
    );
    let port = |p: Option<u16>| p.map_or_else(String::new, |p| p.to_string());
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{:.9},{:.4}",
            r.address_a,
            port(r.port_a),
            r.address_b,
            port(r.port_b),
            r.frames_b_to_a,
            r.bytes_b_to_a,
            r.frames_a_to_b,
            r.bytes_a_to_b,
            r.frames,
            r.bytes,
            r.rel_start,
            r.duration
        );
    }
    s
}

/// tshark's layout, with exact byte counts.
fn text_table(title: &str, rows: &[Conversation]) -> String {
    let a_w = rows
        .iter()
        .map(|r| endpoint(&r.address_a, r.port_a).len())
        .max()
        .unwrap_or(1)
        .max(1);
    let b_w = rows
        .iter()
        .map(|r| endpoint(&r.address_b, r.port_b).len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut s = String::new();
    let rule = "=".repeat(80);
    let _ = writeln!(s, "{rule}\n{title} Conversations\nFilter:<No Filter>");
    let lead = a_w + b_w + 5;
    let _ = writeln!(
        s,
        "{:lead$} | {:>17} | {:>17} | {:>17} | {:>14} | {:>10}",
        "", "<-", "->", "Total", "Relative", "Duration"
    );
    let _ = writeln!(
        s,
        "{:lead$} | {:>6} {:>10} | {:>6} {:>10} | {:>6} {:>10} | {:>14} | {:>10}",
        "", "Frames", "Bytes", "Frames", "Bytes", "Frames", "Bytes", "Start", ""
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:a_w$} <-> {:b_w$} | {:>6} {:>10} | {:>6} {:>10} | {:>6} {:>10} | {:>14.9} | {:>10.4}",
            endpoint(&r.address_a, r.port_a),
            endpoint(&r.address_b, r.port_b),
            r.frames_b_to_a,
            r.bytes_b_to_a,
            r.frames_a_to_b,
            r.bytes_a_to_b,
            r.frames,
            r.bytes,
            r.rel_start,
            r.duration
        );
    }
    let _ = writeln!(s, "{rule}");
    s
}
