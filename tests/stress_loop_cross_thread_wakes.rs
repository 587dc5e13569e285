//! Stress: a million wakes from other threads into a loop that parks between them, and none is
//! lost (issue 7, item 7). Run by CI's stress step:
//! `cargo test --release --test 'stress_*' -- --ignored`.

use std::future::Future;
use std::time::Duration;

use switchyard::runtime::sync::{mpsc, oneshot};
use switchyard::runtime::time::timeout;
use switchyard::scheduler::local::{EventLoop, spawn_local};

/// Cross-thread wakes in all.
const WAKES: usize = 1_000_000;
/// Threads that wake the loop.
const WAKERS: usize = 2;
/// Far above what a run takes (seconds); only a lost wake-up, which parks the loop for ever,
/// reaches it, and then the test fails with a message instead of hanging CI.
const HANG_GUARD: Duration = Duration::from_secs(300);

async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    match timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: no progress within {HANG_GUARD:?}: a lost wake-up"),
    }
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn a_million_cross_thread_wakes_into_a_parking_loop_are_none_lost() {
    // Capacity 1: every send after the first waits for the loop to take the previous value,
    // so the loop runs out of work and parks between values again and again, and each value
    // is a wake of a parked (or parking) loop.
    let (tx, mut rx) = mpsc::channel::<usize>(1);
    let per_waker = WAKES / WAKERS;
    let wakers: Vec<_> = (0..WAKERS)
        .map(|w| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut el = EventLoop::new().unwrap();
                el.block_on(guarded("a waking thread", async move {
                    for i in 0..per_waker {
                        tx.send(w * per_waker + i).await.unwrap();
                    }
                }));
            })
        })
        .collect();
    drop(tx);
    let mut el = EventLoop::new().unwrap();
    // Half the wakes go to a spawned task, half to the main future: both wake paths (the
    // remote queue and `main_woken`) are hammered.
    let (count, sum) = el.block_on(guarded("the loop", async move {
        let (done_tx, done_rx) = oneshot::channel();
        let (mut count, mut sum) = (0usize, 0usize);
        let half = WAKES / 2;
        let mut taken = Vec::with_capacity(half);
        while taken.len() < half {
            taken.push(rx.recv().await.expect("the senders are alive"));
        }
        let task = spawn_local(async move {
            let (mut count, mut sum) = (0usize, 0usize);
            while let Some(v) = rx.recv().await {
                count += 1;
                sum += v;
            }
            let _ = done_tx.send(());
            (count, sum)
        })
        .unwrap();
        done_rx.await.unwrap();
        let (task_count, task_sum) = task.await.unwrap();
        count += taken.len() + task_count;
        sum += taken.iter().sum::<usize>() + task_sum;
        (count, sum)
    }));
    let parks = el.metrics().parks;
    let remote = el.metrics().remote_scheduled;
    for w in wakers {
        w.join().unwrap();
    }
    assert_eq!(count, WAKES, "values lost");
    assert_eq!(sum, WAKES * (WAKES - 1) / 2, "values lost or duplicated");
    // The loop did park and was woken from the other threads (the test measures what it says).
    assert!(parks > 0, "the loop never parked");
    assert!(
        remote > 0,
        "no wake reached the spawned task from another thread"
    );
}
