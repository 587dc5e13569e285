//! The task's state word: one `AtomicUsize` holding the lifecycle flags, the join flags and the
//! reference count, and every transition between its states, each written exactly once.
//!
//! # Layout
//!
//! ```text
//!  63                               8   7           6          5         4         3        2        1         0
//! +----------------------------------+-----------+----------+---------+---------+--------+--------+---------+---------+
//! |        reference count           |JOIN_WAKER |JOIN_INTR |PANICKED |CANCELLED|NOTIFIED|COMPLETE| RUNNING |SCHEDULED|
//! +----------------------------------+-----------+----------+---------+---------+--------+--------+---------+---------+
//! ```
//!
//! Each flag's rules (when it may be set, who sets and clears it) are on its constant below.
//! The reference count counts every handle that keeps the allocation alive: the one
//! [`Runnable`](super::Runnable) (if any), the [`JoinHandle`](super::JoinHandle) (if not
//! dropped), each [`TaskRef`](super::TaskRef) and each `Waker`.
//!
//! # How a transition is written
//!
//! A transition is a pure method on [`Snapshot`] that looks at the current value and returns
//! an outcome (a `#[must_use]` enum telling the caller what it now owns or must do) and the
//! value to store, or `None` to store nothing. [`State`] applies it in a compare-and-swap loop
//! ([`State::transition`]), except the transitions whose precondition the caller proves
//! (into `RUNNING`, reference counting), which it applies as one `fetch_add`/`fetch_sub`. So the rules live in one place, can be read without any atomics
//! in view, and the CAS loop is written once. The lifecycle diagram that numbers these
//! transitions is in the [module documentation](super).
//!
//! # Invariants
//!
//! 1. `SCHEDULED`, `RUNNING` and `COMPLETE` are mutually exclusive; none set means *idle*.
//! 2. Whoever sets `RUNNING` (a run, or a cancellation that claims the task) owns the stage
//!    (the future) exclusively until it clears `RUNNING`.
//! 3. The reference count reaches zero only when `COMPLETE` is set. A last reference dropped
//!    from an idle task *revives* it as scheduled and cancelled instead ([`RefDec::Orphaned`]),
//!    so its future is dropped by its owner, never on a foreign thread, and
//!    [`Schedule::release`](super::Schedule::release) is still called.

use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};

/// A [`Runnable`](super::Runnable) exists for the task (or is being handed to the scheduler).
/// Set by spawning, by a wake of an idle task, by `abort` of an idle task, by the run that
/// was notified during its poll, and by reviving an orphaned task. Cleared only by the
/// transition into `RUNNING`. Never set together with `RUNNING` or `COMPLETE`.
pub(super) const SCHEDULED: usize = 1 << 0;

/// The future is being polled (or dropped) by the thread that set this bit; that thread owns
/// the stage. Set from `SCHEDULED` by a run or a `Runnable` drop, or from idle by
/// `Task::shutdown`. Cleared by the same thread when the poll ends.
pub(super) const RUNNING: usize = 1 << 1;

/// The future has been dropped; the stage holds the output, a panic payload, or nothing
/// (cancelled). Set once, by the owner of `RUNNING`, in the same step that clears it. Never
/// cleared. The stage then belongs to the `JoinHandle` if `JOIN_INTEREST` is set, else to
/// the completing thread, which drops the output at once.
pub(super) const COMPLETE: usize = 1 << 2;

/// A waker fired while the task was `RUNNING`: the run reschedules it when its poll returns
/// `Pending`. May only be set while `RUNNING`; cleared when the run leaves `RUNNING`.
pub(super) const NOTIFIED: usize = 1 << 3;

/// Cancellation was requested (`abort`, `shutdown`, a dropped `Runnable`, or the last
/// reference dropped): the owner drops the future instead of polling it. Before `COMPLETE`
/// it may only be set together with `SCHEDULED` or `RUNNING` (so someone is bound to act on
/// it). After `COMPLETE` it records that the stage is empty because the task was cancelled
/// (a future that finished its poll in spite of a cancel request completes normally, and
/// the bit is cleared).
pub(super) const CANCELLED: usize = 1 << 4;

/// Only with `COMPLETE`: the stage holds a panic payload, not an output.
pub(super) const PANICKED: usize = 1 << 5;

/// The `JoinHandle` is alive and owns the output once `COMPLETE` is set. Set at spawn;
/// cleared once, by the `JoinHandle`'s drop.
pub(super) const JOIN_INTEREST: usize = 1 << 6;

/// The awaiter slot in the header holds a waker that the completing thread must wake.
/// While clear, the `JoinHandle` owns the slot and may write it; while set, the slot is
/// shared read-only with the completing thread. Set and cleared only by the `JoinHandle`,
/// and only while `COMPLETE` is clear.
pub(super) const JOIN_WAKER: usize = 1 << 7;

/// How far the reference count is shifted: above the eight flags.
const REF_SHIFT: u32 = 8;

/// Transition (2) as an addition: with `SCHEDULED` (bit 0) set and `RUNNING` (bit 1) clear,
/// adding 1 carries out of bit 0 into bit 1, clearing the one and setting the other.
const TO_RUNNING: usize = RUNNING - SCHEDULED;
const _: () = assert!(
    SCHEDULED == 1 && RUNNING == 2,
    "TO_RUNNING relies on these positions"
);

/// One reference, in the units of the state word.
pub(super) const REF_ONE: usize = 1 << REF_SHIFT;

/// Above this many references we abort rather than risk the count wrapping (as `Arc` does,
/// leaving headroom for threads that race past the check).
const MAX_REFS: usize = (usize::MAX >> REF_SHIFT) / 2;

/// A new task: scheduled (the `Runnable` that `spawn` returns), awaited by its `JoinHandle`,
/// and referenced by both.
const INITIAL: usize = SCHEDULED | JOIN_INTEREST | (2 * REF_ONE);

/// A new task made with its scheduler's table entry ([`super::spawn_with_ref`]): as
/// [`INITIAL`], with a third reference, the [`TaskRef`](super::TaskRef)'s.
const INITIAL_WITH_REF: usize = INITIAL + REF_ONE;

/// A value of the state word, read once. All decisions are made on snapshots.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot(usize);

/// What a run (or a `Runnable` drop) found when it took `RUNNING`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransitionToRunning {
    /// Poll the future.
    Poll,
    /// Cancellation was requested: drop the future instead.
    Cancel,
}

/// What the run must do after a poll that returned `Pending`.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransitionToIdle {
    /// The task is idle; the run's reference was given up with `RUNNING`.
    Idle,
    /// A waker fired during the poll: the task is `SCHEDULED` again and the run must hand
    /// a new `Runnable` (a reference was added for it) to the scheduler, then drop its own.
    Notified,
    /// Still `RUNNING`: cancellation was requested, or nothing else references the task so
    /// nothing could ever wake it. Drop the future.
    Cancel,
}

/// What a wake must do.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransitionToNotified {
    /// Nothing more (already scheduled, running (now `NOTIFIED`), or complete).
    DoNothing,
    /// The task was idle and is `SCHEDULED` now, with a reference added for the `Runnable`
    /// that the caller must hand to the scheduler.
    Submit,
    /// (By value only.) The waker's reference was the last, on a complete task: free it.
    Dealloc,
}

/// How the task completed; decides the flags `COMPLETE` is set with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Completion {
    /// The stage holds the output.
    Output,
    /// The stage holds a panic payload.
    Panicked,
    /// The stage is empty: the future was dropped unfinished.
    Cancelled,
}

/// What the completing thread must still do.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransitionToComplete {
    /// Nothing: its reference was dropped in the same step and others remain.
    Done,
    /// Its reference was the last: free the task.
    Dealloc,
    /// Wake the waker in the awaiter slot, then drop its reference.
    WakeJoinHandle,
    /// The `JoinHandle` is gone: drop the output (or payload), then drop its reference.
    DropOutput,
}

/// What `JoinHandle::abort` or `Task::shutdown` must do.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransitionToCancelled {
    /// Complete, already cancelled, or marked for the current owner to act on.
    DoNothing,
    /// (abort) The idle task is now `SCHEDULED | CANCELLED` with a reference added: hand
    /// the `Runnable` to the scheduler, whose run drops the future on the owner thread.
    Submit,
    /// (shutdown) The idle task is now `RUNNING | CANCELLED` with a reference added: the
    /// caller owns the future and drops it now.
    CancelNow,
}

/// What the `JoinHandle`'s drop must do.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TransitionToDetached {
    /// The task is complete, so the `JoinHandle` owns the output (the stage holds what the
    /// `Completion` says): drop it, then drop the reference and `JOIN_INTEREST` with
    /// [`State::drop_join_handle_after_complete`].
    OwnsOutput(Completion),
    /// `JOIN_INTEREST` and the reference were given up; the result of dropping the reference.
    Detached(RefDec),
}

/// The result of giving up a reference.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefDec {
    /// Other references remain.
    Alive,
    /// It was the last, and the task is complete: free it.
    Dealloc,
    /// It was the last, and the task is idle with its future alive: nobody can wake or
    /// join it any more. Call [`State::revive_for_cancel`] and hand the `Runnable` to the
    /// scheduler, so the owner drops the future and `release` is called (invariant 3).
    Orphaned,
}

impl Snapshot {
    /// Whether `SCHEDULED` is set.
    #[inline]
    pub(super) fn is_scheduled(self) -> bool {
        self.0 & SCHEDULED != 0
    }

    /// Whether `RUNNING` is set.
    #[inline]
    pub(super) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }

    /// Whether `COMPLETE` is set.
    #[inline]
    pub(super) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }

    /// Whether `NOTIFIED` is set.
    #[inline]
    pub(super) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }

    /// Whether `CANCELLED` is set.
    #[inline]
    pub(super) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }

    /// Whether `PANICKED` is set.
    #[inline]
    pub(super) fn is_panicked(self) -> bool {
        self.0 & PANICKED != 0
    }

    /// Whether `JOIN_INTEREST` is set.
    #[inline]
    pub(super) fn has_join_interest(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }

    /// Whether `JOIN_WAKER` is set.
    #[inline]
    pub(super) fn has_join_waker(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }

    /// Neither scheduled, running nor complete.
    #[inline]
    pub(super) fn is_idle(self) -> bool {
        self.0 & (SCHEDULED | RUNNING | COMPLETE) == 0
    }

    /// The number of references.
    #[inline]
    pub(super) fn ref_count(self) -> usize {
        self.0 >> REF_SHIFT
    }

    /// How the complete task's stage must be read. Only meaningful with `COMPLETE`.
    #[inline]
    pub(super) fn completion(self) -> Completion {
        debug_assert!(self.is_complete());
        if self.is_panicked() {
            Completion::Panicked
        } else if self.is_cancelled() {
            Completion::Cancelled
        } else {
            Completion::Output
        }
    }

    /// Transition (2): `SCHEDULED -> RUNNING`, by the owner of the `Runnable` (a run, or the
    /// `Runnable`'s drop). The caller's `Runnable` proves `SCHEDULED` (and so `!RUNNING`,
    /// `!COMPLETE`); its reference carries over to the run.
    ///
    /// Because the precondition is proven, the step needs no compare-and-swap: `State` applies
    /// it as one `fetch_add` of [`TO_RUNNING`], whatever else changes concurrently, and this
    /// method reads the outcome from the value the `fetch_add` returned.
    #[inline]
    pub(super) fn transition_to_running(self) -> (TransitionToRunning, Snapshot) {
        debug_assert!(self.is_scheduled() && !self.is_running() && !self.is_complete());
        let next = Snapshot(self.0.wrapping_add(TO_RUNNING));
        debug_assert_eq!(next.0, (self.0 & !SCHEDULED) | RUNNING);
        let outcome = if self.is_cancelled() {
            TransitionToRunning::Cancel
        } else {
            TransitionToRunning::Poll
        };
        (outcome, next)
    }

    /// Transitions (3) `RUNNING -> idle`, (5) `RUNNING | NOTIFIED -> SCHEDULED`, or stay
    /// `RUNNING` to cancel (then (7)): by the run, after a poll that returned `Pending`.
    /// `woken_here`: the task woke itself on the running thread during the poll (recorded
    /// without touching the state word, see `current.rs`); it counts as `NOTIFIED`.
    #[inline]
    pub(super) fn transition_to_idle(
        self,
        woken_here: bool,
    ) -> (TransitionToIdle, Option<Snapshot>) {
        debug_assert!(self.is_running() && !self.is_complete());
        if self.is_cancelled() {
            return (TransitionToIdle::Cancel, None);
        }
        if self.is_notified() || woken_here {
            // The run's reference stays until it has handed the new Runnable over (the
            // scheduler is stored in the task, so the task must outlive that call); the new
            // Runnable gets a reference of its own.
            let next = (self.0 & !(RUNNING | NOTIFIED)) | SCHEDULED;
            return (TransitionToIdle::Notified, Some(Snapshot(next + REF_ONE)));
        }
        if self.ref_count() == 1 {
            // Only the run holds the task: no waker, JoinHandle or Task exists, so it could
            // never be woken again. Keep RUNNING and cancel (invariant 3).
            return (TransitionToIdle::Cancel, Some(Snapshot(self.0 | CANCELLED)));
        }
        (
            TransitionToIdle::Idle,
            Some(Snapshot((self.0 & !RUNNING) - REF_ONE)),
        )
    }

    /// Transitions (4) `RUNNING -> RUNNING | NOTIFIED` and (6) `idle -> SCHEDULED`, by
    /// `Waker::wake_by_ref`: the caller's waker stays alive.
    #[inline]
    pub(super) fn transition_to_notified_by_ref(self) -> (TransitionToNotified, Option<Snapshot>) {
        if self.is_complete() {
            return (TransitionToNotified::DoNothing, None);
        }
        if self.is_running() {
            return (
                TransitionToNotified::DoNothing,
                Some(Snapshot(self.0 | NOTIFIED)),
            );
        }
        if self.is_scheduled() {
            // Store the same value: the read-modify-write publishes what the waker's thread
            // wrote before waking to the run that will take `RUNNING` (see `State::transition`).
            return (TransitionToNotified::DoNothing, Some(self));
        }
        (
            TransitionToNotified::Submit,
            Some(Snapshot((self.0 | SCHEDULED) + REF_ONE)),
        )
    }

    /// Transitions (4) and (6) by `Waker::wake`, which consumes the waker's reference. On
    /// `Submit` the waker's reference is kept (until the caller has handed the `Runnable`
    /// over) and one is added for the `Runnable`, as in [`Self::transition_to_idle`].
    #[inline]
    pub(super) fn transition_to_notified_by_val(self) -> (TransitionToNotified, Option<Snapshot>) {
        debug_assert!(self.ref_count() > 0);
        if self.is_complete() {
            let outcome = if self.ref_count() == 1 {
                TransitionToNotified::Dealloc
            } else {
                TransitionToNotified::DoNothing
            };
            return (outcome, Some(Snapshot(self.0 - REF_ONE)));
        }
        if self.is_running() {
            let next = (self.0 | NOTIFIED) - REF_ONE;
            return (TransitionToNotified::DoNothing, Some(Snapshot(next)));
        }
        if self.is_scheduled() {
            // The Runnable holds a reference, so this one is not the last.
            return (
                TransitionToNotified::DoNothing,
                Some(Snapshot(self.0 - REF_ONE)),
            );
        }
        (
            TransitionToNotified::Submit,
            Some(Snapshot((self.0 | SCHEDULED) + REF_ONE)),
        )
    }

    /// Transition (7) `RUNNING -> COMPLETE`, by the owner of `RUNNING` after the future was
    /// dropped and the stage written. Drops the owner's reference in the same step when
    /// nothing is left to do with the stage or the awaiter slot. `released`: references the
    /// owner also gives up in this step whatever the outcome (0, or 1 for the `TaskRef` the
    /// scheduler handed back from `release_ref`); the caller holds them, so they are never
    /// the last but for the owner's own.
    #[inline]
    pub(super) fn transition_to_complete(
        self,
        completion: Completion,
        released: usize,
    ) -> (TransitionToComplete, Option<Snapshot>) {
        debug_assert!(self.is_running() && !self.is_complete());
        debug_assert!(self.ref_count() > released);
        // The released references go in the same step, whatever the outcome: below, `refs`
        // and `base` count without them.
        let refs = self.ref_count() - released;
        let base = self.0 - released * REF_ONE;
        let kind = match completion {
            Completion::Output => 0,
            Completion::Panicked => PANICKED,
            Completion::Cancelled => CANCELLED,
        };
        let next = (base & !(RUNNING | NOTIFIED | CANCELLED | PANICKED)) | COMPLETE | kind;
        let outcome = if self.has_join_interest() {
            if self.has_join_waker() {
                TransitionToComplete::WakeJoinHandle
            } else {
                // The JoinHandle's reference keeps the task alive: not the last.
                return (TransitionToComplete::Done, Some(Snapshot(next - REF_ONE)));
            }
        } else if completion == Completion::Cancelled {
            // Nobody will read the (empty) stage.
            let outcome = if refs == 1 {
                TransitionToComplete::Dealloc
            } else {
                TransitionToComplete::Done
            };
            return (outcome, Some(Snapshot(next - REF_ONE)));
        } else {
            TransitionToComplete::DropOutput
        };
        (outcome, Some(Snapshot(next)))
    }

    /// Transitions (8) `idle -> SCHEDULED | CANCELLED` (abort: the owner drops the future)
    /// and (10) mark a scheduled or running task `CANCELLED`, by `JoinHandle::abort`.
    #[inline]
    pub(super) fn transition_to_aborted(self) -> (TransitionToCancelled, Option<Snapshot>) {
        if self.is_complete() || self.is_cancelled() {
            return (TransitionToCancelled::DoNothing, None);
        }
        if self.is_idle() {
            let next = (self.0 | SCHEDULED | CANCELLED) + REF_ONE;
            return (TransitionToCancelled::Submit, Some(Snapshot(next)));
        }
        (
            TransitionToCancelled::DoNothing,
            Some(Snapshot(self.0 | CANCELLED)),
        )
    }

    /// Transitions (9) `idle -> RUNNING | CANCELLED` (shutdown: the caller drops the future
    /// now) and (10) mark a scheduled or running task `CANCELLED`, by `Task::shutdown`.
    #[inline]
    pub(super) fn transition_to_shutdown(self) -> (TransitionToCancelled, Option<Snapshot>) {
        if self.is_complete() || self.is_cancelled() {
            return (TransitionToCancelled::DoNothing, None);
        }
        if self.is_idle() {
            let next = (self.0 | RUNNING | CANCELLED) + REF_ONE;
            return (TransitionToCancelled::CancelNow, Some(Snapshot(next)));
        }
        (
            TransitionToCancelled::DoNothing,
            Some(Snapshot(self.0 | CANCELLED)),
        )
    }

    /// Transition (11) clear `JOIN_INTEREST`, by the `JoinHandle`'s drop: before `COMPLETE`,
    /// together with the handle's reference; after it, not at all (the handle must first drop
    /// the output it owns).
    #[inline]
    pub(super) fn transition_to_detached(self) -> (TransitionToDetached, Option<Snapshot>) {
        debug_assert!(self.has_join_interest());
        if self.is_complete() {
            return (TransitionToDetached::OwnsOutput(self.completion()), None);
        }
        let next = Snapshot((self.0 & !JOIN_INTEREST) - REF_ONE);
        (
            TransitionToDetached::Detached(self.ref_dec_outcome()),
            Some(next),
        )
    }

    /// Set `JOIN_WAKER` after writing the awaiter slot; fails (the value is returned) if the
    /// task completed meanwhile.
    #[inline]
    pub(super) fn set_join_waker(self) -> (Result<(), Snapshot>, Option<Snapshot>) {
        debug_assert!(self.has_join_interest() && !self.has_join_waker());
        if self.is_complete() {
            return (Err(self), None);
        }
        (Ok(()), Some(Snapshot(self.0 | JOIN_WAKER)))
    }

    /// Clear `JOIN_WAKER` to take the awaiter slot back; fails if the task completed.
    #[inline]
    pub(super) fn unset_join_waker(self) -> (Result<(), Snapshot>, Option<Snapshot>) {
        debug_assert!(self.has_join_interest() && self.has_join_waker());
        if self.is_complete() {
            return (Err(self), None);
        }
        (Ok(()), Some(Snapshot(self.0 & !JOIN_WAKER)))
    }

    /// Transition (12): what giving up one reference from this (previous) value means.
    #[inline]
    fn ref_dec_outcome(self) -> RefDec {
        debug_assert!(self.ref_count() > 0);
        if self.ref_count() > 1 {
            RefDec::Alive
        } else if self.is_complete() {
            RefDec::Dealloc
        } else {
            debug_assert!(self.is_idle(), "a Runnable or a run holds a reference");
            RefDec::Orphaned
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("scheduled", &self.is_scheduled())
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("panicked", &self.is_panicked())
            .field("join_interest", &self.has_join_interest())
            .field("join_waker", &self.has_join_waker())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// The atomic state word of one task.
pub(super) struct State {
    word: AtomicUsize,
}

impl State {
    /// The state of a new task: see [`INITIAL`].
    pub(super) fn new() -> State {
        State {
            word: AtomicUsize::new(INITIAL),
        }
    }

    /// The state of a new task made with its table's `TaskRef`: see [`INITIAL_WITH_REF`].
    pub(super) fn new_with_ref() -> State {
        State {
            word: AtomicUsize::new(INITIAL_WITH_REF),
        }
    }

    /// Reads the state with `Acquire`, so that a reader that sees `COMPLETE` also sees the
    /// stage written before it (paired with the `Release` of transition (7)).
    #[inline]
    pub(super) fn load(&self) -> Snapshot {
        Snapshot(self.word.load(Ordering::Acquire))
    }

    /// Applies a transition in a CAS loop: `f` sees the current value and returns the
    /// outcome and the value to store (`None`: store nothing, return the outcome).
    ///
    /// Orderings. `success` is chosen per transition by the caller; every transition
    /// that hands the stage on (clearing `RUNNING`, setting `COMPLETE`) or publishes a
    /// waker's writes uses `Release`, every one that takes them uses `Acquire`. Because each
    /// change of the word is a read-modify-write, the release sequence of one transition
    /// continues through all later ones, so an `Acquire` transition synchronises with every
    /// earlier `Release` one, whatever ran in between. The failure ordering is `Acquire` so
    /// that an outcome decided on a value that is not stored (a `None` from `f`) still sees
    /// what that value's writer published.
    #[inline]
    fn transition<R>(
        &self,
        success: Ordering,
        mut f: impl FnMut(Snapshot) -> (R, Option<Snapshot>),
    ) -> R {
        let mut current = self.word.load(Ordering::Acquire);
        loop {
            let (outcome, next) = f(Snapshot(current));
            let Some(next) = next else {
                return outcome;
            };
            match self
                .word
                .compare_exchange_weak(current, next.0, success, Ordering::Acquire)
            {
                Ok(_) => return outcome,
                Err(actual) => current = actual,
            }
        }
    }

    /// Transition (2), as one `fetch_add` (see [`Snapshot::transition_to_running`]).
    /// `Acquire`: takes the stage and the wakers' writes published to the run (see
    /// [`Self::transition`]; a `fetch_add` continues release sequences as a CAS does).
    #[inline]
    pub(super) fn transition_to_running(&self) -> TransitionToRunning {
        let prev = Snapshot(self.word.fetch_add(TO_RUNNING, Ordering::Acquire));
        prev.transition_to_running().0
    }

    /// Transitions (3), (5) and cancel. `AcqRel`: `Release` hands the stage to the next
    /// owner; `Acquire` takes the writes of a waker that set `NOTIFIED`.
    #[inline]
    pub(super) fn transition_to_idle(&self, woken_here: bool) -> TransitionToIdle {
        self.transition(Ordering::AcqRel, |s| s.transition_to_idle(woken_here))
    }

    /// Transitions (4) and (6) by reference. `Release`: publishes the waker's writes to the
    /// run that will observe this value.
    #[inline]
    pub(super) fn transition_to_notified_by_ref(&self) -> TransitionToNotified {
        self.transition(Ordering::Release, Snapshot::transition_to_notified_by_ref)
    }

    /// Transitions (4) and (6) by value. `AcqRel`: `Release` as by reference; `Acquire`
    /// because dropping the last reference must see every other holder's writes before the
    /// task is freed.
    #[inline]
    pub(super) fn transition_to_notified_by_val(&self) -> TransitionToNotified {
        self.transition(Ordering::AcqRel, Snapshot::transition_to_notified_by_val)
    }

    /// Transition (7). `AcqRel`: `Release` publishes the output to the `JoinHandle`
    /// (which loads with `Acquire`); `Acquire` takes the awaiter slot the `JoinHandle` wrote
    /// before setting `JOIN_WAKER`, and precedes a possible free.
    #[inline]
    pub(super) fn transition_to_complete(
        &self,
        completion: Completion,
        released: usize,
    ) -> TransitionToComplete {
        self.transition(Ordering::AcqRel, |s| {
            s.transition_to_complete(completion, released)
        })
    }

    /// Transitions (8) and (10) by `abort`. `AcqRel`, as a wake (a `Submit` hands the
    /// task on to a run).
    #[inline]
    pub(super) fn transition_to_aborted(&self) -> TransitionToCancelled {
        self.transition(Ordering::AcqRel, Snapshot::transition_to_aborted)
    }

    /// Transitions (9) and (10) by `shutdown`. `AcqRel`: `CancelNow` takes the stage
    /// (`Acquire`, as a run does).
    #[inline]
    pub(super) fn transition_to_shutdown(&self) -> TransitionToCancelled {
        self.transition(Ordering::AcqRel, Snapshot::transition_to_shutdown)
    }

    /// Transition (11). `AcqRel`, as any reference drop: `Release` so that the freeing
    /// thread sees this handle's accesses, `Acquire` in case this is the last.
    #[inline]
    pub(super) fn transition_to_detached(&self) -> TransitionToDetached {
        self.transition(Ordering::AcqRel, Snapshot::transition_to_detached)
    }

    /// Sets `JOIN_WAKER`. `AcqRel`: `Release` publishes the awaiter slot just written to the
    /// completing thread.
    #[inline]
    pub(super) fn set_join_waker(&self) -> Result<(), Snapshot> {
        self.transition(Ordering::AcqRel, Snapshot::set_join_waker)
    }

    /// Clears `JOIN_WAKER`. `Acquire`: the completing thread never read the slot (it is not
    /// complete), so only the slot's earlier writes matter, which are this thread's own.
    #[inline]
    pub(super) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        self.transition(Ordering::Acquire, Snapshot::unset_join_waker)
    }

    /// Adds a reference (a waker clone, a `Task` handle). `Relaxed`, as `Arc::clone`: the
    /// caller already holds a reference, so the task cannot be freed meanwhile, and no memory
    /// is published by counting.
    #[inline]
    pub(super) fn ref_inc(&self) {
        let prev = self.word.fetch_add(REF_ONE, Ordering::Relaxed);
        if Snapshot(prev).ref_count() > MAX_REFS {
            std::process::abort();
        }
    }

    /// Transition (12): gives up one reference. `Release`, and an `Acquire` fence when it was
    /// the last, as `Arc::drop`: every holder's accesses happen before the free.
    #[inline]
    pub(super) fn ref_dec(&self) -> RefDec {
        self.ref_dec_by(REF_ONE)
    }

    /// Gives up the `JoinHandle`'s reference and `JOIN_INTEREST` after `COMPLETE`, once the
    /// handle has dropped or taken the output.
    #[inline]
    pub(super) fn drop_join_handle_after_complete(&self) -> RefDec {
        self.ref_dec_by(REF_ONE | JOIN_INTEREST)
    }

    #[inline]
    fn ref_dec_by(&self, delta: usize) -> RefDec {
        let prev = Snapshot(self.word.fetch_sub(delta, Ordering::Release));
        let outcome = prev.ref_dec_outcome();
        if outcome != RefDec::Alive {
            acquire_after_last_ref(&self.word);
        }
        outcome
    }

    /// Transition (8) for an orphan, after [`RefDec::Orphaned`]: the caller held the last
    /// reference, so nobody else can read or write the word; make it a scheduled, cancelled
    /// task with two references: the `Runnable`'s, which the caller then hands to the
    /// scheduler, and the caller's own, which keeps the scheduler alive during that call and
    /// is dropped after it. `Relaxed`: the hand-off through the scheduler's queue orders this
    /// store before the run; the caller's later drop is a `Release` decrement as any other.
    #[inline]
    pub(super) fn revive_for_cancel(&self) {
        debug_assert_eq!(Snapshot(self.word.load(Ordering::Relaxed)).ref_count(), 0);
        // JOIN_INTEREST is clear (the JoinHandle is gone), so JOIN_WAKER means nothing now.
        self.word
            .store(SCHEDULED | CANCELLED | (2 * REF_ONE), Ordering::Relaxed);
    }
}

/// The `Acquire` half of transition (12): every other holder's `Release` decrement happens
/// before what the last holder does next (free, cancel, revive).
///
/// A fence is the cheaper way, as in `Arc::drop`. ThreadSanitizer does not model fences, and
/// would report the free as racing with other holders' last accesses, so a build for TSan
/// (`RUSTFLAGS="--cfg switchyard_tsan -Zsanitizer=thread"`; the whole command is at the top
/// of `.ci/tsan-suppressions.txt`) uses an `Acquire` load of the same word instead, as std's
/// `Arc` does under `cfg(sanitize = "thread")`: it reads the value our own decrement wrote
/// (nobody else holds a reference to write another), which heads the release sequence of
/// every earlier decrement.
#[inline(always)]
fn acquire_after_last_ref(word: &AtomicUsize) {
    #[cfg(not(switchyard_tsan))]
    {
        let _ = word;
        fence(Ordering::Acquire);
    }
    #[cfg(switchyard_tsan)]
    {
        word.load(Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(bits: usize, refs: usize) -> Snapshot {
        Snapshot(bits | (refs * REF_ONE))
    }

    #[test]
    fn a_new_task_is_scheduled_joinable_and_has_two_references() {
        let s = Snapshot(INITIAL);
        assert!(s.is_scheduled() && s.has_join_interest());
        assert!(!s.is_running() && !s.is_complete() && !s.has_join_waker());
        assert_eq!(s.ref_count(), 2);
    }

    #[test]
    fn waking_a_running_task_sets_notified_and_the_run_reschedules_it() {
        let running = snap(RUNNING | JOIN_INTEREST, 2);
        let (outcome, next) = running.transition_to_notified_by_ref();
        assert_eq!(outcome, TransitionToNotified::DoNothing);
        let notified = next.unwrap();
        assert!(notified.is_notified());
        let (outcome, next) = notified.transition_to_idle(false);
        assert_eq!(outcome, TransitionToIdle::Notified);
        let next = next.unwrap();
        assert!(next.is_scheduled() && !next.is_running() && !next.is_notified());
        assert_eq!(next.ref_count(), 3, "the new Runnable's reference is added");
    }

    #[test]
    fn waking_an_idle_task_by_value_keeps_the_reference_for_the_scheduler_call() {
        let idle = snap(JOIN_INTEREST, 2);
        let (outcome, next) = idle.transition_to_notified_by_val();
        assert_eq!(outcome, TransitionToNotified::Submit);
        assert_eq!(next.unwrap().ref_count(), 3);
        assert!(next.unwrap().is_scheduled());
    }

    #[test]
    fn waking_a_complete_task_by_ref_stores_nothing() {
        let done = snap(COMPLETE, 1);
        assert_eq!(
            done.transition_to_notified_by_ref(),
            (TransitionToNotified::DoNothing, None)
        );
    }

    #[test]
    fn an_unreferenced_pending_task_is_cancelled_instead_of_going_idle() {
        let (outcome, next) = snap(RUNNING, 1).transition_to_idle(false);
        assert_eq!(outcome, TransitionToIdle::Cancel);
        assert!(next.unwrap().is_running() && next.unwrap().is_cancelled());
    }

    #[test]
    fn completion_drops_the_runners_reference_when_the_join_handle_is_not_waiting() {
        let (outcome, next) =
            snap(RUNNING | JOIN_INTEREST, 2).transition_to_complete(Completion::Output, 0);
        assert_eq!(outcome, TransitionToComplete::Done);
        let next = next.unwrap();
        assert!(next.is_complete() && !next.is_running());
        assert_eq!(next.ref_count(), 1);
        assert_eq!(next.completion(), Completion::Output);
    }

    #[test]
    fn a_task_that_finishes_in_spite_of_a_cancel_request_completes_with_its_output() {
        let (_, next) = snap(RUNNING | CANCELLED | JOIN_INTEREST | JOIN_WAKER, 2)
            .transition_to_complete(Completion::Output, 0);
        assert_eq!(next.unwrap().completion(), Completion::Output);
    }

    #[test]
    fn abort_and_shutdown_of_an_idle_task_claim_it_differently() {
        let idle = snap(JOIN_INTEREST, 2);
        let (outcome, next) = idle.transition_to_aborted();
        assert_eq!(outcome, TransitionToCancelled::Submit);
        assert!(next.unwrap().is_scheduled() && next.unwrap().is_cancelled());
        let (outcome, next) = idle.transition_to_shutdown();
        assert_eq!(outcome, TransitionToCancelled::CancelNow);
        assert!(next.unwrap().is_running() && next.unwrap().is_cancelled());
        let done = snap(COMPLETE, 1);
        assert_eq!(
            done.transition_to_aborted(),
            (TransitionToCancelled::DoNothing, None)
        );
    }

    #[test]
    fn the_last_reference_of_an_idle_task_orphans_it() {
        assert_eq!(snap(0, 1).ref_dec_outcome(), RefDec::Orphaned);
        assert_eq!(snap(COMPLETE, 1).ref_dec_outcome(), RefDec::Dealloc);
        assert_eq!(snap(COMPLETE, 2).ref_dec_outcome(), RefDec::Alive);
    }
}
