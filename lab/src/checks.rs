//! Checks against trusted tools: the lab's figure beside theirs, measured the same way, with
//! a verdict (agree within ±15%, or DISAGREE; docs/lab.md, "Checks"). A missing tool is a
//! check without a verdict, never a failure.
//!
//! * The thread and process ping-pong over two pipes against `perf bench sched pipe` (`-T`
//!   for threads). Like with like: perf's "op" is one loop of its two sides, a write and a
//!   read each, so one round trip of one message, two context switches, as the lab's
//!   `ns_per_op`; perf runs its two sides as the lab does (one waits in `read` while the other
//!   writes), and its third thread (or parent) waits in `join` (`wait`) as the lab's calling
//!   thread does. The placement is the row's: both sides on the row's first CPU for
//!   same-core; for cross-core, perf (which cannot pin each side itself) is started on the
//!   first CPU and the lab moves perf's side 0 to the second CPU as soon as it appears. The
//!   roles are the lab's: perf's side 0 reads first and answers, as the lab's echo on the
//!   second CPU; its side 1 writes first, as the lab's pinger, and stays on the first CPU with
//!   perf's main thread, as the pinger stays with the lab's calling thread. (With `-T` the
//!   lab used to move perf's side 1, the writer, so perf ran the round trip mirrored: the
//!   process check, whose roles matched, agreed in 4 of 5 quick runs on the 2-core VM, the
//!   thread check, mirrored, disagreed in 5 of 5, lab 60-70 µs, perf 81-96 µs. Side 0 blocks in its
//!   first `read` before any round trip, so it is also moved before the round trips start.)
//!   Each perf run makes the row's own count of round trips ([`PerfPipe::new`]), and at
//!   least [`PERF_MIN_LOOPS`] (5,000) cross-core: each of the lab's samples starts with
//!   untimed warm-up round trips (`workloads::WARMUP_ROUND_TRIPS`), because on a VM a fresh
//!   cross-core pair's first few hundred round trips run faster than its steady state
//!   (`tools/pingpong_drift.c`); perf has no warm-up, so its run is made long enough that
//!   its start (those round trips, its two sides starting, and any round trips made before
//!   the move) is a few percent of its figure at most. A run whose moved side had already
//!   made more than 1% of its round trips, read from its voluntary context switches when it
//!   is moved, is not counted, and the note says so. The runs alternate with the row's
//!   samples, one perf run after each sample ([`PerfPipe::run_once`]): both medians are then
//!   taken over the same minutes of the machine. The note gives every perf run's figure and
//!   every sample's, in the order taken.
//!   (The check used to make the row's own 1,000 round trips in `--quick`, with no warm-up on
//!   either side: on the 2-core VM the thread check then read the lab 18-42% below perf in
//!   every quick run of 2026-11-30, while full runs of 5,000 agreed.)
//! * The thread model's idle timer lateness against `cyclictest` (clock_nanosleep, 1 ms
//!   interval, SCHED_OTHER as the lab, `--default-system` so it does not retune the machine):
//!   the median of its histogram beside the lab's p50.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::machine;
use crate::results::Check;
use crate::stats;

/// Fewest round trips a cross-core perf run makes: perf has no warm-up, so its figure
/// includes its start (its two sides starting, the round trips made on one CPU before the lab
/// moves one side, and a fresh pair's faster first few hundred round trips); at 5,000 that is
/// a few percent of it at most (see the module docs).
pub const PERF_MIN_LOOPS: u64 = 5_000;

/// Runs of `perf bench sched pipe` for one row, one after each of the row's samples, and
/// the verdict on their median.
#[derive(Debug)]
pub struct PerfPipe {
    loops: u64,
    discarded: Vec<u64>,
    args: Vec<String>,
    cpus: [usize; 2],
    threads: bool,
    tool: String,
    figures: Vec<f64>,
    failed: Option<String>,
    note: Option<String>,
}

impl PerfPipe {
    /// Runs of `loops` round trips (the row's count; at least [`PERF_MIN_LOOPS`]
    /// cross-core), side 0 on CPU `cpus[0]` and side 1 on CPU `cpus[1]` (ids), processes
    /// or (`threads`) threads.
    pub fn new(loops: u64, cpus: [usize; 2], threads: bool) -> PerfPipe {
        let loops = Self::loops(loops, cpus);
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
        if cpus[0] != cpus[1] {
            tool.push_str(&format!(
                " (its side 0, which reads first, moved to CPU {} as it starts)",
                cpus[1]
            ));
        }
        PerfPipe {
            loops,
            discarded: Vec::new(),
            args,
            cpus,
            threads,
            tool,
            figures: Vec::new(),
            failed: None,
            note: None,
        }
    }

    /// The round trips each perf run makes for a row of `loops`.
    pub fn loops(loops: u64, cpus: [usize; 2]) -> u64 {
        if cpus[0] != cpus[1] {
            loops.max(PERF_MIN_LOOPS)
        } else {
            loops.max(1)
        }
    }

    /// The command line, as the check records it.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// One perf run, its figure kept; after a failure (no perf, no taskset) it runs nothing.
    pub fn run_once(&mut self) {
        if self.failed.is_some() {
            return;
        }
        match perf_once(&self.args, self.cpus, self.threads) {
            // A run whose sides made more than 1% of its round trips on one CPU before the
            // move (a slow poll on a busy machine) measured partly same-core: not counted.
            Ok(run) if Self::moved_too_late(run.before_move, self.loops) => {
                self.discarded.push(run.before_move);
            }
            Ok(run) => {
                self.figures.push(run.usecs * 1_000.0);
                self.note = self.note.take().or(run.note);
            }
            Err(why) => self.failed = Some(why),
        }
    }

    /// Whether a run whose side 0 had made `before_move` round trips when it was moved
    /// (of `loops`) is partly a same-core figure: more than 1% of them.
    pub fn moved_too_late(before_move: u64, loops: u64) -> bool {
        before_move.saturating_mul(100) > loops
    }

    /// The check of `row`: `lab` (the row's median of `samples`, ns per round trip, in the
    /// order taken) against the median of the runs made.
    pub fn judge(mut self, row: String, lab: Option<f64>, samples: &[f64]) -> Check {
        if let Some(why) = self.failed {
            return Check::judge(row, self.tool, lab, None, "ns", Some(why));
        }
        let in_order = |ns: &[f64]| {
            ns.iter()
                .map(|ns| format!("{:.1}", ns / 1_000.0))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (perf_runs, lab_samples) = (in_order(&self.figures), in_order(samples));
        self.figures.sort_by(f64::total_cmp);
        let median = stats::summarize(&self.figures).map(|s| s.median);
        let runs = self.figures.len();
        let mut note = self.note.unwrap_or_else(|| {
            format!(
                "median of {runs} perf runs, each after one of the row's samples, with the row's count"
            )
        });
        note.push_str(&format!(
            "; perf's runs in order: [{perf_runs}] µs, the row's samples: [{lab_samples}] µs"
        ));
        if !self.discarded.is_empty() {
            note.push_str(&format!(
                "; {} run(s) not counted: perf's side 0 had made {:?} of {} round trips on the first CPU before it was moved",
                self.discarded.len(),
                self.discarded,
                self.loops
            ));
        }
        let note = Some(note);
        Check::judge(row, self.tool, lab, median, "ns", note)
    }
}

/// One run of `taskset ARGS`: perf's usecs/op, and a note when its side 0 could not be moved;
/// or why there is no figure.
fn perf_once(args: &[String], cpus: [usize; 2], threads: bool) -> Result<PerfRun, String> {
    let child = Command::new("taskset")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("taskset not available ({e}): no check"))?;
    let mut note = None;
    let mut before_move = 0;
    if cpus[0] != cpus[1] {
        match move_side_zero(child.id(), threads, cpus[1]) {
            Some(switches) => before_move = switches,
            None => {
                note = Some(format!(
                    "could not move perf's side 0 to CPU {}: the kernel placed it",
                    cpus[1]
                ))
            }
        }
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
    Ok(PerfRun {
        usecs,
        note,
        before_move,
    })
}

/// One perf run's figure, and what happened around it.
struct PerfRun {
    /// perf's `usecs/op`.
    usecs: f64,
    /// Why its placement is not the one asked, if it is not.
    note: Option<String>,
    /// Cross-core: the round trips its side 0 had made (on the first CPU) when the lab moved
    /// it, read as that side's voluntary context switches (it blocks once in `read` per round
    /// trip).
    before_move: u64,
}

/// Moves perf's side 0 to CPU `cpu` once it exists: the side that reads first and answers,
/// the lab's echo (perf's side 1 writes first, as the lab's pinger, and stays on the first CPU
/// with perf's main thread, as the pinger stays with the lab's calling thread). With `-T` it is
/// perf's first worker thread ([`first_worker`]; taskset execs perf in place, so
/// `taskset_pid` is perf's); without, perf's child process (perf forks once and runs side 0
/// in the child, side 1 in itself). Gives up after two seconds or when perf is gone
/// (`None`); once moved, the voluntary context switches that side had made by then (0 if
/// they cannot be read): it blocks once in `read` per round trip, so this is the round trips
/// it made on the first CPU.
fn move_side_zero(taskset_pid: u32, threads: bool, cpu: usize) -> Option<u64> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let proc_dir = format!("/proc/{taskset_pid}");
    while Instant::now() < deadline && Path::new(&proc_dir).exists() {
        let target = if threads {
            first_worker(taskset_pid as i32, &task_ids(&proc_dir))
        } else {
            std::fs::read_to_string(format!("{proc_dir}/task/{taskset_pid}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next()?.parse().ok())
        };
        if let Some(tid) = target {
            if !machine::pin_task_to_cpu(tid, cpu) {
                return None;
            }
            let status = if threads {
                format!("{proc_dir}/task/{tid}/status")
            } else {
                format!("/proc/{tid}/status")
            };
            return Some(
                std::fs::read_to_string(status)
                    .ok()
                    .and_then(|s| voluntary_switches(&s))
                    .unwrap_or(0),
            );
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    None
}

/// perf's side 0 under `-T`, among the thread ids `tids` of process `pid`: the first worker
/// thread perf creates (thread ids rise in creation order), so the lowest id but the main
/// thread's; `None` before perf has created it.
pub fn first_worker(pid: i32, tids: &[i32]) -> Option<i32> {
    tids.iter().copied().filter(|&t| t != pid).min()
}

/// `voluntary_ctxt_switches` of a `/proc/.../status` text.
pub fn voluntary_switches(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))?
        .trim()
        .parse()
        .ok()
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
    fn a_perf_run_moved_late_is_not_counted() {
        assert!(!PerfPipe::moved_too_late(0, 1_000));
        assert!(!PerfPipe::moved_too_late(10, 1_000));
        assert!(PerfPipe::moved_too_late(11, 1_000));
        assert!(PerfPipe::moved_too_late(u64::MAX, 1_000));
        let status = "Name:\tperf\nvoluntary_ctxt_switches:\t42\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(voluntary_switches(status), Some(42));
        assert_eq!(voluntary_switches("Name:\tperf\n"), None);
    }

    #[test]
    fn perfs_reading_side_is_the_one_moved() {
        // perf -T: main thread 500, side 0 (reads first, the lab's echo) 501, side 1 502.
        assert_eq!(first_worker(500, &[502, 500, 501]), Some(501));
        // Moved as soon as it exists, before side 1 is created.
        assert_eq!(first_worker(500, &[500, 501]), Some(501));
        assert_eq!(first_worker(500, &[500]), None);
        assert_eq!(first_worker(500, &[]), None);
    }

    #[test]
    fn a_checks_note_gives_every_run_and_sample_in_order() {
        let mut perf = PerfPipe::new(1_000, [0, 1], true);
        perf.figures = vec![90_000.0, 70_000.0, 80_000.0];
        perf.discarded = vec![40];
        let row = Check::row_id("switch", "thread", "pingpong_cross_core", "ns_per_op");
        let check = perf.judge(row, Some(60_000.0), &[60_000.0, 55_000.0, 61_000.0]);
        assert_eq!(check.tool_value, Some(80_000.0));
        // 60 against 80 µs: beyond ±15%, flagged.
        assert_eq!((check.agree, check.verdict()), (Some(false), "DISAGREE"));
        let note = check.note.expect("a perf check has a note");
        assert!(
            note.contains(
                "runs in order: [90.0, 70.0, 80.0] µs, the row's samples: [60.0, 55.0, 61.0] µs"
            ),
            "{note}"
        );
        assert!(note.contains("1 run(s) not counted"), "{note}");
    }

    #[test]
    fn perf_runs_the_rows_own_count() {
        // Same-core: the row's count as it is; cross-core: the row's count, at least
        // PERF_MIN_LOOPS (perf has no warm-up: its start must stay a small part of its run).
        assert_eq!(PerfPipe::loops(50_000, [0, 0]), 50_000);
        assert_eq!(PerfPipe::loops(8_765, [0, 1]), 8_765);
        assert_eq!(PerfPipe::loops(1_000, [0, 1]), PERF_MIN_LOOPS);
        assert_eq!(PerfPipe::loops(20, [0, 1]), PERF_MIN_LOOPS);
        let perf = PerfPipe::new(8_765, [2, 3], true);
        assert_eq!(
            perf.tool(),
            "taskset -c 2 perf bench sched pipe -T -l 8765 (its side 0, which reads first, moved to CPU 3 as it starts)"
        );
        assert_eq!(
            PerfPipe::new(700, [0, 0], false).tool(),
            "taskset -c 0 perf bench sched pipe -l 700"
        );
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
