//! # The stall monitor and the spare room
//!
//! Rust cannot preempt a future. A task that blocks its thread (a long computation, a blocking
//! syscall, `std::thread::sleep`) keeps every job queued behind it on that worker waiting,
//! and a worker's LIFO slot cannot even be stolen. The monitor gives the pool the guarantee
//! preemption would, the way Go's `sysmon` retakes a P from a thread stuck in a syscall:
//!
//! 1. Every half time slice the monitor samples each seat's state word (seat.rs): a seat
//!    that shows the same `POLLING(seq)` as at an earlier sample at least one time slice
//!    (default 10 ms) old has been stuck in one poll for a slice or more.
//! 2. It takes the seat with `try_hand_off` (seat.rs, step 3). The CAS fails harmlessly if the
//!    poll ended meanwhile or the holder is pushing to its seat (`LOCKED`; next sample).
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
//! at most `max_spare_threads` idle spares. The monitor sleeps on a [`Parker`] with a timeout
//! and is woken early only by shutdown.

use super::metrics::HandOff;
use super::shared::Shared;
use super::worker::{Start, spawn_thread};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// The monitor thread's body (steps 1-4).
pub(crate) fn run(shared: Arc<Shared>, parker: Parker, slice: Duration) {
    let mut seen: Vec<Option<(u64, Instant)>> = vec![None; shared.seats.len()];
    let period = slice / 2;
    loop {
        parker.park_timeout(period);
        if shared.is_shut_down() {
            return;
        }
        let now = Instant::now();
        for (seat, slot) in shared.seats.iter().enumerate() {
            // 1.
            let Some((seq, job)) = slot.polling() else {
                seen[seat] = None;
                continue;
            };
            match seen[seat] {
                Some((seen_seq, since)) if seen_seq == seq => {
                    let stuck_for = now.duration_since(since);
                    // 2.
                    if stuck_for >= slice && slot.try_hand_off(seq) {
                        seen[seat] = None;
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
                _ => seen[seat] = Some((seq, now)),
            }
        }
    }
}

/// Step 4.
fn give_seat(shared: &Arc<Shared>, seat: usize) {
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
                // SAFETY: the hand-off CAS made the monitor the seat's only holder (seat.rs,
                // step 3 and 6); it empties the seat here and gives it to nobody.
                let local = unsafe { slot.local() };
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
    shared: &Shared,
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
pub(crate) fn release_spares(shared: &Shared) {
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
