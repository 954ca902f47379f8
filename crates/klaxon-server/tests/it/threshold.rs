//! Threshold rules through the server: stored, validated (every error at once), versioned and
//! activated apart from event rule sets; metric samples through `/v1/signals` raise one alert
//! per series, pending until `for` has passed, resolved when the condition stops holding; the
//! built-in collector feeds the `high_cpu_usage` rule of docs/threshold-rules.md as written; a
//! restart keeps a firing alert open until its condition is found false.

use serde_json::{json, Value};

use crate::harness::{data_dir, start, Running};

async fn store_and_activate(r: &Running, doc: &Value) -> i64 {
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules?group=ops", &doc.to_string())
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["kind"], "threshold");
    let version = v["version"].as_i64().expect("version");
    let name = v["name"].as_str().expect("name").to_owned();
    let (s, v) = r
        .admin(
            "POST",
            &format!("/v1/threshold-rules/{name}/{version}/activate?group=ops"),
            "",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    version
}

async fn sample(r: &Running, name: &str, labels: Value, value: f64) {
    let line = json!({"kind": "metric", "name": name, "labels": labels, "value": value});
    let (s, v) = r.ndjson("/v1/signals", &format!("{line}\n")).await;
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(1)), "{v}");
}

/// The alerts of rule `rule` (newest first).
async fn alerts_until(r: &Running, rule: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let v = r
        .until(&format!("/alerts/history?rule={rule}&limit=50"), |v| {
            v["alerts"].as_array().is_some_and(|a| pred(a))
        })
        .await;
    v["alerts"].as_array().cloned().unwrap_or_default()
}

fn no_collector(c: &mut klaxon_server::config::Config) {
    c.collector.enabled = false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_threshold_document_lists_every_error_and_changes_nothing() {
    let dir = data_dir("threshold-invalid");
    let r = start(&dir, no_collector).await;
    let bad = json!({"rules": [
        {"id": "a", "metric": "m", "threshold": "high", "operator": "greater_than"},
        {"id": "b", "metric": "m", "threshold": 1, "operator": "bigger", "treshold": 2},
        {"id": "a", "metric": "", "threshold": 1, "operator": "gt", "evaluation_window": "5"}
    ]});
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules", &bad.to_string())
        .await;
    assert_eq!(s, 422, "{v}");
    let errors = v["error"]["details"].as_array().expect("every error");
    assert!(errors.len() >= 5, "{v}");
    for (rule, field) in [
        ("a", "threshold"),
        ("b", "operator"),
        ("b", "treshold"),
        ("a", "metric"),
        ("a", "evaluation_window"),
    ] {
        assert!(
            errors
                .iter()
                .any(|e| e["rule"] == rule && e["field"].as_str() == Some(field)),
            "an error names rule {rule} and field {field}: {v}"
        );
    }
    let (s, v) = r.admin("POST", "/v1/threshold-rules/check", "[{").await;
    assert_eq!(s, 422);
    assert_eq!(
        (
            v["error"]["details"][0]["line"].as_u64(),
            v["error"]["details"][0]["column"].as_u64()
        ),
        (Some(1), Some(2)),
        "a syntax error says where: {v}"
    );
    let (_, list) = r.admin("GET", "/v1/threshold-rules", "").await;
    assert_eq!(list["rule_sets"], json!([]), "nothing was stored");
    let (s, _) = r
        .admin("POST", "/v1/threshold-rules/nope/1/activate", "")
        .await;
    assert_eq!(s, 404);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_raise_one_alert_per_series_pending_then_firing_then_resolved() {
    let dir = data_dir("threshold-life");
    let r = start(&dir, no_collector).await;
    let doc = json!({"header": {"rule_set": "rooms"}, "rules": [
        {"id": "hot_room", "name": "Hot room", "metric": "room.temp", "threshold": 30,
         "operator": "greater_than", "aggregation": "last", "for": "1s",
         "severity": "HIGH", "notification_channels": ["ops"]}
    ]});
    assert_eq!(store_and_activate(&r, &doc).await, 1);
    // Stored apart from event rule sets.
    let (_, events) = r.admin("GET", "/v1/rulesets", "").await;
    assert_eq!(events["rule_sets"], json!([]));
    let (_, thresholds) = r.admin("GET", "/v1/threshold-rules", "").await;
    assert_eq!(thresholds["active"]["ops"]["name"], "rooms");

    sample(&r, "room.temp", json!({"room": "a"}), 35.0).await;
    sample(&r, "room.temp", json!({"room": "b"}), 20.0).await;
    let a = alerts_until(&r, "hot_room", |a| a.len() == 1).await;
    assert_eq!(a[0]["state"], "pending", "{a:?}");
    assert_eq!(a[0]["labels"]["room"], "a");
    assert_eq!(a[0]["labels"]["alertname"], "hot_room");
    assert_eq!(a[0]["source"], "threshold");
    assert_eq!(a[0]["severity"], "high");
    assert_eq!(a[0]["group"], "ops");
    assert_eq!(a[0]["handler"], "ops");
    assert_eq!(a[0]["limit"], 30);
    let id = a[0]["id"].as_i64().expect("id");

    // `for` runs out by timer, without another sample.
    let v = r
        .until(&format!("/alerts/{id}"), |v| v["state"] == "active")
        .await;
    assert_eq!(v["state"], "active", "{v}");
    // Another series, another alert.
    sample(&r, "room.temp", json!({"room": "b"}), 40.0).await;
    let both = alerts_until(&r, "hot_room", |a| a.len() == 2).await;
    assert_eq!(both.len(), 2, "one alert per label set: {both:?}");

    sample(&r, "room.temp", json!({"room": "a"}), 25.0).await;
    let v = r
        .until(&format!("/alerts/{id}"), |v| v["state"] == "resolved")
        .await;
    assert_eq!(v["state"], "resolved", "{v}");
    let last = v["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .expect("events");
    assert_eq!(last["actor"], "threshold");
    assert!(
        last["reason"]
            .as_str()
            .is_some_and(|m| m.contains("no longer above 30")),
        "the resolution says why: {last}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_feeds_the_documented_high_cpu_rule_as_written() {
    let dir = data_dir("threshold-collector");
    let r = start(&dir, |c| {
        c.collector.interval_seconds = 1;
        c.collector.host = Some("web-1".to_owned());
    })
    .await;
    // The rule of docs/threshold-rules.md, as written.
    let documented = json!({ "id": "high_cpu_usage", "name": "High CPU Usage Alert",
        "description": "Triggers when CPU usage exceeds 90%",
        "metric": "system.cpu.usage", "labels": {"host": "web-1"}, "threshold": 90.0,
        "operator": "greater_than", "aggregation": "avg", "evaluation_window": "5m", "for": "1m",
        "severity": "HIGH", "notification_channels": ["websocket", "email"],
        "escalation_policy": "critical_escalation", "suppression_rules": ["maintenance_mode"] });
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules/check", &documented.to_string())
        .await;
    assert_eq!((s, v["rules"].as_u64()), (200, Some(1)), "{v}");
    // The same rule with a threshold every host passes, so the collector's samples fire it.
    let mut always = documented.clone();
    always["threshold"] = json!(-1.0);
    always["for"] = json!("0s");
    let doc = json!({"header": {"rule_set": "host"}, "rules": [documented, {
        "id": "any_memory", "metric": "system.memory.usage", "labels": {"host": "web-1"},
        "threshold": 0, "operator": "greater_equal"}]});
    let mut doc = doc;
    doc["rules"][0] = always;
    store_and_activate(&r, &doc).await;
    for rule in ["high_cpu_usage", "any_memory"] {
        let a = alerts_until(&r, rule, |a| !a.is_empty()).await;
        assert_eq!(a.len(), 1, "{rule}: {a:?}");
        assert_eq!(a[0]["labels"]["host"], "web-1");
        assert_eq!(a[0]["state"], "active");
        let v = a[0]["value"].as_f64().expect("a value");
        assert!((0.0..=100.0).contains(&v), "{rule}: a percentage, got {v}");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_firing_alert_resolves_when_its_condition_is_false() {
    let dir = data_dir("threshold-restart");
    let doc = json!({"header": {"rule_set": "q"}, "rules": [
        {"id": "deep_queue", "metric": "queue.depth", "threshold": 100, "operator": "gt"}
    ]});
    let r = start(&dir, no_collector).await;
    store_and_activate(&r, &doc).await;
    sample(&r, "queue.depth", json!({"q": "mail"}), 500.0).await;
    let a = alerts_until(&r, "deep_queue", |a| a.len() == 1).await;
    assert_eq!(a[0]["state"], "active");
    let id = a[0]["id"].as_i64().expect("id");
    r.stop().await;

    let r = start(&dir, no_collector).await;
    let (_, v) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(v["state"], "active", "still open after the restart: {v}");
    sample(&r, "queue.depth", json!({"q": "mail"}), 3.0).await;
    let v = r
        .until(&format!("/alerts/{id}"), |v| v["state"] == "resolved")
        .await;
    assert_eq!(v["state"], "resolved", "{v}");
    let a = alerts_until(&r, "deep_queue", |_| true).await;
    assert_eq!(a.len(), 1, "the restart opened no second alert: {a:?}");
    r.stop().await;
}
