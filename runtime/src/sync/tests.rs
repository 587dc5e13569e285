//! Behaviour tests of the channels and `Notify`, with a tiny `block_on` and plain threads.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread;

use futures_core::Stream;

use super::test_support::{DropCounter, block_on, counting, poll_once};
use super::*;
use crate::coop;

/// Test sizes: small under Miri, larger natively.
const HAMMER: usize = if cfg!(miri) { 50 } else { 20_000 };

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn all_handles_are_send_and_sync() {
    assert_send_sync::<mpsc::Sender<String>>();
    assert_send_sync::<mpsc::Receiver<String>>();
    assert_send_sync::<oneshot::Sender<String>>();
    assert_send_sync::<oneshot::Receiver<String>>();
    assert_send_sync::<Notify>();
    assert_send_sync::<atomic_waker::AtomicWaker>();
}

// ---- mpsc ----------------------------------------------------------------------------

#[test]
fn mpsc_values_arrive_in_order_across_threads() {
    let (tx, mut rx) = mpsc::channel(4);
    let producer = thread::spawn(move || {
        block_on(async {
            for i in 0..HAMMER {
                tx.send(i).await.unwrap();
            }
        })
    });
    let received = block_on(async {
        let mut received = Vec::new();
        while let Some(i) = rx.recv().await {
            received.push(i);
        }
        received
    });
    producer.join().unwrap();
    assert_eq!(received, (0..HAMMER).collect::<Vec<_>>());
}

#[test]
fn mpsc_try_send_is_full_at_capacity_and_gives_the_value_back() {
    let (tx, mut rx) = mpsc::channel(3);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(rx.len(), 3);
    let err = tx.try_send(99).unwrap_err();
    assert!(err.is_full());
    assert_eq!(err.into_inner(), 99);
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(3).unwrap();
    assert!(tx.try_send(4).unwrap_err().is_full());
    assert_eq!(
        (1..4).map(|_| rx.try_recv().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn mpsc_capacity_zero_is_refused_with_a_clear_message() {
    let _ = mpsc::channel::<u8>(0);
}

#[test]
fn mpsc_try_recv_reports_empty_then_disconnected() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    tx.try_send(1).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1), "buffered values outlive the senders");
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
}

#[test]
fn mpsc_recv_yields_buffered_values_then_none_after_all_senders_drop() {
    let (tx, mut rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    tx.try_send(1).unwrap();
    tx2.try_send(2).unwrap();
    drop(tx);
    let (_, waker) = counting();
    assert_eq!(poll_once(&mut rx.recv(), &waker), Poll::Ready(Some(1)));
    assert_eq!(poll_once(&mut rx.recv(), &waker), Poll::Ready(Some(2)));
    assert!(
        poll_once(&mut rx.recv(), &waker).is_pending(),
        "one sender is left"
    );
    drop(tx2);
    assert_eq!(poll_once(&mut rx.recv(), &waker), Poll::Ready(None));
}

#[test]
fn mpsc_stream_yields_none_after_all_senders_drop() {
    let (tx, mut rx) = mpsc::channel(2);
    let producer = thread::spawn(move || {
        block_on(async {
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
        })
    });
    let sum = block_on(async {
        let mut sum = 0;
        while let Some(i) = poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
            sum += i;
        }
        sum
    });
    producer.join().unwrap();
    assert_eq!(sum, (0..100).sum::<i32>());
}

#[test]
fn mpsc_the_receiver_is_woken_by_a_send_and_by_the_last_sender_dropping() {
    let (tx, mut rx) = mpsc::channel(1);
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(rx.poll_recv(&mut cx).is_pending());
    tx.try_send(5).unwrap();
    assert_eq!(count.count(), 1);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(5)));
    assert!(rx.poll_recv(&mut cx).is_pending());
    drop(tx);
    assert_eq!(count.count(), 2);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
}

#[test]
fn mpsc_a_sender_waiting_for_space_is_woken_when_the_receiver_takes() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let (count, waker) = counting();
    let mut send = tx.send(2);
    assert!(poll_once(&mut send, &waker).is_pending());
    assert_eq!(count.count(), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(count.count(), 1, "the freed slot woke the sender");
    assert_eq!(poll_once(&mut send, &waker), Poll::Ready(Ok(())));
    drop(send);
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_waiting_senders_are_served_in_fifo_order() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let wakers: Vec<_> = (0..3).map(|_| counting()).collect();
    let mut sends: Vec<_> = (1..4).map(|i| tx.send(i)).collect();
    for (send, (_, waker)) in sends.iter_mut().zip(&wakers) {
        assert!(poll_once(send, waker).is_pending());
    }
    for (i, (count, waker)) in wakers.iter().enumerate() {
        assert_eq!(rx.try_recv(), Ok(i));
        assert_eq!(count.count(), 1, "sender {i} is next");
        assert_eq!(poll_once(&mut sends[i], waker), Poll::Ready(Ok(())));
    }
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn mpsc_a_picked_sender_that_is_dropped_passes_the_wake_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    let mut a = tx.send(1);
    let mut b = tx.send(2);
    assert!(poll_once(&mut a, &first_waker).is_pending());
    assert!(poll_once(&mut b, &second_waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((first.count(), second.count()), (1, 0));
    drop(a);
    assert_eq!(
        second.count(),
        1,
        "the cancelled sender handed its wake-up on"
    );
    assert_eq!(poll_once(&mut b, &second_waker), Poll::Ready(Ok(())));
}

#[test]
fn mpsc_dropping_the_receiver_wakes_waiting_senders_with_closed() {
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(String::from("buffered")).unwrap();
    let (count, waker) = counting();
    let mut send = tx.send(String::from("waiting"));
    assert!(poll_once(&mut send, &waker).is_pending());
    drop(rx);
    assert_eq!(count.count(), 1);
    match poll_once(&mut send, &waker) {
        Poll::Ready(Err(mpsc::SendError(value))) => assert_eq!(value, "waiting"),
        other => panic!("expected Closed, got {other:?}"),
    }
    assert!(tx.is_closed());
    assert!(tx.try_send(String::new()).unwrap_err().is_closed());
}

#[test]
fn mpsc_close_refuses_new_sends_but_drains_buffered_values() {
    let (tx, mut rx) = mpsc::channel(4);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    rx.close();
    assert!(tx.is_closed());
    assert!(matches!(tx.try_send(3), Err(mpsc::TrySendError::Closed(3))));
    let err = block_on(tx.send(4)).unwrap_err();
    assert_eq!(err.into_inner(), 4);
    assert!(err.to_string().contains("receiver was dropped or closed"));
    assert_eq!(block_on(rx.recv()), Some(1));
    assert_eq!(block_on(rx.recv()), Some(2));
    assert_eq!(
        block_on(rx.recv()),
        None,
        "closed and empty, though a sender lives"
    );
}

#[test]
fn mpsc_every_value_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::channel(8);
    for _ in 0..8 {
        tx.try_send(DropCounter(drops.clone())).unwrap();
    }
    let refused = tx.try_send(DropCounter(drops.clone())).unwrap_err();
    drop(refused);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the refused value came back once"
    );
    drop(rx.try_recv().unwrap());
    drop(rx.try_recv().unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        9,
        "the receiver's drop drops the buffer"
    );
    let closed = tx.try_send(DropCounter(drops.clone())).unwrap_err();
    assert!(closed.is_closed());
    drop(closed);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 10);
}

#[test]
fn mpsc_buffered_values_are_dropped_with_the_channel_when_senders_go_last() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    tx.try_send(DropCounter(drops.clone())).unwrap();
    tx2.try_send(DropCounter(drops.clone())).unwrap();
    drop(tx);
    drop(rx);
    drop(tx2);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn mpsc_no_lost_wakeup_with_four_senders_hammering_a_full_channel() {
    for capacity in [1, 3] {
        let (tx, mut rx) = mpsc::channel(capacity);
        let senders: Vec<_> = (0..4)
            .map(|id| {
                let tx = tx.clone();
                thread::spawn(move || {
                    block_on(async {
                        for seq in 0..HAMMER / 4 {
                            tx.send((id, seq)).await.unwrap();
                        }
                    })
                })
            })
            .collect();
        drop(tx);
        let mut next = [0usize; 4];
        let total = block_on(async {
            let mut total = 0;
            while let Some((id, seq)) = rx.recv().await {
                assert_eq!(seq, next[id], "sender {id}'s values arrive in its order");
                next[id] += 1;
                total += 1;
            }
            total
        });
        for sender in senders {
            sender.join().unwrap();
        }
        assert_eq!(total, HAMMER / 4 * 4);
        assert_eq!(next, [HAMMER / 4; 4]);
    }
}

#[test]
fn mpsc_capacity_one_ping_pong_between_two_threads() {
    let (ping_tx, mut ping_rx) = mpsc::channel(1);
    let (pong_tx, mut pong_rx) = mpsc::channel(1);
    let rounds = HAMMER / 4;
    let echo = thread::spawn(move || {
        block_on(async {
            while let Some(n) = ping_rx.recv().await {
                pong_tx.send(n + 1).await.unwrap();
            }
        })
    });
    block_on(async {
        for n in 0..rounds {
            ping_tx.send(n).await.unwrap();
            assert_eq!(pong_rx.recv().await, Some(n + 1));
        }
    });
    drop(ping_tx);
    echo.join().unwrap();
    assert_eq!(pong_rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
}

#[test]
fn mpsc_a_completed_receive_spends_budget() {
    let (tx, mut rx) = mpsc::channel(4);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    coop::with_budget(coop::Budget::new(1), || {
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
        assert!(rx.poll_recv(&mut cx).is_pending(), "budget spent: yield");
        assert_eq!(count.count(), 1, "and be rescheduled");
    });
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(2)));
}

#[test]
fn mpsc_an_empty_receive_does_not_spend_budget() {
    let (_tx, mut rx) = mpsc::channel::<u8>(1);
    let (_, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    coop::with_budget(coop::Budget::new(1), || {
        assert!(rx.poll_recv(&mut cx).is_pending());
        assert_eq!(coop::current().remaining(), Some(1));
    });
}

// ---- oneshot -------------------------------------------------------------------------

#[test]
fn oneshot_delivers_the_value() {
    let (tx, rx) = oneshot::channel();
    tx.send(7).unwrap();
    assert_eq!(block_on(rx), Ok(7));
}

#[test]
fn oneshot_a_waiting_receiver_is_woken_by_a_send_from_another_thread() {
    for _ in 0..if cfg!(miri) { 10 } else { 500 } {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(String::from("hi")).unwrap());
        assert_eq!(block_on(rx).unwrap(), "hi");
        t.join().unwrap();
    }
}

#[test]
fn oneshot_dropping_the_sender_fails_the_receiver() {
    let (tx, mut rx) = oneshot::channel::<u8>();
    let (count, waker) = counting();
    assert!(poll_once(&mut rx, &waker).is_pending());
    drop(tx);
    assert_eq!(count.count(), 1);
    let err = poll_once(&mut rx, &waker);
    assert!(matches!(err, Poll::Ready(Err(oneshot::RecvError { .. }))));
}

#[test]
fn oneshot_dropping_the_receiver_closes_the_sender() {
    let (mut tx, rx) = oneshot::channel::<u8>();
    assert!(!tx.is_closed());
    let (count, waker) = counting();
    assert!(poll_once(&mut Box::pin(tx.closed()), &waker).is_pending());
    drop(rx);
    assert_eq!(count.count(), 1, "closed() was woken");
    assert!(tx.is_closed());
    block_on(tx.closed());
    assert_eq!(tx.send(3), Err(3));
}

#[test]
fn oneshot_close_then_send_gives_the_value_back_but_a_value_sent_first_is_kept() {
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert_eq!(tx.send(1), Err(1));
    assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Closed));

    let (tx, mut rx) = oneshot::channel();
    tx.send(2).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn oneshot_try_recv_reports_empty_then_the_value() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Empty));
    tx.send(9).unwrap();
    assert_eq!(rx.try_recv(), Ok(9));
}

#[test]
fn oneshot_values_are_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel();
    tx.send(DropCounter(drops.clone())).unwrap();
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "an unreceived value dies with the channel"
    );

    let (tx, rx) = oneshot::channel();
    drop(rx);
    let refused = tx.send(DropCounter(drops.clone())).unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(refused);
    assert_eq!(drops.load(Ordering::SeqCst), 2);

    let (tx, rx) = oneshot::channel();
    tx.send(DropCounter(drops.clone())).unwrap();
    drop(block_on(rx).unwrap());
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn oneshot_send_racing_close_never_loses_or_duplicates_the_value() {
    for _ in 0..if cfg!(miri) { 10 } else { 2_000 } {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = oneshot::channel();
        let value = DropCounter(drops.clone());
        let t = thread::spawn(move || tx.send(value).is_ok());
        rx.close();
        let received = rx.try_recv().is_ok();
        let sent = t.join().unwrap();
        drop(rx);
        // Either the send won (the value is received, or dropped with the channel) or the
        // close won (the sender got it back); either way one drop.
        assert!(!received || sent);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

// ---- Notify --------------------------------------------------------------------------

#[test]
fn notify_one_without_waiters_stores_a_single_permit() {
    let notify = Notify::new();
    notify.notify_one();
    notify.notify_one();
    let (_, waker) = counting();
    assert!(poll_once(&mut Box::pin(notify.notified()), &waker).is_ready());
    assert!(
        poll_once(&mut Box::pin(notify.notified()), &waker).is_pending(),
        "permits do not accumulate"
    );
}

#[test]
fn notify_one_wakes_only_the_oldest_waiter() {
    let notify = Notify::new();
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    let mut a = Box::pin(notify.notified());
    let mut b = Box::pin(notify.notified());
    assert!(poll_once(&mut a, &first_waker).is_pending());
    assert!(poll_once(&mut b, &second_waker).is_pending());
    notify.notify_one();
    assert_eq!((first.count(), second.count()), (1, 0));
    assert!(poll_once(&mut a, &first_waker).is_ready());
    assert!(poll_once(&mut b, &second_waker).is_pending());
}

#[test]
fn notify_waiters_wakes_all_current_waiters_and_stores_no_permit() {
    let notify = Notify::new();
    let counters: Vec<_> = (0..3).map(|_| counting()).collect();
    let mut futures: Vec<_> = (0..3).map(|_| Box::pin(notify.notified())).collect();
    for (future, (_, waker)) in futures.iter_mut().zip(&counters) {
        assert!(poll_once(future, waker).is_pending());
    }
    notify.notify_waiters();
    for (future, (count, waker)) in futures.iter_mut().zip(&counters) {
        assert_eq!(count.count(), 1);
        assert!(poll_once(future, waker).is_ready());
    }
    let (_, waker) = counting();
    assert!(poll_once(&mut Box::pin(notify.notified()), &waker).is_pending());
}

#[test]
fn notify_waiters_completes_a_notified_created_before_it_even_unpolled() {
    let notify = Notify::new();
    let mut early = Box::pin(notify.notified());
    notify.notify_waiters();
    let mut late = Box::pin(notify.notified());
    let (_, waker) = counting();
    assert!(poll_once(&mut early, &waker).is_ready());
    assert!(poll_once(&mut late, &waker).is_pending());
}

#[test]
fn a_dropped_notified_passes_its_notify_one_on() {
    let notify = Notify::new();
    let (_, first_waker) = counting();
    let (second, second_waker) = counting();
    let mut a = Box::pin(notify.notified());
    let mut b = Box::pin(notify.notified());
    assert!(poll_once(&mut a, &first_waker).is_pending());
    assert!(poll_once(&mut b, &second_waker).is_pending());
    notify.notify_one();
    drop(a);
    assert_eq!(second.count(), 1);
    assert!(poll_once(&mut b, &second_waker).is_ready());
    drop(b);
    // A dropped picked waiter with no one behind it leaves the permit.
    let mut c = Box::pin(notify.notified());
    assert!(poll_once(&mut c, &first_waker).is_pending());
    notify.notify_one();
    drop(c);
    assert!(poll_once(&mut Box::pin(notify.notified()), &first_waker).is_ready());
}

#[test]
fn notify_one_across_threads_never_loses_a_wakeup() {
    let rounds = HAMMER / 10;
    let notify = Arc::new(Notify::new());
    let acks = Arc::new(Notify::new());
    let remote = (notify.clone(), acks.clone());
    let t = thread::spawn(move || {
        block_on(async {
            for _ in 0..rounds {
                remote.0.notified().await;
                remote.1.notify_one();
            }
        })
    });
    block_on(async {
        for _ in 0..rounds {
            notify.notify_one();
            acks.notified().await;
        }
    });
    t.join().unwrap();
}

/// A future polled once more after completion must not be confused with a new one.
#[test]
fn notified_stays_ready_after_completion() {
    let notify = Notify::new();
    notify.notify_one();
    let mut n = Box::pin(notify.notified());
    let (_, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert!(n.as_mut().poll(&mut cx).is_ready());
    assert!(n.as_mut().poll(&mut cx).is_ready());
}
