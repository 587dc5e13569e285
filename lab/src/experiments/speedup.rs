//! Experiment `speedup`: how the time of a fixed CPU-bound job falls as workers are added.
//!
//! The job is 2,000 chunks of integer hashing ([`chunk`], about 50 µs each on a 3 GHz core;
//! quick: 400, tiny: 20), run by each model on n = 1 ..= nproc workers, worker i placed on
//! CPU i ([`place_worker`]; the lab pins measurements to CPU 0 and threads inherit that, which
//! would otherwise stack every worker on one CPU). Rows:
//!
//! * `n=<k>`: metric `speedup`, T(1) / T(k), medians over the samples (min and max from the
//!   slowest and fastest T(k));
//! * `amdahl`: metric `parallel_fraction`, the `p` of Amdahl's law `S(n) = 1 / ((1 - p) + p/n)`
//!   fitted by least squares on `1/S(n) - 1 = p (1/n - 1)` (linear in `p`).

use std::time::Duration;

use super::{Ctx, Experiment, Size};
use crate::machine;
use crate::models::{Model, Outcome};
use crate::results::Row;
use crate::stats;

/// See the [module docs](self).
pub struct Speedup;

const NAME: &str = "speedup";

/// Chunks per job.
const CHUNKS: Size = Size {
    full: 2_000,
    quick: 400,
    tiny: 20,
};

pub use crate::workloads::cpu::{CHUNK_ROUNDS, chunk, place_worker};

/// Amdahl's `p` from `(n, S(n))` pairs (least squares; `None` without an `n > 1`).
pub fn amdahl_fraction(points: &[(usize, f64)]) -> Option<f64> {
    let (mut xy, mut xx) = (0.0, 0.0);
    for &(n, s) in points {
        let x = 1.0 / n as f64 - 1.0;
        let y = 1.0 / s - 1.0;
        xy += x * y;
        xx += x * x;
    }
    (xx > 0.0).then(|| xy / xx)
}

fn row(model: &str, variant: String, metric: &str, unit: &str, n: u64, v: (f64, f64, f64)) -> Row {
    let (value, min, max) = v;
    Row {
        experiment: NAME.to_owned(),
        model: model.to_owned(),
        variant,
        metric: metric.to_owned(),
        value,
        unit: unit.to_owned(),
        n,
        samples: 1,
        min,
        median: value,
        max,
        p50: None,
        p90: None,
        p99: None,
        p999: None,
        max_latency: None,
        hdr: None,
        note: None,
    }
}

impl Experiment for Speedup {
    fn name(&self) -> &'static str {
        NAME
    }

    fn describe(&self) -> &'static str {
        "speed-up of 2,000 ~50 µs hashing chunks on n = 1..=nproc workers, with Amdahl's fit"
    }

    fn variants(&self) -> &'static str {
        "n=<k> (metric speedup), amdahl (metric parallel_fraction)"
    }

    fn steps(&self, _model: &dyn Model, _ctx: &Ctx) -> u64 {
        machine::cores() as u64
    }

    fn run(&self, model: &dyn Model, ctx: &mut Ctx) {
        let chunks = ctx.sizing.pick(CHUNKS);
        let mut times: Vec<(usize, stats::Summary)> = Vec::new();
        for workers in 1..=machine::cores() {
            let variant = format!("n={workers}");
            let mut samples = Vec::with_capacity(ctx.sizing.samples());
            for _ in 0..ctx.sizing.samples() {
                let outcome: Outcome<Duration> = model.speedup_run(chunks, workers);
                match outcome {
                    Ok(elapsed) => samples.push(elapsed.as_nanos() as f64),
                    Err(skip) => {
                        ctx.skip(NAME, model.name(), Some(&variant), skip.0);
                        ctx.step(model.name(), &variant);
                        return;
                    }
                }
            }
            if let Some(summary) = stats::summarize(&samples) {
                times.push((workers, summary));
            }
            ctx.step(model.name(), &variant);
        }
        let Some(t1) = times.first().map(|(_, t)| t.median) else {
            return;
        };
        let mut points = Vec::new();
        for (workers, t) in &times {
            let speedup = t1 / t.median;
            points.push((*workers, speedup));
            ctx.rows.push(row(
                model.name(),
                format!("n={workers}"),
                "speedup",
                "x",
                chunks,
                (speedup, t1 / t.max, t1 / t.min),
            ));
        }
        if let Some(p) = amdahl_fraction(&points) {
            ctx.rows.push(row(
                model.name(),
                "amdahl".to_owned(),
                "parallel_fraction",
                "fraction",
                chunks,
                (p, p, p),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amdahl_fit_recovers_the_fraction_of_a_perfect_curve() {
        let p = 0.9;
        let points: Vec<_> = (1..=8)
            .map(|n| (n, 1.0 / ((1.0 - p) + p / n as f64)))
            .collect();
        let fitted = amdahl_fraction(&points).unwrap();
        assert!((fitted - p).abs() < 1e-9, "{fitted}");
        assert_eq!(amdahl_fraction(&[(1, 1.0)]), None);
    }

    #[test]
    fn a_chunk_is_deterministic() {
        assert_eq!(chunk(7), chunk(7));
        assert_ne!(chunk(7), chunk(8));
    }
}
