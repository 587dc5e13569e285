//! A panicking task gives `Err` at its `JoinHandle` (with the panic's message) and its worker
//! lives on to run the next tasks.

use switchyard::scheduler::pool::Pool;

#[test]
fn a_panicking_task_reports_err_and_the_worker_runs_the_next_task() {
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .build()
        .expect("pool");
    let failing = pool.spawn(async { panic!("task fails on purpose") });
    let err = pool
        .block_on(failing)
        .expect_err("a panic was reported as success");
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("task fails on purpose"));
    let worker = pool
        .block_on(pool.spawn(async { std::thread::current().id() }))
        .expect("task after the panic");
    for _ in 0..10 {
        let again = pool.block_on(pool.spawn(async { std::thread::current().id() }));
        assert_eq!(again.expect("worker died"), worker);
    }
    assert_eq!(pool.metrics().live_tasks, 0);
}
