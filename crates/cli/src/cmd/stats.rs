//! `pcapx stats`: group-by aggregates over the rows `convert` would write, as
//! a map-reduce on the ordered pipeline — each batch of packets becomes a
//! partial aggregate in a worker, and the partials are merged in batch order.
//!
//! The job (column lookup by the convert table's names, the scan, the
//! merge) is `pcapx_facade::stats::GroupJob`, shared with the Python
//! package; `unique` borrows the scan through [`scan`] here.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pcapx_core::{Engine, Fields};
use pcapx_facade::stats::GroupJob;
use pcapx_output::{ColumnSpec, Durability, TableSpec};
use pcapx_stats::{AggKind, Bars, Order, OutFormat, plot, render};

use super::Ctx;
use crate::cli::{AggFlag, Input, RowArgs, SortArg, StatsArgs, StatsFormat};
use crate::input;
use crate::outfile;

/// Bars in a plot when `--top` is not given.
const PLOT_TOP: usize = 20;
/// Width of the longest terminal bar, in cells.
const TERMINAL_WIDTH: usize = 40;

/// A column by the name a user gives (see [`pcapx_facade::table::column`]).
pub(super) fn column(engine: &Engine, name: &str) -> Result<ColumnSpec> {
    Ok(pcapx_facade::table::column(engine, name)?)
}

/// The rows to work on: those of `convert` (IPv4 packets unless `--all`),
/// with just the columns needed.
pub(super) fn row_spec(engine: &Engine, columns: Vec<ColumnSpec>, rows: &RowArgs) -> TableSpec {
    pcapx_facade::table::row_spec(engine, columns, rows.all)
}

pub(super) use pcapx_facade::table::first;

/// Run over the command's input (see [`pcapx_facade::table::scan`]).
pub(super) fn scan<A: Send>(
    ctx: &Ctx,
    input: &Input,
    rows: &RowArgs,
    spec: &TableSpec,
    make: impl Fn() -> A + Sync,
    row: impl Fn(&mut A, &Fields) + Sync,
    merge: impl FnMut(A) + Send,
) -> Result<()> {
    let mut cap = input::open(input)?;
    pcapx_facade::table::scan(
        &ctx.engine,
        &mut cap,
        &input.read_options(rows.threads, 0),
        spec,
        make,
        row,
        merge,
    )?;
    Ok(())
}

/// The input files, expanded (none for a live capture).
fn input_paths(files: &[String]) -> Result<Vec<String>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    Ok(pcapx_facade::source::expand(files)?)
}

/// Print to standard output.
pub(super) fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

enum PlotTo<'a> {
    Terminal,
    Svg(&'a Path),
    Png(&'a Path),
}

fn plot_target(p: &str) -> Result<PlotTo<'_>> {
    if p == "-" {
        return Ok(PlotTo::Terminal);
    }
    let path = Path::new(p);
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => Ok(PlotTo::Svg(path)),
        Some("png") => Ok(PlotTo::Png(path)),
        _ => bail!("--plot needs a file ending in .svg or .png, or '-' for the terminal: '{p}'"),
    }
}

pub fn run(a: &StatsArgs, ctx: &Ctx) -> Result<ExitCode> {
    if let Some(kind) = a.conversations {
        let input = Input {
            files: a.files.clone(),
            live: a.live.clone(),
            limit: a.limit,
            filter: a.filter.clone(),
            no_defrag: a.no_defrag,
            no_desegment: a.no_desegment,
        };
        let mut out = std::io::stdout().lock();
        return super::conversations::report(ctx, &input, kind, a.format, &mut out);
    }
    let engine = &ctx.engine;
    let plot_to = a.plot.as_deref().map(plot_target).transpose()?;
    // Refuse a plot over the input before reading anything.
    if let Some(PlotTo::Svg(p) | PlotTo::Png(p)) = &plot_to {
        outfile::guard(p, input_paths(&a.files)?)?;
    }
    let key_names = pcapx_facade::stats::split_names(&a.group_by);
    let aggs: Vec<(AggKind, Option<&str>)> = a
        .aggs
        .list
        .iter()
        .map(|(flag, field)| {
            let kind = match flag {
                AggFlag::Count => AggKind::Count,
                AggFlag::Sum => AggKind::Sum,
                AggFlag::Mean => AggKind::Mean,
                AggFlag::Min => AggKind::Min,
                AggFlag::Max => AggKind::Max,
                AggFlag::NUnique => AggKind::NUnique,
            };
            (kind, Some(field.as_str()))
        })
        .collect();
    let mut job = GroupJob::new(engine, &key_names, &aggs, a.rows.all)?;
    let input = Input {
        files: a.files.clone(),
        live: a.live.clone(),
        limit: a.limit,
        filter: a.filter.clone(),
        no_defrag: a.no_defrag,
        no_desegment: a.no_desegment,
    };
    let mut cap = input::open(&input)?;
    job.scan(engine, &mut cap, &input.read_options(a.rows.threads, 0))?;

    let order = match a.sort {
        Some(SortArg::Key) => Order::Key,
        Some(SortArg::Value) | None => Order::Value,
    };
    let result = job.finish(order, a.top);
    let plot_top = a.top.unwrap_or(PLOT_TOP);
    match plot_to {
        Some(PlotTo::Terminal) => {
            return emit(&plot::terminal(
                &Bars::from_table(&result, plot_top),
                TERMINAL_WIDTH,
            ))
            .map(|()| ExitCode::SUCCESS);
        }
        Some(PlotTo::Svg(path)) => {
            let svg = plot::svg(&Bars::from_table(&result, plot_top))?;
            let mut out = outfile::create(path, input_paths(&a.files)?, Durability::NoSync)?;
            out.write_all(svg.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            outfile::commit(out)?;
        }
        Some(PlotTo::Png(path)) => {
            let out = outfile::create(path, input_paths(&a.files)?, Durability::NoSync)?;
            plot::png(&Bars::from_table(&result, plot_top), out.write_path())
                .with_context(|| format!("cannot write {}", path.display()))?;
            outfile::commit(out)?;
        }
        None => {}
    }
    let format = match a.format {
        StatsFormat::Table => OutFormat::Table,
        StatsFormat::Csv => OutFormat::Csv,
        StatsFormat::Json => OutFormat::Json,
    };
    emit(&render::group_table(&result, format))?;
    Ok(ExitCode::SUCCESS)
}
