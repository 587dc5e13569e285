//! The park/unpark handshake between a [`Driver`](super::Driver)'s thread and the threads
//! that give it work, written once; the loom model below checks these very functions.
//!
//! The steps carry the letters of the module doc of [`driver`](super) ("The unpark rule"),
//! where the argument is:
//!
//! ```text
//!   driver thread (Driver::park)              waking thread (DriverUnparker::unpark)
//!   a. parked.store(true)                     x. publish the work; notified.swap(true)
//!   b. fence(SeqCst)                          y. fence(SeqCst)
//!   c. if notified.swap(false): don't block   z. if parked.load(): io.wake()
//!   d. reactor.poll(timeout); parked = false
//! ```
//!
//! The model (`loom_tests`) stands in for what loom cannot see: the published work is a
//! counter, and the reactor's eventfd a `loom::sync::Notify` (a wake before the wait makes the
//! wait return at once, as an eventfd's counter does). Loom reports a deadlock if any
//! interleaving leaves the driver blocked with work published: a lost wake-up.

use crate::loom::sync::atomic::{AtomicBool, Ordering, fence};

/// Whether the driver may block, as [`ParkFlags::prepare`] decided.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Park {
    /// No unpark was seen after `parked` was published: block (step d), then call
    /// [`ParkFlags::unparked`]. An unpark from now on sees `parked` and wakes the reactor.
    Block,
    /// An unpark came since the last park: do not block (`parked` is already cleared).
    Skip,
}

/// The two flags of the handshake.
#[derive(Debug)]
pub(crate) struct ParkFlags {
    /// The driver is blocked in the reactor, or about to be.
    parked: AtomicBool,
    /// An unpark happened since the driver last consumed one at step c.
    notified: AtomicBool,
}

impl ParkFlags {
    pub(crate) fn new() -> ParkFlags {
        ParkFlags {
            parked: AtomicBool::new(false),
            notified: AtomicBool::new(false),
        }
    }

    /// Steps a to c, on the driver thread.
    pub(crate) fn prepare(&self) -> Park {
        // (a) Relaxed: the fence below orders it.
        self.parked.store(true, Ordering::Relaxed);
        // (b) SeqCst fence: pairs with fence (y) in `DriverUnparker::unpark`, so that (a) and the waker's
        // `notified` store cannot both be missed by the loads that follow each fence.
        fence(Ordering::SeqCst);
        // (c) Acquire: pairs with the Release store in `DriverUnparker::unpark`, so the work published before
        // it is visible to the driver's caller once this returns `Skip`. The token is consumed
        // only here, after the fence: clearing it anywhere else could erase an unpark whose
        // fence came before ours and which therefore did not wake the reactor.
        if self.notified.swap(false, Ordering::Acquire) {
            self.parked.store(false, Ordering::Relaxed);
            Park::Skip
        } else {
            Park::Block
        }
    }

    /// After step d, on the driver thread. Relaxed: a stale `true` read by a waker costs one
    /// spurious eventfd write, never a lost wake-up.
    pub(crate) fn unparked(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Steps x (the token) to z, on a waking thread, after it published its work: whether the
    /// driver may be blocked and must be woken through the reactor.
    pub(crate) fn unpark(&self) -> bool {
        // (x) Release: see (c). A swap, not a store: the driver consumes the token with a swap
        // at (c), and loom 0.7 lets a plain store slip between the read and the write of a
        // concurrent read-modify-write (tokio-rs/loom#254), reporting a lost token that no
        // real execution has; with an RMW here the model checks this very code. The cost is
        // one locked instruction, on the cross-thread path only.
        let _ = self.notified.swap(true, Ordering::Release);
        // (y) SeqCst fence: pairs with fence (b).
        fence(Ordering::SeqCst);
        // (z)
        self.parked.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::AtomicUsize;
    use loom::sync::Notify;

    /// A driver's flags, the work published to its scheduler, and its eventfd.
    struct Model {
        flags: ParkFlags,
        work: AtomicUsize,
        eventfd: Notify,
    }

    impl Model {
        /// A waking thread: publish work (a Release push, as a queue's), then unpark.
        fn give_work(&self) {
            self.work.fetch_add(1, Ordering::Release);
            if self.flags.unpark() {
                self.eventfd.notify();
            }
        }

        /// The driver's caller: take what was published; park when there is nothing, until it
        /// has seen `expected` units of work.
        fn run_driver(&self, expected: usize) {
            let mut taken = 0;
            loop {
                taken += self.work.swap(0, Ordering::Acquire);
                if taken == expected {
                    return;
                }
                match self.flags.prepare() {
                    Park::Skip => {}
                    Park::Block => {
                        self.eventfd.wait();
                        self.flags.unparked();
                    }
                }
            }
        }
    }

    /// Preemptions per execution: a lost wake-up here needs one; 3 is the bound CI uses.
    const PREEMPTION_BOUND: usize = 3;

    fn check(model: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound.get_or_insert(PREEMPTION_BOUND);
        builder.check(model);
    }

    fn new_model() -> Arc<Model> {
        Arc::new(Model {
            flags: ParkFlags::new(),
            work: AtomicUsize::new(0),
            eventfd: Notify::new(),
        })
    }

    /// One unpark from another thread while the driver parks.
    #[test]
    fn loom_driver_park_one_unpark() {
        check(|| {
            let model = new_model();
            let waker = {
                let model = model.clone();
                loom::thread::spawn(move || model.give_work())
            };
            model.run_driver(1);
            waker.join().unwrap();
        });
    }

    /// Two wakers on two threads.
    #[test]
    fn loom_driver_park_two_wakers() {
        check(|| {
            let model = new_model();
            let spawn = |model: Arc<Model>| loom::thread::spawn(move || model.give_work());
            let a = spawn(model.clone());
            let b = spawn(model.clone());
            model.run_driver(2);
            a.join().unwrap();
            b.join().unwrap();
        });
    }

    /// Two unparks in a row from one thread: the second comes after the driver may have
    /// woken from the first and parked again.
    #[test]
    fn loom_driver_park_two_unparks_across_two_parks() {
        check(|| {
            let model = new_model();
            let waker = {
                let model = model.clone();
                loom::thread::spawn(move || {
                    model.give_work();
                    model.give_work();
                })
            };
            model.run_driver(2);
            waker.join().unwrap();
        });
    }
}
