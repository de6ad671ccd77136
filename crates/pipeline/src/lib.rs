//! The ordered parallel pipeline.
//!
//! ```text
//!  caller's thread                                   workers (threads − 1)
//!  next() ──► batch i ──► queue (file order) ──────►  process(&mut state, batch) ─┐
//!               │  the caller takes the oldest queued                               │
//!               │  batch itself when it may not read                                │
//!               │  more (the workers are behind)                                    │
//!               ▼                                                                   │
//!  process(&mut own state, batch) ──► reorder by i ◄───────────────────────────────┘
//!                                        └──► sink(out), strictly in batch order
//! ```
//!
//! `threads` is the number of threads that do work, which is the number of
//! cores a run keeps busy: the caller's thread reads batches in file order
//! and writes the results, and it also processes the oldest queued batch
//! whenever the in-flight bound stops it from reading (the `threads − 1`
//! worker threads are behind). With `threads == 1` no
//! thread is started: each batch is read, processed and written in turn on
//! the caller's thread. A worker keeps its own per-thread state (a `Fields`
//! sink, encoders — created once per thread from a prototype closure and
//! reused), and so does the caller's thread. At most `in_flight` batches
//! (read and not yet written) exist at once, so memory is bounded whatever
//! the input size. Batch boundaries never depend on the thread count and
//! results reach `sink` in batch order, so the output is identical for any
//! `threads`.
//!
//! Mergeable statistics use the same machinery: `process` returns a partial
//! aggregate per batch and `sink` merges them in order.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot start {threads} worker threads: {source}")]
    Pool {
        threads: usize,
        source: std::io::Error,
    },
    /// `process` panicked on batch `batch` (0-based, in read order). The run
    /// stops reading, drains the batches in flight and returns this error.
    #[error("a worker thread panicked on batch {batch}{}", panic_detail(.message))]
    WorkerPanicked {
        batch: u64,
        /// The panic message, when the payload was a string.
        message: Option<String>,
    },
}

fn panic_detail(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

/// The text of a panic payload, if it is a string (as `panic!` makes it).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// What a worker sends back for one batch.
type Outcome<O> = Result<O, Option<String>>;

/// Sends a failure marker for its batch unless the job sent its result: a
/// job that unwinds past `catch_unwind` (a panic while dropping a payload)
/// can still never leave the receive loop waiting.
struct Reply<'t, O> {
    idx: u64,
    tx: Option<&'t mpsc::Sender<(u64, Outcome<O>)>>,
}

impl<O> Reply<'_, O> {
    fn send(mut self, out: Outcome<O>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.idx, out));
        }
    }
}

impl<O> Drop for Reply<'_, O> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.idx, Err(None)));
        }
    }
}

/// How many threads to use: `requested`, else every available core.
pub fn thread_count(requested: Option<usize>) -> usize {
    requested
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The batches read and not yet taken by a thread, oldest first.
struct Queue<B> {
    state: Mutex<QueueState<B>>,
    ready: Condvar,
}

struct QueueState<B> {
    jobs: VecDeque<(u64, B)>,
    closed: bool,
}

impl<B> Queue<B> {
    fn new(capacity: usize) -> Queue<B> {
        Queue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// No user code runs under the lock, so it is never poisoned; if it
    /// were, the queue itself is still consistent.
    fn lock(&self) -> MutexGuard<'_, QueueState<B>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, idx: u64, batch: B) {
        self.lock().jobs.push_back((idx, batch));
        self.ready.notify_one();
    }

    fn try_pop(&self) -> Option<(u64, B)> {
        self.lock().jobs.pop_front()
    }

    /// The oldest batch, waiting for one; `None` once closed and empty.
    fn pop_wait(&self) -> Option<(u64, B)> {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.jobs.pop_front() {
                return Some(job);
            }
            if st.closed {
                return None;
            }
            st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// Closes its queue when dropped.
struct CloseOnDrop<'q, B>(&'q Queue<B>);

impl<B> Drop for CloseOnDrop<'_, B> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Process one batch with `state` (made by `init` on first use), catching a
/// panic: the state may then be half-updated, so it is dropped.
fn process_one<B, S, O>(
    state: &mut Option<S>,
    init: &impl Fn() -> S,
    process: &impl Fn(&mut S, B) -> O,
    batch: B,
) -> Outcome<O> {
    let out = panic::catch_unwind(AssertUnwindSafe(|| {
        process(state.get_or_insert_with(init), batch)
    }));
    out.map_err(|payload| {
        *state = None;
        panic_message(payload.as_ref())
    })
}

/// Run the pipeline on `threads` threads (the caller's and `threads − 1`
/// workers; see the module documentation). `next` yields batches (or an
/// error, which stops reading and is returned after in-flight work drains);
/// `init` makes one state per thread; `process` turns a batch into an
/// output; `sink` receives the outputs in batch order (an error from it
/// stops the run). Every worker thread has exited when `run` returns.
pub fn run<B, S, O, E>(
    threads: usize,
    next: impl FnMut() -> Result<Option<B>, E>,
    init: impl Fn() -> S + Sync,
    process: impl Fn(&mut S, B) -> O + Sync,
    sink: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    B: Send,
    S: Send,
    O: Send,
    E: From<PipelineError>,
{
    run_keeping_states(threads, next, init, process, sink).map(drop)
}

/// [`run`], returning the per-thread states when it succeeds: one for each
/// thread that processed a batch, in no particular order. For work whose
/// result is accumulated per thread and combined at the end (which must
/// then not depend on which thread took which batch).
pub fn run_keeping_states<B, S, O, E>(
    threads: usize,
    mut next: impl FnMut() -> Result<Option<B>, E>,
    init: impl Fn() -> S + Sync,
    process: impl Fn(&mut S, B) -> O + Sync,
    mut sink: impl FnMut(O) -> Result<(), E>,
) -> Result<Vec<S>, E>
where
    B: Send,
    S: Send,
    O: Send,
    E: From<PipelineError>,
{
    let threads = threads.max(1);
    let in_flight = threads * 3;
    let queue = Queue::new(in_flight);
    let (tx, rx) = mpsc::channel::<(u64, Outcome<O>)>();
    let (queue, init, process) = (&queue, &init, &process);
    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(threads - 1);
        let mut failed = None;
        for i in 1..threads {
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("pcapx-worker-{i}"))
                .spawn_scoped(scope, move || {
                    let mut state = None;
                    while let Some((idx, batch)) = queue.pop_wait() {
                        let reply = Reply { idx, tx: Some(&tx) };
                        reply.send(process_one(&mut state, init, process, batch));
                    }
                    state
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(source) => {
                    failed = Some(source);
                    break;
                }
            }
        }
        // Closes the queue however this scope is left — also when `next` or
        // `sink` panics on this thread — so the workers end and the scope's
        // join cannot wait forever.
        let close = CloseOnDrop(queue);
        let mut own: Option<S> = None;
        let result = match failed {
            Some(source) => Err(E::from(PipelineError::Pool { threads, source })),
            None => drive(
                threads - 1,
                in_flight,
                queue,
                &rx,
                &mut next,
                |batch| process_one(&mut own, init, process, batch),
                &mut sink,
            ),
        };
        drop(close);
        let mut states: Vec<S> = Vec::with_capacity(threads);
        for w in workers {
            // A worker never unwinds (`process` runs under `catch_unwind`),
            // and joining it here keeps a panic that escaped anyway from
            // re-panicking the scope; the run's outcome stands.
            if let Ok(Some(s)) = w.join() {
                states.push(s);
            }
        }
        states.extend(own);
        result.map(|()| states)
    })
}

/// The read / help / reorder loop of [`run`] on the caller's thread.
fn drive<B, O, E>(
    workers: usize,
    in_flight: usize,
    queue: &Queue<B>,
    rx: &mpsc::Receiver<(u64, Outcome<O>)>,
    next: &mut impl FnMut() -> Result<Option<B>, E>,
    mut process: impl FnMut(B) -> Outcome<O>,
    sink: &mut impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<PipelineError>,
{
    // The caller's thread processes a batch itself only when it may not
    // read more (the workers are behind: `in_flight` batches are out) —
    // its own serial work (reading, the stream pass, writing) comes first,
    // and batches fill the time it would otherwise wait. With no worker it
    // processes every batch as soon as it has read it. (Helping as soon as
    // two batches per worker were waiting, tried first, had it take batches
    // while its serial work was the bottleneck: Parquet's row-group
    // encoding, `count`'s reading.)
    // A reader error stops reading; batches already read are still processed
    // and written (every good packet is kept). A sink error or a worker panic
    // stops everything.
    let mut read_err: Option<E> = None;
    let mut result: Result<(), E> = Ok(());
    let mut sent = 0u64;
    let mut written = 0u64;
    let mut pending: BTreeMap<u64, Outcome<O>> = BTreeMap::new();
    let mut reading = true;
    loop {
        if reading && result.is_ok() && sent - written < in_flight as u64 {
            match next() {
                Ok(Some(batch)) => {
                    queue.push(sent, batch);
                    sent += 1;
                }
                Ok(None) => reading = false,
                Err(e) => {
                    read_err = Some(e);
                    reading = false;
                }
            }
            if workers == 0
                && let Some((i, batch)) = queue.try_pop()
            {
                pending.insert(i, process(batch));
            }
        } else if let Some((i, batch)) = queue.try_pop() {
            // May not read: help with the oldest waiting batch.
            pending.insert(i, process(batch));
        } else if written == sent {
            break;
        } else {
            // Every batch out is on a worker: wait for one. Each replies
            // exactly once (see `Reply`), and this thread holds a sender,
            // so the receive never fails.
            match rx.recv() {
                Ok((i, out)) => {
                    pending.insert(i, out);
                }
                Err(_) => {
                    if result.is_ok() {
                        result = Err(E::from(PipelineError::WorkerPanicked {
                            batch: written,
                            message: None,
                        }));
                    }
                    break;
                }
            }
        }
        while let Ok((i, out)) = rx.try_recv() {
            pending.insert(i, out);
        }
        // Write everything that is in order.
        while let Some(out) = pending.remove(&written) {
            let batch = written;
            written += 1;
            match out {
                Ok(o) => {
                    if result.is_ok()
                        && let Err(e) = sink(o)
                    {
                        result = Err(e);
                        reading = false;
                    }
                }
                Err(message) => {
                    if result.is_ok() {
                        result = Err(E::from(PipelineError::WorkerPanicked { batch, message }));
                    }
                    reading = false;
                }
            }
        }
    }
    match (result, read_err) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(e)) => Err(e),
        (Ok(()), None) => Ok(()),
    }
}

/// Work that must run one piece at a time in batch order (a stateful pass
/// whose state carries from batch to batch) done on the threads that
/// process the batches: [`Turns::take`] runs batch `seq`'s piece once the
/// pieces of every earlier batch have run.
///
/// Inside [`run`] a wait for a turn always ends: batches are taken from the
/// queue in order, so every earlier batch is on a thread that is running.
/// A piece that panics breaks the turns: the pieces after it are skipped
/// (`take` returns `None`) instead of waiting for ever, and the panic ends
/// the run as any panic in `process` does.
///
/// A batch whose piece is only a value to fold into the state (nothing to
/// wait for) posts it instead ([`Turns::post`]): it never waits, and the
/// value is applied in its turn by whichever thread completes the turn
/// before it (or by itself, when its turn has come).
#[derive(Debug)]
pub struct Turns<T = ()> {
    state: Mutex<TurnState<T>>,
    turn: Condvar,
    broken: std::sync::atomic::AtomicBool,
}

#[derive(Debug)]
struct TurnState<T> {
    /// The batch whose piece runs next.
    next: u64,
    /// Values posted by later batches, applied when their turn comes.
    posted: BTreeMap<u64, T>,
}

impl<T> Default for Turns<T> {
    fn default() -> Turns<T> {
        Turns {
            state: Mutex::new(TurnState {
                next: 0,
                posted: BTreeMap::new(),
            }),
            turn: Condvar::new(),
            broken: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Breaks the turns when dropped during a panic (see [`Turns`] and
/// [`Turns::break_on_unwind`]).
pub struct BreakOnUnwind<'t, T>(&'t Turns<T>);

impl<T> Drop for BreakOnUnwind<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0
                .broken
                .store(true, std::sync::atomic::Ordering::Release);
            self.0.turn.notify_all();
        }
    }
}

impl Turns<()> {
    pub fn new() -> Turns {
        Turns::default()
    }

    /// Waits until every batch before `seq` had its turn, then runs `f` as
    /// batch `seq`'s turn. `None` (and `f` not run) once an earlier turn
    /// panicked.
    pub fn take<R>(&self, seq: u64, f: impl FnOnce() -> R) -> Option<R> {
        self.take_applying(seq, |()| {}, f)
    }
}

impl<T> Turns<T> {
    fn is_broken(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A guard that breaks the turns if the thread unwinds while it lives:
    /// held around work after which a batch posts (a batch that panics
    /// before posting would otherwise keep the later ones waiting).
    pub fn break_on_unwind(&self) -> BreakOnUnwind<'_, T> {
        BreakOnUnwind(self)
    }

    /// Applies the values posted for the turns that are next, in order.
    fn apply_posted(st: &mut TurnState<T>, apply: &mut impl FnMut(T)) {
        while let Some(v) = st.posted.remove(&st.next) {
            apply(v);
            st.next += 1;
        }
    }

    /// [`Turns::take`] when batches may post: values posted for the turns
    /// before `seq` are applied (with `apply`, in order) as their turns come.
    pub fn take_applying<R>(
        &self,
        seq: u64,
        mut apply: impl FnMut(T),
        f: impl FnOnce() -> R,
    ) -> Option<R> {
        let _unwind = BreakOnUnwind(self);
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.is_broken() {
                return None;
            }
            Self::apply_posted(&mut st, &mut apply);
            if st.next == seq {
                break;
            }
            st = self.turn.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        // The lock is held while `f` runs: the turns are serial anyway, and
        // a waiter can only be woken by the end of this one.
        let r = f();
        st.next += 1;
        Self::apply_posted(&mut st, &mut apply);
        drop(st);
        self.turn.notify_all();
        Some(r)
    }

    /// Batch `seq`'s turn is only `value` to apply: applied now (with any
    /// later ones posted already) if the turn has come, else kept for the
    /// thread that completes the turn before it. Never waits.
    pub fn post(&self, seq: u64, value: T, mut apply: impl FnMut(T)) {
        let _unwind = BreakOnUnwind(self);
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_broken() {
            return;
        }
        st.posted.insert(seq, value);
        let before = st.next;
        Self::apply_posted(&mut st, &mut apply);
        let moved = st.next != before;
        drop(st);
        if moved {
            self.turn.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, PartialEq)]
    enum E {
        P(String),
        Stop,
    }
    impl From<PipelineError> for E {
        fn from(e: PipelineError) -> E {
            E::P(e.to_string())
        }
    }

    fn collect(threads: usize, n: u64) -> Vec<u64> {
        let mut i = 0u64;
        let mut out = Vec::new();
        run(
            threads,
            || {
                i += 1;
                Ok::<_, E>((i <= n).then_some(i))
            },
            || 0u64,
            |seen: &mut u64, b: u64| {
                *seen += 1;
                // Uneven work so batches finish out of order.
                let spin = (b * 7919) % 2000;
                let mut x = 0u64;
                for k in 0..spin {
                    x = x.wrapping_add(k);
                }
                std::hint::black_box(x);
                b * 10
            },
            |o| {
                out.push(o);
                Ok(())
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn output_order_is_batch_order_for_any_thread_count() {
        let expect: Vec<u64> = (1..=500).map(|b| b * 10).collect();
        for t in [1, 2, 3, 8] {
            assert_eq!(collect(t, 500), expect, "threads={t}");
        }
    }

    /// Which threads processed the batches of a run of `n` batches.
    fn threads_used(threads: usize, n: u64) -> (std::thread::ThreadId, Vec<std::thread::ThreadId>) {
        let caller = std::thread::current().id();
        let mut i = 0u64;
        let mut used = Vec::new();
        run(
            threads,
            || {
                i += 1;
                Ok::<_, E>((i <= n).then_some(i))
            },
            || (),
            |_, _b: u64| {
                // Enough work per batch that a worker has time to start.
                let t = std::time::Instant::now();
                while t.elapsed() < std::time::Duration::from_micros(200) {
                    std::hint::spin_loop();
                }
                std::thread::current().id()
            },
            |id| {
                used.push(id);
                Ok(())
            },
        )
        .unwrap();
        (caller, used)
    }

    #[test]
    fn one_thread_runs_everything_on_the_callers_thread() {
        let (caller, used) = threads_used(1, 50);
        assert_eq!(used.len(), 50);
        assert!(used.iter().all(|&t| t == caller));
    }

    #[test]
    fn two_threads_share_the_batches_with_the_caller() {
        let (caller, used) = threads_used(2, 400);
        assert_eq!(used.len(), 400);
        let mine = used.iter().filter(|&&t| t == caller).count();
        // The caller reads (almost nothing here) and helps: both threads
        // process a good share of the batches.
        assert!(mine > 0 && mine < 400, "caller processed {mine} of 400");
    }

    #[test]
    fn a_panicking_sink_unwinds_out_of_run_without_hanging() {
        let r = within(30, || {
            std::panic::catch_unwind(|| {
                let mut i = 0u64;
                let _ = run(
                    2,
                    || {
                        i += 1;
                        Ok::<_, E>((i <= 100).then_some(i))
                    },
                    || (),
                    |_, b: u64| b,
                    |b| {
                        assert!(b != 5, "sink fails");
                        Ok(())
                    },
                );
            })
            .is_err()
        });
        assert!(r);
    }

    #[test]
    fn sink_error_stops_and_is_returned() {
        let mut i = 0u64;
        let mut got = 0;
        let r = run(
            2,
            || {
                i += 1;
                Ok::<_, E>(Some(i))
            },
            || (),
            |_, b: u64| b,
            |_| {
                got += 1;
                if got == 10 { Err(E::Stop) } else { Ok(()) }
            },
        );
        assert_eq!(r, Err(E::Stop));
        assert_eq!(got, 10);
    }

    #[test]
    fn reader_error_is_returned_after_draining() {
        let mut i = 0u64;
        let mut got = Vec::new();
        let r = run(
            2,
            || {
                i += 1;
                if i == 5 { Err(E::Stop) } else { Ok(Some(i)) }
            },
            || (),
            |_, b: u64| b,
            |o| {
                got.push(o);
                Ok(())
            },
        );
        assert_eq!(r, Err(E::Stop));
        assert_eq!(got, vec![1, 2, 3, 4]);
    }

    /// Runs `f` on its own thread and fails the test if it does not finish
    /// within `secs` (a hang in `run` becomes a failure, not a stuck CI job).
    fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
            Ok(v) => v,
            Err(_) => panic!("run did not return within {secs} s"),
        }
    }

    thread_local! {
        /// Dropped when the thread exits: a `Weak` to it tells whether the
        /// thread that handed it out is still alive.
        static ALIVE: std::sync::Arc<()> = std::sync::Arc::new(());
    }

    #[test]
    fn a_panicking_worker_ends_run_with_an_error_naming_the_batch() {
        for threads in [1, 2, 8] {
            let (r, written, seen) = within(30, move || {
                let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
                let seen2 = std::sync::Arc::clone(&seen);
                let caller = std::thread::current().id();
                let mut i = 0u64;
                let mut written = Vec::new();
                let r = run(
                    threads,
                    || {
                        i += 1;
                        Ok::<_, E>((i <= 1000).then_some(i))
                    },
                    || (),
                    move |_, b: u64| {
                        // The caller's thread processes batches too; only
                        // the workers must be gone when `run` returns.
                        if std::thread::current().id() != caller {
                            let me = ALIVE.with(std::sync::Arc::downgrade);
                            seen2.lock().unwrap().push(me);
                        }
                        assert!(b != 8, "batch {b} is poison");
                        b
                    },
                    |o| {
                        written.push(o);
                        Ok(())
                    },
                );
                (r, written, seen)
            });
            // Batch values start at 1, indices at 0: value 8 is batch 7.
            assert_eq!(
                r,
                Err(E::P(
                    "a worker thread panicked on batch 7: batch 8 is poison".into()
                )),
                "threads={threads}"
            );
            assert_eq!(written, (1..8).collect::<Vec<_>>(), "threads={threads}");
            let seen = seen.lock().unwrap();
            assert!(
                seen.iter().all(|w| w.upgrade().is_none()),
                "threads={threads}: a worker thread outlived run"
            );
        }
    }

    #[test]
    fn a_non_string_panic_still_names_the_batch() {
        let r = within(30, || {
            let mut i = 0u64;
            run(
                2,
                || {
                    i += 1;
                    Ok::<_, E>((i <= 3).then_some(i))
                },
                || (),
                |_, b: u64| {
                    if b == 1 {
                        std::panic::panic_any(42u32);
                    }
                    b
                },
                |_| Ok(()),
            )
        });
        assert_eq!(r, Err(E::P("a worker thread panicked on batch 0".into())));
    }

    /// Four threads take batches `0..n` in order, as from the pipeline's
    /// queue, then sleep a pseudo-random while before `f(seq, r)` (`r`: a
    /// pseudo-random word), so they come out of order.
    fn out_of_order(n: u64, f: impl Fn(u64, u64) + Sync) {
        let queue = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    loop {
                        let seq = queue.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if seq >= n {
                            break;
                        }
                        let r = seq.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                        std::thread::sleep(std::time::Duration::from_millis(r >> 61));
                        f(seq, r);
                    }
                });
            }
        });
    }

    #[test]
    fn turns_run_in_batch_order_whatever_order_the_threads_come_in() {
        let turns = Turns::new();
        let seen = Mutex::new(Vec::new());
        out_of_order(40, |seq, _| {
            let r = turns.take(seq, || {
                seen.lock().unwrap().push(seq);
                seq * 10
            });
            assert_eq!(r, Some(seq * 10));
        });
        assert_eq!(seen.into_inner().unwrap(), (0..40).collect::<Vec<u64>>());
    }

    /// Batches that only post a value never wait, and the values and the
    /// pieces of the batches that take their turn all run in batch order.
    #[test]
    fn posted_values_apply_in_turn_order_between_taken_turns() {
        let turns: Turns<u64> = Turns::default();
        let seen = Mutex::new(Vec::new());
        out_of_order(60, |seq, r| {
            let apply = |v: u64| seen.lock().unwrap().push(v);
            if r & (1 << 20) == 0 {
                turns.post(seq, seq, apply);
            } else {
                let got = turns.take_applying(seq, apply, || {
                    seen.lock().unwrap().push(seq);
                });
                assert_eq!(got, Some(()));
            }
        });
        assert_eq!(seen.into_inner().unwrap(), (0..60).collect::<Vec<u64>>());
    }

    /// A batch that panics before posting breaks the turns (through
    /// `break_on_unwind`): the later batches do not wait for ever.
    #[test]
    fn a_batch_that_panics_before_posting_does_not_hang_the_later_ones() {
        let turns: Turns<u64> = Turns::default();
        std::thread::scope(|s| {
            let later = s.spawn(|| turns.take_applying(1, |_| {}, || 1));
            let first = s.spawn(|| {
                let _guard = turns.break_on_unwind();
                std::thread::sleep(std::time::Duration::from_millis(20));
                panic!("dissection panicked");
            });
            assert!(first.join().is_err());
            assert_eq!(later.join().unwrap(), None);
        });
    }

    #[test]
    fn a_panicking_turn_skips_the_later_ones_instead_of_hanging() {
        let turns = Turns::new();
        let ran = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            let later = s.spawn(|| {
                // Batches 2 and 3 wait for batch 1, whose turn panics.
                let a = turns.take(2, || ran.lock().unwrap().push(2));
                let b = turns.take(3, || ran.lock().unwrap().push(3));
                (a, b)
            });
            assert_eq!(turns.take(0, || ran.lock().unwrap().push(0)), Some(()));
            let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                turns.take(1, || -> () { panic!("pass failed") })
            }));
            assert!(panicked.is_err());
            assert_eq!(later.join().unwrap(), (None, None));
        });
        assert_eq!(ran.into_inner().unwrap(), vec![0]);
    }
}
