//! `pcapx summary`: one Scapy-style line per packet.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::SummaryArgs;
use crate::input;

pub fn run(a: &SummaryArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let mut cap = input::open(&a.input)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    // Lines are held back until their batch is known to be intact (a
    // shrinking file); a live batch ends as soon as the ring is empty, and
    // its lines are flushed at once.
    let live = cap.is_live();
    let held = std::cell::RefCell::new(Vec::<u8>::with_capacity(1 << 16));
    pcapx_facade::summary::lines(
        engine,
        &mut cap,
        &a.input.read_options(None, 0),
        a.numeric,
        |line| -> Result<()> {
            let mut held = held.borrow_mut();
            held.extend_from_slice(line.as_bytes());
            held.push(b'\n');
            Ok(())
        },
        || {
            let mut held = held.borrow_mut();
            out.write_all(&held)?;
            held.clear();
            if live {
                out.flush()?;
            }
            Ok(())
        },
    )?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
