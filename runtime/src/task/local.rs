//! [`spawn_local`]: a task whose future need not be `Send`, made safe by a thread check.
//!
//! [`spawn_unchecked`](super::spawn_unchecked) leaves it to the caller to run, shut down and
//! drop a `!Send` task only on the thread that spawned it. `spawn_local` checks it instead, as
//! async-task's `spawn_local` does: the future is wrapped in a [`ThreadBound`] that records
//! the spawning thread and compares it on every poll and on drop.
//!
//! On the wrong thread, the wrapper never touches the future:
//! - a **poll** panics; the task core catches the panic and completes the task as panicked
//!   (its `JoinHandle` reports it), after dropping the future, which is the next case;
//! - a **drop** leaks the future (forgetting a value is always safe, touching a `!Send` one
//!   elsewhere is not) and panics; the task core catches that panic too.
//!
//! So a scheduler that gets its threads wrong sees `JoinError::is_panic` with a message that
//! names the mistake, never undefined behaviour. The check costs one thread-local read per
//! poll and 8 bytes per task (the thread's key).
//!
//! The thread's key is a number from a process-wide counter, given to a thread the first time
//! it asks; unlike an address of a thread-local, it is never reused by a later thread.

use std::cell::Cell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use super::id::TaskId;
use super::join::JoinHandle;
use super::runnable::Runnable;
use super::schedule::Schedule;

/// The next thread key. Starts at 1: 0 means "not given yet" in the thread-local.
static NEXT_THREAD_KEY: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    static THREAD_KEY: Cell<u64> = const { Cell::new(0) };
}

/// This thread's key, or `None` while its thread-locals are being destroyed.
fn thread_key() -> Option<u64> {
    THREAD_KEY
        .try_with(|key| {
            if key.get() == 0 {
                // Relaxed: uniqueness needs only the atomicity of `fetch_add`.
                key.set(NEXT_THREAD_KEY.fetch_add(1, Ordering::Relaxed));
            }
            key.get()
        })
        .ok()
}

/// A future that may be polled and dropped only on the thread that created it (see the
/// module doc for what happens elsewhere).
struct ThreadBound<F> {
    thread: u64,
    future: ManuallyDrop<F>,
}

impl<F> ThreadBound<F> {
    /// Binds `future` to the calling thread.
    fn new(future: F) -> ThreadBound<F> {
        ThreadBound {
            thread: thread_key().expect("ThreadBound::new called during thread-local destruction"),
            future: ManuallyDrop::new(future),
        }
    }

    /// Whether the calling thread is the one a future bound to `thread` belongs to. It takes
    /// the field, not `&self`: a shared reference to the whole struct would cover the future,
    /// and an async block's future holds references into itself that such a reborrow
    /// invalidates (Miri's Stacked Borrows reported exactly that).
    fn is_home(thread: u64) -> bool {
        thread_key() == Some(thread)
    }
}

impl<F: Future> Future for ThreadBound<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: nothing is moved out of `this`; `future` is re-pinned below.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(
            Self::is_home(this.thread),
            "a local task was polled on a thread that did not spawn it (its scheduler moved a \
             Runnable of a task made by spawn_local to another thread)"
        );
        // SAFETY: `this` was pinned and `future` is a field never moved out of it (only
        // dropped in place, in `drop`): structural pinning.
        unsafe { Pin::new_unchecked(&mut *this.future) }.poll(cx)
    }
}

impl<F> Drop for ThreadBound<F> {
    fn drop(&mut self) {
        if Self::is_home(self.thread) {
            // SAFETY: dropped once, here; the field is never used again.
            unsafe { ManuallyDrop::drop(&mut self.future) };
        } else {
            // Leaked: the future is never touched off its thread.
            panic!(
                "a local task was dropped on a thread that did not spawn it; its future is \
                 leaked instead"
            );
        }
    }
}

impl<F> std::fmt::Debug for ThreadBound<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadBound")
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

/// Creates a task whose future need not be `Send`, bound to the calling thread: polled or
/// dropped on another one, it completes as panicked instead (module doc). The safe twin of
/// [`spawn_unchecked`](super::spawn_unchecked) for single-threaded runtimes.
///
/// The output need not be `Send` either: the [`JoinHandle`] is then `!Send`, so it is read
/// (or dropped) on this thread, and the output is produced by a poll, which the check keeps
/// on this thread.
pub fn spawn_local<F, S>(future: F, scheduler: S, id: TaskId) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    // SAFETY: `spawn_unchecked` asks that a `!Send` future be polled and dropped only on the
    // spawning thread: `ThreadBound` never polls or drops it anywhere else (it panics, and
    // leaks the future, instead). A `!Send` output is made by a poll, so on this thread, and
    // then read or dropped either by the completing thread (this one) or by the
    // `JoinHandle`, which is `!Send` when the output is.
    unsafe { super::spawn_unchecked(ThreadBound::new(future), scheduler, id) }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::rc::Rc;
    use std::sync::mpsc;
    use std::task::{Context, Poll};

    use super::spawn_local;
    use crate::task::{JoinHandle, Runnable, ScheduleInfo, TaskId};

    /// A `!Send` task, and its runnable ready to run.
    fn local_task() -> (Runnable, JoinHandle<usize>) {
        let (queue, ready) = mpsc::channel::<Runnable>();
        let schedule = move |runnable, _: ScheduleInfo| {
            let _ = queue.send(runnable);
        };
        let shared = Rc::new(7);
        let (runnable, join) = spawn_local(async move { *shared }, schedule, TaskId::default());
        runnable.schedule();
        (ready.try_recv().expect("scheduled"), join)
    }

    fn outcome(join: JoinHandle<usize>) -> Result<usize, crate::task::JoinError> {
        let waker = futures_task::noop_waker();
        let mut join = std::pin::pin!(join);
        match std::future::Future::poll(join.as_mut(), &mut Context::from_waker(&waker)) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("the task must be finished"),
        }
    }

    #[test]
    fn a_local_task_runs_on_its_own_thread() {
        let (runnable, join) = local_task();
        runnable.run();
        assert_eq!(outcome(join).unwrap(), 7);
    }

    #[test]
    // The !Send future is leaked by design (touching it off its thread would be the bug the
    // check prevents), and Miri reports every leak: the leak is the behaviour under test.
    #[cfg_attr(miri, ignore = "leaks the future by design; Miri reports leaks")]
    fn a_local_task_polled_on_another_thread_completes_as_panicked() {
        let (runnable, join) = local_task();
        std::thread::spawn(move || runnable.run()).join().unwrap();
        let error = outcome(join).unwrap_err();
        assert!(error.is_panic(), "{error:?}");
    }

    #[test]
    // The !Send future is leaked by design (touching it off its thread would be the bug the
    // check prevents), and Miri reports every leak: the leak is the behaviour under test.
    #[cfg_attr(miri, ignore = "leaks the future by design; Miri reports leaks")]
    fn a_local_task_dropped_on_another_thread_completes_as_panicked() {
        let (runnable, join) = local_task();
        std::thread::spawn(move || drop(runnable)).join().unwrap();
        let error = outcome(join).unwrap_err();
        assert!(error.is_panic(), "{error:?}");
    }
}
