//! # The stall monitor and the spare room
//!
//! Rust cannot preempt a future. A task that blocks its thread (a long computation, a blocking
//! syscall, `std::thread::sleep`) keeps every job queued behind it on that worker waiting,
//! and a worker's LIFO slot cannot even be stolen. The monitor gives the pool the guarantee
//! preemption would, the way Go's `sysmon` retakes a P from a thread stuck in a syscall:
//!
//! 1. Every half time slice the monitor samples each seat's state word (seat.rs): a seat
//!    that shows the same `POLLING(seq)` as at an earlier sample is inside one long poll. At
//!    the second sample that sees it (so the poll is at least half a slice old) the monitor
//!    reads the holder thread's account from the kernel ([`Account`]: whether it is
//!    blocked, and how much CPU time it has used) as a baseline. If the thread is blocked
//!    then, the time since the first sample counts as the poll's own (as in step 2); if it
//!    is not, none does (its CPU time before the baseline is unknown), so a computing poll
//!    is handed off after one and a half slices at the earliest, a blocked one after one.
//! 2. At each later sample it reads the account again and adds the poll's *own* time since
//!    the last sample: the whole interval if the thread is blocked in the kernel now (a
//!    blocking syscall, a sleep, a lock), else the CPU time it used in the interval (a long
//!    computation). Time the thread spent runnable but waiting for a CPU (the OS gave its CPU
//!    to another thread) is not its own and does not count. When the poll's own time
//!    reaches a time slice (default 10 ms), the worker is stuck, and the monitor
//!    takes the seat with `try_hand_off` (seat.rs, step 3). The CAS fails harmlessly if the
//!    poll ended meanwhile or the holder is pushing to its seat (`LOCKED`; next sample). A
//!    poll that has been watched a slice of wall time but has less than a slice of its own is
//!    *preempted*, not stuck: the monitor leaves it its seat (a hand-off would start a thread
//!    to compete for the very CPU the worker waits for). Why not the kernel's run-queue
//!    delay (`schedstat`'s second field), which would say "preempted" directly? The kernel
//!    adds a wait to it only when the wait ends, so a thread kept off its CPU right now shows
//!    none. Where the account cannot be read (no `/proc`), wall time is all there is, and it
//!    counts whole.
//! 3. It records the hand-off (the seat, the task by id, how long it was stuck) in the metrics.
//! 4. It gives the seat to a spare thread waiting in the spare room, or starts a new thread if
//!    none waits. The new holder calls `take_over` and runs the worker loop on the seat: its
//!    LIFO slot and deque, stealable again, and the seat counts as awake for the sleep
//!    protocol exactly as before (the seat, not the thread, is what is counted).
//! 5. When the stuck poll finally returns, its thread finds the seat gone (`end_poll` says
//!    `HandedOff`), forgets it, and enters the spare room (`wait_as_spare`) to be the spare
//!    for the next hand-off, or exits if the room is full (`max_spare_threads`) or the pool is
//!    shutting down.
//!
//! So a pool of `n` seats always has `n` threads able to run jobs, plus the stuck ones, plus
//! at most `max_spare_threads` idle spares.
//!
//! ## The monitor sleeps while nothing polls
//!
//! A poll runs only on a seat whose holder is awake: the sleep protocol (sleep.rs) counts
//! the seats that are *unparked*, and a holder leaves `sleep::sleep` (where it is counted back)
//! before it polls again. So when that count is zero nothing can be stuck, and sampling is
//! wasted CPU and a context switch every half slice (the issue that made this measured an
//! idle pool at 3 ms of CPU and 195 context switches per second, all the monitor's). Hence:
//!
//! - **M1** After [`IDLE_SAMPLES_BEFORE_PARK`] samples in a row that find every seat parked,
//!   the monitor sets [`MonitorBell::sleeping`], then reads the unparked count again; if it
//!   is still zero it parks with no timeout, else it clears the flag and samples on.
//! - **M2** A worker that returns from `sleep::sleep` ([`MonitorBell::ring`]) reads the flag,
//!   and if it is set, clears it and unparks the monitor.
//!
//! No stall goes unwatched. Every store and load of the flag and every change of the
//! unparked count is SeqCst, so they are totally ordered. If M1's second read saw zero, the
//! increment that later counts a seat awake again (a notifier's N3, or the sleeper's own
//! `cancel_sleep`) comes after that read, hence after M1's store, in that order; the holder
//! returns from `sleep::sleep` after the increment (it made it, or was unparked after it), so
//! its M2 load comes later still and sees the flag set, unless another worker's M2 already
//! cleared it, which means that worker unparked the monitor. The monitor's [`Parker`] keeps
//! the token of an unpark that comes before the park, so it does not miss one.
//!
//! The wake costs a worker one futex call, and only when it is the first to wake after the
//! whole pool slept for [`IDLE_SAMPLES_BEFORE_PARK`] samples; the flag is otherwise read,
//! never written, by the workers (one load, on a cache line they all share read-only).

use super::metrics::HandOff;
use super::shared::PoolShared;
use super::worker::{Start, spawn_thread};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchyard_runtime::park::{Parker, Unparker};

/// "No seat assigned yet" in [`Spare::assigned`].
const NO_SEAT: usize = usize::MAX;

/// A thread waiting in the spare room for a seat.
pub(crate) struct Spare {
    unparker: Unparker,
    /// The seat the monitor handed to this spare, or [`NO_SEAT`].
    assigned: AtomicUsize,
}

/// Samples in a row that must find every seat parked before the monitor parks (M1). At the
/// default slice that is 20 ms of idleness: long enough that a pool serving requests a few
/// milliseconds apart does not pay a monitor wake-up per request, short enough that an idle
/// pool is silent almost at once. Picked by reasoning, not measured.
pub(crate) const IDLE_SAMPLES_BEFORE_PARK: u32 = 4;

/// The monitor's sleep (M1, M2): shared by the monitor and the workers.
pub(crate) struct MonitorBell {
    /// Set by the monitor before it parks for good (M1); cleared by whoever wakes it (M2).
    sleeping: AtomicBool,
    /// The monitor's unparker; `None` if the pool has no monitor.
    unparker: Option<Unparker>,
}

impl MonitorBell {
    pub(crate) fn new(unparker: Option<Unparker>) -> MonitorBell {
        MonitorBell {
            sleeping: AtomicBool::new(false),
            unparker,
        }
    }

    /// M2: a worker is awake again; wake the monitor if it sleeps.
    pub(crate) fn ring(&self) {
        // SeqCst: ordered after the increment of the unparked count that woke this worker
        // (module doc, the proof); the swap makes one waker do the unpark.
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            if let Some(unparker) = &self.unparker {
                unparker.unpark();
            }
        }
    }
}

/// What the kernel says about one thread right now: its state, from
/// `/proc/self/task/TID/stat`, and the CPU time it has used, from
/// `/proc/self/task/TID/schedstat` (the kernel's `sched_info`, exact to the scheduler tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Account {
    /// Sleeping in the kernel: state `S` (interruptible) or `D` (uninterruptible). `R`
    /// (running or runnable), `T` (stopped) and the rest are not the thread's own doing.
    pub(crate) blocked: bool,
    /// Nanoseconds on a CPU so far.
    pub(crate) on_cpu_ns: u64,
}

impl Account {
    /// The account of thread `tid` of this process, if the kernel keeps one. Under Miri there
    /// is no `/proc` to read (its isolation refuses `open`): the monitor then counts wall
    /// time, as it does wherever the account cannot be read.
    pub(crate) fn read(tid: i32) -> Option<Account> {
        if cfg!(miri) {
            return None;
        }
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // `tid (comm) state ...`: the name may hold spaces and parentheses, so the state is
        // the first field after the last `)`.
        let state = stat[stat.rfind(')')? + 1..]
            .split_ascii_whitespace()
            .next()?;
        let schedstat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        let on_cpu_ns = schedstat.split_ascii_whitespace().next()?.parse().ok()?;
        Some(Account {
            blocked: matches!(state, "S" | "D"),
            on_cpu_ns,
        })
    }
}

/// The calling thread's kernel id, which [`Account::read`] takes.
pub(crate) fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// What the monitor knows about the long poll on one seat.
#[derive(Clone, Copy)]
struct Watch {
    seq: u64,
    /// The first sample that saw this poll.
    since: Instant,
    /// Step 1's baseline (when it was read), then the last sample: when, and the account
    /// (`None`: unreadable, wall time counts whole).
    last: Option<(Instant, Option<Account>)>,
    /// When the baseline was read.
    watched_from: Option<Instant>,
    /// The poll's own time since the baseline (step 2).
    own: Duration,
}

/// Step 2: how much of the `wall` time between two samples was the poll's own, given the
/// accounts at both ends: all of it if the thread is blocked now (it sleeps in the kernel: a
/// sample, so a thread that blocks and wakes between two samples counts by its CPU time
/// only); else the CPU time it used, so time spent runnable but off the CPU does not count.
/// Without accounts, all of it.
fn own_time(wall: Duration, before: Option<Account>, now: Option<Account>) -> Duration {
    match (before, now) {
        (Some(_), Some(now)) if now.blocked => wall,
        (Some(before), Some(now)) => {
            Duration::from_nanos(now.on_cpu_ns.saturating_sub(before.on_cpu_ns)).min(wall)
        }
        _ => wall,
    }
}

/// The monitor thread's body (steps 1-4, M1).
pub(crate) fn run(shared: Arc<PoolShared>, parker: Parker, slice: Duration) {
    let mut watches: Vec<Option<Watch>> = vec![None; shared.seats.len()];
    let period = slice / 2;
    let mut idle_samples = 0;
    loop {
        if idle_samples >= IDLE_SAMPLES_BEFORE_PARK {
            // M1.
            idle_samples = 0;
            shared.monitor.sleeping.store(true, Ordering::SeqCst);
            if shared.idle.unparked_now() == 0 && !shared.is_shut_down() {
                if let Some(hook) = &shared.config.hooks.test_hook {
                    hook(super::builder::TestPoint::MonitorParks);
                }
                parker.park();
            }
            shared.monitor.sleeping.store(false, Ordering::SeqCst);
        } else {
            parker.park_timeout(period);
        }
        if shared.is_shut_down() {
            return;
        }
        if shared.idle.unparked_now() == 0 {
            idle_samples += 1;
            watches.fill(None);
            continue;
        }
        idle_samples = 0;
        let now = Instant::now();
        for (seat, slot) in shared.seats.iter().enumerate() {
            // 1.
            let Some((seq, job)) = slot.polling() else {
                watches[seat] = None;
                continue;
            };
            let watch = match &mut watches[seat] {
                Some(watch) if watch.seq == seq => watch,
                other => {
                    *other = Some(Watch {
                        seq,
                        since: now,
                        last: None,
                        watched_from: None,
                        own: Duration::ZERO,
                    });
                    continue;
                }
            };
            let tid = slot.holder_tid();
            let account = Account::read(tid);
            let (Some((last_at, last)), Some(from)) = (watch.last, watch.watched_from) else {
                watch.last = Some((now, account));
                watch.watched_from = Some(now);
                // A thread blocked at the baseline is taken to have been blocked since the
                // first sample (the same sampling as step 2), so a blocking poll is handed off
                // a slice after it was first seen, as before this account existed.
                watch.own = match account {
                    Some(account) if !account.blocked => Duration::ZERO,
                    _ => now.duration_since(watch.since),
                };
                continue;
            };
            // 2.
            watch.own += own_time(now.duration_since(last_at), last, account);
            watch.last = Some((now, account));
            if watch.own < slice {
                if now.duration_since(from) >= slice {
                    if let Some(hook) = &shared.config.hooks.test_hook {
                        hook(super::builder::TestPoint::MonitorSparesPreempted);
                    }
                }
                continue;
            }
            let stuck_for = now.duration_since(watch.since);
            if slot.try_hand_off(seq) {
                watches[seat] = None;
                // 3.
                shared.metrics.record_hand_off(HandOff {
                    worker: seat,
                    task: job,
                    stuck_for,
                });
                // 4.
                give_seat(&shared, seat);
            }
        }
    }
}

/// Step 4.
fn give_seat(shared: &Arc<PoolShared>, seat: usize) {
    let spare = shared
        .spares
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop();
    match spare {
        Some(spare) => {
            // Release: the spare's Acquire load sees the hand-off CAS (and so the old holder's
            // pushes) before it touches the seat.
            spare.assigned.store(seat, Ordering::Release);
            spare.unparker.unpark();
        }
        None => {
            shared
                .metrics
                .spare_threads_started
                .fetch_add(1, Ordering::Relaxed);
            if spawn_thread(shared, Start::HandedOff(seat)).is_err() {
                // No thread: the seat's jobs are not lost, only slower. Put them where the
                // other workers look. This thread now holds the seat (after `take_over`) and
                // never polls, so it may empty it.
                let slot = &shared.seats[seat];
                slot.take_over();
                // SAFETY: the hand-off CAS made the monitor the seat's only holder, with the
                // tag OWNED after `take_over` (seat.rs, steps 3 and 6); this is the holding's
                // one key, used on this thread only, and the slot outlives it (it lives in
                // `shared`, borrowed here). The monitor empties the seat and gives it to nobody.
                let mut key = unsafe { slot.key() };
                let local = key.local();
                let lifo = local.lifo.take();
                let drained: Vec<_> = std::iter::from_fn(|| local.deque.pop()).collect();
                for job in lifo.into_iter().chain(drained) {
                    shared.inject(job);
                }
            }
        }
    }
}

/// Step 5: a thread whose seat was handed off waits here for a seat of its own. Returns the
/// seat it was given, or `None` if it should exit.
pub(crate) fn wait_as_spare(
    shared: &PoolShared,
    parker: &Parker,
    unparker: &Unparker,
) -> Option<usize> {
    let me = Arc::new(Spare {
        unparker: unparker.clone(),
        assigned: AtomicUsize::new(NO_SEAT),
    });
    {
        let mut room = shared.spares.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the room's lock: shutdown sets the flag, then empties the room under
        // the same lock, so either we see the flag or shutdown sees us.
        if shared.is_shut_down() || room.len() >= shared.config.max_spare_threads {
            return None;
        }
        room.push(me.clone());
    }
    loop {
        parker.park();
        // Acquire: pairs with give_seat's Release.
        let seat = me.assigned.load(Ordering::Acquire);
        if seat != NO_SEAT {
            return Some(seat);
        }
        if shared.is_shut_down() {
            return None;
        }
    }
}

/// Shutdown: wakes every spare so it sees the flag and exits.
pub(crate) fn release_spares(shared: &PoolShared) {
    let spares: Vec<_> = shared
        .spares
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
        .collect();
    for spare in spares {
        spare.unparker.unpark();
    }
}
