//! A job that blocks its worker does not stop the others: on a one-worker pool, the jobs
//! queued behind a blocked one finish while it is still blocked, because the stall monitor
//! hands the worker's queues (deque and LIFO slot) to a spare thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use switchyard::scheduler::pool::Pool;

const OTHERS: usize = 100;
/// How long the job blocks at least (the 200 ms); it then waits to be released, so
/// the assertion below does not depend on timing.
const BLOCK: Duration = Duration::from_millis(200);
const GUARD: Duration = Duration::from_secs(30);

#[test]
fn jobs_queued_behind_a_blocked_job_finish_while_it_is_still_blocked() {
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(Some(Duration::from_millis(10)))
        .build()
        .expect("pool");
    let handle = pool.handle();
    let still_blocked = Arc::new(AtomicBool::new(true));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocked = still_blocked.clone();
    pool.execute(move || {
        // Everything queued on the only worker, behind this job.
        for _ in 0..OTHERS {
            let done_tx = done_tx.clone();
            handle.execute(move || done_tx.send(()).unwrap());
        }
        std::thread::sleep(BLOCK);
        release_rx
            .recv_timeout(GUARD)
            .expect("test never released the blocked job");
        blocked.store(false, Ordering::SeqCst);
    });
    for _ in 0..OTHERS {
        done_rx
            .recv_timeout(GUARD)
            .expect("queued jobs did not run while one job blocked");
    }
    assert!(
        still_blocked.load(Ordering::SeqCst),
        "the others finished only after the blocked job returned"
    );
    release_tx.send(()).unwrap();
    let metrics = pool.metrics();
    assert!(metrics.hand_offs >= 1, "no hand-off counted: {metrics:?}");
    assert_eq!(metrics.hand_off_log[0].worker, 0);
    assert!(metrics.hand_off_log[0].stuck_for >= Duration::from_millis(10));
}
