//! # switchyard-lab: the Switchyard lab
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
//! | [`workloads`] | each task workload written once, generic over `Runtime` |
//! | [`results`] | the result file's schema |
//! | [`stats`] | medians, histograms, Amdahl's fit |
//! | [`machine`] | machine identity, resident memory, limits, the CPUs at start, pinning |
//! | [`vary`] | `run --vary`: the pool's and the loop's knobs as extra columns |
//! | [`checks`] | `perf bench sched pipe` and `cyclictest` beside the lab's figures |
//! | [`table`], [`comparison`], [`compare`], [`report`] | the ways results are shown |
//!
#![doc = include_str!("../README.md")]

pub mod adapter;
pub mod checks;
pub mod cli;
pub mod compare;
pub mod comparison;
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

fn main() -> std::process::ExitCode {
    // First: a child of the process model runs its entry point here and exits; the lab
    // itself registers them (and starts the fork server while it has one thread).
    if let Err(e) = switchyard_runtime::process::Init::new()
        .entries(models::process::entries())
        .fork_server(true)
        .run()
    {
        eprintln!("switchyard-lab: {e}");
        return std::process::ExitCode::from(2);
    }
    // Before anything pins a thread: the CPUs this process may use (docs/lab.md, "Placement").
    machine::start_cpus();
    cli::main()
}
