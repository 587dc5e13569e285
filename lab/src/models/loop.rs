//! Model `loop`: switchyard's cooperative single-threaded event loop
//! ([`switchyard_scheduler::local::EventLoop`]), the asyncio model.
//!
//! Units are tasks spawned with `spawn_local` (never the `block_on` future itself); yield
//! is [`switchyard_scheduler::local::yield_now`]; ping-pong uses
//! [`switchyard_runtime::sync::mpsc`] with capacity 1; a parked task awaits
//! `std::future::pending` (the loop's task slab keeps it); the timer is the loop's wheel
//! through [`switchyard_runtime::time::sleep_until`], on which `blocking` sleeps too (the
//! blocking call then holds the loop's only thread); the echo server is
//! [`switchyard_runtime::net::TcpListener`] with a `spawn_local`ed task per connection.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use switchyard_runtime::net::TcpListener;
use switchyard_runtime::reactor::IoHandle;
use switchyard_runtime::sync::mpsc;
use switchyard_runtime::time::sleep_until;
use switchyard_scheduler::local::{EventLoop, SpawnError, spawn_local, yield_now};

use super::{Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Skip, Turns};
use crate::experiments::fairness::{self, Race};
use crate::experiments::speedup::chunk;
use crate::experiments::{blocking, echo};
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

    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        if placement == Placement::CrossCore {
            return Err(Skip::not_applicable(
                "the loop is single-threaded: both tasks share one core",
            ));
        }
        let mut lp = event_loop(2)?;
        let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
        let (echo_seen, ping_seen) = (Arc::clone(seen), Arc::clone(seen));
        let echo = lp
            .spawn_local(async move {
                echo_seen.mark(1);
                while let Some(v) = ping_rx.recv().await {
                    if pong_tx.send(v).await.is_err() {
                        break;
                    }
                }
                echo_seen.mark(1);
            })
            .map_err(|e| Skip(format!("spawn failed: {e}")))?;
        drop(echo);
        in_task(&mut lp, async move {
            ping_seen.mark(0);
            let start = Instant::now();
            for i in 0..round_trips {
                if ping_tx.send(i).await.is_err() || pong_rx.recv().await.is_none() {
                    break;
                }
            }
            let elapsed = start.elapsed();
            ping_seen.mark(0);
            elapsed
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

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let mut lp = event_loop(load.others + 1)?;
        in_task(&mut lp, async move {
            let spawn_failed = |e: SpawnError| Skip(format!("spawn failed: {e}"));
            let t0 = Instant::now();
            let mut reporters = Vec::with_capacity(load.others as usize);
            for i in 0..load.others {
                let reporter = blocking::reporter(load, i, t0, sleep_until);
                reporters.push(spawn_local(reporter).map_err(spawn_failed)?);
            }
            let calls =
                spawn_local(blocking::blocker(load, t0, sleep_until)).map_err(spawn_failed)?;
            let mut samples = Vec::with_capacity(reporters.len());
            for reporter in reporters {
                samples.push(
                    reporter
                        .await
                        .map_err(|e| Skip(format!("a reporter failed: {e}")))?,
                );
            }
            let calls = calls
                .await
                .map_err(|e| Skip(format!("the blocker failed: {e}")))?;
            Ok(blocking::blocked(&samples, calls))
        })?
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let mut lp = event_loop(units + 1)?;
        in_task(&mut lp, async move {
            let spawn_failed = |e: SpawnError| Skip(format!("spawn failed: {e}"));
            let race = Arc::new(Race::new());
            let mut handles = Vec::with_capacity(units as usize);
            for _ in 0..units {
                let unit = fairness::unit(Arc::clone(&race), yield_now);
                handles.push(spawn_local(unit).map_err(spawn_failed)?);
            }
            let referee =
                spawn_local(fairness::referee(race, run_for, yield_now)).map_err(spawn_failed)?;
            let mut turns = Vec::with_capacity(handles.len());
            for handle in handles {
                turns.push(
                    handle
                        .await
                        .map_err(|e| Skip(format!("a unit failed: {e}")))?,
                );
            }
            referee
                .await
                .map_err(|e| Skip(format!("the referee failed: {e}")))?;
            Ok(turns)
        })?
    }

    fn echo_serve(&self, listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
        let mut lp = event_loop(connections + 1)?;
        in_task(&mut lp, async move {
            let failed = |e: std::io::Error| Skip(format!("echo failed: {e}"));
            let io = IoHandle::current().map_err(failed)?;
            let listener = TcpListener::from_std_with(&io, listener).map_err(failed)?;
            let mut conns = Vec::with_capacity(connections as usize);
            for _ in 0..connections {
                let (stream, _) = listener.accept().await.map_err(failed)?;
                stream.set_nodelay(true).map_err(failed)?;
                let conn = spawn_local(echo::serve_connection(stream))
                    .map_err(|e| Skip(format!("spawn failed: {e}")))?;
                conns.push(conn);
            }
            for conn in conns {
                conn.await
                    .map_err(|e| Skip(format!("a connection task failed: {e}")))?
                    .map_err(failed)?;
            }
            Ok(())
        })?
    }
}
