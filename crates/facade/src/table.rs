//! Tables: column resolution (the tutorial's default table, `--fields`
//! lists, the "unknown field (did you mean …)" error), the rows of a table as
//! encoded batches ([`run`], what `convert` writes and `pcapx.read` returns),
//! and the scan behind `stats`, `describe` and `unique` ([`scan`]). The
//! column definitions live in `pcapx_output` so benchmarks and tests build
//! exactly the same tables.

use pcapx_core::{AnomalyTally, Engine, FieldId, Fields, Registry, Wanted};
use pcapx_output::{
    ColumnSpec, Encoded, Encoder, Occurrence, Scope, TUTORIAL_COLUMNS, TableSpec, Target,
    TimeFormat,
};

use crate::input::{self, Feeder, PassStage, StreamPass, Work};
use crate::{Error, ReadOptions, Source};

/// `frame.file`'s id when `wanted` asks for it (the reader adds it).
pub fn file_field(engine: &Engine, wanted: &Wanted) -> Option<FieldId> {
    engine
        .registry()
        .field_by_name("frame.file")
        .filter(|&f| wanted.contains(f))
}

/// Resolve one user-given name to a column, or fail with a hint.
pub fn resolve(reg: &Registry, name: &str, scope: Scope) -> Result<ColumnSpec, Error> {
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
) -> Result<TableSpec, Error> {
    Ok(TableSpec::build(
        engine.registry(),
        fields,
        all,
        time_format,
        occurrence,
    )?)
}

/// A column by the name a user gives: one of the convert table's column names
/// (`src`, `payload`, `tos`, … — with the same scope, so the values are the
/// ones `convert` writes), else any registered field or alias.
pub fn column(engine: &Engine, name: &str) -> Result<ColumnSpec, Error> {
    let reg = engine.registry();
    if let Some(&(header, field, transport)) = TUTORIAL_COLUMNS.iter().find(|c| c.0 == name) {
        let scope = match (transport, reg.proto_by_name("ip")) {
            (true, Some(ip)) => Scope::After(ip),
            _ => Scope::Any,
        };
        let mut c = resolve(reg, field, scope)?;
        header.clone_into(&mut c.name);
        return Ok(c);
    }
    resolve(reg, name, Scope::Any)
}

/// The rows to work on: those of `convert` (IPv4 packets unless `all`),
/// with just the columns needed.
pub fn row_spec(engine: &Engine, columns: Vec<ColumnSpec>, all: bool) -> TableSpec {
    TableSpec {
        columns,
        time_format: TimeFormat::Epoch,
        occurrence: Occurrence::First,
        require: if all {
            None
        } else {
            engine.registry().proto_by_name("ip")
        },
    }
}

/// The value a cell of `convert` shows (the first occurrence), if any.
pub use pcapx_output::first_value as first;

/// Run over the source (its files in order, as one stream): every packet
/// that passes the filter and the limit and makes a row of `spec` goes to
/// `row`, with a partial made by `make` for each batch; the partials reach
/// `merge` in batch order. Returns how many packets passed the filter (what
/// the limit counts).
///
/// The merging runs on the worker threads, not the reader's: the worker
/// that finishes batch *i* merges its partial when *i* is next in order
/// (and then any later partials already waiting), otherwise it leaves it
/// waiting. The reader's thread keeps only its serial work (reading, the
/// stateful pass), and the merge order — so the result — is the same for
/// any thread count. A batch whose mapped bytes changed under it (the file
/// shrank) is merged too, but the scan then returns the capture's error,
/// and no caller uses a job whose scan failed.
pub fn scan<A: Send>(
    engine: &Engine,
    src: &mut Source,
    opts: &ReadOptions,
    spec: &TableSpec,
    make: impl Fn() -> A + Sync,
    row: impl Fn(&mut A, &Fields) + Sync,
    merge: impl FnMut(A) + Send,
) -> Result<u64, Error> {
    let merger = std::sync::Mutex::new(InOrder::new(merge));
    let (used, _) = scan_core(engine, src, opts, spec, |(fields, ()), w, stage| {
        let mut part = make();
        batch_rows(engine, spec, stage, fields, w, &mut part, &row);
        merger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .put(w.seq, part);
    })?;
    Ok(used)
}

/// [`scan`] for an accumulation whose result does not depend on the order
/// of the rows (integer counts and sums, minima, maxima, sets): each thread
/// adds every row it sees to one accumulator of its own, made by `make`,
/// and the accumulators are returned (one per thread that processed a
/// batch, in no particular order) for the caller to combine. Saves making
/// and merging a partial per batch; the caller must only use it when the
/// combined result is the same whichever thread took which batch.
pub fn scan_per_thread<A: Send>(
    engine: &Engine,
    src: &mut Source,
    opts: &ReadOptions,
    spec: &TableSpec,
    make: impl Fn() -> A + Sync,
    row: impl Fn(&mut A, &Fields) + Sync,
) -> Result<(u64, Vec<A>), Error> {
    let (used, states) = scan_core(
        engine,
        src,
        opts,
        spec,
        |(fields, part): &mut (Fields, Option<A>), w, stage| {
            let part = part.get_or_insert_with(&make);
            batch_rows(engine, spec, stage, fields, w, part, &row);
        },
    )?;
    Ok((used, states.into_iter().filter_map(|(_, a)| a).collect()))
}

/// The reading, stateful pass and pipeline of [`scan`] and
/// [`scan_per_thread`]: `process` gets each batch with its thread's state
/// (the dissection's fields, and `T` for the caller, from its default).
fn scan_core<T: Default + Send>(
    engine: &Engine,
    src: &mut Source,
    opts: &ReadOptions,
    spec: &TableSpec,
    process: impl Fn(&mut (Fields, T), &Work, &PassStage<'_>) + Sync,
) -> Result<(u64, Vec<(Fields, T)>), Error> {
    let threads = pcapx_pipeline::thread_count(opts.threads);
    let wanted = spec.wanted(engine.registry().field_count());
    let streams = StreamPass::for_table(engine, opts, &wanted, false, 0);
    let name = src.label();
    let stage = PassStage::new(streams);
    let mut feeder = Feeder::new(src, opts.limit).with_file_field(file_field(engine, &wanted));
    let states = input::pipeline_keeping_states(
        threads,
        &stage,
        || feeder.next_work(),
        || {
            (
                engine.new_fields_for(wanted.clone(), &spec.kept_protocols()),
                T::default(),
            )
        },
        |st: &mut (Fields, T), w: &Work| process(st, w, &stage),
        |()| -> Result<(), Error> { Ok(()) },
    )?;
    let used = feeder.used();
    if let Some(p) = stage.into_pass() {
        p.report(&name);
    }
    src.report_damage();
    Ok((used, states))
}

/// One batch's rows of `spec` into `part`, in packet order.
#[inline]
fn batch_rows<A>(
    engine: &Engine,
    spec: &TableSpec,
    stage: &PassStage<'_>,
    fields: &mut Fields,
    w: &Work,
    part: &mut A,
    row: &impl Fn(&mut A, &Fields),
) {
    stage.dissect_each(engine, w, fields, |_, fields| {
        if spec.accepts(fields) {
            row(part, fields);
        }
    });
}

/// Combines per-batch results in batch order, whatever order they arrive in.
struct InOrder<A, M> {
    next: u64,
    waiting: std::collections::BTreeMap<u64, A>,
    merge: M,
}

impl<A, M: FnMut(A)> InOrder<A, M> {
    fn new(merge: M) -> InOrder<A, M> {
        InOrder {
            next: 0,
            waiting: std::collections::BTreeMap::new(),
            merge,
        }
    }

    /// Batch `seq`'s result: merged now if it is next, else kept until it is.
    fn put(&mut self, seq: u64, part: A) {
        if seq != self.next {
            self.waiting.insert(seq, part);
            return;
        }
        (self.merge)(part);
        self.next += 1;
        while let Some(p) = self.waiting.remove(&self.next) {
            (self.merge)(p);
            self.next += 1;
        }
    }
}

/// Per-batch account of a table run, summed in order.
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

/// What a table run hands its sink for each batch, in packet order: the
/// rows encoded for the run's target, the batch's account, and (when asked) the
/// anomalies seen.
pub struct TableBatch {
    pub encoded: Encoded,
    pub account: Account,
    pub anomalies: Option<AnomalyTally>,
    /// Each row's capture time (only when the run was asked for them).
    pub times: Vec<i64>,
    /// The file the batch's rows were read from.
    pub file: std::sync::Arc<str>,
}

/// The rows of `spec` over the source (its files in order, as one stream),
/// encoded for `target` by the workers (a writer's format, or typed columns:
/// what the Python package turns into Arrow) and handed to `sink` in packet
/// order. The source's filter was checked when it was opened, so a bad
/// expression fails before the caller writes anything. `progress` sees each
/// batch as the reader hands it out; `tally` counts anomalies per batch;
/// `times`: each batch also carries its rows' capture times (for
/// partitioning).
/// Returns the total account (damaged records not included; see
/// [`Source::damage_count`]). The stateful pass's warnings are printed on
/// standard error; damage is reported by the caller
/// ([`Source::report_damage`]).
#[allow(clippy::too_many_arguments)]
pub fn run<E: From<Error> + From<pcapx_pipeline::PipelineError>>(
    engine: &Engine,
    src: &mut Source,
    opts: &ReadOptions,
    spec: &TableSpec,
    target: Target,
    tally: bool,
    times: bool,
    mut progress: impl FnMut(&Work),
    mut sink: impl FnMut(TableBatch) -> Result<(), E>,
) -> Result<Account, E> {
    let threads = pcapx_pipeline::thread_count(opts.threads);
    let wanted = spec.wanted(engine.registry().field_count());
    let mut total = Account::default();
    let streams = StreamPass::for_table(engine, opts, &wanted, tally, opts.community_id_seed);
    let name = src.label();
    let file_id = file_field(engine, &wanted);
    let stage = PassStage::new(streams);
    let mut feeder = Feeder::new(src, opts.limit).with_file_field(file_id);

    let result = input::pipeline(
        threads,
        &stage,
        || -> Result<Option<Work>, E> {
            let w = feeder.next_work()?;
            if let Some(w) = &w {
                progress(w);
            }
            Ok(w)
        },
        || {
            (
                // An anomaly tally reads every layer's anomalies: no stopping.
                if tally {
                    engine.new_fields(wanted.clone())
                } else {
                    engine.new_fields_for(wanted.clone(), &spec.kept_protocols())
                },
                Encoder::new(spec, target),
            )
        },
        |(fields, enc), w: &Work| -> TableBatch {
            let mut acc = Account::default();
            let mut anomalies = tally.then(|| AnomalyTally::new(engine.registry()));
            let mut row_times = Vec::new();
            let passed = stage.dissect_each(engine, w, fields, |rec, fields| {
                if let Some(t) = &mut anomalies {
                    t.count(fields);
                }
                if spec.accepts(fields) {
                    enc.push(spec, fields);
                    acc.rows += 1;
                    if times {
                        row_times.push(rec.ts_ns);
                    }
                } else {
                    acc.skipped += 1;
                }
            });
            acc.read = u64::try_from(w.take).unwrap_or(u64::MAX);
            acc.filtered_out = acc.read - passed;
            TableBatch {
                encoded: enc.take(),
                account: acc,
                anomalies,
                times: row_times,
                file: std::sync::Arc::clone(&w.file),
            }
        },
        |b: TableBatch| -> Result<(), E> {
            total += b.account;
            sink(b)
        },
    );
    if let Some(p) = stage.into_pass() {
        p.report(&name);
    }
    result?;
    Ok(total)
}
