//! Model `tokio-ct` (peer): tokio's `current_thread` runtime.
//!
//! Units are `tokio::spawn`ed tasks; yield is `tokio::task::yield_now`; ping-pong uses
//! `tokio::sync::mpsc` with capacity 1; a parked task awaits `std::future::pending`
//! (tokio's task list keeps it alive); the timer is `tokio::time::sleep_until`. The echo
//! server is the lab's one ([`crate::workloads::echo`]) on `tokio::net` ([`tokio_tcp_items`],
//! shared with `tokio-mt`): a `tokio::net::TcpListener` with one spawned task per connection.

use crate::adapter::{Runtime as LabRuntime, TcpRuntime};
use crate::workloads;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::runtime::{Builder, Runtime};
use tokio::task::yield_now;

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, ServerProcesses, Skip,
    Turns,
};
use crate::experiments::blocking;
use crate::experiments::fairness::{self, Race};

/// See the [module docs](self).
pub struct TokioCt;

fn runtime() -> Outcome<Runtime> {
    Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))
}

/// Runs `f` as a spawned task (not the block_on future, which tokio polls differently).
fn in_task<T: Send + 'static>(
    rt: &Runtime,
    f: impl Future<Output = T> + Send + 'static,
) -> Outcome<T> {
    rt.block_on(async { tokio::spawn(f).await })
        .map_err(|e| Skip(format!("lab task failed: {e}")))
}

impl Model for TokioCt {
    fn name(&self) -> &'static str {
        "tokio-ct"
    }

    fn describe(&self) -> &'static str {
        "tokio current_thread runtime"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over tokio::sync::mpsc, capacity 1")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some("detached tasks, kept by tokio's task list")
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<TokioCtRt, _, _>(1, 2, |sp| workloads::yield_many::<TokioCtRt>(sp, n))
    }

    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        if placement == Placement::CrossCore {
            return Err(Skip::not_applicable(
                "a current_thread runtime runs both tasks on one core",
            ));
        }
        // The caller placed this thread on the first CPU, where both tasks run.
        let seen = Arc::clone(seen);
        workloads::on::<TokioCtRt, _, _>(1, 3, move |sp| {
            workloads::pingpong::<TokioCtRt>(sp, round_trips, move |unit| seen.mark(unit))
        })
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<TokioCtRt, _, _>(1, n + 2, move |sp| {
            workloads::spawn_join::<TokioCtRt>(sp, n)
        })
    }

    fn sharing(&self, way: super::Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<TokioCtRt, _, _>(1, units + 2, move |sp| {
            workloads::sharing::<TokioCtRt>(sp, way, units, total)
        })
    }

    fn sharing_note(&self, way: super::Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = 1;
        workloads::on::<TokioCtRt, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<TokioCtRt>(sp, chunks, workers)
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<TokioCtRt, _, _>(1, n + 2, move |sp| workloads::park::<TokioCtRt>(sp, n))
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<TokioCtRt, _, _>(1, 3, move |sp| {
            workloads::ipc_channel::<TokioCtRt>(sp, size, round_trips)
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<TokioCtRt, _, _>(1, probe.background + 2, move |sp| {
            workloads::sleep_lateness::<TokioCtRt>(sp, probe)
        })
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        in_task(&runtime()?, blocking_run(load))?
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        in_task(&runtime()?, fairness_run(units, run_for))?
    }

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &ServerProcesses,
    ) -> Outcome<()> {
        let rt = Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))?;
        in_task(
            &rt,
            workloads::echo::serve::<TokioCtRt>(TokioSpawner, listener, connections),
        )?
    }
}

/// The `blocking` workload on the current tokio runtime (both tokio models).
pub(super) async fn blocking_run(load: Blocking) -> Outcome<Blocked> {
    let sleep = |deadline: Instant| tokio::time::sleep_until(deadline.into());
    let t0 = Instant::now();
    let reporters: Vec<_> = (0..load.others)
        .map(|i| tokio::spawn(blocking::reporter(load, i, t0, sleep)))
        .collect();
    let calls = tokio::spawn(blocking::blocker(load, t0, sleep));
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
}

/// The `fairness` workload on the current tokio runtime (both tokio models).
pub(super) async fn fairness_run(units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
    let race = Arc::new(Race::new());
    let handles: Vec<_> = (0..units)
        .map(|_| tokio::spawn(fairness::unit(Arc::clone(&race), yield_now)))
        .collect();
    let referee = tokio::spawn(fairness::referee(race, run_for, yield_now));
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
}

/// What both tokio adapters share but `run`: spawn with `tokio::spawn`, tokio's yield, timer
/// and `sync::mpsc`.
macro_rules! tokio_runtime_items {
    () => {
        type Spawner = TokioSpawner;
        type Join<T: Send + 'static> = tokio::task::JoinHandle<T>;
        type Sender<T: Send + 'static> = tokio::sync::mpsc::Sender<T>;
        type Receiver<T: Send + 'static> = tokio::sync::mpsc::Receiver<T>;

        fn spawn<F>(
            _spawner: &TokioSpawner,
            future: F,
        ) -> Outcome<tokio::task::JoinHandle<F::Output>>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            Ok(tokio::spawn(future))
        }

        async fn join<T: Send + 'static>(handle: tokio::task::JoinHandle<T>) -> Option<T> {
            handle.await.ok()
        }

        fn detach<T: Send + 'static>(handle: tokio::task::JoinHandle<T>) {
            // Dropping a tokio JoinHandle detaches the task.
            drop(handle);
        }

        fn yield_now() -> impl Future<Output = ()> + Send {
            tokio::task::yield_now()
        }

        fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
            tokio::time::sleep_until(deadline.into())
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
    };
}
pub(super) use tokio_runtime_items;

/// tokio's sockets as [`TcpRuntime`]'s (both tokio adapters).
macro_rules! tokio_tcp_items {
    () => {
        type Listener = tokio::net::TcpListener;
        type Stream = tokio::net::TcpStream;

        fn listener(listener: std::net::TcpListener) -> std::io::Result<Self::Listener> {
            listener.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(listener)
        }

        async fn accept(listener: &Self::Listener) -> std::io::Result<Self::Stream> {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            Ok(stream)
        }

        async fn read(stream: &mut Self::Stream, buf: &mut [u8]) -> std::io::Result<usize> {
            tokio::io::AsyncReadExt::read(stream, buf).await
        }

        async fn write_all(stream: &mut Self::Stream, buf: &[u8]) -> std::io::Result<()> {
            tokio::io::AsyncWriteExt::write_all(stream, buf).await
        }
    };
}
pub(super) use tokio_tcp_items;

impl TcpRuntime for TokioCtRt {
    tokio_tcp_items!();
}

/// Spawns onto the tokio runtime running the calling task (`tokio::spawn`).
#[derive(Debug, Clone, Copy)]
pub struct TokioSpawner;

/// tokio's current_thread runtime as a [`LabRuntime`], on the calling thread.
pub struct TokioCtRt;

impl LabRuntime for TokioCtRt {
    tokio_runtime_items!();

    fn run<T, F>(_threads: usize, _tasks: u64, root: impl FnOnce(TokioSpawner) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        in_task(&runtime()?, root(TokioSpawner))
    }
}
