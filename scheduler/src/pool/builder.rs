//! # Building a pool: every tunable in one place
//!
//! [`Builder`] collects the pool's settings, each with a default and the origin of that
//! default, and [`Builder::build`] starts the threads. Nothing here is read on a hot path
//! except through the plain-data [`Config`] the builder produces.

use super::Pool;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use switchyard_runtime::task::TaskId;

/// How many ticks a worker runs between two looks at the injector, even with local work.
/// 61 is Go's figure (`schedule()` checks the global run queue every 61 schedticks), prime so it
/// does not fall into step with other periodic work; tokio uses the same default.
pub const DEFAULT_GLOBAL_QUEUE_INTERVAL: u32 = 61;

/// The most jobs a worker takes from its LIFO slot in a row before it takes one from its deque,
/// so two tasks that keep waking each other cannot starve the rest. 3 is tokio's
/// `MAX_LIFO_POLLS_PER_TICK`.
pub const DEFAULT_LIFO_POLL_BOUND: u32 = 3;

/// The default time slice: a poll longer than this is a stall, and the monitor hands the
/// worker's queues to a spare thread. 10 ms is Go's `forcePreemptNS`.
pub const DEFAULT_STALL_TIME_SLICE: Duration = Duration::from_millis(10);

/// The default budget of the spin before sleeping ([`Builder::spin_before_sleep`]).
///
/// 5 µs, from a sweep of 0, 5, 20 and 50 µs on the 2-core VM (shared and noisy; ratios to
/// tokio-mt in the same run). `benches/pool.rs` `ping_pong`: 1.43x at 0, 0.97x at 5,
/// 0.77-0.78x at 20 (no spin, every round trip pays a futex wake). `spawn_many`, against
/// async-executor: 0.65x at 0, 0.84x at 5, 1.02-1.04x at 20. `examples/pool_echo_load.rs`
/// at 50,000 requests/s, server CPU per request: 1.19x at 0, 1.10x at 5, 1.30x at 20, 1.16x
/// at 50 (spread of repeats 20-40%). 5 µs keeps most of the ping-pong gain and little of the
/// echo cost: the echo's idle gaps are longer than 5 µs, so its workers stop spinning.
/// Sweep it with `POOL_SPIN_US=n` on either.
pub const DEFAULT_SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(5);

/// The default stack size of pool threads: 2 MiB, Rust's default for spawned threads.
pub const DEFAULT_STACK_SIZE: usize = 2 * 1024 * 1024;

/// A hook on a thread event (start, stop, park, unpark). Runs on the thread concerned.
pub type ThreadHook = Arc<dyn Fn() + Send + Sync + 'static>;
/// A hook on a task event (spawn, terminate), given the task's id.
pub type TaskHook = Arc<dyn Fn(TaskId) + Send + Sync + 'static>;

/// The hooks a builder installs; each is optional.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_thread_start: Option<ThreadHook>,
    pub(crate) on_thread_stop: Option<ThreadHook>,
    pub(crate) on_thread_park: Option<ThreadHook>,
    pub(crate) on_thread_unpark: Option<ThreadHook>,
    pub(crate) on_task_spawn: Option<TaskHook>,
    pub(crate) on_task_terminate: Option<TaskHook>,
    /// Test support only ([`Builder::test_hook`]).
    pub(crate) test_hook: Option<Arc<dyn Fn(TestPoint) + Send + Sync + 'static>>,
}

/// Test support: the points of the pool's protocols where [`Builder::test_hook`] is called,
/// so that a test can park a thread exactly in a race window. Not part of the stable API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TestPoint {
    /// A thread outside the pool has passed the shutdown check of `PoolShared::schedule` and
    /// is about to push its job (shutdown.rs, the gate: G1 done, G2 next).
    ScheduleAdmitted,
    /// Shutdown has closed the gate and is waiting for the schedulers it admitted
    /// (shutdown.rs, step 2).
    ShutdownWaitsForSchedulers,
    /// The stall monitor found every seat parked and is about to park itself (monitor.rs, M1).
    MonitorParks,
    /// The stall monitor watched a poll for a time slice of wall time, but the poll's own time
    /// (on the CPU or blocked) was under a slice: the OS kept the worker off its CPU, and the
    /// monitor leaves it its seat (monitor.rs, step 2).
    MonitorSparesPreempted,
}

/// The settings a running pool reads.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) pin: bool,
    pub(crate) thread_name: Arc<dyn Fn(usize) -> String + Send + Sync>,
    pub(crate) stack_size: usize,
    pub(crate) hooks: Hooks,
    pub(crate) stall_time_slice: Option<Duration>,
    pub(crate) global_queue_interval: u32,
    pub(crate) lifo_poll_bound: u32,
    pub(crate) max_spare_threads: usize,
    /// The most a worker spins looking for work before it sleeps (worker.rs, tick step 7).
    pub(crate) spin_budget: Duration,
    /// `Some(max registrations)`: the pool has a reactor; `None`: no I/O.
    pub(crate) io_capacity: Option<usize>,
}

/// Why a pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `workers(0)`.
    #[error("a pool needs at least one worker: pass workers(n) with n >= 1")]
    NoWorkers,
    /// Pinning was asked for but the OS did not list the cores.
    #[error(
        "pinning requested but the OS did not report the available cores; build with pin(false)"
    )]
    NoCoreList,
    /// The reactor could not be created.
    #[error(
        "could not create the pool's reactor: {0} (raise the fd limit, or build with io(false))"
    )]
    Io(#[source] std::io::Error),
    /// A thread could not be started.
    #[error("could not start pool thread {name:?}: {source} (lower workers() or stack_size())")]
    Spawn {
        /// The thread's name.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Builds a [`Pool`]. `Pool::builder().workers(4).pin(true).build()?`.
#[derive(Clone)]
pub struct Builder {
    config: Config,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.config.workers)
            .field("pin", &self.config.pin)
            .field("stack_size", &self.config.stack_size)
            .field("stall_time_slice", &self.config.stall_time_slice)
            .field("global_queue_interval", &self.config.global_queue_interval)
            .field("lifo_poll_bound", &self.config.lifo_poll_bound)
            .field("max_spare_threads", &self.config.max_spare_threads)
            .field("spin_budget", &self.config.spin_budget)
            .field("io_capacity", &self.config.io_capacity)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: one worker per core, no pinning, a 10 ms stall time slice.
    pub fn new() -> Builder {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        Builder {
            config: Config {
                workers,
                pin: false,
                thread_name: Arc::new(|i| format!("switchyard-pool-{i}")),
                stack_size: DEFAULT_STACK_SIZE,
                hooks: Hooks::default(),
                stall_time_slice: Some(DEFAULT_STALL_TIME_SLICE),
                global_queue_interval: DEFAULT_GLOBAL_QUEUE_INTERVAL,
                lifo_poll_bound: DEFAULT_LIFO_POLL_BOUND,
                max_spare_threads: workers,
                spin_budget: DEFAULT_SPIN_BEFORE_SLEEP,
                io_capacity: Some(switchyard_runtime::reactor::DEFAULT_MAX_REGISTRATIONS),
            },
        }
    }

    /// Number of workers (seats). Default: the number of cores (`available_parallelism`).
    pub fn workers(mut self, n: usize) -> Self {
        self.config.workers = n;
        self.config.max_spare_threads = n;
        self
    }

    /// Pin worker `i` to core `i` (modulo the number of cores) with `core_affinity`. A spare
    /// thread that takes over seat `i` pins itself to core `i` too. Default: off.
    pub fn pin(mut self, pin: bool) -> Self {
        self.config.pin = pin;
        self
    }

    /// Names pool threads: `f(i)` for thread number `i` (workers are `0..workers`, spare
    /// threads started for hand-offs get the following numbers). Default `switchyard-pool-{i}`.
    pub fn thread_name(mut self, f: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.config.thread_name = Arc::new(f);
        self
    }

    /// Stack size of pool threads, in bytes. Default [`DEFAULT_STACK_SIZE`].
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.config.stack_size = bytes;
        self
    }

    /// Runs `f` on each pool thread when it starts.
    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.hooks.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on each pool thread just before it exits.
    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.hooks.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Runs `f` on a worker just before it parks for lack of work.
    pub fn on_thread_park(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.hooks.on_thread_park = Some(Arc::new(f));
        self
    }

    /// Runs `f` on a worker just after it wakes from a park.
    pub fn on_thread_unpark(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.config.hooks.on_thread_unpark = Some(Arc::new(f));
        self
    }

    /// Runs `f(task id)` on the spawning thread when a task is spawned on the pool.
    pub fn on_task_spawn(mut self, f: impl Fn(TaskId) + Send + Sync + 'static) -> Self {
        self.config.hooks.on_task_spawn = Some(Arc::new(f));
        self
    }

    /// Runs `f(task id)` when a task's future has been dropped (completed, panicked or
    /// cancelled), on the thread that dropped it.
    pub fn on_task_terminate(mut self, f: impl Fn(TaskId) + Send + Sync + 'static) -> Self {
        self.config.hooks.on_task_terminate = Some(Arc::new(f));
        self
    }

    /// Test support: `f` runs at each [`TestPoint`], on the thread that reaches it (and may
    /// block it there, to hold a race window open). Not part of the stable API.
    #[doc(hidden)]
    pub fn test_hook(mut self, f: impl Fn(TestPoint) + Send + Sync + 'static) -> Self {
        self.config.hooks.test_hook = Some(Arc::new(f));
        self
    }

    /// A poll longer than `slice` makes the monitor hand the worker's queues to a spare
    /// thread. `None` turns the monitor off. Default [`DEFAULT_STALL_TIME_SLICE`].
    pub fn stall_time_slice(mut self, slice: Option<Duration>) -> Self {
        self.config.stall_time_slice = slice;
        self
    }

    /// Ticks between two looks at the injector. Default [`DEFAULT_GLOBAL_QUEUE_INTERVAL`].
    /// Values below 1 are taken as 1.
    pub fn global_queue_interval(mut self, ticks: u32) -> Self {
        self.config.global_queue_interval = ticks.max(1);
        self
    }

    /// Consecutive LIFO-slot polls before a worker takes from its deque. Default
    /// [`DEFAULT_LIFO_POLL_BOUND`]; 0 disables the LIFO slot's priority.
    pub fn lifo_poll_bound(mut self, polls: u32) -> Self {
        self.config.lifo_poll_bound = polls;
        self
    }

    /// Threads stuck threads may wait as, after a hand-off, for the next one (beyond that
    /// they exit). Default: the number of workers.
    pub fn max_spare_threads(mut self, n: usize) -> Self {
        self.config.max_spare_threads = n;
        self
    }

    /// The most time a worker that ran out of work spins looking for more before it sleeps
    /// (worker.rs, tick step 7). It spins at all only while its recent idle gaps average no
    /// more than this: where work comes back later than the budget, a spin only burns a CPU
    /// that another thread (the load generator, the other half of a pipeline) could use.
    /// `Duration::ZERO` never spins. Default [`DEFAULT_SPIN_BEFORE_SLEEP`].
    pub fn spin_before_sleep(mut self, budget: Duration) -> Self {
        self.config.spin_budget = budget;
        self
    }

    /// Whether the pool has a reactor, so its tasks can use sockets (driver.rs). Default: on,
    /// with the reactor's default capacity.
    pub fn io(mut self, enabled: bool) -> Self {
        self.config.io_capacity =
            enabled.then_some(switchyard_runtime::reactor::DEFAULT_MAX_REGISTRATIONS);
        self
    }

    /// The most I/O registrations (sockets) the pool's reactor holds at once; turns I/O on.
    pub fn io_capacity(mut self, max_registrations: usize) -> Self {
        self.config.io_capacity = Some(max_registrations);
        self
    }

    /// Starts the workers (and the stall monitor).
    pub fn build(self) -> Result<Pool, BuildError> {
        if self.config.workers == 0 {
            return Err(BuildError::NoWorkers);
        }
        Pool::start(self.config)
    }
}
