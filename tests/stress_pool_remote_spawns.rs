//! Remote spawns joined from other threads (issue 7, item 7): several threads outside the
//! pool spawn tasks through `PoolHandle`s and hand the `JoinHandle`s to other threads, which
//! wait for them. Every task runs once, every handle delivers its task's output, whatever
//! thread spawned or joins it. A task that yields, spawns a child or waits on a wake from
//! another thread, so the joins race the whole scheduling path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use switchyard::runtime::coop;
use switchyard::runtime::task::JoinHandle;
use switchyard::scheduler::pool::{Pool, block_on};

const SPAWNERS: u64 = 4;
const JOINERS: usize = 3;
const TASKS_PER_SPAWNER: u64 = 100_000;

/// What task `n` computes, so each output can be checked.
fn expected(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7
}

/// Wakers parked by tasks of the third kind, woken by the spawners.
#[derive(Default)]
struct Parked(Mutex<Vec<Waker>>);

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn tasks_spawned_from_threads_and_joined_from_others_all_complete() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let parked = Arc::new(Parked::default());
    let ran = Arc::new(AtomicU64::new(0));
    let (joins_tx, joins_rx) = mpsc::channel::<(u64, JoinHandle<u64>)>();
    let joins_rx = Arc::new(Mutex::new(joins_rx));
    let joiners: Vec<_> = (0..JOINERS)
        .map(|_| {
            let joins_rx = joins_rx.clone();
            std::thread::spawn(move || {
                let mut joined = 0u64;
                loop {
                    let next = joins_rx.lock().unwrap().recv();
                    let Ok((n, join)) = next else { return joined };
                    assert_eq!(block_on(join).expect("task"), expected(n), "task {n}");
                    joined += 1;
                }
            })
        })
        .collect();
    let spawners: Vec<_> = (0..SPAWNERS)
        .map(|s| {
            let (handle, joins_tx, parked, ran) =
                (pool.handle(), joins_tx.clone(), parked.clone(), ran.clone());
            std::thread::spawn(move || {
                for i in 0..TASKS_PER_SPAWNER {
                    let n = s * TASKS_PER_SPAWNER + i;
                    let (h, task_parked, ran) = (handle.clone(), parked.clone(), ran.clone());
                    let join = handle.spawn(async move {
                        ran.fetch_add(1, Ordering::SeqCst);
                        match n % 3 {
                            0 => coop::yield_now().await,
                            1 => h.spawn(async {}).await.unwrap(),
                            _ => {
                                let mut waited = false;
                                std::future::poll_fn(|cx| {
                                    if waited {
                                        return Poll::Ready(());
                                    }
                                    waited = true;
                                    task_parked.0.lock().unwrap().push(cx.waker().clone());
                                    Poll::Pending
                                })
                                .await
                            }
                        }
                        expected(n)
                    });
                    joins_tx.send((n, join)).unwrap();
                    // Wake whatever tasks of the third kind have parked so far.
                    let wakers = std::mem::take(&mut *parked.0.lock().unwrap());
                    wakers.into_iter().for_each(Waker::wake);
                }
            })
        })
        .collect();
    drop(joins_tx);
    for spawner in spawners {
        spawner.join().unwrap();
    }
    // The last tasks of the third kind may have parked after the spawners' last wake.
    let total = SPAWNERS * TASKS_PER_SPAWNER;
    let joined = std::thread::scope(|scope| {
        let waking = scope.spawn(|| {
            while ran.load(Ordering::SeqCst) < total || !parked.0.lock().unwrap().is_empty() {
                let wakers = std::mem::take(&mut *parked.0.lock().unwrap());
                wakers.into_iter().for_each(Waker::wake);
                std::thread::yield_now();
            }
        });
        let joined: u64 = joiners.into_iter().map(|j| j.join().unwrap()).sum();
        waking.join().unwrap();
        joined
    });
    assert_eq!(joined, total);
    assert_eq!(
        ran.load(Ordering::SeqCst),
        total,
        "a task ran twice or never"
    );
}
