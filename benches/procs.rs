//! The process pool against what a Python user would compare it with (issue 10's speed
//! targets): a worker's start against `Command("/bin/true")`, and `map` over 2,000 trivial
//! items against Python's `Pool.map` with default settings.
//!
//! `cargo bench --bench procs` runs the criterion groups, then, where `python3` is installed,
//! `benches/procs_vs_python.py` with the same item and worker counts, and prints both medians
//! and their ratio. Report ratios, not absolute figures: the machine is shared.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

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

fn main() {
    process::Init::new()
        .entry(procs::task("identity", identity))
        .entry(Entry::new("exit", exit_at_once))
        .fork_server(true)
        .run()
        .expect("init");
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench -- --test` (CI) runs each bench once to see that it works: no comparison.
    if !std::env::args().any(|a| a == "--test") {
        against_python();
    }
}
