//! `pcapx describe`: pandas `describe()` of fields over the rows `convert`
//! would write. Each batch counts its values exactly (value → count) in a
//! worker; the counts are merged in batch order and summarised at the end, so
//! quantiles are exact and the result is the same for any thread count.

use std::process::ExitCode;

use anyhow::{Result, bail};
use pcapx_stats::{Distinct, OutFormat, describe, render};

use super::Ctx;
use super::stats::{column, emit, first, row_spec, scan};
use crate::cli::{DescribeArgs, DescribeFormat};

pub fn run(a: &DescribeArgs, ctx: &Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let mut cols = Vec::new();
    for name in a
        .fields
        .iter()
        .flat_map(|f| f.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        cols.push(column(engine, name)?);
    }
    if cols.is_empty() {
        bail!("--field needs a field name");
    }
    let spec = row_spec(engine, cols, &a.rows);
    let n = spec.columns.len();
    let mut total: Vec<Distinct> = vec![Distinct::new(); n];
    scan(
        ctx,
        &a.input,
        &a.rows,
        &spec,
        || vec![Distinct::new(); n],
        |part, fields| {
            for (d, c) in part.iter_mut().zip(&spec.columns) {
                if let Some(v) = first(c, fields) {
                    d.add(v);
                }
            }
        },
        |part| {
            for (t, p) in total.iter_mut().zip(part) {
                *t += p;
            }
        },
    )?;
    let results: Vec<_> = spec
        .columns
        .iter()
        .zip(&total)
        .map(|(c, d)| (c.name.clone(), describe(c.ftype, d)))
        .collect();
    let format = match a.format {
        DescribeFormat::Table => OutFormat::Table,
        DescribeFormat::Json => OutFormat::Json,
    };
    emit(&render::describe(&results, format))?;
    Ok(ExitCode::SUCCESS)
}
