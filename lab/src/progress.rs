//! Progress while the lab works: one indicatif bar per experiment, on stderr, shown only
//! when stderr is a terminal (a piped or captured run stays quiet).

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// All the bars of one run.
pub struct Progress {
    multi: MultiProgress,
}

/// One experiment's bar.
pub struct Bar(ProgressBar);

impl Progress {
    /// Bars drawn on stderr when it is a terminal, hidden otherwise.
    pub fn new() -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
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
        Bar(bar)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Bar {
    /// A bar that draws nothing.
    pub fn hidden() -> Bar {
        Bar(ProgressBar::hidden())
    }

    /// One step done; `what` names it.
    pub fn step(&self, what: &str) {
        self.0.set_message(what.to_owned());
        self.0.inc(1);
    }

    /// Sets the number of steps.
    pub fn set_length(&self, steps: u64) {
        self.0.set_length(steps);
    }

    /// The experiment is done.
    pub fn finish(&self) {
        self.0.finish_with_message("done");
    }
}
