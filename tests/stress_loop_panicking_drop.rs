//! Stress: futures whose `Drop` panics, dropped by the loop's shutdown. Shutdown still drops
//! every other future, reports every task at its `JoinHandle` (the panicking ones as panics,
//! the others as cancelled), closes the loop's fds, and does not unwind out of the loop's
//! drop (issue 7, item 7).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchyard::runtime::sync::oneshot;
use switchyard::scheduler::local::{EventLoop, spawn_local, yield_now};

mod resources;
use resources::open_fds;

const ROUNDS: usize = 1_000;
/// Tasks per loop; every third one panics when dropped.
const TASKS: usize = 90;

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("a future's drop panics during shutdown, on purpose");
    }
}

struct CountDrop(Arc<AtomicUsize>);
impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn panicking_drops_during_shutdown_lose_no_task_and_no_fd() {
    // The panics are expected: keep their messages out of the output.
    std::panic::set_hook(Box::new(|_| {}));
    let fds_before = open_fds();
    for round in 0..ROUNDS {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut el = EventLoop::new().unwrap();
        let handle = el.handle();
        let mut joins = Vec::new();
        let mut keep_senders = Vec::new();
        for i in 0..TASKS {
            let counted = CountDrop(drops.clone());
            let (tx, rx) = oneshot::channel::<()>();
            keep_senders.push(tx);
            let join = if i % 3 == 0 {
                el.spawn_local(async move {
                    let _counted = counted;
                    let _bomb = PanicOnDrop;
                    let _ = rx.await;
                })
            } else if i % 3 == 1 {
                // Spawned from another thread: it lives in the remote table.
                handle.spawn(async move {
                    let _counted = counted;
                    let _ = rx.await;
                })
            } else {
                el.spawn_local(async move {
                    let _counted = counted;
                    // Its drop spawns onto the dying loop: refused, not lost or hung.
                    struct SpawnOnDrop;
                    impl Drop for SpawnOnDrop {
                        fn drop(&mut self) {
                            let _ = spawn_local(async {});
                        }
                    }
                    let _spawner = SpawnOnDrop;
                    let _ = rx.await;
                })
            };
            joins.push(join.unwrap());
        }
        // Poll every task once (so each parks on its receiver), then drop the loop.
        el.block_on(async {
            for _ in 0..3 {
                yield_now().await;
            }
        });
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(el)));
        assert!(
            dropped.is_ok(),
            "round {round}: a panic unwound out of the loop's drop"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            TASKS,
            "round {round}: a future was not dropped"
        );
        let mut joiner = EventLoop::new().unwrap();
        for (i, join) in joins.into_iter().enumerate() {
            let error = joiner.block_on(join).unwrap_err();
            if i % 3 == 0 {
                assert!(error.is_panic(), "round {round}, task {i}: {error}");
            } else {
                assert!(error.is_cancelled(), "round {round}, task {i}: {error}");
            }
        }
        drop(joiner);
        drop(keep_senders);
        assert_eq!(open_fds(), fds_before, "round {round}: fds leaked");
    }
    let _ = std::panic::take_hook();
}
