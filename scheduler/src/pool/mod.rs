#![doc = include_str!("README.md")]

mod block_on;
mod builder;
mod current;
mod driver;
mod injector;
mod job;
mod metrics;
mod monitor;
mod scope;
mod seat;
mod shared;
mod shutdown;
mod sleep;
mod tasks;
mod worker;

pub use block_on::block_on;
pub use builder::{
    BuildError, Builder, DEFAULT_GLOBAL_QUEUE_INTERVAL, DEFAULT_LIFO_POLL_BOUND,
    DEFAULT_SPIN_BEFORE_SLEEP, DEFAULT_STACK_SIZE, DEFAULT_STALL_TIME_SLICE, TaskHook, TestPoint,
    ThreadHook,
};
pub use current::{NotInPool, spawn};
pub use metrics::{HAND_OFF_LOG, HandOff, LATENCY_SAMPLE_EVERY, Metrics, WorkerMetrics};
pub use scope::{SCOPE_CANCELLED, Scope};
pub use tasks::SHARDS_PER_WORKER;

use builder::Config;
use crossbeam_deque::Worker;
use job::Job;
use seat::SeatSlot;
use shared::{PoolShared, QueueEnd};
use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use switchyard_runtime::park::{Parker, Unparker};
use switchyard_runtime::task::{self, JoinHandle};

/// A work-stealing pool of OS threads. See the [module documentation](self).
///
/// Dropping it shuts it down (the numbered steps of shutdown.rs), joins every thread it
/// started and closes its file descriptors, whatever handles survive it.
pub struct Pool {
    handle: PoolHandle,
    monitor: Option<(std::thread::JoinHandle<()>, Unparker)>,
}

/// A cheap, cloneable handle to a [`Pool`], usable from any thread (and from the pool's own
/// jobs) to submit work. It keeps neither the threads nor the reactor's file descriptors
/// alive: after the pool is dropped, submitted work is dropped unrun (a spawned task's
/// `JoinHandle` reports cancelled, see [`PoolHandle::is_shut_down`]).
#[derive(Clone)]
pub struct PoolHandle {
    shared: Arc<PoolShared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.handle.workers())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle")
            .field("workers", &self.workers())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A builder with the defaults (one worker per core).
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A pool with the defaults.
    pub fn new() -> Result<Pool, BuildError> {
        Builder::new().build()
    }

    fn start(config: Config) -> Result<Pool, BuildError> {
        let cores = if config.pin {
            match core_affinity::get_core_ids() {
                Some(cores) if !cores.is_empty() => Some(cores),
                _ => return Err(BuildError::NoCoreList),
            }
        } else {
            None
        };
        let driver = match config.io_capacity {
            Some(capacity) => Some(Arc::new(
                driver::SharedReactor::new(capacity).map_err(BuildError::Io)?,
            )),
            None => None,
        };
        let n = config.workers;
        let monitor_parker = config.stall_time_slice.map(|_| Parker::new());
        let bell = monitor::MonitorBell::new(monitor_parker.as_ref().map(Parker::unparker));
        let deques: Vec<Worker<Job>> = (0..n).map(|_| Worker::new_fifo()).collect();
        let stealers = deques.iter().map(Worker::stealer).collect();
        let seats = deques.into_iter().map(SeatSlot::new).collect();
        let shared = Arc::new(PoolShared {
            seats,
            stealers,
            injector: injector::Injector::new(),
            idle: sleep::Idle::new(n),
            driver: Mutex::new(driver),
            timers: switchyard_runtime::time::Timers::new(),
            tasks: tasks::TaskTable::new(n),
            metrics: metrics::PoolMetrics::new(),
            gate: shutdown::Gate::new(),
            monitor: bell,
            spares: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::with_capacity(n)),
            next_thread_number: AtomicUsize::new(0),
            cores,
            config,
        });
        let mut pool = Pool {
            handle: PoolHandle {
                shared: shared.clone(),
            },
            monitor: None,
        };
        for seat in 0..n {
            if let Err(source) = worker::spawn_thread(&shared, worker::Start::Worker(seat)) {
                // Dropping `pool` shuts down the threads already started.
                return Err(BuildError::Spawn {
                    name: (shared.config.thread_name)(seat),
                    source,
                });
            }
        }
        if let (Some(slice), Some(parker)) = (shared.config.stall_time_slice, monitor_parker) {
            let unparker = parker.unparker();
            let monitor_shared = shared.clone();
            let name = "switchyard-pool-monitor".to_string();
            let handle = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || monitor::run(monitor_shared, parker, slice))
                .map_err(|source| BuildError::Spawn { name, source })?;
            pool.monitor = Some((handle, unparker));
        }
        Ok(pool)
    }

    /// A handle for submitting work from elsewhere (other threads, the pool's own jobs).
    pub fn handle(&self) -> PoolHandle {
        self.handle.clone()
    }

    /// Spawns `future` as a task on the pool. Await (or [`block_on`]) the [`JoinHandle`] for
    /// its output: `Err` if it panicked (the worker lives on) or was cancelled (aborted, or
    /// still pending when the pool shut down). Dropping the handle detaches the task.
    ///
    /// ```
    /// # use switchyard_scheduler::pool::Pool;
    /// let pool = Pool::builder().workers(2).build().unwrap();
    /// let answer = pool.spawn(async { 6 * 7 });
    /// assert_eq!(pool.block_on(answer).unwrap(), 42);
    /// ```
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs `f` on the pool, fire-and-forget. A panic in `f` is caught and counted
    /// ([`WorkerMetrics::closure_panics`]); the worker lives on.
    pub fn execute(&self, f: impl FnOnce() + Send + 'static) {
        self.handle.execute(f);
    }

    /// Runs `f` with a [`Scope`] on which it can spawn closures that borrow from the caller,
    /// and returns when all of them have finished, as `std::thread::scope` does with threads.
    /// The first panic (of the body or a closure) is re-raised after that. Called from outside
    /// the pool, the body itself runs on a worker (hence `Send`), as with rayon.
    ///
    /// ```
    /// # use switchyard_scheduler::pool::Pool;
    /// let pool = Pool::builder().workers(2).build().unwrap();
    /// let mut halves = [0u64; 2];
    /// let (left, right) = halves.split_at_mut(1);
    /// pool.scope(|s| {
    ///     s.spawn(|| left[0] = (0..500).sum());
    ///     s.spawn(|| right[0] = (500..1000).sum());
    /// });
    /// assert_eq!(halves[0] + halves[1], 499_500);
    /// ```
    pub fn scope<'env, F, T>(&self, f: F) -> T
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T + Send,
        T: Send,
    {
        scope::scope(&self.handle.shared, f)
    }

    /// Runs `future` to completion on the calling thread (parking it while the future is
    /// pending), typically a future that waits for work spawned on the pool. Same as the free
    /// function [`block_on`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        block_on(future)
    }

    /// A snapshot of the pool's metrics.
    pub fn metrics(&self) -> Metrics {
        self.handle.metrics()
    }

    /// Shuts the pool down now (the steps of shutdown.rs) and joins its threads. Dropping the
    /// pool does the same.
    pub fn shutdown(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        shutdown::shutdown(&self.handle.shared, self.monitor.take());
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

impl PoolHandle {
    /// The number of workers (seats).
    pub fn workers(&self) -> usize {
        self.shared.seats.len()
    }

    /// See [`Pool::spawn`].
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let shared = &self.shared;
        let mut join = None;
        // The closure holds the future by reference, so the layers it passes through (the
        // seat's key, the shard) copy a pointer, not the future: holding it by value, each of
        // their frames held a copy, and a 4 KiB future (the echo's connection) touched 64 KiB
        // of a worker's stack at its first spawn there (examples/pool_echo_load.rs, memory).
        let mut future = Some(future);
        let mut spawn = |id| {
            let future = future.take().expect("the closure runs once");
            let (runnable, handle, entry) =
                task::spawn_with_ref(future, tasks::PoolScheduler(shared.clone()), id);
            join = Some(handle);
            (runnable, entry)
        };
        // From a worker (no hook to run between the two): record the task in the seat's own
        // shard and queue it, in one use of the seat's key (tasks.rs, "Seat shards").
        if shared.config.hooks.on_task_spawn.is_none() {
            let on_seat = shared.with_own_seat(spawn, |local, seat, spawn| {
                if shared.is_shut_down() || !shared.tasks.has_seat_shard(seat) {
                    return Err(spawn);
                }
                let runnable = shared.tasks.spawn_on_seat(seat, &mut local.tasks, spawn);
                shared.metrics.on_schedule(runnable.id());
                Ok(shared.push_local(local, Job::Task(runnable), QueueEnd::Back))
            });
            match on_seat {
                Ok(Ok(pushed)) => {
                    shared.notify_pushed(pushed);
                    return join.expect("spawn_on_seat calls its closure");
                }
                Ok(Err(back)) | Err(back) => spawn = back,
            }
        }
        let runnable = shared.tasks.spawn_outside(spawn);
        if let Some(hook) = &shared.config.hooks.on_task_spawn {
            hook(runnable.id());
        }
        shared.schedule(Job::Task(runnable), QueueEnd::Back);
        join.expect("spawn_outside calls its closure")
    }

    /// Tasks spawned on the pool whose futures have not been dropped yet.
    pub fn live_tasks(&self) -> usize {
        self.shared.tasks.len()
    }

    /// See [`Pool::execute`].
    pub fn execute(&self, f: impl FnOnce() + Send + 'static) {
        self.shared
            .schedule(Job::Closure(Box::new(f)), QueueEnd::Back);
    }

    /// See [`Pool::scope`].
    pub fn scope<'env, F, T>(&self, f: F) -> T
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T + Send,
        T: Send,
    {
        scope::scope(&self.shared, f)
    }

    /// Whether the pool has begun shutting down (work submitted now is dropped unrun).
    pub fn is_shut_down(&self) -> bool {
        self.shared.is_shut_down()
    }

    /// See [`Pool::metrics`].
    pub fn metrics(&self) -> Metrics {
        let shared = &self.shared;
        let (searching_workers, unparked) = shared.idle.counts();
        Metrics {
            searching_workers,
            sleeping_workers: shared.seats.len().saturating_sub(unparked),
            live_tasks: shared.tasks.len(),
            workers: shared
                .seats
                .iter()
                .zip(shared.stealers.iter())
                .map(|(slot, stealer)| slot.metrics.snapshot(stealer.len()))
                .collect(),
            injector_depth: shared.injector.len(),
            hand_offs: shared
                .metrics
                .hand_offs
                .load(std::sync::atomic::Ordering::Relaxed),
            hand_off_log: shared
                .metrics
                .hand_off_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect(),
            spare_threads_started: shared
                .metrics
                .spare_threads_started
                .load(std::sync::atomic::Ordering::Relaxed),
            sleeper_wakes: shared.idle.wakes(),
            schedule_latency: shared.metrics.latency(),
        }
    }
}
