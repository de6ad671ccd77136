//! `pcapx convert`: a capture to a field table (CSV, JSON, JSON Lines, Parquet)
//! on the ordered parallel pipeline.

use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pcapx_core::AnomalyTally;
use pcapx_output::{Encoded, Encoder, Format, Occurrence, TimeFormat, Writer};

use crate::cli::{ConvertArgs, OccurrenceArg, TimeFmt, ToFormat};
use crate::input::{self, Work};
use crate::outfile;
use crate::table;

/// Per-batch account, summed in order by the writer thread.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Account {
    /// Packet records read from the file.
    pub read: u64,
    /// Rows written.
    pub rows: u64,
    /// Packets that make no row of this table (not IPv4 for the default table).
    pub skipped: u64,
    /// Packets the `--filter` rejected.
    pub filtered_out: u64,
    /// Damaged records the reader could not read (reported separately).
    pub damaged: u64,
}

impl std::ops::AddAssign for Account {
    fn add_assign(&mut self, o: Account) {
        self.read += o.read;
        self.rows += o.rows;
        self.skipped += o.skipped;
        self.filtered_out += o.filtered_out;
        self.damaged += o.damaged;
    }
}

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
    let format = format_of(a)?;
    if format == Format::Parquet && a.output.is_none() {
        bail!("Parquet output needs a file: -o OUT.parquet");
    }
    let spec = table::table_spec(
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
        crate::outfile::table_output(a.output.as_deref(), &a.input.file, format)?;
    let mut cap = input::open(&a.input)?;
    let filter = ctx.filter(&a.input, &cap)?;
    // A small buffer: batches (hundreds of KiB) bypass it and go straight to the
    // file, with no extra copy; the header and small tails are buffered.
    let mut writer = Writer::new(BufWriter::with_capacity(64 << 10, out), &spec, format)
        .with_context(|| format!("writing {out_name}"))?;

    let progress = progress_bar(a.quiet, &a.input.file);
    let threads = pcapx_pipeline::thread_count(a.table.threads);
    let wanted = spec.wanted(engine.registry().field_count());
    let mut total = Account::default();
    let mut anomalies = AnomalyTally::new(engine.registry());
    let streams = input::StreamPass::for_input(
        engine,
        &a.input,
        input::StreamIds::wanted(engine, &wanted),
        a.community_id_seed,
    );
    let mut feeder = input::Feeder::new(&mut cap, filter, a.input.limit).with_streams(streams);

    let result = input::pipeline(
        threads,
        || -> Result<Option<Work>> {
            let w = feeder.next_work()?;
            if let (Some(pb), Some(w)) = (&progress, &w) {
                pb.set_position(w.batch.byte_range().end);
            }
            Ok(w)
        },
        || {
            (
                engine.new_fields(wanted.clone()),
                Encoder::new(&spec, format),
            )
        },
        |(fields, enc), w: &Work| -> (Encoded, Account, Option<AnomalyTally>) {
            let mut acc = Account::default();
            let mut tally = a.verbose.then(|| AnomalyTally::new(engine.registry()));
            for (i, (rec, pass)) in w.records().enumerate() {
                acc.read += 1;
                if !pass {
                    acc.filtered_out += 1;
                    continue;
                }
                engine.dissect_with(&input::meta(&rec), rec.data, &w.reassembled(i), fields);
                w.add_stream_fields(i, fields);
                if let Some(t) = &mut tally {
                    t.count(fields);
                }
                if spec.accepts(fields) {
                    enc.push(&spec, fields);
                    acc.rows += 1;
                } else {
                    acc.skipped += 1;
                }
            }
            (enc.take(), acc, tally)
        },
        |(enc, acc, tally)| -> Result<()> {
            total += acc;
            if let Some(t) = tally {
                anomalies.merge(&t);
            }
            writer
                .write(enc)
                .with_context(|| format!("writing {out_name}"))?;
            Ok(())
        },
    );
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    if let Some(p) = feeder.into_pass() {
        p.report(&a.input.name());
    }
    result?;
    writer
        .finish()
        .with_context(|| format!("writing {out_name}"))?;
    if let Some(t) = target {
        outfile::commit(t)?;
    }
    total.damaged = cap.damage_count();
    input::report_damage(&cap);
    if a.verbose {
        eprintln!(
            "pcapx: {}: {} packets read, {} rows written, {} skipped ({}), {} filtered out, {} damaged records",
            a.input.file,
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
            a.input.file,
            anomalies.render(engine.registry())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(quiet: bool, file: &str) -> Option<indicatif::ProgressBar> {
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
