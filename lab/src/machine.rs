//! What the lab knows about the machine: identity for the result file, resident memory,
//! limits that cap the scale experiment, and CPU pinning.

use crate::results::Machine;

/// The machine's identity, for the result file.
pub fn describe() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            matches!(key.trim(), "model name" | "Model" | "cpu model").then(|| value.trim())
        })
        .unwrap_or("unknown")
        .to_owned();
    let uname = rustix::system::uname();
    let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| text(uname.sysname()));
    Machine {
        cpu_model,
        cores: cores() as u32,
        kernel: format!("{} {}", text(uname.sysname()), text(uname.release())),
        os,
        rustc: env!("SWITCHYARD_LAB_RUSTC").to_owned(),
        hostname: text(uname.nodename()),
        python: None,
    }
}

/// The CPUs this process may run on, as ids in ascending order, read once from the calling
/// thread's affinity mask the first time this is called. `main` calls it before anything
/// pins a thread: a thread's mask is inherited by the threads and processes it creates, so a
/// later first call from a pinned thread would see one CPU. (`core_affinity::get_core_ids`
/// and `available_parallelism` answer with the *calling thread's* mask, which is why the lab
/// never uses them to choose CPUs.)
pub fn start_cpus() -> &'static [usize] {
    static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    CPUS.get_or_init(|| {
        let cpus: Vec<usize> = match rustix::thread::sched_getaffinity(None) {
            Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
                .filter(|&cpu| set.is_set(cpu))
                .collect(),
            Err(_) => Vec::new(),
        };
        if cpus.is_empty() {
            // The kernel did not answer: the CPU this thread is on is at least allowed.
            vec![current_cpu()]
        } else {
            cpus
        }
    })
}

/// CPUs this process may run on (the length of [`start_cpus`]).
pub fn cores() -> usize {
    start_cpus().len()
}

/// The CPU the calling thread is running on now (`sched_getcpu`).
pub fn current_cpu() -> usize {
    rustix::thread::sched_getcpu()
}

/// Pins the calling thread to the CPU with id `cpu`; false when the kernel refuses (no such
/// CPU, or one outside the process's cpuset).
pub fn pin_to_cpu(cpu: usize) -> bool {
    if cpu >= rustix::thread::CpuSet::MAX_CPU {
        return false;
    }
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).is_ok()
}

/// Resident memory of this process in bytes (`/proc/self/statm`, second field, in pages).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * rustix::param::page_size() as u64
}

/// The number of threads the machine lets this process create, and why: the smallest of
/// `RLIMIT_NPROC`, `kernel.threads-max` and `vm.max_map_count` (a thread's stack and guard
/// page take two mappings), each halved so the lab leaves room for everyone else.
pub fn thread_limit() -> (u64, String) {
    /// Leave half of every limit to the rest of the machine (it may be shared).
    const SHARE: u64 = 2;
    let nproc = rustix::process::getrlimit(rustix::process::Resource::Nproc)
        .current
        .unwrap_or(u64::MAX);
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let threads_max = read("/proc/sys/kernel/threads-max").unwrap_or(u64::MAX);
    let maps = read("/proc/sys/vm/max_map_count").map_or(u64::MAX, |m| m / 2);
    let limit = nproc.min(threads_max).min(maps) / SHARE;
    let why = format!(
        "thread limit {limit} = min(RLIMIT_NPROC {}, threads-max {}, max_map_count/2 {}) / {SHARE}",
        show(nproc),
        show(threads_max),
        show(maps)
    );
    (limit, why)
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit (the lab's `main` does it
/// first, so its children inherit it): `echo / ..,conns=1000` holds about two descriptors per
/// connection (the client's and the server's end), more than the usual soft limit of 1,024.
/// Failure changes nothing; [`nofile_limit`] then says what there is.
pub fn raise_nofile_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            },
        );
    }
}

/// This process's `RLIMIT_NOFILE`: (soft, hard), `u64::MAX` for unlimited.
pub fn nofile_limit() -> (u64, u64) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    (
        limit.current.unwrap_or(u64::MAX),
        limit.maximum.unwrap_or(u64::MAX),
    )
}

/// CPU time (user + system) this whole process has used, every thread together, in ns
/// (`getrusage(RUSAGE_SELF)`, microsecond resolution).
pub fn process_cpu_ns() -> u64 {
    // SAFETY: `getrusage` writes one `rusage` into the struct it is given, which is ours,
    // zeroed (all-zero is a valid `rusage`) and lives across the call; RUSAGE_SELF is valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// CPU time the calling thread has used, in ns (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
pub fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// CPU time process `pid` has used, every thread of it together, in ns: the sum of the first
/// field of `/proc/PID/task/TID/schedstat` (the scheduler's own run time, exact to the ns);
/// `None` once the process is gone.
pub fn other_process_cpu_ns(pid: i32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += stat.split_ascii_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Bytes of memory available (`MemAvailable` in `/proc/meminfo`).
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn show(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".to_owned()
    } else {
        v.to_string()
    }
}

/// Pins thread (or process) `tid` of any process to the CPU with id `cpu`; false when the
/// kernel refuses or there is no such thread.
pub fn pin_task_to_cpu(tid: i32, cpu: usize) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(tid) else {
        return false;
    };
    if cpu >= rustix::thread::CpuSet::MAX_CPU {
        return false;
    }
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(Some(pid), &set).is_ok()
}

/// Pins the calling thread to the `index`-th CPU of [`start_cpus`]; false when there is no
/// such CPU or the kernel refuses.
pub fn pin_current(index: usize) -> bool {
    start_cpus().get(index).is_some_and(|&cpu| pin_to_cpu(cpu))
}

/// The calling thread pinned to one CPU until this is dropped, when it gets back the mask it
/// had before.
pub struct Pinned {
    before: Option<rustix::thread::CpuSet>,
}

impl Pinned {
    /// Pins the calling thread to the CPU with id `cpu` (best effort, see [`pin_to_cpu`]).
    pub fn to(cpu: usize) -> Pinned {
        let before = rustix::thread::sched_getaffinity(None).ok();
        pin_to_cpu(cpu);
        Pinned { before }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            let _ = rustix::thread::sched_setaffinity(None, before);
        }
    }
}

/// Undoes [`pin_current`]: lets the calling thread run on every CPU of the process's mask
/// at start-up ([`start_cpus`]).
pub fn unpin_current() {
    let mut set = rustix::thread::CpuSet::new();
    for &cpu in start_cpus() {
        set.set(cpu);
    }
    // Best effort: if the kernel refuses, the thread stays pinned, which only makes the
    // following measurements more conservative.
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_pinned_to_a_cpu_of_the_start_mask_reports_that_cpu() {
        let cpus = start_cpus().to_vec();
        // Every CPU of the mask, from a thread whose own mask is narrowed first (as the
        // runner narrows its main thread): the choice must not depend on the caller's mask.
        let seen = std::thread::spawn(move || {
            assert!(pin_to_cpu(cpus[0]));
            cpus.iter()
                .map(|&cpu| {
                    assert!(pin_to_cpu(cpu), "pinning to CPU {cpu} refused");
                    (cpu, current_cpu())
                })
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        for (asked, ran) in seen {
            assert_eq!(asked, ran);
        }
    }

    #[test]
    fn pin_current_indexes_the_start_mask_even_from_a_pinned_thread() {
        let cpus = start_cpus().to_vec();
        let last = cpus.len() - 1;
        let ran = std::thread::spawn(move || {
            assert!(pin_current(0));
            // Narrowed to the first CPU, the thread can still be placed on the last one.
            assert!(pin_current(last));
            current_cpu()
        })
        .join()
        .unwrap();
        assert_eq!(ran, cpus[last]);
    }
}
