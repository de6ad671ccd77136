//! `pcapx info`: capinfos-like facts about a capture file.

use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::Result;
use pcapx_capture::{ByteOrder, Compression, Format};
use pcapx_core::value::write_iso8601;
use serde::Serialize;

use crate::cli::InfoArgs;
use crate::input;

#[derive(Serialize)]
struct Interface {
    section: u32,
    id: u32,
    linktype: u32,
    linktype_name: &'static str,
    snaplen: u32,
    name: Option<String>,
    tsresol: String,
    packets: u64,
}

#[derive(Serialize)]
struct DamageOut {
    packet: u64,
    offset: u64,
    kind: String,
    message: String,
}

#[derive(Serialize)]
struct Info {
    file: String,
    format: String,
    compression: String,
    byte_order: String,
    version: String,
    snaplen: Option<u32>,
    sections: usize,
    interfaces: Vec<Interface>,
    packets: u64,
    filtered_out: u64,
    truncated_packets: u64,
    /// Packets per anomaly kind found by dissecting every packet.
    anomalies: std::collections::BTreeMap<String, u64>,
    damaged_records: u64,
    damage: Vec<DamageOut>,
    captured_bytes: u64,
    wire_bytes: u64,
    first_time: Option<String>,
    last_time: Option<String>,
    duration_s: Option<String>,
}

/// libpcap's names for the link types pcapx knows.
pub use pcapx_facade::linktype_name;

fn iso(ns: i64) -> String {
    let mut s = String::new();
    let _ = write_iso8601(&mut s, ns);
    s
}

pub fn run(a: &InfoArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let file = a.input.single_file("info")?.to_owned();
    let mut cap = input::open(&a.input)?;
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    let (mut trunc, mut capb, mut wireb) = (0u64, 0u64, 0u64);
    let mut per_if: std::collections::HashMap<(u32, u32), u64> = std::collections::HashMap::new();
    // Dissected for the anomaly totals only: no field is wanted.
    let engine = &ctx.engine;
    let mut fields = engine.new_fields(pcapx_core::Wanted::none(engine.registry().field_count()));
    let mut tally = pcapx_core::AnomalyTally::new(engine.registry());
    let c = input::walk(&mut cap, a.input.limit, |r| {
        engine.dissect(&input::meta(r), r.data, &mut fields);
        tally.count(&fields);
        first = Some(first.map_or(r.ts_ns, |f| f.min(r.ts_ns)));
        last = Some(last.map_or(r.ts_ns, |l| l.max(r.ts_ns)));
        trunc += u64::from(r.caplen < r.wirelen);
        capb += u64::from(r.caplen);
        wireb += u64::from(r.wirelen);
        *per_if.entry((r.section, r.interface)).or_default() += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    let info = cap.capture().info();
    let format = match info.format {
        Format::PcapMicro => "pcap (microsecond timestamps)",
        Format::PcapNano => "pcap (nanosecond timestamps)",
        Format::PcapNg => "pcapng",
    };
    let compression = match info.compression {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    };
    let orders = info.byte_orders();
    let bo = |o: &ByteOrder| {
        if *o == ByteOrder::Little {
            "little-endian"
        } else {
            "big-endian"
        }
    };
    let mut byte_order: Vec<&str> = orders.iter().map(bo).collect();
    byte_order.dedup();
    let (vmaj, vmin) = info.version();
    let out = Info {
        file,
        format: format.into(),
        compression: compression.into(),
        byte_order: byte_order.join(", "),
        version: format!("{vmaj}.{vmin}"),
        snaplen: info.snaplen,
        sections: info.section_count(),
        interfaces: info
            .interfaces
            .iter()
            .map(|i| Interface {
                section: i.section,
                id: i.id,
                linktype: i.linktype,
                linktype_name: linktype_name(i.linktype),
                snaplen: i.snaplen,
                name: i.name.clone(),
                tsresol: if i.tsresol.is_power_of_two() {
                    format!("2^-{}", i.tsresol.exponent())
                } else {
                    format!("10^-{}", i.tsresol.exponent())
                },
                packets: per_if.get(&(i.section, i.id)).copied().unwrap_or(0),
            })
            .collect(),
        packets: c.used,
        filtered_out: c.filtered_out,
        truncated_packets: trunc,
        anomalies: tally
            .iter(engine.registry())
            .map(|(k, n)| (k.to_owned(), n))
            .collect(),
        damaged_records: cap.damage_count(),
        damage: cap
            .capture()
            .damage()
            .iter()
            .map(|d| DamageOut {
                packet: d.packet,
                offset: d.offset,
                kind: d.kind.to_string(),
                message: d.message.clone(),
            })
            .collect(),
        captured_bytes: capb,
        wire_bytes: wireb,
        first_time: first.map(iso),
        last_time: last.map(iso),
        duration_s: first.zip(last).map(|(f, l)| {
            let mut s = String::new();
            let _ = pcapx_core::value::write_epoch(&mut s, l - f);
            s
        }),
    };
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if a.json {
        serde_json::to_writer_pretty(&mut w, &out)?;
        writeln!(w)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(w, "File name:           {}", out.file)?;
    writeln!(w, "File type:           {}", out.format)?;
    writeln!(w, "Compression:         {}", out.compression)?;
    writeln!(w, "Byte order:          {}", out.byte_order)?;
    writeln!(w, "Version:             {}", out.version)?;
    if let Some(s) = out.snaplen {
        writeln!(w, "Snapshot length:     {s}")?;
    }
    if out.sections > 1 {
        writeln!(w, "Sections:            {}", out.sections)?;
    }
    writeln!(w, "Interfaces:          {}", out.interfaces.len())?;
    for i in &out.interfaces {
        writeln!(
            w,
            "  #{}{}: {} ({}), snaplen {}, time resolution {}{}, {} packets",
            i.id,
            if out.sections > 1 {
                format!(" (section {})", i.section)
            } else {
                String::new()
            },
            i.linktype_name,
            i.linktype,
            i.snaplen,
            i.tsresol,
            i.name
                .as_deref()
                .map(|n| format!(", name {n}"))
                .unwrap_or_default(),
            i.packets
        )?;
    }
    writeln!(w, "Number of packets:   {}", out.packets)?;
    if a.input.filter.is_some() {
        writeln!(w, "Filtered out:        {}", out.filtered_out)?;
    }
    writeln!(w, "Truncated packets:   {}", out.truncated_packets)?;
    writeln!(
        w,
        "Anomalies:           {}",
        tally.render(engine.registry())
    )?;
    writeln!(w, "Damaged records:     {}", out.damaged_records)?;
    for d in out.damage.iter().take(10) {
        writeln!(
            w,
            "  packet {}, offset {}: {} ({})",
            d.packet, d.offset, d.message, d.kind
        )?;
    }
    writeln!(
        w,
        "Data size:           {} bytes captured, {} bytes on the wire",
        out.captured_bytes, out.wire_bytes
    )?;
    writeln!(
        w,
        "First packet time:   {}",
        out.first_time.as_deref().unwrap_or("n/a")
    )?;
    writeln!(
        w,
        "Last packet time:    {}",
        out.last_time.as_deref().unwrap_or("n/a")
    )?;
    writeln!(
        w,
        "Capture duration:    {} seconds",
        out.duration_s.as_deref().unwrap_or("n/a")
    )?;
    Ok(ExitCode::SUCCESS)
}
