//! Panicking `Drop`s during shutdown (issue 7, item 7): the pool drops queued closures whose
//! captures panic when dropped, and cancels queued and idle tasks whose futures do. The drop
//! of the pool must still complete every step: it does not panic, joins every thread, closes
//! its fds, and drops every other job (their drop counters say so) and cancels every task.
//! (This file is its own process and holds one test, so thread and fd counts are its own.)

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use switchyard::scheduler::pool::Pool;

mod resources;
use resources::{open_fds, threads, threads_settle_to};

/// Pools created and dropped.
const CYCLES: usize = 200;
/// Jobs of each kind queued behind a blocked worker, per cycle.
const QUEUED: usize = 50;
/// Only a hang guard.
const GUARD: Duration = Duration::from_secs(30);

/// Panics when dropped (unless the thread is already panicking: that would abort).
struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a panicking Drop (expected by the test)");
        }
    }
}

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn panicking_drops_during_shutdown_do_not_stop_it() {
    // The drops' panics are expected: keep the output readable, but report any other.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let expected = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("expected by the test"));
        if !expected {
            default_hook(info);
        }
    }));
    let (fds, threads_before) = (open_fds(), threads());
    let dropped = Arc::new(AtomicUsize::new(0));
    for cycle in 0..CYCLES {
        let pool = Pool::builder()
            .workers(2)
            .stall_time_slice(None)
            .build()
            .expect("pool");
        let handle = pool.handle();
        // Block both workers, so what follows stays queued (in their deques: spawned from a
        // worker; and in the injector: from here).
        let (blocked_tx, blocked_rx) = mpsc::channel();
        let mut idle = Vec::new();
        for _ in 0..2 {
            let (blocked_tx, handle) = (blocked_tx.clone(), handle.clone());
            let d = dropped.clone();
            pool.execute(move || {
                for _ in 0..QUEUED {
                    let (p, c) = (PanicOnDrop, Counted(d.clone()));
                    handle.execute(move || drop((p, c)));
                    let (p, c) = (PanicOnDrop, Counted(d.clone()));
                    drop(handle.spawn(async move { drop((p, c)) }));
                }
                blocked_tx.send(()).unwrap();
                // Until shutdown's step 1: then the worker finds the flag and discards its
                // seat's jobs on its way out (shutdown.rs, step 4).
                let deadline = std::time::Instant::now() + GUARD;
                while !handle.is_shut_down() && std::time::Instant::now() < deadline {
                    std::thread::yield_now();
                }
            });
        }
        for _ in 0..QUEUED {
            let (p, c) = (PanicOnDrop, Counted(dropped.clone()));
            pool.execute(move || drop((p, c)));
            let (p, c) = (PanicOnDrop, Counted(dropped.clone()));
            idle.push(pool.spawn(async move {
                let _guards = (p, c);
                std::future::pending::<()>().await
            }));
        }
        blocked_rx.recv_timeout(GUARD).unwrap();
        blocked_rx.recv_timeout(GUARD).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| drop(pool)));
        assert!(outcome.is_ok(), "cycle {cycle}: dropping the pool panicked");
        for join in idle {
            let err = switchyard::scheduler::pool::block_on(join).unwrap_err();
            assert!(err.is_cancelled() || err.is_panic(), "{err:?}");
        }
        // Every queued job of the cycle was dropped exactly once: 2 kinds x QUEUED from each
        // blocked worker, 2 kinds x QUEUED from here.
        assert_eq!(
            dropped.swap(0, Ordering::SeqCst),
            2 * 2 * QUEUED + 2 * QUEUED,
            "cycle {cycle}: a job was neither run nor dropped"
        );
        drop(handle);
    }
    let _ = std::panic::take_hook();
    assert_eq!(
        threads_settle_to(threads_before),
        threads_before,
        "threads left behind"
    );
    assert_eq!(open_fds(), fds, "fds left open");
}
