//! Model `async-executor` (peer): async-executor's single-threaded `LocalExecutor`, driven
//! by `futures_lite::future::block_on`.
//!
//! yield is `futures_lite::future::yield_now`; ping-pong uses `tokio::sync::mpsc` with
//! capacity 1 (runtime-agnostic; async-executor has no channel of its own); a parked task
//! is detached and awaits `std::future::pending` (the executor's slab keeps it). It has
//! no timer of its own, so the latency experiment skips it; `blocking` sleeps on the lab's
//! [`super::timer_thread`] instead (said in the row's note).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use futures_lite::future::{block_on, yield_now};

use hdrhistogram::Histogram;

use super::timer_thread::TimerThread;
use super::{Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Skip, Turns};
use crate::experiments::blocking;
use crate::experiments::fairness::{self, Race};
use crate::experiments::speedup::chunk;
use crate::machine;

/// See the [module docs](self).
pub struct AsyncExecutor;

/// Runs `f` as a task spawned on `ex`, driving the executor until it completes.
fn in_task<T: 'static>(ex: &Rc<LocalExecutor<'static>>, f: impl Future<Output = T> + 'static) -> T {
    block_on(ex.run(ex.spawn(f)))
}

impl Model for AsyncExecutor {
    fn name(&self) -> &'static str {
        "async-executor"
    }

    fn describe(&self) -> &'static str {
        "async-executor LocalExecutor"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over tokio::sync::mpsc, capacity 1 (async-executor has no channel)")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some("detached tasks, kept by the executor's slab")
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        let ex = Rc::new(LocalExecutor::new());
        Ok(in_task(&ex, async move {
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
                "a LocalExecutor runs both tasks on one core",
            ));
        }
        let ex = Rc::new(LocalExecutor::new());
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
        let (echo_seen, ping_seen) = (Arc::clone(seen), Arc::clone(seen));
        ex.spawn(async move {
            echo_seen.mark(1);
            while let Some(v) = ping_rx.recv().await {
                if pong_tx.send(v).await.is_err() {
                    break;
                }
            }
            echo_seen.mark(1);
        })
        .detach();
        Ok(in_task(&ex, async move {
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
        }))
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        let ex = Rc::new(LocalExecutor::new());
        let inner = Rc::clone(&ex);
        Ok(in_task(&ex, async move {
            let mut tasks = Vec::with_capacity(n as usize);
            let start = Instant::now();
            for _ in 0..n {
                tasks.push(inner.spawn(async {}));
            }
            for task in tasks.drain(..) {
                task.await;
            }
            start.elapsed()
        }))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        // `workers` tasks share the chunks on the executor's one thread: S(n) stays about 1.
        let ex = Rc::new(LocalExecutor::new());
        let inner = Rc::clone(&ex);
        Ok(in_task(&ex, async move {
            let next = Rc::new(Cell::new(0u64));
            let mut tasks = Vec::with_capacity(workers);
            let start = Instant::now();
            for _ in 0..workers {
                let next = Rc::clone(&next);
                tasks.push(inner.spawn(async move {
                    let mut sum = 0u64;
                    loop {
                        let i = next.get();
                        if i >= chunks {
                            break;
                        }
                        next.set(i + 1);
                        sum = sum.wrapping_add(chunk(i));
                        yield_now().await;
                    }
                    sum
                }));
            }
            let mut sum = 0u64;
            for task in tasks.drain(..) {
                sum = sum.wrapping_add(task.await);
            }
            std::hint::black_box(sum);
            start.elapsed()
        }))
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let ex = Rc::new(LocalExecutor::new());
        let started = Rc::new(Cell::new(0u64));
        let before = machine::resident_bytes();
        let start = Instant::now();
        for _ in 0..n {
            let started = Rc::clone(&started);
            ex.spawn(async move {
                started.set(started.get() + 1);
                std::future::pending::<()>().await;
            })
            .detach();
        }
        block_on(ex.run(async {
            while started.get() < n {
                yield_now().await;
            }
        }));
        let outcome = Parked {
            create: start.elapsed(),
            resident_growth: machine::resident_bytes().saturating_sub(before),
        };
        std::mem::forget(ex);
        Ok(outcome)
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let _ = probe;
        Err(Skip::not_applicable(
            "async-executor has no timer of its own (async-io is not a dependency of the lab)",
        ))
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        // No timer of its own: the lab's timer thread stands in for async-io's driver.
        let timer =
            Arc::new(TimerThread::start().map_err(|e| Skip(format!("timer thread failed: {e}")))?);
        let ex = Rc::new(LocalExecutor::new());
        let inner = Rc::clone(&ex);
        let blocked = in_task(&ex, async move {
            let sleep = move |deadline: Instant| timer.sleep_until(deadline);
            let t0 = Instant::now();
            let reporters: Vec<_> = (0..load.others)
                .map(|i| inner.spawn(blocking::reporter(load, i, t0, sleep.clone())))
                .collect();
            let calls = inner.spawn(blocking::blocker(load, t0, sleep.clone()));
            let mut samples = Vec::with_capacity(reporters.len());
            for reporter in reporters {
                samples.push(reporter.await);
            }
            blocking::blocked(&samples, calls.await)
        });
        Ok(Blocked {
            detail: Some(
                "timer: the lab's timer thread (a heap and a condition variable), as async-io's driver thread would be".to_owned(),
            ),
            ..blocked
        })
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let ex = Rc::new(LocalExecutor::new());
        let inner = Rc::clone(&ex);
        Ok(in_task(&ex, async move {
            let race = Arc::new(Race::new());
            let tasks: Vec<_> = (0..units)
                .map(|_| inner.spawn(fairness::unit(Arc::clone(&race), yield_now)))
                .collect();
            let referee = inner.spawn(fairness::referee(race, run_for, yield_now));
            let mut turns = Vec::with_capacity(tasks.len());
            for task in tasks {
                turns.push(task.await);
            }
            referee.await;
            turns
        }))
    }

    fn echo_serve(&self, listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable(
            "async-executor has no I/O reactor of its own (async-io is not a dependency of the lab)",
        ))
    }
}
