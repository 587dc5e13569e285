//! Model `tokio-mt` (peer): tokio's `multi_thread` runtime.
//!
//! Units are `tokio::spawn`ed tasks; for `speedup` each chunk is one task, worker thread i
//! placed on CPU i by `on_thread_start` (tokio numbers its workers only in their names, so
//! a counter hands out the indices). For `blocking`, `fairness` and `echo` the runtime has
//! the machine's cores (at most 2, as the `pool` model), placed the same way, and runs the
//! same task code as `tokio-ct` ([`super::tokio_ct`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Blocked, Blocking, Kind, Model, Outcome, Skip, Turns, tokio_ct};
use crate::experiments::speedup::{chunk, place_worker};
use crate::machine;

/// See the [module docs](self).
pub struct TokioMt;

impl Model for TokioMt {
    fn name(&self) -> &'static str {
        "tokio-mt"
    }

    fn describe(&self) -> &'static str {
        "tokio multi_thread runtime"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let next = Arc::new(AtomicUsize::new(0));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .on_thread_start(move || place_worker(next.fetch_add(1, Ordering::Relaxed), workers))
            .build()
            .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))?;
        let sum = Arc::new(AtomicU64::new(0));
        let elapsed = rt
            .block_on(rt.spawn({
                let sum = Arc::clone(&sum);
                async move {
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..chunks)
                        .map(|i| {
                            let sum = Arc::clone(&sum);
                            tokio::spawn(async move {
                                sum.fetch_add(chunk(i), Ordering::Relaxed);
                            })
                        })
                        .collect();
                    for task in tasks {
                        let _ = task.await;
                    }
                    start.elapsed()
                }
            }))
            .map_err(|e| Skip(format!("lab task failed: {e}")))?;
        std::hint::black_box(sum.load(Ordering::Relaxed));
        Ok(elapsed)
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        in_task(&placed_runtime()?, tokio_ct::blocking_run(load))?
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        in_task(&placed_runtime()?, tokio_ct::fairness_run(units, run_for))?
    }

    fn echo_serve(&self, listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
        in_task(
            &placed_runtime()?,
            tokio_ct::serve_echo(listener, connections),
        )?
    }
}

/// A runtime of the machine's cores (at most 2), worker i on CPU i, with time and I/O.
fn placed_runtime() -> Outcome<tokio::runtime::Runtime> {
    let workers = machine::cores().min(2);
    let next = Arc::new(AtomicUsize::new(0));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_start(move || place_worker(next.fetch_add(1, Ordering::Relaxed), workers))
        .build()
        .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))
}

/// Runs `f` as a spawned task (not the block_on future, which runs on the calling thread).
fn in_task<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    f: impl Future<Output = T> + Send + 'static,
) -> Outcome<T> {
    rt.block_on(rt.spawn(f))
        .map_err(|e| Skip(format!("lab task failed: {e}")))
}
