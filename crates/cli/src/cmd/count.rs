//! `pcapx count`: the tutorial's overview (`<file: TCP:6 UDP:1 ICMP:0 Other:3>`,
//! Scapy's `PacketList` repr) or, with `--hierarchy`, a protocol hierarchy
//! with packet and byte counts like `tshark -z io,phs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::Result;
use pcapx_core::{ProtoId, Wanted};
use serde::Serialize;

use crate::cli::CountArgs;
use crate::input;

#[derive(Default, Serialize)]
struct Node {
    frames: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    children: BTreeMap<String, Node>,
    #[serde(skip)]
    order: u64,
}

pub fn run(a: &CountArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let reg = engine.registry();
    let mut cap = input::open(&a.input)?;
    let mut fields = engine.new_fields(Wanted::none(reg.field_count()));
    let id = |n: &str| reg.proto_by_name(n).unwrap_or(ProtoId(u32::MAX));
    let classic = [("TCP", id("tcp")), ("UDP", id("udp")), ("ICMP", id("icmp"))];
    let (padding, frame) = (id("padding"), id("frame"));
    let mut counts = [0u64; 3];
    let mut other = 0u64;
    let mut root = Node::default();
    let mut seq = 0u64;
    let mut pass = input::StreamPass::for_input(engine, &a.input, None, 0);
    let c = input::walk_with(&mut cap, a.input.limit, pass.as_mut(), |rec, side| {
        engine.dissect_with(&input::meta(rec), rec.data, side, &mut fields);
        let layers = fields.layers();
        // Scapy: the first of TCP, UDP, ICMP the packet has (quoted copies in
        // ICMP errors are TCPerror/UDPerror, which do not count), else Other.
        match classic
            .iter()
            .position(|(_, p)| layers.iter().any(|l| l.proto == *p && !l.quoted))
        {
            Some(i) => counts[i] += 1,
            None => other += 1,
        }
        if a.hierarchy {
            let mut node = &mut root;
            node.frames += 1;
            node.bytes += u64::from(rec.wirelen);
            for l in layers
                .iter()
                .filter(|l| l.proto != frame && l.proto != padding)
            {
                let name = &reg.protocol(l.proto).name;
                seq += 1;
                node = node.children.entry(name.clone()).or_insert_with(|| Node {
                    order: seq,
                    ..Node::default()
                });
                node.frames += 1;
                node.bytes += u64::from(rec.wirelen);
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.hierarchy {
        if a.json {
            serde_json::to_writer_pretty(&mut out, &root.children)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "==================================================================="
            )?;
            writeln!(out, "Protocol Hierarchy Statistics")?;
            writeln!(out, "Filter: {}", a.input.filter.as_deref().unwrap_or(""))?;
            writeln!(out)?;
            print_tree(&mut out, &root, 0)?;
            writeln!(
                out,
                "==================================================================="
            )?;
        }
    } else if a.json {
        let mut m = serde_json::Map::new();
        for (i, (n, _)) in classic.iter().enumerate() {
            m.insert((*n).to_owned(), counts[i].into());
        }
        m.insert("Other".into(), other.into());
        m.insert("packets".into(), c.used.into());
        serde_json::to_writer(&mut out, &m)?;
        writeln!(out)?;
    } else {
        // Scapy names a PacketList after its file: the files' names, in order.
        let name = cap
            .paths()
            .iter()
            .map(|f| {
                if &**f == "-" {
                    "<stdin>".to_owned()
                } else {
                    std::path::Path::new(&**f)
                        .file_name()
                        .map_or_else(|| f.to_string(), |s| s.to_string_lossy().into_owned())
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        writeln!(
            out,
            "<{name}: TCP:{} UDP:{} ICMP:{} Other:{other}>",
            counts[0], counts[1], counts[2]
        )?;
    }
    cap.report_damage();
    if let Some(p) = &pass {
        p.report(&a.input.name());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_tree(out: &mut impl Write, node: &Node, depth: usize) -> std::io::Result<()> {
    let mut kids: Vec<(&String, &Node)> = node.children.iter().collect();
    kids.sort_by_key(|(_, n)| n.order);
    for (name, n) in kids {
        let label = format!("{}{}", "  ".repeat(depth), name);
        writeln!(out, "{label:<40} frames:{} bytes:{}", n.frames, n.bytes)?;
        print_tree(out, n, depth + 1)?;
    }
    Ok(())
}
