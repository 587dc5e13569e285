//! Wakers fired on other threads reach the loop, also while it is parked, and none is lost.
//!
//! A lost wake-up parks a loop for ever; every `block_on` here runs its future under
//! [`guarded`], so that such a bug fails the test, with its name, instead of hanging the suite.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchyard::runtime::sync::{mpsc, oneshot};
use switchyard::runtime::time::timeout;
use switchyard::scheduler::local::{EventLoop, spawn_local};

/// Far above what any of these tests takes (milliseconds); only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// `future`, bounded by [`HANG_GUARD`] on the loop's own timer (a path independent of the
/// cross-thread wake under test): panics naming `what` if it is reached.
async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    match timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: no progress within {HANG_GUARD:?}: a lost wake-up"),
    }
}

#[test]
fn a_parked_loop_wakes_when_another_thread_sends() {
    let mut el = EventLoop::new().unwrap();
    let (tx, rx) = oneshot::channel::<u64>();
    let sender = std::thread::spawn(move || {
        tx.send(99).unwrap();
    });
    // The loop has nothing else to do: it parks in the reactor until the send wakes it.
    assert_eq!(el.block_on(guarded("the parked loop", rx)).unwrap(), 99);
    sender.join().unwrap();
}

#[test]
fn many_wakes_from_many_threads_are_none_lost() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = if cfg!(miri) { 50 } else { 20_000 };
    let mut el = EventLoop::new().unwrap();
    let (tx, mut rx) = mpsc::channel::<usize>(8);
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut el = EventLoop::new().unwrap();
                el.block_on(guarded("a sender", async move {
                    for i in 0..PER_THREAD {
                        tx.send(t * PER_THREAD + i).await.unwrap();
                    }
                }));
            })
        })
        .collect();
    drop(tx);
    let (count, sum) = el.block_on(guarded("the receiver", async move {
        let (mut count, mut sum) = (0usize, 0usize);
        while let Some(v) = rx.recv().await {
            count += 1;
            sum += v;
        }
        (count, sum)
    }));
    for s in senders {
        s.join().unwrap();
    }
    let n = THREADS * PER_THREAD;
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn tasks_woken_remotely_while_the_main_future_waits_all_complete() {
    const TASKS: usize = 200;
    let mut el = EventLoop::new().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    el.block_on({
        let done = done.clone();
        guarded("the main future", async move {
            let mut handles = Vec::new();
            for _ in 0..TASKS {
                let (tx, rx) = oneshot::channel::<()>();
                senders.push(tx);
                let done = done.clone();
                handles.push(
                    spawn_local(async move {
                        rx.await.unwrap();
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap(),
                );
            }
            let t = std::thread::spawn(move || {
                for tx in senders {
                    tx.send(()).unwrap();
                }
            });
            for h in handles {
                h.await.unwrap();
            }
            t.join().unwrap();
        })
    });
    assert_eq!(done.load(Ordering::SeqCst), TASKS);
}
