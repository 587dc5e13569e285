//! What a runtime holds from the OS, counted from `/proc/self`, for the tests that check a
//! dropped runtime gives it all back (fds, threads).
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The descriptors open in this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits (up to a guard) for the thread count to come back to `expected`: a joined thread
/// leaves `/proc/self/task` a moment after `join` returns (the kernel clears the thread id
/// that `join` waits on before it removes the thread). A leaked thread never leaves.
pub fn threads_settle_to(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = threads();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        std::thread::yield_now();
    }
}
