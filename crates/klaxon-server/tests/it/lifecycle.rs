//! The alert lifecycle through the HTTP API: deduplication, the state machine (409 with the
//! current state), reopen and close timers, suppression, notes, bulk actions, history, summary,
//! trends, the lifecycle stream, and a restart that keeps everything.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{data_dir, serve, start, Running, ADMIN};

const RULES: &str = r#"{"header":{"rule_set":"life"},"rules":[
 {"id":"FIRE","trigger_type":"MARK_EVENT","action":"FIRE","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h","severity":"high"}},
 {"id":"WARN","trigger_type":"MARK_EVENT","action":"WARN","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h","severity":"low"}}
]}"#;

async fn activate(r: &Running) {
    let (s, v) = r.admin("POST", "/v1/rulesets", RULES).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r.admin("POST", "/v1/rulesets/life/1/activate", "").await;
    assert_eq!(s, 200, "{v}");
}

fn mark(process: &str, action: &str) -> String {
    format!("{{\"kind\":\"mark\",\"process\":\"{process}\",\"action\":\"{action}\"}}\n")
}

async fn fire(r: &Running, process: &str, action: &str, times: usize) {
    let (s, v) = r
        .ndjson("/v1/signals", &mark(process, action).repeat(times))
        .await;
    assert_eq!(s, 200, "{v}");
}

/// The id of the only alert of `process`, once its occurrences reach `n`.
async fn alert_of(r: &Running, process: &str, n: u64) -> Value {
    let v = r
        .until(&format!("/alerts/history?label=scope={process}"), |v| {
            v["alerts"]
                .as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["occurrences"].as_u64() >= Some(n))
        })
        .await;
    v["alerts"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firings_fold_into_one_alert_and_the_state_machine_is_enforced() {
    let dir = data_dir("life-dedup");
    let r = start(&dir, |_| {}).await;
    activate(&r).await;
    fire(&r, "p1", "FIRE", 3).await;
    let a = alert_of(&r, "p1", 3).await;
    assert_eq!(a["state"], "active");
    assert_eq!(a["occurrences"], 3, "three firings, one alert: {a}");
    let id = a["id"].as_i64().expect("id");

    let (s, v) = r
        .admin(
            "POST",
            &format!("/alerts/{id}/acknowledge"),
            r#"{"reason":"on it"}"#,
        )
        .await;
    assert_eq!(
        (s, v["from"].as_str(), v["to"].as_str()),
        (200, Some("active"), Some("acknowledged")),
        "{v}"
    );
    let (s, v) = r
        .admin("POST", &format!("/alerts/{id}/acknowledge"), "")
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["details"]["current_state"], "acknowledged");
    let (s, _) = r.admin("POST", &format!("/alerts/{id}/resolve"), "").await;
    assert_eq!(s, 200);
    let (s, v) = r
        .admin(
            "POST",
            &format!("/alerts/{id}/suppress"),
            r#"{"duration":"10m"}"#,
        )
        .await;
    assert_eq!(
        (s, v["error"]["details"]["current_state"].as_str()),
        (409, Some("resolved")),
        "{v}"
    );
    let (s, _) = r.admin("POST", "/alerts/999999/acknowledge", "").await;
    assert_eq!(s, 404);

    // Within the reopen window the same alert comes back.
    fire(&r, "p1", "FIRE", 1).await;
    let a = alert_of(&r, "p1", 4).await;
    assert_eq!(
        (a["id"].as_i64(), a["state"].as_str()),
        (Some(id), Some("active")),
        "{a}"
    );

    let (s, d) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(s, 200);
    let trail: Vec<(String, String)> = d["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["to"].as_str().unwrap_or("").to_owned(),
                e["actor"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let states: Vec<&str> = trail.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        states,
        ["active", "acknowledged", "resolved", "active"],
        "{d}"
    );
    assert!(
        trail[1].1.starts_with("config-admin"),
        "the actor is the token's name: {trail:?}"
    );
    assert_eq!(d["events"][1]["reason"], "on it");
    // Four firings, all counted; the later three said nothing new (same message and
    // severity), so the log keeps the first until a minute has passed.
    assert_eq!(d["occurrences"], 4, "{d}");
    assert_eq!(d["recent_occurrences"].as_array().map(Vec::len), Some(1));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_reopen_window_a_new_alert_opens_and_resolved_alerts_close() {
    let dir = data_dir("life-window");
    let r = start(&dir, |c| {
        c.lifecycle.reopen_window_seconds = 0;
        c.lifecycle.close_after_seconds = 1;
    })
    .await;
    activate(&r).await;
    fire(&r, "p2", "FIRE", 1).await;
    let first = alert_of(&r, "p2", 1).await["id"].as_i64().expect("id");
    let (s, _) = r
        .admin("POST", &format!("/alerts/{first}/resolve"), "")
        .await;
    assert_eq!(s, 200);
    // Closed a second after resolution.
    let v = r
        .until(&format!("/alerts/{first}"), |v| v["state"] == "closed")
        .await;
    assert_eq!(v["state"], "closed", "{v}");
    assert_eq!(
        v["events"]
            .as_array()
            .and_then(|e| e.last())
            .map(|e| e["actor"].clone()),
        Some(json!("system"))
    );
    let (s, v) = r
        .admin("POST", &format!("/alerts/{first}/resolve"), "")
        .await;
    assert_eq!(
        (s, v["error"]["details"]["current_state"].as_str()),
        (409, Some("closed"))
    );
    fire(&r, "p2", "FIRE", 1).await;
    let v = r
        .until("/alerts/history?label=scope=p2", |v| {
            v["alerts"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    let ids: Vec<i64> = v["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter_map(|a| a["id"].as_i64())
        .collect();
    assert_eq!(ids.len(), 2, "a new alert after the window: {v}");
    assert!(ids[0] > first);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppression_lifts_by_itself_and_rule_alerts_can_auto_resolve() {
    let dir = data_dir("life-timers");
    let r = start(&dir, |c| c.lifecycle.rule_auto_resolve_seconds = 1).await;
    activate(&r).await;
    fire(&r, "p3", "FIRE", 1).await;
    let id = alert_of(&r, "p3", 1).await["id"].as_i64().expect("id");
    let (s, v) = r
        .admin(
            "POST",
            &format!("/alerts/{id}/suppress"),
            r#"{"duration": 0.3}"#,
        )
        .await;
    assert_eq!((s, v["to"].as_str()), (200, Some("suppressed")), "{v}");
    let v = r
        .until(&format!("/alerts/{id}"), |v| v["state"] == "resolved")
        .await;
    let states: Vec<&str> = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["to"].as_str())
        .collect();
    assert_eq!(
        states,
        ["active", "suppressed", "active", "resolved"],
        "suppression expired, then auto-resolve: {v}"
    );
    let (s, v) = r
        .admin(
            "POST",
            &format!("/alerts/{id}/suppress"),
            r#"{"duration":"soon"}"#,
        )
        .await;
    assert_eq!(s, 422, "{v}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_answer_per_alert_and_notes_and_assignee_are_kept() {
    let dir = data_dir("life-bulk");
    let r = start(&dir, |_| {}).await;
    activate(&r).await;
    for p in ["b1", "b2"] {
        fire(&r, p, "FIRE", 1).await;
    }
    let a = alert_of(&r, "b1", 1).await["id"].as_i64().expect("id");
    let b = alert_of(&r, "b2", 1).await["id"].as_i64().expect("id");
    let (s, v) = r
        .admin("POST", &format!("/alerts/{b}/acknowledge"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .admin(
            "POST",
            "/alerts/bulk/acknowledge",
            &json!({"ids": [a, b, 987654]}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["succeeded"].as_u64(), v["failed"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(v["results"][0]["ok"], true);
    assert_eq!(v["results"][1]["status"], 409);
    assert_eq!(v["results"][2]["status"], 404);
    let (s, v) = r
        .admin(
            "POST",
            "/alerts/bulk/resolve",
            &json!({"ids": [a, b]}).to_string(),
        )
        .await;
    assert_eq!((s, v["succeeded"].as_u64()), (200, Some(2)), "{v}");
    let (s, _) = r
        .admin(
            "POST",
            &format!("/alerts/{a}/notes"),
            r#"{"text":"disk replaced"}"#,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = r
        .admin(
            "POST",
            &format!("/alerts/{a}/assign"),
            r#"{"assignee":"kim"}"#,
        )
        .await;
    assert_eq!(s, 200);
    let (_, d) = r.admin("GET", &format!("/alerts/{a}"), "").await;
    assert_eq!(d["notes"][0]["text"], "disk replaced");
    assert_eq!(d["assignee"], "kim");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_summary_performance_trends_and_create() {
    let dir = data_dir("life-history");
    let r = start(&dir, |_| {}).await;
    activate(&r).await;
    for i in 0..5 {
        fire(&r, &format!("h{i}"), if i < 3 { "FIRE" } else { "WARN" }, 1).await;
    }
    r.until("/alerts/history?limit=10", |v| {
        v["alerts"].as_array().is_some_and(|a| a.len() == 5)
    })
    .await;
    let (_, v) = r.admin("GET", "/alerts/history?limit=2", "").await;
    let cursor = v["next_cursor"].as_i64().expect("a full page has a cursor");
    let (_, v2) = r
        .admin(
            "GET",
            &format!("/alerts/history?limit=2&cursor={cursor}"),
            "",
        )
        .await;
    let (_, v3) = r
        .admin(
            "GET",
            &format!("/alerts/history?limit=2&cursor={}", v2["next_cursor"]),
            "",
        )
        .await;
    let mut ids: Vec<i64> = [&v, &v2, &v3]
        .iter()
        .flat_map(|p| p["alerts"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["id"].as_i64())
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(
        (n, ids.len()),
        (5, 5),
        "pages have no gaps and no duplicates"
    );
    let (_, hi) = r
        .admin("GET", "/alerts/history?severity=high&state=active", "")
        .await;
    assert_eq!(hi["alerts"].as_array().map(Vec::len), Some(3));
    let (_, txt) = r.admin("GET", "/alerts/history?q=warn", "").await;
    assert_eq!(txt["alerts"].as_array().map(Vec::len), Some(2), "{txt}");
    let (s, bad) = r.admin("GET", "/alerts/history?state=sleeping", "").await;
    assert_eq!(s, 400, "{bad}");
    let first = hi["alerts"][0]["id"].as_i64().expect("id");
    let (s, _) = r
        .admin("POST", &format!("/alerts/{first}/acknowledge"), "")
        .await;
    assert_eq!(s, 200);

    let (_, sum) = r.admin("GET", "/alerts/summary", "").await;
    assert_eq!(sum["total"], 5, "{sum}");
    assert_eq!(sum["by_state"]["acknowledged"], 1);
    assert_eq!(sum["open_by_severity"]["high"], 3);
    assert_eq!(sum["open_by_severity"]["low"], 2);
    let (_, perf) = r.admin("GET", "/alerts/metrics/performance", "").await;
    assert_eq!(
        (perf["alerts"].as_u64(), perf["acknowledged"].as_u64()),
        (Some(5), Some(1)),
        "{perf}"
    );
    assert!(perf["mtta_seconds"].as_f64().is_some_and(|s| s >= 0.0));
    let (_, tr) = r
        .admin("GET", "/alerts/trends/analysis?bucket=1h", "")
        .await;
    let total: u64 = tr["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .filter_map(|b| b["total"].as_u64())
        .sum();
    assert_eq!(total, 5, "{tr}");

    let body = r#"{"name":"DiskFull","labels":{"host":"db-1"},"severity":"critical","summary":"disk full on db-1"}"#;
    let (s, c1) = r.admin("POST", "/alerts/create", body).await;
    assert_eq!(
        (s, c1["state"].as_str(), c1["source"].as_str()),
        (201, Some("active"), Some("api")),
        "{c1}"
    );
    let (_, c2) = r.admin("POST", "/alerts/create", body).await;
    assert_eq!(
        c1["id"], c2["id"],
        "the same labels fold into the same alert"
    );
    assert_eq!(c2["occurrences"], 2);
    let (s, _) = r
        .admin(
            "POST",
            "/alerts/create",
            r#"{"name":"x","severity":"apocalyptic"}"#,
        )
        .await;
    assert_eq!(s, 422);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lifecycle_stream_shows_transitions_filters_and_resumes() {
    let dir = data_dir("life-stream");
    let r = serve(&dir, |_| {}).await;
    activate(&r).await;
    let mut s = TcpStream::connect(r.addr()).await.expect("connect");
    let req = format!("GET /alerts/stream?severity=high HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut seen = String::new();
    read_until(&mut s, &mut seen, "event: hello").await;
    fire(&r, "s1", "WARN", 1).await; // low: filtered out
    fire(&r, "s2", "FIRE", 1).await;
    let id = alert_of(&r, "s2", 1).await["id"].as_i64().expect("id");
    let (st, _) = r
        .admin("POST", &format!("/alerts/{id}/acknowledge"), "")
        .await;
    assert_eq!(st, 200);
    read_until(&mut s, &mut seen, "\"to\":\"acknowledged\"").await;
    assert!(seen.contains("\"kind\":\"created\""), "{seen}");
    assert!(
        !seen.contains("\"severity\":\"low\""),
        "the filter keeps low alerts out: {seen}"
    );
    let last_id = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .next_back()
        .expect("event ids")
        .to_owned();

    // Resume after the created event: the transition is replayed from the buffer.
    let created_id = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .next()
        .expect("first id")
        .to_owned();
    let mut s2 = TcpStream::connect(r.addr()).await.expect("connect");
    let req = format!("GET /alerts/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\nLast-Event-ID: {created_id}\r\n\r\n");
    s2.write_all(req.as_bytes()).await.expect("write");
    let mut again = String::new();
    read_until(&mut s2, &mut again, &format!("id: {last_id}")).await;
    assert!(again.contains("acknowledged"), "{again}");

    // An id of another run asks for a resync.
    let mut s3 = TcpStream::connect(r.addr()).await.expect("connect");
    let req = format!("GET /alerts/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\nLast-Event-ID: 1-5\r\n\r\n");
    s3.write_all(req.as_bytes()).await.expect("write");
    let mut reset = String::new();
    read_until(&mut s3, &mut reset, "event: reset").await;
    drop((s, s2, s3));
    r.stop().await;
}

async fn read_until(s: &mut TcpStream, seen: &mut String, needle: &str) {
    let t0 = Instant::now();
    let mut buf = [0u8; 8192];
    while !seen.contains(needle) && t0.elapsed() < Duration::from_secs(10) {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => break,
        }
    }
    assert!(seen.contains(needle), "no `{needle}` in:\n{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_alerts_history_and_deduplication() {
    let dir = data_dir("life-restart");
    let r = start(&dir, |_| {}).await;
    activate(&r).await;
    fire(&r, "r1", "FIRE", 2).await;
    let id = alert_of(&r, "r1", 2).await["id"].as_i64().expect("id");
    let (s, _) = r
        .admin("POST", &format!("/alerts/{id}/acknowledge"), "")
        .await;
    assert_eq!(s, 200);
    let store = r.stop().await;
    store.close().await.expect("close");

    let r = start(&dir, |_| {}).await;
    let (s, d) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(
        (s, d["state"].as_str(), d["occurrences"].as_u64()),
        (200, Some("acknowledged"), Some(2)),
        "{d}"
    );
    assert_eq!(d["events"].as_array().map(Vec::len), Some(2));
    fire(&r, "r1", "FIRE", 1).await;
    let a = alert_of(&r, "r1", 3).await;
    assert_eq!(
        a["id"].as_i64(),
        Some(id),
        "after a restart firings still fold into the open alert"
    );
    assert_eq!(a["state"], "acknowledged");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_endpoint() {
    let dir = data_dir("life-openapi");
    let r = start(&dir, |_| {}).await;
    let (s, _, doc) = r.call("GET", "/openapi.json", None, "", "").await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    for (path, method) in [
        ("/alerts/{id}/acknowledge", "post"),
        ("/v1/signals", "post"),
        ("/alerts/history", "get"),
        ("/monitoring/health", "get"),
    ] {
        assert!(
            doc["paths"][path][method]["summary"].is_string(),
            "{path} {method} missing"
        );
    }
    assert!(doc["paths"]["/monitoring/health"]["get"]["security"].is_null());
    assert!(doc["paths"]["/v1/signals"]["post"]["security"].is_array());
    r.stop().await;
}

/// The lifecycle manager's queue is bounded: a request that does not fit gets 429 with
/// Retry-After and the ingest path's error body, and nothing of it is queued; one that fits
/// goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_lifecycle_queue_answers_429_with_retry_after() {
    let dir = data_dir("life-queue");
    let r = start(&dir, |c| {
        c.lifecycle.queue_commands = 2;
        c.ingest.retry_after_seconds = 7;
    })
    .await;
    let body = json!({"ids": [1, 2, 3]}).to_string();
    let (s, head, v) = r
        .call(
            "POST",
            "/alerts/bulk/acknowledge",
            Some(ADMIN),
            "application/json",
            &body,
        )
        .await;
    assert_eq!(s, 429, "{v}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 7"),
        "{head}"
    );
    assert_eq!(v["error"]["code"], "overloaded", "{v}");
    let body = json!({"ids": [1, 2]}).to_string();
    let (s, v) = r.admin("POST", "/alerts/bulk/acknowledge", &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["failed"], 2, "unknown alerts, each answered: {v}");
    let text = r.text("/monitoring/prometheus").await;
    assert!(
        text.contains("klaxon_lifecycle_throttled_total 1"),
        "{text}"
    );
    r.stop().await;
}
