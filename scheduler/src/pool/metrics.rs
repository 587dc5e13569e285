//! # Metrics: what the pool did, readable while it runs
//!
//! Counters live beside the thing they count and are written by one thread only (a seat's
//! counters by its holder; Relaxed load + store, no read-modify-write on the hot path), so
//! keeping them costs a plain store. [`Pool::metrics`](super::Pool::metrics) reads them all
//! into a [`Metrics`] snapshot.
//!
//! Schedule latency (from the moment a task is scheduled to the moment a worker starts polling
//! it) is sampled, not measured for every task: one schedule in [`LATENCY_SAMPLE_EVERY`] per
//! thread arms a single shared sample (job id + timestamp) if none is armed; the worker that
//! polls that job records the difference into an [`hdrhistogram::Histogram`] behind a mutex.
//! The cost on the hot path is one thread-local counter increment per schedule and one shared,
//! read-mostly atomic load per poll.

use hdrhistogram::Histogram;
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchyard_runtime::task::TaskId;

/// One schedule in this many (per thread) is timed. A power of two so the test is a mask;
/// picked so sampling costs under 1 ns per schedule on average (an `Instant::now` is ~25 ns).
pub const LATENCY_SAMPLE_EVERY: u64 = 64;

/// The histogram's range: 1 ns to 60 s, 2 significant digits (1% resolution, enough for a
/// p99). Its counters are allocated zero-filled when the pool starts, so they are resident
/// from the first moment: 3,840 of them at 2 digits (30 KiB), against 27,648 (216 KiB) at
/// hdrhistogram's usual 3, which was most of the pool's memory above tokio's before the
/// first connection (issue 11, heaptrack), and was copied again by every `metrics()`.
const LATENCY_MAX_NS: u64 = 60_000_000_000;
const LATENCY_SIGFIG: u8 = 2;

/// Hand-off records kept (the count keeps going beyond it). Old ones are dropped first.
pub const HAND_OFF_LOG: usize = 256;

/// Per-seat counters. Written by the seat's holder only.
#[derive(Debug, Default)]
pub(crate) struct SeatMetrics {
    pub(crate) polls: AtomicU64,
    pub(crate) steal_ops: AtomicU64,
    pub(crate) stolen_tasks: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) unparks: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) lifo_polls: AtomicU64,
    pub(crate) closure_panics: AtomicU64,
}

/// Single-writer increment: a Relaxed load and store, no locked instruction.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// The counters of one worker (seat) at the time of the snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerMetrics {
    /// Jobs polled (tasks polled once, or closures run).
    pub polls: u64,
    /// Of those, jobs taken from the LIFO slot.
    pub lifo_polls: u64,
    /// Successful steal operations (one batch each) from other workers or the injector.
    pub steal_ops: u64,
    /// Jobs moved by those steals.
    pub stolen_tasks: u64,
    /// Times the worker went to sleep.
    pub parks: u64,
    /// Times it woke up.
    pub unparks: u64,
    /// Time spent not parked.
    pub busy: Duration,
    /// Jobs in its deque now (its LIFO slot not counted).
    pub local_queue_depth: usize,
    /// Closures that panicked on this worker (caught; the worker lived on).
    pub closure_panics: u64,
}

/// One hand-off by the stall monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandOff {
    /// The seat (worker index) whose queues were handed to another thread.
    pub worker: usize,
    /// The task stuck in its poll, or `None` for a closure.
    pub task: Option<TaskId>,
    /// How long it had been stuck when the monitor acted (at least the time slice).
    pub stuck_for: Duration,
}

/// A snapshot of the pool's metrics. See [`Pool::metrics`](super::Pool::metrics).
#[derive(Clone)]
pub struct Metrics {
    /// One entry per worker (seat), by index.
    pub workers: Vec<WorkerMetrics>,
    /// Jobs waiting in the injector (the global queue).
    pub injector_depth: usize,
    /// Hand-offs performed by the stall monitor since the pool started.
    pub hand_offs: u64,
    /// The last [`HAND_OFF_LOG`] hand-offs, oldest first.
    pub hand_off_log: Vec<HandOff>,
    /// Workers searching (stealing) at the time of the snapshot.
    pub searching_workers: usize,
    /// Workers asleep at the time of the snapshot.
    pub sleeping_workers: usize,
    /// Tasks spawned on the pool whose futures have not been dropped yet.
    pub live_tasks: usize,
    /// Threads started for hand-offs (spares), beyond the workers.
    pub spare_threads_started: u64,
    /// Sleeping workers woken by a notifier since the pool started (sleep.rs, N3): each one a
    /// futex or eventfd round trip and a context switch, worth it only if the woken worker
    /// finds a job.
    pub sleeper_wakes: u64,
    /// Sampled schedule latency (wake to poll), in nanoseconds.
    pub schedule_latency: Histogram<u64>,
}

impl std::fmt::Debug for Metrics {
    /// The histogram is summarised (count, p50, p99, max in ns), not dumped bucket by bucket.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = &self.schedule_latency;
        f.debug_struct("Metrics")
            .field("workers", &self.workers)
            .field("injector_depth", &self.injector_depth)
            .field("hand_offs", &self.hand_offs)
            .field("hand_off_log", &self.hand_off_log)
            .field("searching_workers", &self.searching_workers)
            .field("sleeping_workers", &self.sleeping_workers)
            .field("live_tasks", &self.live_tasks)
            .field("spare_threads_started", &self.spare_threads_started)
            .field("sleeper_wakes", &self.sleeper_wakes)
            .field(
                "schedule_latency_ns",
                &format_args!(
                    "count {} p50 {} p99 {} max {}",
                    h.len(),
                    h.value_at_quantile(0.5),
                    h.value_at_quantile(0.99),
                    h.max()
                ),
            )
            .finish()
    }
}

impl Metrics {
    /// The sum of every worker's polls.
    pub fn total_polls(&self) -> u64 {
        self.workers.iter().map(|w| w.polls).sum()
    }

    /// The sum of every worker's stolen jobs.
    pub fn total_stolen(&self) -> u64 {
        self.workers.iter().map(|w| w.stolen_tasks).sum()
    }
}

/// Pool-wide counters and the latency sampler.
pub(crate) struct PoolMetrics {
    epoch: Instant,
    /// Id of the job whose schedule time is in `sample_at_ns`; 0 when none is armed.
    sample_id: AtomicU64,
    sample_at_ns: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    pub(crate) hand_offs: AtomicU64,
    pub(crate) hand_off_log: Mutex<std::collections::VecDeque<HandOff>>,
    pub(crate) spare_threads_started: AtomicU64,
}

thread_local! {
    static SCHEDULES: Cell<u64> = const { Cell::new(0) };
}

impl PoolMetrics {
    pub(crate) fn new() -> PoolMetrics {
        PoolMetrics {
            epoch: Instant::now(),
            sample_id: AtomicU64::new(0),
            sample_at_ns: AtomicU64::new(0),
            latency: Mutex::new(
                Histogram::new_with_bounds(1, LATENCY_MAX_NS, LATENCY_SIGFIG)
                    .expect("static histogram bounds are valid"),
            ),
            hand_offs: AtomicU64::new(0),
            hand_off_log: Mutex::new(std::collections::VecDeque::new()),
            spare_threads_started: AtomicU64::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Called on every schedule of a task (closures are not sampled).
    #[inline]
    pub(crate) fn on_schedule(&self, id: TaskId) {
        let id = id.as_u64();
        let n = SCHEDULES.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n
        });
        if n & (LATENCY_SAMPLE_EVERY - 1) != 0 {
            return;
        }
        // Store the time first, then publish the id (Release): a poller that sees the id
        // (Acquire) sees this time. If the time is overwritten by a racing arm, the race is
        // lost by the CAS below and only costs one sample's accuracy.
        if self.sample_id.load(Ordering::Relaxed) == 0 {
            self.sample_at_ns.store(self.now_ns(), Ordering::Relaxed);
            let _ = self
                .sample_id
                .compare_exchange(0, id, Ordering::Release, Ordering::Relaxed);
        }
    }

    /// Called on every poll of a task.
    #[inline]
    pub(crate) fn on_poll(&self, id: TaskId) {
        let id = id.as_u64();
        if self.sample_id.load(Ordering::Relaxed) != id {
            return;
        }
        self.record_sample(id);
    }

    #[cold]
    fn record_sample(&self, id: u64) {
        // Acquire: pairs with the Release that armed the sample, so `sample_at_ns` is its time.
        if self.sample_id.load(Ordering::Acquire) != id {
            return;
        }
        let at = self.sample_at_ns.load(Ordering::Relaxed);
        let latency = self.now_ns().saturating_sub(at).max(1);
        if self
            .sample_id
            .compare_exchange(id, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            let mut hist = self.latency.lock().unwrap_or_else(|e| e.into_inner());
            hist.saturating_record(latency);
        }
    }

    pub(crate) fn record_hand_off(&self, hand_off: HandOff) {
        self.hand_offs.fetch_add(1, Ordering::Relaxed);
        let mut log = self.hand_off_log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == HAND_OFF_LOG {
            log.pop_front();
        }
        log.push_back(hand_off);
    }

    pub(crate) fn latency(&self) -> Histogram<u64> {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl SeatMetrics {
    pub(crate) fn snapshot(&self, local_queue_depth: usize) -> WorkerMetrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        WorkerMetrics {
            polls: get(&self.polls),
            lifo_polls: get(&self.lifo_polls),
            steal_ops: get(&self.steal_ops),
            stolen_tasks: get(&self.stolen_tasks),
            parks: get(&self.parks),
            unparks: get(&self.unparks),
            busy: Duration::from_nanos(get(&self.busy_ns)),
            local_queue_depth,
            closure_panics: get(&self.closure_panics),
        }
    }
}
