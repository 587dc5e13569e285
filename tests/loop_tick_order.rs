//! The tick's order: ready tasks run first-in first-out, a yielding task goes to the back,
//! at most `polls_per_tick` tasks run before timers and I/O get their turn, and each task poll
//! runs under a fresh coop budget (the module doc of `local`, "The tick").

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard::runtime::coop;
use switchyard::runtime::sync::mpsc;
use switchyard::runtime::time::sleep_until;
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
    // Two busy tasks yield forever. Once the timer is due, the tick that is running may finish
    // its step 3 (at most POLLS polls), its step 4 fires the timer, and the next tick's step 1
    // polls the main future: so at most POLLS task polls *start* after the deadline.
    const POLLS: u32 = 4;
    // The busy tasks stop after this many polls in all, so that a loop that broke the rule
    // (ran the queue dry before looking at timers) fails the bound instead of hanging.
    const SPIN_LIMIT: u64 = if cfg!(miri) { 2_000 } else { 2_000_000 };
    let mut el = EventLoop::builder().polls_per_tick(POLLS).build().unwrap();
    let deadline = Instant::now() + Duration::from_millis(if cfg!(miri) { 20 } else { 2 });
    let (total, after_deadline) = el.block_on(async move {
        let spins = Rc::new(Cell::new(0u64));
        let late = Rc::new(Cell::new(0u64));
        for _ in 0..2 {
            let (spins, late) = (spins.clone(), late.clone());
            spawn_local(async move {
                while spins.get() < SPIN_LIMIT {
                    spins.set(spins.get() + 1);
                    // The wheel counts whole microseconds: a poll that starts a microsecond
                    // after the deadline is one the timer could have fired before.
                    if Instant::now() >= deadline + Duration::from_micros(1) {
                        late.set(late.get() + 1);
                    }
                    yield_now().await;
                }
            })
            .unwrap();
        }
        sleep_until(deadline).await;
        (spins.get(), late.get())
    });
    // The busy tasks did run meanwhile (cooperative, not starved)...
    assert!(total > 0);
    // ...and the timer came at most one tick after its deadline.
    assert!(
        after_deadline <= u64::from(POLLS),
        "{after_deadline} polls started after the deadline, more than one tick's {POLLS}"
    );
    // The loop shuts the busy tasks down when dropped.
    drop(el);
}

#[test]
fn a_task_that_always_finds_its_channel_ready_yields_after_its_coop_budget() {
    // The channel holds three budgets' worth of messages: without the per-poll budget the
    // consumer would take them all in its first poll.
    const BUDGET: usize = coop::DEFAULT_BUDGET as usize;
    let mut el = EventLoop::new().unwrap();
    let seen_by_observer = el.block_on(async {
        let (tx, mut rx) = mpsc::channel(3 * BUDGET);
        for i in 0..3 * BUDGET {
            tx.try_send(i).unwrap();
        }
        let received = Rc::new(Cell::new(0usize));
        let r = received.clone();
        let consumer = spawn_local(async move {
            while rx.recv().await.is_some() {
                r.set(r.get() + 1);
            }
        })
        .unwrap();
        // Spawned second, so it runs right after the consumer's first poll.
        let r = received.clone();
        let observer = spawn_local(async move { r.get() }).unwrap();
        let seen = observer.await.unwrap();
        drop(tx);
        consumer.await.unwrap();
        assert_eq!(received.get(), 3 * BUDGET);
        seen
    });
    assert_eq!(
        seen_by_observer, BUDGET,
        "the consumer's first poll should take exactly one budget of messages"
    );
}

#[test]
fn every_task_poll_starts_with_a_full_coop_budget() {
    let mut el = EventLoop::new().unwrap();
    let budgets = el.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..3 {
            handles.push(
                spawn_local(async {
                    let mut seen = Vec::new();
                    for _ in 0..3 {
                        seen.push(coop::current().remaining());
                        yield_now().await;
                    }
                    seen
                })
                .unwrap(),
            );
        }
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        all
    });
    assert_eq!(budgets.len(), 9);
    assert!(
        budgets.iter().all(|&b| b == Some(coop::DEFAULT_BUDGET)),
        "{budgets:?}"
    );
}

#[test]
fn the_polls_per_tick_budget_bounds_the_polls_between_main_future_polls() {
    const SPIN_LIMIT: u32 = 100_000;
    let mut el = EventLoop::builder().polls_per_tick(3).build().unwrap();
    let observed = el.block_on(async {
        let counter = Rc::new(Cell::new(0u32));
        for _ in 0..10 {
            let c = counter.clone();
            spawn_local(async move {
                // A bound, so that a loop without the per-tick budget fails the assertions
                // below instead of spinning here for ever.
                while c.get() < SPIN_LIMIT {
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

#[test]
fn remote_work_joins_the_back_of_the_queue_before_the_tick_runs_it() {
    // Step 2 moves what other threads pushed to the back of the run queue, before step 3
    // runs it: a task spawned from another thread runs in the same tick as the local tasks
    // already queued, after them, and before the main future's next poll (step 1 of the next
    // tick).
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    el.block_on(async move {
        for name in ["a", "b"] {
            let l = l.clone();
            spawn_local(async move { l.lock().unwrap().push(name) }).unwrap();
        }
        let remote = std::thread::spawn({
            let l = l.clone();
            move || {
                handle
                    .spawn(async move { l.lock().unwrap().push("remote") })
                    .unwrap()
            }
        })
        .join()
        .unwrap();
        // The next poll of this future comes at step 1 of the next tick.
        yield_now().await;
        l.lock().unwrap().push("main");
        remote.await.unwrap();
    });
    assert_eq!(*log.lock().unwrap(), ["a", "b", "remote", "main"]);
}
