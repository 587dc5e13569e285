//! One section per experiment: which charts each experiment gets, built from the rows of
//! one or several result files.
//!
//! | experiment | charts |
//! |---|---|
//! | `switch`, `spawn` | bars per variant, log y |
//! | `scale` | time and memory per unit against N, log-log |
//! | `latency` | one percentile curve chart per variant (idle, loaded), p50/p99/p99.9 marked |
//! | `speedup` | speed-up against n, each model's Amdahl fit dashed, the ideal S = n |
//! | `ipc` | round trip and bandwidth against message size, log-log |
//! | `blocking` | percentile curves of the others' lateness |
//! | `fairness` | Jain's index, and the longest starvation |
//! | `echo` | percentile curves per rate, and throughput |
//! | `sharing` | cost per increment against units, one chart per method |
//! | any other | bars per metric, percentile curves where rows have them |
//!
//! Models named `MODEL[KNOB=V]` (`run --vary`) appear in every chart like any model, and a
//! last section shows each knob value's figures as ratios to the first value's.

use std::fmt::Write as _;

use super::chart::{Axis, Chart, Point, Series, percentile_marks};
use super::escape;
use crate::results::{ResultFile, Row};
use crate::stats;
use crate::table::human;

/// One result file and, on the compare page, its label.
pub struct Run<'a> {
    /// The file's label (compare only).
    pub label: Option<&'a str>,
    /// The file.
    pub file: &'a ResultFile,
}

/// One experiment's section.
pub struct Section {
    /// The experiment (the section's anchor).
    pub experiment: String,
    /// Its HTML.
    pub html: String,
}

/// Palette index of the grey used for references (the ideal speed-up).
const GREY: usize = 7;

/// How the compare page draws file `i`'s lines.
const RUN_DASH: &[Option<(u32, u32)>] = &[None, Some((8, 4)), Some((2, 4)), Some((14, 4))];
/// How the compare page shades file `i`'s bars.
const RUN_SHADE: &[f64] = &[1.0, 0.55, 0.3, 0.75];

/// The line style of file `i` in words.
pub fn style_name(i: usize) -> &'static str {
    [
        "solid, full bars",
        "dashed, lighter bars",
        "dotted, palest bars",
        "long dashes",
    ][i % 4]
}

struct Ctx<'a> {
    runs: &'a [Run<'a>],
    models: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn colour(&self, model: &str) -> usize {
        let i = self.models.iter().position(|m| m == model).unwrap_or(0);
        // Skip the reference grey.
        if i >= GREY { i + 1 } else { i }
    }

    fn name(&self, run: usize, model: &str) -> String {
        match self.runs[run].label {
            Some(label) if self.runs.len() > 1 => format!("{model} · {}", short(label)),
            _ => model.to_owned(),
        }
    }

    fn series(&self, run: usize, model: &str, points: Vec<Point>) -> Series {
        Series {
            name: self.name(run, model),
            colour: self.colour(model),
            points,
            dash: RUN_DASH[run % RUN_DASH.len()],
            shade: RUN_SHADE[run % RUN_SHADE.len()],
            in_legend: true,
        }
    }

    /// Rows of `experiment` passing `keep`, with their file's index.
    fn rows(&self, experiment: &str, keep: impl Fn(&Row) -> bool) -> Vec<(usize, &'a Row)> {
        self.runs
            .iter()
            .enumerate()
            .flat_map(|(i, run)| {
                let file: &'a ResultFile = run.file;
                file.results
                    .iter()
                    .filter(move |r| r.experiment == experiment)
                    .map(move |r| (i, r))
            })
            .filter(|(_, r)| keep(r))
            .collect()
    }

    /// (run, model) pairs, by model and then file, so one model's figures from each file
    /// stand side by side.
    fn sources(&self, rows: &[(usize, &Row)]) -> Vec<(usize, String)> {
        let mut out: Vec<(usize, String)> = Vec::new();
        for (run, r) in rows {
            if !out.iter().any(|(i, m)| i == run && *m == r.model) {
                out.push((*run, r.model.clone()));
            }
        }
        out.sort_by_key(|(run, model)| (self.colour(model), *run));
        out
    }
}

/// The label's first word (a path's file name), for legends.
fn short(label: &str) -> &str {
    let first = label.split(" (").next().unwrap_or(label);
    first.rsplit('/').next().unwrap_or(first)
}

fn tip(series: &str, r: &Row) -> String {
    let spread = if r.max > r.min && r.samples > 1 {
        format!(
            " ({} .. {} over {} samples)",
            human(r.min, &r.unit),
            human(r.max, &r.unit),
            r.samples
        )
    } else {
        String::new()
    };
    format!(
        "{series}, {} {}: {}{spread}",
        r.variant,
        r.metric,
        human(r.value, &r.unit)
    )
}

/// Every experiment of the files, in first-seen order, as sections.
pub fn build(runs: &[Run]) -> Vec<Section> {
    let mut experiments: Vec<String> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    for run in runs {
        for r in &run.file.results {
            if !experiments.contains(&r.experiment) {
                experiments.push(r.experiment.clone());
            }
            if !models.contains(&r.model) {
                models.push(r.model.clone());
            }
        }
    }
    let ctx = Ctx { runs, models };
    let mut out: Vec<Section> = experiments
        .iter()
        .map(|e| {
            let (what, charts) = charts_of(&ctx, e);
            let mut html = format!(
                "<h2 id=\"{0}\">{0}</h2><p>{1}</p><div class=\"charts\">",
                escape(e),
                escape(what)
            );
            for c in charts {
                html.push_str(&c.to_html());
            }
            html.push_str("</div>");
            Section {
                experiment: e.clone(),
                html,
            }
        })
        .collect();
    if runs.len() == 1
        && let Some(html) = knobs(runs[0].file)
    {
        out.push(Section {
            experiment: "knobs".to_owned(),
            html,
        });
    }
    out
}

fn charts_of(ctx: &Ctx, experiment: &str) -> (&'static str, Vec<Chart>) {
    match experiment {
        "switch" => (
            "One yield, and a ping-pong round trip between two units on one core and across two (lower is better).",
            vec![bars(
                ctx,
                experiment,
                "ns_per_op",
                "switch: cost per operation",
                true,
            )],
        ),
        "spawn" => (
            "Creating a unit from inside a running one and joining it (lower is better).",
            vec![bars(
                ctx,
                experiment,
                "ns_per_op",
                "spawn: cost per unit",
                true,
            )],
        ),
        "scale" => (
            "N idle units, each N in a fresh process: time to create them and resident memory, per unit (lower is better).",
            vec![
                curve(
                    ctx,
                    experiment,
                    "ns_per_unit",
                    "scale: creation time per unit",
                    n_of,
                    Axis::unit("N units", "", true),
                    true,
                    None,
                ),
                curve(
                    ctx,
                    experiment,
                    "bytes_per_unit",
                    "scale: memory per unit",
                    n_of,
                    Axis::unit("N units", "", true),
                    true,
                    None,
                ),
            ],
        ),
        "latency" => (
            "Lateness of a 1 ms sleep on the model's own timer, by percentile, idle and with 10,000 units busy (lower is better).",
            variants(ctx, experiment, "lateness")
                .iter()
                .map(|v| percentiles(ctx, experiment, Some(v), &format!("latency: {v}")))
                .collect(),
        ),
        "speedup" => (
            "Speed-up of 2,000 CPU chunks on n workers (higher is better); dashed: each model's Amdahl fit.",
            vec![speedup(ctx)],
        ),
        "ipc" => (
            "Round trips of a message between two units, by message size and mechanism.",
            vec![
                curve(
                    ctx,
                    experiment,
                    "ns_per_op",
                    "ipc: round trip by message size",
                    size_of,
                    Axis::unit("message size", "B", true),
                    true,
                    Some(mechanism),
                ),
                curve(
                    ctx,
                    experiment,
                    "bytes_per_sec",
                    "ipc: bandwidth by message size",
                    size_of,
                    Axis::unit("message size", "B", true),
                    true,
                    Some(mechanism),
                ),
            ],
        ),
        "blocking" => (
            "The others' lateness while one unit makes a blocking 10 ms call every 50 ms, by percentile (lower is better).",
            vec![percentiles(
                ctx,
                experiment,
                None,
                "blocking: others' lateness",
            )],
        ),
        "fairness" => (
            "1,000 units competing for the CPU: Jain's index (1 is perfectly fair) and the longest any unit waited.",
            vec![
                bars(
                    ctx,
                    experiment,
                    "jain_index",
                    "fairness: Jain's index (higher is better)",
                    false,
                ),
                bars(
                    ctx,
                    experiment,
                    "max_starvation",
                    "fairness: longest starvation (lower is better)",
                    true,
                ),
            ],
        ),
        "echo" => {
            let mut charts: Vec<Chart> = variants(ctx, experiment, "lateness")
                .iter()
                .map(|v| percentiles(ctx, experiment, Some(v), &format!("echo {v}: latency")))
                .collect();
            charts.push(bars(
                ctx,
                experiment,
                "ops_per_sec",
                "echo: requests served per second",
                true,
            ));
            if !ctx
                .rows(experiment, |r| r.metric == "cpu_ns_per_op")
                .is_empty()
            {
                charts.push(bars(
                    ctx,
                    experiment,
                    "cpu_ns_per_op",
                    "echo: server CPU per request",
                    true,
                ));
            }
            (
                "TCP echo on loopback at a fixed request rate, latency from the scheduled send time (corrected for coordinated omission).",
                charts,
            )
        }
        "sharing" => {
            let mut methods: Vec<String> = Vec::new();
            for (_, r) in ctx.rows(experiment, |r| r.metric == "ns_per_op") {
                let method = r.variant.split(',').next().unwrap_or("").to_owned();
                if !methods.contains(&method) {
                    methods.push(method);
                }
            }
            let charts = methods
                .iter()
                .map(|m| {
                    let prefix = format!("{m},");
                    curve_where(
                        ctx,
                        experiment,
                        &|r: &Row| r.metric == "ns_per_op" && r.variant.starts_with(&prefix),
                        &format!("sharing by {m}: cost per increment"),
                        units_of,
                        Axis::unit("units", "", true),
                        Axis::unit("per increment", "ns", true),
                        None,
                    )
                })
                .collect();
            (
                "1,000,000 increments of one counter by 1 to 16 units: by a lock, an atomic, or messages to one owner (lower is better).",
                charts,
            )
        }
        _ => {
            let mut charts = Vec::new();
            for metric in metrics(ctx, experiment) {
                let rows = ctx.rows(experiment, |r| r.metric == metric);
                if rows.iter().any(|(_, r)| r.p99.is_some()) {
                    for v in variants(ctx, experiment, &metric) {
                        charts.push(percentiles(
                            ctx,
                            experiment,
                            Some(&v),
                            &format!("{experiment} {v}: {metric}"),
                        ));
                    }
                } else {
                    let log = !matches!(metric.as_str(), "speedup" | "jain_index");
                    charts.push(bars(
                        ctx,
                        experiment,
                        &metric,
                        &format!("{experiment}: {metric}"),
                        log,
                    ));
                }
            }
            ("", charts)
        }
    }
}

fn variants(ctx: &Ctx, experiment: &str, metric: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, r) in ctx.rows(experiment, |r| r.metric == metric) {
        if !out.contains(&r.variant) {
            out.push(r.variant.clone());
        }
    }
    out
}

fn metrics(ctx: &Ctx, experiment: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, r) in ctx.rows(experiment, |_| true) {
        if !out.contains(&r.metric) {
            out.push(r.metric.clone());
        }
    }
    out
}

fn unit_of(rows: &[(usize, &Row)]) -> String {
    rows.first()
        .map_or_else(String::new, |(_, r)| r.unit.clone())
}

/// Grouped bars: one group per variant, one bar per model (and file).
fn bars(ctx: &Ctx, experiment: &str, metric: &str, title: &str, log: bool) -> Chart {
    let rows = ctx.rows(experiment, |r| r.metric == metric);
    let names = variants(ctx, experiment, metric);
    let series = ctx
        .sources(&rows)
        .into_iter()
        .map(|(run, model)| {
            let name = ctx.name(run, &model);
            let points = rows
                .iter()
                .filter(|(i, r)| *i == run && r.model == model)
                .filter_map(|(_, r)| {
                    let x = names.iter().position(|v| *v == r.variant)? as f64;
                    Some(Point {
                        x,
                        y: r.value,
                        tip: tip(&name, r),
                    })
                })
                .collect();
            ctx.series(run, &model, points)
        })
        .collect();
    Chart {
        title: title.to_owned(),
        x: Axis::categories("variant", names),
        y: Axis::unit(metric, &unit_of(&rows), log),
        series,
        bars: true,
        marks: vec![],
        caption: String::new(),
    }
}

fn n_of(r: &Row) -> Option<f64> {
    r.variant
        .strip_prefix("N=")
        .and_then(|n| n.parse().ok())
        .or(Some(r.n as f64))
}

fn units_of(r: &Row) -> Option<f64> {
    r.variant
        .split(',')
        .find_map(|p| p.strip_prefix("units=")?.parse().ok())
}

/// `channel_4KiB` -> 4096.
fn size_of(r: &Row) -> Option<f64> {
    parse_size(r.variant.rsplit_once('_')?.1)
}

fn mechanism(r: &Row) -> String {
    r.variant
        .rsplit_once('_')
        .map_or(r.variant.clone(), |(m, _)| m.to_owned())
}

/// `8B`, `4KiB`, `64KiB`, `1MiB` (and plain numbers) in bytes.
pub fn parse_size(text: &str) -> Option<f64> {
    let (digits, factor) = if let Some(d) = text.strip_suffix("MiB") {
        (d, 1_048_576.0)
    } else if let Some(d) = text.strip_suffix("KiB") {
        (d, 1_024.0)
    } else if let Some(d) = text.strip_suffix('B') {
        (d, 1.0)
    } else {
        (text, 1.0)
    };
    digits.parse::<f64>().ok().map(|d| d * factor)
}

#[allow(clippy::too_many_arguments)]
fn curve(
    ctx: &Ctx,
    experiment: &str,
    metric: &str,
    title: &str,
    x_of: fn(&Row) -> Option<f64>,
    x: Axis,
    ylog: bool,
    split: Option<fn(&Row) -> String>,
) -> Chart {
    let rows = ctx.rows(experiment, |r| r.metric == metric);
    let y = Axis::unit(metric, &unit_of(&rows), ylog);
    curve_where(
        ctx,
        experiment,
        &|r: &Row| r.metric == metric,
        title,
        x_of,
        x,
        y,
        split,
    )
}

/// Lines of y against `x_of(row)`, one per model (and file), or per model and `split(row)`.
#[allow(clippy::too_many_arguments)]
fn curve_where(
    ctx: &Ctx,
    experiment: &str,
    keep: &dyn Fn(&Row) -> bool,
    title: &str,
    x_of: fn(&Row) -> Option<f64>,
    x: Axis,
    y: Axis,
    split: Option<fn(&Row) -> String>,
) -> Chart {
    let rows = ctx.rows(experiment, keep);
    let mut series: Vec<(usize, String, String, Series)> = Vec::new();
    for &(run, r) in &rows {
        let part = split.map(|f| f(r)).unwrap_or_default();
        let Some(xv) = x_of(r) else { continue };
        let index = match series
            .iter()
            .position(|(i, m, p, _)| *i == run && *m == r.model && *p == part)
        {
            Some(i) => i,
            None => {
                let mut s = ctx.series(run, &r.model, vec![]);
                if !part.is_empty() {
                    s.name = format!("{} {part}", s.name);
                    // Model and mechanism pairs: a colour each.
                    s.colour = series.iter().filter(|(i, ..)| *i == run).count();
                    if s.colour >= GREY {
                        s.colour += 1;
                    }
                }
                series.push((run, r.model.clone(), part.clone(), s));
                series.len() - 1
            }
        };
        let s = &mut series[index].3;
        let t = tip(&s.name, r);
        s.points.push(Point {
            x: xv,
            y: r.value,
            tip: t,
        });
    }
    let series = series
        .into_iter()
        .map(|(.., mut s)| {
            s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
            s
        })
        .collect();
    Chart {
        title: title.to_owned(),
        x,
        y,
        series,
        bars: false,
        marks: vec![],
        caption: String::new(),
    }
}

/// Quantiles drawn for a latency curve from its histogram.
const QUANTILES: &[f64] = &[
    0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999,
];

/// (1/(1-q), value, label) points of a histogram row: from the encoded histogram when the
/// file has it, else from the row's p50 .. p99.9.
fn percentile_points(r: &Row) -> Vec<(f64, f64, String)> {
    let label = |q: f64| super::chart::percentile_label(1.0 / (1.0 - q));
    if let Some(hist) = r.hdr.as_deref().and_then(stats::decode_histogram) {
        let total = hist.len() as f64;
        return QUANTILES
            .iter()
            // A quantile finer than one sample in the histogram repeats the max.
            .filter(|&&q| q == 0.0 || (1.0 - q) * total >= 1.0)
            .map(|&q| (1.0 / (1.0 - q), hist.value_at_quantile(q) as f64, label(q)))
            .collect();
    }
    [(0.5, r.p50), (0.9, r.p90), (0.99, r.p99), (0.999, r.p999)]
        .into_iter()
        .filter_map(|(q, v)| Some((1.0 / (1.0 - q), v?, label(q))))
        .collect()
}

/// Percentile curves of the histogram rows of `experiment` (one variant, or all).
fn percentiles(ctx: &Ctx, experiment: &str, variant: Option<&str>, title: &str) -> Chart {
    let rows = ctx.rows(experiment, |r| {
        (r.p50.is_some() || r.hdr.is_some()) && variant.is_none_or(|v| r.variant == v)
    });
    let several_variants = variant.is_none() && {
        let mut v: Vec<&str> = rows.iter().map(|(_, r)| r.variant.as_str()).collect();
        v.dedup();
        v.len() > 1
    };
    let series = rows
        .iter()
        .map(|&(run, r)| {
            let mut name = ctx.name(run, &r.model);
            if several_variants {
                name = format!("{name} {}", r.variant);
            }
            let points = percentile_points(r)
                .into_iter()
                .map(|(x, y, q)| Point {
                    x,
                    y,
                    tip: format!("{name}, {}: {q} = {}", r.variant, human(y, &r.unit)),
                })
                .collect();
            let mut s = ctx.series(run, &r.model, points);
            s.name = name;
            s
        })
        .collect();
    Chart {
        title: title.to_owned(),
        x: Axis::percentile(),
        y: Axis::unit("lateness", &unit_of(&rows), true),
        series,
        bars: false,
        marks: percentile_marks(),
        caption: "x: the percentile on a log scale of 1/(1-q), so each decade adds a nine; \
                  the dashed lines mark p50, p99 and p99.9."
            .to_owned(),
    }
}

fn speedup(ctx: &Ctx) -> Chart {
    let rows = ctx.rows("speedup", |r| r.metric == "speedup");
    let mut chart = curve_where(
        ctx,
        "speedup",
        &|r: &Row| r.metric == "speedup",
        "speedup: against workers, with Amdahl's fit",
        |r| r.variant.strip_prefix("n=")?.parse().ok(),
        Axis::unit("workers n", "", false),
        Axis::unit("speed-up T1/Tn", "x", false),
        None,
    );
    let max_n = rows
        .iter()
        .filter_map(|(_, r)| r.variant.strip_prefix("n=")?.parse::<u32>().ok())
        .max()
        .unwrap_or(1);
    let mut fits = Vec::new();
    let mut caption = Vec::new();
    for (run, model) in ctx.sources(&rows) {
        let file = ctx.runs[run].file;
        let points: Vec<(u32, f64)> = rows
            .iter()
            .filter(|(i, r)| *i == run && r.model == model)
            .filter_map(|(_, r)| Some((r.variant.strip_prefix("n=")?.parse().ok()?, r.value)))
            .collect();
        let Some(p) = file
            .find("speedup", &model, "amdahl", "parallel_fraction")
            .map(|r| r.value)
            .or_else(|| stats::amdahl_fit(&points))
        else {
            continue;
        };
        let name = ctx.name(run, &model);
        caption.push(format!("{name} p = {p:.3}"));
        if ctx.runs.len() > 1 {
            // One line style per file already; the fits stay in the caption.
            continue;
        }
        let mut s = ctx.series(run, &model, vec![]);
        s.name = format!("{name} Amdahl fit");
        s.dash = Some((6, 4));
        s.in_legend = false;
        s.points = (1..=max_n)
            .map(|n| {
                let y = stats::amdahl(p, f64::from(n));
                Point {
                    x: f64::from(n),
                    y,
                    tip: format!("{name} Amdahl fit p = {p:.3}: S({n}) = {y:.2}"),
                }
            })
            .collect();
        fits.push(s);
    }
    chart.series.extend(fits);
    chart.series.push(Series {
        name: "ideal S = n".to_owned(),
        colour: GREY,
        points: (1..=max_n)
            .map(|n| Point {
                x: f64::from(n),
                y: f64::from(n),
                tip: format!("ideal: S({n}) = {n}"),
            })
            .collect(),
        dash: Some((3, 3)),
        shade: 0.8,
        in_legend: true,
    });
    chart.caption = format!(
        "Dashed, in each model's colour: its Amdahl fit. Parallel fraction p: {}.",
        caption.join(", ")
    );
    chart
}

/// `--vary` columns: for each `MODEL[KNOB=..]` family, each value's figures as ratios to the
/// first value's, one bar group per row.
fn knobs(file: &ResultFile) -> Option<String> {
    let mut families: Vec<(String, Vec<String>)> = Vec::new();
    for r in &file.results {
        let Some((base, rest)) = r.model.split_once('[') else {
            continue;
        };
        let knob = rest.split('=').next().unwrap_or(rest);
        let family = format!("{base}.{knob}");
        match families.iter_mut().find(|(f, _)| *f == family) {
            Some((_, models)) if models.contains(&r.model) => {}
            Some((_, models)) => models.push(r.model.clone()),
            None => families.push((family, vec![r.model.clone()])),
        }
    }
    if families.is_empty() {
        return None;
    }
    let mut html = String::from(
        "<h2 id=\"knobs\">knobs</h2><p>Each <code>--vary</code> value's figures as ratios to the \
         first value's (1 = no effect; below 1 the figure went down, which is better except for \
         speedup, jain_index and ops_per_sec). Hover a bar for the row and both figures.</p><div class=\"charts\">",
    );
    for (family, models) in &families {
        let first = &models[0];
        let mut keys: Vec<(&str, &str, &str)> = Vec::new();
        for r in file.results.iter().filter(|r| models.contains(&r.model)) {
            let key = (r.experiment.as_str(), r.variant.as_str(), r.metric.as_str());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let series = models
            .iter()
            .enumerate()
            .map(|(i, model)| Series {
                name: model.clone(),
                colour: if i >= GREY { i + 1 } else { i },
                points: keys
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &(e, v, m))| {
                        let base = file.find(e, first, v, m)?;
                        let row = file.find(e, model, v, m)?;
                        (base.value != 0.0).then(|| {
                            let ratio = row.value / base.value;
                            Point {
                                x: k as f64,
                                y: ratio,
                                tip: format!(
                                    "{model}, {e} / {v} / {m}: {} vs {} ({ratio:.2}x)",
                                    human(row.value, &row.unit),
                                    human(base.value, &base.unit)
                                ),
                            }
                        })
                    })
                    .collect(),
                dash: None,
                shade: 1.0,
                in_legend: true,
            })
            .collect();
        let chart = Chart {
            title: format!("{family}: figures relative to {first}"),
            x: Axis::categories(
                "row (see the list below)",
                (1..=keys.len()).map(|k| k.to_string()).collect(),
            ),
            y: Axis::unit("ratio to the first value", "x", false),
            series,
            bars: true,
            marks: vec![],
            caption: String::new(),
        };
        html.push_str(&chart.to_html());
        html.push_str("<ol class=\"rows\">");
        for (e, v, m) in &keys {
            let _ = write!(
                html,
                "<li>{} / {} / {}</li>",
                escape(e),
                escape(v),
                escape(m)
            );
        }
        html.push_str("</ol>");
    }
    html.push_str("</div>");
    Some(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_sizes_parse_in_bytes() {
        assert_eq!(parse_size("8B"), Some(8.0));
        assert_eq!(parse_size("4KiB"), Some(4096.0));
        assert_eq!(parse_size("1MiB"), Some(1_048_576.0));
        assert_eq!(parse_size("big"), None);
    }

    #[test]
    fn short_labels_keep_the_file_name() {
        assert_eq!(short("docs/results/a.json (vm, 2026)"), "a.json");
        assert_eq!(short("b.json"), "b.json");
    }
}
