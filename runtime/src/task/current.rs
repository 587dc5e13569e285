//! The task being polled on this thread, so that a task waking *itself* (a yield, the most
//! common wake of all) costs no atomic operation.
//!
//! Without this, a self-wake is a compare-and-swap on the state word (transition (4)) between
//! the run's two. With it, [`RawTask::run`](super::raw) records the task it polls in a
//! thread-local word; a wake of that same task on this same thread finds it there and only
//! sets a flag in the word; after the poll the run reads the flag and passes it to
//! `transition_to_idle` as `woken_here`, which treats it as `NOTIFIED`.
//!
//! Why this is sound: the flag is read and written only by this thread, while this thread
//! owns the task's `RUNNING` bit, so nobody else needs to see it; the run consumes it in the
//! very transition that would have consumed `NOTIFIED`. A wake from any other thread, or of
//! any other task, takes the ordinary atomic path. Runs nest (a poll may run another task):
//! each run saves the word and restores it after its poll, flag included.
//!
//! The word holds the task's header address, with [`WOKEN`] in bit 0 (headers are aligned
//! to at least 8 bytes, so the bit is free); 0 means no task is being polled.

use std::cell::Cell;
use std::ptr::NonNull;

use super::header::Header;

/// Bit 0 of the word: the current task woke itself during this poll.
const WOKEN: usize = 1;

const _: () = assert!(std::mem::align_of::<Header>() > WOKEN);

// Under loom each modelled thread needs its own copy, which only loom's macro gives; std's
// `const` form lets the normal build access the word with no lazy-initialisation check.
#[cfg(not(loom))]
std::thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}
#[cfg(loom)]
::loom::thread_local! {
    static CURRENT: Cell<usize> = Cell::new(0);
}

/// Marks `task` as the one being polled on this thread; returns the previous word, which
/// the caller must hand to [`leave`] after the poll.
#[inline(always)]
pub(super) fn enter(task: NonNull<Header>) -> usize {
    CURRENT.with(|word| word.replace(task.as_ptr() as usize))
}

/// Restores the word saved by [`enter`]; returns whether the task woke itself meanwhile.
#[inline(always)]
pub(super) fn leave(saved: usize) -> bool {
    CURRENT.with(|word| word.replace(saved)) & WOKEN != 0
}

/// If `task` is being polled on this thread, records the wake and returns `true`; the caller
/// must then not touch the state word for this wake.
#[inline(always)]
pub(super) fn wake_if_polled_here(task: NonNull<Header>) -> bool {
    CURRENT.with(|word| {
        let current = word.get();
        if current & !WOKEN == task.as_ptr() as usize {
            word.set(current | WOKEN);
            true
        } else {
            false
        }
    })
}
