//! `switchyard-lab run`: measure the chosen experiments on the chosen models, show
//! progress, write the result file and the report, print the table.

use std::path::{Path, PathBuf};

use crate::experiments::{Ctx, Experiment, Sizing};
use crate::machine;
use crate::models::Model;
use crate::progress::{Bar, Progress};
use crate::python;
use crate::report;
use crate::results::{Config, ResultFile, SCHEMA, Skipped, now_rfc3339};
use crate::table;

/// What to run.
pub struct Plan {
    /// Experiments, in order.
    pub experiments: Vec<&'static dyn Experiment>,
    /// Models, in order.
    pub models: Vec<&'static dyn Model>,
    /// Workload sizes.
    pub sizing: Sizing,
    /// Pin measurements to CPU 0.
    pub pin: bool,
    /// `--seed`.
    pub seed: u64,
    /// Show progress bars (when stderr is a terminal).
    pub progress: bool,
    /// The interpreter of the Python models (`python::for_run`); `None` when none is measured.
    pub python: Option<python::Located>,
}

/// Runs `plan` and returns the result file.
pub fn measure(plan: &Plan) -> ResultFile {
    let started_at = now_rfc3339();
    let mut machine = machine::describe();
    machine.python = plan
        .python
        .as_ref()
        .and_then(|p| p.as_ref().ok())
        .map(|p| p.interpreter().clone());
    let progress = Progress::new();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut checks = Vec::new();
    for experiment in &plan.experiments {
        let bar = if plan.progress {
            progress.bar(experiment.name(), 0)
        } else {
            Bar::hidden()
        };
        let bar_ref = &bar;
        let mut ctx = Ctx {
            sizing: plan.sizing,
            pin: plan.pin,
            seed: plan.seed,
            rows: std::mem::take(&mut rows),
            skipped: std::mem::take(&mut skipped),
            checks: std::mem::take(&mut checks),
            bar: bar_ref,
            hand_offs: Default::default(),
        };
        let steps: u64 = plan
            .models
            .iter()
            .map(|m| {
                if python::is_model(m.name()) {
                    1
                } else {
                    experiment.steps(*m, &ctx)
                }
            })
            .sum();
        bar_ref.set_length(steps);
        for model in &plan.models {
            if python::is_model(model.name()) {
                // Unpinned: the script pins itself (python.rs, design point 7).
                let python = plan.python.as_ref();
                python::measure_cell(python, experiment.name(), model.name(), &mut ctx);
                continue;
            }
            let pin = plan.pin && !model.multi_threaded();
            if pin {
                machine::pin_current(0);
            }
            ctx.begin_model(*model);
            experiment.run(*model, &mut ctx);
            ctx.end_model();
            if pin {
                machine::unpin_current();
            }
        }
        bar_ref.finish();
        rows = ctx.rows;
        skipped = ctx.skipped;
        checks = ctx.checks;
    }
    ResultFile {
        schema: SCHEMA,
        lab_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        machine,
        config: Config {
            quick: plan.sizing != Sizing::Full,
            seed: plan.seed,
            pin: plan.pin,
            workload: Some(plan.sizing.describe().to_owned()),
            experiments: plan
                .experiments
                .iter()
                .map(|e| e.name().to_owned())
                .collect(),
            models: plan.models.iter().map(|m| m.name().to_owned()).collect(),
        },
        results: rows,
        skipped,
        checks,
    }
}

/// The default output folder: `lab-results/<start time>`.
pub fn default_dir(started_at: &str) -> PathBuf {
    Path::new("lab-results").join(started_at.replace(':', "-"))
}

/// Writes `DIR/results.json`, `DIR/report.html` and, if asked, the extra JSON copy.
pub fn write_outputs(file: &ResultFile, dir: &Path, json: Option<&Path>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = file.to_json();
    std::fs::write(dir.join("results.json"), &text)?;
    std::fs::write(dir.join("report.html"), report::render(file))?;
    if let Some(json) = json {
        if let Some(parent) = json.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(json, &text)?;
    }
    Ok(())
}

/// The summary printed after a run: a table per experiment, what was skipped, the tool
/// checks, then the verdicts and the comparison table; no line over 120 columns.
pub fn summary(file: &ResultFile) -> String {
    let mut out = table::experiment_tables_text(file);
    if !file.skipped.is_empty() {
        out.push_str("\nnot measured:\n");
        // Primitives a model does not implement yet: one line per experiment.
        let mut missing: Vec<(&str, Vec<&str>)> = Vec::new();
        for s in file.skipped.iter().filter(|s| is_unimplemented(&s.reason)) {
            match missing.iter_mut().find(|(e, _)| *e == s.experiment) {
                Some((_, models)) if models.contains(&s.model.as_str()) => {}
                Some((_, models)) => models.push(&s.model),
                None => missing.push((&s.experiment, vec![&s.model])),
            }
        }
        for (experiment, models) in missing {
            out.push_str(&format!(
                "  {experiment}: not implemented yet for {}\n",
                models.join(", ")
            ));
        }
        let others: Vec<Skipped> = file
            .skipped
            .iter()
            .filter(|s| !is_unimplemented(&s.reason))
            .cloned()
            .collect();
        for (s, count) in group_skips(&others) {
            let variant = match (&s.variant, count) {
                (Some(v), 1) => v.clone(),
                (_, 1) => "*".to_owned(),
                (_, n) => format!("{n} variants"),
            };
            out.push_str(&format!(
                "  {} / {} / {variant}: {}\n",
                s.experiment, s.model, s.reason
            ));
        }
    }
    if !file.checks.is_empty() {
        out.push_str("\nchecks against trusted tools (agree: within ±15%):\n");
        for c in &file.checks {
            out.push_str(&check_line(c));
        }
    }
    out.push_str(&table::verdict_text(file));
    table::fit_lines(&out, table::TERMINAL_WIDTH)
}

/// One check as the summary prints it: the verdict first, then both figures and the tool.
pub fn check_line(c: &crate::results::Check) -> String {
    let figure = |v: Option<f64>| v.map_or("-".to_owned(), |v| table::human(v, &c.unit));
    format!(
        "  {:<8} {}: lab {} | tool {} | {}{}\n",
        c.verdict(),
        c.row,
        figure(c.lab),
        figure(c.tool_value),
        c.tool,
        c.note.as_ref().map_or(String::new(), |n| format!(" ({n})"))
    )
}

/// Whether a skip only says the model lacks the primitive (see `models::Skip`).
fn is_unimplemented(reason: &str) -> bool {
    reason.starts_with("not implemented for model")
}

/// Consecutive skips of one experiment and model for one reason, as (first, count): an
/// experiment that does not apply to a model is one line, not one per variant.
pub fn group_skips(skipped: &[Skipped]) -> Vec<(&Skipped, usize)> {
    let mut groups: Vec<(&Skipped, usize)> = Vec::new();
    for s in skipped {
        match groups.last_mut() {
            Some((first, count))
                if first.experiment == s.experiment
                    && first.model == s.model
                    && first.reason == s.reason =>
            {
                *count += 1;
            }
            _ => groups.push((s, 1)),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(experiment: &str, model: &str, variant: &str, reason: &str) -> Skipped {
        Skipped {
            experiment: experiment.into(),
            model: model.into(),
            variant: Some(variant.into()),
            reason: reason.into(),
        }
    }

    #[test]
    fn unimplemented_primitives_collapse_into_one_line_per_experiment() {
        let mut file = crate::results::ResultFile::parse(
            r#"{"schema": 1, "lab_version": "0", "started_at": "t",
                "machine": {"cpu_model": "", "cores": 2, "kernel": "", "os": "", "rustc": "", "hostname": ""},
                "config": {"quick": true, "seed": 1, "pin": true}, "results": []}"#,
        )
        .unwrap();
        file.skipped = vec![
            skip(
                "ipc",
                "loop",
                "pipe_8B",
                "not implemented for model `loop` yet",
            ),
            skip(
                "ipc",
                "loop",
                "pipe_1MiB",
                "not implemented for model `loop` yet",
            ),
            skip(
                "ipc",
                "naive",
                "pipe_8B",
                "not implemented for model `naive` yet",
            ),
        ];
        let text = summary(&file);
        assert!(
            text.contains("  ipc: not implemented yet for loop, naive\n"),
            "{text}"
        );
        assert_eq!(text.matches("ipc").count(), 1, "{text}");
    }

    #[test]
    fn skips_of_one_experiment_model_and_reason_group_into_one_line() {
        let skipped = [
            skip("ipc", "loop", "pipe_8B", "n/a"),
            skip("ipc", "loop", "pipe_1MiB", "n/a"),
            skip("ipc", "naive", "pipe_8B", "n/a"),
            skip("switch", "naive", "pingpong_cross_core", "one core"),
        ];
        let groups: Vec<usize> = group_skips(&skipped).iter().map(|g| g.1).collect();
        assert_eq!(groups, [2, 1, 1]);
    }
}
