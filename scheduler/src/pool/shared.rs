//! # The shared state, and where a scheduled job goes
//!
//! [`PoolShared`] is what every pool thread, every [`PoolHandle`](super::PoolHandle) and (once
//! spawned) every task's scheduler hook points at. Its one decision is [`PoolShared::schedule`]:
//! which queue a runnable job goes to. Every job handed to the pool (a spawn, an `execute`, a
//! scope's closure, a wake, the monitor's rescue of a seat) comes through here.
//!
//! 1. Scheduled from a thread that holds one of this pool's seats, while the pool is not
//!    shutting down: to that seat, either
//!    - the LIFO slot ([`QueueEnd::Lifo`]: a task woken by the task being polled, the
//!      message-passing case), pushing the slot's previous occupant to the back of the deque,
//!      or
//!    - the back of the deque ([`QueueEnd::Back`]: new jobs, and tasks that woke themselves:
//!      a yield must let the others run first).
//!
//!    A deque holds at most [`LOCAL_QUEUE_CAPACITY`] jobs: the push that goes past it moves
//!    the older half to the injector (through the gate, as in 2), in one batch under one lock
//!    of it (injector.rs), where every worker takes its turn at them.
//!
//!    The push takes the thread's key to its seat out of its [`WorkerCx`] (seat.rs, "Keys").
//!    Inside a poll the seat may be taken by the stall monitor at any moment, so the push is
//!    bracketed by `lock_in_poll` / `unlock_in_poll` (seat.rs, steps 4 and 5); if the seat is
//!    gone, or the key is out (a push nested in another use of the queues on this thread),
//!    the job goes to the injector instead (2).
//! 2. From anywhere else: to the injector, through the shutdown gate ([`PoolShared::inject`];
//!    shutdown.rs, G1-G3): admitted, the job is pushed; refused (the pool is shutting down),
//!    it is dropped unrun (a task is cancelled, its `JoinHandle` says so). The only pushes
//!    into the injector, [`PoolShared::push_injector`] and its batch form for the overflow
//!    (`push_injector_batch`), take the gate's [`Admitted`] token, so no path can skip the
//!    gate.
//!
//! A job that lands where another worker could take it (a deque or the injector) is followed
//! by a notify (sleep.rs, N1-N3), so a sleeping worker wakes if nobody is searching. A push to
//! the pusher's own seat uses `notify_local`, which skips the fence when no seat sleeps: that
//! job has an awake owner, so the notify only shares work, it is not needed for liveness. A
//! worker in the sleep protocol's S4 (firing timers, dispatching I/O readiness as the driver)
//! does not notify at all ([`WorkerCx::defer_notifies`]): it shares once, at S5.

/// The most jobs a seat's deque holds; past it, the older half moves to the injector. 256 is
/// Go's `runq` and tokio's local queue. Unbounded, the jobs that yield on a busy seat keep
/// cycling there while other seats' jobs wait: the lab's `fairness` experiment (1,000 yielding
/// units on 2 workers) gave Jain's index 0.05-0.1 before this bound.
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;

use super::builder::{Config, TestPoint};
use super::driver::SharedReactor;
use super::injector::Injector;
use super::job::Job;
use super::metrics::PoolMetrics;
use super::monitor::{MonitorBell, Spare};
use super::seat::{PollKey, SeatKey, SeatLocal, SeatSlot};
use super::shutdown::{Admitted, Gate};
use super::sleep::Idle;
use super::tasks::TaskTable;
use crossbeam_deque::Stealer;
use std::cell::Cell;
use std::sync::{Arc, Mutex};
use switchyard_runtime::task::{TaskId, TaskRef};

/// Which end of its seat's queue a job scheduled from a worker goes to: the front (the LIFO
/// slot) or the back of the deque. (Not the lab's `Placement`, which says on which CPU a unit
/// runs.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueEnd {
    /// The LIFO slot: run next.
    Lifo,
    /// The back of the deque: run after what is queued.
    Back,
}

/// The state shared by every thread of one pool.
pub(crate) struct PoolShared {
    pub(crate) seats: Box<[SeatSlot]>,
    pub(crate) stealers: Box<[Stealer<Job>]>,
    pub(crate) injector: Injector,
    pub(crate) idle: Idle,
    /// The reactor, driven by one worker at a time (driver.rs); `None` with `io(false)`, and
    /// after shutdown step 8, which drops it so that its fds close whatever handles survive.
    /// Pool threads clone the `Arc` when they start and use their copy.
    pub(crate) driver: Mutex<Option<Arc<SharedReactor>>>,
    /// The pool's timer wheel, processed by workers (driver.rs, step 4).
    pub(crate) timers: switchyard_runtime::time::Timers,
    /// Every live task (for shutdown step 7).
    pub(crate) tasks: TaskTable,
    pub(crate) config: Config,
    pub(crate) metrics: PoolMetrics,
    /// Admits jobs into the injector until shutdown step 1 closes it (shutdown.rs).
    pub(crate) gate: Gate,
    /// How workers wake the stall monitor when it sleeps (monitor.rs, M1-M2).
    pub(crate) monitor: MonitorBell,
    /// Stuck threads waiting for a seat (monitor.rs).
    pub(crate) spares: Mutex<Vec<Arc<Spare>>>,
    /// Every pool thread ever started and not yet joined (workers, spares).
    pub(crate) threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Thread numbers handed out (for names): workers first, then spares.
    pub(crate) next_thread_number: std::sync::atomic::AtomicUsize,
    /// The cores to pin seats to (seat `i` to `cores[i % len]`), when pinning.
    pub(crate) cores: Option<Vec<core_affinity::CoreId>>,
}

/// What the current thread is to the pool: set on pool threads for their lifetime.
pub(crate) struct WorkerCx {
    pub(crate) shared: *const PoolShared,
    /// The seat this thread holds, if any.
    pub(crate) seat: Cell<Option<usize>>,
    /// This thread's key to the queues of the seat it holds (seat.rs, "Keys"), while nobody on
    /// this thread has taken it out.
    pub(crate) key: Cell<Key>,
    /// Set while this thread is in S4 of the sleep protocol (sleep.rs): a job it schedules
    /// onto its own seat then does not notify; S5 does, once.
    pub(crate) defer_notifies: Cell<bool>,
}

/// Where a holder's key to its seat is.
#[derive(Default)]
pub(crate) enum Key {
    /// Out (in use on this thread), or this thread holds no seat.
    #[default]
    Out,
    /// The holder is not inside a poll.
    Owned(SeatKey),
    /// The holder is inside a poll.
    Polling(PollKey),
}

thread_local! {
    static CURRENT: Cell<*const WorkerCx> = const { Cell::new(std::ptr::null()) };
}

/// What a push onto the holder's own seat did.
pub(crate) enum Pushed {
    /// Into the empty LIFO slot: nothing another worker could take.
    InLifo,
    /// Onto the deque (a new job, or the LIFO slot's previous occupant): stealable.
    Spilled,
    /// Onto the deque, past its bound: the older half went to the injector.
    Overflowed,
}

/// Installs `cx` as the current thread's worker context until the guard drops.
pub(crate) fn enter(cx: &WorkerCx) -> impl Drop + '_ {
    struct Exit;
    impl Drop for Exit {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(std::ptr::null()));
        }
    }
    CURRENT.with(|c| c.set(cx));
    Exit
}

/// Runs `f` with the current worker context, if this is a pool thread.
fn with_current<R>(f: impl FnOnce(Option<&WorkerCx>) -> R) -> R {
    CURRENT.with(|c| {
        let ptr = c.get();
        // SAFETY: `ptr` is either null or was set by `enter` from a `&WorkerCx` that lives on
        // the pool thread's stack for as long as the guard (which resets it) lives; we are on
        // that same thread, so it is valid here.
        f(unsafe { ptr.as_ref() })
    })
}

/// Whether the current thread is one of `shared`'s threads.
pub(crate) fn on_pool_thread(shared: &PoolShared) -> bool {
    with_current(|cx| cx.is_some_and(|cx| std::ptr::eq(cx.shared, shared)))
}

impl PoolShared {
    pub(crate) fn is_shut_down(&self) -> bool {
        self.gate.is_closed()
    }

    /// The reactor, for a pool thread to keep while it runs (`None` without I/O or after
    /// shutdown step 8).
    pub(crate) fn driver(&self) -> Option<Arc<SharedReactor>> {
        self.driver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Routes a runnable job to a queue (module doc, steps 1-2).
    pub(crate) fn schedule(&self, job: Job, end: QueueEnd) {
        // 1.
        let pushed = self.with_own_seat(job, |local, _seat, job| {
            // A seat holder is joined by shutdown step 5 and empties its seat when it sees the
            // flag, so checking the flag here is enough (shutdown.rs, "The gate"); a job it
            // keeps is dropped below, with the key back in place.
            if self.is_shut_down() {
                return Err(job);
            }
            if let Some(id) = job.task_id() {
                self.metrics.on_schedule(id);
            }
            Ok(self.push_local(local, job, end))
        });
        match pushed {
            Ok(Ok(pushed)) => self.notify_pushed(pushed),
            Ok(Err(job)) => {
                let _ = job.discard();
            }
            // 2.
            Err(job) => self.inject(job),
        }
    }

    /// Runs `f` with the queues of the seat the current thread holds in this pool, through
    /// its key (seat.rs, "Keys"; inside a poll between `lock_in_poll` and `unlock_in_poll`),
    /// and puts the key back. `Err(arg)` if the thread holds no seat here, the seat was handed
    /// off during this poll, or the key is out (a use nested in another on this thread). `f`
    /// must run no task code: whatever it does on this thread finds the key out.
    pub(crate) fn with_own_seat<A, R>(
        &self,
        arg: A,
        f: impl FnOnce(&mut SeatLocal, usize, A) -> R,
    ) -> Result<R, A> {
        self.with_seat_if(None, arg, f)
    }

    /// As [`with_own_seat`](Self::with_own_seat), but only if the seat is `only` (when
    /// `Some`): another seat is `Err(arg)` without touching the key.
    fn with_seat_if<A, R>(
        &self,
        only: Option<usize>,
        arg: A,
        f: impl FnOnce(&mut SeatLocal, usize, A) -> R,
    ) -> Result<R, A> {
        with_current(|cx| {
            let Some(cx) = cx.filter(|cx| std::ptr::eq(cx.shared, self)) else {
                return Err(arg);
            };
            let Some(seat) = cx.seat.get() else {
                return Err(arg);
            };
            if only.is_some_and(|only| only != seat) {
                return Err(arg);
            }
            let mut key = cx.key.take();
            let done = match &mut key {
                Key::Owned(owned) => {
                    debug_assert!(std::ptr::eq(owned.slot(), &self.seats[seat]));
                    Ok(f(owned.local(), seat, arg))
                }
                Key::Polling(polling) => match polling.lock_in_poll() {
                    // `locked` unlocks (seat.rs, step 5) at the end of this arm.
                    Some(mut locked) => Ok(f(&mut locked, seat, arg)),
                    None => Err(arg),
                },
                Key::Out => Err(arg),
            };
            cx.key.set(key);
            done
        })
    }

    /// After a push onto the pusher's own seat: the notify it calls for (module doc).
    pub(crate) fn notify_pushed(&self, pushed: Pushed) {
        match pushed {
            // Jobs reached the shared queue: a sleeper must hear of them (N1-N3).
            Pushed::Overflowed => {
                self.idle.notify_one();
            }
            // Not while this thread is in S4 (sleep.rs): S5 shares once instead.
            Pushed::Spilled => {
                if !with_current(|cx| cx.is_some_and(|cx| cx.defer_notifies.get())) {
                    self.idle.notify_local();
                }
            }
            Pushed::InLifo => {}
        }
    }

    /// `Schedule::release_ref` of task `id` (tasks.rs, "Seat shards", steps 1-2): its entry,
    /// if it was removed here (step 1), for the task core to give up as it completes the task.
    pub(crate) fn release_task(&self, id: TaskId) -> Option<TaskRef> {
        let Some(seat) = self.tasks.seat_of(id) else {
            return self.tasks.remove_outside(id);
        };
        let removed = self.with_own_seat((), |local, own, ()| {
            if own == seat {
                Ok(self.tasks.remove_on_seat(seat, &mut local.tasks, id))
            } else if self.tasks.has_seat_shard(own) {
                self.tasks.release_to_outbox(own, &mut local.tasks, id);
                Ok(None)
            } else {
                Err(())
            }
        });
        match removed {
            // Handed back with the key in place; not the last reference (the task's
            // completion holds one), so dropping it would run no task code either.
            Ok(Ok(task)) => task,
            Ok(Err(())) | Err(()) => {
                self.tasks.release_remote(seat, id);
                None
            }
        }
    }

    /// Shutdown step 7's collection: every task of the table, taken out (tasks.rs, "Seat
    /// shards", step 5).
    pub(crate) fn take_all_tasks(&self) -> Vec<TaskRef> {
        let mut all = self.tasks.drain_outside();
        // The seat this thread holds, if its key to it is out: a use of its queues is open
        // around this call on this thread. That use runs no task code, so no shutdown; this
        // does not happen, and making a second key here would alias that use: that seat is
        // skipped rather.
        let key_out = with_current(|cx| {
            let cx = cx.filter(|cx| std::ptr::eq(cx.shared, self))?;
            let key = cx.key.take();
            let out = matches!(key, Key::Out);
            cx.key.set(key);
            cx.seat.get().filter(|_| out)
        });
        debug_assert!(
            key_out.is_none(),
            "shutdown step 7 with this thread's seat key out"
        );
        for seat in 0..self.tasks.seat_shards() {
            if key_out == Some(seat) {
                continue;
            }
            let own = self.with_seat_if(Some(seat), (), |local, _, ()| {
                self.tasks.drain_seat(seat, &mut local.tasks)
            });
            if let Ok(tasks) = own {
                all.extend(tasks);
                continue;
            }
            // SAFETY: shutdown step 7 runs after step 5 joined every pool thread but the
            // calling one, and step 3 joined the monitor (the only other thread that makes a
            // key, for a seat it gives nobody), so no other thread holds or will take this
            // seat, and the joins made their writes to it visible. On this thread no other key
            // of it is in use: the thread does not hold the seat, or held it and lost it to a
            // hand-off during its current poll (the `PollKey` in its `WorkerCx` then fails
            // every `lock_in_poll`: the seat's `seq` never returns to that poll's), and the
            // seat whose key is out was skipped above. The key lives for this statement only,
            // and `self` outlives it.
            let mut key = unsafe { self.seats[seat].key() };
            all.extend(self.tasks.drain_seat(seat, &mut key.local().tasks));
        }
        all
    }

    /// Step 2: through the gate into the injector, and notify; dropped unrun if the pool is
    /// shutting down.
    pub(crate) fn inject(&self, job: Job) {
        // G1.
        let Some(admitted) = self.gate.enter() else {
            let _ = job.discard();
            return;
        };
        if let Some(hook) = &self.config.hooks.test_hook {
            hook(TestPoint::ScheduleAdmitted);
        }
        if let Some(id) = job.task_id() {
            self.metrics.on_schedule(id);
        }
        // G2.
        self.push_injector(&admitted, job);
        self.idle.notify_one();
        // G3: `admitted` drops here.
    }

    /// A push into the injector (with `push_injector_batch`, the only ones): only a scheduler
    /// the gate admitted may make it.
    fn push_injector(&self, _admitted: &Admitted<'_>, job: Job) {
        self.injector.push(job);
    }

    /// The batch push into the injector (the overflow), under the same rule.
    fn push_injector_batch(&self, _admitted: &Admitted<'_>, jobs: &mut Vec<Job>) {
        self.injector.push_batch(jobs);
    }

    /// Step 1's push onto the seat's queues.
    pub(crate) fn push_local(&self, local: &mut SeatLocal, job: Job, end: QueueEnd) -> Pushed {
        let spilled = match end {
            QueueEnd::Back => {
                local.deque.push(job);
                true
            }
            QueueEnd::Lifo => match local.lifo.replace(job) {
                Some(previous) => {
                    local.deque.push(previous);
                    true
                }
                None => false,
            },
        };
        // The deque is FIFO for its owner: `pop` takes the oldest jobs, which have waited
        // longest and go to the shared queue first.
        if !spilled {
            Pushed::InLifo
        } else if local.deque.len() > LOCAL_QUEUE_CAPACITY && self.spill(local) {
            Pushed::Overflowed
        } else {
            Pushed::Spilled
        }
    }

    /// Step 1's overflow: moves the older half of the deque to the injector, through the gate.
    /// Returns whether it moved any (a closed gate leaves them on the seat, which its holder
    /// empties on its way out: shutdown.rs, step 4).
    fn spill(&self, local: &mut SeatLocal) -> bool {
        let Some(admitted) = self.gate.enter() else {
            return false;
        };
        // Taken out first, then pushed under one lock of the injector (injector.rs).
        let mut batch = std::mem::take(&mut local.spill);
        batch.extend(std::iter::from_fn(|| local.deque.pop()).take(LOCAL_QUEUE_CAPACITY / 2));
        self.push_injector_batch(&admitted, &mut batch);
        local.spill = batch;
        true
    }
}
