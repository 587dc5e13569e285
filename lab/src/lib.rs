//! # switchyard-lab: the Switchyard lab
//!
//! A library and a binary: the binary is [`main`]; a user's crate brings its own runtime
//! with [`Lab`] (docs/lab.md, "Bring your own runtime").
//!
//! The project's main program. It measures, for each concurrency model (the loop, the
//! pool, threads, processes, the naive baseline, and with `--peers` tokio, async-executor
//! and rayon), the experiments of docs/lab.md (`switch`, `spawn`, `scale`, `latency`,
//! `speedup`, `ipc`, `blocking`, `fairness`, `echo`, `sharing`), checks itself against `perf` and
//! `cyclictest`, and writes a result file (`results.json`, schema 1) and a self-contained
//! HTML report. docs/lab.md is the contract (command line, experiments, result file).
//!
//! | module | what it is |
//! |---|---|
//! | [`cli`] | the command line and its error rule (one line, exit 2) |
//! | [`run`] | running a plan: progress, outputs, the summary |
//! | [`experiments`] | one file per experiment, turning model primitives into rows |
//! | [`models`] | one file per model, behind the [`models::Model`] trait |
//! | [`adapter`] | the `Runtime` trait the task models implement |
//! | [`custom`] | [`Lab`]: the lab as a library, with a user's runtime as a column |
//! | [`workloads`] | each task workload written once, generic over `Runtime` |
//! | [`results`] | the result file's schema |
//! | [`stats`] | medians, histograms, Amdahl's fit |
//! | [`machine`] | machine identity, resident memory, limits, the CPUs at start, pinning |
//! | [`vary`] | `run --vary`: the pool's and the loop's knobs as extra columns |
//! | [`checks`] | `perf bench sched pipe` and `cyclictest` beside the lab's figures |
//! | [`python`] | Python's three models, one script per experiment (docs/lab.md, "Coming from Python") |
//! | [`table`], [`comparison`], [`compare`], [`report`] | the ways results are shown |
//!
#![doc = include_str!("../README.md")]

pub mod adapter;
pub mod checks;
pub mod cli;
pub mod compare;
pub mod comparison;
pub mod custom;
pub mod experiments;
pub mod machine;
pub mod models;
pub mod progress;
pub mod python;
pub mod report;
pub mod results;
pub mod run;
pub mod stats;
pub mod table;
pub mod vary;
pub mod workloads;

pub use adapter::Runtime;
pub use custom::Lab;
pub use models::{Outcome, Skip};

/// The lab's command line with the built-in models only: what the `switchyard-lab` binary
/// runs ([`Lab::main`] adds a user's runtimes).
pub fn main() -> std::process::ExitCode {
    Lab::new().main()
}
