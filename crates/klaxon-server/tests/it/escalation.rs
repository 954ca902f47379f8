//! Escalation policies through a running server, with a real webhook receiver per person: a
//! firing alert pages its policy's first level at once and the next after the wait;
//! acknowledging stops it (an alert's or its incident's); an acknowledgement that times out
//! pages again; an incident is escalated by hand (timeline, audit log) until no level is left;
//! a schedule pages whoever is on call; an alert not acknowledged within its SLA target is a
//! breach, told through its routes and counted on the SLA dashboard; the escalation
//! statistics count the pages; a policy made through the API pages users made through the API,
//! and an escalation in progress follows a change to its policy; an incident of three
//! correlated alerts pages each level once.

use std::time::{Duration, Instant};

use klaxon_server::config::Config;
use serde_json::{json, Value};

use crate::harness::receiver::{receiver, Got, Receiver};
use crate::harness::{data_dir, start, Running};

const CONFIG: &str = r#"
[route]
receiver = "ops"
group_wait = "0s"
escalation_policy = "critical"
[[route.routes]]
matchers = ['speed="slow"']
escalation_policy = "slow"
[[route.routes]]
matchers = ['ack="expires"']
escalation_policy = "expiring"
[[route.routes]]
matchers = ['speed="delayed"']
escalation_policy = "delayed"
[[route.routes]]
matchers = ['via="schedule"']
escalation_policy = "on-call"

[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "http://ADDR/ops"
[[receivers.webhook_configs]]
url = "http://ADDR/notices"
body = '{"notice": {{ notice }}}'

[[users]]
name = "alice"
contacts = [{ kind = "webhook", url = "http://ADDR/alice" }]
[[users]]
name = "bob"
contacts = [{ kind = "webhook", url = "http://ADDR/bob" }]
[[users]]
name = "carol"
contacts = [{ kind = "webhook", url = "http://ADDR/carol" }]

[[users]]
name = "dave"
contacts = [{ kind = "webhook", url = "http://ADDR/dave" }]

[[teams]]
name = "db"
members = ["bob", "carol"]

[[escalation_policies]]
name = "critical"
[[escalation_policies.levels]]
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "2s"
notify = ["team:db"]

[[escalation_policies]]
name = "slow"
[[escalation_policies.levels]]
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "1h"
notify = ["user:bob", "receiver:ops"]

[[escalation_policies]]
name = "expiring"
ack_timeout = "1s"
[[escalation_policies.levels]]
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "1h"
notify = ["user:bob"]

[[escalation_policies]]
name = "delayed"
[[escalation_policies.levels]]
wait = "2s"
notify = ["user:alice"]

[[escalation_policies]]
name = "on-call"
[[escalation_policies.levels]]
notify = ["schedule:primary"]

[[schedules]]
name = "primary"
time_zone = "UTC"
[[schedules.layers]]
users = ["dave"]
shift = "1w"
handoff = "2026-01-05T09:00:00"

[sla]
high = { acknowledge = "1s" }
"#;

pub(crate) fn configure(c: &mut Config, addr: &str) {
    let part: Config = toml::from_str(&CONFIG.replace("ADDR", addr)).expect("configuration");
    c.route = part.route;
    c.receivers = part.receivers;
    c.users = part.users;
    c.teams = part.teams;
    c.schedules = part.schedules;
    c.escalation_policies = part.escalation_policies;
    c.sla = part.sla;
    c.collector.enabled = false;
}

pub(crate) async fn fire(r: &Running, name: &str, labels: Value) -> i64 {
    let mut l = json!({"alertname": name});
    if let (Some(l), Some(extra)) = (l.as_object_mut(), labels.as_object()) {
        l.extend(extra.clone());
    }
    let (s, v) = r
        .admin(
            "POST",
            "/api/v2/alerts",
            &json!([{"labels": l}]).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let v = r
        .until(&format!("/alerts/history?rule={name}"), |v| {
            v["alerts"][0]["id"].is_i64()
        })
        .await;
    v["alerts"][0]["id"].as_i64().expect("the alert's id")
}

/// The escalated pages of `alert` that reached `path`.
fn pages(got: &[Got], path: &str, alert: &str) -> Vec<Got> {
    got.iter()
        .filter(|g| {
            g.path == path
                && g.body["kind"] == "escalated"
                && g.body["alerts"][0]["labels"]["alertname"] == alert
        })
        .cloned()
        .collect()
}

async fn until_paged(rx: &Receiver, path: &str, alert: &str) -> Got {
    let got = rx.until(|g| !pages(g, path, alert).is_empty()).await;
    pages(&got, path, alert)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{path} never paged for {alert}: {got:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_page_in_order_stop_on_acknowledgement_and_escalate_by_hand() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    // Level 1 at once; acknowledged before level 2 (the team) is due.
    let acked = fire(&r, "Acked", json!({"severity": "critical"})).await;
    let page = until_paged(&rx, "/alice", "Acked").await;
    assert_eq!(page.body["escalation"]["level"], 1, "{}", page.body);
    assert_eq!(page.body["escalation"]["reason"], "escalation started");
    let (s, v) = r
        .admin("POST", &format!("/alerts/{acked}/acknowledge"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");

    // Not acknowledged: the team's members are paged after the wait, each once.
    let t0 = Instant::now();
    fire(&r, "Ignored", json!({"severity": "critical"})).await;
    let bob = until_paged(&rx, "/bob", "Ignored").await;
    let carol = until_paged(&rx, "/carol", "Ignored").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(1900),
        "paged before the wait"
    );
    assert_eq!(bob.body["escalation"]["target"], "team:db");
    assert_eq!(bob.body["escalation"]["member"], "bob");
    assert_eq!(carol.body["escalation"]["member"], "carol");
    assert_eq!(
        bob.body["escalation"]["reason"],
        "nobody acknowledged within 2s"
    );
    // "Ignored" fired after "Acked" was acknowledged, so its level 2 came due after the one
    // "Acked" skipped: nobody was paged for "Acked" again.
    let got = rx.got.lock().expect("receiver").clone();
    for path in ["/bob", "/carol"] {
        assert!(pages(&got, path, "Acked").is_empty(), "{path}: {got:#?}");
    }
    assert_eq!(pages(&got, "/alice", "Acked").len(), 1);

    // By hand: an incident of an alert of the slow policy.
    let slow = fire(&r, "Slow", json!({"severity": "low", "speed": "slow"})).await;
    until_paged(&rx, "/alice", "Slow").await;
    let (s, inc) = r
        .admin(
            "POST",
            "/incidents/create",
            &json!({"alerts": [slow]}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{inc}");
    let id = inc["id"].as_i64().expect("incident id");
    let (s, v) = r
        .admin("POST", &format!("/incidents/{id}/escalate"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    let page = until_paged(&rx, "/bob", "Slow").await;
    assert_eq!(page.body["escalation"]["level"], 2, "{}", page.body);
    assert_eq!(page.body["escalation"]["incident"], id, "{}", page.body);
    assert!(
        page.body["escalation"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("escalated by hand by ")),
        "{}",
        page.body
    );
    until_paged(&rx, "/ops", "Slow").await;
    let (s, v) = r
        .admin("POST", &format!("/incidents/{id}/escalate"), "")
        .await;
    assert_eq!(s, 409, "no level is left: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("every level")),
        "{v}"
    );
    let (s, v) = r.admin("POST", "/incidents/999999/escalate", "").await;
    assert_eq!(s, 404, "{v}");
    let (_, d) = r.admin("GET", &format!("/incidents/{id}"), "").await;
    assert!(
        d.to_string().contains("\"escalated\""),
        "the timeline records it: {d}"
    );
    let (_, audit) = r
        .admin("GET", "/v1/audit?action=incident.escalate", "")
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
    // The statistics count what happened: three escalations, one acknowledged, one page by
    // hand.
    let (s, m) = r.admin("GET", "/alerts/metrics/escalation", "").await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["escalations"], 3, "{m}");
    assert_eq!(m["acknowledged"], 1, "{m}");
    assert_eq!(m["by_reason"]["by_hand"], 1, "{m}");
    assert_eq!(m["by_reason"]["started"], 3, "{m}");
    assert_eq!(m["by_reason"]["not_acknowledged"], 1, "{m}");
    let critical = m["by_policy"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["policy"] == "critical"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(critical["pages"], 3, "{m}");
    assert_eq!(
        critical["levels"],
        json!([{"level": 1, "pages": 2}, {"level": 2, "pages": 1}])
    );
    r.stop().await;
}

/// The notices of `alert` (its name, then a space) that reached `/notices`.
fn notices(got: &[Got], alert: &str) -> Vec<String> {
    got.iter()
        .filter(|g| g.path == "/notices")
        .filter_map(|g| g.body["notice"].as_str().map(str::to_owned))
        .filter(|n| n.contains(&format!(": {alert} (")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sla_target_that_passes_is_a_breach_told_once_and_counted() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("sla");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    // High alerts must be acknowledged within 1s; "Quick" is, "Late" is not.
    let quick = fire(&r, "Quick", json!({"severity": "high", "team": "db"})).await;
    let (s, v) = r
        .admin("POST", &format!("/alerts/{quick}/acknowledge"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");
    let late = fire(&r, "Late", json!({"severity": "high", "team": "db"})).await;
    let got = rx.until(|g| !notices(g, "Late").is_empty()).await;
    assert_eq!(
        notices(&got, "Late"),
        ["SLA breached: Late (high, team db) was not acknowledged within 1s"],
        "{got:#?}"
    );
    // A later alert's breach is told after it: "Quick" never breached.
    fire(&r, "Later", json!({"severity": "high"})).await;
    let got = rx.until(|g| !notices(g, "Later").is_empty()).await;
    assert_eq!(notices(&got, "Later").len(), 1, "{got:#?}");
    assert!(notices(&got, "Quick").is_empty(), "{got:#?}");
    assert_eq!(notices(&got, "Late").len(), 1, "told once");

    let (s, d) = r.admin("GET", "/alerts/sla/dashboard?period=1h", "").await;
    assert_eq!(s, 200, "{d}");
    let ack = &d["overall"]["acknowledge"];
    assert_eq!(
        (ack["met"].as_u64(), ack["breached"].as_u64()),
        (Some(1), Some(2)),
        "{d}"
    );
    let team = &d["by_team"][0];
    assert_eq!(team["team"], "db", "{d}");
    assert_eq!(team["acknowledge"]["compliance"], 0.5, "{d}");
    assert_eq!(d["by_severity"][0]["severity"], "high", "{d}");
    assert_eq!(d["breaches"]["told"], 2, "{d}");
    assert_eq!(d["breaches"]["newest"][1]["alert"], late, "{d}");
    assert_eq!(
        d["periods"].as_array().map(Vec::len),
        Some(168),
        "a week of hours: {d}"
    );

    // Bounds: a window over 90 days, a period under an hour, a reversed window.
    for q in [
        "since=2025-01-01T00:00:00Z&until=2025-06-01T00:00:00Z",
        "period=10m",
        "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
    ] {
        let (s, v) = r
            .admin("GET", &format!("/alerts/sla/dashboard?{q}"), "")
            .await;
        assert_eq!(s, 400, "{q}: {v}");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_that_times_out_pages_the_first_level_again_until_acknowledged() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("ack-timeout");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    let id = fire(&r, "Stuck", json!({"severity": "low", "ack": "expires"})).await;
    until_paged(&rx, "/alice", "Stuck").await;
    let (s, v) = r
        .admin("POST", &format!("/alerts/{id}/acknowledge"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");
    let got = rx.until(|g| pages(g, "/alice", "Stuck").len() >= 2).await;
    let again = pages(&got, "/alice", "Stuck");
    assert_eq!(again.len(), 2, "{got:#?}");
    assert_eq!(
        again[1].body["escalation"]["reason"],
        "the acknowledgement expired: not resolved within 1s"
    );
    assert_eq!(again[1].body["escalation"]["level"], 1);
    assert_ne!(again[0].key, again[1].key, "a new page, not a re-send");
    // Acknowledged again (the alert still is): answered as done; then resolved.
    let (s, v) = r
        .admin("POST", &format!("/alerts/{id}/acknowledge"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .admin("POST", &format!("/alerts/{id}/resolve"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");
    // A later alert pages 2 s after it fired, past when a third page would have come.
    fire(&r, "After", json!({"severity": "low", "speed": "delayed"})).await;
    let got = rx.until(|g| !pages(g, "/alice", "After").is_empty()).await;
    assert!(!pages(&got, "/alice", "After").is_empty(), "{got:#?}");
    assert_eq!(pages(&got, "/alice", "Stuck").len(), 2, "{got:#?}");
    assert!(pages(&got, "/bob", "Stuck").is_empty(), "{got:#?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_target_pages_whoever_is_on_call() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-schedule");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;
    let (s, v) = r.admin("GET", "/v1/oncall?schedule=primary", "").await;
    assert_eq!(s, 200, "{v}");
    assert!(v.to_string().contains("dave"), "dave is on call: {v}");
    fire(&r, "Paged", json!({"severity": "low", "via": "schedule"})).await;
    // Dave is named by no policy and in no team: only the schedule makes him a paged user.
    let page = until_paged(&rx, "/dave", "Paged").await;
    assert_eq!(
        page.body["escalation"]["target"], "schedule:primary",
        "{}",
        page.body
    );
    assert_eq!(page.body["escalation"]["member"], "dave", "{}", page.body);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledging_an_incident_stops_its_alerts_escalations() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-incident-ack");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    let id = fire(&r, "InIncident", json!({"severity": "critical"})).await;
    until_paged(&rx, "/alice", "InIncident").await;
    let (s, inc) = r
        .admin(
            "POST",
            "/incidents/create",
            &json!({"alerts": [id]}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{inc}");
    let incident = inc["id"].as_i64().expect("incident id");
    let (s, v) = r
        .admin("POST", &format!("/incidents/{incident}/acknowledge"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    // A later alert's second level (2 s after it) comes after the one acknowledged away.
    fire(&r, "Unowned", json!({"severity": "critical"})).await;
    let got = rx.until(|g| !pages(g, "/bob", "Unowned").is_empty()).await;
    assert!(!pages(&got, "/bob", "Unowned").is_empty(), "{got:#?}");
    assert!(pages(&got, "/bob", "InIncident").is_empty(), "{got:#?}");
    assert!(pages(&got, "/carol", "InIncident").is_empty(), "{got:#?}");
    // Escalating by hand sets the acknowledgement aside and pages the next level.
    let (s, v) = r
        .admin("POST", &format!("/incidents/{incident}/escalate"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    until_paged(&rx, "/bob", "InIncident").await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_of_three_correlated_alerts_pages_each_level_once() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-incident-one");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    // Three alerts of one service instance, correlated into one incident.
    let t = crate::incidents::now_ms() - 60_000;
    let alerts: Vec<(Value, &str, i64)> = ["PgDown", "HighErrorRate", "SlowCheckout"]
        .iter()
        .zip(0..)
        .map(|(name, i)| {
            (
                json!({"alertname": name, "service": "orders-api", "cluster": "euw1", "severity": "critical"}),
                "orders-api database connection refused",
                t + i * 10_000,
            )
        })
        .collect();
    crate::incidents::post(&r, &alerts).await;
    let mut ids = Vec::new();
    for name in ["PgDown", "HighErrorRate", "SlowCheckout"] {
        ids.push(crate::incidents::alert_id(&r, name).await);
    }
    let (_, v) = r
        .admin("GET", &format!("/alerts/correlation/{}", ids[0]), "")
        .await;
    let incident = v["incident"]["id"].as_i64().expect("an incident");
    for id in &ids[1..] {
        let (_, v) = r
            .admin("GET", &format!("/alerts/correlation/{id}"), "")
            .await;
        assert_eq!(v["incident"]["id"], incident, "one incident: {v}");
    }

    let escalated = |got: &[Got], path: &str| -> Vec<Got> {
        got.iter()
            .filter(|g| g.path == path && g.body["kind"] == "escalated")
            .cloned()
            .collect()
    };
    // Level 2 (team db: bob and carol) comes 2 s after level 1; then a while for more.
    rx.until(|g| !escalated(g, "/carol").is_empty()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = rx.got.lock().expect("received").clone();
    for path in ["/alice", "/bob", "/carol"] {
        let pages = escalated(&got, path);
        assert_eq!(pages.len(), 1, "{path} paged once: {pages:#?}");
        let body = &pages[0].body;
        assert_eq!(body["escalation"]["incident"], incident, "{body}");
        let notice = body["notice"].as_str().unwrap_or_default();
        assert!(
            notice.starts_with(&format!("incident {incident} (3 alerts")),
            "{body}"
        );
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_joining_an_escalating_incident_one_by_one_page_no_level_again() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-incident-join");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    let t = crate::incidents::now_ms() - 60_000;
    let alert = |name: &str, i: i64| {
        (
            json!({"alertname": name, "service": "orders-api", "cluster": "euw1", "severity": "critical"}),
            "orders-api database connection refused",
            t + i * 10_000,
        )
    };
    let escalated = |got: &[Got], path: &str| -> Vec<Got> {
        got.iter()
            .filter(|g| g.path == path && g.body["kind"] == "escalated")
            .cloned()
            .collect()
    };
    // The first alert pages level 1 alone; the others join its incident before level 2.
    crate::incidents::post(&r, &[alert("PgDown", 0)]).await;
    rx.until(|g| !escalated(g, "/alice").is_empty()).await;
    crate::incidents::post(&r, &[alert("HighErrorRate", 1)]).await;
    crate::incidents::post(&r, &[alert("SlowCheckout", 2)]).await;
    let first = crate::incidents::alert_id(&r, "PgDown").await;
    let (_, v) = r
        .admin("GET", &format!("/alerts/correlation/{first}"), "")
        .await;
    let incident = v["incident"]["id"].as_i64().expect("an incident");
    rx.until(|g| !escalated(g, "/carol").is_empty()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = rx.got.lock().expect("received").clone();
    for path in ["/alice", "/bob", "/carol"] {
        assert_eq!(
            escalated(&got, path).len(),
            1,
            "{path} paged once: {got:#?}"
        );
    }
    let bob = &escalated(&got, "/bob")[0].body;
    assert_eq!(bob["escalation"]["incident"], incident, "{bob}");
    assert_eq!(bob["escalation"]["level"], 2, "{bob}");
    let notice = bob["notice"].as_str().unwrap_or_default();
    assert!(
        notice.starts_with(&format!("incident {incident} (3 alerts, first PgDown)")),
        "{bob}"
    );
    r.stop().await;
}

/// The configuration of [`configure`] with one more route, `via="api"`, that names `made`: a
/// policy the configuration file does not declare.
fn configure_made(c: &mut Config, addr: &str) {
    let text = CONFIG.replace("ADDR", addr).replacen(
        "[[receivers]]",
        "[[route.routes]]\nmatchers = ['via=\"api\"']\nescalation_policy = \"made\"\n\n[[receivers]]",
        1,
    );
    let part: Config = toml::from_str(&text).expect("configuration");
    configure(c, addr);
    c.route = part.route;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_made_through_the_api_pages_users_made_through_the_api() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-api");
    let addr = addr.to_string();

    let r = start(&dir, |c| configure(c, &addr)).await;
    for name in ["erin", "frank"] {
        let body = json!({"name": name, "time_zone": "UTC",
                          "contacts": [{"kind": "webhook", "url": format!("http://{addr}/{name}")}]});
        let (s, v) = r.admin("POST", "/v1/users", &body.to_string()).await;
        assert_eq!(s, 201, "{v}");
    }
    // Every problem with its field, as the configuration file's checks have them.
    let bad = json!({"name": "made", "repeat": 1, "levels": [
        {"notify": ["user:erin"]},
        {"wait": "soon", "notify": ["user:nobody", "receiver:ops", "pager:x"]},
    ]});
    let (s, v) = r
        .admin("POST", "/v1/escalation-policies", &bad.to_string())
        .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = (v["error"]["details"]["problems"].as_array().into_iter())
        .flatten()
        .filter_map(|p| p["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "levels[1].wait",
            "levels[1].notify[0]",
            "levels[1].notify[2]"
        ],
        "{v}"
    );
    let made = json!({"name": "made", "levels": [
        {"notify": ["user:erin"]},
        {"wait": "1h", "notify": ["user:frank"]},
        {"wait": "2s", "notify": ["user:erin", "receiver:ops"]},
    ]});
    let (s, v) = r
        .admin("POST", "/v1/escalation-policies", &made.to_string())
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["origin"], "api", "{v}");
    let (s, v) = r
        .admin("POST", "/v1/escalation-policies", &made.to_string())
        .await;
    assert_eq!(s, 409, "the name is taken: {v}");
    let (s, v) = r
        .admin(
            "PUT",
            "/v1/escalation-policies/made",
            &json!({"name": "other", "levels": [{"notify": ["user:erin"]}]}).to_string(),
        )
        .await;
    assert_eq!(s, 422, "not renamed: {v}");
    assert_eq!(v["error"]["details"]["problems"][0]["field"], "name", "{v}");
    // Declared in the file: read-only; named by a route: not deleted.
    let (s, v) = r
        .admin(
            "PUT",
            "/v1/escalation-policies/critical",
            &json!({"levels": [{"notify": ["user:erin"]}]}).to_string(),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    let (s, v) = r
        .admin("DELETE", "/v1/escalation-policies/critical", "")
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("route.escalation_policy")),
        "says who names it: {v}"
    );
    // A user a policy names is not deleted.
    let (s, v) = r.admin("DELETE", "/v1/users/frank", "").await;
    assert_eq!(s, 409, "{v}");
    let (_, audit) = r
        .admin("GET", "/v1/audit?action=escalation_policy.create", "")
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
    r.stop().await;

    // Started again with a route that names the policy made through the API.
    let r = start(&dir, |c| configure_made(c, &addr)).await;
    let (s, v) = r.admin("GET", "/v1/escalation-policies/made", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["routes"],
        json!(["route.routes[4].escalation_policy"]),
        "{v}"
    );

    let id = fire(&r, "Made", json!({"severity": "low", "via": "api"})).await;
    let page = until_paged(&rx, "/erin", "Made").await;
    assert_eq!(page.body["escalation"]["policy"], "made", "{}", page.body);
    assert_eq!(page.body["escalation"]["level"], 1, "{}", page.body);

    // Level 2 waits 1h; changed to 2s, the running escalation follows it from its next level.
    let t0 = Instant::now();
    let changed = json!({"levels": [
        {"notify": ["user:erin"]},
        {"wait": "2s", "notify": ["user:frank"]},
        {"wait": "2s", "notify": ["user:erin", "receiver:ops"]},
    ]});
    let (s, v) = r
        .admin("PUT", "/v1/escalation-policies/made", &changed.to_string())
        .await;
    assert_eq!(s, 200, "{v}");
    let page = until_paged(&rx, "/frank", "Made").await;
    assert_eq!(page.body["escalation"]["level"], 2, "{}", page.body);
    assert_eq!(
        page.body["escalation"]["reason"], "nobody acknowledged within 2s",
        "{}",
        page.body
    );
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "the changed wait counted"
    );
    let (s, v) = r
        .admin("POST", &format!("/alerts/{id}/acknowledge"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");

    // A later alert's level 2 (2 s after it fired) comes after the acknowledged alert's
    // level 3 would have: that one never pages.
    fire(&r, "MadeLater", json!({"severity": "low", "via": "api"})).await;
    let got = rx
        .until(|g| !pages(g, "/frank", "MadeLater").is_empty())
        .await;
    assert_eq!(pages(&got, "/erin", "Made").len(), 1, "{got:#?}");
    assert!(pages(&got, "/ops", "Made").is_empty(), "{got:#?}");

    // The route names it: not deleted; every change is in the audit log.
    let (s, v) = r.admin("DELETE", "/v1/escalation-policies/made", "").await;
    assert_eq!(s, 409, "{v}");
    let (_, audit) = r
        .admin("GET", "/v1/audit?action=escalation_policy.update", "")
        .await;
    assert_eq!(
        audit["entries"].as_array().map(Vec::len),
        Some(1),
        "{audit}"
    );
    r.stop().await;
}
