//! [`AtomicWaker`]: one waker slot that one task registers in and any thread wakes.
//!
//! The receiver side of every channel parks here. The protocol (the one of futures'
//! `AtomicWaker`, written out) uses a state word with two bits:
//!
//! ```text
//!                    register: CAS WAITING → REGISTERING
//!   WAITING (0) ───────────────────────────────────────▶ REGISTERING (1)
//!     ▲    │                                                  │   │
//!     │    │ wake: fetch_or(WAKING), take waker,              │   │ a wake arrives meanwhile:
//!     │    │       fetch_and(!WAKING)                         │   │ fetch_or(WAKING) → 0b11
//!     │    ▼                                                  │   ▼
//!     │  WAKING (2)                        store done: CAS 1 → 0  register sees 0b11: takes
//!     └───────────────────────────────────────────────────────┘   the waker back, wakes it,
//!                                                                  swaps to WAITING
//! ```
//!
//! 1. Only the holder of REGISTERING (set by `register` from WAITING) writes the cell.
//! 2. Only a `wake` that moved the state from WAITING to WAKING reads the cell.
//! 3. A `wake` that finds REGISTERING sets WAKING and leaves; `register` sees it when it tries
//!    to return to WAITING and wakes the new waker itself, so no wake-up is lost.
//! 4. A `register` that finds WAKING (a wake is reading the cell) wakes its own waker at once:
//!    the caller is polled again and re-checks its condition.
//!
//! Every state change is an RMW with `AcqRel`: the data the waker announces (a message in a
//! queue, a flag) is written before `wake`'s `fetch_or` and read after `register`'s CAS, and
//! RMWs on one word form one total order, so whichever runs second sees the other's writes.

use std::task::Waker;

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};

/// No one is registering or waking; the cell may hold a waker.
const WAITING: usize = 0;
/// A `register` is writing the cell.
const REGISTERING: usize = 0b01;
/// A `wake` is taking the cell's waker (or asked a registering task to wake itself).
const WAKING: usize = 0b10;

/// A single waker slot, registered by one task at a time and woken from any thread.
#[derive(Debug)]
pub struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cell is only accessed under the protocol of the module doc (rule 1: one writer
// holding REGISTERING; rule 2: one reader holding WAKING, never both), and `Waker` is
// `Send + Sync`, so sharing the slot between threads is sound.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl Default for AtomicWaker {
    fn default() -> Self {
        AtomicWaker::new()
    }
}

impl AtomicWaker {
    /// An empty slot.
    pub fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Makes `waker` the one the next [`wake`](Self::wake) calls (clones it only if the stored
    /// one would not wake the same task). Callers re-check their condition after this.
    pub fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // SAFETY: we moved WAITING → REGISTERING, so we are the only writer (rule 1)
                // and no `wake` reads the cell until we leave REGISTERING (rule 2).
                self.waker.with_mut(|cell| unsafe {
                    match &mut *cell {
                        Some(old) if old.will_wake(waker) => {}
                        slot => *slot = Some(waker.clone()),
                    }
                });
                // Back to WAITING, unless a wake arrived meanwhile (rule 3).
                if let Err(actual) =
                    self.state
                        .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                {
                    debug_assert_eq!(actual, REGISTERING | WAKING);
                    // SAFETY: still REGISTERING (a waker only added WAKING), so we still own
                    // the cell.
                    let woken = self.waker.with_mut(|cell| unsafe { (*cell).take() });
                    self.state.swap(WAITING, AcqRel);
                    if let Some(woken) = woken {
                        woken.wake();
                    }
                }
            }
            Err(WAKING) => {
                // Rule 4: a wake is in progress; be polled again.
                waker.wake_by_ref();
            }
            Err(state) => {
                // REGISTERING by someone else: a second task registering concurrently is a
                // misuse (the slot belongs to one task); answer as a spurious wake.
                debug_assert!(state == REGISTERING || state == REGISTERING | WAKING);
                waker.wake_by_ref();
            }
        }
    }

    /// Takes the registered waker, if any, leaving the slot empty.
    pub fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            WAITING => {
                // SAFETY: we moved WAITING → WAKING: the only reader, and no writer until we
                // clear WAKING (rule 2).
                let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
                self.state.fetch_and(!WAKING, AcqRel);
                waker
            }
            // REGISTERING: the registering task wakes itself (rule 3). WAKING: another wake
            // is taking the waker and will wake it.
            _ => None,
        }
    }

    /// Wakes the registered task, if any.
    pub fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_support::counting;

    #[test]
    fn wake_calls_the_registered_waker_once() {
        let slot = AtomicWaker::new();
        let (count, waker) = counting();
        slot.register(&waker);
        slot.wake();
        slot.wake();
        assert_eq!(count.count(), 1, "a wake consumes the registration");
    }

    #[test]
    fn registering_again_replaces_the_waker() {
        let slot = AtomicWaker::new();
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        slot.register(&first_waker);
        slot.register(&second_waker);
        slot.wake();
        assert_eq!((first.count(), second.count()), (0, 1));
    }

    #[test]
    fn wakes_from_other_threads_are_never_lost() {
        let rounds = if cfg!(miri) { 50 } else { 2_000 };
        for _ in 0..rounds {
            let slot = std::sync::Arc::new(AtomicWaker::new());
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (count, waker) = counting();
            let remote = (slot.clone(), flag.clone());
            let t = std::thread::spawn(move || {
                remote.1.store(true, std::sync::atomic::Ordering::Release);
                remote.0.wake();
            });
            slot.register(&waker);
            let seen = flag.load(std::sync::atomic::Ordering::Acquire);
            t.join().unwrap();
            assert!(
                seen || count.count() == 1,
                "flag unseen and no wake: lost wake-up"
            );
        }
    }
}
