//! Timers work from pool tasks: every sleeping task wakes, never before its deadline, whether
//! the worker watching the wheel sleeps in the reactor, on its parker, or is busy.

use std::time::{Duration, Instant};
use switchyard::runtime::time::{sleep, sleep_until, timeout};
use switchyard::scheduler::pool::Pool;

const SLEEPERS: u64 = if cfg!(miri) { 4 } else { 200 };

#[test]
fn sleeping_pool_tasks_all_wake_and_never_early() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let joins: Vec<_> = (0..SLEEPERS)
        .map(|i| {
            pool.spawn(async move {
                let deadline = Instant::now() + Duration::from_micros(200 * (i % 20 + 1));
                sleep_until(deadline).await;
                Instant::now() >= deadline
            })
        })
        .collect();
    for join in joins {
        assert!(pool.block_on(join).expect("task"), "a sleep returned early");
    }
}

#[test]
fn a_timeout_fires_on_a_pending_future_in_a_pool_task() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let result =
        pool.block_on(pool.spawn(async {
            timeout(Duration::from_millis(2), std::future::pending::<()>()).await
        }));
    assert!(
        result.expect("task").is_err(),
        "pending future did not time out"
    );
    let ok =
        pool.block_on(pool.spawn(async {
            timeout(Duration::from_secs(30), sleep(Duration::from_millis(1))).await
        }));
    assert!(ok.expect("task").is_ok());
}
