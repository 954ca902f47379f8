//! `klaxon rules check` tells an event rule set from threshold rules by their content, points
//! at each error's line and column, and with `--config` warns about names the configuration
//! does not define.

use std::path::Path;

use crate::cli::{klaxon, temp};
use crate::harness::text;

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A receiver `websocket` and a maintenance window `nightly`.
const CONFIG: &str = r#"
[[receivers]]
name = "websocket"
[[receivers.websocket_configs]]

[[maintenance]]
name = "nightly"
weekdays = ["mon"]
from = "01:00"
to = "02:00"
"#;

#[test]
fn threshold_rules_pass_without_the_flag_and_with_it() {
    let file = "examples/host.thresholds.json";
    for args in [
        &["rules", "check", file][..],
        &["rules", "check", "--threshold", file],
    ] {
        let out = klaxon(args, None);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("ok, 3 rules (threshold rules)"), "{stdout}");
    }
    let out = klaxon(&["rules", "check", "--json", file], None);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(
        (doc["valid"].as_bool(), doc["kind"].as_str()),
        (Some(true), Some("threshold"))
    );
}

#[test]
fn an_event_rule_set_still_passes() {
    let out = klaxon(&["rules", "check", "examples/metro.rules.json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ok, 10 rules (event rule set)"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_invalid_threshold_file_gets_threshold_errors_with_line_and_column() {
    let file = temp(
        "bad-threshold.json",
        "{\"rules\": [\n  {\"id\": \"cpu\", \"metric\": \"system.cpu.usage\", \"threshold\": 90,\n   \"operator\": \"bigger\"}\n]}\n",
    );
    let out = klaxon(&["rules", "check", path(&file)], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "error: line 3, column 4: rule cpu (#0): operator: unknown operator \"bigger\""
        ),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the threshold error:\n{stdout}"
    );
    assert!(
        text(&out.stderr).contains("threshold rules rejected"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_invalid_event_file_gets_event_errors_with_line_and_column() {
    let file = temp(
        "bad-event.json",
        "{\"rules\": [\n  {\"id\": \"A\", \"trigger_type\": \"TRACE_STOP\", \"action\": \"X\",\n   \"condition\": {\"operator\": \"MAX_GAP_SECONDS\", \"value\": \"1\"},\n   \"alert\": {\"handler\": \"h\"}}\n]}\n",
    );
    let out = klaxon(&["rules", "check", path(&file)], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .contains("error: line 3, column 18: rule A (#0): condition.operator: MAX_GAP_SECONDS"),
        "{stdout}"
    );
    assert!(!stdout.contains("metric"), "no threshold errors:\n{stdout}");
    assert!(
        text(&out.stderr).contains("event rule set rejected"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_file_of_neither_kind_shows_the_first_error_of_each() {
    let file = temp(
        "neither.json",
        "{\"rules\": [\n  {\"id\": \"a\", \"colour\": 1}\n]}\n",
    );
    let out = klaxon(&["rules", "check", path(&file)], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("neither an event rule set nor threshold rules"),
        "{stdout}"
    );
    let tried: Vec<&str> = stdout.lines().filter(|l| l.contains(": as ")).collect();
    assert_eq!(tried.len(), 2, "{stdout}");
    assert!(tried[0].contains("as an event rule set"), "{stdout}");
    assert!(tried[1].contains("as threshold rules"), "{stdout}");
    assert!(
        tried.iter().all(|l| l.contains("line 2, column")),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("--threshold"),
        "{}",
        text(&out.stderr)
    );

    let out = klaxon(&["rules", "check", "--json", path(&file)], None);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(doc["kind"], serde_json::Value::Null, "{doc}");
    let kinds: Vec<&str> = doc["tried"]
        .as_array()
        .expect("tried")
        .iter()
        .filter_map(|t| t["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["event", "threshold"], "{doc}");
    assert_eq!(doc["errors"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(doc["errors"][1]["line"], 2, "{doc}");
}

#[test]
fn names_the_config_does_not_define_are_warnings() {
    let config = temp("klaxon.toml", CONFIG);
    let thresholds = temp(
        "named.thresholds.json",
        r#"[{"id": "cpu", "metric": "m", "threshold": 1, "operator": "gt",
             "notification_channels": ["websocket", "pager"],
             "suppression_rules": ["nightly", "weekend"]}]"#,
    );
    let out = klaxon(
        &[
            "rules",
            "check",
            "--config",
            path(&config),
            path(&thresholds),
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is no failure: {stdout}"
    );
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stdout}");
    assert!(
        warnings[0]
            .contains("rule cpu (#0): notification_channels[1]: \"pager\" names no receiver"),
        "{stdout}"
    );
    assert!(
        warnings[1].contains(
            "rule cpu (#0): suppression_rules[1]: \"weekend\" names no maintenance window"
        ),
        "{stdout}"
    );

    let event = temp(
        "named.rules.json",
        r#"{"rules": [
            {"id": "A", "trigger_type": "MARK_EVENT", "action": "X",
             "condition": {"operator": "ON_EVENT"}, "alert": {"handler": "websocket"}},
            {"id": "B", "trigger_type": "MARK_EVENT", "action": "X",
             "condition": {"operator": "ON_EVENT"}, "alert": {"handler": "oncall"}}]}"#,
    );
    let out = klaxon(
        &["rules", "check", "--config", path(&config), path(&event)],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0].contains("rule B (#1): alert.handler: \"oncall\" names no receiver"),
        "{stdout}"
    );

    // Without a configuration nothing is checked against one.
    let out = klaxon(&["rules", "check", path(&event)], None);
    assert!(
        !text(&out.stdout).contains("warning"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn escalation_policies_the_config_does_not_declare_are_warnings() {
    let config = temp(
        "policies.toml",
        &format!(
            "{CONFIG}\n[[escalation_policies]]\nname = \"critical\"\n\
             [[escalation_policies.levels]]\nnotify = [\"receiver:websocket\"]\n"
        ),
    );
    let thresholds = temp(
        "policies.thresholds.json",
        r#"[{"id": "cpu", "metric": "m", "threshold": 1, "operator": "gt",
             "escalation_policy": "critical"},
            {"id": "mem", "metric": "m", "threshold": 1, "operator": "gt",
             "escalation_policy": "nightmare"}]"#,
    );
    let out = klaxon(
        &[
            "rules",
            "check",
            "--config",
            path(&config),
            path(&thresholds),
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0]
            .contains("rule mem (#1): escalation_policy: \"nightmare\" names no escalation policy"),
        "{stdout}"
    );
    // An event rule's handler may name a policy instead of a receiver.
    let event = temp(
        "policies.rules.json",
        r#"{"rules": [
            {"id": "A", "trigger_type": "MARK_EVENT", "action": "X",
             "condition": {"operator": "ON_EVENT"}, "alert": {"handler": "critical"}}]}"#,
    );
    let out = klaxon(
        &["rules", "check", "--config", path(&config), path(&event)],
        None,
    );
    assert!(
        !text(&out.stdout).contains("warning"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn an_invalid_config_fails_the_check() {
    let config = temp("broken.toml", "[[receivers]]\nnom = \"x\"\n");
    let out = klaxon(
        &[
            "rules",
            "check",
            "--config",
            path(&config),
            "examples/metro.rules.json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("invalid configuration"),
        "{}",
        text(&out.stderr)
    );
}
