//! Golden tests of the `pageflow` binary: every scenario in `scenarios/` (and the built-in default,
//! run with no FILE) must print exactly `cli/tests/golden/<name>.txt`.
//!
//! After a deliberate change of the model or of the report, regenerate the files with
//!
//!     UPDATE_GOLDEN=1 cargo test -p pageflow-cli --test golden
//!
//! and read the diff before committing it: every changed number should be explainable.
//!
//! `pageflow compare` has its golden files in `cli/tests/golden/compare/`.
//!
//! `pageflow share` has its golden link in `cli/tests/golden/share/`; `unshare` must give back
//! every scenario it shared, in the format `run` reads.
//!
//! The other tests check `--json`, `--trace`, and that bad input exits with status 2 and a message
//! naming the problem, never a panic.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pageflow_core::Scenario;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is inside the workspace").to_path_buf()
}

fn scenarios_dir() -> PathBuf {
    root().join("scenarios")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden")
}

fn pageflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pageflow")).args(args).output().expect("the pageflow binary runs")
}

fn pageflow_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pageflow"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the pageflow binary runs");
    child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).expect("stdin takes the text");
    child.wait_with_output().expect("pageflow finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// The scenario files, sorted by name.
fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(scenarios_dir())
        .expect("scenarios/ exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// A short, readable account of where two texts differ: the first differing lines with a little
/// context, and the line counts.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = format!("expected {} lines, got {}\n", e.len(), a.len());
    let mut shown = 0;
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x == y {
            continue;
        }
        if shown == 0 && i > 0 {
            out += &format!("  {:>5}   {}\n", i, e[i - 1]);
        }
        out += &format!("- {:>5}   {}\n", i + 1, x.copied().unwrap_or("<end of file>"));
        out += &format!("+ {:>5}   {}\n", i + 1, y.copied().unwrap_or("<end of file>"));
        shown += 1;
        if shown == 12 {
            out += "  ... (more differences)\n";
            break;
        }
    }
    out
}

/// Compare a run's stdout with its golden file, or rewrite the file under `UPDATE_GOLDEN=1`.
/// Returns a failure message.
fn check_golden(name: &str, args: &[&str]) -> Option<String> {
    let o = pageflow(args);
    if !o.status.success() {
        return Some(format!("{name}: pageflow {args:?} exited with {}: {}", o.status, stderr(&o)));
    }
    let actual = stdout(&o);
    let path = golden_dir().join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0") {
        fs::create_dir_all(path.parent().expect("golden files are in a directory"))
            .expect("the golden directory can be made");
        fs::write(&path, &actual).expect("the golden file can be written");
        return None;
    }
    match fs::read_to_string(&path) {
        Err(e) => Some(format!(
            "{name}: cannot read {} ({e}); run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )),
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "{name}: output differs from {} (UPDATE_GOLDEN=1 rewrites it)\n{}",
            path.display(),
            diff(&expected, &actual)
        )),
    }
}

#[test]
fn every_scenario_matches_its_golden_output() {
    let files = scenario_files();
    assert!(files.len() >= 10, "expected the scenario files, found {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_stem().expect("a file name").to_string_lossy().into_owned();
        failures.extend(check_golden(&name, &["run", file.to_str().expect("a UTF-8 path")]));
    }
    // No FILE runs the embedded copy of scenarios/default.json: the same report.
    failures.extend(check_golden("default", &["run"]));
    // A golden file without a scenario is left over from a renamed or deleted scenario.
    for entry in fs::read_dir(golden_dir()).expect("the golden directory exists") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            continue; // compare/ holds the comparisons' golden files
        }
        let stem = path.file_stem().expect("a file name").to_string_lossy().into_owned();
        if !scenarios_dir().join(format!("{stem}.json")).exists() {
            failures.push(format!("{} has no scenario scenarios/{stem}.json", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stdin_gives_the_same_report_as_the_file() {
    let path = scenarios_dir().join("bulk-list.json");
    let text = fs::read_to_string(&path).unwrap();
    let from_stdin = pageflow_stdin(&["run", "-"], &text);
    let from_file = pageflow(&["run", path.to_str().unwrap()]);
    assert!(from_stdin.status.success(), "{}", stderr(&from_stdin));
    assert_eq!(stdout(&from_stdin), stdout(&from_file));
}

#[test]
fn json_output_parses_and_has_the_zones_and_calls() {
    let o = pageflow(&["run", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("--json prints JSON");
    let zones = v["zones"].as_array().expect("zones is an array");
    let labels: Vec<&str> = zones.iter().map(|z| z["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Node 0 DMA", "Node 0 DMA32", "Node 0 Normal"]);
    for z in zones {
        assert_eq!(z["buddyinfo"].as_array().unwrap().len(), 11);
        assert_eq!(z["pagetypeinfo"].as_array().unwrap().len(), 5);
        assert_eq!(z["pcp"].as_array().unwrap().len(), 4);
        let pages: u64 = z["buddyinfo"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(order, n)| n.as_u64().unwrap() << order)
            .sum();
        assert_eq!(Some(pages as i64), z["free_pages"].as_i64(), "buddyinfo adds up to NR_FREE_PAGES");
    }
    assert_eq!(v["profile"]["id"], "6.1");
    let calls = v["calls"].as_array().expect("calls is an array");
    assert_eq!(calls.len(), 12);
    assert_eq!(calls[2]["result"], "16");
    assert!(calls[0]["cost"]["pcp_lock"].as_u64().unwrap() > 0);
}

#[test]
fn trace_has_one_json_event_per_line_and_as_many_as_the_calls_counted() {
    let dir = std::env::temp_dir().join(format!("pageflow-trace-test-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.jsonl");
    let o = pageflow(&["run", "--json", "--trace", trace.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let counted: u64 =
        report["calls"].as_array().unwrap().iter().map(|c| c["cost"]["events"].as_u64().unwrap()).sum();
    let text = fs::read_to_string(&trace).unwrap();
    let mut lines = 0u64;
    for line in text.lines() {
        let ev: serde_json::Value = serde_json::from_str(line).expect("each line is one JSON value");
        assert!(ev.is_object() && ev["ev"].is_string(), "{line}");
        lines += 1;
    }
    assert_eq!(lines, counted);
    assert_eq!(Some(lines), report["total"]["events"].as_u64());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_text_report_is_the_same_with_and_without_trace() {
    let dir = std::env::temp_dir().join(format!("pageflow-trace-same-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("t.jsonl");
    let with = pageflow(&["run", "--trace", trace.to_str().unwrap()]);
    let without = pageflow(&["run"]);
    assert_eq!(stdout(&with), stdout(&without));
    fs::remove_dir_all(&dir).unwrap();
}

/// Bad input exits with status 2 and `pageflow: <message>` naming the problem; never a panic.
fn assert_input_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "status {:?}, stderr: {err}", o.status);
    assert!(err.starts_with("pageflow: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
    assert!(stdout(o).is_empty(), "nothing on stdout: {}", stdout(o));
}

/// The default scenario with one textual change.
fn default_with(from: &str, to: &str) -> String {
    let text = pageflow_core::scenario::DEFAULT_SCENARIO;
    assert!(text.contains(from), "{from:?} is in the default scenario");
    text.replacen(from, to, 1)
}

#[test]
fn a_missing_file_is_an_input_error() {
    let o = pageflow(&["run", "no/such/scenario.json"]);
    assert_input_error(&o, &["no/such/scenario.json"]);
}

#[test]
fn malformed_json_is_an_input_error_with_its_line() {
    let o = pageflow_stdin(&["run", "-"], "{\n  \"name\": \"x\",\n  \"actions\": [\n");
    assert_input_error(&o, &["<stdin>", "not a valid scenario", "line"]);
}

#[test]
fn an_unknown_field_is_an_input_error_naming_it() {
    let o = pageflow_stdin(&["run", "-"], &default_with("\"seed\"", "\"sede\""));
    assert_input_error(&o, &["sede"]);
}

#[test]
fn a_cpu_out_of_range_is_an_input_error_naming_field_and_range() {
    let text = default_with("\"op\": \"alloc_pages\", \"cpu\": 0", "\"op\": \"alloc_pages\", \"cpu\": 9");
    let o = pageflow_stdin(&["run", "-"], &text);
    assert_input_error(&o, &["actions[1].cpu", "9", "0 to 3"]);
}

#[test]
fn a_bad_gfp_string_in_a_scenario_is_an_input_error() {
    let text = default_with(
        "\"gfp\": \"GFP_KERNEL\", \"into\": \"one\"",
        "\"gfp\": \"GFP_KERNAL\", \"into\": \"one\"",
    );
    let o = pageflow_stdin(&["run", "-"], &text);
    assert_input_error(&o, &["actions[1].gfp", "GFP_KERNAL", "GFP_KERNEL"]);
}

#[test]
fn an_unknown_profile_in_a_scenario_is_an_input_error() {
    let o = pageflow_stdin(&["run", "-"], &default_with("\"profile\": \"6.1\"", "\"profile\": \"7.0\""));
    assert_input_error(&o, &["profile", "7.0", "6.1"]);
}

#[test]
fn a_trace_file_that_cannot_be_created_is_an_input_error() {
    let o = pageflow(&["run", "--trace", "/no/such/dir/trace.jsonl"]);
    assert_input_error(&o, &["/no/such/dir/trace.jsonl"]);
}

#[test]
fn gfp_explains_a_mask_as_text_and_json() {
    let o = pageflow(&["gfp", "GFP_KERNEL | __GFP_ZERO"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("0xdc0"), "{text}");
    assert!(text.contains("ZONE_NORMAL") && text.contains("Unmovable"), "{text}");

    let o = pageflow(&["gfp", "GFP_ATOMIC", "--profile", "6.6", "--order", "3", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["profile"], "6.6");
    assert_eq!(v["order"], 3);
    assert_eq!(v["gfp_hex"], "0x820");
    assert_eq!(v["may_sleep"], false);
}

#[test]
fn a_bad_gfp_string_is_an_input_error() {
    assert_input_error(&pageflow(&["gfp", "GFP_KERNAL"]), &["GFP_KERNAL", "GFP_KERNEL"]);
    assert_input_error(&pageflow(&["gfp", "GFP_KERNEL |"]), &["GFP_KERNEL |"]);
    assert_input_error(&pageflow(&["gfp", ""]), &["empty"]);
}

#[test]
fn gfp_with_an_unknown_profile_or_order_is_an_input_error() {
    assert_input_error(&pageflow(&["gfp", "GFP_KERNEL", "--profile", "2.6"]), &["2.6", "rfc-2021", "6.6"]);
    assert_input_error(&pageflow(&["gfp", "GFP_KERNEL", "--order", "11"]), &["--order", "11", "0 to 10"]);
}

#[test]
fn profiles_lists_every_profile_and_the_changelog() {
    let o = pageflow(&["profiles"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for id in ["rfc-2021", "5.13.0", "5.13", "5.14", "6.1", "6.6"] {
        assert!(text.contains(id), "{id} missing from: {text}");
    }
    assert!(text.contains("full_array_return: Populated -> Zero"), "{text}");

    let o = pageflow(&["profiles", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["default"], "6.1");
    assert!(v["profiles"].as_array().unwrap().len() >= 6);
    assert!(v["changelog"].as_array().unwrap().iter().any(|c| c["field"] == "full_array_return"));
}

#[test]
fn the_5_13_0_full_array_returns_zero_and_6_1_returns_nr_pages() {
    let run = |name: &str| {
        let o = pageflow(&["run", "--json", scenarios_dir().join(name).to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["result"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(run("full-array-5.13.0.json"), ["16", "0", "2 pages freed", "16", "0"]);
    assert_eq!(run("full-array-6.1.json"), ["16", "16", "2 pages freed", "16", "16"]);
}

#[test]
fn cost_prints_the_cycle_table_as_a_model_in_text_and_json() {
    let o = pageflow(&["cost"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("a model, not a measurement"), "{text}");
    assert!(text.contains("zone_lock") && text.contains("zeroed_pages"), "{text}");

    let o = pageflow(&["cost", "--profile", "5.14", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["profile"], "5.14");
    assert_eq!(v["model"]["pcp_lock"], 0.0, "5.14's local_lock is the IRQ pair only");
    assert_eq!(v["terms"].as_array().unwrap().len(), 14);
    assert!(v.get("calibration").is_none(), "calibration only with --calibrate");
}

#[test]
fn cost_calibrate_prints_model_against_published_rows() {
    let o = pageflow(&["cost", "--calibrate", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let targets = v["calibration"]["targets"].as_array().unwrap();
    assert!(targets.iter().any(|t| t["published"] == 98.0 && t["profile"] == "5.14"), "{targets:?}");
    let lever = targets.iter().find(|t| t["published"] == 4.59).expect("Lever's array row");
    assert_eq!(
        (&lever["unit"], &lever["asserted"]),
        (&serde_json::json!("µs/call"), &serde_json::json!(false))
    );
    let o = pageflow(&["cost", "--calibrate"]);
    let text = stdout(&o);
    assert!(text.contains("svc_alloc_arg 256 KiB READ/WRITE, per-page alloc_page loop"), "{text}");
    assert!(text.contains("Lever, v5r9 on a KASAN kernel"), "{text}");
    assert!(text.contains("not asserted: see DEVIATIONS.md"), "{text}");
}

#[test]
fn cost_with_an_unknown_profile_is_an_input_error() {
    assert_input_error(&pageflow(&["cost", "--profile", "2.6"]), &["2.6", "6.1"]);
}

#[test]
fn compare_of_batch_31_and_batch_63_matches_its_golden_output() {
    let a = scenarios_dir().join("batch-31.json");
    let b = scenarios_dir().join("batch-63.json");
    let args = ["compare", a.to_str().unwrap(), b.to_str().unwrap()];
    if let Some(failure) = check_golden("compare/batch-31-vs-batch-63", &args) {
        panic!("{failure}");
    }
}

#[test]
fn compare_of_the_sunrpc_eras_shows_the_user_model_rows_and_matches_its_golden_output() {
    let a = scenarios_dir().join("sunrpc-5.13-sleep-on-shortfall.json");
    let b = scenarios_dir().join("sunrpc-retry-on-progress.json");
    let args = ["compare", a.to_str().unwrap(), b.to_str().unwrap()];
    if let Some(failure) = check_golden("compare/sunrpc-5.13-sleep-on-shortfall-vs-retry-on-progress", &args)
    {
        panic!("{failure}");
    }
    let o = pageflow(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("--json prints JSON");
    let row = |name: &str| {
        let r = v["user_rows"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned();
        let r = r.unwrap_or_else(|| panic!("no user row {name:?}"));
        (r["a"].as_f64().unwrap(), r["b"].as_f64().unwrap())
    };
    // 5.13 sleeps 500 ms on every short refill; 6.1 retries at once, one page per call.
    let (sleeps_a, sleeps_b) = row("sunrpc sleeps");
    assert!(sleeps_a > 0.0 && sleeps_b == 0.0, "sleeps {sleeps_a} / {sleeps_b}");
    assert_eq!(row("sunrpc slept ms").0, 500.0 * sleeps_a);
    let (refills_a, refills_b) = row("sunrpc svc_alloc_arg refills");
    assert_eq!(refills_a, refills_b, "the same requests need the same refills");
    let (single_a, single_b) = row("sunrpc single-page calls");
    assert!(single_b > single_a, "6.1 makes up for the sleeps with single-page calls");
    assert!(single_b <= row("sunrpc allocator calls").1);
}

#[test]
fn compare_json_has_generic_rows_calls_and_a_free_page_curve_per_zone() {
    let a = scenarios_dir().join("batch-31.json");
    let b = scenarios_dir().join("batch-63.json");
    let o = pageflow(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("--json prints JSON");
    let row = |name: &str| {
        v["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no row {name:?}"))
    };
    let locks = row("zone->lock sections");
    assert!(locks["a"].as_f64() > locks["b"].as_f64(), "half the batch refills more often: {locks}");
    assert_eq!(locks["delta"].as_f64().unwrap(), locks["b"].as_f64().unwrap() - locks["a"].as_f64().unwrap());
    let actions = 7;
    assert_eq!(v["calls"].as_array().unwrap().len(), actions);
    for curve in v["free_pages"].as_array().unwrap() {
        assert_eq!(curve["a"].as_array().unwrap().len(), actions + 1, "boot, then each action");
    }
    assert_eq!(v["user_rows"], serde_json::json!([]));
}

#[test]
fn compare_with_a_bad_scenario_is_an_input_error_naming_the_file() {
    let good = scenarios_dir().join("batch-63.json");
    let o = pageflow(&["compare", "no/such/a.json", good.to_str().unwrap()]);
    assert_input_error(&o, &["no/such/a.json"]);
    let o = pageflow_stdin(&["compare", good.to_str().unwrap(), "-"], "{ not json");
    assert_input_error(&o, &["<stdin>", "not a valid scenario"]);
    let o = pageflow(&["compare", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a missing second scenario is a usage error");
}

#[test]
fn share_prints_the_default_scenarios_link_as_in_its_golden_file() {
    let file = scenarios_dir().join("default.json");
    if let Some(failure) = check_golden("share/default", &["share", file.to_str().unwrap()]) {
        panic!("{failure}");
    }
}

#[test]
fn unshare_of_every_scenarios_link_prints_json_that_runs_like_the_file() {
    for file in scenario_files() {
        let path = file.to_str().expect("a UTF-8 path");
        let shared = pageflow(&["share", path]);
        assert!(shared.status.success(), "{path}: {}", stderr(&shared));
        let fragment = stdout(&shared);
        assert!(fragment.starts_with("s=1.jz.") && fragment.ends_with('\n'), "{path}: {fragment}");
        let url = format!("https://example.org/pageflow/#{}&step=3", fragment.trim_end());
        let unshared = pageflow(&["unshare", &url]);
        assert!(unshared.status.success(), "{path}: {}", stderr(&unshared));
        let json = stdout(&unshared);
        let original = Scenario::from_json(&fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(Scenario::from_json(&json), Ok(original.clone()), "{path}");
        assert_eq!(json, original.to_json() + "\n", "{path}: the format `run` reads, pretty-printed");
    }
    let fixture = root().join("core/tests/share_fixtures/default.link");
    let unshared = pageflow(&["unshare", fs::read_to_string(fixture).unwrap().trim_end()]);
    let run = pageflow_stdin(&["run", "-"], &stdout(&unshared));
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(stdout(&run), fs::read_to_string(golden_dir().join("default.txt")).unwrap());
}

#[test]
fn unshare_of_a_bad_link_is_an_input_error_saying_what_is_wrong() {
    assert_input_error(&pageflow(&["unshare", "https://example.org/pageflow/"]), &["no scenario", "s="]);
    assert_input_error(&pageflow(&["unshare", "s=2.jz.AAAA"]), &["version \"2\"", "reads version 1"]);
    let fragment = fs::read_to_string(root().join("core/tests/share_fixtures/default.link")).unwrap();
    assert_input_error(&pageflow(&["unshare", &fragment[..201]]), &["cut short"]);
    assert_input_error(&pageflow(&["unshare", &fragment[..200]]), &["base64", "cut short or changed"]);
    assert_input_error(&pageflow(&["unshare", &format!("{}&step=x", fragment.trim_end())]), &["step=\"x\""]);
}

#[test]
fn share_of_a_bad_scenario_is_an_input_error_naming_the_file() {
    assert_input_error(&pageflow(&["share", "no/such/scenario.json"]), &["no/such/scenario.json"]);
    let o = pageflow_stdin(&["share", "-"], &default_with("\"cpus\": 4", "\"cpus\": 0"));
    assert_input_error(&o, &["<stdin>", "machine.cpus", "1 to 64"]);
}

/// `pageflow lesson` lists every lesson; `pageflow lesson ID` walks one with the model's answers
/// and must print exactly `cli/tests/golden/lesson/<id>.txt`.
#[test]
fn lessons_list_and_walk_match_their_golden_output() {
    let mut failures: Vec<String> = check_golden("lesson/list", &["lesson"]).into_iter().collect();
    for l in pageflow_core::lesson::lessons() {
        failures.extend(check_golden(&format!("lesson/{}", l.id), &["lesson", &l.id]));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_unknown_lesson_is_an_input_error_naming_the_lessons() {
    assert_input_error(&pageflow(&["lesson", "nope"]), &["unknown lesson \"nope\"", "buddy", "regressions"]);
}
