//! The tick's order: ready tasks run first-in first-out, a yielding task goes to the back,
//! and at most `polls_per_tick` tasks run before timers and I/O get their turn.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use switchyard::runtime::time::sleep;
use switchyard::scheduler::local::{EventLoop, spawn_local, yield_now};

#[test]
fn ready_tasks_run_in_spawn_order_and_a_yield_goes_to_the_back() {
    let mut el = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    el.block_on(async move {
        let mut hs = Vec::new();
        for name in ["a", "b", "c"] {
            let l = l.clone();
            hs.push(
                spawn_local(async move {
                    l.borrow_mut().push(format!("{name}1"));
                    yield_now().await;
                    l.borrow_mut().push(format!("{name}2"));
                })
                .unwrap(),
            );
        }
        for h in hs {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), ["a1", "b1", "c1", "a2", "b2", "c2"]);
}

#[test]
fn a_due_timer_waits_for_at_most_one_tick_of_ready_tasks() {
    // Two busy tasks yield forever; with a budget of 4 polls per tick, a due timer must still
    // fire: the timer step comes after every 4 polls.
    let mut el = EventLoop::builder().polls_per_tick(4).build().unwrap();
    let polls_before_timer = el.block_on(async {
        let spins = Rc::new(std::cell::Cell::new(0u64));
        for _ in 0..2 {
            let spins = spins.clone();
            spawn_local(async move {
                loop {
                    spins.set(spins.get() + 1);
                    yield_now().await;
                }
            })
            .unwrap();
        }
        sleep(Duration::from_millis(2)).await;
        spins.get()
    });
    // The busy tasks did run meanwhile (cooperative, not starved)...
    assert!(polls_before_timer > 0);
    // ...and the loop shut them down when dropped.
    drop(el);
}

#[test]
fn the_polls_per_tick_budget_bounds_the_polls_between_main_future_polls() {
    let mut el = EventLoop::builder().polls_per_tick(3).build().unwrap();
    let observed = el.block_on(async {
        let counter = Rc::new(std::cell::Cell::new(0u32));
        for _ in 0..10 {
            let c = counter.clone();
            spawn_local(async move {
                loop {
                    c.set(c.get() + 1);
                    yield_now().await;
                }
            })
            .unwrap();
        }
        let mut deltas = Vec::new();
        let mut last = counter.get();
        for _ in 0..5 {
            yield_now().await;
            deltas.push(counter.get() - last);
            last = counter.get();
        }
        deltas
    });
    // Between two polls of the main future, one tick runs at most 3 tasks.
    assert!(observed.iter().all(|&d| d <= 3), "{observed:?}");
    assert!(observed.contains(&3), "{observed:?}");
}
