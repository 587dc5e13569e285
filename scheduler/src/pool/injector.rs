//! # The injector: the pool's one shared queue
//!
//! Jobs scheduled from outside the pool, and the older half of a seat's deque when it
//! overflows (shared.rs, step 1), wait here for any worker: one job every
//! `global_queue_interval` ticks, a batch when a worker's own queues are empty, and a batch
//! again when it searches (worker.rs, tick steps 2, 5 and 6).
//!
//! It is a FIFO under a mutex, with its length beside it in an atomic word, so that a look at
//! an empty injector (every search, the sleep protocol's re-check S3) takes no lock. Why a
//! mutex and not crossbeam's lock-free `Injector`, which the pool used before: the overflow
//! moves 128 jobs at once, which is one lock and a copy here, where the lock-free queue took
//! a CAS and a `fetch_or` per job (and a block allocation per 63); a batch a worker takes out
//! is one lock too. In issue 11's profile of spawn+join (100,000 tasks spawned from one task,
//! so that half of them pass through here) the job-by-job spill and its steals were about 6%
//! of the pool's CPU. tokio's inject queue is a mutex-guarded list for the same reason.
//!
//! What the sleep protocol needs of it (sleep.rs, N1 and S3) is what it needs of any queue: a
//! job pushed before a notifier's fence is seen by a look after a sleeper's fence. The length
//! is stored with the push, under the lock, so before the pusher's N1 fence; a look reads it
//! after the sleeper's S2 fence; of two SeqCst fences, the later one's reads see the writes
//! made before the earlier one. A look that sees a length above zero takes the lock and reads
//! the queue itself, so a stale length costs at most a lock.
//!
//! A job is never dropped under the lock: dropping a task can run its code, which may
//! schedule, and a push from there would wait for the lock forever. The pool drops jobs only
//! at shutdown (step 6), one at a time after taking each out.

use super::job::Job;
use crossbeam_deque::Worker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// The most jobs one batch takes out for the taker's deque, besides the one it runs: 32, as
/// crossbeam's `Injector::steal_batch_and_pop` (about half of what waits, at most this).
const MAX_BATCH: usize = 32;

/// The pool's shared FIFO queue (module doc).
pub(crate) struct Injector {
    queue: Mutex<VecDeque<Job>>,
    /// `queue.len()`, stored under the lock after every change; read without it.
    len: AtomicUsize,
}

impl Injector {
    pub(crate) fn new() -> Injector {
        Injector {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// Jobs waiting now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Job>> {
        // A panic under this lock can only come from an allocation failure in `VecDeque`;
        // the queue is whole either way.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes `job` at the back.
    pub(crate) fn push(&self, job: Job) {
        let mut queue = self.lock();
        queue.push_back(job);
        self.len.store(queue.len(), Ordering::Relaxed);
    }

    /// Pushes every job of `jobs` at the back, in order, under one lock (the overflow,
    /// shared.rs, step 1); `jobs` is left empty.
    pub(crate) fn push_batch(&self, jobs: &mut Vec<Job>) {
        let mut queue = self.lock();
        queue.extend(jobs.drain(..));
        self.len.store(queue.len(), Ordering::Relaxed);
    }

    /// Takes the front job (tick step 2; shutdown step 6).
    pub(crate) fn pop(&self) -> Option<Job> {
        if self.len() == 0 {
            return None;
        }
        let mut queue = self.lock();
        let job = queue.pop_front();
        self.len.store(queue.len(), Ordering::Relaxed);
        job
    }

    /// Takes the front job, and about half of the rest (at most [`MAX_BATCH`]) to the back of
    /// `dest`, under one lock (tick steps 5 and 6). Returns the job and how many were taken
    /// out in all.
    pub(crate) fn pop_batch_into(&self, dest: &Worker<Job>) -> Option<(Job, usize)> {
        if self.len() == 0 {
            return None;
        }
        let mut queue = self.lock();
        let first = queue.pop_front()?;
        let batch = queue.len().div_ceil(2).min(MAX_BATCH);
        for job in queue.drain(..batch) {
            dest.push(job);
        }
        self.len.store(queue.len(), Ordering::Relaxed);
        Some((first, batch + 1))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    fn closure(ran: &Arc<AtomicUsize>, tag: usize) -> Job {
        let ran = ran.clone();
        Job::Closure(Box::new(move || {
            ran.store(tag, Ordering::SeqCst);
        }))
    }

    #[test]
    fn a_batch_keeps_the_order_and_takes_about_half() {
        let injector = Injector::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut batch: Vec<Job> = (1..=9).map(|tag| closure(&ran, tag)).collect();
        injector.push_batch(&mut batch);
        assert!(batch.is_empty());
        assert_eq!(injector.len(), 9);
        let dest = Worker::new_fifo();
        let (first, taken) = injector.pop_batch_into(&dest).expect("nine jobs wait");
        // The front job, then half of the eight behind it.
        assert_eq!(taken, 5);
        assert_eq!((dest.len(), injector.len()), (4, 4));
        let _ = first.run();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        for tag in 2..=5 {
            let _ = dest.pop().expect("moved in order").run();
            assert_eq!(ran.load(Ordering::SeqCst), tag);
        }
        for tag in 6..=9 {
            let _ = injector.pop().expect("left in order").run();
            assert_eq!(ran.load(Ordering::SeqCst), tag);
        }
        assert!(injector.pop().is_none());
        assert!(injector.pop_batch_into(&dest).is_none());
        assert_eq!(injector.len(), 0);
    }

    #[test]
    fn a_batch_takes_at_most_max_batch_besides_the_one_it_runs() {
        let injector = Injector::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let mut batch: Vec<Job> = (0..200).map(|tag| closure(&ran, tag)).collect();
        injector.push_batch(&mut batch);
        let dest = Worker::new_fifo();
        let (_first, taken) = injector.pop_batch_into(&dest).expect("jobs wait");
        assert_eq!(taken, MAX_BATCH + 1);
        assert_eq!(dest.len(), MAX_BATCH);
        assert_eq!(injector.len(), 200 - MAX_BATCH - 1);
    }
}
