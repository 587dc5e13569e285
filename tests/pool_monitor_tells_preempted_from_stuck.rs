//! The stall monitor hands off a worker that is really stuck, and only such a worker
//! (scheduler/src/pool/monitor.rs, steps 1-2, the cadence, M1-M2):
//!
//! - a poll kept off its CPU by the OS (runnable, waiting in the run queue) keeps its seat,
//!   however long it lasts in wall time;
//! - a poll blocked in the kernel loses its seat, also when the monitor had gone to sleep
//!   because the whole pool was idle (the first worker to wake rings it);
//! - a poll that computes for a time slice of its own CPU time loses its seat.
//!
//! Preemption is made deterministic, without sleeps: the polled job moves its own thread to
//! `SCHED_IDLE` (which any thread may do to itself) and onto a CPU where a normal thread spins,
//! so the kernel gives it a fraction of a percent of that CPU. The monitor reports through a
//! test hook each time it spares such a poll; the test waits for three of those reports.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use switchyard::scheduler::pool::{Pool, TestPoint};

const SLICE: Duration = Duration::from_millis(10);
/// How long the test waits for something that should happen within a few slices; only a
/// failing test waits this long.
const GUARD: Duration = Duration::from_secs(60);
/// Reports of a spared poll to wait for: each is a further check (at least a quarter slice of
/// wall time after the last) at which the monitor could have handed the worker off and did
/// not.
const SPARED_REPORTS: usize = 3;

/// A pool of one worker whose test hook forwards the given point to the returned receiver.
fn pool_reporting(point: TestPoint) -> (Pool, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let pool = Pool::builder()
        .workers(1)
        .io(false)
        .stall_time_slice(Some(SLICE))
        .test_hook(move |p| {
            if p == point {
                let _ = tx.lock().unwrap().send(());
            }
        })
        .build()
        .expect("pool");
    (pool, rx)
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: `set` is a plain bit set, zero-initialised as CPU_ZERO does; both calls only
    // read it, and pid 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The first CPU this process may run on.
fn first_allowed_cpu() -> usize {
    // SAFETY: as in `pin_to`; sched_getaffinity writes at most `size_of` bytes into `set`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .find(|&cpu| libc::CPU_ISSET(cpu, &set))
            .expect("no CPU in the affinity mask")
    }
}

/// Moves the calling thread to the `SCHED_IDLE` class: it runs only when its CPU has nothing
/// else to run (in practice a fraction of a percent of it, next to a spinning thread).
fn become_idle_class() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for SCHED_IDLE.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    assert_eq!(
        rc,
        0,
        "sched_setscheduler(SCHED_IDLE): {}",
        std::io::Error::last_os_error()
    );
}

/// Sets its flags when dropped, so a failing assertion still releases the spinning threads
/// (else dropping the pool would wait for a job that never ends).
struct Release(Vec<Arc<AtomicBool>>);

impl Drop for Release {
    fn drop(&mut self) {
        for flag in &self.0 {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

#[test]
fn a_preempted_worker_keeps_its_seat() {
    let (pool, spared) = pool_reporting(TestPoint::MonitorSparesPreempted);
    let cpu = first_allowed_cpu();
    // The competitor: a normal thread spinning on `cpu` until the test ends.
    let stop = Arc::new(AtomicBool::new(false));
    let (running_tx, running_rx) = mpsc::channel();
    let competitor = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin_to(cpu);
            running_tx.send(()).unwrap();
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };
    running_rx.recv_timeout(GUARD).expect("competitor started");
    // The polled job: off to the idle class first, so that from the moment it shares `cpu`
    // with the competitor it is runnable but (almost) never running; then it spins until
    // released.
    let release = Arc::new(AtomicBool::new(false));
    let released = release.clone();
    let _release_on_failure = Release(vec![release.clone(), stop.clone()]);
    pool.execute(move || {
        become_idle_class();
        pin_to(cpu);
        while !released.load(Ordering::Relaxed) {
            std::hint::spin_loop();
        }
    });
    for _ in 0..SPARED_REPORTS {
        spared.recv_timeout(GUARD).expect(
            "the monitor never spared the preempted poll (it handed it off, or never looked)",
        );
    }
    let hand_offs = pool.metrics().hand_offs;
    release.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    competitor.join().unwrap();
    assert_eq!(
        hand_offs, 0,
        "the monitor handed off a worker the OS had preempted"
    );
}

#[test]
fn a_blocked_worker_is_handed_off_after_the_monitor_slept() {
    let (pool, parks) = pool_reporting(TestPoint::MonitorParks);
    // The pool is idle: the monitor goes to sleep (M1).
    parks
        .recv_timeout(GUARD)
        .expect("the monitor of an idle pool never parked");
    let handle = pool.handle();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let still_blocked = Arc::new(AtomicBool::new(true));
    let blocked = still_blocked.clone();
    // Waking the worker for this job must wake the monitor (M2), which must then see the job
    // blocked in the kernel and hand the queued job behind it to a spare thread.
    pool.execute(move || {
        handle.execute(move || done_tx.send(()).unwrap());
        release_rx
            .recv_timeout(GUARD)
            .expect("test never released the blocked job");
        blocked.store(false, Ordering::SeqCst);
    });
    done_rx
        .recv_timeout(GUARD)
        .expect("the job behind a blocked one never ran");
    assert!(
        still_blocked.load(Ordering::SeqCst),
        "the queued job ran only after the blocked one returned"
    );
    release_tx.send(()).unwrap();
    let metrics = pool.metrics();
    assert!(metrics.hand_offs >= 1, "no hand-off counted: {metrics:?}");
}

#[test]
fn a_worker_computing_for_a_slice_is_handed_off() {
    let (pool, _parks) = pool_reporting(TestPoint::MonitorParks);
    let handle = pool.handle();
    let rescued = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let flag = rescued.clone();
    // The job spins on the CPU until the job queued behind it runs, which only a hand-off
    // allows (there is one worker).
    pool.execute(move || {
        let set = flag.clone();
        handle.execute(move || set.store(true, Ordering::SeqCst));
        while !flag.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        done_tx.send(()).unwrap();
    });
    done_rx
        .recv_timeout(GUARD)
        .expect("a poll computing for a whole slice was never handed off");
    assert!(rescued.load(Ordering::SeqCst));
    let metrics = pool.metrics();
    assert!(metrics.hand_offs >= 1, "no hand-off counted: {metrics:?}");
}
