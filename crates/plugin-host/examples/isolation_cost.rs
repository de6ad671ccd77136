//! Micro-benchmark: what an out-of-process plugin call would cost.
//!
//! The isolation mode considered for untrusted plugins (PLUGINS.md, "Panics
//! and crashes") runs plugin dissection in a child process. Its floor is one
//! round trip per call: the layer's bytes to the child, the emitted fields
//! back. This measures that floor with the cheapest portable transport — a
//! pair of pipes to a child process that echoes a small reply — for a
//! 1,500-byte layer and a 64-byte reply (a few fields), one call at a time,
//! and also with 256 calls batched per round trip (what a per-batch design,
//! where the child runs the whole engine on a batch of packets, would pay
//! per packet, before the cost of shipping every field value back).
//!
//! ```text
//! cargo run --release -p pcapx-plugin-host --example isolation_cost
//! ```
//!
//! Compare with `plugin_overhead` (the in-process boundary, ~11 ns per call).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

const LAYER: usize = 1500;
const REPLY: usize = 64;

fn child() -> std::io::Result<()> {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut len = [0u8; 4];
    let mut buf = vec![0u8; LAYER * 256];
    let reply = vec![7u8; REPLY * 256];
    loop {
        if input.read_exact(&mut len).is_err() {
            return Ok(());
        }
        let calls = u32::from_le_bytes(len) as usize;
        input.read_exact(&mut buf[..LAYER * calls])?;
        output.write_all(&reply[..REPLY * calls])?;
        output.flush()?;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("--child") {
        return Ok(child()?);
    }
    let mut c = Command::new(std::env::current_exe()?)
        .arg("--child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to = c.stdin.take().ok_or("no stdin")?;
    let mut from = c.stdout.take().ok_or("no stdout")?;
    let layer = vec![0x5au8; LAYER * 256];
    let mut reply = vec![0u8; REPLY * 256];
    let mut round = |calls: usize, rounds: usize| -> std::io::Result<f64> {
        let t = Instant::now();
        for _ in 0..rounds {
            to.write_all(&u32::try_from(calls).unwrap_or(1).to_le_bytes())?;
            to.write_all(&layer[..LAYER * calls])?;
            to.flush()?;
            from.read_exact(&mut reply[..REPLY * calls])?;
        }
        Ok(t.elapsed().as_secs_f64() * 1e9 / (rounds * calls) as f64)
    };
    // Warm up, then best of 5.
    round(1, 2000)?;
    let best = |f: &mut dyn FnMut() -> std::io::Result<f64>| -> std::io::Result<f64> {
        let mut b = f64::MAX;
        for _ in 0..5 {
            b = b.min(f()?);
        }
        Ok(b)
    };
    let one = best(&mut || round(1, 20_000))?;
    let batched = best(&mut || round(256, 200))?;
    println!(
        "out-of-process plugin call over pipes ({LAYER}-byte layer out, {REPLY}-byte reply back), best of 5:"
    );
    println!("  one call per round trip        {:8.0} ns per call", one);
    println!(
        "  256 calls batched per round    {:8.0} ns per call",
        batched
    );
    drop(to);
    c.wait()?;
    Ok(())
}
