//! A seat's deque is bounded: jobs queued past it go to the shared injector, where every
//! worker takes turns at them (this is what keeps 1,000 yielding tasks on 2 workers fair).

use std::sync::mpsc;
use switchyard::scheduler::pool::Pool;

/// More than a seat's deque holds (256).
const JOBS: usize = 1_000;

#[test]
fn jobs_queued_past_the_deque_bound_wait_in_the_injector() {
    // One worker, no monitor: nothing runs the queued jobs while the first job observes.
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .build()
        .expect("pool");
    let handle = pool.handle();
    let (depths_tx, depths_rx) = mpsc::channel();
    let (ran_tx, ran_rx) = mpsc::channel::<()>();
    pool.execute(move || {
        for _ in 0..JOBS {
            let ran_tx = ran_tx.clone();
            handle.execute(move || ran_tx.send(()).unwrap());
        }
        let metrics = handle.metrics();
        depths_tx
            .send((metrics.workers[0].local_queue_depth, metrics.injector_depth))
            .unwrap();
    });
    let (local, injected) = depths_rx.recv().expect("the first job ran");
    assert!(
        local <= 256,
        "the deque holds at most 256 jobs, held {local}"
    );
    assert_eq!(local + injected, JOBS, "every job is queued somewhere");
    // And every one of them runs.
    for _ in 0..JOBS {
        ran_rx.recv().expect("a queued job was lost");
    }
}
