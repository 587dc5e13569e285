//! The naive executor's timer: one OS thread per sleep (the async book's `TimerFuture`).
//!
//! The first poll starts a thread that sleeps until the deadline, sets a flag and wakes
//! the last waker it was given. Costly (a thread per sleep) and as precise as
//! `std::thread::sleep`, plus the time for the woken task to come round the run queue:
//! exactly what the lab's latency experiment should show for a baseline.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A future that completes at a deadline; see [`sleep`].
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    shared: Option<Arc<Mutex<TimerShared>>>,
}

#[derive(Debug)]
struct TimerShared {
    fired: bool,
    waker: Option<Waker>,
}

/// Completes `duration` from now, woken by a thread of its own.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(Instant::now() + duration)
}

/// Completes at `deadline`, woken by a thread of its own.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        shared: None,
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(shared) = &self.shared {
            let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
            if shared.fired {
                return Poll::Ready(());
            }
            shared.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        let shared = Arc::new(Mutex::new(TimerShared {
            fired: false,
            waker: Some(cx.waker().clone()),
        }));
        let deadline = self.deadline;
        let theirs = Arc::clone(&shared);
        std::thread::spawn(move || {
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            let waker = {
                let mut shared = theirs.lock().unwrap_or_else(PoisonError::into_inner);
                shared.fired = true;
                shared.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        self.shared = Some(shared);
        Poll::Pending
    }
}
