//! [`Interval`]: ticks every `period`, skipping the ticks it missed.
//!
//! ## Missed ticks: skip
//!
//! Ticks lie on a grid `start + k·period`. When the task comes back late (the loop was busy,
//! the process was suspended), the ticks that passed are *skipped*: the next tick is the first
//! grid point after now. The alternatives and why not:
//! - *burst* (fire every missed tick at once) turns one stall into a storm of work at the
//!   worst moment, and a sampler would record a run of bogus zero-length periods;
//! - *delay* (next tick = now + period) keeps the period between ticks but lets the phase
//!   drift with every late tick, so two intervals with the same period slowly diverge.
//!
//! Skip keeps the phase (ticks stay on the grid, so periodic samples remain comparable) and
//! never bursts; the cost is that a late tick reports fewer ticks than wall time allows,
//! which is what a periodic sampler or a heartbeat wants.
//!
//! "Now" is the later of `Instant::now()` and the wheel's clock ([`Timers::now`]), so a wheel
//! driven with synthetic instants (in tests) skips as a real one would; on a virtual clock
//! ([`Timers::new_virtual`]) it is the wheel's clock alone.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use super::handle::Timers;
use super::sleep::{Sleep, sleep_until};

/// Ticks every `period` on the thread's current [`Timers`], the first tick at once.
///
/// # Panics
/// If `period` is zero (an interval that never waits would starve the loop).
pub fn interval(period: Duration) -> Interval {
    interval_at(super::now(), period)
}

/// Ticks at `start`, `start + period`, ... on the thread's current [`Timers`].
///
/// # Panics
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Interval::from_sleep(sleep_until(start), period)
}

/// A stream of ticks on a fixed grid, skipping missed ones (see the module doc).
/// Use [`Interval::tick`] or the [`futures_core::Stream`] impl.
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
}

impl Interval {
    /// Ticks at `start`, `start + period`, ... on `timers`.
    ///
    /// # Panics
    /// If `period` is zero.
    pub fn new_in(timers: &Timers, start: Instant, period: Duration) -> Interval {
        Interval::from_sleep(Sleep::new_in(timers, start), period)
    }

    fn from_sleep(sleep: Sleep, period: Duration) -> Interval {
        assert!(
            period > Duration::ZERO,
            "an Interval needs a period greater than zero"
        );
        Interval { sleep, period }
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Waits for the next tick and returns its instant on the grid.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        ready!(Pin::new(&mut self.sleep).poll(cx));
        let tick = self.sleep.deadline();
        let now = match self.sleep.timers() {
            Some(timers) if timers.is_virtual() => timers.now(),
            Some(timers) => Instant::now().max(timers.now()),
            None => Instant::now(),
        };
        self.sleep.reset(next_tick(tick, self.period, now));
        Poll::Ready(tick)
    }
}

/// The first grid point `tick + k·period` (k ≥ 1) after `now`: skip what was missed.
fn next_tick(tick: Instant, period: Duration, now: Instant) -> Instant {
    let next = tick + period;
    if next > now {
        return next;
    }
    let behind = now.duration_since(tick).as_nanos();
    let periods = behind / period.as_nanos() + 1;
    let offset = period.as_nanos().saturating_mul(periods);
    tick + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_tick_skips_to_the_first_grid_point_after_now() {
        let t = Instant::now();
        let p = Duration::from_millis(10);
        assert_eq!(next_tick(t, p, t), t + p);
        assert_eq!(next_tick(t, p, t + Duration::from_millis(35)), t + 4 * p);
        // Exactly on a grid point: that one has passed, take the next.
        assert_eq!(next_tick(t, p, t + 3 * p), t + 4 * p);
    }
}
