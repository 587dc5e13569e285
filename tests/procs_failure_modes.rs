//! Every way a task can fail comes back as its own error, and the pool goes on: a panic (with
//! its message, the worker survives), an abort, a segfault, a kill; and a chunk queued behind a
//! killing one is not lost.
mod process_support;

use switchyard::runtime::process::{self, ExitStatus, Signal};
use switchyard::scheduler::procs::{self, ProcessPool, TaskError};

/// What a task does (plain integers, so the test needs no serde derive).
mod job_kind {
    pub const PID: u8 = 0;
    pub const PANIC: u8 = 1;
    pub const ABORT: u8 = 2;
    pub const SEGFAULT: u8 = 3;
    pub const KILL: u8 = 4;
}
use job_kind as kind;
type Job = u8;

fn job(j: Job) -> i32 {
    match j {
        kind::PANIC => panic!("task refused: 42 is not allowed"),
        kind::ABORT => std::process::abort(),
        kind::SEGFAULT => process_support::segfault_self(),
        kind::KILL => process_support::kill_self(),
        _ => std::process::id() as i32,
    }
}

fn pool() -> ProcessPool<Job, i32> {
    ProcessPool::builder("job").workers(1).build().unwrap()
}

fn a_panic_comes_back_with_its_message_and_the_worker_survives() {
    let pool = pool();
    let pid = pool.worker_pids()[0];
    let r = pool.apply_async(kind::PANIC).wait();
    assert_eq!(
        r,
        Err(TaskError::Panicked {
            pid,
            message: "task refused: 42 is not allowed".into()
        })
    );
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("task panicked in worker {pid}: task refused: 42 is not allowed")
    );
    assert_eq!(
        pool.apply_async(kind::PID).wait(),
        Ok(pid),
        "same worker goes on"
    );
}

fn dies_with(job: Job, signal: Signal) {
    let pool = pool();
    let pid = pool.worker_pids()[0];
    let r = pool.apply_async(job).wait();
    assert_eq!(
        r,
        Err(TaskError::WorkerDied {
            pid,
            status: ExitStatus::Signaled(signal)
        })
    );
    let next = pool.apply_async(kind::PID).wait().unwrap();
    assert_ne!(next, pid, "a replacement worker runs the next task");
    assert!(process_support::is_reaped(pid));
}

fn an_abort_fails_the_task_with_sigabrt() {
    dies_with(kind::ABORT, Signal::ABRT);
}

fn a_segfault_fails_the_task_with_sigsegv() {
    dies_with(kind::SEGFAULT, Signal::SEGV);
}

fn a_kill_fails_the_task_with_sigkill() {
    dies_with(kind::KILL, Signal::KILL);
}

fn a_worker_killed_from_outside_fails_its_task() {
    let pool = ProcessPool::<u64, u64>::builder("busy_ms")
        .workers(1)
        .build()
        .unwrap();
    let pid = pool.worker_pids()[0];
    let pending = pool.apply_async(60_000);
    // Kill it only once it runs the task (its name says so), not before it got it.
    let comm = format!("/proc/{pid}/comm");
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != BUSY_NAME {
        std::thread::yield_now();
    }
    // SAFETY: kill has no memory-safety preconditions; `pid` is our worker.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(
        pending.wait(),
        Err(TaskError::WorkerDied {
            pid,
            status: ExitStatus::Signaled(Signal::TERM)
        })
    );
}

/// The name a worker takes while it runs `busy_ms` (visible in `/proc/<pid>/comm`).
const BUSY_NAME: &str = "sy-busy";

/// Renames its process to [`BUSY_NAME`], then sleeps `ms` milliseconds (the task a test
/// kills from outside).
fn busy_ms(ms: u64) -> u64 {
    let name = std::ffi::CString::new(BUSY_NAME).unwrap();
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes, which `name` is.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

/// The chunk sent behind a running one (the manager's prefetch, `manager.rs` step 4) never
/// ran when its worker dies: it runs on the replacement, and only the killing chunk fails.
fn a_chunk_queued_behind_a_dying_one_runs_on_the_replacement() {
    let pool = pool();
    let first = pool.worker_pids()[0];
    let one_by_one = pool.calls().chunksize(1).unwrap();
    let results = one_by_one.map([kind::PID, kind::KILL, kind::PID, kind::PID]);
    assert_eq!(results[0], Ok(first));
    assert_eq!(
        results[1],
        Err(TaskError::WorkerDied {
            pid: first,
            status: ExitStatus::Signaled(Signal::KILL)
        })
    );
    let replacement = pool.worker_pids()[0];
    assert_ne!(replacement, first);
    assert_eq!(results[2..], [Ok(replacement), Ok(replacement)]);
}

fn main() {
    process::init([procs::task("job", job), procs::task("busy_ms", busy_ms)]).expect("init");
    process_support::run(&[
        (
            "a_panic_comes_back_with_its_message_and_the_worker_survives",
            a_panic_comes_back_with_its_message_and_the_worker_survives,
        ),
        (
            "an_abort_fails_the_task_with_sigabrt",
            an_abort_fails_the_task_with_sigabrt,
        ),
        (
            "a_segfault_fails_the_task_with_sigsegv",
            a_segfault_fails_the_task_with_sigsegv,
        ),
        (
            "a_kill_fails_the_task_with_sigkill",
            a_kill_fails_the_task_with_sigkill,
        ),
        (
            "a_worker_killed_from_outside_fails_its_task",
            a_worker_killed_from_outside_fails_its_task,
        ),
        (
            "a_chunk_queued_behind_a_dying_one_runs_on_the_replacement",
            a_chunk_queued_behind_a_dying_one_runs_on_the_replacement,
        ),
    ]);
}
