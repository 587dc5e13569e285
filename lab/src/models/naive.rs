//! Model `naive`: [`switchyard_scheduler::naive::NaiveExecutor`], the baseline executor.
//!
//! Every unit is a task spawned on the executor (never the `block_on` future itself),
//! ping-pong goes through the lab's mutex channel ([`super::chan`]), and the timer is the
//! executor's thread-per-sleep [`naive::sleep_until`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use switchyard_scheduler::naive::{self, NaiveExecutor, yield_now};

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Skip, Turns, chan,
};
use crate::experiments::fairness::{self, Race};
use crate::experiments::speedup::chunk;
use crate::machine;
use crate::stats;

/// See the [module docs](self).
pub struct Naive;

/// Runs `f`'s future as a spawned task and returns its output.
fn in_task<T: Send + 'static>(
    exec: &NaiveExecutor,
    f: impl Future<Output = T> + Send + 'static,
) -> T {
    let handle = exec.spawn(f);
    // The lab's own futures do not panic; if one does, that is a bug worth a loud stop.
    exec.block_on(handle).expect("lab task panicked")
}

impl Model for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn describe(&self) -> &'static str {
        "Arc<Mutex<future>> tasks, ArcWake, std mpsc run queue"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over the lab's mutex capacity-1 channel")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some(
            "the naive executor has no task table: the 16-byte JoinHandles keep the tasks alive and are counted",
        )
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        let exec = NaiveExecutor::new();
        Ok(in_task(&exec, async move {
            let start = Instant::now();
            for _ in 0..n {
                yield_now().await;
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
        if placement == Placement::CrossCore {
            return Err(Skip::not_applicable(
                "a single-threaded executor runs both tasks on one core",
            ));
        }
        let exec = NaiveExecutor::new();
        let (ping_tx, ping_rx) = chan::channel::<u64>();
        let (pong_tx, pong_rx) = chan::channel::<u64>();
        let (echo_seen, ping_seen) = (Arc::clone(seen), Arc::clone(seen));
        let _pong = exec.spawn(async move {
            echo_seen.mark(1);
            for _ in 0..round_trips {
                let v = ping_rx.recv().await;
                pong_tx.send(v).await;
            }
            echo_seen.mark(1);
        });
        Ok(in_task(&exec, async move {
            ping_seen.mark(0);
            let start = Instant::now();
            for i in 0..round_trips {
                ping_tx.send(i).await;
                pong_rx.recv().await;
            }
            let elapsed = start.elapsed();
            ping_seen.mark(0);
            elapsed
        }))
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        let exec = NaiveExecutor::new();
        let spawner = exec.spawner();
        Ok(in_task(&exec, async move {
            let mut handles = Vec::with_capacity(n as usize);
            let start = Instant::now();
            for _ in 0..n {
                handles.push(spawner.spawn(async {}));
            }
            for handle in handles.drain(..) {
                let _ = handle.await;
            }
            start.elapsed()
        }))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        // `workers` tasks share the chunks on the executor's one thread: S(n) stays about 1.
        let exec = NaiveExecutor::new();
        let spawner = exec.spawner();
        Ok(in_task(&exec, async move {
            let next = Arc::new(AtomicU64::new(0));
            let mut handles = Vec::with_capacity(workers);
            let start = Instant::now();
            for _ in 0..workers {
                let next = Arc::clone(&next);
                handles.push(spawner.spawn(async move {
                    let mut sum = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= chunks {
                            break;
                        }
                        sum = sum.wrapping_add(chunk(i));
                        yield_now().await;
                    }
                    sum
                }));
            }
            let mut sum = 0u64;
            for handle in handles.drain(..) {
                sum = sum.wrapping_add(handle.await.unwrap_or(0));
            }
            std::hint::black_box(sum);
            start.elapsed()
        }))
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let exec = NaiveExecutor::new();
        let started = Arc::new(AtomicU64::new(0));
        // The naive executor has no task table: the join handles are what keep the
        // parked tasks alive (see the row's note), so they are counted in the growth.
        let mut handles = Vec::with_capacity(n as usize);
        let before = machine::resident_bytes();
        let start = Instant::now();
        for _ in 0..n {
            let started = Arc::clone(&started);
            handles.push(exec.spawn(async move {
                started.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>().await;
            }));
        }
        exec.block_on(async {
            while started.load(Ordering::Relaxed) < n {
                yield_now().await;
            }
        });
        let create = start.elapsed();
        let resident_growth = machine::resident_bytes().saturating_sub(before);
        std::mem::forget(handles);
        std::mem::forget(exec);
        Ok(Parked {
            create,
            resident_growth,
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let exec = NaiveExecutor::new();
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..probe.background {
            let stop = Arc::clone(&stop);
            // Detached: the run queue keeps them alive until the executor drops.
            drop(exec.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    yield_now().await;
                }
            }));
        }
        let hist = in_task(&exec, async move {
            let mut hist = stats::new_histogram();
            for _ in 0..probe.probes {
                let deadline = Instant::now() + probe.period;
                naive::sleep_until(deadline).await;
                let late = Instant::now().saturating_duration_since(deadline);
                stats::record(&mut hist, late.as_nanos() as u64);
            }
            stop.store(true, Ordering::Relaxed);
            hist
        });
        Ok(hist)
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let exec = NaiveExecutor::new();
        let spawner = exec.spawner();
        Ok(in_task(&exec, async move {
            let race = Arc::new(Race::new());
            let handles: Vec<_> = (0..units)
                .map(|_| spawner.spawn(fairness::unit(Arc::clone(&race), yield_now)))
                .collect();
            let referee = spawner.spawn(fairness::referee(race, run_for, yield_now));
            let mut turns = Vec::with_capacity(handles.len());
            for handle in handles {
                // The lab's units do not panic; a default tally would only hide a bug.
                turns.push(handle.await.expect("fairness unit panicked"));
            }
            let _ = referee.await;
            turns
        }))
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let _ = load;
        Err(Skip::not_applicable(
            "the naive timer starts a thread per sleep: 100 units sleeping every 1 ms would measure thread creation",
        ))
    }

    fn echo_serve(&self, listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable(
            "the naive executor has no I/O reactor",
        ))
    }
}
