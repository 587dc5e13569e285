//! Checks against trusted tools: the lab's figure beside theirs, measured the same way, with
//! a verdict (agree within ±15%, or DISAGREE; docs/lab.md, "Checks"). A missing tool is a
//! check without a verdict, never a failure.
//!
//! * The thread and process ping-pong over two pipes against `perf bench sched pipe` (`-T`
//!   for threads), one round trip per "op", in the same placement: both sides on the row's
//!   first CPU for same-core; for cross-core, perf (which cannot pin each side itself) is
//!   started on the first CPU and the lab moves its second side to the second CPU as soon as
//!   it appears; always at least [`PERF_MIN_LOOPS`] round trips, so that neither perf's
//!   start-up nor the few round trips made before the move count.
//! * The thread model's idle timer lateness against `cyclictest` (clock_nanosleep, 1 ms
//!   interval, SCHED_OTHER as the lab, `--default-system` so it does not retune the machine):
//!   the median of its histogram beside the lab's p50.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::machine;
use crate::results::Check;

/// Fewest round trips a perf check makes: perf's figure includes starting its two sides, and
/// for cross-core the round trips made before the lab moves one side (see the module docs).
pub const PERF_MIN_LOOPS: u64 = 5_000;

/// Runs `perf bench sched pipe` `runs` times with `loops` round trips, side 0 on CPU
/// `cpus[0]` and side 1 on CPU `cpus[1]` (ids), processes or (`threads`) threads; judges
/// `lab` against the median.
pub fn perf_sched_pipe(
    row: String,
    lab: Option<f64>,
    loops: u64,
    runs: usize,
    cpus: [usize; 2],
    threads: bool,
) -> Check {
    let cross = cpus[0] != cpus[1];
    let loops = if cross {
        loops.max(PERF_MIN_LOOPS)
    } else {
        loops
    };
    let mut args = vec![
        "-c".to_owned(),
        cpus[0].to_string(),
        "perf".to_owned(),
        "bench".to_owned(),
        "sched".to_owned(),
        "pipe".to_owned(),
    ];
    if threads {
        args.push("-T".to_owned());
    }
    args.extend(["-l".to_owned(), loops.to_string()]);
    let mut tool = format!("taskset {}", args.join(" "));
    if cross {
        tool.push_str(&format!(
            " (its second side moved to CPU {} as it starts)",
            cpus[1]
        ));
    }
    // As many runs as the lab's samples, and their median, as the lab's figure is.
    let mut figures = Vec::new();
    let mut note = None;
    for _ in 0..runs.max(1) {
        match perf_once(&args, cpus, threads) {
            Ok((usecs, moved)) => {
                figures.push(usecs * 1_000.0);
                note = note.or(moved);
            }
            Err(why) => {
                return Check::judge(row, tool, lab, None, "ns", Some(why));
            }
        }
    }
    figures.sort_by(f64::total_cmp);
    let median = figures.get(figures.len() / 2).copied();
    let note = note.or_else(|| Some(format!("median of {} perf runs", figures.len())));
    Check::judge(row, tool, lab, median, "ns", note)
}

/// One run of `taskset ARGS`: perf's usecs/op, and a note when its second side could not be
/// moved; or why there is no figure.
fn perf_once(
    args: &[String],
    cpus: [usize; 2],
    threads: bool,
) -> Result<(f64, Option<String>), String> {
    let child = Command::new("taskset")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("taskset not available ({e}): no check"))?;
    let mut note = None;
    if cpus[0] != cpus[1] && !move_second_side(child.id(), threads, cpus[1]) {
        note = Some(format!(
            "could not move perf's second side to CPU {}: the kernel placed it",
            cpus[1]
        ));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("perf did not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "perf bench failed ({}): {}",
            out.status,
            first_line(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    let usecs = parse_perf_usecs(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "perf bench printed no usecs/op".to_owned())?;
    Ok((usecs, note))
}

/// Moves perf's second ping-pong side to CPU `cpu` once it exists: with `-T`, the last of the
/// two worker threads of process `taskset_pid` (taskset execs perf in place); without, its
/// child process. Gives up after two seconds or when perf is gone.
fn move_second_side(taskset_pid: u32, threads: bool, cpu: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    let proc_dir = format!("/proc/{taskset_pid}");
    while Instant::now() < deadline && Path::new(&proc_dir).exists() {
        let target = if threads {
            // The main thread plus both workers: the later worker is side 1.
            let tids = task_ids(&proc_dir);
            (tids.len() >= 3).then(|| tids.into_iter().max()).flatten()
        } else {
            std::fs::read_to_string(format!("{proc_dir}/task/{taskset_pid}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next()?.parse().ok())
        };
        if let Some(tid) = target {
            return machine::pin_task_to_cpu(tid, cpu);
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    false
}

/// The thread ids of the process whose `/proc` folder is `proc_dir`.
fn task_ids(proc_dir: &str) -> Vec<i32> {
    std::fs::read_dir(format!("{proc_dir}/task"))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
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

/// Runs `cyclictest` for `loops` wake-ups every `interval` on one thread pinned to the
/// first CPU of the process's mask; judges `lab` (the lab's p50, ns) against the median of
/// cyclictest's histogram.
pub fn cyclictest(row: String, lab: Option<f64>, loops: u64, interval: Duration) -> Check {
    /// Histogram range in µs; later wake-ups count as overflows.
    const HISTOGRAM_US: u64 = 10_000;
    let args = [
        "-q".to_owned(),
        "--default-system".to_owned(),
        "-t".to_owned(),
        "1".to_owned(),
        "-a".to_owned(),
        machine::start_cpus()[0].to_string(),
        "-i".to_owned(),
        interval.as_micros().to_string(),
        "-l".to_owned(),
        loops.to_string(),
        "-h".to_owned(),
        HISTOGRAM_US.to_string(),
    ];
    let tool = format!("cyclictest {}", args.join(" "));
    let (tool_value, note) = match Command::new("cyclictest").args(&args).output() {
        Err(_) => (None, Some("cyclictest not installed: no check".to_owned())),
        Ok(out) => match parse_cyclictest_median(&String::from_utf8_lossy(&out.stdout)) {
            Some(median_us) => (
                Some(median_us * 1_000.0),
                Some(
                    "the median of cyclictest's histogram (1 µs buckets) beside the lab's p50"
                        .to_owned(),
                ),
            ),
            None => (
                None,
                Some(format!(
                    "cyclictest gave no figure: {}",
                    first_line(&String::from_utf8_lossy(&out.stderr))
                )),
            ),
        },
    };
    Check::judge(row, tool, lab, tool_value, "ns", note)
}

/// The median latency, in µs, of cyclictest's `-h` histogram (`<µs> <count>` lines after
/// `# Histogram`; the overflow count, if any, is above every bucket).
pub fn parse_cyclictest_median(text: &str) -> Option<f64> {
    let mut buckets = Vec::new();
    let mut overflows = 0u64;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# Histogram Overflows:") {
            overflows = rest.split_whitespace().next()?.parse().ok()?;
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(us), Some(count), None) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        if let (Ok(us), Ok(count)) = (us.parse::<u64>(), count.parse::<u64>()) {
            buckets.push((us, count));
        }
    }
    let total: u64 = buckets.iter().map(|b| b.1).sum::<u64>() + overflows;
    if total == 0 {
        return None;
    }
    let mut seen = 0;
    for (us, count) in buckets {
        seen += count;
        if seen * 2 >= total {
            return Some(us as f64);
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
    fn cyclictest_histogram_gives_the_median() {
        let text = "# Histogram\n000060 000001\n000070 000002\n000080 000004\n000090 000001\n# Total: 000000008\n# Min Latencies: 00060\n# Histogram Overflows: 00000\n";
        // 8 samples: the 4th lies in the 80 µs bucket (1 + 2 = 3 below it).
        assert_eq!(parse_cyclictest_median(text), Some(80.0));
        let late = "# Histogram\n000060 000001\n# Histogram Overflows: 00003\n";
        assert_eq!(parse_cyclictest_median(late), None);
    }

    #[test]
    fn a_check_beyond_the_tolerance_disagrees_and_says_so() {
        let row = Check::row_id("switch", "thread", "pingpong_cross_core", "ns_per_op");
        assert_eq!(row, "switch/thread/pingpong_cross_core/ns_per_op");
        let ten_times = Check::judge(
            row.clone(),
            "perf".into(),
            Some(4_040.0),
            Some(38_400.0),
            "ns",
            None,
        );
        assert_eq!(ten_times.agree, Some(false));
        assert_eq!(ten_times.verdict(), "DISAGREE");
        let close = Check::judge(
            row.clone(),
            "perf".into(),
            Some(4_000.0),
            Some(4_170.0),
            "ns",
            None,
        );
        assert_eq!(close.agree, Some(true));
        assert_eq!(close.verdict(), "agree");
        let edge = Check::judge(
            row.clone(),
            "perf".into(),
            Some(1_160.0),
            Some(1_000.0),
            "ns",
            None,
        );
        assert_eq!(edge.agree, Some(false), "16% off is outside ±15%");
        let missing = Check::judge(row, "perf".into(), Some(4_000.0), None, "ns", None);
        assert_eq!((missing.agree, missing.verdict()), (None, "no check"));
    }
}
