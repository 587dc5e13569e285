//! Tasks spawned on the loop run and hand their output to their `JoinHandle`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::task::{LocalSpawnExt, SpawnExt};
use switchyard::scheduler::local::{EventLoop, SpawnError, spawn_local, yield_now};

#[test]
fn block_on_returns_the_futures_output() {
    let mut el = EventLoop::new().unwrap();
    assert_eq!(el.block_on(async { 40 + 2 }), 42);
}

#[test]
fn spawned_tasks_deliver_their_outputs_in_any_join_order() {
    let mut el = EventLoop::new().unwrap();
    let outputs = el.block_on(async {
        let handles: Vec<_> = (0..100u32)
            .map(|i| {
                spawn_local(async move {
                    for _ in 0..(i % 7) {
                        yield_now().await;
                    }
                    i * i
                })
                .unwrap()
            })
            .collect();
        let mut outputs = Vec::new();
        for h in handles.into_iter().rev() {
            outputs.push(h.await.unwrap());
        }
        outputs
    });
    let expected: Vec<u32> = (0..100u32).rev().map(|i| i * i).collect();
    assert_eq!(outputs, expected);
}

#[test]
fn not_send_futures_run_on_the_loop() {
    let mut el = EventLoop::new().unwrap();
    let shared = Rc::new(RefCell::new(Vec::new()));
    let s = shared.clone();
    el.block_on(async move {
        let mut handles = Vec::new();
        for i in 0..10 {
            let s = s.clone();
            handles.push(spawn_local(async move { s.borrow_mut().push(i) }).unwrap());
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*shared.borrow(), (0..10).collect::<Vec<_>>());
}

#[test]
fn tasks_spawned_before_block_on_run_inside_it() {
    let mut el = EventLoop::new().unwrap();
    let h = el.spawn_local(async { "ran" }).unwrap();
    assert_eq!(el.block_on(h).unwrap(), "ran");
}

#[test]
fn detached_tasks_still_run_to_completion() {
    let mut el = EventLoop::new().unwrap();
    let count = Rc::new(std::cell::Cell::new(0));
    let c = count.clone();
    el.block_on(async move {
        for _ in 0..50 {
            let c = c.clone();
            drop(spawn_local(async move { c.set(c.get() + 1) }).unwrap());
        }
        // Let every detached task run: each ran once after one yield of ours at most 50 times.
        while c.get() < 50 {
            yield_now().await;
        }
    });
    assert_eq!(count.get(), 50);
}

#[test]
fn a_task_spawned_from_another_thread_runs_on_the_loop_thread() {
    let mut el = EventLoop::new().unwrap();
    let handle = el.handle();
    let loop_thread = std::thread::current().id();
    let join = std::thread::spawn(move || {
        handle
            .spawn(async move { std::thread::current().id() })
            .unwrap()
    })
    .join()
    .unwrap();
    let ran_on = el.block_on(join).unwrap();
    assert_eq!(ran_on, loop_thread);
}

#[test]
fn futures_task_spawn_traits_are_implemented() {
    let mut el = EventLoop::new().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c1 = count.clone();
    let c2 = count.clone();
    el.spawn_local(async move {
        c1.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    LocalSpawnExt::spawn_local(&el, async move {
        c2.fetch_add(10, Ordering::SeqCst);
    })
    .unwrap();
    let c3 = count.clone();
    SpawnExt::spawn(&el.handle(), async move {
        c3.fetch_add(100, Ordering::SeqCst);
    })
    .unwrap();
    let c = count.clone();
    el.block_on(async move {
        while c.load(Ordering::SeqCst) != 111 {
            yield_now().await;
        }
    });
    assert_eq!(count.load(Ordering::SeqCst), 111);
}

#[test]
fn spawn_local_outside_a_loop_is_a_typed_error() {
    let err = spawn_local(async {}).unwrap_err();
    assert_eq!(err, SpawnError::NoEventLoop);
    assert!(err.to_string().contains("outside EventLoop::block_on"));
}

#[test]
fn metrics_count_spawns_and_polls() {
    let mut el = EventLoop::new().unwrap();
    el.block_on(async {
        for _ in 0..5 {
            spawn_local(async { yield_now().await })
                .unwrap()
                .await
                .unwrap();
        }
    });
    let m = el.metrics();
    assert_eq!(m.spawned, 5);
    assert_eq!(
        m.polls, 10,
        "each task polled twice: once before, once after its yield"
    );
    assert_eq!(m.live_tasks, 0);
}
