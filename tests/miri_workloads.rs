//! Small workloads of the loop and the pool, for Miri (issue 7, item 5): everything above the
//! reactor runs for real (spawns from the loop thread and from others, cross-thread wakes,
//! timers, the eventfd wake-up of a parked reactor, work stealing, shutdown), at sizes Miri
//! interprets in seconds. They run natively too, as ordinary tests, at larger sizes.
//!
//! Under Miri each test runs with its own flags:
//!
//! - the loop: `MIRIFLAGS="-Zmiri-strict-provenance"`, as the runtime's unit tests;
//! - the pool: `MIRIFLAGS="-Zmiri-permissive-provenance -Zmiri-tree-borrows
//!   -Zmiri-ignore-leaks"`. Its workers use crossbeam-deque's `Worker` and `Stealer`, whose
//!   crossbeam-epoch casts integers to pointers (tagged pointers), trips Stacked Borrows
//!   (crossbeam issue 545) and keeps garbage in a global collector until exit (crossbeam issue
//!   579). crossbeam's own Miri CI runs the deque with `-Zmiri-disable-stacked-borrows
//!   -Zmiri-ignore-leaks` for the same reasons; Tree Borrows accepts it and still checks
//!   aliasing.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchyard::runtime::sync::{mpsc, oneshot};
use switchyard::runtime::time::sleep;
use switchyard::scheduler::local::{EventLoop, spawn_local, yield_now};
use switchyard::scheduler::pool::Pool;

/// Tasks per workload.
const TASKS: usize = if cfg!(miri) { 6 } else { 200 };
/// Messages sent across threads per workload.
const MESSAGES: usize = if cfg!(miri) { 10 } else { 2_000 };

#[test]
fn loop_workload_local_and_remote_spawns_wakes_and_timers() {
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let log = Rc::new(RefCell::new(Vec::new()));
    // Another thread spawns onto the loop (remote table, remote queue, eventfd wake-up) and
    // sends messages the loop waits for while parked.
    let (tx, mut rx) = mpsc::channel::<usize>(1);
    let (remote_tx, remote_rx) = oneshot::channel();
    let other = std::thread::spawn(move || {
        let join = handle.spawn(async { 40 + 2 }).expect("the loop is alive");
        assert!(
            remote_tx.send(join).is_ok(),
            "the loop waits for the handle"
        );
        let mut el = EventLoop::new().unwrap();
        el.block_on(async move {
            for i in 0..MESSAGES {
                tx.send(i).await.unwrap();
            }
        });
    });
    let l = log.clone();
    let (received, remote_output) = el.block_on(async move {
        let mut joins = Vec::new();
        for t in 0..TASKS {
            let l = l.clone();
            joins.push(
                spawn_local(async move {
                    l.borrow_mut().push(t);
                    yield_now().await;
                    // The timer path: a parked reactor with a finite timeout.
                    sleep(Duration::from_micros(10)).await;
                    t * 2
                })
                .unwrap(),
            );
        }
        let mut received = 0;
        while let Some(i) = rx.recv().await {
            assert_eq!(i, received, "messages arrive in order");
            received += 1;
        }
        for (t, join) in joins.into_iter().enumerate() {
            assert_eq!(join.await.unwrap(), t * 2);
        }
        let remote_join = remote_rx.await.unwrap();
        (received, remote_join.await.unwrap())
    });
    other.join().unwrap();
    assert_eq!(received, MESSAGES);
    assert_eq!(remote_output, 42);
    assert_eq!(*log.borrow(), (0..TASKS).collect::<Vec<_>>());
    // Tasks left parked are cancelled by the drop.
    let parked = el.spawn_local(std::future::pending::<()>()).unwrap();
    el.block_on(yield_now());
    drop(el);
    let mut other_loop = EventLoop::new().unwrap();
    assert!(other_loop.block_on(parked).unwrap_err().is_cancelled());
}

#[test]
fn pool_workload_spawns_ping_pong_timers_and_shutdown() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let ran = Arc::new(AtomicUsize::new(0));
    // Tasks that spawn tasks (worker-local queues, stealing by the idle worker).
    let joins: Vec<_> = (0..TASKS)
        .map(|t| {
            let ran = ran.clone();
            let handle = pool.handle();
            pool.spawn(async move {
                let inner = handle.spawn(async move { t + 1 });
                sleep(Duration::from_micros(10)).await;
                ran.fetch_add(1, Ordering::SeqCst);
                inner.await.unwrap()
            })
        })
        .collect();
    // A ping-pong between two pool tasks: wakes across workers.
    let (ping_tx, mut ping_rx) = mpsc::channel::<usize>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<usize>(1);
    let pong = pool.spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                break;
            }
        }
    });
    let ping = pool.spawn(async move {
        for i in 0..MESSAGES {
            ping_tx.send(i).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(i + 1));
        }
    });
    pool.block_on(ping).unwrap();
    pool.block_on(pong).unwrap();
    for (t, join) in joins.into_iter().enumerate() {
        assert_eq!(pool.block_on(join).unwrap(), t + 1);
    }
    assert_eq!(ran.load(Ordering::SeqCst), TASKS);
    // A task parked for ever is cancelled by the shutdown.
    let parked = pool.spawn(std::future::pending::<()>());
    pool.shutdown();
    let mut el = EventLoop::new().unwrap();
    assert!(el.block_on(parked).unwrap_err().is_cancelled());
}
