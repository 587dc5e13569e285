//! Python's own three models as lab peers: `py-asyncio`, `py-threading`,
//! `py-multiprocessing` (docs/lab.md, "Coming from Python"; workloads and names as
//! docs/lab.md gives them).
//!
//! # Design
//!
//! People arrive at Switchyard with Python's table in their heads (threads scale to hundreds,
//! processes to tens, asyncio to thousands; only processes use many CPUs). The lab measures
//! that table on the user's machine by running Python's models on the lab's own experiments,
//! in the same run, as columns beside the Rust models. Python cannot be linked in, so each
//! experiment's workload is a small stdlib-only script (`lab/python/<experiment>.py`, shared
//! helpers in `labcommon.py`) that this module runs as a child process:
//!
//! ```text
//! python3 -E -s -B <dir>/<experiment>.py --model <model> --size full|quick|tiny \
//!         --cpus <list> [--pin <cpu>]
//! ```
//!
//! 1. **The scripts travel inside the binary.** They are `include_str!`-ed here and written to
//!    a private temporary directory (mode 0700) when an interpreter is located
//!    ([`Python::locate`]), removed when the [`Python`] is dropped; so the lab works from any
//!    directory, and an installed binary needs no source tree.
//! 2. **Which interpreter.** `--python PATH` names one; otherwise the first `python3` on
//!    `PATH`. Either is probed by running `interpreter.py` with `-c` under a time limit: a
//!    path that cannot be run, that does not answer within the limit, that prints anything
//!    else, or that is not Python 3 is a typed [`PythonError`] naming the path and what was
//!    expected (the command line turns it into exit status 2). The probe's answer
//!    ([`Interpreter`]: version, implementation, whether the GIL is enabled, the
//!    multiprocessing start method) is what the lab records in the result file's machine
//!    record.
//! 3. **What a script prints.** One JSON object per line: a row with exactly the result
//!    file's own row type ([`PyRow`] wraps a [`Row`]; histogram rows add `raw`, the recorded values), or
//!    `{"skip": {..}}` for a variant that has no counterpart, with the reason ([`PySkip`]).
//!    Anything else is a [`ScriptError::Malformed`] naming the line. Rows must be of the
//!    experiment and model asked for.
//! 4. **Histograms.** When a row carries `raw`, the lab records the values into its own
//!    HdrHistogram (`stats::new_histogram`) and takes `value`, `min`, `median`, `max`, the
//!    percentiles and `hdr` from it exactly as the Rust models' histogram rows do, so the
//!    columns are read the same way and reports can redraw them; the script's own
//!    percentiles are used only when `raw` is absent.
//! 5. **Never a hang, never lost work.** Each script runs in a process group of its own, under
//!    a time limit ([`cell_limit`]). A waiter thread waits for the script's exit *without
//!    reaping it* (`waitid(WNOWAIT)`), so its pid, which is also the group's id, cannot be
//!    reused while the lab signals the group: on the limit (or on more output than
//!    [`STDOUT_CAP`]) the whole group is killed, and after every exit the group is killed too,
//!    so no worker process a script leaked outlives it. Then the script is reaped. A process
//!    that left the group (`setsid`) and holds the output open gets 5 s, then the script is
//!    reported as stopped rather than read as having printed nothing.
//! 6. **A failing script is a note, not a failed run.** A crash (non-zero exit), a timeout or
//!    malformed output becomes a [`ScriptError`] whose text carries the last line of the
//!    script's stderr (Python's exception line); [`CellOutput::into_results`] turns it into a
//!    `skipped` entry of that (experiment, model) cell, keeping the rows printed before a
//!    crash, and the run goes on.
//! 7. **Where the scripts run.** A child inherits the affinity mask of the thread that starts
//!    it, and the lab pins its measuring thread; so each script is told the CPUs to use
//!    (`--cpus`, the mask the lab had when it located the interpreter, see
//!    [`Python::with_cpus`]) and sets its own mask from it before measuring. Where the lab pins
//!    a Rust model's measurement to one CPU, it pins the Python counterpart the same way
//!    ([`Python::with_pin`], `--pin`): the script and what it starts stay on that CPU except
//!    the units an experiment places itself, and each row's note says so.
//!
//! Python runs these workloads hundreds of times slower than Rust, so the scripts scale the
//! lab's counts down; each row's `n` is the count used and its note says what the lab's is.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::experiments::{Ctx, Sizing};
use crate::machine;
use crate::models::{Kind, Model};
use crate::results::{Row, Skipped};
use crate::stats;

/// The three Python models, as the lab names them.
pub const MODELS: [&str; 3] = ["py-asyncio", "py-threading", "py-multiprocessing"];

/// The experiments a script exists for, in docs/lab.md's order.
pub const EXPERIMENTS: [&str; 10] = [
    "switch", "spawn", "scale", "latency", "speedup", "ipc", "blocking", "fairness", "echo",
    "sharing",
];

/// One of the Python models, as the lab lists, orders and resolves it (`--models`,
/// `--peers`). It answers no primitive itself: the run hands each of its cells to
/// [`measure_cell`], which runs the experiment's script.
#[derive(Debug)]
pub struct PyModel {
    name: &'static str,
    describe: &'static str,
    kind: Kind,
}

impl Model for PyModel {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> &'static str {
        self.describe
    }
    fn kind(&self) -> Kind {
        self.kind
    }
}

/// `py-asyncio`: one event loop (asyncio), tasks as its units.
pub static ASYNCIO: PyModel = PyModel {
    name: MODELS[0],
    describe: "Python's asyncio: coroutines on one event loop (needs a python3)",
    kind: Kind::Task,
};

/// `py-threading`: OS threads under the interpreter's lock where it has one.
pub static THREADING: PyModel = PyModel {
    name: MODELS[1],
    describe: "Python's threading: OS threads under the GIL (needs a python3)",
    kind: Kind::Thread,
};

/// `py-multiprocessing`: OS processes, one interpreter each.
pub static MULTIPROCESSING: PyModel = PyModel {
    name: MODELS[2],
    describe: "Python's multiprocessing: a process per unit (needs a python3)",
    kind: Kind::Process,
};

/// Whether `model` names one of the Python models.
pub fn is_model(model: &str) -> bool {
    MODELS.contains(&model)
}

/// The interpreter a run's Python cells use, or why there is none (each cell then is a skip
/// note saying so, as with `perf`).
pub type Located = Result<Python, String>;

/// What the command line hands the run: with `--python PATH` (`explicit`), that interpreter
/// or the error (which the command line turns into exit status 2), whether or not a Python
/// model is measured; otherwise, when a Python model is measured (`wanted`), the first
/// `python3` on `PATH` or why there is none; otherwise nothing. The scripts run on the CPUs
/// the lab had at start ([`machine::start_cpus`]) and, with `pin`, each is pinned to the first
/// of them as the lab pins the Rust thread and process models (design point 7).
pub fn for_run(
    explicit: Option<&Path>,
    wanted: bool,
    pin: bool,
) -> Result<Option<Located>, PythonError> {
    let located = match explicit {
        Some(path) => Python::locate(Some(path))?,
        None if wanted => match Python::locate(None) {
            Ok(python) => python,
            Err(e) => return Ok(Some(Err(e.to_string()))),
        },
        None => return Ok(None),
    };
    let cpus = machine::start_cpus();
    Ok(Some(Ok(located
        .with_cpus(cpus.to_vec())
        .with_pin(pin.then(|| cpus[0])))))
}

impl From<Sizing> for PySize {
    fn from(sizing: Sizing) -> PySize {
        match sizing {
            Sizing::Full => PySize::Full,
            Sizing::Quick => PySize::Quick,
            Sizing::Tiny => PySize::Tiny,
        }
    }
}

/// Measures one (experiment, Python model) cell into `ctx`: the script's rows and skips, or
/// one skip note for the whole cell (no interpreter, no script for the experiment, or the
/// script failed: design point 6); one progress step.
pub fn measure_cell(python: Option<&Located>, experiment: &str, model: &str, ctx: &mut Ctx) {
    let not_run = |why: String| Skipped {
        experiment: experiment.to_owned(),
        model: model.to_owned(),
        variant: None,
        reason: why,
    };
    if !EXPERIMENTS.contains(&experiment) {
        ctx.skipped.push(not_run(format!(
            "no Python script for this experiment (scripts: {})",
            EXPERIMENTS.join(", ")
        )));
    } else {
        match python {
            None => ctx.skipped.push(not_run(
                "no Python interpreter was located for this run".to_owned(),
            )),
            Some(Err(why)) => ctx.skipped.push(not_run(why.clone())),
            Some(Ok(python)) => {
                let size = PySize::from(ctx.sizing);
                let cell = python.run_cell(experiment, model, size, cell_limit(size));
                let (rows, skipped) = cell.into_results();
                ctx.rows.extend(rows);
                ctx.skipped.extend(skipped);
            }
        }
    }
    ctx.step(model, "script");
}

/// The scripts, by file name (`<experiment>.py`, and the helpers they import).
const SCRIPTS: [(&str, &str); 11] = [
    ("labcommon.py", include_str!("../python/labcommon.py")),
    ("switch.py", include_str!("../python/switch.py")),
    ("spawn.py", include_str!("../python/spawn.py")),
    ("scale.py", include_str!("../python/scale.py")),
    ("latency.py", include_str!("../python/latency.py")),
    ("speedup.py", include_str!("../python/speedup.py")),
    ("ipc.py", include_str!("../python/ipc.py")),
    ("blocking.py", include_str!("../python/blocking.py")),
    ("fairness.py", include_str!("../python/fairness.py")),
    ("echo.py", include_str!("../python/echo.py")),
    ("sharing.py", include_str!("../python/sharing.py")),
];

/// The interpreter probe, run with `-c` (design point 2).
const PROBE: &str = include_str!("../python/interpreter.py");

/// The interpreter's flags: ignore `PYTHON*` variables (`-E`) and the user's site-packages
/// (`-s`), so a user's environment cannot change the workload; write no bytecode (`-B`).
const FLAGS: [&str; 3] = ["-E", "-s", "-B"];

/// How long the probe may take.
pub const PROBE_LIMIT: Duration = Duration::from_secs(20);

/// The most stdout a script may print (a full run prints well under 2 MiB); more is killed.
pub const STDOUT_CAP: usize = 64 << 20;

/// How much of a script's stderr is kept (its end: the exception is last).
const STDERR_TAIL: usize = 64 << 10;

/// How long the lab waits for a script's output pipes to close once it has exited.
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// How big the scripts' workloads are (the lab's full, `--quick` and hidden `--tiny` sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PySize {
    /// The default run.
    Full,
    /// `--quick`.
    Quick,
    /// The tests' size: just enough to exercise every path.
    Tiny,
}

impl PySize {
    /// The `--size` argument.
    pub fn as_arg(self) -> &'static str {
        match self {
            PySize::Full => "full",
            PySize::Quick => "quick",
            PySize::Tiny => "tiny",
        }
    }
}

/// The time one (experiment, model) script may take before it is killed. A full run of every
/// script takes a few seconds each on 2 cores; the limit only stops a hang.
pub fn cell_limit(size: PySize) -> Duration {
    match size {
        PySize::Full => Duration::from_secs(120),
        PySize::Quick | PySize::Tiny => Duration::from_secs(60),
    }
}

/// What the probe says about an interpreter (recorded in the result file's machine record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interpreter {
    /// `platform.python_version()`, e.g. `3.11.7`.
    pub version: String,
    /// `sys.version_info[0]`.
    pub major: u32,
    /// `platform.python_implementation()`, e.g. `CPython`.
    pub implementation: String,
    /// `sys.executable`.
    pub executable: String,
    /// `sys._is_gil_enabled()` where it exists (3.13+), else `true`.
    pub gil_enabled: bool,
    /// How `gil_enabled` was found out, in words.
    pub gil_check: String,
    /// `multiprocessing.get_start_method()` (`fork`, `forkserver`, `spawn`).
    pub start_method: Option<String>,
    /// CPUs in the interpreter's affinity mask.
    pub cpus: Option<u32>,
}

/// An interpreter that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    /// No `python3` on `PATH`.
    #[error(
        "no python3 found on PATH (searched: {searched}); install Python 3 or pass --python PATH"
    )]
    NotFound {
        /// The directories searched.
        searched: String,
    },
    /// The path cannot be run.
    #[error("--python {}: cannot run it: {source} (expected a Python 3 interpreter, e.g. /usr/bin/python3)", path.display())]
    NotRunnable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The path ran but is not a Python 3.
    #[error("--python {}: not a Python 3 interpreter: {detail} (expected a Python 3, e.g. /usr/bin/python3)", path.display())]
    NotPython3 {
        /// The path.
        path: PathBuf,
        /// What it did instead.
        detail: String,
    },
    /// The scripts cannot be written to a temporary directory.
    #[error("cannot write the Python scripts to {}: {source}", dir.display())]
    Scripts {
        /// Where.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Why a script gave no (or not all of its) rows.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// No such experiment or model.
    #[error("no Python script for {experiment} / {model} (scripts: {}; models: {})", EXPERIMENTS.join(", "), MODELS.join(", "))]
    Unknown {
        /// The experiment asked for.
        experiment: String,
        /// The model asked for.
        model: String,
    },
    /// The interpreter could not be started.
    #[error("{script}: cannot start the interpreter: {source}")]
    Start {
        /// The script.
        script: String,
        /// Why.
        source: std::io::Error,
    },
    /// The script ran past its limit or printed more than [`STDOUT_CAP`] (and was killed), or
    /// its output could not be read to the end.
    #[error("{script}: stopped by the lab: {why}; last stderr line: {last_line}")]
    Stopped {
        /// The script.
        script: String,
        /// Its limit.
        limit: Duration,
        /// The time limit, the output cap or the pipe left open, in words.
        why: String,
        /// The last non-empty line of its stderr.
        last_line: String,
    },
    /// The script failed.
    #[error("{script} failed ({status}): {last_line}")]
    Crashed {
        /// The script.
        script: String,
        /// How it ended.
        status: String,
        /// The last non-empty line of its stderr.
        last_line: String,
    },
    /// The script printed a line that is not a row, a skip or an interpreter record, or a row
    /// of another experiment or model.
    #[error("{script} printed a malformed line {line_no}: {detail}: {line}")]
    Malformed {
        /// The script.
        script: String,
        /// 1-based.
        line_no: usize,
        /// What is wrong.
        detail: String,
        /// The line (its first 200 characters).
        line: String,
    },
}

/// One row as a script prints it: a result row ([`Row`], the result file's own type) with
/// every field but `hdr` (the lab encodes histograms itself), plus `raw` for histograms.
#[derive(Debug, Clone, PartialEq)]
pub struct PyRow {
    /// The row as printed.
    pub row: Row,
    /// Histogram rows: every recorded value, in the row's `unit`.
    pub raw: Option<Vec<u64>>,
}

/// A variant a script did not measure, and why.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PySkip {
    /// Experiment name.
    pub experiment: String,
    /// Model name.
    pub model: String,
    /// Variant.
    pub variant: Option<String>,
    /// Why, in words.
    pub reason: String,
}

impl PyRow {
    /// Reads one row line (design point 3): exactly the result file's row fields but `hdr`
    /// (a missing `Option` field is `null`), and optionally `raw`; or what is wrong.
    pub fn from_value(mut value: serde_json::Value) -> Result<PyRow, String> {
        let object = value
            .as_object_mut()
            .ok_or_else(|| "not a JSON object".to_owned())?;
        let raw = match object.remove("raw") {
            None | Some(serde_json::Value::Null) => None,
            Some(raw) => Some(
                serde_json::from_value::<Vec<u64>>(raw)
                    .map_err(|e| format!("`raw` is not a list of whole numbers ({e})"))?,
            ),
        };
        if object.contains_key("hdr") {
            return Err(
                "unknown field `hdr` (a script gives `raw`; the lab encodes the histogram)"
                    .to_owned(),
            );
        }
        let keys: Vec<String> = object.keys().cloned().collect();
        let row: Row = serde_json::from_value(value).map_err(|e| e.to_string())?;
        // Row's own fields, as it writes them (every one but an absent `hdr`): a key the row
        // does not write back is one it does not have.
        let known = serde_json::to_value(&row).map_err(|e| e.to_string())?;
        if let Some(extra) = keys.iter().find(|k| known.get(k.as_str()).is_none()) {
            return Err(format!("unknown field `{extra}`"));
        }
        Ok(PyRow { row, raw })
    }

    /// The lab's row (design point 4: a histogram row is re-read through the lab's histogram).
    pub fn into_row(self) -> Row {
        let mut row = self.row;
        if let Some(raw) = self.raw.filter(|r| !r.is_empty()) {
            let mut hist = stats::new_histogram();
            for v in raw {
                stats::record(&mut hist, v);
            }
            let q = |q: f64| hist.value_at_quantile(q) as f64;
            row.value = q(0.5);
            row.median = row.value;
            row.min = hist.min() as f64;
            row.max = hist.max() as f64;
            row.samples = hist.len();
            row.p50 = Some(row.value);
            row.p90 = Some(q(0.9));
            row.p99 = Some(q(0.99));
            row.p999 = Some(q(0.999));
            row.max_latency = Some(row.max);
            row.hdr = stats::encode_histogram(&hist);
        }
        row
    }
}

impl PySkip {
    /// The lab's skip entry.
    pub fn into_skipped(self) -> Skipped {
        Skipped {
            experiment: self.experiment,
            model: self.model,
            variant: self.variant,
            reason: self.reason,
        }
    }
}

/// What one (experiment, model) script gave.
#[derive(Debug)]
pub struct CellOutput {
    /// The experiment.
    pub experiment: String,
    /// The model.
    pub model: String,
    /// Its rows (after a crash: those printed before it).
    pub rows: Vec<PyRow>,
    /// The variants it did not measure.
    pub skips: Vec<PySkip>,
    /// Why it stopped early, if it did.
    pub failure: Option<ScriptError>,
}

impl CellOutput {
    /// The lab's rows and skips; a failure becomes a skip of the whole cell carrying the
    /// error's text (design point 6).
    pub fn into_results(self) -> (Vec<Row>, Vec<Skipped>) {
        let rows = self.rows.into_iter().map(PyRow::into_row).collect();
        let mut skipped: Vec<Skipped> = self.skips.into_iter().map(PySkip::into_skipped).collect();
        if let Some(failure) = self.failure {
            skipped.push(Skipped {
                experiment: self.experiment,
                model: self.model,
                variant: None,
                reason: failure.to_string(),
            });
        }
        (rows, skipped)
    }
}

/// The lines a script printed, parsed.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    /// Rows.
    pub rows: Vec<PyRow>,
    /// Skips.
    pub skips: Vec<PySkip>,
    /// Interpreter records.
    pub interpreter: Option<Interpreter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipLine {
    skip: PySkip,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterpreterLine {
    interpreter: Interpreter,
}

/// Parses a script's stdout (design point 3). `expect` is the (experiment, model) every row
/// and skip must belong to; `None` accepts any.
pub fn parse_output(
    script: &str,
    stdout: &str,
    expect: Option<(&str, &str)>,
) -> Result<Parsed, ScriptError> {
    let mut parsed = Parsed::default();
    for (i, line) in stdout.lines().enumerate() {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let malformed = |detail: String| ScriptError::Malformed {
            script: script.to_owned(),
            line_no: i + 1,
            detail,
            line: text.chars().take(200).collect(),
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| malformed(format!("not JSON ({e})")))?;
        let belongs = |experiment: &str, model: &str| match expect {
            Some((e, m)) if (e, m) != (experiment, model) => Err(malformed(format!(
                "it is for {experiment} / {model}, the script was run for {e} / {m}"
            ))),
            _ => Ok(()),
        };
        if value.get("skip").is_some() {
            let line: SkipLine = serde_json::from_value(value)
                .map_err(|e| malformed(format!("not a skip ({e})")))?;
            belongs(&line.skip.experiment, &line.skip.model)?;
            parsed.skips.push(line.skip);
        } else if value.get("interpreter").is_some() {
            let line: InterpreterLine = serde_json::from_value(value)
                .map_err(|e| malformed(format!("not an interpreter record ({e})")))?;
            parsed.interpreter = Some(line.interpreter);
        } else {
            let PyRow { row, raw } = PyRow::from_value(value).map_err(|e| {
                malformed(format!(
                    "not a result row ({e}; expected exactly the fields experiment, model, \
                     variant, metric, value, unit, n, samples, min, median, max, p50, p90, \
                     p99, p999, max_latency, note, and optionally raw)"
                ))
            })?;
            belongs(&row.experiment, &row.model)?;
            if row.variant.is_empty() || row.metric.is_empty() || row.unit.is_empty() {
                return Err(malformed("empty variant, metric or unit".to_owned()));
            }
            parsed.rows.push(PyRow { row, raw });
        }
    }
    Ok(parsed)
}

/// A located, probed interpreter and the scripts written out for it.
#[derive(Debug)]
pub struct Python {
    path: PathBuf,
    interpreter: Interpreter,
    scripts: ScriptDir,
    cpus: Vec<usize>,
    pin: Option<usize>,
}

impl Python {
    /// Finds and probes the interpreter: `explicit` (`--python PATH`) or the first `python3`
    /// on `PATH` (design point 2), and writes the scripts out (design point 1).
    pub fn locate(explicit: Option<&Path>) -> Result<Python, PythonError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None => find_on_path("python3")?,
        };
        let interpreter = probe(&path, PROBE_LIMIT)?;
        let scripts = ScriptDir::write()?;
        // The interpreter itself, not a launcher in front of it (pyenv's shims are shell
        // scripts that cost tens of ms per start): what `sys.executable` names, when it exists.
        let real = PathBuf::from(&interpreter.executable);
        let path = if is_executable(&real) { real } else { path };
        Ok(Python {
            path,
            interpreter,
            scripts,
            cpus: affinity(),
            pin: None,
        })
    }

    /// Pins each script (and what it starts) to one CPU, passed as `--pin`, except the units
    /// an experiment places itself (ping-pong placements, `speedup`'s workers, `echo`'s
    /// client); each row's note then says so. `None` (the default) leaves scripts unpinned.
    pub fn with_pin(mut self, pin: Option<usize>) -> Python {
        self.pin = pin;
        self
    }

    /// Sets the CPUs the scripts run on (passed as `--cpus`; design point 7). By default, the
    /// calling thread's affinity mask when [`Python::locate`] ran.
    pub fn with_cpus(mut self, cpus: Vec<usize>) -> Python {
        self.cpus = cpus;
        self
    }

    /// The interpreter's path (its `sys.executable` where that exists).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the probe found.
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    /// A one-line description for the machine record and the progress output.
    pub fn describe(&self) -> String {
        let i = &self.interpreter;
        format!(
            "{} {} ({}), GIL {}, multiprocessing start method {}",
            i.implementation,
            i.version,
            self.path.display(),
            if i.gil_enabled { "enabled" } else { "disabled" },
            i.start_method.as_deref().unwrap_or("unknown"),
        )
    }

    /// Runs `experiment`'s script for `model` under `limit` (design points 3-6).
    pub fn run_cell(
        &self,
        experiment: &str,
        model: &str,
        size: PySize,
        limit: Duration,
    ) -> CellOutput {
        let mut out = CellOutput {
            experiment: experiment.to_owned(),
            model: model.to_owned(),
            rows: Vec::new(),
            skips: Vec::new(),
            failure: None,
        };
        if !EXPERIMENTS.contains(&experiment) || !MODELS.contains(&model) {
            out.failure = Some(ScriptError::Unknown {
                experiment: experiment.to_owned(),
                model: model.to_owned(),
            });
            return out;
        }
        let script = format!("{experiment}.py");
        let mut cmd = self.command(&script);
        cmd.args(["--model", model, "--size", size.as_arg()]);
        if !self.cpus.is_empty() {
            let list: Vec<String> = self.cpus.iter().map(usize::to_string).collect();
            cmd.args(["--cpus", &list.join(",")]);
        }
        if let Some(cpu) = self.pin {
            cmd.args(["--pin", &cpu.to_string()]);
        }
        let (parsed, failure) = run_script(&script, &mut cmd, limit, Some((experiment, model)));
        out.rows = parsed.rows;
        out.skips = parsed.skips;
        out.failure = failure;
        out
    }

    /// Starts `model`'s echo server (`echo.py --serve MODEL`) in a process group of its own,
    /// for the lab's own echo client to drive; it serves on 127.0.0.1 until dropped.
    pub fn serve_echo(&self, model: &str) -> Result<EchoServer, ScriptError> {
        let script = "echo.py --serve".to_owned();
        if !MODELS.contains(&model) {
            return Err(ScriptError::Unknown {
                experiment: "echo".to_owned(),
                model: model.to_owned(),
            });
        }
        let mut cmd = self.command("echo.py");
        cmd.args(["--serve", model]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = spawn_in_group(&mut cmd).map_err(|source| ScriptError::Start {
            script: script.clone(),
            source,
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            let mut stdout = stdout;
            while line.len() < 4096 && matches!(stdout.read(&mut byte), Ok(1)) {
                if byte[0] == b'\n' {
                    break;
                }
                line.push(byte[0]);
            }
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
        });
        let mut server = EchoServer { child, port: 0 };
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        #[derive(Deserialize)]
        struct Port {
            port: u16,
        }
        match serde_json::from_str::<Port>(&line) {
            Ok(p) => {
                server.port = p.port;
                Ok(server)
            }
            Err(e) => Err(ScriptError::Malformed {
                script,
                line_no: 1,
                detail: format!("expected {{\"port\": P}} ({e})"),
                line,
            }),
        }
    }

    fn command(&self, script: &str) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(FLAGS)
            .arg(self.scripts.dir.join(script))
            .current_dir(&self.scripts.dir);
        cmd
    }
}

/// A Python echo server (see [`Python::serve_echo`]); stopped (its group killed) when dropped.
#[derive(Debug)]
pub struct EchoServer {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        // Closing stdin asks the server to stop; killing the group makes sure its workers do.
        drop(self.child.stdin.take());
        let pid = rustix::process::Pid::from_child(&self.child);
        // The child is not reaped yet, so its pid (the group's id) is still ours to signal.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = self.child.wait();
    }
}

/// The CPUs in the calling thread's affinity mask (empty when it cannot be read).
fn affinity() -> Vec<usize> {
    use rustix::thread::{CpuSet, sched_getaffinity};
    sched_getaffinity(None).map_or_else(
        |_| Vec::new(),
        |set| (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
    )
}

/// The first executable `name` in `PATH`.
fn find_on_path(name: &str) -> Result<PathBuf, PythonError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(PythonError::NotFound {
        searched: std::env::split_paths(&path)
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":"),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs the probe with `path` (design point 2).
fn probe(path: &Path, limit: Duration) -> Result<Interpreter, PythonError> {
    let not3 = |detail: String| PythonError::NotPython3 {
        path: path.to_owned(),
        detail,
    };
    let mut cmd = Command::new(path);
    cmd.args(FLAGS).arg("-c").arg(PROBE);
    let done = run_limited(&mut cmd, limit).map_err(|source| PythonError::NotRunnable {
        path: path.to_owned(),
        source,
    })?;
    if let Some(why) = &done.killed {
        return Err(not3(format!("it was stopped: {why}")));
    }
    if !done.status.is_some_and(|s| s.success()) {
        return Err(not3(format!(
            "it exited with {} ({})",
            status_text(done.status),
            last_line(&done.stderr)
        )));
    }
    let parsed = parse_output("the probe", &done.stdout, None).map_err(|e| not3(e.to_string()))?;
    let interpreter = parsed
        .interpreter
        .ok_or_else(|| not3("it printed no interpreter record".to_owned()))?;
    if interpreter.major != 3 {
        return Err(not3(format!(
            "it is {} {}",
            interpreter.implementation, interpreter.version
        )));
    }
    Ok(interpreter)
}

/// Runs one script: the parsed lines and why it stopped early, if it did (design points 5-6).
fn run_script(
    script: &str,
    cmd: &mut Command,
    limit: Duration,
    expect: Option<(&str, &str)>,
) -> (Parsed, Option<ScriptError>) {
    let done = match run_limited(cmd, limit) {
        Ok(done) => done,
        Err(source) => {
            return (
                Parsed::default(),
                Some(ScriptError::Start {
                    script: script.to_owned(),
                    source,
                }),
            );
        }
    };
    let failure = if let Some(why) = done.killed {
        Some(ScriptError::Stopped {
            script: script.to_owned(),
            limit,
            why,
            last_line: last_line(&done.stderr),
        })
    } else if !done.status.is_some_and(|s| s.success()) {
        Some(ScriptError::Crashed {
            script: script.to_owned(),
            status: status_text(done.status),
            last_line: last_line(&done.stderr),
        })
    } else {
        None
    };
    if failure.is_none() {
        return match parse_output(script, &done.stdout, expect) {
            Ok(parsed) => (parsed, None),
            Err(e) => (Parsed::default(), Some(e)),
        };
    }
    // Stopped early: keep the complete lines it printed before (each a whole row, flushed).
    let complete = match done.stdout.rfind('\n') {
        Some(end) => &done.stdout[..=end],
        None => "",
    };
    let parsed = parse_output(script, complete, expect).unwrap_or_default();
    (parsed, failure)
}

fn status_text(status: Option<ExitStatus>) -> String {
    status.map_or_else(|| "no exit status".to_owned(), |s| s.to_string())
}

/// The last non-empty line of `text`, or a placeholder.
fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(nothing on stderr)")
        .chars()
        .take(500)
        .collect()
}

/// What a limited run gave.
#[derive(Debug)]
struct Finished {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    /// Why the lab stopped it (or could not read all its output), if it did.
    killed: Option<String>,
}

enum Event {
    Exited,
    Overflow,
    WaitFailed(std::io::Error),
}

fn spawn_in_group(cmd: &mut Command) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn()
}

/// Runs `cmd` in a process group of its own with its output captured, killing the group on
/// `limit` or when stdout passes [`STDOUT_CAP`], and after it exits (design point 5).
fn run_limited(cmd: &mut Command, limit: Duration) -> std::io::Result<Finished> {
    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_in_group(cmd)?;
    let pid = Pid::from_child(&child);
    let (events, event) = mpsc::channel();

    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (out_tx, out_rx) = mpsc::channel();
    let overflow = events.clone();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 64 << 10];
        let mut over = false;
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if kept.len() + n > STDOUT_CAP {
                if !over {
                    over = true;
                    let _ = overflow.send(Event::Overflow);
                }
                continue; // keep draining, so the script never blocks on a full pipe
            }
            kept.extend_from_slice(&buf[..n]);
        }
        let _ = out_tx.send(kept);
    });
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 16 << 10];
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * STDERR_TAIL {
                kept.drain(..kept.len() - STDERR_TAIL);
            }
        }
        let _ = err_tx.send(kept);
    });
    std::thread::spawn(move || {
        // WNOWAIT: the script stays a zombie, so its pid (the group's id) is not reused
        // before the lab has signalled the group and reaped it below.
        let result = loop {
            match rustix::process::waitid(
                WaitId::Pid(pid),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        let _ = events.send(match result {
            Ok(_) => Event::Exited,
            Err(e) => Event::WaitFailed(e.into()),
        });
    });

    let deadline = Instant::now() + limit;
    let mut killed = None;
    let mut wait_error = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match event.recv_timeout(if killed.is_some() {
            Duration::MAX
        } else {
            left
        }) {
            Ok(Event::Exited) => break,
            Ok(Event::WaitFailed(e)) => {
                wait_error = Some(e);
                break;
            }
            Ok(Event::Overflow) if killed.is_none() => {
                killed = Some(format!("it printed more than {STDOUT_CAP} bytes"));
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            }
            Ok(Event::Overflow) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                killed = Some(format!("its time limit of {limit:?} passed"));
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if wait_error.is_none() {
        // The script has exited and is not reaped: whatever it left running in its group
        // dies.
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    } else {
        // waitid failed (it cannot, for our own child): fall back to std's kill.
        let _ = child.kill();
    }
    let status = child.wait()?;
    let stdout = out_rx.recv_timeout(PIPE_GRACE).unwrap_or_else(|_| {
        killed.get_or_insert_with(|| {
            "its stdout stayed open after it exited (a process it started left its process \
             group)"
                .to_owned()
        });
        Vec::new()
    });
    let stderr = err_rx.recv_timeout(PIPE_GRACE).unwrap_or_default();
    Ok(Finished {
        status: Some(status),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        killed,
    })
}

/// The scripts, written out to a private temporary directory; removed on drop.
#[derive(Debug)]
struct ScriptDir {
    dir: PathBuf,
}

impl ScriptDir {
    fn write() -> Result<ScriptDir, PythonError> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut attempt = 0u32;
        let dir = loop {
            let dir = base.join(format!(
                "switchyard-lab-python-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(source) => return Err(PythonError::Scripts { dir, source }),
            }
        };
        let scripts = ScriptDir { dir };
        for (name, text) in SCRIPTS {
            let path = scripts.dir.join(name);
            std::fs::write(&path, text).map_err(|source| PythonError::Scripts {
                dir: scripts.dir.clone(),
                source,
            })?;
        }
        Ok(scripts)
    }
}

impl Drop for ScriptDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"{"experiment":"switch","model":"py-asyncio","variant":"yield","metric":"ns_per_op","value":4000.0,"unit":"ns","n":100,"samples":3,"min":3900.0,"median":4000.0,"max":4100.0,"p50":null,"p90":null,"p99":null,"p999":null,"max_latency":null,"note":"scaled"}"#;
    const SKIP: &str = r#"{"skip":{"experiment":"switch","model":"py-asyncio","variant":"pingpong_cross_core","reason":"one loop"}}"#;

    /// The machine's python3, or `None` with a message (the tests that need one then skip).
    fn python() -> Option<Python> {
        match Python::locate(None) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("skipped: {e}");
                None
            }
        }
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    #[test]
    fn rows_skips_and_blank_lines_parse() {
        let text = format!("{ROW}\n\n{SKIP}\n");
        let parsed = parse_output("switch.py", &text, Some(("switch", "py-asyncio"))).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].row.variant, "yield");
        assert_eq!(
            parsed.skips[0].variant.as_deref(),
            Some("pingpong_cross_core")
        );
        let row = parsed.rows[0].clone().into_row();
        assert_eq!(
            (row.value, row.n, row.note.as_deref()),
            (4000.0, 100, Some("scaled"))
        );
        assert_eq!(row.hdr, None);
    }

    #[test]
    fn a_malformed_line_is_named_by_number() {
        let cases = [
            (format!("{ROW}\nnot json"), 2, "not JSON"),
            (
                ROW.replace(r#""unit":"ns","#, ""),
                1,
                "missing field `unit`",
            ),
            (
                ROW.replace(r#""n":100"#, r#""n":100,"extra":1"#),
                1,
                "unknown field `extra`",
            ),
            (
                ROW.replace("\"switch\"", "\"spawn\""),
                1,
                "the script was run for switch",
            ),
            (ROW.replace("4000.0", "\"fast\""), 1, "not a result row"),
            (
                ROW.replace(r#""n":100"#, r#""n":100,"hdr":"x""#),
                1,
                "unknown field `hdr`",
            ),
            (
                ROW.replace(r#""note":"scaled""#, r#""note":"h","raw":[-1]"#),
                1,
                "`raw` is not a list",
            ),
            ("[1,2]".to_owned(), 1, "not a JSON object"),
            (r#"{"skip":{"reason":"x"}}"#.to_owned(), 1, "not a skip"),
        ];
        for (text, line_no, detail) in cases {
            match parse_output("switch.py", &text, Some(("switch", "py-asyncio"))) {
                Err(e @ ScriptError::Malformed { line_no: n, .. }) => {
                    assert_eq!(n, line_no, "{e}");
                    assert!(e.to_string().contains(detail), "{e}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn raw_values_become_the_labs_histogram() {
        let raw: Vec<u64> = (1..=1000).map(|k| k * 1_000).collect();
        let text = ROW.replace(
            r#""note":"scaled""#,
            &format!(
                r#""note":"h","raw":{}"#,
                serde_json::to_string(&raw).unwrap()
            ),
        );
        let parsed = parse_output("switch.py", &text, None).unwrap();
        let row = parsed.rows[0].clone().into_row();
        // The script's 4000 gives way to the histogram's own figures.
        assert_eq!(row.samples, 1000);
        assert!(
            (row.value - 500_000.0).abs() / 500_000.0 < 0.01,
            "{}",
            row.value
        );
        assert!((row.p99.unwrap() - 990_000.0).abs() / 990_000.0 < 0.01);
        assert!(row.min <= row.value && row.value <= row.max);
        let hist = stats::decode_histogram(row.hdr.as_deref().unwrap()).unwrap();
        assert_eq!(hist.len(), 1000);
    }

    #[test]
    fn a_path_that_cannot_run_is_a_typed_error() {
        let err = Python::locate(Some(Path::new("/nonexistent/python3"))).unwrap_err();
        assert!(matches!(err, PythonError::NotRunnable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("/nonexistent/python3") && text.contains("Python 3"),
            "{text}"
        );
    }

    #[test]
    fn programs_that_are_not_python_3_are_refused() {
        let dir = ScriptDir::write().unwrap();
        let fake = |name: &str, body: &str| {
            let path = dir.dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            path
        };
        let python2 = fake(
            "python2",
            "echo '{\"interpreter\": {\"version\": \"2.7.18\", \"major\": 2, \
             \"implementation\": \"CPython\", \"executable\": \"/usr/bin/python2\", \
             \"gil_enabled\": true, \"gil_check\": \"-\", \"start_method\": \"fork\", \"cpus\": 2}}'",
        );
        // Prints forever: stopped by the output cap (or the limit), never a hang.
        let chatty = fake("chatty", "exec yes");
        // Says nothing, ever: stopped by the limit.
        let silent = fake("silent", "exec sleep 1000");
        let cases: [(&Path, &str); 5] = [
            (Path::new("/bin/true"), "no interpreter record"),
            (Path::new("/bin/false"), "exited with exit status: 1"),
            (&chatty, "it was stopped: it printed more than"),
            (&silent, "it was stopped: its time limit of 3s passed"),
            (&python2, "it is CPython 2.7.18"),
        ];
        for (path, detail) in cases {
            if !path.exists() {
                eprintln!("skipped: {} is absent", path.display());
                continue;
            }
            match probe(path, Duration::from_secs(3)) {
                Err(e @ PythonError::NotPython3 { .. }) => {
                    let text = e.to_string();
                    assert!(text.contains(detail), "{text}");
                    assert!(text.contains(&path.display().to_string()), "{text}");
                }
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn a_crashing_script_becomes_a_note_carrying_its_last_stderr_line() {
        let mut cmd = sh(&format!(
            "echo '{ROW}'; echo 'Traceback (most recent call last):' >&2; \
             echo 'ZeroDivisionError: division by zero' >&2; echo >&2; exit 1"
        ));
        let expect = Some(("switch", "py-asyncio"));
        let (parsed, failure) = run_script("switch.py", &mut cmd, Duration::from_secs(30), expect);
        let failure = failure.expect("a crash is a failure");
        assert!(
            matches!(failure, ScriptError::Crashed { .. }),
            "{failure:?}"
        );
        let cell = CellOutput {
            experiment: "switch".into(),
            model: "py-asyncio".into(),
            rows: parsed.rows,
            skips: parsed.skips,
            failure: Some(failure),
        };
        let (rows, skipped) = cell.into_results();
        assert_eq!(rows.len(), 1, "the row printed before the crash is kept");
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].variant, None);
        assert!(
            skipped[0]
                .reason
                .ends_with("ZeroDivisionError: division by zero"),
            "{}",
            skipped[0].reason
        );
    }

    #[test]
    fn a_real_python_crash_carries_the_exception_line() {
        let Some(py) = python() else { return };
        let mut cmd = Command::new(py.path());
        cmd.args(["-c", "import sys; print('', flush=True); 1/0"]);
        let (_, failure) = run_script("crash.py", &mut cmd, Duration::from_secs(30), None);
        let text = failure.expect("a crash is a failure").to_string();
        assert!(
            text.ends_with("ZeroDivisionError: division by zero"),
            "{text}"
        );
    }

    #[test]
    fn malformed_output_of_a_successful_script_is_a_failure_not_rows() {
        let mut cmd = sh(&format!("echo '{ROW}'; echo 'hello'"));
        let (parsed, failure) = run_script("switch.py", &mut cmd, Duration::from_secs(30), None);
        assert!(parsed.rows.is_empty());
        assert!(
            matches!(failure, Some(ScriptError::Malformed { line_no: 2, .. })),
            "{failure:?}"
        );
    }

    #[test]
    fn a_script_past_its_limit_is_killed_with_everything_it_started() {
        // The backgrounded sleep holds the stdout pipe: the output only arrives (the pipe
        // only closes) if the whole group was killed.
        let mut cmd = sh("echo started; sleep 1000 & wait");
        let (_, failure) = run_script("slow.py", &mut cmd, Duration::from_millis(300), None);
        assert!(
            matches!(failure, Some(ScriptError::Stopped { .. })),
            "{failure:?}"
        );
        let done = run_limited(
            &mut sh("echo started; sleep 1000 & wait"),
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(done.killed.is_some());
        assert_eq!(done.stdout, "started\n");
    }

    #[test]
    fn output_held_open_by_a_process_that_left_the_group_is_a_failure_not_a_hang() {
        // `setsid` takes the sleep out of the script's group, so the lab cannot kill it; it
        // holds stdout (not stderr, where the script says its pid). The script exits only
        // once the sleep leads its own session (field 6 of /proc/PID/stat): exiting earlier
        // would let the group kill reach it before its setsid.
        let done = run_limited(
            &mut sh("setsid sleep 1000 2>/dev/null & pid=$!; \
                     until [ \"$(cut -d' ' -f6 /proc/$pid/stat 2>/dev/null)\" = \"$pid\" ]; do :; done; \
                     echo $pid >&2; echo lost"),
            Duration::from_secs(60),
        )
        .unwrap();
        if let Ok(pid) = done.stderr.trim().parse::<i32>() {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        let why = done.killed.expect("an unread output is reported");
        assert!(why.contains("stdout stayed open"), "{why}");
        assert_eq!(done.stdout, "");
    }

    #[test]
    fn what_a_script_leaves_running_is_killed_when_it_exits() {
        let done = run_limited(&mut sh("sleep 1000 & echo done"), Duration::from_secs(60)).unwrap();
        assert!(done.killed.is_none());
        assert!(done.status.unwrap().success());
        assert_eq!(done.stdout, "done\n", "the leaked sleep held the pipe open");
    }

    #[test]
    fn every_experiment_has_its_script_shipped() {
        for experiment in EXPERIMENTS {
            let name = format!("{experiment}.py");
            let text = SCRIPTS.iter().find(|(n, _)| *n == name).map(|(_, t)| t);
            assert!(
                text.is_some_and(|t| t.contains(&format!("EXP = \"{experiment}\""))),
                "{name}"
            );
        }
        let dir = ScriptDir::write().unwrap();
        let path = dir.dir.clone();
        assert!(path.join("labcommon.py").is_file());
        drop(dir);
        assert!(!path.exists(), "the scripts are removed with the Python");
    }

    #[test]
    fn locate_records_a_python_3() {
        let Some(py) = python() else { return };
        let i = py.interpreter();
        assert_eq!(i.major, 3);
        assert!(!i.version.is_empty() && !i.implementation.is_empty());
        assert!(py.describe().contains(&i.version));
    }

    /// `chunk(seed)` of lab/src/experiments/speedup.rs for these seeds (computed with it).
    const RUST_CHUNKS: [(u64, u64); 4] = [
        (0, 18_256_477_277_382_574_127),
        (7, 4_648_044_131_532_701_156),
        (12_345, 11_046_362_732_974_875_673),
        (u64::MAX, 13_002_191_591_406_553_558),
    ];

    #[test]
    fn the_python_chunk_is_the_rust_chunk() {
        let Some(py) = python() else { return };
        for (seed, want) in RUST_CHUNKS {
            let mut cmd = py.command("speedup.py");
            cmd.args(["--chunk", &seed.to_string()]);
            let done = run_limited(&mut cmd, Duration::from_secs(60)).unwrap();
            assert_eq!(
                done.stdout.trim().parse::<u64>().ok(),
                Some(want),
                "seed {seed}: {done:?}"
            );
        }
    }

    #[test]
    fn scripts_run_on_the_cpus_they_are_given() {
        let Some(py) = python() else { return };
        let cpus = affinity();
        if cpus.len() < 2 {
            return eprintln!("skipped: one CPU");
        }
        let one = py.with_cpus(vec![cpus[1]]);
        let out = one.run_cell(
            "switch",
            "py-threading",
            PySize::Tiny,
            cell_limit(PySize::Tiny),
        );
        assert!(out.failure.is_none(), "{:?}", out.failure);
        let cross = out
            .skips
            .iter()
            .find(|s| s.variant.as_deref() == Some("pingpong_cross_core"));
        assert!(
            cross.is_some_and(|s| s.reason.contains("one CPU")),
            "{:?}",
            out.skips
        );
        let same = out
            .rows
            .iter()
            .find(|r| r.row.variant == "pingpong_same_core")
            .unwrap();
        let note = same.row.note.as_deref().unwrap();
        assert!(
            note.contains(&format!("asked for CPUs {0}, {0}", cpus[1])),
            "{note}"
        );

        let pinned = one.with_cpus(cpus.clone()).with_pin(Some(cpus[1]));
        let out = pinned.run_cell(
            "spawn",
            "py-threading",
            PySize::Tiny,
            cell_limit(PySize::Tiny),
        );
        let note = out.rows[0].row.note.as_deref().unwrap();
        assert!(
            note.contains(&format!("script pinned to CPU {}", cpus[1])),
            "{note}"
        );
    }

    #[test]
    fn an_unknown_cell_is_refused_without_running_anything() {
        let Some(py) = python() else { return };
        let out = py.run_cell("nosuch", "py-asyncio", PySize::Tiny, Duration::from_secs(1));
        let text = out.failure.unwrap().to_string();
        assert!(text.contains("scripts: switch, spawn"), "{text}");
    }

    #[test]
    fn each_python_echo_server_echoes() {
        use std::io::Write;
        let Some(py) = python() else { return };
        for model in MODELS {
            let server = py.serve_echo(model).unwrap();
            let mut conn = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            // A server that does not answer fails the test instead of hanging it.
            conn.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let msg: Vec<u8> = (0..64u8).collect();
            conn.write_all(&msg).unwrap();
            let mut back = vec![0u8; 64];
            conn.read_exact(&mut back).unwrap();
            assert_eq!(back, msg, "{model}");
        }
    }

    /// Whether docs/lab.md's contract has this (experiment, variant, metric, unit).
    fn in_contract(experiment: &str, variant: &str, metric: &str, unit: &str) -> bool {
        let numbered = |prefix: &str| {
            variant
                .strip_prefix(prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let variant_ok = match experiment {
            "switch" => ["yield", "pingpong_same_core", "pingpong_cross_core"].contains(&variant),
            "spawn" => ["spawn_join", "fork", "forkserver", "command_true"].contains(&variant),
            "scale" => numbered("N="),
            "latency" => ["idle", "loaded"].contains(&variant),
            "speedup" => numbered("n=") || variant == "amdahl",
            "ipc" => variant.split_once('_').is_some_and(|(mechanism, size)| {
                ["channel", "pipe", "unix", "shm"].contains(&mechanism)
                    && ["8B", "4KiB", "64KiB", "1MiB"].contains(&size)
            }),
            "blocking" => variant == "others_p99",
            "fairness" => variant == "jain",
            "echo" => {
                let (rate, conns) = variant.split_once(",conns=").unwrap_or((variant, ""));
                let plain = |rate: &str| {
                    rate.strip_prefix("rate=")
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                };
                plain(rate) && (conns.is_empty() || conns == "1000")
            }
            "sharing" => variant.split_once(",units=").is_some_and(|(how, n)| {
                ["lock", "atomic", "message"].contains(&how)
                    && !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
            }),
            _ => false,
        };
        let metrics: &[(&str, &str)] = match experiment {
            "switch" | "spawn" | "sharing" => &[("ns_per_op", "ns")],
            "scale" => &[("bytes_per_unit", "B"), ("ns_per_unit", "ns")],
            "latency" | "blocking" => &[("lateness", "ns")],
            "speedup" if variant == "amdahl" => &[("parallel_fraction", "fraction")],
            "speedup" => &[("speedup", "x")],
            "ipc" => &[("ns_per_op", "ns"), ("bytes_per_sec", "B/s")],
            "fairness" => &[("jain_index", "index"), ("max_starvation", "ns")],
            "echo" => &[
                ("lateness", "ns"),
                ("ops_per_sec", "ops/s"),
                ("cpu_ns_per_op", "ns"),
            ],
            _ => &[],
        };
        variant_ok && metrics.contains(&(metric, unit))
    }

    /// Runs `experiment` at the tiny size for every model and checks that each expected
    /// (variant, metric) is a well-formed row or a skip with a reason.
    fn tiny(experiment: &str, expected: &[(&str, &str)]) {
        let Some(py) = python() else { return };
        let cells: Vec<CellOutput> = std::thread::scope(|s| {
            let handles: Vec<_> = MODELS
                .iter()
                .map(|model| {
                    let py = &py;
                    s.spawn(move || {
                        py.run_cell(experiment, model, PySize::Tiny, cell_limit(PySize::Tiny))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for cell in cells {
            let model = cell.model.clone();
            assert!(
                cell.failure.is_none(),
                "{experiment} / {model}: {:?}",
                cell.failure
            );
            let skips = cell.skips.clone();
            let (rows, _) = cell.into_results();
            for row in &rows {
                assert!(
                    in_contract(experiment, &row.variant, &row.metric, &row.unit),
                    "not a docs/lab.md name: {}",
                    row.key()
                );
                assert_eq!(
                    (row.experiment.as_str(), row.model.as_str()),
                    (experiment, model.as_str())
                );
                assert!(
                    row.value.is_finite() && row.n > 0 && row.samples > 0,
                    "{row:?}"
                );
                assert!(row.min <= row.median && row.median <= row.max, "{row:?}");
                assert!(
                    row.note.as_deref().is_some_and(|n| !n.is_empty()),
                    "{row:?}"
                );
                if row.metric == "lateness" {
                    assert!(row.p99.is_some() && row.hdr.is_some(), "{row:?}");
                }
            }
            for (variant, metric) in expected {
                let measured = rows
                    .iter()
                    .any(|r| r.variant == *variant && r.metric == *metric);
                let skipped = skips
                    .iter()
                    .any(|s| s.variant.as_deref() == Some(*variant) && !s.reason.is_empty());
                assert!(
                    measured || skipped,
                    "{experiment} / {model}: no {variant} / {metric} row nor skip in {rows:?}"
                );
            }
        }
    }

    /// A whole Python run at one size, the way the lab will run it (every experiment, every
    /// model, one after the other), with its wall time and rows printed: how issue 13's "full
    /// run under 4 minutes" was measured. `SWITCHYARD_PY_SIZE=quick` for the quick size,
    /// `SWITCHYARD_PY_PIN=0` to pin the scripts to CPU 0.
    #[test]
    #[ignore = "a measurement, run by hand: cargo test -p switchyard-lab --release --bin switchyard-lab python::tests::whole_python_run -- --ignored --nocapture"]
    fn whole_python_run() {
        let Some(py) = python() else { return };
        let size = match std::env::var("SWITCHYARD_PY_SIZE").as_deref() {
            Ok("quick") => PySize::Quick,
            Ok("tiny") => PySize::Tiny,
            _ => PySize::Full,
        };
        // SWITCHYARD_PY_PIN=0 pins the scripts as the lab pins its thread and process models.
        let pin = std::env::var("SWITCHYARD_PY_PIN")
            .ok()
            .and_then(|v| v.parse().ok());
        let py = py.with_pin(pin);
        println!("{} (pinned to CPU {pin:?})", py.describe());
        let start = Instant::now();
        for experiment in EXPERIMENTS {
            for model in MODELS {
                let cell_start = Instant::now();
                let out = py.run_cell(experiment, model, size, cell_limit(size));
                assert!(
                    out.failure.is_none(),
                    "{experiment} / {model}: {:?}",
                    out.failure
                );
                println!(
                    "{experiment} / {model}: {:.1} s",
                    cell_start.elapsed().as_secs_f64()
                );
                let (rows, skipped) = out.into_results();
                for r in rows {
                    let p99 = r.p99.map(|p| format!(" (p99 {p:.0})")).unwrap_or_default();
                    println!(
                        "  {} / {}: {:.4} {}{p99}",
                        r.variant, r.metric, r.value, r.unit
                    );
                    if experiment == "fairness" && r.metric == "jain_index" {
                        println!("    {}", r.note.unwrap_or_default());
                    }
                }
                for s in skipped {
                    println!("  {} skipped: {}", s.variant.unwrap_or_default(), s.reason);
                }
            }
        }
        println!(
            "whole run at {size:?}: {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }

    #[test]
    fn tiny_switch() {
        tiny(
            "switch",
            &[
                ("yield", "ns_per_op"),
                ("pingpong_same_core", "ns_per_op"),
                ("pingpong_cross_core", "ns_per_op"),
            ],
        );
    }

    #[test]
    fn tiny_spawn() {
        tiny("spawn", &[("spawn_join", "ns_per_op")]);
    }

    #[test]
    fn tiny_scale() {
        tiny(
            "scale",
            &[("N=10", "bytes_per_unit"), ("N=10", "ns_per_unit")],
        );
    }

    #[test]
    fn tiny_latency() {
        tiny("latency", &[("idle", "lateness"), ("loaded", "lateness")]);
    }

    #[test]
    fn tiny_speedup() {
        tiny("speedup", &[("n=1", "speedup")]);
    }

    #[test]
    fn tiny_ipc() {
        tiny(
            "ipc",
            &[
                ("channel_8B", "ns_per_op"),
                ("channel_1MiB", "bytes_per_sec"),
            ],
        );
    }

    #[test]
    fn tiny_blocking() {
        tiny("blocking", &[("others_p99", "lateness")]);
    }

    #[test]
    fn tiny_fairness() {
        tiny(
            "fairness",
            &[("jain", "jain_index"), ("jain", "max_starvation")],
        );
    }

    #[test]
    fn tiny_echo() {
        tiny(
            "echo",
            &[
                ("rate=1000", "lateness"),
                ("rate=1000", "ops_per_sec"),
                ("rate=1000", "cpu_ns_per_op"),
                ("rate=1000,conns=1000", "lateness"),
                ("rate=1000,conns=1000", "ops_per_sec"),
                ("rate=1000,conns=1000", "cpu_ns_per_op"),
            ],
        );
    }

    #[test]
    fn tiny_sharing() {
        tiny(
            "sharing",
            &[
                ("lock,units=1", "ns_per_op"),
                ("atomic,units=2", "ns_per_op"),
                ("message,units=2", "ns_per_op"),
            ],
        );
    }
}
