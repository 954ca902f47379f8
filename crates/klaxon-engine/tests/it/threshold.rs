//! Threshold rules end to end: the documented example, every operator and aggregation against
//! hand-computed values, `for` and `resolve_after` to the millisecond, one alert per label set,
//! activation, limits, and the events' JSON form. Each scenario is a list of timed samples and
//! the events expected, written as `kind rule labels @ms value`.

use klaxon_engine::threshold::{
    parse_threshold_rules, Aggregation, Operator, PairState, SampleOutcome, ThresholdEngine,
    ThresholdEvent, ThresholdLimits,
};
use klaxon_engine::{Labels, Metric};
use serde_json::{json, Value};

/// 2023-11-14T22:13:20.000Z.
const T0: i64 = 1_700_000_000_000;

const EXAMPLE: &str = r#"{ "id": "high_cpu_usage", "name": "High CPU Usage Alert", "description": "Triggers when CPU usage exceeds 90%",
  "metric": "system.cpu.usage", "labels": {"host": "web-1"}, "threshold": 90.0,
  "operator": "greater_than", "aggregation": "avg", "evaluation_window": "5m", "for": "1m",
  "severity": "HIGH", "notification_channels": ["websocket", "email"],
  "escalation_policy": "critical_escalation", "suppression_rules": ["maintenance_mode"] }"#;

fn metric(name: &str, labels: &[(&str, &str)], value: f64) -> Metric {
    Metric {
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Labels>(),
        value,
    }
}

/// An engine with `doc` active in group `default`; engine time is driven by sample times.
struct Run {
    engine: ThresholdEngine,
    out: Vec<ThresholdEvent>,
}

impl Run {
    fn new(doc: &str) -> Run {
        let parsed = parse_threshold_rules(doc).unwrap_or_else(|e| panic!("{e:?}"));
        let mut engine = ThresholdEngine::new();
        let mut out = Vec::new();
        engine.activate("default", "test", None, &parsed.set, &mut out);
        assert!(out.is_empty());
        Run { engine, out }
    }

    fn rules(rules: Value) -> Run {
        Run::new(&rules.to_string())
    }

    /// A sample at `T0 + ms`, engine time the same.
    fn at(&mut self, ms: i64, name: &str, labels: &[(&str, &str)], value: f64) -> SampleOutcome {
        let t = T0 + ms;
        self.engine
            .process(t, Some(t), &metric(name, labels, value), &mut self.out)
    }

    fn cpu(&mut self, ms: i64, host: &str, value: f64) {
        let o = self.at(ms, "system.cpu.usage", &[("host", host)], value);
        assert!(matches!(o, SampleOutcome::Evaluated { .. }), "{o:?}");
    }

    fn advance(&mut self, ms: i64) {
        self.engine.advance(T0 + ms, &mut self.out);
    }

    /// The events so far as `kind rule {labels} @ms value`, then cleared.
    fn take(&mut self) -> Vec<String> {
        self.out
            .drain(..)
            .map(|e| {
                let labels: Vec<String> =
                    e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let value = e.value.map_or("none".to_owned(), |v| format!("{v}"));
                format!(
                    "{} {} {{{}}} @{} {value}",
                    e.kind.as_str(),
                    e.rule_id,
                    labels.join(","),
                    e.at - T0
                )
            })
            .collect()
    }

    fn value_of(&self, rule: &str) -> Option<f64> {
        let snap = self.engine.snapshot();
        let p = snap
            .iter()
            .find(|p| &*p.rule_id == rule)
            .unwrap_or_else(|| panic!("no pair of {rule}"));
        p.value
    }
}

fn rule(id: &str, aggregation: &str, operator: &str, threshold: f64) -> Value {
    json!({
        "id": id, "metric": "m", "aggregation": aggregation, "operator": operator,
        "threshold": threshold, "evaluation_window": "30s",
    })
}

#[test]
fn example_is_accepted_exactly_as_written() {
    let parsed = parse_threshold_rules(EXAMPLE).expect("the documented example");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let set = parsed.set;
    assert_eq!((set.name, set.version), (None, None));
    let r = &set.rules[0];
    assert_eq!(r.id, "high_cpu_usage");
    assert_eq!(r.name, "High CPU Usage Alert");
    assert_eq!(r.metric, "system.cpu.usage");
    assert_eq!(r.matchers.len(), 1);
    assert_eq!(r.matchers[0].to_string(), "host=\"web-1\"");
    assert_eq!(r.threshold, 90.0);
    assert_eq!(r.operator, Operator::GreaterThan);
    assert_eq!(r.aggregation, Aggregation::Avg);
    assert_eq!((r.window_ms, r.for_ms), (300_000, 60_000));
    assert_eq!(r.severity, klaxon_engine::Severity::High);
    assert_eq!(r.notification_channels, ["websocket", "email"]);
    assert_eq!(r.escalation_policy.as_deref(), Some("critical_escalation"));
    assert_eq!(r.suppression_rules, ["maintenance_mode"]);
    assert!(r.auto_resolve && r.enabled);
    assert_eq!(r.resolve_after_ms, 0);
    // A rule with only the basic keys (no aggregation, labels or `for`) is accepted too.
    let plain = r#"{"id": "high_cpu_usage", "name": "High CPU Usage Alert",
        "description": "Triggers when CPU usage exceeds 90%", "metric": "system.cpu.usage",
        "threshold": 90.0, "operator": "greater_than", "severity": "HIGH",
        "evaluation_window": "5m", "notification_channels": ["websocket", "email"],
        "escalation_policy": "critical_escalation", "suppression_rules": ["maintenance_mode"]}"#;
    let r = &parse_threshold_rules(plain)
        .expect("the basic form is accepted")
        .set
        .rules[0];
    assert_eq!((r.aggregation, r.for_ms), (Aggregation::Last, 0));
}

#[test]
fn example_goes_pending_fires_after_a_minute_and_resolves() {
    let mut run = Run::new(EXAMPLE);
    // web-1 at 95 every 10 s for two minutes, then 50; web-2 (not matched) always 99.
    for i in 0..=12 {
        run.cpu(i * 10_000, "web-1", 95.0);
        run.cpu(i * 10_000, "web-2", 99.0);
        if i == 0 {
            assert_eq!(run.take(), ["pending high_cpu_usage {host=web-1} @0 95"]);
        }
        if i == 6 {
            // Held for exactly 1 m at 60 000: not yet strictly past it.
            assert!(run.take().is_empty());
            assert_eq!(run.engine.next_deadline(), Some(T0 + 60_001));
            run.advance(60_001);
            assert!(run.take().is_empty(), "the instant 60 001 is not over yet");
            run.advance(60_002);
            assert_eq!(run.take(), ["firing high_cpu_usage {host=web-1} @60001 95"]);
        }
    }
    assert!(run.take().is_empty());
    // 13 × 95 + 50 = 1285 over 14 samples = 91.79 > 90: still firing.
    run.cpu(130_000, "web-1", 50.0);
    assert!(run.take().is_empty());
    // 13 × 95 + 2 × 50 = 1335 over 15 = 89 < 90: resolved.
    run.cpu(140_000, "web-1", 50.0);
    assert_eq!(
        run.take(),
        ["resolved high_cpu_usage {host=web-1} @140000 89"]
    );
    let st = run.engine.stats();
    assert_eq!((st.series, st.pairs, st.firing), (2, 1, 0));
}

#[test]
fn example_events_carry_the_rule_and_explain_themselves() {
    let mut run = Run::new(EXAMPLE);
    run.cpu(0, "web-1", 93.2);
    // The sample at 61 000 first settles the deadline passed at 60 001.
    run.cpu(61_000, "web-1", 93.2);
    let e = &run.out[1];
    assert_eq!(e.kind.as_str(), "firing");
    assert_eq!(
        e.message,
        "system.cpu.usage{host=\"web-1\"} avg over 5m is 93.2, above 90 for 1m"
    );
    assert_eq!(
        run.out[0].message,
        "system.cpu.usage{host=\"web-1\"} avg over 5m is 93.2, above 90; fires if this holds \
         for 1m"
    );
    assert_eq!((e.since, e.at), (T0, T0 + 60_001));
    assert_eq!(&*e.rule_name, "High CPU Usage Alert");
    assert_eq!(&*e.group, "default");
    assert_eq!(&*e.rule_set, "test");
    assert_eq!(
        e.fingerprint,
        klaxon_engine::threshold::threshold_fingerprint(
            "default",
            "high_cpu_usage",
            "system.cpu.usage",
            [("host", "web-1")]
        )
    );
    let v = serde_json::to_value(e).expect("serializable");
    assert_eq!(
        v,
        json!({
            "kind": "firing", "rule_set": "test", "rule_set_version": null, "group": "default",
            "rule_id": "high_cpu_usage", "rule_name": "High CPU Usage Alert",
            "description": "Triggers when CPU usage exceeds 90%",
            "metric": "system.cpu.usage", "labels": {"host": "web-1"}, "aggregation": "avg",
            "evaluation_window_ms": 300000, "value": 93.2, "threshold": 90,
            "operator": "greater_than", "severity": "high", "fingerprint": e.fingerprint_hex(),
            "since": "2023-11-14T22:13:20.000Z", "at": "2023-11-14T22:14:20.001Z",
            "message": e.message, "notification_channels": ["websocket", "email"],
            "escalation_policy": "critical_escalation", "suppression_rules": ["maintenance_mode"],
        })
    );
    run.out.clear();
    run.cpu(62_000, "web-1", 0.0);
    // (93.2 × 2 + 0) / 3 = 62.13.
    assert_eq!(
        run.out[0].message,
        "system.cpu.usage{host=\"web-1\"} avg over 5m is 62.133, no longer above 90"
    );
}

#[test]
fn every_operator_name_alias_and_symbol() {
    let names = [
        (
            Operator::GreaterThan,
            ["greater_than", "gt", ">", "GREATER_THAN", "Gt"],
        ),
        (
            Operator::GreaterEqual,
            ["greater_equal", "gte", ">=", "Greater_Equal", "GTE"],
        ),
        (
            Operator::LessThan,
            ["less_than", "lt", "<", "LESS_THAN", "LT"],
        ),
        (
            Operator::LessEqual,
            ["less_equal", "lte", "<=", "Less_Equal", "LTE"],
        ),
        (Operator::Equal, ["equal", "eq", "==", "EQUAL", "Eq"]),
        (
            Operator::NotEqual,
            ["not_equal", "ne", "!=", "NOT_EQUAL", "NE"],
        ),
    ];
    for (op, aliases) in names {
        for alias in aliases {
            let doc = rule("r", "last", alias, 10.0).to_string();
            let parsed = parse_threshold_rules(&doc).unwrap_or_else(|e| panic!("{alias}: {e:?}"));
            assert_eq!(parsed.set.rules[0].operator, op, "{alias}");
        }
    }
    // Each operator against 9, 10 and 11 with threshold 10: which values fire.
    let fires = [
        ("gt", [false, false, true]),
        ("gte", [false, true, true]),
        ("lt", [true, false, false]),
        ("lte", [true, true, false]),
        ("eq", [false, true, false]),
        ("ne", [true, false, true]),
    ];
    for (op, expected) in fires {
        for (value, expect) in [9.0, 10.0, 11.0].into_iter().zip(expected) {
            let mut run = Run::rules(rule("r", "last", op, 10.0));
            run.at(0, "m", &[], value);
            let events = run.take();
            assert_eq!(!events.is_empty(), expect, "{op} with {value}: {events:?}");
        }
    }
}

#[test]
fn every_aggregation_against_hand_computed_values() {
    let aggs = [
        ("last", 35.0),
        ("avg", 95.0 / 3.0),
        ("average", 95.0 / 3.0),
        ("min", 20.0),
        ("max", 40.0),
        ("sum", 95.0),
        ("count", 3.0),
        // As a counter, 40 → 35 is a reset: increase 35 − 20 + 40 = 55 over the 20 s between
        // the first and last sample in the window.
        ("rate", 2.75),
        // Sorted [20, 35, 40]: rank 0.95 × 2 = 1.9 → 35 + 0.9 × 5.
        ("p95", 39.5),
    ];
    let rules: Vec<Value> = aggs.iter().map(|(a, _)| rule(a, a, "gt", 1e9)).collect();
    let mut run = Run::rules(Value::Array(rules));
    // Window 30 s at 40 s: the samples after 10 s.
    for (ms, v) in [
        (0, 10.0),
        (10_000, 30.0),
        (20_000, 20.0),
        (30_000, 40.0),
        (40_000, 35.0),
    ] {
        run.at(ms, "m", &[], v);
    }
    for (agg, expected) in aggs {
        let v = run
            .value_of(agg)
            .unwrap_or_else(|| panic!("{agg} undefined"));
        assert!((v - expected).abs() < 1e-12, "{agg}: {v} != {expected}");
    }
    // As time passes without samples the values follow the window: at 50 s only 40 and 35.
    run.advance(50_001);
    assert_eq!(run.value_of("count"), Some(2.0));
    assert_eq!(run.value_of("avg"), Some(37.5));
    assert_eq!(run.value_of("min"), Some(35.0));
    // 40 → 35 again a reset: (35 − 40 + 40) / 10 s.
    assert_eq!(run.value_of("rate"), Some(3.5));
    // At 70 s nothing is left: every aggregation but count is undefined.
    run.advance(70_001);
    for (agg, _) in aggs {
        let expected = (agg == "count").then_some(0.0);
        assert_eq!(run.value_of(agg), expected, "{agg}");
    }
}

#[test]
fn rate_corrects_counter_resets() {
    let mut run = Run::rules(
        json!([{"id": "r", "metric": "requests_total", "aggregation": "rate",
        "operator": ">", "threshold": 3.9, "evaluation_window": "1m"}]),
    );
    run.at(0, "requests_total", &[], 100.0);
    run.at(10_000, "requests_total", &[], 130.0);
    assert_eq!(run.value_of("r"), Some(3.0));
    // 130 → 20 is a reset: increase = 20 − 100 + 130 = 50 over 20 s.
    run.at(20_000, "requests_total", &[], 20.0);
    assert_eq!(run.value_of("r"), Some(2.5));
    assert!(run.take().is_empty());
    // 90 − 100 + 130 = 120 over 30 s.
    run.at(30_000, "requests_total", &[], 90.0);
    assert_eq!(run.take(), ["firing r {} @30000 4"]);
    let mut run = Run::rules(json!({"id": "r", "metric": "c", "aggregation": "rate",
        "operator": ">", "threshold": 1, "evaluation_window": "1m"}));
    run.at(0, "c", &[], 1.0);
    run.at(1_000, "c", &[], 4.0);
    assert_eq!(run.out[0].message, "c rate over 1m is 3/s, above 1");
    // One sample is not a rate.
    let mut run = Run::rules(json!({"id": "r", "metric": "c", "aggregation": "rate",
        "operator": "<", "threshold": 1}));
    run.at(0, "c", &[], 5.0);
    assert_eq!(run.value_of("r"), None);
    assert!(run.take().is_empty(), "an undefined rate never holds");
}

#[test]
fn count_holds_on_an_empty_window_and_detects_absence() {
    let mut run = Run::rules(
        json!({"id": "absent", "metric": "heartbeat", "aggregation": "count",
        "operator": "<", "threshold": 1, "evaluation_window": "30s"}),
    );
    run.at(0, "heartbeat", &[("job", "backup")], 1.0);
    run.at(20_000, "heartbeat", &[("job", "backup")], 1.0);
    assert!(run.take().is_empty());
    // The last heartbeat leaves the window at 50 000: count 0 < 1 from that instant.
    // (`next_deadline` is a lower bound: the first heartbeat's expiry is still armed.)
    assert!(run.engine.next_deadline() <= Some(T0 + 50_000));
    run.advance(50_000);
    assert!(run.take().is_empty());
    run.advance(50_001);
    assert_eq!(run.take(), ["firing absent {job=backup} @50000 0"]);
    // The series is kept while its alert is open, and resolves on the next heartbeat.
    run.advance(3_600_000);
    assert!(run.take().is_empty());
    run.at(3_600_000, "heartbeat", &[("job", "backup")], 1.0);
    assert_eq!(run.take(), ["resolved absent {job=backup} @3600000 1"]);
}

#[test]
fn count_above_a_threshold_expires_at_the_exact_sample() {
    let mut run = Run::rules(
        json!({"id": "burst", "metric": "err", "aggregation": "count",
        "operator": ">=", "threshold": 3, "evaluation_window": "10s"}),
    );
    for ms in [0, 1_000, 2_000, 5_000] {
        run.at(ms, "err", &[], 1.0);
    }
    assert_eq!(run.take(), ["firing burst {} @2000 3"]);
    // 4 samples; the count drops below 3 when the second one (at 1 000) leaves: 11 000.
    run.advance(20_000);
    assert_eq!(run.take(), ["resolved burst {} @11000 2"]);
}

#[test]
fn for_fires_strictly_past_the_exact_millisecond() {
    let mut run = Run::rules(
        json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "for": "1500ms", "evaluation_window": "1h"}),
    );
    run.at(0, "m", &[], 11.0);
    assert_eq!(run.take(), ["pending r {} @0 11"]);
    // A sample at exactly 1 500 ms: held for 1.5 s, not strictly more.
    run.at(1_500, "m", &[], 11.0);
    assert!(run.take().is_empty());
    // A sample one millisecond later fires.
    run.at(1_501, "m", &[], 11.0);
    assert_eq!(run.take(), ["firing r {} @1501 11"]);

    // The same by timer, whatever the caller's tick.
    for ticks in [
        vec![1_502],
        vec![1_000, 1_499, 1_500, 1_501, 1_502],
        (1..=1_600).collect(),
    ] {
        let mut run = Run::rules(json!({"id": "r", "metric": "m", "threshold": 10,
            "operator": ">", "for": "1500ms", "evaluation_window": "1h"}));
        run.at(0, "m", &[], 11.0);
        run.take();
        let mut fired = Vec::new();
        for t in ticks {
            run.advance(t);
            fired.extend(run.take().into_iter().map(|e| (t, e)));
        }
        assert_eq!(fired[0].1, "firing r {} @1501 11");
        assert!(fired[0].0 > 1_501, "visible once the instant 1 501 is over");
        assert_eq!(fired.len(), 1);
    }
}

#[test]
fn pending_that_clears_is_cancelled_not_resolved() {
    let mut run = Run::rules(
        json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "for": "1m"}),
    );
    run.at(0, "m", &[], 11.0);
    run.at(30_000, "m", &[], 9.0);
    assert_eq!(
        run.take(),
        ["pending r {} @0 11", "cancelled r {} @30000 9"]
    );
    // The `for` clock restarts with the next episode.
    run.at(40_000, "m", &[], 11.0);
    run.at(100_000, "m", &[], 11.0);
    run.at(100_001, "m", &[], 11.0);
    assert_eq!(
        run.take(),
        ["pending r {} @40000 11", "firing r {} @100001 11"]
    );
}

#[test]
fn resolve_after_is_hysteresis_to_the_millisecond() {
    let doc = json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "resolve_after": "2s"});
    let mut run = Run::rules(doc.clone());
    run.at(0, "m", &[], 11.0);
    assert_eq!(run.take(), ["firing r {} @0 11"]);
    // False at 1 000, true again at 2 500 (before 1 000 + 2 000): stays firing.
    run.at(1_000, "m", &[], 5.0);
    run.at(2_500, "m", &[], 12.0);
    run.advance(10_000);
    assert!(run.take().is_empty());
    // False from 11 000: resolved at the first instant strictly past 13 000.
    run.at(11_000, "m", &[], 5.0);
    run.at(13_000, "m", &[], 5.0);
    assert!(run.take().is_empty());
    assert_eq!(run.engine.next_deadline(), Some(T0 + 13_001));
    run.advance(13_001);
    assert!(run.take().is_empty());
    run.advance(13_002);
    assert_eq!(run.take(), ["resolved r {} @13001 5"]);
    // Without resolve_after the same samples resolve at once and fire again.
    let mut run = Run::rules(json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">"}));
    for (ms, v) in [(0, 11.0), (1_000, 5.0), (2_500, 12.0)] {
        run.at(ms, "m", &[], v);
    }
    assert_eq!(
        run.take(),
        [
            "firing r {} @0 11",
            "resolved r {} @1000 5",
            "firing r {} @2500 12"
        ]
    );
}

#[test]
fn without_auto_resolve_nothing_resolves_and_a_new_episode_fires_again() {
    let mut run = Run::rules(
        json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "auto_resolve": false}),
    );
    for (ms, v) in [(0, 11.0), (1_000, 5.0), (2_000, 12.0)] {
        run.at(ms, "m", &[], v);
    }
    assert_eq!(run.take(), ["firing r {} @0 11", "firing r {} @2000 12"]);
}

#[test]
fn no_data_in_the_window_does_not_hold_and_resolves() {
    let mut run = Run::rules(json!({"id": "low", "metric": "m", "threshold": 10,
        "operator": "<", "aggregation": "max", "evaluation_window": "10s"}));
    run.at(0, "m", &[("host", "a")], 3.0);
    assert_eq!(run.take(), ["firing low {host=a} @0 3"]);
    // The host stops reporting: at 10 000 the window is empty, `max` undefined, not < 10.
    run.advance(60_000);
    assert_eq!(run.take(), ["resolved low {host=a} @10000 none"]);
    let mut run = Run::rules(json!({"id": "low", "metric": "m", "threshold": 10,
        "operator": "<", "aggregation": "max", "evaluation_window": "10s"}));
    run.at(0, "m", &[("host", "a")], 3.0);
    run.advance(10_001);
    assert_eq!(
        run.out[1].message,
        "m{host=\"a\"} max over 10s has no data in the last 10s, no longer below 10"
    );
}

#[test]
fn one_alert_per_matching_label_set() {
    let mut run = Run::rules(json!([
        {"id": "any", "metric": "disk", "threshold": 90, "operator": ">"},
        {"id": "web1", "metric": "disk", "labels": {"host": "web-1"}, "threshold": 90,
         "operator": ">"},
        {"id": "not_staging", "metric": "disk", "label_matchers": ["env!=staging"],
         "threshold": 90, "operator": ">"},
        {"id": "web_hosts", "metric": "disk", "label_matchers": ["host=~web-[0-9]+"],
         "threshold": 90, "operator": ">"},
        {"id": "mount_root", "metric": "disk", "labels": {"mount": "/"}, "threshold": 90,
         "operator": ">"},
        {"id": "no_mount", "metric": "disk", "labels": {"mount": ""}, "threshold": 90,
         "operator": ">"},
        {"id": "other", "metric": "cpu", "threshold": 0, "operator": ">"},
    ]));
    run.at(
        0,
        "disk",
        &[("host", "web-1"), ("env", "prod"), ("mount", "/")],
        95.0,
    );
    run.at(0, "disk", &[("host", "web-2"), ("env", "staging")], 95.0);
    run.at(0, "disk", &[("host", "db-1")], 95.0);
    assert_eq!(
        run.take(),
        [
            "firing any {env=prod,host=web-1,mount=/} @0 95",
            "firing web1 {env=prod,host=web-1,mount=/} @0 95",
            "firing not_staging {env=prod,host=web-1,mount=/} @0 95",
            "firing web_hosts {env=prod,host=web-1,mount=/} @0 95",
            "firing mount_root {env=prod,host=web-1,mount=/} @0 95",
            "firing any {env=staging,host=web-2} @0 95",
            "firing web_hosts {env=staging,host=web-2} @0 95",
            "firing no_mount {env=staging,host=web-2} @0 95",
            "firing any {host=db-1} @0 95",
            "firing not_staging {host=db-1} @0 95",
            "firing no_mount {host=db-1} @0 95",
        ]
    );
    // Still firing: no repeat.
    run.at(10_000, "disk", &[("host", "db-1")], 96.0);
    assert!(run.take().is_empty());
    let fingerprints: std::collections::HashSet<u64> = run
        .engine
        .snapshot()
        .iter()
        .map(|p| p.fingerprint)
        .collect();
    assert_eq!(fingerprints.len(), 11, "one identity per (rule, series)");
}

#[test]
fn label_order_and_empty_values_do_not_make_new_series() {
    let mut run = Run::rules(
        json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "aggregation": "count", "evaluation_window": "1h"}),
    );
    run.at(0, "m", &[("a", "1"), ("b", "2")], 1.0);
    run.at(1, "m", &[("b", "2"), ("a", "1")], 1.0);
    run.at(2, "m", &[("b", "2"), ("c", ""), ("a", "1")], 1.0);
    assert_eq!(run.engine.stats().series, 1);
    assert_eq!(run.value_of("r"), Some(3.0));
}

#[test]
fn out_of_order_and_duplicate_samples_are_dropped() {
    let mut run = Run::rules(
        json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "aggregation": "count", "evaluation_window": "1h"}),
    );
    assert!(matches!(
        run.at(1_000, "m", &[], 1.0),
        SampleOutcome::Evaluated { .. }
    ));
    assert_eq!(run.at(1_000, "m", &[], 1.0), SampleOutcome::OutOfOrder);
    assert_eq!(run.at(500, "m", &[], 1.0), SampleOutcome::OutOfOrder);
    assert_eq!(run.at(2_000, "other", &[], 1.0), SampleOutcome::NoRule);
    let nan = metric("m", &[], f64::NAN);
    assert_eq!(
        run.engine.process(T0 + 3_000, None, &nan, &mut run.out),
        SampleOutcome::NotFinite
    );
    // A sample without ts takes engine time.
    assert_eq!(
        run.engine
            .process(T0 + 4_000, None, &metric("m", &[], 1.0), &mut run.out),
        SampleOutcome::Evaluated { ts: T0 + 4_000 }
    );
    assert_eq!(run.value_of("r"), Some(2.0));
    let st = run.engine.stats();
    assert_eq!(
        (
            st.samples,
            st.samples_evaluated,
            st.samples_out_of_order,
            st.samples_no_rule,
            st.samples_not_finite
        ),
        (6, 2, 2, 1, 1)
    );
}

#[test]
fn limits_bound_series_and_points() {
    let set = parse_threshold_rules(
        &json!({"id": "r", "metric": "m", "threshold": 1e9, "operator": ">",
            "aggregation": "count", "evaluation_window": "1h"})
        .to_string(),
    )
    .expect("valid")
    .set;
    let mut e = ThresholdEngine::with_limits(ThresholdLimits {
        max_series: 2,
        max_points_per_series: 5,
    });
    let mut out = Vec::new();
    e.activate("default", "t", None, &set, &mut out);
    for i in 0..10 {
        e.process(T0 + i, None, &metric("m", &[("h", "a")], 1.0), &mut out);
    }
    e.process(T0 + 10, None, &metric("m", &[("h", "b")], 1.0), &mut out);
    assert_eq!(
        e.process(T0 + 11, None, &metric("m", &[("h", "c")], 1.0), &mut out),
        SampleOutcome::SeriesLimit
    );
    let snap = e.snapshot();
    assert_eq!(snap[0].value, Some(5.0), "capped at 5 points");
    let st = e.stats();
    assert_eq!(
        (st.series, st.points_evicted, st.samples_series_limit),
        (2, 5, 1)
    );
}

#[test]
fn idle_series_are_forgotten() {
    let mut run = Run::rules(
        json!({"id": "r", "metric": "m", "threshold": 10, "operator": ">",
        "evaluation_window": "1m"}),
    );
    run.at(0, "m", &[("host", "gone")], 1.0);
    run.at(0, "m", &[("host", "stays")], 1.0);
    for ms in (60_000..=400_000).step_by(60_000) {
        run.at(ms, "m", &[("host", "stays")], 1.0);
    }
    // Idle for its 1 m window plus 5 m: forgotten at 360 000.
    run.advance(420_000);
    assert_eq!(run.engine.stats().series, 1);
    assert_eq!(run.engine.stats().series_forgotten, 1);
}

#[test]
fn activation_keeps_unchanged_rules_and_settles_removed_ones() {
    let a = json!({"id": "a", "metric": "m", "threshold": 10, "operator": ">", "for": "1m",
        "evaluation_window": "1h"});
    let b = json!({"id": "b", "metric": "m", "threshold": 10, "operator": ">",
        "evaluation_window": "1h"});
    let c = json!({"id": "c", "metric": "m", "threshold": 0, "operator": ">",
        "evaluation_window": "1h"});
    let mut run = Run::rules(json!([a, b]));
    run.at(0, "m", &[], 11.0);
    assert_eq!(run.take(), ["pending a {} @0 11", "firing b {} @0 11"]);
    // New version: a unchanged (keeps pending since 0), b gone (resolved), c new (fires now
    // from the samples the series holds).
    let set = parse_threshold_rules(&json!([a, c]).to_string())
        .expect("valid")
        .set;
    run.engine.advance(T0 + 30_000, &mut run.out);
    run.engine
        .activate("default", "test", None, &set, &mut run.out);
    assert_eq!(
        run.take(),
        ["resolved b {} @30000 11", "firing c {} @30000 11"]
    );
    let removed = {
        let mut r2 = Run::rules(json!([a, b]));
        r2.at(0, "m", &[], 11.0);
        r2.out.clear();
        r2.engine
            .activate("default", "test", None, &set, &mut r2.out);
        r2.out.remove(0).message
    };
    assert_eq!(
        removed,
        "m is 11, no longer above 10; rule b of group default was removed, disabled or no \
         longer matches"
    );
    run.at(60_001, "m", &[], 11.0);
    assert_eq!(
        run.take(),
        ["firing a {} @60001 11"],
        "a kept its pending state"
    );
    // A changed threshold keeps the state and re-evaluates at once.
    let a2 = json!({"id": "a", "metric": "m", "threshold": 20, "operator": ">", "for": "1m",
        "evaluation_window": "1h"});
    let set = parse_threshold_rules(&json!([a2, c]).to_string())
        .expect("valid")
        .set;
    run.engine
        .activate("default", "test", None, &set, &mut run.out);
    assert_eq!(run.take(), ["resolved a {} @60001 11"]);
    // Deactivating the group settles everything still open.
    assert!(run.engine.deactivate("default", &mut run.out));
    assert_eq!(run.take(), ["resolved c {} @60001 11"]);
    assert_eq!(run.engine.stats().series, 0);
    assert!(!run.engine.deactivate("default", &mut run.out));
}

#[test]
fn groups_are_independent_and_disabled_rules_never_run() {
    let set = |threshold: f64, enabled: bool| {
        parse_threshold_rules(
            &json!({"id": "r", "metric": "m", "threshold": threshold, "operator": ">",
                "enabled": enabled})
            .to_string(),
        )
        .expect("valid")
        .set
    };
    let mut e = ThresholdEngine::new();
    let mut out = Vec::new();
    e.activate("ops", "ops rules", None, &set(10.0, true), &mut out);
    e.activate(
        "dev",
        "dev rules",
        Some(3.into()),
        &set(20.0, true),
        &mut out,
    );
    e.activate("off", "off rules", None, &set(0.0, false), &mut out);
    e.process(T0, None, &metric("m", &[], 15.0), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((&*out[0].group, &*out[0].rule_set), ("ops", "ops rules"));
    e.process(T0 + 1, None, &metric("m", &[], 25.0), &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(&*out[1].group, "dev");
    assert_eq!(out[1].rule_set_version, Some(3.into()));
    assert_ne!(out[0].fingerprint, out[1].fingerprint);
    let groups: Vec<&str> = e.active().map(|(g, _, _)| g).collect();
    assert_eq!(groups, ["dev", "off", "ops"]);
    assert_eq!(e.stats().rules, 2);
    assert!(e.snapshot().iter().all(|p| p.state == PairState::Firing));
}

#[test]
fn replaying_the_same_input_gives_the_same_events() {
    let doc = json!([
        {"id": "avg", "metric": "m", "aggregation": "avg", "operator": ">", "threshold": 50,
         "evaluation_window": "20s", "for": "5s", "resolve_after": "3s"},
        {"id": "p95", "metric": "m", "aggregation": "p95", "operator": ">=", "threshold": 80,
         "evaluation_window": "30s"},
        {"id": "cnt", "metric": "m", "aggregation": "count", "operator": "<", "threshold": 3,
         "evaluation_window": "10s", "for": "2s"},
    ]);
    let drive = || {
        let mut run = Run::rules(doc.clone());
        let mut x = 12_345u64;
        for i in 0..2_000i64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let host = ["a", "b", "c"][(x >> 60) as usize % 3];
            let gap = (x >> 40) % 4_000;
            run.at(
                i * 1_000 + gap as i64,
                "m",
                &[("host", host)],
                ((x >> 33) % 100) as f64,
            );
        }
        run.advance(10_000_000);
        run.out
    };
    let (a, b) = (drive(), drive());
    assert!(a.len() > 100, "the scenario must do something: {}", a.len());
    assert_eq!(a, b);
}

#[test]
fn restored_firing_alerts_resolve_when_their_condition_is_false() {
    let doc = json!({"id": "hot", "metric": "temp", "threshold": 80, "operator": ">",
        "evaluation_window": "1m"});
    // A sample still above: no second `firing`, the alert just continues.
    let mut run = Run::rules(doc.clone());
    let labels = Labels::from([("room".to_owned(), "a".to_owned())]);
    let restore = |run: &mut Run, group: &str, rule: &str, labels: &Labels| {
        run.engine
            .restore_firing(T0, group, rule, labels, T0 - 3_600_000)
    };
    assert!(restore(&mut run, "default", "hot", &labels));
    assert!(!restore(&mut run, "default", "cold", &labels));
    assert!(!restore(&mut run, "other", "hot", &labels));
    let other_metric_labels = Labels::new();
    assert!(
        restore(&mut run, "default", "hot", &other_metric_labels),
        "no matchers: any labels"
    );
    run.at(0, "temp", &[("room", "a")], 90.0);
    assert!(run.take().is_empty());
    run.at(1_000, "temp", &[("room", "a")], 70.0);
    assert_eq!(run.take(), ["resolved hot {room=a} @1000 70"]);
    // No sample at all: resolved for lack of data one window after the restore.
    let mut run = Run::rules(doc);
    assert!(run
        .engine
        .restore_firing(T0, "default", "hot", &labels, T0 - 5_000));
    run.advance(60_000);
    assert!(run.take().is_empty());
    run.advance(60_001);
    assert_eq!(run.take(), ["resolved hot {room=a} @60000 none"]);
    // A rule with matchers restores only series they match.
    let mut run = Run::rules(json!({"id": "hot", "metric": "temp", "threshold": 80,
        "operator": ">", "labels": {"room": "b"}}));
    assert!(!run.engine.restore_firing(T0, "default", "hot", &labels, T0));
}
