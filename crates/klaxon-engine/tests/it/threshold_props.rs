//! Properties of the threshold engine over random inputs: label order never changes the series
//! or the fingerprint; replaying gives the same events; extra `advance` calls between samples
//! change nothing; every alert's events follow the state machine, in time order.

use std::collections::HashMap;

use klaxon_engine::threshold::{
    parse_threshold_rules, threshold_fingerprint, ThresholdEngine, ThresholdEvent,
    ThresholdEventKind,
};
use klaxon_engine::wire::parse_signal;
use klaxon_engine::{Body, Labels, Metric};
use proptest::prelude::*;
use serde_json::json;

const T0: i64 = 1_700_000_000_000;

fn engine(rules: serde_json::Value) -> (ThresholdEngine, Vec<ThresholdEvent>) {
    let set = parse_threshold_rules(&rules.to_string())
        .expect("valid rules")
        .set;
    let mut e = ThresholdEngine::new();
    let mut out = Vec::new();
    e.activate("default", "props", None, &set, &mut out);
    (e, out)
}

fn sample_text(name: &str, labels: &[(String, String)], value: f64, ts: i64) -> String {
    let body: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), json!(v)))
        .collect();
    format!(
        r#"{{"kind":"metric","name":{},"labels":{{{}}},"value":{value},"ts":{ts}}}"#,
        json!(name),
        body.join(",")
    )
}

fn metric_of(text: &str) -> (Option<i64>, Metric) {
    let s = parse_signal(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    match s.body {
        Body::Metric(m) => (s.ts, m),
        other => panic!("not a metric: {other:?}"),
    }
}

fn rule_set() -> serde_json::Value {
    json!([
        {"id": "avg", "metric": "m", "aggregation": "avg", "operator": ">", "threshold": 60,
         "evaluation_window": "5s", "for": "2s", "resolve_after": "1s"},
        {"id": "min", "metric": "m", "aggregation": "min", "operator": "<", "threshold": 20,
         "evaluation_window": "3s"},
        {"id": "max", "metric": "m", "aggregation": "max", "operator": ">=", "threshold": 95,
         "evaluation_window": "4s", "for": "500ms"},
        {"id": "sum", "metric": "m", "aggregation": "sum", "operator": ">", "threshold": 150,
         "evaluation_window": "6s"},
        {"id": "cnt", "metric": "m", "aggregation": "count", "operator": "<=", "threshold": 1,
         "evaluation_window": "2s", "for": "1s"},
        {"id": "rate", "metric": "m", "aggregation": "rate", "operator": ">", "threshold": 30,
         "evaluation_window": "3s"},
        {"id": "p95", "metric": "m", "aggregation": "p95", "operator": ">", "threshold": 90,
         "evaluation_window": "10s", "resolve_after": "2s"},
        {"id": "last_a", "metric": "m", "operator": "ne", "threshold": 50,
         "labels": {"host": "a"}, "for": "1s"},
        {"id": "not_b", "metric": "m", "aggregation": "max", "operator": "<", "threshold": 10,
         "label_matchers": ["host!=b"], "evaluation_window": "2s"},
    ])
}

/// A timed sample: delay since the previous one (ms), host index, value.
fn stream() -> impl Strategy<Value = Vec<(i64, usize, f64)>> {
    prop::collection::vec((0i64..1_500, 0usize..3, 0u32..101), 1..150).prop_map(|v| {
        v.into_iter()
            .map(|(d, h, x)| (d, h, f64::from(x)))
            .collect()
    })
}

/// Runs the stream; `ticks` are extra `advance` times (fractions of each gap) before a sample.
fn run(stream: &[(i64, usize, f64)], ticks: &[u8]) -> Vec<ThresholdEvent> {
    let (mut e, mut out) = engine(rule_set());
    let hosts = ["a", "b", "c"];
    let mut t = T0;
    for (i, &(gap, h, v)) in stream.iter().enumerate() {
        let before = t;
        t += gap;
        if let Some(&f) = ticks.get(i) {
            if f > 0 {
                let u = before + gap * i64::from(f) / 255;
                e.advance(u, &mut out);
            }
        }
        let m = Metric {
            name: "m".into(),
            labels: Labels::from([("host".to_owned(), hosts[h].to_owned())]),
            value: v,
        };
        e.process(t, Some(t), &m, &mut out);
    }
    e.advance(t + 60_000, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn label_order_never_changes_the_series_or_the_fingerprint(
        labels in prop::collection::btree_map("[a-z_]{1,6}", "[a-zA-Z0-9 .\"-]{1,8}", 1..6),
        seeds in prop::collection::vec(any::<u64>(), 1..6),
    ) {
        let (mut e, mut out) = engine(json!({"id": "r", "metric": "m", "operator": ">",
            "threshold": 0, "aggregation": "count", "evaluation_window": "1h"}));
        let sorted: Vec<(String, String)> = labels.into_iter().collect();
        let mut fingerprints = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            // A permutation of the labels, sent in that order.
            let mut order = sorted.clone();
            let mut s = *seed;
            for j in (1..order.len()).rev() {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                order.swap(j, (s >> 33) as usize % (j + 1));
            }
            let text = sample_text("m", &order, 1.0, T0 + i as i64);
            let (ts, m) = metric_of(&text);
            e.process(T0 + i as i64, ts, &m, &mut out);
            fingerprints.extend(e.snapshot().iter().map(|p| p.fingerprint));
        }
        prop_assert_eq!(e.stats().series, 1);
        prop_assert_eq!(e.snapshot()[0].value, Some(seeds.len() as f64));
        let expected = threshold_fingerprint(
            "default", "r", "m", sorted.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        prop_assert!(fingerprints.iter().all(|&f| f == expected));
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(out[0].fingerprint, expected);
    }

    #[test]
    fn replaying_gives_the_same_events_whatever_the_ticks(
        s in stream(),
        ticks in prop::collection::vec(any::<u8>(), 0..150),
    ) {
        let plain = run(&s, &[]);
        prop_assert_eq!(&plain, &run(&s, &[]));
        prop_assert_eq!(&plain, &run(&s, &ticks));
    }

    #[test]
    fn events_follow_the_state_machine_in_time_order(s in stream()) {
        let events = run(&s, &[]);
        let mut state: HashMap<u64, ThresholdEventKind> = HashMap::new();
        let mut last_at = i64::MIN;
        for e in &events {
            prop_assert!(e.at >= last_at, "events out of time order");
            last_at = e.at;
            let prev = state.get(&e.fingerprint).copied();
            use ThresholdEventKind::*;
            let legal = matches!(
                (prev, e.kind),
                (None | Some(Resolved | Cancelled), Pending | Firing)
                    | (Some(Pending), Firing | Cancelled)
                    | (Some(Firing), Resolved)
            );
            prop_assert!(legal, "{:?} after {:?} for {}", e.kind, prev, e.rule_id);
            if e.kind == Firing {
                prop_assert!(e.at >= e.since);
            }
            state.insert(e.fingerprint, e.kind);
        }
    }
}
