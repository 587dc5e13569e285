//! An idle worker steals from a busy one: jobs queued on a worker that is busy (stuck in one
//! job that waits for them) can only finish if the other worker steals them.

use std::sync::mpsc;
use std::time::Duration;
use switchyard::scheduler::pool::Pool;

/// Fewer than a seat's deque holds (256, `LOCAL_QUEUE_CAPACITY`), so that none overflows to
/// the injector: every one must be stolen.
const JOBS: usize = if cfg!(miri) { 8 } else { 200 };
/// Failure guard only: the test fails (instead of hanging) if stealing never happens.
const GUARD: Duration = Duration::from_secs(30);

#[test]
fn an_idle_worker_steals_jobs_queued_on_a_busy_worker() {
    // No stall monitor: the stolen jobs must come from stealing, not from a hand-off.
    let pool = Pool::builder()
        .workers(2)
        .stall_time_slice(None)
        .build()
        .expect("pool");
    let handle = pool.handle();
    let (done_tx, done_rx) = mpsc::channel::<std::thread::ThreadId>();
    let (result_tx, result_rx) = mpsc::channel();
    pool.execute(move || {
        let busy = std::thread::current().id();
        // Queued on this worker's own deque (scheduled from inside a job on it).
        for _ in 0..JOBS {
            let done_tx = done_tx.clone();
            handle.execute(move || done_tx.send(std::thread::current().id()).unwrap());
        }
        // Stay busy until every one of them ran somewhere else.
        let mut ran_elsewhere = 0;
        for _ in 0..JOBS {
            let ran_on = done_rx
                .recv_timeout(GUARD)
                .expect("queued jobs never ran: no steal");
            assert_ne!(ran_on, busy, "a job ran on the worker that was busy");
            ran_elsewhere += 1;
        }
        result_tx.send(ran_elsewhere).unwrap();
    });
    assert_eq!(
        result_rx
            .recv_timeout(GUARD)
            .expect("busy job never finished"),
        JOBS
    );
    let metrics = pool.metrics();
    assert!(
        metrics.total_stolen() >= JOBS as u64,
        "metrics: {metrics:?}"
    );
    assert_eq!(metrics.hand_offs, 0);
}
