//! Each scheduling rule the pool promises (worker.rs, the tick's steps), shown by a test that
//! fails without it (issue 14, item 3). On one worker the order of jobs is deterministic, so
//! each test sets up a job that only the rule lets run, and a rival that gives up after a
//! fixed amount of work: the job must run while the rival is still going. Without the rule
//! it runs only after the rival gave up, and the test fails.
//!
//! - the LIFO bound (tick step 3): two tasks waking each other cannot starve a third;
//! - the injector check every `global_queue_interval` ticks (tick step 2): a self-yielding
//!   task cannot starve a spawn from outside;
//! - the cooperative budget around every poll (worker.rs, "Running a job"): a task whose
//!   resource is always ready yields when the budget is spent;
//! - idle workers park (tick step 7): after quiescence every worker sleeps.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};
use switchyard::runtime::coop;
use switchyard::scheduler::pool::{Pool, block_on};

/// How much work a rival does before it gives up. Far above what the rule lets pass before
/// the starved job runs (3 LIFO polls; 61 ticks; one 128-unit budget), far below forever.
const RIVAL_ROUNDS: u64 = 100_000;
/// Only a hang guard.
const GUARD: Duration = Duration::from_secs(30);
/// "Has not run yet".
const NOT_YET: u64 = u64::MAX;

fn one_worker() -> Pool {
    Pool::builder()
        .workers(1)
        .stall_time_slice(None)
        .build()
        .expect("pool")
}

/// Where the rival was when the starved job ran.
fn ran_at() -> Arc<AtomicU64> {
    Arc::new(AtomicU64::new(NOT_YET))
}

fn assert_ran_while_rival_ran(ran_at: &AtomicU64, what: &str) {
    let at = ran_at.load(Ordering::SeqCst);
    assert_ne!(at, NOT_YET, "{what}: never ran");
    assert!(
        at < RIVAL_ROUNDS,
        "{what}: ran only after the rival gave up ({RIVAL_ROUNDS} rounds): starved"
    );
}

/// Two tasks that pass a turn back and forth, each waking the other.
#[derive(Default)]
struct Pair {
    /// (turn, the waker of the side waiting for its turn)
    state: Mutex<(u64, [Option<Waker>; 2])>,
}

impl Pair {
    /// Side `me` waits for its turn; returns the turn number.
    async fn wait_turn(&self, me: usize) -> u64 {
        poll_fn(|cx| {
            let mut state = self.state.lock().unwrap();
            if state.0 % 2 == me as u64 {
                Poll::Ready(state.0)
            } else {
                state.1[me] = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Passes the turn to the other side and wakes it.
    fn pass(&self, me: usize) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 += 1;
            state.1[1 - me].take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn play(self: Arc<Self>, me: usize) {
        loop {
            let turn = self.wait_turn(me).await;
            self.pass(me);
            if turn >= RIVAL_ROUNDS {
                return;
            }
        }
    }
}

#[test]
fn the_lifo_bound_lets_a_third_task_run_between_two_that_wake_each_other() {
    let pool = one_worker();
    let handle = pool.handle();
    let pair = Arc::new(Pair::default());
    let third = ran_at();
    let (p, t) = (pair.clone(), third.clone());
    let a = pool.spawn(async move {
        // Spawned from the worker: the back of its deque, the third behind the partner. Once
        // the pair runs, every wake puts one of them in the LIFO slot, ahead of the deque.
        let b = handle.spawn(p.clone().play(1));
        let p2 = p.clone();
        let third = handle.spawn(async move {
            t.store(p2.state.lock().unwrap().0, Ordering::SeqCst);
        });
        p.play(0).await;
        b.await.unwrap();
        third.await.unwrap();
    });
    block_on(a).unwrap();
    assert_ran_while_rival_ran(&third, "the third task");
}

#[test]
fn the_injector_check_lets_an_outside_spawn_run_beside_a_self_yielding_task() {
    let pool = one_worker();
    let outside = ran_at();
    let started = Arc::new(AtomicBool::new(false));
    let submitted = Arc::new(AtomicBool::new(false));
    let yields = Arc::new(AtomicU64::new(0));
    let (y, s, st) = (yields.clone(), submitted.clone(), started.clone());
    let yielder = pool.spawn(async move {
        st.store(true, Ordering::SeqCst);
        // Yield (woken while running: the back of its own deque, never the injector) until
        // the outside spawn is in the injector, then count the rounds it has to wait.
        while !s.load(Ordering::SeqCst) {
            coop::yield_now().await;
        }
        for i in 0..RIVAL_ROUNDS {
            y.store(i, Ordering::SeqCst);
            coop::yield_now().await;
        }
        y.store(RIVAL_ROUNDS, Ordering::SeqCst);
    });
    // The yielder must be running before the outside spawn: if both waited in the injector,
    // the worker's batch (tick step 5) would take them together, and the spawn would run
    // from the deque without the rule under test.
    let deadline = Instant::now() + GUARD;
    while !started.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the yielder never started");
        std::thread::yield_now();
    }
    // From this thread, outside the pool: the injector.
    let (o, y) = (outside.clone(), yields.clone());
    let spawned = pool.spawn(async move { o.store(y.load(Ordering::SeqCst), Ordering::SeqCst) });
    submitted.store(true, Ordering::SeqCst);
    block_on(spawned).unwrap();
    block_on(yielder).unwrap();
    assert_ran_while_rival_ran(&outside, "the outside spawn");
}

/// A resource that is always ready, and asks the budget before each operation, as the
/// runtime's channels and sockets do.
async fn always_ready() {
    poll_fn(|cx| match coop::poll_proceed(cx) {
        Poll::Ready(grant) => {
            grant.made_progress();
            Poll::Ready(())
        }
        Poll::Pending => Poll::Pending,
    })
    .await
}

#[test]
fn the_budget_makes_a_task_on_an_always_ready_resource_yield() {
    let pool = one_worker();
    let handle = pool.handle();
    let other = ran_at();
    let o = other.clone();
    let busy = pool.spawn(async move {
        let ops = Arc::new(AtomicU64::new(0));
        let seen = ops.clone();
        // The back of this worker's deque: it runs only if the busy task yields.
        let other =
            handle.spawn(async move { o.store(seen.load(Ordering::SeqCst), Ordering::SeqCst) });
        for i in 0..RIVAL_ROUNDS {
            ops.store(i, Ordering::SeqCst);
            always_ready().await;
        }
        ops.store(RIVAL_ROUNDS, Ordering::SeqCst);
        other.await.unwrap();
    });
    block_on(busy).unwrap();
    assert_ran_while_rival_ran(&other, "the other task");
}

#[test]
fn every_idle_worker_parks_after_quiescence() {
    const WORKERS: usize = 3;
    let pool = Pool::builder()
        .workers(WORKERS)
        .stall_time_slice(None)
        .thread_name(|i| format!("{IDLE_PARK_THREAD}{i}"))
        .build()
        .expect("pool");
    // Some work on every worker first, so each has been awake.
    let joins: Vec<_> = (0..WORKERS * 100)
        .map(|i| {
            pool.spawn(async move {
                coop::yield_now().await;
                i
            })
        })
        .collect();
    for join in joins {
        block_on(join).unwrap();
    }
    // Asleep: counted so by the sleep protocol, parked (each worker's parks one ahead of its
    // unparks), and blocked in the kernel, not spinning: the hooks that count parks run
    // around the wait, so only the threads' own state tells a spinning worker from a parked
    // one.
    let deadline = Instant::now() + GUARD;
    loop {
        let metrics = pool.metrics();
        let asleep = metrics.sleeping_workers;
        let states = worker_thread_states();
        if asleep == WORKERS
            && metrics.workers.iter().all(|w| w.parks == w.unparks + 1)
            && states.len() == WORKERS
            && states.iter().all(|&state| state == 'S')
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "idle workers do not sleep: {asleep} of {WORKERS} asleep, thread states {states:?} \
             (S: blocked in the kernel), {:?}",
            metrics.workers
        );
        std::thread::yield_now();
    }
    // One look can catch a spinning worker between two time slices, or blocked for a moment
    // on a lock: asleep means it stays so. While this thread looks 200 more times, every
    // worker is blocked in the kernel at each look and runs not a nanosecond.
    let ran_before = worker_run_ns();
    for _ in 0..200 {
        let states = worker_thread_states();
        assert!(
            states.len() == WORKERS && states.iter().all(|&state| state == 'S'),
            "an idle worker woke or spins: thread states {states:?} (S: blocked in the kernel)"
        );
        std::thread::yield_now();
    }
    assert_eq!(
        worker_run_ns(),
        ran_before,
        "idle workers ran (CPU time per worker, ns, from /proc schedstat)"
    );
}

/// The CPU time each thread named with [`IDLE_PARK_THREAD`] has run, in ns (the first field
/// of `/proc/self/task/T/schedstat`), sorted by thread id.
fn worker_run_ns() -> Vec<u64> {
    let mut tasks: Vec<_> = std::fs::read_dir("/proc/self/task")
        .expect("read /proc/self/task")
        .map(|task| task.expect("a /proc/self/task entry").path())
        .filter(|dir| {
            std::fs::read_to_string(dir.join("comm"))
                .is_ok_and(|name| name.starts_with(IDLE_PARK_THREAD))
        })
        .collect();
    tasks.sort();
    tasks
        .iter()
        .map(|dir| {
            let stat = std::fs::read_to_string(dir.join("schedstat")).expect("schedstat");
            let run = stat.split_whitespace().next().expect("a schedstat field");
            run.parse().expect("schedstat's run time is a number")
        })
        .collect()
}

/// The thread-name prefix of `every_idle_worker_parks_after_quiescence`'s pool (under the
/// kernel's 15-byte limit on thread names, and unlike any other test's).
const IDLE_PARK_THREAD: &str = "idle-park-";

/// The scheduler state (`R` running or runnable, `S` asleep in the kernel, ...) of each
/// thread of this process whose name starts with [`IDLE_PARK_THREAD`].
fn worker_thread_states() -> Vec<char> {
    let mut states = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("read /proc/self/task") {
        let dir = task.expect("a /proc/self/task entry").path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if !name.starts_with(IDLE_PARK_THREAD) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // After the name, in parentheses, comes the state letter.
        if let Some(state) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
        {
            states.push(state);
        }
    }
    states
}
