//! The loop against tokio's current_thread runtime and async-executor's `LocalExecutor`, in
//! the shapes of tokio's own runtime benches. Every peer runs the same workload in the same
//! run; compare within one run (criterion prints each), as ratios.
//!
//! - `spawn_many`: from inside the runtime, spawn 10,000 empty tasks, then await them all.
//! - `yield_many`: 200 tasks each yield 1,000 times.
//! - `ping_pong`: two tasks pass a token 1,000 times over two capacity-1 channels.
//! - `chained_spawn`: a task spawns a task that spawns a task ... 1,000 deep.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use switchyard::runtime::sync::mpsc as sy_mpsc;
use switchyard::scheduler::local::{EventLoop, spawn_local, yield_now};

const SPAWN_MANY: usize = 10_000;
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 1_000;
const ROUND_TRIPS: usize = 1_000;
const CHAIN_DEPTH: usize = 1_000;

fn loop_spawn_many(el: &mut EventLoop) {
    el.block_on(async {
        let handles: Vec<_> = (0..SPAWN_MANY)
            .map(|i| spawn_local(async move { black_box(i) }).unwrap())
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

fn loop_yield_many(el: &mut EventLoop) {
    el.block_on(async {
        let handles: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                spawn_local(async {
                    for _ in 0..YIELDS {
                        yield_now().await;
                    }
                })
                .unwrap()
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

fn loop_ping_pong(el: &mut EventLoop) {
    el.block_on(async {
        let (ping_tx, mut ping_rx) = sy_mpsc::channel::<usize>(1);
        let (pong_tx, mut pong_rx) = sy_mpsc::channel::<usize>(1);
        let echo = spawn_local(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        })
        .unwrap();
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i));
        }
        drop(ping_tx);
        echo.await.unwrap();
    });
}

fn loop_chain(depth: usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize>>> {
    Box::pin(async move {
        if depth == 0 {
            0
        } else {
            spawn_local(loop_chain(depth - 1)).unwrap().await.unwrap() + 1
        }
    })
}

fn loop_chained_spawn(el: &mut EventLoop) {
    assert_eq!(el.block_on(loop_chain(CHAIN_DEPTH)), CHAIN_DEPTH);
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn tokio_spawn_many(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let handles: Vec<_> = (0..SPAWN_MANY)
            .map(|i| tokio::spawn(async move { black_box(i) }))
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

fn tokio_yield_many(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let handles: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                tokio::spawn(async {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<usize>(1);
        let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<usize>(1);
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i));
        }
        drop(ping_tx);
        echo.await.unwrap();
    });
}

fn tokio_chain(depth: usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            0
        } else {
            tokio::spawn(tokio_chain(depth - 1)).await.unwrap() + 1
        }
    })
}

fn tokio_chained_spawn(rt: &tokio::runtime::Runtime) {
    assert_eq!(rt.block_on(tokio_chain(CHAIN_DEPTH)), CHAIN_DEPTH);
}

fn ae_spawn_many(ex: &async_executor::LocalExecutor<'static>) {
    futures_lite::future::block_on(ex.run(async {
        let tasks: Vec<_> = (0..SPAWN_MANY)
            .map(|i| ex.spawn(async move { black_box(i) }))
            .collect();
        for t in tasks {
            t.await;
        }
    }));
}

fn ae_yield_many(ex: &async_executor::LocalExecutor<'static>) {
    futures_lite::future::block_on(ex.run(async {
        let tasks: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                ex.spawn(async {
                    for _ in 0..YIELDS {
                        futures_lite::future::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
    }));
}

fn ae_ping_pong(ex: &async_executor::LocalExecutor<'static>) {
    futures_lite::future::block_on(ex.run(async {
        let (ping_tx, ping_rx) = async_channel::bounded::<usize>(1);
        let (pong_tx, pong_rx) = async_channel::bounded::<usize>(1);
        let echo = ex.spawn(async move {
            while let Ok(v) = ping_rx.recv().await {
                pong_tx.send(v).await.unwrap();
            }
        });
        for i in 0..ROUND_TRIPS {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Ok(i));
        }
        drop(ping_tx);
        echo.await;
    }));
}

fn ae_chain(
    ex: &'static async_executor::LocalExecutor<'static>,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize>>> {
    Box::pin(async move {
        if depth == 0 {
            0
        } else {
            ex.spawn(ae_chain(ex, depth - 1)).await + 1
        }
    })
}

fn ae_chained_spawn(ex: &'static async_executor::LocalExecutor<'static>) {
    let out = futures_lite::future::block_on(ex.run(ae_chain(ex, CHAIN_DEPTH)));
    assert_eq!(out, CHAIN_DEPTH);
}

fn benches(c: &mut Criterion) {
    let mut el = EventLoop::new().unwrap();
    let rt = tokio_rt();
    // Leaked so that chained tasks can borrow it for 'static; one per bench process.
    let ex: &'static async_executor::LocalExecutor<'static> =
        Box::leak(Box::new(async_executor::LocalExecutor::new()));

    let mut group = c.benchmark_group("spawn_many");
    group.throughput(Throughput::Elements(SPAWN_MANY as u64));
    group.bench_function(BenchmarkId::new("loop", SPAWN_MANY), |b| {
        b.iter(|| loop_spawn_many(&mut el))
    });
    group.bench_function(BenchmarkId::new("tokio-ct", SPAWN_MANY), |b| {
        b.iter(|| tokio_spawn_many(&rt))
    });
    group.bench_function(BenchmarkId::new("async-executor", SPAWN_MANY), |b| {
        b.iter(|| ae_spawn_many(ex))
    });
    group.finish();

    let mut group = c.benchmark_group("yield_many");
    group.throughput(Throughput::Elements((YIELD_TASKS * YIELDS) as u64));
    group.bench_function("loop", |b| b.iter(|| loop_yield_many(&mut el)));
    group.bench_function("tokio-ct", |b| b.iter(|| tokio_yield_many(&rt)));
    group.bench_function("async-executor", |b| b.iter(|| ae_yield_many(ex)));
    group.finish();

    let mut group = c.benchmark_group("ping_pong");
    group.throughput(Throughput::Elements(ROUND_TRIPS as u64));
    group.bench_function("loop", |b| b.iter(|| loop_ping_pong(&mut el)));
    group.bench_function("tokio-ct", |b| b.iter(|| tokio_ping_pong(&rt)));
    group.bench_function("async-executor", |b| b.iter(|| ae_ping_pong(ex)));
    group.finish();

    let mut group = c.benchmark_group("chained_spawn");
    group.throughput(Throughput::Elements(CHAIN_DEPTH as u64));
    group.bench_function("loop", |b| b.iter(|| loop_chained_spawn(&mut el)));
    group.bench_function("tokio-ct", |b| b.iter(|| tokio_chained_spawn(&rt)));
    group.bench_function("async-executor", |b| b.iter(|| ae_chained_spawn(ex)));
    group.finish();
}

criterion_group!(local, benches);
criterion_main!(local);
