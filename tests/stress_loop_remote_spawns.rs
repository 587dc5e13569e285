//! Stress: tasks spawned on a loop from other threads through a `LoopHandle`, and joined from
//! those threads, all run on the loop's thread and deliver their outputs (issue 7, item 7).

use std::future::Future;
use std::time::Duration;

use switchyard::runtime::sync::mpsc;
use switchyard::runtime::time::timeout;
use switchyard::scheduler::local::EventLoop;

const THREADS: usize = 4;
const SPAWNS_PER_THREAD: usize = 50_000;
/// Far above what a run takes; only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(300);

async fn guarded<F: Future>(what: &str, future: F) -> F::Output {
    match timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: no progress within {HANG_GUARD:?}: a lost wake-up"),
    }
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn remote_spawns_joined_from_other_threads_all_complete_on_the_loop_thread() {
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let loop_thread = std::thread::current().id();
    let (done_tx, mut done_rx) = mpsc::channel::<usize>(THREADS);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = handle.clone();
            let done_tx = done_tx.clone();
            std::thread::spawn(move || {
                // Each thread joins its tasks on a loop of its own: the JoinHandle's waker
                // crosses back from the target loop's thread.
                let mut joiner = EventLoop::new().unwrap();
                let joined = joiner.block_on(guarded("a joining thread", async move {
                    let mut joined = 0usize;
                    // Spawn in batches and join each batch, so spawns and joins interleave
                    // with the target loop running and parking.
                    for batch in 0..SPAWNS_PER_THREAD / 100 {
                        let mut handles = Vec::with_capacity(100);
                        for i in 0..100 {
                            let n = t * SPAWNS_PER_THREAD + batch * 100 + i;
                            handles.push(
                                handle
                                    .spawn(async move { (n, std::thread::current().id()) })
                                    .expect("the loop is alive"),
                            );
                        }
                        for (i, h) in handles.into_iter().enumerate() {
                            let (n, ran_on) = h.await.expect("the task completes");
                            assert_eq!(n, t * SPAWNS_PER_THREAD + batch * 100 + i);
                            assert_eq!(ran_on, loop_thread, "a remote spawn ran off the loop");
                            joined += 1;
                        }
                    }
                    joined
                }));
                let mut el = EventLoop::new().unwrap();
                el.block_on(async move { done_tx.send(joined).await.unwrap() });
            })
        })
        .collect();
    drop(done_tx);
    let total = el.block_on(guarded("the target loop", async move {
        let mut total = 0;
        while let Some(joined) = done_rx.recv().await {
            total += joined;
        }
        total
    }));
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(total, THREADS * SPAWNS_PER_THREAD);
    let metrics = el.metrics();
    assert_eq!(metrics.live_tasks, 0, "finished tasks left in the table");
    assert!(metrics.remote_scheduled >= (THREADS * SPAWNS_PER_THREAD) as u64);
}
