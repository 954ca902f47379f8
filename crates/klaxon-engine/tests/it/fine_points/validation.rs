//! Validation details of rule sets: required values, part counts, ranges, warnings, and every error at once.

use super::*;

// ---------------------------------------------------------------------------------------------
// 15. Validation details

fn error_fields(doc: &str) -> Vec<String> {
    match parse_rule_set(doc) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

fn rejects(r: R, field: &str) {
    let doc = rules([r.clone()]);
    let fields = error_fields(&doc);
    assert!(
        fields.iter().any(|f| f == field),
        "expected an error on {field} for {}: got {fields:?}",
        r.0
    );
}

fn accepts(r: R) {
    let doc = rules([r.clone()]);
    if let Err(e) = parse_rule_set(&doc) {
        panic!("{} must be accepted: {e:#?}", r.0);
    }
}

#[test]
fn fp15_empty_context_is_an_error() {
    rejects(
        rule("R", "MARK_EVENT", "A", "ON_EVENT", "").ctx(""),
        "context",
    );
}

#[test]
fn fp15_on_values_are_ignored_every_other_operator_needs_a_value() {
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", ""));
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", "anything|||"));
    let mut empty = rule("R", "MARK_EVENT", "A", "ON_EVENT", "");
    empty.0["condition"]["value"] = serde_json::json!("");
    accepts(empty);
    rejects(
        rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", ""),
        "condition.value",
    );
    let mut blank = rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", "");
    blank.0["condition"]["value"] = serde_json::json!("");
    rejects(blank, "condition.value");
    rejects(rule("R", "LOGGING", "", "SEVERITY", ""), "condition.value");
    rejects(
        rule("R", "PROCESS_UPDATE", "job", "INFO_CONTAINS", ""),
        "condition.value",
    );
}

#[test]
fn fp15_part_counts() {
    accepts(rule("R", "MARK_EVENT", "A", "PRECEDED_BY", "X"));
    accepts(rule("R", "MARK_EVENT", "A", "PRECEDED_BY", "X|C"));
    rejects(
        rule("R", "MARK_EVENT", "A", "PRECEDED_BY", "X|C|D"),
        "condition.value",
    );
    for op in [
        "PRECEDED_BY_WITHIN_MS",
        "PRECEDED_BY_WITHIN_SECS",
        "FOLLOWED_BY_WITHIN_MS",
    ] {
        accepts(rule("R", "MARK_EVENT", "A", op, "X|5"));
        accepts(rule("R", "MARK_EVENT", "A", op, "X|C|5"));
        rejects(rule("R", "MARK_EVENT", "A", op, "X"), "condition.value");
        rejects(
            rule("R", "MARK_EVENT", "A", op, "X|C|D|5"),
            "condition.value",
        );
        rejects(rule("R", "MARK_EVENT", "A", op, "X|C"), "condition.value");
    }
    accepts(rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50"));
    accepts(rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50|3"));
    accepts(rule(
        "R",
        "MARK_EVENT",
        "A",
        "AVG_DEVIATION_PCT",
        "50|3|0.5",
    ));
    rejects(
        rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "50|3|0.5|1"),
        "condition.value",
    );
}

#[test]
fn fp15_avg_deviation_ranges() {
    accepts(rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", "0|0|1"));
    for bad in [
        "-5",
        "50|2.5",
        "50|-1",
        "50|3|0",
        "50|3|1.5",
        "50|3|-0.1",
        "x",
        "50|x",
    ] {
        rejects(
            rule("R", "MARK_EVENT", "A", "AVG_DEVIATION_PCT", bad),
            "condition.value",
        );
    }
}

#[test]
fn fp15_numbers_never_inf_or_nan() {
    for bad in ["inf", "NaN", "-inf", "infinity", "1e999", "0x10", "12abc"] {
        rejects(
            rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", bad),
            "condition.value",
        );
    }
    accepts(rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", "12.5"));
    let mut numeric = rule("R", "MARK_EVENT", "A", "MAX_DURATION_MS", "");
    numeric.0["condition"]["value"] = serde_json::json!(250);
    accepts(numeric);
}

#[test]
fn fp15_info_contains_is_a_plain_substring() {
    let set = rules([rule(
        "I",
        "PROCESS_UPDATE",
        "job",
        "INFO_CONTAINS",
        "ka%tt*",
    )]);
    let sigs = [
        start("P", T0, "job", pf()),
        update("P", T0 + 1, pf().info("kaputt")),
        update("P", T0 + 2, pf().info("kapott")),
        update("P", T0 + 3, pf().info("Teil KA%TT* weg")),
    ];
    let a = check(&set, &sigs, None);
    assert_eq!(a.iter().map(|a| a.signal_ts - T0).collect::<Vec<_>>(), [3]);
}

#[test]
fn fp15_throttle_is_a_number_at_least_zero() {
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(0.0));
    accepts(rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(1.5));
    rejects(
        rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(-1.0),
        "alert.throttle_seconds",
    );
    let mut both = rule("R", "MARK_EVENT", "A", "ON_EVENT", "").throttle(1.0);
    both.0["alert"]["throttle"] = serde_json::json!(2);
    let fields = error_fields(&rules([both]));
    assert!(
        fields.iter().any(|f| f.starts_with("alert.throttle")),
        "{fields:?}"
    );
    let mut synonym = rule("R", "MARK_EVENT", "A", "ON_EVENT", "");
    synonym.0["alert"]["throttle"] = serde_json::json!(2);
    let set = rules([synonym]);
    let sigs = [
        mark("P", T0, "A", ""),
        mark("P", T0 + 1999, "A", ""),
        mark("P", T0 + 2000, "A", ""),
    ];
    assert_eq!(
        check(&set, &sigs, None).len(),
        2,
        "alert.throttle is a synonym"
    );
}

#[test]
fn fp15_process_or_logging_rule_with_context_is_accepted_with_a_warning_and_never_evaluated() {
    let doc = rules([
        rule("PS", "PROCESS_START", "job", "ON_START", "").ctx("C1"),
        rule("LG", "LOGGING", "", "SEVERITY", "ERROR").ctx("C1"),
    ]);
    let parsed = parse_rule_set(&doc).expect("accepted");
    let warned: Vec<(Option<&str>, &str)> = parsed
        .warnings
        .iter()
        .map(|w| (w.rule.as_deref(), w.field.as_str()))
        .collect();
    assert!(warned.contains(&(Some("PS"), "context")), "{warned:?}");
    assert!(warned.contains(&(Some("LG"), "context")), "{warned:?}");
    let sigs = [
        start("P", T0, "job", pf()),
        log("P", T0 + 1, Level::Error, "x"),
    ];
    assert_eq!(check(&doc, &sigs, None).len(), 0);
}

#[test]
fn fp15_keywords_case_insensitive_and_underscore_keys_ignored() {
    let mut r = rule("R", "mark_event", "A", "on_event", "");
    r.0["_comment"] = serde_json::json!("ignored");
    r.0["condition"]["_note"] = serde_json::json!({"any": "thing"});
    let doc = serde_json::json!({
        "_comment": "top",
        "header": {"rule_set": "s", "_x": 1},
        "rules": [r.0],
    })
    .to_string();
    let set = parse(&doc);
    assert_eq!(set.rules[0].trigger, Trigger::MarkEvent);
    assert_eq!(set.rules[0].operator, "ON_EVENT");
}

#[test]
fn fp15_every_error_is_reported_at_once() {
    let doc = rules([
        rule("A1", "MARK_EVENT", "A", "MAX_DURATION_MS", "x"),
        rule("A2", "TRACE_STOP", "A", "PRECEDED_BY", "X"),
        rule("A3", "MARK_EVENT", "A", "ON_EVENT", "").with("alert", serde_json::json!({})),
    ]);
    let errors = parse_rule_set(&doc).expect_err("three bad rules");
    let mut blamed: Vec<&str> = errors.iter().filter_map(|e| e.rule.as_deref()).collect();
    blamed.dedup();
    assert_eq!(blamed, ["A1", "A2", "A3"]);
}

#[test]
fn fp15_json_syntax_error_reports_line_and_column() {
    let errors = parse_rule_set("{\n  \"rules\": [\n    {,\n  ]\n}").expect_err("not JSON");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, Some(3));
    assert!(errors[0].column.is_some());
}
