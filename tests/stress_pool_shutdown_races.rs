//! Pool shutdown racing external spawns and wakes (issue 7, items 1 and 7): threads outside
//! the pool spawn tasks, submit closures and wake parked tasks without pause while the pool
//! drops. Whatever the interleaving, nothing is lost: every `JoinHandle` has completed (output
//! or cancelled) once the pool is dropped and the racers are done, and every closure was run
//! or dropped unrun exactly once. (This file is its own process and holds one test, so fd
//! and thread counts are its own.)

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use switchyard::runtime::task::JoinHandle;
use switchyard::scheduler::pool::Pool;

mod resources;
use resources::{open_fds, threads, threads_settle_to};

const ROUNDS: usize = 300;
const RACERS: usize = 3;
/// Operations each racer does before the pool drops, and at least as many after.
const OPS: u64 = 300;
/// Only a hang guard.
const GUARD: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Counts {
    submitted: AtomicU64,
    ran: AtomicU64,
    dropped: AtomicU64,
    /// Operations made after the racer saw the pool shutting down.
    late: AtomicU64,
}

/// Counts a closure's drop, run or not.
struct Counted(Arc<Counts>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Wakers of parked tasks, woken by any racer.
type Parked = Arc<Mutex<Vec<Waker>>>;

/// Waits for one wake.
async fn park_once(parked: Parked) {
    let mut waited = false;
    std::future::poll_fn(|cx| {
        if waited {
            return Poll::Ready(());
        }
        waited = true;
        parked.lock().unwrap().push(cx.waker().clone());
        Poll::Pending
    })
    .await
}

fn is_complete<T>(join: &mut JoinHandle<T>) -> bool {
    pin!(join)
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn shutdown_racing_spawns_and_wakes_loses_nothing() {
    let (fds, threads_before) = (open_fds(), threads());
    let counts = Arc::new(Counts::default());
    for round in 0..ROUNDS {
        let pool = Pool::builder()
            .workers(2)
            .stall_time_slice(None)
            .build()
            .expect("pool");
        let parked: Parked = Arc::default();
        let started = Arc::new(AtomicU64::new(0));
        let racers: Vec<_> = (0..RACERS)
            .map(|r| {
                let (handle, parked, counts, started) = (
                    pool.handle(),
                    parked.clone(),
                    counts.clone(),
                    started.clone(),
                );
                std::thread::spawn(move || {
                    let mut joins = Vec::new();
                    let mut after = 0;
                    let mut i = 0u64;
                    while after < OPS {
                        if handle.is_shut_down() {
                            after += 1;
                            counts.late.fetch_add(1, Ordering::Relaxed);
                        }
                        match (i + r as u64) % 3 {
                            0 => joins.push(handle.spawn(park_once(parked.clone()))),
                            1 => {
                                counts.submitted.fetch_add(1, Ordering::SeqCst);
                                let (c, d) = (counts.clone(), Counted(counts.clone()));
                                handle.execute(move || {
                                    let _d = d;
                                    c.ran.fetch_add(1, Ordering::SeqCst);
                                });
                            }
                            _ => {
                                let wakers = std::mem::take(&mut *parked.lock().unwrap());
                                wakers.into_iter().for_each(Waker::wake);
                            }
                        }
                        i += 1;
                        if i == OPS {
                            started.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    joins
                })
            })
            .collect();
        let deadline = Instant::now() + GUARD;
        while started.load(Ordering::SeqCst) < RACERS as u64 {
            assert!(
                Instant::now() < deadline,
                "round {round}: the racers never started"
            );
            std::thread::yield_now();
        }
        drop(pool);
        let joins: Vec<_> = racers.into_iter().flat_map(|r| r.join().unwrap()).collect();
        for mut join in joins {
            assert!(
                is_complete(&mut join),
                "round {round}: a task's JoinHandle never completes: its job was lost"
            );
        }
        // Parked wakers left over hold tasks that are complete (cancelled); dropping them is
        // all that is left.
        drop(parked);
        let (submitted, dropped) = (
            counts.submitted.load(Ordering::SeqCst),
            counts.dropped.load(Ordering::SeqCst),
        );
        assert_eq!(
            dropped, submitted,
            "round {round}: a closure was neither run nor dropped"
        );
    }
    let ran = counts.ran.load(Ordering::SeqCst);
    let submitted = counts.submitted.load(Ordering::SeqCst);
    assert!(
        ran > 0 && ran < submitted,
        "the race was not exercised: {ran} of {submitted} ran"
    );
    assert!(counts.late.load(Ordering::SeqCst) > 0);
    assert_eq!(
        threads_settle_to(threads_before),
        threads_before,
        "threads left behind"
    );
    assert_eq!(open_fds(), fds, "fds left open");
}
