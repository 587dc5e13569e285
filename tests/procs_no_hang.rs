//! Nothing hangs and nothing is orphaned: a hung task times out and its worker is replaced;
//! `terminate` from another thread ends a running `map`; a bounded shutdown ends a hung pool; workers die with their parent; a
//! grandchild holding a worker's channel does not delay `WorkerDied`; `worker_pids` drops a
//! dead worker before its error is delivered; `Fork` pools replace dead workers; a pool whose
//! spawned fork server was killed goes on.
//!
//! Processes are synchronised with `/proc/<pid>/comm` (a task renames itself when it runs),
//! pidfds and `waitpid`, never with sleeps. [`HANG_GUARD`] bounds waits that only a hang
//! would reach; no test asserts a time.
mod process_support;

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use switchyard::runtime::process::{self, Channel, Entry, ExitStatus, Signal, StartMethod};
use switchyard::scheduler::procs::{self, ProcessPool, TaskError, Tasks};

/// How long a wait may last before the test calls it a hang. Only a broken pool reaches it.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// The name a worker takes while it runs a task that never ends.
const HUNG_NAME: &str = "sy-hung";

/// What a task does.
mod job {
    pub const PID: u32 = 0;
    pub const KILL: u32 = 1;
    pub const HANG: u32 = 2;
}

fn run(j: u32) -> i32 {
    match j {
        job::KILL => process_support::kill_self(),
        job::HANG => hang(),
        _ => std::process::id() as i32,
    }
}

/// Renames the process to [`HUNG_NAME`] and blocks for ever.
fn hang() -> ! {
    let name = std::ffi::CString::new(HUNG_NAME).unwrap();
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes, which `name` is.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    loop {
        std::thread::park();
    }
}

/// Forks a grandchild that holds the worker's channel and blocks for ever, writes its pid to
/// `path`, then dies by SIGKILL.
fn fork_holder_and_die(path: String) -> i32 {
    // SAFETY: a pool worker runs one thread (the task's), so fork copies no lock held by
    // another thread; the child only calls async-signal-safe functions (pause).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        loop {
            // SAFETY: pause has no preconditions.
            unsafe { libc::pause() };
        }
    }
    std::fs::write(&path, pid.to_string()).unwrap();
    process_support::kill_self()
}

/// Waits until `pid` runs a hung task.
fn until_hung(pid: i32) {
    let comm = format!("/proc/{pid}/comm");
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != HUNG_NAME {
        std::thread::yield_now();
    }
}

fn pool(workers: usize) -> ProcessPool<u32, i32> {
    ProcessPool::builder("run")
        .workers(workers)
        .chunksize(1)
        .build()
        .unwrap()
}

fn fork_pools_replace_dead_workers() {
    // First in main: `Fork` needs this process to have one thread when the pool is built.
    let pool = ProcessPool::<u32, i32>::builder("run")
        .workers(1)
        .start_method(StartMethod::Fork)
        .build()
        .unwrap();
    for _ in 0..3 {
        let pids = pool.worker_pids();
        assert_eq!(pids.len(), 1, "{:?}", pool.apply(job::PID));
        let pid = pids[0];
        assert_eq!(
            pool.apply(job::KILL),
            Err(TaskError::WorkerDied {
                pid,
                status: ExitStatus::Signaled(Signal::KILL)
            })
        );
        assert!(process_support::is_reaped(pid));
    }
    let next = pool.apply(job::PID).unwrap();
    assert_eq!(pool.worker_pids(), vec![next], "a replacement runs tasks");
    pool.shutdown();
}

fn a_hung_task_times_out_and_its_worker_is_replaced() {
    let timeout = Duration::from_millis(300);
    let pool = ProcessPool::<u32, i32>::builder("run")
        .workers(1)
        .task_timeout(timeout)
        .build()
        .unwrap();
    let pid = pool.worker_pids()[0];
    assert_eq!(
        pool.apply(job::HANG),
        Err(TaskError::TimedOut { pid, timeout })
    );
    assert!(
        process_support::is_reaped(pid),
        "the hung worker was killed and reaped"
    );
    let next = pool.apply(job::PID).unwrap();
    assert_ne!(next, pid, "a replacement runs the next task");

    // The same with a per-call timeout on a pool that has none.
    let pool = self::pool(1);
    let pid = pool.worker_pids()[0];
    let calls = pool.calls().timeout(timeout).unwrap();
    assert_eq!(
        calls.apply(job::HANG),
        Err(TaskError::TimedOut { pid, timeout })
    );
    assert_ne!(pool.apply(job::PID).unwrap(), pid);
}

fn terminate_from_another_thread_ends_a_map() {
    let pool = pool(1);
    let pid = pool.worker_pids()[0];
    std::thread::scope(|s| {
        let map = s.spawn(|| pool.map([job::HANG, job::PID, job::PID]));
        until_hung(pid);
        pool.terminate();
        let results = map.join().unwrap();
        assert_eq!(results, vec![Err(TaskError::Terminated); 3]);
    });
    assert!(process_support::is_reaped(pid));

    // A Terminator handle does the same from a thread that does not borrow the pool.
    let pool = self::pool(1);
    let pid = pool.worker_pids()[0];
    let terminator = pool.terminator();
    let pending = pool.apply_async(job::HANG);
    until_hung(pid);
    std::thread::spawn(move || terminator.terminate())
        .join()
        .unwrap();
    assert_eq!(pending.wait(), Err(TaskError::Terminated));
}

fn a_bounded_shutdown_terminates_a_hung_task() {
    let pool = pool(1);
    let pid = pool.worker_pids()[0];
    let hung = pool.apply_async(job::HANG);
    until_hung(pid);
    assert!(!pool.shutdown_timeout(Duration::from_millis(50)));
    assert_eq!(hung.wait(), Err(TaskError::Terminated));
    assert!(process_support::is_reaped(pid));

    let pool = self::pool(1);
    let done = pool.apply_async(job::PID);
    assert!(
        pool.shutdown_timeout(HANG_GUARD),
        "nothing hung: a graceful end"
    );
    assert!(done.wait().is_ok());
    assert!(pool.join_timeout(Duration::ZERO), "already ended");
}

fn worker_pids_drop_the_dead_worker_before_its_error() {
    let pool = pool(2);
    for _ in 0..5 {
        let r = pool.apply(job::KILL);
        let Err(TaskError::WorkerDied { pid, .. }) = r else {
            panic!("expected WorkerDied, got {r:?}");
        };
        assert!(
            !pool.worker_pids().contains(&pid),
            "{pid} still listed when its WorkerDied arrived"
        );
    }
}

fn a_grandchild_holding_the_channel_does_not_delay_worker_died() {
    let dir = std::env::temp_dir().join(format!("sy-procs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("holder.pid");
    let pool = ProcessPool::<String, i32>::builder("holder")
        .workers(1)
        .build()
        .unwrap();
    let pid = pool.worker_pids()[0];
    let r = pool.apply_async(path.to_string_lossy().into_owned());
    // The grandchild never closes the channel: only the worker's pidfd can end this wait.
    assert!(
        r.wait_timeout(HANG_GUARD),
        "WorkerDied waited for the grandchild"
    );
    assert_eq!(
        r.wait(),
        Err(TaskError::WorkerDied {
            pid,
            status: ExitStatus::Signaled(Signal::KILL)
        })
    );
    let holder: i32 = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    assert!(
        process_support::proc_state(holder).is_some(),
        "the holder still runs"
    );
    // SAFETY: kill and waitpid have no memory-safety preconditions; `holder` was reparented
    // to us (we are a child subreaper).
    unsafe {
        libc::kill(holder, libc::SIGKILL);
        libc::waitpid(holder, std::ptr::null_mut(), 0);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The middle process of `workers_die_with_their_parent`: builds a pool whose workers hang,
/// sends their pids, and waits to be killed.
fn pool_parent(mut channel: Channel) {
    let pool = pool(2);
    let pending: Vec<_> = (0..2).map(|_| pool.apply_async(job::HANG)).collect();
    let pids = pool.worker_pids();
    for &pid in &pids {
        until_hung(pid);
    }
    channel.send(&pids).unwrap();
    let _ = channel.recv::<()>();
    drop(pending);
}

fn pidfd(pid: i32) -> OwnedFd {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    assert!(
        fd >= 0,
        "pidfd_open({pid}): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the call succeeded, so `fd` is a new descriptor owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

fn exited_within(fd: &OwnedFd, timeout: Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) == 1 }
}

fn workers_die_with_their_parent() {
    let mut parent = process::start("pool_parent", StartMethod::Spawn).unwrap();
    let pids: Vec<i32> = parent.channel().unwrap().recv().unwrap();
    assert_eq!(pids.len(), 2);
    // Opened while the workers run (their parent cannot reap them while it waits for us), so
    // the pids name them.
    let fds: Vec<OwnedFd> = pids.iter().map(|&p| pidfd(p)).collect();
    parent.kill().unwrap();
    assert_eq!(parent.wait().unwrap(), ExitStatus::Signaled(Signal::KILL));
    for (fd, &pid) in fds.iter().zip(&pids) {
        assert!(
            exited_within(fd, HANG_GUARD),
            "worker {pid} outlived its parent"
        );
    }
    // Reparented to us when the parent was reaped: its workers and its pool's spawned fork
    // server. The workers, hung in a task, can only have ended by their parent-death signal;
    // the server may also have read end-of-stream first and exited.
    let orphans = children();
    assert!(pids.iter().all(|p| orphans.contains(p)), "{orphans:?}");
    assert_eq!(orphans.len(), pids.len() + 1, "the workers and the server");
    for pid in orphans {
        assert!(
            exited_within(&pidfd(pid), HANG_GUARD),
            "{pid} outlived its parent"
        );
        let mut status = 0;
        // SAFETY: waitpid writes the status into `status`; the orphan was reparented to us.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        if pids.contains(&pid) {
            assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
        }
    }
}

/// This process's children, from `/proc/self/task/*/children`.
fn children() -> Vec<i32> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let list = std::fs::read_to_string(path).unwrap_or_default();
        pids.extend(list.split_whitespace().map(|p| p.parse::<i32>().unwrap()));
    }
    pids
}

fn a_dead_spawn_server_is_replaced() {
    let pool = pool(1);
    let workers = pool.worker_pids();
    let servers: Vec<i32> = children()
        .into_iter()
        .filter(|p| !workers.contains(p))
        .collect();
    assert_eq!(servers.len(), 1, "one spawned fork server: {servers:?}");
    // SAFETY: kill has no memory-safety preconditions; the server is our child, and the pool
    // reaps it (we do not).
    unsafe { libc::kill(servers[0], libc::SIGKILL) };
    for _ in 0..3 {
        assert!(matches!(
            pool.apply(job::KILL),
            Err(TaskError::WorkerDied { .. })
        ));
        assert!(pool.apply(job::PID).is_ok(), "a replacement runs tasks");
    }
    drop(pool);
    assert!(
        process_support::is_reaped(servers[0]),
        "the dead server was reaped"
    );
    assert!(
        children().is_empty(),
        "every worker and server reaped: {:?}",
        children()
    );
}

fn main() {
    process::init([
        Tasks::new("run").task("run", run).entry(),
        procs::task("holder", fork_holder_and_die),
        Entry::new("pool_parent", pool_parent),
    ])
    .expect("init");
    // Orphaned descendants (the grandchild, the killed parent's workers) come to us, so the
    // tests can reap them and leave nothing behind.
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
    process_support::run(&[
        (
            "fork_pools_replace_dead_workers",
            fork_pools_replace_dead_workers,
        ),
        (
            "a_hung_task_times_out_and_its_worker_is_replaced",
            a_hung_task_times_out_and_its_worker_is_replaced,
        ),
        (
            "terminate_from_another_thread_ends_a_map",
            terminate_from_another_thread_ends_a_map,
        ),
        (
            "a_bounded_shutdown_terminates_a_hung_task",
            a_bounded_shutdown_terminates_a_hung_task,
        ),
        (
            "worker_pids_drop_the_dead_worker_before_its_error",
            worker_pids_drop_the_dead_worker_before_its_error,
        ),
        (
            "a_grandchild_holding_the_channel_does_not_delay_worker_died",
            a_grandchild_holding_the_channel_does_not_delay_worker_died,
        ),
        (
            "workers_die_with_their_parent",
            workers_die_with_their_parent,
        ),
        (
            "a_dead_spawn_server_is_replaced",
            a_dead_spawn_server_is_replaced,
        ),
    ]);
}
