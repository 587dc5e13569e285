//! # The pool as a task scheduler, and its table of live tasks
//!
//! [`PoolScheduler`] is what the task core stores in every task spawned on the pool (one
//! pointer: an `Arc` of the shared state). Its [`Schedule::schedule`] is the wake path:
//!
//! - woken while idle (by another task, an I/O event, a timer, a channel): the LIFO slot of
//!   the waking worker, or the injector from a foreign thread ([`PoolShared::schedule`]);
//! - woken while running (`woken_while_running`: the task yielded): the back of the deque,
//!   so the tasks queued behind it run first.
//!
//! [`TaskTable`] holds a [`TaskRef`] for every live task, so that shutdown can cancel the
//! tasks that are idle (waiting on a waker that may never fire, or that a cycle keeps alive):
//! shutdown step 7. It is sharded ([`SHARDS_PER_WORKER`] slabs per worker, `TaskSlab`s with
//! 8-byte entries (the runtime's, `runtime/src/task/slab.rs`), each behind a mutex; a worker spawns into the shards of its own seat, so
//! the lock is rarely contended),
//! and a task's [`TaskId`] says where it lives, as the loop's ids do:
//!
//! ```text
//!   bit 63 ........ 40 | 39 ... 32 | 31 .......... 0
//!   sequence (24 bits) | shard     | slab slot
//! ```
//!
//! so [`Schedule::release`] removes it with one index, no hashing. The sequence (per shard,
//! never 0, so the id is never 0) tells apart tasks that reuse a slot; ids are unique among
//! the pool's live tasks (not across pools: the pool mints its own, as the loop does).
//!
//! [`PoolShared::schedule`]: super::shared::PoolShared::schedule

use super::job::Job;
use super::shared::{PoolShared, QueueEnd};
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use switchyard_runtime::task::{Runnable, Schedule, ScheduleInfo, TaskId, TaskRef, TaskSlab};

/// Shards of the task table per worker (a power of two overall, at most 256): a worker spawns
/// into its own, and threads outside the pool spread over all of them. 4 is picked out of thin
/// air (tokio's `OwnedTasks` also shards by 4x the workers).
pub const SHARDS_PER_WORKER: usize = 4;

/// The scheduler hook stored in each pool task.
#[derive(Clone)]
pub(crate) struct PoolScheduler(pub(crate) Arc<PoolShared>);

impl Schedule for PoolScheduler {
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo) {
        let end = if info.woken_while_running {
            QueueEnd::Back
        } else {
            QueueEnd::Lifo
        };
        self.0.schedule(Job::Task(runnable), end);
    }

    fn release(&self, id: TaskId) {
        self.0.tasks.remove(id);
        if let Some(hook) = &self.0.config.hooks.on_task_terminate {
            hook(id);
        }
    }
}

/// Bits of the id for the slab slot and the shard.
const SLOT_BITS: u32 = 32;
const SHARD_BITS: u32 = 8;
const SEQ_MASK: u64 = (1 << (64 - SLOT_BITS - SHARD_BITS)) - 1;

struct Shard {
    slab: TaskSlab,
    /// The sequence part of the next id; never 0.
    seq: u64,
}

/// Every live task of the pool.
pub(crate) struct TaskTable {
    shards: Box<[Mutex<Shard>]>,
}

thread_local! {
    /// Threads outside the pool spread their spawns over the shards, one shard per thread.
    static OUTSIDE_SHARD: usize = NEXT_OUTSIDE.fetch_add(1, Ordering::Relaxed);
}
static NEXT_OUTSIDE: AtomicUsize = AtomicUsize::new(0);

impl TaskTable {
    pub(crate) fn new(workers: usize) -> TaskTable {
        let n = (workers * SHARDS_PER_WORKER)
            .next_power_of_two()
            .min(1 << SHARD_BITS);
        TaskTable {
            shards: (0..n)
                .map(|_| {
                    Mutex::new(Shard {
                        slab: TaskSlab::default(),
                        seq: 1,
                    })
                })
                .collect(),
        }
    }

    /// Spawns a task with `spawn(id)` and records it, under the chosen shard's lock (the id
    /// must name the slot the task goes into). `seat`: the spawning worker's seat, if any.
    pub(crate) fn spawn_into(
        &self,
        seat: Option<usize>,
        spawn: impl FnOnce(TaskId) -> Runnable,
    ) -> Runnable {
        let n = self.shards.len();
        let shard_index = match seat {
            Some(seat) => (seat * SHARDS_PER_WORKER) % n,
            None => OUTSIDE_SHARD.with(|s| *s) % n,
        };
        let mut shard = self.shards[shard_index]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let slot = shard.slab.next_key();
        assert!(
            (slot as u64) < 1 << SLOT_BITS,
            "more than 2^32 live tasks in one shard of the pool's task table"
        );
        let seq = shard.seq;
        shard.seq = if seq == SEQ_MASK { 1 } else { seq + 1 };
        let raw = seq << (SLOT_BITS + SHARD_BITS) | (shard_index as u64) << SLOT_BITS | slot as u64;
        let id = TaskId::from_u64(NonZeroU64::new(raw).expect("the sequence is never 0"));
        let runnable = spawn(id);
        let key = shard.slab.insert(runnable.task());
        debug_assert_eq!(key, slot, "the slab's vacant key changed under its lock");
        runnable
    }

    pub(crate) fn remove(&self, id: TaskId) {
        let raw = id.as_u64();
        let shard_index = (raw >> SLOT_BITS) as usize & ((1 << SHARD_BITS) - 1);
        let slot = (raw & ((1 << SLOT_BITS) - 1)) as usize;
        let task = {
            let Some(shard) = self.shards.get(shard_index) else {
                return;
            };
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.slab.remove_if_id(slot, id)
        };
        // Dropped outside the lock: dropping the last reference may run task code.
        drop(task);
    }

    /// Shutdown step 7: cancel every task still in the table. Each `shutdown` drops an idle
    /// task's future here (its `release` removes it from the table, taking the shard lock, so
    /// no lock is held while calling it).
    pub(crate) fn shutdown_all(&self) {
        for shard in self.shards.iter() {
            let tasks: Vec<TaskRef> = shard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .slab
                .drain()
                .collect();
            for task in tasks {
                task.shutdown();
            }
        }
    }

    /// Live tasks now.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).slab.len())
            .sum()
    }
}
