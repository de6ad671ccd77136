//! `pcapx convert`: a capture to a field table (CSV, JSON, JSON Lines, Parquet)
//! on the ordered parallel pipeline.

use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pcapx_core::AnomalyTally;
use pcapx_facade::partition::{Dataset, PartitionBy};
use pcapx_facade::table::TableBatch;
use pcapx_output::{Encoded, Format, Occurrence, Target, TimeFormat, Writer};

use crate::cli::{ConvertArgs, OccurrenceArg, PartitionArg, TimeFmt, ToFormat};
use crate::input::{self, Work};
use crate::outfile;

fn format_of(a: &ConvertArgs) -> Result<Format> {
    format_from(a.to, a.output.as_deref())
}

/// The output format: `--to`, else the extension of `-o`, else CSV.
pub(super) fn format_from(to: Option<ToFormat>, output: Option<&Path>) -> Result<Format> {
    if let Some(t) = to {
        return Ok(match t {
            ToFormat::Csv => Format::Csv,
            ToFormat::Json => Format::Json,
            ToFormat::Jsonl => Format::Jsonl,
            ToFormat::Parquet => Format::Parquet,
        });
    }
    match output.and_then(Path::extension).and_then(|e| e.to_str()) {
        Some(ext) => match Format::from_name(ext) {
            Some(f) => Ok(f),
            None => bail!(
                "cannot tell the output format from '.{ext}': use --to csv|json|jsonl|parquet"
            ),
        },
        None => Ok(Format::Csv),
    }
}

pub fn run(a: &ConvertArgs, ctx: &super::Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    if let Some(by) = a.partition_by {
        return run_partitioned(a, ctx, by);
    }
    let format = format_of(a)?;
    if format == Format::Parquet && a.output.is_none() {
        bail!("Parquet output needs a file: -o OUT.parquet");
    }
    let spec = pcapx_facade::table::table_spec(
        engine,
        a.table.fields.as_deref(),
        a.table.all,
        match a.time_format {
            TimeFmt::Epoch => TimeFormat::Epoch,
            TimeFmt::Iso => TimeFormat::Iso,
        },
        match a.occurrence {
            OccurrenceArg::First => Occurrence::First,
            OccurrenceArg::Last => Occurrence::Last,
            OccurrenceArg::All => Occurrence::All,
        },
    )?
    .with_display(engine.registry(), a.names, a.display_base);
    let (target, out, out_name) =
        crate::outfile::table_output(a.output.as_deref(), &a.input.paths()?, format)?;
    let mut cap = input::open(&a.input)?;
    // A small buffer: batches (hundreds of KiB) bypass it and go straight to the
    // file, with no extra copy; the header and small tails are buffered.
    let mut writer = Writer::new(BufWriter::with_capacity(64 << 10, out), &spec, format)
        .with_context(|| format!("writing {out_name}"))?;

    let progress = progress_bar(a.quiet, &a.input.files);
    let mut anomalies = AnomalyTally::new(engine.registry());
    let result = pcapx_facade::table::run(
        engine,
        &mut cap,
        &a.input.read_options(a.table.threads, a.community_id_seed),
        &spec,
        Target::Writer(format),
        a.verbose,
        false,
        |w: &Work| {
            if let Some(pb) = &progress {
                pb.set_position(w.batch.byte_range().end);
            }
        },
        |b: TableBatch| -> Result<()> {
            if let Some(t) = b.anomalies {
                anomalies.merge(&t);
            }
            writer
                .write(b.encoded)
                .with_context(|| format!("writing {out_name}"))?;
            Ok(())
        },
    );
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let mut total = result?;
    writer
        .finish()
        .with_context(|| format!("writing {out_name}"))?;
    if let Some(t) = target {
        outfile::commit(t)?;
    }
    total.damaged = cap.damage_count();
    cap.report_damage();
    if a.verbose {
        eprintln!(
            "pcapx: {}: {} packets read, {} rows written, {} skipped ({}), {} filtered out, {} damaged records",
            a.input.name(),
            total.read,
            total.rows,
            total.skipped,
            if spec.require.is_some() {
                "not IPv4"
            } else {
                "no row"
            },
            total.filtered_out,
            total.damaged
        );
        eprintln!(
            "pcapx: {}: anomalies (packets per kind): {}",
            a.input.name(),
            anomalies.render(engine.registry())
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `convert -o DIR --partition-by KEY`: the Parquet table as a
/// Hive-partitioned dataset (see `pcapx_facade::partition`).
fn run_partitioned(a: &ConvertArgs, ctx: &super::Ctx, by: PartitionArg) -> Result<ExitCode> {
    let engine = &ctx.engine;
    if a.to.is_some_and(|t| t != ToFormat::Parquet) {
        bail!("--partition-by writes a Parquet dataset: --to parquet (or no --to)");
    }
    let Some(dir) = a.output.as_deref() else {
        bail!("--partition-by needs the dataset's directory: -o DIR");
    };
    let spec = pcapx_facade::table::table_spec(
        engine,
        a.table.fields.as_deref(),
        a.table.all,
        TimeFormat::Epoch,
        match a.occurrence {
            OccurrenceArg::First => Occurrence::First,
            OccurrenceArg::Last => Occurrence::Last,
            OccurrenceArg::All => Occurrence::All,
        },
    )?
    .with_display(engine.registry(), a.names, a.display_base);
    // Refuse an output over an input (a file, or inside a directory given).
    let mut inputs = a.input.paths()?;
    inputs.extend(a.input.files.iter().cloned());
    outfile::guard(dir, &inputs)?;
    let mut src = input::open(&a.input)?;
    let mut dataset = Dataset::create(
        dir,
        &inputs,
        match by {
            PartitionArg::Date => PartitionBy::Date,
            PartitionArg::Hour => PartitionBy::Hour,
            PartitionArg::File => PartitionBy::File,
        },
        &spec,
    )?;
    let total = pcapx_facade::table::run(
        engine,
        &mut src,
        &a.input.read_options(a.table.threads, a.community_id_seed),
        &spec,
        Target::Columns,
        false,
        true,
        |_| {},
        |b: TableBatch| -> Result<()> {
            if let Encoded::Columns(c) = b.encoded {
                dataset.write(c, &b.times, &b.file)?;
            }
            Ok(())
        },
    )?;
    crate::signals::check()?;
    let rows = dataset.commit()?;
    src.report_damage();
    if a.verbose {
        eprintln!(
            "pcapx: {}: {} packets read, {rows} rows written to {}, {} skipped, {} filtered out, {} damaged records",
            a.input.name(),
            total.read,
            dir.display(),
            total.skipped,
            total.filtered_out,
            src.damage_count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(quiet: bool, files: &[String]) -> Option<indicatif::ProgressBar> {
    // One plain file: a bar over its bytes (several files restart the
    // byte offsets, so they get none).
    let [file] = files else { return None };
    if quiet || !std::io::stderr().is_terminal() || file == "-" {
        return None;
    }
    let len = std::fs::metadata(file).ok()?.len();
    if len < (64 << 20) {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} [{bar:40}] {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(pb)
}
