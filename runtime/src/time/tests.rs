//! Unit tests of the wheel and the timer futures, driven by synthetic instants: `process(now)`
//! is called with `origin + offset`, so nothing here sleeps and every test is exact.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::entry::TimerKey;
use super::level::LEVEL_BITS;
use super::wheel::{Inserted, NUM_LEVELS};
use super::*;
use crate::coop;

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

impl CountingWaker {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A waker that records its id in a shared log when woken.
struct LoggingWaker {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Wake for LoggingWaker {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn insert(timers: &Timers, deadline: Instant, waker: &Waker) -> TimerKey {
    match timers.lock().insert(deadline, waker) {
        Inserted::Registered(key) => key,
        Inserted::AlreadyDue => panic!("deadline unexpectedly due"),
    }
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

#[test]
fn a_timer_5us_away_fires_at_its_deadline_not_rounded() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    insert(&timers, origin + us(5), &waker);
    assert_eq!(timers.next_deadline(), Some(origin + us(5)));
    assert_eq!(timers.process(origin + us(4)), Some(origin + us(5)));
    assert_eq!(count.count(), 0, "fired a microsecond early");
    assert_eq!(timers.process(origin + us(5)), None);
    assert_eq!(count.count(), 1);
    assert!(timers.is_empty());
}

#[test]
fn sub_microsecond_deadlines_round_up_never_early() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    insert(&timers, origin + Duration::from_nanos(2_500), &waker);
    timers.process(origin + Duration::from_nanos(2_999));
    assert_eq!(count.count(), 0);
    timers.process(origin + us(3));
    assert_eq!(count.count(), 1);
}

#[test]
fn timers_fire_in_deadline_order_when_driven_by_next_deadline() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let log = Arc::new(Mutex::new(Vec::new()));
    // Deadlines spread over several levels, inserted out of order.
    let mut offsets: Vec<u64> = (0..200u64)
        .map(|i| (i * 7_919 + 13) % 5_000_000 + 1)
        .collect();
    for (id, offset) in offsets.iter().enumerate() {
        let waker = Waker::from(Arc::new(LoggingWaker {
            id,
            log: log.clone(),
        }));
        insert(&timers, origin + us(*offset), &waker);
    }
    let mut now = origin;
    while let Some(next) = timers.process(now) {
        assert!(next > now, "the next deadline lies ahead");
        now = next;
    }
    let fired: Vec<u64> = log.lock().unwrap().iter().map(|&id| offsets[id]).collect();
    offsets.sort_unstable();
    assert_eq!(fired, offsets);
}

#[test]
fn a_cancelled_timer_never_fires() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let keep = insert(&timers, origin + us(100), &waker);
    let cancel = insert(&timers, origin + us(100), &waker);
    assert_eq!(timers.len(), 2);
    assert!(timers.lock().cancel(cancel));
    assert_eq!(timers.len(), 1);
    assert!(
        !timers.lock().cancel(cancel),
        "a second cancel finds nothing"
    );
    timers.process(origin + us(1_000));
    assert_eq!(count.count(), 1, "only the kept timer fired");
    assert!(!timers.lock().cancel(keep));
}

#[test]
fn cancel_unlinks_from_the_middle_of_a_slot_list() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let keys: Vec<_> = (0..5)
        .map(|_| insert(&timers, origin + us(10), &waker))
        .collect();
    assert!(timers.lock().cancel(keys[2]));
    assert!(timers.lock().cancel(keys[0]));
    assert!(timers.lock().cancel(keys[4]));
    timers.process(origin + us(10));
    assert_eq!(count.count(), 2);
    assert!(timers.is_empty());
    assert_eq!(
        timers.next_deadline(),
        None,
        "the slot's occupied bit was cleared"
    );
}

#[test]
fn a_stale_key_never_cancels_a_new_timer_in_the_same_slab_slot() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let old = insert(&timers, origin + us(10), &waker);
    timers.process(origin + us(10));
    assert_eq!(count.count(), 1);
    let new = insert(&timers, origin + us(20), &waker);
    assert_eq!(old.index, new.index, "the slab reused the slot");
    assert!(!timers.lock().cancel(old));
    assert!(timers.lock().reset(old, origin + us(30)).is_err());
    timers.process(origin + us(20));
    assert_eq!(count.count(), 2, "the new timer still fired");
}

#[test]
fn timers_cascade_across_every_level_and_fire_exactly() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    for level in 0..NUM_LEVELS {
        let (count, waker) = counting();
        let clock = timers.now();
        let base = timers.lock().now_to_tick(clock);
        // Three slots ahead at `level`, plus an odd remainder that needs every lower level.
        let offset = (3u64 << (LEVEL_BITS as usize * level)) + 17;
        let offset = offset.min(super::wheel::MAX_TICK - base);
        let deadline = origin + us(base + offset);
        let key = insert(&timers, deadline, &waker);
        assert_eq!(
            timers.lock().level_of(key),
            Some(level),
            "filed at level {level}"
        );
        let mut now = timers.now();
        let mut steps = 0;
        while let Some(next) = timers.process(now) {
            assert!(
                next <= deadline,
                "a slot start never lies after the deadline"
            );
            assert_eq!(count.count(), 0, "fired before {deadline:?}");
            now = next;
            steps += 1;
            assert!(steps <= 2 * NUM_LEVELS, "one cascade per level at most");
        }
        assert_eq!(
            now, deadline,
            "level {level}: the last wake is the exact deadline"
        );
        assert_eq!(count.count(), 1);
    }
}

#[test]
fn next_deadline_is_the_slot_start_above_level_0_and_exact_after_cascading() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    insert(&timers, origin + us(100), &waker);
    assert_eq!(timers.next_deadline(), Some(origin + us(64)));
    assert_eq!(timers.process(origin + us(64)), Some(origin + us(100)));
    assert_eq!(count.count(), 0);
    assert_eq!(timers.process(origin + us(100)), None);
    assert_eq!(count.count(), 1);
}

#[test]
fn a_far_future_timer_fires_at_its_deadline() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let thousand_years = Duration::from_secs(1_000 * 365 * 86_400);
    let deadline = origin + thousand_years + us(3);
    insert(&timers, deadline, &waker);
    timers.process(deadline - us(1));
    assert_eq!(count.count(), 0);
    let mut now = deadline - us(1);
    while let Some(next) = timers.process(now) {
        now = next;
    }
    assert_eq!(now, deadline);
    assert_eq!(count.count(), 1);
}

#[test]
fn a_deadline_beyond_the_wheel_span_is_clamped_not_wrapped() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let forty_thousand_years = Duration::from_secs(40_000 * 365 * 86_400);
    insert(&timers, origin + forty_thousand_years, &waker);
    timers.process(origin + Duration::from_secs(365 * 86_400));
    assert_eq!(count.count(), 0, "a wrapped slot would fire early");
    assert_eq!(timers.len(), 1);
}

#[test]
fn many_timers_in_one_slot_all_fire_across_wake_batches() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let n = if cfg!(miri) { 70 } else { 1_000 };
    for _ in 0..n {
        insert(&timers, origin + us(7_000), &waker);
    }
    assert_eq!(timers.len(), n);
    assert_eq!(timers.process(origin + us(7_000)), None);
    assert_eq!(count.count(), n);
    assert!(timers.is_empty());
}

#[test]
fn a_deadline_at_or_before_the_wheel_clock_is_due_at_insert() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    timers.process(origin + us(50));
    let (_, waker) = counting();
    assert_eq!(
        timers.lock().insert(origin + us(50), &waker),
        Inserted::AlreadyDue
    );
    assert_eq!(timers.lock().insert(origin, &waker), Inserted::AlreadyDue);
}

#[test]
fn sleep_registers_on_first_poll_fires_and_completes() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let mut sleep = Sleep::new_in(&timers, origin + us(250));
    assert!(
        timers.is_empty(),
        "nothing registered before the first poll"
    );
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(timers.len(), 1);
    assert!(poll_once(&mut sleep, &waker).is_pending());
    assert_eq!(timers.len(), 1, "a second poll does not register twice");
    timers.process(origin + us(250));
    assert_eq!(count.count(), 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());
    assert!(sleep.is_elapsed());
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

#[test]
fn dropping_a_registered_sleep_cancels_its_timer() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let mut sleep = Sleep::new_in(&timers, origin + us(250));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    drop(sleep);
    assert!(timers.is_empty());
    timers.process(origin + us(1_000));
    assert_eq!(count.count(), 0);
}

#[test]
fn sleep_wakes_the_latest_waker_only() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    let mut sleep = Sleep::new_in(&timers, origin + us(10));
    assert!(poll_once(&mut sleep, &first_waker).is_pending());
    assert!(poll_once(&mut sleep, &second_waker).is_pending());
    timers.process(origin + us(10));
    assert_eq!((first.count(), second.count()), (0, 1));
}

#[test]
fn sleep_reset_moves_a_registered_timer_and_rearms_a_fired_one() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let mut sleep = Sleep::new_in(&timers, origin + us(10));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    sleep.reset(origin + us(5_000));
    timers.process(origin + us(4_999));
    assert_eq!(count.count(), 0, "the old deadline no longer fires");
    timers.process(origin + us(5_000));
    assert_eq!(count.count(), 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());
    sleep.reset(origin + us(6_000));
    assert!(!sleep.is_elapsed());
    assert!(poll_once(&mut sleep, &waker).is_pending());
    timers.process(origin + us(6_000));
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

#[test]
fn a_completed_sleep_spends_budget_and_a_spent_budget_defers_it() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    timers.process(origin + us(10));
    let (count, waker) = counting();
    coop::with_budget(coop::Budget::new(1), || {
        let mut a = Sleep::new_in(&timers, origin);
        let mut b = Sleep::new_in(&timers, origin);
        assert!(poll_once(&mut a, &waker).is_ready());
        assert!(
            poll_once(&mut b, &waker).is_pending(),
            "the budget is spent"
        );
        assert_eq!(count.count(), 1, "the task was woken to run again");
    });
}

#[test]
fn sleep_uses_the_current_timers_and_enter_guards_nest() {
    let outer = Timers::new();
    let inner = Timers::new();
    assert!(Timers::current().is_err());
    {
        let _outer = outer.enter();
        assert!(Timers::current().unwrap().ptr_eq(&outer));
        {
            let _inner = inner.enter();
            assert!(Timers::current().unwrap().ptr_eq(&inner));
            let (_, waker) = counting();
            let mut s = sleep(Duration::from_secs(60));
            assert!(poll_once(&mut s, &waker).is_pending());
            assert_eq!((inner.len(), outer.len()), (1, 0));
        }
        assert!(Timers::current().unwrap().ptr_eq(&outer));
    }
    assert!(Timers::current().is_err());
}

#[test]
fn interval_ticks_on_its_grid_and_skips_missed_ticks() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let period = Duration::from_millis(10);
    let start = origin + Duration::from_secs(3_600); // synthetic: ahead of the real clock
    let mut interval = Interval::new_in(&timers, start, period);
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(interval.poll_tick(&mut cx).is_pending());
    timers.process(start);
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(start));
    assert!(interval.poll_tick(&mut cx).is_pending());
    timers.process(start + period);
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(start + period));
    assert!(interval.poll_tick(&mut cx).is_pending());
    // The task comes back 25 ms late: ticks at +20 and +30 are skipped, the next is +40.
    timers.process(start + Duration::from_millis(35));
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(start + 2 * period));
    assert!(interval.poll_tick(&mut cx).is_pending());
    timers.process(start + Duration::from_millis(39));
    assert!(interval.poll_tick(&mut cx).is_pending());
    timers.process(start + 4 * period);
    assert_eq!(interval.poll_tick(&mut cx), Poll::Ready(start + 4 * period));
    assert_eq!(count.count(), 4);
}

#[test]
#[should_panic(expected = "period greater than zero")]
fn an_interval_of_zero_period_is_refused() {
    let _ = Interval::new_in(&Timers::new(), Instant::now(), Duration::ZERO);
}

#[test]
fn timeout_returns_the_output_when_the_future_wins() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (_, waker) = counting();
    let mut t = Box::pin(Timeout::new_in(
        &timers,
        origin + us(10),
        std::future::ready(7),
    ));
    assert_eq!(
        t.as_mut().poll(&mut Context::from_waker(&waker)),
        Poll::Ready(Ok(7))
    );
    drop(t);
    assert!(timers.is_empty());
}

#[test]
fn timeout_elapses_with_a_typed_error_when_the_deadline_wins() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let mut t = Box::pin(Timeout::new_in(
        &timers,
        origin + us(10),
        std::future::pending::<()>(),
    ));
    let mut cx = Context::from_waker(&waker);
    assert!(t.as_mut().poll(&mut cx).is_pending());
    timers.process(origin + us(9));
    assert!(t.as_mut().poll(&mut cx).is_pending());
    timers.process(origin + us(10));
    assert_eq!(count.count(), 1);
    let Poll::Ready(Err(elapsed)) = t.as_mut().poll(&mut cx) else {
        panic!("the timeout did not elapse");
    };
    assert!(elapsed.to_string().contains("deadline has elapsed"));
}

#[test]
fn timers_is_send_sync_and_wakes_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Timers>();
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let (count, waker) = counting();
    let mut sleep = Sleep::new_in(&timers, origin + us(10));
    assert!(poll_once(&mut sleep, &waker).is_pending());
    let remote = timers.clone();
    std::thread::spawn(move || remote.process(origin + us(10)))
        .join()
        .unwrap();
    assert_eq!(count.count(), 1);
    assert!(poll_once(&mut sleep, &waker).is_ready());
}

#[test]
fn the_driver_is_woken_only_for_a_deadline_earlier_than_the_one_it_sleeps_until() {
    let origin = Instant::now();
    let timers = Timers::with_origin(origin);
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    timers.set_driver_wake(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let (_, waker) = counting();
    let mut late = Sleep::new_in(&timers, origin + us(1_000));
    assert!(poll_once(&mut late, &waker).is_pending());
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        1,
        "the driver slept with no deadline"
    );
    // The driver processes and sleeps until the returned deadline.
    let armed = timers.process(origin).unwrap();
    let mut later = Sleep::new_in(&timers, origin + us(2_000));
    assert!(poll_once(&mut later, &waker).is_pending());
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        1,
        "not earlier than {armed:?}"
    );
    let mut sooner = Sleep::new_in(&timers, origin + us(10));
    assert!(poll_once(&mut sooner, &waker).is_pending());
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        2,
        "earlier: the driver must re-arm"
    );
    later.reset(origin + us(5));
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        3,
        "a reset to an earlier deadline too"
    );
    timers.clear_driver_wake();
    let mut quiet = Sleep::new_in(&timers, origin + us(1));
    assert!(poll_once(&mut quiet, &waker).is_pending());
    assert_eq!(wakes.load(Ordering::SeqCst), 3);
}
