//! The driver's behaviours: timers fired by `park`, the unpark rule, the virtual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::task::{self, Runnable, ScheduleInfo, TaskId};
use crate::time;

/// A channel scheduler that unparks `driver`: the FIFO runtime of the module doc.
fn fifo(
    driver: &Driver,
) -> (
    impl Fn(Runnable, ScheduleInfo) + Send + Sync + Clone + 'static,
    mpsc::Receiver<Runnable>,
) {
    let (queue, ready) = mpsc::channel::<Runnable>();
    let unparker = driver.unparker();
    let schedule = move |runnable, _: ScheduleInfo| {
        let _ = queue.send(runnable);
        unparker.unpark();
    };
    (schedule, ready)
}

#[test]
fn a_park_fires_a_due_timer_and_returns_without_blocking() {
    let driver = Driver::with_virtual_clock(Instant::now()).unwrap();
    let _entered = driver.enter();
    let (schedule, ready) = fifo(&driver);
    let (runnable, join) = task::spawn_local(
        async { time::sleep(Duration::from_secs(3_600)).await },
        schedule,
        TaskId::default(),
    );
    let start = driver.now();
    runnable.run(); // registers the timer
    let mut parks = 0;
    while !join.is_finished() {
        let parked = driver.park(None).unwrap();
        assert!(!parked.blocked, "a virtual clock jumps, never sleeps");
        while let Ok(runnable) = ready.try_recv() {
            runnable.run();
        }
        parks += 1;
        assert!(parks < 10, "the timer must fire within a few parks");
    }
    assert_eq!(driver.now() - start, Duration::from_secs(3_600));
}

#[test]
fn sleep_timeout_and_interval_all_follow_the_virtual_clock() {
    let driver = Driver::with_virtual_clock(Instant::now()).unwrap();
    let _entered = driver.enter();
    let start = time::now();
    assert_eq!(start, driver.now(), "time::now reads the virtual clock");
    let (schedule, ready) = fifo(&driver);
    let (runnable, join) = task::spawn_local(
        async move {
            let mut ticks = time::interval(Duration::from_secs(10));
            let first = ticks.tick().await;
            let second = ticks.tick().await;
            let timed_out =
                time::timeout(Duration::from_secs(5), std::future::pending::<()>()).await;
            (first, second, timed_out.is_err(), time::now())
        },
        schedule,
        TaskId::default(),
    );
    runnable.schedule();
    while !join.is_finished() {
        while let Ok(runnable) = ready.try_recv() {
            runnable.run();
        }
        if !join.is_finished() {
            driver.park(None).unwrap();
        }
    }
    let (first, second, timed_out, end) = futures_util_ready(join);
    assert_eq!(first, start);
    assert_eq!(second - first, Duration::from_secs(10));
    assert!(timed_out);
    assert_eq!(end - start, Duration::from_secs(15));
}

/// The output of a finished task's `JoinHandle`.
fn futures_util_ready<T>(join: task::JoinHandle<T>) -> T {
    let waker = futures_task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut join = std::pin::pin!(join);
    match join.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(result) => result.expect("the task finished"),
        std::task::Poll::Pending => panic!("a finished task's JoinHandle is ready"),
    }
}

use std::future::Future;

#[test]
fn an_unpark_from_another_thread_cancels_the_next_wait() {
    let driver = Driver::new().unwrap();
    let _entered = driver.enter();
    let unparker = driver.unparker();
    std::thread::spawn(move || unparker.unpark())
        .join()
        .unwrap();
    // With the token set, a park with a long timeout must not block.
    let parked = driver.park(Some(Duration::from_secs(3_600))).unwrap();
    assert!(!parked.blocked);
}

#[test]
fn an_unpark_on_the_entered_thread_does_nothing() {
    let driver = Driver::new().unwrap();
    let _entered = driver.enter();
    driver.unparker().unpark();
    // No token: this park blocks (for its short timeout) instead of returning at once.
    let parked = driver.park(Some(Duration::from_micros(100))).unwrap();
    assert!(parked.blocked);
}

#[test]
fn a_parked_driver_is_woken_by_an_unpark() {
    let driver = Driver::new().unwrap();
    let _entered = driver.enter();
    let unparker = driver.unparker();
    let (started, wait_started) = mpsc::channel();
    let waker = std::thread::spawn(move || {
        wait_started.recv().unwrap();
        unparker.unpark();
    });
    started.send(()).unwrap();
    // Returns whether the unpark came before the handshake (token) or during the wait
    // (eventfd); a lost wake-up would hang here.
    driver.park(None).unwrap();
    waker.join().unwrap();
}

#[test]
#[should_panic(expected = "outside Driver::enter")]
fn park_outside_enter_panics() {
    let driver = Driver::new().unwrap();
    let _ = driver.park(Some(Duration::ZERO));
}

#[test]
fn an_unparker_outliving_its_driver_does_nothing() {
    let driver = Driver::new().unwrap();
    let unparker = driver.unparker();
    drop(driver);
    unparker.unpark();
}

#[test]
fn block_on_waker_sets_the_flag_once_per_wake() {
    let driver = Driver::new().unwrap();
    let main = BlockOnWaker::new(driver.unparker());
    assert!(main.take_woken(), "starts woken");
    assert!(!main.take_woken());
    let wakes = Arc::new(AtomicUsize::new(0));
    let waker = main.waker();
    waker.wake_by_ref();
    wakes.fetch_add(1, Ordering::Relaxed);
    assert!(main.is_woken());
    assert!(main.take_woken());
    assert!(!main.is_woken());
}

#[test]
fn a_closure_is_a_scheduler_and_run_applies_the_budget() {
    let (queue, ready) = mpsc::channel::<Runnable>();
    let schedule = move |runnable, _: ScheduleInfo| {
        let _ = queue.send(runnable);
    };
    let (runnable, join) = task::spawn(
        async { crate::coop::current().remaining() },
        schedule,
        TaskId::default(),
    );
    runnable.schedule();
    ready.try_recv().unwrap().run();
    assert_eq!(futures_util_ready(join), Some(crate::coop::DEFAULT_BUDGET));
    assert_eq!(crate::coop::current(), crate::coop::Budget::unconstrained());
}
