//! The loop's park/wake handshake, written once: the loop thread calls
//! [`ParkFlag::prepare`] and [`ParkFlag::unparked`] around its wait in the reactor
//! (`EventLoop::poll_io`), and a waking thread calls [`ParkFlag::must_wake`] after it has
//! published work (`Shared::unpark`). The steps carry the letters of the module doc of
//! `local` ("Parking without lost wake-ups"), where the argument is; this file holds only the
//! code, so that the loom model below checks the very functions the loop runs.
//!
//! The model (`loom_tests`) stands in for what loom cannot see: the remote queue is a counter,
//! `main_woken` a flag, and the reactor's eventfd a `loom::sync::Notify` (a wake before the
//! wait makes the wait return at once, as an eventfd's counter does). Loom reports a deadlock
//! if any interleaving leaves the loop blocked with work published: a lost wake-up.

use switchyard_runtime::loom::sync::atomic::{AtomicBool, Ordering, fence};

/// Whether the loop may block in the reactor, as [`ParkFlag::prepare`] decided.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Park {
    /// Nothing to do was seen after `parked` was published: block (step d), then call
    /// [`ParkFlag::unparked`]. A waker that publishes work from now on sees `parked` and
    /// wakes the reactor.
    Block,
    /// Work arrived meanwhile: do not block (`parked` is already cleared).
    Skip,
}

/// The loop's `parked` flag: set while the loop is blocked in the reactor, or about to be.
pub(super) struct ParkFlag {
    parked: AtomicBool,
}

impl ParkFlag {
    pub(super) fn new() -> ParkFlag {
        ParkFlag {
            parked: AtomicBool::new(false),
        }
    }

    /// Steps a to c, on the loop thread: publish `parked`, then look for work with
    /// `has_work` (the remote queue and `main_woken`).
    pub(super) fn prepare(&self, has_work: impl FnOnce() -> bool) -> Park {
        // (a) Relaxed: the fence below orders it.
        self.parked.store(true, Ordering::Relaxed);
        // (b) SeqCst fence: pairs with fence (y) in `must_wake`, so that (a) and the waker's
        // (x) cannot both be missed by the loads that follow each fence.
        fence(Ordering::SeqCst);
        // (c)
        if has_work() {
            self.parked.store(false, Ordering::Relaxed);
            Park::Skip
        } else {
            Park::Block
        }
    }

    /// After step d, on the loop thread: the loop is running again, and a waker need not
    /// write to the eventfd. Relaxed: a stale `true` read by a waker costs one spurious
    /// eventfd write, never a lost wake-up.
    pub(super) fn unparked(&self) {
        self.parked.store(false, Ordering::Relaxed);
    }

    /// Steps y and z, on a waking thread, after it published work (step x): whether the
    /// loop may be blocked in the reactor and must be woken through the eventfd.
    pub(super) fn must_wake(&self) -> bool {
        // (y) SeqCst fence: pairs with fence (b) in `prepare`.
        fence(Ordering::SeqCst);
        // (z)
        self.parked.load(Ordering::Relaxed)
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Notify;
    use switchyard_runtime::loom::sync::Arc;
    use switchyard_runtime::loom::sync::atomic::AtomicUsize;

    /// What the loop's `Shared` holds, as far as the handshake goes.
    struct Model {
        flag: ParkFlag,
        /// The remote queue: runnables pushed by `LoopHandle::spawn` and by wakers.
        remote: AtomicUsize,
        /// The main future's waker fired.
        main_woken: AtomicBool,
        /// The reactor's eventfd.
        eventfd: Notify,
    }

    impl Model {
        /// Step x for a remote spawn or a task's wake (`Shared::push_remote`): the queue's push
        /// is a Release store, as the injector's is; then `Shared::unpark`.
        fn push_remote(&self) {
            self.remote.fetch_add(1, Ordering::Release);
            self.unpark();
        }

        /// Step x for the main future's waker (`Shared::wake_by_ref`), then `Shared::unpark`.
        /// The loop's code stores `true`; the model swaps it in, because loom 0.7 lets a plain
        /// store slip between the read and the write of a concurrent read-modify-write
        /// (tokio-rs/loom#254), which makes the loop's `swap(false)` lose it and reports a
        /// deadlock that no real execution has. The handshake under test is unchanged.
        fn wake_main(&self) {
            self.main_woken.swap(true, Ordering::Release);
            self.unpark();
        }

        /// `Shared::unpark`.
        fn unpark(&self) {
            if self.flag.must_wake() {
                self.eventfd.notify();
            }
        }

        /// `EventLoop::poll_io`'s check (c), as the loop writes it.
        fn has_work(&self) -> bool {
            self.main_woken.load(Ordering::Relaxed) || self.remote.load(Ordering::Relaxed) > 0
        }

        /// The loop: take what was published (steps 1 and 2 of a tick), park when there is
        /// nothing (step 5), until it has seen `remote` runnables and, if `main`, the main
        /// waker.
        fn run_loop(&self, remote: usize, main: bool) {
            let mut taken = 0;
            let mut main_seen = !main;
            loop {
                if self.main_woken.swap(false, Ordering::Acquire) {
                    main_seen = true;
                }
                taken += self.remote.swap(0, Ordering::Acquire);
                if taken == remote && main_seen {
                    return;
                }
                match self.flag.prepare(|| self.has_work()) {
                    Park::Skip => {}
                    Park::Block => {
                        // Step d: blocks until the eventfd is written (or was since its last
                        // wait). If nobody writes it, loom reports the deadlock.
                        self.eventfd.wait();
                        self.flag.unparked();
                    }
                }
            }
        }
    }

    /// Preemptions per execution unless LOOM_MAX_PREEMPTIONS says otherwise: a lost wake-up
    /// here needs one; 3 is the bound CI uses for every model.
    const PREEMPTION_BOUND: usize = 3;

    fn check(model: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound.get_or_insert(PREEMPTION_BOUND);
        builder.check(model);
    }

    fn new_model() -> Arc<Model> {
        Arc::new(Model {
            flag: ParkFlag::new(),
            remote: AtomicUsize::new(0),
            main_woken: AtomicBool::new(false),
            eventfd: Notify::new(),
        })
    }

    /// One task woken (or spawned) from another thread while the loop parks.
    #[test]
    fn loom_loop_park_remote_wake() {
        check(|| {
            let model = new_model();
            let waker = {
                let model = model.clone();
                loom::thread::spawn(move || model.push_remote())
            };
            model.run_loop(1, false);
            waker.join().unwrap();
        });
    }

    /// A remote spawn and the main future's waker, on two threads, while the loop parks.
    #[test]
    fn loom_loop_park_remote_spawn_and_main_wake() {
        check(|| {
            let model = new_model();
            let spawner = {
                let model = model.clone();
                loom::thread::spawn(move || model.push_remote())
            };
            let main_waker = {
                let model = model.clone();
                loom::thread::spawn(move || model.wake_main())
            };
            model.run_loop(1, true);
            spawner.join().unwrap();
            main_waker.join().unwrap();
        });
    }

    /// Two remote wakes in a row from one thread: the second comes after the loop may have
    /// unparked from the first and parked again.
    #[test]
    fn loom_loop_park_two_wakes_across_two_parks() {
        check(|| {
            let model = new_model();
            let waker = {
                let model = model.clone();
                loom::thread::spawn(move || {
                    model.push_remote();
                    model.push_remote();
                })
            };
            model.run_loop(2, false);
            waker.join().unwrap();
        });
    }
}
