//! Model `naive`: [`switchyard_scheduler::naive::NaiveExecutor`], the baseline executor.
//!
//! Every unit is a task spawned on the executor (never the `block_on` future itself),
//! ping-pong goes through the lab's mutex channel ([`super::chan`]), and the timer is the
//! executor's thread-per-sleep [`naive::sleep_until`].

use crate::adapter::Runtime;
use crate::workloads;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use switchyard_scheduler::naive::{self, NaiveExecutor, yield_now};

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Skip, Turns, chan,
};
use crate::experiments::fairness::{self, Race};

/// See the [module docs](self).
pub struct Naive;

/// Runs `f`'s future as a spawned task and returns its output.
fn in_task<T: Send + 'static>(
    exec: &NaiveExecutor,
    f: impl Future<Output = T> + Send + 'static,
) -> T {
    let handle = exec.spawn(f);
    // The lab's own futures do not panic; if one does, that is a bug worth a loud stop.
    exec.block_on(handle).expect("lab task panicked")
}

impl Model for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn describe(&self) -> &'static str {
        "Arc<Mutex<future>> tasks, ArcWake, std mpsc run queue"
    }

    fn kind(&self) -> Kind {
        Kind::Task
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over the lab's mutex capacity-1 channel")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some(
            "the naive executor has no task table: the 16-byte JoinHandles keep the tasks alive and are counted",
        )
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<NaiveRt, _, _>(1, 2, |sp| workloads::yield_many::<NaiveRt>(sp, n))
    }

    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        if placement == Placement::CrossCore {
            return Err(Skip::not_applicable(
                "a single-threaded executor runs both tasks on one core",
            ));
        }
        // The caller placed this thread on the first CPU, where both tasks run.
        let seen = Arc::clone(seen);
        workloads::on::<NaiveRt, _, _>(1, 3, move |sp| {
            workloads::pingpong::<NaiveRt>(sp, round_trips, move |unit| seen.mark(unit))
        })
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        workloads::on::<NaiveRt, _, _>(1, n + 2, move |sp| workloads::spawn_join::<NaiveRt>(sp, n))
    }

    fn sharing(&self, way: super::Share, units: u64, total: u64) -> Outcome<Duration> {
        workloads::on::<NaiveRt, _, _>(1, units + 2, move |sp| {
            workloads::sharing::<NaiveRt>(sp, way, units, total)
        })
    }

    fn sharing_note(&self, way: super::Share) -> Option<&'static str> {
        Some(workloads::sharing_note(way))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let threads = 1;
        workloads::on::<NaiveRt, _, _>(threads, workers as u64 + 1, move |sp| {
            workloads::speedup::<NaiveRt>(sp, chunks, workers)
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        workloads::on::<NaiveRt, _, _>(1, n + 2, move |sp| workloads::park::<NaiveRt>(sp, n))
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        if mechanism != "channel" {
            return Err(workloads::ipc_not_applicable());
        }
        workloads::on::<NaiveRt, _, _>(1, 3, move |sp| {
            workloads::ipc_channel::<NaiveRt>(sp, size, round_trips)
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        workloads::on::<NaiveRt, _, _>(1, probe.background + 2, move |sp| {
            workloads::sleep_lateness::<NaiveRt>(sp, probe)
        })
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let exec = NaiveExecutor::new();
        let spawner = exec.spawner();
        Ok(in_task(&exec, async move {
            let race = Arc::new(Race::new());
            let handles: Vec<_> = (0..units)
                .map(|_| spawner.spawn(fairness::unit(Arc::clone(&race), yield_now)))
                .collect();
            let referee = spawner.spawn(fairness::referee(race, run_for, yield_now));
            let mut turns = Vec::with_capacity(handles.len());
            for handle in handles {
                // The lab's units do not panic; a default tally would only hide a bug.
                turns.push(handle.await.expect("fairness unit panicked"));
            }
            let _ = referee.await;
            turns
        }))
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let _ = load;
        Err(Skip::not_applicable(
            "the naive timer starts a thread per sleep: 100 units sleeping every 1 ms would measure thread creation",
        ))
    }

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &super::ServerProcesses,
    ) -> Outcome<()> {
        let _ = (listener, connections);
        Err(Skip::not_applicable(
            "the naive executor has no I/O reactor",
        ))
    }
}

/// The naive executor as a [`Runtime`]: one executor on the calling thread; spawn through its
/// `Spawner`; its yield and timer (a thread per sleep); the lab's plain bounded channel
/// ([`chan`]).
pub struct NaiveRt;

impl Runtime for NaiveRt {
    type Spawner = naive::Spawner;
    type Join<T: Send + 'static> = naive::JoinHandle<T>;
    type Sender<T: Send + 'static> = chan::Sender<T>;
    type Receiver<T: Send + 'static> = chan::Receiver<T>;

    fn run<T, F>(_threads: usize, _tasks: u64, root: impl FnOnce(naive::Spawner) -> F) -> Outcome<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let exec = NaiveExecutor::new();
        let handle = exec.spawn(root(exec.spawner()));
        exec.block_on(handle)
            .map_err(|e| Skip(format!("lab task failed: {e}")))
    }

    fn spawn<F>(spawner: &naive::Spawner, future: F) -> Outcome<naive::JoinHandle<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Ok(spawner.spawn(future))
    }

    async fn join<T: Send + 'static>(handle: naive::JoinHandle<T>) -> Option<T> {
        handle.await.ok()
    }

    fn detach<T: Send + 'static>(handle: naive::JoinHandle<T>) {
        // Dropping the handle detaches.
        drop(handle);
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        yield_now()
    }

    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send {
        naive::sleep_until(deadline)
    }

    fn channel<T: Send + 'static>(capacity: usize) -> (chan::Sender<T>, chan::Receiver<T>) {
        chan::channel(capacity)
    }

    async fn send<T: Send + 'static>(tx: &chan::Sender<T>, value: T) -> bool {
        tx.send(value).await;
        true
    }

    async fn recv<T: Send + 'static>(rx: &mut chan::Receiver<T>) -> Option<T> {
        Some(rx.recv().await)
    }
}
