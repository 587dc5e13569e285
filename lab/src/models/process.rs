//! Model `process`: switchyard's process launcher (`runtime::process`), one OS process per
//! unit.
//!
//! * yield is `sched_yield` (a process yields as a thread does);
//! * ping-pong passes one byte back and forth over two pipes between this process and a
//!   child started with the default start method (the pipes travel over the launcher's
//!   channel), as `perf bench sched pipe` does, so the two figures compare; the extra rows
//!   `channel_pingpong_*` pass a one-byte frame over the launcher's framed [`Channel`] (its
//!   data path is two pipes) instead. Each side pins itself to its CPU id and reports where
//!   it ran;
//! * spawn is [`process::start`] with [`StartMethod::Spawn`] (row `spawn_join`), `Fork` and
//!   `ForkServer` (rows `fork`, `forkserver`), of an entry that returns at once, then `wait`;
//!   row `command_true` is the baseline the targets are set against:
//!   `std::process::Command::new("/bin/true")` spawned and waited;
//! * a parked process blocks reading its channel; its memory is its proportional set size
//!   (`Pss` in `/proc/<pid>/smaps_rollup`: shared pages of the binary are split between
//!   the processes that map them), added to the parent's own growth;
//! * `speedup` maps the hashing chunks over a [`ProcessPool`] of n workers, worker i placed
//!   on CPU i, chunks sent in batches (`chunksize`) so IPC is amortised; only the map is
//!   timed, not the pool's start-up;
//! * `ipc` moves a message of each size to a child and back over four mechanisms: the framed
//!   `channel`, two raw `pipe`s, a raw `unix` socketpair, and two `shm` rings.
//!
//! * `sharing` starts its units as child processes (placed on the CPUs of the mask in turn),
//!   which wait for a start signal over their channel: `atomic` is `fetch_add` on an
//!   `AtomicU64` in a [`SharedRegion`] all of them map; `lock` guards a plain increment in that
//!   region with a test-and-set lock on an `AtomicU32` beside it, spinning then yielding
//!   (processes share no mutex of the launcher's); `message` is one 8-byte `write` per
//!   increment into one pipe that every unit holds, read by this process, the owner.
//!
//! * `blocking` starts its reporters as child processes (started together as `fairness`'s
//!   units, each sleeping with `std::thread::sleep` on its grid from its own start instant),
//!   and this process makes the blocking calls, which hold up only itself;
//! * `fairness` starts its units as child processes (at most [`FAIR_PROCESSES`], each a
//!   process start), each pinned where the lab pinned itself (`--pin`: the first CPU), started
//!   together by one write to a pipe they all block on, each taking turns with `sched_yield`
//!   for the run's time on its own clock;
//!
//! * `echo` is served by pre-forked worker processes sharing the listening socket, as
//!   gunicorn does (`lab/src/models/process/echo.rs`);
//! * `latency` probes in a child process sleeping with `std::thread::sleep` (the OS timer);
//!   `loaded` adds up to [`BACKGROUND_PROCESSES`] processes looping on `sched_yield`.
//!
//! The lab's `main` calls [`entries`] through `process::init` first, so its children find
//! these entry points.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use switchyard_runtime::process::{
    self, Channel, Child, Entry, StartMethod, ring, shm::SharedRegion,
};

use switchyard_scheduler::procs::{self, ProcessPool};

use hdrhistogram::Histogram;

use super::{
    Blocked, Blocking, Kind, Model, Outcome, Parked, Placement, Probe, Seen, Share, Skip, Turns,
    share_of,
};
use crate::workloads;
use crate::workloads::blocking;
use crate::workloads::pipe;
use crate::{machine, stats};

mod echo;

/// See the [module docs](self).
pub struct Process;

const ECHO: &str = "lab.echo";
const PIPE_ECHO: &str = "lab.pipe_echo";
const PROBE: &str = "lab.probe";
const YIELDER: &str = "lab.yielder";

/// Units of `fairness` at most: each is a process start (docs/lab.md).
pub const FAIR_PROCESSES: u64 = 100;

/// Background processes of `latency / loaded` at most: each is a process start, and 10,000
/// of them would take the whole run's budget.
pub const BACKGROUND_PROCESSES: u64 = 100;
const EXIT: &str = "lab.exit";
const PARK: &str = "lab.park";
const IPC: &str = "lab.ipc";
const SPEEDUP: &str = "lab.speedup";
const SHARE: &str = "lab.share";
const FAIR: &str = "lab.fair";
const REPORTER: &str = "lab.reporter";

/// Chunks of the speedup job per task message, relative to the per-worker share: each worker
/// gets about this many messages, so the IPC of a message (tens of µs) is amortised over many
/// 50 µs chunks while the last worker to finish waits at most one message's work. As
/// Python's `Pool.map` default (`len / (4 * workers)`), doubled for finer balance.
const SPEEDUP_MESSAGES_PER_WORKER: u64 = 8;

/// A core number meaning "do not pin".
const NO_PIN: u32 = u32::MAX;

/// The entry points the lab's children run; `main` registers them with `process::init`.
pub fn entries() -> Vec<Entry> {
    vec![
        Entry::new(ECHO, echo),
        Entry::new(echo::WORKER, echo::worker),
        Entry::new(PIPE_ECHO, pipe_echo),
        Entry::new(PROBE, probe_child),
        Entry::new(YIELDER, yielder_child),
        Entry::new(EXIT, |_| {}),
        Entry::new(PARK, park_child),
        Entry::new(IPC, ipc_child),
        Entry::new(SHARE, share_child),
        Entry::new(FAIR, fair_child),
        Entry::new(REPORTER, reporter_child),
        procs::task(SPEEDUP, crate::workloads::cpu::chunk),
    ]
}

fn skip(what: &str, e: impl std::fmt::Display) -> Skip {
    Skip(format!("{what}: {e}"))
}

/// Pins itself to the CPU id it is told (or not, for [`NO_PIN`]) and answers with the CPU it
/// runs on; then echoes frames until the parent sends an empty one (answered with the CPU it
/// runs on then) or closes.
fn echo(mut channel: Channel) {
    let Ok(cpu) = channel.recv::<u32>() else {
        return;
    };
    if cpu != NO_PIN {
        machine::pin_to_cpu(cpu as usize);
    }
    if channel.send(&(machine::current_cpu() as u32)).is_err() {
        return;
    }
    let mut frame = Vec::new();
    while channel.recv_bytes_into(&mut frame).is_ok() {
        if frame.is_empty() {
            let _ = channel.send(&(machine::current_cpu() as u32));
            return;
        }
        if channel.send_bytes(&frame).is_err() {
            return;
        }
    }
}

/// The echo side of the pipe ping-pong: receives the CPU id to pin to with the read end of
/// the ping pipe, then the write end of the pong pipe; answers with the CPU it runs on; echoes
/// one byte at a time until the ping pipe reads end-of-file; answers with its CPU again.
fn pipe_echo(mut channel: Channel) {
    let Ok((cpu, ping_r)) = channel.recv_with_fd::<u32>() else {
        return;
    };
    let Ok(((), pong_w)) = channel.recv_with_fd::<()>() else {
        return;
    };
    machine::pin_to_cpu(cpu as usize);
    if channel.send(&(machine::current_cpu() as u32)).is_err() {
        return;
    }
    pipe::echo(ping_r, pong_w);
    let _ = channel.send(&(machine::current_cpu() as u32));
}

/// The latency probe in a process of its own: receives `(probes, period in ns)`, makes that
/// many sequential sleeps with `std::thread::sleep` (the OS timer: a process has no other) and
/// answers with the lateness of each, in ns.
fn probe_child(mut channel: Channel) {
    let Ok((probes, period_ns)) = channel.recv::<(u64, u64)>() else {
        return;
    };
    let period = Duration::from_nanos(period_ns);
    let mut late = Vec::with_capacity(probes as usize);
    for _ in 0..probes {
        let deadline = Instant::now() + period;
        std::thread::sleep(period);
        late.push(
            Instant::now()
                .saturating_duration_since(deadline)
                .as_nanos() as u64,
        );
    }
    let _ = channel.send(&late);
}

/// A background process of `latency / loaded`: says it started, then loops on `sched_yield`
/// until its parent sends anything or goes away.
fn yielder_child(mut channel: Channel) {
    if channel.send(&()).is_err() {
        return;
    }
    while let Ok(None) = channel.try_recv::<()>() {
        std::thread::yield_now();
    }
}

/// Blocks on its channel until the parent goes away.
fn park_child(mut channel: Channel) {
    let _ = channel.send(&());
    let _ = channel.recv_bytes();
}

/// Ping-pong of one byte over two pipes with a child process (as `perf bench sched pipe`;
/// close-on-exec, so the child holds only the ends it is sent and sees end-of-file):
/// this thread on CPU `cpus[0]`, the child on `cpus[1]`, each marking `seen`.
fn pingpong_pipes(round_trips: u64, cpus: [usize; 2], seen: &Arc<Seen>) -> Outcome<Duration> {
    let seen = Arc::clone(seen);
    let pinger = std::thread::spawn(move || -> Outcome<Duration> {
        machine::pin_to_cpu(cpus[0]);
        let (ping_r, ping_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| skip("pipe", e))?;
        let (pong_r, pong_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| skip("pipe", e))?;
        let mut child =
            process::start(PIPE_ECHO, StartMethod::Spawn).map_err(|e| skip("start", e))?;
        let channel = child.channel().expect("fresh child has its channel");
        channel
            .send_with_fd(&(cpus[1] as u32), ping_r.as_fd())
            .map_err(|e| skip("send pipe", e))?;
        channel
            .send_with_fd(&(), pong_w.as_fd())
            .map_err(|e| skip("send pipe", e))?;
        // The child holds its own copies now.
        drop((ping_r, pong_w));
        seen.record(
            1,
            channel.recv::<u32>().map_err(|e| skip("pin", e))? as usize,
        );
        seen.mark(0);
        let elapsed = pipe::ping(&ping_w, &pong_r, round_trips)?;
        seen.mark(0);
        drop(ping_w);
        seen.record(
            1,
            channel.recv::<u32>().map_err(|e| skip("end", e))? as usize,
        );
        let _ = child.wait();
        Ok(elapsed)
    });
    pinger
        .join()
        .map_err(|_| Skip("ping thread panicked".to_owned()))?
}

/// Ping-pong of a one-byte frame over the launcher's framed [`Channel`]: this thread on CPU
/// `cpus[0]`, the child on `cpus[1]`, each marking `seen`; the time of `round_trips` after
/// [`workloads::WARMUP_ROUND_TRIPS`] untimed ones.
fn pingpong_channel(round_trips: u64, cpus: [usize; 2], seen: &Arc<Seen>) -> Outcome<Duration> {
    let seen = Arc::clone(seen);
    let pinger = std::thread::spawn(move || -> Outcome<Duration> {
        machine::pin_to_cpu(cpus[0]);
        let mut child = process::start(ECHO, StartMethod::Spawn).map_err(|e| skip("start", e))?;
        let channel = child.channel().expect("fresh child has its channel");
        channel
            .send(&(cpus[1] as u32))
            .map_err(|e| skip("pin", e))?;
        seen.record(
            1,
            channel.recv::<u32>().map_err(|e| skip("pin", e))? as usize,
        );
        seen.mark(0);
        let token = [0u8; 1];
        let mut start = Instant::now();
        for i in 0..workloads::WARMUP_ROUND_TRIPS + round_trips {
            if i == workloads::WARMUP_ROUND_TRIPS {
                start = Instant::now();
            }
            channel.send_bytes(&token).map_err(|e| skip("ping", e))?;
            channel.recv_with(|_| ()).map_err(|e| skip("pong", e))?;
        }
        let elapsed = start.elapsed();
        seen.mark(0);
        channel.send_bytes(&[]).map_err(|e| skip("end", e))?;
        seen.record(
            1,
            channel.recv::<u32>().map_err(|e| skip("end", e))? as usize,
        );
        let _ = child.wait();
        Ok(elapsed)
    });
    pinger
        .join()
        .map_err(|_| Skip("ping thread panicked".to_owned()))?
}

fn spawn_join_with(method: StartMethod, n: u64) -> Outcome<Duration> {
    let mut children: Vec<Child> = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for _ in 0..n {
        children.push(process::start(EXIT, method).map_err(|e| Skip(e.to_string()))?);
    }
    for child in &mut children {
        child.wait().map_err(|e| skip("wait", e))?;
    }
    Ok(start.elapsed())
}

/// The baseline the spawn target is set against: `Command::new("/bin/true")`
/// spawned and waited, `n` times (all spawned, then all waited, as `spawn_join_with`).
fn command_true(n: u64) -> Outcome<Duration> {
    let mut children = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for _ in 0..n {
        let child = std::process::Command::new("/bin/true")
            .spawn()
            .map_err(|e| skip("/bin/true", e))?;
        children.push(child);
    }
    for child in &mut children {
        child.wait().map_err(|e| skip("wait", e))?;
    }
    Ok(start.elapsed())
}

/// The proportional set size of `pid`, in bytes.
fn pss_bytes(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What a `sharing` unit is asked to do: its way (`Share as u8`), its share of the
/// increments, and the CPU to run on.
#[derive(serde::Serialize, serde::Deserialize)]
struct ShareSetup {
    way: u8,
    count: u64,
    cpu: u32,
}

/// The `lock` of the process model's `sharing`: the word at offset 0 of the region.
const SHARE_LOCK: usize = 0;
/// The counter: the word at offset 8.
const SHARE_COUNTER: usize = 8;

/// A `sharing` unit in a process of its own: receives its [`ShareSetup`] with the shared
/// region (`lock`, `atomic`) or the pipe's write end (`message`), says it is ready, waits for
/// the start signal, makes its increments and says it is done.
fn share_child(mut channel: Channel) {
    let Ok((setup, fd)) = channel.recv_with_fd::<ShareSetup>() else {
        return;
    };
    machine::pin_to_cpu(setup.cpu as usize);
    let region = if setup.way == Share::Message as u8 {
        None
    } else {
        match fd.try_clone().map(SharedRegion::from_fd) {
            Ok(Ok(region)) => Some(region),
            _ => return,
        }
    };
    if channel.send(&()).is_err() || channel.recv::<()>().is_err() {
        return;
    }
    match (setup.way, &region) {
        (w, Some(region)) if w == Share::Lock as u8 => {
            let (Ok(lock), Ok(counter)) = (
                region.atomic_u32(SHARE_LOCK),
                region.atomic_u64(SHARE_COUNTER),
            ) else {
                return;
            };
            for _ in 0..setup.count {
                let mut spins = 0u32;
                while lock
                    .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_err()
                {
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                // Under the lock: a plain read-modify-write, as a mutex protects.
                counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                lock.store(0, Ordering::Release);
            }
        }
        (w, Some(region)) if w == Share::Atomic as u8 => {
            let Ok(counter) = region.atomic_u64(SHARE_COUNTER) else {
                return;
            };
            for _ in 0..setup.count {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        _ => {
            let one = 1u64.to_ne_bytes();
            for _ in 0..setup.count {
                if rustix::io::write(&fd, &one) != Ok(one.len()) {
                    return;
                }
            }
        }
    }
    let _ = channel.send(&());
}

/// A `fairness` unit in a process of its own: receives `(cpu, run_for in ns)` with the read
/// end of the start pipe; pins itself (unless [`NO_PIN`]), says it is ready, blocks until it
/// reads its one byte of the start signal, then takes turns (a count, the longest gap since
/// the previous one, as [`crate::workloads::fairness::Tally`]) with a `sched_yield` after
/// each until `run_for` has passed on its own clock; answers `(iterations, max_gap_ns)`.
fn fair_child(mut channel: Channel) {
    let Ok(((cpu, run_for_ns), go)) = channel.recv_with_fd::<(u32, u64)>() else {
        return;
    };
    if cpu != NO_PIN {
        machine::pin_to_cpu(cpu as usize);
    }
    let mut byte = [0u8; 1];
    if channel.send(&()).is_err() || rustix::io::read(&go, &mut byte) != Ok(1) {
        return;
    }
    let start = Instant::now();
    let run_for = Duration::from_nanos(run_for_ns);
    let (mut last, mut iterations, mut max_gap) = (start, 0u64, 0u64);
    loop {
        let now = Instant::now();
        max_gap = max_gap.max(now.saturating_duration_since(last).as_nanos() as u64);
        last = now;
        if now.saturating_duration_since(start) >= run_for {
            break;
        }
        iterations += 1;
        std::thread::yield_now();
    }
    let _ = channel.send(&(iterations, max_gap));
}

/// The CPU this thread is pinned to, if its affinity mask holds exactly one (the lab's
/// `--pin`); [`NO_PIN`] otherwise. A child of the fork server does not inherit the mask, so
/// the units are told it.
fn own_pin() -> u32 {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) if set.count() == 1 => (0..rustix::thread::CpuSet::MAX_CPU)
            .find(|&cpu| set.is_set(cpu))
            .map_or(NO_PIN, |cpu| cpu as u32),
        _ => NO_PIN,
    }
}

/// What a `blocking` reporter process is told: its index and the load, durations in ns.
#[derive(serde::Serialize, serde::Deserialize)]
struct ReporterSetup {
    cpu: u32,
    i: u64,
    others: u64,
    period: u64,
    call: u64,
    call_every: u64,
    run_for: u64,
}

/// A `blocking` reporter in a process of its own: receives its [`ReporterSetup`] with the
/// start pipe's read end, says it is ready, blocks until it reads its byte of the start
/// signal, then sleeps and reports on the grid of reporter `i` (as the thread model's, with
/// `std::thread::sleep`), from its own start instant; answers its lateness, every deadline and
/// the slept ones, in ns.
fn reporter_child(mut channel: Channel) {
    let Ok((setup, go)) = channel.recv_with_fd::<ReporterSetup>() else {
        return;
    };
    if setup.cpu != NO_PIN {
        machine::pin_to_cpu(setup.cpu as usize);
    }
    let load = Blocking {
        others: setup.others,
        period: Duration::from_nanos(setup.period),
        call: Duration::from_nanos(setup.call),
        call_every: Duration::from_nanos(setup.call_every),
        run_for: Duration::from_nanos(setup.run_for),
    };
    let mut byte = [0u8; 1];
    if channel.send(&()).is_err() || rustix::io::read(&go, &mut byte) != Ok(1) {
        return;
    }
    let t0 = Instant::now();
    let mut out = blocking::Reports::for_reporter(&load, setup.i);
    let mut deadline = t0 + blocking::first_deadline(&load, setup.i);
    for _ in 0..blocking::reports(&load, setup.i) {
        let ahead = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(ahead);
        out.record(deadline, !ahead.is_zero());
        deadline += load.period;
    }
    let _ = channel.send(&(out.all, out.slept));
}

/// The process model's `blocking`: `load.others` reporter processes ([`reporter_child`]) and
/// the blocking calls made by this process, which alone they hold up.
fn blocking_processes(load: Blocking) -> Outcome<Blocked> {
    let failed = |e: &dyn std::fmt::Display| Skip(format!("blocking failed: {e}"));
    let (go_r, go_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| failed(&e))?;
    let cpu = own_pin();
    let mut children = Vec::with_capacity(load.others as usize);
    let mut channels = Vec::with_capacity(load.others as usize);
    let result = (|| -> Outcome<Blocked> {
        for i in 0..load.others {
            let mut child =
                process::start(REPORTER, StartMethod::ForkServer).map_err(|e| skip("start", e))?;
            let mut channel = child.take_channel().expect("fresh child has its channel");
            children.push(child);
            let setup = ReporterSetup {
                cpu,
                i,
                others: load.others,
                period: load.period.as_nanos() as u64,
                call: load.call.as_nanos() as u64,
                call_every: load.call_every.as_nanos() as u64,
                run_for: load.run_for.as_nanos() as u64,
            };
            channel
                .send_with_fd(&setup, go_r.as_fd())
                .map_err(|e| failed(&e))?;
            channels.push(channel);
        }
        for channel in &mut channels {
            channel.recv::<()>().map_err(|e| failed(&e))?;
        }
        let signal = vec![1u8; channels.len()];
        let mut sent = 0;
        while sent < signal.len() {
            sent += rustix::io::write(&go_w, &signal[sent..]).map_err(|e| failed(&e))?;
        }
        let t0 = Instant::now();
        let mut calls = 0;
        for start in blocking::calls(&load) {
            std::thread::sleep((t0 + start).saturating_duration_since(Instant::now()));
            // The blocking call: this process, and only it, is held up.
            std::thread::sleep(load.call);
            calls += 1;
        }
        let mut samples = Vec::with_capacity(channels.len());
        for channel in &mut channels {
            let (all, slept) = channel
                .recv::<(Vec<u64>, Vec<u64>)>()
                .map_err(|e| failed(&e))?;
            samples.push(blocking::Reports { all, slept });
        }
        Ok(blocking::blocked(&samples, calls))
    })();
    drop(channels);
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

/// The process model's `fairness` (see the [module docs](self)).
fn fairness_processes(units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
    let failed = |e: &dyn std::fmt::Display| Skip(format!("fairness failed: {e}"));
    let (go_r, go_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| failed(&e))?;
    let cpu = own_pin();
    let mut children = Vec::with_capacity(units as usize);
    let mut channels = Vec::with_capacity(units as usize);
    let result = (|| -> Outcome<Vec<Turns>> {
        for _ in 0..units {
            let mut child =
                process::start(FAIR, StartMethod::ForkServer).map_err(|e| skip("start", e))?;
            let mut channel = child.take_channel().expect("fresh child has its channel");
            children.push(child);
            channel
                .send_with_fd(&(cpu, run_for.as_nanos() as u64), go_r.as_fd())
                .map_err(|e| failed(&e))?;
            channels.push(channel);
        }
        for channel in &mut channels {
            channel.recv::<()>().map_err(|e| failed(&e))?;
        }
        // One write wakes every unit blocked on the pipe; each takes its one byte.
        let signal = vec![1u8; units as usize];
        let mut sent = 0;
        while sent < signal.len() {
            sent += rustix::io::write(&go_w, &signal[sent..]).map_err(|e| failed(&e))?;
        }
        let mut turns = Vec::with_capacity(channels.len());
        for channel in &mut channels {
            let (iterations, max_gap_ns) = channel.recv::<(u64, u64)>().map_err(|e| failed(&e))?;
            turns.push(Turns {
                iterations,
                max_gap_ns,
            });
        }
        Ok(turns)
    })();
    drop(channels);
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

/// The process model's `sharing` (see the [module docs](self)).
fn sharing_processes(way: Share, units: u64, total: u64) -> Outcome<Duration> {
    let failed = |e: &dyn std::fmt::Display| Skip(format!("sharing / {} failed: {e}", way.name()));
    let units = units.max(1);
    let region = SharedRegion::new(64).map_err(|e| failed(&e))?;
    let (pipe_r, pipe_w) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| failed(&e))?;
    let cpus = machine::start_cpus();
    let mut children = Vec::with_capacity(units as usize);
    let mut channels = Vec::with_capacity(units as usize);
    let result = (|| -> Outcome<Duration> {
        for i in 0..units {
            let mut child =
                process::start(SHARE, StartMethod::ForkServer).map_err(|e| skip("start", e))?;
            let mut channel = child.take_channel().expect("fresh child has its channel");
            children.push(child);
            let setup = ShareSetup {
                way: way as u8,
                count: share_of(total, units, i),
                cpu: cpus[i as usize % cpus.len()] as u32,
            };
            let fd = if way == Share::Message {
                pipe_w.as_fd()
            } else {
                region.as_fd()
            };
            channel.send_with_fd(&setup, fd).map_err(|e| failed(&e))?;
            channels.push(channel);
        }
        for channel in &mut channels {
            channel.recv::<()>().map_err(|e| failed(&e))?;
        }
        let start = Instant::now();
        for channel in &mut channels {
            channel.send(&()).map_err(|e| failed(&e))?;
        }
        let mut owned = 0u64;
        if way == Share::Message {
            // The owner: reads whole 8-byte messages (a pipe write of 8 bytes is atomic)
            // until every increment has arrived.
            let mut buf = vec![0u8; 64 * 1024];
            let mut carry = 0usize;
            let mut received = 0u64;
            while received < total {
                let n = rustix::io::read(&pipe_r, &mut buf[carry..]).map_err(|e| failed(&e))?;
                if n == 0 {
                    return Err(failed(&"the pipe closed early"));
                }
                let have = carry + n;
                let whole = have / 8 * 8;
                for message in buf[..whole].chunks_exact(8) {
                    owned += u64::from_ne_bytes(message.try_into().expect("8 bytes"));
                    received += 1;
                }
                buf.copy_within(whole..have, 0);
                carry = have - whole;
            }
        }
        for channel in &mut channels {
            channel.recv::<()>().map_err(|e| failed(&e))?;
        }
        let elapsed = start.elapsed();
        let count = if way == Share::Message {
            owned
        } else {
            region
                .atomic_u64(SHARE_COUNTER)
                .map_err(|e| failed(&e))?
                .load(Ordering::Acquire)
        };
        if count != total {
            return Err(Skip(format!(
                "sharing / {}: the counter reads {count}, not {total}",
                way.name()
            )));
        }
        Ok(elapsed)
    })();
    drop(channels);
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    result
}

/// What the ipc child is asked to do.
#[derive(serde::Serialize, serde::Deserialize)]
struct IpcSetup {
    mechanism: String,
    size: usize,
}

/// Echoes `size`-byte messages over the mechanism its parent set up.
fn ipc_child(mut channel: Channel) {
    let Ok(setup) = channel.recv::<IpcSetup>() else {
        return;
    };
    let mut buf = vec![0u8; setup.size];
    match setup.mechanism.as_str() {
        "channel" => {
            let _ = channel.send(&());
            while channel.recv_bytes_into(&mut buf).is_ok() {
                if channel.send_bytes(&buf).is_err() {
                    return;
                }
            }
        }
        "pipe" => {
            let (Ok(((), r)), Ok(((), w))) = (channel.recv_with_fd(), channel.recv_with_fd())
            else {
                return;
            };
            let (mut r, mut w) = (std::fs::File::from(r), std::fs::File::from(w));
            let _ = channel.send(&());
            while r.read_exact(&mut buf).is_ok() && w.write_all(&buf).is_ok() {}
        }
        "unix" => {
            let Ok(((), s)) = channel.recv_with_fd() else {
                return;
            };
            let mut s = UnixStream::from(s);
            let _ = channel.send(&());
            while s.read_exact(&mut buf).is_ok() && s.write_all(&buf).is_ok() {}
        }
        "shm" => {
            let (Ok(((), a)), Ok(((), b))) = (channel.recv_with_fd(), channel.recv_with_fd())
            else {
                return;
            };
            let rings = SharedRegion::from_fd(a)
                .ok()
                .and_then(|a| ring::RingConsumer::new(a).ok())
                .zip(
                    SharedRegion::from_fd(b)
                        .ok()
                        .and_then(|b| ring::RingProducer::new(b).ok()),
                );
            let Some((mut rx, mut tx)) = rings else {
                return;
            };
            let _ = channel.send(&());
            // Echo in place: one copy, from one ring into the other.
            while let Ok(Ok(())) = rx.recv_with(|a, b| tx.send_gather([a, b])) {}
        }
        _ => {}
    }
}

/// Untimed round trips before each timed batch: the first ones fault in buffers, socket
/// memory and the rings' pages.
const WARM_UP_ROUND_TRIPS: u64 = 2;

/// Ring capacity for the shm mechanism: 2 MiB, so a 1 MiB message and its length fit
/// without a second lap.
const SHM_RING_BYTES: usize = 2 << 20;

fn ipc_parent(mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
    let mut child = process::start(IPC, StartMethod::Spawn).map_err(|e| skip("start", e))?;
    let mut channel = child.take_channel().expect("fresh child has its channel");
    let setup = IpcSetup {
        mechanism: mechanism.to_owned(),
        size,
    };
    let failed = |e: &dyn std::fmt::Display| Skip(format!("{mechanism} ipc failed: {e}"));
    channel.send(&setup).map_err(|e| failed(&e))?;
    let message = vec![0x5au8; size];
    let mut buf = vec![0u8; size];
    let elapsed = match mechanism {
        "channel" => {
            channel.recv::<()>().map_err(|e| failed(&e))?;
            let mut round_trip = || -> Outcome<()> {
                channel.send_bytes(&message).map_err(|e| failed(&e))?;
                // Read in place in the channel's buffer, as the shm consumer does.
                let got = channel.recv_with(<[u8]>::len).map_err(|e| failed(&e))?;
                std::hint::black_box(got);
                Ok(())
            };
            for _ in 0..WARM_UP_ROUND_TRIPS {
                round_trip()?;
            }
            let start = Instant::now();
            for _ in 0..round_trips {
                round_trip()?;
            }
            start.elapsed()
        }
        "pipe" => {
            let (to_r, to_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| failed(&e))?;
            let (from_r, from_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), to_r.as_fd())
                .map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), from_w.as_fd())
                .map_err(|e| failed(&e))?;
            drop((to_r, from_w));
            channel.recv::<()>().map_err(|e| failed(&e))?;
            let (mut w, mut r) = (std::fs::File::from(to_w), std::fs::File::from(from_r));
            for _ in 0..WARM_UP_ROUND_TRIPS {
                w.write_all(&message).map_err(|e| failed(&e))?;
                r.read_exact(&mut buf).map_err(|e| failed(&e))?;
            }
            let start = Instant::now();
            for _ in 0..round_trips {
                w.write_all(&message).map_err(|e| failed(&e))?;
                r.read_exact(&mut buf).map_err(|e| failed(&e))?;
            }
            start.elapsed()
        }
        "unix" => {
            let (mut mine, theirs) = UnixStream::pair().map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), theirs.as_fd())
                .map_err(|e| failed(&e))?;
            drop(theirs);
            channel.recv::<()>().map_err(|e| failed(&e))?;
            for _ in 0..WARM_UP_ROUND_TRIPS {
                mine.write_all(&message).map_err(|e| failed(&e))?;
                mine.read_exact(&mut buf).map_err(|e| failed(&e))?;
            }
            let start = Instant::now();
            for _ in 0..round_trips {
                mine.write_all(&message).map_err(|e| failed(&e))?;
                mine.read_exact(&mut buf).map_err(|e| failed(&e))?;
            }
            start.elapsed()
        }
        "shm" => {
            let to = ring::create(SHM_RING_BYTES).map_err(|e| failed(&e))?;
            let from = ring::create(SHM_RING_BYTES).map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), to.as_fd())
                .map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), from.as_fd())
                .map_err(|e| failed(&e))?;
            let mut tx = ring::RingProducer::new(to).map_err(|e| failed(&e))?;
            let mut rx = ring::RingConsumer::new(from).map_err(|e| failed(&e))?;
            channel.recv::<()>().map_err(|e| failed(&e))?;
            let mut round_trip = || -> Outcome<()> {
                tx.send(&message).map_err(|e| failed(&e))?;
                // Read in place, as a consumer of shared memory does: no copy out.
                let got = rx
                    .recv_with(|a, b| a.len() + b.len())
                    .map_err(|e| failed(&e))?;
                std::hint::black_box(got);
                Ok(())
            };
            for _ in 0..WARM_UP_ROUND_TRIPS {
                round_trip()?;
            }
            let start = Instant::now();
            for _ in 0..round_trips {
                round_trip()?;
            }
            start.elapsed()
        }
        other => return Err(Skip::not_applicable(&format!("no mechanism `{other}`"))),
    };
    drop(channel);
    let _ = child.kill();
    let _ = child.wait();
    Ok(elapsed)
}

impl Model for Process {
    fn name(&self) -> &'static str {
        "process"
    }

    fn describe(&self) -> &'static str {
        "switchyard's process launcher (runtime::process), one OS process per unit"
    }

    fn kind(&self) -> Kind {
        Kind::Process
    }

    fn channel_note(&self) -> Option<&'static str> {
        Some("ping-pong of one byte over two pipes with a child process (started with Spawn)")
    }

    fn park_note(&self) -> Option<&'static str> {
        Some(
            "each unit a spawned process blocked on its channel; memory = parent growth + children's Pss",
        )
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
            Some(cpus) => pingpong_pipes(round_trips, cpus, seen),
            None => Err(Skip::not_applicable(
                "this process may use one CPU: no cross-core placement",
            )),
        }
    }

    fn pingpong_mechanisms(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "channel",
            "ping-pong of a 1-byte frame over the launcher's framed channel (two pipes)",
        )]
    }

    fn pingpong_over(
        &self,
        mechanism: &str,
        round_trips: u64,
        placement: Placement,
        seen: &Arc<Seen>,
    ) -> Outcome<Duration> {
        match (mechanism, placement.cpus()) {
            ("channel", Some(cpus)) => pingpong_channel(round_trips, cpus, seen),
            ("channel", None) => Err(Skip::not_applicable(
                "this process may use one CPU: no cross-core placement",
            )),
            (other, _) => Err(Skip::not_applicable(&format!(
                "no ping-pong mechanism `{other}`"
            ))),
        }
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        spawn_join_with(StartMethod::Spawn, n)
    }

    fn sleep_lateness(&self, probe: Probe) -> Outcome<Histogram<u64>> {
        let mut background = Vec::with_capacity(probe.background as usize);
        for i in 0..probe.background.min(BACKGROUND_PROCESSES) {
            let mut child = process::start(YIELDER, StartMethod::Spawn)
                .map_err(|e| Skip(format!("the machine refused background process {i}: {e}")))?;
            child
                .channel()
                .expect("fresh child has its channel")
                .recv::<()>()
                .map_err(|e| skip("background", e))?;
            background.push(child);
        }
        let mut prober = process::start(PROBE, StartMethod::Spawn).map_err(|e| skip("start", e))?;
        let channel = prober.channel().expect("fresh child has its channel");
        channel
            .send(&(probe.probes, probe.period.as_nanos() as u64))
            .map_err(|e| skip("probe", e))?;
        let late: Vec<u64> = channel.recv().map_err(|e| skip("probe", e))?;
        let _ = prober.wait();
        for mut child in background {
            // Anything on the channel stops it; then reap it.
            let _ = child.channel().expect("channel kept").send(&());
            let _ = child.wait();
        }
        let mut hist = stats::new_histogram();
        for ns in late {
            stats::record(&mut hist, ns);
        }
        Ok(hist)
    }

    fn spawn_variants(&self) -> &'static [&'static str] {
        &["fork", "forkserver", "command_true"]
    }

    fn spawn_join_variant(&self, variant: &str, n: u64) -> Outcome<Duration> {
        match variant {
            "fork" => spawn_join_with(StartMethod::Fork, n),
            "forkserver" => spawn_join_with(StartMethod::ForkServer, n),
            "command_true" => command_true(n),
            other => Err(Skip::not_applicable(&format!("no spawn variant `{other}`"))),
        }
    }

    fn park(&self, n: u64) -> Outcome<Parked> {
        let before = machine::resident_bytes();
        let mut children = Vec::with_capacity(n as usize);
        let start = Instant::now();
        for i in 0..n {
            let mut child = process::start(PARK, StartMethod::Spawn)
                .map_err(|e| Skip(format!("the machine refused process {i} of {n}: {e}")))?;
            child
                .channel()
                .expect("fresh child has its channel")
                .recv::<()>()
                .map_err(|e| skip("park", e))?;
            children.push(child);
        }
        let create = start.elapsed();
        let children_pss: u64 = children.iter().map(|c| pss_bytes(c.pid())).sum();
        let resident_growth = machine::resident_bytes().saturating_sub(before) + children_pss;
        // The scale experiment runs this in a throw-away process: the children must stay
        // parked until it exits (then they read end-of-stream and exit too).
        std::mem::forget(children);
        Ok(Parked {
            create,
            resident_growth,
        })
    }

    fn speedup_run(&self, chunks: u64, workers: usize) -> Outcome<Duration> {
        let chunksize = chunks.div_ceil(workers as u64 * SPEEDUP_MESSAGES_PER_WORKER);
        let pool = ProcessPool::<u64, u64>::builder(SPEEDUP)
            .workers(workers)
            .chunksize(chunksize.max(1) as usize)
            .build()
            .map_err(|e| skip("process pool", e))?;
        // Worker i on CPU i, as the experiment asks (the lab's pin to CPU 0 is inherited).
        for (i, pid) in pool.worker_pids().into_iter().enumerate() {
            let mut set = rustix::thread::CpuSet::new();
            set.set(i % workers.max(1));
            let pid = rustix::process::Pid::from_raw(pid);
            let _ = rustix::thread::sched_setaffinity(pid, &set);
        }
        // The pool's start-up is not part of the job: only the map is timed.
        let start = Instant::now();
        let results = pool.map(0..chunks);
        let elapsed = start.elapsed();
        let mut sum = 0u64;
        for r in results {
            sum = sum.wrapping_add(r.map_err(|e| skip("speedup task", e))?);
        }
        std::hint::black_box(sum);
        pool.shutdown();
        Ok(elapsed)
    }

    fn ipc_round_trips(&self, mechanism: &str, size: usize, round_trips: u64) -> Outcome<Duration> {
        ipc_parent(mechanism, size, round_trips)
    }

    fn sharing(&self, way: Share, units: u64, total: u64) -> Outcome<Duration> {
        sharing_processes(way, units, total)
    }

    fn fairness_turns(&self, units: u64, run_for: Duration) -> Outcome<Vec<Turns>> {
        fairness_processes(units, run_for)
    }

    fn blocking_lateness(&self, load: Blocking) -> Outcome<Blocked> {
        blocking_processes(load)
    }

    fn echo_serve(
        &self,
        listener: std::net::TcpListener,
        connections: u64,
        processes: &super::ServerProcesses,
    ) -> Outcome<()> {
        echo::serve_processes(listener, connections, processes)
    }

    fn sharing_note(&self, way: Share) -> Option<&'static str> {
        Some(match way {
            Share::Lock => {
                "a test-and-set lock (spin, then sched_yield) on an AtomicU32 in a SharedRegion: processes share no mutex of the launcher's"
            }
            Share::Atomic => "AtomicU64::fetch_add (Relaxed) in a SharedRegion every unit maps",
            Share::Message => {
                "one 8-byte write per increment into one pipe all units hold; the measuring process, the owner, reads it"
            }
        })
    }
}
