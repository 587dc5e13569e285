//! Experiment `blocking`: what one unit's blocking call does to everybody else.
//!
//! 100 units each sleep-and-report every 1 ms on the model's own timer while one more unit
//! makes a blocking 10 ms call (`std::thread::sleep` inside the unit, as a careless
//! `std::fs` or DNS call would) every 50 ms, for 2 s of wall time (quick 0.5 s).
//!
//! Each reporter keeps a fixed grid of deadlines (`first + k * 1 ms`, the 100 first deadlines
//! spread evenly over one period so the reporters do not all wake together), and records
//! lateness = wake time - deadline for every deadline of the grid. A reporter held up past
//! several deadlines therefore records each of them, late by less and less as it catches up,
//! which is what its reports would have been: the stall is not hidden by one sample
//! (coordinated omission). Row `others_p99` / `lateness`: value the median, p50 .. max filled
//! (ns); what to read is p99. The note adds the p99 over only the wake-ups each reporter
//! slept toward (leaving out the reports it missed while held up), the figure a sleeper that
//! re-arms from its wake time would report, and for the pool the stall monitor's hand-offs. On a cooperative loop the call stalls everyone (p99 near
//! 10 ms); a pool whose stall monitor hands the blocked worker's queue off, or plain threads,
//! keep the others going.

use std::time::{Duration, Instant};

use super::{Ctx, Experiment, Size, histogram_row};
use crate::models::{Blocked, Blocking as Load, Model};
use crate::stats;

/// See the [module docs](self).
pub struct Blocking;

const NAME: &str = "blocking";
const VARIANT: &str = "others_p99";

/// docs/lab.md: 100 reporters.
const OTHERS: Size = Size {
    full: 100,
    quick: 100,
    tiny: 10,
};
/// docs/lab.md: report every 1 ms.
const PERIOD: Duration = Duration::from_millis(1);
/// docs/lab.md: a blocking call of 10 ms ...
const CALL: Duration = Duration::from_millis(10);
/// ... every 50 ms.
const CALL_EVERY: Duration = Duration::from_millis(50);
/// Wall time of the run, in ms: 2 s (quick 0.5 s), so 40 (10) blocking calls.
const RUN_MS: Size = Size {
    full: 2_000,
    quick: 500,
    tiny: 120,
};

/// The workload at `sizing`'s size.
pub fn load(ctx: &Ctx) -> Load {
    Load {
        others: ctx.sizing.pick(OTHERS),
        period: PERIOD,
        call: CALL,
        call_every: CALL_EVERY,
        run_for: Duration::from_millis(ctx.sizing.pick(RUN_MS)),
    }
}

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

impl Experiment for Blocking {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "100 units reporting every 1 ms while one makes a blocking 10 ms call every 50 ms: the others' lateness"
    }

    fn variants(&self) -> &'static str {
        "others_p99 (metric lateness, p50 p90 p99 p999 max_latency)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        1
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let name = model.name();
        let load = load(ctx);
        match model.blocking_lateness(load) {
            Ok(blocked) => {
                let note = format!(
                    "{} units reporting every {} ms on a fixed grid for {} ms, {} blocking calls of {} ms (every {} ms)",
                    load.others,
                    load.period.as_millis(),
                    load.run_for.as_millis(),
                    blocked.calls,
                    load.call.as_millis(),
                    load.call_every.as_millis()
                );
                let note = format!(
                    "{note}; p99 counting only the wake-ups (not the reports missed while held up) {} ns",
                    blocked.slept.value_at_quantile(0.99)
                );
                let note = match &blocked.detail {
                    Some(detail) => format!("{note}; {detail}"),
                    None => note,
                };
                let n = blocked.lateness.len();
                ctx.rows.push(histogram_row(
                    (NAME, name, VARIANT, "lateness"),
                    &blocked.lateness,
                    n,
                    Some(note),
                ));
            }
            Err(skip) => ctx.skip(NAME, name, Some(VARIANT), skip.0),
        }
        ctx.step(name, VARIANT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
