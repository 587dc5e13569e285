//! After a pool is dropped (or shut down), every worker is reaped (no zombie, no process left)
//! and `/proc/self/fd` holds exactly the descriptors it held before the pool.
mod process_support;

use switchyard::runtime::process;
use switchyard::scheduler::procs::{self, ProcessPool};

fn identity(x: u32) -> u32 {
    if x == 3 {
        process_support::kill_self();
    }
    x
}

fn check(end: fn(ProcessPool<u32, u32>)) {
    let fds_before = process_support::open_fds();
    let pool = ProcessPool::<u32, u32>::builder("identity")
        .workers(3)
        .chunksize(1)
        .build()
        .unwrap();
    let mut pids = pool.worker_pids();
    let results = pool.map(0..20);
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    pids.extend(pool.worker_pids()); // the replacement too
    end(pool);
    for pid in pids {
        assert_eq!(process_support::proc_state(pid), None, "worker {pid} left");
        assert!(process_support::is_reaped(pid));
    }
    assert_eq!(process_support::open_fds(), fds_before);
}

fn dropping_a_pool_leaves_no_process_and_no_fd() {
    check(drop);
}

fn shutting_down_a_pool_leaves_no_process_and_no_fd() {
    check(|pool| pool.shutdown());
}

fn terminating_a_pool_leaves_no_process_and_no_fd() {
    check(|pool| pool.terminate());
}

fn main() {
    process::init([procs::task("identity", identity)]).expect("init");
    process_support::run(&[
        (
            "dropping_a_pool_leaves_no_process_and_no_fd",
            dropping_a_pool_leaves_no_process_and_no_fd,
        ),
        (
            "shutting_down_a_pool_leaves_no_process_and_no_fd",
            shutting_down_a_pool_leaves_no_process_and_no_fd,
        ),
        (
            "terminating_a_pool_leaves_no_process_and_no_fd",
            terminating_a_pool_leaves_no_process_and_no_fd,
        ),
    ]);
}
