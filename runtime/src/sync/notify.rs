//! [`Notify`]: wake one task, or all waiting tasks, without sending data.
//!
//! - [`Notify::notify_one`] wakes the oldest waiter; if no one waits it stores a single
//!   *permit* (several calls still store one), which the next [`Notify::notified`] consumes at
//!   once.
//! - [`Notify::notify_waiters`] wakes every task waiting now, and every [`Notified`] future
//!   created before the call even if not yet polled; it stores no permit.
//!
//! ```text
//!   Notified:  Init ──poll: permit or notify_waiters since creation──▶ Done
//!                │ poll: nothing yet → push_back
//!                ▼
//!              Waiting(key) ──poll: notified (pop_front by notify_one / notify_waiters)──▶ Done
//!                │ drop while notified by notify_one, before being polled:
//!                └──▶ hand the notification to the next waiter (or back as the permit)
//! ```
//!
//! State lives under one mutex (this is a slow-path primitive); `notify_waiters` also bumps a
//! generation counter, read at a `Notified`'s creation, so an unpolled future created before
//! the call completes.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::loom::sync::{Mutex, MutexGuard};

use super::wait_list::{Notification, WaitList};

/// Wakes tasks waiting in [`Notify::notified`]. `Send + Sync`; share it in an `Arc`.
pub struct Notify {
    state: Mutex<State>,
}

struct State {
    waiters: WaitList,
    /// A `notify_one` found no waiter.
    permit: bool,
    /// Calls to `notify_waiters` so far.
    generation: u64,
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Notify")
            .field("waiting", &state.waiters.linked())
            .field("permit", &state.permit)
            .finish()
    }
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    pub fn new() -> Notify {
        Notify {
            state: Mutex::new(State {
                waiters: WaitList::new(),
                permit: false,
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Updated by plain slab operations that do not panic half-way: still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes the oldest waiting task, or stores the permit if none waits.
    pub fn notify_one(&self) {
        let waker = {
            let mut state = self.lock();
            Self::notify_one_locked(&mut state)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn notify_one_locked(state: &mut State) -> Option<Waker> {
        let waker = state.waiters.pop_front(Notification::One);
        if waker.is_none() {
            state.permit = true;
        }
        waker
    }

    /// Wakes every task waiting now (and every [`Notified`] created before this call). Stores
    /// no permit.
    pub fn notify_waiters(&self) {
        let mut wakers = Vec::new();
        {
            let mut state = self.lock();
            state.generation += 1;
            state.waiters.drain(|waker| wakers.push(waker));
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    /// A future that completes at the next notification (or at once with a stored permit).
    pub fn notified(&self) -> Notified<'_> {
        let generation = self.lock().generation;
        Notified {
            notify: self,
            generation,
            state: NotifiedState::Init,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NotifiedState {
    Init,
    Waiting(usize),
    Done,
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// `notify_waiters` calls seen at creation.
    generation: u64,
    state: NotifiedState,
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut state = this.notify.lock();
        let done = match this.state {
            NotifiedState::Done => true,
            NotifiedState::Init => {
                if state.generation != this.generation {
                    true
                } else if state.permit {
                    state.permit = false;
                    true
                } else {
                    this.state = NotifiedState::Waiting(state.waiters.push_back(cx.waker()));
                    false
                }
            }
            NotifiedState::Waiting(key) => state.waiters.poll(key, cx.waker()).is_some(),
        };
        if done {
            this.state = NotifiedState::Done;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let NotifiedState::Waiting(key) = self.state else {
            return;
        };
        let waker = {
            let mut state = self.notify.lock();
            match state.waiters.remove(key) {
                // Picked by notify_one but dropped before using it: pass it on.
                Some(Notification::One) => Notify::notify_one_locked(&mut state),
                _ => None,
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}
