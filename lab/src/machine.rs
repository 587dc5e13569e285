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
    }
}

/// CPUs this process may run on, as seen the first time this is called (the lab calls it
/// at start-up, before pinning any thread: `available_parallelism` follows the calling
/// thread's affinity, so a pinned thread would see one CPU).
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
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

/// Pins the calling thread to CPU `core` (an index into the CPUs it may use); false when
/// the machine has no such CPU or refuses.
pub fn pin_current(core: usize) -> bool {
    let Some(ids) = core_affinity::get_core_ids() else {
        return false;
    };
    ids.get(core)
        .is_some_and(|&id| core_affinity::set_for_current(id))
}

/// Undoes [`pin_current`]: lets the calling thread run on every CPU of the process's mask
/// at start-up.
pub fn unpin_current(allowed: &[core_affinity::CoreId]) {
    let mut set = rustix::thread::CpuSet::new();
    for id in allowed {
        set.set(id.id);
    }
    // Best effort: if the kernel refuses, the thread stays pinned, which only makes the
    // following measurements more conservative.
    let _ = rustix::thread::sched_setaffinity(None, &set);
}
