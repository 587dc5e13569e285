//! Dropping the pool while jobs are queued joins every thread and drops the queued jobs
//! unrun (their captures are dropped, nothing leaks, nothing runs after the drop).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use switchyard::scheduler::pool::Pool;

const PENDING: usize = 100;
const GUARD: Duration = Duration::from_secs(30);

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_pool_drops_queued_jobs_unrun_and_joins_threads() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s1, s2) = (started.clone(), stopped.clone());
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .on_thread_start(move || {
            s1.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move || {
            s2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .expect("pool");
    let handle = pool.handle();
    let (running_tx, running_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    pool.execute(move || {
        running_tx.send(()).unwrap();
        release_rx.recv_timeout(GUARD).unwrap();
    });
    running_rx.recv_timeout(GUARD).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    for _ in 0..PENDING {
        let ran = ran.clone();
        let guard = DropCounter(dropped.clone());
        pool.execute(move || {
            let _guard = guard;
            ran.fetch_add(1, Ordering::SeqCst);
        });
    }
    let dropper = std::thread::spawn(move || drop(pool));
    // Release the running job only once shutdown has begun (step 1), so the queued ones can
    // no longer run.
    while !handle.is_shut_down() {
        std::thread::yield_now();
    }
    release_tx.send(()).unwrap();
    dropper.join().expect("drop panicked");
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "a queued job ran after shutdown began"
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        PENDING,
        "queued jobs leaked"
    );
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert_eq!(stopped.load(Ordering::SeqCst), 1, "a thread was not joined");
    // Work submitted after the drop is dropped, not run.
    let late = DropCounter(dropped.clone());
    handle.execute(move || drop(late));
    assert_eq!(dropped.load(Ordering::SeqCst), PENDING + 1);
}
