//! The result file (`results.json`), schema 1, exactly as docs/lab.md fixes it.
//!
//! Every figure the lab produces is a [`Row`] keyed by `experiment / model / variant /
//! metric`. Rows from different machines and versions compare because these names and
//! fields never change meaning; new experiments only add rows. Two additive fields beyond
//! docs/lab.md's example carry what is not a figure of a model: `skipped` (what was not measured,
//! and why) and `checks` (the same quantity measured by a trusted tool, side by side).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The schema this lab writes and reads.
pub const SCHEMA: u32 = 1;

/// One result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// The lab's crate version.
    pub lab_version: String,
    /// When the run started, RFC 3339 in UTC.
    pub started_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub config: Config,
    /// The figures.
    pub results: Vec<Row>,
    /// What was asked for but not measured, and why.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Figures from trusted external tools, beside the lab's own.
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// The machine a result file was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// CPUs this process may use.
    pub cores: u32,
    /// `uname -sr`.
    pub kernel: String,
    /// `PRETTY_NAME` from `/etc/os-release`.
    pub os: String,
    /// `rustc -V` of the compiler that built the lab.
    pub rustc: String,
    /// `uname -n`.
    pub hostname: String,
    /// The interpreter the Python models ran on, when they did (docs/lab.md, "Coming from
    /// Python").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<crate::python::Interpreter>,
}

/// The options of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `--quick`: counts scaled down (see `workload`).
    pub quick: bool,
    /// `--seed`.
    pub seed: u64,
    /// `--pin` (the default) or `--no-pin`.
    pub pin: bool,
    /// How the workloads were sized, in words (what `--quick` scaled down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// The experiments run.
    #[serde(default)]
    pub experiments: Vec<String>,
    /// The models measured.
    #[serde(default)]
    pub models: Vec<String>,
}

/// One figure: `experiment / model / variant / metric`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Experiment name (`switch`, `spawn`, ...).
    pub experiment: String,
    /// Model name (`loop`, `thread`, ...).
    pub model: String,
    /// Variant (`yield`, `N=1000`, ...).
    pub variant: String,
    /// Metric (`ns_per_op`, `lateness`, ...); lower is better unless it says otherwise.
    pub metric: String,
    /// The median over `samples`.
    pub value: f64,
    /// Unit of `value`, `min`, `median`, `max` and the percentiles.
    pub unit: String,
    /// Operations per sample.
    pub n: u64,
    /// Repetitions (histogram rows: recorded values).
    pub samples: u64,
    /// Smallest sample.
    pub min: f64,
    /// Median sample (equals `value`).
    pub median: f64,
    /// Largest sample.
    pub max: f64,
    /// Histogram rows: 50th percentile.
    pub p50: Option<f64>,
    /// Histogram rows: 90th percentile.
    pub p90: Option<f64>,
    /// Histogram rows: 99th percentile.
    pub p99: Option<f64>,
    /// Histogram rows: 99.9th percentile.
    pub p999: Option<f64>,
    /// Histogram rows: largest recorded value.
    pub max_latency: Option<f64>,
    /// Histogram rows: the HdrHistogram V2 encoding, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<String>,
    /// Anything a reader must know to read the figure right.
    pub note: Option<String>,
}

impl Row {
    /// A row of one figure (`samples` 1, `min` = `median` = `max` = `value`, no percentiles):
    /// what an experiment writes when a measurement gives one number, not a distribution.
    #[allow(clippy::too_many_arguments)]
    pub fn single(
        experiment: &str,
        model: &str,
        variant: &str,
        metric: &str,
        unit: &str,
        n: u64,
        value: f64,
        note: Option<String>,
    ) -> Row {
        Row {
            experiment: experiment.to_owned(),
            model: model.to_owned(),
            variant: variant.to_owned(),
            metric: metric.to_owned(),
            value,
            unit: unit.to_owned(),
            n,
            samples: 1,
            min: value,
            median: value,
            max: value,
            p50: None,
            p90: None,
            p99: None,
            p999: None,
            max_latency: None,
            hdr: None,
            note,
        }
    }

    /// The row's key, `experiment / model / variant / metric`.
    pub fn key(&self) -> String {
        format!(
            "{} / {} / {} / {}",
            self.experiment, self.model, self.variant, self.metric
        )
    }
}

/// Something asked for and not measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Experiment name.
    pub experiment: String,
    /// Model name.
    pub model: String,
    /// Variant, if only one variant was skipped.
    pub variant: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// The lab's figure beside a trusted tool's, and the verdict (docs/lab.md, "Checks").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The lab's row it checks, `experiment/model/variant/metric` ([`Check::row_id`]).
    pub row: String,
    /// The tool's command line as run, or the tool that was missing.
    pub tool: String,
    /// The lab's figure.
    pub lab: Option<f64>,
    /// The tool's figure (None when the tool was missing or failed).
    pub tool_value: Option<f64>,
    /// Unit of both figures.
    pub unit: String,
    /// The largest relative difference, `|lab - tool| / tool`, that still agrees.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Whether the two figures agree within `tolerance`; `None` when either is missing.
    #[serde(default)]
    pub agree: Option<bool>,
    /// How the tool ran, or why it did not.
    pub note: Option<String>,
}

/// The tolerance of every check: ±15%.
pub const TOLERANCE: f64 = 0.15;

fn default_tolerance() -> f64 {
    TOLERANCE
}

impl Check {
    /// A check of `row` against `tool`'s figure, judged with [`TOLERANCE`].
    pub fn judge(
        row: String,
        tool: String,
        lab: Option<f64>,
        tool_value: Option<f64>,
        unit: &str,
        note: Option<String>,
    ) -> Check {
        let agree = match (lab, tool_value) {
            (Some(lab), Some(tool)) if tool > 0.0 => Some((lab - tool).abs() / tool <= TOLERANCE),
            _ => None,
        };
        Check {
            row,
            tool,
            lab,
            tool_value,
            unit: unit.to_owned(),
            tolerance: TOLERANCE,
            agree,
            note,
        }
    }

    /// The id of a row as checks name it: `experiment/model/variant/metric`.
    pub fn row_id(experiment: &str, model: &str, variant: &str, metric: &str) -> String {
        format!("{experiment}/{model}/{variant}/{metric}")
    }

    /// The verdict in one word: `agree`, `DISAGREE`, or `no check` when a figure is missing.
    pub fn verdict(&self) -> &'static str {
        match self.agree {
            Some(true) => "agree",
            Some(false) => "DISAGREE",
            None => "no check",
        }
    }
}

/// A result file that cannot be used, with what is wrong and what is accepted.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error(
        "cannot read result file {path}: {source} (expected a results.json written by `switchyard-lab run`)"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a schema-1 result file.
    #[error(
        "malformed result file {path}: {detail} (expected a schema {SCHEMA} results.json written by `switchyard-lab run`)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column where JSON says so.
        detail: String,
    },
}

impl ResultFile {
    /// Reads and validates a result file.
    pub fn load(path: &Path) -> Result<ResultFile, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|detail| LoadError::Malformed {
            path: path.to_owned(),
            detail,
        })
    }

    /// Parses and validates the text of a result file.
    pub fn parse(text: &str) -> Result<ResultFile, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match value.get("schema").and_then(serde_json::Value::as_u64) {
            Some(s) if s == u64::from(SCHEMA) => {}
            Some(s) => return Err(format!("schema {s} is not supported (accepted: {SCHEMA})")),
            None => return Err("no \"schema\" field".to_owned()),
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// The file as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).expect("result file serialises")
    }

    /// The rows of one experiment.
    pub fn rows_of<'a>(&'a self, experiment: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.results
            .iter()
            .filter(move |r| r.experiment == experiment)
    }

    /// The row with this key, if any.
    pub fn find(&self, experiment: &str, model: &str, variant: &str, metric: &str) -> Option<&Row> {
        self.results.iter().find(|r| {
            r.experiment == experiment
                && r.model == model
                && r.variant == variant
                && r.metric == metric
        })
    }
}

/// Now as RFC 3339 UTC (`2026-11-22T10:00:00Z`), without a date library.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> ResultFile {
        ResultFile {
            schema: SCHEMA,
            lab_version: "0.1.0".into(),
            started_at: "2026-11-22T10:00:00Z".into(),
            machine: Machine {
                cpu_model: "cpu".into(),
                cores: 2,
                kernel: "Linux 6".into(),
                os: "os".into(),
                rustc: "rustc 1".into(),
                hostname: "h".into(),
                python: None,
            },
            config: Config {
                quick: true,
                seed: 1,
                pin: true,
                workload: None,
                experiments: vec!["switch".into()],
                models: vec!["naive".into()],
            },
            results: vec![Row {
                experiment: "switch".into(),
                model: "naive".into(),
                variant: "yield".into(),
                metric: "ns_per_op".into(),
                value: 12.5,
                unit: "ns".into(),
                n: 1000,
                samples: 3,
                min: 12.0,
                median: 12.5,
                max: 13.0,
                p50: None,
                p90: None,
                p99: None,
                p999: None,
                max_latency: None,
                hdr: None,
                note: None,
            }],
            skipped: vec![],
            checks: vec![],
        }
    }

    #[test]
    fn a_result_file_survives_a_round_trip() {
        let file = sample();
        assert_eq!(ResultFile::parse(&file.to_json()).unwrap(), file);
    }

    #[test]
    fn percentiles_and_note_are_written_as_null_not_omitted() {
        let json: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        let row = &json["results"][0];
        for field in ["p50", "p90", "p99", "p999", "max_latency", "note"] {
            assert!(row.get(field).is_some_and(|v| v.is_null()), "{field}");
        }
        assert!(row.get("hdr").is_none());
    }

    #[test]
    fn another_schema_is_refused_naming_the_accepted_one() {
        let text = sample().to_json().replace("\"schema\": 1", "\"schema\": 7");
        let err = ResultFile::parse(&text).unwrap_err();
        assert!(
            err.contains("schema 7") && err.contains("accepted: 1"),
            "{err}"
        );
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_341_600), "2026-11-22T10:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
