//! What the loop counts about itself.

use std::cell::Cell;

/// A snapshot of the loop's counters, from [`EventLoop::metrics`](super::EventLoop::metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopMetrics {
    /// Ticks run (see the module doc for what one tick does).
    pub ticks: u64,
    /// Task polls (not counting the main future).
    pub polls: u64,
    /// Tasks spawned.
    pub spawned: u64,
    /// Times the loop blocked in the reactor with nothing to run.
    pub parks: u64,
    /// Runnables that arrived through the remote queue (wakes and spawns from other threads).
    pub remote_scheduled: u64,
    /// Tasks alive now.
    pub live_tasks: usize,
}

/// The loop-thread counters; `Cell`s because only the loop thread touches them.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) ticks: Cell<u64>,
    pub(super) polls: Cell<u64>,
    pub(super) spawned: Cell<u64>,
    pub(super) parks: Cell<u64>,
    pub(super) remote_scheduled: Cell<u64>,
}

impl Counters {
    #[inline]
    pub(super) fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get().wrapping_add(n));
    }
}
