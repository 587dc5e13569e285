//! The process pool against what a Python user would compare it with (issue 10's speed
//! targets): a worker's start against `Command("/bin/true")`, and `map` over 2,000 trivial
//! items against Python's `Pool.map` with default settings.
//!
//! `cargo bench --bench procs` runs the criterion groups, then, where `python3` is installed,
//! `benches/procs_vs_python.py` with the same item and worker counts, and prints both medians
//! and their ratio. Report ratios, not absolute figures: the machine is shared.
//!
//! Then two side-by-side comparisons, interleaved round by round so that a machine whose load
//! drifts affects both sides of each ratio alike (the medians of the per-round ratios are
//! printed): a worker's start (`process::start(Spawn)` and `wait`) against
//! `Command::new("/bin/true")`, and a same-core ping-pong with a child (all on CPU 0) over the
//! launcher's channel (pipes), over a socket channel (what the channel was before the pipes),
//! over two raw pipes, and `perf bench sched pipe` where `perf` is installed; and the
//! speed-up S(2) of a CPU-bound `map`, as the lab's `speedup` runs it, with the manager's
//! prefetch and without.
//! `PROCS_BENCH_ONLY=side_by_side cargo bench --bench procs` runs only these.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use switchyard::runtime::process::{self, Channel, Entry, StartMethod};
use switchyard::scheduler::procs::{self, ProcessPool};

/// Items in `map` (the figure).
const ITEMS: u64 = 2_000;
/// Workers in every pool (the machine has 2 cores).
const WORKERS: usize = 2;
/// Workers in the start-up figures: enough that the spawn server's own start is amortised.
const POOL_WORKERS: usize = 8;
/// The item that makes `identity` kill its worker.
const DIE: u64 = u64::MAX;
/// Runs of the side-by-side comparison with Python (its script uses the same count).
const RUNS: usize = 50;

fn identity(x: u64) -> u64 {
    if x == DIE {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
    x
}

/// A child that exits as soon as it starts.
fn exit_at_once(_: Channel) {}

/// About 50 µs of integer hashing (the lab's `speedup` chunk, in spirit): the unit of the
/// speed-up comparison.
fn hash_chunk(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..HASH_ROUNDS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    x
}

/// Rounds of [`hash_chunk`]: about 50 µs on the 2-core VM. Picked by timing it there.
const HASH_ROUNDS: u32 = 16_000;
/// Items of the speed-up comparison (the lab's `speedup`: 2,000 full, 400 quick).
const SPEEDUP_ITEMS: u64 = 1_000;

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: cpu_set_t is plain data (all-zero is the empty set); CPU_SET writes inside it;
    // sched_setaffinity only reads it, and affects the calling thread alone.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Echoes frames, pinned to CPU 0: on its own channel, or on a socket channel whose socket
/// the parent sends (`true` in the first message).
fn echo_frames(mut channel: Channel) {
    let Ok(socket) = channel.recv::<bool>() else {
        return;
    };
    pin(0);
    let mut channel = if socket {
        match channel.recv_with_fd::<()>() {
            Ok(((), fd)) => Channel::from_fd(fd),
            Err(_) => return,
        }
    } else {
        channel
    };
    let mut buf = Vec::new();
    while channel.recv_bytes_into(&mut buf).is_ok() {
        if channel.send_bytes(&buf).is_err() {
            return;
        }
    }
}

/// Echoes single bytes from one raw pipe to another (both sent by the parent), pinned to
/// CPU 0, as `perf bench sched pipe`'s second process does.
fn echo_pipes(mut channel: Channel) {
    let (Ok(((), rx)), Ok(((), tx))) = (channel.recv_with_fd(), channel.recv_with_fd()) else {
        return;
    };
    pin(0);
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    let mut byte = [0u8];
    while rx.read(&mut byte).ok() == Some(1) {
        if tx.write(&byte).ok() != Some(1) {
            return;
        }
    }
}

fn start(c: &mut Criterion) {
    let mut g = c.benchmark_group("procs_start");
    g.sample_size(30);
    g.bench_function("command_bin_true", |b| {
        b.iter(|| Command::new("/bin/true").status().expect("/bin/true"))
    });
    for (name, method) in [
        ("process_start_spawn", StartMethod::Spawn),
        ("process_start_fork_server", StartMethod::ForkServer),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut child = process::start("exit", method).expect("start");
                child.wait().expect("wait")
            })
        });
    }
    for (name, server) in [
        ("pool_8_workers_spawn_server", true),
        ("pool_8_workers_spawn_each", false),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let pool = ProcessPool::<u64, u64>::builder("identity")
                    .workers(POOL_WORKERS)
                    .spawn_server(server)
                    .build()
                    .expect("pool");
                pool.shutdown();
            })
        });
    }
    // A replacement's cost: a task kills its worker; the pool reaps it, starts another, and
    // only then delivers the error (so the replacement's start is inside the figure).
    for (name, server) in [
        ("pool_replacement_spawn_server", true),
        ("pool_replacement_spawn_each", false),
    ] {
        let pool = ProcessPool::<u64, u64>::builder("identity")
            .workers(1)
            .spawn_server(server)
            .build()
            .expect("pool");
        g.bench_function(name, |b| b.iter(|| pool.apply(DIE).expect_err("died")));
    }
    g.finish();
}

fn map(c: &mut Criterion) {
    let pool = ProcessPool::<u64, u64>::builder("identity")
        .workers(WORKERS)
        .build()
        .expect("pool");
    let mut g = c.benchmark_group("procs_map");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("map_2000_default_chunksize", |b| {
        b.iter(|| pool.map(0..ITEMS))
    });
    let one = pool.calls().chunksize(1).expect("chunksize");
    g.bench_function("map_2000_chunksize_1", |b| b.iter(|| one.map(0..ITEMS)));
    g.bench_function("imap_unordered_2000", |b| {
        b.iter(|| pool.imap_unordered(0..ITEMS).count())
    });
    g.finish();
}

criterion_group!(benches, start, map);

/// Our `map` median over [`RUNS`] runs, measured as the Python script measures its own.
fn our_map_median() -> Duration {
    let pool = ProcessPool::<u64, u64>::builder("identity")
        .workers(WORKERS)
        .build()
        .expect("pool");
    pool.map(0..ITEMS);
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(pool.map(0..ITEMS));
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// Runs the Python side where `python3` exists, and prints both figures.
fn against_python() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/procs_vs_python.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(ITEMS.to_string())
        .arg(WORKERS.to_string())
        .output();
    let Some(output) = output.ok().filter(|o| o.status.success()) else {
        println!("python3 not found (or its script failed): no comparison with Python");
        return;
    };
    let ours = our_map_median().as_secs_f64() * 1e6;
    println!("switchyard_map_{ITEMS} {ours:.0}");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("{line}");
        let mut parts = line.split_whitespace();
        if let (Some(name), Some(us)) = (parts.next(), parts.next()) {
            if name.starts_with("python_pool_map") {
                if let Ok(us) = us.parse::<f64>() {
                    println!("ratio switchyard / Python Pool.map: {:.2}", ours / us);
                }
            }
        }
    }
}

/// Rounds of each side-by-side comparison.
const ROUNDS: usize = 7;
/// Starts per round in the start comparison.
const STARTS: usize = 20;
/// Round trips per round in the ping-pong comparison.
const ROUND_TRIPS: u32 = 5_000;

/// How a ping-pong reaches its echoing child.
enum Path {
    Channel(Box<Channel>),
    Pipes { tx: File, rx: File },
}

/// A pipe, both ends close-on-exec: `(read end, write end)`.
fn pipe() -> (File, File) {
    use std::os::fd::FromRawFd;
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, which has room for them.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// A child echoing over `kind` (`channel`, `socket`, `pipes`), and the way to it.
fn echo_child(kind: &str) -> (process::Child, Path) {
    let entry = if kind == "pipes" {
        "echo_pipes"
    } else {
        "echo_frames"
    };
    let mut child = process::start(entry, StartMethod::Spawn).expect("start");
    let mut channel = child.take_channel().expect("channel");
    let path = match kind {
        "channel" => {
            channel.send(&false).expect("send");
            Path::Channel(Box::new(channel))
        }
        "socket" => {
            let (ours, theirs) = Channel::pair().expect("socketpair");
            channel.send(&true).expect("send");
            channel.send_with_fd(&(), theirs.socket()).expect("send");
            drop(theirs);
            // The launcher's channel stays open beside it (dropped with the child).
            std::mem::forget(channel);
            Path::Channel(Box::new(ours))
        }
        _ => {
            let (to_r, to_w) = pipe();
            let (from_r, from_w) = pipe();
            channel.send_with_fd(&(), to_r.as_fd()).expect("send");
            channel.send_with_fd(&(), from_w.as_fd()).expect("send");
            Path::Pipes {
                tx: to_w,
                rx: from_r,
            }
        }
    };
    (child, path)
}

/// `n` round trips of one byte (a one-byte frame on a channel).
fn round_trips(path: &mut Path, n: u32) -> Duration {
    let start = Instant::now();
    match path {
        Path::Channel(c) => {
            let mut buf = Vec::new();
            for _ in 0..n {
                c.send_bytes(&[7]).expect("ping");
                c.recv_bytes_into(&mut buf).expect("pong");
            }
        }
        Path::Pipes { tx, rx } => {
            let mut byte = [7u8];
            for _ in 0..n {
                assert_eq!(tx.write(&byte).ok(), Some(1));
                assert_eq!(rx.read(&mut byte).ok(), Some(1));
            }
        }
    }
    start.elapsed()
}

/// `taskset -c 0 perf bench sched pipe -l n`'s µs per round trip, if `perf` runs here.
fn perf_sched_pipe(n: u32) -> Option<f64> {
    let out = Command::new("taskset")
        .args(["-c", "0", "perf", "bench", "sched", "pipe", "-l"])
        .arg(n.to_string())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.contains("usecs/op"))?
        .split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints `name median (min..max)` of one series.
fn print_series(name: &str, v: &[f64], unit: &str) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    println!(
        "{name:<40} {:>9.2} {unit} (min {min:.2}, max {max:.2})",
        median(v.to_vec())
    );
}

/// The two side-by-side comparisons of the module docs.
fn side_by_side() {
    // Starts: /bin/true against a child that exits at once, STARTS of each per round.
    let (mut ours, mut bin_true, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for _ in 0..STARTS {
            Command::new("/bin/true").status().expect("/bin/true");
        }
        let b = t.elapsed().as_secs_f64() * 1e6 / STARTS as f64;
        let t = Instant::now();
        for _ in 0..STARTS {
            let mut child = process::start("exit", StartMethod::Spawn).expect("start");
            child.wait().expect("wait");
        }
        let o = t.elapsed().as_secs_f64() * 1e6 / STARTS as f64;
        bin_true.push(b);
        ours.push(o);
        ratio.push(o / b);
    }
    print_series("start: Command(/bin/true)", &bin_true, "µs");
    print_series("start: process::start(Spawn) + wait", &ours, "µs");
    print_series("start: ratio Spawn / Command(/bin/true)", &ratio, "x");

    // Same-core ping-pong. This thread joins its children on CPU 0.
    pin(0);
    let kinds = ["channel", "socket", "pipes"];
    let mut children: Vec<_> = kinds.iter().map(|k| echo_child(k)).collect();
    for (_, path) in &mut children {
        round_trips(path, ROUND_TRIPS / 10);
    }
    let mut us: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let (mut perf, mut vs_perf, mut vs_pipes, mut vs_socket) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        for (i, (_, path)) in children.iter_mut().enumerate() {
            us[i].push(round_trips(path, ROUND_TRIPS).as_secs_f64() * 1e6 / f64::from(ROUND_TRIPS));
        }
        let last = |i: usize| *us[i].last().expect("a round");
        vs_pipes.push(last(0) / last(2));
        vs_socket.push(last(0) / last(1));
        if let Some(p) = perf_sched_pipe(ROUND_TRIPS) {
            perf.push(p);
            vs_perf.push(last(0) / p);
        }
    }
    drop(children);
    for (kind, v) in kinds.iter().zip(&us) {
        print_series(&format!("pingpong same core: {kind}"), v, "µs");
    }
    print_series("pingpong: ratio channel / socket channel", &vs_socket, "x");
    print_series("pingpong: ratio channel / raw pipes", &vs_pipes, "x");
    if perf.is_empty() {
        println!("perf bench sched pipe did not run: no comparison with it");
    } else {
        print_series("pingpong same core: perf bench sched pipe", &perf, "µs");
        print_series("pingpong: ratio channel / perf", &vs_perf, "x");
    }

    // Speed-up S(2) = T(1) / T(2) of SPEEDUP_ITEMS hashing chunks, as the lab's `speedup`
    // runs it (worker i on CPU i, this thread and the manager on CPU 0), with 8 messages per
    // worker (the lab's figure before) and 32 (after), with and without the manager's
    // prefetch.
    let setups = [(8, true), (32, true), (32, false)];
    let mut s2: Vec<Vec<f64>> = vec![Vec::new(); setups.len()];
    for _ in 0..ROUNDS {
        for (i, &(messages, prefetch)) in setups.iter().enumerate() {
            let t = |workers| speedup_time(workers, messages, prefetch).as_secs_f64() * 1e3;
            let (t1, t2) = (t(1), t(2));
            if std::env::var_os("PROCS_BENCH_VERBOSE").is_some() {
                println!(
                    "  {messages} messages per worker, prefetch {prefetch}: T(1) {t1:.1} ms, T(2) {t2:.1} ms"
                );
            }
            s2[i].push(t1 / t2);
        }
    }
    for (&(messages, prefetch), v) in setups.iter().zip(&s2) {
        let how = if prefetch {
            "prefetch"
        } else {
            "one chunk at a time"
        };
        print_series(
            &format!("speedup S(2), {messages} msgs/worker, {how}"),
            v,
            "x",
        );
    }
}

/// The time of one `map` of the speed-up job on `workers` workers, in chunks of about
/// `messages_per_worker` messages per worker (the pool's start-up not included).
fn speedup_time(workers: usize, messages_per_worker: u64, prefetch: bool) -> Duration {
    let chunksize = SPEEDUP_ITEMS.div_ceil(workers as u64 * messages_per_worker) as usize;
    let pool = ProcessPool::<u64, u64>::builder("hash_chunk")
        .workers(workers)
        .chunksize(chunksize)
        .prefetch(prefetch)
        .build()
        .expect("pool");
    for (cpu, pid) in pool.worker_pids().into_iter().enumerate() {
        // SAFETY: as in `pin`, for another process of ours.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(pid, size_of::<libc::cpu_set_t>(), &set);
        }
    }
    let start = Instant::now();
    let results = pool.map(0..SPEEDUP_ITEMS);
    let elapsed = start.elapsed();
    assert!(results.iter().all(Result::is_ok));
    pool.shutdown();
    elapsed
}

fn main() {
    process::Init::new()
        .entry(procs::task("identity", identity))
        .entry(Entry::new("exit", exit_at_once))
        .entry(Entry::new("echo_frames", echo_frames))
        .entry(Entry::new("echo_pipes", echo_pipes))
        .entry(procs::task("hash_chunk", hash_chunk))
        .fork_server(true)
        .run()
        .expect("init");
    if std::env::var("PROCS_BENCH_ONLY").as_deref() == Ok("side_by_side") {
        side_by_side();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench -- --test` (CI) runs each bench once to see that it works: no comparison.
    if !std::env::args().any(|a| a == "--test") {
        against_python();
        side_by_side();
    }
}
