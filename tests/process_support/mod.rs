//! Helpers shared by the process and process-pool tests. These tests re-execute their own
//! binary, so each is a `harness = false` test with a `main` that calls `process::init` first;
//! [`run`] then plays the part of the test harness.
#![allow(dead_code)]

use std::panic::AssertUnwindSafe;

/// Runs each named behaviour, prints `test NAME ... ok|FAILED` like libtest (the name before the
/// test runs, the outcome after), and exits with code 1 if any failed.
pub fn run(tests: &[(&str, fn())]) {
    let mut failed = 0;
    for (name, test) in tests {
        // The name goes out before the test runs (as libtest's does with one thread), so a
        // test that hangs is named by the last line of output (.ci/test-timeout reads it).
        print!("test {name} ... ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(test));
        match outcome {
            Ok(()) => println!("ok"),
            Err(_) => {
                println!("FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        tests.len() - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// The descriptors open in this process.
pub fn open_fds() -> Vec<String> {
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| {
            let e = e.ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            Some(format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            ))
        })
        .collect();
    fds.sort();
    fds
}

/// Whether `pid` is gone entirely: not running, and no zombie left (it was reaped).
pub fn is_reaped(pid: i32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of `pid` in `/proc/<pid>/stat` (`Z` for a zombie), if it exists.
pub fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// Kills the calling process with `SIGKILL` (a worker that "gets killed").
pub fn kill_self() -> ! {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    unreachable!("SIGKILL cannot be caught")
}

/// Crashes the calling process with `SIGSEGV`, as a wild pointer would.
pub fn segfault_self() -> ! {
    // SAFETY: raise has no memory-safety preconditions; SIGSEGV's default action ends us.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV's default action terminates")
}
