//! Experiment `blocking`: what one unit's blocking call does to everybody else.
//!
//! The workload (the grid, the reporters, the blocker) is [`crate::workloads::blocking`];
//! this file sizes it and turns its answer into the row.
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

use std::time::Duration;

use super::{Ctx, Experiment, Size, histogram_row};
use crate::models::{Blocking as Load, Model};

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
