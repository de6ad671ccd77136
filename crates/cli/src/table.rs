//! Column resolution for the CLI: the tutorial's default table, `--fields`
//! lists, and the "unknown field (did you mean …)" error. The definitions live
//! in `pcapx_output` so benchmarks and tests build exactly the same tables.

use anyhow::Result;
use pcapx_core::{Engine, Registry};
use pcapx_output::{ColumnSpec, Occurrence, Scope, TableSpec, TimeFormat};

/// Resolve one user-given name to a column, or fail with a hint.
#[allow(dead_code)] // for the statistics commands (group keys, values)
pub fn resolve(reg: &Registry, name: &str, scope: Scope) -> Result<ColumnSpec> {
    Ok(pcapx_output::resolve_column(reg, name, scope)?)
}

/// The table `convert`/`stats` work on: the tutorial's (default) or the user's
/// fields, over IPv4 packets (default) or all packets (`--all`, or whenever
/// `--fields` is given).
pub fn table_spec(
    engine: &Engine,
    fields: Option<&str>,
    all: bool,
    time_format: TimeFormat,
    occurrence: Occurrence,
) -> Result<TableSpec> {
    Ok(TableSpec::build(
        engine.registry(),
        fields,
        all,
        time_format,
        occurrence,
    )?)
}
