//! `HyperTimer`: hyper's [`rt::Timer`] on the timer wheel of whichever runtime polls it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::hyper::rt;
use switchyard_runtime::time::{self, Sleep};

/// hyper's [`rt::Timer`] on Switchyard's timers.
///
/// Each sleep is a [`time::sleep_until`] on the thread's current
/// [`Timers`](switchyard_runtime::time::Timers), resolved where hyper creates it (or, if none
/// is current there, at its first poll): on the loop, the loop's wheel; in a pool task, the
/// pool's. The connection that owns the sleep runs on that same runtime, whose driver watches
/// the wheel, so one `HyperTimer` serves both models and needs no handle.
///
/// # Panics
/// A sleep polled on a thread inside no runtime panics (as [`time::sleep`] does): hyper's
/// `Timer` has no way to return an error. Serve connections from runtime tasks (or inside
/// [`EventLoop::block_on`](switchyard_scheduler::local::EventLoop::block_on)).
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer;

/// A [`Sleep`] as hyper's [`rt::Sleep`] (hyper's trait is foreign to both crates, hence the
/// wrapper).
#[derive(Debug)]
pub struct HyperSleep(Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl rt::Sleep for HyperSleep {}

impl rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(HyperSleep(time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(HyperSleep(time::sleep_until(deadline)))
    }

    /// Moves the sleep in place (its timer moves within the wheel) when it is one of ours,
    /// instead of allocating a new one.
    fn reset(&self, sleep: &mut Pin<Box<dyn rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HyperSleep>() {
            Some(ours) => ours.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
