//! # Shutdown: the numbered steps
//!
//! Dropping a [`Pool`](super::Pool) (or calling [`Pool::shutdown`](super::Pool::shutdown))
//! performs these steps, in this order, on the dropping thread:
//!
//! 1. **Flag.** Set `shutdown` (SeqCst). From here [`Shared::schedule`] drops every job it is
//!    given (a task is cancelled; its `JoinHandle` reports it) instead of queueing it.
//! 2. **Monitor.** Wake the stall monitor and join it, so no thread is started from here on.
//! 3. **Wake everyone.** Wake every sleeping worker ([`Idle::notify_all`]) and every spare
//!    ([`release_spares`](super::monitor::release_spares)). Each worker, at the top of its loop
//!    (worker.rs, step 1), drops what is left on its seat (LIFO slot and deque) and exits; a
//!    worker inside a poll does so when the poll returns; spares exit.
//! 4. **Join.** Join every pool thread, including threads started for hand-offs, until none
//!    is left. (A thread stuck in a poll delays this until the poll returns.)
//! 5. **Injector.** Drop every job left in the injector (pushed before step 1, or by a
//!    hand-off that found no thread).
//! 6. **Idle tasks.** Cancel every task still in the task table (tasks.rs): tasks that were
//!    not queued but waiting for a wake-up. Their futures are dropped here, on the dropping
//!    thread, and their `JoinHandle`s report cancelled.
//!
//! Called from one of the pool's own threads (a task dropping its pool), step 4 cannot join the
//! calling thread: it joins the others and detaches itself, which exits when its job returns.
//!
//! [`Shared::schedule`]: super::shared::Shared::schedule
//! [`Idle::notify_all`]: super::sleep::Idle

use super::monitor;
use super::shared::{Shared, on_pool_thread};
use crossbeam_deque::Steal;
use std::sync::atomic::Ordering;
use switchyard_runtime::park::Unparker;

pub(crate) fn shutdown(
    shared: &Shared,
    monitor_thread: Option<(std::thread::JoinHandle<()>, Unparker)>,
) {
    // 1. SeqCst: every thread that reads the flag after this sees it, before it parks (the
    // sleep protocol's re-check reads it after S2's fence) or queues (schedule).
    shared.shutdown.store(true, Ordering::SeqCst);
    // 2.
    if let Some((handle, unparker)) = monitor_thread {
        unparker.unpark();
        let _ = handle.join();
    }
    // 3.
    shared.idle.notify_all();
    monitor::release_spares(shared);
    // 4.
    let me = std::thread::current().id();
    let inside = on_pool_thread(shared);
    loop {
        let threads: Vec<_> = shared
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        if threads.is_empty() {
            break;
        }
        for handle in threads {
            if inside && handle.thread().id() == me {
                continue; // detached: it exits after its job returns
            }
            // A panic inside a pool thread outside any job is a bug in the pool; surface it
            // here rather than hiding it.
            if let Err(payload) = handle.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(payload);
                }
            }
        }
    }
    // 5.
    loop {
        match shared.injector.steal() {
            Steal::Success(job) => drop(job),
            Steal::Empty => break,
            Steal::Retry => std::hint::spin_loop(),
        }
    }
    // 6.
    shared.tasks.shutdown_all();
}
