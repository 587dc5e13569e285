//! Experiment `blocking`: what one blocking call does to everyone else.
//!
//! `others_p99`: 100 units each sleep 1 ms and report how late they woke, over and over, while
//! one more unit makes a blocking 10 ms call (`std::thread::sleep`, standing in for a
//! blocking syscall or a long computation) every 50 ms. The row is the others' lateness
//! (HdrHistogram, ns). A cooperative loop stalls every unit for the whole call; the pool hands
//! the blocked worker's queues to a spare thread after one time slice; threads are isolated.
//! Quick: 0.25 s of measurement; full: 1 s; tiny: 0.1 s.

use std::time::Duration;

use super::{Ctx, Experiment, Size, histogram_row};
use crate::models::{Blocking, Model};

/// See the [module docs](self).
pub struct BlockingExperiment;

const NAME: &str = "blocking";

/// LAB.md's workload.
const UNITS: u64 = 100;
const PERIOD: Duration = Duration::from_millis(1);
const BLOCK: Duration = Duration::from_millis(10);
const EVERY: Duration = Duration::from_millis(50);
/// How long the measurement runs, in ms.
const RUN_MS: Size = Size {
    full: 1_000,
    quick: 250,
    tiny: 100,
};

impl Experiment for BlockingExperiment {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "others' 1 ms sleep lateness while one unit blocks 10 ms every 50 ms (HdrHistogram)"
    }

    fn variants(&self) -> &'static str {
        "others_p99 (metric lateness, p50 p90 p99 p999 max_latency)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        1
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let setup = Blocking {
            units: UNITS,
            period: PERIOD,
            block: BLOCK,
            every: EVERY,
            run_for: Duration::from_millis(ctx.sizing.pick(RUN_MS)),
        };
        match model.blocking_lateness(setup) {
            Ok(hist) => {
                let note = Some(format!(
                    "{UNITS} units sleeping 1 ms; one unit blocks 10 ms every 50 ms for {} ms",
                    setup.run_for.as_millis()
                ));
                let n = hist.len();
                ctx.rows.push(histogram_row(
                    (NAME, model.name(), "others_p99", "lateness"),
                    &hist,
                    n,
                    note,
                ));
            }
            Err(skip) => ctx.skip(NAME, model.name(), Some("others_p99"), skip.0),
        }
        ctx.step(model.name(), "others_p99");
    }
}
