//! Issue 13's check on a GIL interpreter: on `speedup` (the lab's hashing chunks in pure
//! Python, lab/python/speedup.py), `py-threading` shows no speed-up and `py-multiprocessing`
//! shows one. A ratio of times, so it lives with the stress tests (run on an idle machine by
//! .ci/run's stress step), not with the unit tests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// S(n) of the largest n for `model`, from the script's rows, or `None` with a message.
fn largest_speedup(model: &str) -> Option<(u64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/speedup.py");
    let out = match Command::new("python3")
        .args(["-E", "-s", "-B"])
        .arg(&script)
        .args(["--model", model, "--size", "full"])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipped: cannot run python3: {e}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut best = None;
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        if row["metric"] == "speedup" {
            let n: u64 = row["variant"].as_str().unwrap()["n=".len()..]
                .parse()
                .unwrap();
            if best.is_none_or(|(k, _)| n > k) {
                best = Some((n, row["value"].as_f64().unwrap()));
            }
        }
    }
    best
}

fn gil_enabled() -> Option<bool> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys; f = getattr(sys, '_is_gil_enabled', None); print(f() if f else True)",
        ])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim() == "True")
}

#[test]
#[ignore = "stress: run by .ci/run's stress step"]
fn on_a_gil_interpreter_threads_do_not_speed_up_and_processes_do() {
    match gil_enabled() {
        None => return eprintln!("skipped: no python3"),
        Some(false) => return eprintln!("skipped: this python3 runs without the GIL"),
        Some(true) => {}
    }
    let Some((n, threads)) = largest_speedup("py-threading") else {
        return;
    };
    if n < 2 {
        return eprintln!("skipped: one CPU, no speed-up to look for");
    }
    let (_, processes) = largest_speedup("py-multiprocessing").unwrap();
    // Perfect would be `n`; no speed-up is 1.0. The bounds leave room for a noisy machine.
    assert!(
        threads < 1.25,
        "py-threading sped up {threads:.2}x on {n} CPUs under the GIL"
    );
    assert!(
        processes > 1.3,
        "py-multiprocessing sped up only {processes:.2}x on {n} CPUs"
    );
}
