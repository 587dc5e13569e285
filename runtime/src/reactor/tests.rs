//! Behaviour tests of the reactor, driven by hand (no scheduler).

use std::sync::{Arc, Barrier};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::UnixStream;

use super::scheduled_io::READABLE;
use super::test_support::CountingWaker;
use super::*;

/// Writes all of `bytes` with write(2). Miri's socketpair knows read(2) and write(2), not the
/// send(2) and recv(2) that std's `UnixStream` uses, so these tests stick to the former.
fn send(stream: &UnixStream, bytes: &[u8]) {
    assert_eq!(rustix::io::write(stream, bytes).unwrap(), bytes.len());
}

fn counting_waker() -> (Arc<CountingWaker>, std::task::Waker) {
    let count = Arc::new(CountingWaker::default());
    let waker = futures_task::waker(count.clone());
    (count, waker)
}

#[test]
fn stale_token_does_not_wake_a_new_registration() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut a, _a_peer) = UnixStream::pair().unwrap();
    let old = handle.register(&mut a, Interest::READABLE).unwrap();
    let stale_token = old.token();
    old.deregister(&mut a).unwrap();
    drop(old);

    let (mut b, _b_peer) = UnixStream::pair().unwrap();
    let new = handle.register(&mut b, Interest::READABLE).unwrap();
    // The slab reuses the index; only the generation tells the two apart.
    assert_ne!(new.token(), stale_token);
    let (count, waker) = counting_waker();
    assert!(
        new.poll_read_ready(&mut Context::from_waker(&waker))
            .is_pending()
    );

    assert!(
        !reactor.inject(stale_token, READABLE),
        "stale token delivered"
    );
    assert_eq!(count.count(), 0, "a stale token woke the new registration");
    assert!(
        new.poll_read_ready(&mut Context::from_waker(&waker))
            .is_pending()
    );

    // The live token does get through, so the test above could have failed.
    assert!(reactor.inject(new.token(), READABLE));
    assert_eq!(count.count(), 1);
}

#[test]
fn full_table_gives_an_error_naming_capacity_and_remedy() {
    let reactor = Reactor::with_capacity(2).unwrap();
    let handle = reactor.handle();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (mut c, _d) = UnixStream::pair().unwrap();
    let ra = handle.register(&mut a, Interest::READABLE).unwrap();
    let _rb = handle.register(&mut b, Interest::READABLE).unwrap();
    let error = handle.register(&mut c, Interest::READABLE).unwrap_err();
    assert_eq!(
        ReactorError::of(&error),
        Some(&ReactorError::TableFull { capacity: 2 })
    );
    let message = error.to_string();
    assert!(message.contains("full (2 registrations"), "{message}");
    assert!(message.contains("Reactor::with_capacity"), "{message}");

    // Freeing a slot makes room again.
    ra.deregister(&mut a).unwrap();
    drop(ra);
    assert_eq!(handle.registrations(), 1);
    handle.register(&mut c, Interest::READABLE).unwrap();
}

#[test]
fn capacity_beyond_the_token_space_is_refused() {
    let error = Reactor::with_capacity(MAX_REGISTRATIONS + 1).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(matches!(
        ReactorError::of(&error),
        Some(ReactorError::CapacityTooLarge { .. })
    ));
}

#[test]
fn wake_from_another_thread_unblocks_poll() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let barrier = Arc::new(Barrier::new(2));
    let waker_thread = {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            handle.wake().unwrap();
        })
    };
    barrier.wait();
    // Blocks with no timeout: only the wake can end it (before or after we enter epoll).
    assert_eq!(
        reactor.poll(None).unwrap(),
        0,
        "a wake-up is not an I/O event"
    );
    waker_thread.join().unwrap();
}

#[test]
fn timeout_of_300us_waits_at_least_300us() {
    let mut reactor = Reactor::new().unwrap();
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(reactor.poll(Some(Duration::from_micros(300))).unwrap(), 0);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_micros(300),
            "returned after {waited:?}"
        );
    }
}

#[test]
fn an_unfired_timeout_does_not_cut_a_later_wait_short() {
    let mut reactor = Reactor::new().unwrap();
    // A wake ends the first wait long before its timeout; the timer must then be disarmed.
    reactor.handle().wake().unwrap();
    reactor.poll(Some(Duration::from_millis(5))).unwrap();
    let started = Instant::now();
    reactor.poll(Some(Duration::from_millis(20))).unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(20),
        "returned after {waited:?}"
    );
}

#[test]
fn zero_timeout_does_not_block() {
    let mut reactor = Reactor::new().unwrap();
    // Nothing registered and no wake: a blocking poll would hang here.
    assert_eq!(reactor.poll(Some(Duration::ZERO)).unwrap(), 0);
}

#[test]
fn readable_event_wakes_the_reader_only() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let registration = handle
        .register(&mut ours, Interest::READABLE | Interest::WRITABLE)
        .unwrap();
    // A fresh socket is writable at once: let the reactor report that first.
    reactor.poll(Some(Duration::ZERO)).unwrap();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(registration.poll_write_ready(&mut cx).is_ready());
    assert!(registration.poll_read_ready(&mut cx).is_pending());

    send(&theirs, b"ping");
    let mut delivered = 0;
    while count.count() == 0 {
        delivered += reactor.poll(Some(Duration::from_secs(10))).unwrap();
    }
    assert_eq!(delivered, 1);
    assert_eq!(count.count(), 1);
    assert!(matches!(
        registration.poll_read_ready(&mut cx),
        Poll::Ready(Ok(()))
    ));
    registration.deregister(&mut ours).unwrap();
}

#[test]
fn current_handle_is_set_by_enter_and_restored_on_drop() {
    let error = IoHandle::current().unwrap_err();
    assert_eq!(ReactorError::of(&error), Some(&ReactorError::NoReactor));
    assert!(error.to_string().starts_with("no reactor"));

    let outer = Reactor::new().unwrap();
    let inner = Reactor::new().unwrap();
    let outer_guard = outer.handle().enter();
    assert!(Arc::ptr_eq(
        &IoHandle::current().unwrap().shared,
        &outer.handle().shared
    ));
    {
        let _inner_guard = inner.handle().enter();
        assert!(Arc::ptr_eq(
            &IoHandle::current().unwrap().shared,
            &inner.handle().shared
        ));
    }
    assert!(Arc::ptr_eq(
        &IoHandle::current().unwrap().shared,
        &outer.handle().shared
    ));
    drop(outer_guard);
    assert!(IoHandle::current().is_err());
}

#[test]
fn dropping_the_reactor_fails_waiters_instead_of_hanging_them() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut ours, _theirs) = UnixStream::pair().unwrap();
    let registration = handle.register(&mut ours, Interest::READABLE).unwrap();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(registration.poll_read_ready(&mut cx).is_pending());

    drop(reactor);
    assert_eq!(count.count(), 1, "the waiting task was not woken");
    let Poll::Ready(Err(error)) = registration.poll_read_ready(&mut cx) else {
        panic!("a registration of a dropped reactor must fail");
    };
    assert_eq!(ReactorError::of(&error), Some(&ReactorError::Shutdown));
    let (mut late, _) = UnixStream::pair().unwrap();
    let error = handle.register(&mut late, Interest::READABLE).unwrap_err();
    assert_eq!(ReactorError::of(&error), Some(&ReactorError::Shutdown));
}

#[test]
fn registrations_are_created_and_dropped_from_many_threads() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = if cfg!(miri) { 4 } else { 200 };
    let reactor = Reactor::with_capacity(THREADS * 2).unwrap();
    let handle = reactor.handle();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let handle = handle.clone();
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    let (mut a, _b) = UnixStream::pair().unwrap();
                    let registration = handle.register(&mut a, Interest::READABLE).unwrap();
                    registration.deregister(&mut a).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(handle.registrations(), 0);
}

#[test]
fn handle_and_registration_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<IoHandle>();
    assert_send_sync::<Registration>();
    fn assert_send<T: Send>() {}
    assert_send::<Reactor>();
}

#[test]
fn a_clear_after_a_newer_event_keeps_the_readiness() {
    let mut reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let registration = handle.register(&mut ours, Interest::READABLE).unwrap();
    let waker = futures_task::noop_waker();
    let mut cx = Context::from_waker(&waker);

    send(&theirs, b"first");
    while registration.poll_read_ready(&mut cx).is_pending() {
        reactor.poll(Some(Duration::from_secs(10))).unwrap();
    }
    // The task drains the socket and is about to clear; meanwhile more data arrives and
    // the reactor reports it.
    let mut buf = [0u8; 64];
    assert_eq!(rustix::io::read(&ours, &mut buf).unwrap(), 5);
    send(&theirs, b"second");
    let mut delivered = 0;
    while delivered == 0 {
        delivered = reactor.poll(Some(Duration::from_secs(10))).unwrap();
    }
    // The late clear must not swallow the new edge: epoll will not report it again.
    registration.clear_read_ready();
    assert!(
        registration.poll_read_ready(&mut cx).is_ready(),
        "the event for \"second\" was lost"
    );
    assert_eq!(rustix::io::read(&ours, &mut buf).unwrap(), 6);
    // Now nothing is left and no event came in between: the clear takes effect.
    registration.clear_read_ready();
    assert!(registration.poll_read_ready(&mut cx).is_pending());
    registration.deregister(&mut ours).unwrap();
}

#[test]
fn a_timeout_too_long_for_the_timer_is_still_accepted() {
    let mut reactor = Reactor::new().unwrap();
    // The wake ends the wait at once; the point is that arming and disarming succeed.
    reactor.handle().wake().unwrap();
    assert_eq!(reactor.poll(Some(Duration::MAX)).unwrap(), 0);
    reactor.handle().wake().unwrap();
    assert_eq!(reactor.poll(Some(Duration::from_nanos(1))).unwrap(), 0);
}
