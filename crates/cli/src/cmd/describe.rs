//! `pcapx describe`: pandas `describe()` of fields over the rows `convert`
//! would write. Each batch counts its values exactly (value → count) in a
//! worker; the counts are merged in batch order and summarised at the end, so
//! quantiles are exact and the result is the same for any thread count.

use std::process::ExitCode;

use anyhow::{Result, bail};
use pcapx_facade::stats::DescribeJob;
use pcapx_stats::{OutFormat, render};

use super::Ctx;
use super::stats::emit;
use crate::cli::{DescribeArgs, DescribeFormat};

pub fn run(a: &DescribeArgs, ctx: &Ctx) -> Result<ExitCode> {
    let engine = &ctx.engine;
    let names = pcapx_facade::stats::split_names(&a.fields);
    if names.is_empty() {
        bail!("--field needs a field name");
    }
    let mut job = DescribeJob::new(engine, &names, a.rows.all)?;
    let mut cap = crate::input::open(&a.input)?;
    job.scan(engine, &mut cap, &a.input.read_options(a.rows.threads, 0))?;
    let results = job.finish();
    let format = match a.format {
        DescribeFormat::Table => OutFormat::Table,
        DescribeFormat::Json => OutFormat::Json,
    };
    emit(&render::describe(&results, format))?;
    Ok(ExitCode::SUCCESS)
}
