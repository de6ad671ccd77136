//! Dissect-only throughput: load a capture's packets into memory, then dissect
//! them on one thread with the tutorial table's fields wanted, and report
//! packets per second per core. Used by `cargo xtask bench`.
//!
//! `cargo run --release -p pcapx --example dissect_throughput -- FILE [--max N] [--rounds R]`

use std::time::Instant;

use pcapx_capture::Capture;
use pcapx_core::PacketMeta;
use pcapx_output::{Occurrence, TableSpec, TimeFormat};

/// How many packets ahead the loop prefetches (the pipeline's distance).
const AHEAD: usize = 8;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args
        .first()
        .ok_or("usage: dissect_throughput FILE [--max N] [--rounds R]")?;
    let opt = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let max = opt("--max", 1_000_000);
    let rounds = opt("--rounds", 3);
    let engine = pcapx_dissectors::builder()?.build()?;
    let spec = TableSpec::build(
        engine.registry(),
        None,
        false,
        TimeFormat::Epoch,
        Occurrence::First,
    )?;
    let mut fields = engine.new_fields_for(
        spec.wanted(engine.registry().field_count()),
        &spec.kept_protocols(),
    );

    // Packets into one buffer: (meta, start, end).
    let mut buf = Vec::new();
    let mut pkts: Vec<(PacketMeta<'static>, usize, usize)> = Vec::new();
    let mut cap = Capture::open(file)?;
    cap.try_for_each(|r| {
        let s = buf.len();
        buf.extend_from_slice(r.data);
        let meta = PacketMeta {
            number: r.number,
            ts_ns: r.ts_ns,
            caplen: r.caplen,
            wirelen: r.wirelen,
            linktype: r.linktype,
            interface: r.interface,
            comment: None,
        };
        pkts.push((meta, s, buf.len()));
        if pkts.len() >= max {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;

    let mut best = f64::MAX;
    let mut rows = 0u64;
    for _ in 0..rounds {
        rows = 0;
        let t = Instant::now();
        for (i, (meta, s, e)) in pkts.iter().enumerate() {
            // As the pipeline's workers do: the headers of the packet a few
            // ahead are asked for while this one is dissected.
            if let Some((_, ahead, _)) = pkts.get(i + AHEAD) {
                let at = *ahead as u64;
                pcapx_capture::prefetch(&buf, at);
                pcapx_capture::prefetch(&buf, at + 64);
            }
            engine.dissect(meta, &buf[*s..*e], &mut fields);
            rows += u64::from(spec.accepts(&fields));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    #[allow(clippy::cast_precision_loss)]
    let n = pkts.len() as f64;
    println!(
        "dissect_throughput: {} packets ({rows} tutorial rows), best of {rounds}: {:.3} s, {:.2} M packets/s on one core, {:.0} ns/packet",
        pkts.len(),
        best,
        n / best / 1e6,
        best / n * 1e9
    );
    Ok(())
}
