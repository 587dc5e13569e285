//! Dropping the loop while other threads wake its tasks loses no task: every future is dropped
//! exactly once, on the loop's thread, and every `JoinHandle` finishes.
//!
//! A stress test: the narrowest race (a wake that has scheduled a task but not yet pushed its
//! runnable when the loop drains its queues) is a few instructions wide and is rarely hit here;
//! the argument that the drop waits for it is in `scheduler/src/local/mod.rs`, "Shutdown".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Poll, Waker};
use std::thread::ThreadId;

use switchyard::scheduler::local::EventLoop;

const ROUNDS: usize = if cfg!(miri) { 2 } else { 40 };
const TASKS: usize = if cfg!(miri) { 4 } else { 200 };

/// Records where it was dropped.
struct DropProbe {
    drops: Arc<AtomicUsize>,
    wrong_thread: Arc<AtomicUsize>,
    owner: ThreadId,
}
impl Drop for DropProbe {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if std::thread::current().id() != self.owner {
            self.wrong_thread.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn wakes_racing_the_loops_drop_never_strand_a_task() {
    for _ in 0..ROUNDS {
        let drops = Arc::new(AtomicUsize::new(0));
        let wrong_thread = Arc::new(AtomicUsize::new(0));
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::new(Mutex::new(Vec::new()));
        let mut el = EventLoop::builder().polls_per_tick(1_000).build().unwrap();
        let mut handles = Vec::new();
        for _ in 0..TASKS {
            let probe = DropProbe {
                drops: drops.clone(),
                wrong_thread: wrong_thread.clone(),
                owner: std::thread::current().id(),
            };
            let wakers = wakers.clone();
            handles.push(
                el.spawn_local(std::future::poll_fn(move |cx| {
                    let _keep = &probe;
                    wakers.lock().unwrap().push(cx.waker().clone());
                    Poll::<()>::Pending
                }))
                .unwrap(),
            );
        }
        // One tick: every task parks and leaves its waker.
        el.block_on(switchyard::scheduler::local::yield_now());
        let barrier = Arc::new(Barrier::new(2));
        let waker_thread = {
            let wakers = std::mem::take(&mut *wakers.lock().unwrap());
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for w in wakers {
                    w.wake();
                }
            })
        };
        barrier.wait();
        drop(el);
        waker_thread.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), TASKS);
        assert_eq!(wrong_thread.load(Ordering::SeqCst), 0);
        assert!(handles.iter().all(|h| h.is_finished()));
        drop(handles);
        drop(wakers);
    }
}
