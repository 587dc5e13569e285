//! The builder's hooks run: thread start/stop once per thread, park/unpark in pairs (and
//! park at all: an idle pool's workers sleep), and task spawn/terminate once per task with
//! the task's id.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchyard::runtime::task::TaskId;
use switchyard::scheduler::pool::Pool;

const TASKS: usize = 100;
/// Only a hang guard.
const GUARD: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Seen {
    starts: AtomicUsize,
    stops: AtomicUsize,
    parks: AtomicUsize,
    unparks: AtomicUsize,
    spawned: Mutex<HashSet<TaskId>>,
    terminated: Mutex<HashSet<TaskId>>,
}

#[test]
fn hooks_see_every_thread_and_task_event() {
    let seen = Arc::new(Seen::default());
    let s = |f: fn(&Seen)| {
        let seen = seen.clone();
        move || f(&seen)
    };
    let (spawned, terminated) = (seen.clone(), seen.clone());
    let pool = Pool::builder()
        .workers(2)
        .stall_time_slice(None)
        .on_thread_start(s(|s| {
            s.starts.fetch_add(1, Ordering::SeqCst);
        }))
        .on_thread_stop(s(|s| {
            s.stops.fetch_add(1, Ordering::SeqCst);
        }))
        .on_thread_park(s(|s| {
            s.parks.fetch_add(1, Ordering::SeqCst);
        }))
        .on_thread_unpark(s(|s| {
            s.unparks.fetch_add(1, Ordering::SeqCst);
        }))
        .on_task_spawn(move |id| assert!(spawned.spawned.lock().unwrap().insert(id)))
        .on_task_terminate(move |id| assert!(terminated.terminated.lock().unwrap().insert(id)))
        .build()
        .expect("pool");
    let ids: HashSet<TaskId> = (0..TASKS)
        .map(|i| pool.spawn(async move { i }))
        .map(|join| {
            let id = join.id();
            pool.block_on(join).expect("task");
            id
        })
        .collect();
    // Let the pool go idle: every worker parks (tests/pool_scheduling_rules.rs shows they
    // do), so the park hook must have run for each.
    let deadline = Instant::now() + GUARD;
    while !pool
        .metrics()
        .workers
        .iter()
        .all(|w| w.parks == w.unparks + 1)
    {
        assert!(Instant::now() < deadline, "the workers never went to sleep");
        std::thread::yield_now();
    }
    let parked: u64 = pool.metrics().workers.iter().map(|w| w.parks).sum();
    drop(pool);
    assert_eq!(seen.starts.load(Ordering::SeqCst), 2);
    assert_eq!(seen.stops.load(Ordering::SeqCst), 2);
    let (parks, unparks) = (
        seen.parks.load(Ordering::SeqCst),
        seen.unparks.load(Ordering::SeqCst),
    );
    assert!(parks > 0, "the park hook never ran");
    assert!(
        parks as u64 >= parked,
        "the park hook ran {parks} times, the metrics count {parked} parks"
    );
    assert!(
        parks >= unparks && parks <= unparks + 2,
        "parks {parks}, unparks {unparks}"
    );
    assert_eq!(*seen.spawned.lock().unwrap(), ids);
    assert_eq!(*seen.terminated.lock().unwrap(), ids);
}
