//! With `pin(true)`, worker `i` runs on core `i` only: read back with `sched_getaffinity`.

use std::sync::{Arc, Mutex};
use switchyard::scheduler::pool::Pool;

/// The CPUs the calling thread may run on.
fn affinity() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data (all-zero is an empty set); sched_getaffinity writes at
    // most size_of::<cpu_set_t>() bytes into it; pid 0 means the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let rc = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(
            rc,
            0,
            "sched_getaffinity: {}",
            std::io::Error::last_os_error()
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// (thread name, CPUs it may run on), one per pool thread.
type Seen = Arc<Mutex<Vec<(String, Vec<usize>)>>>;

#[test]
fn pinned_worker_i_runs_on_core_i_only() {
    let cores = core_ids();
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let pool = Pool::builder()
        .workers(cores.len())
        .pin(true)
        .thread_name(|i| format!("pin-test-{i}"))
        .on_thread_start(move || {
            let name = std::thread::current().name().unwrap_or("").to_string();
            record.lock().unwrap().push((name, affinity()));
        })
        .build()
        .expect("pool");
    drop(pool); // joins: every start hook has run
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), cores.len());
    for (name, cpus) in seen {
        let i: usize = name["pin-test-".len()..].parse().expect("thread name");
        assert_eq!(cpus, vec![cores[i]], "worker {i} not pinned to its core");
    }
}

/// The cores the process may use (what core_affinity pins to), in order.
fn core_ids() -> Vec<usize> {
    affinity()
}
