//! `pcapx._pcapx`: the Rust half of the `pcapx` Python package. Every job is
//! the one the CLI runs (`pcapx_facade`); tables come out of the same
//! Parquet encoder as `pcapx convert -o x.parquet` and are handed to pyarrow
//! through the Arrow C data interface (no copy per value).
//!
//! Each job runs on its own thread while the calling thread waits with the
//! GIL released, checking Python's signals every 50 ms: Ctrl-C raises
//! `KeyboardInterrupt` in the caller and stops the job at its next batch
//! (through the facade's interruption hook, which reads the job thread's
//! cancel flag).
//!
//! The Python-facing API (argument normalisation, docstrings, type hints)
//! is `python/pcapx/__init__.py`; this module's functions take plain lists.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_pyarrow::{IntoPyArrow, ToPyArrow};
use arrow_schema::SchemaRef;
use pcapx_core::Engine;
use pcapx_facade::stats::{DescribeJob, GroupJob};
use pcapx_facade::{Error, Interrupted, ReadOptions, Source};
use pcapx_output::{ColumnBatch, Encoded, Occurrence, TableSpec, Target, TimeFormat};
use pcapx_stats::describe::Cell;
use pcapx_stats::{AggKind, Order};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

mod stats_arrow;

create_exception!(
    pcapx,
    CaptureError,
    PyOSError,
    "A capture could not be read: missing, unreadable, not a pcap/pcapng file, or truncated."
);
create_exception!(
    pcapx,
    FilterError,
    PyValueError,
    "A filter expression that does not compile; the message shows the expression with a caret under the error."
);
create_exception!(
    pcapx,
    PcapxError,
    PyException,
    "Any other failure of a pcapx job (plugins, internal errors)."
);

thread_local! {
    /// The cancel flag of the job running on this thread, if any.
    static CANCEL: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// The facade's interruption hook: the job thread's cancel flag.
fn cancelled() -> Option<Interrupted> {
    CANCEL.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
            .then_some(Interrupted(pcapx_facade::interrupt::SIGINT))
    })
}

/// A facade error as the Python exception it raises.
fn to_py(e: Error) -> PyErr {
    match e {
        Error::Capture(_) => CaptureError::new_err(e.to_string()),
        Error::Filter(_) => FilterError::new_err(e.to_string()),
        Error::Usage(_) | Error::Group(_) | Error::Output(pcapx_output::OutputError::Usage(_)) => {
            PyValueError::new_err(e.to_string())
        }
        Error::Interrupted(_) => PyKeyboardInterrupt::new_err(e.to_string()),
        _ => PcapxError::new_err(e.to_string()),
    }
}

/// A job on its own thread, with its cancel flag.
struct Job<T: Send + 'static> {
    handle: Option<JoinHandle<T>>,
    cancel: Arc<AtomicBool>,
}

impl<T: Send + 'static> Job<T> {
    fn spawn(f: impl FnOnce() -> T + Send + 'static) -> PyResult<Job<T>> {
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        let handle = std::thread::Builder::new()
            .name("pcapx-job".to_owned())
            .spawn(move || {
                CANCEL.with(|c| *c.borrow_mut() = Some(flag));
                f()
            })
            .map_err(|e| PcapxError::new_err(format!("cannot start a job thread: {e}")))?;
        Ok(Job {
            handle: Some(handle),
            cancel,
        })
    }

    /// Stop the job at its next batch and wait for it.
    fn stop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl<T: Send + 'static> Drop for Job<T> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Wait for the next message of a job without the GIL, checking Python's
/// signals every 50 ms (a `KeyboardInterrupt` stops the job and is raised).
/// `None`: the job has ended and sent everything.
fn recv_interruptible<T: Send, J: Send + 'static>(
    py: Python<'_>,
    rx: &Mutex<Receiver<T>>,
    job: &mut Job<J>,
) -> PyResult<Option<T>> {
    let wait = || match rx.lock() {
        Ok(rx) => rx.recv_timeout(Duration::from_millis(50)),
        Err(_) => Err(RecvTimeoutError::Disconnected),
    };
    loop {
        match py.detach(wait) {
            Ok(v) => return Ok(Some(v)),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    py.detach(|| job.stop());
                    return Err(e);
                }
            }
        }
    }
}

/// Run `f` on a job thread and wait for its result (GIL released, Ctrl-C
/// interrupts).
fn run_job<T: Send + 'static>(
    py: Python<'_>,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    let rx = Mutex::new(rx);
    let mut job = Job::spawn(move || {
        let _ = tx.send(f());
    })?;
    match recv_interruptible(py, &rx, &mut job)? {
        Some(r) => r.map_err(to_py),
        None => Err(PcapxError::new_err("the job thread ended without a result")),
    }
}

/// The options every reading job takes (see `pcapx.read`).
#[derive(Clone)]
struct Read {
    paths: Vec<String>,
    opts: ReadOptions,
    plugins: Vec<PathBuf>,
    /// `pcapx.sniff`: capture live instead of reading `paths`.
    live: Option<Live>,
}

/// A live capture's options (`pcapx.sniff`).
#[derive(Clone)]
struct Live {
    interfaces: Vec<String>,
    duration: Option<Duration>,
    snaplen: u32,
    promisc: bool,
}

impl Read {
    fn engine(&self) -> Result<Engine, Error> {
        pcapx_facade::build_engine(&self.plugins)
    }

    /// The sources as the CLI reads its FILE arguments: directories and
    /// globs expanded, every file in order as one stream (frame numbers
    /// continuing, the filter and limit over the whole stream).
    fn source(&self) -> Result<Source, Error> {
        let Some(live) = &self.live else {
            return Source::open(&self.paths, self.opts.filter.as_deref());
        };
        // The live path of `pcapx capture` / `summary -i`: the filter goes
        // into the kernel; the job's cancel flag (Ctrl-C) ends the capture
        // instead of a signal handler (Python owns SIGINT).
        let mut cfg = pcapx_capture::LiveConfig::new(live.interfaces.clone());
        cfg.snaplen = live.snaplen;
        cfg.promisc = live.promisc;
        cfg.filter.clone_from(&self.opts.filter);
        cfg.duration = live.duration;
        cfg.stop = CANCEL.with(|c| c.borrow().clone());
        let cap = pcapx_capture::Capture::open_live(&cfg)?;
        Source::from_capture(cap, &live.interfaces.join(","), self.opts.filter.as_deref())
    }
}

#[allow(clippy::too_many_arguments)]
fn read_args(
    paths: Vec<String>,
    filter: Option<String>,
    count: Option<u64>,
    threads: Option<usize>,
    plugins: Vec<String>,
    no_defrag: bool,
    no_desegment: bool,
    community_id_seed: u16,
) -> PyResult<Read> {
    if paths.is_empty() {
        return Err(PyValueError::new_err("no capture given"));
    }
    if threads == Some(0) {
        return Err(PyValueError::new_err("threads must be at least 1"));
    }
    Ok(Read {
        paths,
        opts: ReadOptions {
            filter,
            limit: count,
            no_defrag,
            no_desegment,
            threads,
            community_id_seed,
        },
        plugins: plugins.into_iter().map(PathBuf::from).collect(),
        live: None,
    })
}

fn occurrence(s: &str) -> PyResult<Occurrence> {
    Ok(match s {
        "first" => Occurrence::First,
        "last" => Occurrence::Last,
        "all" => Occurrence::All,
        _ => {
            return Err(PyValueError::new_err(format!(
                "occurrence must be 'first', 'last' or 'all', not '{s}'"
            )));
        }
    })
}

/// The table job: the rows of `convert`'s table over every source, as Arrow
/// record batches of `batch_rows` rows (the last may be shorter) to `emit`.
fn table_rows(
    read: &Read,
    fields: Option<&str>,
    all: bool,
    occ: Occurrence,
    batch_rows: u64,
    schema_out: &SyncSender<SchemaRef>,
    mut emit: impl FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<(), Error> {
    let engine = read.engine()?;
    let spec: TableSpec =
        pcapx_facade::table::table_spec(&engine, fields, all, TimeFormat::Epoch, occ)?;
    let schema = pcapx_output::arrow_out::arrow_schema(&spec);
    let _ = schema_out.send(Arc::clone(&schema));
    let arrow = |c: ColumnBatch| {
        c.into_arrow(&schema)
            .map_err(|e| Error::Usage(format!("arrow: {e}")))
    };
    let mut pending: Option<ColumnBatch> = None;
    let mut src = read.source()?;
    {
        pcapx_facade::table::run(
            &engine,
            &mut src,
            &read.opts,
            &spec,
            Target::Columns,
            false,
            false,
            |_| {},
            |b| -> Result<(), Error> {
                let Encoded::Columns(c) = b.encoded else {
                    return Ok(());
                };
                match &mut pending {
                    Some(p) => p.append(c),
                    None => pending = Some(c),
                }
                while let Some(p) = pending.as_mut()
                    && p.rows() >= batch_rows
                {
                    let tail = p.split_off(batch_rows);
                    if let Some(head) = pending.replace(tail) {
                        emit(arrow(head)?)?;
                    }
                }
                Ok(())
            },
        )?;
        src.report_damage();
    }
    if let Some(p) = pending.take()
        && p.rows() > 0
    {
        emit(arrow(p)?)?;
    }
    Ok(())
}

/// What a table job sends: a batch, or the job's end (its error, if any).
type Msg = Result<RecordBatch, Error>;

/// A running table job and where its batches arrive.
type TableStream = (Job<()>, Mutex<Receiver<Msg>>);

/// Hand a batch to the consumer; waits while the channel is full, and
/// gives up when the consumer has gone or the job was cancelled (so
/// stopping a job never waits for a consumer that stopped reading).
fn send(tx: &SyncSender<Msg>, b: RecordBatch) -> Result<(), Error> {
    send_msg(tx, Ok(b))
}

fn send_msg(tx: &SyncSender<Msg>, mut msg: Msg) -> Result<(), Error> {
    loop {
        match tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(m)) => {
                pcapx_facade::interrupt::check()?;
                msg = m;
                std::thread::park_timeout(Duration::from_millis(1));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(Interrupted(pcapx_facade::interrupt::SIGINT).into());
            }
        }
    }
}

fn start_table(
    read: Read,
    fields: Option<String>,
    all: bool,
    occ: Occurrence,
    batch_rows: u64,
    depth: usize,
) -> PyResult<(TableStream, Receiver<SchemaRef>)> {
    let (tx, rx) = mpsc::sync_channel::<Msg>(depth);
    let (stx, srx) = mpsc::sync_channel::<SchemaRef>(1);
    let job = Job::spawn(move || {
        let r = table_rows(&read, fields.as_deref(), all, occ, batch_rows, &stx, |b| {
            send(&tx, b)
        });
        if let Err(e) = r {
            // Not when the job was stopped: nobody waits for its error then.
            if !matches!(e, Error::Interrupted(_)) {
                let _ = send_msg(&tx, Err(e));
            }
        }
    })?;
    Ok(((job, Mutex::new(rx)), srx))
}

/// `pcapx.read`: the whole table as a `pyarrow.Table`.
#[pyfunction]
#[pyo3(signature = (paths, fields, all, filter, count, threads, occurrence_, plugins, no_defrag, no_desegment, community_id_seed, batch_rows))]
#[allow(clippy::too_many_arguments)]
fn read<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    fields: Option<String>,
    all: bool,
    filter: Option<String>,
    count: Option<u64>,
    threads: Option<usize>,
    occurrence_: &str,
    plugins: Vec<String>,
    no_defrag: bool,
    no_desegment: bool,
    community_id_seed: u16,
    batch_rows: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let read = read_args(
        paths,
        filter,
        count,
        threads,
        plugins,
        no_defrag,
        no_desegment,
        community_id_seed,
    )?;
    let occ = occurrence(occurrence_)?;
    let ((mut job, rx), srx) = start_table(read, fields, all, occ, batch_rows.max(1), 64)?;
    let mut batches = Vec::new();
    while let Some(m) = recv_interruptible(py, &rx, &mut job)? {
        batches.push(m.map_err(to_py)?);
    }
    let schema = srx
        .try_recv()
        .map_err(|_| PcapxError::new_err("the table job ended without a schema"))?;
    let table = arrow_pyarrow::Table::try_new(batches, schema)
        .map_err(|e| PcapxError::new_err(e.to_string()))?;
    table.into_pyarrow(py)
}

/// `pcapx.sniff`: a live capture's table as a `pyarrow.Table` (the rows of
/// `pcapx.read` for the same packets).
#[pyfunction]
#[pyo3(signature = (interfaces, count, duration, filter, fields, all, snaplen, promisc, occurrence_, threads))]
#[allow(clippy::too_many_arguments)]
fn sniff<'py>(
    py: Python<'py>,
    interfaces: Vec<String>,
    count: Option<u64>,
    duration: Option<f64>,
    filter: Option<String>,
    fields: Option<String>,
    all: bool,
    snaplen: Option<u32>,
    promisc: bool,
    occurrence_: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    if interfaces.is_empty() {
        return Err(PyValueError::new_err("no interface given"));
    }
    let duration = match duration {
        None => None,
        Some(d) if d.is_finite() && d >= 0.0 => Some(Duration::from_secs_f64(d)),
        Some(d) => {
            return Err(PyValueError::new_err(format!(
                "duration must be a number of seconds, not {d}"
            )));
        }
    };
    let mut read = read_args(
        vec![interfaces.join(",")],
        filter,
        count,
        threads,
        Vec::new(),
        false,
        false,
        0,
    )?;
    read.live = Some(Live {
        interfaces,
        duration,
        snaplen: snaplen.unwrap_or(0),
        promisc,
    });
    let occ = occurrence(occurrence_)?;
    let ((mut job, rx), srx) = start_table(read, fields, all, occ, 65536, 64)?;
    let mut batches = Vec::new();
    while let Some(m) = recv_interruptible(py, &rx, &mut job)? {
        batches.push(m.map_err(to_py)?);
    }
    let schema = srx
        .try_recv()
        .map_err(|_| PcapxError::new_err("the capture job ended without a schema"))?;
    arrow_pyarrow::Table::try_new(batches, schema)
        .map_err(|e| PcapxError::new_err(e.to_string()))?
        .into_pyarrow(py)
}

/// `pcapx.batches`: the table as an iterator of `pyarrow.RecordBatch`.
#[pyclass(module = "pcapx._pcapx")]
struct Batches {
    inner: Mutex<Option<TableStream>>,
}

#[pymethods]
impl Batches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| PcapxError::new_err("batches: a previous call panicked"))?;
        let Some((job, rx)) = guard.as_mut() else {
            return Ok(None);
        };
        let next = match recv_interruptible(py, rx, job) {
            Ok(n) => n,
            Err(e) => {
                *guard = None;
                return Err(e);
            }
        };
        match next {
            Some(Ok(b)) => Ok(Some(b.to_pyarrow(py)?)),
            Some(Err(e)) => {
                *guard = None;
                Err(to_py(e))
            }
            None => {
                *guard = None;
                Ok(None)
            }
        }
    }

    /// Stop the job now (also done when the iterator is garbage-collected).
    fn close(&self, py: Python<'_>) {
        let taken = self.inner.lock().ok().and_then(|mut g| g.take());
        // Joining the job thread may take a batch: without the GIL.
        py.detach(move || drop(taken));
    }
}

#[pyfunction]
#[pyo3(signature = (paths, fields, all, filter, count, threads, occurrence_, plugins, no_defrag, no_desegment, community_id_seed, batch_rows))]
#[allow(clippy::too_many_arguments)]
fn batches(
    paths: Vec<String>,
    fields: Option<String>,
    all: bool,
    filter: Option<String>,
    count: Option<u64>,
    threads: Option<usize>,
    occurrence_: &str,
    plugins: Vec<String>,
    no_defrag: bool,
    no_desegment: bool,
    community_id_seed: u16,
    batch_rows: u64,
) -> PyResult<Batches> {
    if batch_rows == 0 {
        return Err(PyValueError::new_err("batch_rows must be at least 1"));
    }
    let read = read_args(
        paths,
        filter,
        count,
        threads,
        plugins,
        no_defrag,
        no_desegment,
        community_id_seed,
    )?;
    let occ = occurrence(occurrence_)?;
    // Two batches in the channel: memory stays bounded whatever the file size.
    let (stream, _schema) = start_table(read, fields, all, occ, batch_rows, 2)?;
    Ok(Batches {
        inner: Mutex::new(Some(stream)),
    })
}

fn agg_kind(name: &str) -> PyResult<AggKind> {
    Ok(match name {
        "count" => AggKind::Count,
        "sum" => AggKind::Sum,
        "mean" => AggKind::Mean,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "nunique" => AggKind::NUnique,
        _ => return Err(PyValueError::new_err(format!("unknown aggregate '{name}'"))),
    })
}

/// `pcapx.stats`: a group-by as a `pyarrow.Table` (the rows of `pcapx stats`).
#[pyfunction]
#[pyo3(signature = (paths, group_by, aggs, all, filter, count, threads, sort, top, plugins, no_defrag, no_desegment))]
#[allow(clippy::too_many_arguments)]
fn stats<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    group_by: Vec<String>,
    aggs: Vec<(String, Option<String>)>,
    all: bool,
    filter: Option<String>,
    count: Option<u64>,
    threads: Option<usize>,
    sort: &str,
    top: Option<usize>,
    plugins: Vec<String>,
    no_defrag: bool,
    no_desegment: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let read = read_args(
        paths,
        filter,
        count,
        threads,
        plugins,
        no_defrag,
        no_desegment,
        0,
    )?;
    let order = match sort {
        "value" => Order::Value,
        "key" => Order::Key,
        _ => {
            return Err(PyValueError::new_err(format!(
                "sort must be 'value' or 'key', not '{sort}'"
            )));
        }
    };
    let aggs = aggs
        .into_iter()
        .map(|(k, f)| Ok((agg_kind(&k)?, f)))
        .collect::<PyResult<Vec<_>>>()?;
    let batch = run_job(py, move || {
        let engine = read.engine()?;
        let keys = pcapx_facade::stats::split_names(&group_by);
        let aggs: Vec<(AggKind, Option<&str>)> =
            aggs.iter().map(|(k, f)| (*k, f.as_deref())).collect();
        let mut job = GroupJob::new(&engine, &keys, &aggs, all)?;
        job.scan(&engine, &mut read.source()?, &read.opts)?;
        let key_types: Vec<_> = job.key_columns().iter().map(|c| c.ftype).collect();
        let table = job.finish(order, top);
        stats_arrow::group_table(&table, &key_types)
            .map_err(|e| Error::Usage(format!("arrow: {e}")))
    })?;
    let schema = batch.schema();
    arrow_pyarrow::Table::try_new(vec![batch], schema)
        .map_err(|e| PcapxError::new_err(e.to_string()))?
        .into_pyarrow(py)
}

/// `pcapx.describe`: pandas `describe()` of fields, `{field: {stat: value}}`.
#[pyfunction]
#[pyo3(signature = (paths, fields, all, filter, count, threads, plugins, no_defrag, no_desegment))]
#[allow(clippy::too_many_arguments)]
fn describe<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    fields: Vec<String>,
    all: bool,
    filter: Option<String>,
    count: Option<u64>,
    threads: Option<usize>,
    plugins: Vec<String>,
    no_defrag: bool,
    no_desegment: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let read = read_args(
        paths,
        filter,
        count,
        threads,
        plugins,
        no_defrag,
        no_desegment,
        0,
    )?;
    let results = run_job(py, move || {
        let engine = read.engine()?;
        let names = pcapx_facade::stats::split_names(&fields);
        let mut job = DescribeJob::new(&engine, &names, all)?;
        job.scan(&engine, &mut read.source()?, &read.opts)?;
        Ok(job.finish())
    })?;
    let out = PyDict::new(py);
    for (name, summary) in &results {
        let d = PyDict::new(py);
        for row in summary.row_names() {
            match summary.cell(row) {
                Some(Cell::Int(i)) => d.set_item(*row, i)?,
                Some(Cell::Float(f)) => d.set_item(*row, f)?,
                Some(Cell::Text(t)) => d.set_item(*row, t)?,
                None => {}
            }
        }
        out.set_item(name, d)?;
    }
    Ok(out)
}

/// `pcapx.summary`: one Scapy-style line per packet.
#[pyfunction]
#[pyo3(signature = (paths, filter, count, numeric, plugins, no_defrag, no_desegment))]
#[allow(clippy::too_many_arguments)]
fn summary(
    py: Python<'_>,
    paths: Vec<String>,
    filter: Option<String>,
    count: Option<u64>,
    numeric: bool,
    plugins: Vec<String>,
    no_defrag: bool,
    no_desegment: bool,
) -> PyResult<Vec<String>> {
    let read = read_args(
        paths,
        filter,
        count,
        None,
        plugins,
        no_defrag,
        no_desegment,
        0,
    )?;
    run_job(py, move || {
        let engine = read.engine()?;
        let mut lines = Vec::new();
        pcapx_facade::summary::lines(
            &engine,
            &mut read.source()?,
            &read.opts,
            numeric,
            |l| -> Result<(), Error> {
                lines.push(l.to_owned());
                Ok(())
            },
            || Ok(()),
        )?;
        Ok(lines)
    })
}

/// `pcapx.flows`: one row per flow, the table of `pcapx flows -o x.parquet`.
#[pyfunction]
#[pyo3(signature = (paths, filter, count, idle_timeout, active_timeout, community_id_seed, threads))]
#[allow(clippy::too_many_arguments)]
fn flows<'py>(
    py: Python<'py>,
    paths: Vec<String>,
    filter: Option<String>,
    count: Option<u64>,
    idle_timeout: Option<f64>,
    active_timeout: Option<f64>,
    community_id_seed: u16,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let read = read_args(
        paths,
        filter,
        count,
        threads,
        Vec::new(),
        false,
        false,
        community_id_seed,
    )?;
    let cfg = pcapx_facade::flows::config(idle_timeout, active_timeout, community_id_seed)
        .map_err(to_py)?;
    let spec = pcapx_facade::flows::spec(TimeFormat::Epoch);
    let schema = pcapx_output::arrow_out::arrow_schema(&spec);
    let job_schema = Arc::clone(&schema);
    let batches = run_job(py, move || {
        let mut src = read.source()?;
        let mut out = Vec::new();
        pcapx_facade::flows::run(
            &mut src,
            read.opts.limit,
            cfg,
            read.opts.threads,
            TimeFormat::Epoch,
            Target::Columns,
            |e| -> Result<(), Error> {
                if let Encoded::Columns(c) = e {
                    out.push(
                        c.into_arrow(&job_schema)
                            .map_err(|e| Error::Usage(format!("arrow: {e}")))?,
                    );
                }
                Ok(())
            },
        )?;
        src.report_damage();
        Ok(out)
    })?;
    arrow_pyarrow::Table::try_new(batches, schema)
        .map_err(|e| PcapxError::new_err(e.to_string()))?
        .into_pyarrow(py)
}

/// The Arrow schema of a table (`pcapx.read`'s columns for these options),
/// without reading a packet.
#[pyfunction]
#[pyo3(signature = (fields, all, occurrence_, plugins))]
fn schema<'py>(
    py: Python<'py>,
    fields: Option<String>,
    all: bool,
    occurrence_: &str,
    plugins: Vec<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let occ = occurrence(occurrence_)?;
    let plugins: Vec<PathBuf> = plugins.into_iter().map(PathBuf::from).collect();
    let engine = pcapx_facade::build_engine(&plugins).map_err(to_py)?;
    let spec =
        pcapx_facade::table::table_spec(&engine, fields.as_deref(), all, TimeFormat::Epoch, occ)
            .map_err(to_py)?;
    pcapx_output::arrow_out::arrow_schema(&spec).to_pyarrow(py)
}

/// `pcapx.fields`: every registered field.
#[pyfunction]
#[pyo3(signature = (plugins, layer))]
fn fields<'py>(
    py: Python<'py>,
    plugins: Vec<String>,
    layer: Option<String>,
) -> PyResult<Bound<'py, PyList>> {
    let plugins: Vec<PathBuf> = plugins.into_iter().map(PathBuf::from).collect();
    let engine = pcapx_facade::build_engine(&plugins).map_err(to_py)?;
    let rows = pcapx_facade::fields::list(engine.registry(), layer.as_deref()).map_err(to_py)?;
    let out = PyList::empty(py);
    for r in rows {
        let d = PyDict::new(py);
        d.set_item("protocol", r.protocol)?;
        d.set_item("name", r.name)?;
        d.set_item("display", r.display)?;
        d.set_item("type", r.ftype)?;
        d.set_item("aliases", r.aliases)?;
        d.set_item("description", r.description)?;
        d.set_item("origin", r.origin)?;
        // As `pcapx fields --json`: only hexadecimal fields carry a base.
        if let Some(b) = r.base {
            d.set_item("base", b)?;
        }
        if !r.value_names.is_empty() {
            let names = PyList::empty(py);
            for v in &r.value_names {
                let n = PyDict::new(py);
                n.set_item("value", v.value)?;
                n.set_item("name", v.name)?;
                names.append(n)?;
            }
            d.set_item("value_names", names)?;
        }
        out.append(d)?;
    }
    Ok(out)
}

#[pymodule]
fn _pcapx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    pcapx_facade::interrupt::set_hook(cancelled);
    let py = m.py();
    m.add("CaptureError", py.get_type::<CaptureError>())?;
    m.add("FilterError", py.get_type::<FilterError>())?;
    m.add("PcapxError", py.get_type::<PcapxError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Batches>()?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(batches, m)?)?;
    m.add_function(wrap_pyfunction!(stats, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add_function(wrap_pyfunction!(summary, m)?)?;
    m.add_function(wrap_pyfunction!(fields, m)?)?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(flows, m)?)?;
    m.add_function(wrap_pyfunction!(sniff, m)?)?;
    Ok(())
}
