//! Model `thread`: plain OS threads from `std::thread`, the baseline for the pool.
//!
//! yield is `std::thread::yield_now` (`sched_yield`); ping-pong passes one byte over two
//! pipes between two threads placed with `core_affinity`; spawn is `std::thread::spawn`
//! and `join`; a parked thread blocks reading a pipe nobody writes; the timer is
//! `std::thread::sleep`. For `ipc`, a message goes to an echo thread and back over a pipe
//! pair, a socketpair, or two capacity-1 `std::sync::mpsc` channels (the buffer moves).
//! In `blocking` every unit is a thread sleeping with `std::thread::sleep`; in `fairness`
//! each unit is a thread looping on `yield_now`; the echo server is a thread per connection
//! over `std::net`, connection thread i placed on CPU i (mod the cores), as the pool places
//! its workers.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{
    Blocked, Blocking, ECHO_BUFFER, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Share,
    Skip, Turns, share_of, spin_until,
};
use crate::machine;
use crate::stats;
use crate::workloads::blocking;
use crate::workloads::cpu::place_worker;
use crate::workloads::fairness::{Race, Tally};
use crate::workloads::pipe;

/// See the [module docs](self).
pub struct Thread;

fn pipe() -> Outcome<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Skip(format!("pipe() failed: {e}")))
}

/// Writes then reads one byte per round trip; the peer echoes. The pinger runs on CPU
/// `cpus[0]`, the echo on `cpus[1]` (CPU ids), each marking `seen`.
fn pingpong_threads(round_trips: u64, cpus: [usize; 2], seen: &Arc<Seen>) -> Outcome<Duration> {
    let (ping_r, ping_w) = pipe()?;
    let (pong_r, pong_w) = pipe()?;
    let echo_seen = Arc::clone(seen);
    let echo = std::thread::spawn(move || {
        machine::pin_to_cpu(cpus[1]);
        echo_seen.mark(1);
        // Ends when the pinger closes its end (read returns 0) or on any error.
        pipe::echo(ping_r, pong_w);
        echo_seen.mark(1);
    });
    let ping_seen = Arc::clone(seen);
    let pinger = std::thread::spawn(move || {
        machine::pin_to_cpu(cpus[0]);
        ping_seen.mark(0);
        let elapsed = pipe::ping(ping_w, pong_r, round_trips);
        ping_seen.mark(0);
        elapsed
    });
    let elapsed = pinger
        .join()
        .map_err(|_| Skip("ping thread panicked".to_owned()))?;
    let _ = echo.join();
    elapsed
}

/// Round trips of a `size`-byte message between this thread and an echo thread over two
/// byte streams (`to` the echo's input, `from` its output); the echo copies each message back.
fn ipc_streams(
    mut to: impl Write + Send + 'static,
    mut from: impl Read,
    mut echo_in: impl Read + Send + 'static,
    mut echo_out: impl Write + Send + 'static,
    size: usize,
    round_trips: u64,
) -> Outcome<Duration> {
    let echo = std::thread::spawn(move || {
        let mut buf = vec![0u8; size];
        // Ends when the sender closes its end (EOF) or on any error.
        while echo_in.read_exact(&mut buf).is_ok() {
            if echo_out.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let message = vec![0x5au8; size];
    let mut buf = vec![0u8; size];
    let failed = |e: std::io::Error| Skip(format!("ipc round trip failed: {e}"));
    let start = Instant::now();
    for _ in 0..round_trips {
        to.write_all(&message).map_err(failed)?;
        from.read_exact(&mut buf).map_err(failed)?;
    }
    let elapsed = start.elapsed();
    // Close both ends (for a socketpair they are two handles on one socket), so the echo
    // reads end-of-file and returns.
    drop((to, from));
    let _ = echo.join();
    Ok(elapsed)
}

/// Round trips of a `size`-byte buffer over two `std::sync::mpsc` channels of capacity 1:
/// the buffer moves (no copy), which is what threads sharing memory get for free.
fn ipc_channel(size: usize, round_trips: u64) -> Outcome<Duration> {
    let (to_tx, to_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
    let (from_tx, from_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
    let echo = std::thread::spawn(move || {
        while let Ok(buf) = to_rx.recv() {
            if from_tx.send(buf).is_err() {
                break;
            }
        }
    });
    let mut message = vec![0x5au8; size];
    let start = Instant::now();
    for _ in 0..round_trips {
        to_tx
            .send(message)
            .map_err(|_| Skip("the echo thread hung up".to_owned()))?;
        message = from_rx
            .recv()
            .map_err(|_| Skip("the echo thread hung up".to_owned()))?;
    }
    let elapsed = start.elapsed();
    drop(to_tx);
    let _ = echo.join();
    std::hint::black_box(message);
    Ok(elapsed)
}

impl Model for Thread {
    fn name(&self) -> &'static str {
        "thread"
    }

    fn describe(&self) -> &'static str {
        "plain OS threads (std::thread)"
    }

    fn kind(&self) -> Kind {
        Kind::Thread
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong over two pipes")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some("std default stacks (2 MiB virtual each); only touched pages are resident")
    }

    fn yield_many(&self, n: u64) -> Outcome<Duration> {
        let start = Instant::now();
        for _ in 0..n {
            std::thread::yield_now();
        }
        Ok(start.elapsed())
    }

    fn pingpong(
        &self,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        match placement.cpus() {
            Some(cpus) => pingpong_threads(round_trips, cpus, seen),
            None => Err(Skip::not_applicable(
                "this process may use one CPU: no cross-core placement",
            )),
        }
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        let mut handles = Vec::with_capacity(n as usize);
        let start = Instant::now();
        for _ in 0..n {
            handles.push(std::thread::spawn(|| {}));
        }
        for handle in handles.drain(..) {
            let _ = handle.join();
        }
        Ok(start.elapsed())
    }

    fn sharing(&self, way: Share, units: u64, total: u64) -> Outcome<Duration> {
        use std::sync::{Barrier, Mutex, mpsc};
        let units = units.max(1);
        let counter = AtomicU64::new(0);
        let locked = Mutex::new(0u64);
        // Every unit and the measuring thread meet here, so thread creation is not timed;
        // the measuring thread arrives last (after every unit has said it is at the gate) and
        // takes the start time before it opens the gate: after it, the units may already be
        // done before the measuring thread runs again.
        let gate = Barrier::new(units as usize + 1);
        let arrived = AtomicU64::new(0);
        let (tx, rx) = mpsc::sync_channel::<u64>(crate::workloads::SHARE_CHANNEL);
        // The scope returns when every unit has finished.
        let (start, owned) = std::thread::scope(|s| {
            for i in 0..units {
                let (counter, locked, gate, tx) = (&counter, &locked, &gate, tx.clone());
                let arrived = &arrived;
                s.spawn(move || {
                    place_worker(i as usize, units as usize);
                    arrived.fetch_add(1, Ordering::Release);
                    gate.wait();
                    for _ in 0..share_of(total, units, i) {
                        match way {
                            Share::Lock => {
                                *locked.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                            }
                            Share::Atomic => {
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            Share::Message => {
                                if tx.send(1).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
            drop(tx);
            spin_until(|| arrived.load(Ordering::Acquire) == units);
            let start = Instant::now();
            gate.wait();
            // The measuring thread is the owner of `message`: it alone adds to its counter.
            let owned: u64 = if way == Share::Message {
                rx.iter().take(total as usize).sum()
            } else {
                0
            };
            (start, owned)
        });
        let elapsed = start.elapsed();
        let count = match way {
            Share::Lock => *locked.lock().unwrap_or_else(PoisonError::into_inner),
            Share::Atomic => counter.load(Ordering::Relaxed),
            Share::Message => owned,
        };
        if count != total {
            return Err(Skip(format!(
                "sharing / {}: the counter reads {count}, not {total}",
                way.name()
            )));
        }
        Ok(elapsed)
    }

    fn sharing_note(&self, way: Share) -> Option<&'static str> {
        Some(match way {
            Share::Lock => "std::sync::Mutex; unit i on CPU i of the mask (mod its size)",
            Share::Atomic => "AtomicU64::fetch_add (Relaxed); unit i on CPU i of the mask",
            Share::Message => {
                "one message per increment over std::sync::mpsc::sync_channel(1,024) to the measuring thread, the owner"
            }
        })
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        use crate::workloads::cpu::chunk;
        use std::sync::atomic::{AtomicU64, Ordering};
        // Chunks handed out one at a time from a shared counter: the plain-threads way to
        // balance uneven work, and what the pool's stealing is measured against.
        let next = AtomicU64::new(0);
        let sum = AtomicU64::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            for index in 0..workers {
                let (next, sum) = (&next, &sum);
                s.spawn(move || {
                    place_worker(index, workers);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= chunks {
                            break;
                        }
                        sum.fetch_add(chunk(i), Ordering::Relaxed);
                    }
                });
            }
        });
        let elapsed = start.elapsed();
        std::hint::black_box(sum.load(Ordering::Relaxed));
        Ok(elapsed)
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        match mechanism {
            "channel" => ipc_channel(size, round_trips),
            "pipe" => {
                let (to_r, to_w) = pipe()?;
                let (from_r, from_w) = pipe()?;
                ipc_streams(
                    File::from(to_w),
                    File::from(from_r),
                    File::from(to_r),
                    File::from(from_w),
                    size,
                    round_trips,
                )
            }
            "unix" => {
                let (mine, theirs) =
                    UnixStream::pair().map_err(|e| Skip(format!("socketpair failed: {e}")))?;
                let mine_reader = mine
                    .try_clone()
                    .map_err(|e| Skip(format!("socket clone failed: {e}")))?;
                let theirs_writer = theirs
                    .try_clone()
                    .map_err(|e| Skip(format!("socket clone failed: {e}")))?;
                ipc_streams(mine, mine_reader, theirs, theirs_writer, size, round_trips)
            }
            _ => Err(Skip::not_applicable(
                "threads share one address space: no shared-memory mechanism to measure",
            )),
        }
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let (read, write) = pipe()?;
        let read = Arc::new(read);
        let started = Arc::new(AtomicU64::new(0));
        let before = machine::resident_bytes();
        let start = Instant::now();
        for i in 0..n {
            let read = Arc::clone(&read);
            let started = Arc::clone(&started);
            let spawned = std::thread::Builder::new().spawn(move || {
                started.fetch_add(1, Ordering::Relaxed);
                let mut byte = [0u8; 1];
                // Nobody writes: this blocks until the process exits.
                let _ = rustix::io::read(&*read, &mut byte);
            });
            if let Err(e) = spawned {
                return Err(Skip(format!("the machine refused thread {i} of {n}: {e}")));
            }
        }
        spin_until(|| started.load(Ordering::Relaxed) >= n);
        let create = start.elapsed();
        let resident_growth = machine::resident_bytes().saturating_sub(before);
        // The threads must stay blocked until the child process exits.
        std::mem::forget(write);
        Ok(Parked {
            create,
            resident_growth,
        })
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut background = Vec::with_capacity(probe.background as usize);
        for i in 0..probe.background {
            let theirs = Arc::clone(&stop);
            match std::thread::Builder::new().spawn(move || {
                while !theirs.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
            }) {
                Ok(handle) => background.push(handle),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    for handle in background {
                        let _ = handle.join();
                    }
                    return Err(Skip(format!(
                        "the machine refused background thread {i}: {e}"
                    )));
                }
            }
        }
        let mut hist = stats::new_histogram();
        for _ in 0..probe.probes {
            let deadline = Instant::now() + probe.period;
            std::thread::sleep(probe.period);
            let late = Instant::now().saturating_duration_since(deadline);
            stats::record(&mut hist, late.as_nanos() as u64);
        }
        stop.store(true, Ordering::Relaxed);
        for handle in background {
            let _ = handle.join();
        }
        Ok(hist)
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        let t0 = Instant::now();
        let mut reporters = Vec::with_capacity(load.others as usize);
        for i in 0..load.others {
            let spawned = std::thread::Builder::new().spawn(move || {
                let mut out = blocking::Reports::for_reporter(&load, i);
                let mut deadline = t0 + blocking::first_deadline(&load, i);
                for _ in 0..blocking::reports(&load, i) {
                    let ahead = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(ahead);
                    out.record(deadline, !ahead.is_zero());
                    deadline += load.period;
                }
                out
            });
            match spawned {
                Ok(handle) => reporters.push(handle),
                Err(e) => {
                    return Err(Skip(format!(
                        "the machine refused reporter thread {i}: {e}"
                    )));
                }
            }
        }
        let mut calls = 0;
        for start in blocking::calls(&load) {
            std::thread::sleep((t0 + start).saturating_duration_since(Instant::now()));
            // The blocking call: this thread, and only it, is held up.
            std::thread::sleep(load.call);
            calls += 1;
        }
        let mut samples = Vec::with_capacity(reporters.len());
        for handle in reporters {
            samples.push(
                handle
                    .join()
                    .map_err(|_| Skip("a reporter thread panicked".to_owned()))?,
            );
        }
        Ok(blocking::blocked(&samples, calls))
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        let race = Arc::new(Race::new());
        // The units block on the gate until every one exists, so creating them is not
        // counted; a unit let through without a start signal (a later thread was refused)
        // leaves at once.
        let gate = Arc::new(RwLock::new(()));
        let closed = gate.write().unwrap_or_else(PoisonError::into_inner);
        let mut handles = Vec::with_capacity(units as usize);
        let mut refused = None;
        for i in 0..units {
            let (race, gate) = (Arc::clone(&race), Arc::clone(&gate));
            let spawned = std::thread::Builder::new().spawn(move || {
                drop(gate.read().unwrap_or_else(PoisonError::into_inner));
                let Some(go) = race.started() else {
                    return Turns::default();
                };
                let mut tally = Tally::new(go);
                while tally.turn(&race) {
                    std::thread::yield_now();
                }
                tally.finish()
            });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    refused = Some(format!("the machine refused thread {i} of {units}: {e}"));
                    break;
                }
            }
        }
        if refused.is_none() {
            race.start();
        }
        drop(closed);
        if refused.is_none() {
            std::thread::sleep(run_for);
            race.stop();
        }
        let turns: Vec<Turns> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Skip("a unit thread panicked".to_owned()))
            })
            .collect::<Outcome<_>>()?;
        match refused {
            Some(why) => Err(Skip(why)),
            None => Ok(turns),
        }
    }

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        _processes: &super::ServerProcesses,
    ) -> Outcome<()> {
        use std::io::{Read, Write};
        let cores = machine::cores();
        let mut handles = Vec::with_capacity(connections as usize);
        for i in 0..connections {
            let (mut stream, _) = listener
                .accept()
                .map_err(|e| Skip(format!("accept failed: {e}")))?;
            let _ = stream.set_nodelay(true);
            let spawned = std::thread::Builder::new().spawn(move || {
                place_worker(i as usize, cores);
                let mut buf = [0u8; ECHO_BUFFER];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => stream.write_all(&buf[..n])?,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(e) => {
                    return Err(Skip(format!(
                        "the machine refused connection thread {i}: {e}"
                    )));
                }
            }
        }
        for handle in handles {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Skip(format!("echo failed: {e}"))),
                Err(_) => return Err(Skip("a connection thread panicked".to_owned())),
            }
        }
        Ok(())
    }
}
