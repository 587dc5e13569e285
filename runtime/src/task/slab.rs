//! [`TaskSlab`]: a table of live tasks whose entries are one pointer wide, for a scheduler's
//! shutdown. The event loop's table is one; each shard of the pool's is another.
//!
//! ## Why a scheduler keeps a table
//!
//! A task that nobody will ever wake again (parked forever on `pending()`, or on a socket
//! whose peer never writes) is reachable only through wakers that nobody holds. When the
//! runtime is dropped, its future must still be dropped, on the right thread, and its
//! [`JoinHandle`](super::JoinHandle) must report cancelled. So the scheduler keeps a
//! [`TaskRef`] for every live task, and forgets it in [`Schedule::release`](super::Schedule::release).
//!
//! ## The slot in the id
//!
//! `release` receives only the task's [`TaskId`](super::TaskId). To find the slot without a
//! second map, a scheduler chooses the ids: it asks [`TaskSlab::next_key`] *before* it
//! spawns, puts the key in the id (the loop keeps it in the low 32 bits, a sequence number
//! above it so a reused key gives a new id), spawns with [`TaskId::from_u64`](super::TaskId::from_u64),
//! inserts the task's `TaskRef` (the key is the one `next_key` predicted), and in `release`
//! takes the key back out of the id. Because a slot may be emptied by shutdown and refilled
//! since, `release` removes the entry only if its id is the one released
//! ([`TaskSlab::remove_if_id`]).
//!
//! ## The shutdown order
//!
//! Dropping a runtime with a table takes these steps, on the thread that owns `!Send` tasks:
//!
//! 1. Refuse new spawns (close whatever other threads spawn through).
//! 2. Drop every queued [`Runnable`](super::Runnable): the task core cancels each, drops its
//!    future here, calls `release`, and reports cancelled at its `JoinHandle`.
//! 3. Take every entry ([`TaskSlab::drain`]) and call [`TaskRef::shutdown`] on it: an idle
//!    task's future is dropped here; a scheduled one is marked, and finishes when its runnable
//!    is dropped in step 2.
//! 4. Dropping a future may wake or spawn another task: repeat 2 and 3 until both are empty
//!    and every task shut down reports [`TaskRef::is_finished`] (a wake racing on another
//!    thread is a few instructions from handing over its runnable).
//! 5. Only then drop the reactor and the timers (their fds), which futures may still use
//!    while they are dropped.
//!
//! The event loop (`switchyard_scheduler::local`, `scheduler.rs`, `Local::shutdown`) follows
//! these steps as written; `docs/custom-runtime.md` shows them in a custom runtime.
//!
//! ## The layout
//!
//! `slab::Slab<TaskRef>` stores each entry as an enum of "vacant, next free key" or
//! "occupied, task": 16 bytes for an 8-byte `TaskRef`. With a million parked tasks that is
//! 16 MB, a sixth of the whole cost of a parked task. This table keeps the occupied entries
//! as `Option<TaskRef>` (8 bytes: `TaskRef` is a non-null pointer, so `None` is free) and the
//! free keys in a side list that only grows with the number of *vacant* slots. Keys are
//! below 2^32 (they are stored as `u32` in the free list); [`TaskSlab::insert`] panics beyond.

use super::runnable::TaskRef;

/// A table of [`TaskRef`]s with 8-byte entries. Keys are reused last-freed first.
#[derive(Default)]
pub struct TaskSlab {
    slots: Vec<Option<TaskRef>>,
    /// Keys of the `None` slots.
    free: Vec<u32>,
}

impl std::fmt::Debug for TaskSlab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSlab")
            .field("len", &self.len())
            .finish()
    }
}

impl TaskSlab {
    /// The key the next [`insert`](Self::insert) will use.
    pub fn next_key(&self) -> usize {
        match self.free.last() {
            Some(&key) => key as usize,
            None => self.slots.len(),
        }
    }

    /// Inserts `task` at [`next_key`](Self::next_key) and returns that key.
    pub fn insert(&mut self, task: TaskRef) -> usize {
        match self.free.pop() {
            Some(key) => {
                let key = key as usize;
                debug_assert!(self.slots[key].is_none(), "a free key's slot is empty");
                self.slots[key] = Some(task);
                key
            }
            None => {
                assert!(
                    self.slots.len() <= u32::MAX as usize,
                    "a TaskSlab holds at most 2^32 tasks"
                );
                self.slots.push(Some(task));
                self.slots.len() - 1
            }
        }
    }

    /// The task at `key`, if any.
    pub fn get(&self, key: usize) -> Option<&TaskRef> {
        self.slots.get(key).and_then(Option::as_ref)
    }

    /// Removes and returns the task at `key`, if any.
    pub fn try_remove(&mut self, key: usize) -> Option<TaskRef> {
        let task = self.slots.get_mut(key)?.take()?;
        // Keys fit in u32: `insert` refuses more slots.
        self.free.push(key as u32);
        Some(task)
    }

    /// How many tasks the slab holds.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether the slab holds no task.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the task at `key` if its id is `id` (see "The slot in the id" in the module
    /// doc: a slot emptied by shutdown may have been refilled since).
    pub fn remove_if_id(&mut self, key: usize, id: super::TaskId) -> Option<TaskRef> {
        match self.get(key) {
            Some(task) if task.id() == id => self.try_remove(key),
            _ => None,
        }
    }

    /// Every task, emptying the table.
    pub fn drain(&mut self) -> impl Iterator<Item = TaskRef> + use<> {
        let slots = std::mem::take(&mut self.slots);
        self.free.clear();
        slots.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{self, Runnable, Schedule, ScheduleInfo, TaskId};

    /// A scheduler that cancels whatever it is handed.
    struct Discard;
    impl Schedule for Discard {
        fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
            drop(runnable);
        }
    }

    /// A parked task and its table handle.
    fn task() -> TaskRef {
        let (runnable, _join) = task::spawn(std::future::pending::<()>(), Discard, TaskId::next());
        let handle = runnable.task();
        // Cancelled when the runnable drops; the handle keeps the allocation.
        drop(runnable);
        handle
    }

    #[test]
    fn an_entry_is_one_pointer_wide() {
        assert_eq!(size_of::<Option<TaskRef>>(), size_of::<usize>());
    }

    #[test]
    fn next_key_predicts_insert_and_freed_keys_are_reused_last_first() {
        let mut table = TaskSlab::default();
        for expected in 0..4 {
            assert_eq!(table.next_key(), expected);
            assert_eq!(table.insert(task()), expected);
        }
        assert!(table.try_remove(1).is_some());
        assert!(table.try_remove(3).is_some());
        assert_eq!(table.len(), 2);
        assert_eq!(table.next_key(), 3);
        assert_eq!(table.insert(task()), 3);
        assert_eq!(table.next_key(), 1);
        assert_eq!(table.insert(task()), 1);
        assert_eq!(table.next_key(), 4);
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn removing_an_empty_or_unknown_key_is_none_and_changes_nothing() {
        let mut table = TaskSlab::default();
        table.insert(task());
        assert!(table.try_remove(0).is_some());
        assert!(table.try_remove(0).is_none(), "already removed");
        assert!(table.try_remove(99).is_none(), "never used");
        assert!(table.is_empty());
        assert_eq!(table.next_key(), 0, "the one freed key, once");
    }

    #[test]
    fn drain_yields_every_task_and_leaves_an_empty_table() {
        let mut table = TaskSlab::default();
        for _ in 0..5 {
            table.insert(task());
        }
        table.try_remove(2);
        let ids: Vec<_> = table.drain().map(|t| t.id()).collect();
        assert_eq!(ids.len(), 4);
        assert!(table.is_empty());
        assert_eq!(table.next_key(), 0);
        assert!(table.get(0).is_none());
    }
}
