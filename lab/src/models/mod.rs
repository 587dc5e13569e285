//! The models the lab measures, one file each, behind one trait.
//!
//! An experiment asks a model for a *primitive* (yield n times, ping-pong n round trips,
//! spawn and join n units, park n units, probe a timer) and turns the answer into rows.
//! A model answers each primitive with the tightest loop it can write in its own terms
//! (a task on its executor, an OS thread, a process), timed as a whole batch with
//! `Instant` and nothing else inside the timed region: no allocation, lock or dynamic
//! dispatch beyond what the model itself does. A primitive that does not apply to a model
//! returns [`Skip`] with the reason, which the run reports instead of a figure.
//!
//! Adding a model is one file implementing [`Model`] plus one line in [`catalogue`];
//! adding an experiment adds one primitive here (with a default that skips) and one file
//! in `experiments/`.

use std::time::Duration;

use hdrhistogram::Histogram;

mod chan;
mod r#loop;
mod naive;
mod pool;
pub mod process;
mod thread;

#[cfg(feature = "peers")]
mod async_executor;
#[cfg(feature = "peers")]
mod rayon_pool;
#[cfg(feature = "peers")]
mod tokio_ct;
#[cfg(feature = "peers")]
mod tokio_mt;

/// What a unit of work is, which fixes the workload sizes LAB.md gives per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A task on an executor.
    Task,
    /// An OS thread.
    Thread,
    /// An OS process.
    Process,
}

/// Where the two units of a ping-pong run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Both on CPU 0.
    SameCore,
    /// One on CPU 0, the other on CPU 1.
    CrossCore,
}

/// Why a primitive was not measured for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl Skip {
    /// The primitive has no counterpart in this model.
    pub fn not_applicable(why: &str) -> Skip {
        Skip(format!("not applicable: {why}"))
    }

    fn unsupported(model: &str) -> Skip {
        Skip(format!("not implemented for model `{model}` yet"))
    }
}

/// The answer of a primitive, or why there is none.
pub type Outcome<T> = Result<T, Skip>;

/// What parking `n` units cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parked {
    /// From the first creation until every unit has started waiting.
    pub create: Duration,
    /// Growth of resident memory over that time, in bytes.
    pub resident_growth: u64,
}

/// The latency probe: `probes` sequential sleeps of `period` on the model's own timer,
/// while `background` other units loop on yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Sleeps to measure.
    pub probes: u64,
    /// Length of each sleep.
    pub period: Duration,
    /// Other units looping on yield meanwhile (0: idle).
    pub background: u64,
}

/// The `blocking` experiment's workload: `units` units each sleep `period` and record how
/// late they woke, until `run_for` has passed, while one more unit blocks its thread for
/// `block` every `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocking {
    /// Units sleeping and reporting.
    pub units: u64,
    /// Their sleep.
    pub period: Duration,
    /// The blocking call's length.
    pub block: Duration,
    /// How often it is made.
    pub every: Duration,
    /// How long the measurement runs.
    pub run_for: Duration,
}

/// A concurrency model under measurement. See the [module docs](self).
pub trait Model: Sync {
    /// The model's name, as `--models` takes it.
    fn name(&self) -> &'static str;
    /// One line: what it is.
    fn describe(&self) -> &'static str;
    /// What its units are.
    fn kind(&self) -> Kind;
    /// How units yield, wait and wake, for notes (e.g. "pingpong over two pipes").
    fn channel_note(&self) -> Option<&'static str> {
        None
    }

    /// Whether the model runs its units on several threads of its own (a pool). The lab
    /// pins single-threaded measurements to CPU 0 (`--pin`); a multi-threaded model is left
    /// unpinned, since its workers would inherit the pin and stack on one CPU.
    fn multi_threaded(&self) -> bool {
        false
    }

    /// What keeps a parked unit alive and what the memory growth therefore counts.
    fn park_note(&self) -> Option<&'static str> {
        None
    }

    /// One unit yields `n` times; the time for all of them.
    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        let _ = n;
        Err(Skip::unsupported(self.name()))
    }

    /// Two units pass a token back and forth `round_trips` times; the time for all of them.
    fn pingpong(&self, round_trips: u64, placement: Placement) -> Outcome<Duration> {
        let _ = (round_trips, placement);
        Err(Skip::unsupported(self.name()))
    }

    /// From inside a running unit, create `n` empty units, then join them all.
    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        let _ = n;
        Err(Skip::unsupported(self.name()))
    }

    /// Creates `n` units that wait forever, and measures time and memory until all wait.
    /// Runs in a child process of its own (the units are never cleaned up).
    fn park(&self, n: u64) -> Outcome<Parked> {
        let _ = n;
        Err(Skip::unsupported(self.name()))
    }

    /// Extra rows of the `spawn` experiment beside `spawn_join` (the process model's other
    /// start methods).
    fn spawn_variants(&self) -> &'static [&'static str] {
        &[]
    }

    /// `spawn_join` for one of [`Model::spawn_variants`].
    fn spawn_join_variant(&self, variant: &str, n: u64) -> Outcome<Duration> {
        let _ = (variant, n);
        Err(Skip::unsupported(self.name()))
    }

    /// `round_trips` round trips of a `size`-byte message to another unit and back over
    /// `mechanism` (`channel`, `pipe`, `unix`, `shm`); the time for all of them.
    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        let _ = (mechanism, size, round_trips);
        Err(Skip::unsupported(self.name()))
    }

    /// Runs `chunks` chunks of [`crate::experiments::speedup::chunk`] on `workers` units in
    /// parallel, worker i on CPU i ([`crate::experiments::speedup::place_worker`]); the time
    /// for all of them.
    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let _ = (chunks, workers);
        Err(Skip::unsupported(self.name()))
    }

    /// Runs the `blocking` workload; the others' lateness in ns, one value per sleep.
    fn blocking_lateness(&self, setup: Blocking) -> Outcome<Histogram<u64>> {
        let _ = setup;
        Err(Skip::unsupported(self.name()))
    }

    /// Runs the latency probe; lateness (wake time - deadline) in ns, one value per sleep.
    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let _ = probe;
        Err(Skip::unsupported(self.name()))
    }
}

/// A model name the lab knows, built or not.
#[derive(Clone, Copy)]
pub struct Entry {
    /// As `--models` takes it.
    pub name: &'static str,
    /// What it is (for `list`).
    pub describe: &'static str,
    /// The implementation, or why there is none in this build.
    pub model: Result<&'static dyn Model, &'static str>,
    /// Measured only with `--peers`.
    pub peer: bool,
}

/// Every model name of LAB.md, in its order, with its implementation if this build has it.
pub fn catalogue() -> Vec<Entry> {
    #[cfg(not(feature = "peers"))]
    const PEERS_OFF: &str = "built without `--features peers`";
    #[cfg(feature = "peers")]
    let (tokio_ct, async_exec): (Result<&'static dyn Model, _>, Result<&'static dyn Model, _>) =
        (Ok(&tokio_ct::TokioCt), Ok(&async_executor::AsyncExecutor));
    #[cfg(feature = "peers")]
    let (tokio_mt, rayon): (Result<&'static dyn Model, _>, Result<&'static dyn Model, _>) =
        (Ok(&tokio_mt::TokioMt), Ok(&rayon_pool::Rayon));
    #[cfg(not(feature = "peers"))]
    let (tokio_mt, rayon): (Result<&'static dyn Model, _>, Result<&'static dyn Model, _>) =
        (Err(PEERS_OFF), Err(PEERS_OFF));
    #[cfg(not(feature = "peers"))]
    let (tokio_ct, async_exec): (Result<&'static dyn Model, _>, Result<&'static dyn Model, _>) =
        (Err(PEERS_OFF), Err(PEERS_OFF));
    vec![
        Entry {
            name: "loop",
            describe: "switchyard's cooperative single-threaded event loop (the asyncio model)",
            model: Ok(&r#loop::Loop),
            peer: false,
        },
        Entry {
            name: "pool",
            describe: "switchyard's work-stealing pool of OS threads",
            model: Ok(&pool::PoolModel),
            peer: false,
        },
        Entry {
            name: "thread",
            describe: "plain OS threads (std::thread), the baseline for `pool`",
            model: Ok(&thread::Thread),
            peer: false,
        },
        Entry {
            name: "process",
            describe: "switchyard's process launcher and process pool",
            model: Ok(&process::Process),
            peer: false,
        },
        Entry {
            name: "naive",
            describe: "the simple Arc<Mutex<..>> + mpsc baseline executor (scheduler::naive)",
            model: Ok(&naive::Naive),
            peer: false,
        },
        Entry {
            name: "tokio-ct",
            describe: "tokio's current_thread runtime (peer)",
            model: tokio_ct,
            peer: true,
        },
        Entry {
            name: "tokio-mt",
            describe: "tokio's multi_thread runtime (peer)",
            model: tokio_mt,
            peer: true,
        },
        Entry {
            name: "async-executor",
            describe: "async-executor's LocalExecutor (peer)",
            model: async_exec,
            peer: true,
        },
        Entry {
            name: "rayon",
            describe: "rayon's thread pool (peer, closures only)",
            model: rayon,
            peer: true,
        },
    ]
}

/// The models a run measures by default: every built one that is not a peer, plus the
/// built peers when `peers` is set.
pub fn defaults(peers: bool) -> Vec<&'static dyn Model> {
    catalogue()
        .into_iter()
        .filter(|e| peers || !e.peer)
        .filter_map(|e| e.model.ok())
        .collect()
}

/// Looks a model up by name.
pub fn find(name: &str) -> Option<Entry> {
    catalogue().into_iter().find(|e| e.name == name)
}

/// Waits until `done()` holds, yielding the CPU between looks (used where a unit must
/// observe the others have started, outside any timed region's inner loop).
pub(crate) fn spin_until(done: impl Fn() -> bool) {
    while !done() {
        std::thread::yield_now();
    }
}
