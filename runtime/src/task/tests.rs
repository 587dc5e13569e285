//! Unit tests of the task core, driven by a tiny test scheduler.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::*;

/// A FIFO run queue that counts what the task core asks of it.
#[derive(Default)]
struct Queue {
    runnables: Mutex<VecDeque<(Runnable, ScheduleInfo)>>,
    scheduled: AtomicUsize,
    woken_while_running: AtomicUsize,
    released: Mutex<Vec<TaskId>>,
}

impl Schedule for Arc<Queue> {
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo) {
        self.scheduled.fetch_add(1, Ordering::SeqCst);
        if info.woken_while_running {
            self.woken_while_running.fetch_add(1, Ordering::SeqCst);
        }
        self.runnables.lock().unwrap().push_back((runnable, info));
    }

    fn release(&self, id: TaskId) {
        self.released.lock().unwrap().push(id);
    }
}

impl Queue {
    fn new() -> Arc<Queue> {
        Arc::new(Queue::default())
    }

    fn pop(&self) -> Option<Runnable> {
        self.runnables.lock().unwrap().pop_front().map(|(r, _)| r)
    }

    fn len(&self) -> usize {
        self.runnables.lock().unwrap().len()
    }

    /// Runs queued tasks until the queue is empty; returns how many runs were made.
    fn drain(&self) -> usize {
        let mut runs = 0;
        while let Some(runnable) = self.pop() {
            runnable.run();
            runs += 1;
        }
        runs
    }

    /// Drops every queued Runnable, cancelling their tasks (and breaking the cycle between a
    /// queued task and the queue it holds, which would leak).
    fn clear(&self) {
        let queued: Vec<_> = self.runnables.lock().unwrap().drain(..).collect();
        drop(queued);
    }

    fn released(&self) -> Vec<TaskId> {
        self.released.lock().unwrap().clone()
    }
}

/// Polls a future once with a no-op waker.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(future).poll(&mut cx)
}

/// Counts its drops, so tests can prove a value was dropped exactly once.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that returns `Pending` until `wakes_needed` polls have happened, stashing its
/// waker for the test to fire.
struct Parked {
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Parked {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Yields `n` times (waking itself by reference), then completes with `n`.
struct YieldN {
    left: usize,
    n: usize,
}

impl Future for YieldN {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.left == 0 {
            return Poll::Ready(self.n);
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(all(not(loom), target_pointer_width = "64"))]
#[test]
fn a_parked_task_fits_in_48_bytes() {
    use super::header::Header;
    use super::raw::Cell;
    type Pending = std::future::Pending<()>;
    // state, vtable, id, the boxed awaiter: four words (the table in header.rs).
    assert_eq!(std::mem::size_of::<Header>(), 32);
    // The header, the `Arc` scheduler, and the stage as wide as its thin panic payload (the
    // future and its output are zero-sized).
    assert_eq!(std::mem::size_of::<Cell<Pending, Arc<Queue>>>(), 48);
}

#[test]
fn output_is_delivered_to_the_join_handle() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async { 40 + 2 }, queue.clone(), TaskId::next());
    assert!(poll_once(&mut join).is_pending());
    assert!(!runnable.run(), "a task that finished was not rescheduled");
    assert!(join.is_finished());
    assert_eq!(poll_once(&mut join).map(Result::unwrap), Poll::Ready(42));
}

#[test]
fn a_panic_becomes_a_join_error_with_its_payload() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(
        async {
            if true {
                panic!("the task blew up");
            }
        },
        queue.clone(),
        TaskId::next(),
    );
    let id = runnable.id();
    runnable.run();
    let Poll::Ready(Err(err)) = poll_once(&mut join) else {
        panic!("expected a JoinError");
    };
    assert!(err.is_panic());
    assert_eq!(err.id(), id);
    assert_eq!(err.panic_message(), Some("the task blew up"));
    assert_eq!(
        queue.released(),
        vec![id],
        "release is called for a panicked task"
    );
}

#[test]
fn waking_an_idle_task_schedules_it_once() {
    let queue = Queue::new();
    let stash = Arc::new(Mutex::new(None));
    let (runnable, _join) = spawn(
        Parked {
            waker: stash.clone(),
        },
        queue.clone(),
        TaskId::next(),
    );
    runnable.run();
    let waker = stash.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    waker.wake_by_ref(); // already scheduled: no second Runnable
    assert_eq!(queue.len(), 1);
    waker.wake(); // consumes the waker; still scheduled
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.scheduled.load(Ordering::SeqCst), 1);
    queue.clear();
}

/// A future that keeps a clone of its first poll's waker and records, at each later poll,
/// whether the kept clone `will_wake` the waker of that poll.
struct KeepsWaker {
    kept: Option<Waker>,
    will_wake: Arc<Mutex<Vec<bool>>>,
}

impl Future for KeepsWaker {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &self.kept {
            None => self.kept = Some(cx.waker().clone()),
            Some(kept) => {
                let same = kept.will_wake(cx.waker());
                self.will_wake.lock().unwrap().push(same);
            }
        }
        cx.waker().wake_by_ref();
        if self.will_wake.lock().unwrap().len() == 3 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_clone_of_the_poll_waker_will_wake_the_next_polls_waker() {
    // Resources (channels, timers) keep a clone and skip replacing it when `will_wake` says
    // it is the same task's: that only works if the borrowed waker of each poll and the clones
    // share one vtable address.
    let queue = Queue::new();
    let will_wake = Arc::new(Mutex::new(Vec::new()));
    let (runnable, _join) = spawn(
        KeepsWaker {
            kept: None,
            will_wake: will_wake.clone(),
        },
        queue.clone(),
        TaskId::next(),
    );
    runnable.run();
    queue.drain();
    assert_eq!(*will_wake.lock().unwrap(), [true, true, true]);
}

#[test]
fn a_task_woken_while_running_is_rescheduled_with_the_flag_set() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(YieldN { left: 3, n: 3 }, queue.clone(), TaskId::next());
    assert!(runnable.run(), "woken during the poll");
    assert_eq!(queue.woken_while_running.load(Ordering::SeqCst), 1);
    let runs = queue.drain();
    assert_eq!(runs, 3);
    assert_eq!(queue.woken_while_running.load(Ordering::SeqCst), 3);
    assert_eq!(poll_once(&mut join).map(Result::unwrap), Poll::Ready(3));
}

#[test]
fn dropping_a_runnable_cancels_the_task_and_drops_the_future_once() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (runnable, mut join) = spawn(
        async move {
            let _guard = guard;
            std::future::pending::<()>().await
        },
        queue.clone(),
        TaskId::next(),
    );
    let id = runnable.id();
    drop(runnable);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let Poll::Ready(Err(err)) = poll_once(&mut join) else {
        panic!("expected cancelled");
    };
    assert!(err.is_cancelled());
    assert_eq!(queue.released(), vec![id]);
}

#[test]
fn abort_of_an_idle_task_schedules_it_and_the_run_drops_the_future() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (runnable, mut join) = spawn(
        async move {
            let _guard = guard;
            std::future::pending::<()>().await
        },
        queue.clone(),
        TaskId::next(),
    );
    runnable.run();
    join.abort();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "not dropped on the aborting thread"
    );
    assert_eq!(queue.len(), 1);
    queue.drain();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_once(&mut join), Poll::Ready(Err(e)) if e.is_cancelled()));
    assert_eq!(queue.released().len(), 1);
}

#[test]
fn abort_of_a_completed_task_keeps_its_output() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async { "done" }, queue.clone(), TaskId::next());
    runnable.run();
    join.abort();
    assert_eq!(queue.len(), 0);
    assert_eq!(
        poll_once(&mut join).map(Result::unwrap),
        Poll::Ready("done")
    );
}

#[test]
fn shutdown_of_an_idle_task_drops_the_future_on_this_thread() {
    let queue = Queue::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(drops.clone());
    let (runnable, mut join) = spawn(
        async move {
            let _guard = guard;
            std::future::pending::<()>().await
        },
        queue.clone(),
        TaskId::next(),
    );
    let task = runnable.task();
    runnable.run();
    assert!(!task.is_finished());
    task.shutdown();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(task.is_finished());
    task.shutdown(); // idempotent
    assert_eq!(queue.released().len(), 1);
    assert!(matches!(poll_once(&mut join), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn release_is_called_exactly_once_per_task() {
    let queue = Queue::new();
    let mut ids = Vec::new();
    for i in 0..4 {
        let (runnable, join) = spawn(YieldN { left: i, n: i }, queue.clone(), TaskId::next());
        ids.push(runnable.id());
        runnable.schedule();
        if i % 2 == 0 {
            drop(join);
        }
    }
    queue.drain();
    let mut released = queue.released();
    released.sort();
    assert_eq!(released, ids);
}

#[test]
fn the_output_is_dropped_once_whether_joined_or_detached() {
    for detach_before in [true, false] {
        let queue = Queue::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let out = DropCounter(drops.clone());
        let (runnable, join) = spawn(async move { out }, queue.clone(), TaskId::next());
        if detach_before {
            drop(join);
            runnable.run();
        } else {
            runnable.run();
            assert_eq!(drops.load(Ordering::SeqCst), 0, "kept for the JoinHandle");
            drop(join);
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "detach_before = {detach_before}"
        );
    }
}

#[test]
fn the_join_handle_is_woken_when_the_task_completes() {
    struct CountingWake(AtomicUsize);
    impl std::task::Wake for CountingWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async { 7 }, queue.clone(), TaskId::next());
    let counter = Arc::new(CountingWake(AtomicUsize::new(0)));
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut join).poll(&mut cx).is_pending());
    assert!(Pin::new(&mut join).poll(&mut cx).is_pending()); // same waker: kept
    runnable.run();
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert!(matches!(
        Pin::new(&mut join).poll(&mut cx),
        Poll::Ready(Ok(7))
    ));
}

#[test]
fn a_not_send_future_runs_through_spawn_unchecked() {
    use std::rc::Rc;
    let queue = Queue::new();
    let shared = Rc::new(5);
    let inner = shared.clone();
    // SAFETY: the Runnable is run and dropped on this thread.
    let (runnable, mut join) =
        unsafe { spawn_unchecked(async move { *inner + 1 }, queue.clone(), TaskId::next()) };
    runnable.run();
    assert_eq!(poll_once(&mut join).map(Result::unwrap), Poll::Ready(6));
    assert_eq!(
        Rc::strong_count(&shared),
        1,
        "the future (and its Rc) was dropped"
    );
}

/// A future that counts its polls and never finishes.
struct CountPolls(Arc<AtomicUsize>);

impl Future for CountPolls {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Poll::Pending
    }
}

#[test]
fn every_task_is_freed_once_its_handles_are_gone() {
    let queue = Queue::new();
    let (runnable, join) = spawn(YieldN { left: 2, n: 2 }, queue.clone(), TaskId::next());
    let waker = runnable.waker();
    let clones: Vec<Waker> = (0..5).map(|_| waker.clone()).collect();
    assert_eq!(Arc::strong_count(&queue), 2, "the task holds the scheduler");
    runnable.run();
    queue.drain();
    drop(clones);
    drop(join);
    assert_eq!(
        Arc::strong_count(&queue),
        2,
        "one waker still holds the task"
    );
    drop(waker);
    assert_eq!(
        Arc::strong_count(&queue),
        1,
        "the last reference freed the task"
    );
}

#[test]
fn wake_by_ref_keeps_the_waker_and_wake_consumes_it() {
    let queue = Queue::new();
    let stash = Arc::new(Mutex::new(None));
    let (runnable, join) = spawn(
        Parked {
            waker: stash.clone(),
        },
        queue.clone(),
        TaskId::next(),
    );
    runnable.run();
    let waker = stash.lock().unwrap().take().unwrap();
    waker.wake_by_ref();
    assert_eq!(queue.len(), 1);
    queue.drain(); // polled again: the future stashes a fresh clone
    let fresh = stash.lock().unwrap().take().unwrap();
    assert!(fresh.will_wake(&waker));
    waker.wake(); // consumed: its reference goes with it
    assert_eq!(queue.len(), 1);
    queue.clear(); // cancels the task
    drop(fresh);
    drop(join);
    assert_eq!(Arc::strong_count(&queue), 1, "no reference leaked");
}

#[test]
fn a_detached_task_still_runs_to_completion() {
    let queue = Queue::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let seen = ran.clone();
    let (runnable, join) = spawn(
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
        },
        queue.clone(),
        TaskId::next(),
    );
    drop(join);
    runnable.run();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert_eq!(queue.released().len(), 1);
    assert_eq!(
        Arc::strong_count(&queue),
        1,
        "the detached task freed itself"
    );
}

#[test]
#[should_panic(expected = "polled again after it returned Ready")]
fn polling_a_join_handle_after_ready_panics() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async {}, queue.clone(), TaskId::next());
    runnable.run();
    assert!(poll_once(&mut join).is_ready());
    let _ = poll_once(&mut join);
}

/// Aborts its own task from inside its poll (the task is RUNNING then).
struct AbortSelf {
    join: Arc<Mutex<Option<JoinHandle<()>>>>,
    ready_anyway: bool,
}

impl Future for AbortSelf {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.join.lock().unwrap().as_ref().unwrap().abort();
        if self.ready_anyway {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn abort_of_a_running_task_drops_the_future_after_the_poll() {
    let queue = Queue::new();
    let slot = Arc::new(Mutex::new(None));
    let (runnable, join) = spawn(
        AbortSelf {
            join: slot.clone(),
            ready_anyway: false,
        },
        queue.clone(),
        TaskId::next(),
    );
    *slot.lock().unwrap() = Some(join);
    assert!(!runnable.run(), "a cancelled task is not rescheduled");
    assert_eq!(queue.len(), 0);
    assert_eq!(queue.released().len(), 1);
    let mut join = slot.lock().unwrap().take().unwrap();
    assert_eq!(Arc::strong_count(&slot), 1, "the future was dropped");
    assert!(matches!(poll_once(&mut join), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn a_task_that_finishes_in_the_poll_it_was_aborted_in_keeps_its_output() {
    let queue = Queue::new();
    let slot = Arc::new(Mutex::new(None));
    let (runnable, join) = spawn(
        AbortSelf {
            join: slot.clone(),
            ready_anyway: true,
        },
        queue.clone(),
        TaskId::next(),
    );
    *slot.lock().unwrap() = Some(join);
    runnable.run();
    let mut join = slot.lock().unwrap().take().unwrap();
    assert!(matches!(poll_once(&mut join), Poll::Ready(Ok(()))));
}

#[test]
fn shutdown_of_a_scheduled_task_makes_the_next_run_drop_it_unpolled() {
    let queue = Queue::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let (runnable, mut join) = spawn(CountPolls(polls.clone()), queue.clone(), TaskId::next());
    let task = runnable.task();
    task.shutdown();
    assert!(!task.is_finished(), "marked, not yet dropped");
    assert!(!runnable.run());
    assert_eq!(polls.load(Ordering::SeqCst), 0, "never polled");
    assert!(task.is_finished());
    assert!(matches!(poll_once(&mut join), Poll::Ready(Err(e)) if e.is_cancelled()));
}

#[test]
fn a_task_whose_handles_are_all_dropped_is_scheduled_once_more_to_be_cancelled() {
    let queue = Queue::new();
    let stash = Arc::new(Mutex::new(None));
    let (runnable, join) = spawn(
        Parked {
            waker: stash.clone(),
        },
        queue.clone(),
        TaskId::next(),
    );
    runnable.run();
    drop(join);
    let waker = stash.lock().unwrap().take().unwrap();
    drop(waker); // the last reference, on an idle task
    assert_eq!(queue.len(), 1, "handed back to the owner");
    assert!(
        queue.released().is_empty(),
        "the future is not dropped by the last handle"
    );
    assert_eq!(queue.drain(), 1);
    assert_eq!(queue.released().len(), 1);
    assert_eq!(Arc::strong_count(&queue), 1);
}

#[test]
fn a_pending_task_nobody_can_wake_is_cancelled_by_its_run() {
    let queue = Queue::new();
    let polls = Arc::new(AtomicUsize::new(0));
    let (runnable, join) = spawn(CountPolls(polls.clone()), queue.clone(), TaskId::next());
    drop(join);
    assert!(!runnable.run());
    assert_eq!(polls.load(Ordering::SeqCst), 1);
    assert_eq!(queue.released().len(), 1);
    assert_eq!(Arc::strong_count(&queue), 1, "freed");
}

#[test]
fn a_panic_in_a_cancelled_futures_drop_is_reported_as_a_panic() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop failed");
        }
    }
    let queue = Queue::new();
    let guard = PanicOnDrop;
    let (runnable, mut join) = spawn(
        async move {
            let _guard = guard;
            std::future::pending::<()>().await
        },
        queue.clone(),
        TaskId::next(),
    );
    drop(runnable);
    let Poll::Ready(Err(err)) = poll_once(&mut join) else {
        panic!("expected an error");
    };
    assert_eq!(err.panic_message(), Some("drop failed"));
    assert_eq!(queue.released().len(), 1);
}

#[test]
fn a_non_string_panic_payload_is_kept_intact() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(
        async { std::panic::panic_any(42_u32) },
        queue.clone(),
        TaskId::next(),
    );
    runnable.run();
    let Poll::Ready(Err(err)) = poll_once(&mut join) else {
        panic!("expected an error");
    };
    assert_eq!(err.panic_message(), None);
    assert_eq!(err.into_panic().downcast_ref::<u32>(), Some(&42));
}

#[test]
fn a_runnable_survives_a_round_trip_through_a_raw_pointer() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async { 1 }, queue.clone(), TaskId::next());
    let id = runnable.id();
    let raw = runnable.into_raw();
    // SAFETY: `raw` came from `into_raw` and is taken back once.
    let runnable = unsafe { Runnable::from_raw(raw) };
    assert_eq!(runnable.id(), id);
    assert_eq!(join.id(), id);
    runnable.run();
    assert_eq!(poll_once(&mut join).map(Result::unwrap), Poll::Ready(1));
}

#[test]
fn a_new_waker_replaces_the_join_handles_old_one() {
    struct Flag(AtomicUsize);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async { 3 }, queue.clone(), TaskId::next());
    let (old, new) = (
        Arc::new(Flag(AtomicUsize::new(0))),
        Arc::new(Flag(AtomicUsize::new(0))),
    );
    let old_waker = Waker::from(old.clone());
    let new_waker = Waker::from(new.clone());
    assert!(
        Pin::new(&mut join)
            .poll(&mut Context::from_waker(&old_waker))
            .is_pending()
    );
    assert!(
        Pin::new(&mut join)
            .poll(&mut Context::from_waker(&new_waker))
            .is_pending()
    );
    runnable.run();
    assert_eq!(old.0.load(Ordering::SeqCst), 0);
    assert_eq!(new.0.load(Ordering::SeqCst), 1);
    drop(join);
    assert_eq!(Arc::strong_count(&old), 2, "the replaced waker was dropped");
    assert_eq!(
        Arc::strong_count(&new),
        2,
        "the slot's waker was dropped with the task"
    );
}

#[test]
fn many_threads_waking_never_lose_a_wake_or_a_reference() {
    /// Ready once every waking thread has checked in.
    struct AllCheckedIn {
        checked_in: Arc<AtomicUsize>,
        expected: usize,
        stash: Arc<Mutex<Option<Waker>>>,
    }
    impl Future for AllCheckedIn {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            *self.stash.lock().unwrap() = Some(cx.waker().clone());
            if self.checked_in.load(Ordering::SeqCst) == self.expected {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    const THREADS: usize = if cfg!(miri) { 2 } else { 4 };
    const WAKES: usize = if cfg!(miri) { 5 } else { 200 };
    let queue = Queue::new();
    let checked_in = Arc::new(AtomicUsize::new(0));
    let stash = Arc::new(Mutex::new(None));
    let (runnable, mut join) = spawn(
        AllCheckedIn {
            checked_in: checked_in.clone(),
            expected: THREADS,
            stash: stash.clone(),
        },
        queue.clone(),
        TaskId::next(),
    );
    let waker = runnable.waker();
    runnable.run();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let waker = waker.clone();
            let checked_in = checked_in.clone();
            std::thread::spawn(move || {
                for i in 0..WAKES {
                    if i % 2 == 0 {
                        waker.wake_by_ref();
                    } else {
                        // By value, so the count goes up and down on this thread.
                        let owned = waker.clone();
                        owned.wake();
                    }
                }
                checked_in.fetch_add(1, Ordering::SeqCst);
                waker.wake();
            })
        })
        .collect();
    // Run the task as the threads wake it, until it completes.
    while !join.is_finished() {
        queue.drain();
        std::thread::yield_now();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(matches!(poll_once(&mut join), Poll::Ready(Ok(()))));
    assert!(queue.scheduled.load(Ordering::SeqCst) <= THREADS * (WAKES + 1));
    drop(join);
    drop(waker);
    drop(stash.lock().unwrap().take()); // the clone the future kept
    assert_eq!(queue.len(), 0);
    assert_eq!(
        Arc::strong_count(&queue),
        1,
        "every waker reference was given back"
    );
}

#[test]
fn runnable_waker_and_schedule_hand_the_task_to_its_scheduler() {
    let queue = Queue::new();
    let (runnable, mut join) = spawn(YieldN { left: 1, n: 9 }, queue.clone(), TaskId::next());
    runnable.schedule();
    let (runnable, info) = queue.runnables.lock().unwrap().pop_front().unwrap();
    assert!(!info.woken_while_running);
    let waker = runnable.waker();
    assert!(runnable.run());
    waker.wake_by_ref(); // scheduled already: nothing
    assert_eq!(queue.len(), 1);
    queue.drain();
    assert_eq!(poll_once(&mut join).map(Result::unwrap), Poll::Ready(9));
}

/// Wakes itself by value (a cloned waker) on its first poll, then is ready.
struct WakeByValueOnce(bool);

impl Future for WakeByValueOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        let owned = cx.waker().clone();
        owned.wake();
        Poll::Pending
    }
}

#[test]
fn a_self_wake_by_value_reschedules_and_gives_its_reference_back() {
    let queue = Queue::new();
    let (runnable, join) = spawn(WakeByValueOnce(false), queue.clone(), TaskId::next());
    assert!(runnable.run());
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.drain(), 1);
    assert!(join.is_finished());
    drop(join);
    assert_eq!(
        Arc::strong_count(&queue),
        1,
        "the cloned waker's reference was given back"
    );
}

#[test]
fn a_nested_run_keeps_the_outer_tasks_self_wake() {
    /// Wakes itself, then runs another task's Runnable inside its own poll.
    struct Outer(Option<Runnable>);
    impl Future for Outer {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            match self.0.take() {
                Some(inner) => {
                    cx.waker().wake_by_ref();
                    assert!(inner.run(), "the inner task's own self-wake is its own");
                    Poll::Pending
                }
                None => Poll::Ready(()),
            }
        }
    }
    let queue = Queue::new();
    let (inner, inner_join) = spawn(YieldN { left: 1, n: 0 }, queue.clone(), TaskId::next());
    let (outer, outer_join) = spawn(Outer(Some(inner)), queue.clone(), TaskId::next());
    assert!(outer.run(), "the outer self-wake survived the nested run");
    assert_eq!(queue.woken_while_running.load(Ordering::SeqCst), 2);
    queue.drain();
    assert!(inner_join.is_finished() && outer_join.is_finished());
}

#[test]
fn waking_another_task_inside_a_poll_schedules_that_task_not_this_one() {
    let queue = Queue::new();
    let stash = Arc::new(Mutex::new(None));
    let (parked, _parked_join) = spawn(
        Parked {
            waker: stash.clone(),
        },
        queue.clone(),
        TaskId::next(),
    );
    parked.run();
    let other = stash.lock().unwrap().take().unwrap();
    let (waker_task, join) = spawn(
        async move {
            other.wake_by_ref();
        },
        queue.clone(),
        TaskId::next(),
    );
    assert!(!waker_task.run(), "the waking task was not rescheduled");
    assert!(join.is_finished());
    assert_eq!(queue.len(), 1, "the parked task was scheduled");
    queue.clear();
}

#[test]
fn a_join_handle_dropped_while_waiting_gives_its_waker_back() {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let queue = Queue::new();
    let (runnable, mut join) = spawn(async { 1 }, queue.clone(), TaskId::next());
    let awaiter = Arc::new(Noop);
    let waker = Waker::from(awaiter.clone());
    assert!(
        Pin::new(&mut join)
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    assert_eq!(Arc::strong_count(&awaiter), 3, "the slot holds a clone");
    drop(join);
    assert_eq!(
        Arc::strong_count(&awaiter),
        2,
        "dropped with the handle, not with the task"
    );
    runnable.run(); // completes with nobody to wake and nothing to keep
    assert_eq!(queue.released().len(), 1);
    assert_eq!(Arc::strong_count(&queue), 1, "freed");
}

/// A scheduler with a table of live tasks that hands each entry back at `release_ref`: the
/// task core gives the entry's reference up as it completes the task.
#[derive(Default)]
struct Table {
    queue: Mutex<VecDeque<Runnable>>,
    entries: Mutex<Vec<(TaskId, TaskRef)>>,
    /// A `TaskRef` to hand back instead of the released task's own (a wrong one).
    wrong: Mutex<Option<TaskRef>>,
    released: AtomicUsize,
}

impl Schedule for Arc<Table> {
    fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
        self.queue.lock().unwrap().push_back(runnable);
    }

    fn release_ref(&self, id: TaskId) -> Option<TaskRef> {
        self.released.fetch_add(1, Ordering::SeqCst);
        let mut entries = self.entries.lock().unwrap();
        let at = entries.iter().position(|(i, _)| *i == id)?;
        let (_, entry) = entries.swap_remove(at);
        drop(entries);
        match self.wrong.lock().unwrap().take() {
            Some(wrong) => {
                drop(entry);
                Some(wrong)
            }
            None => Some(entry),
        }
    }
}

impl Table {
    fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = TaskId::next();
        let (runnable, join, entry) = spawn_with_ref(future, self.clone(), id);
        self.entries.lock().unwrap().push((id, entry));
        self.queue.lock().unwrap().push_back(runnable);
        join
    }

    fn drain(&self) {
        loop {
            let next = self.queue.lock().unwrap().pop_front();
            match next {
                Some(runnable) => {
                    runnable.run();
                }
                None => return,
            }
        }
    }
}

#[test]
fn a_table_entry_handed_back_at_release_is_given_up_with_the_completion() {
    let table = Arc::new(Table::default());
    let drops = Arc::new(AtomicUsize::new(0));
    let (guard, counter) = (DropCounter(drops.clone()), drops.clone());
    // Joined after it finished, detached before, and cancelled unjoined: each path of
    // transition (7) with the entry's reference given up in it.
    let mut joined = table.spawn(async move {
        let _guard = guard;
        7
    });
    let detached = table.spawn(async {});
    let guard = DropCounter(counter.clone());
    let cancelled = table.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    });
    drop(detached);
    table.drain();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the first future was not dropped"
    );
    assert_eq!(
        table.entries.lock().unwrap().len(),
        1,
        "only the pending one is left"
    );
    assert!(matches!(poll_once(&mut joined), Poll::Ready(Ok(7))));
    drop(joined);
    cancelled.abort();
    table.drain();
    assert!(cancelled.is_finished());
    drop(cancelled);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!(table.released.load(Ordering::SeqCst), 3);
    assert!(table.entries.lock().unwrap().is_empty());
    // Every task freed: only the test's own reference to the table is left (each task held
    // one, dropped when it was freed).
    assert_eq!(Arc::strong_count(&table), 1, "a task was not freed");
}

#[test]
fn a_wrong_task_ref_handed_back_at_release_is_dropped_not_given_up_for_the_task() {
    let table = Arc::new(Table::default());
    let other = table.spawn(std::future::pending::<()>());
    // The other task's entry is handed back when the first one completes.
    let entry = table.entries.lock().unwrap().pop().map(|(_, e)| e);
    *table.wrong.lock().unwrap() = entry;
    let mut first = table.spawn(async { 1 });
    let runnable = table.queue.lock().unwrap().pop_back().unwrap();
    runnable.run();
    assert!(matches!(poll_once(&mut first), Poll::Ready(Ok(1))));
    drop(first);
    // The other task is alive, with its JoinHandle, its Runnable and no entry.
    assert!(!other.is_finished());
    drop(other);
    table.queue.lock().unwrap().clear();
    assert_eq!(Arc::strong_count(&table), 1, "a task was not freed");
}
