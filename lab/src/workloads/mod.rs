//! The task workloads, each written once as a generic async function over
//! [`Runtime`] (docs/lab.md, "Experiments" gives each workload).
//!
//! A model of tasks answers a primitive by running one of these on its runtime
//! ([`Runtime::run`]); the workload times its batch itself with `Instant`, around the
//! runtime's own operations only. Dependencies run one way: experiments use models, models
//! use workloads, workloads use the adapter trait and nothing above it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex, PoisonError};

use hdrhistogram::Histogram;

use crate::adapter::{PinnedRuntime, Runtime};
use crate::machine;
use crate::models::{Outcome, Parked, Probe, Share, Skip, share_of};
use crate::stats;

pub mod blocking;
pub mod cpu;
pub mod echo;
pub mod fairness;
pub mod pipe;

/// `switch / yield`: one task yields `n` times; the time for all of them.
pub async fn yield_many<R: Runtime>(spawner: R::Spawner, n: u64) -> Outcome<Duration> {
    let unit = R::spawn(&spawner, async move {
        let start = Instant::now();
        for _ in 0..n {
            R::yield_now().await;
        }
        start.elapsed()
    })?;
    R::join(unit).await.ok_or_else(failed)
}

/// The untimed round trips each ping-pong sample makes before its timed ones, in every model
/// (docs/lab.md, "Experiments", `switch`). On the 2-core VM the first few hundred cross-core
/// round trips of a fresh pair run faster than the steady state (57-98 µs against mostly 90-120 µs,
/// `tools/pingpong_drift.c`), so a batch of 1,000 (`--quick`) measured mostly that start and
/// read lower than one of 5,000; after the warm-up a sample measures the steady state whatever
/// its length.
pub const WARMUP_ROUND_TRIPS: u64 = 500;

/// `switch / pingpong_same_core`: two tasks pass a token back and forth `round_trips` times
/// over two of the runtime's channels of capacity 1; the time for all of them, taken by the
/// first task ([`ping`]; the second is [`pong`]). `mark(unit)` runs in each task when it
/// starts its loop and when it leaves (the lab records `sched_getcpu` there).
pub async fn pingpong<R: Runtime>(
    spawner: R::Spawner,
    round_trips: u64,
    mark: impl Fn(usize) + Clone + Send + Sync + 'static,
) -> Outcome<Duration> {
    let (ping_tx, ping_rx) = R::channel::<u64>(1);
    let (pong_tx, pong_rx) = R::channel::<u64>(1);
    let pong = R::spawn(
        &spawner,
        pong::<R>(ping_rx, pong_tx, round_trips, mark.clone()),
    )?;
    let ping = R::spawn(&spawner, ping::<R>(ping_tx, pong_rx, round_trips, mark))?;
    let elapsed = R::join(ping).await.ok_or_else(failed)?;
    R::join(pong).await.ok_or_else(failed)?;
    Ok(elapsed)
}

/// `switch / pingpong_cross_core` for a multi-threaded runtime: [`ping`] on a runtime of one
/// worker pinned to CPU `cpus[0]`, [`pong`] on another pinned to `cpus[1]`
/// ([`PinnedRuntime`]), over two of the runtime's channels of capacity 1; the time for all
/// `round_trips`, taken by [`ping`]. `mark` as for [`pingpong`].
pub fn pingpong_across<R: PinnedRuntime>(
    cpus: [usize; 2],
    round_trips: u64,
    mark: impl Fn(usize) + Clone + Send + Sync + 'static,
) -> Outcome<Duration> {
    let (ping_rt, pong_rt) = (R::pinned(cpus[0])?, R::pinned(cpus[1])?);
    let (ping_tx, ping_rx) = R::channel::<u64>(1);
    let (pong_tx, pong_rx) = R::channel::<u64>(1);
    let answering = R::spawn_on(
        &pong_rt,
        pong::<R>(ping_rx, pong_tx, round_trips, mark.clone()),
    );
    let timing = R::spawn_on(&ping_rt, ping::<R>(ping_tx, pong_rx, round_trips, mark));
    let elapsed = R::block_on(&ping_rt, timing)?;
    R::block_on(&pong_rt, answering)?;
    Ok(elapsed)
}

/// The timing half of a ping-pong (unit 0): sends a token on `ping_tx` and waits for it on
/// `pong_rx`, [`WARMUP_ROUND_TRIPS`] times untimed, then `round_trips` times; the time for
/// those. It drops `ping_tx` at the end,
/// so a [`pong`] that expects more (a ping that stopped early) sees the hang-up. The
/// multi-threaded models run the two halves on two runtimes of one pinned worker each for
/// `pingpong_cross_core` (docs/lab.md, "Placement").
pub async fn ping<R: Runtime>(
    ping_tx: R::Sender<u64>,
    mut pong_rx: R::Receiver<u64>,
    round_trips: u64,
    mark: impl Fn(usize),
) -> Duration {
    mark(0);
    let mut start = Instant::now();
    for i in 0..WARMUP_ROUND_TRIPS + round_trips {
        if i == WARMUP_ROUND_TRIPS {
            start = Instant::now();
        }
        if !R::send(&ping_tx, i).await || R::recv(&mut pong_rx).await.is_none() {
            break;
        }
    }
    let elapsed = start.elapsed();
    mark(0);
    drop(ping_tx);
    elapsed
}

/// The answering half of a ping-pong (unit 1): sends back [`WARMUP_ROUND_TRIPS`] +
/// `round_trips` tokens, or fewer if the
/// [`ping`] hangs up first. It counts rather than waiting for the hang-up, because not every
/// runtime's channel tells a receiver that its senders are gone (the naive executor's does
/// not).
pub async fn pong<R: Runtime>(
    mut ping_rx: R::Receiver<u64>,
    pong_tx: R::Sender<u64>,
    round_trips: u64,
    mark: impl Fn(usize),
) {
    mark(1);
    for _ in 0..WARMUP_ROUND_TRIPS + round_trips {
        let Some(v) = R::recv(&mut ping_rx).await else {
            break;
        };
        if !R::send(&pong_tx, v).await {
            break;
        }
    }
    mark(1);
}

/// `spawn / spawn_join`: from inside a running task, spawn `n` empty tasks, then join them
/// all; the time for all of it.
pub async fn spawn_join<R: Runtime>(spawner: R::Spawner, n: u64) -> Outcome<Duration> {
    let inner = spawner.clone();
    let unit = R::spawn(&spawner, async move {
        let mut handles = Vec::with_capacity(n as usize);
        let start = Instant::now();
        for _ in 0..n {
            handles.push(R::spawn(&inner, async {})?);
        }
        for handle in handles.drain(..) {
            R::join(handle).await.ok_or_else(failed)?;
        }
        Ok(start.elapsed())
    })?;
    R::join(unit).await.ok_or_else(failed)?
}

/// `latency`: `probe.background` tasks loop on yield while one task makes `probe.probes`
/// sequential sleeps of `probe.period` on the runtime's timer; lateness (wake time -
/// deadline) in ns, one value per sleep.
pub async fn sleep_lateness<R: Runtime>(
    spawner: R::Spawner,
    probe: Probe,
) -> Outcome<Histogram<u64>> {
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..probe.background {
        let theirs = Arc::clone(&stop);
        let spawned = R::spawn(&spawner, async move {
            while !theirs.load(Ordering::Relaxed) {
                R::yield_now().await;
            }
        });
        match spawned {
            Ok(handle) => R::detach(handle),
            Err(skip) => {
                stop.store(true, Ordering::Relaxed);
                return Err(skip);
            }
        }
    }
    let prober = R::spawn(&spawner, async move {
        let mut hist = stats::new_histogram();
        for _ in 0..probe.probes {
            let deadline = Instant::now() + probe.period;
            R::sleep_until(deadline).await;
            let late = Instant::now().saturating_duration_since(deadline);
            stats::record(&mut hist, late.as_nanos() as u64);
        }
        hist
    });
    let hist = match prober {
        Ok(prober) => R::join(prober).await.ok_or_else(failed),
        Err(skip) => Err(skip),
    };
    stop.store(true, Ordering::Relaxed);
    hist
}

/// `speedup`: `workers` tasks share `chunks` chunks of [`cpu::chunk`] through one counter,
/// each yielding after every chunk (so a single-threaded runtime interleaves them and a pool
/// may move them); the time until every chunk is done. Run on a runtime of `workers`
/// threads, this is the same program for every runtime.
pub async fn speedup<R: Runtime>(
    spawner: R::Spawner,
    chunks: u64,
    workers: usize,
) -> Outcome<Duration> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let next = Arc::clone(&next);
        handles.push(R::spawn(&spawner, async move {
            let mut sum = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks {
                    break sum;
                }
                sum = sum.wrapping_add(cpu::chunk(i));
                R::yield_now().await;
            }
        })?);
    }
    let mut sum = 0u64;
    for handle in handles {
        sum = sum.wrapping_add(R::join(handle).await.ok_or_else(failed)?);
    }
    let elapsed = start.elapsed();
    std::hint::black_box(sum);
    Ok(elapsed)
}

/// `scale`: creates `n` tasks that each wait forever (they count themselves in, then await
/// a future that never completes), detached so the runtime alone keeps them; the time and
/// resident-memory growth until every one has started. Run in a throw-away process.
pub async fn park<R: Runtime>(spawner: R::Spawner, n: u64) -> Outcome<Parked> {
    let started = Arc::new(AtomicU64::new(0));
    let before = machine::resident_bytes();
    let start = Instant::now();
    for _ in 0..n {
        let started = Arc::clone(&started);
        R::detach(R::spawn(&spawner, async move {
            started.fetch_add(1, Ordering::Relaxed);
            std::future::pending::<()>().await;
        })?);
    }
    while started.load(Ordering::Relaxed) < n {
        R::yield_now().await;
    }
    Ok(Parked {
        create: start.elapsed(),
        resident_growth: machine::resident_bytes().saturating_sub(before),
    })
}

/// `ipc / channel_<size>`: `round_trips` round trips of a `size`-byte buffer to an echo task
/// and back over two of the runtime's channels of capacity 1. The buffer moves (tasks share
/// one address space, as threads do: the thread model's `channel` moves it too).
pub async fn ipc_channel<R: Runtime>(
    spawner: R::Spawner,
    size: usize,
    round_trips: u64,
) -> Outcome<Duration> {
    let (to_tx, mut to_rx) = R::channel::<Vec<u8>>(1);
    let (from_tx, mut from_rx) = R::channel::<Vec<u8>>(1);
    let pong = R::spawn(&spawner, async move {
        for _ in 0..round_trips {
            let Some(buf) = R::recv(&mut to_rx).await else {
                break;
            };
            if !R::send(&from_tx, buf).await {
                break;
            }
        }
    })?;
    let sender = R::spawn(&spawner, async move {
        let mut message = vec![0x5au8; size];
        let start = Instant::now();
        for _ in 0..round_trips {
            if !R::send(&to_tx, message).await {
                return None;
            }
            message = R::recv(&mut from_rx).await?;
        }
        let elapsed = start.elapsed();
        std::hint::black_box(message);
        Some(elapsed)
    })?;
    let elapsed = R::join(sender).await.flatten().ok_or_else(failed)?;
    R::join(pong).await.ok_or_else(failed)?;
    Ok(elapsed)
}

/// Slots of the channel the `sharing / message` senders share: room for a batch, so a
/// sender waits only when the owner falls this far behind.
pub const SHARE_CHANNEL: usize = 1024;

/// `sharing`: `units` tasks together make `total` increments of one counter by `way`
/// ([`Share`]): under a `std::sync::Mutex` (held for the increment only, never across an
/// await), by `fetch_add` on an `AtomicU64`, or each as one message over the runtime's own
/// channel ([`SHARE_CHANNEL`] slots, one clone of the sender per unit) to an owner task that
/// alone holds the counter. The time from before the first spawn until every increment has
/// landed; a counter that does not read `total` is an error.
pub async fn sharing<R: Runtime>(
    spawner: R::Spawner,
    way: Share,
    units: u64,
    total: u64,
) -> Outcome<Duration> {
    let units = units.max(1);
    let start = Instant::now();
    let count = match way {
        Share::Lock => {
            let counter = Arc::new(Mutex::new(0u64));
            let mut handles = Vec::with_capacity(units as usize);
            for i in 0..units {
                let counter = Arc::clone(&counter);
                handles.push(R::spawn(&spawner, async move {
                    for _ in 0..share_of(total, units, i) {
                        *counter.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                    }
                })?);
            }
            for handle in handles {
                R::join(handle).await.ok_or_else(failed)?;
            }
            *counter.lock().unwrap_or_else(PoisonError::into_inner)
        }
        Share::Atomic => {
            let counter = Arc::new(AtomicU64::new(0));
            let mut handles = Vec::with_capacity(units as usize);
            for i in 0..units {
                let counter = Arc::clone(&counter);
                handles.push(R::spawn(&spawner, async move {
                    for _ in 0..share_of(total, units, i) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })?);
            }
            for handle in handles {
                R::join(handle).await.ok_or_else(failed)?;
            }
            counter.load(Ordering::Relaxed)
        }
        Share::Message => {
            let (tx, mut rx) = R::channel::<u64>(SHARE_CHANNEL);
            // The owner takes exactly `total` messages (a runtime's channel need not say when
            // its last sender is gone).
            let owner = R::spawn(&spawner, async move {
                let mut counter = 0u64;
                for _ in 0..total {
                    match R::recv(&mut rx).await {
                        Some(one) => counter += one,
                        None => break,
                    }
                }
                counter
            })?;
            let mut handles = Vec::with_capacity(units as usize);
            for i in 0..units {
                let tx = tx.clone();
                handles.push(R::spawn(&spawner, async move {
                    for _ in 0..share_of(total, units, i) {
                        if !R::send(&tx, 1).await {
                            break;
                        }
                    }
                })?);
            }
            drop(tx);
            for handle in handles {
                R::join(handle).await.ok_or_else(failed)?;
            }
            R::join(owner).await.ok_or_else(failed)?
        }
    };
    let elapsed = start.elapsed();
    if count != total {
        return Err(Skip(format!(
            "sharing / {}: the counter reads {count}, not {total}",
            way.name()
        )));
    }
    Ok(elapsed)
}

/// What a task model's `sharing` rows use ([`sharing`]), for their notes.
pub fn sharing_note(way: Share) -> &'static str {
    match way {
        Share::Lock => {
            "std::sync::Mutex, held for the increment only (the runtimes' async mutexes cost more)"
        }
        Share::Atomic => "AtomicU64::fetch_add (Relaxed)",
        Share::Message => {
            "one message per increment over the runtime's own channel (1,024 slots) to an owner task"
        }
    }
}

/// The answer of every task model for the `ipc` mechanisms other than `channel` (`pipe`,
/// `unix`, `shm`: between threads or processes).
pub fn ipc_not_applicable() -> Skip {
    Skip::not_applicable(
        "tasks of one runtime share one process: their IPC is the runtime's channel (pipe, unix and shm are measured for threads and processes)",
    )
}

pub(crate) fn failed() -> Skip {
    Skip("a workload task failed (panicked or was cancelled)".to_owned())
}

/// Runs the workload `root` on a fresh runtime `R` of `threads` threads sized for `tasks`
/// tasks ([`Runtime::run`]), and its answer.
pub fn on<R: Runtime, T: Send + 'static, F>(
    threads: usize,
    tasks: u64,
    root: impl FnOnce(R::Spawner) -> F,
) -> Outcome<T>
where
    F: Future<Output = Outcome<T>> + Send + 'static,
{
    R::run(threads, tasks, root)?
}
