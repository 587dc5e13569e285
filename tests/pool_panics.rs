//! A panicking job does not kill its worker: the panic is caught, counted, and the worker
//! goes on running jobs.

use std::sync::mpsc;
use std::time::Duration;
use switchyard::scheduler::pool::Pool;

const GUARD: Duration = Duration::from_secs(30);

#[test]
fn a_panicking_closure_is_counted_and_the_worker_lives_on() {
    // No monitor: printing the panic (with a backtrace) can take longer than a time slice,
    // and a hand-off would move the seat to another thread.
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .build()
        .expect("pool");
    let (tx, rx) = mpsc::channel();
    let first = tx.clone();
    pool.execute(move || {
        let _ = first.send(std::thread::current().id());
        panic!("job fails on purpose");
    });
    let worker = rx.recv_timeout(GUARD).unwrap();
    for i in 0..10 {
        let tx = tx.clone();
        pool.execute(move || tx.send(std::thread::current().id()).unwrap());
        assert_eq!(
            rx.recv_timeout(GUARD)
                .unwrap_or_else(|_| panic!("worker died: job {i} after the panic never ran")),
            worker
        );
    }
    let metrics = pool.metrics();
    assert_eq!(metrics.workers[0].closure_panics, 1);
}
