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
//!
//! `pcapx follow FILE --all -o DIR` writes every stream's two directions in
//! one pass: `DIR/tcp-stream-N-node0.bin` and `…-node1.bin` (or `udp-…`),
//! the raw in-order bytes (no gap markers). Each direction's bytes are
//! buffered up to 64 KiB and appended to its file under a temporary
//! directory in DIR; a stream's state is dropped once it is closed (FIN both
//! ways, or RST), and the files are moved into DIR when the whole capture
//! was read — on an error or a signal none appear.

use std::fmt::Write as _;
use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
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

/// One packet of a followed conversation, as the walk sees it.
struct Seen<'a> {
    stream: u32,
    node_src: Endpoint,
    node_dst: Endpoint,
    l4: L4,
    payload: &'a [u8],
    payload_len: u32,
}

/// Walk the capture and hand every packet of a `proto` conversation to `f`
/// with its stream number (tshark's numbering over every packet read).
fn walk_streams(
    a: &FollowArgs,
    _ctx: &Ctx,
    mut f: impl FnMut(&Seen<'_>) -> Result<()>,
) -> Result<pcapx_facade::Source> {
    let mut cap = input::open(&a.input)?;
    // The numbering alone (no field of a table wants the values).
    let mut pass = input::StreamPass::new(
        Some(input::StreamIds::default()),
        0,
        !a.input.no_defrag,
        None,
    );
    let mut arena = Vec::new();
    let proto = match a.proto {
        FollowProto::Tcp => TCP,
        FollowProto::Udp => UDP,
    };
    input::walk(&mut cap, a.input.limit, |rec| {
        let Some(pass) = pass.as_mut() else {
            return Ok(ControlFlow::Continue(()));
        };
        arena.clear();
        let (_, values) = pass.record(rec, &mut arena);
        let stream = values.and_then(|v| match a.proto {
            FollowProto::Tcp => v.tcp_stream(),
            FollowProto::Udp => v.udp_stream(),
        });
        let Some(stream) = stream else {
            return Ok(ControlFlow::Continue(()));
        };
        let p = pcapx_flow::parse(rec.linktype, rec.data);
        // Only the frame's own transport header is followed (a datagram
        // reassembled from fragments is not).
        let (Some(src), Some(dst), true) = (p.src, p.dst, p.proto == proto) else {
            return Ok(ControlFlow::Continue(()));
        };
        let (sport, dport) = match p.l4 {
            L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => (sport, dport),
            _ => return Ok(ControlFlow::Continue(())),
        };
        f(&Seen {
            stream,
            node_src: Endpoint {
                addr: src,
                port: sport,
            },
            node_dst: Endpoint {
                addr: dst,
                port: dport,
            },
            l4: p.l4,
            payload: rec.data.get(p.payload.clone()).unwrap_or(&[]),
            payload_len: p.payload_len,
        })?;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(cap)
}

/// Place one packet of a conversation: its node, and the events of its bytes.
fn place(
    nodes: &mut Option<[Endpoint; 2]>,
    streams: &mut [Stream; 2],
    s: &Seen<'_>,
    mut emit: impl FnMut(usize, Event<'_>),
) {
    let n = *nodes.get_or_insert([s.node_src, s.node_dst]);
    let node = usize::from(s.node_src != n[0]);
    match s.l4 {
        L4::Tcp { seq, flags, .. } => {
            // Bytes the snaplen cut off are not "missing" for tshark: it
            // shows what was captured and goes on.
            let cut = u64::from(s.payload_len).saturating_sub(s.payload.len() as u64);
            streams[node].segment(seq, flags, s.payload, s.payload_len, &mut |ev| match ev {
                Event::Gap(n) if cut > 0 && n == cut => {}
                ev => emit(node, ev),
            });
        }
        _ if !s.payload.is_empty() => emit(node, Event::Data(s.payload)),
        _ => {}
    }
}

pub fn run(a: &FollowArgs, ctx: &Ctx) -> Result<ExitCode> {
    match (a.stream, a.all, &a.output) {
        (Some(n), false, None) => run_one(a, ctx, n),
        (None, true, Some(dir)) => run_all(a, ctx, dir),
        (None, true, None) => bail!("--all writes files: give the directory with -o DIR"),
        (Some(_), true, _) => bail!("give either --stream N or --all, not both"),
        (Some(_), false, Some(_)) => bail!("-o DIR goes with --all (--stream N prints)"),
        (None, false, _) => bail!("give --stream N (one stream) or --all -o DIR (every stream)"),
    }
}

fn run_one(a: &FollowArgs, ctx: &Ctx, want: u32) -> Result<ExitCode> {
    let mut f = Followed::default();
    let mut cap = walk_streams(a, ctx, |s| {
        if s.stream == want {
            let chunks = &mut f.chunks;
            place(&mut f.nodes, &mut f.streams, s, |node, ev| {
                push_event(chunks, node, ev);
            });
        }
        Ok(())
    })?;
    // End of capture: what was held beyond a hole comes out, the hole as
    // a "missing" record (tshark's end-of-capture output).
    for node in 0..2 {
        let chunks = &mut f.chunks;
        f.streams[node].flush(&mut |ev| push_event(chunks, node, ev));
    }
    let mut out = String::new();
    render(&f, a, want, &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    cap.report_damage();
    Ok(ExitCode::SUCCESS)
}

/// One conversation of `--all`: its reassembly and the bytes not yet
/// written to its two files.
#[derive(Default)]
struct Open {
    nodes: Option<[Endpoint; 2]>,
    streams: [Stream; 2],
    pending: [Vec<u8>; 2],
    closed: [bool; 2],
}

/// Bytes a direction buffers before they are appended to its file.
const FLUSH_AT: usize = 64 * 1024;

/// The files of `--all`, written under a temporary directory inside DIR and
/// moved into DIR only when the whole capture was read (all or nothing).
struct AllFiles {
    dir: PathBuf,
    tmp: PathBuf,
    names: Vec<String>,
    done: bool,
}

impl AllFiles {
    fn name(proto: &str, stream: u32, node: usize) -> String {
        format!("{proto}-stream-{stream}-node{node}.bin")
    }

    fn append(&mut self, name: String, data: &[u8], new: bool) -> Result<()> {
        let path = self.tmp.join(&name);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(data)
            .with_context(|| format!("writing {}", path.display()))?;
        if new {
            self.names.push(name);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<usize> {
        crate::signals::check()?;
        for n in &self.names {
            std::fs::rename(self.tmp.join(n), self.dir.join(n))
                .with_context(|| format!("moving {n} into {}", self.dir.display()))?;
        }
        self.done = true;
        let _ = std::fs::remove_dir_all(&self.tmp);
        Ok(self.names.len())
    }
}

impl Drop for AllFiles {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

fn flush_open(
    files: &mut AllFiles,
    proto: &str,
    stream: u32,
    o: &mut Open,
    started: &mut std::collections::HashSet<(u32, usize)>,
) -> Result<()> {
    for node in 0..2 {
        if o.pending[node].is_empty() {
            continue;
        }
        let new = started.insert((stream, node));
        files.append(AllFiles::name(proto, stream, node), &o.pending[node], new)?;
        o.pending[node].clear();
    }
    Ok(())
}

fn run_all(a: &FollowArgs, ctx: &Ctx, dir: &Path) -> Result<ExitCode> {
    crate::outfile::guard(dir, a.input.paths()?)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".pcapx-tmp-{}-follow", std::process::id()));
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut files = AllFiles {
        dir: dir.to_path_buf(),
        tmp,
        names: Vec::new(),
        done: false,
    };
    let proto = match a.proto {
        FollowProto::Tcp => "tcp",
        FollowProto::Udp => "udp",
    };
    let mut open: HashMap<u32, Open> = HashMap::new();
    let mut started = std::collections::HashSet::new();
    let mut cap = walk_streams(a, ctx, |s| {
        let o = open.entry(s.stream).or_default();
        let pending = &mut o.pending;
        let closed = &mut o.closed;
        place(&mut o.nodes, &mut o.streams, s, |node, ev| match ev {
            Event::Data(b) => pending[node].extend_from_slice(b),
            Event::Fin | Event::Rst => closed[node] = true,
            Event::Gap(_) => {}
        });
        let full = o.pending.iter().any(|p| p.len() >= FLUSH_AT);
        let rst = matches!(s.l4, L4::Tcp { flags, .. } if flags & 0x04 != 0);
        let over = (o.closed[0] && o.closed[1]) || rst;
        if full || over {
            flush_open(&mut files, proto, s.stream, o, &mut started)?;
        }
        if over {
            // Its bytes are written; a later packet of the same stream
            // number starts over (tshark would not show more either).
            open.remove(&s.stream);
        }
        Ok(())
    })?;
    let mut rest: Vec<(u32, Open)> = open.into_iter().collect();
    rest.sort_by_key(|(n, _)| *n);
    for (n, mut o) in rest {
        for node in 0..2 {
            let pending = &mut o.pending[node];
            o.streams[node].flush(&mut |ev| {
                if let Event::Data(b) = ev {
                    pending.extend_from_slice(b);
                }
            });
        }
        flush_open(&mut files, proto, n, &mut o, &mut started)?;
    }
    let written = files.finish()?;
    eprintln!("pcapx: {written} file(s) written to {}", dir.display());
    cap.report_damage();
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

fn render(f: &Followed, a: &FollowArgs, stream: u32, out: &mut String) {
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
    let _ = writeln!(out, "Filter: {proto}.stream eq {stream}");
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
