//! Loom models of the channel protocols: every interleaving (within loom's bounds) of a
//! sender and a receiver on other threads, checking that no wake-up is lost (a lost one
//! shows as a deadlock) and that values arrive once, in order.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p switchyard-runtime --lib
//! --target-dir target/loom sync::loom_`

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};

use loom::thread;

use super::atomic_waker::AtomicWaker;
use super::{Notify, mpsc, oneshot};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// Wakes a loom thread blocked in [`block_on`] (loom's `Notify` keeps one permit).
struct NotifyWaker(loom::sync::Notify);

impl Wake for NotifyWaker {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.notify();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.notify();
    }
}

/// Polls `future` on this loom thread, blocking it between polls until woken.
fn block_on<F: Future>(future: F) -> F::Output {
    let notify = std::sync::Arc::new(NotifyWaker(loom::sync::Notify::new()));
    let waker = Waker::from(notify.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        notify.0.wait();
    }
}

#[test]
fn loom_atomic_waker_wakes_during_a_claim_are_never_lost() {
    loom::model(|| {
        let slot = Arc::new(AtomicWaker::new());
        let events = Arc::new(AtomicUsize::new(0));
        let remote = (slot.clone(), events.clone());
        let t = thread::spawn(move || {
            for _ in 0..2 {
                remote.1.fetch_add(1, Ordering::Release);
                remote.0.wake();
            }
        });
        block_on(poll_fn(|cx| {
            if events.load(Ordering::Acquire) == 2 {
                return Poll::Ready(());
            }
            // SAFETY: only this thread registers.
            unsafe { slot.register(cx.waker()) };
            if events.load(Ordering::Acquire) == 2 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        t.join().unwrap();
    });
}

#[test]
fn loom_mpsc_capacity_one_sender_waits_and_is_woken() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || {
            block_on(async {
                tx.send(1).await.unwrap();
                tx.send(2).await.unwrap();
            })
        });
        let got = block_on(async { (rx.recv().await, rx.recv().await, rx.recv().await) });
        assert_eq!(got, (Some(1), Some(2), None));
        t.join().unwrap();
    });
}

/// Three threads over one slot: several minutes on a loaded 2-core machine even with
/// `LOOM_MAX_PREEMPTIONS=2`, so run on demand (`-- --ignored`).
#[test]
#[ignore = "slow: three threads; run with LOOM_MAX_PREEMPTIONS=2 -- --ignored"]
fn loom_mpsc_two_senders_one_slot() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let tx2 = tx.clone();
        let a = thread::spawn(move || block_on(tx.send(1)).unwrap());
        let b = thread::spawn(move || block_on(tx2.send(2)).unwrap());
        let mut got = block_on(async { [rx.recv().await, rx.recv().await, rx.recv().await] });
        got.sort();
        assert_eq!(got, [None, Some(1), Some(2)]);
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn loom_mpsc_receiver_drop_wakes_a_waiting_sender() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(Counted(drops.clone())).unwrap();
        let value = Counted(drops.clone());
        // The send never hangs: it fails with Closed (value returned and dropped here), or,
        // if it checked before the close and pushed after the receiver drained, succeeds
        // into the buffer, which is dropped with the channel.
        let t = thread::spawn(move || drop(block_on(tx.send(value))));
        drop(rx);
        t.join().unwrap();
        assert_eq!(
            drops.load(Ordering::Relaxed),
            2,
            "each value dropped exactly once"
        );
    });
}

#[test]
fn loom_oneshot_send_wakes_the_receiver() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(5).unwrap());
        assert_eq!(block_on(rx), Ok(5));
        t.join().unwrap();
    });
}

#[test]
fn loom_oneshot_close_racing_send_hands_the_value_to_exactly_one_side() {
    loom::model(|| {
        let (tx, mut rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(Box::new(7)).is_ok());
        rx.close();
        let received = rx.try_recv().is_ok();
        let sent = t.join().unwrap();
        assert!(!received || sent);
    });
}

#[test]
fn loom_notify_one_is_never_lost() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let remote = notify.clone();
        let t = thread::spawn(move || remote.notify_one());
        block_on(notify.notified());
        t.join().unwrap();
    });
}
