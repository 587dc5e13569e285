//! Model `async-executor` (peer): async-executor's single-threaded `LocalExecutor`, driven
//! by `futures_lite::future::block_on`.
//!
//! yield is `futures_lite::future::yield_now`; ping-pong uses `tokio::sync::mpsc` with
//! capacity 1 (runtime-agnostic; async-executor has no channel of its own); a parked task
//! is detached and awaits `std::future::pending` (the executor's slab keeps it). It has
//! no timer of its own, so the latency experiment skips it; `blocking` sleeps on the lab's
//! [`super::timer_thread`] instead (said in the row's note).

use crate::adapter::Runtime;
use crate::workloads;
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
        workloads::on::<AsyncExecutorRt, _, _>(1, 2, |sp| {
            workloads::yield_many::<AsyncExecutorRt>(sp, n)
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
                "a LocalExecutor runs both tasks on one core",
            ));
        }
        // The caller placed this thread on the first CPU, where both tasks run.
        let seen = Arc::clone(seen);
        workloads::on::<AsyncExecutorRt, _, _>(1, 3, move |sp| {
            workloads::pingpong::<AsyncExecutorRt>(sp, round_trips, move |unit| seen.mark(unit))
        })
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<AsyncExecutorRt, _, _>(1, n + 2, move |sp| {
            workloads::spawn_join::<AsyncExecutorRt>(sp, n)
        })
    }

    fn sharing(&self, way: super::Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<AsyncExecutorRt, _, _>(1, units + 2, move |sp| {
            workloads::sharing::<AsyncExecutorRt>(sp, way, units, total)
        })
    }

    fn sharing_note(&self, way: super::Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = 1;
        workloads::on::<AsyncExecutorRt, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<AsyncExecutorRt>(sp, chunks, workers)
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<AsyncExecutorRt, _, _>(1, n + 2, move |sp| {
            workloads::park::<AsyncExecutorRt>(sp, n)
        })
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<AsyncExecutorRt, _, _>(1, 3, move |sp| {
            workloads::ipc_channel::<AsyncExecutorRt>(sp, size, round_trips)
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<AsyncExecutorRt, _, _>(1, probe.background + 2, move |sp| {
            workloads::sleep_lateness::<AsyncExecutorRt>(sp, probe)
        })
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

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &super::ServerProcesses,
    ) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable(
            "async-executor has no I/O reactor of its own (async-io is not a dependency of the lab)",
        ))
    }
}

thread_local! {
    /// The executor [`AsyncExecutorRt::run`] is running on this thread, for spawns from
    /// inside its tasks (a `LocalExecutor` handle is not `Send`, so it cannot travel in one).
    static CURRENT: std::cell::RefCell<Option<Rc<LocalExecutor<'static>>>> =
        const { std::cell::RefCell::new(None) };
}

/// The lab's timer thread, shared by every async-executor measurement (async-executor has no
/// timer of its own).
fn timer() -> Outcome<&'static TimerThread> {
    static TIMER: std::sync::OnceLock<TimerThread> = std::sync::OnceLock::new();
    if let Some(timer) = TIMER.get() {
        return Ok(timer);
    }
    let timer = TimerThread::start().map_err(|e| Skip(format!("timer thread failed: {e}")))?;
    Ok(TIMER.get_or_init(|| timer))
}

/// async-executor's `LocalExecutor` as a [`Runtime`], on the calling thread; spawns from
/// inside its tasks find it through a thread-local; sleeps on the lab's timer thread;
/// channels are tokio's `sync::mpsc` (runtime-agnostic).
pub struct AsyncExecutorRt;

/// Spawns onto the `LocalExecutor` running on the calling thread.
#[derive(Debug, Clone, Copy)]
pub struct LocalSpawner;

impl Runtime for AsyncExecutorRt {
    type Spawner = LocalSpawner;
    type Join<T: Send + 'static> = async_executor::Task<T>;
    type Sender<T: Send + 'static> = tokio::sync::mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = tokio::sync::mpsc::Receiver<T>;

    fn run<T, F>(_threads: usize, _tasks: u64, root: impl FnOnce(LocalSpawner) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        timer()?;
        let ex = Rc::new(LocalExecutor::new());
        let previous = CURRENT.with(|c| c.replace(Some(Rc::clone(&ex))));
        let out = in_task(&ex, root(LocalSpawner));
        CURRENT.with(|c| *c.borrow_mut() = previous);
        Ok(out)
    }

    fn spawn<F>(_spawner: &LocalSpawner, future: F) -> Outcome<async_executor::Task<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        CURRENT.with(|c| match &*c.borrow() {
            Some(ex) => Ok(ex.spawn(future)),
            None => Err(Skip(
                "spawn outside AsyncExecutorRt::run: no executor on this thread".to_owned(),
            )),
        })
    }

    async fn join<T: Send + 'static>(handle: async_executor::Task<T>) -> Option<T> {
        Some(handle.await)
    }

    fn detach<T: Send + 'static>(handle: async_executor::Task<T>) {
        handle.detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        timer()
            .expect("started by AsyncExecutorRt::run")
            .sleep_until(deadline)
    }

    fn channel<T: Send + 'static>(
        capacity: usize,
    ) -> (tokio::sync::mpsc::Sender<T>, tokio::sync::mpsc::Receiver<T>) {
        tokio::sync::mpsc::channel(capacity)
    }

    async fn send<T: Send + 'static>(tx: &tokio::sync::mpsc::Sender<T>, value: T) -> bool {
        tx.send(value).await.is_ok()
    }

    async fn recv<T: Send + 'static>(rx: &mut tokio::sync::mpsc::Receiver<T>) -> Option<T> {
        rx.recv().await
    }
}
