//! # A microsecond timeout for `epoll_wait`
//!
//! `epoll_wait` takes its timeout in whole milliseconds, and mio rounds a `Duration` *up*
//! to the next one so that it never returns early: a 1.05 ms wait becomes 2 ms, and a loop
//! whose next timer is 50 µs away sleeps a whole millisecond. So for a finite, non-zero
//! timeout the reactor arms a one-shot `timerfd` (CLOCK_MONOTONIC, nanosecond resolution)
//! that is registered in the same epoll set, and calls `epoll_wait` with no timeout: the
//! timerfd's expiry is the event that ends the wait. Cost: one `timerfd_settime` before the
//! wait, and after it either a `read` (the timer fired; drains its expiry count) or a second
//! `timerfd_settime` (something else woke us first; disarm, so a stale expiry does not cut
//! a later, longer wait short).
//!
//! Owned by the [`Reactor`](super::Reactor) and touched only by the thread inside
//! `Reactor::poll` (`&mut self`).
//!
//! ## Under Miri
//!
//! Miri emulates `epoll` and `eventfd` but not `timerfd_create`. Under `cfg(miri)` the
//! reactor therefore has no timerfd: [`PreciseTimeout::arm`] reports that it cannot arm, and
//! `Reactor::poll` passes the timeout to `epoll_wait` itself, which mio rounds up to the next
//! millisecond. A wait may then last up to a millisecond longer than asked, never shorter,
//! which is all the loop and the timers rely on; only the precision, which Miri's virtual
//! clock cannot measure anyway, is lost. Everything else in the reactor runs as in a normal
//! build, so Miri checks the same routing, wake-up and shutdown code.

#[cfg(not(miri))]
pub(crate) use timerfd::PreciseTimeout;

#[cfg(miri)]
pub(crate) use coarse::PreciseTimeout;

/// Whether [`PreciseTimeout::arm`] took charge of the timeout.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Armed {
    /// The timer's expiry ends the wait: call `epoll_wait` with no timeout.
    #[cfg_attr(miri, allow(dead_code))]
    Timer,
    /// No timer (Miri): give `epoll_wait` the timeout itself, at millisecond precision.
    #[cfg_attr(not(miri), allow(dead_code))]
    EpollTimeout,
}

#[cfg(not(miri))]
mod timerfd {
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::time::Duration;

    use mio::unix::SourceFd;
    use mio::{Interest, Registry};
    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, timerfd_create,
        timerfd_settime,
    };

    use super::super::token::TIMER_TOKEN;
    use super::Armed;

    /// A one-shot relative timer whose expiry is a readable event on the reactor's epoll set.
    pub(crate) struct PreciseTimeout {
        fd: OwnedFd,
        armed: bool,
    }

    impl PreciseTimeout {
        /// Creates the timerfd and registers it with `registry` under [`TIMER_TOKEN`].
        pub(crate) fn new(registry: &Registry) -> io::Result<PreciseTimeout> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            registry.register(
                &mut SourceFd(&fd.as_raw_fd()),
                TIMER_TOKEN,
                Interest::READABLE,
            )?;
            Ok(PreciseTimeout { fd, armed: false })
        }

        /// Makes the timer expire `after` from now. `after` must be non-zero: a zero
        /// `it_value` would disarm the timer instead.
        pub(crate) fn arm(&mut self, after: Duration) -> io::Result<Armed> {
            debug_assert!(!after.is_zero());
            self.set(after)?;
            self.armed = true;
            Ok(Armed::Timer)
        }

        /// The timer's event was delivered: drain its expiry count so the fd is quiet again.
        pub(crate) fn fired(&mut self) {
            self.armed = false;
            let mut expirations = [0u8; 8];
            // WouldBlock (already drained) is fine; nothing else can fail on a timerfd we own.
            let _ = rustix::io::read(&self.fd, &mut expirations);
        }

        /// Called after every wait: disarms the timer if it has not fired.
        pub(crate) fn disarm(&mut self) -> io::Result<()> {
            if self.armed {
                self.armed = false;
                self.set(Duration::ZERO)?;
            }
            Ok(())
        }

        fn set(&self, value: Duration) -> io::Result<()> {
            let spec = Itimerspec {
                it_interval: timespec(Duration::ZERO),
                it_value: timespec(value),
            };
            timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
            Ok(())
        }
    }

    fn timespec(d: Duration) -> rustix::time::Timespec {
        rustix::time::Timespec {
            // A wait of more than 2^63 seconds is "forever" for every practical purpose.
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        }
    }
}

/// The Miri stand-in: no timerfd, so no fd and nothing to arm (see the module doc).
#[cfg(miri)]
mod coarse {
    use std::io;
    use std::time::Duration;

    use mio::Registry;

    use super::Armed;

    pub(crate) struct PreciseTimeout;

    impl PreciseTimeout {
        pub(crate) fn new(_registry: &Registry) -> io::Result<PreciseTimeout> {
            Ok(PreciseTimeout)
        }

        pub(crate) fn arm(&mut self, after: Duration) -> io::Result<Armed> {
            debug_assert!(!after.is_zero());
            Ok(Armed::EpollTimeout)
        }

        pub(crate) fn fired(&mut self) {}

        pub(crate) fn disarm(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
