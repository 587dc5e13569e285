//! Model `rayon` (peer): rayon's thread pool, for closures (jobs) only.
//!
//! A pool of `n` threads, thread i placed on the i-th CPU by its start handler. `yield` is
//! `rayon::yield_now` in a job on a pool of one thread; `spawn_join` spawns empty jobs on a
//! `rayon::scope` from inside a job; in `speedup` each chunk is a `scope`-spawned job (rayon's
//! own idiom; the task models run n worker tasks instead). Jobs run to completion and cannot
//! wait, so the ping-pongs, `scale`, `latency`, `ipc`, `blocking`, `fairness` and `echo` have
//! no counterpart and say so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::Arc;

use hdrhistogram::Histogram;

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Share, Skip, Turns,
    share_of,
};
use crate::experiments::speedup::{chunk, place_worker};
use crate::machine;

/// A rayon pool of `threads` threads, thread i on the i-th CPU of the process's mask.
fn pool(threads: usize) -> Outcome<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(move |i| place_worker(i, threads))
        .build()
        .map_err(|e| Skip(format!("rayon pool failed to start: {e}")))
}

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

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        // One job on a pool of one thread: each `yield_now` looks for other work and finds none.
        let pool = pool(1)?;
        Ok(pool.install(|| {
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(rayon::yield_now());
            }
            start.elapsed()
        }))
    }

    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        let _ = (round_trips, placement, seen);
        Err(Skip::not_applicable(
            "rayon jobs run to completion: a job waiting on a channel blocks its pool thread",
        ))
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        // From inside a job, `n` empty jobs spawned on a scope, which joins them all.
        let pool = pool(machine::cores())?;
        Ok(pool.install(|| {
            let start = Instant::now();
            rayon::scope(|s| {
                for _ in 0..n {
                    s.spawn(|_| {});
                }
            });
            start.elapsed()
        }))
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let _ = n;
        Err(Skip::not_applicable(
            "rayon jobs cannot wait: a parked job holds a pool thread, so N jobs are N threads",
        ))
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let _ = probe;
        Err(Skip::not_applicable("rayon has no timer to sleep on"))
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        let _ = (mechanism, size, round_trips);
        Err(Skip::not_applicable(
            "rayon jobs run to completion: they cannot wait for a message",
        ))
    }

    fn sharing(&self, way: Share, units: u64, total: u64) -> Outcome<Duration> {
        if way == Share::Message {
            return Err(Skip::not_applicable(
                "rayon jobs must not block on one another: an owner job waiting on a channel holds one of the pool's threads",
            ));
        }
        let units = units.max(1);
        let pool = pool(machine::cores())?;
        let counter = AtomicU64::new(0);
        let locked = std::sync::Mutex::new(0u64);
        let start = Instant::now();
        pool.scope(|s| {
            for i in 0..units {
                let (counter, locked) = (&counter, &locked);
                s.spawn(move |_| {
                    for _ in 0..share_of(total, units, i) {
                        if way == Share::Lock {
                            *locked
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
                        } else {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let elapsed = start.elapsed();
        let count = if way == Share::Lock {
            *locked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        } else {
            counter.load(Ordering::Relaxed)
        };
        if count != total {
            return Err(Skip(format!(
                "sharing / {}: the counter reads {count}, not {total}",
                way.name()
            )));
        }
        Ok(elapsed)
    }

    fn sharing_note(&self, way: Share) -> Option<&'static str> {
        match way {
            Share::Lock => Some("std::sync::Mutex in scope jobs on a pool of one thread per core"),
            Share::Atomic => Some("AtomicU64::fetch_add (Relaxed) in scope jobs"),
            Share::Message => None,
        }
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

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &super::ServerProcesses,
    ) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable("rayon has no I/O reactor"))
    }
}
