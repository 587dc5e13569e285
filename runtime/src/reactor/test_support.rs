//! Helpers for the reactor's and the net types' unit tests: a tiny `block_on` that
//! alternates polling a future and polling the reactor (the real event loop lives in the
//! scheduler crate), and a counting waker.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::Reactor;

/// How long `block_on` lets the reactor sit without any wake-up before it declares the
/// future hung (a lost wake-up), so a bug fails the test instead of stalling the suite.
const HANG_LIMIT: Duration = Duration::from_secs(10);

struct Flag {
    woken: AtomicBool,
    handle: super::IoHandle,
}

impl futures_task::ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        // Release pairs with the Acquire swap in block_on: the waking thread's writes are
        // visible to the next poll of the future.
        arc_self.woken.store(true, Ordering::Release);
        // Wakes from other threads must interrupt a blocked reactor.
        let _ = arc_self.handle.wake();
    }
}

/// Runs `future` to completion on this thread, driving `reactor` whenever it is pending.
/// Panics if no wake-up arrives for [`HANG_LIMIT`].
pub(crate) fn block_on<F: Future>(reactor: &mut Reactor, future: F) -> F::Output {
    let flag = Arc::new(Flag {
        woken: AtomicBool::new(true),
        handle: reactor.handle(),
    });
    let waker = futures_task::waker(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let _enter = reactor.handle().enter();
    loop {
        if flag.woken.swap(false, Ordering::Acquire) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            continue;
        }
        let started = Instant::now();
        reactor.poll(Some(HANG_LIMIT)).expect("reactor poll failed");
        // A poll that returned early without waking us (an event for another registration)
        // is fine; a whole HANG_LIMIT of silence is a hang.
        assert!(
            flag.woken.load(Ordering::Acquire) || started.elapsed() < HANG_LIMIT,
            "no wake-up within {HANG_LIMIT:?}: a lost wake-up"
        );
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
pub(crate) struct CountingWaker(pub(crate) AtomicUsize);

impl futures_task::ArcWake for CountingWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl CountingWaker {
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

struct Unpark {
    woken: AtomicBool,
    thread: std::thread::Thread,
}

impl futures_task::ArcWake for Unpark {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        // Release pairs with the Acquire swap in park_block_on.
        arc_self.woken.store(true, Ordering::Release);
        arc_self.thread.unpark();
    }
}

/// Runs `future` to completion on this thread without driving any reactor: another thread
/// must be running `Reactor::poll`. Panics if no wake-up arrives for [`HANG_LIMIT`].
pub(crate) fn park_block_on<F: Future>(future: F) -> F::Output {
    let unpark = Arc::new(Unpark {
        woken: AtomicBool::new(true),
        thread: std::thread::current(),
    });
    let waker = futures_task::waker(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if unpark.woken.swap(false, Ordering::Acquire) {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            continue;
        }
        let started = Instant::now();
        // park may return spuriously; the flag says whether it was a real wake.
        std::thread::park_timeout(HANG_LIMIT);
        assert!(
            unpark.woken.load(Ordering::Acquire) || started.elapsed() < HANG_LIMIT,
            "no wake-up within {HANG_LIMIT:?}: a lost wake-up"
        );
    }
}
