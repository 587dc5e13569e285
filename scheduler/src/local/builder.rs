//! The loop's tunables, in one place.

use std::io;

use super::EventLoop;

/// How many ready tasks one tick polls before it looks at timers and I/O. 61 is tokio's
/// `event_interval` (a prime, so it does not beat with periodic workloads); a higher value
/// trades timer and I/O latency for throughput. Taken from tokio, not measured here: no lab
/// experiment varies it yet (docs/lab.md lists what the lab measures).
pub const DEFAULT_POLLS_PER_TICK: u32 = 61;

/// How many tasks may be alive at once. A bound, not a reservation: the table grows as tasks
/// are spawned. 4 Mi is four times the lab's largest `scale` point.
pub const DEFAULT_TASK_CAPACITY: usize = 4 << 20;

/// How many I/O sources may be registered at once.
pub const DEFAULT_IO_CAPACITY: usize = 1 << 20;

/// The loop's ids keep the slab key in their low 32 bits (see the module doc).
const MAX_TASK_CAPACITY: usize = u32::MAX as usize;

/// Configures and builds an [`EventLoop`].
///
/// ```
/// use switchyard_scheduler::local::EventLoop;
///
/// let mut el = EventLoop::builder().task_capacity(1_000).polls_per_tick(32).build()?;
/// assert_eq!(el.block_on(async { 6 * 7 }), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    pub(super) task_capacity: usize,
    pub(super) polls_per_tick: u32,
    pub(super) io_capacity: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            task_capacity: DEFAULT_TASK_CAPACITY,
            polls_per_tick: DEFAULT_POLLS_PER_TICK,
            io_capacity: DEFAULT_IO_CAPACITY,
        }
    }
}

impl Builder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most tasks alive at once; a spawn beyond it returns
    /// [`SpawnError::AtCapacity`](super::SpawnError::AtCapacity). Clamped to `1..=u32::MAX`.
    pub fn task_capacity(mut self, capacity: usize) -> Self {
        self.task_capacity = capacity.clamp(1, MAX_TASK_CAPACITY);
        self
    }

    /// How many ready tasks one tick polls before timers and I/O (at least 1).
    pub fn polls_per_tick(mut self, polls: u32) -> Self {
        self.polls_per_tick = polls.max(1);
        self
    }

    /// The most I/O sources registered at once.
    pub fn io_capacity(mut self, capacity: usize) -> Self {
        self.io_capacity = capacity.max(1);
        self
    }

    /// Builds the loop: opens its `mio::Poll` (an epoll fd, an eventfd for wake-ups, a timerfd).
    pub fn build(self) -> io::Result<EventLoop> {
        EventLoop::from_builder(self)
    }
}
