//! Incidents through the API: alerts that fire are correlated into incidents; acknowledging or
//! resolving an incident acts on its alerts through the lifecycle and is on its timeline; the
//! incident stream resumes after `Last-Event-ID`; bad requests get JSON errors.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{data_dir, serve, start, Running, ADMIN};

fn ts(ms: i64) -> String {
    klaxon_engine::timestamp::format_ts(ms)
}

pub(crate) fn now_ms() -> i64 {
    klaxon_server::wall_ms()
}

/// Posts Alertmanager alerts; each is `(labels, summary, startsAt ms)`.
pub(crate) async fn post(r: &Running, alerts: &[(Value, &str, i64)]) {
    let body: Vec<Value> = alerts
        .iter()
        .map(|(labels, summary, at)| {
            json!({"labels": labels, "annotations": {"summary": summary}, "startsAt": ts(*at)})
        })
        .collect();
    let (s, v) = r
        .admin("POST", "/api/v2/alerts", &Value::Array(body).to_string())
        .await;
    assert_eq!(s, 200, "POST /api/v2/alerts: {v}");
}

/// The id of the open alert named `name`.
pub(crate) async fn alert_id(r: &Running, name: &str) -> i64 {
    let (s, v) = r
        .admin("GET", &format!("/alerts/history?rule={name}"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    v["alerts"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no alert {name}: {v}"))
}

/// Two alerts of one service instance: one incident.
pub(crate) async fn outage(r: &Running) -> (i64, i64, i64) {
    let t = now_ms() - 60_000;
    post(
        r,
        &[(
            json!({"alertname": "PgDown", "service": "orders-api", "cluster": "euw1"}),
            "orders-api database connection refused",
            t,
        )],
    )
    .await;
    post(
        r,
        &[(
            json!({"alertname": "HighErrorRate", "service": "orders-api", "cluster": "euw1"}),
            "orders-api 5xx above 10%: database connection refused",
            t + 30_000,
        )],
    )
    .await;
    let (a, b) = (
        alert_id(r, "PgDown").await,
        alert_id(r, "HighErrorRate").await,
    );
    let (s, v) = r.admin("GET", "/incidents", "").await;
    assert_eq!(s, 200, "{v}");
    let incidents = v["incidents"].as_array().expect("incidents").clone();
    assert_eq!(incidents.len(), 1, "one incident for one outage: {v}");
    let id = incidents[0]["id"].as_i64().expect("id");
    (id, a, b)
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_and_resolving_an_incident_act_on_its_alerts() {
    let dir = data_dir("incident-act");
    let r = start(&dir, |_| {}).await;
    let (id, a, b) = outage(&r).await;

    let (s, d) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["state"], "open");
    let members: Vec<i64> = d["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["alert_id"].as_i64().expect("alert id"))
        .collect();
    assert_eq!(members, [a, b]);
    // The alert that joined says why: a link to the first with its evidence.
    assert_eq!(d["members"][0]["link"], Value::Null);
    assert_eq!(d["members"][1]["link"]["to"], a, "{d}");
    assert!(d["members"][1]["link"]["confidence"].as_f64() >= Some(0.5));
    assert_eq!(kinds(&d), ["opened", "joined"]);

    // Why the second alert is where it is, and the incident block of an alert.
    let (s, why) = r
        .admin("GET", &format!("/alerts/correlation/{b}"), "")
        .await;
    assert_eq!(s, 200, "{why}");
    assert_eq!(why["incident"]["id"], id);
    assert!(why["link"]["evidence"]["topology"].is_string(), "{why}");
    let (_, first) = r
        .admin("GET", &format!("/alerts/correlation/{a}"), "")
        .await;
    assert_eq!(first["linked_from"][0]["alert"], b, "{first}");
    let (_, alert) = r.admin("GET", &format!("/alerts/{a}"), "").await;
    assert_eq!(alert["incident"]["id"], id, "{alert}");

    // Acknowledge: both alerts through the lifecycle, the incident investigated by its owner.
    let (s, v) = r
        .admin("POST", &format!("/incidents/{id}/acknowledge"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "investigating");
    let admin = format!("config-admin-{}", &klaxon_server::hash_token(ADMIN)[..12]);
    assert_eq!(v["owner"], admin.as_str(), "{v}");
    for x in [a, b] {
        let (_, alert) = r.admin("GET", &format!("/alerts/{x}"), "").await;
        assert_eq!(alert["state"], "acknowledged", "{alert}");
        assert_eq!(alert["acknowledged_by"], admin.as_str(), "{alert}");
    }

    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/notes"),
            r#"{"text": "failing over the primary"}"#,
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let (s, v) = r
        .admin("POST", &format!("/incidents/{id}/resolve"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "resolved");
    assert!(v["resolved_at"].is_string());
    for x in [a, b] {
        let (_, alert) = r.admin("GET", &format!("/alerts/{x}"), "").await;
        assert_eq!(alert["state"], "resolved", "{alert}");
    }
    let (_, d) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert_eq!(kinds(&d), ["opened", "joined", "state", "note", "state"]);
    let states: Vec<(&str, &str)> = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "state")
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or(""),
                e["detail"]["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (admin.as_str(), "investigating"),
            (admin.as_str(), "resolved")
        ]
    );

    // A viewer may read, not act.
    let (s, v) = r
        .admin(
            "POST",
            "/v1/tokens",
            r#"{"name": "reader", "role": "viewer"}"#,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let viewer = v["token"].as_str().expect("secret").to_owned();
    let (s, _, _) = r
        .call(
            "GET",
            &format!("/incidents/{id}"),
            Some(&viewer),
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = r
        .call(
            "POST",
            &format!("/incidents/{id}/acknowledge"),
            Some(&viewer),
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, 403);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_made_by_hand_merge_and_refuse_bad_requests() {
    let dir = data_dir("incident-hand");
    let r = start(&dir, |_| {}).await;
    let (id, a, _) = outage(&r).await;
    let t = now_ms();
    post(
        &r,
        &[(
            json!({"alertname": "DiskFull", "host": "build-07"}),
            "disk full on build-07",
            t,
        )],
    )
    .await;
    let disk = alert_id(&r, "DiskFull").await;
    let (s, other) = r.admin("GET", &format!("/alerts/{disk}"), "").await;
    assert_eq!(s, 200);
    let other_incident = other["incident"]["id"].as_i64().expect("its own incident");
    assert_ne!(
        other_incident, id,
        "a disk on another host is another problem"
    );

    // By hand: the first alert moves out of the outage into a new incident.
    let (s, made) = r
        .admin(
            "POST",
            "/incidents/create",
            &json!({"alerts": [a], "title": "database"}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let made_id = made["id"].as_i64().expect("id");
    assert!(made_id > id.max(other_incident), "{made}");
    let (_, why) = r
        .admin("GET", &format!("/alerts/correlation/{a}"), "")
        .await;
    assert_eq!(why["incident"]["id"], made_id, "{why}");

    // Merge: the outage's alerts move into the new incident; the outage closes.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/merge"),
            &json!({"into": made_id}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], made_id);
    let (_, d) = r.admin("GET", &format!("/incidents/{made_id}"), "").await;
    assert_eq!(d["members"].as_array().map(Vec::len), Some(2), "{d}");
    let (_, gone) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert_eq!(gone["state"], "closed");
    assert_eq!(gone["members"], json!([]));
    let (s, v) = r.admin("GET", "/incidents?state=closed", "").await;
    assert_eq!(s, 200);
    assert_eq!(v["incidents"][0]["id"], id, "{v}");

    // Bad input: JSON errors.
    let (s, v) = r.admin("GET", "/incidents/999999", "").await;
    assert_eq!(s, 404, "{v}");
    assert!(v["error"].is_object() || v["error"].is_string(), "{v}");
    let (s, _) = r.admin("POST", "/incidents/999999/acknowledge", "").await;
    assert_eq!(s, 404);
    let into_itself = json!({"into": made_id}).to_string();
    let (s, v) = r
        .admin("POST", &format!("/incidents/{made_id}/merge"), &into_itself)
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/merge"),
            &json!({"into": made_id}).to_string(),
        )
        .await;
    assert_eq!(s, 409, "a closed incident merges no more: {v}");
    let (s, v) = r
        .admin("POST", "/incidents/create", r#"{"alerts": [424242]}"#)
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, _) = r
        .admin("POST", "/incidents/create", r#"{"alerts": []}"#)
        .await;
    assert_eq!(s, 422);
    let too_many: Vec<i64> = (1..=1001).collect();
    let (s, v) = r
        .admin(
            "POST",
            "/alerts/correlate",
            &json!({"alerts": too_many}).to_string(),
        )
        .await;
    assert!(s == 413 || s == 422, "{s} {v}");
    let long = "x".repeat(17 << 10);
    let (s, _) = r
        .admin(
            "POST",
            &format!("/incidents/{made_id}/notes"),
            &json!({"text": long}).to_string(),
        )
        .await;
    assert!(s == 413 || s == 422, "a note beyond its limit: {s}");
    let huge = format!(r#"{{"text": "{}"}}"#, "y".repeat(2 << 20));
    let (s, _) = r
        .admin("POST", &format!("/incidents/{made_id}/notes"), &huge)
        .await;
    assert_eq!(s, 413, "a body beyond the endpoint's limit");
    let (s, _) = r.admin("GET", "/incidents?state=sleeping", "").await;
    assert_eq!(s, 400);
    let (s, _) = r.admin("GET", "/alerts/correlation/999999", "").await;
    assert_eq!(s, 404);

    // Correlating an alert already in an incident leaves it there.
    let (s, v) = r
        .admin(
            "POST",
            "/alerts/correlate",
            &json!({"alerts": [disk]}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["alerts"][0]["incident"], other_incident, "{v}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_and_move_carry_alerts_between_incidents_with_priority_and_audit() {
    let dir = data_dir("incident-split");
    let r = start(&dir, |_| {}).await;
    let t = now_ms() - 60_000;
    // Three alerts of one service: one incident, critical because of its first alert.
    let labels = |name: &str, severity: &str| json!({"alertname": name, "service": "orders-api", "cluster": "euw1", "severity": severity});
    post(
        &r,
        &[
            (
                labels("PgDown", "critical"),
                "database connection refused",
                t,
            ),
            (labels("HighLatency", "warning"), "p99 above 2s", t + 10_000),
            (
                labels("HighErrorRate", "warning"),
                "5xx above 10%",
                t + 20_000,
            ),
        ],
    )
    .await;
    let (pg, lat, err) = (
        alert_id(&r, "PgDown").await,
        alert_id(&r, "HighLatency").await,
        alert_id(&r, "HighErrorRate").await,
    );
    let (_, v) = r.admin("GET", "/incidents", "").await;
    assert_eq!(v["incidents"].as_array().map(Vec::len), Some(1), "{v}");
    let id = v["incidents"][0]["id"].as_i64().expect("id");
    assert_eq!(v["incidents"][0]["priority"], "critical", "{v}");

    // Split the database alert off: a new incident of it; the rest is medium (warning) now.
    let (s, made) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/split"),
            &json!({"alerts": [pg], "title": "primary database"}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let db = made["id"].as_i64().expect("id");
    assert_ne!(db, id);
    assert_eq!(made["title"], "primary database");
    assert_eq!(made["priority"], "critical");
    let (_, rest) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert_eq!(rest["priority"], "medium", "{rest}");
    let members = |d: &Value| -> Vec<i64> {
        d["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["alert_id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(members(&rest), [lat, err]);
    assert!(kinds(&rest).contains(&"split".to_owned()), "{rest}");

    // Move the latency alert to the database incident.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/move"),
            &json!({"alerts": [lat], "to": db}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], db);
    let (_, d) = r.admin("GET", &format!("/incidents/{db}"), "").await;
    assert_eq!(members(&d), [pg, lat]);
    let (_, a) = r.admin("GET", &format!("/alerts/{lat}"), "").await;
    assert_eq!(a["incident"]["id"], db, "{a}");

    // The priority follows the open alerts: the critical one resolves, medium is left.
    let (s, v) = r.admin("POST", &format!("/alerts/{pg}/resolve"), "").await;
    assert_eq!(s, 200, "{v}");
    let (_, d) = r.admin("GET", &format!("/incidents/{db}"), "").await;
    assert_eq!(
        (&d["priority"], &d["priority_by"]),
        (&json!("medium"), &Value::Null),
        "{d}"
    );
    // Set by hand it stays, whatever the alerts do; given back, it follows them again.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{db}/priority"),
            r#"{"priority": "HIGH"}"#,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["priority"], "high", "{v}");
    assert!(
        v["priority_by"]
            .as_str()
            .is_some_and(|p| p.starts_with("config-admin")),
        "{v}"
    );
    let (s, _) = r
        .admin(
            "POST",
            &format!("/incidents/{db}/priority"),
            r#"{"priority": "urgent"}"#,
        )
        .await;
    assert_eq!(s, 422);
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{db}/priority"),
            r#"{"priority": null}"#,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["priority"], &v["priority_by"]),
        (&json!("medium"), &Value::Null),
        "{v}"
    );

    // Refusals: an alert that is not a member, into itself, into an unknown incident.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/move"),
            &json!({"alerts": [pg], "to": db}).to_string(),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v.to_string()
            .contains(&format!("alert {pg} is not in incident {id}")),
        "{v}"
    );
    let (s, _) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/move"),
            &json!({"alerts": [err], "to": id}).to_string(),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/move"),
            &json!({"alerts": [err], "to": 999_999}).to_string(),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/split"),
            r#"{"alerts": []}"#,
        )
        .await;
    assert_eq!(s, 422);

    // Moving its last alert away closes the incident.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{id}/move"),
            &json!({"alerts": [err], "to": db}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, gone) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert_eq!(gone["state"], "closed", "{gone}");

    // Every action is in the audit log with its actor.
    let (s, log) = r.admin("GET", "/v1/audit?limit=100", "").await;
    assert_eq!(s, 200, "{log}");
    let actions: Vec<(String, String)> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| {
            e["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("incident:"))
        })
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["target"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for want in [
        ("incident.split", format!("incident:{id}")),
        ("incident.move", format!("incident:{id}")),
    ] {
        assert!(
            actions.iter().any(|(a, t)| a == want.0 && *t == want.1),
            "{want:?} in {actions:?}"
        );
    }
    assert_eq!(
        actions.iter().filter(|(a, _)| a == "incident.move").count(),
        2,
        "refused moves are not audited: {actions:?}"
    );
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

async fn stream(r: &Running, last: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(r.addr()).await.expect("connect");
    let resume = last.map_or(String::new(), |l| format!("Last-Event-ID: {l}\r\n"));
    let req = format!(
        "GET /incidents/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\n{resume}\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("write");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_stream_resumes_after_the_last_event_id() {
    let dir = data_dir("incident-stream");
    let r = serve(&dir, |_| {}).await;
    let mut live = stream(&r, None).await;
    let mut seen = String::new();
    read_until(&mut live, &mut seen, "event: hello").await;
    let (id, _, _) = outage(&r).await;
    read_until(&mut live, &mut seen, "\"kind\":\"joined\"").await;
    let ids: Vec<String> = seen
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2, "opened and joined, each with an id: {seen}");
    assert!(seen.contains(&format!("\"incident_id\":{id}")), "{seen}");

    // Acknowledged while a reader was away: it resumes after the last id it saw.
    let (s, _) = r
        .admin("POST", &format!("/incidents/{id}/acknowledge"), "")
        .await;
    assert_eq!(s, 200);
    let mut back = stream(&r, Some(&ids[0])).await;
    let mut again = String::new();
    read_until(&mut back, &mut again, "investigating").await;
    let replayed: Vec<&str> = again
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .collect();
    assert_eq!(replayed.first(), Some(&ids[1].as_str()), "{again}");
    assert!(!again.contains(&format!("id: {}\n", ids[0])), "{again}");

    let mut bad = TcpStream::connect(r.addr()).await.expect("connect");
    let req = format!(
        "GET /incidents/stream HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {ADMIN}\r\nLast-Event-ID: nope\r\nConnection: close\r\n\r\n"
    );
    bad.write_all(req.as_bytes()).await.expect("write");
    let mut refused = String::new();
    read_until(&mut bad, &mut refused, "400").await;
    drop((live, back, bad));
    r.stop().await;
}

/// Incidents and their timelines are in the store: a restart (a clean one here; kill -9 in
/// the binary's tests) neither loses nor splits them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_incidents_and_new_alerts_join_them() {
    let dir = data_dir("incident-restart");
    let r = start(&dir, |_| {}).await;
    let (id, _, _) = outage(&r).await;
    r.stop().await;
    let r = start(&dir, |_| {}).await;
    post(
        &r,
        &[(
            json!({"alertname": "HighLatency", "service": "orders-api", "cluster": "euw1"}),
            "orders-api p99 latency above 2s: database connection refused",
            now_ms(),
        )],
    )
    .await;
    let (_, d) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert_eq!(
        d["members"].as_array().map(Vec::len),
        Some(3),
        "the third alert joins the incident from before the restart: {d}"
    );
    let (_, v) = r.admin("GET", "/incidents", "").await;
    assert_eq!(v["incidents"].as_array().map(Vec::len), Some(1), "{v}");
    r.stop().await;
}

/// An incident resolves under the resolve policy when its alerts resolve: by default when the
/// last one does, with `resolve = "first"` when the first does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_resolves_when_its_alerts_do_under_the_policy() {
    use klaxon_engine::correlate::ResolvePolicy;
    for (policy, after_first) in [
        (ResolvePolicy::Last, "open"),
        (ResolvePolicy::First, "resolved"),
    ] {
        let dir = data_dir("incident-policy");
        let r = start(&dir, |c| c.correlation.resolve = policy).await;
        let (id, a, b) = outage(&r).await;
        let (s, v) = r.admin("POST", &format!("/alerts/{a}/resolve"), "").await;
        assert_eq!(s, 200, "{v}");
        let (_, d) = r.admin("GET", &format!("/incidents/{id}"), "").await;
        assert_eq!(d["state"], after_first, "{policy:?}: {d}");
        let (s, _) = r.admin("POST", &format!("/alerts/{b}/resolve"), "").await;
        assert_eq!(s, 200);
        let (_, d) = r.admin("GET", &format!("/incidents/{id}"), "").await;
        assert_eq!(d["state"], "resolved", "{policy:?}: {d}");
        let last = &d["timeline"][d["timeline"].as_array().map_or(0, Vec::len) - 1];
        assert_eq!(last["actor"], "correlator", "{d}");
        r.stop().await;
    }
}

/// A topology document with errors stops the server at start, every error named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_topology_stops_the_start_with_every_error() {
    use klaxon_server::config::{Config, Secret};
    let dir = data_dir("incident-topology");
    let topology = dir.join("topology.json");
    std::fs::write(
        &topology,
        r#"{"services": [{"name": "api", "depends_on": ["ghost"]}, {"name": "api"}]}"#,
    )
    .expect("write the topology");
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        admin_token: Some(Secret(ADMIN.to_owned())),
        ..Config::default()
    };
    config.correlation.topology = Some(topology.display().to_string());
    let store = klaxon_store::sqlite::SqliteStore::open(&config.database_path()).expect("store");
    let err = match klaxon_server::Server::start(config.clone(), store.clone()).await {
        Ok(_) => panic!("a server started on a broken topology"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("unknown service `ghost`"), "{err}");
    assert!(err.contains("duplicate service `api`"), "{err}");
    assert!(err.contains("correlation.topology"), "{err}");

    // Off, the topology is not read at all.
    config.correlation.enabled = false;
    let server = klaxon_server::Server::start(config, store)
        .await
        .expect("starts without correlation");
    server.drain().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topology_reloads_and_a_broken_one_leaves_the_old_in_place() {
    let dir = data_dir("incident-topology-reload");
    let topology = dir.join("topology.json");
    let deployed = |depends: &str| {
        format!(
            r#"{{"clusters": [{{"name": "euw1"}}], "services": [
                {{"name": "payments", "deployments": [{{"cluster": "euw1"}}]}},
                {{"name": "checkout", "depends_on": [{depends}], "deployments": [{{"cluster": "euw1"}}]}}]}}"#
        )
    };
    std::fs::write(&topology, deployed("")).expect("write the topology");
    let path = topology.display().to_string();
    let r = start(&dir, |c| c.correlation.topology = Some(path.clone())).await;
    let t = now_ms() - 120_000;
    post(
        &r,
        &[(
            json!({"alertname": "PaymentsDown", "service": "payments", "cluster": "euw1"}),
            "payment provider unreachable",
            t,
        )],
    )
    .await;
    let payments = alert_id(&r, "PaymentsDown").await;
    let (_, a) = r.admin("GET", &format!("/alerts/{payments}"), "").await;
    let incident = a["incident"]["id"].as_i64().expect("an incident");

    // A broken document: every error answered, the topology in use stays.
    std::fs::write(
        &topology,
        r#"{"services": [{"name": "checkout", "depends_on": ["ghost"]}, {"name": "checkout"}]}"#,
    )
    .expect("write");
    let (s, v) = r.admin("POST", "/incidents/topology/reload", "").await;
    assert_eq!(s, 422, "{v}");
    let errors = v["error"]["details"]["errors"].to_string();
    assert!(errors.contains("unknown service `ghost`"), "{v}");
    assert!(errors.contains("duplicate service `checkout`"), "{v}");

    // checkout now calls payments: the reloaded document links a checkout alert to the
    // payments incident from before the reload.
    std::fs::write(&topology, deployed(r#""payments""#)).expect("write");
    let (s, v) = r.admin("POST", "/incidents/topology/reload", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["services"], 2, "{v}");
    assert_eq!(v["incidents"], 1, "{v}");
    post(
        &r,
        &[(
            json!({"alertname": "CheckoutErrors", "service": "checkout", "cluster": "euw1"}),
            "checkout 5xx above 20%",
            t + 30_000,
        )],
    )
    .await;
    let checkout = alert_id(&r, "CheckoutErrors").await;
    let (_, why) = r
        .admin("GET", &format!("/alerts/correlation/{checkout}"), "")
        .await;
    assert_eq!(why["incident"]["id"], incident, "{why}");
    assert!(
        why["link"]["evidence"]["topology"]
            .as_str()
            .is_some_and(|t| t.contains("calls payments")),
        "{why}"
    );

    // Audited (roles.rs checks that only an admin may reload).
    let (_, log) = r.admin("GET", "/v1/audit?action=topology.reload", "").await;
    assert_eq!(log["entries"].as_array().map(Vec::len), Some(1), "{log}");
    r.stop().await;
}
