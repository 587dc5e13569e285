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
//! shutdown step 7. It is sharded, in `TaskSlab`s with 8-byte entries (the runtime's,
//! `runtime/src/task/slab.rs`), and a task's [`TaskId`] says where it lives, as the loop's ids
//! do:
//!
//! ```text
//!   bit 63 ........ 40 | 39 ... 32 | 31 .......... 0
//!   sequence (24 bits) | shard     | slab slot
//! ```
//!
//! so [`Schedule::release`] finds it with one index, no hashing. The sequence (per shard,
//! never 0, so the id is never 0) tells apart tasks that reuse a slot; ids are unique among
//! the pool's live tasks (not across pools: the pool mints its own, as the loop does).
//!
//! ## Seat shards: no lock on the spawn and join path
//!
//! Shards `0..seat_shards` belong to the seats, one each ([`SeatTasks`], in the seat's queues
//! `SeatLocal`): a task spawned by a worker goes into its own seat's shard, touched through the
//! worker's key to its seat (seat.rs, "Keys") under the same `lock_in_poll` as the push that
//! queues the task, so a spawn takes no lock and shares no cache line with another worker.
//!
//! 1. **Release on the seat's holder** (the task ran where it was spawned, the common case):
//!    removed at once, through the key. The entry costs the task no atomic operation of its
//!    own on this path: it is made with the task (`task::spawn_with_ref`, its reference
//!    counted in the new state word rather than added by `Runnable::task`), and the release
//!    hands it back to the task core ([`Schedule::release_ref`]), which gives its reference
//!    up in the same CAS that completes the task, instead of a `fetch_sub` of its own. On
//!    the paths below the entry is dropped as usual.
//! 2. **Release anywhere else** (the task was stolen, or woken and run elsewhere): the id goes
//!    on the shard's *remote* list ([`SeatShard`]: a mutex the holder takes only to settle),
//!    from another worker in batches: it collects such ids in its own seat's *outbox* and
//!    hands them on once [`OUTBOX_BATCH`] wait, and before it sleeps. The entry stays in the
//!    slab until
//! 3. **the holder settles** the list: at a spawn once [`SETTLE_BATCH`] ids wait, and before
//!    its worker sleeps (worker.rs, tick step 7). A released task's future and output are
//!    already dropped, so a waiting id holds only the task's memory.
//! 4. **Counting** ([`TaskTable::len`]): each seat publishes its slab's length and its
//!    outbox's (plain stores by the holder), each remote list its length; live tasks are the
//!    slabs' total less the released ids' total.
//! 5. **Shutdown step 7** takes every seat's shard: every other pool thread has been joined
//!    (step 5), so nobody else holds a seat, except the dropping thread's own seat when a task
//!    drops its pool, which it reaches through its own key.
//!
//! Spawns from threads outside the pool, from a worker whose key is out or whose seat was
//! handed off during the poll, or with an `on_task_spawn` hook (which must run before the task
//! is queued), use the *outside* shards, each behind a mutex; a thread keeps to one of them
//! ([`SHARDS_PER_WORKER`] per worker). A seat the monitor empties because no thread could be
//! started for it (monitor.rs, step 4) is held by nobody again: its shard keeps its entries,
//! released or not, until shutdown step 7.
//!
//! [`PoolShared::schedule`]: super::shared::PoolShared::schedule

use super::job::Job;
use super::shared::{PoolShared, QueueEnd};
use crossbeam_utils::CachePadded;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use switchyard_runtime::task::{Runnable, Schedule, ScheduleInfo, TaskId, TaskRef, TaskSlab};

/// Outside shards of the task table per worker (module doc): threads outside the pool spread
/// over them, one shard per thread; a worker spawns into its seat's own shard. 4 is picked
/// out of thin air (tokio's `OwnedTasks` also shards by 4x the workers).
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
        drop(self.release_ref(id));
    }

    /// Step 1's entry goes back to the task core, which gives its reference up in the step
    /// that completes the task (module doc, "Seat shards").
    fn release_ref(&self, id: TaskId) -> Option<TaskRef> {
        let entry = self.0.release_task(id);
        if let Some(hook) = &self.0.config.hooks.on_task_terminate {
            hook(id);
        }
        entry
    }
}

/// Bits of the id for the slab slot and the shard.
const SLOT_BITS: u32 = 32;
const SHARD_BITS: u32 = 8;
const SEQ_MASK: u64 = (1 << (64 - SLOT_BITS - SHARD_BITS)) - 1;

/// Seats with a shard of their own (step 1 of the module doc); a seat past these spawns into
/// the outside shards.
const MAX_SEAT_SHARDS: usize = 128;

/// Released ids a seat's remote list collects before the holder's next spawn settles them
/// (module doc, step 3): one lock per batch, not per spawn. 64 keeps what waits small (a few
/// KiB of task memory) and the lock rare; picked by reasoning, not measured against others.
pub(crate) const SETTLE_BATCH: usize = 64;

/// Released ids a seat's outbox collects before they go to their remote lists (module doc,
/// step 2): one lock per batch, not per release. Picked by reasoning, as `SETTLE_BATCH`.
const OUTBOX_BATCH: usize = 32;

/// One shard's table and its id sequence.
pub(crate) struct SeatTasks {
    slab: TaskSlab,
    /// The sequence part of the next id; never 0.
    seq: u64,
    /// An empty list swapped with the remote one to settle it outside its lock.
    spare: Vec<TaskId>,
    /// Ids of other seats' tasks released on this seat, not yet handed to their remote lists
    /// (module doc, step 2).
    outbox: Vec<TaskId>,
}

impl Default for SeatTasks {
    fn default() -> SeatTasks {
        SeatTasks {
            slab: TaskSlab::default(),
            seq: 1,
            spare: Vec::new(),
            outbox: Vec::new(),
        }
    }
}

impl SeatTasks {
    /// The next id, for the slot `next_key` names, in shard `shard`.
    fn next_id(&mut self, shard: usize) -> TaskId {
        let slot = self.slab.next_key();
        assert!(
            (slot as u64) < 1 << SLOT_BITS,
            "more than 2^32 live tasks in one shard of the pool's task table"
        );
        let seq = self.seq;
        self.seq = if seq == SEQ_MASK { 1 } else { seq + 1 };
        let raw = seq << (SLOT_BITS + SHARD_BITS) | (shard as u64) << SLOT_BITS | slot as u64;
        TaskId::from_u64(NonZeroU64::new(raw).expect("the sequence is never 0"))
    }

    /// Spawns with `spawn(id)` and records the task (the `TaskRef` `spawn` made with it).
    fn spawn(
        &mut self,
        shard: usize,
        spawn: impl FnOnce(TaskId) -> (Runnable, TaskRef),
    ) -> Runnable {
        let id = self.next_id(shard);
        let (runnable, entry) = spawn(id);
        let key = self.slab.insert(entry);
        debug_assert_eq!(key, slot_of(id), "the slab's vacant key changed");
        runnable
    }

    fn remove(&mut self, id: TaskId) -> Option<TaskRef> {
        self.slab.remove_if_id(slot_of(id), id)
    }
}

fn slot_of(id: TaskId) -> usize {
    (id.as_u64() & ((1 << SLOT_BITS) - 1)) as usize
}

fn shard_of(id: TaskId) -> usize {
    (id.as_u64() >> SLOT_BITS) as usize & ((1 << SHARD_BITS) - 1)
}

/// What other threads touch of a seat's shard (module doc, steps 2-4). The holder's word and
/// the releasers' words are on cache lines of their own, so a release elsewhere does not
/// steal the line the holder writes at every spawn.
#[derive(Default)]
struct SeatShard {
    /// The holder's counts.
    held: CachePadded<Held>,
    /// Ids released away from the holder, not yet settled, and their count.
    remote: CachePadded<RemoteList>,
}

#[derive(Default)]
struct Held {
    /// The slab's length, stored by the holder after each change.
    tasks: AtomicUsize,
    /// The outbox's length, stored by the holder after each change.
    outbox: AtomicUsize,
}

#[derive(Default)]
struct RemoteList {
    list: Mutex<Remote>,
    /// Ids released away from the holder whose entries are still in the slab (the list's
    /// and those being settled), stored under `list`'s lock.
    len: AtomicUsize,
}

#[derive(Default)]
struct Remote {
    ids: Vec<TaskId>,
    /// Taken out by a settle that has not finished.
    settling: usize,
}

/// Every live task of the pool.
pub(crate) struct TaskTable {
    seats: Box<[SeatShard]>,
    /// Shards `seats.len()..`, for spawns outside a seat.
    outside: Box<[Mutex<SeatTasks>]>,
}

thread_local! {
    /// Threads outside the pool spread their spawns over the shards, one shard per thread.
    static OUTSIDE_SHARD: usize = NEXT_OUTSIDE.fetch_add(1, Ordering::Relaxed);
}
static NEXT_OUTSIDE: AtomicUsize = AtomicUsize::new(0);

impl TaskTable {
    pub(crate) fn new(workers: usize) -> TaskTable {
        let seats = workers.min(MAX_SEAT_SHARDS);
        let outside = (workers * SHARDS_PER_WORKER).clamp(1, (1 << SHARD_BITS) - seats);
        TaskTable {
            seats: (0..seats).map(|_| SeatShard::default()).collect(),
            outside: (0..outside).map(|_| Mutex::default()).collect(),
        }
    }

    /// Whether seat `seat` has a shard of its own.
    pub(crate) fn has_seat_shard(&self, seat: usize) -> bool {
        seat < self.seats.len()
    }

    /// The seat whose shard holds task `id`, if a seat's does.
    pub(crate) fn seat_of(&self, id: TaskId) -> Option<usize> {
        let shard = shard_of(id);
        (shard < self.seats.len()).then_some(shard)
    }

    /// Step 1's spawn: into seat `seat`'s shard, `tasks`, which the caller reaches through
    /// its key to the seat. Settles the remote list first once a batch waits (step 3).
    pub(crate) fn spawn_on_seat(
        &self,
        seat: usize,
        tasks: &mut SeatTasks,
        spawn: impl FnOnce(TaskId) -> (Runnable, TaskRef),
    ) -> Runnable {
        let shard = &self.seats[seat];
        if shard.remote.len.load(Ordering::Relaxed) >= SETTLE_BATCH {
            self.settle(seat, tasks);
        }
        let runnable = tasks.spawn(seat, spawn);
        shard.held.tasks.store(tasks.slab.len(), Ordering::Relaxed);
        runnable
    }

    /// Step 1's release: `id` out of seat `seat`'s shard, `tasks`, reached through the key.
    pub(crate) fn remove_on_seat(
        &self,
        seat: usize,
        tasks: &mut SeatTasks,
        id: TaskId,
    ) -> Option<TaskRef> {
        let task = tasks.remove(id);
        self.seats[seat]
            .held
            .tasks
            .store(tasks.slab.len(), Ordering::Relaxed);
        task
    }

    /// Step 2, on a worker: `id`, of another seat's shard, released on seat `own`, whose
    /// shard is `tasks`: into its outbox, handed on once a batch waits.
    pub(crate) fn release_to_outbox(&self, own: usize, tasks: &mut SeatTasks, id: TaskId) {
        tasks.outbox.push(id);
        let waiting = tasks.outbox.len();
        self.seats[own]
            .held
            .outbox
            .store(waiting, Ordering::Relaxed);
        if waiting >= OUTBOX_BATCH {
            self.flush_outbox(own, tasks);
        }
    }

    /// Step 2: hands seat `own`'s outbox (in `tasks`) to the remote lists, one lock per
    /// shard named.
    pub(crate) fn flush_outbox(&self, own: usize, tasks: &mut SeatTasks) {
        if tasks.outbox.is_empty() {
            return;
        }
        tasks.outbox.sort_unstable_by_key(|id| shard_of(*id));
        for run in tasks.outbox.chunk_by(|a, b| shard_of(*a) == shard_of(*b)) {
            self.push_remote(shard_of(run[0]), run);
        }
        tasks.outbox.clear();
        self.seats[own].held.outbox.store(0, Ordering::Relaxed);
    }

    /// Step 2: `id`, of seat `seat`'s shard, released on a thread that cannot reach it.
    pub(crate) fn release_remote(&self, seat: usize, id: TaskId) {
        self.push_remote(seat, &[id]);
    }

    /// Appends `ids`, all of seat `seat`'s shard, to its remote list, under one lock.
    fn push_remote(&self, seat: usize, ids: &[TaskId]) {
        let shard = &self.seats[seat];
        let mut remote = shard.remote.list.lock().unwrap_or_else(|e| e.into_inner());
        remote.ids.extend_from_slice(ids);
        shard
            .remote
            .len
            .store(remote.ids.len() + remote.settling, Ordering::Relaxed);
    }

    /// Step 3: removes the ids on seat `seat`'s remote list from its shard, `tasks`.
    pub(crate) fn settle(&self, seat: usize, tasks: &mut SeatTasks) {
        let Some(shard) = self.seats.get(seat) else {
            return;
        };
        if shard.remote.len.load(Ordering::Relaxed) == 0 {
            return;
        }
        // The list is swapped out under the lock and settled outside it, so a release on
        // another worker never waits for the handles to drop (freeing the tasks' memory).
        let mut ids = std::mem::take(&mut tasks.spare);
        {
            let mut remote = shard.remote.list.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut remote.ids, &mut ids);
            remote.settling = ids.len();
        }
        // A released task's last reference runs no task code: its future and output are gone.
        for id in ids.drain(..) {
            drop(tasks.remove(id));
        }
        tasks.spare = ids;
        shard.held.tasks.store(tasks.slab.len(), Ordering::Relaxed);
        let mut remote = shard.remote.list.lock().unwrap_or_else(|e| e.into_inner());
        remote.settling = 0;
        shard.remote.len.store(remote.ids.len(), Ordering::Relaxed);
    }

    /// Step 5: every task of seat `seat`'s shard, `tasks`, taken out.
    pub(crate) fn drain_seat(&self, seat: usize, tasks: &mut SeatTasks) -> Vec<TaskRef> {
        let shard = &self.seats[seat];
        let mut remote = shard.remote.list.lock().unwrap_or_else(|e| e.into_inner());
        remote.ids.clear();
        tasks.outbox.clear();
        shard.held.outbox.store(0, Ordering::Relaxed);
        let drained: Vec<TaskRef> = tasks.slab.drain().collect();
        shard.held.tasks.store(0, Ordering::Relaxed);
        shard.remote.len.store(0, Ordering::Relaxed);
        drained
    }

    /// Spawns into an outside shard (the calling thread's), under its lock.
    pub(crate) fn spawn_outside(
        &self,
        spawn: impl FnOnce(TaskId) -> (Runnable, TaskRef),
    ) -> Runnable {
        let index = OUTSIDE_SHARD.with(|s| *s) % self.outside.len();
        let mut shard = self.outside[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard.spawn(self.seats.len() + index, spawn)
    }

    /// Releases `id` from an outside shard: its entry, taken out under the lock and returned
    /// outside it (dropping the last reference may run task code).
    pub(crate) fn remove_outside(&self, id: TaskId) -> Option<TaskRef> {
        let shard = shard_of(id)
            .checked_sub(self.seats.len())
            .and_then(|index| self.outside.get(index))?;
        shard.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }

    /// Every task of the outside shards, taken out (shutdown step 7).
    pub(crate) fn drain_outside(&self) -> Vec<TaskRef> {
        let mut all = Vec::new();
        for shard in self.outside.iter() {
            all.extend(shard.lock().unwrap_or_else(|e| e.into_inner()).slab.drain());
        }
        all
    }

    /// The seat shards there are (`0..n`).
    pub(crate) fn seat_shards(&self) -> usize {
        self.seats.len()
    }

    /// Live tasks now (module doc, step 4).
    pub(crate) fn len(&self) -> usize {
        // Summed before the difference: an outbox holds other seats' ids.
        let (held, released) = self.seats.iter().fold((0, 0), |(held, released), s| {
            (
                held + s.held.tasks.load(Ordering::Relaxed),
                released
                    + s.remote.len.load(Ordering::Relaxed)
                    + s.held.outbox.load(Ordering::Relaxed),
            )
        });
        let seats = held.saturating_sub(released);
        let outside: usize = self
            .outside
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).slab.len())
            .sum();
        seats + outside
    }
}
