//! # The worker loop
//!
//! A pool thread holds at most one seat (seat.rs) at a time and runs this loop on it. One
//! *tick* takes one job and runs it:
//!
//! 1. **Shutdown?** If the pool is shutting down, drop everything left on the seat (tasks are
//!    cancelled) and leave (shutdown.rs, step 4).
//! 2. **Injector, every N ticks.** Every `global_queue_interval` ticks (61) take one job from
//!    the injector first, so jobs injected from outside are not starved by a worker whose
//!    deque never empties; at the same tick, poll the reactor without blocking (if no other
//!    worker drives it) and fire due timers (driver.rs, steps 3-4).
//! 3. **LIFO slot**, at most `lifo_poll_bound` (3) times in a row: the job woken last by this
//!    worker runs next (its data is hot in cache, and in a ping-pong it is the other half).
//!    Past the bound the slot's job moves to the back of the deque.
//! 4. **Own deque**, front first (FIFO).
//! 5. **Injector**, a batch (`Injector::pop_batch_into`: about half, at most 32, moved to our
//!    deque, under one lock: injector.rs).
//! 6. **Search**: if fewer than half the seats are searching, become a searcher and steal a
//!    batch from the other seats' deques (random start, then round the ring), then the
//!    injector again. A searcher that finds a job stops searching, and if it was the last
//!    searcher wakes another (sleep.rs, F1).
//! 7. **Sleep**: `sleep::sleep`, the one implementation of the sleeper's side of the sleep
//!    protocol (sleep.rs, which numbers its steps), run with this worker's queues: first spin
//!    looking for work, but only where spinning pays: while the worker's recent idle gaps
//!    (the moving average of the time from entering step 7 to having work again) are no
//!    longer than the pool's spin budget (`spin_before_sleep`, builder.rs), and never past
//!    that budget; then register as a sleeper (S1,
//!    S2), re-check every queue once (S3), fire due timers, and sleep until woken or the next
//!    timer (S4): in the reactor if this worker can take the driver, else on its `Parker`
//!    (driver.rs, steps 1-2, 4); once awake, wake another worker if the I/O events or timers
//!    left more than two jobs on this seat (S5).
//!
//! This list is the one numbering of the tick; the README and the other files cite it as
//! "tick step N".
//!
//! The seat's queues are reached through the thread's one key to them (seat.rs, "Keys"),
//! kept in its `WorkerCx`: each use (`with_local`) takes it out and puts it back, and
//! `run_job` turns it into the poll's key for the length of the poll, where a push by the
//! polled task finds it (shared.rs, step 1).
//!
//! Running a job (`run_job`): bracket it with `begin_poll`/`end_poll` (seat.rs, steps 1-2),
//! run it under a fresh cooperative budget (a task's `Runnable::run` installs one itself; a
//! closure gets one in `Job::run`), count it. If `end_poll`
//! reports that the monitor handed the seat away during the poll, the thread stops being
//! worker `i` at once (it must not touch the seat again) and goes to the spare room
//! (monitor.rs) to wait for a seat of its own, or retires.

use super::driver::{Driving, SharedReactor};
use super::job::{Job, Ran};
use super::metrics::bump;
use super::monitor;
use super::seat::{EndPoll, SeatLocal, SeatSlot};
use super::shared::{Key, PoolShared, WorkerCx, enter};
use super::sleep::{self, Sleeper, WakeBy};
use crossbeam_deque::Steal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard_runtime::park::{Parker, Unparker};

/// Pause instructions between two looks for work in the spin before sleeping: a few hundred
/// cycles, so a look (which touches every seat's deque and the injector) is not repeated
/// faster than another thread could push. How long the spin lasts is the pool's
/// `spin_before_sleep` budget (builder.rs), not a count of rounds.
const SPIN_PAUSES: u32 = 64;

/// The weight of the newest sample in a worker's moving average of its idle gaps, as a
/// shift: `avg += (sample - avg) / 2^3`, so the last eight or so gaps count. Picked by
/// reasoning (a few gaps say whether work comes back fast; one outlier must not).
const GAP_AVERAGE_SHIFT: u32 = 3;

/// How a thread came to hold a seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// Seat `i` at pool start: worker `i`.
    Worker(usize),
    /// Seat `i` handed over by the monitor.
    HandedOff(usize),
}

/// Starts a pool thread and records its `JoinHandle` in `shared.threads`.
pub(crate) fn spawn_thread(shared: &Arc<PoolShared>, start: Start) -> std::io::Result<()> {
    let number = shared
        .next_thread_number
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = (shared.config.thread_name)(number);
    let thread_shared = shared.clone();
    let handle = std::thread::Builder::new()
        .name(name)
        .stack_size(shared.config.stack_size)
        .spawn(move || thread_main(thread_shared, start))?;
    shared
        .threads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(handle);
    Ok(())
}

/// Why the loop on a seat ended.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// The pool is shutting down; the seat has been emptied.
    Shutdown,
    /// The monitor took the seat during a poll.
    SeatLost,
}

fn thread_main(shared: Arc<PoolShared>, start: Start) {
    let (Start::Worker(first) | Start::HandedOff(first)) = start;
    // Pinned before the start hook runs, so the hook sees the thread's final affinity.
    pin(&shared, first);
    if let Some(hook) = &shared.config.hooks.on_thread_start {
        hook();
    }
    let parker = Parker::new();
    let unparker = parker.unparker();
    let cx = WorkerCx {
        shared: Arc::as_ptr(&shared),
        seat: std::cell::Cell::new(None),
        key: std::cell::Cell::new(Key::Out),
        defer_notifies: std::cell::Cell::new(false),
    };
    let _entered = enter(&cx);
    // current.rs: `PoolHandle::current()` and `pool::spawn` work on this thread.
    let _current = super::current::enter(&shared);
    // driver.rs: `IoHandle::current()` works in pool tasks.
    // The thread's own reference to the reactor, dropped when it exits (shutdown.rs, step 8).
    let driver = shared.driver();
    let _io = driver.as_ref().map(|d| d.io.enter());
    let _timers = shared.timers.enter();
    let tid = monitor::current_tid();
    let mut next = Some(start);
    while let Some(start) = next.take() {
        let seat = match start {
            Start::Worker(seat) => seat,
            Start::HandedOff(seat) => {
                shared.seats[seat].take_over();
                seat
            }
        };
        if seat != first {
            pin(&shared, seat);
        }
        shared.seats[seat].set_holder_tid(tid);
        // SAFETY: this thread now holds the seat with the tag OWNED (worker `seat` before its
        // first poll, or just after `take_over`), this is the holding's one key (the last
        // holding's went with its `end_poll`), and `shared` outlives it: the key stays in
        // `cx`, which this thread empties before it drops `shared`.
        cx.key.set(Key::Owned(unsafe { shared.seats[seat].key() }));
        cx.seat.set(Some(seat));
        let mut worker = WorkerLoop {
            shared: &shared,
            seat,
            slot: &shared.seats[seat],
            driver: driver.as_deref(),
            cx: &cx,
            parker: &parker,
            unparker: &unparker,
            tick: 0,
            lifo_streak: 0,
            searching: false,
            rng: seed(seat),
            busy_since: Instant::now(),
            idle_gap_ns: 0,
        };
        match worker.run() {
            Exit::Shutdown => break,
            Exit::SeatLost => {
                cx.key.set(Key::Out);
                cx.seat.set(None);
                next = monitor::wait_as_spare(&shared, &parker, &unparker).map(Start::HandedOff);
            }
        }
    }
    cx.key.set(Key::Out);
    cx.seat.set(None);
    if let Some(hook) = &shared.config.hooks.on_thread_stop {
        hook();
    }
}

/// Pins the current thread to seat `seat`'s core, when the pool pins.
fn pin(shared: &PoolShared, seat: usize) {
    if let Some(cores) = &shared.cores {
        // Best effort: a failed pin leaves the thread unpinned (the pinning test reads the
        // affinity back, so a failure there is visible).
        let _ = core_affinity::set_for_current(cores[seat % cores.len()]);
    }
}

/// A cheap per-worker random number generator (xorshift32) to pick the first victim of a
/// steal, so searchers do not all start at seat 0. Seeded from the seat index.
fn seed(seat: usize) -> u32 {
    // 0x9E3779B9: the golden-ratio constant, a common seed scrambler; never zero after |1.
    (seat as u32).wrapping_mul(0x9E37_79B9) | 1
}

struct WorkerLoop<'a> {
    shared: &'a PoolShared,
    seat: usize,
    slot: &'a SeatSlot,
    driver: Option<&'a SharedReactor>,
    cx: &'a WorkerCx,
    parker: &'a Parker,
    unparker: &'a Unparker,
    tick: u32,
    lifo_streak: u32,
    searching: bool,
    rng: u32,
    busy_since: Instant,
    /// Moving average of this worker's idle gaps, in ns (tick step 7).
    idle_gap_ns: u64,
}

impl<'a> WorkerLoop<'a> {
    fn run(&mut self) -> Exit {
        loop {
            // 1.
            if self.shared.is_shut_down() {
                self.empty_seat();
                return Exit::Shutdown;
            }
            self.tick = self.tick.wrapping_add(1);
            let job = match self.next_local() {
                Some(job) => Some(job),
                None => self.search(),
            };
            let job = match job {
                Some(job) => job,
                // 7.
                None => match self.sleep() {
                    Some(job) => job,
                    None => continue,
                },
            };
            // F1, whichever step found the job (a woken searcher usually finds it in 2-5).
            self.stop_searching_found_work();
            if self.run_job(job) == EndPoll::HandedOff {
                return Exit::SeatLost;
            }
        }
    }

    /// Runs `f` with the seat's queues: takes the thread's key out of `cx` for the length of
    /// `f` and puts it back (seat.rs, "Keys"). Outside a poll only (the worker loop's own
    /// steps), where the key is `Owned`; `f` runs no task code, so nothing on this thread
    /// looks for the key meanwhile (and what did would find it out, and use the injector).
    fn with_local<R>(&self, f: impl FnOnce(&mut SeatLocal) -> R) -> R {
        let Key::Owned(mut key) = self.cx.key.take() else {
            unreachable!("the worker loop uses its seat outside polls, with its key in place")
        };
        let r = f(key.local());
        self.cx.key.set(Key::Owned(key));
        r
    }

    /// Steps 2-5.
    fn next_local(&mut self) -> Option<Job> {
        let shared = self.shared;
        // 2. (and driver.rs step 3: ready I/O and due timers, without blocking)
        if self.tick % shared.config.global_queue_interval == 0 {
            if let Some(driver) = self.driver {
                driver.poll_now();
            }
            shared.timers.process(Instant::now());
            if let Some(job) = shared.injector.pop() {
                self.lifo_streak = 0;
                return Some(job);
            }
        }
        let bound = shared.config.lifo_poll_bound;
        let streak = self.lifo_streak;
        let slot = self.slot;
        let (job, streak) = self.with_local(|local| {
            // 3.
            if let Some(job) = local.lifo.take() {
                if streak < bound {
                    bump(&slot.metrics.lifo_polls, 1);
                    return (Some(job), streak + 1);
                }
                // No notify: this worker runs it after what is already queued (if nothing
                // is, at once); waking another worker for it would split a message-passing
                // pair across cores, which is what the LIFO slot is there to avoid.
                local.deque.push(job);
            }
            // 4.
            (local.deque.pop(), 0)
        });
        self.lifo_streak = streak;
        if job.is_some() {
            return job;
        }
        // 5.
        self.steal_from_injector()
    }

    fn steal_from_injector(&mut self) -> Option<Job> {
        let injector = &self.shared.injector;
        let (job, moved) = self.with_local(|local| injector.pop_batch_into(&local.deque))?;
        self.count_steal(moved);
        Some(job)
    }

    fn count_steal(&self, jobs: usize) {
        bump(&self.slot.metrics.steal_ops, 1);
        bump(&self.slot.metrics.stolen_tasks, jobs as u64);
    }

    /// One pass over the other seats' deques and the injector: a batch from the first that
    /// has work. `Retry`s are retried until every source says `Empty`.
    fn steal_any(&mut self) -> Option<Job> {
        let n = self.shared.stealers.len();
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let start = self.rng as usize % n;
        loop {
            let mut retry = false;
            for k in 0..n {
                let victim = (start + k) % n;
                if victim == self.seat {
                    continue;
                }
                let stealer = &self.shared.stealers[victim];
                let steal = self.with_local(|local| {
                    let before = local.deque.len();
                    match stealer.steal_batch_and_pop(&local.deque) {
                        Steal::Success(job) => {
                            Steal::Success((job, local.deque.len() - before + 1))
                        }
                        Steal::Empty => Steal::Empty,
                        Steal::Retry => Steal::Retry,
                    }
                });
                match steal {
                    Steal::Success((job, moved)) => {
                        self.count_steal(moved);
                        return Some(job);
                    }
                    Steal::Empty => {}
                    Steal::Retry => retry = true,
                }
            }
            if let Some(job) = self.steal_from_injector() {
                return Some(job);
            }
            if !retry {
                return None;
            }
            std::hint::spin_loop();
        }
    }

    /// Step 6.
    fn search(&mut self) -> Option<Job> {
        if !self.searching {
            if !self.shared.idle.transition_to_searching() {
                return None;
            }
            self.searching = true;
        }
        self.steal_any()
    }

    /// F1: a searcher found a job.
    fn stop_searching_found_work(&mut self) {
        if self.searching {
            self.searching = false;
            if self.shared.idle.transition_from_searching() {
                self.shared.idle.notify_one();
            }
        }
    }

    /// Step 7: the sleep protocol's one implementation, `sleep::sleep` (spin, then S1-S5),
    /// run with this worker's queues, driver, timers and parker. Returns a job the spin or
    /// the re-check found, or `None` after a wake-up (the loop then looks again). The worker
    /// sleeps in the reactor if it can take the driver (driver.rs, step 1), else on its
    /// `Parker`.
    fn sleep(&mut self) -> Option<Job> {
        let shared = self.shared;
        let seat = self.seat;
        let entered = Instant::now();
        let budget = shared.config.spin_budget;
        // Spin only if the recent gaps say work comes back within the budget.
        let spin_until = (!budget.is_zero() && Duration::from_nanos(self.idle_gap_ns) <= budget)
            .then(|| entered + budget);
        // tasks.rs, "Seat shards", step 3: settle the tasks released elsewhere, so an idle
        // worker holds none of their memory.
        // And hand on the other seats' tasks released here (step 2).
        if shared.tasks.has_seat_shard(seat) {
            self.with_local(|local| {
                shared.tasks.settle(seat, &mut local.tasks);
                shared.tasks.flush_outbox(seat, &mut local.tasks);
            });
        }
        let mut sleeper = WorkerSleeper {
            worker: self,
            driving: None,
            next_timer: None,
            spin_until,
            woke_at: None,
        };
        let found = sleep::sleep(&shared.idle, seat, &mut sleeper);
        let woke_at = sleeper.woke_at;
        // monitor.rs, M2: this seat may have been counted parked; wake a sleeping monitor.
        shared.monitor.ring();
        // The gap ends at the wake-up's clock read (`after_park`), if it parked: one read
        // fewer per sleep. (Clock reads were 2.8% of the pool echo server's samples in issue
        // 11's profile, 2.5% of tokio's; this, `spin` and `before_park` save three of seven.)
        let gap = woke_at
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(entered);
        self.record_idle_gap(gap, budget);
        found
    }

    /// Adds one idle gap to the moving average. A gap is capped at four budgets, so that
    /// after a long idle spell a few short gaps bring the spin back.
    fn record_idle_gap(&mut self, gap: Duration, budget: Duration) {
        let cap = budget.saturating_mul(4);
        let sample = u64::try_from(gap.min(cap).as_nanos()).unwrap_or(u64::MAX);
        let avg = self.idle_gap_ns;
        self.idle_gap_ns = if sample >= avg {
            avg + ((sample - avg) >> GAP_AVERAGE_SHIFT)
        } else {
            avg - ((avg - sample) >> GAP_AVERAGE_SHIFT)
        };
    }

    /// Jobs on the seat (LIFO slot and deque).
    fn local_backlog(&self) -> usize {
        self.with_local(|local| usize::from(local.lifo.is_some()) + local.deque.len())
    }

    /// Whether the seat's LIFO slot or deque holds a job.
    fn has_local_work(&self) -> bool {
        self.with_local(|local| local.lifo.is_some() || !local.deque.is_empty())
    }

    /// Runs one job under the budget, bracketed by the seat's poll protocol: the thread's key
    /// becomes the poll's key (seat.rs, step 1) for the task's pushes to find, and comes back
    /// at step 2 if the seat was kept.
    fn run_job(&mut self, job: Job) -> EndPoll {
        let id = job.task_id();
        if let Some(id) = id {
            self.shared.metrics.on_poll(id);
        }
        let Key::Owned(key) = self.cx.key.take() else {
            unreachable!("a poll begins outside polls, with the key in place")
        };
        self.cx.key.set(Key::Polling(key.begin_poll(id)));
        let ran = job.run();
        let Key::Polling(key) = self.cx.key.take() else {
            unreachable!("a push puts the poll's key back before it returns")
        };
        match key.end_poll() {
            Some(key) => {
                self.cx.key.set(Key::Owned(key));
                bump(&self.slot.metrics.polls, 1);
                if let Ran::Panicked = ran {
                    bump(&self.slot.metrics.closure_panics, 1);
                }
                EndPoll::Kept
            }
            None => EndPoll::HandedOff,
        }
    }

    /// Shutdown step 4: drop what is left on the seat (tasks cancelled).
    fn empty_seat(&mut self) {
        if self.searching {
            self.searching = false;
            let _ = self.shared.idle.transition_from_searching();
        }
        // Each job is taken out with the key and dropped without it: dropping a task's
        // future runs its code.
        let lifo = self.with_local(|local| local.lifo.take());
        if let Some(job) = lifo {
            let _ = job.discard();
        }
        while let Some(job) = self.with_local(|local| local.deque.pop()) {
            let _ = job.discard();
        }
        bump(
            &self.slot.metrics.busy_ns,
            u64::try_from(self.busy_since.elapsed().as_nanos()).unwrap_or(u64::MAX),
        );
    }
}

/// A worker going to sleep, as the sleep protocol sees it (sleep.rs, [`Sleeper`]).
struct WorkerSleeper<'w, 'a> {
    worker: &'w mut WorkerLoop<'a>,
    /// The driver, if this worker took it at S2 (driver.rs, step 1).
    driving: Option<Driving<'a>>,
    /// The wheel's next deadline: the longest this worker may sleep (driver.rs, step 4).
    next_timer: Option<Instant>,
    /// When the spin before sleeping ends; `None` if it does not pay (no clock read then).
    spin_until: Option<Instant>,
    /// When it woke from S4 (`after_park`), if it parked.
    woke_at: Option<Instant>,
}

impl Sleeper for WorkerSleeper<'_, '_> {
    type Found = Job;

    fn searching(&self) -> bool {
        self.worker.searching
    }

    fn set_searching(&mut self, searching: bool) {
        self.worker.searching = searching;
    }

    fn spin(&mut self) -> bool {
        match self.spin_until {
            Some(until) if Instant::now() < until => {}
            _ => return false,
        }
        for _ in 0..SPIN_PAUSES {
            std::hint::spin_loop();
        }
        true
    }

    fn look(&mut self) -> Option<Job> {
        self.worker.steal_any()
    }

    fn is_shut_down(&self) -> bool {
        self.worker.shared.is_shut_down()
    }

    fn wake_by(&mut self) -> WakeBy {
        let driver = self.worker.driver;
        self.driving = driver.and_then(SharedReactor::try_drive);
        match (&self.driving, driver) {
            (Some(_), Some(driver)) => WakeBy::Reactor(driver.io.clone()),
            _ => WakeBy::Parker(self.worker.unparker.clone()),
        }
    }

    fn before_park(&mut self) {
        let worker = &*self.worker;
        let metrics = &worker.slot.metrics;
        let now = Instant::now();
        bump(&metrics.parks, 1);
        bump(
            &metrics.busy_ns,
            u64::try_from(now.saturating_duration_since(worker.busy_since).as_nanos())
                .unwrap_or(u64::MAX),
        );
        if let Some(hook) = &worker.shared.config.hooks.on_thread_park {
            hook();
        }
        // Timers (driver.rs, step 4): fire what is due now; sleep no longer than the next.
        self.next_timer = worker.shared.timers.process(now);
    }

    fn defer_notifies(&mut self, defer: bool) {
        self.worker.cx.defer_notifies.set(defer);
    }

    fn has_local_work(&mut self) -> bool {
        self.worker.has_local_work()
    }

    fn local_jobs(&mut self) -> usize {
        self.worker.local_backlog()
    }

    fn park(&mut self) {
        let timeout = self
            .next_timer
            .map(|t| t.saturating_duration_since(Instant::now()));
        match &mut self.driving {
            // Tasks woken by I/O are scheduled from this thread: onto this seat.
            Some(driving) => driving.wait(timeout),
            None => match timeout {
                Some(timeout) => {
                    self.worker.parker.park_timeout(timeout);
                }
                None => self.worker.parker.park(),
            },
        }
    }

    fn after_stale_wake(&mut self) {
        self.next_timer = self.worker.shared.timers.process(Instant::now());
    }

    fn after_park(&mut self) {
        let shared = self.worker.shared;
        // Lets the driver go (driver.rs, step 1); sleep.rs's S5 then decides whether the
        // jobs the I/O events woke onto this seat are worth waking another worker for.
        self.driving = None;
        let now = Instant::now();
        self.woke_at = Some(now);
        self.worker.busy_since = now;
        bump(&self.worker.slot.metrics.unparks, 1);
        if let Some(hook) = &shared.config.hooks.on_thread_unpark {
            hook();
        }
    }
}
