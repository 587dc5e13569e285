//! Dropping the loop cancels every task: futures are dropped, `JoinHandle`s report cancelled,
//! and handles refuse new spawns.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchyard::scheduler::local::{EventLoop, SpawnError};

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_loop_drops_parked_and_queued_futures_and_cancels_their_handles() {
    let drops = Arc::new(AtomicUsize::new(0));
    let el = EventLoop::new().unwrap();
    let mut handles = Vec::new();
    // Queued, never polled.
    for _ in 0..10 {
        let guard = DropCounter(drops.clone());
        handles.push(
            el.spawn_local(async move {
                let _guard = guard;
            })
            .unwrap(),
        );
    }
    drop(el);
    assert_eq!(drops.load(Ordering::SeqCst), 10);
    let mut other = EventLoop::new().unwrap();
    for h in handles {
        let err = other.block_on(h).unwrap_err();
        assert!(err.is_cancelled(), "{err}");
    }
}

#[test]
fn tasks_parked_forever_are_dropped_with_the_loop() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut el = EventLoop::builder().polls_per_tick(1000).build().unwrap();
    let mut handles = Vec::new();
    for _ in 0..100 {
        let guard = DropCounter(drops.clone());
        handles.push(
            el.spawn_local(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
            .unwrap(),
        );
    }
    // One tick polls all 100 (the budget is 1000), so they are parked, not queued.
    el.block_on(switchyard::scheduler::local::yield_now());
    assert_eq!(el.metrics().live_tasks, 100);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(el);
    assert_eq!(drops.load(Ordering::SeqCst), 100);
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
fn a_not_send_future_is_dropped_on_the_loop_thread() {
    let dropped_on = Rc::new(std::cell::Cell::new(None));
    struct Where(Rc<std::cell::Cell<Option<std::thread::ThreadId>>>);
    impl Drop for Where {
        fn drop(&mut self) {
            self.0.set(Some(std::thread::current().id()));
        }
    }
    let el = EventLoop::new().unwrap();
    let w = Where(dropped_on.clone());
    let h = el
        .spawn_local(async move {
            let _w = w;
            std::future::pending::<()>().await
        })
        .unwrap();
    drop(el);
    assert_eq!(dropped_on.get(), Some(std::thread::current().id()));
    drop(h);
}

#[test]
fn handles_refuse_spawns_after_the_loop_is_dropped() {
    let el = EventLoop::new().unwrap();
    let handle = el.handle();
    assert!(!handle.is_shut_down());
    drop(el);
    assert!(handle.is_shut_down());
    assert_eq!(
        handle.spawn(async {}).map(drop).unwrap_err(),
        SpawnError::Shutdown
    );
}
