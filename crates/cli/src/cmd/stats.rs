//! `pcapx stats`: group-by aggregates over the rows `convert` would write, as
//! a map-reduce on the ordered pipeline — each batch of packets becomes a
//! partial aggregate in a worker, and the partials are merged in batch order.
//!
//! Also home of what `describe` and `unique` share with it: column lookup by
//! the convert table's names and the scan over the capture ([`scan`]).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use pcapx_core::{Engine, Fields, Value};
use pcapx_output::{
    ColumnSpec, Durability, Occurrence, Scope, TUTORIAL_COLUMNS, TableSpec, TimeFormat,
    for_each_value,
};
use pcapx_stats::{
    AggKind, Bars, GroupPartial, GroupSpec, KeyBuilder, Order, OutFormat, plot, render,
};

use super::Ctx;
use crate::cli::{AggFlag, Input, RowArgs, SortArg, StatsArgs, StatsFormat};
use crate::input;
use crate::input::Work;
use crate::outfile;
use crate::table;

/// Bars in a plot when `--top` is not given.
const PLOT_TOP: usize = 20;
/// Width of the longest terminal bar, in cells.
const TERMINAL_WIDTH: usize = 40;

/// A column by the name a user gives: one of the convert table's column names
/// (`src`, `payload`, `tos`, … — with the same scope, so the values are the
/// ones `convert` writes), else any registered field or alias.
pub(super) fn column(engine: &Engine, name: &str) -> Result<ColumnSpec> {
    let reg = engine.registry();
    if let Some(&(header, field, transport)) = TUTORIAL_COLUMNS.iter().find(|c| c.0 == name) {
        let scope = match (transport, reg.proto_by_name("ip")) {
            (true, Some(ip)) => Scope::After(ip),
            _ => Scope::Any,
        };
        let mut c = table::resolve(reg, field, scope)?;
        header.clone_into(&mut c.name);
        return Ok(c);
    }
    table::resolve(reg, name, Scope::Any)
}

/// The rows to work on: those of `convert` (IPv4 packets unless `--all`),
/// with just the columns needed.
pub(super) fn row_spec(engine: &Engine, columns: Vec<ColumnSpec>, rows: &RowArgs) -> TableSpec {
    TableSpec {
        columns,
        time_format: TimeFormat::Epoch,
        occurrence: Occurrence::First,
        require: if rows.all {
            None
        } else {
            engine.registry().proto_by_name("ip")
        },
    }
}

/// The value a cell of `convert` shows (the first occurrence), if any.
pub(super) fn first<'f>(col: &ColumnSpec, fields: &'f Fields) -> Option<Value<'f>> {
    let mut out = None;
    for_each_value(col, fields, Occurrence::First, |v| {
        if out.is_none() {
            out = Some(v);
        }
    });
    out
}

/// Run over the capture: every packet that passes the filter and the `-c`
/// limit and makes a row of `spec` goes to `row`, with a partial made by
/// `make` for each batch; the partials reach `merge` in batch order.
pub(super) fn scan<A: Send>(
    ctx: &Ctx,
    input: &Input,
    rows: &RowArgs,
    spec: &TableSpec,
    make: impl Fn() -> A + Sync,
    row: impl Fn(&mut A, &Fields) + Sync,
    mut merge: impl FnMut(A),
) -> Result<()> {
    let engine = &ctx.engine;
    let mut cap = input::open(input)?;
    let filter = ctx.filter(input, &cap)?;
    let threads = pcapx_pipeline::thread_count(rows.threads);
    let wanted = spec.wanted(engine.registry().field_count());
    let streams =
        input::StreamPass::for_input(engine, input, input::StreamIds::wanted(engine, &wanted), 0);
    let mut feeder = input::Feeder::new(&mut cap, filter, input.limit).with_streams(streams);
    input::pipeline(
        threads,
        || feeder.next_work(),
        || engine.new_fields(wanted.clone()),
        |fields, w: &Work| -> A {
            let mut part = make();
            for (i, (rec, pass)) in w.records().enumerate() {
                if !pass {
                    continue;
                }
                engine.dissect_with(&input::meta(&rec), rec.data, &w.reassembled(i), fields);
                w.add_stream_fields(i, fields);
                if spec.accepts(fields) {
                    row(&mut part, fields);
                }
            }
            part
        },
        |part| -> Result<()> {
            merge(part);
            Ok(())
        },
    )?;
    if let Some(p) = feeder.into_pass() {
        p.report(&input.name());
    }
    input::report_damage(&cap);
    Ok(())
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

struct Part {
    groups: GroupPartial,
    key: KeyBuilder,
}

pub fn run(a: &StatsArgs, ctx: &Ctx) -> Result<ExitCode> {
    if let Some(kind) = a.conversations {
        let input = Input {
            file: a.file.clone(),
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
        outfile::guard(p, [&a.file])?;
    }
    let key_names: Vec<&str> = a
        .group_by
        .iter()
        .flat_map(|g| g.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if key_names.is_empty() {
        bail!("--group-by needs at least one field name");
    }
    let mut key_cols = Vec::new();
    for k in &key_names {
        key_cols.push(column(engine, k)?);
    }
    let mut value_cols: Vec<ColumnSpec> = Vec::new();
    let mut aggs = Vec::new();
    for (flag, field) in &a.aggs.list {
        let kind = match flag {
            AggFlag::Count => AggKind::Count,
            AggFlag::Sum => AggKind::Sum,
            AggFlag::Mean => AggKind::Mean,
            AggFlag::Min => AggKind::Min,
            AggFlag::Max => AggKind::Max,
            AggFlag::NUnique => AggKind::NUnique,
        };
        if kind == AggKind::Count {
            aggs.push((kind, None));
            continue;
        }
        let c = column(engine, field.trim())?;
        aggs.push((kind, Some((c.name.clone(), c.ftype))));
        if !value_cols.iter().any(|v| v.name == c.name) {
            value_cols.push(c);
        }
    }
    let gspec = GroupSpec::new(key_cols.iter().map(|c| c.name.clone()).collect(), &aggs)?;
    // GroupSpec numbers value columns in first-use order, as we collected them.
    let value_cols: Vec<ColumnSpec> = gspec
        .values
        .iter()
        .filter_map(|v| value_cols.iter().find(|c| c.name == v.name).cloned())
        .collect();
    let nkeys = key_cols.len();
    let spec = row_spec(
        engine,
        key_cols.into_iter().chain(value_cols).collect(),
        &a.rows,
    );
    let (keys, values) = spec.columns.split_at(nkeys);

    let input = Input {
        file: a.file.clone(),
        live: a.live.clone(),
        limit: a.limit,
        filter: a.filter.clone(),
        no_defrag: a.no_defrag,
        no_desegment: a.no_desegment,
    };
    let mut total = GroupPartial::new();
    scan(
        ctx,
        &input,
        &a.rows,
        &spec,
        || Part {
            groups: GroupPartial::new(),
            key: KeyBuilder::new(),
        },
        |p, fields| {
            p.key.clear();
            for k in keys {
                p.key.push(first(k, fields));
            }
            if let Some(key) = p.key.key() {
                p.groups.add_row(&gspec, key, |i| {
                    values.get(i).and_then(|c| first(c, fields))
                });
            }
        },
        |p| total += p.groups,
    )?;

    let order = match a.sort {
        Some(SortArg::Key) => Order::Key,
        Some(SortArg::Value) | None => Order::Value,
    };
    let result = total.finish(&gspec, order, a.top);
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
            let mut out = outfile::create(path, [&a.file], Durability::NoSync)?;
            out.write_all(svg.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            outfile::commit(out)?;
        }
        Some(PlotTo::Png(path)) => {
            let out = outfile::create(path, [&a.file], Durability::NoSync)?;
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
