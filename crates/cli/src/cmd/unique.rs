//! `pcapx unique`: the distinct values of a field in first-seen order (pandas
//! `unique()`, without the missing value), optionally with their counts.
//! Batches count their values in workers; merging the partials in batch order
//! keeps the first-seen order of the whole capture.

use std::process::ExitCode;

use anyhow::Result;
use pcapx_stats::{Distinct, render};

use super::Ctx;
use super::stats::{column, emit, first, row_spec, scan};
use crate::cli::UniqueArgs;

pub fn run(a: &UniqueArgs, ctx: &Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let col = column(engine, a.field.trim())?;
    let spec = row_spec(engine, vec![col], &a.rows);
    let mut total = Distinct::new();
    scan(
        ctx,
        &a.input,
        &a.rows,
        &spec,
        Distinct::new,
        |d, fields| {
            if let Some(v) = spec.columns.first().and_then(|c| first(c, fields)) {
                d.add(v);
            }
        },
        |d| total += d,
    )?;
    let name = spec.columns.first().map_or("value", |c| c.name.as_str());
    emit(&render::unique(name, &total, a.counts))?;
    Ok(ExitCode::SUCCESS)
}
