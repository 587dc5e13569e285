//! Dropping the pool closes its file descriptors (the reactor's epoll fds, eventfd and
//! timerfd, and the sockets of its idle tasks) even while a `PoolHandle` and a finished
//! `JoinHandle` survive it (issue 7, item 3; shutdown.rs, step 8). The surviving handles then
//! fail with typed errors. (This file is its own process and holds one test, so no other test
//! opens fds meanwhile.)

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use switchyard::runtime::net::TcpListener;
use switchyard::scheduler::pool::Pool;

mod resources;
use resources::open_fds;

/// Only a hang guard.
const GUARD: Duration = Duration::from_secs(30);

#[test]
fn a_dropped_pool_closes_its_fds_whatever_handles_survive() {
    let before = open_fds();
    for _ in 0..3 {
        let pool = Pool::builder().workers(2).build().expect("pool");
        let handle = pool.handle();
        // Awaited through a pin, so the handle survives its task's completion.
        let mut finished = Box::pin(pool.spawn(async { 6 * 7 }));
        assert_eq!(pool.block_on(finished.as_mut()).unwrap(), 42);
        let (bound_tx, bound_rx) = mpsc::channel();
        let idle = pool.spawn(async move {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            bound_tx.send(()).unwrap();
            // Parked for ever on a socket: shutdown must cancel it (step 7) and close it.
            let _ = listener.accept().await;
        });
        bound_rx.recv_timeout(GUARD).unwrap();
        assert!(
            open_fds() > before,
            "the pool opened no fd: nothing to check"
        );
        drop(pool);
        assert_eq!(
            open_fds(),
            before,
            "a kept PoolHandle or JoinHandle held the pool's fds open"
        );
        // The surviving handles fail with typed errors.
        assert!(handle.is_shut_down());
        let mut late = pin!(handle.spawn(async { 1 }));
        match late.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
            other => panic!("a spawn after the drop: {other:?}"),
        }
        let mut idle = pin!(idle);
        match idle.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
            other => panic!("the idle task after the drop: {other:?}"),
        }
        drop((handle, finished));
    }
    assert_eq!(open_fds(), before);
}
