//! Progress while the lab works. On a terminal: one indicatif bar per experiment, on
//! stderr. Without one (a pipe, a file, a CI log): one plain line per finished experiment,
//! on stdout, saying what ran and how long it took, so logs show progress as it happens.
//! When only stdout is redirected (`run | tee log`), the bars stay on the terminal and the
//! plain lines go to the log.

use std::io::{IsTerminal, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// All the bars of one run.
pub struct Progress {
    multi: MultiProgress,
    plain: bool,
}

/// One experiment's bar.
pub struct Bar {
    bar: ProgressBar,
    /// Print a plain line when finished.
    plain: bool,
    name: String,
    started: Instant,
    steps: AtomicU64,
    /// The models seen in the steps' names (`"{model} {variant}"`), in order.
    models: Mutex<Vec<String>>,
}

impl Progress {
    /// Bars drawn on stderr when it is a terminal; plain lines on stdout when either
    /// stream is not one.
    pub fn new() -> Progress {
        let bars = std::io::stderr().is_terminal();
        let target = if bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
            plain: !bars || !std::io::stdout().is_terminal(),
        }
    }

    /// A bar for `experiment` with `steps` steps.
    pub fn bar(&self, experiment: &str, steps: u64) -> Bar {
        let bar = self.multi.add(ProgressBar::new(steps));
        // The template is a constant that indicatif accepts.
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid progress template")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(experiment.to_owned());
        Bar::new(bar, self.plain, experiment)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Bar {
    fn new(bar: ProgressBar, plain: bool, name: &str) -> Bar {
        Bar {
            bar,
            plain,
            name: name.to_owned(),
            started: Instant::now(),
            steps: AtomicU64::new(0),
            models: Mutex::new(Vec::new()),
        }
    }

    /// A bar that draws nothing and prints nothing.
    pub fn hidden() -> Bar {
        Bar::new(ProgressBar::hidden(), false, "")
    }

    /// One step done; `what` names it (`"{model} {variant}"`).
    pub fn step(&self, what: &str) {
        self.bar.set_message(what.to_owned());
        self.bar.inc(1);
        self.steps.fetch_add(1, Ordering::Relaxed);
        if let Some(model) = what.split(' ').next().filter(|m| !m.is_empty())
            && let Ok(mut models) = self.models.lock()
            && !models.iter().any(|m| m == model)
        {
            models.push(model.to_owned());
        }
    }

    /// Sets the number of steps.
    pub fn set_length(&self, steps: u64) {
        self.bar.set_length(steps);
    }

    /// The experiment is done: the bar says so, or the plain line is printed.
    pub fn finish(&self) {
        self.bar.finish_with_message("done");
        if self.plain {
            let line = self.line();
            let mut out = std::io::stdout().lock();
            // Progress is best-effort: a closed stdout must not stop the measurements.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }

    /// The plain line: `switch: 12 measurements of loop, pool, thread in 3.2 s`.
    fn line(&self) -> String {
        let models = self.models.lock().map(|m| m.join(", ")).unwrap_or_default();
        let line = format!(
            "{}: {} measurements{} in {:.1} s",
            self.name,
            self.steps.load(Ordering::Relaxed),
            if models.is_empty() {
                String::new()
            } else {
                format!(" of {models}")
            },
            self.started.elapsed().as_secs_f64()
        );
        crate::table::fit_lines(&line, crate::table::TERMINAL_WIDTH)
            .trim_end()
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_names_the_experiment_its_models_and_steps() {
        let bar = Bar::new(ProgressBar::hidden(), false, "switch");
        bar.step("loop yield");
        bar.step("loop pingpong_same_core");
        bar.step("pool yield");
        let line = bar.line();
        assert!(
            line.starts_with("switch: 3 measurements of loop, pool in "),
            "{line}"
        );
        assert!(line.ends_with(" s"), "{line}");
    }
}
