//! Task identifiers.
//!
//! A [`TaskId`] names a task in logs, in [`JoinError`](super::JoinError)s and in a scheduler's
//! table. It is never zero, so `Option<TaskId>` costs nothing. Ids come from two sources:
//! [`TaskId::next`] (and [`TaskId::default`]) take one from a process-wide counter, unique for
//! the life of the process (a `u64` incremented once per task does not wrap in any realistic
//! run); [`TaskId::from_u64`] takes one a scheduler chose, unique only as far as that
//! scheduler makes it (the event loop's carry a table slot, see `slab.rs`). So two tasks of
//! two different loops may share an id.

use std::fmt;
use std::num::NonZeroU64;
// Not `crate::loom`: the counter takes part in no protocol a loom model checks (any order of
// increments yields unique ids), and a loom atomic cannot live in a `static`.
use std::sync::atomic::{AtomicU64, Ordering};

/// The identity of a task, never zero; unique within the process when it came from
/// [`TaskId::next`], within its scheduler when chosen by one (module doc). Displayed as `task#17`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TaskId(NonZeroU64);

/// The next id [`TaskId::next`] hands out. Starts at 1 so that ids are `NonZero`.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl TaskId {
    /// Takes a fresh id from the process-wide counter.
    ///
    /// `Relaxed` suffices: uniqueness needs only the atomicity of `fetch_add`, and no other
    /// memory is published through the counter.
    #[inline]
    pub fn next() -> TaskId {
        let raw = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        match NonZeroU64::new(raw) {
            Some(id) => TaskId(id),
            // Only reachable after 2^64 spawns wrapped the counter back to zero.
            None => panic!("task id counter overflowed"),
        }
    }

    /// An id a scheduler chose itself. The event loop uses this to carry a task's table slot
    /// in its id, so that [`Schedule::release`](super::Schedule::release) finds the slot
    /// without a map. Such ids are unique only as far as the scheduler makes them (the loop's
    /// are unique within one loop), not process-wide like those of [`TaskId::next`].
    #[inline]
    pub const fn from_u64(raw: NonZeroU64) -> TaskId {
        TaskId(raw)
    }

    /// The id as a plain integer (for logs and metrics).
    #[inline]
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

/// A fresh id from the process-wide counter ([`TaskId::next`]), for schedulers that do not
/// choose their own.
impl Default for TaskId {
    #[inline]
    fn default() -> TaskId {
        TaskId::next()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::TaskId;

    #[test]
    fn ids_are_unique_increasing_and_display_as_task_hash_n() {
        let a = TaskId::next();
        let b = TaskId::next();
        assert!(b > a, "the counter only goes up");
        assert_ne!(a, b);
        assert_eq!(format!("{a}"), format!("task#{}", a.as_u64()));
        assert_eq!(
            std::mem::size_of::<Option<TaskId>>(),
            8,
            "the niche makes Option free"
        );
    }
}
