//! Model `loop`: switchyard's cooperative single-threaded event loop
//! ([`switchyard_scheduler::local::EventLoop`]), the asyncio model.
//!
//! Units are tasks spawned with `spawn_local` (never the `block_on` future itself); yield
//! is [`switchyard_scheduler::local::yield_now`]; ping-pong uses
//! [`switchyard_runtime::sync::mpsc`] with capacity 1; a parked task awaits
//! `std::future::pending` (the loop's task slab keeps it); the timer is the loop's wheel
//! through [`switchyard_runtime::time::sleep_until`].

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use switchyard_runtime::sync::mpsc;
use switchyard_runtime::time::sleep_until;
use switchyard_scheduler::local::{EventLoop, spawn_local, yield_now};

use super::{Kind, Model, Outcome, Parked, Placement, Probe, Skip};
use crate::experiments::speedup::chunk;
use crate::machine;
use crate::stats;

/// See the [module docs](self).
pub struct Loop;

/// Task slots beyond the workload's own units: the unit that spawns them, the latency
/// probe, and room to spare (the loop's capacity is explicit and bounded by design).
const SPARE_TASKS: usize = 16;

fn event_loop(tasks: u64) -> Outcome<EventLoop> {
    EventLoop::builder()
        .task_capacity(tasks as usize + SPARE_TASKS)
        .build()
        .map_err(|e| Skip(format!("the loop failed to start: {e}")))
}

/// Runs `f` as a spawned task on `lp` and returns its output.
fn in_task<T: 'static>(lp: &mut EventLoop, f: impl Future<Output = T> + 'static) -> Outcome<T> {
    let handle = lp
        .spawn_local(f)
        .map_err(|e| Skip(format!("spawn failed: {e}")))?;
    lp.block_on(handle)
        .map_err(|e| Skip(format!("lab task failed: {e}")))
}

impl Model for Loop {
    fn name(&self) -> &'static str {
        "loop"
    }

    fn describe(&self) -> &'static str {
        "switchyard's cooperative event loop"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over switchyard_runtime::sync::mpsc, capacity 1")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some("detached tasks, kept by the loop's task slab")
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        in_task(&mut event_loop(1)?, async move {
            let start = Instant::now();
            for _ in 0..n {
                yield_now().await;
            }
            start.elapsed()
        })
    }

    fn pingpong(&self, round_trips: u64, placement: Placement) -> Outcome<Duration> {
        if placement == Placement::CrossCore {
            return Err(Skip::not_applicable(
                "the loop is single-threaded: both tasks share one core",
            ));
        }
        let mut lp = event_loop(2)?;
        let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let echo = lp
            .spawn_local(async move {
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).await.is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Skip(format!("spawn failed: {e}")))?;
        drop(echo);
        in_task(&mut lp, async move {
            let start = Instant::now();
            for i in 0..round_trips {
                if ping_tx.send(i).await.is_err() || pong_rx.recv().await.is_none() {
                    break;
                }
            }
            start.elapsed()
        })
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        in_task(&mut event_loop(n)?, async move {
            let mut handles = Vec::with_capacity(n as usize);
            let start = Instant::now();
            for _ in 0..n {
                match spawn_local(async {}) {
                    Ok(handle) => handles.push(handle),
                    Err(e) => return Err(Skip(format!("spawn failed: {e}"))),
                }
            }
            for handle in handles.drain(..) {
                let _ = handle.await;
            }
            Ok(start.elapsed())
        })?
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        // `workers` tasks share the chunks; the loop runs them all on its one thread, so
        // this measures that the loop does not use more CPUs (S(n) stays about 1).
        let mut lp = event_loop(workers as u64)?;
        in_task(&mut lp, async move {
            let next = Rc::new(Cell::new(0u64));
            let mut handles = Vec::with_capacity(workers);
            let start = Instant::now();
            for _ in 0..workers {
                let next = Rc::clone(&next);
                let spawned = spawn_local(async move {
                    let mut sum = 0u64;
                    loop {
                        let i = next.get();
                        if i >= chunks {
                            break;
                        }
                        next.set(i + 1);
                        sum = sum.wrapping_add(chunk(i));
                        // Cooperative: give the other workers their turn between chunks.
                        yield_now().await;
                    }
                    sum
                });
                match spawned {
                    Ok(handle) => handles.push(handle),
                    Err(e) => return Err(Skip(format!("spawn failed: {e}"))),
                }
            }
            let mut sum = 0u64;
            for handle in handles.drain(..) {
                sum = sum.wrapping_add(handle.await.unwrap_or(0));
            }
            std::hint::black_box(sum);
            Ok(start.elapsed())
        })?
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let mut lp = event_loop(n)?;
        let started = Rc::new(Cell::new(0u64));
        let outcome = lp.block_on(async {
            let before = machine::resident_bytes();
            let start = Instant::now();
            for _ in 0..n {
                let started = Rc::clone(&started);
                let spawned = spawn_local(async move {
                    started.set(started.get() + 1);
                    std::future::pending::<()>().await;
                });
                // Detached: the loop's slab keeps the task.
                if let Err(e) = spawned {
                    return Err(Skip(format!("spawn failed: {e}")));
                }
            }
            while started.get() < n {
                yield_now().await;
            }
            Ok(Parked {
                create: start.elapsed(),
                resident_growth: machine::resident_bytes().saturating_sub(before),
            })
        });
        // The child process exits with the tasks parked; dropping them is not measured.
        std::mem::forget(lp);
        outcome
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let mut lp = event_loop(probe.background)?;
        let stop = Rc::new(Cell::new(false));
        in_task(&mut lp, async move {
            for _ in 0..probe.background {
                let stop = Rc::clone(&stop);
                let spawned = spawn_local(async move {
                    while !stop.get() {
                        yield_now().await;
                    }
                });
                if let Err(e) = spawned {
                    return Err(Skip(format!("spawn failed: {e}")));
                }
            }
            let mut hist = stats::new_histogram();
            for _ in 0..probe.probes {
                let deadline = Instant::now() + probe.period;
                sleep_until(deadline).await;
                let late = Instant::now().saturating_duration_since(deadline);
                stats::record(&mut hist, late.as_nanos() as u64);
            }
            stop.set(true);
            Ok(hist)
        })?
    }
}
