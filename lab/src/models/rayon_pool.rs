//! Model `rayon` (peer): rayon's thread pool, for closures only (the `speedup` experiment).
//!
//! A pool of `n` threads, thread i placed on CPU i by its start handler; the chunks are
//! `scope`-spawned closures, as the `pool` model spawns them on its own scope.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Blocked, Blocking, Kind, Model, Outcome, Skip, Turns};
use crate::experiments::speedup::{chunk, place_worker};

/// See the [module docs](self).
pub struct Rayon;

impl Model for Rayon {
    fn name(&self) -> &'static str {
        "rayon"
    }

    fn describe(&self) -> &'static str {
        "rayon ThreadPool (closures)"
    }

    fn kind(&self) -> Kind {
        Kind::Thread
    }

    fn multi_threaded(&self) -> bool {
        true
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .start_handler(move |i| place_worker(i, workers))
            .build()
            .map_err(|e| Skip(format!("rayon pool failed to start: {e}")))?;
        let sum = AtomicU64::new(0);
        let start = Instant::now();
        pool.scope(|s| {
            for i in 0..chunks {
                let sum = &sum;
                s.spawn(move |_| {
                    sum.fetch_add(chunk(i), Ordering::Relaxed);
                });
            }
        });
        let elapsed = start.elapsed();
        std::hint::black_box(sum.load(Ordering::Relaxed));
        Ok(elapsed)
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let _ = load;
        Err(Skip::not_applicable(
            "rayon runs closures to completion: it has no timer to sleep on",
        ))
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let _ = (units, run_for);
        Err(Skip::not_applicable(
            "rayon's yield_now runs other jobs nested on the caller's stack: 1,000 looping units would nest, not take turns",
        ))
    }

    fn echo_serve(&self, listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable("rayon has no I/O reactor"))
    }
}
