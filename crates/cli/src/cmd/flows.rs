//! `pcapx flows`: one row per bidirectional flow, like Zeek's conn.log.
//! The flow-sharded path lives in `pcapx_facade::flows` (shared with
//! `pcapx.flows`); this module parses arguments and writes the table.

use std::io::BufWriter;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pcapx_output::{Format, Target, TimeFormat, Writer};

use crate::cli::{FlowsArgs, TimeFmt};
use crate::input;

pub fn run(a: &FlowsArgs, _ctx: &super::Ctx) -> Result<ExitCode> {
    let format = super::convert::format_from(a.to, a.output.as_deref())?;
    if format == Format::Parquet && a.output.is_none() {
        bail!("Parquet output needs a file: -o OUT.parquet");
    }
    let cfg = pcapx_facade::flows::config(a.idle_timeout, a.active_timeout, a.community_id_seed)?;
    let time_format = match a.time_format {
        TimeFmt::Epoch => TimeFormat::Epoch,
        TimeFmt::Iso => TimeFormat::Iso,
    };
    let spec = pcapx_facade::flows::spec(time_format);
    let (target, out, out_name) =
        crate::outfile::table_output(a.output.as_deref(), &a.input.paths()?, format)?;
    let mut cap = input::open(&a.input)?;
    let mut writer = Writer::new(BufWriter::with_capacity(64 << 10, out), &spec, format)
        .with_context(|| format!("writing {out_name}"))?;
    let acc = pcapx_facade::flows::run(
        &mut cap,
        a.input.limit,
        cfg,
        a.threads,
        time_format,
        Target::Writer(format),
        |e| -> Result<()> {
            writer
                .write(e)
                .with_context(|| format!("writing {out_name}"))?;
            Ok(())
        },
    )?;
    writer
        .finish()
        .with_context(|| format!("writing {out_name}"))?;
    if let Some(t) = target {
        crate::outfile::commit(t)?;
    }
    cap.report_damage();
    if a.verbose {
        eprintln!(
            "pcapx: {}: {} packets read, {} filtered out, {} not IP, {} flows written, {} orphan fragments",
            a.input.name(),
            acc.read,
            acc.filtered_out,
            acc.not_ip,
            acc.flows,
            acc.orphan_fragments
        );
    }
    Ok(ExitCode::SUCCESS)
}
