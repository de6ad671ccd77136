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
    // Live packets are printed as they arrive.
    let live = cap.is_live();
    let mut pass = input::StreamPass::new(None, 0, !a.input.no_defrag);
    input::walk_with(
        &mut cap,
        &mut filter,
        a.input.limit,
        pass.as_mut(),
        |rec, side| {
            engine.dissect_with(&input::meta(rec), rec.data, side, &mut fields);
            line.clear();
            engine.summary_into_with(&fields, rec.data, side, a.numeric, &mut line);
            line.push('\n');
            out.write_all(line.as_bytes())?;
            if live {
                out.flush()?;
            }
            Ok(ControlFlow::Continue(()))
        },
    )?;
    out.flush()?;
    input::report_damage(&cap);
    if let Some(p) = &pass {
        p.report(&a.input.name());
    }
    Ok(ExitCode::SUCCESS)
}
