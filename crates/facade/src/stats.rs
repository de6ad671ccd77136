//! Statistics over the rows `convert` would write: `stats`' group-by and
//! `describe` (pandas semantics, see `pcapx_stats`), as jobs that scan one or
//! more captures in order and finish once. The CLI scans one input; the
//! Python package scans each of its sources into the same job.

use pcapx_core::{Engine, Fields};
use pcapx_output::{ColumnSpec, TableSpec};
use pcapx_stats::{
    AggKind, Distinct, GroupPartial, GroupSpec, GroupTable, KeyBuilder, Order, Summary,
};

use crate::table::{column, first, row_spec, scan, scan_per_thread};
use crate::{Error, ReadOptions, Source};

/// The names in `lists`, each possibly comma-separated, trimmed, empty
/// ones dropped (`--group-by a,b --group-by c`).
pub fn split_names<S: AsRef<str>>(lists: &[S]) -> Vec<&str> {
    lists
        .iter()
        .flat_map(|g| g.as_ref().split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

struct Part {
    groups: GroupPartial,
    key: KeyBuilder,
}

/// A group-by (`pcapx stats --group-by …`): keys and aggregates resolved
/// against the convert table's column names, partials merged over every
/// capture scanned.
pub struct GroupJob {
    gspec: GroupSpec,
    spec: TableSpec,
    nkeys: usize,
    total: GroupPartial,
}

impl GroupJob {
    /// `keys`: field names; `aggs`: (kind, field) in output order (the first
    /// sorts; the field is ignored for `count`; none means `count`). `all`:
    /// rows for every packet, not only IPv4 ones.
    pub fn new(
        engine: &Engine,
        keys: &[&str],
        aggs: &[(AggKind, Option<&str>)],
        all: bool,
    ) -> Result<GroupJob, Error> {
        if keys.is_empty() {
            return Err(Error::Usage(
                "--group-by needs at least one field name".to_owned(),
            ));
        }
        let key_cols = keys
            .iter()
            .map(|k| column(engine, k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut value_cols: Vec<ColumnSpec> = Vec::new();
        let mut list = Vec::new();
        for &(kind, field) in aggs {
            if kind == AggKind::Count {
                list.push((kind, None));
                continue;
            }
            let c = column(engine, field.unwrap_or("").trim())?;
            list.push((kind, Some((c.name.clone(), c.ftype))));
            if !value_cols.iter().any(|v| v.name == c.name) {
                value_cols.push(c);
            }
        }
        let gspec = GroupSpec::new(key_cols.iter().map(|c| c.name.clone()).collect(), &list)?;
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
            all,
        );
        Ok(GroupJob {
            gspec,
            spec,
            nkeys,
            total: GroupPartial::new(),
        })
    }

    /// The key columns (names and types, for typed results).
    pub fn key_columns(&self) -> &[ColumnSpec] {
        &self.spec.columns[..self.nkeys]
    }

    /// Add the rows of a source's captures; returns how many packets passed
    /// the filter (what the limit counts).
    pub fn scan(
        &mut self,
        engine: &Engine,
        src: &mut Source,
        opts: &ReadOptions,
    ) -> Result<u64, Error> {
        let (keys, values) = self.spec.columns.split_at(self.nkeys);
        let gspec = &self.gspec;
        let total = &mut self.total;
        let make = || Part {
            groups: GroupPartial::new(),
            key: KeyBuilder::new(),
        };
        let row = |p: &mut Part, fields: &Fields| {
            p.key.clear();
            for k in keys {
                p.key.push(first(k, fields));
            }
            if let Some(key) = p.key.key() {
                p.groups
                    .add_row(gspec, key, |i| values.get(i).and_then(|c| first(c, fields)));
            }
        };
        if !gspec.order_free() {
            // A floating-point sum: partials per batch, merged in batch
            // order, so the rounding is the same for any thread count.
            return scan(engine, src, opts, &self.spec, make, row, |p| {
                *total += p.groups;
            });
        }
        let (used, parts) = scan_per_thread(engine, src, opts, &self.spec, make, row)?;
        for p in parts {
            *total += p.groups;
        }
        Ok(used)
    }

    /// The sorted result (`top`: only the first rows).
    pub fn finish(self, order: Order, top: Option<usize>) -> GroupTable {
        self.total.finish(&self.gspec, order, top)
    }
}

/// pandas `describe()` of fields (`pcapx describe --field …`): exact value
/// counts merged over every capture scanned.
pub struct DescribeJob {
    spec: TableSpec,
    total: Vec<Distinct>,
}

impl DescribeJob {
    pub fn new(engine: &Engine, fields: &[&str], all: bool) -> Result<DescribeJob, Error> {
        let cols = fields
            .iter()
            .map(|f| column(engine, f))
            .collect::<Result<Vec<_>, _>>()?;
        if cols.is_empty() {
            return Err(Error::Usage("--field needs a field name".to_owned()));
        }
        let n = cols.len();
        Ok(DescribeJob {
            spec: row_spec(engine, cols, all),
            total: vec![Distinct::new(); n],
        })
    }

    /// Add the rows of a source's captures; returns how many packets passed
    /// the filter.
    pub fn scan(
        &mut self,
        engine: &Engine,
        src: &mut Source,
        opts: &ReadOptions,
    ) -> Result<u64, Error> {
        let n = self.spec.columns.len();
        let columns = &self.spec.columns;
        let total = &mut self.total;
        scan(
            engine,
            src,
            opts,
            &self.spec,
            || vec![Distinct::new(); n],
            |part, fields| {
                for (d, c) in part.iter_mut().zip(columns) {
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
        )
    }

    /// One summary per field, in the order asked.
    pub fn finish(self) -> Vec<(String, Summary)> {
        self.spec
            .columns
            .iter()
            .zip(&self.total)
            .map(|(c, d)| (c.name.clone(), pcapx_stats::describe(c.ftype, d)))
            .collect()
    }
}
