//! # The stall monitor and the spare room
//!
//! Rust cannot preempt a future. A task that blocks its thread (a long computation, a blocking
//! syscall, `std::thread::sleep`) keeps every job queued behind it on that worker waiting,
//! and a worker's LIFO slot cannot even be stolen. The monitor gives the pool the guarantee
//! preemption would, the way Go's `sysmon` retakes a P from a thread stuck in a syscall:
//!
//! 1. The monitor samples each seat's state word (seat.rs) at the moments the cadence below
//!    picks, at most a time slice apart while any worker is awake. A seat that shows a
//!    `POLLING(seq)` it has not seen before is inside a poll the monitor now *watches*: it
//!    reads the holder thread's CPU clock (one `clock_gettime`, no file) as the baseline and
//!    sets the watch's check for a time slice later, the earliest moment the poll could have
//!    a slice of its own time since then. A seat showing the same `POLLING(seq)` before its
//!    check is due is left alone: the sample costs it one load.
//! 2. At a due check the seat still shows the same `POLLING(seq)`: the monitor reads the
//!    holder's account ([`Account`]: whether it is blocked in the kernel, and its CPU clock)
//!    and adds the poll's *own* time since the last look: the whole interval if the thread
//!    is blocked now (a blocking syscall, a sleep, a lock), else the CPU time it used in the
//!    interval (a long computation). Time the thread spent runnable but waiting for a CPU
//!    (the OS gave its CPU to another thread) is not its own and does not count. When the
//!    poll's own time reaches a time slice (default 10 ms), the worker is stuck, and the
//!    monitor takes the seat with `try_hand_off` (seat.rs, step 3). The CAS fails harmlessly
//!    if the poll ended meanwhile or the holder is pushing to its seat (`LOCKED`; the check
//!    is then due again after [`MIN_RECHECK_DIVISOR`]'s fraction of a slice). Otherwise the
//!    next check is due when the rest of the slice could have passed as the poll's own
//!    (`slice - own`, at least a [`MIN_RECHECK_DIVISOR`]th of a slice). A poll that has been
//!    watched a slice of wall time but has less than a slice of its own is *preempted*, not
//!    stuck: the monitor leaves it its seat (a hand-off would start a thread to compete for
//!    the very CPU the worker waits for). Why not the kernel's run-queue delay
//!    (`schedstat`'s second field), which would say "preempted" directly? The kernel adds a
//!    wait to it only when the wait ends, so a thread kept off its CPU right now shows none.
//!    Where the account cannot be read (no `/proc`), wall time is all there is, and it
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
//! ## The cadence: one wake per slice while polls are short
//!
//! A stall is a poll that lasts a time slice, so the monitor need not look more often than
//! one can happen. While any worker is awake it sleeps until the earliest due check of a
//! watched poll (step 2), or for a whole slice if it watches none. A poll that begins just
//! after a sample is first seen at most a slice later, and its own time counts from there:
//!
//! - **Detection.** A poll is handed off at the first check after its own time since the
//!   monitor first saw it reaches a slice; it is first seen at most a slice after it began.
//!   So a poll blocked, or computing on its CPU, from its start loses its seat between one
//!   and two slices after it began (10-20 ms at the default); one the OS kept off its CPU
//!   for part of that time, later by that time, plus at most a [`MIN_RECHECK_DIVISOR`]th of
//!   a slice of re-check lag. The monitor's timers run with that much slack too
//!   ([`set_timer_slack`]: the kernel may fire them up to a quarter slice late, so that a
//!   wake-up rides on an interrupt that comes anyway), which each of the two waits may add:
//!   the worst case for a poll stuck from its start is two and a half slices (25 ms). (The
//!   fixed half-slice tick this replaced handed a blocked poll off after one to one and a
//!   half slices, a computing one after one and a half to two.)
//! - **Cost.** While polls are short (each sample finds every seat between polls, or in a
//!   poll it has not seen before), the monitor wakes once per slice: 100 times per busy
//!   second at the default, half the tick's 200. A wake loads each seat's state word and
//!   makes one `clock_gettime` per seat found inside a poll; the files under `/proc` are read
//!   only at a due check, that is for a poll already a slice of wall time old. A long poll
//!   adds a check per slice (more often once it is nearly stuck). Measured with the lab's
//!   echo (pool, 2 workers, 100 connections) on the shared 2-core VM, three runs each, from
//!   the monitor thread's voluntary context switches and CPU time in `/proc` (after the
//!   change, two runs at 10,000/s: the sampler, polling every 0.2 s, missed the third's
//!   pool). At 10,000 requests/s the tick woke 155-243 times per second and used 2.2-4.6 ms
//!   of CPU per second (220-460 ns per request); this cadence wakes 59-83 times and uses
//!   1.3-2.4 ms (130-240 ns per request). At 50,000/s: 143-206 wake-ups and 3.0-4.9 ms,
//!   against 62-81 and 1.1-1.8 ms. Nearly all of it is the wake-up itself (about 20 µs of
//!   CPU each on that VM, before and after alike): the number of wake-ups is the cost.
//!
//! ## The monitor sleeps while nothing polls
//!
//! A poll runs only on a seat whose holder is awake: the sleep protocol (sleep.rs) counts
//! the seats that are *unparked*, and a holder leaves `sleep::sleep` (where it is counted back)
//! before it polls again. So when that count is zero nothing can be stuck, and sampling is
//! wasted CPU and a context switch per sample (the issue that made this measured an idle pool,
//! then sampled every half slice, at 3 ms of CPU and 195 context switches per second, all the
//! monitor's). Hence:
//!
//! - **M1** After [`IDLE_SAMPLES_BEFORE_PARK`] samples in a row (a slice apart) that find
//!   every seat parked and no poll ended since the sample before (the seats' poll counters
//!   unchanged: a pool that serves requests now and then, parked at each sample, is not idle,
//!   and parking would cost a wake-up by M2 at its next request), the monitor sets
//!   [`MonitorBell::sleeping`], then reads the unparked count again; if it is still zero it
//!   parks with no timeout, else it clears the flag and samples on.
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

/// Samples in a row (a slice apart) that must find every seat parked, with no poll ended
/// since the sample before, before the monitor parks (M1). At the default slice that is 20 ms
/// without a poll: an idle pool is silent almost at once. Picked by reasoning, not measured
/// (the same 20 ms as the four half-slice samples before the cadence of the module doc).
pub(crate) const IDLE_SAMPLES_BEFORE_PARK: u32 = 2;

/// A watched poll's next check (step 2) is due at least a slice divided by this after the last,
/// so a poll that gains its own time slowly (the OS gives its thread part of a CPU) is checked
/// a bounded number of times, not ever more often as it nears a slice.
pub(crate) const MIN_RECHECK_DIVISOR: u32 = 4;

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
/// `/proc/self/task/TID/stat`, and the CPU time it has used, from its CPU clock
/// ([`cpu_time_ns`]).
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
        Some(Account {
            blocked: matches!(state, "S" | "D"),
            on_cpu_ns: cpu_time_ns(tid)?,
        })
    }
}

/// The CPU time thread `tid` of this process has used, in nanoseconds, from its POSIX CPU
/// clock: one `clock_gettime`, no file, and exact (the kernel adds the running stretch of a
/// thread that is on a CPU now). `None` where there is no such clock (the thread has exited,
/// or under Miri, which has none for another thread).
pub(crate) fn cpu_time_ns(tid: i32) -> Option<u64> {
    if cfg!(miri) {
        return None;
    }
    // Linux's id for the CPU clock of thread `tid` (`MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`
    // in the kernel's include/linux/posix-timers.h, which glibc's `pthread_getcpuclockid`
    // builds the same way): the tid inverted, shifted left by 3, or-ed with 4 (per thread) and
    // 2 (scheduler time). The kernel reads it for any thread of the calling process.
    let clock = ((!(tid as u32)) << 3) as i32 | 6;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec that clock_gettime only writes; an id that
    // names no thread of this process (it exited) makes the call fail with EINVAL, nothing
    // worse.
    let rc = unsafe { libc::clock_gettime(clock, &mut now) };
    (rc == 0).then(|| now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64)
}

/// Lets the kernel fire the calling thread's timers up to `slack` late (`PR_SET_TIMERSLACK`;
/// the default is 50 µs), so a monitor wake-up can ride on an interrupt that comes anyway (a
/// scheduler tick, another thread's timer) instead of taking one of its own (the cadence).
/// Best effort: where the call fails, the default slack stays.
fn set_timer_slack(slack: Duration) {
    if cfg!(miri) {
        return;
    }
    let ns = libc::c_ulong::try_from(slack.as_nanos()).unwrap_or(libc::c_ulong::MAX);
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and changes only the calling thread's
    // timer slack; the other arguments are ignored.
    unsafe {
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            ns,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        );
    }
}

/// The calling thread's kernel id, which [`Account::read`] takes.
pub(crate) fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// What the monitor knows about the poll it watches on one seat (steps 1-2).
#[derive(Clone, Copy)]
struct Watch {
    seq: u64,
    /// The sample that first saw this poll.
    since: Instant,
    /// The last look at the thread (the first sample, then each check): when, and its CPU
    /// clock then (`None`: unreadable, wall time counts whole).
    last: Instant,
    last_cpu: Option<u64>,
    /// The poll's own time since `since`.
    own: Duration,
    /// When the next check is due.
    due: Instant,
}

/// Step 2: how much of the `wall` time since the last look was the poll's own, given its CPU
/// clock then and its account now: all of it if the thread is blocked now (it sleeps in the
/// kernel: a sample, so a thread that blocks and wakes between two looks counts by its CPU
/// time only); else the CPU time it used, so time spent runnable but off the CPU does not
/// count. Without a clock or account, all of it.
fn own_time(wall: Duration, before_cpu: Option<u64>, now: Option<Account>) -> Duration {
    match (before_cpu, now) {
        (Some(_), Some(now)) if now.blocked => wall,
        (Some(before), Some(now)) => {
            Duration::from_nanos(now.on_cpu_ns.saturating_sub(before)).min(wall)
        }
        _ => wall,
    }
}

/// The monitor thread's body (steps 1-4, the cadence, M1).
pub(crate) fn run(shared: Arc<PoolShared>, parker: Parker, slice: Duration) {
    let mut watches: Vec<Option<Watch>> = vec![None; shared.seats.len()];
    let min_recheck = slice / MIN_RECHECK_DIVISOR;
    set_timer_slack(min_recheck);
    let mut idle_samples = 0;
    let mut last_polls = polls_so_far(&shared);
    // The moment the next sample is due (the cadence).
    let mut next = Instant::now() + slice;
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
            let wait = next.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                parker.park_timeout(wait);
            }
        }
        if shared.is_shut_down() {
            return;
        }
        let now = Instant::now();
        // Nothing watched: a poll that begins now could be stuck a slice from now at the
        // earliest (the cadence).
        next = now + slice;
        // M1's count: a sample that finds every seat parked and no poll ended since the last
        // sample (the seats' poll counters, one load each, unchanged).
        let polls = polls_so_far(&shared);
        let polled = polls != last_polls;
        last_polls = polls;
        if shared.idle.unparked_now() == 0 {
            idle_samples = if polled { 0 } else { idle_samples + 1 };
            watches.fill(None);
            continue;
        }
        idle_samples = 0;
        for (seat, slot) in shared.seats.iter().enumerate() {
            // 1.
            let Some((seq, job)) = slot.polling() else {
                watches[seat] = None;
                continue;
            };
            let watch = match &mut watches[seat] {
                Some(watch) if watch.seq == seq => watch,
                other => {
                    let due = now + slice;
                    *other = Some(Watch {
                        seq,
                        since: now,
                        last: now,
                        last_cpu: cpu_time_ns(slot.holder_tid()),
                        own: Duration::ZERO,
                        due,
                    });
                    next = next.min(due);
                    continue;
                }
            };
            if now < watch.due {
                next = next.min(watch.due);
                continue;
            }
            // 2.
            let account = Account::read(slot.holder_tid());
            watch.own += own_time(now.duration_since(watch.last), watch.last_cpu, account);
            watch.last = now;
            watch.last_cpu = account.map(|a| a.on_cpu_ns);
            if watch.own < slice {
                if now.duration_since(watch.since) >= slice {
                    if let Some(hook) = &shared.config.hooks.test_hook {
                        hook(super::builder::TestPoint::MonitorSparesPreempted);
                    }
                }
                watch.due = now + (slice - watch.own).max(min_recheck);
                next = next.min(watch.due);
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
            } else {
                // The poll ended, or its holder is pushing to the seat (`LOCKED`): look again
                // soon.
                watch.due = now + min_recheck;
                next = next.min(watch.due);
            }
        }
    }
}

/// Polls ended on every seat so far (the seats' counters, wrapping), for M1's count.
fn polls_so_far(shared: &PoolShared) -> u64 {
    shared
        .seats
        .iter()
        .map(|slot| slot.metrics.polls.load(Ordering::Relaxed))
        .fold(0, u64::wrapping_add)
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
