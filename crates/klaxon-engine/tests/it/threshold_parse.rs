//! Threshold rule documents: the three accepted shapes, defaults, and validation that reports
//! every error of the set at once with rule id (or index), field and reason.

use klaxon_engine::threshold::{parse_threshold_rules, Aggregation, MatchOp, Operator};
use klaxon_engine::RuleError;
use klaxon_engine::Severity;
use serde_json::{json, Value};

fn errors(doc: &Value) -> Vec<RuleError> {
    parse_threshold_rules(&doc.to_string()).expect_err("must be rejected")
}

/// (rule, index, field) of each error, in order.
fn where_(errors: &[RuleError]) -> Vec<(Option<&str>, Option<usize>, &str)> {
    errors
        .iter()
        .map(|e| (e.rule.as_deref(), e.index, e.field.as_str()))
        .collect()
}

fn minimal() -> Value {
    json!({"id": "r", "metric": "m", "threshold": 1, "operator": "gt"})
}

#[test]
fn three_document_shapes() {
    let set = json!({
        "header": {"rule_set": "system", "rule_set_version": 3, "description": "host rules"},
        "rules": [minimal()],
    });
    let parsed = parse_threshold_rules(&set.to_string()).expect("a set");
    assert_eq!(parsed.set.name.as_deref(), Some("system"));
    assert_eq!(parsed.set.version, Some(3.into()));
    assert_eq!(parsed.set.description.as_deref(), Some("host rules"));
    assert_eq!(parsed.set.rules.len(), 1);
    let bare = parse_threshold_rules(
        &json!([minimal(), {"id": "s", "metric": "m",
        "threshold": 2, "operator": "lt"}])
        .to_string(),
    )
    .expect("an array");
    assert_eq!(bare.set.name, None);
    assert_eq!(bare.set.rules.len(), 2);
    let one = parse_threshold_rules(&minimal().to_string()).expect("one rule");
    assert_eq!(one.set.rules[0].id, "r");
    // Empty sets are fine.
    assert!(parse_threshold_rules("[]")
        .expect("empty")
        .set
        .rules
        .is_empty());
    assert!(parse_threshold_rules(r#"{"rules": []}"#).is_ok());
}

#[test]
fn defaults() {
    let r = &parse_threshold_rules(&minimal().to_string())
        .expect("valid")
        .set
        .rules[0];
    assert_eq!(r.name, "r", "the name defaults to the id");
    assert_eq!(r.aggregation, Aggregation::Last);
    assert_eq!((r.window_ms, r.for_ms, r.resolve_after_ms), (60_000, 0, 0));
    assert_eq!(r.severity, Severity::Medium);
    assert!(r.auto_resolve && r.enabled);
    assert!(r.matchers.is_empty() && r.notification_channels.is_empty());
    assert!(r.suppression_rules.is_empty() && r.escalation_policy.is_none());
}

#[test]
fn durations_severities_aggregations_and_matchers() {
    let doc = json!({"id": "r", "metric": "m", "threshold": -2.5, "operator": "<=",
        "aggregation": "P95", "evaluation_window": 90, "for": "1h30m",
        "resolve_after": "250ms", "severity": "warning",
        "labels": {"host": "web-1"},
        "label_matchers": ["env!=\"staging\"", "dc=~eu-.*", "rack!~r[0-9]"],
        "auto_resolve": false, "enabled": false, "_note": "ignored"});
    let parsed = parse_threshold_rules(&doc.to_string()).expect("valid");
    let r = &parsed.set.rules[0];
    assert_eq!(r.threshold, -2.5);
    assert_eq!(r.operator, Operator::LessEqual);
    assert_eq!(r.aggregation, Aggregation::P95);
    assert_eq!(
        (r.window_ms, r.for_ms, r.resolve_after_ms),
        (90_000, 5_400_000, 250)
    );
    assert_eq!(r.severity, Severity::Medium);
    assert!(!r.auto_resolve && !r.enabled);
    let ops: Vec<(&str, MatchOp, &str)> = r
        .matchers
        .iter()
        .map(|m| (m.label.as_str(), m.op, m.value.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("host", MatchOp::Equal, "web-1"),
            ("env", MatchOp::NotEqual, "staging"),
            ("dc", MatchOp::Matches, "eu-.*"),
            ("rack", MatchOp::NotMatches, "r[0-9]"),
        ]
    );
    for (name, agg) in [
        ("LAST", Aggregation::Last),
        ("Mean", Aggregation::Avg),
        ("average", Aggregation::Avg),
        ("count", Aggregation::Count),
        ("RATE", Aggregation::Rate),
    ] {
        let doc = json!({"id": "r", "metric": "m", "threshold": 1, "operator": "gt",
            "aggregation": name});
        let parsed = parse_threshold_rules(&doc.to_string()).expect("valid");
        assert_eq!(parsed.set.rules[0].aggregation, agg, "{name}");
    }
}

#[test]
fn every_error_of_the_set_is_reported_at_once() {
    let doc = json!({
        "header": {"rule_set": 5, "version": 2},
        "rules": [
            {"id": "cpu", "metric": "system.cpu.usage", "threshold": "90", "operator": "above",
             "aggregation": "median", "evaluation_window": "5", "for": "-1m",
             "severity": "urgent", "notification_channels": "email",
             "labels": {"host": 1}, "label_matchers": ["host~web"], "treshold": 90},
            {"metric": "", "threshold": 1, "operator": "gt", "resolve_after": "1.5m",
             "auto_resolve": "yes", "suppression_rules": ["", 3]},
            "not a rule",
            {"id": "cpu", "metric": "m", "threshold": 1, "operator": "gt",
             "evaluation_window": "0s", "escalation_policy": ""},
            {"id": "ok", "metric": "m", "threshold": 1, "operator": "gt"},
        ],
        "extra": true,
    });
    let errs = errors(&doc);
    assert_eq!(
        where_(&errs),
        [
            (None, None, "header.rule_set"),
            (None, None, "header.version"),
            (None, None, "extra"),
            (Some("cpu"), Some(0), "labels.host"),
            (Some("cpu"), Some(0), "label_matchers[0]"),
            (Some("cpu"), Some(0), "threshold"),
            (Some("cpu"), Some(0), "operator"),
            (Some("cpu"), Some(0), "aggregation"),
            (Some("cpu"), Some(0), "evaluation_window"),
            (Some("cpu"), Some(0), "for"),
            (Some("cpu"), Some(0), "severity"),
            (Some("cpu"), Some(0), "notification_channels"),
            (Some("cpu"), Some(0), "treshold"),
            (None, Some(1), "id"),
            (None, Some(1), "metric"),
            (None, Some(1), "resolve_after"),
            (None, Some(1), "suppression_rules[0]"),
            (None, Some(1), "suppression_rules[1]"),
            (None, Some(1), "auto_resolve"),
            (None, Some(2), "rule"),
            (Some("cpu"), Some(3), "id"),
            (Some("cpu"), Some(3), "evaluation_window"),
            (Some("cpu"), Some(3), "escalation_policy"),
        ]
    );
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let has = |needle: &str| {
        assert!(
            text.iter().any(|t| t.contains(needle)),
            "no error contains {needle:?}:\n{}",
            text.join("\n")
        );
    };
    has("rule cpu (#0): threshold: must be a number, got a string");
    has(
        "rule cpu (#0): operator: unknown operator \"above\"; accepted: greater_than (gt, >), \
         greater_equal (gte, >=), less_than (lt, <), less_equal (lte, <=), equal (eq, ==), \
         not_equal (ne, !=) (any case)",
    );
    has("unknown aggregation \"median\"; accepted: last, avg, min, max, sum, count, rate, p95");
    has("evaluation_window: \"5\" has no unit; write e.g. \"5s\"");
    has("for: \"-1m\" is not a duration");
    has("unknown severity \"urgent\"");
    has("notification_channels: must be an array of strings, got a string");
    has("labels.host: must be a string (labels match exactly), got a number");
    has("label_matchers[0]: \"host~web\" has no operator");
    has("treshold: unknown key (did you mean threshold?)");
    has("rule #1: id: is required");
    has("rule #1: metric: must be a non-empty string");
    has("resolve_after: \"1.5m\": fractions are not allowed");
    has("auto_resolve: must be true or false, got a string");
    has("rule #2: rule: must be an object, got a string");
    has("rule cpu (#3): id: duplicate id \"cpu\": rule #0 already uses it");
    has("rule cpu (#3): evaluation_window: must be longer than 0");
    has("extra: unknown key");
}

#[test]
fn required_fields() {
    let errs = errors(&json!({"id": "r", "name": "only a name"}));
    assert_eq!(
        where_(&errs),
        [
            (Some("r"), Some(0), "metric"),
            (Some("r"), Some(0), "threshold"),
            (Some("r"), Some(0), "operator"),
        ]
    );
}

#[test]
fn label_patterns_are_prometheus_regular_expressions() {
    let doc = json!({"id": "r", "metric": "m", "threshold": 1, "operator": "gt",
        "label_matchers": ["host=~(?i)(web|db)-\\d{1,2}", "dc!~eu-.*"]});
    let parsed = parse_threshold_rules(&doc.to_string()).expect("accepted");
    let rule = &parsed.set.rules[0];
    let series = |host, dc| rule.matches_labels([("dc", dc), ("host", host)].into_iter());
    assert!(series("WEB-1", "us-east"));
    assert!(series("db-42", "us-east"));
    assert!(
        !series("db-420", "us-east"),
        "anchored: the whole value must match"
    );
    assert!(!series("web-1", "eu-west"));

    let doc = json!({"id": "r", "metric": "m", "threshold": 1, "operator": "gt",
        "label_matchers": ["host=~(web|db-1"]});
    let errs = errors(&doc);
    assert_eq!(errs[0].field, "label_matchers[0]");
    assert_eq!(
        errs[0].message,
        "\"host=~(web|db-1\": regex `(web|db-1`: unclosed group at character 1"
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    let errs = parse_threshold_rules("{\"id\": \"r\",\n \"metric\" \"m\"}").expect_err("syntax");
    assert_eq!(errs.len(), 1);
    assert_eq!((errs[0].line, errs[0].column), (Some(2), Some(11)));
    assert_eq!(errs[0].field, "document");
    let errs = parse_threshold_rules(r#"{"id": "r", "id": "s"}"#).expect_err("duplicate key");
    assert!(
        errs[0].message.contains("duplicate key \"id\""),
        "{}",
        errs[0]
    );
    for doc in ["3", "\"rules\"", r#"{"nothing": "known"}"#] {
        let errs = parse_threshold_rules(doc).expect_err(doc);
        assert_eq!(errs[0].field, "document", "{doc}");
        assert!(
            errs[0].message.starts_with("must be a threshold rule set"),
            "{doc}: {}",
            errs[0]
        );
    }
}

#[test]
fn exact_comparison_of_a_fraction_is_warned_about() {
    let doc = json!({"id": "r", "metric": "m", "threshold": 1, "operator": "==",
        "aggregation": "avg"});
    let parsed = parse_threshold_rules(&doc.to_string()).expect("a warning does not reject");
    assert_eq!(parsed.warnings.len(), 1);
    assert_eq!(parsed.warnings[0].field, "operator");
    let doc = json!({"id": "r", "metric": "m", "threshold": 1, "operator": "==",
        "aggregation": "count"});
    assert!(parse_threshold_rules(&doc.to_string())
        .expect("valid")
        .warnings
        .is_empty());
}
