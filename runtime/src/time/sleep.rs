//! [`Sleep`]: a future that completes at a deadline.
//!
//! ```text
//!                 first poll: insert           process(now) fires it,
//!   Unregistered ─────────────────────▶ Registered(key) ─────────────▶ (key stale)
//!        │  ▲                              │        poll_key → Gone        │
//!        │  └─── reset (key stale) ────────┘                               ▼
//!        └─── first poll, deadline already due ─────────────────────────▶ Fired
//! ```
//!
//! 1. Nothing touches the wheel until the first poll (`Sleep::poll` → `Wheel::insert`), so a
//!    `Sleep` created and dropped unpolled costs nothing.
//! 2. Later polls re-store the waker only if it would not wake the same task (`will_wake`).
//! 3. Dropping a registered `Sleep` cancels its timer (O(1), `Wheel::cancel`).
//! 4. A poll spends one unit of the task's [`coop`](crate::coop) budget when it completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use crate::coop;

use super::entry::TimerKey;
use super::handle::Timers;
use super::wheel::{EntryState, Inserted};

/// Where a [`Sleep`] is in its life (diagram in the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Unregistered,
    Registered(TimerKey),
    Fired,
}

/// A future that completes once its deadline is reached and the wheel has processed it.
///
/// Created by [`sleep`], [`sleep_until`] or [`Sleep::new_in`]. `Unpin`: the timer lives in
/// the wheel's slab, not in the future.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    /// `None` until first polled when created outside a runtime.
    timers: Option<Timers>,
    deadline: Instant,
    state: State,
}

/// Sleeps for `duration`, on the thread's current [`Timers`] (resolved now, or at the first
/// poll if there is none now), measured from that wheel's clock ([`Timers::clock_now`]: a
/// virtual clock's reading under one).
///
/// # Panics
/// On the first poll, if no [`Timers`] was current either at creation or at that poll.
pub fn sleep(duration: Duration) -> Sleep {
    let timers = Timers::current().ok();
    let now = timers.as_ref().map_or_else(Instant::now, Timers::clock_now);
    Sleep {
        timers,
        deadline: far_add(now, duration),
        state: State::Unregistered,
    }
}

/// Sleeps until `deadline`, on the thread's current [`Timers`] (see [`sleep`]).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        timers: Timers::current().ok(),
        deadline,
        state: State::Unregistered,
    }
}

/// `start + duration`, saturating at about 30 years from `start` (the wheel treats anything
/// that far as "never" anyway, and `Instant` panics on overflow).
pub(crate) fn far_add(start: Instant, duration: Duration) -> Instant {
    /// Thirty years, as tokio's `far_future`: beyond any program's life, well inside `Instant`.
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    start.checked_add(duration.min(FAR)).unwrap_or(start)
}

impl Sleep {
    /// Sleeps until `deadline` on `timers`.
    pub fn new_in(timers: &Timers, deadline: Instant) -> Sleep {
        Sleep {
            timers: Some(timers.clone()),
            deadline,
            state: State::Unregistered,
        }
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the timer has fired (as seen at the last poll or reset).
    pub fn is_elapsed(&self) -> bool {
        self.state == State::Fired
    }

    /// The wheel this sleep uses, once known.
    pub(crate) fn timers(&self) -> Option<&Timers> {
        self.timers.as_ref()
    }

    /// Moves the deadline to `deadline`, also after the sleep completed (it then runs again).
    ///
    /// A registered timer is moved in place and keeps waking the same task; if the new
    /// deadline is already due, that task is woken now.
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let State::Registered(key) = self.state else {
            self.state = State::Unregistered;
            return;
        };
        let timers = self
            .timers
            .as_ref()
            .expect("a registered sleep knows its timers");
        let (moved, driver_wake) = {
            let mut wheel = timers.lock();
            (wheel.reset(key, deadline), wheel.take_driver_wake())
        };
        if let Some(wake) = driver_wake {
            wake();
        }
        match moved {
            Ok(None) => {}
            Ok(Some(waker)) => {
                self.state = State::Unregistered;
                waker.wake();
            }
            Err(()) => self.state = State::Unregistered,
        }
    }

    fn resolve_timers(&mut self) -> &Timers {
        self.timers.get_or_insert_with(|| match Timers::current() {
            Ok(timers) => timers,
            Err(error) => panic!("a Sleep was polled outside a runtime: {error}"),
        })
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let grant = ready!(coop::poll_proceed(cx));
        let fired = match this.state {
            State::Fired => true,
            State::Unregistered => {
                let deadline = this.deadline;
                let (inserted, driver_wake) = {
                    let mut wheel = this.resolve_timers().lock();
                    (wheel.insert(deadline, cx.waker()), wheel.take_driver_wake())
                };
                if let Some(wake) = driver_wake {
                    wake();
                }
                match inserted {
                    Inserted::AlreadyDue => true,
                    Inserted::Registered(key) => {
                        this.state = State::Registered(key);
                        false
                    }
                }
            }
            State::Registered(key) => {
                let timers = this.timers.as_ref().expect("registered implies resolved");
                let state = timers.lock().poll_key(key, cx.waker());
                state == EntryState::Gone
            }
        };
        if fired {
            this.state = State::Fired;
            grant.made_progress();
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (State::Registered(key), Some(timers)) = (self.state, &self.timers) {
            timers.lock().cancel(key);
        }
    }
}
