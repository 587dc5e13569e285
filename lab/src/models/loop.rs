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

use crate::adapter::{Runtime, TcpRuntime};
use crate::workloads;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_runtime::task::JoinHandle;

use hdrhistogram::Histogram;
use switchyard_runtime::sync::mpsc;
use switchyard_runtime::time::sleep_until;
use switchyard_scheduler::local::{EventLoop, SpawnError, spawn_local, yield_now};

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, ServerProcesses, Skip,
    Turns,
};
use crate::experiments::blocking;
use crate::experiments::fairness::{self, Race};

/// See the [module docs](self).
pub struct Loop;

/// Task slots beyond the workload's own units: the unit that spawns them, the latency
/// probe, and room to spare (the loop's capacity is explicit and bounded by design).
const SPARE_TASKS: usize = 16;

fn event_loop(tasks: u64) -> Outcome<EventLoop> {
    crate::vary::loop_knobs(EventLoop::builder())
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
        workloads::on::<LoopRt, _, _>(1, 2, |sp| workloads::yield_many::<LoopRt>(sp, n))
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
        // The caller placed this thread on the first CPU, where both tasks run.
        let seen = Arc::clone(seen);
        workloads::on::<LoopRt, _, _>(1, 3, move |sp| {
            workloads::pingpong::<LoopRt>(sp, round_trips, move |unit| seen.mark(unit))
        })
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<LoopRt, _, _>(1, n + 2, move |sp| workloads::spawn_join::<LoopRt>(sp, n))
    }

    fn sharing(&self, way: super::Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<LoopRt, _, _>(1, units + 2, move |sp| {
            workloads::sharing::<LoopRt>(sp, way, units, total)
        })
    }

    fn sharing_note(&self, way: super::Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = 1;
        workloads::on::<LoopRt, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<LoopRt>(sp, chunks, workers)
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<LoopRt, _, _>(1, n + 2, move |sp| workloads::park::<LoopRt>(sp, n))
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<LoopRt, _, _>(1, 3, move |sp| {
            workloads::ipc_channel::<LoopRt>(sp, size, round_trips)
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<LoopRt, _, _>(1, probe.background + 2, move |sp| {
            workloads::sleep_lateness::<LoopRt>(sp, probe)
        })
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

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &ServerProcesses,
    ) -> Outcome<()> {
        workloads::on::<LoopRt, _, _>(1, connections + 1, move |sp| {
            workloads::echo::serve::<LoopRt>(sp, listener, connections)
        })
    }
}

/// The loop as a [`Runtime`]: one event loop on the calling thread, sized for the workload's
/// tasks; spawn with the ambient `spawn_local`; the loop's yield, the runtime's timer and
/// `sync::mpsc`.
pub struct LoopRt;

/// Spawns onto the loop running the calling task (`spawn_local`).
#[derive(Debug, Clone, Copy)]
pub struct LoopSpawner;

impl Runtime for LoopRt {
    type Spawner = LoopSpawner;
    type Join<T: Send + 'static> = JoinHandle<T>;
    type Sender<T: Send + 'static> = mpsc::Sender<T>;
    type Receiver<T: Send + 'static> = mpsc::Receiver<T>;

    fn run<T, F>(_threads: usize, tasks: u64, root: impl FnOnce(LoopSpawner) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        in_task(&mut event_loop(tasks)?, root(LoopSpawner))
    }

    fn spawn<F>(_spawner: &LoopSpawner, future: F) -> Outcome<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_local(future).map_err(|e| Skip(format!("spawn failed: {e}")))
    }

    async fn join<T: Send + 'static>(handle: JoinHandle<T>) -> Option<T> {
        handle.await.ok()
    }

    fn detach<T: Send + 'static>(handle: JoinHandle<T>) {
        // Dropping the handle detaches: the loop keeps the task.
        drop(handle);
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        sleep_until(deadline)
    }

    fn channel<T: Send + 'static>(capacity: usize) -> (mpsc::Sender<T>, mpsc::Receiver<T>) {
        mpsc::channel(capacity)
    }

    async fn send<T: Send + 'static>(tx: &mpsc::Sender<T>, value: T) -> bool {
        tx.send(value).await.is_ok()
    }

    async fn recv<T: Send + 'static>(rx: &mut mpsc::Receiver<T>) -> Option<T> {
        rx.recv().await
    }
}

/// The switchyard runtime's own sockets ([`switchyard_runtime::net`], on the reactor of the
/// thread the task runs on), for the loop and the pool alike.
macro_rules! switchyard_tcp {
    () => {
        type Listener = switchyard_runtime::net::TcpListener;
        type Stream = switchyard_runtime::net::TcpStream;

        fn listener(listener: std::net::TcpListener) -> std::io::Result<Self::Listener> {
            let io = switchyard_runtime::reactor::IoHandle::current()?;
            switchyard_runtime::net::TcpListener::from_std_with(&io, listener)
        }

        async fn accept(listener: &Self::Listener) -> std::io::Result<Self::Stream> {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }

        async fn read(stream: &mut Self::Stream, buf: &mut [u8]) -> std::io::Result<usize> {
            futures_util::io::AsyncReadExt::read(stream, buf).await
        }

        async fn write_all(stream: &mut Self::Stream, buf: &[u8]) -> std::io::Result<()> {
            futures_util::io::AsyncWriteExt::write_all(stream, buf).await
        }
    };
}
pub(super) use switchyard_tcp;

impl TcpRuntime for LoopRt {
    switchyard_tcp!();
}
