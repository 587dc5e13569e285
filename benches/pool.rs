//! The pool side by side with its peers, in one run: tokio's `multi_thread` runtime,
//! async-executor's `Executor` on 2 threads, and rayon (for closures).
//!
//! Every peer gets the same number of worker threads ([`WORKERS`]) and the same workload; the
//! channels in `ping_pong` are tokio's `mpsc` for every runtime (they are runtime-agnostic), so
//! the figure compares schedulers, not channels. Report ratios (ISSUE 3's targets), not
//! absolute figures: the machine is shared.
//!
//! The runtimes are configured as in the lab (docs/lab.md; `lab/src/models`): worker thread
//! `i` of each is placed on CPU `i % WORKERS` ([`place_worker`], the lab's
//! `experiments::speedup::place_worker`), and tokio's `multi_thread` runtime is built with
//! `enable_all()`, as the pool has its reactor, timers and stall monitor on.
//!
//! `cargo bench --bench pool` (add `-- spawn_many` to pick one group); `cargo bench --bench
//! pool -- --test` runs each benchmark once, as a test; `SPAWN_CPU=3 cargo bench --bench pool`
//! gives `spawn_many`'s CPU time per task instead ([`spawn_cpu`]).

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group};
use std::sync::Arc;
use std::time::Duration;
use switchyard::scheduler::pool::{Pool, PoolHandle};

/// Worker threads for every runtime: the targets are for 2 cores.
const WORKERS: usize = 2;
/// Tasks per iteration of `spawn_many` and `yield_many`.
const TASKS: usize = 10_000;
/// Yields per task in `yield_many`.
const YIELDS: usize = 20;
/// Round trips per iteration of `ping_pong`.
const ROUND_TRIPS: usize = 1_000;
/// Depth of `chained_spawn`.
const CHAIN: usize = 1_000;

/// Places the calling thread on CPU `index % WORKERS` (best effort), as the lab does.
fn place_worker(index: usize) {
    // SAFETY: `set` is a plain bit set owned by this frame; `sched_setaffinity` reads
    // `size_of::<cpu_set_t>()` bytes of it and keeps no pointer.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(index % WORKERS, &mut set);
        let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A counter that hands out worker indices to runtimes that do not number their threads.
fn placer() -> impl Fn() + Send + Sync + 'static {
    let next = std::sync::atomic::AtomicUsize::new(0);
    move || place_worker(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// The pool as every group uses it; `POOL_SPIN_US=n` sets its spin budget
/// (`Builder::spin_before_sleep`), for a sweep of that knob.
fn pool() -> Pool {
    let mut builder = Pool::builder();
    if let Some(us) = std::env::var("POOL_SPIN_US")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder = builder.spin_before_sleep(std::time::Duration::from_micros(us));
    }
    builder
        .workers(WORKERS)
        .thread_name(|i| format!("bench-pool-{i}"))
        .on_thread_start(|| {
            // Workers are numbered first (0..WORKERS), then any spare thread.
            let index = std::thread::current()
                .name()
                .and_then(|n| n.strip_prefix("bench-pool-"))
                .and_then(|i| i.parse().ok())
                .unwrap_or(0);
            place_worker(index);
        })
        .build()
        .expect("pool")
}

fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .on_thread_start(placer())
        .build()
        .expect("tokio")
}

/// async-executor's `Executor` run by `WORKERS` threads until dropped.
struct AsyncExecutor {
    ex: Arc<async_executor::Executor<'static>>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl AsyncExecutor {
    fn new() -> Self {
        let ex = Arc::new(async_executor::Executor::new());
        let (tx, rx) = tokio::sync::watch::channel(false);
        let threads = (0..WORKERS)
            .map(|i| {
                let (ex, mut rx) = (ex.clone(), rx.clone());
                std::thread::spawn(move || {
                    place_worker(i);
                    futures_lite::future::block_on(ex.run(async move {
                        let _ = rx.wait_for(|stop| *stop).await;
                    }))
                })
            })
            .collect();
        AsyncExecutor {
            ex,
            stop: Some(tx),
            threads,
        }
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// `spawn_many`'s workload on the pool: from inside a task, spawn `TASKS` empty tasks, then
/// join them all.
fn pool_spawn_many(pool: &Pool, handle: &PoolHandle) {
    let handle = handle.clone();
    pool.block_on(pool.spawn(async move {
        let joins: Vec<_> = (0..TASKS).map(|_| handle.spawn(async {})).collect();
        for join in joins {
            join.await.unwrap();
        }
    }))
    .unwrap()
}

fn spawn_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_many");
    group.throughput(criterion::Throughput::Elements(TASKS as u64));
    {
        let pool = pool();
        let handle = pool.handle();
        group.bench_function("switchyard_pool", |b| {
            b.iter(|| pool_spawn_many(&pool, &handle))
        });
    }
    {
        let rt = tokio_mt();
        group.bench_function("tokio_multi_thread", |b| {
            b.iter(|| {
                rt.block_on(rt.spawn(async {
                    let joins: Vec<_> = (0..TASKS).map(|_| tokio::spawn(async {})).collect();
                    for join in joins {
                        join.await.unwrap();
                    }
                }))
                .unwrap()
            })
        });
    }
    {
        let ae = AsyncExecutor::new();
        group.bench_function("async_executor", |b| {
            b.iter(|| {
                let ex = ae.ex.clone();
                futures_lite::future::block_on(ae.ex.spawn(async move {
                    let joins: Vec<_> = (0..TASKS).map(|_| ex.spawn(async {})).collect();
                    for join in joins {
                        join.await;
                    }
                }))
            })
        });
    }
    {
        let pool = pool();
        group.bench_function("switchyard_pool_scope_closures", |b| {
            b.iter(|| {
                pool.scope(|s| {
                    for _ in 0..TASKS {
                        s.spawn(|| {});
                    }
                })
            })
        });
    }
    {
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(WORKERS)
            .start_handler(place_worker)
            .build()
            .expect("rayon");
        group.bench_function("rayon_scope_closures", |b| {
            b.iter(|| {
                rayon.scope(|s| {
                    for _ in 0..TASKS {
                        s.spawn(|_| {});
                    }
                })
            })
        });
    }
    group.finish();
}

/// A future that returns `Pending` once (waking itself), like every runtime's `yield_now`.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

fn yield_many(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_many");
    group.throughput(criterion::Throughput::Elements((TASKS * YIELDS) as u64));
    let work = || async {
        for _ in 0..YIELDS {
            yield_once().await;
        }
    };
    {
        let pool = pool();
        let handle = pool.handle();
        group.bench_function("switchyard_pool", |b| {
            b.iter(|| {
                let handle = handle.clone();
                pool.block_on(pool.spawn(async move {
                    let joins: Vec<_> = (0..TASKS).map(|_| handle.spawn(work())).collect();
                    for join in joins {
                        join.await.unwrap();
                    }
                }))
                .unwrap()
            })
        });
    }
    {
        let rt = tokio_mt();
        group.bench_function("tokio_multi_thread", |b| {
            b.iter(|| {
                rt.block_on(rt.spawn(async move {
                    let joins: Vec<_> = (0..TASKS).map(|_| tokio::spawn(work())).collect();
                    for join in joins {
                        join.await.unwrap();
                    }
                }))
                .unwrap()
            })
        });
    }
    {
        let ae = AsyncExecutor::new();
        group.bench_function("async_executor", |b| {
            b.iter(|| {
                let ex = ae.ex.clone();
                futures_lite::future::block_on(ae.ex.spawn(async move {
                    let joins: Vec<_> = (0..TASKS).map(|_| ex.spawn(work())).collect();
                    for join in joins {
                        join.await;
                    }
                }))
            })
        });
    }
    group.finish();
}

/// Two tasks pass a token back and forth `ROUND_TRIPS` times over two capacity-1 channels.
async fn ping(tx: tokio::sync::mpsc::Sender<u32>, mut rx: tokio::sync::mpsc::Receiver<u32>) {
    for i in 0..ROUND_TRIPS as u32 {
        tx.send(i).await.unwrap();
        rx.recv().await.unwrap();
    }
}

async fn pong(tx: tokio::sync::mpsc::Sender<u32>, mut rx: tokio::sync::mpsc::Receiver<u32>) {
    while let Some(i) = rx.recv().await {
        if tx.send(i).await.is_err() {
            break;
        }
    }
}

/// One end of a ping-pong: where it sends, where it receives.
type End = (
    tokio::sync::mpsc::Sender<u32>,
    tokio::sync::mpsc::Receiver<u32>,
);

fn channels() -> (End, End) {
    let (a_tx, a_rx) = tokio::sync::mpsc::channel(1);
    let (b_tx, b_rx) = tokio::sync::mpsc::channel(1);
    ((a_tx, b_rx), (b_tx, a_rx))
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group.throughput(criterion::Throughput::Elements(ROUND_TRIPS as u64));
    {
        let pool = pool();
        let handle = pool.handle();
        group.bench_function("switchyard_pool", |b| {
            b.iter(|| {
                let handle = handle.clone();
                pool.block_on(pool.spawn(async move {
                    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = channels();
                    let pong = handle.spawn(pong(pong_tx, pong_rx));
                    ping(ping_tx, ping_rx).await;
                    pong.await.unwrap();
                }))
                .unwrap()
            })
        });
    }
    {
        let rt = tokio_mt();
        group.bench_function("tokio_multi_thread", |b| {
            b.iter(|| {
                rt.block_on(rt.spawn(async move {
                    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = channels();
                    let pong = tokio::spawn(pong(pong_tx, pong_rx));
                    ping(ping_tx, ping_rx).await;
                    pong.await.unwrap();
                }))
                .unwrap()
            })
        });
    }
    {
        let ae = AsyncExecutor::new();
        group.bench_function("async_executor", |b| {
            b.iter(|| {
                let ex = ae.ex.clone();
                futures_lite::future::block_on(ae.ex.spawn(async move {
                    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = channels();
                    let pong = ex.spawn(pong(pong_tx, pong_rx));
                    ping(ping_tx, ping_rx).await;
                    pong.await;
                }))
            })
        });
    }
    group.finish();
}

fn chained_spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("chained_spawn");
    group.throughput(criterion::Throughput::Elements(CHAIN as u64));
    {
        fn chain(handle: PoolHandle, n: usize, done: tokio::sync::oneshot::Sender<()>) {
            if n == 0 {
                let _ = done.send(());
                return;
            }
            let next = handle.clone();
            handle.spawn(async move { chain(next, n - 1, done) });
        }
        let pool = pool();
        let handle = pool.handle();
        group.bench_function("switchyard_pool", |b| {
            b.iter(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                chain(handle.clone(), CHAIN, tx);
                pool.block_on(rx).unwrap();
            })
        });
    }
    {
        fn chain(n: usize, done: tokio::sync::oneshot::Sender<()>) {
            if n == 0 {
                let _ = done.send(());
                return;
            }
            tokio::spawn(async move { chain(n - 1, done) });
        }
        let rt = tokio_mt();
        group.bench_function("tokio_multi_thread", |b| {
            b.iter(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                rt.spawn(async move { chain(CHAIN, tx) });
                rt.block_on(rx).unwrap();
            })
        });
    }
    {
        fn chain(
            ex: Arc<async_executor::Executor<'static>>,
            n: usize,
            done: tokio::sync::oneshot::Sender<()>,
        ) {
            if n == 0 {
                let _ = done.send(());
                return;
            }
            let next = ex.clone();
            ex.spawn(async move { chain(next, n - 1, done) }).detach();
        }
        let ae = AsyncExecutor::new();
        group.bench_function("async_executor", |b| {
            b.iter(|| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                chain(ae.ex.clone(), CHAIN, tx);
                futures_lite::future::block_on(rx).unwrap();
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the machine is shared; criterion's defaults (5 s x 100 samples per bench)
    // would take minutes per group.
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = spawn_many, yield_many, ping_pong, chained_spawn
}

/// The process's CPU time (user and system, every thread), in ns: the process CPU-time clock,
/// which counts in ns where `getrusage` counts in µs.
fn process_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// `SPAWN_CPU=rounds cargo bench --bench pool`: instead of criterion, the CPU time per task
/// of `spawn_many`'s workload (100 iterations of `TASKS` spawns and joins after one to warm
/// up, from the process CPU-time clock, so every thread of the process counts), for the pool,
/// async-executor and rayon in turn, `rounds` times; steadier than wall time on a shared
/// machine.
fn spawn_cpu(rounds: usize) {
    const ITERATIONS: usize = 100;
    fn measure(name: &str, mut iteration: impl FnMut()) {
        iteration();
        let (cpu, wall) = (process_cpu_ns(), std::time::Instant::now());
        for _ in 0..ITERATIONS {
            iteration();
        }
        let tasks = (ITERATIONS * TASKS) as f64;
        println!(
            "spawn_cpu/{name}: cpu {:.1} ns/task, wall {:.1} ns/task",
            (process_cpu_ns() - cpu) as f64 / tasks,
            wall.elapsed().as_nanos() as f64 / tasks
        );
    }
    for _ in 0..rounds {
        {
            let pool = pool();
            let handle = pool.handle();
            measure("switchyard_pool", || pool_spawn_many(&pool, &handle));
        }
        {
            let ae = AsyncExecutor::new();
            measure("async_executor", || {
                let ex = ae.ex.clone();
                futures_lite::future::block_on(ae.ex.spawn(async move {
                    let joins: Vec<_> = (0..TASKS).map(|_| ex.spawn(async {})).collect();
                    for join in joins {
                        join.await;
                    }
                }))
            });
        }
        {
            let rayon = rayon::ThreadPoolBuilder::new()
                .num_threads(WORKERS)
                .start_handler(place_worker)
                .build()
                .expect("rayon");
            measure("rayon_scope_closures", || {
                rayon.scope(|s| {
                    for _ in 0..TASKS {
                        s.spawn(|_| {});
                    }
                })
            });
        }
    }
}

fn main() {
    if let Some(rounds) = std::env::var("SPAWN_CPU").ok().and_then(|r| r.parse().ok()) {
        spawn_cpu(rounds);
        return;
    }
    // What `criterion_main!(benches)` expands to.
    benches();
    Criterion::default().configure_from_args().final_summary();
}
