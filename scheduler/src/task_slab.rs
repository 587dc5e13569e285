//! A slab of live tasks whose entries are one pointer wide: the loop's task table, and each
//! shard of the pool's.
//!
//! `slab::Slab<Task>` stores each entry as an enum of "vacant, next free key" or "occupied,
//! task": 16 bytes for an 8-byte `Task`. With a million parked tasks that is 16 MB, a sixth of
//! the whole cost of a parked task. This table keeps the occupied entries as
//! `Option<Task>` (8 bytes: `Task` is a non-null pointer, so `None` is free) and the free keys
//! in a side list that only grows with the number of *vacant* slots. The interface is the part
//! of `Slab`'s that the schedulers use: learn the next key before inserting (they build the
//! task's id from it), insert there, look up, remove, take everything.

use switchyard_runtime::task::Task;

/// A slab of `Task`s with 8-byte entries. Keys are reused last-freed first.
#[derive(Default)]
pub(crate) struct TaskSlab {
    slots: Vec<Option<Task>>,
    /// Keys of the `None` slots.
    free: Vec<u32>,
}

impl TaskSlab {
    /// The key the next [`insert`](Self::insert) will use.
    pub(crate) fn next_key(&self) -> usize {
        match self.free.last() {
            Some(&key) => key as usize,
            None => self.slots.len(),
        }
    }

    /// Inserts `task` at [`next_key`](Self::next_key) and returns that key.
    pub(crate) fn insert(&mut self, task: Task) -> usize {
        match self.free.pop() {
            Some(key) => {
                let key = key as usize;
                debug_assert!(self.slots[key].is_none(), "a free key's slot is empty");
                self.slots[key] = Some(task);
                key
            }
            None => {
                self.slots.push(Some(task));
                self.slots.len() - 1
            }
        }
    }

    /// The task at `key`, if any.
    pub(crate) fn get(&self, key: usize) -> Option<&Task> {
        self.slots.get(key).and_then(Option::as_ref)
    }

    /// Removes and returns the task at `key`, if any.
    pub(crate) fn try_remove(&mut self, key: usize) -> Option<Task> {
        let task = self.slots.get_mut(key)?.take()?;
        // Keys fit in u32: both schedulers put the key in the low 32 bits of a task id, and
        // check the bound before inserting.
        self.free.push(key as u32);
        Some(task)
    }

    /// How many tasks the slab holds.
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every task, emptying the table.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Task> + use<> {
        let slots = std::mem::take(&mut self.slots);
        self.free.clear();
        slots.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_runtime::task::{self, Runnable, Schedule, ScheduleInfo, TaskId};

    /// A scheduler that cancels whatever it is handed.
    struct Discard;
    impl Schedule for Discard {
        fn schedule(&self, runnable: Runnable, _: ScheduleInfo) {
            drop(runnable);
        }
    }

    /// A parked task and its table handle.
    fn task() -> Task {
        let (runnable, _join) = task::spawn(std::future::pending::<()>(), Discard, TaskId::next());
        let handle = runnable.task();
        // Cancelled when the runnable drops; the handle keeps the allocation.
        drop(runnable);
        handle
    }

    #[test]
    fn an_entry_is_one_pointer_wide() {
        assert_eq!(size_of::<Option<Task>>(), size_of::<usize>());
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
