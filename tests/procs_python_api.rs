//! Each feature of Python's `multiprocessing.Pool` and `ProcessPoolExecutor`, as the table in
//! `scheduler/src/procs/README.md` maps it, one behaviour per test.
//!
//! Tasks that must be seen running rename their process (`/proc/<pid>/comm`); nothing waits
//! with a sleep, and no test asserts a time.
mod process_support;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use switchyard::runtime::process;
use switchyard::scheduler::procs::{
    self, ProcessPool, Shutdown, TaskError, Tasks, WaitTimedOut, as_completed,
};

/// How long a wait may last before the test calls it a hang.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// The name a worker takes while it runs [`hang`].
const HUNG_NAME: &str = "sy-hung";

/// Set by the `seed` initializer.
static SEED: AtomicU32 = AtomicU32::new(0);

fn seed(value: u32) {
    SEED.store(value, Ordering::Relaxed);
}

/// (the worker's pid, the seed, the item)
fn inspect(x: u32) -> (u32, u32, u32) {
    (std::process::id(), SEED.load(Ordering::Relaxed), x)
}

fn square(x: u64) -> u64 {
    x * x
}

fn shout(s: String) -> String {
    s.to_uppercase()
}

fn add(a: u64, b: u64) -> u64 {
    a + b
}

fn volume(a: u64, b: u64, c: u64) -> u64 {
    a * b * c
}

fn fail_on_odd(x: u64) -> u64 {
    assert!(x % 2 == 0, "odd: {x}");
    x
}

/// Renames the process to [`HUNG_NAME`] and blocks for ever (until the pool is terminated).
fn hang(_: u64) -> u64 {
    let name = std::ffi::CString::new(HUNG_NAME).unwrap();
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes, which `name` is.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    loop {
        std::thread::park();
    }
}

/// Renames the process to [`HUNG_NAME`], works for `ms` milliseconds, returns `ms`.
fn busy(ms: u64) -> u64 {
    let name = std::ffi::CString::new(HUNG_NAME).unwrap();
    // SAFETY: as in `hang`.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn until_running(pid: i32) {
    let comm = format!("/proc/{pid}/comm");
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != HUNG_NAME {
        std::thread::yield_now();
    }
}

fn math(workers: usize) -> ProcessPool<u64, u64> {
    ProcessPool::builder("math")
        .workers(workers)
        .build()
        .unwrap()
}

fn several_task_kinds_share_a_pool() {
    let pool = math(2);
    assert_eq!(pool.apply(7), Ok(49), "the default task");
    let shout = pool.task::<String, String>("shout");
    assert_eq!(shout.apply("quiet".into()), Ok("QUIET".into()));
    let volumes = pool.task::<(u64, u64, u64), u64>("volume");
    assert_eq!(volumes.map([(1, 2, 3), (2, 2, 2)]), vec![Ok(6), Ok(8)]);
    assert_eq!(pool.map(0..4), vec![Ok(0), Ok(1), Ok(4), Ok(9)]);
}

fn apply_and_starmap() {
    let pool = math(2);
    assert_eq!(pool.apply(3), Ok(9));
    let adds = pool.task::<(u64, u64), u64>("add");
    let pairs: Vec<(u64, u64)> = (0..10).map(|i| (i, 10 * i)).collect();
    let expected: Vec<Result<u64, TaskError>> = (0..10).map(|i| Ok(11 * i)).collect();
    assert_eq!(adds.starmap(pairs), expected);
}

fn callbacks_get_results_and_errors() {
    let pool = math(2);
    let checks = pool.task::<u64, u64>("fail_on_odd");
    let (tx, rx) = mpsc::channel();
    for x in [2u64, 3] {
        let tx = tx.clone();
        checks
            .apply_async(x)
            .then(move |r| tx.send((x, r)).unwrap());
    }
    let mut got: Vec<(u64, Result<u64, TaskError>)> = (0..2)
        .map(|_| rx.recv_timeout(HANG_GUARD).unwrap())
        .collect();
    got.sort_by_key(|(x, _)| *x);
    assert_eq!(got[0], (2, Ok(2)));
    let (3, Err(TaskError::Panicked { message, .. })) = &got[1] else {
        panic!("expected a panic for 3, got {:?}", got[1]);
    };
    assert!(message.contains("odd: 3"), "{message}");

    // A callback set on a result that is already there runs at once, on this thread.
    let done = pool.apply_async(4);
    assert!(done.wait_timeout(HANG_GUARD));
    let here = std::thread::current().id();
    let (tx, rx) = mpsc::channel();
    done.then(move |r| tx.send((std::thread::current().id(), r)).unwrap());
    assert_eq!(rx.try_recv().unwrap(), (here, Ok(16)));
}

fn map_async_waits_and_calls_back() {
    let pool = math(2);
    let pending = pool.map_async(0..20);
    assert!(pending.wait_timeout(HANG_GUARD));
    assert!(pending.is_ready());
    let expected: Vec<Result<u64, TaskError>> = (0..20).map(|x| Ok(x * x)).collect();
    assert_eq!(pending.wait(), expected);

    let (tx, rx) = mpsc::channel();
    pool.map_async(0..20).then(move |all| tx.send(all).unwrap());
    assert_eq!(rx.recv_timeout(HANG_GUARD).unwrap(), expected);
}

fn per_call_chunksize() {
    let pool = ProcessPool::<u32, (u32, u32, u32)>::builder("inspect")
        .workers(2)
        .build()
        .unwrap();
    for chunksize in [1, 3, 5] {
        let calls = pool.calls().chunksize(chunksize).unwrap();
        let results: Vec<(u32, u32, u32)> =
            calls.map(0..20).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            results.iter().map(|r| r.2).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
        for chunk in results.chunks(chunksize) {
            assert!(
                chunk.iter().all(|r| r.0 == chunk[0].0),
                "one worker per chunk"
            );
        }
    }
    // The default is Python's: len / (4 x workers), rounded up.
    assert_eq!(procs::python_chunksize(2000, 2), 250);
    assert_eq!(procs::python_chunksize(17, 2), 3);
    assert_eq!(procs::python_chunksize(0, 4), 1);
}

fn initializer_gets_its_arguments() {
    let pool = ProcessPool::<u32, (u32, u32, u32)>::builder("inspect")
        .workers(2)
        .initializer_with("seed", &7u32)
        .build()
        .unwrap();
    for r in pool.map(0..10) {
        assert_eq!(r.unwrap().1, 7);
    }
}

/// An endless input that counts the items taken from it.
fn counting(pulled: &Arc<AtomicUsize>) -> impl Iterator<Item = u64> + Unpin + use<> {
    let pulled = pulled.clone();
    (0u64..).inspect(move |_| {
        pulled.fetch_add(1, Ordering::Relaxed);
    })
}

fn imap_is_ordered_and_streams_its_input() {
    let pool = math(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    // An endless input: only a lazy imap can return.
    let first: Vec<Result<u64, TaskError>> = pool.imap(counting(&pulled)).take(30).collect();
    let expected: Vec<Result<u64, TaskError>> = (0..30).map(|x| Ok(x * x)).collect();
    assert_eq!(first, expected);
    let window = procs::IMAP_CHUNKS_PER_WORKER * 2;
    assert!(pulled.load(Ordering::Relaxed) <= 30 + window);

    let calls = pool.calls().chunksize(4).unwrap();
    let got: Vec<u64> = calls.imap(0..50).map(Result::unwrap).collect();
    assert_eq!(got, (0..50).map(|x| x * x).collect::<Vec<_>>());
}

fn imap_unordered_streams_with_indices() {
    let pool = math(2);
    let pulled = Arc::new(AtomicUsize::new(0));
    let got: Vec<(usize, Result<u64, TaskError>)> =
        pool.imap_unordered(counting(&pulled)).take(30).collect();
    let mut indices: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
    for (i, r) in &got {
        assert_eq!(r, &Ok((*i as u64) * (*i as u64)));
    }
    indices.sort();
    indices.dedup();
    assert_eq!(indices.len(), 30, "each index once");
    let window = procs::IMAP_CHUNKS_PER_WORKER * 2;
    assert!(pulled.load(Ordering::Relaxed) <= 30 + window);
}

fn waits_time_out() {
    let pool = math(1);
    let pid = pool.worker_pids()[0];
    let hangs = pool.task::<u64, u64>("hang");
    let hung = hangs.apply_async(0);
    until_running(pid);
    assert!(
        !hung.wait_timeout(Duration::ZERO),
        "a zero timeout only looks"
    );
    assert!(!hung.wait_timeout(Duration::from_millis(10)));
    assert!(!hung.is_ready());
    let queued = pool.map_async(0..3);
    assert!(!queued.wait_timeout(Duration::from_millis(10)));
    let mut ordered = pool.imap(0..3);
    assert_eq!(ordered.next_timeout(Duration::ZERO), Err(WaitTimedOut));
    let mut unordered = pool.imap_unordered(0..3);
    assert_eq!(
        unordered
            .next_timeout(Duration::from_millis(10))
            .unwrap_err(),
        WaitTimedOut
    );
    pool.terminate();
    // Nothing is lost: every wait ends with an answer.
    assert_eq!(hung.wait(), Err(TaskError::Terminated));
    assert_eq!(queued.wait(), vec![Err(TaskError::Terminated); 3]);
    assert_eq!(
        ordered.next_timeout(HANG_GUARD),
        Ok(Some(Err(TaskError::Terminated)))
    );
}

fn cancel_stops_a_queued_task() {
    let pool = math(1);
    let pid = pool.worker_pids()[0];
    let hung = pool.task::<u64, u64>("hang").apply_async(0);
    until_running(pid);
    let queued = pool.apply_async(3);
    let batch = pool.map_async(0..10);
    assert!(queued.cancel(), "not started: cancelled");
    assert!(batch.cancel());
    assert!(!hung.cancel(), "running: not cancelled");
    assert_eq!(queued.wait(), Err(TaskError::Cancelled));
    assert_eq!(batch.wait(), vec![Err(TaskError::Cancelled); 10]);
    assert!(!hung.is_ready());
    pool.terminate();
    assert_eq!(hung.wait(), Err(TaskError::Terminated));
}

fn as_completed_yields_indices() {
    let pool = math(2);
    let results: Vec<_> = (0..20).map(|x| pool.apply_async(x)).collect();
    let mut got: Vec<(usize, Result<u64, TaskError>)> = as_completed(results).collect();
    got.sort_by_key(|(i, _)| *i);
    let expected: Vec<(usize, Result<u64, TaskError>)> =
        (0..20).map(|i| (i, Ok((i * i) as u64))).collect();
    assert_eq!(got, expected);

    let mut none = as_completed(Vec::<procs::AsyncResult<u64>>::new());
    assert_eq!(none.next_timeout(Duration::ZERO), Ok(None));
}

fn close_refuses_new_tasks() {
    let pool = math(1);
    let before = pool.apply_async(5);
    pool.close();
    assert_eq!(pool.apply(6), Err(TaskError::Closed));
    pool.join();
    assert_eq!(before.wait(), Ok(25), "submitted before close: finished");
    assert!(pool.worker_pids().is_empty());
}

fn shutdown_can_cancel_pending_without_waiting() {
    let pool = math(1);
    let pid = pool.worker_pids()[0];
    let running = pool.task::<u64, u64>("busy").apply_async(50);
    until_running(pid);
    let pending: Vec<_> = (0..5).map(|x| pool.apply_async(x)).collect();
    pool.shutdown_with(Shutdown {
        wait: false,
        cancel_pending: true,
    });
    for p in pending {
        assert_eq!(p.wait(), Err(TaskError::Cancelled));
    }
    assert_eq!(running.wait(), Ok(50), "the running task finishes");
    pool.join();
    assert!(process_support::is_reaped(pid));
}

fn main() {
    process::init([
        Tasks::new("math")
            .task("math", square)
            .task("shout", shout)
            .task("fail_on_odd", fail_on_odd)
            .task("hang", hang)
            .task("busy", busy)
            .star2("add", add)
            .star3("volume", volume)
            .entry(),
        Tasks::new("inspect")
            .task("inspect", inspect)
            .initializer("seed", seed)
            .entry(),
    ])
    .expect("init");
    process_support::run(&[
        (
            "several_task_kinds_share_a_pool",
            several_task_kinds_share_a_pool,
        ),
        ("apply_and_starmap", apply_and_starmap),
        (
            "callbacks_get_results_and_errors",
            callbacks_get_results_and_errors,
        ),
        (
            "map_async_waits_and_calls_back",
            map_async_waits_and_calls_back,
        ),
        ("per_call_chunksize", per_call_chunksize),
        (
            "initializer_gets_its_arguments",
            initializer_gets_its_arguments,
        ),
        (
            "imap_is_ordered_and_streams_its_input",
            imap_is_ordered_and_streams_its_input,
        ),
        (
            "imap_unordered_streams_with_indices",
            imap_unordered_streams_with_indices,
        ),
        ("waits_time_out", waits_time_out),
        ("cancel_stops_a_queued_task", cancel_stops_a_queued_task),
        ("as_completed_yields_indices", as_completed_yields_indices),
        ("close_refuses_new_tasks", close_refuses_new_tasks),
        (
            "shutdown_can_cancel_pending_without_waiting",
            shutdown_can_cancel_pending_without_waiting,
        ),
    ]);
}
