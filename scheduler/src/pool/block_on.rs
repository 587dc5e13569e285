//! # `block_on`: wait for a future from outside the pool
//!
//! The calling thread polls the future itself and parks on a [`Parker`] between polls; the
//! future's waker unparks it. A wake that comes during the poll leaves a token, so the park
//! after a `Pending` returns at once and the future is polled again: no wake-up is lost
//! (park.rs). Meant for threads outside the pool (`main`, a test): called from a pool job it
//! blocks that worker, which the stall monitor then treats as a stall.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use switchyard_runtime::park::{Parker, Unparker};

struct UnparkWaker(Unparker);

impl Wake for UnparkWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let parker = Parker::new();
    let waker = Waker::from(Arc::new(UnparkWaker(parker.unparker())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        parker.park();
    }
}
