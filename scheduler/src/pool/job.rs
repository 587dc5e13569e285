//! # Jobs: what the pool's queues hold
//!
//! A [`Job`] is one unit of runnable work: a boxed closure from [`Pool::execute`] or
//! [`Scope::spawn`]. Every queue (the LIFO slot, the per-worker deques, the injector) holds
//! `Job`s, and a worker runs one with [`Job::run`] between
//! [`SeatSlot::begin_poll`] and [`SeatSlot::end_poll`], under the per-poll budget.
//!
//! [`Pool::execute`]: super::Pool::execute
//! [`Scope::spawn`]: super::Scope::spawn
//! [`SeatSlot::begin_poll`]: super::seat::SeatSlot::begin_poll
//! [`SeatSlot::end_poll`]: super::seat::SeatSlot::end_poll

use std::panic::{AssertUnwindSafe, catch_unwind};

/// A closure job: fire-and-forget work. Panics are caught by [`Job::run`].
pub(crate) type Closure = Box<dyn FnOnce() + Send + 'static>;

/// One unit of runnable work.
pub(crate) enum Job {
    /// A closure from `execute` or a scope.
    Closure(Closure),
}

/// What running a job did, for the worker's bookkeeping.
#[must_use]
pub(crate) enum Ran {
    /// The job finished (or was polled once); nothing more to do.
    Done,
    /// A closure panicked; the payload was dropped and the panic counted.
    Panicked,
}

impl Job {
    /// The id the stall monitor and the latency sampler name the job by: the task's id, or 0 for
    /// a closure (closures have no [`TaskId`](switchyard_runtime::task)).
    pub(crate) fn id(&self) -> u64 {
        match self {
            Job::Closure(_) => 0,
        }
    }

    /// Runs the job once. A panic in a closure is caught here: the worker lives on.
    pub(crate) fn run(self) -> Ran {
        match self {
            Job::Closure(f) => match catch_unwind(AssertUnwindSafe(f)) {
                Ok(()) => Ran::Done,
                Err(_payload) => Ran::Panicked,
            },
        }
    }
}
