//! `pcapx follow FILE --stream N [--format raw|ascii|hex] [--proto tcp|udp]`:
//! one conversation's payload, byte-identical to `tshark -q -z
//! follow,tcp|udp,FORMAT,N` — the same header, node lines and records.
//!
//! tshark's model, reproduced: Node 0 is the source of the stream's first
//! packet; a record is each run of new in-order bytes one packet delivers
//! (TCP through `pcapx_flow::reassembly::Stream`: retransmitted bytes are
//! not repeated, out-of-order bytes come out once the hole is filled, as
//! their own record), or each UDP datagram's payload. A hole given up on is
//! the record `[N bytes missing in capture file]` followed by a NUL byte.
//! Node 1's records are prefixed with a tab (raw, hex: every line; ascii:
//! the length line). Stream numbers are `tcp.stream`/`udp.stream` (tshark's
//! numbering, after IP defragmentation).

use std::fmt::Write as _;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::Result;
use pcapx_flow::key::{Addr, Endpoint, TCP, UDP};
use pcapx_flow::packet::L4;
use pcapx_flow::reassembly::{Event, Stream};

use super::Ctx;
use crate::cli::{FollowArgs, FollowFormat, FollowProto};
use crate::input;

/// One record: which node sent it, and its bytes.
struct Chunk {
    node: usize,
    data: Vec<u8>,
}

/// What `follow` collects for the one stream.
#[derive(Default)]
struct Followed {
    nodes: Option<[Endpoint; 2]>,
    chunks: Vec<Chunk>,
    streams: [Stream; 2],
}

const SEPARATOR: &str = "===================================================================";

pub fn run(a: &FollowArgs, ctx: &Ctx) -> Result<ExitCode> {
    let mut cap = input::open(&a.input)?;
    let mut filter = ctx.filter(&a.input, &cap)?;
    // The numbering alone (no field of a table wants the values).
    let mut pass = input::StreamPass::new(
        Some(input::StreamIds::default()),
        0,
        !a.input.no_defrag,
        None,
    );
    let want = a.stream;
    let mut f = Followed::default();
    let mut arena = Vec::new();
    let proto = match a.proto {
        FollowProto::Tcp => TCP,
        FollowProto::Udp => UDP,
    };
    input::walk(&mut cap, &mut filter, a.input.limit, |rec| {
        let Some(pass) = pass.as_mut() else {
            return Ok(ControlFlow::Continue(()));
        };
        arena.clear();
        let (side, values) = pass.record(rec, &mut arena);
        let Some(v) = values else {
            return Ok(ControlFlow::Continue(()));
        };
        let stream = match a.proto {
            FollowProto::Tcp => v.tcp_stream(),
            FollowProto::Udp => v.udp_stream(),
        };
        if stream != Some(want) {
            return Ok(ControlFlow::Continue(()));
        }
        let p = pcapx_flow::parse(rec.linktype, rec.data);
        if p.proto != proto {
            return Ok(ControlFlow::Continue(()));
        }
        let (Some(src), Some(dst)) = (p.src, p.dst) else {
            return Ok(ControlFlow::Continue(()));
        };
        // A datagram reassembled from fragments carries its payload in the
        // side input; this follows the frame's own transport only.
        let _ = side;
        let (sport, dport) = match p.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => (sport, dport),
            _ => return Ok(ControlFlow::Continue(())),
        };
        let s = Endpoint {
            addr: src,
            port: sport,
        };
        let d = Endpoint {
            addr: dst,
            port: dport,
        };
        let nodes = *f.nodes.get_or_insert([s, d]);
        let node = usize::from(s != nodes[0]);
        let payload = rec.data.get(p.payload.clone()).unwrap_or(&[]);
        match p.l4 {
            L4::Tcp { seq, flags, .. } => {
                let chunks = &mut f.chunks;
                // Bytes the snaplen cut off are not "missing" for tshark:
                // it shows what was captured and goes on.
                let cut = u64::from(p.payload_len).saturating_sub(payload.len() as u64);
                f.streams[node].segment(seq, flags, payload, p.payload_len, &mut |ev| match ev {
                    Event::Gap(n) if cut > 0 && n == cut => {}
                    ev => push_event(chunks, node, ev),
                });
            }
            _ => {
                if !payload.is_empty() {
                    f.chunks.push(Chunk {
                        node,
                        data: payload.to_vec(),
                    });
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    // End of capture: what was held beyond a hole comes out, the hole as
    // a "missing" record (tshark's end-of-capture output).
    for node in 0..2 {
        let chunks = &mut f.chunks;
        f.streams[node].flush(&mut |ev| push_event(chunks, node, ev));
    }
    let mut out = String::new();
    render(&f, a, &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    input::report_damage(&cap);
    Ok(ExitCode::SUCCESS)
}

/// A stream event as a record: data, or the "missing" marker for a hole.
fn push_event(chunks: &mut Vec<Chunk>, node: usize, ev: Event<'_>) {
    match ev {
        Event::Data(b) => chunks.push(Chunk {
            node,
            data: b.to_vec(),
        }),
        Event::Gap(n) => {
            let mut m = format!("[{n} bytes missing in capture file]").into_bytes();
            m.push(0);
            chunks.push(Chunk { node, data: m });
        }
        Event::Fin | Event::Rst => {}
    }
}

fn node_str(e: Option<&Endpoint>) -> String {
    let Some(e) = e else {
        return ":0".to_owned();
    };
    let a: &Addr = &e.addr;
    if a.v6 {
        format!("[{}]:{}", a.to_ip(), e.port)
    } else {
        format!("{}:{}", a.to_ip(), e.port)
    }
}

fn render(f: &Followed, a: &FollowArgs, out: &mut String) {
    let proto = match a.proto {
        FollowProto::Tcp => "tcp",
        FollowProto::Udp => "udp",
    };
    let fmt = match a.format {
        FollowFormat::Raw => "raw",
        FollowFormat::Ascii => "ascii",
        FollowFormat::Hex => "hex",
    };
    let _ = writeln!(out, "\n{SEPARATOR}");
    let _ = writeln!(out, "Follow: {proto},{fmt}");
    let _ = writeln!(out, "Filter: {proto}.stream eq {}", a.stream);
    let nodes = f.nodes.as_ref();
    let _ = writeln!(out, "Node 0: {}", node_str(nodes.map(|n| &n[0])));
    let _ = writeln!(out, "Node 1: {}", node_str(nodes.map(|n| &n[1])));
    let mut offset = [0usize; 2];
    for c in &f.chunks {
        let tab = if c.node == 1 { "\t" } else { "" };
        match a.format {
            FollowFormat::Raw => {
                out.push_str(tab);
                for b in &c.data {
                    let _ = write!(out, "{b:02x}");
                }
                out.push('\n');
            }
            FollowFormat::Ascii => {
                let _ = writeln!(out, "{tab}{}", c.data.len());
                for &b in &c.data {
                    out.push(if (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\r' {
                        char::from(b)
                    } else {
                        '.'
                    });
                }
                out.push('\n');
            }
            FollowFormat::Hex => {
                hex(tab, offset[c.node], &c.data, out);
            }
        }
        offset[c.node] += c.data.len();
    }
    let _ = writeln!(out, "{SEPARATOR}");
}

/// tshark's hex dump of one record: `%08X` offset, two spaces, 16 bytes in
/// two groups of 8, then the printable characters in two groups of 8 (a
/// final blank is not printed).
fn hex(prefix: &str, offset: usize, data: &[u8], out: &mut String) {
    for (i, line) in data.chunks(16).enumerate() {
        let _ = write!(out, "{prefix}{:08X}  ", offset + i * 16);
        let mut hexpart = String::with_capacity(50);
        for (j, b) in line.iter().enumerate() {
            if j == 8 {
                hexpart.push(' ');
            }
            let _ = write!(hexpart, "{b:02x} ");
        }
        let _ = write!(out, "{hexpart:<49} ");
        for (j, &b) in line.iter().enumerate() {
            if j == 8 {
                out.push(' ');
            }
            out.push(if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            });
        }
        // tshark drops a line's last character when it is a blank (one,
        // not all: "rce:    " prints as "rce:   ").
        if out.ends_with(' ') {
            out.pop();
        }
        out.push('\n');
    }
}
