//! Bring your own runtime (docs/lab.md, "Bring your own runtime"): the lab as a library.
//!
//! A user's crate implements [`Runtime`] for its executor and runs the whole lab with it as one
//! more model column:
//!
//! ```no_run
//! # use switchyard_lab::{Lab, Runtime};
//! # fn demo<MyRuntime: Runtime>() -> std::process::ExitCode {
//! Lab::new()
//!     .with_runtime::<MyRuntime>("mine", "my single-threaded executor")
//!     .main()
//! # }
//! ```
//!
//! [`Lab::main`] is the lab's whole command line (`run`, `list`, `table`, `compare`,
//! `report`), so `cargo run --example custom_model -- run --quick --only switch,spawn`
//! measures `mine` beside the built-in models and peers; `--models mine` picks it alone.
//! The column runs the task workloads of [`crate::workloads`] (the same programs as the
//! built-in task models), and `blocking` and `fairness` through the generic functions here.
//! It has no cross-core ping-pong (the trait does not say where a runtime's threads run) and
//! no `echo` (the trait has no sockets): those cells say so.
//!
//! Registration is process-wide and happens once, in [`Lab::main`], before the command line
//! is read; the `scale` experiment's fresh child process runs the same `main` and so finds
//! the column by name.

use std::marker::PhantomData;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::adapter::Runtime;
use crate::experiments;
use crate::models::{
    self, Blocked, Blocking, Kind, Model, ModelEntry, Outcome, Parked, Placement, Probe, Seen,
    Share, Skip, Turns,
};
use crate::workloads::{self, failed};

/// The lab with the runtimes a user brings. See the [module docs](self).
#[derive(Default)]
pub struct Lab {
    extra: Vec<ModelEntry>,
}

static EXTRA: OnceLock<Vec<ModelEntry>> = OnceLock::new();

/// The runtimes registered by [`Lab::main`] (none in the plain lab binary).
pub fn registered() -> &'static [ModelEntry] {
    EXTRA.get().map_or(&[], Vec::as_slice)
}

impl Lab {
    /// The lab with the built-in models only.
    pub fn new() -> Lab {
        Lab::default()
    }

    /// Adds `R`, a single-threaded runtime (it runs on the thread that calls
    /// [`Runtime::run`]), as the model column `name`.
    pub fn with_runtime<R: Runtime>(self, name: &'static str, describe: &'static str) -> Lab {
        self.add::<R>(name, describe, false)
    }

    /// Adds `R`, a runtime of several worker threads ([`Runtime::run`] gets the thread count
    /// the workload wants), as the model column `name`; the lab does not pin its measurements.
    pub fn with_threaded_runtime<R: Runtime>(
        self,
        name: &'static str,
        describe: &'static str,
    ) -> Lab {
        self.add::<R>(name, describe, true)
    }

    fn add<R: Runtime>(
        mut self,
        name: &'static str,
        describe: &'static str,
        threaded: bool,
    ) -> Lab {
        let model: &'static dyn Model = Box::leak(Box::new(Custom::<R> {
            name,
            describe,
            threaded,
            runtime: PhantomData,
        }));
        self.extra.push(ModelEntry {
            name,
            describe,
            model: Ok(model),
            peer: false,
        });
        self
    }

    /// Runs the lab's command line with these runtimes beside the built-in models, and
    /// answers the exit status (0, 1 for a failure while working, 2 for bad input).
    pub fn main(self) -> ExitCode {
        // Before any child starts, so every one inherits it (docs/lab.md, `echo`).
        crate::machine::raise_nofile_limit();
        // First: a child of the process model runs its entry point here and exits; the lab
        // itself registers them (and starts the fork server while it has one thread).
        if let Err(e) = switchyard_runtime::process::Init::new()
            .entries(models::process::entries())
            .fork_server(true)
            .run()
        {
            eprintln!("switchyard-lab: {e}");
            return ExitCode::from(2);
        }
        if let Some(clash) = self
            .extra
            .iter()
            .enumerate()
            .find(|(i, e)| {
                self.extra[..*i].iter().any(|o| o.name == e.name)
                    || models::catalogue().iter().any(|o| o.name == e.name)
            })
            .map(|(_, e)| e.name)
        {
            eprintln!(
                "switchyard-lab: a runtime named `{clash}` is already in the lab (accepted: a name no model has)"
            );
            return ExitCode::from(2);
        }
        let _ = EXTRA.set(self.extra);
        // Before anything pins a thread: the CPUs this process may use (docs/lab.md,
        // "Placement").
        crate::machine::start_cpus();
        crate::cli::main()
    }
}

/// A user's runtime as a model. See the [module docs](self).
struct Custom<R> {
    name: &'static str,
    describe: &'static str,
    threaded: bool,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Custom<R> {
    fn threads(&self) -> usize {
        if self.threaded {
            crate::machine::cores()
        } else {
            1
        }
    }
}

impl<R: Runtime> Model for Custom<R> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> &'static str {
        self.describe
    }
    fn kind(&self) -> Kind {
        Kind::Task
    }
    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over the runtime's own channel (its Runtime adapter), capacity 1")
    }
    fn multi_threaded(&self) -> bool {
        self.threaded
    }
    fn park_note(&self) -> Option<&'static str> {
        Some("detached tasks, kept by the runtime")
    }
    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<R, _, _>(1, 2, move |sp| workloads::yield_many::<R>(sp, n))
    }
    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        if placement == Placement::CrossCore {
            return Err(Skip::not_applicable(
                "a runtime brought to the lab does not say where its threads run, so no placement across cores",
            ));
        }
        let seen = Arc::clone(seen);
        workloads::on::<R, _, _>(1, 3, move |sp| {
            workloads::pingpong::<R>(sp, round_trips, move |unit| seen.mark(unit))
        })
    }
    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<R, _, _>(self.threads(), n + 2, move |sp| {
            workloads::spawn_join::<R>(sp, n)
        })
    }
    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<R, _, _>(self.threads(), n + 2, move |sp| workloads::park::<R>(sp, n))
    }
    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<R, _, _>(self.threads(), 3, move |sp| {
            workloads::ipc_channel::<R>(sp, size, round_trips)
        })
    }
    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = if self.threaded { workers } else { 1 };
        workloads::on::<R, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<R>(sp, chunks, workers)
        })
    }
    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<R, _, _>(self.threads(), probe.background + 2, move |sp| {
            workloads::sleep_lateness::<R>(sp, probe)
        })
    }
    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        workloads::on::<R, _, _>(self.threads(), load.others + 2, move |sp| {
            blocking::<R>(sp, load)
        })
    }
    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        workloads::on::<R, _, _>(self.threads(), units + 2, move |sp| {
            fairness::<R>(sp, units, run_for)
        })
    }
    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &crate::models::ServerProcesses,
    ) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable(
            "the Runtime adapter trait has no sockets yet, so a runtime brought to the lab serves no echo",
        ))
    }
    fn sharing(&self, way: Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<R, _, _>(self.threads(), units + 2, move |sp| {
            workloads::sharing::<R>(sp, way, units, total)
        })
    }
    fn sharing_note(&self, way: Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }
}

/// `blocking` over [`Runtime`]: `load.others` reporters sleep on the runtime's timer while one
/// blocker makes its blocking calls ([`crate::experiments::blocking`]'s helpers); the
/// reporters' lateness. The built-in models still run these helpers in their own files; a
/// runtime brought to the lab ([`crate::custom`]) runs this.
async fn blocking<R: Runtime>(spawner: R::Spawner, load: Blocking) -> Outcome<Blocked> {
    let t0 = Instant::now();
    let mut reporters = Vec::with_capacity(load.others as usize);
    for i in 0..load.others {
        reporters.push(R::spawn(
            &spawner,
            experiments::blocking::reporter(load, i, t0, R::sleep_until),
        )?);
    }
    let calls = R::spawn(
        &spawner,
        experiments::blocking::blocker(load, t0, R::sleep_until),
    )?;
    let mut samples = Vec::with_capacity(reporters.len());
    for reporter in reporters {
        samples.push(R::join(reporter).await.ok_or_else(failed)?);
    }
    let calls = R::join(calls).await.ok_or_else(failed)?;
    Ok(experiments::blocking::blocked(&samples, calls))
}

/// `fairness` over [`Runtime`]: `units` units and the referee of
/// [`crate::experiments::fairness`], each yielding with the runtime's yield; one [`Turns`]
/// per unit. As [`blocking`], for a runtime brought to the lab.
async fn fairness<R: Runtime>(
    spawner: R::Spawner,
    units: u64,
    run_for: Duration,
) -> Outcome<Vec<Turns>> {
    use experiments::fairness::{Race, referee, unit};
    let race = Arc::new(Race::new());
    let mut handles = Vec::with_capacity(units as usize);
    for _ in 0..units {
        handles.push(R::spawn(&spawner, unit(Arc::clone(&race), R::yield_now))?);
    }
    let referee = R::spawn(&spawner, referee(race, run_for, R::yield_now))?;
    let mut turns = Vec::with_capacity(handles.len());
    for handle in handles {
        turns.push(R::join(handle).await.ok_or_else(failed)?);
    }
    R::join(referee).await.ok_or_else(failed)?;
    Ok(turns)
}
