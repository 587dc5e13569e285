//! # The driver: a reactor and a timer wheel, parked as one
//!
//! Every runtime built on this crate needs the same thirty lines around its run queue: make
//! the reactor and the timers current, fire the timers that are due, wait in epoll no longer
//! than the next deadline, skip epoll when nothing is registered, and let other threads wake
//! the wait only when it is actually waiting. [`Driver`] is those lines, written once; the
//! event loop of `switchyard-scheduler` is built on it, and `docs/custom-runtime.md` builds a
//! runtime on it in under a hundred lines.
//!
//! ```
//! use std::sync::mpsc;
//! use std::time::Duration;
//! use switchyard_runtime::driver::Driver;
//! use switchyard_runtime::task::{self, Runnable, ScheduleInfo, TaskId};
//! use switchyard_runtime::time;
//!
//! # fn main() -> std::io::Result<()> {
//! let driver = Driver::new()?;
//! let _entered = driver.enter(); // the reactor and the timers are current on this thread
//! let (queue, ready) = mpsc::channel::<Runnable>();
//! let unparker = driver.unparker();
//! let schedule = move |runnable, _: ScheduleInfo| {
//!     let _ = queue.send(runnable);
//!     unparker.unpark(); // wakes the driver only if it is parked, and only from elsewhere
//! };
//! let (runnable, join) = task::spawn_local(
//!     async { time::sleep(Duration::from_millis(1)).await; 42 },
//!     schedule,
//!     TaskId::default(),
//! );
//! runnable.schedule();
//! while !join.is_finished() {
//!     let mut ran = false;
//!     while let Ok(runnable) = ready.try_recv() {
//!         runnable.run(); // under a fresh coop budget
//!         ran = true;
//!     }
//!     // Fire due timers; then poll I/O, or sleep until the next deadline.
//!     driver.park(if ran { Some(Duration::ZERO) } else { None })?;
//! }
//! # Ok(()) }
//! ```
//!
//! ## One park
//!
//! [`Driver::park`]`(timeout)` takes these steps (numbered in its body):
//!
//! 1. Fire the timers due at the driver's clock ([`Driver::now`]); their tasks are scheduled.
//! 2. Choose the wait: none if a timer fired (there is work now) or the caller passed
//!    `Some(Duration::ZERO)`; else until the earlier of `timeout` and the next deadline.
//! 3. No wait: poll epoll with a zero timeout, skipped when no I/O source is registered
//!    (nothing could be ready). Return.
//! 4. A wait: the unpark handshake's steps a to c (below); an unpark that came since the last
//!    park cancels the wait.
//! 5. Wait in epoll (to the microsecond, through a timerfd) for an event, the deadline or an
//!    unpark. Under a virtual clock ([`Driver::with_virtual_clock`]) with a deadline to
//!    reach, poll epoll without waiting and, if nothing came, move the clock to the deadline
//!    instead of sleeping.
//! 6. Fire the timers that came due meanwhile, so that a park that slept until a deadline
//!    returns with that timer's task scheduled.
//!
//! ## The unpark rule
//!
//! A thread that gives the driver's runtime work (pushes a runnable onto its queue) must
//! then call [`DriverUnparker::unpark`]. Without it, a driver blocked in epoll sleeps on, with work
//! waiting, until the next event or deadline. With it, the driver is woken if, and only if,
//! it is parked or about to park, so that a busy runtime is never interrupted by syscalls.
//! The two sides are a Dekker pair, written once in `park.rs` and model-checked there with
//! loom:
//!
//! ```text
//!   driver thread (park, step 4)              waking thread (DriverUnparker::unpark)
//!   a. parked = true                          x. publish work; notified = true
//!   b. fence(SeqCst)                          y. fence(SeqCst)
//!   c. if notified (consumed): don't block    z. if parked: wake epoll (eventfd)
//! ```
//!
//! The two fences order (a) before (c) and (x) before (z) in one total order, so at least one
//! side sees the other's write: either the driver sees `notified` at (c), or the waker sees
//! `parked` at (z) and the eventfd write makes the wait return.
//!
//! An unpark on a thread that has [entered](Driver::enter) the driver does nothing: that
//! thread is running, so the driver is not parked, and its caller checks its own queue before
//! it parks again. This makes a wake from inside a task (the common case) free of fences.
//!
//! ## Who may call what
//!
//! A `Driver` is `Send` and `!Sync`: one thread at a time owns it. [`Driver::park`] must be
//! called inside [`Driver::enter`] (it panics otherwise), which is what lets an unpark on
//! that thread skip the handshake. [`DriverUnparker`]s are `Send + Sync` and may outlive the
//! driver; once it is dropped they do nothing.

mod park;

use std::cell::{Cell, RefCell};
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crate::reactor::{IoEnterGuard, IoHandle, Reactor};
use crate::time::{Timers, TimersEnterGuard};

use park::{Park, ParkFlags};

/// What the driver's thread and its [`DriverUnparker`]s share.
#[derive(Debug)]
struct DriverShared {
    flags: ParkFlags,
    /// Wakes the reactor; `None` once the driver is dropped, so that an `DriverUnparker` kept alive
    /// does not keep the reactor's eventfd and epoll fd open.
    io: Mutex<Option<IoHandle>>,
}

std::thread_local! {
    /// The driver entered on this thread (its `DriverShared`'s address), or null.
    static ENTERED: Cell<*const DriverShared> = const { Cell::new(std::ptr::null()) };
}

/// A reactor and a timer wheel, driven as one: see the module doc.
pub struct Driver {
    reactor: RefCell<Reactor>,
    timers: Timers,
    shared: Arc<DriverShared>,
}

/// What one [`Driver::park`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parked {
    /// Timers fired (their tasks were woken).
    pub timers_fired: usize,
    /// I/O events delivered to live registrations.
    pub io_events: usize,
    /// Whether the driver blocked in epoll (steps 4 and 5 of the module doc).
    pub blocked: bool,
}

impl Driver {
    /// A driver on the real clock, with the reactor's default capacity.
    pub fn new() -> io::Result<Driver> {
        Driver::with_parts(Reactor::new()?, Timers::new())
    }

    /// A driver whose reactor holds at most `max_registrations` I/O sources.
    pub fn with_capacity(max_registrations: usize) -> io::Result<Driver> {
        Driver::with_parts(Reactor::with_capacity(max_registrations)?, Timers::new())
    }

    /// A driver on a virtual clock that starts at `origin`: [`time::sleep`](crate::time::sleep),
    /// [`timeout`](crate::time::timeout) and [`Interval`](crate::time::Interval) read it, and
    /// a [`park`](Self::park) with nothing to do moves it to the next deadline at once
    /// instead of sleeping (step 5). For simulations and tests that must not wait.
    pub fn with_virtual_clock(origin: Instant) -> io::Result<Driver> {
        Driver::with_parts(Reactor::new()?, Timers::new_virtual(origin))
    }

    /// A driver from a reactor and a timer wheel built by the caller.
    pub fn with_parts(reactor: Reactor, timers: Timers) -> io::Result<Driver> {
        let shared = Arc::new(DriverShared {
            flags: ParkFlags::new(),
            io: Mutex::new(Some(reactor.handle())),
        });
        Ok(Driver {
            reactor: RefCell::new(reactor),
            timers,
            shared,
        })
    }

    /// Makes the reactor and the timers this thread's current ones (so `TcpStream::connect`,
    /// `time::sleep` and the like find them), and marks the driver as entered here, until
    /// the guard is dropped. Guards nest; drop them innermost first.
    pub fn enter(&self) -> DriverEnterGuard<'_> {
        let io = self.io_handle().enter();
        let timers = self.timers.enter();
        let previous = ENTERED.with(|entered| entered.replace(Arc::as_ptr(&self.shared)));
        DriverEnterGuard {
            previous,
            _timers: timers,
            _io: io,
            _driver: PhantomData,
        }
    }

    /// Whether this thread is inside [`enter`](Self::enter) of this driver.
    pub fn is_entered(&self) -> bool {
        ENTERED
            .try_with(|entered| std::ptr::eq(entered.get(), Arc::as_ptr(&self.shared)))
            .unwrap_or(false)
    }

    /// A handle that wakes this driver from other threads (the unpark rule, module doc).
    pub fn unparker(&self) -> DriverUnparker {
        DriverUnparker {
            shared: self.shared.clone(),
        }
    }

    /// The reactor's handle, to register I/O sources outside [`enter`](Self::enter).
    pub fn io_handle(&self) -> IoHandle {
        self.reactor.borrow().handle()
    }

    /// The timer wheel.
    pub fn timers(&self) -> &Timers {
        &self.timers
    }

    /// The driver's clock: `Instant::now()`, or the virtual clock's reading.
    pub fn now(&self) -> Instant {
        self.timers.clock_now()
    }

    /// Whether any I/O source is registered (a hint: see [`Reactor::has_registrations`]).
    pub fn has_registrations(&self) -> bool {
        self.reactor.borrow().has_registrations()
    }

    /// Fires due timers, then polls I/O or sleeps until the next deadline, `timeout`, an I/O
    /// event or an [`DriverUnparker::unpark`] (the steps are in the module doc). `None` waits with
    /// no limit but the next deadline; `Some(Duration::ZERO)` never blocks.
    ///
    /// # Errors
    /// What epoll reports, except an interrupted wait, which is an ordinary early return.
    ///
    /// # Panics
    /// If this thread has not [entered](Self::enter) the driver, or if called from inside a
    /// waker run by this very `park` (a reentrant park).
    pub fn park(&self, timeout: Option<Duration>) -> io::Result<Parked> {
        assert!(
            self.is_entered(),
            "Driver::park called outside Driver::enter on this thread: the unpark rule relies \
             on it (see the driver's module doc)"
        );
        let mut parked = Parked::default();
        // Step 1: due timers.
        let (fired, next) = self.fire_due();
        parked.timers_fired = fired;
        // Step 2: how long to wait.
        let now = self.now();
        let until_deadline = next.map(|deadline| deadline.saturating_duration_since(now));
        let wait = if fired > 0 {
            Some(Duration::ZERO)
        } else {
            match (timeout, until_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        let mut reactor = self.reactor.borrow_mut();
        // Step 3: no wait.
        if wait == Some(Duration::ZERO) {
            if reactor.has_registrations() {
                parked.io_events = reactor.poll(Some(Duration::ZERO))?;
            }
            return Ok(parked);
        }
        // Step 4: the handshake's steps a to c (`park.rs`).
        if self.shared.flags.prepare() == Park::Skip {
            if reactor.has_registrations() {
                parked.io_events = reactor.poll(Some(Duration::ZERO))?;
            }
            return Ok(parked);
        }
        // Step 5: wait (or, on a virtual clock, jump to the deadline).
        let waited = match (self.timers.is_virtual(), wait) {
            (true, Some(wait)) => reactor.poll(Some(Duration::ZERO)).inspect(|&events| {
                if events == 0 {
                    self.timers.advance_virtual(now + wait);
                }
            }),
            _ => {
                parked.blocked = true;
                reactor.poll(wait)
            }
        };
        self.shared.flags.unparked();
        parked.io_events = waited?;
        drop(reactor);
        // Step 6: what came due meanwhile.
        if next.is_some() {
            parked.timers_fired += self.fire_due().0;
        }
        Ok(parked)
    }

    /// Fires the timers due at the driver's clock; returns how many, and the next deadline.
    fn fire_due(&self) -> (usize, Option<Instant>) {
        let Some(next) = self.timers.next_deadline() else {
            return (0, None);
        };
        let now = self.now();
        if next > now {
            return (0, Some(next));
        }
        self.timers.process_counting(now)
    }
}

impl Drop for Driver {
    /// Unparkers that outlive the driver let go of the reactor's fds; the reactor's own drop
    /// then wakes every task still waiting on a registration (it sees `Shutdown`).
    fn drop(&mut self) {
        self.shared
            .io
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("timers", &self.timers)
            .field("virtual_clock", &self.timers.is_virtual())
            .finish_non_exhaustive()
    }
}

/// Returned by [`Driver::enter`]; restores what was current before when dropped. `!Send`.
#[must_use = "the driver is entered only while the guard lives"]
pub struct DriverEnterGuard<'a> {
    previous: *const DriverShared,
    _timers: TimersEnterGuard,
    _io: IoEnterGuard,
    _driver: PhantomData<&'a Driver>,
}

impl Drop for DriverEnterGuard<'_> {
    fn drop(&mut self) {
        let _ = ENTERED.try_with(|entered| entered.set(self.previous));
    }
}

impl std::fmt::Debug for DriverEnterGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverEnterGuard").finish_non_exhaustive()
    }
}

/// Wakes a [`Driver`] from any thread, only when it is parked: `Send + Sync + Clone`.
#[derive(Clone, Debug)]
pub struct DriverUnparker {
    shared: Arc<DriverShared>,
}

impl DriverUnparker {
    /// Call after giving the driver's runtime work (the unpark rule, module doc): wakes the
    /// driver if it is parked or about to park; otherwise its next park returns at once.
    /// Does nothing on a thread that has entered the driver, or once the driver is dropped.
    #[inline]
    pub fn unpark(&self) {
        let here = ENTERED
            .try_with(|entered| std::ptr::eq(entered.get(), Arc::as_ptr(&self.shared)))
            .unwrap_or(false);
        if here {
            return;
        }
        if self.shared.flags.unpark() {
            let io = self
                .shared
                .io
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(io) = io.as_ref() {
                // An eventfd write fails only if its counter would overflow, which means
                // the driver has 2^64 - 1 wake-ups pending already: it will wake.
                let _ = io.wake();
            }
        }
    }

    /// Whether two unparkers wake the same driver.
    pub fn same_driver(&self, other: &DriverUnparker) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// The waker of a `block_on`'s own future: a flag that the runtime reads before polling the
/// future again, and an [`DriverUnparker`] to wake the driver for it.
///
/// The future passed to `block_on` is not a task (it lives on the caller's stack, and need
/// not be `'static`), so it has no task waker; this is its waker.
#[derive(Debug)]
pub struct BlockOnWaker {
    woken: AtomicBool,
    unparker: DriverUnparker,
}

impl BlockOnWaker {
    /// A waker for the future of a `block_on` on `driver`, initially woken (so the future is
    /// polled first thing).
    pub fn new(unparker: DriverUnparker) -> Arc<BlockOnWaker> {
        Arc::new(BlockOnWaker {
            woken: AtomicBool::new(true),
            unparker,
        })
    }

    /// A `Waker` for the future.
    pub fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(self.clone())
    }

    /// Consumes a wake: whether the future must be polled now.
    #[inline]
    pub fn take_woken(&self) -> bool {
        // A Relaxed load first, so that a loop that finds nothing costs no read-modify-write;
        // Acquire on the swap pairs with the Release store in `wake_by_ref`, so what the waker
        // wrote before waking is visible to the poll.
        self.woken.load(Ordering::Relaxed) && self.woken.swap(false, Ordering::Acquire)
    }

    /// Whether the future has been woken since the last [`take_woken`](Self::take_woken).
    #[inline]
    pub fn is_woken(&self) -> bool {
        self.woken.load(Ordering::Relaxed)
    }
}

impl Wake for BlockOnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.unparker.unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
