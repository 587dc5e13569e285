//! # Seats: a worker's queues, which can change hands
//!
//! A *seat* is everything that makes a thread worker number `i`: its crossbeam-deque
//! [`Worker`] (whose [`Stealer`](crossbeam_deque::Stealer) the other workers steal from), its
//! LIFO slot, its metrics and its core. It is Go's P. Normally seat `i` is held by thread `i` for
//! the life of the pool; the stall monitor takes a seat from a thread stuck in one poll and gives
//! it to a spare thread, so the tasks queued behind the stuck one go on running (README,
//! "Hand-off"). Because the seat moves while its old holder is still inside a poll, the holder
//! gives up its right to touch the seat for the duration of every poll, and the state word below
//! says who may touch it when.
//!
//! ## The state word
//!
//! `state = seq << 2 | tag`, where `seq` counts polls on this seat (it tells the monitor whether
//! it is looking at the same poll as last time) and `tag` is one of:
//!
//! ```text
//!                (1) begin_poll                         (3) try_hand_off (monitor)
//!     OWNED ─────────────────────────▶ POLLING(seq) ──────────────────────────────▶ HANDED(seq)
//!       ▲  ◀─────────────────────────    │     ▲                                          │
//!       │        (2) end_poll: Kept      │     │ (5) unlock_in_poll                       │
//!       │                                ▼     │                                          │
//!       │                            LOCKED(seq)      (2') end_poll / lock_in_poll fail:  │
//!       │                   (4) lock_in_poll: a task   the old holder lost the seat        │
//!       │                       woken during the poll                                     │
//!       └───────────────────── (6) take_over: the new holder (a spare thread) ◀───────────┘
//! ```
//!
//! 1. [`SeatSlot::begin_poll`] (holder): records the polled job's id, then publishes
//!    `POLLING(seq)` with a release store. From here until (2) the holder does not touch the
//!    seat's queues except through (4).
//! 2. [`SeatSlot::end_poll`] (holder): CAS `POLLING(seq) -> OWNED`. Failing means the monitor
//!    took the seat (3): the holder must forget it (2') and becomes a spare or retires.
//! 3. [`SeatSlot::try_hand_off`] (monitor): CAS `POLLING(seq) -> HANDED(seq)`, only for a `seq` it
//!    saw at least one time slice ago. Acquire: it sees every queue write the holder made before
//!    (1) and inside (4)/(5).
//! 4. [`SeatSlot::lock_in_poll`] (holder, inside a poll, to push a task woken or spawned by the
//!    polled task): CAS `POLLING(seq) -> LOCKED(seq)`. While `LOCKED` the monitor's CAS fails
//!    and it retries at its next check.
//! 5. [`SeatSlot::unlock_in_poll`]: release store `POLLING(seq)`, publishing the push.
//! 6. [`SeatSlot::take_over`] (the new holder, after the monitor handed it the seat through the
//!    spare room's mutex): store `OWNED`.
//!
//! Invariant: at any time at most one thread may touch [`SeatLocal`]: the holder while the tag
//! is `OWNED` or while it holds `LOCKED`; nobody while `POLLING`; the monitor's chosen new
//! holder after `HANDED`. Every unsafe access below points back to this.
//!
//! ## Keys: one borrow at a time on the holder's thread too
//!
//! The invariant keeps other threads off the queues; it says nothing about two overlapping
//! `&mut SeatLocal` on the holder's own thread (the worker loop holding one while a wake, run
//! from inside a timer, the reactor or a poll, pushes through another), which would be
//! undefined behaviour just the same. So the queues are reached only through a key, and the
//! key, not a `&SeatSlot`, carries the right to them:
//!
//! - [`SeatKey`]: the holder's key while the tag is `OWNED`. Made once per holding by the
//!   unsafe [`SeatSlot::key`] (worker `i` at pool start, or the new holder after (6)); neither
//!   `Copy` nor `Clone`; [`SeatKey::local`] lends the queues for as long as the key itself is
//!   borrowed mutably. [`SeatKey::begin_poll`] (1) consumes it.
//! - [`PollKey`]: the holder's key during poll `seq`; it gives no access by itself.
//!   [`PollKey::lock_in_poll`] (4) borrows it mutably and returns a [`Locked`] guard, which
//!   lends the queues and performs (5) when dropped. [`PollKey::end_poll`] (2) consumes it and
//!   gives the `SeatKey` back if the seat was kept.
//!
//! So on one thread the borrows of a seat's queues nest only through the borrow checker: two
//! at once would need two keys of one holding, and there is one. The worker keeps its key in
//! its `WorkerCx` (shared.rs), takes it out for each use and puts it back; a push made while
//! the key is out (nested on the same thread) finds none and goes to the injector instead.

use super::job::Job;
use super::metrics::SeatMetrics;
use super::tasks::SeatTasks;
use crossbeam_deque::Worker;
use crossbeam_utils::atomic::AtomicCell;
use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use switchyard_runtime::task::TaskId;

const TAG_BITS: u32 = 2;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// The holder may use the seat freely (it is not inside a poll).
const OWNED: u64 = 0;
/// The holder is inside a poll and does not touch the seat.
const POLLING: u64 = 1;
/// The holder, inside a poll, is pushing a woken task to the seat.
const LOCKED: u64 = 2;
/// The monitor took the seat from its stuck holder.
const HANDED: u64 = 3;

/// The queues of one seat. Touched only by the seat's current holder (see the module doc).
pub(crate) struct SeatLocal {
    /// The seat's run queue; others steal from its `Stealer`.
    pub(crate) deque: Worker<Job>,
    /// The job woken most recently by a job run on this seat: run next, for cache warmth and
    /// message-passing latency. Not stealable (it goes with the seat on a hand-off).
    pub(crate) lifo: Option<Job>,
    /// Polls started on this seat, across holders: the `seq` of the state word. Kept with the
    /// seat so a new holder never reuses the `seq` the monitor saw stuck.
    pub(crate) seq: u64,
    /// The seat's shard of the task table (tasks.rs, "Seat shards").
    pub(crate) tasks: SeatTasks,
    /// An empty buffer the overflow (shared.rs, step 1) takes its jobs out into before it
    /// pushes them to the injector under one lock; kept to save an allocation per overflow.
    pub(crate) spill: Vec<Job>,
}

/// One seat, shared between its holder, the other workers (its metrics) and the monitor.
/// Aligned to 128 bytes (two cache lines, as crossbeam's `CachePadded` on x86-64), so that
/// one seat's hot words (the state word, its queues, its counters) share no line with its
/// neighbour's in the pool's array of seats.
#[repr(align(128))]
pub(crate) struct SeatSlot {
    state: AtomicU64,
    /// The task being polled (`None` for a closure); read by the monitor to name a hand-off.
    /// An `AtomicCell` of 8 bytes is a plain atomic word (lock-free), so this costs a store.
    polling_job: AtomicCell<Option<TaskId>>,
    local: UnsafeCell<SeatLocal>,
    /// The kernel thread id of the seat's holder, for the monitor's look at its scheduler
    /// account (monitor.rs, step 1); set by each new holder before its first poll.
    holder_tid: AtomicI32,
    /// Counters, written by the holder only, read by anyone.
    pub(crate) metrics: SeatMetrics,
}

// SAFETY: `local` holds a `Worker` (Send, !Sync) and jobs (Send). Access to it is exclusive by
// the state protocol of the module doc: exactly one thread may touch it at a time, and every
// change of that thread goes through a release/acquire pair on `state` (or a mutex, for the
// monitor's hand-off to a spare), so sharing `&SeatSlot` across threads is sound.
unsafe impl Sync for SeatSlot {}

/// What `end_poll` found.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EndPoll {
    /// The holder still holds the seat.
    Kept,
    /// The monitor handed the seat to another thread during the poll (2').
    HandedOff,
}

impl SeatSlot {
    pub(crate) fn new(deque: Worker<Job>) -> SeatSlot {
        SeatSlot {
            state: AtomicU64::new(OWNED),
            polling_job: AtomicCell::new(None),
            local: UnsafeCell::new(SeatLocal {
                deque,
                lifo: None,
                seq: 0,
                tasks: SeatTasks::default(),
                spill: Vec::new(),
            }),
            holder_tid: AtomicI32::new(0),
            metrics: SeatMetrics::default(),
        }
    }

    /// The calling thread now holds the seat: record its kernel thread id.
    pub(crate) fn set_holder_tid(&self, tid: i32) {
        // Relaxed: the monitor reads it only for a poll it saw begin (an Acquire load of the
        // state word, after `begin_poll`'s Release, which comes after this store).
        self.holder_tid.store(tid, Ordering::Relaxed);
    }

    /// The kernel thread id of the holder (monitor.rs, step 1).
    pub(crate) fn holder_tid(&self) -> i32 {
        self.holder_tid.load(Ordering::Relaxed)
    }

    /// The key to the queues for the thread that now holds the seat (module doc, "Keys").
    ///
    /// # Safety
    /// The calling thread holds the seat and the tag is `OWNED`: it is worker `i` at pool
    /// start, before its first poll, or it has just called [`take_over`](Self::take_over);
    /// or (shutdown step 7) every other thread that held the seat has been joined. No other
    /// key to the seat is in use on this thread (one call per holding), and `self` outlives
    /// the key (keys stay on a pool thread, or in shutdown, which keep the pool's shared
    /// state alive).
    pub(crate) unsafe fn key(&self) -> SeatKey {
        SeatKey {
            slot: NonNull::from(self),
        }
    }

    /// (1) The holder is about to poll task `id` (`None`: a closure); `seq` is its own poll counter for this seat.
    fn begin_poll(&self, seq: u64, id: Option<TaskId>) {
        self.polling_job.store(id);
        // Release: the queue writes before this point are visible to a monitor that takes the
        // seat (3), and so is `polling_job`.
        self.state
            .store(seq << TAG_BITS | POLLING, Ordering::Release);
    }

    /// (2) The poll returned.
    fn end_poll(&self, seq: u64) -> EndPoll {
        // Acquire on failure: if the seat was handed off we must not touch it, and nothing of
        // it is read after; Relaxed would do, Acquire keeps the reasoning simple.
        match self.state.compare_exchange(
            seq << TAG_BITS | POLLING,
            OWNED,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => EndPoll::Kept,
            Err(_) => EndPoll::HandedOff,
        }
    }

    /// (4) Inside poll `seq`, the holder wants to push to its own seat. `false`: the seat was
    /// handed off; push elsewhere (the injector).
    fn lock_in_poll(&self, seq: u64) -> bool {
        // Acquire: pairs with the monitor never having taken it (on success we still own it).
        self.state
            .compare_exchange(
                seq << TAG_BITS | POLLING,
                seq << TAG_BITS | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// (5) Ends (4).
    fn unlock_in_poll(&self, seq: u64) {
        // Release: the push is visible to whoever takes the seat next (3).
        self.state
            .store(seq << TAG_BITS | POLLING, Ordering::Release);
    }

    /// What the monitor samples: `Some((seq, task))` while the holder is inside a poll.
    pub(crate) fn polling(&self) -> Option<(u64, Option<TaskId>)> {
        let state = self.state.load(Ordering::Acquire);
        match state & TAG_MASK {
            POLLING | LOCKED => Some((state >> TAG_BITS, self.polling_job.load())),
            _ => None,
        }
    }

    /// (3) The monitor takes the seat from a holder stuck in poll `seq`. On `true`, the caller
    /// must give the seat to exactly one thread, which calls [`SeatSlot::take_over`].
    pub(crate) fn try_hand_off(&self, seq: u64) -> bool {
        // AcqRel: acquire the holder's queue writes (released by (1) and (5)); release to the
        // new holder (which also synchronises through the spare room's mutex).
        self.state
            .compare_exchange(
                seq << TAG_BITS | POLLING,
                seq << TAG_BITS | HANDED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// (6) The new holder starts using the seat.
    pub(crate) fn take_over(&self) {
        // Acquire: the monitor's CAS (3) and everything the old holder pushed before it.
        let state = self.state.load(Ordering::Acquire);
        debug_assert_eq!(
            state & TAG_MASK,
            HANDED,
            "take_over of a seat that was not handed off"
        );
        self.state.store(OWNED, Ordering::Release);
    }
}

/// The holder's key to its seat's queues while it is not inside a poll (tag `OWNED`); module
/// doc, "Keys". Not `Send`: it stays on the holder's thread.
pub(crate) struct SeatKey {
    slot: NonNull<SeatSlot>,
}

impl SeatKey {
    /// The seat this key opens.
    pub(crate) fn slot(&self) -> &SeatSlot {
        // SAFETY: `SeatSlot::key`'s contract: the slot outlives the key. A shared reference
        // to a `SeatSlot` is what every thread holds; the queues inside are an `UnsafeCell`.
        unsafe { self.slot.as_ref() }
    }

    /// The queues, for as long as the key is borrowed.
    pub(crate) fn local(&mut self) -> &mut SeatLocal {
        // SAFETY: other threads: a `SeatKey` exists only while its thread holds the seat with
        // the tag `OWNED` (`SeatSlot::key`'s contract; `begin_poll` consumes the key and only an
        // `end_poll` that kept the seat makes it again), and while `OWNED` no other thread
        // touches the queues (module doc, invariant; the tag changes hands through the
        // release/acquire pairs of steps 1-6). The same thread: a holding has one key, neither
        // `Copy` nor `Clone`, and the returned borrow holds the key mutably borrowed, so no
        // second `&mut SeatLocal` can be made on this thread while this one lives. The slot is
        // alive (`SeatSlot::key`'s contract).
        unsafe { &mut *self.slot.as_ref().local.get() }
    }

    /// (1) The holder is about to poll task `id` (`None`: a closure): counts the poll and
    /// publishes `POLLING(seq)`. The key becomes a [`PollKey`], which opens nothing.
    pub(crate) fn begin_poll(mut self, id: Option<TaskId>) -> PollKey {
        let local = self.local();
        local.seq += 1;
        let seq = local.seq;
        self.slot().begin_poll(seq, id);
        PollKey {
            slot: self.slot,
            seq,
        }
    }
}

/// The holder's key during poll `seq` (tag `POLLING(seq)` or, while a [`Locked`] lives,
/// `LOCKED(seq)`); module doc, "Keys".
pub(crate) struct PollKey {
    slot: NonNull<SeatSlot>,
    seq: u64,
}

impl PollKey {
    fn slot(&self) -> &SeatSlot {
        // SAFETY: as `SeatKey::slot`: this key was made from a `SeatKey`, whose slot outlives it.
        unsafe { self.slot.as_ref() }
    }

    /// (4) Inside the poll, the holder wants to push to its own seat: the queues, until the
    /// guard drops (5). `None`: the monitor handed the seat off; push elsewhere (the injector).
    pub(crate) fn lock_in_poll(&mut self) -> Option<Locked<'_>> {
        if !self.slot().lock_in_poll(self.seq) {
            return None;
        }
        // SAFETY: other threads: the tag is now `LOCKED(seq)`, taken by this thread's CAS, and
        // while it is no other thread touches the queues (module doc, invariant: the monitor's
        // hand-off CAS expects `POLLING(seq)` and fails). The same thread: the guard borrows
        // this key mutably, and a poll has one `PollKey`; besides, a second `lock_in_poll`
        // would find `LOCKED` and fail. The slot is alive (`SeatSlot::key`'s contract).
        let local = unsafe { &mut *self.slot.as_ref().local.get() };
        Some(Locked { key: self, local })
    }

    /// (2) The poll returned: the [`SeatKey`] back if this thread still holds the seat, `None`
    /// if the monitor handed it off (2'): the thread must forget the seat.
    pub(crate) fn end_poll(self) -> Option<SeatKey> {
        match self.slot().end_poll(self.seq) {
            EndPoll::Kept => Some(SeatKey { slot: self.slot }),
            EndPoll::HandedOff => None,
        }
    }
}

/// A seat's queues, locked by its holder inside a poll (tag `LOCKED(seq)`); dropping the guard
/// unlocks them (5).
pub(crate) struct Locked<'k> {
    key: &'k PollKey,
    local: &'k mut SeatLocal,
}

impl std::ops::Deref for Locked<'_> {
    type Target = SeatLocal;
    fn deref(&self) -> &SeatLocal {
        self.local
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut SeatLocal {
        self.local
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.key.slot().unlock_in_poll(self.key.seq);
    }
}
