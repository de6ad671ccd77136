//! The ordered parallel pipeline.
//!
//! ```text
//!  reader (caller's thread)        rayon workers                 writer (caller's thread)
//!  next_batch() ──► batch i ──►  process(&mut state, batch) ──►  reorder by i ──► sink(out)
//! ```
//!
//! The caller's thread reads batches in file order and hands each to the rayon
//! pool; a worker processes it with its own per-thread state (a `Fields` sink,
//! encoders — created once per thread from a prototype closure and reused), and
//! the results come back to the caller's thread, which passes them to `sink`
//! strictly in batch order. At most `in_flight` batches exist at once, so memory
//! is bounded whatever the input size. Batch boundaries never depend on the
//! thread count, so the output is identical for any `threads`.
//!
//! Mergeable statistics use the same machinery: `process` returns a partial
//! aggregate per batch and `sink` merges them in order.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::sync::mpsc;
use std::thread::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot start {threads} worker threads: {source}")]
    Pool {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
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
/// job that unwinds past `catch_unwind` (a panic while dropping a payload,
/// a poisoned slot) can still never leave the receive loop waiting.
struct Reply<O> {
    idx: u64,
    tx: Option<mpsc::Sender<(u64, Outcome<O>)>>,
}

impl<O> Reply<O> {
    fn send(mut self, out: Outcome<O>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send((self.idx, out));
        }
    }
}

impl<O> Drop for Reply<O> {
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

/// Run the pipeline. `next` yields batches (or an error, which stops reading
/// and is returned after in-flight work drains); `init` makes one worker state
/// per thread; `process` turns a batch into an output; `sink` receives the
/// outputs in batch order (an error from it stops the run).
pub fn run<B, S, O, E>(
    threads: usize,
    mut next: impl FnMut() -> Result<Option<B>, E>,
    init: impl Fn() -> S + Sync,
    process: impl Fn(&mut S, B) -> O + Sync,
    mut sink: impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    B: Send,
    S: Send,
    O: Send,
    E: From<PipelineError>,
{
    let threads = threads.max(1);
    // The pool's threads are spawned here so `run` can join them: when it
    // returns, no worker thread of this run is left behind.
    let mut workers: Vec<JoinHandle<()>> = Vec::with_capacity(threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("pcapx-worker-{i}"))
        .spawn_handler(|thread| {
            let mut b = std::thread::Builder::new();
            if let Some(name) = thread.name() {
                b = b.name(name.to_owned());
            }
            if let Some(size) = thread.stack_size() {
                b = b.stack_size(size);
            }
            workers.push(b.spawn(|| thread.run())?);
            Ok(())
        })
        .build()
        .map_err(|source| E::from(PipelineError::Pool { threads, source }))?;
    let result = drive(&pool, threads, &mut next, &init, &process, &mut sink);
    drop(pool);
    for w in workers {
        // A worker never unwinds (`process` runs under `catch_unwind`), so
        // join fails only if rayon itself panicked; the run's outcome stands.
        let _ = w.join();
    }
    result
}

/// The read / process / reorder loop of [`run`] on an already built pool.
fn drive<B, S, O, E>(
    pool: &rayon::ThreadPool,
    threads: usize,
    next: &mut impl FnMut() -> Result<Option<B>, E>,
    init: &(impl Fn() -> S + Sync),
    process: &(impl Fn(&mut S, B) -> O + Sync),
    sink: &mut impl FnMut(O) -> Result<(), E>,
) -> Result<(), E>
where
    B: Send,
    S: Send,
    O: Send,
    E: From<PipelineError>,
{
    // One state slot per pool thread, created lazily on first use.
    let states: Vec<Mutex<Option<S>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let in_flight = threads * 3;
    let (tx, rx) = mpsc::channel::<(u64, Outcome<O>)>();

    let states = &states;
    // A reader error stops reading; batches already read are still processed
    // and written (every good packet is kept). A sink error or a worker panic
    // stops everything.
    let mut read_err: Option<E> = None;
    let mut result: Result<(), E> = Ok(());
    pool.in_place_scope(|scope| {
        let mut sent = 0u64;
        let mut written = 0u64;
        let mut pending: BTreeMap<u64, Outcome<O>> = BTreeMap::new();
        let mut reading = true;
        loop {
            // Keep the pool busy: read while fewer than `in_flight` batches are out.
            while reading && result.is_ok() && sent - written < in_flight as u64 {
                match next() {
                    Ok(Some(batch)) => {
                        let reply = Reply {
                            idx: sent,
                            tx: Some(tx.clone()),
                        };
                        sent += 1;
                        scope.spawn(move |_| {
                            let slot = rayon::current_thread_index().unwrap_or(0) % states.len();
                            let Ok(mut guard) = states[slot].lock() else {
                                return; // `reply` reports the failure when dropped
                            };
                            let out = panic::catch_unwind(AssertUnwindSafe(|| {
                                process(guard.get_or_insert_with(init), batch)
                            }));
                            let out = out.map_err(|payload| {
                                // The state may be half-updated: never reuse it.
                                *guard = None;
                                panic_message(payload.as_ref())
                            });
                            drop(guard);
                            reply.send(out);
                        });
                    }
                    Ok(None) => reading = false,
                    Err(e) => {
                        read_err = Some(e);
                        reading = false;
                    }
                }
            }
            if written == sent {
                break;
            }
            // Wait for the next result and write everything that is in order.
            // Every spawned job replies exactly once (see `Reply`), so this
            // receives one message per batch still out.
            match rx.recv() {
                Ok((i, out)) => {
                    pending.insert(i, out);
                }
                Err(_) => {
                    // Cannot happen while `tx` lives; never wait on it anyway.
                    if result.is_ok() {
                        let batch = written;
                        result = Err(E::from(PipelineError::WorkerPanicked {
                            batch,
                            message: None,
                        }));
                    }
                    break;
                }
            }
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
    });
    match (result, read_err) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(e)) => Err(e),
        (Ok(()), None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                        let me = ALIVE.with(std::sync::Arc::downgrade);
                        seen2.lock().unwrap().push(me);
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
            assert!(!seen.is_empty());
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
}
