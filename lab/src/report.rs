//! `report.html` and the compare page: one self-contained file each (inline SVG and CSS,
//! one small inline script that only checks the page; no network, no external file).
//!
//! The report opens with the answer: the machine, the verdicts (the best model for each
//! question this run has figures for, with the figure), the comparison table of docs/lab.md
//! and the checks against trusted tools. Then one section per experiment, in the file's
//! order, with every model overlaid in one chart per figure (see `report/sections.rs`); values show
//! on hover. What was not measured, and the full table (folded), close it.
//!
//! The compare page draws the same charts from several result files: a model keeps its
//! colour, and each file its own line style (solid, dashed, dotted) or bar shade, so two
//! machines or versions differ at a glance. Charts are drawn by `plotters` ([`chart`]).
//!
//! Both pages read only the result file (docs/lab.md, "Result file"), so they work on
//! files from other machines and versions.

pub mod chart;
mod sections;

use std::fmt::Write as _;

use crate::comparison;
use crate::results::ResultFile;
use crate::table::{Grid, human, pivot};

/// The checks' default tolerance when a file does not record one (docs/lab.md: ±15%).
const CHECK_TOLERANCE: f64 = 0.15;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;color:#222}\
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;font-size:13px;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.machine{color:#444}.charts{display:flex;flex-wrap:wrap;gap:12px}\
figure.chart{margin:0;border:1px solid #e4e4e4;padding:4px;background:#fff}figure.chart svg{display:block}\
.legend{font-size:12px;max-width:660px}.legend span{margin-right:12px;white-space:nowrap}.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}\
figcaption{font-size:12px;color:#555;max-width:650px}.nodata{color:#a00}.agree{color:#080}.disagree{color:#c00;font-weight:bold}\
ol.verdicts li{margin:.2em 0}nav a{margin-right:.8em}details{margin-top:1.5em}summary{cursor:pointer;font-weight:bold}\
.styles span{margin-right:1.2em}";

/// Records script errors and console errors into the page, then marks each chart with how
/// many of its data points the browser laid out inside the chart (`data-drawn`, to equal
/// `data-points`), so a headless `--dump-dom` can check both.
const CHECK_SCRIPT: &str = "<script>(function(){var errs=[];function note(m){errs.push(String(m));\
var el=document.getElementById('page-errors');if(el){el.textContent=errs.join('\\n');}}\
window.addEventListener('error',function(e){note('error: '+e.message);});\
var ce=console.error;console.error=function(){note('console.error: '+Array.prototype.join.call(arguments,' '));ce.apply(console,arguments);};\
window.addEventListener('load',function(){var pe=document.getElementById('page-errors');if(pe){pe.textContent=errs.join('\\n');}\
var figs=document.querySelectorAll('figure.chart');var drawn=0;figs.forEach(function(f){var svg=f.querySelector('svg');var n=0;\
if(svg){var W=svg.width.baseVal.value,H=svg.height.baseVal.value;f.querySelectorAll('svg .pt').forEach(function(el){var b=el.getBBox();\
var cx=b.x+b.width/2,cy=b.y+b.height/2;if((b.width>0||b.height>0)&&cx>=0&&cx<=W&&cy>=0&&cy<=H){n++;}});}\
f.setAttribute('data-drawn',n);if(n>0&&n==Number(f.getAttribute('data-points'))){drawn++;}});\
document.body.setAttribute('data-charts',figs.length);document.body.setAttribute('data-charts-drawn',drawn);\
document.body.setAttribute('data-errors',errs.length);document.body.setAttribute('data-checked','yes');});})();</script>";

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>{CHECK_SCRIPT}</head><body>",
        escape(title)
    )
}

const FOOT: &str = "<pre id=\"page-errors\" hidden></pre></body></html>\n";

fn machine_line(file: &ResultFile) -> String {
    let m = &file.machine;
    let python = m.python.as_ref().map_or(String::new(), |p| {
        format!(
            " · {} {} (GIL {})",
            p.implementation,
            p.version,
            if p.gil_enabled { "enabled" } else { "disabled" }
        )
    });
    format!(
        "{} · {} cores · {} · {} · {}{python} · host {} · lab {} · started {} · {} · pin: {} · seed {}",
        m.cpu_model,
        m.cores,
        m.kernel,
        m.os,
        m.rustc,
        m.hostname,
        file.lab_version,
        file.started_at,
        if file.config.quick { "quick" } else { "full" },
        file.config.pin,
        file.config.seed
    )
}

/// The whole report for `file`.
pub fn render(file: &ResultFile) -> String {
    let mut html = head(&format!("Switchyard lab, {}", file.started_at));
    let _ = write!(
        html,
        "<h1>Switchyard lab</h1><p class=\"machine\">{}</p>",
        escape(&machine_line(file))
    );
    if let Some(workload) = &file.config.workload {
        let _ = write!(
            html,
            "<p class=\"machine\">Workload: {}</p>",
            escape(workload)
        );
    }
    let answers = comparison::answers(file);
    html.push_str("<h2 id=\"verdicts\">Verdicts: which model to use here</h2>");
    if answers.is_empty() {
        html.push_str("<p>This file has none of the figures the verdicts rest on.</p>");
    } else {
        html.push_str("<ol class=\"verdicts\">");
        for a in &answers {
            let _ = write!(
                html,
                "<li>For <b>{}</b>: <b>{}</b> ({})</li>",
                escape(a.question),
                escape(&a.model),
                escape(&a.because)
            );
        }
        html.push_str("</ol>");
    }
    html.push_str(
        "<h2 id=\"comparison\">The models compared</h2><p>Every cell is a figure of this run; \
         \"when to use\" is derived from the figures it names (docs/lab.md, \"The comparison table\").</p>",
    );
    html.push_str(&grid_html(&comparison::build(file)));
    checks_html(file, &mut html);
    let sections = sections::build(&[sections::Run { label: None, file }]);
    nav(&sections, &mut html);
    for s in &sections {
        html.push_str(&s.html);
    }
    skipped_html(file, &mut html);
    let full = pivot(file);
    let _ = write!(
        html,
        "<details id=\"full-table\"><summary>The full table ({} rows)</summary>{}</details>",
        full.rows.len(),
        grid_html(&full)
    );
    html.push_str(FOOT);
    html
}

/// The compare page for several result files: machines, the side-by-side table with the
/// ratio per row, then the report's charts with one series per file.
pub fn render_compare(files: &[(String, ResultFile)]) -> String {
    let mut html = head("Switchyard lab: comparison");
    html.push_str("<h1>Switchyard lab: comparison</h1><table><tr><th>run</th><th>line style</th><th>machine</th></tr>");
    for (i, (label, file)) in files.iter().enumerate() {
        let _ = write!(
            html,
            "<tr><td>{}: {}</td><td>{}</td><td>{}</td></tr>",
            crate::compare::letter(i),
            escape(label),
            sections::style_name(i),
            escape(&machine_line(file))
        );
    }
    html.push_str("</table>");
    let letters: Vec<String> = (0..files.len()).map(crate::compare::letter).collect();
    let runs: Vec<sections::Run> = files
        .iter()
        .zip(&letters)
        .map(|((_, file), letter)| sections::Run {
            label: Some(letter.as_str()),
            file,
        })
        .collect();
    let sections = sections::build(&runs);
    nav(&sections, &mut html);
    for s in &sections {
        html.push_str(&s.html);
    }
    let grid = crate::compare::compare(files);
    let _ = write!(
        html,
        "<details id=\"full-table\"><summary>The full table side by side ({} rows)</summary>{}</details>",
        grid.rows.len(),
        grid_html(&grid)
    );
    html.push_str(FOOT);
    html
}

fn nav(sections: &[sections::Section], html: &mut String) {
    html.push_str("<nav>Experiments: ");
    for s in sections {
        let _ = write!(html, "<a href=\"#{0}\">{0}</a>", escape(&s.experiment));
    }
    html.push_str("<a href=\"#full-table\">full table</a></nav>");
}

/// One check as the report shows it: whether it agrees, read from the file or, for files
/// from before `agree` was recorded, judged with the file's tolerance or ±15%.
fn check_verdict(check: &serde_json::Value) -> Option<bool> {
    if let Some(agree) = check.get("agree").and_then(serde_json::Value::as_bool) {
        return Some(agree);
    }
    let lab = check.get("lab")?.as_f64()?;
    let tool = check.get("tool_value")?.as_f64()?;
    let tolerance = check
        .get("tolerance")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(CHECK_TOLERANCE);
    (tool > 0.0).then(|| ((lab - tool) / tool).abs() <= tolerance)
}

fn checks_html(file: &ResultFile, html: &mut String) {
    let Ok(serde_json::Value::Array(checks)) = serde_json::to_value(&file.checks) else {
        return;
    };
    if checks.is_empty() {
        return;
    }
    html.push_str(
        "<h2 id=\"checks\">Checks against trusted tools</h2><table><tr><th>row</th><th>lab</th>\
         <th>tool</th><th>tool's figure</th><th>verdict</th></tr>",
    );
    for c in &checks {
        let text = |k: &str| c.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
        let unit = text("unit");
        let figure = |k: &str| {
            c.get(k)
                .and_then(serde_json::Value::as_f64)
                .map_or("-".to_owned(), |v| human(v, unit))
        };
        let verdict = match check_verdict(c) {
            Some(true) => "<span class=\"agree\">agree</span>".to_owned(),
            Some(false) => "<span class=\"disagree\">DISAGREE</span>".to_owned(),
            None => format!("not checked: {}", escape(text("note"))),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{verdict}</td></tr>",
            escape(text("row")),
            figure("lab"),
            escape(text("tool")),
            figure("tool_value"),
        );
    }
    html.push_str("</table>");
}

fn skipped_html(file: &ResultFile, html: &mut String) {
    if file.skipped.is_empty() {
        return;
    }
    html.push_str("<h2 id=\"not-measured\">Not measured</h2><ul>");
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

/// A grid as an HTML table.
pub fn grid_html(grid: &Grid) -> String {
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
    fn escape_neutralises_markup() {
        assert_eq!(escape("<a&\"b\">"), "&lt;a&amp;&quot;b&quot;&gt;");
    }

    #[test]
    fn a_check_is_judged_by_its_recorded_verdict_or_the_tolerance() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(
            check_verdict(&v(r#"{"lab": 1.0, "tool_value": 9.0, "agree": true}"#)),
            Some(true)
        );
        assert_eq!(
            check_verdict(&v(r#"{"lab": 110.0, "tool_value": 100.0}"#)),
            Some(true)
        );
        assert_eq!(
            check_verdict(&v(r#"{"lab": 300.0, "tool_value": 100.0}"#)),
            Some(false)
        );
        assert_eq!(
            check_verdict(&v(
                r#"{"lab": 120.0, "tool_value": 100.0, "tolerance": 0.1}"#
            )),
            Some(false)
        );
        assert_eq!(
            check_verdict(&v(r#"{"lab": 1.0, "tool_value": null}"#)),
            None
        );
    }
}
