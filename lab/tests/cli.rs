//! The lab's command line, driven as a user drives it: the real binary, its exit status,
//! its output and the files it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard-lab"))
        .args(args)
        .output()
        .expect("the lab binary starts")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh scratch folder per test (tests run in parallel).
fn scratch(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchyard-lab-test-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tiny_run(dir: &Path, only: &str, models: &str) -> serde_json::Value {
    let json = dir.join("r.json");
    let out = lab(&[
        "run",
        "--tiny",
        "--only",
        only,
        "--models",
        models,
        "--out",
        dir.join("out").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

fn one_line_exit_2(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn an_unknown_experiment_exits_2_naming_the_accepted_ones() {
    let err = one_line_exit_2(&lab(&["run", "--only", "warp"]));
    assert!(err.contains("unknown experiment `warp`"), "{err}");
    for name in ["switch", "spawn", "scale", "latency"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn an_unknown_model_exits_2_naming_the_accepted_ones() {
    let err = one_line_exit_2(&lab(&["run", "--models", "goroutine"]));
    assert!(err.contains("unknown model `goroutine`"), "{err}");
    assert!(err.contains("thread") && err.contains("naive"), "{err}");
}

/// A model name `list` says is not built in this build, if any.
fn unbuilt_model() -> Option<String> {
    let out = lab(&["list"]);
    stdout(&out)
        .lines()
        .skip_while(|l| !l.starts_with("models:"))
        .find(|l| l.contains("not built yet") || l.contains("built without"))
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
}

#[test]
fn a_model_not_built_yet_exits_2_and_says_so() {
    let Some(model) = unbuilt_model() else {
        return; // every model of docs/lab.md is built: nothing to refuse
    };
    let err = one_line_exit_2(&lab(&["run", "--models", &model]));
    assert!(
        err.contains(&format!("model `{model}` is unavailable")),
        "{err}"
    );
    assert!(err.contains("accepted: "), "{err}");
}

#[test]
fn an_unknown_option_exits_2_naming_the_accepted_ones() {
    let err = one_line_exit_2(&lab(&["run", "--fast"]));
    assert!(err.contains("--fast"), "{err}");
    assert!(err.contains("--quick") && err.contains("--only"), "{err}");
}

#[test]
fn list_prints_every_experiment_and_model() {
    let out = lab(&["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for name in [
        "switch",
        "spawn",
        "scale",
        "latency",
        "speedup",
        "ipc",
        "blocking",
        "fairness",
        "echo",
        "loop",
        "pool",
        "thread",
        "process",
        "naive",
        "tokio-ct",
        "tokio-mt",
        "async-executor",
        "rayon",
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing from:\n{text}"
        );
    }
}

#[test]
fn a_malformed_result_file_exits_2() {
    let dir = scratch("malformed");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"schema\": 1, \"results\": [").unwrap();
    let err = one_line_exit_2(&lab(&["report", bad.to_str().unwrap()]));
    assert!(err.contains("malformed result file"), "{err}");
}

#[test]
fn a_result_file_of_another_schema_exits_2() {
    let dir = scratch("schema");
    let bad = dir.join("v9.json");
    std::fs::write(&bad, "{\"schema\": 9}").unwrap();
    let err = one_line_exit_2(&lab(&["report", bad.to_str().unwrap()]));
    assert!(
        err.contains("schema 9") && err.contains("accepted: 1"),
        "{err}"
    );
}

#[test]
fn an_unreadable_result_file_exits_2() {
    let err = one_line_exit_2(&lab(&[
        "compare",
        "/nonexistent/a.json",
        "/nonexistent/b.json",
    ]));
    assert!(err.contains("cannot read result file"), "{err}");
}

#[test]
fn a_tiny_switch_run_writes_the_exact_rows() {
    let dir = scratch("switch");
    let file = tiny_run(&dir, "switch", "naive,thread");
    assert_eq!(file["schema"], 1);
    assert!(dir.join("out/results.json").exists());
    assert!(dir.join("out/report.html").exists());
    let keys: Vec<String> = file["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}/{}/{}",
                r["experiment"].as_str().unwrap(),
                r["model"].as_str().unwrap(),
                r["variant"].as_str().unwrap(),
                r["metric"].as_str().unwrap()
            )
        })
        .collect();
    for key in [
        "switch/naive/yield/ns_per_op",
        "switch/naive/pingpong_same_core/ns_per_op",
        "switch/thread/yield/ns_per_op",
        "switch/thread/pingpong_same_core/ns_per_op",
    ] {
        assert!(
            keys.contains(&key.to_owned()),
            "{key} missing from {keys:?}"
        );
    }
    for row in file["results"].as_array().unwrap() {
        let (min, median, max) = (
            row["min"].as_f64().unwrap(),
            row["median"].as_f64().unwrap(),
            row["max"].as_f64().unwrap(),
        );
        assert!(min <= median && median <= max, "{row}");
        assert_eq!(row["value"], row["median"]);
        assert!(row["p50"].is_null());
    }
    // The naive executor has no cross-core variant: skipped, with a reason, never faked.
    assert!(!keys.contains(&"switch/naive/pingpong_cross_core/ns_per_op".to_owned()));
    assert!(
        file["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["model"] == "naive" && s["variant"] == "pingpong_cross_core")
    );
}

#[test]
fn a_tiny_latency_run_fills_the_percentiles() {
    let dir = scratch("latency");
    let file = tiny_run(&dir, "latency", "thread,naive");
    let rows = file["results"].as_array().unwrap();
    for model in ["thread", "naive"] {
        for variant in ["idle", "loaded"] {
            let row = rows
                .iter()
                .find(|r| r["model"] == model && r["variant"] == variant)
                .unwrap_or_else(|| panic!("{model} {variant} missing"));
            assert_eq!(row["metric"], "lateness");
            let p: Vec<f64> = ["p50", "p90", "p99", "p999", "max_latency"]
                .iter()
                .map(|k| row[*k].as_f64().unwrap())
                .collect();
            assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
            assert!(row["hdr"].as_str().is_some_and(|h| !h.is_empty()));
        }
    }
}

#[test]
fn a_tiny_scale_run_measures_each_n_in_a_child() {
    let dir = scratch("scale");
    let file = tiny_run(&dir, "scale", "naive");
    let rows = file["results"].as_array().unwrap();
    for n in [10, 100, 1000] {
        for metric in ["bytes_per_unit", "ns_per_unit"] {
            assert!(
                rows.iter()
                    .any(|r| r["variant"] == format!("N={n}") && r["metric"] == metric),
                "N={n} {metric} missing"
            );
        }
    }
    assert!(
        rows.iter()
            .all(|r| r["note"].as_str().is_some_and(|n| n.contains("child")))
    );
}

#[test]
fn report_rebuilds_a_self_contained_html_file() {
    let dir = scratch("report");
    tiny_run(&dir, "spawn,scale", "naive");
    let out = dir.join("again.html");
    let status = lab(&[
        "report",
        dir.join("r.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(status.status.success(), "{}", stderr(&status));
    let html = std::fs::read_to_string(out).unwrap();
    assert!(html.contains("<svg") && html.contains("spawn_join"));
    // One inline check script (docs/lab.md, "Report"); nothing loaded from elsewhere.
    assert!(!html.contains("<script src"), "no external script");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no network"
    );
}

#[test]
fn compare_shows_two_files_side_by_side() {
    let dir = scratch("compare");
    tiny_run(&dir, "spawn", "naive");
    let a = dir.join("a.json");
    std::fs::rename(dir.join("r.json"), &a).unwrap();
    tiny_run(&dir, "spawn", "naive");
    let out = lab(&[
        "compare",
        a.to_str().unwrap(),
        dir.join("r.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("spawn / naive / spawn_join / ns_per_op"))
        .unwrap_or_else(|| panic!("row missing:\n{text}"));
    // The key, two figures and a ratio.
    let ratio: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
    assert!(ratio > 0.0, "{line}");
    assert!(text.lines().any(|l| l.contains("B/A")), "{text}");
}

#[test]
fn compare_with_one_file_exits_2() {
    let err = one_line_exit_2(&lab(&["compare", "only.json"]));
    assert!(err.contains("at least two"), "{err}");
}

#[test]
fn table_measures_the_baselines_and_says_what_is_not_built() {
    let dir = scratch("table");
    let json = dir.join("table.json");
    let out = lab(&["table", "--tiny", "--json", json.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let switch = text
        .lines()
        .find(|l| l.starts_with("switch cost"))
        .unwrap_or_else(|| panic!("no switch cost line:\n{text}"));
    if let Some(model) =
        unbuilt_model().filter(|m| ["loop", "pool", "process"].contains(&m.as_str()))
    {
        assert!(
            switch.contains("not built yet"),
            "{model} is not built: {switch}"
        );
    }
    assert!(
        switch.contains("yield"),
        "thread and naive are measured: {switch}"
    );
    assert!(text.contains("when to use"));
    // The figures behind the table are a result file like any other.
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(file["schema"], 1);
}

#[test]
fn options_are_recorded_in_config() {
    let dir = scratch("config");
    let json = dir.join("r.json");
    let out = lab(&[
        "--tiny",
        "--no-pin",
        "--seed",
        "7",
        "--only",
        "spawn",
        "--models",
        "thread",
        "--out",
        dir.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let config = &file["config"];
    assert_eq!(config["pin"], false);
    assert_eq!(config["seed"], 7);
    assert_eq!(config["quick"], true);
    assert!(config["workload"].as_str().unwrap().contains("tiny"));
    for field in ["cpu_model", "kernel", "os", "rustc", "hostname"] {
        assert!(
            file["machine"][field]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "machine.{field}"
        );
    }
    assert!(
        file["machine"]["rustc"]
            .as_str()
            .unwrap()
            .starts_with("rustc ")
    );
}

#[test]
fn thread_ipc_measures_streams_and_channels_and_skips_shared_memory() {
    let dir = scratch("ipc");
    let file = tiny_run(&dir, "ipc", "thread");
    let rows = file["results"].as_array().unwrap();
    for mechanism in ["channel", "pipe", "unix"] {
        for size in ["8B", "4KiB", "64KiB", "1MiB"] {
            let variant = format!("{mechanism}_{size}");
            for metric in ["ns_per_op", "bytes_per_sec"] {
                assert!(
                    rows.iter()
                        .any(|r| r["variant"] == variant && r["metric"] == metric),
                    "{variant} {metric} missing"
                );
            }
        }
    }
    let skipped = file["skipped"].as_array().unwrap();
    assert_eq!(
        skipped.iter().filter(|s| s["experiment"] == "ipc").count(),
        4,
        "shm at four sizes: {skipped:?}"
    );
}

#[test]
fn ping_pong_rows_say_where_their_units_ran_and_checks_carry_a_verdict() {
    let dir = scratch("placement");
    let file = tiny_run(&dir, "switch", "thread,process,pool");
    let rows = file["results"].as_array().unwrap();
    let pingpongs: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["variant"].as_str().unwrap().contains("pingpong"))
        .collect();
    assert!(!pingpongs.is_empty());
    let two_cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) > 1;
    for row in pingpongs {
        let note = row["note"].as_str().unwrap_or_default();
        let variant = row["variant"].as_str().unwrap();
        if variant.ends_with("cross_core") {
            // Two different CPUs, named.
            let (_, cpus) = note
                .split_once("units ran on CPUs ")
                .unwrap_or_else(|| panic!("{row}"));
            let (a, b) = cpus.split_once(" and ").unwrap();
            assert_ne!(a.trim(), b.trim(), "{row}");
        } else {
            assert!(note.contains("both units ran on CPU "), "{row}");
        }
    }
    // Every pool row, and only a pool row, gives its stall monitor's hand-offs.
    for row in rows {
        let note = row["note"].as_str().unwrap_or_default();
        let (_, count) = note
            .split_once("stall-monitor hand-offs: ")
            .unwrap_or_default();
        assert_eq!(
            count.parse::<u64>().is_ok(),
            row["model"] == "pool",
            "{row}"
        );
    }
    let cross = rows
        .iter()
        .filter(|r| r["variant"].as_str().unwrap().ends_with("cross_core"))
        .count();
    // Thread, process (pipes and channel) and pool each place a cross-core pair.
    assert_eq!(cross, if two_cpus { 4 } else { 0 });
    for check in file["checks"].as_array().unwrap() {
        assert_eq!(check["tolerance"], 0.15, "{check}");
        let agree = &check["agree"];
        match (check["lab"].as_f64(), check["tool_value"].as_f64()) {
            (Some(lab), Some(tool)) => {
                assert_eq!(
                    agree.as_bool(),
                    Some((lab - tool).abs() / tool <= 0.15),
                    "{check}"
                );
            }
            _ => assert!(agree.is_null(), "{check}"),
        }
        assert!(
            check["row"].as_str().unwrap().starts_with("switch/"),
            "{check}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_model_answers_every_experiment_or_says_why_not() {
    let dir = scratch("every-cell");
    let out_dir = dir.join("out");
    let mut args = vec!["run", "--tiny", "--out", out_dir.to_str().unwrap()];
    if cfg!(feature = "peers") {
        args.push("--peers");
    }
    let out = lab(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/results.json")).unwrap())
            .unwrap();
    let mut missing: Vec<(String, String)> = file["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            let reason = s["reason"].as_str().unwrap();
            // Every skip says why.
            assert!(!reason.trim().is_empty(), "{s}");
            reason.starts_with("not implemented for model")
        })
        .map(|s| {
            (
                s["experiment"].as_str().unwrap().to_owned(),
                s["model"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    missing.dedup();
    // The cells docs/lab.md lists as not implemented yet; filling one updates both.
    let expected: Vec<(&str, &str)> = vec![];
    let mut expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(e, m)| (e.to_owned(), m.to_owned()))
        .collect();
    missing.sort();
    expected.sort();
    assert_eq!(missing, expected);
    // Every model built answers something in every experiment.
    let results = file["results"].as_array().unwrap();
    for model in file["config"]["models"].as_array().unwrap() {
        assert!(
            results.iter().any(|r| &r["model"] == model),
            "{model} has no row at all"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vary_measures_one_column_per_value_even_in_the_scale_child() {
    let dir = scratch("vary");
    let json = dir.join("r.json");
    let out = lab(&[
        "run",
        "--tiny",
        "--only",
        "switch,scale",
        "--models",
        "loop",
        "--vary",
        "pool.lifo_poll_bound=0,3",
        "--out",
        dir.join("out").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(
        file["config"]["models"],
        serde_json::json!(["loop", "pool[lifo_poll_bound=0]", "pool[lifo_poll_bound=3]"])
    );
    let rows = file["results"].as_array().unwrap();
    for model in ["pool[lifo_poll_bound=0]", "pool[lifo_poll_bound=3]"] {
        for experiment in ["switch", "scale"] {
            assert!(
                rows.iter()
                    .any(|r| r["model"] == model && r["experiment"] == experiment),
                "{model} has no {experiment} row"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vary_bad_input_exits_2_naming_what_is_accepted() {
    let err = one_line_exit_2(&lab(&["run", "--vary", "nosuch.knob=1"]));
    assert!(err.contains("unknown knob `nosuch.knob`"), "{err}");
    assert!(
        err.contains("pool.lifo_poll_bound") && err.contains("loop.polls_per_tick"),
        "{err}"
    );
    let err = one_line_exit_2(&lab(&["run", "--vary", "pool.lifo_poll_bound=0,many"]));
    assert!(
        err.contains("`many`") && err.contains("whole number"),
        "{err}"
    );
    let err = one_line_exit_2(&lab(&["run", "--vary", "pool.lifo_poll_bound=1,1"]));
    assert!(err.contains("twice"), "{err}");
}

#[test]
fn list_names_every_knob_with_its_trade() {
    let text = stdout(&lab(&["list"]));
    for knob in [
        "pool.lifo_poll_bound",
        "pool.global_queue_interval",
        "pool.stall_time_slice",
        "pool.max_spare_threads",
        "loop.polls_per_tick",
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(knob))
            .unwrap_or_else(|| panic!("{knob} missing: {text}"));
        assert!(
            line.contains("default") && line.contains("shown by"),
            "{line}"
        );
    }
}
