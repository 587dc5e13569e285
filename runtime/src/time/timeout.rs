//! [`Timeout`]: a future raced against a [`Sleep`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::coop;

use super::handle::Timers;
use super::sleep::{Sleep, far_add, sleep_until};

/// The error of a [`Timeout`] whose deadline passed before its future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed before the future completed")]
pub struct Elapsed(());

/// Runs `future` for at most `duration` on the thread's current [`Timers`] (see
/// [`sleep`](super::sleep) for how they are found), measured from [`now`](super::now).
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(far_add(super::now(), duration), future)
}

/// Runs `future` until `deadline` at most.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

/// A future that completes with `Ok(output)` if the inner future completes first, or
/// `Err(Elapsed)` once the deadline is reached. The inner future is polled first, so an
/// inner future that is ready at the deadline still wins.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F: Future> Timeout<F> {
    /// Runs `future` until `deadline` at most, on `timers`.
    pub fn new_in(timers: &Timers, deadline: Instant, future: F) -> Timeout<F> {
        Timeout {
            future,
            sleep: Sleep::new_in(timers, deadline),
        }
    }

    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }

    /// Gives back the inner future.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of a pinned
        // `Timeout` (no method takes it by value from `Pin<&mut Self>`, `into_inner` needs an
        // unpinned `self`, and there is no `Drop` impl), so pinning it in place is sound.
        // `sleep` is `Unpin` and is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.future` stays where it is for as long as `self` is pinned.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        if let Poll::Ready(output) = future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        // An inner future that spent the whole budget must not keep the deadline from being
        // seen: check the timer unconstrained then (as tokio's `Timeout` does).
        let sleep = Pin::new(&mut this.sleep);
        let elapsed = if coop::has_budget_remaining() {
            sleep.poll(cx)
        } else {
            coop::with_budget(coop::Budget::unconstrained(), || sleep.poll(cx))
        };
        elapsed.map(|()| Err(Elapsed(())))
    }
}
