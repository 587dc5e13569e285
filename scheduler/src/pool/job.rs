//! # Jobs: what the pool's queues hold
//!
//! A [`Job`] is one unit of runnable work: a task's [`Runnable`] (from
//! [`Pool::spawn`](super::Pool::spawn) or a wake), or a boxed closure from
//! [`Pool::execute`](super::Pool::execute) or [`Scope::spawn`](super::Scope::spawn). Every
//! queue (the LIFO slot, the per-worker deques, the injector) holds `Job`s, and a worker runs
//! one with [`Job::run`] between `begin_poll` and `end_poll` (seat.rs), under the per-poll
//! budget.
//!
//! Closures are not wrapped in tasks: a closure needs no waker, no join state and no second
//! poll, so running it straight from its box is what lets `scope` compete with rayon.
//!
//! Dropping a `Job` unrun cancels it: a task completes as cancelled (its `JoinHandle` says
//! so), a closure's captures are dropped. The pool does that only through [`Job::discard`],
//! which contains a panicking `Drop` (of a closure's captures; a task's future is dropped
//! under the task core's own `catch_unwind`), so that one bad destructor cannot stop a
//! worker's exit or a shutdown step half-way (shutdown.rs).

use std::panic::{AssertUnwindSafe, catch_unwind};
use switchyard_runtime::coop;
use switchyard_runtime::task::{Runnable, TaskId};

/// A closure job: fire-and-forget work. Panics are caught by [`Job::run`].
pub(crate) type Closure = Box<dyn FnOnce() + Send + 'static>;

/// One unit of runnable work.
pub(crate) enum Job {
    /// A task, scheduled: poll it once.
    Task(Runnable),
    /// A closure from `execute` or a scope.
    Closure(Closure),
}

/// What running a job did, for the worker's bookkeeping.
#[must_use]
pub(crate) enum Ran {
    /// The task was polled or the closure finished.
    Done,
    /// A closure panicked; the payload was dropped and the panic counted. (A task's panic is
    /// caught by the task core and delivered to its `JoinHandle`.)
    Panicked,
}

impl Job {
    /// The task's id, or `None` for a closure (closures have no [`TaskId`]).
    #[inline]
    pub(crate) fn task_id(&self) -> Option<TaskId> {
        match self {
            Job::Task(runnable) => Some(runnable.id()),
            Job::Closure(_) => None,
        }
    }

    /// Drops the job unrun (a task is cancelled), containing a panic of its `Drop`. Returns
    /// whether it panicked; the payload is dropped (the panic hook has reported it).
    pub(crate) fn discard(self) -> Ran {
        match catch_unwind(AssertUnwindSafe(move || drop(self))) {
            Ok(()) => Ran::Done,
            Err(_payload) => Ran::Panicked,
        }
    }

    /// Runs the job once. Panics are caught (by the task core for a task, here for a closure):
    /// the worker lives on.
    #[inline]
    pub(crate) fn run(self) -> Ran {
        match self {
            Job::Task(runnable) => {
                // Woken during the poll: already handed back to `PoolShared::schedule`.
                let _woken = runnable.run();
                Ran::Done
            }
            // A task's poll gets its fresh budget from `Runnable::run`; a closure gets one here,
            // so a runtime resource it polls (through a nested `block_on`) spends it too.
            Job::Closure(f) => match catch_unwind(AssertUnwindSafe(|| {
                coop::with_budget(coop::Budget::initial(), f)
            })) {
                Ok(()) => Ran::Done,
                Err(_payload) => Ran::Panicked,
            },
        }
    }
}
