//! # Shutdown: the gate, and the numbered steps
//!
//! Dropping a [`Pool`](super::Pool) (or calling [`Pool::shutdown`](super::Pool::shutdown))
//! performs these steps, in this order, on the dropping thread:
//!
//! 1. **Close the gate** ([`Gate::close`], below). From here every job handed to the pool is
//!    dropped unrun (a task is cancelled; its `JoinHandle` reports it) instead of queued.
//! 2. **Wait out the schedulers in flight** ([`Gate::wait_empty`]): the threads the gate
//!    admitted before step 1 finish their push. After this no job can enter the injector.
//! 3. **Monitor.** Wake the stall monitor and join it, so no thread is started from here on.
//! 4. **Wake everyone.** Wake every sleeping worker ([`Idle::notify_all`]) and every spare
//!    ([`release_spares`](super::monitor::release_spares)). Each worker, at the top of its loop
//!    (worker.rs, tick step 1), drops what is left on its seat (LIFO slot and deque) and
//!    exits; a worker inside a poll does so when the poll returns; spares exit.
//! 5. **Join.** Join every pool thread, including threads started for hand-offs, until none
//!    is left. (A thread stuck in a poll delays this until the poll returns.)
//! 6. **Injector.** Drop every job left in the injector.
//!
//! Every job dropped unrun here, on a worker's way out, or refused by the gate goes through
//! `Job::discard` (job.rs), which contains a panicking `Drop`: the steps always run to the end.
//! 7. **Idle tasks.** Cancel every task still in the task table (tasks.rs): tasks that were
//!    not queued but waiting for a wake-up. Their futures are dropped here, on the dropping
//!    thread, and their `JoinHandle`s report cancelled.
//! 8. **File descriptors.** Drop the pool's reactor (driver.rs): its epoll fds, eventfd and
//!    timerfd close here, whatever [`PoolHandle`](super::PoolHandle)s or `JoinHandle`s
//!    survive (they hold the shared state, not the reactor). A handle used afterwards gets
//!    the typed errors of a shut-down pool: a spawned task's `JoinHandle` reports cancelled.
//!
//! Called from one of the pool's own threads (a task dropping its pool), step 5 cannot join the
//! calling thread: it joins the others and detaches itself, which exits when its job returns
//! (and only then drops its reference to the reactor: step 8's fds close at that point).
//!
//! ## The gate: why no job is lost to a concurrent schedule
//!
//! The race (issue 7): a thread outside the pool checks the shutdown flag (not set), is
//! descheduled, the pool drops (steps 1-7), and the thread then pushes its job into an
//! injector that nobody will drain again. The job never runs and is never dropped, its
//! `JoinHandle` never completes, and it holds the shared state alive in a cycle.
//!
//! A job reaches a queue in one of two ways (shared.rs, `PoolShared::schedule`):
//!
//! - **into the injector**, from any thread: always through [`Gate::enter`], whose
//!   [`Admitted`] token is the only way to call the push (`PoolShared::push_injector` takes it);
//! - **onto a seat** (LIFO slot or deque), from the pool thread holding that seat.
//!
//! The gate is one atomic word: a `CLOSED` bit and the count of schedulers admitted and not
//! yet out. A scheduler:
//!
//! - **G1** adds one to the count (a read-modify-write, so it reads the latest value); if the
//!   word it read had `CLOSED` set, it takes the one back and drops its job unrun;
//! - **G2** otherwise pushes its job and notifies (sleep.rs, N1-N3);
//! - **G3** takes the one back with a Release read-modify-write.
//!
//! Shutdown step 1 sets `CLOSED` with a read-modify-write; step 2 loads the word (Acquire)
//! until the count is zero. All read-modify-writes of one atomic are totally ordered (its
//! modification order), so for each scheduler either
//!
//! - its G1 comes *after* step 1: it reads `CLOSED` and drops its job; or
//! - its G1 comes *before* step 1: step 1's word, and every later one until its G3, count it,
//!   so step 2 cannot finish before it has seen a value written at or after its G3; every
//!   read-modify-write after G3 continues G3's release sequence, so step 2's Acquire load
//!   synchronises with G3, and the push (G2, sequenced before G3) happens before step 6,
//!   which drains it.
//!
//! Pushes onto a seat need no gate: the only thread that pushes onto a seat is the thread
//! holding it, a pool thread, and step 5 joins it. Such a thread checks the flag before each
//! job and drops its seat's jobs when it sees it (step 4); anything it pushed before that is
//! dropped with the seat, and anything it pushed into the injector went through the gate.
//! Step 5 also means that after it, every push made by a pool thread happened before step 6.
//!
//! So after step 2 nothing enters the injector, after step 5 nothing is on a seat, and step 6
//! drops whatever the injector holds: every job handed in is either run or dropped, and every
//! `JoinHandle` completes. The loom model `loom_gate_schedule_races_shutdown` (below) runs
//! G1-G3 against steps 1, 2 and 6 and checks that the job is either queued-then-drained or
//! refused, in every interleaving. `tests/pool_shutdown_races_schedule.rs` parks a spawning,
//! an executing and a waking thread between G1 and G2 while the pool drops (a test hook).
//!
//! The cost: two read-modify-writes per job scheduled into the injector (from outside the
//! pool, or a spill), on a word only those paths and shutdown touch. A worker's push onto its
//! own seat, the hot path of a wake, does not touch it.
//!
//! [`Idle::notify_all`]: super::sleep::Idle

use super::builder::TestPoint;
use super::monitor;
use super::shared::{PoolShared, on_pool_thread};
use switchyard_runtime::loom::sync::atomic::{AtomicUsize, Ordering};
use switchyard_runtime::park::Unparker;

/// The gate's `CLOSED` bit; the bits below it count the admitted schedulers.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// Spins of step 2 before it yields its core (none under loom, where a spin is a wasted
/// step of the model).
const SPINS_BEFORE_YIELD: u32 = if cfg!(loom) { 0 } else { 64 };

/// Admits schedulers into the injector until shutdown closes it (module doc, "The gate").
pub(crate) struct Gate {
    /// `CLOSED` | schedulers admitted and not yet out.
    word: AtomicUsize,
}

/// Proof that the holder was admitted by the gate (G1) and has not left it (G3, on drop).
pub(crate) struct Admitted<'a> {
    gate: &'a Gate,
}

impl Gate {
    pub(crate) fn new() -> Gate {
        Gate {
            word: AtomicUsize::new(0),
        }
    }

    /// G1: admits the caller unless the gate is closed.
    pub(crate) fn enter(&self) -> Option<Admitted<'_>> {
        // Acquire on the refusal path: a refused scheduler sees whatever shutdown did before
        // closing. The count itself only needs the modification order (module doc).
        let prev = self.word.fetch_add(1, Ordering::Acquire);
        if prev & CLOSED != 0 {
            self.word.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Admitted { gate: self })
    }

    /// Whether shutdown has begun (step 1).
    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with step 1's SeqCst read-modify-write.
        self.word.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Step 1. SeqCst: the sleep protocol's re-check (sleep.rs, S3) reads the flag after
    /// S2's fence, so a worker going to sleep either sees it or is woken by step 4.
    pub(crate) fn close(&self) {
        self.word.fetch_or(CLOSED, Ordering::SeqCst);
    }

    /// Step 2: waits until no admitted scheduler is in flight. Calls `waiting` once if it
    /// has to wait at all. Must not be called by a thread holding an [`Admitted`].
    pub(crate) fn wait_empty(&self, waiting: impl FnOnce()) {
        let mut waiting = Some(waiting);
        let mut spins = 0u32;
        // Acquire: synchronises with the G3 of every scheduler counted (module doc).
        while self.word.load(Ordering::Acquire) & !CLOSED != 0 {
            if let Some(waiting) = waiting.take() {
                waiting();
            }
            // A scheduler is in flight for a handful of instructions unless its thread was
            // descheduled: spin briefly, then give the core away.
            spins += 1;
            if spins < SPINS_BEFORE_YIELD {
                std::hint::spin_loop();
            } else {
                switchyard_runtime::loom::thread::yield_now();
            }
        }
    }
}

impl Drop for Admitted<'_> {
    /// G3.
    fn drop(&mut self) {
        // Release: the push (G2) happens before step 2's Acquire load that sees this.
        self.gate.word.fetch_sub(1, Ordering::Release);
    }
}

pub(crate) fn shutdown(
    shared: &PoolShared,
    monitor_thread: Option<(std::thread::JoinHandle<()>, Unparker)>,
) {
    // 1.
    shared.gate.close();
    // 2.
    shared.gate.wait_empty(|| {
        if let Some(hook) = &shared.config.hooks.test_hook {
            hook(TestPoint::ShutdownWaitsForSchedulers);
        }
    });
    // 3.
    if let Some((handle, unparker)) = monitor_thread {
        unparker.unpark();
        let _ = handle.join();
    }
    // 4.
    shared.idle.notify_all();
    monitor::release_spares(shared);
    // 5.
    let me = std::thread::current().id();
    let inside = on_pool_thread(shared);
    loop {
        let threads: Vec<_> = shared
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        if threads.is_empty() {
            break;
        }
        for handle in threads {
            if inside && handle.thread().id() == me {
                continue; // detached: it exits after its job returns
            }
            // A panic inside a pool thread outside any job is a bug in the pool; surface it
            // here rather than hiding it.
            if let Err(payload) = handle.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(payload);
                }
            }
        }
    }
    // 6.
    // One at a time, each dropped outside the injector's lock (injector.rs).
    while let Some(job) = shared.injector.pop() {
        let _ = job.discard();
    }
    // 7.
    // Each `shutdown` drops an idle task's future here (its `release` takes the table's
    // locks, so none is held while calling it).
    for task in shared.take_all_tasks() {
        task.shutdown();
    }
    // 8. Taken out under the lock, dropped outside it.
    let driver = shared
        .driver
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    drop(driver);
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The gate's model: two schedulers (G1-G3, each pushing into a queue slot of its own that
    //! is a plain, non-atomic cell) race shutdown (steps 1, 2 and 6). Loom reports a data
    //! race if a push is not ordered before the drain's read, and the asserts catch a push
    //! that lands after the drain: in every interleaving a job is either refused at G1 or
    //! seen by step 6.
    use super::*;
    use switchyard_runtime::loom::cell::UnsafeCell;
    use switchyard_runtime::loom::sync::Arc;

    struct Model {
        gate: Gate,
        queue: [UnsafeCell<bool>; 2],
    }

    // SAFETY (of sharing the cells): each cell is written only by its scheduler, inside the
    // gate, and read by shutdown after step 2 and by the test after joining; loom checks
    // that these accesses are ordered.
    unsafe impl Sync for Model {}

    fn schedule(model: &Model, i: usize) -> bool {
        match model.gate.enter() {
            Some(_admitted) => {
                // G2.
                // SAFETY: only scheduler `i` writes cell `i`; loom reports any access that
                // the gate fails to order against the drain's read.
                model.queue[i].with_mut(|p| unsafe { *p = true });
                true
            }
            None => false,
        }
    }

    #[test]
    fn loom_gate_schedule_races_shutdown() {
        loom::model(|| {
            let model = Arc::new(Model {
                gate: Gate::new(),
                queue: [UnsafeCell::new(false), UnsafeCell::new(false)],
            });
            let schedulers: Vec<_> = (0..2)
                .map(|i| {
                    let model = model.clone();
                    loom::thread::spawn(move || schedule(&model, i))
                })
                .collect();
            model.gate.close();
            model.gate.wait_empty(|| {});
            // 6.
            // SAFETY: read after step 2; an unordered write is loom's data race report.
            let drained: Vec<bool> = model
                .queue
                .iter()
                .map(|c| c.with(|p| unsafe { *p }))
                .collect();
            for (i, s) in schedulers.into_iter().enumerate() {
                let admitted = s.join().unwrap();
                assert_eq!(
                    drained[i], admitted,
                    "scheduler {i}: admitted but not drained"
                );
            }
        });
    }
}
