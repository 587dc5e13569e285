//! Model `tokio-mt` (peer): tokio's `multi_thread` runtime.
//!
//! Units are `tokio::spawn`ed tasks; for `speedup` each chunk is one task, worker thread i
//! placed on CPU i by `on_thread_start` (tokio numbers its workers only in their names, so
//! a counter hands out the indices).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Kind, Model, Outcome, Skip};
use crate::experiments::speedup::{chunk, place_worker};

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
}
