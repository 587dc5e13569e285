//! Checks against trusted tools: the lab's figure beside theirs, never a failure when a
//! tool is missing.
//!
//! * thread (and process) ping-pong against `perf bench sched pipe`, one round trip per
//!   "op", same placement (`taskset -c 0` for same core; cores 0,1 for cross core, where
//!   perf has no per-side pinning, so the kernel places the two sides);
//! * the timer's idle lateness against `cyclictest` (clock_nanosleep, 1 ms interval).

use std::process::Command;
use std::time::Duration;

use crate::models::Placement;
use crate::results::Check;

/// Runs `perf bench sched pipe` with `loops` round trips.
pub fn perf_sched_pipe(
    row: String,
    lab: Option<f64>,
    loops: u64,
    placement: Placement,
    threads: bool,
) -> Check {
    let cpus = match placement {
        Placement::SameCore => "0",
        Placement::CrossCore => "0,1",
    };
    let mut args = vec!["-c", cpus, "perf", "bench", "sched", "pipe"];
    if threads {
        args.push("-T");
    }
    let loops = loops.to_string();
    args.extend(["-l", &loops]);
    let tool = format!("taskset {}", args.join(" "));
    let output = Command::new("taskset").args(&args).output();
    let (tool_value, note) = match output {
        Err(e) => (
            None,
            Some(format!("taskset or perf not available ({e}): no check")),
        ),
        Ok(out) if !out.status.success() => (
            None,
            Some(format!(
                "perf bench failed ({}): {}",
                out.status,
                first_line(&String::from_utf8_lossy(&out.stderr))
            )),
        ),
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            match parse_perf_usecs(&text) {
                Some(usecs) => (Some(usecs * 1_000.0), None),
                None => (None, Some("perf bench printed no usecs/op".to_owned())),
            }
        }
    };
    Check {
        row,
        tool,
        lab,
        tool_value,
        unit: "ns".to_owned(),
        note,
    }
}

/// The `usecs/op` figure of `perf bench sched pipe`'s output.
pub fn parse_perf_usecs(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.contains("usecs/op"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `cyclictest` for `loops` wake-ups every `interval` on one thread.
pub fn cyclictest(row: String, lab: Option<f64>, loops: u64, interval: Duration) -> Check {
    let interval_us = interval.as_micros().to_string();
    let loops = loops.to_string();
    let args = ["-q", "-n", "-t", "1", "-i", &interval_us, "-l", &loops];
    let tool = format!("cyclictest {}", args.join(" "));
    let (tool_value, note) = match Command::new("cyclictest").args(args).output() {
        Err(_) => (
            None,
            Some("cyclictest not installed: no timer check".to_owned()),
        ),
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            // cyclictest reports "Min: .. Act: .. Avg: .. Max: .." in µs; Avg is the
            // closest it has to the lab's median.
            match parse_cyclictest_avg(&text) {
                Some(avg_us) => (
                    Some(avg_us * 1_000.0),
                    Some("cyclictest's Avg beside the lab's p50".to_owned()),
                ),
                None => (
                    None,
                    Some(format!(
                        "cyclictest gave no figure: {}",
                        first_line(&String::from_utf8_lossy(&out.stderr))
                    )),
                ),
            }
        }
    };
    Check {
        row,
        tool,
        lab,
        tool_value,
        unit: "ns".to_owned(),
        note,
    }
}

/// The `Avg:` figure of cyclictest's summary line, in µs.
pub fn parse_cyclictest_avg(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        if word == "Avg:" {
            return words.next()?.parse().ok();
        }
    }
    None
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_output_gives_usecs_per_op() {
        let text = "# Running 'sched/pipe' benchmark:\n\n     Total time: 0.037 [sec]\n\n      18.998000 usecs/op\n          52637 ops/sec\n";
        assert_eq!(parse_perf_usecs(text), Some(18.998));
    }

    #[test]
    fn cyclictest_output_gives_the_average() {
        let text =
            "T: 0 ( 1234) P: 0 I:1000 C:   1000 Min:     52 Act:   60 Avg:   71 Max:     250\n";
        assert_eq!(parse_cyclictest_avg(text), Some(71.0));
    }
}
