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
use std::sync::Mutex;
use std::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot start {threads} worker threads: {source}")]
    Pool {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
    },
    #[error("a worker thread panicked")]
    WorkerPanicked,
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("pcapx-worker-{i}"))
        .build()
        .map_err(|source| E::from(PipelineError::Pool { threads, source }))?;
    // One state slot per pool thread, created lazily on first use.
    let states: Vec<Mutex<Option<S>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    let in_flight = threads * 3;
    let (tx, rx) = mpsc::channel::<(u64, Option<O>)>();

    let init = &init;
    let process = &process;
    let states = &states;
    // A reader error stops reading; batches already read are still processed
    // and written (every good packet is kept). A sink error stops everything.
    let mut read_err: Option<E> = None;
    let mut result: Result<(), E> = Ok(());
    pool.in_place_scope(|scope| {
        let mut sent = 0u64;
        let mut written = 0u64;
        let mut pending: BTreeMap<u64, Option<O>> = BTreeMap::new();
        let mut reading = true;
        loop {
            // Keep the pool busy: read while fewer than `in_flight` batches are out.
            while reading && result.is_ok() && sent - written < in_flight as u64 {
                match next() {
                    Ok(Some(batch)) => {
                        let idx = sent;
                        sent += 1;
                        let tx = tx.clone();
                        scope.spawn(move |_| {
                            let slot = rayon::current_thread_index().unwrap_or(0) % states.len();
                            let out = match states[slot].lock() {
                                Ok(mut guard) => {
                                    let st = guard.get_or_insert_with(init);
                                    Some(process(st, batch))
                                }
                                Err(_) => None,
                            };
                            let _ = tx.send((idx, out));
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
            match rx.recv() {
                Ok((i, out)) => {
                    pending.insert(i, out);
                }
                Err(_) => {
                    if result.is_ok() {
                        result = Err(E::from(PipelineError::WorkerPanicked));
                    }
                    break;
                }
            }
            while let Some(out) = pending.remove(&written) {
                written += 1;
                match out {
                    Some(o) => {
                        if result.is_ok()
                            && let Err(e) = sink(o)
                        {
                            result = Err(e);
                            reading = false;
                        }
                    }
                    None => {
                        if result.is_ok() {
                            result = Err(E::from(PipelineError::WorkerPanicked));
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
}
