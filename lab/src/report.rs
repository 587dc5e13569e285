//! `report.html`: one self-contained file (inline SVG, no network, no script).
//!
//! Sections: the results table; a latency percentile plot per model (lateness against
//! 1/(1-q) on log axes, the classic HdrHistogram plot); scale curves (time and memory per
//! unit against N, log-log); the speed-up curve against its Amdahl fit; IPC cost by message
//! size; the tails of `blocking` and `echo` (one percentile chart each, all models on it,
//! drawn only when the file has them). Sections whose experiment is absent from the file
//! say so.

use std::fmt::Write as _;

use crate::results::{ResultFile, Row};
use crate::stats;
use crate::table::{Grid, pivot};

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 300.0;
const MARGIN: f64 = 56.0;
/// Line colours, one per series (a colour-blind-safe palette, Okabe and Ito).
const PALETTE: &[&str] = &[
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

/// One line of a chart.
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
}

/// The whole report for `file`.
pub fn render(file: &ResultFile) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchyard lab {}</title>\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}\
         table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left}}\
         svg{{background:#fafafa;margin:6px}}</style></head><body>",
        escape(&file.started_at)
    );
    let m = &file.machine;
    let _ = write!(
        html,
        "<h1>Switchyard lab</h1><p>{} · {} cores · {} · {} · {} · started {} · quick: {} · pin: {} · seed {}</p>",
        escape(&m.cpu_model),
        m.cores,
        escape(&m.kernel),
        escape(&m.os),
        escape(&m.rustc),
        escape(&file.started_at),
        file.config.quick,
        file.config.pin,
        file.config.seed
    );
    if let Some(workload) = &file.config.workload {
        let _ = write!(html, "<p>Workload: {}</p>", escape(workload));
    }
    html.push_str("<h2>Results</h2>");
    html.push_str(&grid_html(&pivot(file)));
    if !file.skipped.is_empty() {
        html.push_str("<h3>Not measured</h3><ul>");
        for (s, count) in crate::run::group_skips(&file.skipped) {
            let variant = match (&s.variant, count) {
                (Some(v), 1) => v.clone(),
                (_, 1) => "*".to_owned(),
                (_, n) => format!("{n} variants"),
            };
            let _ = write!(
                html,
                "<li>{} / {} / {}: {}</li>",
                escape(&s.experiment),
                escape(&s.model),
                escape(&variant),
                escape(&s.reason)
            );
        }
        html.push_str("</ul>");
    }
    if !file.checks.is_empty() {
        html.push_str("<h3>Checks against trusted tools</h3><ul>");
        for c in &file.checks {
            let _ = write!(
                html,
                "<li><b>{}</b> {}: lab {} vs <code>{}</code> {}{}</li>",
                c.verdict(),
                escape(&c.row),
                c.lab
                    .map_or("-".to_owned(), |v| crate::table::human(v, &c.unit)),
                escape(&c.tool),
                c.tool_value
                    .map_or("-".to_owned(), |v| crate::table::human(v, &c.unit)),
                c.note
                    .as_ref()
                    .map_or(String::new(), |n| format!(" ({})", escape(n)))
            );
        }
        html.push_str("</ul>");
    }
    latency_section(file, &mut html);
    scale_section(file, &mut html);
    speedup_section(file, &mut html);
    ipc_section(file, &mut html);
    tail_section(
        file,
        &mut html,
        "blocking",
        "others' lateness while one unit blocks for 10 ms every 50 ms",
    );
    tail_section(
        file,
        &mut html,
        "echo",
        "echo latency from the scheduled send time, per rate",
    );
    html.push_str("</body></html>\n");
    html
}

fn grid_html(grid: &Grid) -> String {
    let mut out = String::from("<table><tr>");
    for h in &grid.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>");
    for row in &grid.rows {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// Quantiles drawn for a latency curve.
const QUANTILES: &[f64] = &[
    0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999,
];

/// (1/(1-q), lateness in µs) points for a histogram row.
fn percentile_points(row: &Row) -> Vec<(f64, f64)> {
    if let Some(hist) = row.hdr.as_deref().and_then(stats::decode_histogram) {
        return QUANTILES
            .iter()
            .map(|&q| {
                (
                    1.0 / (1.0 - q),
                    hist.value_at_quantile(q).max(1) as f64 / 1e3,
                )
            })
            .collect();
    }
    [
        (0.5, row.p50),
        (0.9, row.p90),
        (0.99, row.p99),
        (0.999, row.p999),
    ]
    .into_iter()
    .filter_map(|(q, v)| v.map(|v| (1.0 / (1.0 - q), v.max(1.0) / 1e3)))
    .collect()
}

fn latency_section(file: &ResultFile, html: &mut String) {
    html.push_str("<h2>Latency</h2>");
    let rows: Vec<&Row> = file.rows_of("latency").collect();
    if rows.is_empty() {
        html.push_str("<p>No latency rows in this file.</p>");
        return;
    }
    html.push_str(
        "<p>Lateness of a 1 ms sleep by percentile (x: 1/(1-q), so 10 is p90, 1000 is p99.9).</p>",
    );
    for model in models_of(&rows) {
        let series = rows
            .iter()
            .filter(|r| r.model == model)
            .map(|r| Series {
                name: r.variant.clone(),
                points: percentile_points(r),
                dashed: false,
            })
            .collect();
        html.push_str(&chart(
            &format!("latency: {model}"),
            "1/(1-q)",
            "lateness (µs)",
            series,
            true,
            true,
        ));
    }
}

fn scale_section(file: &ResultFile, html: &mut String) {
    html.push_str("<h2>Scale</h2>");
    let rows: Vec<&Row> = file.rows_of("scale").collect();
    if rows.is_empty() {
        html.push_str("<p>No scale rows in this file.</p>");
        return;
    }
    for (metric, label) in [
        ("ns_per_unit", "ns per unit"),
        ("bytes_per_unit", "bytes per unit"),
    ] {
        let series = models_of(&rows)
            .into_iter()
            .map(|model| Series {
                points: rows
                    .iter()
                    .filter(|r| r.model == model && r.metric == metric && r.value > 0.0)
                    .map(|r| (r.n as f64, r.value))
                    .collect(),
                name: model,
                dashed: false,
            })
            .collect();
        html.push_str(&chart(
            &format!("scale: {label}"),
            "N",
            label,
            series,
            true,
            true,
        ));
    }
}

fn speedup_section(file: &ResultFile, html: &mut String) {
    html.push_str("<h2>Speed-up</h2>");
    let rows: Vec<&Row> = file
        .rows_of("speedup")
        .filter(|r| r.metric == "speedup")
        .collect();
    if rows.is_empty() {
        html.push_str(
            "<p>No speedup rows in this file (the experiment arrives with the pool).</p>",
        );
        return;
    }
    let mut series = Vec::new();
    for model in models_of(&rows) {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.model == model)
            .filter_map(|r| Some((r.variant.strip_prefix("n=")?.parse::<f64>().ok()?, r.value)))
            .collect();
        let fitted = file
            .find("speedup", &model, "amdahl", "parallel_fraction")
            .map(|r| r.value)
            .or_else(|| {
                let pts: Vec<(u32, f64)> = points.iter().map(|&(n, s)| (n as u32, s)).collect();
                stats::amdahl_fit(&pts)
            });
        let max_n = points.iter().map(|p| p.0).fold(1.0, f64::max);
        if let Some(p) = fitted {
            series.push(Series {
                name: format!("{model} Amdahl p={p:.3}"),
                points: (1..=max_n as u32)
                    .map(|n| (f64::from(n), stats::amdahl(p, f64::from(n))))
                    .collect(),
                dashed: true,
            });
        }
        series.push(Series {
            name: model,
            points,
            dashed: false,
        });
    }
    html.push_str(&chart(
        "speed-up against Amdahl's fit",
        "workers",
        "speed-up",
        series,
        false,
        false,
    ));
}

fn ipc_section(file: &ResultFile, html: &mut String) {
    html.push_str("<h2>IPC</h2>");
    let rows: Vec<&Row> = file
        .rows_of("ipc")
        .filter(|r| r.metric == "ns_per_op")
        .collect();
    if rows.is_empty() {
        html.push_str(
            "<p>No ipc rows in this file (the experiment arrives with the process model).</p>",
        );
        return;
    }
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let Some((mechanism, size)) = row.variant.rsplit_once('_') else {
            continue;
        };
        let Some(bytes) = parse_size(size) else {
            continue;
        };
        let name = format!("{} {mechanism}", row.model);
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((bytes, row.value)),
            None => series.push(Series {
                name,
                points: vec![(bytes, row.value)],
                dashed: false,
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    html.push_str(&chart(
        "IPC round trip by message size",
        "bytes",
        "ns per op",
        series,
        true,
        true,
    ));
}

/// `8B`, `4KiB`, `64KiB`, `1MiB` (and plain numbers) in bytes.
fn parse_size(text: &str) -> Option<f64> {
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

/// One percentile chart for the `lateness` rows of `experiment` (`blocking`, `echo`): a
/// series per model and variant, so the models' tails sit side by side.
fn tail_section(file: &ResultFile, html: &mut String, experiment: &str, what: &str) {
    let rows: Vec<&Row> = file
        .rows_of(experiment)
        .filter(|r| r.metric == "lateness")
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        html,
        "<h2>{}</h2><p>The {} by percentile (x: 1/(1-q), so 100 is p99).</p>",
        escape(experiment),
        escape(what)
    );
    let series = rows
        .iter()
        .map(|r| Series {
            name: if experiment == "echo" {
                format!("{} {}", r.model, r.variant)
            } else {
                r.model.clone()
            },
            points: percentile_points(r),
            dashed: false,
        })
        .collect();
    html.push_str(&chart(
        &format!("{experiment}: lateness"),
        "1/(1-q)",
        "lateness (µs)",
        series,
        true,
        true,
    ));
}

fn models_of(rows: &[&Row]) -> Vec<String> {
    let mut models: Vec<String> = Vec::new();
    for r in rows {
        if !models.contains(&r.model) {
            models.push(r.model.clone());
        }
    }
    models
}

/// An SVG line chart; log axes where asked (non-positive values are dropped there).
fn chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: Vec<Series>,
    xlog: bool,
    ylog: bool,
) -> String {
    let tx = |v: f64| if xlog { v.log10() } else { v };
    let ty = |v: f64| if ylog { v.log10() } else { v };
    let usable = |&(x, y): &(f64, f64)| {
        (!xlog || x > 0.0) && (!ylog || y > 0.0) && x.is_finite() && y.is_finite()
    };
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(usable)
        .map(|(x, y)| (tx(x), ty(y)))
        .collect();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-size=\"11\">\
         <text x=\"{}\" y=\"16\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
        WIDTH / 2.0,
        escape(title)
    );
    if all.is_empty() {
        svg.push_str("<text x=\"20\" y=\"60\">no data</text></svg>");
        return svg;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in &all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !ylog {
        y0 = y0.min(0.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-9 {
        y1 = y0 + 1.0;
    }
    let (left, right, top, bottom) = (MARGIN, WIDTH - 140.0, 28.0, HEIGHT - 40.0);
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (right - left);
    let py = |y: f64| bottom - (y - y0) / (y1 - y0) * (bottom - top);
    let _ = write!(
        svg,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
        right - left,
        bottom - top
    );
    let label = |v: f64, log: bool| {
        let v = if log { 10f64.powf(v) } else { v };
        if v.abs() >= 1e4 || (v != 0.0 && v.abs() < 1e-2) {
            format!("{v:.0e}")
        } else {
            format!("{}", (v * 100.0).round() / 100.0)
        }
    };
    for i in 0..=4 {
        let f = f64::from(i) / 4.0;
        let (xv, yv) = (x0 + f * (x1 - x0), y0 + f * (y1 - y0));
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            px(xv),
            bottom + 14.0,
            label(xv, xlog),
            left - 4.0,
            py(yv) + 4.0,
            label(yv, ylog)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
        (left + right) / 2.0,
        HEIGHT - 8.0,
        escape(&format!("{xlabel}{}", if xlog { " (log)" } else { "" })),
        (top + bottom) / 2.0,
        (top + bottom) / 2.0,
        escape(&format!("{ylabel}{}", if ylog { " (log)" } else { "" }))
    );
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let points: Vec<String> = s
            .points
            .iter()
            .filter(|p| usable(p))
            .map(|&(x, y)| format!("{:.1},{:.1}", px(tx(x)), py(ty(y))))
            .collect();
        let dash = if s.dashed {
            " stroke-dasharray=\"5,3\""
        } else {
            ""
        };
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
            points.join(" ")
        );
        for p in &points {
            if let Some((x, y)) = p.split_once(',') {
                let _ = write!(
                    svg,
                    "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{colour}\"/>"
                );
            }
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{}</text>",
            right + 8.0,
            top + 14.0 * (i as f64 + 1.0),
            escape(&s.name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_sizes_parse_in_bytes() {
        assert_eq!(parse_size("8B"), Some(8.0));
        assert_eq!(parse_size("4KiB"), Some(4096.0));
        assert_eq!(parse_size("1MiB"), Some(1_048_576.0));
    }

    #[test]
    fn a_chart_without_data_says_so() {
        let svg = chart("t", "x", "y", vec![], true, true);
        assert!(svg.contains("no data") && svg.ends_with("</svg>"));
    }

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(escape("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
    }
}
