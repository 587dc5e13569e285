//! # `Reactor`: the driver side
//!
//! Owns the `mio::Poll`, the events buffer and the precise-timeout timerfd; one thread at a
//! time calls [`Reactor::poll`] (`&mut self` enforces it). One `poll` is five steps,
//! numbered in its body: choose how to wait (arm the timerfd for a finite non-zero
//! timeout; under Miri, which has no timerfd, pass the timeout to epoll), wait in
//! `epoll_wait`, route the events to their registrations under one
//! table lock, drain or disarm the timerfd, and wake the collected wakers after the lock
//! is released (steps 3 and 4 of the module doc's "How readiness flows").

use std::io;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::Duration;

use mio::{Events, Poll};

use super::handle::{IoHandle, ReactorShared};
use super::scheduled_io::{READ_CLOSED, READABLE, WRITABLE, WRITE_CLOSED};
use super::table::RegistrationTable;
use super::timer::{Armed, PreciseTimeout};
use super::token::{Key, TIMER_TOKEN, WAKER_TOKEN};

/// The registration table's capacity when none is given. Far above the common soft
/// `RLIMIT_NOFILE` of 1024 and enough for the lab's scale experiments; the slab grows on
/// demand, so an unused capacity costs nothing. Picked, not measured.
pub const DEFAULT_MAX_REGISTRATIONS: usize = 1 << 16;

/// Events taken from the kernel per `epoll_wait`. 1024 is tokio's figure
/// (`EVENTS_CAPACITY` in its I/O driver); more events wait for the next call, in order.
const EVENTS_CAPACITY: usize = 1024;

/// The reactor: `mio::Poll` plus the table that routes its events to tasks.
pub struct Reactor {
    poll: Poll,
    events: Events,
    timeout: PreciseTimeout,
    handle: IoHandle,
    /// Wakers collected under the table lock, woken after it is released. Kept between
    /// calls so that a steady state allocates nothing.
    to_wake: Vec<Waker>,
}

impl Reactor {
    /// A reactor with room for [`DEFAULT_MAX_REGISTRATIONS`] registrations.
    pub fn new() -> io::Result<Reactor> {
        Reactor::with_capacity(DEFAULT_MAX_REGISTRATIONS)
    }

    /// A reactor whose table holds at most `max_registrations` sources (at most
    /// [`MAX_REGISTRATIONS`](super::MAX_REGISTRATIONS)); one more fails with
    /// [`ReactorError::TableFull`](super::ReactorError::TableFull).
    pub fn with_capacity(max_registrations: usize) -> io::Result<Reactor> {
        let table = RegistrationTable::new(max_registrations)?;
        let poll = Poll::new()?;
        // A second Registry on a duplicate of the epoll fd: handles outlive `&self` borrows
        // of the Poll, and may outlive the Reactor itself (then they see `Shutdown`).
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let timeout = PreciseTimeout::new(poll.registry())?;
        let shared = Arc::new(ReactorShared {
            registry,
            waker,
            table: Mutex::new(table),
            live: std::sync::atomic::AtomicUsize::new(0),
        });
        Ok(Reactor {
            poll,
            events: Events::with_capacity(EVENTS_CAPACITY),
            timeout,
            handle: IoHandle { shared },
            to_wake: Vec::new(),
        })
    }

    /// A handle to this reactor, for registering sources and waking it from other threads.
    pub fn handle(&self) -> IoHandle {
        self.handle.clone()
    }

    /// Whether any I/O source is registered. A hint, read without a lock: a scheduler with
    /// ready work uses it to skip a zero-timeout poll that could report nothing (the mio
    /// `Waker` is not a registration; wake-ups are for a blocked driver, and one that is not
    /// blocked finds its work without them).
    pub fn has_registrations(&self) -> bool {
        self.handle
            .shared
            .live
            .load(std::sync::atomic::Ordering::Relaxed)
            != 0
    }

    /// Waits for readiness and wakes the tasks whose readiness changed.
    ///
    /// `None` blocks until an event or [`IoHandle::wake`]; `Some(Duration::ZERO)` only
    /// collects what is already there; any other timeout is honoured to the microsecond
    /// (through a timerfd: epoll's own timeout is in milliseconds). Returns how many events
    /// were delivered to live registrations (wake-ups and the timeout itself not counted).
    /// A signal interrupting the wait is not an error: it returns `Ok(0)` early, like a
    /// wake-up.
    pub fn poll(&mut self, timeout: Option<Duration>) -> io::Result<usize> {
        // Step 1: choose how to wait.
        let epoll_timeout = match timeout {
            Some(t) if !t.is_zero() => match self.timeout.arm(t)? {
                Armed::Timer => None,
                // Under Miri only: no timerfd (`timer.rs`).
                Armed::EpollTimeout => Some(t),
            },
            other => other,
        };
        // Step 2: wait.
        let waited = self.poll.poll(&mut self.events, epoll_timeout);
        if let Err(error) = waited {
            let disarmed = self.timeout.disarm();
            return match error.kind() {
                io::ErrorKind::Interrupted => disarmed.map(|()| 0),
                // The wait's error is the one worth reporting.
                _ => Err(error),
            };
        }
        // Step 3: route each event to its registration, under one short table lock.
        let mut delivered = 0;
        let mut timeout_fired = false;
        {
            let table = self.handle.shared.lock_table();
            for event in self.events.iter() {
                match event.token() {
                    WAKER_TOKEN => {}
                    TIMER_TOKEN => timeout_fired = true,
                    token => {
                        let Some(key) = Key::from_token(token) else {
                            continue;
                        };
                        if table.dispatch(key, readiness_of(event), &mut self.to_wake) {
                            delivered += 1;
                        }
                    }
                }
            }
        }
        // Step 4: drain the timeout if it fired, disarm it if it did not.
        if timeout_fired {
            self.timeout.fired();
        }
        self.timeout.disarm()?;
        // Step 5: wake, outside every lock (a waker runs scheduler code).
        self.to_wake.drain(..).for_each(Waker::wake);
        Ok(delivered)
    }

    /// Delivers readiness `ready` for `token` as if epoll had reported it; for tests of
    /// the routing (a stale token must not reach a new registration).
    #[cfg(test)]
    pub(crate) fn inject(&mut self, token: mio::Token, ready: usize) -> bool {
        let delivered = Key::from_token(token).is_some_and(|key| {
            self.handle
                .shared
                .lock_table()
                .dispatch(key, ready, &mut self.to_wake)
        });
        self.to_wake.drain(..).for_each(Waker::wake);
        delivered
    }
}

/// Maps an epoll event onto our readiness bits. An error (EPOLLERR) makes both directions
/// ready: the next read or write, or a connect's `SO_ERROR` check, is what reports it.
fn readiness_of(event: &mio::event::Event) -> usize {
    let mut ready = 0;
    if event.is_readable() || event.is_error() {
        ready |= READABLE;
    }
    if event.is_writable() || event.is_error() {
        ready |= WRITABLE;
    }
    if event.is_read_closed() {
        ready |= READ_CLOSED;
    }
    if event.is_write_closed() {
        ready |= WRITE_CLOSED;
    }
    ready
}

impl Drop for Reactor {
    /// Registrations may outlive the reactor (a socket kept in a struct); they are marked
    /// dead and their waiting tasks woken, so those tasks see an error instead of hanging.
    fn drop(&mut self) {
        self.handle.shared.lock_table().shutdown(&mut self.to_wake);
        self.to_wake.drain(..).for_each(Waker::wake);
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}
