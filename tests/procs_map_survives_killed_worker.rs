//! A 1,000-task `map` during which a worker is killed returns 999 results and one error that
//! names the dead worker and the signal; the pool replaces the worker and goes on. With
//! Python's default chunksize the dead worker's whole chunk fails, and only it.
mod process_support;

use switchyard::runtime::process::{self, ExitStatus, Signal};
use switchyard::scheduler::procs::{self, ProcessPool, TaskError};

/// The task that gets its worker killed.
const VICTIM: u32 = 500;
/// Tasks in the map (shrunk under Miri, which cannot run processes anyway).
const TASKS: u32 = 1_000;

fn square_or_die(x: u32) -> u64 {
    if x == VICTIM {
        process_support::kill_self();
    }
    u64::from(x) * u64::from(x)
}

fn a_killed_worker_fails_only_its_task() {
    let pool = ProcessPool::<u32, u64>::builder("square_or_die")
        .workers(2)
        .chunksize(1)
        .build()
        .unwrap();
    let before = pool.worker_pids();
    let results = pool.map(0..TASKS);
    assert_eq!(results.len(), TASKS as usize);

    let mut errors = Vec::new();
    for (x, r) in results.iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(*v, (x as u64) * (x as u64)),
            Err(e) => errors.push((x as u32, e.clone())),
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (x, error) = &errors[0];
    assert_eq!(*x, VICTIM);
    let TaskError::WorkerDied { pid, status } = error else {
        panic!("expected WorkerDied, got {error:?}");
    };
    assert_eq!(*status, ExitStatus::Signaled(Signal::KILL));
    assert!(before.contains(pid), "the error names a worker of the pool");
    assert_eq!(
        error.to_string(),
        format!("worker {pid} killed by signal 9 (SIGKILL) while running this task")
    );
    assert!(
        process_support::is_reaped(*pid),
        "the dead worker was reaped"
    );

    let after = pool.worker_pids();
    assert_eq!(after.len(), 2, "the dead worker was replaced");
    assert!(!after.contains(pid));
    pool.shutdown();
}

fn with_the_default_chunksize_only_the_victims_chunk_fails() {
    let pool = ProcessPool::<u32, u64>::builder("square_or_die")
        .workers(2)
        .build()
        .unwrap();
    let results = pool.map(0..TASKS);
    let chunksize = procs::python_chunksize(TASKS as usize, 2);
    let victim_chunk = VICTIM as usize / chunksize;
    for (x, r) in results.iter().enumerate() {
        if x / chunksize == victim_chunk {
            assert!(matches!(r, Err(TaskError::WorkerDied { .. })), "{x}: {r:?}");
        } else {
            assert_eq!(r, &Ok((x as u64) * (x as u64)));
        }
    }
    pool.shutdown();
}

fn main() {
    process::init([procs::task("square_or_die", square_or_die)]).expect("init");
    process_support::run(&[
        (
            "a_killed_worker_fails_only_its_task",
            a_killed_worker_fails_only_its_task,
        ),
        (
            "with_the_default_chunksize_only_the_victims_chunk_fails",
            with_the_default_chunksize_only_the_victims_chunk_fails,
        ),
    ]);
}
