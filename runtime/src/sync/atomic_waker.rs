//! [`AtomicWaker`]: the parking slot of a channel's receiving side. One task registers (the
//! receiver, through `&mut`), any thread wakes.
//!
//! Unlike futures' `AtomicWaker`, a wake does not *take* the waker out: it wakes it by
//! reference and leaves it in the cell. A receiver that is polled again by the same task
//! then finds its waker still there and only re-arms the state word: no waker clone, no
//! drop, no reference-count traffic per message. That halves the atomic read-modify-writes
//! of a ping-pong round trip (see `mpsc`'s module doc). The price is that `register` must
//! never run concurrently with itself, which is why it is an `unsafe fn` and the type is
//! crate-private: every caller holds `&mut` of the one receiving handle.
//!
//! ## The state word
//!
//! | bit | set by | meaning |
//! |---|---|---|
//! | `REGISTERED` | `register` (swap) | the cell's waker wants the next wake |
//! | `WAKING` | `wake` (fetch_or) | a wake happened since the last registration; with `REGISTERED` also set by the same `fetch_or`, that waker owns the cell for reading |
//! | `REARM` | `register` (fetch_or), only during a claim | the registrant was polled while a wake was reading the cell (and the cell holds its waker): instead of spinning until the claim ends, it asks the claimant to re-arm the registration and wake it once more |
//!
//! ```text
//!               (1) register: write cell (if another task), swap(REGISTERED)
//!     0 / WAKING ────────────────────────────────────────────────▶ REGISTERED
//!        ▲                                                           │
//!        │ (3) wake: CAS to 0 after waking the cell's waker by        │ (2) wake: fetch_or(WAKING)
//!        │     reference (to REGISTERED, plus one more wake, if       ▼     saw exactly REGISTERED
//!        │     REARM was set meanwhile)
//!        └───────────────────────────────────────────────── REGISTERED|WAKING (claimed)
//! ```
//!
//! Who may touch the cell:
//! 1. Only `register` writes it, and only after it observed the state without `REGISTERED`
//!    (then no wake holds a claim: claims need `REGISTERED`, which only `register` sets, after
//!    its write).
//! 2. Only the `wake` whose `fetch_or` moved the state from exactly `REGISTERED` reads it
//!    (besides `register`, whose reads race only with other reads), until its final CAS.
//!
//! ## No lost wake-up
//!
//! The caller publishes its data (a message) before `wake`'s `fetch_or`, and re-checks after
//! `register`. `register` ends with a `swap` unless the state is exactly `REGISTERED` (a
//! registration no wake has claimed: the next wake will see it) or it handed a `REARM` request
//! to a claimant (whose releasing CAS reads every event's `fetch_or` made during the claim,
//! and which then wakes it again, so its next poll sees those events; later events find
//! `REGISTERED` and wake it themselves). Every state change is an `AcqRel` RMW on one word, so they are totally ordered and each reads the
//! previous one's release sequence: if `wake`'s `fetch_or` comes first, the `swap` synchronizes
//! with it and the re-check sees the data; if the `swap` comes first, the `fetch_or` sees
//! `REGISTERED` and wakes.

use std::task::Waker;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};

/// The cell's waker wants the next wake.
const REGISTERED: usize = 0b01;
/// A wake happened since the last registration (and, with `REGISTERED`, is reading the cell).
const WAKING: usize = 0b10;
/// Set by `register` while a wake holds a claim: "wake me once more before you let go".
const REARM: usize = 0b100;

/// A single-registrant waker slot woken from any thread (see the module doc).
#[derive(Debug)]
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cell is written only by the single registrant while no wake can read it
// (rule 1) and read by at most one claiming wake plus the registrant (rule 2); `Waker` is
// `Send + Sync`, so sharing the slot between threads is sound.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    /// An empty slot.
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(0),
            waker: UnsafeCell::new(None),
        }
    }

    /// Whether the cell's waker wakes the same task as `waker`.
    ///
    /// # Safety
    /// Called by the single registrant (no concurrent writer, rule 1).
    unsafe fn holds(&self, waker: &Waker) -> bool {
        // SAFETY: only the registrant (our caller) writes the cell; concurrent wakes only read.
        self.waker
            .with(|cell| unsafe { (*cell).as_ref().is_some_and(|w| w.will_wake(waker)) })
    }

    /// Makes `waker` the one the next [`wake`](Self::wake) wakes. Callers re-check their
    /// condition after this.
    ///
    /// # Safety
    /// Never called concurrently with itself on the same slot (the channels guarantee it:
    /// they call it through `&mut` of their one receiving handle).
    pub(crate) unsafe fn register(&self, waker: &Waker) {
        let state = self.state.load(Acquire);
        if state & REGISTERED != 0 {
            // SAFETY: we are the single registrant (our own contract), as `holds` requires.
            let ours = unsafe { self.holds(waker) };
            if state == REGISTERED && ours {
                // Registered and unclaimed: the next wake's fetch_or sees it.
                return;
            }
            if state & WAKING != 0 {
                // A wake holds a claim and is reading the cell (step 3 is under way), so we
                // may not write it, and its wake may be the one that got us polled.
                if ours {
                    // Ask the claimant to wake us once more before it lets go (no spinning
                    // while it finishes its `wake_by_ref`, which may be a syscall).
                    let previous = self.state.fetch_or(REARM, AcqRel);
                    if previous & (REGISTERED | WAKING) == REGISTERED | WAKING {
                        return;
                    }
                    // The claim ended before our request: register normally (the swap
                    // below clears REARM).
                } else {
                    // Another task took the receiver over mid-claim (rare): retry on a
                    // fresh poll.
                    waker.wake_by_ref();
                    return;
                }
            } else if self
                .state
                .compare_exchange(REGISTERED, 0, AcqRel, Acquire)
                .is_err()
            {
                // Taking the registration back to replace the waker raced with a claim.
                waker.wake_by_ref();
                return;
            }
        }
        // SAFETY: we are the single registrant (contract) and the state has no REGISTERED,
        // so no wake reads the cell (rule 1).
        self.waker.with_mut(|cell| unsafe {
            match &mut *cell {
                Some(old) if old.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        });
        // Publish; clears a stale WAKING mark (the caller's re-check covers what it marked).
        self.state.swap(REGISTERED, AcqRel);
    }

    /// Wakes the registered task, if a registration is armed; the waker stays in the slot.
    pub(crate) fn wake(&self) {
        if self.state.fetch_or(WAKING, AcqRel) != REGISTERED {
            // Not registered (the mark tells the next `register` nothing it will not re-check),
            // or another wake holds the claim and wakes the same task.
            return;
        }
        // SAFETY: our fetch_or moved the state from exactly REGISTERED: we hold the claim, so
        // the registrant does not write the cell until we release it (rule 2).
        self.waker.with(|cell| unsafe {
            if let Some(waker) = &*cell {
                waker.wake_by_ref();
            }
        });
        if self
            .state
            .compare_exchange(REGISTERED | WAKING, 0, AcqRel, Acquire)
            .is_ok()
        {
            return;
        }
        // The registrant was polled during our claim and set REARM: it re-checked after that,
        // and events since saw our claim and did not wake. Re-arm its registration (the cell
        // holds its waker, which is what REARM says) and wake it once more, with a clone,
        // since after the release we may no longer read the cell. Rare: a poll has to land
        // inside a claim.
        // SAFETY: still claimed (only we clear WAKING), as above.
        let again = self.waker.with(|cell| unsafe { (*cell).clone() });
        let released =
            self.state
                .compare_exchange(REGISTERED | WAKING | REARM, REGISTERED, AcqRel, Acquire);
        debug_assert!(released.is_ok(), "during a claim only REARM can be added");
        if let Some(waker) = again {
            waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::test_support::counting;

    #[test]
    fn a_wake_consumes_the_registration_but_keeps_the_waker() {
        let slot = AtomicWaker::new();
        let (count, waker) = counting();
        // SAFETY: single-threaded test: no concurrent register.
        unsafe { slot.register(&waker) };
        slot.wake();
        slot.wake();
        assert_eq!(count.count(), 1, "one registration, one wake");
        // SAFETY: as above.
        unsafe { slot.register(&waker) };
        slot.wake();
        assert_eq!(count.count(), 2);
    }

    #[test]
    fn registering_another_task_replaces_the_waker() {
        let slot = AtomicWaker::new();
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        // SAFETY: single-threaded test: no concurrent register.
        unsafe {
            slot.register(&first_waker);
            slot.register(&second_waker);
        }
        slot.wake();
        assert_eq!((first.count(), second.count()), (0, 1));
    }

    #[test]
    fn wakes_from_other_threads_are_never_lost() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let rounds = if cfg!(miri) { 50 } else { 2_000 };
        for _ in 0..rounds {
            let slot = std::sync::Arc::new(AtomicWaker::new());
            let flag = std::sync::Arc::new(AtomicBool::new(false));
            let (count, waker) = counting();
            let remote = (slot.clone(), flag.clone());
            let t = std::thread::spawn(move || {
                remote.1.store(true, Ordering::Release);
                remote.0.wake();
            });
            // SAFETY: only this thread registers.
            unsafe { slot.register(&waker) };
            let seen = flag.load(Ordering::Acquire);
            t.join().unwrap();
            assert!(
                seen || count.count() == 1,
                "flag unseen and no wake: lost wake-up"
            );
        }
    }
}
