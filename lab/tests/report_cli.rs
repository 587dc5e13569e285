//! The report and compare commands from the outside: a malformed or foreign result file
//! exits 2 with one line naming the problem and writes nothing; a good pair of files
//! compares as text (machines named, ratio per row) and as an HTML page; a piped run shows
//! one line per finished experiment and no line over 120 columns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LAB: &str = env!("CARGO_BIN_EXE_switchyard-lab");

fn real_run() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results/2026-11-22-vm-2core.json")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report-cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lab(args: &[&str]) -> Output {
    Command::new(LAB).args(args).output().unwrap()
}

/// Bad inputs, each with a word its message must contain.
const BAD: &[(&str, &str, &str)] = &[
    ("not-json.json", "this is not JSON", "line 1 column"),
    (
        "foreign.json",
        r#"{"name": "left-pad", "version": "1.3.0"}"#,
        "no \"schema\" field",
    ),
    (
        "future.json",
        r#"{"schema": 9, "results": []}"#,
        "schema 9 is not supported",
    ),
    (
        "truncated.json",
        r#"{"schema": 1, "lab_version": "0", "started_at": "t", "machine": {"cpu_model": "c"}, "config": {}, "results": []}"#,
        "missing field",
    ),
];

fn assert_refused(out: &Output, path: &Path, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "names the file: {stderr}"
    );
    assert!(stderr.contains(why), "says what is wrong ({why}): {stderr}");
}

#[test]
fn report_refuses_a_malformed_or_foreign_file_and_writes_nothing() {
    let dir = scratch("report-bad");
    for (name, text, why) in BAD {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let html = dir.join(format!("{name}.html"));
        let out = lab(&[
            "report",
            path.to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ]);
        assert_refused(&out, &path, why);
        assert!(!html.exists(), "{name}: wrote {}", html.display());
        assert!(
            !dir.join("report.html").exists(),
            "{name}: wrote the default report"
        );
    }
    let missing = dir.join("missing.json");
    let out = lab(&["report", missing.to_str().unwrap()]);
    assert_refused(&out, &missing, "cannot read");
}

#[test]
fn compare_refuses_a_malformed_file_among_good_ones_and_writes_nothing() {
    let dir = scratch("compare-bad");
    let real = real_run();
    for (name, text, why) in BAD {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let html = dir.join("compare.html");
        let out = lab(&[
            "compare",
            real.to_str().unwrap(),
            path.to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ]);
        assert_refused(&out, &path, why);
        assert!(out.stdout.is_empty(), "{name}: printed a comparison");
        assert!(!html.exists(), "{name}: wrote {}", html.display());
    }
}

#[test]
fn compare_names_the_machines_gives_ratios_and_writes_a_page() {
    let dir = scratch("compare-good");
    let real = real_run();
    let early = real.with_file_name("2026-11-22-vm-2core-early.json");
    let html = dir.join("compare.html");
    let out = lab(&[
        "compare",
        real.to_str().unwrap(),
        early.to_str().unwrap(),
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("A: ") && text.contains("B: ") && text.contains("host vm"),
        "{text}"
    );
    assert!(text.contains("B/A"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 120), "{text}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<figure class=\"chart\""));
    assert!(
        page.contains("loop · A") && page.contains("loop · B"),
        "a series per file"
    );
}

#[test]
fn a_piped_run_prints_a_line_per_experiment_and_nothing_wider_than_120() {
    let dir = scratch("run-piped");
    let md = dir.join("tables.md");
    let out = lab(&[
        "run",
        "--tiny",
        "--only",
        "switch,spawn,speedup",
        "--models",
        "loop,thread",
        "--out",
        dir.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for experiment in ["switch", "spawn", "speedup"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{experiment}: ")))
            .unwrap_or_else(|| panic!("no progress line for {experiment}: {text}"));
        assert!(
            line.contains("loop, thread") && line.ends_with(" s"),
            "{line}"
        );
    }
    // The closing `wrote PATH` lines are as long as the user's paths.
    assert!(
        text.lines()
            .filter(|l| !l.starts_with("wrote "))
            .all(|l| l.chars().count() <= 120),
        "{text}"
    );
    assert!(text.contains("== the models compared"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("when to use")), "{text}");
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(
        markdown.contains("## switch\n\n| variant metric | loop | thread |"),
        "{markdown}"
    );
}
