//! 1,000,000 cross-thread wakes, none lost: tasks on the pool wait on a signal that a thread
//! outside the pool raises, round after round in lock-step. Every wake goes through the
//! injector and the sleep protocol (a worker may be asleep at each one); a lost wake-up leaves
//! a task waiting forever, and the failure guard reports it.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;
use switchyard::scheduler::pool::Pool;

#[cfg(not(any(miri, loom)))]
const TASKS: u64 = 100;
#[cfg(not(any(miri, loom)))]
const ROUNDS: u64 = 10_000;
#[cfg(any(miri, loom))]
const TASKS: u64 = 4;
#[cfg(any(miri, loom))]
const ROUNDS: u64 = 25;
const GUARD: Duration = Duration::from_secs(120);

/// A counter a task waits on: `raise` bumps it and wakes the waiter.
#[derive(Default)]
struct Signal {
    raised: AtomicU64,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn raise(&self) {
        self.raised.fetch_add(1, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().unwrap().take() {
            waker.wake();
        }
    }

    async fn wait_for(&self, n: u64) {
        poll_fn(|cx| {
            if self.raised.load(Ordering::SeqCst) >= n {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            // Re-check after registering: a raise in between found no waker to wake.
            if self.raised.load(Ordering::SeqCst) >= n {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Counts acknowledgements; the raiser waits on it between rounds.
#[derive(Default)]
struct Acks {
    count: Mutex<u64>,
    changed: Condvar,
}

#[test]
fn a_million_cross_thread_wakes_none_lost() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let signals: Arc<Vec<Signal>> = Arc::new((0..TASKS).map(|_| Signal::default()).collect());
    let acks = Arc::new(Acks::default());
    let joins: Vec<_> = (0..TASKS as usize)
        .map(|i| {
            let (signals, acks) = (signals.clone(), acks.clone());
            pool.spawn(async move {
                for round in 1..=ROUNDS {
                    signals[i].wait_for(round).await;
                    *acks.count.lock().unwrap() += 1;
                    acks.changed.notify_one();
                }
            })
        })
        .collect();
    for round in 1..=ROUNDS {
        for signal in signals.iter() {
            signal.raise();
        }
        let target = round * TASKS;
        let count = acks.count.lock().unwrap();
        let (count, timeout) = acks
            .changed
            .wait_timeout_while(count, GUARD, |c| *c < target)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "round {round}: {} of {target} acknowledged: a wake-up was lost",
            *count
        );
    }
    for join in joins {
        pool.block_on(join).expect("task failed");
    }
    assert_eq!(*acks.count.lock().unwrap(), TASKS * ROUNDS);
    let metrics = pool.metrics();
    assert_eq!(metrics.live_tasks, 0);
    // A task that finds its next round already raised goes on in the same poll, so polls
    // can be fewer than wakes; at least one per task and round-trip of the first round.
    assert!(
        metrics.total_polls() >= TASKS,
        "polls: {}",
        metrics.total_polls()
    );
    // One schedule in LATENCY_SAMPLE_EVERY per thread arms the sampler: a million wakes
    // leave samples in the histogram.
    assert!(
        !metrics.schedule_latency.is_empty(),
        "no schedule latency sampled"
    );
}
