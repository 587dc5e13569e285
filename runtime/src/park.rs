//! # `Parker` / `Unparker`: block a thread until another thread says "go"
//!
//! A [`Parker`] belongs to one thread, which calls [`Parker::park`] to sleep until some other
//! thread calls [`Unparker::unpark`] on one of its (cloneable, `Send + Sync`) [`Unparker`]s.
//! It is the primitive under `block_on` (the waker unparks the blocked thread) and under the
//! pool's idle workers (the sleep protocol unparks a sleeper when work arrives).
//!
//! It is a *token*, like `std::thread::park`: an `unpark` that comes before the `park`
//! is not lost; the next `park` consumes it and returns at once. At most one token is kept,
//! so two `unpark`s before a `park` make one early return, not two.
//!
//! Unlike `std::thread::park` it is built from the primitives of [`crate::loom`], so the
//! protocols built on it (the pool's sleep protocol) can be model-checked, and it never
//! returns spuriously from [`Parker::park`] (callers may still re-check their condition: it is
//! cheap and keeps the reasoning local).
//!
//! ## The state word
//!
//! ```text
//!            park() finds EMPTY                    unpark()
//!   EMPTY ─────────────────────────▶ PARKED ───────────────────────▶ NOTIFIED
//!     ▲   (1) Parker::park: CAS under   │   (2) Unparker::unpark: swap,   │
//!     │       the mutex, then waits     │       then lock+unlock the      │
//!     │       on the condvar            │       mutex and notify_one      │
//!     │                                 │                                 │
//!     └──────────── (3) Parker::park: swap NOTIFIED -> EMPTY ◀────────────┘
//!          (the token is consumed; also the fast path when unpark came first)
//! ```
//!
//! 1. `park` first tries to consume a token (`NOTIFIED -> EMPTY`, no lock). Otherwise it takes
//!    the mutex and moves `EMPTY -> PARKED` with a CAS; if that CAS finds `NOTIFIED` (an unpark
//!    raced in), it consumes the token and returns.
//! 2. `unpark` swaps in `NOTIFIED`. If it replaced `PARKED`, a thread is (about to be) waiting on
//!    the condvar: it takes and releases the mutex before `notify_one`, so the parked thread is
//!    either not yet waiting (it still holds the mutex, will re-check the state and see
//!    `NOTIFIED`) or already waiting (and gets the notification). This lock/unlock is what
//!    prevents the lost wake-up between "state is PARKED" and "thread waits on the condvar".
//! 3. A woken `park` swaps `NOTIFIED -> EMPTY`; a condvar wake-up that finds the state still
//!    `PARKED` was spurious and it waits again.
//!
//! Orderings: the swap/CAS that consume or produce the token are `SeqCst`/`AcqRel` so that
//! everything the unparking thread wrote before `unpark` is visible to the parked thread after
//! `park` returns (release on `unpark`, acquire on the consuming swap).

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// No token, nobody waiting.
const EMPTY: usize = 0;
/// The owner is waiting (or about to wait) on the condvar.
const PARKED: usize = 1;
/// A token is available: the next (or current) park returns.
const NOTIFIED: usize = 2;

#[derive(Debug)]
struct Inner {
    state: AtomicUsize,
    lock: Mutex<()>,
    cvar: Condvar,
}

/// The blocking side: owned by one thread. `Send` (it may be created on one thread and moved to
/// the one that parks), not `Sync`, not `Clone`.
#[derive(Debug)]
pub struct Parker {
    inner: Arc<Inner>,
    /// `Parker` is not `Sync`: only its owner parks.
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

/// The waking side: cheap to clone, usable from any thread.
#[derive(Clone, Debug)]
pub struct Unparker {
    inner: Arc<Inner>,
}

impl Default for Parker {
    fn default() -> Self {
        Self::new()
    }
}

impl Parker {
    /// A parker with no token.
    pub fn new() -> Parker {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                lock: Mutex::new(()),
                cvar: Condvar::new(),
            }),
            _not_sync: std::marker::PhantomData,
        }
    }

    /// A handle that wakes this parker.
    pub fn unparker(&self) -> Unparker {
        Unparker {
            inner: self.inner.clone(),
        }
    }

    /// Blocks until a token is available, and consumes it. Returns at once if an
    /// [`Unparker::unpark`] happened since the last park.
    pub fn park(&self) {
        self.inner.park(None);
    }

    /// As [`Parker::park`], but returns after `timeout` if no token came. Returns whether a token
    /// was consumed (`false`: timed out).
    pub fn park_timeout(&self, timeout: Duration) -> bool {
        self.inner.park(Some(timeout))
    }
}

impl Unparker {
    /// Makes a token available, waking the owner if it is parked.
    pub fn unpark(&self) {
        self.inner.unpark();
    }

    /// Whether both unparkers wake the same parker.
    pub fn ptr_eq(&self, other: &Unparker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Inner {
    fn park(&self, timeout: Option<Duration>) -> bool {
        // (3) fast path: a token is already there. Acquire pairs with unpark's release.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return true;
        }
        if timeout == Some(Duration::ZERO) {
            return false;
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // (1) announce that we are about to wait. Under the mutex, so unpark's lock/unlock
        // (step 2) cannot slip between this CAS and the wait below.
        match self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // An unpark raced in after the fast path: consume it (3).
                self.state.swap(EMPTY, Ordering::SeqCst);
                return true;
            }
            Err(actual) => unreachable!("parker state {actual}: two threads parked on one Parker"),
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            guard = match deadline {
                None => self.cvar.wait(guard).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        // Timed out: leave PARKED unless an unpark came meanwhile.
                        return self.state.swap(EMPTY, Ordering::SeqCst) == NOTIFIED;
                    }
                    self.cvar
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            // (3) consume the token; a wake-up that finds PARKED was spurious: wait again.
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return true;
            }
        }
    }

    fn unpark(&self) {
        // (2) Release: publishes the unparker's writes to the thread that consumes the token.
        match self.state.swap(NOTIFIED, Ordering::SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED => {
                // The owner set PARKED under the mutex and is waiting (or about to). Taking the
                // mutex orders us after its CAS: it either waits already (notify reaches it) or
                // has not yet released the mutex in `wait` (impossible once we hold it).
                drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
                self.cvar.notify_one();
            }
            actual => unreachable!("parker state {actual}"),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn unpark_before_park_is_not_lost() {
        let parker = Parker::new();
        parker.unparker().unpark();
        parker.park(); // returns at once: the token was kept
    }

    #[test]
    fn two_unparks_make_one_token() {
        let parker = Parker::new();
        let unparker = parker.unparker();
        unparker.unpark();
        unparker.unpark();
        assert!(parker.park_timeout(Duration::from_secs(5)));
        assert!(
            !parker.park_timeout(Duration::ZERO),
            "a second token was kept"
        );
    }

    #[test]
    fn park_timeout_without_token_times_out() {
        let parker = Parker::new();
        assert!(!parker.park_timeout(Duration::from_millis(1)));
    }

    #[test]
    fn unpark_from_another_thread_wakes_a_parked_thread() {
        const ROUNDS: usize = if cfg!(miri) { 10 } else { 10_000 };
        let parker = Parker::new();
        let unparker = parker.unparker();
        let (ready_tx, ready_rx) = mpsc::channel::<usize>();
        let (ack_tx, ack_rx) = mpsc::channel::<usize>();
        let t = std::thread::spawn(move || {
            for i in 0..ROUNDS {
                ready_rx.recv().expect("main thread alive");
                unparker.unpark();
                ack_tx.send(i).expect("main thread alive");
            }
        });
        for i in 0..ROUNDS {
            ready_tx.send(i).expect("unparker thread alive");
            parker.park();
            assert_eq!(ack_rx.recv().expect("unparker thread alive"), i);
        }
        t.join().expect("unparker thread panicked");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;

    /// Every interleaving of one park and one unpark ends with the parker awake.
    #[test]
    fn loom_park_unpark_no_lost_wakeup() {
        loom::model(|| {
            let parker = Parker::new();
            let unparker = parker.unparker();
            let flag = Arc::new(AtomicUsize::new(0));
            let flag2 = flag.clone();
            let t = loom::thread::spawn(move || {
                flag2.store(1, Ordering::Release);
                unparker.unpark();
            });
            while flag.load(Ordering::Acquire) == 0 {
                parker.park();
            }
            t.join().unwrap();
        });
    }
}
