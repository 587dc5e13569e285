//! The report and the compare page in a real browser (headless Chromium, Debian's
//! `chromium` package): each page loads with no script or console error, every chart has
//! drawn data (the page's own check script writes what the browser laid out into
//! `data-drawn`, read back through `--dump-dom`), the verdicts come before the first
//! experiment, every experiment has a chart, and a screenshot is kept under
//! `target/tmp/lab-report/` for a person to look at.
//!
//! Inputs: a real full run (`docs/results/2026-11-22-vm-2core.json`) and a synthetic file
//! built from it with `checks` verdicts, `sharing` rows and `--vary` columns.
//!
//! Skips, saying so, when no `chromium` is installed (CI installs it:
//! `apt-get install -y chromium`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const LAB: &str = env!("CARGO_BIN_EXE_switchyard-lab");

/// A browser that does not answer in this long is killed and the test fails.
const BROWSER_LIMIT: Duration = Duration::from_secs(120);

fn chromium() -> Option<PathBuf> {
    let candidates = [std::env::var("LAB_CHROMIUM").ok(), Some("chromium".into())];
    candidates
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn real_run() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results/2026-11-22-vm-2core.json")
}

/// Runs the browser headless on `page` with `extra` arguments; its stdout.
fn browse(chromium: &Path, page: &Path, profile: &str, extra: &[&str]) -> String {
    let profile = out_dir().join(profile);
    let _ = std::fs::remove_dir_all(&profile);
    let stdout = out_dir().join(format!(
        "{}.stdout",
        page.file_name().unwrap().to_string_lossy()
    ));
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if started.elapsed() > BROWSER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish with {} in {BROWSER_LIMIT:?}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A profile is a few MB of caches: not worth keeping.
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::read_to_string(&stdout).unwrap()
}

/// The value of `attr="..."` on the `<body>` of a dumped DOM.
fn body_attr(dom: &str, attr: &str) -> Option<String> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let start = body.find(&format!("{attr}=\""))? + attr.len() + 2;
    Some(body[start..start + body[start..].find('"')?].to_owned())
}

/// Loads `page`, checks what the browser drew, keeps a screenshot; the DOM.
fn check_page(chromium: &Path, page: &Path, name: &str) -> String {
    let size = std::fs::metadata(page).unwrap().len();
    assert!(size < 4 << 20, "{name} is {size} bytes: over a few MB");
    let html = std::fs::read_to_string(page).unwrap();
    // `xmlns="http://www.w3.org/2000/svg"` names a namespace; nothing loads from it.
    for remote in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "url(http",
        "url(//",
        "@import",
    ] {
        assert!(
            !html.contains(remote),
            "{name} reaches the network ({remote})"
        );
    }
    let dom = browse(chromium, page, &format!("{name}-profile"), &["--dump-dom"]);
    assert_eq!(
        body_attr(&dom, "data-checked").as_deref(),
        Some("yes"),
        "{name}: the check script did not run"
    );
    let errors = dom
        .find("<pre id=\"page-errors\"")
        .map(|i| &dom[i..i + dom[i..].find("</pre>").unwrap_or(0)])
        .unwrap_or("");
    assert_eq!(
        body_attr(&dom, "data-errors").as_deref(),
        Some("0"),
        "{name}: {errors}"
    );
    let charts: usize = body_attr(&dom, "data-charts").unwrap().parse().unwrap();
    let drawn: usize = body_attr(&dom, "data-charts-drawn")
        .unwrap()
        .parse()
        .unwrap();
    assert!(charts > 0, "{name}: no charts");
    assert_eq!(
        drawn,
        charts,
        "{name}: {} charts drew nothing",
        charts - drawn
    );
    assert!(
        !dom.contains("data-drawn=\"0\""),
        "{name}: a chart drew nothing"
    );
    assert!(
        !dom.contains("class=\"nodata\""),
        "{name}: a chart has no figures"
    );
    let shot = out_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    browse(
        chromium,
        page,
        &format!("{name}-shot"),
        &[
            "--window-size=1400,9000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: no screenshot");
    eprintln!(
        "{name}: {size} bytes, {charts} charts drawn, screenshot {}",
        shot.display()
    );
    dom
}

/// Each experiment of the file has a section with at least one chart.
fn every_experiment_has_a_chart(dom: &str, file: &Value, name: &str) {
    let mut experiments: Vec<&str> = Vec::new();
    for r in file["results"].as_array().unwrap() {
        let e = r["experiment"].as_str().unwrap();
        if !experiments.contains(&e) {
            experiments.push(e);
        }
    }
    for e in experiments {
        let start = dom
            .find(&format!("<h2 id=\"{e}\">"))
            .unwrap_or_else(|| panic!("{name}: no section for {e}"));
        let rest = &dom[start + 5..];
        let end = rest
            .find("<h2 ")
            .or_else(|| rest.find("<details"))
            .unwrap_or(rest.len());
        assert!(
            rest[..end].contains("<figure class=\"chart\""),
            "{name}: {e} has no chart"
        );
    }
}

fn row(
    experiment: &str,
    model: &str,
    variant: &str,
    metric: &str,
    value: f64,
    unit: &str,
) -> Value {
    json!({"experiment": experiment, "model": model, "variant": variant, "metric": metric,
           "value": value, "unit": unit, "n": 1000000, "samples": 5,
           "min": value * 0.95, "median": value, "max": value * 1.1,
           "p50": null, "p90": null, "p99": null, "p999": null, "max_latency": null, "note": null})
}

/// The real run plus what issue 8 adds: judged checks, `sharing`, `--vary` columns.
fn synthetic(real: &Value) -> Value {
    let mut file = real.clone();
    let results = file["results"].as_array_mut().unwrap();
    let pool: Vec<Value> = results
        .iter()
        .filter(|r| r["model"] == "pool")
        .cloned()
        .collect();
    for (i, value) in ["0", "3"].iter().enumerate() {
        for r in pool.iter().filter(|r| r["unit"] == "ns") {
            let mut r = r.clone();
            r["model"] = json!(format!("pool[lifo_poll_bound={value}]"));
            // A made-up effect, different per value, so the ratios are not all 1.
            let factor = 1.0 + 0.2 * (i as f64 + 1.0);
            for k in ["value", "median", "min", "max"] {
                if let Some(v) = r[k].as_f64() {
                    r[k] = json!(v * factor);
                }
            }
            results.push(r);
        }
    }
    for (m, base) in [
        ("loop", 20.0),
        ("pool", 35.0),
        ("thread", 60.0),
        ("process", 90.0),
    ] {
        for (method, k) in [("lock", 1.0), ("atomic", 0.4), ("message", 3.0)] {
            for units in [1, 2, 4, 16] {
                let value = base * k * (1.0 + f64::from(units).log2() * 0.5);
                results.push(row(
                    "sharing",
                    m,
                    &format!("{method},units={units}"),
                    "ns_per_op",
                    value,
                    "ns",
                ));
            }
        }
    }
    file["checks"] = json!([
        {"row": "switch / thread / pingpong_same_core / ns_per_op", "tool": "taskset -c 0 perf bench sched pipe -T -l 50000",
         "lab": 3332.0, "tool_value": 3838.0, "unit": "ns", "tolerance": 0.15, "agree": true, "note": null},
        {"row": "switch / thread / pingpong_cross_core / ns_per_op", "tool": "taskset -c 0,1 perf bench sched pipe -T -l 5000",
         "lab": 3094.0, "tool_value": 12196.0, "unit": "ns", "tolerance": 0.15, "agree": false, "note": null}
    ]);
    file["config"]["models"].as_array_mut().unwrap().extend([
        json!("pool[lifo_poll_bound=0]"),
        json!("pool[lifo_poll_bound=3]"),
    ]);
    file
}

fn lab(args: &[&str]) {
    let out = Command::new(LAB).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_report_and_the_compare_page_render_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED: no chromium found (install Debian's: apt-get install -y chromium); \
             the report was not checked in a browser"
        );
        return;
    };
    let dir = out_dir();
    let real_path = real_run();
    let real: Value = serde_json::from_str(&std::fs::read_to_string(&real_path).unwrap()).unwrap();
    let synth = synthetic(&real);
    let synth_path = dir.join("synthetic.json");
    std::fs::write(&synth_path, serde_json::to_string_pretty(&synth).unwrap()).unwrap();

    let report = dir.join("report.html");
    lab(&[
        "report",
        real_path.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    let dom = check_page(&chromium, &report, "report");
    every_experiment_has_a_chart(&dom, &real, "report");
    let verdicts = dom.find("id=\"verdicts\"").expect("verdicts");
    let table = dom.find("id=\"comparison\"").expect("comparison table");
    let first = dom.find("<h2 id=\"switch\">").expect("switch section");
    assert!(
        verdicts < table && table < first,
        "the verdicts and the table come first"
    );
    assert!(
        dom.contains("<details id=\"full-table\">"),
        "the full table is folded at the end"
    );

    let synth_report = dir.join("synthetic-report.html");
    lab(&[
        "report",
        synth_path.to_str().unwrap(),
        "--out",
        synth_report.to_str().unwrap(),
    ]);
    let dom = check_page(&chromium, &synth_report, "synthetic-report");
    every_experiment_has_a_chart(&dom, &synth, "synthetic-report");
    assert!(
        dom.contains("<h2 id=\"knobs\">"),
        "the --vary columns get their section"
    );
    assert!(
        dom.contains("DISAGREE") && dom.contains(">agree<"),
        "checks show their verdicts"
    );

    let compare = dir.join("compare.html");
    let early = real_path.with_file_name("2026-11-22-vm-2core-early.json");
    lab(&[
        "compare",
        real_path.to_str().unwrap(),
        early.to_str().unwrap(),
        synth_path.to_str().unwrap(),
        "--out",
        compare.to_str().unwrap(),
    ]);
    let dom = check_page(&chromium, &compare, "compare");
    every_experiment_has_a_chart(&dom, &synth, "compare");
    assert!(
        dom.contains("loop · A") && dom.contains("loop · C"),
        "one series per file"
    );
}
