//! `Pool::scope` runs closures that borrow from the caller on the pool's threads, returns only
//! after all of them ran, and re-raises a closure's panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use switchyard::scheduler::pool::Pool;

const CLOSURES: usize = if cfg!(miri) { 10 } else { 10_000 };

#[test]
fn scope_runs_every_borrowing_closure_before_returning() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let counter = AtomicUsize::new(0);
    let mut slots = vec![0usize; CLOSURES];
    pool.scope(|s| {
        for (i, slot) in slots.iter_mut().enumerate() {
            let counter = &counter;
            s.spawn(move || {
                *slot = i;
                counter.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    assert_eq!(counter.load(Ordering::Relaxed), CLOSURES);
    assert!(slots.iter().enumerate().all(|(i, v)| *v == i));
}

#[test]
fn scope_closures_can_spawn_more_closures_on_the_scope() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let counter = AtomicUsize::new(0);
    pool.scope(|s| {
        for _ in 0..10 {
            s.spawn(|| {
                for _ in 0..10 {
                    s.spawn(|| {
                        counter.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
        }
    });
    assert_eq!(counter.load(Ordering::Relaxed), 100);
}

#[test]
fn a_panicking_scope_closure_is_reraised_after_the_others_ran() {
    let pool = Pool::builder().workers(2).build().expect("pool");
    let counter = AtomicUsize::new(0);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            s.spawn(|| panic!("closure 0 fails"));
            for _ in 0..100 {
                s.spawn(|| {
                    counter.fetch_add(1, Ordering::Relaxed);
                });
            }
        })
    }));
    let payload = result.expect_err("the panic was swallowed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"closure 0 fails"));
    assert_eq!(counter.load(Ordering::Relaxed), 100);
    // The pool still works.
    let after = AtomicUsize::new(0);
    pool.scope(|s| {
        s.spawn(|| {
            after.fetch_add(1, Ordering::Relaxed);
        })
    });
    assert_eq!(after.load(Ordering::Relaxed), 1);
}
