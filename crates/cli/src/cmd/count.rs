//! `pcapx count`: the tutorial's overview (`<file: TCP:6 UDP:1 ICMP:0 Other:3>`,
//! Scapy's `PacketList` repr) or, with `--hierarchy`, a protocol hierarchy
//! with packet and byte counts like `tshark -z io,phs`.

use std::collections::BTreeMap;
use std::io::Write;
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

/// What one batch adds to the counts (merged in batch order).
#[derive(Default)]
struct Part {
    counts: [u64; 3],
    other: u64,
    /// The batch's hierarchy; `order` is first-seen order within the batch.
    root: Node,
}

/// Add `from` (one batch's tree) to `into`: children new to `into` get the
/// next numbers of `seq` in `from`'s first-seen order, so that merging the
/// batches in file order gives every node the rank among its siblings that
/// one walk over the file would have given it.
fn merge(into: &mut Node, from: Node, seq: &mut u64) {
    into.frames += from.frames;
    into.bytes += from.bytes;
    let mut kids: Vec<(String, Node)> = from.children.into_iter().collect();
    kids.sort_by_key(|(_, n)| n.order);
    for (name, kid) in kids {
        let dst = into.children.entry(name).or_insert_with(|| {
            *seq += 1;
            Node {
                order: *seq,
                ..Node::default()
            }
        });
        merge(dst, kid, seq);
    }
}

pub fn run(a: &CountArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let reg = engine.registry();
    let mut cap = input::open(&a.input)?;
    let id = |n: &str| reg.proto_by_name(n).unwrap_or(ProtoId(u32::MAX));
    let classic = [("TCP", id("tcp")), ("UDP", id("udp")), ("ICMP", id("icmp"))];
    let (padding, frame) = (id("padding"), id("frame"));
    let mut counts = [0u64; 3];
    let mut other = 0u64;
    let mut root = Node::default();
    let mut seq = 0u64;
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
    let threads = pcapx_pipeline::thread_count(a.threads);
    // TCP desegmentation only changes the layers above TCP: a packet's
    // class (the first of TCP, UDP, ICMP it has) cannot depend on it, so
    // the plain count skips it (a sixth of the reader thread's work on the
    // bench capture); the hierarchy shows those layers and needs it.
    let pass = input::StreamPass::new(
        None,
        0,
        !a.input.no_defrag,
        (a.hierarchy && !a.input.no_desegment).then_some(engine),
    );
    let stage = pcapx_facade::input::PassStage::new(pass);
    let mut feeder = pcapx_facade::input::Feeder::new(&mut cap, a.input.limit);
    // Batches are dissected in parallel; their counts and trees are merged
    // in file order, so the output is the same for any thread count.
    pcapx_facade::input::pipeline(
        threads,
        &stage,
        || feeder.next_work().map_err(anyhow::Error::from),
        || engine.new_fields(Wanted::none(reg.field_count())),
        |fields, w: &input::Work| -> Part {
            let mut part = Part::default();
            let mut seq = 0u64;
            stage.dissect_each(engine, w, fields, |rec, fields| {
                let layers = fields.layers();
                // Scapy: the first of TCP, UDP, ICMP the packet has (quoted
                // copies in ICMP errors are TCPerror/UDPerror, which do not
                // count), else Other.
                match classic
                    .iter()
                    .position(|(_, p)| layers.iter().any(|l| l.proto == *p && !l.quoted))
                {
                    Some(i) => part.counts[i] += 1,
                    None => part.other += 1,
                }
                if a.hierarchy {
                    let mut node = &mut part.root;
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
            });
            part
        },
        |part: Part| -> Result<()> {
            for (c, n) in counts.iter_mut().zip(part.counts) {
                *c += n;
            }
            other += part.other;
            merge(&mut root, part.root, &mut seq);
            Ok(())
        },
    )?;
    let used = feeder.used();
    let pass = stage.into_pass();
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
        m.insert("packets".into(), used.into());
        serde_json::to_writer(&mut out, &m)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "<{name}: TCP:{} UDP:{} ICMP:{} Other:{other}>",
            counts[0], counts[1], counts[2]
        )?;
    }
    // The pass's warnings first, as the facade's scans give them (the pass
    // holds the input's borrow until it is dropped).
    if let Some(p) = pass {
        p.report(&a.input.name());
    }
    cap.report_damage();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(order: u64, frames: u64) -> Node {
        Node {
            frames,
            bytes: frames * 10,
            order,
            ..Node::default()
        }
    }

    /// Sibling order in the merged tree is first-seen order over the file:
    /// batch 1 saw `ip` then `arp`; batch 2 saw `ipv6` (new) before `ip`.
    #[test]
    fn merged_siblings_keep_file_order() {
        let mut b1 = Node::default();
        b1.children.insert("ip".into(), leaf(1, 2));
        b1.children.insert("arp".into(), leaf(2, 1));
        let mut b2 = Node::default();
        b2.children.insert("zz".into(), leaf(3, 1));
        b2.children.insert("ipv6".into(), leaf(1, 1));
        b2.children.insert("ip".into(), leaf(2, 4));
        let (mut root, mut seq) = (Node::default(), 0);
        merge(&mut root, b1, &mut seq);
        merge(&mut root, b2, &mut seq);
        let mut kids: Vec<(&String, &Node)> = root.children.iter().collect();
        kids.sort_by_key(|(_, n)| n.order);
        let names: Vec<&str> = kids.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["ip", "arp", "ipv6", "zz"]);
        assert_eq!(root.children["ip"].frames, 6);
        assert_eq!(root.children["ip"].bytes, 60);
    }
}
