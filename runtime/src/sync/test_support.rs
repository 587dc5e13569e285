//! Helpers for the sync tests: a counting waker and a tiny `block_on` (the real loop is a
//! different part; these tests need nothing from it).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// A waker that counts its wakes.
#[derive(Default)]
pub(crate) struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A counting waker and its counter.
pub(crate) fn counting() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker::default());
    (counter.clone(), Waker::from(counter))
}

/// Unparks the blocked thread; the flag makes a wake before the park count.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// How long [`block_on`] waits for a wake-up before it declares a hang: far above any wait
/// these tests have (a few microseconds), so a lost wake-up fails the test with a message
/// instead of stalling the suite.
const HANG_LIMIT: Duration = Duration::from_secs(60);

/// Polls `future` on this thread until it completes, parking while it is pending.
///
/// # Panics
///
/// If no wake-up arrives for [`HANG_LIMIT`] while the future is pending: a lost wake-up.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let waiting_since = Instant::now();
        while !state.woken.swap(false, Ordering::Acquire) {
            // park_timeout may return early or spuriously; only the clock says it hung.
            thread::park_timeout(HANG_LIMIT);
            assert!(
                state.woken.load(Ordering::Acquire) || waiting_since.elapsed() < HANG_LIMIT,
                "no wake-up within {HANG_LIMIT:?} on thread {:?}: a lost wake-up",
                thread::current().name()
            );
        }
    }
}

/// Polls once with `waker`.
pub(crate) fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// A value that counts its drops, to check that each value is dropped exactly once.
#[derive(Debug)]
pub(crate) struct DropCounter(pub(crate) Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
