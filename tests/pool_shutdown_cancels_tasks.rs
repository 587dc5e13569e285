//! Dropping the pool with tasks still queued or waiting cancels them: every `JoinHandle`
//! reports cancelled, every future is dropped, and every thread is joined.

use std::future::pending;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use switchyard::scheduler::pool::{Pool, block_on};

const QUEUED: usize = 50;
const IDLE: usize = 50;
const GUARD: Duration = Duration::from_secs(30);

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_pool_cancels_queued_and_idle_tasks() {
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .build()
        .expect("pool");
    let handle = pool.handle();
    let dropped = Arc::new(AtomicUsize::new(0));
    // Idle tasks: polled once, then waiting forever.
    let idle: Vec<_> = (0..IDLE)
        .map(|_| {
            let guard = DropCounter(dropped.clone());
            pool.spawn(async move {
                let _guard = guard;
                pending::<()>().await;
            })
        })
        .collect();
    // Occupy the only worker, then queue tasks behind it.
    let (running_tx, running_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocker = pool.spawn(async move {
        running_tx.send(()).unwrap();
        release_rx.recv_timeout(GUARD).unwrap();
    });
    running_rx.recv_timeout(GUARD).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..QUEUED)
        .map(|_| {
            let (ran, guard) = (ran.clone(), DropCounter(dropped.clone()));
            pool.spawn(async move {
                let _guard = guard;
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let dropper = std::thread::spawn(move || drop(pool));
    while !handle.is_shut_down() {
        std::thread::yield_now();
    }
    release_tx.send(()).unwrap();
    dropper.join().expect("drop panicked");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a queued task ran after shutdown began"
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        QUEUED + IDLE,
        "futures leaked"
    );
    for join in queued.into_iter().chain(idle) {
        let err = block_on(join).expect_err("a task pending at shutdown reported success");
        assert!(err.is_cancelled(), "{err}");
    }
    assert!(
        block_on(blocker).is_ok(),
        "the running task was not let finish"
    );
    assert_eq!(handle.live_tasks(), 0);
    // Spawning after shutdown: cancelled at once.
    let late = handle.spawn(async { 1 });
    assert!(
        block_on(late)
            .expect_err("ran after shutdown")
            .is_cancelled()
    );
}
