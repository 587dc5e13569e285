//! # The I/O driver: one worker at a time drives the reactor
//!
//! The pool owns one [`Reactor`] (and, through it, the readiness of every socket its tasks
//! use). Nobody owns it permanently: it sits behind a mutex, and
//!
//! 1. a worker about to sleep takes it with `try_lock` ([`SharedReactor::try_drive`]); if it gets it,
//!    it registers in the sleep protocol with [`IoHandle::wake`] as its way to be woken
//!    (instead of its `Parker`) and sleeps in [`Reactor::poll`] with no timeout (sleep.rs S4);
//!    the tasks that I/O events wake are scheduled from this worker's thread, so they land in
//!    its own LIFO slot and deque and run without a thread hop, and without a notify each
//!    (sleep.rs, S4: the worker is still listed as a sleeper while it dispatches, and a notify
//!    from there would pop the worker itself). Woken, it lets the driver go, and wakes a
//!    sleeping worker only if the events left more than two jobs on its seat (work to share:
//!    sleep.rs, S5); else the driver stays undriven until this worker (awake, so it will)
//!    sleeps again, or a busy worker polls it (step 3);
//! 2. a worker that finds the lock taken parks on its `Parker` as usual;
//! 3. busy workers poll the reactor without blocking every `global_queue_interval` ticks if
//!    the lock is free ([`SharedReactor::poll_now`]), so readiness is not starved while no worker
//!    sleeps.
//!
//! 4. **Timers.** The pool owns one [`Timers`](switchyard_runtime::time::Timers) wheel (it
//!    has its own lock). A worker about to sleep fires the due timers and sleeps no longer
//!    than the next deadline, in the reactor (timerfd precision, µs) or on its `Parker`
//!    (`park_timeout`), and fires them again when it wakes; busy workers fire due timers at
//!    step 3. A timer registered by a task is thus always watched: its worker is awake when
//!    it registers it, and either stays busy (step 3 every 61 ticks) or goes to sleep with a
//!    timeout that includes it. The driving worker does not need to be told about a new,
//!    earlier timer: whoever registered it is awake and watches it.
//!
//! Every pool thread enters the [`IoHandle`] and the `Timers` for its lifetime, so
//! `IoHandle::current()`, `Timers::current()` (and the net types' constructors, `sleep`,
//! `timeout`, `interval`) work from pool tasks.

use std::io;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;
use switchyard_runtime::reactor::{IoHandle, Reactor};

/// The pool's one reactor, shared by its workers and driven by one at a time, and a handle to
/// it. (Not the kit's `switchyard_runtime::driver::Driver`, a reactor and timers that one
/// thread parks in; the pool keeps its timer wheel apart, in `PoolShared::timers`.)
pub(crate) struct SharedReactor {
    reactor: Mutex<Reactor>,
    pub(crate) io: IoHandle,
}

/// The right to drive the reactor, held by one worker while it sleeps in it.
pub(crate) struct Driving<'a> {
    reactor: MutexGuard<'a, Reactor>,
}

impl SharedReactor {
    pub(crate) fn new(max_registrations: usize) -> io::Result<SharedReactor> {
        let reactor = Reactor::with_capacity(max_registrations)?;
        let io = reactor.handle();
        Ok(SharedReactor {
            reactor: Mutex::new(reactor),
            io,
        })
    }

    /// Step 1: takes the driver if nobody drives it.
    pub(crate) fn try_drive(&self) -> Option<Driving<'_>> {
        match self.reactor.try_lock() {
            Ok(reactor) => Some(Driving { reactor }),
            Err(TryLockError::Poisoned(poisoned)) => Some(Driving {
                reactor: poisoned.into_inner(),
            }),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Step 3: dispatches ready I/O without blocking, if the driver is free.
    pub(crate) fn poll_now(&self) {
        if let Some(mut driving) = self.try_drive() {
            driving.wait(Some(Duration::ZERO));
        }
    }
}

impl Driving<'_> {
    /// Waits in the reactor for readiness or an `IoHandle::wake`, up to `timeout`.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) {
        // An error here (other than EINTR, which the reactor absorbs) means epoll itself
        // failed; the worker goes on, and its next sleep uses its Parker's fallback timeout.
        if self.reactor.poll(timeout).is_err() {
            std::thread::yield_now();
        }
    }
}
