//! # `Registration`: one source's place in the reactor
//!
//! A `Registration` owns a slot of the table (freed on drop) and a shared pointer to the
//! slot's [`ScheduledIo`]. Tasks ask it whether the source is ready to read or write, and
//! tell it when a syscall said `WouldBlock`. It remembers, per direction, the readiness
//! tick it last reported, so that a clear can tell whether a newer event has arrived since
//! (see the reactor's module doc, "Clearing readiness").

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};

use mio::Token;
use mio::event::Source;

use super::handle::IoHandle;
use super::scheduled_io::{Direction, ScheduledIo};
use super::token::Key;

/// A source registered with a reactor: its slab key and generation (together its
/// `mio::Token`), its readiness, and its read and write waiters. `Send + Sync`: a read
/// and a write may wait on it from two tasks at once.
pub struct Registration {
    handle: IoHandle,
    key: Key,
    io: Arc<ScheduledIo>,
    /// The tick last reported ready for reading; Relaxed, like the readiness word itself.
    read_tick: AtomicUsize,
    /// The tick last reported ready for writing.
    write_tick: AtomicUsize,
}

impl Registration {
    pub(crate) fn new(handle: IoHandle, key: Key, io: Arc<ScheduledIo>) -> Registration {
        Registration {
            handle,
            key,
            io,
            read_tick: AtomicUsize::new(0),
            write_tick: AtomicUsize::new(0),
        }
    }

    /// `Ready(Ok(()))` when the source may be read (or accepted from) without blocking, or
    /// its peer has closed; otherwise registers `cx`'s waker as the read waiter.
    /// `Ready(Err(..))` once the reactor is gone.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Read, cx)
    }

    /// `Ready(Ok(()))` when the source may be written (or its connect has finished);
    /// otherwise registers `cx`'s waker as the write waiter.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_ready(Direction::Write, cx)
    }

    /// A read reported `WouldBlock`: forget the read readiness, unless an event arrived
    /// after the last `poll_read_ready` said ready (then keep it, and the next poll retries).
    pub fn clear_read_ready(&self) {
        self.io
            .clear_ready(Direction::Read, self.read_tick.load(Relaxed));
    }

    /// A write reported `WouldBlock`: forget the write readiness, with the same care.
    pub fn clear_write_ready(&self) {
        self.io
            .clear_ready(Direction::Write, self.write_tick.load(Relaxed));
    }

    /// Removes `source` from the reactor's epoll set. Call it before closing the source
    /// (the net types do so on drop): a file descriptor that was duplicated (by `dup` or a
    /// `fork`) stays in the epoll set after `close` otherwise. Events already in flight for
    /// this registration are ignored once it is dropped, thanks to its token's generation.
    pub fn deregister(&self, source: &mut impl Source) -> io::Result<()> {
        self.handle.shared.registry.deregister(source)
    }

    /// The token epoll reports this registration's events with.
    pub fn token(&self) -> Token {
        self.key.token()
    }

    /// The handle of the reactor this registration belongs to.
    pub fn handle(&self) -> &IoHandle {
        &self.handle
    }

    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.io.poll_ready(direction, cx).map_ok(|tick| {
            let seen = match direction {
                Direction::Read => &self.read_tick,
                Direction::Write => &self.write_tick,
            };
            seen.store(tick, Relaxed);
        })
    }

    pub(crate) fn clear_ready(&self, direction: Direction) {
        match direction {
            Direction::Read => self.clear_read_ready(),
            Direction::Write => self.clear_write_ready(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut table = self.handle.shared.lock_table();
        table.remove(self.key);
        // Relaxed: see `ReactorShared::live`.
        self.handle
            .shared
            .live
            .store(table.len(), std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("token", &self.token())
            .finish_non_exhaustive()
    }
}
