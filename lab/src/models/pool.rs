//! Model `pool`: [`switchyard_scheduler::pool::Pool`], the work-stealing pool.
//!
//! Units are tasks spawned on the pool (never the `block_on` future, which runs on the
//! calling thread); yield is [`switchyard_runtime::coop::yield_now`]; ping-pong goes through
//! the runtime's bounded `sync::mpsc` with capacity 1; a parked task awaits `std::future::pending` and is kept by
//! the pool's task table. Same-core placement is a pool of one worker pinned to the first CPU
//! of the process's mask; cross-core is two pools of one worker each, pinned to the first two
//! CPUs, one task on each (one pool of two workers keeps a ping-pong pair on one worker: its
//! LIFO slot), so every wake crosses from one worker to the other.
//! The timer is the pool's own wheel (`switchyard_runtime::time::sleep_until`), fired by the
//! worker about to sleep or every 61 ticks by busy workers; `blocking` sleeps on it (and is
//! skipped with the reason in a build whose pool has none); `fairness` yields with
//! `coop::yield_now`; the echo server is `switchyard_runtime::net` on the pool's reactor, one
//! spawned task per connection.

use crate::adapter::{PinnedRuntime, Runtime, TcpRuntime};
use crate::workloads;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_runtime::task::JoinHandle;

use switchyard_runtime::coop::yield_now;
use switchyard_scheduler::pool::{Pool, PoolHandle};

use hdrhistogram::Histogram;
use switchyard_runtime::time::{Timers, sleep_until};

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, ServerProcesses, Skip,
    Turns,
};
use crate::machine;
use crate::workloads::cpu::place_worker;

/// See the [module docs](self).
pub struct PoolModel;

/// Workers for every primitive but same-core ping-pong and `speedup` (which sets its own):
/// the machine's cores, counted before the lab pinned anything, as the pool's own default.
fn default_workers() -> usize {
    machine::cores()
}

/// A pool of `workers` threads, worker `i` on CPU `i`. The lab runs each measurement pinned to
/// CPU 0 and threads inherit that, so the pool's own `pin` (which pins to the CPUs the process
/// may use, here only CPU 0) would stack every worker on CPU 0: the start hook places each
/// thread itself, by the index in its name.
fn pool(workers: usize) -> Outcome<Counted> {
    crate::vary::pool_knobs(Pool::builder())
        .workers(workers)
        .thread_name(|i| format!("lab-pool-{i}"))
        .on_thread_start(move || {
            let index = std::thread::current()
                .name()
                .and_then(|n| n.strip_prefix("lab-pool-"))
                .and_then(|i| i.parse::<usize>().ok())
                .unwrap_or(0);
            place_worker(index, workers);
        })
        .build()
        .map(Counted)
        .map_err(|e| Skip(format!("pool failed to start: {e}")))
}

/// A pool of one worker, pinned to CPU `cpu` (an id).
fn pinned_pool(cpu: usize) -> Outcome<Counted> {
    crate::vary::pool_knobs(Pool::builder())
        .workers(1)
        .on_thread_start(move || {
            machine::pin_to_cpu(cpu);
        })
        .build()
        .map(Counted)
        .map_err(|e| Skip(format!("pool failed to start: {e}")))
}

/// The stall monitor's hand-offs in every pool the lab has finished with ([`Counted`]), for
/// [`Model::hand_offs`].
static HAND_OFFS: AtomicU64 = AtomicU64::new(0);

/// A pool of the lab's that adds its hand-offs to [`HAND_OFFS`] when it is dropped, so every
/// row of the pool's can say how many its measurement caused (docs/lab.md, "Experiments").
pub struct Counted(Pool);

impl std::ops::Deref for Counted {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.0
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        HAND_OFFS.fetch_add(self.0.metrics().hand_offs, Ordering::Relaxed);
    }
}

/// Runs `f(handle)` as a task on the pool and returns its output.
fn in_task<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
    pool: &Pool,
    f: impl FnOnce(PoolHandle) -> F,
) -> Outcome<T> {
    let task = pool.spawn(f(pool.handle()));
    pool.block_on(task)
        .map_err(|e| Skip(format!("lab task failed: {e}")))
}

impl Model for PoolModel {
    fn name(&self) -> &'static str {
        "pool"
    }

    fn describe(&self) -> &'static str {
        "switchyard work-stealing pool (crossbeam deques, LIFO slot, stall hand-off)"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn multi_threaded(&self) -> bool {
        true
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over switchyard_runtime::sync::mpsc, capacity 1")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some("detached tasks, kept by the pool's task table (a Task handle per live task)")
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<PoolRt, _, _>(default_workers(), 2, |sp| {
            workloads::yield_many::<PoolRt>(sp, n)
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
            return workloads::on::<PoolRt, _, _>(1, 3, move |sp| {
                workloads::pingpong::<PoolRt>(sp, round_trips, move |unit| seen.mark(unit))
            });
        }
        // Cross-core: one pool of one worker per unit, each pinned to its unit's CPU
        // (PinnedRuntime says why not one pool of two).
        let seen = Arc::clone(seen);
        workloads::pingpong_across::<PoolRt>(cpus, round_trips, move |unit| seen.mark(unit))
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<PoolRt, _, _>(default_workers(), n + 2, move |sp| {
            workloads::spawn_join::<PoolRt>(sp, n)
        })
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let pool = pool(default_workers())?;
        in_task(&pool, move |handle| async move {
            // The pool's timer wheel is entered on its threads once its driver fires timers;
            // without one, there is nothing to sleep on.
            if let Err(e) = Timers::current() {
                return Err(Skip(format!("the pool has no timer in this build: {e}")));
            }
            workloads::blocking::lateness::<PoolRt>(handle, load).await
        })?
        .map(|blocked| Blocked {
            // The hand-off count ends every pool row's note (`Ctx::step`).
            detail: Some(format!("{} workers", pool.handle().workers())),
            ..blocked
        })
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        workloads::on::<PoolRt, _, _>(default_workers(), units + 2, move |sp| {
            workloads::fairness::turns::<PoolRt>(sp, units, run_for)
        })
    }

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &ServerProcesses,
    ) -> Outcome<()> {
        let pool = pool(default_workers())?;
        in_task(&pool, move |handle| {
            workloads::echo::serve::<PoolRt>(handle, listener, connections)
        })?
    }

    fn hand_offs(&self) -> Option<u64> {
        Some(HAND_OFFS.load(Ordering::Relaxed))
    }

    fn sharing(&self, way: super::Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<PoolRt, _, _>(default_workers(), units + 2, move |sp| {
            workloads::sharing::<PoolRt>(sp, way, units, total)
        })
    }

    fn sharing_note(&self, way: super::Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = workers;
        workloads::on::<PoolRt, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<PoolRt>(sp, chunks, workers)
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<PoolRt, _, _>(default_workers(), n + 2, move |sp| {
            workloads::park::<PoolRt>(sp, n)
        })
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<PoolRt, _, _>(default_workers(), 3, move |sp| {
            workloads::ipc_channel::<PoolRt>(sp, size, round_trips)
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<PoolRt, _, _>(default_workers(), probe.background + 2, move |sp| {
            workloads::sleep_lateness::<PoolRt>(sp, probe)
        })
    }
}

/// The pool as a [`Runtime`]: a pool of `threads` workers, worker i on the i-th CPU of the
/// process's mask; spawn through the [`PoolHandle`]; the runtime's coop yield, timer wheel
/// and `sync::mpsc`.
pub struct PoolRt;

impl Runtime for PoolRt {
    type Spawner = PoolHandle;
    switchyard_task_and_channel!();

    fn run<T, F>(threads: usize, _tasks: u64, root: impl FnOnce(PoolHandle) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        in_task(&*pool(threads)?, root)
    }

    fn spawn<F>(spawner: &PoolHandle, future: F) -> Outcome<JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(spawner.spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        sleep_until(deadline)
    }
}

impl PinnedRuntime for PoolRt {
    type Pinned = Counted;

    fn pinned(cpu: usize) -> Outcome<Counted> {
        pinned_pool(cpu)
    }

    fn spawn_on<F>(pool: &Counted, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        pool.spawn(future)
    }

    fn block_on<T: Send + 'static>(pool: &Counted, task: JoinHandle<T>) -> Outcome<T> {
        pool.block_on(task)
            .map_err(|e| Skip(format!("lab task failed: {e}")))
    }
}

impl TcpRuntime for PoolRt {
    super::r#loop::switchyard_tcp!();
}
