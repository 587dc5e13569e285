//! # The task core
//!
//! A *task* is a future that a scheduler polls until it finishes. This module gives every
//! scheduler in Switchyard (the loop, the pool, custom ones) the same task: one heap
//! allocation, an atomic state word, a waker that knows how to reschedule it, and a
//! [`JoinHandle`] to await its output. A scheduler only implements [`Schedule`]: accept a
//! [`Runnable`] and, later, call [`Runnable::run`] on it.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::collections::VecDeque;
//! use switchyard_runtime::task::{self, Runnable, Schedule, ScheduleInfo, TaskId};
//!
//! /// A run queue: the whole scheduler, one pointer wide.
//! #[derive(Clone, Default)]
//! struct Queue(Arc<Mutex<VecDeque<Runnable>>>);
//! impl Schedule for Queue {
//!     fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
//!         self.0.lock().unwrap().push_back(runnable);
//!     }
//! }
//!
//! let queue = Queue::default();
//! let (runnable, join) = task::spawn(async { 6 * 7 }, queue.clone(), TaskId::next());
//! runnable.schedule(); // into the queue, as a wake would
//! let next = || queue.0.lock().unwrap().pop_front();
//! while let Some(runnable) = next() {
//!     runnable.run();
//! }
//! assert!(join.is_finished());
//! ```
//!
//! ## The allocation
//!
//! Header (state word, vtable pointer, [`TaskId`], the awaiter's waker slot), then the
//! scheduler `S` inline, then a union of the future, its output and a thin panic payload
//! (see `raw.rs`). For a zero-sized future and an `Arc` scheduler that is 48 bytes on a
//! 64-bit target; the test `a_parked_task_fits_in_48_bytes` holds us to it.
//!
//! ## Handles and references
//!
//! The state word counts references: the [`Runnable`] (exactly one while the task is
//! scheduled), the [`JoinHandle`] (until dropped), each [`TaskRef`] and each `Waker`. The last
//! one frees the task. A task is freed only once complete: if the last reference goes while
//! the task is idle (nobody can wake or join it any more), the task is scheduled one last
//! time, cancelled, so its owner drops the future and [`Schedule::release`] is still called.
//!
//! ## The lifecycle
//!
//! Lifecycle states are `SCHEDULED`, `RUNNING` and `COMPLETE` (mutually exclusive; none of
//! them is *idle*), qualified by `NOTIFIED` and `CANCELLED`. Each numbered arrow is one
//! transition, written once as a method of `state::Snapshot` (named in the list below, with
//! the function that performs it).
//!
//! ```text
//!                         (1) spawn
//!                             |
//!                             v
//!   +--------+  (6) wake  +-----------+  (2) run, or drop Runnable  +-----------+
//!   |        | ---------> |           | -------------------------> |           | ---+ (4) wake:
//!   |  idle  | (8) abort  | SCHEDULED |                            |  RUNNING  |    | NOTIFIED
//!   |        | ---------> |           | <------------------------- |           | <--+
//!   +--------+            +-----------+  (5) Pending and NOTIFIED  +-----------+
//!     ^    |                                                          ^  |    |
//!     |    |               (9) shutdown while idle                    |  |    | (7) Ready, panic
//!     |    +----------------------------------------------------------+  |    |     or cancelled
//!     |                    (3) Pending                                   |    v
//!     +------------------------------------------------------------------+  +-----------+
//!                                                                           | COMPLETE  |
//!                                                                           +-----------+
//!                                                                                 |
//!                                                                                 | (12) last reference
//!                                                                                 v
//!                                                                               freed
//! ```
//!
//! 1. `spawn` allocates the task `SCHEDULED` with two references (`RawTask::allocate`).
//! 2. `SCHEDULED -> RUNNING` `transition_to_running`: [`Runnable::run`], which polls the
//!    future, or the `Runnable`'s drop, which cancels it. With `CANCELLED` set, the run
//!    drops the future instead of polling it, then (7).
//! 3. `RUNNING -> idle` `transition_to_idle`: the poll returned `Pending`; the run's
//!    reference goes with `RUNNING`. (If that reference was the last, nothing can ever wake
//!    the task: it stays `RUNNING`, is cancelled, then (7).)
//! 4. `RUNNING -> RUNNING | NOTIFIED` `transition_to_notified_by_ref` /
//!    `transition_to_notified_by_val`: a waker fired during the poll.
//! 5. `RUNNING | NOTIFIED -> SCHEDULED` `transition_to_idle`: the poll returned `Pending`
//!    and the run hands a new `Runnable` to [`Schedule::schedule`] with
//!    `woken_while_running = true`; `run` returns `true`.
//! 6. `idle -> SCHEDULED` `transition_to_notified_by_ref` / `transition_to_notified_by_val`:
//!    a waker hands a new `Runnable` to [`Schedule::schedule`]. Waking a `SCHEDULED` or
//!    `COMPLETE` task does nothing.
//! 7. `RUNNING -> COMPLETE` `transition_to_complete`: the future is dropped (finished,
//!    panicked, or cancelled), [`Schedule::release`] has been called, and the stage holds the
//!    output, the panic payload or nothing. The `JoinHandle`'s waker is woken; with no
//!    `JoinHandle`, the output is dropped at once (`RawTask::complete`).
//! 8. `idle -> SCHEDULED | CANCELLED` `transition_to_aborted`: [`JoinHandle::abort`] on an
//!    idle task schedules it, so the owner's run drops the future on the owner's thread. The
//!    last reference dropped on an idle task does the same (`revive_for_cancel`).
//! 9. `idle -> RUNNING | CANCELLED` `transition_to_shutdown`: [`TaskRef::shutdown`] on an idle
//!    task drops the future on the calling thread, then (7).
//! 10. `SCHEDULED` or `RUNNING` `-> .. | CANCELLED` `transition_to_aborted` /
//!     `transition_to_shutdown`: a cancel request the current owner acts on (at the start of
//!     the run, after the poll, or in the `Runnable`'s drop). Not drawn: it changes no state.
//! 11. Clear `JOIN_INTEREST` `transition_to_detached`: the `JoinHandle` is dropped. Before
//!     (7) the output will be dropped by the completing thread; after it, by the handle.
//! 12. The last reference of a `COMPLETE` task frees it (`State::ref_dec`).
//!
//! The flags' own rules, the memory orderings and their reasons are in `state.rs`; the
//! awaiter-slot protocol between the `JoinHandle` and the completing thread in `join.rs`;
//! the thread-local record of self-wakes in `current.rs`; the same diagram, with worked
//! races, in `docs/task-state.md`.
//!
//! ## Files
//!
//! | file | concept |
//! |---|---|
//! | `state.rs` | the state word: flags, reference count, every transition |
//! | `header.rs` | the type-erased header and vtable every handle points to |
//! | `raw.rs` | the allocation and the functions that know its types (run, cancel, complete) |
//! | `waker.rs` | the waker vtable |
//! | `current.rs` | the task being polled on this thread (free self-wakes) |
//! | `runnable.rs` | [`Runnable`] and [`TaskRef`], the scheduler's handles |
//! | `local.rs` | [`spawn_local`]: a `!Send` task, checked to stay on its thread |
//! | `slab.rs` | [`TaskSlab`]: the table of live tasks a scheduler's shutdown needs, and the slot-in-the-id trick |
//! | `join.rs` | [`JoinHandle`] |
//! | `error.rs`, `id.rs`, `schedule.rs` | [`JoinError`], [`TaskId`], [`Schedule`] |
//!
//! ## Names
//!
//! [`Runnable`] is the right to poll a task once; [`TaskRef`] is an owned reference for a
//! scheduler's table; [`JoinHandle`] is what a user awaits. The table's handle was called
//! `Task` until issue 9: in async-task and smol, `Task` is the awaitable (our `JoinHandle`),
//! so a reader coming from them read `Task::shutdown` as "cancel what I awaited". `TaskRef`
//! says what it is, a counted reference that keeps the allocation, not the task, alive.
//!
//! ## Which spawn
//!
//! | function | future | checked |
//! |---|---|---|
//! | [`spawn`] | `Send` | by the compiler |
//! | [`spawn_local`] | any, bound to the spawning thread | at run time: on another thread, a poll or drop completes the task as panicked, never touching the future |
//! | [`spawn_unchecked`] | any | by the caller's proof (`unsafe`); the event loop uses it, with its proof at the call |
//! | [`spawn_with_ref`] | `Send` | by the compiler; also returns the [`TaskRef`] for the scheduler's table, counted in the new task's state word (the pool uses it) |
//!
//! A scheduler may be a closure: `Fn(Runnable, ScheduleInfo) + Send + Sync` implements
//! [`Schedule`]. The id may be [`TaskId::default`] (a fresh one from the process-wide counter).
//!
//! ## The budget
//!
//! [`Runnable::run`] polls under a fresh cooperative budget ([`coop`](crate::coop)): a
//! scheduler cannot forget it. The budget is the thread's during the poll, and the outer one
//! is restored after.
//!
//! ## Costs
//!
//! Atomic read-modify-writes on the state word, the figure that decides how fast a scheduler
//! built on this can be:
//!
//! | operation | RMWs | why |
//! |---|---|---|
//! | a poll returning `Pending` | 2 | into `RUNNING` (a `fetch_add`, no CAS loop: the `Runnable` proves the precondition) and out of it (a CAS) |
//! | the waker in the poll's `Context` | 0 | borrowed from the run's reference |
//! | a yield (the task wakes itself during its poll) | 3 | the self-wake is recorded in a thread-local word, not the state (`current.rs`); the third is the run's reference, kept while the scheduler takes the new `Runnable` because the scheduler lives inside the task |
//! | a poll to completion, `JoinHandle` not yet waiting | 2 | the completing CAS also drops the run's reference |
//! | the `JoinHandle` ready at its first poll, then dropped | 1 | a load, then the drop |
//! | waking an idle task by reference | 1 | |
//! | `Waker::clone` / drop | 1 each | |
//! | a scheduler's table entry ([`TaskRef`]) | 0 or 2 | [`Runnable::task`] adds one reference and the entry's drop gives it up; made by [`spawn_with_ref`] and handed back at [`Schedule::release_ref`], it costs none: the reference is counted in the new state word and given up by the completing CAS |
//!
//! A spawn is one allocation and the global [`TaskId`] counter's `fetch_add` (a scheduler that
//! mints its own ids, as the pool and the loop do, skips it); there are no other
//! allocations, except a second box for a panic payload.
//!
use std::future::Future;

mod current;
mod error;
mod header;
mod id;
mod join;
mod local;
mod raw;
mod runnable;
mod schedule;
mod slab;
mod state;
mod waker;

#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(all(test, loom))]
mod loom;

pub use error::JoinError;
pub use id::TaskId;
pub use join::JoinHandle;
pub use local::spawn_local;
pub use runnable::{Runnable, TaskRef};
pub use schedule::{Schedule, ScheduleInfo};
pub use slab::TaskSlab;

use raw::RawTask;

/// Creates a task: one allocation holding `future`, `scheduler` and the task's state.
///
/// Returns the task's [`Runnable`] (schedule it, or run it at once) and its [`JoinHandle`].
/// Nothing runs until the `Runnable` is run; dropping it cancels the task.
pub fn spawn<F, S>(future: F, scheduler: S, id: TaskId) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: `F` and `F::Output` are `Send`, so the handles may be used on any thread,
    // which is all `spawn_unchecked` asks.
    unsafe { spawn_unchecked(future, scheduler, id) }
}

/// Creates a task whose future or output need not be `Send` (for a single-threaded loop).
///
/// Prefer [`spawn_local`], which checks this at run time for 8 bytes per task.
///
/// # Safety
///
/// If `F` or `F::Output` is `!Send`, the [`Runnable`] (and every [`TaskRef`]) must be run,
/// shut down and dropped only on the spawning thread; wakers may still be used anywhere (a
/// task whose last reference is dropped elsewhere is handed to its scheduler to be dropped,
/// never dropped there).
pub unsafe fn spawn_unchecked<F, S>(
    future: F,
    scheduler: S,
    id: TaskId,
) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule,
{
    let ptr = RawTask::<F, S>::allocate(future, scheduler, id, false);
    // SAFETY: a new task has exactly two references, a scheduled one (the Runnable's) and the
    // JoinHandle's, and its output type is `F::Output`.
    unsafe { (Runnable::from_raw(ptr.cast()), JoinHandle::from_raw(ptr)) }
}

/// [`spawn`], and the [`TaskRef`] for the scheduler's table of live tasks, made with the task
/// (its reference counted in the new state word) instead of by [`Runnable::task`], which
/// adds it with an atomic read-modify-write. A scheduler that removes the entry at
/// [`Schedule::release_ref`] and hands it back there saves one more: the task core gives the
/// reference up in the step that completes the task.
pub fn spawn_with_ref<F, S>(
    future: F,
    scheduler: S,
    id: TaskId,
) -> (Runnable, JoinHandle<F::Output>, TaskRef)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let ptr = RawTask::<F, S>::allocate(future, scheduler, id, true);
    // SAFETY: a new task made `with_ref` has exactly three references, a scheduled one (the
    // Runnable's), the JoinHandle's and the TaskRef's; its output type is `F::Output`, and
    // `F`, `F::Output` are `Send`, so the handles may be used on any thread.
    unsafe {
        (
            Runnable::from_raw(ptr.cast()),
            JoinHandle::from_raw(ptr),
            TaskRef::from_raw(ptr),
        )
    }
}
