//! The `blocking` workload (docs/lab.md, "Experiments"; the row is made by
//! [`crate::experiments::blocking`]): 100 reporters sleep toward a fixed grid of 1 ms
//! deadlines on the model's own timer while one more unit makes a blocking 10 ms call every
//! 50 ms.
//!
//! The grid ([`first_deadline`], [`reports`], [`calls`]) and the samples ([`Reports`],
//! [`blocked`]) are shared by every model; [`reporter`] and [`blocker`] are the two units
//! for any task model, and [`lateness`] runs them over the adapter trait [`Runtime`]. The
//! thread and process models build their own units on the same grid.

use std::time::{Duration, Instant};

use crate::adapter::Runtime;
use crate::models::{Blocked, Blocking as Load, Outcome};
use crate::stats;
use crate::workloads::failed;

/// The first deadline of reporter `i` of `load.others`, as an offset from the start: phases
/// spread evenly over one period, starting one period in.
pub fn first_deadline(load: &Load, i: u64) -> Duration {
    load.period + load.period.mul_f64(i as f64 / load.others.max(1) as f64)
}

/// Deadlines one reporter has within the run (from its first up to `run_for`).
pub fn reports(load: &Load, i: u64) -> u64 {
    let first = first_deadline(load, i);
    if first > load.run_for {
        return 0;
    }
    ((load.run_for - first).as_nanos() / load.period.as_nanos().max(1)) as u64 + 1
}

/// Start offsets of the blocking calls: every `call_every`, the first half a period in (so
/// the run starts unstalled), while a call still ends within the run.
pub fn calls(load: &Load) -> impl Iterator<Item = Duration> + '_ {
    let first = load.call_every / 2;
    (0u32..)
        .map(move |k| first + load.call_every * k)
        .take_while(move |start| *start + load.call <= load.run_for)
}

/// One reporter's lateness samples (ns): every deadline of its grid, and the subset it
/// actually slept toward (its deadline was still ahead when it went to sleep), which leaves
/// out the reports it missed while held up: the view of a sleeper that re-arms from its wake
/// time, given in the note beside the row.
#[derive(Debug, Clone, Default)]
pub struct Reports {
    /// Every deadline.
    pub all: Vec<u64>,
    /// Only the deadlines slept toward.
    pub slept: Vec<u64>,
}

impl Reports {
    /// Room for reporter `i`'s reports, allocated before the run.
    pub fn for_reporter(load: &Load, i: u64) -> Reports {
        let n = reports(load, i) as usize;
        Reports {
            all: Vec::with_capacity(n),
            slept: Vec::with_capacity(n),
        }
    }

    /// Records the report for `deadline`, woken now; `slept` says whether it was ahead.
    pub fn record(&mut self, deadline: Instant, slept: bool) {
        let late = Instant::now()
            .saturating_duration_since(deadline)
            .as_nanos() as u64;
        self.all.push(late);
        if slept {
            self.slept.push(late);
        }
    }
}

/// Reporter `i` of `load`, written once for every task model: sleeps with the model's
/// `sleep_until` through its grid of deadlines (from `t0`) and returns its samples. The
/// vectors are sized beforehand, so the loop does not allocate.
pub async fn reporter<F: Future<Output = ()>>(
    load: Load,
    i: u64,
    t0: Instant,
    sleep_until: impl Fn(Instant) -> F,
) -> Reports {
    let mut out = Reports::for_reporter(&load, i);
    let mut deadline = t0 + first_deadline(&load, i);
    for _ in 0..reports(&load, i) {
        let slept = Instant::now() < deadline;
        sleep_until(deadline).await;
        out.record(deadline, slept);
        deadline += load.period;
    }
    out
}

/// The blocking unit of `load`, for every task model: sleeps with the model's `sleep_until`
/// to each call's start, then blocks its thread in `std::thread::sleep`; returns the calls
/// made.
pub async fn blocker<F: Future<Output = ()>>(
    load: Load,
    t0: Instant,
    sleep_until: impl Fn(Instant) -> F,
) -> u64 {
    let mut made = 0;
    for start in calls(&load) {
        sleep_until(t0 + start).await;
        // The blocking call, inside the task: whatever else needs this thread waits.
        std::thread::sleep(load.call);
        made += 1;
    }
    made
}

/// Merges every reporter's samples into the [`Blocked`] answer.
pub fn blocked(reports: &[Reports], calls: u64) -> Blocked {
    let mut lateness = stats::new_histogram();
    let mut slept = stats::new_histogram();
    for unit in reports {
        for &late in &unit.all {
            stats::record(&mut lateness, late);
        }
        for &late in &unit.slept {
            stats::record(&mut slept, late);
        }
    }
    Blocked {
        lateness,
        slept,
        calls,
        detail: None,
    }
}

/// The whole workload over [`Runtime`]: `load.others` reporters sleep on the runtime's timer
/// while one blocker makes its blocking calls; the reporters' lateness. Every task model runs
/// this (inside its own runtime where it adds a note of its own, as the pool does).
pub async fn lateness<R: Runtime>(spawner: R::Spawner, load: Load) -> Outcome<Blocked> {
    let t0 = Instant::now();
    let mut reporters = Vec::with_capacity(load.others as usize);
    for i in 0..load.others {
        reporters.push(R::spawn(&spawner, reporter(load, i, t0, R::sleep_until))?);
    }
    let calls = R::spawn(&spawner, blocker(load, t0, R::sleep_until))?;
    let mut samples = Vec::with_capacity(reporters.len());
    for reporter in reporters {
        samples.push(R::join(reporter).await.ok_or_else(failed)?);
    }
    let calls = R::join(calls).await.ok_or_else(failed)?;
    Ok(blocked(&samples, calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/lab.md: report every 1 ms, a 10 ms call every 50 ms.
    const PERIOD: Duration = Duration::from_millis(1);
    const CALL: Duration = Duration::from_millis(10);
    const CALL_EVERY: Duration = Duration::from_millis(50);

    fn full() -> Load {
        Load {
            others: 100,
            period: PERIOD,
            call: CALL,
            call_every: CALL_EVERY,
            run_for: Duration::from_millis(2_000),
        }
    }

    #[test]
    fn reporters_are_spread_over_one_period() {
        let load = full();
        assert_eq!(first_deadline(&load, 0), PERIOD);
        assert_eq!(first_deadline(&load, 50), PERIOD + PERIOD / 2);
        assert!(first_deadline(&load, 99) < PERIOD * 2);
    }

    #[test]
    fn a_two_second_run_has_forty_calls_and_two_thousand_reports_each() {
        let load = full();
        assert_eq!(calls(&load).count(), 40);
        assert_eq!(reports(&load, 0), 2_000);
        assert_eq!(reports(&load, 99), 1_999);
    }
}
