//! The process pool under repeated failures and races (issue 10): many maps in which tasks
//! kill their worker or hang past the task timeout, and `terminate` racing running maps from
//! another thread. Every item gets exactly one result of the expected kind, and no process or
//! descriptor is left behind.
//!
//! `cargo test --release --test stress_procs -- --ignored` (CI's stress step); without
//! `--ignored` it lists the tests as ignored, as libtest does.
mod process_support;

use std::time::Duration;

use switchyard::runtime::process;
use switchyard::scheduler::procs::{self, ProcessPool, TaskError};

/// Rounds of each stress (picked to take seconds in release on 2 cores).
const ROUNDS: usize = 30;
/// Items per map.
const ITEMS: u32 = 200;
/// Every `KILL_EVERY`-th item kills its worker, every `HANG_EVERY`-th hangs.
const KILL_EVERY: u32 = 37;
const HANG_EVERY: u32 = 91;
/// The task timeout that frees the hung items.
const TIMEOUT: Duration = Duration::from_millis(100);

fn job(x: u32) -> u32 {
    if x > 0 && x % KILL_EVERY == 0 {
        process_support::kill_self();
    }
    if x > 0 && x % HANG_EVERY == 0 {
        loop {
            std::thread::park();
        }
    }
    x
}

fn kills_and_timeouts_fail_exactly_their_items() {
    let fds = process_support::open_fds();
    for _ in 0..ROUNDS {
        let pool = ProcessPool::<u32, u32>::builder("job")
            .workers(2)
            .chunksize(1)
            .task_timeout(TIMEOUT)
            .build()
            .unwrap();
        let mut pids = pool.worker_pids();
        for (x, r) in (0..ITEMS).zip(pool.map(0..ITEMS)) {
            match r {
                Ok(v) => assert_eq!(v, x),
                Err(TaskError::WorkerDied { pid, .. }) => {
                    assert_eq!(x % KILL_EVERY, 0, "{x}");
                    pids.push(pid);
                }
                Err(TaskError::TimedOut { pid, .. }) => {
                    assert_eq!(x % HANG_EVERY, 0, "{x}");
                    pids.push(pid);
                }
                Err(e) => panic!("{x}: {e}"),
            }
        }
        pids.extend(pool.worker_pids());
        pool.shutdown();
        for pid in pids {
            assert!(process_support::is_reaped(pid), "{pid} left behind");
        }
    }
    assert_eq!(process_support::open_fds(), fds);
}

fn terminate_races_running_maps() {
    let fds = process_support::open_fds();
    for round in 0..ROUNDS {
        let pool = ProcessPool::<u32, u32>::builder("job")
            .workers(2)
            .chunksize(1 + round % 3)
            .build()
            .unwrap();
        let pids = pool.worker_pids();
        std::thread::scope(|s| {
            // Items below KILL_EVERY: none dies or hangs, so each is Ok or Terminated.
            let maps: Vec<_> = (0..2)
                .map(|_| s.spawn(|| pool.map(1..KILL_EVERY)))
                .collect();
            if round % 2 == 0 {
                std::thread::yield_now();
            }
            pool.terminate();
            for m in maps {
                let results = m.join().unwrap();
                assert_eq!(results.len(), (KILL_EVERY - 1) as usize);
                for (x, r) in (1..KILL_EVERY).zip(results) {
                    assert!(
                        r == Ok(x)
                            || r == Err(TaskError::Terminated)
                            || r == Err(TaskError::Closed),
                        "{x}: {r:?}"
                    );
                }
            }
        });
        for pid in pids {
            assert!(process_support::is_reaped(pid), "{pid} left behind");
        }
    }
    assert_eq!(process_support::open_fds(), fds);
}

fn main() {
    process::init([procs::task("job", job)]).expect("init");
    if !std::env::args().any(|a| a == "--ignored" || a == "--include-ignored") {
        println!("test kills_and_timeouts_fail_exactly_their_items ... ignored, stress");
        println!("test terminate_races_running_maps ... ignored, stress");
        return;
    }
    process_support::run(&[
        (
            "kills_and_timeouts_fail_exactly_their_items",
            kills_and_timeouts_fail_exactly_their_items,
        ),
        ("terminate_races_running_maps", terminate_races_running_maps),
    ]);
}
