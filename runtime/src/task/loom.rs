//! loom models of the races in the task state machine.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p switchyard-runtime --release --lib task::loom
//! ```
//!
//! Add `CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true` to also check, in every interleaving, the
//! `debug_assert!`ed preconditions of each transition (for example that at most one
//! `Runnable` exists).
//!
//! Each model explores every interleaving of its threads (exhaustively: no preemption bound)
//! touching one task, and checks what must hold in all of them: the future and the output are
//! dropped exactly once, `release` is called exactly once, a wake is never lost, and nothing
//! leaks (the task holds a loom `Arc` to its scheduler, so a task never freed is reported by
//! loom as a leaked `Arc`). Writes that a wake must publish are made `Relaxed` on purpose, so
//! the models check that the task core's own orderings carry them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use ::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use ::loom::sync::{Arc, Mutex};
use ::loom::thread;

use super::{
    JoinError, JoinHandle, Runnable, Schedule, ScheduleInfo, TaskId, TaskRef, spawn, spawn_with_ref,
};

/// A FIFO run queue, as small as a scheduler gets.
#[derive(Clone)]
struct Queue(Arc<Inner>);

struct Inner {
    runnables: Mutex<VecDeque<Runnable>>,
    released: AtomicUsize,
}

impl Schedule for Queue {
    fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
        self.0.runnables.lock().unwrap().push_back(runnable);
    }

    fn release(&self, _: TaskId) {
        self.0.released.fetch_add(1, Ordering::Relaxed);
    }
}

impl Queue {
    fn new() -> Queue {
        Queue(Arc::new(Inner {
            runnables: Mutex::new(VecDeque::new()),
            released: AtomicUsize::new(0),
        }))
    }

    /// Runs queued tasks until none is left (breaks the queue <-> task cycle).
    fn drain(&self) {
        loop {
            let next = self.0.runnables.lock().unwrap().pop_front();
            match next {
                Some(runnable) => {
                    runnable.run();
                }
                None => return,
            }
        }
    }

    fn released(&self) -> usize {
        self.0.released.load(Ordering::Relaxed)
    }
}

/// Counts drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Ready once `flag` is set (read `Relaxed`: the wake must publish it), else stashes its waker.
struct WaitFlag {
    flag: Arc<AtomicBool>,
    stash: Arc<Mutex<Option<Waker>>>,
    _guard: DropCounter,
}

impl Future for WaitFlag {
    type Output = DropCounter;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DropCounter> {
        if self.flag.load(Ordering::Relaxed) {
            let counter = DropCounter(self._guard.0.clone());
            return Poll::Ready(counter);
        }
        *self.stash.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Yields once (waking itself), then is ready.
struct YieldOnce {
    yielded: bool,
    _guard: DropCounter,
}

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn poll_join<T>(join: &mut JoinHandle<T>) -> Poll<Result<T, JoinError>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(join).poll(&mut cx)
}

/// Runs a model exhaustively (no preemption bound: these models are small enough that every
/// interleaving takes well under a second; set `LOOM_MAX_PREEMPTIONS` to bound them).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let builder = ::loom::model::Builder::new();
    builder.check(f);
}

/// A waker fired on another thread while the task may be scheduled, running or idle: in every
/// interleaving the task is polled after the flag is set, and completes.
#[test]
fn wake_during_poll_is_never_lost() {
    model(|| {
        let queue = Queue::new();
        let flag = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let (runnable, mut join) = spawn(
            WaitFlag {
                flag: flag.clone(),
                stash: Arc::new(Mutex::new(None)),
                _guard: DropCounter(drops.clone()),
            },
            queue.clone(),
            TaskId::next(),
        );
        let waker = runnable.waker();
        let waking = thread::spawn(move || {
            flag.store(true, Ordering::Relaxed);
            waker.wake();
        });
        runnable.run();
        waking.join().unwrap();
        queue.drain();
        let Poll::Ready(Ok(output)) = poll_join(&mut join) else {
            panic!("the wake was lost: the task did not complete");
        };
        drop(output);
        drop(join);
        // The future's guard and the output's counter: one drop each.
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        assert_eq!(queue.released(), 1);
    });
}

/// The JoinHandle is polled and dropped on one thread while the task completes on another:
/// the output is dropped exactly once, by whichever side owns it, and the task is freed.
#[test]
fn join_handle_drop_races_completion() {
    model(|| {
        let queue = Queue::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCounter(drops.clone());
        let (runnable, mut join) = spawn(async move { output }, queue.clone(), TaskId::next());
        let joiner = thread::spawn(move || {
            if let Poll::Ready(result) = poll_join(&mut join) {
                drop(result.expect("the task cannot fail"));
            }
            drop(join);
        });
        runnable.run();
        joiner.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(queue.released(), 1);
    });
}

/// `abort` races a task that yields once then completes: the future is dropped exactly once,
/// `release` is called once, and the JoinHandle reports either the output or cancellation.
#[test]
fn abort_races_completion() {
    model(|| {
        let queue = Queue::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let (runnable, join) = spawn(
            YieldOnce {
                yielded: false,
                _guard: DropCounter(drops.clone()),
            },
            queue.clone(),
            TaskId::next(),
        );
        let aborter = thread::spawn(move || {
            join.abort();
            join
        });
        runnable.run();
        let mut join = aborter.join().unwrap();
        queue.drain();
        match poll_join(&mut join) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(err)) => assert!(err.is_cancelled()),
            Poll::Pending => panic!("the task neither completed nor was cancelled"),
        }
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(queue.released(), 1);
    });
}

/// The last waker is dropped on another thread while the JoinHandle is dropped here: the
/// orphaned task is handed back to the scheduler, whose run drops the future (never the
/// foreign thread), exactly once, and the task is freed.
#[test]
fn waker_dropped_on_another_thread_orphans_the_task_safely() {
    model(|| {
        let queue = Queue::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let stash = Arc::new(Mutex::new(None));
        let (runnable, join) = spawn(
            WaitFlag {
                flag: Arc::new(AtomicBool::new(false)),
                stash: stash.clone(),
                _guard: DropCounter(drops.clone()),
            },
            queue.clone(),
            TaskId::next(),
        );
        runnable.run();
        let waker = stash
            .lock()
            .unwrap()
            .take()
            .expect("the poll stored a waker");
        let dropper = thread::spawn(move || drop(waker));
        drop(join);
        dropper.join().unwrap();
        assert_eq!(
            drops.load(Ordering::Relaxed),
            0,
            "the future is dropped by its owner's run, not by the last handle's thread"
        );
        queue.drain();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(queue.released(), 1);
    });
}

/// Counts wakes, for the JoinHandle's awaiter.
struct CountWakes(AtomicUsize);

impl std::task::Wake for CountWakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// The JoinHandle registers its waker while the task completes: if its poll said `Pending`, the
/// completing thread wakes it exactly once, and the next poll is ready.
#[test]
fn join_waker_registration_races_completion() {
    model(|| {
        let queue = Queue::new();
        let (runnable, mut join) = spawn(async { 5 }, queue.clone(), TaskId::next());
        let joiner = thread::spawn(move || {
            let counter = std::sync::Arc::new(CountWakes(AtomicUsize::new(0)));
            let waker = Waker::from(counter.clone());
            let first = Pin::new(&mut join).poll(&mut Context::from_waker(&waker));
            (first.is_pending(), counter, join)
        });
        runnable.run();
        let (was_pending, counter, mut join) = joiner.join().unwrap();
        if was_pending {
            assert_eq!(
                counter.0.load(Ordering::Relaxed),
                1,
                "the join waker was lost"
            );
            assert!(matches!(poll_join(&mut join), Poll::Ready(Ok(5))));
        }
        drop(join);
        assert_eq!(queue.released(), 1);
    });
}

/// `Task::shutdown` of an idle task races a wake from another thread: whichever wins, the
/// future is dropped exactly once (by the shutdown, or by the run of the woken task) and the
/// JoinHandle reports cancellation.
#[test]
fn shutdown_races_a_wake() {
    model(|| {
        let queue = Queue::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let stash = Arc::new(Mutex::new(None));
        let (runnable, mut join) = spawn(
            WaitFlag {
                flag: Arc::new(AtomicBool::new(false)),
                stash: stash.clone(),
                _guard: DropCounter(drops.clone()),
            },
            queue.clone(),
            TaskId::next(),
        );
        let task = runnable.task();
        runnable.run();
        let waker = stash
            .lock()
            .unwrap()
            .take()
            .expect("the poll stored a waker");
        let waking = thread::spawn(move || waker.wake());
        task.shutdown();
        waking.join().unwrap();
        queue.drain();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(queue.released(), 1);
        assert!(task.is_finished());
        assert!(matches!(poll_join(&mut join), Poll::Ready(Err(e)) if e.is_cancelled()));
    });
}

/// Wakes itself on its first poll (the thread-local path of `current.rs`), then waits for a
/// flag set by another thread.
struct SelfWakeThenFlag {
    polls: usize,
    inner: WaitFlag,
}

impl Future for SelfWakeThenFlag {
    type Output = DropCounter;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DropCounter> {
        self.polls += 1;
        if self.polls == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// A self-wake (recorded thread-locally, no atomic) and a wake from another thread land in the
/// same poll: the task is rescheduled once, never twice (one Runnable at a time: checked by the
/// debug assertions of transition (2)), and completes.
#[test]
fn self_wake_and_remote_wake_in_one_poll() {
    model(|| {
        let queue = Queue::new();
        let flag = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let (runnable, mut join) = spawn(
            SelfWakeThenFlag {
                polls: 0,
                inner: WaitFlag {
                    flag: flag.clone(),
                    stash: Arc::new(Mutex::new(None)),
                    _guard: DropCounter(drops.clone()),
                },
            },
            queue.clone(),
            TaskId::next(),
        );
        let waker = runnable.waker();
        let waking = thread::spawn(move || {
            flag.store(true, Ordering::Relaxed);
            waker.wake_by_ref();
        });
        assert!(runnable.run(), "the self-wake reschedules it");
        assert_eq!(queue.0.runnables.lock().unwrap().len(), 1);
        waking.join().unwrap();
        queue.drain();
        assert!(matches!(poll_join(&mut join), Poll::Ready(Ok(_))));
        assert_eq!(queue.released(), 1);
    });
}

/// A scheduler with a table of one entry, handed back at `release_ref`.
#[derive(Clone)]
struct Table(Arc<TableInner>);

struct TableInner {
    entry: Mutex<Option<TaskRef>>,
    released: AtomicUsize,
}

impl Schedule for Table {
    fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
        // Nothing here wakes the task; a Runnable dropped here would cancel it.
        drop(runnable);
    }

    fn release_ref(&self, _: TaskId) -> Option<TaskRef> {
        self.0.released.fetch_add(1, Ordering::Relaxed);
        self.0.entry.lock().unwrap().take()
    }
}

/// The table's entry, handed back at `release_ref`, is given up in the step that completes
/// the task while its JoinHandle is dropped on another thread: in every interleaving the
/// output is dropped once and the task is freed once (never: loom reports the scheduler's
/// `Arc` leaked; twice: a double drop of it).
#[test]
fn a_table_entry_given_up_with_the_completion_races_the_join_handle_drop() {
    model(|| {
        let table = Table(Arc::new(TableInner {
            entry: Mutex::new(None),
            released: AtomicUsize::new(0),
        }));
        let drops = Arc::new(AtomicUsize::new(0));
        let output = DropCounter(drops.clone());
        let (runnable, join, entry) =
            spawn_with_ref(async move { output }, table.clone(), TaskId::next());
        *table.0.entry.lock().unwrap() = Some(entry);
        let dropping = thread::spawn(move || drop(join));
        runnable.run();
        dropping.join().unwrap();
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        assert_eq!(table.0.released.load(Ordering::Relaxed), 1);
        assert!(table.0.entry.lock().unwrap().is_none());
    });
}
