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

use super::job::Job;
use super::metrics::SeatMetrics;
use crossbeam_deque::Worker;
use crossbeam_utils::atomic::AtomicCell;
use std::cell::UnsafeCell;
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
}

/// One seat, shared between its holder, the other workers (its metrics) and the monitor.
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

    /// Exclusive access to the queues.
    ///
    /// # Safety
    /// The caller is the seat's holder and the tag is `OWNED` (it is not between
    /// `begin_poll` and `end_poll`), or it holds `LOCKED`, or it is the thread the monitor handed
    /// the seat to; and it does not keep the reference past that.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn local(&self) -> &mut SeatLocal {
        // SAFETY: exclusivity is the caller's contract (module doc, invariant).
        unsafe { &mut *self.local.get() }
    }

    /// (1) The holder is about to poll task `id` (`None`: a closure); `seq` is its own poll counter for this seat.
    pub(crate) fn begin_poll(&self, seq: u64, id: Option<TaskId>) {
        self.polling_job.store(id);
        // Release: the queue writes before this point are visible to a monitor that takes the
        // seat (3), and so is `polling_job`.
        self.state
            .store(seq << TAG_BITS | POLLING, Ordering::Release);
    }

    /// (2) The poll returned.
    pub(crate) fn end_poll(&self, seq: u64) -> EndPoll {
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
    pub(crate) fn lock_in_poll(&self, seq: u64) -> bool {
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
    pub(crate) fn unlock_in_poll(&self, seq: u64) {
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
