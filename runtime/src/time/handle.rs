//! [`Timers`]: the shareable handle to one wheel, and the thread's current one.
//!
//! The wheel sits behind a mutex. Critical sections are short: one insert, poll, cancel or
//! slot drain. Wakers are never called with the lock held (a waker may run arbitrary code,
//! including code that registers a timer): [`Timers::process`] collects up to
//! [`WAKE_BATCH`] of them, unlocks, wakes them, and locks again for the rest.

use std::cell::RefCell;
use std::io;
use std::task::Waker;
use std::time::Instant;

use crate::loom::sync::{Arc, Mutex, MutexGuard};

use super::wheel::{Processed, Wheel};

/// Wakers collected per lock hold in [`Timers::process`]. 32 as tokio's `NUM_WAKERS`: enough
/// to amortise the lock, small enough to live on the stack.
pub(crate) const WAKE_BATCH: usize = 32;

/// A fixed-capacity stack of wakers, filled under the lock and woken outside it.
#[derive(Debug)]
pub(crate) struct WakeBatch {
    wakers: [Option<Waker>; WAKE_BATCH],
    len: usize,
}

impl WakeBatch {
    pub(crate) fn new() -> WakeBatch {
        WakeBatch {
            wakers: std::array::from_fn(|_| None),
            len: 0,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    pub(crate) fn push(&mut self, waker: Waker) {
        debug_assert!(!self.is_full(), "checked by the caller");
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes and empties the batch.
    pub(crate) fn wake_all(&mut self) {
        for waker in &mut self.wakers[..self.len] {
            if let Some(waker) = waker.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

/// A handle to one hierarchical timer wheel: `Send + Sync + Clone`, cheap to clone (an `Arc`).
///
/// Futures ([`Sleep`](super::Sleep), [`Timeout`](super::Timeout),
/// [`Interval`](super::Interval)) register in it; whoever drives the runtime calls
/// [`Timers::process`] with the current time and sleeps until the deadline it returns.
#[derive(Clone)]
pub struct Timers {
    wheel: Arc<Mutex<Wheel>>,
    /// On a virtual clock, "now" is the wheel's own clock, moved only by [`Timers::process`]
    /// (a driver moves it to the next deadline instead of sleeping); see [`Timers::clock_now`].
    virtual_clock: bool,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers::new()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Timers>> = const { RefCell::new(None) };
}

/// "Now" for a timer future created on this thread: the current [`Timers`]'
/// [`clock_now`](Timers::clock_now) (a virtual clock's reading under one), else `Instant::now()`.
pub fn now() -> Instant {
    CURRENT
        .try_with(|current| current.borrow().as_ref().map(Timers::clock_now))
        .ok()
        .flatten()
        .unwrap_or_else(Instant::now)
}

impl Timers {
    /// An empty wheel whose tick 0 is now.
    pub fn new() -> Timers {
        Timers::with_origin(Instant::now())
    }

    /// An empty wheel whose tick 0 is `origin`; deadlines before it fire at the first
    /// [`process`](Self::process).
    pub fn with_origin(origin: Instant) -> Timers {
        Timers {
            wheel: Arc::new(Mutex::new(Wheel::new(origin))),
            virtual_clock: false,
        }
    }

    /// An empty wheel on a *virtual clock* that reads `origin` until [`process`](Self::process)
    /// moves it. [`sleep`](super::sleep), [`timeout`](super::timeout) and
    /// [`Interval`](super::Interval) created under it measure from [`clock_now`](Self::clock_now),
    /// not from `Instant::now()`, so time passes only when the runtime says so: a simulation
    /// runs an hour of timers in microseconds, and replays them identically.
    pub fn new_virtual(origin: Instant) -> Timers {
        Timers {
            wheel: Arc::new(Mutex::new(Wheel::new(origin))),
            virtual_clock: true,
        }
    }

    /// Whether this wheel runs on a virtual clock ([`Timers::new_virtual`]).
    pub fn is_virtual(&self) -> bool {
        self.virtual_clock
    }

    /// "Now" for futures on this wheel: the wheel's clock ([`Timers::now`]) on a virtual
    /// clock, `Instant::now()` otherwise.
    pub fn clock_now(&self) -> Instant {
        if self.virtual_clock {
            self.now()
        } else {
            Instant::now()
        }
    }

    /// On a virtual clock, moves it forward to `to` (never back), firing what comes due;
    /// returns how many timers fired. On a real clock, only fires what is due at `to`.
    pub fn advance_virtual(&self, to: Instant) -> usize {
        self.process_counting(to).0
    }

    /// The thread's current timers, set by [`Timers::enter`].
    ///
    /// # Errors
    /// `NotFound` when this thread has not entered any (outside a runtime).
    pub fn current() -> io::Result<Timers> {
        CURRENT
            .with(|current| current.borrow().clone())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no timers: this thread is not inside a runtime; call `Timers::enter` \
                     (the event loop does it while it runs) or use the `_in` constructors \
                     with an explicit `&Timers`",
                )
            })
    }

    /// Makes `self` the thread's current timers until the guard is dropped, which restores
    /// the previous ones (guards nest).
    pub fn enter(&self) -> TimersEnterGuard {
        let previous = CURRENT.with(|current| current.replace(Some(self.clone())));
        TimersEnterGuard {
            previous,
            _not_send: std::marker::PhantomData,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Wheel> {
        // A panic while locked can only come from a waker's `clone`/`drop`; the wheel's
        // links are updated before any such call, so the data stays consistent.
        self.wheel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fires every timer due at `now` (wakes its task, outside the lock) and returns the next
    /// deadline, if any: exact when it is less than 64 µs away from the wheel's clock, else
    /// the start of the slot that holds it (call `process` then: the wheel cascades and
    /// returns the exact deadline).
    pub fn process(&self, now: Instant) -> Option<Instant> {
        self.process_counting(now).1
    }

    /// [`process`](Self::process), also returning how many timers fired.
    pub fn process_counting(&self, now: Instant) -> (usize, Option<Instant>) {
        let mut batch = WakeBatch::new();
        let mut fired = 0;
        loop {
            let processed = self.lock().process(now, &mut batch);
            fired += batch.len;
            batch.wake_all();
            if let Processed::Done(next) = processed {
                return (fired, next.map(|tick| self.lock().tick_to_instant(tick)));
            }
        }
    }

    /// The next deadline (as [`process`](Self::process) returns it), without firing anything.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lock().next_deadline()
    }

    /// Timers registered and not yet fired or cancelled.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no timer is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The wheel's clock: the latest `now` passed to [`process`](Self::process) (its origin
    /// before the first call), truncated to the microsecond.
    pub fn now(&self) -> Instant {
        self.lock().elapsed_instant()
    }

    /// Installs `wake` as the way to wake the thread that drives this wheel (the one that calls
    /// [`process`](Self::process) and then sleeps until the deadline it returned, e.g. in
    /// `Reactor::poll`): it is called, outside the lock, whenever a timer is registered with a
    /// deadline earlier than that one, so a timer registered from another thread is not
    /// noticed late. A single-threaded loop that registers timers only from its own thread
    /// between `process` calls does not need one. Replaces any previous one.
    pub fn set_driver_wake(&self, wake: impl Fn() + Send + Sync + 'static) {
        self.lock().set_driver_wake(Some(std::sync::Arc::new(wake)));
    }

    /// Removes the driver wake installed by [`set_driver_wake`](Self::set_driver_wake).
    pub fn clear_driver_wake(&self) {
        self.lock().set_driver_wake(None);
    }

    /// Whether two handles name the same wheel.
    pub fn ptr_eq(&self, other: &Timers) -> bool {
        Arc::ptr_eq(&self.wheel, &other.wheel)
    }
}

/// Restores the previous current [`Timers`] when dropped. Returned by [`Timers::enter`];
/// `!Send`, since it restores a thread-local.
#[must_use = "the timers stay current only while the guard lives"]
#[derive(Debug)]
pub struct TimersEnterGuard {
    previous: Option<Timers>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for TimersEnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
    }
}
