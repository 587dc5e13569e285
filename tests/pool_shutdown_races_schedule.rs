//! Work handed to the pool from another thread while the pool drops is never lost
//! (issue 7, item 1; the argument is shutdown.rs's, "The gate").
//!
//! A test hook parks the scheduling thread in the window between the shutdown check and the
//! push (`TestPoint::ScheduleAdmitted`); the pool is dropped meanwhile, and the thread is
//! released once the drop has either finished or is waiting for it. Before the gate, the drop
//! finished and the job then landed in an injector nobody would look at again: a spawned or
//! woken task's `JoinHandle` stayed pending for ever, and a closure was neither run nor dropped.
//! Now the job is dropped unrun by shutdown (the task reports cancelled, the closure's captures
//! are dropped) before the drop returns.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use switchyard::runtime::task::JoinHandle;
use switchyard::scheduler::pool::{Pool, PoolHandle, TestPoint};

/// Only a hang guard: a test that waits this long has failed anyway.
const GUARD: Duration = Duration::from_secs(30);
const RACER: &str = "racer";

#[derive(Debug, PartialEq, Eq)]
enum Event {
    RacerParked,
    ShutdownWaits,
    Dropped,
}

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A pool whose hook parks the thread named [`RACER`] in the schedule window until released.
fn racy_pool() -> (
    Pool,
    mpsc::Receiver<Event>,
    mpsc::Sender<Event>,
    mpsc::Sender<()>,
) {
    let (events_tx, events) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let hook_events = Mutex::new(events_tx.clone());
    let pool = Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .test_hook(move |point| match point {
            TestPoint::ScheduleAdmitted if std::thread::current().name() == Some(RACER) => {
                hook_events
                    .lock()
                    .unwrap()
                    .send(Event::RacerParked)
                    .unwrap();
                release_rx.lock().unwrap().recv_timeout(GUARD).unwrap();
            }
            TestPoint::ShutdownWaitsForSchedulers => {
                let _ = hook_events.lock().unwrap().send(Event::ShutdownWaits);
            }
            _ => {}
        })
        .build()
        .expect("pool");
    (pool, events, events_tx, release)
}

/// Runs `schedule` on the racer thread, drops the pool while the racer sits in the window,
/// and releases it once the drop is done or waits for it. Returns what `schedule` returned.
fn race<T: Send + 'static>(
    pool: Pool,
    events: &mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    release: mpsc::Sender<()>,
    schedule: impl FnOnce() -> T + Send + 'static,
) -> T {
    let racer = std::thread::Builder::new()
        .name(RACER.into())
        .spawn(schedule)
        .unwrap();
    assert_eq!(events.recv_timeout(GUARD).unwrap(), Event::RacerParked);
    let dropper = std::thread::spawn(move || {
        drop(pool);
        let _ = events_tx.send(Event::Dropped);
    });
    let next = events.recv_timeout(GUARD).unwrap();
    assert!(
        matches!(next, Event::Dropped | Event::ShutdownWaits),
        "{next:?}"
    );
    release.send(()).unwrap();
    let out = racer.join().unwrap();
    dropper.join().unwrap();
    out
}

/// Polls `join` once: a task dropped by shutdown has completed as cancelled; one stranded in
/// a dead queue is still pending.
fn assert_cancelled<T: std::fmt::Debug>(join: JoinHandle<T>) {
    let mut join = pin!(join);
    match join.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Err(e)) => assert!(e.is_cancelled(), "{e:?}"),
        Poll::Ready(Ok(v)) => panic!("the task ran after its pool dropped: {v:?}"),
        Poll::Pending => panic!("the job was lost: its JoinHandle never completes"),
    }
}

#[test]
fn a_spawn_racing_the_drop_is_cancelled_not_lost() {
    let (pool, events, events_tx, release) = racy_pool();
    let handle = pool.handle();
    let join = race(pool, &events, events_tx, release, move || {
        handle.spawn(async { 7 })
    });
    assert_cancelled(join);
}

#[test]
fn a_closure_racing_the_drop_is_dropped_unrun() {
    let (pool, events, events_tx, release) = racy_pool();
    let handle = pool.handle();
    let kept: PoolHandle = handle.clone();
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (r, d) = (ran.clone(), DropCounter(dropped.clone()));
    race(pool, &events, events_tx, release, move || {
        handle.execute(move || {
            let _d = d;
            r.fetch_add(1, Ordering::SeqCst);
        })
    });
    // `kept` holds the shared state (and a stranded job with it) alive: only shutdown could
    // have dropped the closure.
    assert_eq!(ran.load(Ordering::SeqCst), 0, "ran after the pool dropped");
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the closure was lost");
    drop(kept);
}

/// A future that stores its waker and stays pending.
#[derive(Default)]
struct Parked(Mutex<Option<Waker>>);

impl Future for &Parked {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.0.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_wake_racing_the_drop_is_cancelled_not_lost() {
    let (pool, events, events_tx, release) = racy_pool();
    let parked = Arc::new(Parked::default());
    let (stored_tx, stored_rx) = mpsc::channel();
    let p = parked.clone();
    let join = pool.spawn(async move {
        let stored = stored_tx;
        std::future::poll_fn(|cx| {
            let r = pin!(&*p).poll(cx);
            let _ = stored.send(());
            r
        })
        .await
    });
    stored_rx.recv_timeout(GUARD).unwrap();
    // The wake must find the task idle, not still inside the poll that stored the waker (a
    // wake during the poll is handled by the worker, not by the racer): wait until the
    // worker has counted that poll as done (it is the pool's only job).
    while pool.metrics().workers.iter().map(|w| w.polls).sum::<u64>() < 1 {
        std::thread::yield_now();
    }
    let waker = parked.0.lock().unwrap().take().expect("waker stored");
    race(pool, &events, events_tx, release, move || waker.wake());
    assert_cancelled(join);
}
