//! The command line as a user meets it: the real binary, real files, stdin, exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use crate::harness::{root, text, BROKEN_RULES, BROKEN_RULES_ERRORS};

pub(crate) fn klaxon(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = crate::harness::klaxon()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn klaxon");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for klaxon")
}

pub(crate) fn temp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("klaxon-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write temp file");
    p
}

#[test]
fn replay_of_the_example_gives_the_expected_alerts() {
    let out = klaxon(
        &[
            "replay",
            "--rules",
            "examples/metro.rules.json",
            "--until",
            "2026-11-22T08:10:00Z",
            "examples/metro.signals.ndjson",
        ],
        None,
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let expected = std::fs::read_to_string(root().join("examples/metro.alerts.ndjson"))
        .expect("expected alerts");
    assert_eq!(text(&out.stdout), expected);
}

#[test]
fn timers_fire_only_when_until_passes_their_deadline() {
    let args = [
        "replay",
        "--rules",
        "examples/metro.rules.json",
        "examples/metro.signals.ndjson",
    ];
    let out = klaxon(&args, None);
    let lines = text(&out.stdout);
    assert!(
        !lines.contains("\"SEQ-006\""),
        "MAX_OPEN_MS must wait for engine time: {lines}"
    );
    assert!(
        !lines.contains("\"SEQ-007\""),
        "SILENCE_SECONDS must wait for engine time"
    );
    let mut with_until = args.to_vec();
    with_until.splice(3..3, ["--until", "1795852200000"]); // 2026-11-22T08:10:00Z in epoch ms
    let out = klaxon(&with_until, None);
    let lines = text(&out.stdout);
    assert!(
        lines.contains("\"SEQ-006\"") && lines.contains("\"SEQ-007\""),
        "{lines}"
    );
}

#[test]
fn replay_reads_stdin_reports_bad_lines_by_number_and_keeps_good_ones() {
    let rules = temp(
        "on_event.json",
        r#"{"rules":[{"id":"R1","trigger_type":"MARK_EVENT","action":"A","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h"}}]}"#,
    );
    let signals = concat!(
        "{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"A\",\"ts\":1000}\n",
        "{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"A\",\"contxt\":\"C\",\"ts\":1001}\n",
        "not json\n",
        "\n",
        "{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"A\",\"ts\":1002}\n",
    );
    let out = klaxon(
        &[
            "replay",
            "--rules",
            rules.to_str().expect("utf-8 path"),
            "-",
        ],
        Some(signals),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit code non-zero"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(":2:") && stderr.contains("contxt"),
        "{stderr}"
    );
    assert!(stderr.contains(":3:"), "{stderr}");
    let alerts: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert line is JSON"))
        .collect();
    assert_eq!(alerts.len(), 2, "both good marks fire");
    assert_eq!(alerts[1]["action_count"], 2);
    assert_eq!(alerts[1]["signal_ts"], "1970-01-01T00:00:01.002Z");
    assert_eq!(alerts[0]["context"], serde_json::Value::Null);
    assert_eq!(alerts[0]["rule_set_version"], serde_json::Value::Null);
}

#[test]
fn rules_check_lists_every_error_and_fails() {
    let broken = temp("broken.json", BROKEN_RULES);
    let out = klaxon(
        &["rules", "check", broken.to_str().expect("utf-8 path")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    for needle in BROKEN_RULES_ERRORS {
        assert!(stdout.contains(needle), "missing {needle} in:\n{stdout}");
    }
    assert!(stdout.lines().count() >= 4, "{stdout}");

    let out = klaxon(
        &[
            "rules",
            "check",
            "--json",
            broken.to_str().expect("utf-8 path"),
        ],
        None,
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(doc["valid"], false);
    assert!(doc["errors"].as_array().expect("errors").len() >= 4);
}

#[test]
fn rules_check_reports_syntax_errors_with_line_and_column() {
    let bad = temp(
        "syntax.json",
        "{\n  \"rules\": [\n    {\"id\": \"A\",}\n  ]\n}\n",
    );
    let out = klaxon(&["rules", "check", bad.to_str().expect("utf-8 path")], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("line 3"), "{stdout}");
    assert!(stdout.contains("column"), "{stdout}");
}

#[test]
fn rules_check_accepts_the_example() {
    let out = klaxon(&["rules", "check", "examples/metro.rules.json"], None);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("ok, 10 rules"));
}
