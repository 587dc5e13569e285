//! The experiments of docs/lab.md, one file each, and what they share.
//!
//! An [`Experiment`] runs against one model at a time through a [`Ctx`], which holds the
//! run's options, the sizes (full, `--quick`, or the hidden `--tiny` that tests use), the
//! rows gathered so far and the progress bar. Experiments never time anything themselves
//! beyond a whole batch: the model primitive returns the batch's `Duration`, and
//! [`Ctx::batches`] divides and summarises.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::models::{Model, Outcome};
use crate::progress::Bar;
use crate::results::{Check, Row, Skipped};
use crate::stats;

pub mod blocking;
pub mod echo;
pub mod fairness;
pub mod ipc;
pub mod latency;
pub mod scale;
pub mod sharing;
pub mod spawn;
pub mod speedup;
pub mod switch;

/// An experiment of docs/lab.md. See the [module docs](self).
pub trait Experiment: Sync {
    /// Its name, as `--only` takes it.
    fn name(&self) -> &'static str;
    /// One line: what it measures.
    fn describe(&self) -> &'static str;
    /// Its variants (exact row names; `scale`'s depend on N and are described).
    fn variants(&self) -> &'static str;
    /// Progress steps per model (one per variant measured).
    fn steps(&self, model: &dyn Model, ctx: &Ctx) -> u64;
    /// Measures `model`, adding rows (or skips) to `ctx`.
    fn run(&self, model: &dyn Model, ctx: &mut Ctx);
}

/// Every experiment this build has, in docs/lab.md's order.
pub fn catalogue() -> Vec<&'static dyn Experiment> {
    vec![
        &switch::Switch,
        &spawn::Spawn,
        &scale::Scale,
        &latency::Latency,
        &speedup::Speedup,
        &ipc::Ipc,
        &blocking::Blocking,
        &fairness::Fairness,
        &echo::Echo,
        &sharing::Sharing,
    ]
}

/// Experiments of docs/lab.md that arrive with later parts (named so `--only` can say so).
pub const PLANNED: &[(&str, &str)] = &[];

/// Looks an experiment up by name.
pub fn find(name: &str) -> Option<&'static dyn Experiment> {
    catalogue().into_iter().find(|e| e.name() == name)
}

/// How big the workloads are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizing {
    /// docs/lab.md's default workloads.
    Full,
    /// `--quick`: the whole default set in under 20 s on 2 cores.
    Quick,
    /// Hidden `--tiny`: just enough to exercise every path (tests).
    Tiny,
}

/// A workload count at each sizing.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// docs/lab.md's figure.
    pub full: u64,
    /// With `--quick`.
    pub quick: u64,
    /// With `--tiny`.
    pub tiny: u64,
}

impl Sizing {
    /// The count for this sizing.
    pub fn pick(self, size: Size) -> u64 {
        match self {
            Sizing::Full => size.full,
            Sizing::Quick => size.quick,
            Sizing::Tiny => size.tiny,
        }
    }

    /// Repetitions of each batch.
    pub fn samples(self) -> usize {
        match self {
            Sizing::Full => 5,
            Sizing::Quick => 3,
            Sizing::Tiny => 2,
        }
    }

    /// In words, for the result file's `config.workload`.
    pub fn describe(self) -> &'static str {
        match self {
            Sizing::Full => {
                "docs/lab.md default workloads, 5 samples per batch; scale up to 1,000,000 tasks / 10,000 threads"
            }
            Sizing::Quick => {
                "quick: counts scaled down, mostly by 10 (yield 100,000; pingpong 20,000 tasks, 5,000/1,000 threads and processes; spawn 10,000 tasks, 200 threads, 20 processes; speedup 400 chunks; ipc rounds / 10), 3 samples; scale up to 100,000 tasks / 1,000 threads / 100 processes; latency 200 idle and 100 loaded probes with 1,000 background units; blocking 0.5 s; fairness 0.2 s; echo one rate (10,000/s) for 0.5 s; sharing 50,000 increments (processes 10,000); fairness at most 100 processes"
            }
            Sizing::Tiny => "tiny (test mode): counts scaled down about 1,000 times, 2 samples",
        }
    }
}

/// What an experiment works with: options, sizes, results so far, progress.
pub struct Ctx<'a> {
    /// Workload sizes.
    pub sizing: Sizing,
    /// Pin each measurement to CPU 0 (threads it creates inherit it).
    pub pin: bool,
    /// `--seed`, for workloads with random inputs.
    pub seed: u64,
    /// Rows gathered.
    pub rows: Vec<Row>,
    /// Skips gathered.
    pub skipped: Vec<Skipped>,
    /// Trusted-tool checks gathered.
    pub checks: Vec<Check>,
    /// The current experiment's bar.
    pub bar: &'a Bar,
    /// The hand-offs of the model being measured, per step ([`Ctx::begin_model`]).
    pub hand_offs: HandOffs,
}

/// What [`Ctx`] keeps to give each row of a model with a stall monitor
/// ([`Model::hand_offs`]) the hand-offs its measurement caused: the count read at each
/// [`Ctx::step`], and the rows each step added.
#[derive(Default)]
pub struct HandOffs {
    model: Cell<Option<&'static dyn Model>>,
    /// Hand-offs counted in other processes ([`Ctx::add_hand_offs`]), all together.
    elsewhere: Cell<u64>,
    /// Rows and hand-offs at the last step.
    last: Cell<(usize, u64)>,
    /// (first row, end of rows, hand-offs) of each step.
    spans: RefCell<Vec<(usize, usize, u64)>>,
}

impl HandOffs {
    fn read(&self) -> Option<u64> {
        Some(self.model.get()?.hand_offs()? + self.elsewhere.get())
    }

    /// Closes the span of rows up to `rows` with the hand-offs made since the last one.
    fn close(&self, rows: usize) {
        let Some(now) = self.read() else {
            return;
        };
        let (first, before) = self.last.replace((rows, now));
        if rows > first {
            self.spans
                .borrow_mut()
                .push((first, rows, now.saturating_sub(before)));
        }
    }
}

impl Ctx<'_> {
    /// Notes progress: one step of `experiment` on `model` is done. For a model with a stall
    /// monitor, the rows added since the last step get the hand-offs made since then.
    pub fn step(&self, model: &str, variant: &str) {
        self.hand_offs.close(self.rows.len());
        self.bar.step(&format!("{model} {variant}"));
    }

    /// The run is about to measure `model` (the run calls it, then the experiment, then
    /// [`Ctx::end_model`]).
    pub fn begin_model(&mut self, model: &'static dyn Model) {
        self.hand_offs = HandOffs::default();
        self.hand_offs.model.set(Some(model));
        if let Some(now) = self.hand_offs.read() {
            self.hand_offs.last.set((self.rows.len(), now));
        }
    }

    /// Hand-offs made in another process for this step (a `scale` child), which the model's
    /// own count cannot see.
    pub fn add_hand_offs(&self, n: u64) {
        self.hand_offs
            .elsewhere
            .set(self.hand_offs.elsewhere.get() + n);
    }

    /// `model` is measured: each of its rows gets, in its note, the stall monitor's hand-offs
    /// during the step that made it.
    pub fn end_model(&mut self) {
        self.hand_offs.close(self.rows.len());
        let Some(model) = self.hand_offs.model.take() else {
            return;
        };
        for (first, end, n) in self.hand_offs.spans.take() {
            for row in &mut self.rows[first..end] {
                if row.model != model.name() {
                    continue;
                }
                let count = format!("stall-monitor hand-offs: {n}");
                row.note = Some(match row.note.take() {
                    Some(note) => format!("{note}; {count}"),
                    None => count,
                });
            }
        }
    }

    /// Records a skip.
    pub fn skip(&mut self, experiment: &str, model: &str, variant: Option<&str>, reason: String) {
        self.skipped.push(Skipped {
            experiment: experiment.to_owned(),
            model: model.to_owned(),
            variant: variant.map(str::to_owned),
            reason,
        });
    }

    /// Runs `batch` (which times `n` operations) `samples` times and records the median
    /// ns per operation as one row; a skip on the first sample records the skip instead.
    pub fn batches(
        &mut self,
        key: (&str, &str, &str),
        n: u64,
        note: Option<String>,
        mut batch: impl FnMut() -> Outcome<Duration>,
    ) -> Option<f64> {
        let (experiment, model, variant) = key;
        let mut per_op = Vec::with_capacity(self.sizing.samples());
        for _ in 0..self.sizing.samples() {
            match batch() {
                Ok(elapsed) => per_op.push(elapsed.as_nanos() as f64 / n.max(1) as f64),
                Err(skip) => {
                    self.skip(experiment, model, Some(variant), skip.0);
                    return None;
                }
            }
        }
        let summary = stats::summarize(&per_op)?;
        self.rows.push(Row {
            experiment: experiment.to_owned(),
            model: model.to_owned(),
            variant: variant.to_owned(),
            metric: "ns_per_op".to_owned(),
            value: summary.median,
            unit: "ns".to_owned(),
            n,
            samples: per_op.len() as u64,
            min: summary.min,
            median: summary.median,
            max: summary.max,
            p50: None,
            p90: None,
            p99: None,
            p999: None,
            max_latency: None,
            hdr: None,
            note,
        });
        Some(summary.median)
    }
}

/// A histogram row: `value` is the median, percentiles filled, the histogram embedded.
pub fn histogram_row(
    key: (&str, &str, &str, &str),
    hist: &Histogram<u64>,
    n: u64,
    note: Option<String>,
) -> Row {
    let (experiment, model, variant, metric) = key;
    let q = |q: f64| Some(hist.value_at_quantile(q) as f64);
    let p50 = hist.value_at_quantile(0.5) as f64;
    Row {
        experiment: experiment.to_owned(),
        model: model.to_owned(),
        variant: variant.to_owned(),
        metric: metric.to_owned(),
        value: p50,
        unit: "ns".to_owned(),
        n,
        samples: hist.len(),
        min: hist.min() as f64,
        median: p50,
        max: hist.max() as f64,
        p50: Some(p50),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max_latency: Some(hist.max() as f64),
        hdr: stats::encode_histogram(hist),
        note,
    }
}
