//! # `ScheduledIo`: one registration's readiness and its two waiters
//!
//! The reactor thread writes readiness here when epoll reports an event; tasks read it before
//! they try a syscall and clear it when the syscall says `WouldBlock`. The state is one
//! atomic word plus a small mutex:
//!
//! ```text
//! readiness: AtomicUsize
//! +-------------------------------------------+---------+-----------------------------------+
//! | tick (48 bits): +1 for every event        | unused  | SHUTDOWN WRITE_CLOSED READ_CLOSED |
//! |                                           |         | WRITABLE READABLE (bits 4..0)     |
//! +-------------------------------------------+---------+-----------------------------------+
//! waiters: Mutex<{ reader: Option<Waker>, writer: Option<Waker> }>
//! ```
//!
//! Transitions (the function that performs each):
//!
//! ```text
//!            (1) set_readiness: bits |= event, tick += 1, take the waiters to wake
//!   +-----------+ ---------------------------------------------> +-----------+
//!   | not ready |                                                |   ready   |
//!   +-----------+ <--------------------------------------------- +-----------+
//!            (2) clear_ready(dir, tick): bit cleared only if the tick is the one
//!                the task saw when it was told "ready" (else: a newer event, keep it)
//!   (3) shutdown: SHUTDOWN set, both waiters woken; final
//! ```
//!
//! Who touches what: (1) and (3) run on the thread inside `Reactor::poll` or `Reactor::drop`;
//! `poll_ready` and (2) run on whatever thread polls the task. `READ_CLOSED` and
//! `WRITE_CLOSED` are never cleared: once the peer has hung up, every later read or write
//! should go ahead and see the end of stream or the error.
//!
//! Memory orderings are all `Relaxed`, and that is enough: the readiness bits carry no data
//! (the bytes are in the kernel, and the syscall is its own synchronisation), the race
//! between a clear and a newer event is settled by the modification order of this single
//! word (the compare-exchange in (2) fails if (1) came first), and the lost-wake-up race
//! between a task parking and the reactor waking is settled by the waiter mutex: the task
//! stores its waker and re-reads the word under the lock, while the reactor sets the word
//! before it takes the lock, so either the task sees the new bit or the reactor sees the waker.
//! Both races have loom models at the end of this file (`loom_tests`); deleting the re-read
//! under the lock makes the first one fail.

use std::io;
use std::task::{Context, Poll, Waker};

// From the loom shim: the waiter protocol below has a loom model (`loom_tests`).
use crate::loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::{Mutex, MutexGuard};

use super::error::ReactorError;

/// The socket can be read (or accepted from) without blocking.
pub(crate) const READABLE: usize = 1 << 0;
/// The socket can be written (or its connect has finished) without blocking.
pub(crate) const WRITABLE: usize = 1 << 1;
/// The peer shut down its write half: reads return end-of-stream. Never cleared.
pub(crate) const READ_CLOSED: usize = 1 << 2;
/// Our write half is closed (or the connection reset): writes fail. Never cleared.
pub(crate) const WRITE_CLOSED: usize = 1 << 3;
/// The reactor was dropped: every poll answers an error. Never cleared.
const SHUTDOWN: usize = 1 << 4;

/// The low bits of the word hold readiness; the tick counts events above them.
const TICK_SHIFT: u32 = 16;
const READY_MASK: usize = (1 << TICK_SHIFT) - 1;

/// Which half of a registration an operation waits for. Reads and writes have separate
/// waiters so that one task can read while another writes the same socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Reading, accepting, receiving.
    Read,
    /// Writing, connecting, sending.
    Write,
}

impl Direction {
    /// The bits that let an operation in this direction go ahead.
    fn ready_mask(self) -> usize {
        match self {
            Direction::Read => READABLE | READ_CLOSED,
            Direction::Write => WRITABLE | WRITE_CLOSED,
        }
    }

    /// The bit that a `WouldBlock` in this direction clears.
    fn clearable(self) -> usize {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }
}

/// The tick an operation saw when it was told "ready"; handed back to
/// [`ScheduledIo::clear_ready`].
pub(crate) type Tick = usize;

fn tick_of(word: usize) -> Tick {
    word >> TICK_SHIFT
}

#[derive(Default)]
struct Waiters {
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Waiters {
    fn slot(&mut self, direction: Direction) -> &mut Option<Waker> {
        match direction {
            Direction::Read => &mut self.reader,
            Direction::Write => &mut self.writer,
        }
    }
}

/// One registration's shared state; see the module doc.
#[derive(Default)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

impl ScheduledIo {
    /// (1) Records an event with the readiness bits `ready` and moves the waiters it
    /// concerns into `wake`, to be woken once the caller has released its locks.
    pub(crate) fn set_readiness(&self, ready: usize, wake: &mut Vec<Waker>) {
        debug_assert_eq!(ready & !READY_MASK, 0);
        // Relaxed: see the module doc; the word carries no data.
        let _ = self.readiness.fetch_update(Relaxed, Relaxed, |word| {
            let tick = tick_of(word).wrapping_add(1);
            Some((tick << TICK_SHIFT) | (word & READY_MASK) | ready)
        });
        let mut waiters = self.lock_waiters();
        if ready & Direction::Read.ready_mask() != 0 {
            wake.extend(waiters.reader.take());
        }
        if ready & Direction::Write.ready_mask() != 0 {
            wake.extend(waiters.writer.take());
        }
    }

    /// (3) Marks the registration dead because its reactor is gone; moves both waiters into
    /// `wake` so that their tasks learn it.
    pub(crate) fn shutdown(&self, wake: &mut Vec<Waker>) {
        self.readiness.fetch_or(SHUTDOWN, Relaxed);
        let mut waiters = self.lock_waiters();
        wake.extend(waiters.reader.take());
        wake.extend(waiters.writer.take());
    }

    /// `Ready(Ok(tick))` if an operation in `direction` may go ahead; otherwise stores the
    /// task's waker (replacing the previous waiter in that direction) and returns `Pending`.
    pub(crate) fn poll_ready(
        &self,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Tick>> {
        // Fast path without the lock: most polls after an event find the bit set.
        if let Poll::Ready(result) = Self::check(self.readiness.load(Relaxed), direction) {
            return Poll::Ready(result);
        }
        let mut waiters = self.lock_waiters();
        // Re-read under the lock: an event set between the load above and here would
        // otherwise find no waker to wake (see the module doc).
        if let Poll::Ready(result) = Self::check(self.readiness.load(Relaxed), direction) {
            return Poll::Ready(result);
        }
        let slot = waiters.slot(direction);
        let replaced = match slot {
            Some(waker) if waker.will_wake(cx.waker()) => None,
            _ => slot.replace(cx.waker().clone()),
        };
        drop(waiters);
        // Dropped outside the lock: dropping a waker may run a scheduler's code.
        drop(replaced);
        Poll::Pending
    }

    fn check(word: usize, direction: Direction) -> Poll<io::Result<Tick>> {
        if word & SHUTDOWN != 0 {
            Poll::Ready(Err(ReactorError::Shutdown.into()))
        } else if word & direction.ready_mask() != 0 {
            Poll::Ready(Ok(tick_of(word)))
        } else {
            Poll::Pending
        }
    }

    /// (2) The operation that was told "ready" at `tick` hit `WouldBlock`: clear the bit,
    /// unless an event arrived since (the tick moved on), which may be exactly the
    /// readiness the operation is missing. Leaving the bit then costs one spurious retry;
    /// clearing it could lose the event forever, since epoll reports each edge once.
    pub(crate) fn clear_ready(&self, direction: Direction, tick: Tick) {
        let _ = self.readiness.fetch_update(Relaxed, Relaxed, |word| {
            (tick_of(word) == tick).then_some(word & !direction.clearable())
        });
    }

    /// The current readiness bits (tests and debugging).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn readiness(&self) -> usize {
        self.readiness.load(Relaxed) & READY_MASK
    }

    fn lock_waiters(&self) -> MutexGuard<'_, Waiters> {
        // A panic while holding this lock can only come from a waker's clone or drop
        // (user code); the waiter slots are still consistent, so carry on.
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures_task::noop_waker;

    #[test]
    fn clear_is_skipped_when_a_newer_event_arrived() {
        let io = ScheduledIo::default();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut wake = Vec::new();
        io.set_readiness(READABLE, &mut wake);
        let Poll::Ready(Ok(seen)) = io.poll_ready(Direction::Read, &mut cx) else {
            panic!("readable after an event");
        };
        // A new event lands between the task's syscall and its clear.
        io.set_readiness(READABLE, &mut wake);
        io.clear_ready(Direction::Read, seen);
        assert!(io.poll_ready(Direction::Read, &mut cx).is_ready());
        // With no event in between, the clear takes effect.
        let Poll::Ready(Ok(seen)) = io.poll_ready(Direction::Read, &mut cx) else {
            unreachable!()
        };
        io.clear_ready(Direction::Read, seen);
        assert!(io.poll_ready(Direction::Read, &mut cx).is_pending());
    }

    #[test]
    fn read_and_write_waiters_are_woken_separately() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicUsize;
        struct Count(AtomicUsize);
        impl futures_task::ArcWake for Count {
            fn wake_by_ref(arc_self: &Arc<Self>) {
                arc_self.0.fetch_add(1, Relaxed);
            }
        }
        let reader = Arc::new(Count(AtomicUsize::new(0)));
        let writer = Arc::new(Count(AtomicUsize::new(0)));
        let reader_waker = futures_task::waker(reader.clone());
        let writer_waker = futures_task::waker(writer.clone());
        let io = ScheduledIo::default();
        assert!(
            io.poll_ready(Direction::Read, &mut Context::from_waker(&reader_waker))
                .is_pending()
        );
        assert!(
            io.poll_ready(Direction::Write, &mut Context::from_waker(&writer_waker))
                .is_pending()
        );
        let mut wake = Vec::new();
        io.set_readiness(WRITABLE, &mut wake);
        wake.drain(..).for_each(Waker::wake);
        assert_eq!(writer.0.load(Relaxed), 1);
        assert_eq!(reader.0.load(Relaxed), 0, "a write event woke the reader");
        io.set_readiness(READ_CLOSED, &mut wake);
        wake.drain(..).for_each(Waker::wake);
        assert_eq!(reader.0.load(Relaxed), 1);
        assert_eq!(io.readiness(), WRITABLE | READ_CLOSED);
    }

    #[test]
    fn closed_bits_survive_a_clear() {
        let io = ScheduledIo::default();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        io.set_readiness(READABLE | READ_CLOSED, &mut Vec::new());
        let Poll::Ready(Ok(seen)) = io.poll_ready(Direction::Read, &mut cx) else {
            unreachable!()
        };
        io.clear_ready(Direction::Read, seen);
        assert_eq!(io.readiness(), READ_CLOSED);
        assert!(io.poll_ready(Direction::Read, &mut cx).is_ready());
    }
}

/// Model checks of the two races in the module doc, under `--cfg loom`:
/// `RUSTFLAGS="--cfg loom" cargo test -p switchyard-runtime --lib loom_tests --release`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::Arc;
    use crate::loom::sync::atomic::AtomicBool;
    use crate::loom::thread;

    struct Flag(AtomicBool);

    impl futures_task::ArcWake for Flag {
        fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
            arc_self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// A task parks on a registration while the reactor delivers an event: either the task
    /// sees the readiness, or the reactor sees (and wakes) its waker. Never neither.
    #[test]
    fn parking_never_misses_a_concurrent_event() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::default());
            let reactor = {
                let io = io.clone();
                thread::spawn(move || {
                    let mut wake = Vec::new();
                    io.set_readiness(READABLE, &mut wake);
                    let woke = !wake.is_empty();
                    wake.drain(..).for_each(Waker::wake);
                    woke
                })
            };
            let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
            let waker = futures_task::waker(flag.clone());
            let ready = io
                .poll_ready(Direction::Read, &mut Context::from_waker(&waker))
                .is_ready();
            let woke = reactor.join().unwrap();
            assert!(ready || woke, "the event was lost");
            assert_eq!(woke, flag.0.load(std::sync::atomic::Ordering::SeqCst));
        });
    }

    /// A task clears readiness after a `WouldBlock` while the reactor delivers a newer
    /// event: the newer event's readiness survives the clear.
    #[test]
    fn a_clear_never_swallows_a_newer_event() {
        loom::model(|| {
            let io = Arc::new(ScheduledIo::default());
            io.set_readiness(READABLE, &mut Vec::new());
            let noop = futures_task::noop_waker();
            let Poll::Ready(Ok(seen)) =
                io.poll_ready(Direction::Read, &mut Context::from_waker(&noop))
            else {
                unreachable!("readiness was set above")
            };
            let reactor = {
                let io = io.clone();
                thread::spawn(move || io.set_readiness(READABLE, &mut Vec::new()))
            };
            io.clear_ready(Direction::Read, seen);
            reactor.join().unwrap();
            // Whatever the interleaving, the second event's readiness is still visible.
            assert!(
                io.poll_ready(Direction::Read, &mut Context::from_waker(&noop))
                    .is_ready()
            );
        });
    }
}
