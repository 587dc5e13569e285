//! Experiment `latency`: how late a unit wakes from a 1 ms sleep on the model's own timer.
//!
//! * `idle`: 1,000 sequential 1 ms sleeps; lateness = wake time - deadline.
//! * `loaded`: the same probe, 500 samples, while 10,000 other units each loop on yield.
//!
//! Lateness goes into an HdrHistogram (ns); the row's value is the median and
//! p50/p90/p99/p999/max are filled. The timer is checked against `cyclictest` when it is
//! installed.

use std::time::Duration;

use super::{Ctx, Experiment, Size, histogram_row};
use crate::checks;
use crate::machine;
use crate::models::{Kind, Model, Probe, process};
use crate::results::Check;

/// See the [module docs](self).
pub struct Latency;

const NAME: &str = "latency";
/// docs/lab.md: 1 ms sleeps.
const PERIOD: Duration = Duration::from_millis(1);

const IDLE_PROBES: Size = Size {
    full: 1_000,
    quick: 200,
    tiny: 10,
};
const LOADED_PROBES: Size = Size {
    full: 500,
    quick: 100,
    tiny: 5,
};
const BACKGROUND: Size = Size {
    full: 10_000,
    quick: 1_000,
    tiny: 50,
};

impl Experiment for Latency {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "timer lateness of a 1 ms sleep, idle and with 10,000 units looping on yield (HdrHistogram)"
    }

    fn variants(&self) -> &'static str {
        "idle, loaded (metric lateness, p50 p90 p99 p999 max_latency)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        2
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let name = model.name();
        let mut background = ctx.sizing.pick(BACKGROUND);
        let mut cap_note = None;
        if model.kind() != Kind::Task {
            let (limit, why) = machine::thread_limit();
            if background > limit {
                background = limit;
                cap_note = Some(format!("background capped at {limit} units: {why}"));
            }
        }
        if model.kind() == Kind::Process && background > process::BACKGROUND_PROCESSES {
            background = process::BACKGROUND_PROCESSES;
            cap_note = Some(format!(
                "background capped at {background} processes (each a process start)"
            ));
        }
        let variants = [
            ("idle", ctx.sizing.pick(IDLE_PROBES), 0),
            ("loaded", ctx.sizing.pick(LOADED_PROBES), background),
        ];
        for (variant, probes, background) in variants {
            let probe = Probe {
                probes,
                period: PERIOD,
                background,
            };
            match model.sleep_lateness(probe) {
                Ok(hist) => {
                    let note = if background > 0 {
                        Some(match &cap_note {
                            Some(cap) => format!("{background} units looping on yield; {cap}"),
                            None => format!("{background} units looping on yield"),
                        })
                    } else {
                        None
                    };
                    let row = histogram_row((NAME, name, variant, "lateness"), &hist, probes, note);
                    if model.kind() == Kind::Thread && variant == "idle" {
                        let id = Check::row_id(NAME, name, variant, "lateness");
                        ctx.checks
                            .push(checks::cyclictest(id, row.p50, probes, PERIOD));
                    }
                    ctx.rows.push(row);
                }
                Err(skip) => ctx.skip(NAME, name, Some(variant), skip.0),
            }
            ctx.step(name, variant);
        }
    }
}
