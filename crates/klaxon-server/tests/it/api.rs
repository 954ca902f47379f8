//! The API as a client meets it, over a real SQLite file: requests through the router, and
//! one test end to end over a real socket (HTTP/1.1 and the alert stream). Time is wall-clock
//! here, so waits are bounded polls, never fixed sleeps.

use std::time::{Duration, Instant};

use klaxon_store::{Role, Store};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{data_dir, http, serve, start, Running, ADMIN};

const SEQ_003: &str = r#"{"header":{"rule_set":"metro","rule_set_version":1},"rules":[
 {"id":"SEQ-003","trigger_type":"TRACE_STOP","action":"TRACK_SECTION","context":"SECTION_400_001",
  "condition":{"operator":"MAX_DURATION_MS","value":"25000"},"alert":{"handler":"MAIL_LOG","severity":"WARN"}},
 {"id":"FIRE","trigger_type":"MARK_EVENT","action":"FIRE","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h"}},
 {"id":"AVG","trigger_type":"TRACE_STOP","action":"RUN","condition":{"operator":"AVG_DEVIATION_PCT","value":"50|3|0.5"},"alert":{"handler":"h"}},
 {"id":"FOLLOW","trigger_type":"MARK_EVENT","action":"ASK","condition":{"operator":"FOLLOWED_BY_WITHIN_MS","value":"ANSWER|150"},"alert":{"handler":"h"}}
]}"#;

async fn load_and_activate(r: &Running) {
    let (s, v) = r.admin("POST", "/v1/rulesets?author=test", SEQ_003).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["version"], 1);
    let (s, v) = r.admin("POST", "/v1/rulesets/metro/1/activate", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_003_fires_through_http_and_bad_lines_are_reported_by_number() {
    let dir = data_dir("seq003");
    let r = start(&dir, |_| {}).await;
    load_and_activate(&r).await;
    let body = concat!(
        "{\"kind\":\"process_start\",\"process\":\"train-1\",\"name\":\"METRO\",\"ts\":1000}\n",
        "{\"kind\":\"trace_start\",\"process\":\"train-1\",\"action\":\"TRACK_SECTION\",\"context\":\"SECTION_400_001\",\"ts\":2000}\n",
        "{\"kind\":\"mark\",\"process\":\"train-1\",\"contxt\":\"oops\",\"action\":\"X\"}\n",
        "not json\n",
        "{\"kind\":\"trace_stop\",\"process\":\"train-1\",\"action\":\"TRACK_SECTION\",\"context\":\"SECTION_400_001\",\"ts\":32000}\n",
    );
    let (s, v) = r.ndjson("/v1/signals", body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], 3);
    let lines: Vec<i64> = v["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|x| x["line"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(lines, vec![3, 4]);
    assert!(v["rejected"][0]["error"]
        .as_str()
        .unwrap_or("")
        .contains("contxt"));
    let alerts = r.alerts_until(|a| !a.is_empty()).await;
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a["rule_id"], "SEQ-003");
    assert_eq!(a["process"], "train-1");
    assert_eq!(a["value"], 30000);
    assert_eq!(a["signal_ts"], "1970-01-01T00:00:32.000Z");
    assert_eq!(
        a["message"],
        "TRACK_SECTION/SECTION_400_001 took 30000 ms, limit 25000 ms"
    );
    let (s, one) = r.admin("GET", &format!("/v1/alerts/{}", a["id"]), "").await;
    assert_eq!(s, 200);
    assert_eq!(one["fingerprint"], a["fingerprint"]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_guard_every_endpoint_but_health() {
    let dir = data_dir("auth");
    let r = start(&dir, |_| {}).await;
    let viewer = "viewer-token-abcdefghijklmnop";
    let ingest = "ingest-token-abcdefghijklmnop";
    r.store
        .insert_token("v", Role::Viewer, &klaxon_server::hash_token(viewer), 0)
        .await
        .expect("token");
    r.store
        .insert_token("i", Role::Ingest, &klaxon_server::hash_token(ingest), 0)
        .await
        .expect("token");
    let sig = r#"{"kind":"mark","process":"p","action":"A"}"#;
    assert_eq!(
        r.call("GET", "/monitoring/health", None, "", "").await.0,
        200
    );
    assert_eq!(
        r.call("POST", "/v1/signals", None, "application/json", sig)
            .await
            .0,
        401
    );
    assert_eq!(
        r.call(
            "POST",
            "/v1/signals",
            Some("wrong-token"),
            "application/json",
            sig
        )
        .await
        .0,
        401
    );
    assert_eq!(
        r.call("POST", "/v1/signals", Some(viewer), "application/json", sig)
            .await
            .0,
        403
    );
    assert_eq!(
        r.call("POST", "/v1/signals", Some(ingest), "application/json", sig)
            .await
            .0,
        200
    );
    assert_eq!(
        r.call("GET", "/v1/alerts", Some(ingest), "", "").await.0,
        403
    );
    assert_eq!(
        r.call("GET", "/v1/alerts", Some(viewer), "", "").await.0,
        200
    );
    assert_eq!(
        r.call(
            "POST",
            "/v1/rulesets",
            Some(viewer),
            "application/json",
            SEQ_003
        )
        .await
        .0,
        403
    );
    assert_eq!(
        r.call("GET", "/monitoring/prometheus", None, "", "")
            .await
            .0,
        401
    );
    let (s, _, v) = r.call("GET", "/v1/alerts", None, "", "").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rule_sets_get_every_error_and_the_active_set_stays() {
    let dir = data_dir("rulesets");
    let r = start(&dir, |_| {}).await;
    load_and_activate(&r).await;
    let broken = r#"{"header":{"rule_set":"metro"},"rules":[
      {"id":"A","trigger_type":"MARK_EVENT","action":"X","condition":{"operator":"ON_EVENT"},"alert":{}},
      {"id":"B","trigger_type":"TRACE_STOP","action":"X","condition":{"operator":"MAX_GAP_SECONDS","value":"1"},"alert":{"handler":"h"}}]}"#;
    let (s, v) = r.admin("POST", "/v1/rulesets", broken).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid_rule_set");
    assert_eq!(v["error"]["details"].as_array().map(Vec::len), Some(2));
    let (s, _) = r.admin("POST", "/v1/rulesets/check", broken).await;
    assert_eq!(s, 422);
    let (s, v) = r.admin("POST", "/v1/rulesets/check", SEQ_003).await;
    assert_eq!((s, v["valid"].as_bool()), (200, Some(true)));
    let (s, v) = r.admin("POST", "/v1/rulesets", "{\"rules\": [").await;
    assert_eq!(s, 422);
    assert!(v["error"]["details"][0]["line"].is_number(), "{v}");
    let (s, v) = r.admin("POST", "/v1/rulesets/metro/9/activate", "").await;
    assert_eq!(s, 404, "{v}");
    // The active set still fires.
    let (s, _) = r
        .ndjson(
            "/v1/signals",
            "{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"FIRE\",\"ts\":5}\n",
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(r.alerts_until(|a| !a.is_empty()).await.len(), 1);
    let (_, list) = r.admin("GET", "/v1/rulesets", "").await;
    assert_eq!(list["active"]["default"]["version"], 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after_and_loses_nothing() {
    let dir = data_dir("overload");
    let r = start(&dir, |c| c.ingest.queue_signals = 100).await;
    load_and_activate(&r).await;
    // Hold every slot of the queue, as a stalled engine would.
    let held = std::sync::Arc::clone(&r.permits)
        .acquire_many_owned(100)
        .await
        .expect("permits");
    let (s, head, v) = r
        .call(
            "POST",
            "/v1/signals",
            Some(ADMIN),
            "application/json",
            r#"{"kind":"mark","process":"p","action":"FIRE","ts":1}"#,
        )
        .await;
    assert_eq!(s, 429, "{v}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert_eq!(v["error"]["details"]["accepted"], 0);
    drop(held);
    let (s, v) = r
        .admin(
            "POST",
            "/v1/signals",
            r#"{"kind":"mark","process":"p","action":"FIRE","ts":2}"#,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let alerts = r.alerts_until(|a| !a.is_empty()).await;
    assert_eq!(
        alerts.len(),
        1,
        "the refused signal was not half-accepted, the retried one fired"
    );
    let text = r.text("/monitoring/prometheus").await;
    assert!(text.contains("klaxon_ingest_throttled_total 1"), "{text}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_durable_returns_after_telemetry_is_committed() {
    let dir = data_dir("durable");
    let r = start(&dir, |_| {}).await;
    let mut body = String::new();
    for i in 0..500 {
        body.push_str(&format!(
            "{{\"kind\":\"mark\",\"process\":\"p{}\",\"action\":\"A\",\"ts\":{i}}}\n",
            i % 7
        ));
    }
    let (s, v) = r.ndjson("/v1/signals?wait=durable", &body).await;
    assert_eq!((s, v["accepted"].as_i64()), (200, Some(500)));
    let counts = r.store.telemetry_counts().await.expect("counts");
    assert_eq!(
        counts.marks, 500,
        "every mark is in the store when the answer comes"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_telemetry_and_restart_keeps_rule_sets_and_baselines() {
    let dir = data_dir("restart");
    let r = start(&dir, |c| c.engine.baseline_save_seconds = 3600).await;
    load_and_activate(&r).await;
    // Three 100 ms runs warm the AVG baseline up (warm-up 3).
    let mut body = String::new();
    for i in 0..3 {
        let t = 10_000 * i;
        body.push_str(&format!("{{\"kind\":\"trace_start\",\"process\":\"j{i}\",\"name\":\"JOB\",\"action\":\"RUN\",\"ts\":{t}}}\n"));
        body.push_str(&format!("{{\"kind\":\"trace_stop\",\"process\":\"j{i}\",\"name\":\"JOB\",\"action\":\"RUN\",\"ts\":{}}}\n", t + 100));
    }
    let (s, _) = r.ndjson("/v1/signals", &body).await;
    assert_eq!(s, 200);
    let store = r.stop().await;
    let counts = store.telemetry_counts().await.expect("counts");
    assert_eq!(
        counts.traces, 6,
        "graceful shutdown writes every buffered row"
    );
    store.close().await.expect("close");

    let r = start(&dir, |_| {}).await;
    let (_, list) = r.admin("GET", "/v1/rulesets", "").await;
    assert_eq!(
        list["active"]["default"]["name"], "metro",
        "the active set is loaded again"
    );
    let body = concat!(
        "{\"kind\":\"trace_start\",\"process\":\"j9\",\"name\":\"JOB\",\"action\":\"RUN\",\"ts\":90000}\n",
        "{\"kind\":\"trace_stop\",\"process\":\"j9\",\"name\":\"JOB\",\"action\":\"RUN\",\"ts\":90400}\n",
    );
    let (s, _) = r.ndjson("/v1/signals", body).await;
    assert_eq!(s, 200);
    let alerts = r
        .alerts_until(|a| a.iter().any(|x| x["rule_id"] == "AVG"))
        .await;
    let avg: Vec<&Value> = alerts.iter().filter(|a| a["rule_id"] == "AVG").collect();
    assert_eq!(
        avg.len(),
        1,
        "the baseline warmed up before the restart survives it: {alerts:?}"
    );
    assert_eq!(avg[0]["limit"], 150);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_on_wall_clock_without_another_signal() {
    let dir = data_dir("timer");
    let r = start(&dir, |_| {}).await;
    load_and_activate(&r).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let (s, _) = r
        .admin(
            "POST",
            "/v1/processes/q1/marks",
            &json!({"action": "ASK", "ts": now as i64}).to_string(),
        )
        .await;
    assert_eq!(s, 200);
    let alerts = r.alerts_until(|a| !a.is_empty()).await;
    assert_eq!(
        alerts.len(),
        1,
        "FOLLOWED_BY fires when its deadline passes"
    );
    assert_eq!(alerts[0]["rule_id"], "FOLLOW");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_endpoints_generate_ids_and_take_the_signals_of_a_run() {
    let dir = data_dir("processes");
    let r = start(&dir, |_| {}).await;
    let (s, v) = r
        .admin(
            "POST",
            "/v1/processes",
            r#"{"name":"nightly","steps_todo":3}"#,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["process"].as_str().expect("generated id").to_owned();
    assert_eq!(id.len(), 36);
    for (path, body) in [
        ("update", r#"{"step_done": true}"#),
        ("marks", r#"{"action": "A"}"#),
        ("traces/start", r#"{"action": "T"}"#),
        ("traces/stop", r#"{"action": "T"}"#),
        ("logs", r#"{"level": "info", "message": "hello"}"#),
        ("stop", "{}"),
    ] {
        let (s, v) = r
            .admin(
                "POST",
                &format!("/v1/processes/{id}/{path}?wait=durable"),
                body,
            )
            .await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let (s, v) = r
        .admin(
            "POST",
            &format!("/v1/processes/{id}/logs"),
            r#"{"level": "loud"}"#,
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let c = r.store.telemetry_counts().await.expect("counts");
    assert_eq!((c.process_events, c.marks, c.traces, c.logs), (3, 1, 2, 1));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_carries_committed_alerts_and_resumes_with_last_event_id() {
    // End to end: signals and the stream over a real socket.
    let dir = data_dir("stream");
    let r = serve(&dir, |_| {}).await;
    load_and_activate(&r).await;
    // Distinct processes, distinct fingerprints: three alerts, not three occurrences of one.
    let fire = |i: usize| {
        format!("{{\"kind\":\"mark\",\"process\":\"p{i}\",\"action\":\"FIRE\",\"ts\":{i}}}\n")
    };
    let ndjson = "application/x-ndjson";
    let body = fire(1) + &fire(2);
    let (s, _, v) = http(r.addr(), "POST", "/v1/signals", Some(ADMIN), ndjson, &body).await;
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(2)), "{v}");
    let first = r.alerts_until(|a| a.len() == 2).await;
    let oldest = first
        .iter()
        .map(|a| a["id"].as_i64().unwrap_or(0))
        .min()
        .unwrap_or(0);
    // Resume after the first alert: the second comes from the store, the third live.
    let mut s = TcpStream::connect(r.addr()).await.expect("connect");
    let req = format!("GET /v1/alerts/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\nLast-Event-ID: {oldest}\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let (s2, _, _) = http(
        r.addr(),
        "POST",
        "/v1/signals",
        Some(ADMIN),
        ndjson,
        &fire(3),
    )
    .await;
    assert_eq!(s2, 200);
    let mut seen = String::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while seen.matches("event: alert").count() < 2 && t0.elapsed() < Duration::from_secs(10) {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(seen.contains(&format!("id: {}", oldest + 1)), "{seen}");
    assert!(seen.contains(&format!("id: {}", oldest + 2)), "{seen}");
    assert!(
        !seen.contains(&format!("id: {oldest}\n")),
        "resumes after Last-Event-ID: {seen}"
    );
    drop(s);
    r.stop().await;
}

/// A rule set is stored as the version its header gives: the same document again is that
/// version, another document under it a conflict, a version that is not a whole number is
/// refused; without one the server gives the next number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_set_is_stored_as_the_version_its_header_gives() {
    let dir = data_dir("ruleset-version");
    let r = start(&dir, |c| c.collector.enabled = false).await;
    let doc = |version: &str, handler: &str| {
        format!(
            r#"{{"header":{{"rule_set":"v"{version}}},"rules":[{{"id":"R","trigger_type":"MARK_EVENT","action":"A","condition":{{"operator":"ON_EVENT"}},"alert":{{"handler":"{handler}"}}}}]}}"#
        )
    };
    let (s, v) = r
        .admin(
            "POST",
            "/v1/rulesets",
            &doc(r#","rule_set_version":3"#, "h"),
        )
        .await;
    assert_eq!((s, &v["version"]), (201, &json!(3)), "{v}");
    let (s, v) = r
        .admin(
            "POST",
            "/v1/rulesets",
            &doc(r#","rule_set_version":3"#, "h"),
        )
        .await;
    assert_eq!(
        (s, &v["version"]),
        (200, &json!(3)),
        "the same document: {v}"
    );
    let (s, v) = r
        .admin(
            "POST",
            "/v1/rulesets",
            &doc(r#","rule_set_version":3"#, "other"),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("version_exists")),
        "{v}"
    );
    for path in ["/v1/rulesets", "/v1/rulesets/check"] {
        let (s, v) = r
            .admin("POST", path, &doc(r#","rule_set_version":1.5"#, "h"))
            .await;
        assert_eq!(s, 422, "{path}: {v}");
        assert_eq!(
            v["error"]["details"][0]["field"], "header.rule_set_version",
            "{v}"
        );
    }
    let (s, v) = r.admin("POST", "/v1/rulesets", &doc("", "h")).await;
    assert_eq!((s, &v["version"]), (201, &json!(4)), "the next number: {v}");
    let (s, v) = r.admin("POST", "/v1/rulesets/v/3/activate", "").await;
    assert_eq!(s, 200, "{v}");
    let (_, list) = r.admin("GET", "/v1/rulesets", "").await;
    assert_eq!(list["active"]["default"]["version"], 3, "{list}");
    r.stop().await;
}

/// `klaxon_alerts_fired_total` counts the firings of every source under its `source` label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fired_are_counted_for_every_source() {
    let dir = data_dir("fired-sources");
    let r = start(&dir, |c| c.collector.enabled = false).await;
    load_and_activate(&r).await;
    let thresholds = json!({"rules": [
        {"id": "deep_queue", "metric": "queue.depth", "threshold": 100, "operator": "gt"}
    ]});
    let (s, v) = r
        .admin(
            "POST",
            "/v1/threshold-rules?name=q",
            &thresholds.to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules/q/1/activate", "")
        .await;
    assert_eq!(s, 200, "{v}");

    let (s, v) = r
        .ndjson(
            "/v1/signals",
            "{\"kind\":\"mark\",\"process\":\"p\",\"action\":\"FIRE\"}\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .ndjson(
            "/v1/signals",
            "{\"kind\":\"metric\",\"name\":\"queue.depth\",\"labels\":{},\"value\":150}\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let am = r#"[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"}}]"#;
    let (s, v) = r.admin("POST", "/api/v2/alerts", am).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r.admin("POST", "/api/v2/alerts", am).await;
    assert_eq!(s, 200, "resent: {v}");
    let (s, v) = r
        .admin("POST", "/alerts/create", r#"{"name":"ByHand"}"#)
        .await;
    assert_eq!(s, 201, "{v}");

    let expected = [
        "klaxon_alerts_fired_total{source=\"rule\"} 1",
        "klaxon_alerts_fired_total{source=\"threshold\"} 1",
        "klaxon_alerts_fired_total{source=\"alertmanager\"} 4",
        "klaxon_alerts_fired_total{source=\"api\"} 1",
    ];
    let t0 = Instant::now();
    let text = loop {
        let text = r.text("/monitoring/prometheus").await;
        if expected.iter().all(|l| text.lines().any(|x| x == *l))
            || t0.elapsed() > Duration::from_secs(10)
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for line in expected {
        assert!(text.lines().any(|x| x == line), "{line} in:\n{text}");
    }
    // The parts of the alert path are timed: the rule's firing went through each.
    for part in [
        "klaxon_engine_queue_wait_seconds_count",
        "klaxon_alert_handoff_seconds_count",
        "klaxon_alert_lifecycle_seconds_count",
    ] {
        let n: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(part)?.trim().parse().ok())
            .unwrap_or(0);
        assert!(n >= 1, "{part} in:\n{text}");
    }
    r.stop().await;
}

/// The engine queue and the telemetry buffer are bounded in bytes, not only in count: with
/// the telemetry buffer full (held here, as a disk that stopped writing would), the engine
/// waits, the queue fills up to its 64 KiB long before its million signals, and ingest answers
/// 429 with Retry-After; once the buffer drains, everything accepted is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_and_the_telemetry_buffer_are_bounded_in_bytes() {
    let dir = data_dir("queue-bytes");
    let r = start(&dir, |c| {
        c.ingest.queue_bytes = 64 << 10;
        c.telemetry.buffer_bytes = 64 << 10;
        c.collector.enabled = false;
    })
    .await;
    let budget = r.telemetry_budget.clone().expect("telemetry is on");
    assert_eq!(budget.limit(), 64 << 10);
    assert!(budget.try_take(budget.limit()), "the buffer is empty");

    let batch: String = (0..50)
        .map(|i| format!("{{\"kind\":\"mark\",\"process\":\"p{i}\",\"action\":\"STEP\",\"context\":\"{}\"}}\n", "c".repeat(40)))
        .collect();
    let mut accepted = 0;
    let refused = loop {
        let (s, head, v) = r
            .call(
                "POST",
                "/v1/signals",
                Some(ADMIN),
                "application/x-ndjson",
                &batch,
            )
            .await;
        match s {
            200 => accepted += v["accepted"].as_u64().expect("accepted"),
            429 => break (head, v),
            other => panic!("ingest answered {other}: {v}"),
        }
        assert!(
            accepted < 10_000,
            "never refused: the queue is not bounded in bytes"
        );
    };
    let (head, v) = refused;
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert_eq!(v["error"]["details"]["accepted"], 0, "{v}");
    assert!(
        accepted > 0 && accepted < 1000,
        "{accepted} signals fit in 64 KiB"
    );
    let text = r.text("/monitoring/prometheus").await;
    let gauge = |name: &str| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in:\n{text}"))
    };
    assert!(gauge("klaxon_engine_queue_bytes ") <= 64 << 10, "{text}");
    assert!(gauge("klaxon_engine_queue_bytes ") > 0, "{text}");

    budget.give_back(budget.limit());
    let t0 = Instant::now();
    let stored = loop {
        let n = r.store.telemetry_counts().await.expect("counts").marks;
        if n >= accepted || t0.elapsed() > Duration::from_secs(20) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stored, accepted, "everything accepted is stored");
    let (s, v) = r.ndjson("/v1/signals", &batch).await;
    assert_eq!(s, 200, "{v}");
    r.stop().await;
}
