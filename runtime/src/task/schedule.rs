//! The hook a scheduler implements: [`Schedule`].
//!
//! The task core decides *that* a task must run (it was woken, or must be cancelled by its
//! owner); the scheduler decides *when* and *where*. A scheduler is anything that can accept a
//! [`Runnable`] and later call [`Runnable::run`] on it (or drop it, which cancels the task).

use super::id::TaskId;
use super::runnable::{Runnable, TaskRef};

/// Why a task is being scheduled, for schedulers that treat the cases differently (a pool
/// puts a task woken by itself at the back of the queue, not in its LIFO slot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduleInfo {
    /// The task woke itself (or was woken) while it was being polled, and
    /// [`Runnable::run`] is rescheduling it after the poll: a yield, in effect.
    pub woken_while_running: bool,
}

/// What a scheduler implements. Stored inline in every task (keep it one pointer: an `Arc`).
///
/// Both methods may be called on any thread that holds a waker (for `schedule`) or that runs,
/// shuts down or drops a task (for `release`), and may be called from inside
/// [`Runnable::run`]; they must not block on a lock held around `run`.
pub trait Schedule: Send + Sync + 'static {
    /// The task became runnable: woken while idle, woken while running (called by
    /// [`Runnable::run`] after the poll, with `woken_while_running = true`), aborted while idle,
    /// or its last handle and waker were dropped while it was idle (the `Runnable` is then
    /// cancelled: running or dropping it drops the future on the owner's thread).
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo);

    /// Called exactly once per task, after its future has been dropped (completed, panicked or
    /// cancelled), on the thread that dropped it, before the task is seen as finished, so the
    /// scheduler can forget it. The task core calls it through [`release_ref`](Self::release_ref),
    /// whose default does nothing else; a scheduler that overrides `release_ref` is not called
    /// here. Default: no-op.
    fn release(&self, id: TaskId) {
        let _ = id;
    }

    /// [`release`](Self::release), for a scheduler that keeps a [`TaskRef`] of every live
    /// task in a table: it may hand back the task's `TaskRef` it took out of the table instead
    /// of dropping it. The task core then gives that reference up in the same atomic step that
    /// completes the task, one read-modify-write fewer than the `TaskRef`'s own drop. A
    /// `TaskRef` of another task is simply dropped. Called instead of `release`, under the
    /// same rules. Default: `release`, and `None`.
    fn release_ref(&self, id: TaskId) -> Option<TaskRef> {
        self.release(id);
        None
    }
}

/// A closure is a scheduler: `|runnable, info| queue.push(runnable)`. It is stored inline in
/// every task, so capture one pointer (an `Arc`, or a channel's sender).
impl<F> Schedule for F
where
    F: Fn(Runnable, ScheduleInfo) + Send + Sync + 'static,
{
    #[inline]
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo) {
        self(runnable, info);
    }
}
