//! A timer thread, for executors that have no timer of their own (async-executor).
//!
//! async-executor is meant to be paired with async-io, whose timers live on a driver thread;
//! the lab does not depend on async-io, so this file is the same idea at its smallest: one
//! thread holds the pending deadlines in a min-heap and waits on a condition variable until
//! the earliest one, then wakes every task whose deadline has passed (outside the lock).
//!
//! 1. [`Sleep::poll`] returns `Ready` once its deadline has passed; otherwise it registers
//!    (or refreshes) its waker under the lock, and if its deadline is now the earliest,
//!    notifies the thread so it shortens its wait.
//! 2. The thread pops every due deadline, takes their wakers, releases the lock, wakes them,
//!    and waits again until the new earliest deadline (or a notification).
//! 3. Dropping a [`Sleep`] forgets its waker; its heap entry stays until due and is then
//!    skipped. Dropping the [`TimerThread`] stops and joins the thread.
//!
//! Its wake-ups are as late as a condition variable's timed wait (the kernel's timer slack,
//! 50 µs by default) plus one thread hand-off, which the rows that use it say.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The pending deadlines and their wakers.
#[derive(Default)]
struct State {
    /// (deadline, id), earliest first; ids whose waker is gone are stale.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    wakers: HashMap<u64, Waker>,
    next_id: u64,
    stop: bool,
}

#[derive(Default)]
struct TimerThreadShared {
    state: Mutex<State>,
    changed: Condvar,
}

impl TimerThreadShared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock guards plain data that every step leaves consistent: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The thread and a handle to its deadlines. See the [module docs](self).
pub struct TimerThread {
    shared: Arc<TimerThreadShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TimerThread {
    /// Starts the thread.
    pub fn start() -> std::io::Result<TimerThread> {
        let shared = Arc::new(TimerThreadShared::default());
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("lab-timer".to_owned())
            .spawn(move || run(&theirs))?;
        Ok(TimerThread {
            shared,
            thread: Some(thread),
        })
    }

    /// A future that completes at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep {
            shared: Arc::clone(&self.shared),
            deadline,
            id: None,
        }
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Step 2: the thread's loop.
fn run(shared: &TimerThreadShared) {
    let mut due = Vec::new();
    let mut state = shared.lock();
    loop {
        if state.stop {
            return;
        }
        let now = Instant::now();
        while let Some(&Reverse((deadline, id))) = state.heap.peek() {
            if deadline > now {
                break;
            }
            state.heap.pop();
            due.extend(state.wakers.remove(&id));
        }
        if !due.is_empty() {
            drop(state);
            due.drain(..).for_each(Waker::wake);
            state = shared.lock();
            continue;
        }
        state = match state.heap.peek() {
            Some(&Reverse((deadline, _))) => {
                let wait = deadline.saturating_duration_since(now);
                shared
                    .changed
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// The future of [`TimerThread::sleep_until`].
pub struct Sleep {
    shared: Arc<TimerThreadShared>,
    deadline: Instant,
    id: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    /// Step 1.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(id) = self.id.take() {
                self.shared.lock().wakers.remove(&id);
            }
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        let id = match self.id {
            Some(id) => id,
            None => {
                let id = state.next_id;
                state.next_id += 1;
                state.heap.push(Reverse((deadline, id)));
                self.id = Some(id);
                id
            }
        };
        state.wakers.insert(id, cx.waker().clone());
        let earliest = state
            .heap
            .peek()
            .is_some_and(|&Reverse((_, first))| first == id);
        drop(state);
        if earliest {
            shared.changed.notify_one();
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    /// Step 3.
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.shared.lock().wakers.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_sleep_completes_and_none_before_its_deadline() {
        let timer = TimerThread::start().unwrap();
        let start = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = [3u64, 1, 2]
            .into_iter()
            .map(|ms| {
                let sleep = timer.sleep_until(start + Duration::from_millis(ms));
                let order = Arc::clone(&order);
                std::thread::spawn(move || {
                    futures_lite::future::block_on(sleep);
                    assert!(start.elapsed() >= Duration::from_millis(ms));
                    order.lock().unwrap().push(ms);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order.len(), 3);
        assert!(order.contains(&1) && order.contains(&2) && order.contains(&3));
    }

    #[test]
    fn a_dropped_sleep_forgets_its_waker() {
        let timer = TimerThread::start().unwrap();
        let mut sleep = Box::pin(timer.sleep_until(Instant::now() + Duration::from_secs(60)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        assert_eq!(timer.shared.lock().wakers.len(), 1);
        drop(sleep);
        assert!(timer.shared.lock().wakers.is_empty());
    }
}
