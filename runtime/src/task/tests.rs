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

#[cfg(not(loom))]
#[test]
fn a_parked_task_fits_in_56_bytes() {
    use super::raw::Cell;
    type Pending = std::future::Pending<()>;
    assert_eq!(std::mem::size_of::<Cell<Pending, Arc<Queue>>>(), 56);
    assert!(std::mem::size_of::<Cell<Pending, Arc<Queue>>>() <= 56);
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
