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
//! The task models implement [`crate::adapter::Runtime`] and answer the `switch`, `spawn`,
//! `scale`, `latency`, `speedup` and `ipc` primitives with the one generic workload of [`crate::workloads`],
//! so those columns compare runtimes on the same program.
//!
//! Adding a model is one file implementing [`Model`] plus one line in [`catalogue`];
//! adding an experiment adds one primitive here (with a default that skips) and one file
//! in `experiments/`.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::machine;

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
mod timer_thread;
#[cfg(feature = "peers")]
mod tokio_ct;
#[cfg(feature = "peers")]
mod tokio_mt;

/// What a unit of work is, which fixes the workload sizes docs/lab.md gives per kind.
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
    /// Both on the first CPU of the process's affinity mask at start.
    SameCore,
    /// Unit 0 on the first CPU of that mask, unit 1 on the second.
    CrossCore,
}

impl Placement {
    /// The CPU ids asked for units 0 and 1, taken from the process's affinity mask at start
    /// ([`machine::start_cpus`]); `None` for a cross-core placement on a one-CPU mask.
    pub fn cpus(self) -> Option<[usize; 2]> {
        let cpus = machine::start_cpus();
        match self {
            Placement::SameCore => Some([cpus[0], cpus[0]]),
            Placement::CrossCore => (cpus.len() > 1).then(|| [cpus[0], cpus[1]]),
        }
    }
}

/// Where the two units of one ping-pong ran: each unit calls [`Seen::mark`] with its index
/// (0: the unit that times the round trips, 1: the echo) when it starts its loop, after it
/// was placed, and again when it leaves it; the mark records `sched_getcpu`
/// ([`machine::current_cpu`]). Outside the timed loop's body, so it costs the figure nothing.
#[derive(Debug)]
pub struct Seen {
    first: [AtomicUsize; 2],
    last: [AtomicUsize; 2],
}

/// No mark yet.
const UNSEEN: usize = usize::MAX;

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            first: [AtomicUsize::new(UNSEEN), AtomicUsize::new(UNSEEN)],
            last: [AtomicUsize::new(UNSEEN), AtomicUsize::new(UNSEEN)],
        }
    }
}

impl Seen {
    /// Unit `unit` (0 or 1) records the CPU it is running on now.
    pub fn mark(&self, unit: usize) {
        self.record(unit, machine::current_cpu());
    }

    /// Unit `unit` records that it ran on `cpu` (a unit in another process reports it).
    pub fn record(&self, unit: usize, cpu: usize) {
        let _ = self.first[unit].compare_exchange(UNSEEN, cpu, Relaxed, Relaxed);
        self.last[unit].store(cpu, Relaxed);
    }

    /// What units 0 and 1 recorded: (first, last) CPU each, `None` for a unit that never
    /// marked.
    pub fn ran(&self) -> [Option<(usize, usize)>; 2] {
        std::array::from_fn(|unit| {
            let (first, last) = (
                self.first[unit].load(Relaxed),
                self.last[unit].load(Relaxed),
            );
            (first != UNSEEN).then_some((first, last))
        })
    }
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

/// The `blocking` workload: `others` units each sleep-and-report every `period` on the
/// model's own timer (a fixed grid per unit, phases spread evenly over one period), while one
/// more unit makes a blocking call of `call` (`std::thread::sleep` inside the unit) every
/// `call_every`, all for `run_for` of wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocking {
    /// Units that sleep and report.
    pub others: u64,
    /// Their period.
    pub period: Duration,
    /// Length of the blocking call.
    pub call: Duration,
    /// Time between the starts of two blocking calls.
    pub call_every: Duration,
    /// Wall time of the whole run.
    pub run_for: Duration,
}

/// What the `blocking` workload measured: the others' lateness and how many blocking calls
/// were made meanwhile.
#[derive(Debug, Clone)]
pub struct Blocked {
    /// Lateness (wake time - deadline) of every report of the others, in ns.
    pub lateness: Histogram<u64>,
    /// The same, counting only the deadlines a unit slept toward (see
    /// [`crate::experiments::blocking::Reports`]).
    pub slept: Histogram<u64>,
    /// Blocking calls made.
    pub calls: u64,
    /// What the model did about them, when it can say (the pool's hand-off count).
    pub detail: Option<String>,
}

/// Bytes an echo server reads (and writes back) at a time: a page, many 64-byte messages.
pub const ECHO_BUFFER: usize = 4096;

/// The processes beside this one that serve `echo` (the process model's workers): a model
/// names each in [`Model::echo_serve`], and the experiment adds their CPU time to this
/// process's over the measured interval ([`crate::experiments::echo`]).
#[derive(Debug, Default)]
pub struct ServerProcesses {
    pids: std::sync::Mutex<Vec<i32>>,
}

impl ServerProcesses {
    /// Process `pid` serves too.
    pub fn add(&self, pid: i32) {
        self.pids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(pid);
    }

    /// Every process named so far.
    pub fn pids(&self) -> Vec<i32> {
        self.pids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// One unit of the `fairness` workload: how many turns it had and its longest wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Turns {
    /// Iterations of its loop.
    pub iterations: u64,
    /// The longest gap between two consecutive iterations (or between the start signal and
    /// the first, or the last and the one that saw the stop signal), in ns.
    pub max_gap_ns: u64,
}

/// How the units of `sharing` make their increments of one counter (docs/lab.md,
/// "sharing").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Each increment under the model's mutex.
    Lock,
    /// Each increment one `fetch_add` on a shared atomic (shared memory for processes).
    Atomic,
    /// Each increment one message to an owner unit, which alone touches the counter.
    Message,
}

impl Share {
    /// Every way, in the experiment's order.
    pub const ALL: [Share; 3] = [Share::Lock, Share::Atomic, Share::Message];

    /// As the variant names it.
    pub fn name(self) -> &'static str {
        match self {
            Share::Lock => "lock",
            Share::Atomic => "atomic",
            Share::Message => "message",
        }
    }
}

/// The share of `total` increments that unit `i` of `units` makes (they differ by one at
/// most and add up to `total`).
pub fn share_of(total: u64, units: u64, i: u64) -> u64 {
    total / units + u64::from(i < total % units)
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
    /// The units run on the CPUs of [`Placement::cpus`] (the caller has pinned the calling
    /// thread to the first; a model that makes threads or processes pins them itself), and
    /// each marks `seen` where it ran (see [`Seen`]).
    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        let _ = (round_trips, placement, seen);
        Err(Skip::unsupported(self.name()))
    }

    /// Ping-pongs over other mechanisms than the model's own (`pingpong`), as (name, note):
    /// each gives the extra `switch` rows `<name>_pingpong_same_core` and
    /// `<name>_pingpong_cross_core`.
    fn pingpong_mechanisms(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// [`Model::pingpong`] over one of [`Model::pingpong_mechanisms`].
    fn pingpong_over(
        &self,
        mechanism: &str,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        let _ = (mechanism, round_trips, placement, seen);
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

    /// Runs the latency probe; lateness (wake time - deadline) in ns, one value per sleep.
    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let _ = probe;
        Err(Skip::unsupported(self.name()))
    }

    /// Runs the [`Blocking`] workload; the others' lateness.
    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let _ = load;
        Err(Skip::unsupported(self.name()))
    }

    /// `units` units each loop on [`crate::experiments::fairness::Tally::turn`] plus a yield
    /// for `run_for` of wall time; one [`Turns`] per unit.
    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let _ = (units, run_for);
        Err(Skip::unsupported(self.name()))
    }

    /// `units` units together make `total` increments of one counter, each by `way`
    /// ([`Share`], [`share_of`]); the time from the start signal until the counter reads
    /// `total` (a count that does not is an error, never a figure).
    fn sharing(&self, way: Share, units: u64, total: u64) -> Outcome<Duration> {
        let _ = (way, units, total);
        Err(Skip::unsupported(self.name()))
    }

    /// How the model makes each [`Share`] way (the mutex and channel it uses), for the
    /// `sharing` rows' notes.
    fn sharing_note(&self, way: Share) -> Option<&'static str> {
        let _ = way;
        None
    }

    /// Serves TCP echo on `listener`: accepts exactly `connections` connections and echoes
    /// each (every byte read is written back) until its peer closes it; returns when all are
    /// closed. The client runs on threads of its own ([`crate::experiments::echo`]). A model
    /// that serves from other processes names them in `processes`, before it answers the
    /// first request, so that their CPU time counts as the server's.
    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        processes: &ServerProcesses,
    ) -> Outcome<()> {
        let _ = (listener, connections, processes);
        Err(Skip::unsupported(self.name()))
    }

    /// The hand-offs the model's stall monitor has made so far, every pool of it together
    /// since the lab started (the pool's [`Metrics::hand_offs`]); `None` for a model without
    /// one. The run gives each row of such a model the count its measurement added
    /// ([`crate::experiments::Ctx::step`]).
    ///
    /// [`Metrics::hand_offs`]: switchyard_scheduler::pool::Metrics::hand_offs
    fn hand_offs(&self) -> Option<u64> {
        None
    }
}

/// A model name the lab knows, built or not: one entry of the lab's catalogue. (Not the
/// runtime's `process::Entry`, an entry point a child process runs by name.)
#[derive(Clone, Copy)]
pub struct ModelEntry {
    /// As `--models` takes it.
    pub name: &'static str,
    /// What it is (for `list`).
    pub describe: &'static str,
    /// The implementation, or why there is none in this build.
    pub model: Result<&'static dyn Model, &'static str>,
    /// Measured only with `--peers`.
    pub peer: bool,
}

/// Every model name of docs/lab.md, in its order, with its implementation if this build has it.
pub fn catalogue() -> Vec<ModelEntry> {
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
    let mut entries = vec![
        ModelEntry {
            name: "loop",
            describe: "switchyard's cooperative single-threaded event loop (the asyncio model)",
            model: Ok(&r#loop::Loop),
            peer: false,
        },
        ModelEntry {
            name: "pool",
            describe: "switchyard's work-stealing pool of OS threads",
            model: Ok(&pool::PoolModel),
            peer: false,
        },
        ModelEntry {
            name: "thread",
            describe: "plain OS threads (std::thread), the baseline for `pool`",
            model: Ok(&thread::Thread),
            peer: false,
        },
        ModelEntry {
            name: "process",
            describe: "switchyard's process launcher and process pool",
            model: Ok(&process::Process),
            peer: false,
        },
        ModelEntry {
            name: "naive",
            describe: "the simple Arc<Mutex<..>> + mpsc baseline executor (scheduler::naive)",
            model: Ok(&naive::Naive),
            peer: false,
        },
        ModelEntry {
            name: "tokio-ct",
            describe: "tokio's current_thread runtime (peer)",
            model: tokio_ct,
            peer: true,
        },
        ModelEntry {
            name: "tokio-mt",
            describe: "tokio's multi_thread runtime (peer)",
            model: tokio_mt,
            peer: true,
        },
        ModelEntry {
            name: "async-executor",
            describe: "async-executor's LocalExecutor (peer)",
            model: async_exec,
            peer: true,
        },
        ModelEntry {
            name: "rayon",
            describe: "rayon's thread pool (peer, closures only)",
            model: rayon,
            peer: true,
        },
        ModelEntry {
            name: crate::python::ASYNCIO.name(),
            describe: crate::python::ASYNCIO.describe(),
            model: Ok(&crate::python::ASYNCIO),
            peer: true,
        },
        ModelEntry {
            name: crate::python::THREADING.name(),
            describe: crate::python::THREADING.describe(),
            model: Ok(&crate::python::THREADING),
            peer: true,
        },
        ModelEntry {
            name: crate::python::MULTIPROCESSING.name(),
            describe: crate::python::MULTIPROCESSING.describe(),
            model: Ok(&crate::python::MULTIPROCESSING),
            peer: true,
        },
    ];
    // The runtimes a user brought ([`crate::Lab`]), after the built-ins.
    entries.extend_from_slice(crate::custom::registered());
    entries
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

/// Looks a model up by name (a `--vary` column's name `MODEL[KNOB=V]` too).
pub fn find(name: &str) -> Option<ModelEntry> {
    catalogue()
        .into_iter()
        .find(|e| e.name == name)
        .or_else(|| {
            crate::vary::find(name).map(|m| ModelEntry {
                name: m.name(),
                describe: m.describe(),
                model: Ok(m),
                peer: false,
            })
        })
}

/// Waits until `done()` holds, yielding the CPU between looks (used where a unit must
/// observe the others have started, outside any timed region's inner loop).
pub(crate) fn spin_until(done: impl Fn() -> bool) {
    while !done() {
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_total_and_differ_by_one_at_most() {
        for (total, units) in [(1_000_000, 16), (10, 3), (2, 4), (0, 1)] {
            let shares: Vec<u64> = (0..units).map(|i| share_of(total, units, i)).collect();
            assert_eq!(shares.iter().sum::<u64>(), total, "{total} by {units}");
            let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
            assert!(max - min <= 1, "{shares:?}");
        }
    }
}
