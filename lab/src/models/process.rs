//! Model `process`: switchyard's process launcher (`runtime::process`), one OS process per
//! unit.
//!
//! * yield is `sched_yield` (a process yields as a thread does);
//! * ping-pong passes a one-byte frame back and forth over the launcher's framed socketpair
//!   [`Channel`] between this process and a child started with the default start method;
//!   each side pins itself for the placement;
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
//! The lab's `main` calls [`entries`] through `process::init` first, so its children find
//! these entry points.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use switchyard_runtime::process::{
    self, Channel, Child, Entry, StartMethod, ring, shm::SharedRegion,
};

use switchyard_scheduler::procs::{self, ProcessPool};

use super::{Kind, Model, Outcome, Parked, Placement, Skip};
use crate::machine;

/// See the [module docs](self).
pub struct Process;

const ECHO: &str = "lab.echo";
const EXIT: &str = "lab.exit";
const PARK: &str = "lab.park";
const IPC: &str = "lab.ipc";
const SPEEDUP: &str = "lab.speedup";

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
        Entry::new(EXIT, |_| {}),
        Entry::new(PARK, park_child),
        Entry::new(IPC, ipc_child),
        procs::task(SPEEDUP, crate::experiments::speedup::chunk),
    ]
}

fn skip(what: &str, e: impl std::fmt::Display) -> Skip {
    Skip(format!("{what}: {e}"))
}

/// Pins itself as told, then echoes frames until the parent closes.
fn echo(mut channel: Channel) {
    let Ok(core) = channel.recv::<u32>() else {
        return;
    };
    if core != NO_PIN {
        machine::pin_current(core as usize);
    }
    if channel.send(&()).is_err() {
        return;
    }
    let mut frame = Vec::new();
    while channel.recv_bytes_into(&mut frame).is_ok() {
        if channel.send_bytes(&frame).is_err() {
            return;
        }
    }
}

/// Blocks on its channel until the parent goes away.
fn park_child(mut channel: Channel) {
    let _ = channel.send(&());
    let _ = channel.recv_bytes();
}

fn pingpong_process(round_trips: u64, cores: (u32, u32)) -> Outcome<Duration> {
    let pinger = std::thread::spawn(move || -> Outcome<Duration> {
        machine::pin_current(cores.0 as usize);
        let mut child = process::start(ECHO, StartMethod::Spawn).map_err(|e| skip("start", e))?;
        let channel = child.channel().expect("fresh child has its channel");
        channel.send(&cores.1).map_err(|e| skip("pin", e))?;
        channel.recv::<()>().map_err(|e| skip("pin", e))?;
        let token = [0u8; 1];
        let start = Instant::now();
        for _ in 0..round_trips {
            channel.send_bytes(&token).map_err(|e| skip("ping", e))?;
            channel.recv_with(|_| ()).map_err(|e| skip("pong", e))?;
        }
        let elapsed = start.elapsed();
        drop(child.take_channel());
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
            while rx.recv(&mut buf).is_ok() && tx.send(&buf).is_ok() {}
        }
        _ => {}
    }
}

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
            let start = Instant::now();
            for _ in 0..round_trips {
                channel.send_bytes(&message).map_err(|e| failed(&e))?;
                channel.recv_bytes_into(&mut buf).map_err(|e| failed(&e))?;
            }
            start.elapsed()
        }
        "pipe" => {
            let (to_r, to_w) = rustix::pipe::pipe().map_err(|e| failed(&e))?;
            let (from_r, from_w) = rustix::pipe::pipe().map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), to_r.as_fd())
                .map_err(|e| failed(&e))?;
            channel
                .send_with_fd(&(), from_w.as_fd())
                .map_err(|e| failed(&e))?;
            drop((to_r, from_w));
            channel.recv::<()>().map_err(|e| failed(&e))?;
            let (mut w, mut r) = (std::fs::File::from(to_w), std::fs::File::from(from_r));
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
            let mut back = Vec::with_capacity(size);
            let start = Instant::now();
            for _ in 0..round_trips {
                tx.send(&message).map_err(|e| failed(&e))?;
                rx.recv(&mut back).map_err(|e| failed(&e))?;
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
        Some(
            "ping-pong of a 1-byte frame over the launcher's socketpair channel (child started with Spawn)",
        )
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

    fn pingpong(&self, round_trips: u64, placement: Placement) -> Outcome<Duration> {
        match placement {
            Placement::SameCore => pingpong_process(round_trips, (0, 0)),
            Placement::CrossCore if machine::cores() < 2 => Err(Skip::not_applicable(
                "this machine has one core: no cross-core placement",
            )),
            Placement::CrossCore => pingpong_process(round_trips, (0, 1)),
        }
    }

    fn spawn_join(&self, n: u64) -> Outcome<Duration> {
        spawn_join_with(StartMethod::Spawn, n)
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
}
