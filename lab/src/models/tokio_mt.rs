//! Model `tokio-mt` (peer): tokio's `multi_thread` runtime.
//!
//! Units are `tokio::spawn`ed tasks on a runtime of the machine's cores (as the `pool`
//! model), worker thread i placed on CPU i by `on_thread_start` (tokio numbers its
//! workers only in their names, so a counter hands out the indices); yield is
//! `tokio::task::yield_now`; ping-pong uses `tokio::sync::mpsc` with capacity 1, same-core on
//! a runtime of one worker, cross-core on two runtimes of one worker each, pinned to two CPUs
//! (as the `pool` model); the timer is
//! `tokio::time::sleep_until`; for `speedup` each chunk is one task. `blocking`, `fairness`
//! and `echo` run the same task code as `tokio-ct` ([`super::tokio_ct`]).

use crate::adapter::{PinnedRuntime, Runtime as LabRuntime, TcpRuntime};
use crate::workloads;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_ct::TokioSpawner;

use hdrhistogram::Histogram;
use tokio::runtime::Runtime;

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, ServerProcesses, Skip,
    Turns, tokio_ct,
};
use crate::machine;
use crate::workloads::cpu::place_worker;

fn runtime(workers: usize) -> Outcome<Runtime> {
    let next = Arc::new(AtomicUsize::new(0));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .on_thread_start(move || place_worker(next.fetch_add(1, Ordering::Relaxed), workers))
        .build()
        .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))
}

/// A runtime of one worker, pinned to CPU `cpu` (an id).
fn pinned_runtime(cpu: usize) -> Outcome<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .on_thread_start(move || {
            machine::pin_to_cpu(cpu);
        })
        .build()
        .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))
}

/// Runs `f` as a spawned task (not the block_on future, which runs on the calling thread).
fn in_task<T: Send + 'static>(
    rt: &Runtime,
    f: impl Future<Output = T> + Send + 'static,
) -> Outcome<T> {
    rt.block_on(rt.spawn(f))
        .map_err(|e| Skip(format!("lab task failed: {e}")))
}

/// The machine's cores, as tokio's own default and the `pool` model's.
fn default_workers() -> usize {
    machine::cores()
}

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

    fn multi_threaded(&self) -> bool {
        true
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over tokio::sync::mpsc, capacity 1")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some("detached tasks, kept by the runtime's owned-task list")
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<TokioMtRt, _, _>(default_workers(), 2, |sp| {
            workloads::yield_many::<TokioMtRt>(sp, n)
        })
    }

    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        let Some(cpus) = placement.cpus() else {
            return Err(Skip::not_applicable(
                "this process may use one CPU: no cross-core placement",
            ));
        };
        if placement == Placement::SameCore {
            // One worker, on the first CPU (worker 0's place), runs both tasks.
            let seen = Arc::clone(seen);
            return workloads::on::<TokioMtRt, _, _>(1, 3, move |sp| {
                workloads::pingpong::<TokioMtRt>(sp, round_trips, move |unit| seen.mark(unit))
            });
        }
        // As the `pool` model: one runtime of one worker per unit, pinned (PinnedRuntime
        // says why not one runtime of two).
        let seen = Arc::clone(seen);
        workloads::pingpong_across::<TokioMtRt>(cpus, round_trips, move |unit| seen.mark(unit))
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<TokioMtRt, _, _>(default_workers(), n + 2, move |sp| {
            workloads::spawn_join::<TokioMtRt>(sp, n)
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<TokioMtRt, _, _>(default_workers(), n + 2, move |sp| {
            workloads::park::<TokioMtRt>(sp, n)
        })
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<TokioMtRt, _, _>(default_workers(), 3, move |sp| {
            workloads::ipc_channel::<TokioMtRt>(sp, size, round_trips)
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<TokioMtRt, _, _>(default_workers(), probe.background + 2, move |sp| {
            workloads::sleep_lateness::<TokioMtRt>(sp, probe)
        })
    }

    fn sharing(&self, way: super::Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<TokioMtRt, _, _>(crate::machine::cores(), units + 2, move |sp| {
            workloads::sharing::<TokioMtRt>(sp, way, units, total)
        })
    }

    fn sharing_note(&self, way: super::Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = workers;
        workloads::on::<TokioMtRt, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<TokioMtRt>(sp, chunks, workers)
        })
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        workloads::on::<TokioMtRt, _, _>(default_workers(), load.others + 2, move |sp| {
            workloads::blocking::lateness::<TokioMtRt>(sp, load)
        })
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        workloads::on::<TokioMtRt, _, _>(default_workers(), units + 2, move |sp| {
            workloads::fairness::turns::<TokioMtRt>(sp, units, run_for)
        })
    }

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &ServerProcesses,
    ) -> Outcome<()> {
        in_task(
            &runtime(default_workers())?,
            workloads::echo::serve::<TokioMtRt>(TokioSpawner, listener, connections),
        )?
    }
}

/// tokio's multi_thread runtime as a [`LabRuntime`]: `threads` workers, worker i on the i-th CPU
/// of the process's mask (what it shares with tokio-ct is [`tokio_ct::TokioCtRt`]'s).
pub struct TokioMtRt;

impl LabRuntime for TokioMtRt {
    tokio_ct::tokio_runtime_items!();

    fn run<T, F>(threads: usize, _tasks: u64, root: impl FnOnce(TokioSpawner) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        in_task(&runtime(threads)?, root(TokioSpawner))
    }
}

impl PinnedRuntime for TokioMtRt {
    type Pinned = Runtime;

    fn pinned(cpu: usize) -> Outcome<Runtime> {
        pinned_runtime(cpu)
    }

    fn spawn_on<F>(rt: &Runtime, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        rt.spawn(future)
    }

    fn block_on<T: Send + 'static>(rt: &Runtime, task: tokio::task::JoinHandle<T>) -> Outcome<T> {
        rt.block_on(task)
            .map_err(|e| Skip(format!("lab task failed: {e}")))
    }
}

impl TcpRuntime for TokioMtRt {
    tokio_ct::tokio_tcp_items!();
}
