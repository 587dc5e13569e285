//! The loop's state, split by who may touch it, and its [`Schedule`] hook.
//!
//! - [`Local`] belongs to the loop thread: the run queue, the local task table and the counters
//!   live in `Cell`s and `RefCell`s, and nothing else ever reaches them (the `EventLoop` that
//!   owns the `Local` is `!Send`, and other threads only hold [`LoopShared`]).
//! - [`LoopShared`] is what other threads hold (through wakers and `LoopHandle`s): the
//!   lock-free remote queue, the mutex-guarded remote task table, the live-task count, and the
//!   driver's unparker (the unpark rule of `switchyard_runtime::driver`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroU64;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crossbeam_deque::{Injector, Steal};
use slab::Slab;
use switchyard_runtime::driver::DriverUnparker;
use switchyard_runtime::task::{
    self, JoinHandle, Runnable, Schedule, ScheduleInfo, TaskId, TaskRef, TaskSlab,
};

use super::SpawnError;
use super::context;
use super::metrics::Counters;

/// Slots a run queue keeps however short it gets (8 KiB): enough that steady traffic never
/// reallocates, small next to a burst's buffer. Picked by hand; see `Local::shrink_run_queue`.
const RUN_QUEUE_KEEP: usize = 1024;

/// The queue's buffer is given back once it is this many times longer than the queue: with
/// 4, a shrink to twice the length leaves room to double before the next growth, and the
/// copy it makes (at most a quarter of the buffer) is paid for by the pushes that grew it.
/// The usual dynamic-array hysteresis (shrink at a quarter full, to half full); picked, not
/// measured.
const RUN_QUEUE_SLACK: usize = 4;

/// Bit 63 of a loop task id: the task lives in the remote table.
const REMOTE_BIT: u64 = 1 << 63;
/// The low 32 bits of a loop task id: its slab key.
const KEY_MASK: u64 = u32::MAX as u64;
/// Sequence numbers take bits 32..63 and skip 0, so that an id is never zero.
const SEQ_MASK: u32 = (1 << 31) - 1;

/// Builds the id of a task in slot `key` of the local or remote table (the module doc, and
/// "The slot in the id" in `switchyard_runtime::task::TaskSlab`).
fn task_id(remote: bool, seq: u32, key: usize) -> TaskId {
    debug_assert!(key as u64 <= KEY_MASK && seq != 0 && seq <= SEQ_MASK);
    let raw = if remote { REMOTE_BIT } else { 0 } | (u64::from(seq) << 32) | key as u64;
    TaskId::from_u64(NonZeroU64::new(raw).expect("sequence numbers start at 1"))
}

/// The next sequence number after `seq`, in `1..=SEQ_MASK`.
fn next_seq(seq: u32) -> u32 {
    if seq >= SEQ_MASK { 1 } else { seq + 1 }
}

/// The capacity a run queue of `len` runnables in a buffer of `capacity` slots shrinks to, or
/// `None` to keep it (see `Local::shrink_run_queue`).
fn shrunk_capacity(capacity: usize, len: usize) -> Option<usize> {
    (capacity > RUN_QUEUE_KEEP && capacity / RUN_QUEUE_SLACK > len)
        .then(|| RUN_QUEUE_KEEP.max(2 * len))
}

/// The scheduler stored in every task of one loop: one `Arc`, so a task costs one pointer.
pub(super) struct LoopScheduler(pub(super) Arc<LoopShared>);

impl Schedule for LoopScheduler {
    #[inline]
    fn schedule(&self, runnable: Runnable, _info: ScheduleInfo) {
        let shared: &LoopShared = &self.0;
        context::with_current(|local| match local {
            Some(local) if ptr::eq(local.shared(), shared) => local.push(runnable),
            _ => shared.push_remote(runnable),
        });
    }

    fn release(&self, id: TaskId) {
        let raw = id.as_u64();
        let key = (raw & KEY_MASK) as usize;
        let shared: &LoopShared = &self.0;
        // The id checks guard against a slot emptied by shutdown and refilled since.
        let removed = if raw & REMOTE_BIT != 0 {
            let mut table = shared.remote_table();
            match table.tasks.get(key) {
                Some(task) if task.id() == id => table.tasks.try_remove(key),
                _ => None,
            }
        } else {
            // A loop task finishes on the loop thread: in a tick, or in the loop's drop, both
            // with the loop entered.
            context::with_current(|local| match local {
                Some(local) if ptr::eq(local.shared(), shared) => {
                    local.tasks.borrow_mut().remove_if_id(key, id)
                }
                _ => None,
            })
        };
        if removed.is_some() {
            // Relaxed: the count bounds the tables' size; it publishes no memory.
            shared.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The tasks spawned from other threads, and whether the loop still takes them.
pub(super) struct RemoteTable {
    pub(super) tasks: Slab<TaskRef>,
    seq: u32,
    pub(super) closed: bool,
}

/// What other threads may touch (see the module doc of `local`).
pub(super) struct LoopShared {
    remote_queue: Injector<Runnable>,
    remote_tasks: Mutex<RemoteTable>,
    /// Tasks alive in both tables.
    live: AtomicUsize,
    capacity: usize,
    /// Wakes the loop's driver if it is parked (it lets go of the reactor's fds once the loop
    /// is dropped, so a `LoopHandle` kept alive does not keep them open).
    unparker: DriverUnparker,
}

impl LoopShared {
    pub(super) fn new(unparker: DriverUnparker, capacity: usize) -> LoopShared {
        LoopShared {
            remote_queue: Injector::new(),
            remote_tasks: Mutex::new(RemoteTable {
                tasks: Slab::new(),
                seq: 0,
                closed: false,
            }),
            live: AtomicUsize::new(0),
            capacity,
            unparker,
        }
    }

    /// Counts one more live task, or refuses it.
    fn reserve(&self) -> Result<(), SpawnError> {
        // Relaxed: see `release`.
        let previous = self.live.fetch_add(1, Ordering::Relaxed);
        if previous >= self.capacity {
            self.live.fetch_sub(1, Ordering::Relaxed);
            return Err(SpawnError::AtCapacity {
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    pub(super) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub(super) fn remote_table(&self) -> MutexGuard<'_, RemoteTable> {
        // The table is consistent after any panic (each operation is one slab call).
        self.remote_tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns `future` from any thread, into the remote table.
    pub(super) fn spawn_remote<F>(
        self: &Arc<Self>,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut table = self.remote_table();
        if table.closed {
            return Err(SpawnError::Shutdown);
        }
        self.reserve()?;
        let seq = next_seq(table.seq);
        table.seq = seq;
        let entry = table.tasks.vacant_entry();
        let id = task_id(true, seq, entry.key());
        let (runnable, join) = task::spawn(future, LoopScheduler(self.clone()), id);
        entry.insert(runnable.task());
        drop(table);
        self.push_remote(runnable);
        Ok(join)
    }

    /// Hands a runnable to the loop from any thread: push, then unpark (the unpark rule).
    pub(super) fn push_remote(&self, runnable: Runnable) {
        self.remote_queue.push(runnable);
        self.unparker.unpark();
    }

    /// Takes one runnable pushed by another thread.
    pub(super) fn pop_remote(&self) -> Option<Runnable> {
        loop {
            match self.remote_queue.steal() {
                Steal::Success(runnable) => return Some(runnable),
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    pub(super) fn has_remote(&self) -> bool {
        !self.remote_queue.is_empty()
    }

    /// Shutdown step 1: no more remote spawns. (The driver lets go of the reactor's fds when
    /// it is dropped, at step 4.)
    pub(super) fn close(&self) {
        self.remote_table().closed = true;
    }
}

/// The loop thread's state. Reached through `&Local` only (see `context`).
pub(super) struct Local {
    shared: Arc<LoopShared>,
    run_queue: RefCell<VecDeque<Runnable>>,
    tasks: RefCell<TaskSlab>,
    seq: Cell<u32>,
    pub(super) counters: Counters,
}

impl Local {
    pub(super) fn new(shared: Arc<LoopShared>) -> Local {
        Local {
            shared,
            run_queue: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(TaskSlab::default()),
            seq: Cell::new(0),
            counters: Counters::default(),
        }
    }

    pub(super) fn shared(&self) -> &LoopShared {
        &self.shared
    }

    pub(super) fn shared_arc(&self) -> &Arc<LoopShared> {
        &self.shared
    }

    #[inline]
    pub(super) fn push(&self, runnable: Runnable) {
        self.run_queue.borrow_mut().push_back(runnable);
    }

    #[inline]
    pub(super) fn pop(&self) -> Option<Runnable> {
        self.run_queue.borrow_mut().pop_front()
    }

    pub(super) fn has_ready(&self) -> bool {
        !self.run_queue.borrow().is_empty()
    }

    /// Gives back the run queue's buffer after a burst: once the buffer is more than
    /// [`RUN_QUEUE_SLACK`] times the queue's length (and over [`RUN_QUEUE_KEEP`] slots), it
    /// shrinks to twice the length (at least `RUN_QUEUE_KEEP`). Without this, a loop that once
    /// held a million runnables (a burst of spawns) keeps 8 MB for a queue now holding a few;
    /// the lab's `scale` experiment counted it at 8 bytes per parked task, because the task
    /// that measures keeps yielding, so the queue is never quite empty.
    pub(super) fn shrink_run_queue(&self) {
        let mut queue = self.run_queue.borrow_mut();
        if let Some(keep) = shrunk_capacity(queue.capacity(), queue.len()) {
            queue.shrink_to(keep);
        }
    }

    /// Spawns on the loop thread, into the local table.
    pub(super) fn spawn_local<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.shared.reserve()?;
        let seq = next_seq(self.seq.get());
        self.seq.set(seq);
        let mut tasks = self.tasks.borrow_mut();
        let key = tasks.next_key();
        let id = task_id(false, seq, key);
        // SAFETY: `spawn_unchecked` asks that a `!Send` task be run, shut down and dropped only
        // on the spawning thread (the checked `task::spawn_local` would cost 8 bytes a task, which
        // the lab's `scale` figure counts; this proof costs nothing). (1) We are on the loop thread: `Local` is reachable only from
        // the `!Send` `EventLoop` that owns it, or through `context` on the thread that entered
        // it. (2) The task's runnables are polled only by this loop's ticks, on this thread: a
        // wake on another thread pushes the runnable onto the remote queue, which only this
        // thread drains. (3) Its `TaskRef` stays in this `Local`'s table and is shut down in
        // the loop's drop, on this thread; queued runnables are dropped there too (shutdown
        // steps 2 and 3). (4) The scheduler is `Send + Sync`, so wakers may travel.
        let (runnable, join) =
            unsafe { task::spawn_unchecked(future, LoopScheduler(self.shared.clone()), id) };
        let inserted = tasks.insert(runnable.task());
        debug_assert_eq!(inserted, key);
        drop(tasks);
        Counters::add(&self.counters.spawned, 1);
        self.push(runnable);
        Ok(join)
    }

    /// Moves the runnables other threads pushed onto the back of the run queue.
    pub(super) fn drain_remote(&self) {
        if !self.shared.has_remote() {
            return;
        }
        let mut moved = 0;
        let mut queue = self.run_queue.borrow_mut();
        while let Some(runnable) = self.shared.pop_remote() {
            queue.push_back(runnable);
            moved += 1;
        }
        Counters::add(&self.counters.remote_scheduled, moved);
    }

    /// Shutdown steps 2 and 3 (module doc), repeated until nothing is left.
    pub(super) fn shutdown(&self) {
        self.shared.close();
        // Tasks shut down while `SCHEDULED` whose runnable we have not seen yet: a wake on
        // another thread moved them out of idle and is about to push the runnable onto the
        // remote queue. They finish when we drop that runnable, so we wait for it.
        let mut in_flight: Vec<TaskRef> = Vec::new();
        loop {
            let mut progressed = false;
            while let Some(runnable) = self.pop().or_else(|| self.shared.pop_remote()) {
                drop(runnable);
                progressed = true;
            }
            let local: Vec<TaskRef> = self.tasks.borrow_mut().drain().collect();
            let remote = std::mem::take(&mut self.shared.remote_table().tasks);
            for task in local
                .into_iter()
                .chain(remote.into_iter().map(|(_, task)| task))
            {
                task.shutdown();
                in_flight.push(task);
                progressed = true;
            }
            in_flight.retain(|task| !task.is_finished());
            if !progressed {
                if in_flight.is_empty() {
                    break;
                }
                // Only wakes in flight on other threads remain: each is a few instructions
                // from its push.
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RUN_QUEUE_KEEP, RUN_QUEUE_SLACK, shrunk_capacity};

    #[test]
    fn a_small_buffer_is_kept_whatever_the_length() {
        assert_eq!(shrunk_capacity(RUN_QUEUE_KEEP, 0), None);
        assert_eq!(shrunk_capacity(16, 0), None);
    }

    #[test]
    fn a_burst_buffer_shrinks_once_mostly_empty_but_not_while_busy() {
        let burst = 1 << 20;
        // Empty, or holding one task that keeps yielding (the lab's `scale` measurer).
        assert_eq!(shrunk_capacity(burst, 0), Some(RUN_QUEUE_KEEP));
        assert_eq!(shrunk_capacity(burst, 1), Some(RUN_QUEUE_KEEP));
        // A quarter full or more: kept, so a busy queue never reallocates tick after tick.
        assert_eq!(shrunk_capacity(burst, burst / RUN_QUEUE_SLACK), None);
        // Below a quarter: to twice the length, room to double before growing again.
        let len = burst / RUN_QUEUE_SLACK - 1;
        assert_eq!(shrunk_capacity(burst, len), Some(2 * len));
        assert_eq!(
            shrunk_capacity(2 * len, len),
            None,
            "no shrink right after a shrink"
        );
    }
}
