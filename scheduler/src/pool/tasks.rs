//! # The pool as a task scheduler, and its table of live tasks
//!
//! [`PoolScheduler`] is what the task core stores in every task spawned on the pool (one
//! pointer: an `Arc` of the shared state). Its [`Schedule::schedule`] is the wake path:
//!
//! - woken while idle (by another task, an I/O event, a timer, a channel): the LIFO slot of
//!   the waking worker, or the injector from a foreign thread ([`Shared::schedule`]);
//! - woken while running (`woken_while_running`: the task yielded): the back of the deque,
//!   so the tasks queued behind it run first.
//!
//! [`TaskTable`] holds a [`Task`] handle for every live task, so that shutdown can cancel the
//! tasks that are idle (waiting on a waker that may never fire, or that a cycle keeps alive):
//! shutdown step 6. It is sharded by task id ([`SHARDS_PER_WORKER`] mutexes per worker) so
//! spawns and releases on different workers rarely meet on one lock; [`Schedule::release`]
//! removes a task when its future is gone.
//!
//! [`Shared::schedule`]: super::shared::Shared::schedule

use super::job::Job;
use super::shared::{Placement, Shared};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};
use switchyard_runtime::task::{Runnable, Schedule, ScheduleInfo, Task, TaskId};

/// Shards of the task table per worker; a power of two overall. 4 keeps the chance that two
/// workers spawning at once pick the same shard low (picked out of thin air; tokio's
/// `OwnedTasks` uses 4x the workers too).
pub const SHARDS_PER_WORKER: usize = 4;

/// The scheduler hook stored in each pool task.
#[derive(Clone)]
pub(crate) struct PoolScheduler(pub(crate) Arc<Shared>);

impl Schedule for PoolScheduler {
    fn schedule(&self, runnable: Runnable, info: ScheduleInfo) {
        let placement = if info.woken_while_running {
            Placement::Back
        } else {
            Placement::Lifo
        };
        self.0.schedule(Job::Task(runnable), placement);
    }

    fn release(&self, id: TaskId) {
        self.0.tasks.remove(id);
        if let Some(hook) = &self.0.config.hooks.on_task_terminate {
            hook(id);
        }
    }
}

/// Task ids are already unique and sequential: hash them by a multiplication (Fibonacci
/// hashing), not SipHash.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        // 0x9E3779B97F4A7C15: 2^64 / the golden ratio.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard = Mutex<HashMap<TaskId, Task, BuildHasherDefault<IdHasher>>>;

/// Every live task of the pool.
pub(crate) struct TaskTable {
    shards: Box<[Shard]>,
}

impl TaskTable {
    pub(crate) fn new(workers: usize) -> TaskTable {
        let n = (workers * SHARDS_PER_WORKER).next_power_of_two();
        TaskTable {
            shards: (0..n).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, id: TaskId) -> &Shard {
        // Sequential ids spread round-robin over the shards.
        &self.shards[id.as_u64() as usize & (self.shards.len() - 1)]
    }

    pub(crate) fn insert(&self, task: Task) {
        let id = task.id();
        self.shard(id)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, task);
    }

    pub(crate) fn remove(&self, id: TaskId) {
        let task = self
            .shard(id)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        // Dropped outside the lock: dropping the last reference may run task code.
        drop(task);
    }

    /// Shutdown step 6: cancel every task still in the table. Each `shutdown` drops an idle
    /// task's future here (its `release` removes it from the table, taking the shard lock, so
    /// no lock is held while calling it).
    pub(crate) fn shutdown_all(&self) {
        for shard in self.shards.iter() {
            let tasks: Vec<Task> = shard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .map(|(_, task)| task)
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
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}
