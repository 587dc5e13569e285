//! Model `tokio-ct` (peer): tokio's `current_thread` runtime.
//!
//! Units are `tokio::spawn`ed tasks; yield is `tokio::task::yield_now`; ping-pong uses
//! `tokio::sync::mpsc` with capacity 1; a parked task awaits `std::future::pending`
//! (tokio's task list keeps it alive); the timer is `tokio::time::sleep_until`. The echo
//! server ([`serve_echo`], shared with `tokio-mt`) is a `tokio::net::TcpListener` with one
//! spawned task per connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::runtime::{Builder, Runtime};
use tokio::task::yield_now;

use super::{
    Blocked, Blocking, ECHO_BUFFER, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Skip,
    Turns,
};
use crate::experiments::blocking;
use crate::experiments::fairness::{self, Race};
use crate::experiments::speedup::chunk;
use crate::machine;
use crate::stats;

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
        in_task(&runtime()?, yield_run(n))
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
        in_task(&runtime()?, pingpong_run(round_trips, Arc::clone(seen)))
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        in_task(&runtime()?, spawn_join_run(n))
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        // `workers` tasks share the chunks on the runtime's one thread: S(n) stays about 1.
        in_task(&runtime()?, async move {
            let next = Arc::new(AtomicU64::new(0));
            let mut handles = Vec::with_capacity(workers);
            let start = Instant::now();
            for _ in 0..workers {
                let next = Arc::clone(&next);
                handles.push(tokio::spawn(async move {
                    let mut sum = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= chunks {
                            break;
                        }
                        sum = sum.wrapping_add(chunk(i));
                        yield_now().await;
                    }
                    sum
                }));
            }
            let mut sum = 0u64;
            for handle in handles.drain(..) {
                sum = sum.wrapping_add(handle.await.unwrap_or(0));
            }
            std::hint::black_box(sum);
            start.elapsed()
        })
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let rt = runtime()?;
        let started = Arc::new(AtomicU64::new(0));
        let outcome = rt.block_on(async {
            let before = machine::resident_bytes();
            let start = Instant::now();
            for _ in 0..n {
                let started = Arc::clone(&started);
                // Detached: tokio's task list keeps the task alive.
                drop(tokio::spawn(async move {
                    started.fetch_add(1, Ordering::Relaxed);
                    std::future::pending::<()>().await;
                }));
            }
            while started.load(Ordering::Relaxed) < n {
                yield_now().await;
            }
            Parked {
                create: start.elapsed(),
                resident_growth: machine::resident_bytes().saturating_sub(before),
            }
        });
        // The child process exits with the tasks still parked; dropping them is not measured.
        std::mem::forget(rt);
        Ok(outcome)
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let rt = runtime()?;
        let stop = Arc::new(AtomicBool::new(false));
        in_task(&rt, async move {
            for _ in 0..probe.background {
                let stop = Arc::clone(&stop);
                drop(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        yield_now().await;
                    }
                }));
            }
            let mut hist = stats::new_histogram();
            for _ in 0..probe.probes {
                let deadline = Instant::now() + probe.period;
                tokio::time::sleep_until(deadline.into()).await;
                let late = Instant::now().saturating_duration_since(deadline);
                stats::record(&mut hist, late.as_nanos() as u64);
            }
            stop.store(true, Ordering::Relaxed);
            hist
        })
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        in_task(&runtime()?, blocking_run(load))?
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        in_task(&runtime()?, fairness_run(units, run_for))?
    }

    fn echo_serve(&self, listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
        let rt = Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Skip(format!("tokio runtime failed to start: {e}")))?;
        in_task(&rt, serve_echo(listener, connections))?
    }
}

/// `yield_many`'s unit, shared with `tokio-mt` (the runtime is the only difference).
pub(super) async fn yield_run(n: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        yield_now().await;
    }
    start.elapsed()
}

/// `pingpong`'s two units over `tokio::sync::mpsc` (capacity 1), shared with `tokio-mt`.
/// Each unit marks `seen` (see [`Seen`]).
pub(super) async fn pingpong_run(round_trips: u64, seen: Arc<Seen>) -> Duration {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let echo_seen = Arc::clone(&seen);
    tokio::spawn(async move {
        echo_seen.mark(1);
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v).await.is_err() {
                break;
            }
        }
        echo_seen.mark(1);
    });
    seen.mark(0);
    let start = Instant::now();
    for i in 0..round_trips {
        if ping_tx.send(i).await.is_err() || pong_rx.recv().await.is_none() {
            break;
        }
    }
    let elapsed = start.elapsed();
    seen.mark(0);
    elapsed
}

/// `spawn_join`'s unit, shared with `tokio-mt`.
pub(super) async fn spawn_join_run(n: u64) -> Duration {
    let mut handles = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for _ in 0..n {
        handles.push(tokio::spawn(async {}));
    }
    for handle in handles.drain(..) {
        let _ = handle.await;
    }
    start.elapsed()
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

/// Serves echo on the current tokio runtime (both tokio models): accepts `connections`
/// connections, a spawned task each, and returns when all have closed.
pub(super) async fn serve_echo(listener: std::net::TcpListener, connections: u64) -> Outcome<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let failed = |e: std::io::Error| Skip(format!("echo failed: {e}"));
    listener.set_nonblocking(true).map_err(failed)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(failed)?;
    let mut handles = Vec::with_capacity(connections as usize);
    for _ in 0..connections {
        let (mut stream, _) = listener.accept().await.map_err(failed)?;
        stream.set_nodelay(true).map_err(failed)?;
        handles.push(tokio::spawn(async move {
            let mut buf = [0u8; ECHO_BUFFER];
            loop {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                stream.write_all(&buf[..n]).await?;
            }
        }));
    }
    for handle in handles {
        handle
            .await
            .map_err(|e| Skip(format!("a connection task failed: {e}")))?
            .map_err(failed)?;
    }
    Ok(())
}
