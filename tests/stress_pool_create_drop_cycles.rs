//! 1,000 pools created, used and dropped (issue 7, item 7): no fd, thread or memory growth.
//! Each pool runs tasks (with I/O, timers, yields and cross-task wakes) and closures, and a
//! `PoolHandle` and a finished `JoinHandle` outlive it (shutdown.rs, step 8: they must not
//! keep its fds). (This file is its own process and holds one test, so the counts are its
//! own.)

use std::pin::Pin;
use std::time::Duration;
use switchyard::runtime::coop;
use switchyard::runtime::net::{TcpListener, TcpStream};
use switchyard::runtime::task::JoinHandle;
use switchyard::runtime::time::sleep;
use switchyard::scheduler::pool::{Pool, PoolHandle, block_on};

mod resources;
use resources::{open_fds, threads, threads_settle_to};

const CYCLES: usize = 1_000;
/// Cycles before the baseline is taken: the allocator's and the runtime's one-time growth
/// (thread-local caches, lazily built statics) happens in these.
const WARM_UP: usize = 100;
/// Pools kept live at once to measure one pool's footprint.
const FOOTPRINT_POOLS: usize = 20;

/// Resident set size in pages (`/proc/self/statm`, second field).
fn rss_pages() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The handles that outlive their pool.
type Survivors = (PoolHandle, Pin<Box<JoinHandle<u32>>>);

/// One pool's life. Returns the handles that outlive it.
fn cycle() -> Survivors {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let handle = pool.handle();
    let finished = Box::pin(pool.spawn(async {
        // I/O through the pool's reactor: a connection to itself.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = futures_util::join!(TcpStream::connect(addr), listener.accept());
        drop((client.unwrap(), server.unwrap()));
        // The timer wheel.
        sleep(Duration::from_micros(50)).await;
        7u32
    }));
    let joins: Vec<_> = (0..20u64)
        .map(|i| {
            let h = handle.clone();
            pool.spawn(async move {
                coop::yield_now().await;
                h.spawn(async move { i }).await.unwrap()
            })
        })
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..20u64 {
        let tx = tx.clone();
        pool.execute(move || tx.send(i).unwrap());
    }
    let mut finished = finished;
    assert_eq!(block_on(finished.as_mut()).unwrap(), 7);
    let sum: u64 = joins.into_iter().map(|j| block_on(j).unwrap()).sum();
    assert_eq!(sum, (0..20).sum());
    assert_eq!(rx.iter().take(20).sum::<u64>(), (0..20).sum());
    // An idle task parked on a socket, left for shutdown to cancel.
    drop(pool.spawn(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _ = listener.accept().await;
    }));
    drop(pool);
    (handle, finished)
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn a_thousand_pools_leak_no_fd_thread_or_memory() {
    let start = rss_pages();
    // What one pool costs, to size "no growth" by: a leak of anything per cycle shows up over
    // the remaining cycles as more than one pool's worth. Measured with several pools live at
    // once, so that they cannot reuse each other's freed memory.
    let live: Vec<_> = (0..FOOTPRINT_POOLS)
        .map(|_| {
            let pool = Pool::builder().workers(2).build().expect("pool");
            block_on(pool.spawn(async {})).unwrap();
            pool
        })
        .collect();
    let one_pool = (rss_pages().saturating_sub(start) / FOOTPRINT_POOLS as u64).max(1);
    drop(live);
    for _ in 0..WARM_UP {
        drop(cycle());
    }
    let (fds, threads_before, rss_before) = (open_fds(), threads(), rss_pages());
    for i in WARM_UP..CYCLES {
        let survivors = cycle();
        assert_eq!(open_fds(), fds, "cycle {i}: fds held after the drop");
        drop(survivors);
        assert_eq!(
            threads_settle_to(threads_before),
            threads_before,
            "cycle {i}: threads left behind"
        );
    }
    let grown = rss_pages().saturating_sub(rss_before);
    assert!(
        grown <= one_pool,
        "RSS grew by {grown} pages over {} cycles, more than one live pool ({one_pool} pages)",
        CYCLES - WARM_UP
    );
}
