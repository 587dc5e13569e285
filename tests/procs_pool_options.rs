//! The pool's options and APIs, one behaviour each: initializer, a failing initializer,
//! max_tasks_per_child, chunksize, imap_unordered (Iterator and Stream), apply_async (wait and
//! await), graceful shutdown, terminate, and the fork server start method.
mod process_support;

use std::sync::atomic::{AtomicU32, Ordering};

use futures_lite::StreamExt;
use switchyard::runtime::process::{self, Entry, StartMethod};
use switchyard::scheduler::procs::{self, PoolError, ProcessPool, TaskError};

/// Set by the initializer in each worker.
static INITIALIZED: AtomicU32 = AtomicU32::new(0);

fn set_up() {
    INITIALIZED.store(42, Ordering::Relaxed);
}

fn broken_set_up() {
    panic!("initializer cannot open its database");
}

/// Returns (the worker's pid, what the initializer left, the input).
fn inspect(x: u32) -> (u32, u32, u32) {
    (std::process::id(), INITIALIZED.load(Ordering::Relaxed), x)
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

fn builder() -> procs::Builder<u32, (u32, u32, u32)> {
    ProcessPool::builder("inspect")
}

fn the_initializer_runs_in_every_worker_before_tasks() {
    let pool = builder().workers(2).initializer("set_up").build().unwrap();
    for r in pool.map(0..20) {
        assert_eq!(r.unwrap().1, 42);
    }
    let plain = builder().workers(1).build().unwrap();
    assert_eq!(plain.apply_async(0).wait().unwrap().1, 0);
}

fn a_panicking_initializer_fails_the_build() {
    let err = builder()
        .workers(2)
        .initializer("broken_set_up")
        .build()
        .unwrap_err();
    let PoolError::WorkerStartup { pid, status } = &err else {
        panic!("expected WorkerStartup, got {err:?}");
    };
    assert_eq!(*status, process::ExitStatus::Exited(process::EXIT_PANIC));
    assert_eq!(
        err.to_string(),
        format!(
            "pool worker {pid} exited with code 101 before it was ready (does the initializer \
             panic?)"
        )
    );
}

fn max_tasks_per_child_replaces_workers() {
    let pool = builder()
        .workers(1)
        .chunksize(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let pids: Vec<u32> = pool.map(0..10).into_iter().map(|r| r.unwrap().0).collect();
    let mut distinct = pids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{pids:?}");
    for pair in pids.chunks(2) {
        assert_eq!(pair[0], pair[1]);
    }
    for pid in distinct {
        if !pool.worker_pids().contains(&(pid as i32)) {
            assert!(
                process_support::is_reaped(pid as i32),
                "retired {pid} reaped"
            );
        }
    }
}

fn chunksize_sends_items_together_in_order() {
    let pool = builder().workers(2).chunksize(5).build().unwrap();
    let results: Vec<(u32, u32, u32)> = pool.map(0..20).into_iter().map(Result::unwrap).collect();
    assert_eq!(
        results.iter().map(|r| r.2).collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>()
    );
    for chunk in results.chunks(5) {
        assert!(
            chunk.iter().all(|r| r.0 == chunk[0].0),
            "one worker per chunk"
        );
    }
}

fn imap_unordered_yields_every_result_as_an_iterator() {
    let pool = builder().workers(2).build().unwrap();
    let mut got: Vec<u32> = Iterator::map(pool.imap_unordered(0..50), |(i, r)| {
        let x = r.unwrap().2;
        assert_eq!(i as u32, x, "the index is the item's position");
        x
    })
    .collect();
    got.sort();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

fn imap_unordered_yields_every_result_as_a_stream() {
    let pool = builder().workers(2).build().unwrap();
    let stream = pool.imap_unordered(0..50);
    let mut got: Vec<u32> = futures_lite::future::block_on(
        StreamExt::map(stream, |(_, r)| r.unwrap().2).collect::<Vec<_>>(),
    );
    got.sort();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
}

fn apply_async_can_be_awaited() {
    let pool = builder().workers(1).build().unwrap();
    let a = pool.apply_async(1);
    let b = pool.apply_async(2);
    let (ra, rb) = futures_lite::future::block_on(async { (a.await, b.await) });
    assert_eq!((ra.unwrap().2, rb.unwrap().2), (1, 2));
}

fn shutdown_finishes_submitted_tasks() {
    let pool = ProcessPool::<u64, u64>::builder("sleep_ms")
        .workers(1)
        .build()
        .unwrap();
    let pending: Vec<_> = (0..3).map(|_| pool.apply_async(20)).collect();
    pool.shutdown();
    for p in pending {
        assert_eq!(p.wait(), Ok(20));
    }
}

fn terminate_fails_unfinished_tasks() {
    let pool = ProcessPool::<u64, u64>::builder("sleep_ms")
        .workers(1)
        .build()
        .unwrap();
    let pid = pool.worker_pids()[0];
    let pending: Vec<_> = (0..3).map(|_| pool.apply_async(60_000)).collect();
    pool.terminate();
    for p in pending {
        assert_eq!(p.wait(), Err(TaskError::Terminated));
    }
    assert!(process_support::is_reaped(pid));
}

fn a_pool_runs_on_the_fork_server() {
    let pool = builder()
        .workers(2)
        .start_method(StartMethod::ForkServer)
        .build()
        .unwrap();
    let results = pool.map(0..10);
    assert!(results.iter().all(Result::is_ok));
    let server = process::fork_server_pid().unwrap();
    assert!(!pool.worker_pids().contains(&server));
    pool.shutdown();
}

fn main() {
    process::Init::new()
        .entry(procs::task("inspect", inspect))
        .entry(procs::task("sleep_ms", sleep_ms))
        .entry(Entry::hook("set_up", set_up))
        .entry(Entry::hook("broken_set_up", broken_set_up))
        .fork_server(true)
        .run()
        .expect("init");
    process_support::run(&[
        (
            "the_initializer_runs_in_every_worker_before_tasks",
            the_initializer_runs_in_every_worker_before_tasks,
        ),
        (
            "a_panicking_initializer_fails_the_build",
            a_panicking_initializer_fails_the_build,
        ),
        (
            "max_tasks_per_child_replaces_workers",
            max_tasks_per_child_replaces_workers,
        ),
        (
            "chunksize_sends_items_together_in_order",
            chunksize_sends_items_together_in_order,
        ),
        (
            "imap_unordered_yields_every_result_as_an_iterator",
            imap_unordered_yields_every_result_as_an_iterator,
        ),
        (
            "imap_unordered_yields_every_result_as_a_stream",
            imap_unordered_yields_every_result_as_a_stream,
        ),
        ("apply_async_can_be_awaited", apply_async_can_be_awaited),
        (
            "shutdown_finishes_submitted_tasks",
            shutdown_finishes_submitted_tasks,
        ),
        (
            "terminate_fails_unfinished_tasks",
            terminate_fails_unfinished_tasks,
        ),
        (
            "a_pool_runs_on_the_fork_server",
            a_pool_runs_on_the_fork_server,
        ),
    ]);
}
