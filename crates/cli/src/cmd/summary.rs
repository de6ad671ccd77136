//! `pcapx summary`: one Scapy-style line per packet.

use std::io::Write;
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::Result;
use pcapx_core::Wanted;

use crate::cli::SummaryArgs;
use crate::input;

pub fn run(a: &SummaryArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let mut cap = input::open(&a.input)?;
    let mut filter = ctx.filter(&a.input, &cap)?;
    let mut fields = engine.new_fields(Wanted::All);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = String::new();
    // Lines are held back until their batch is known to be intact (a
    // shrinking file); a live batch ends as soon as the ring is empty, and
    // its lines are flushed at once.
    let live = cap.is_live();
    let held = std::cell::RefCell::new(Vec::<u8>::with_capacity(1 << 16));
    let mut pass = input::StreamPass::for_input(engine, &a.input, None, 0);
    input::walk_with_committed(
        &mut cap,
        &mut filter,
        a.input.limit,
        pass.as_mut(),
        |rec, side| {
            engine.dissect_with(&input::meta(rec), rec.data, side, &mut fields);
            line.clear();
            engine.summary_into_with(&fields, rec.data, side, a.numeric, &mut line);
            line.push('\n');
            held.borrow_mut().extend_from_slice(line.as_bytes());
            Ok(ControlFlow::Continue(()))
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
    input::report_damage(&cap);
    if let Some(p) = &pass {
        p.report(&a.input.name());
    }
    Ok(ExitCode::SUCCESS)
}
