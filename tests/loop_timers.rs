//! Timers on the loop: sleeps never wake early, fire in deadline order, and time out futures.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use switchyard::runtime::time::{interval, sleep, timeout};
use switchyard::scheduler::local::{EventLoop, spawn_local};

#[test]
fn a_sleep_never_wakes_before_its_deadline() {
    let mut el = EventLoop::new().unwrap();
    el.block_on(async {
        for micros in [50u64, 300, 1_000, 2_500] {
            let start = Instant::now();
            sleep(Duration::from_micros(micros)).await;
            assert!(start.elapsed() >= Duration::from_micros(micros));
        }
    });
}

#[test]
fn sleeps_fire_in_deadline_order_not_spawn_order() {
    let mut el = EventLoop::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    let o = order.clone();
    el.block_on(async move {
        let mut hs = Vec::new();
        for (name, ms) in [("c", 6u64), ("a", 2), ("b", 4)] {
            let o = o.clone();
            hs.push(
                spawn_local(async move {
                    sleep(Duration::from_millis(ms)).await;
                    o.borrow_mut().push(name);
                })
                .unwrap(),
            );
        }
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*order.borrow(), ["a", "b", "c"]);
}

#[test]
fn timeout_elapses_on_a_future_that_never_completes_and_not_on_a_quick_one() {
    let mut el = EventLoop::new().unwrap();
    el.block_on(async {
        let slow = timeout(Duration::from_millis(2), std::future::pending::<()>()).await;
        assert!(slow.is_err());
        let quick = timeout(Duration::from_secs(60), async { 7 }).await;
        assert_eq!(quick.unwrap(), 7);
    });
}

#[test]
fn an_interval_ticks_at_its_period() {
    let mut el = EventLoop::new().unwrap();
    el.block_on(async {
        let period = Duration::from_millis(1);
        let mut ticker = interval(period);
        let start = Instant::now();
        for _ in 0..5 {
            ticker.tick().await;
        }
        // The first tick completes at once; four periods follow.
        assert!(start.elapsed() >= 4 * period);
    });
}
