//! An incident's escalation when people regroup incidents, through a running server with a
//! real webhook receiver per person (a policy of three levels: alice at once, bob after 4 s,
//! carol 4 s after bob). Merging two escalating incidents keeps the older escalation, which
//! goes on under the incident merged into; splitting alerts out leaves the incident's
//! escalation to the alerts that stay, and the alerts split out page nobody until one of them
//! fires again; moving an alert into an incident whose one alert escalates makes that alert's
//! escalation the incident's, and the incident moved from goes on with the alerts it keeps.
//! Each time: who is paged next, for which incident, and nobody twice for a level.

use std::collections::BTreeMap;
use std::time::Duration;

use klaxon_server::config::Config;
use serde_json::{json, Value};

use crate::harness::receiver::{receiver, Got, Receiver};
use crate::harness::{data_dir, start, Running};
use crate::incidents::{alert_id, now_ms, post};

const CONFIG: &str = r#"
[route]
receiver = "ops"
group_wait = "0s"
escalation_policy = "steps"

[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "http://ADDR/ops"

[[users]]
name = "alice"
contacts = [{ kind = "webhook", url = "http://ADDR/alice" }]
[[users]]
name = "bob"
contacts = [{ kind = "webhook", url = "http://ADDR/bob" }]
[[users]]
name = "carol"
contacts = [{ kind = "webhook", url = "http://ADDR/carol" }]

[[escalation_policies]]
name = "steps"
[[escalation_policies.levels]]
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "4s"
notify = ["user:bob"]
[[escalation_policies.levels]]
wait = "4s"
notify = ["user:carol"]
"#;

fn configure(c: &mut Config, addr: &str) {
    let part: Config = toml::from_str(&CONFIG.replace("ADDR", addr)).expect("configuration");
    c.route = part.route;
    c.receivers = part.receivers;
    c.users = part.users;
    c.escalation_policies = part.escalation_policies;
    c.collector.enabled = false;
}

/// One page as its receiver got it: the escalation's subject and start (from the
/// idempotency key `escalation:SUBJECT:START.CYCLE.ROUND.LEVEL:...`), the 1-based level, the
/// incident it names, and its notice.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Page {
    subject: String,
    started: i64,
    level: i64,
    incident: Option<i64>,
    notice: String,
}

fn page(g: &Got) -> Page {
    let parts: Vec<&str> = g.key.split(':').collect();
    assert!(
        parts.len() > 3 && parts[0] == "escalation",
        "an escalation's key: {}",
        g.key
    );
    Page {
        subject: format!("{}:{}", parts[1], parts[2]),
        started: (parts[3].split('.').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("the escalation's start in {}", g.key)),
        level: g.body["escalation"]["level"].as_i64().unwrap_or(0),
        incident: g.body["escalation"]["incident"].as_i64(),
        notice: g.body["notice"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The pages `path` got, in order (a re-send of the same outbox row counted once).
fn pages(got: &[Got], path: &str) -> Vec<Page> {
    let mut keys = Vec::new();
    let mut out = Vec::new();
    for g in got
        .iter()
        .filter(|g| g.path == path && g.body["kind"] == "escalated")
    {
        if !keys.contains(&g.key) {
            keys.push(g.key.clone());
            out.push(page(g));
        }
    }
    out
}

/// Every person's pages, once `pred` holds on them (10 s at most).
async fn paged(
    rx: &Receiver,
    pred: impl Fn(&BTreeMap<&str, Vec<Page>>) -> bool,
) -> BTreeMap<&'static str, Vec<Page>> {
    let by_person = |got: &[Got]| -> BTreeMap<&'static str, Vec<Page>> {
        ["alice", "bob", "carol"]
            .into_iter()
            .map(|p| (p, pages(got, &format!("/{p}"))))
            .collect()
    };
    let got = rx.until(|g| pred(&by_person(g))).await;
    by_person(&got)
}

/// Nobody was paged twice for one level of one escalation.
fn nobody_twice(paged: &BTreeMap<&str, Vec<Page>>) {
    for (person, pages) in paged {
        let mut seen = Vec::new();
        for p in pages {
            let level = (p.subject.clone(), p.started, p.level);
            assert!(
                !seen.contains(&level),
                "{person} paged twice for {level:?}: {pages:#?}"
            );
            seen.push(level);
        }
    }
}

/// Alerts named `names` of one service instance (one incident), firing now.
async fn outage(r: &Running, service: &str, cluster: &str, names: &[&str]) -> Vec<i64> {
    let t = now_ms() - 1_000;
    let alerts: Vec<(Value, &str, i64)> = names
        .iter()
        .map(|name| {
            (
                json!({"alertname": name, "service": service, "cluster": cluster, "severity": "critical"}),
                "connection refused",
                t,
            )
        })
        .collect();
    post(r, &alerts).await;
    let mut ids = Vec::new();
    for name in names {
        ids.push(alert_id(r, name).await);
    }
    ids
}

async fn incident_of(r: &Running, alert: i64) -> i64 {
    let (_, v) = r
        .admin("GET", &format!("/alerts/correlation/{alert}"), "")
        .await;
    v["incident"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("alert {alert} is in no incident: {v}"))
}

fn subject(incident: i64) -> String {
    format!("incident:{incident}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merging_two_escalating_incidents_keeps_the_older_escalation_under_the_one_merged_into() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-merge");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    // Incident A (two alerts) escalates first, incident B (two alerts) after it.
    let a = outage(&r, "orders-api", "euw1", &["PgDown", "HighErrorRate"]).await;
    let inc_a = incident_of(&r, a[0]).await;
    assert_eq!(incident_of(&r, a[1]).await, inc_a, "one incident");
    let first = paged(&rx, |p| p["alice"].len() == 1).await;
    let a_started = first["alice"][0].started;
    assert_eq!(first["alice"][0].subject, subject(inc_a), "{first:#?}");
    let b = outage(&r, "billing", "usw2", &["QueueStuck", "LedgerLag"]).await;
    let inc_b = incident_of(&r, b[0]).await;
    assert_ne!(inc_a, inc_b, "two incidents");
    let both = paged(&rx, |p| p["alice"].len() == 2).await;
    assert_eq!(both["alice"][1].subject, subject(inc_b), "{both:#?}");
    assert!(both["alice"][1].started >= a_started);
    assert!(both["bob"].is_empty(), "merged before level 2: {both:#?}");

    // A merges into B: A's escalation (the older) goes on as B's; B's own ends.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{inc_a}/merge"),
            &json!({"into": inc_b}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let done = paged(&rx, |p| !p["carol"].is_empty()).await;
    // A while more: nothing else comes (B's own level 2 would have come by then).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let done2 = paged(&rx, |_| true).await;
    assert_eq!(done, done2, "nothing after level 3");
    nobody_twice(&done);
    assert_eq!(done["alice"].len(), 2, "{done:#?}");
    for person in ["bob", "carol"] {
        let p = &done[person];
        assert_eq!(p.len(), 1, "{person} paged once: {done:#?}");
        assert_eq!(p[0].subject, subject(inc_b), "{done:#?}");
        assert_eq!(p[0].started, a_started, "A's escalation goes on: {done:#?}");
        assert_eq!(p[0].incident, Some(inc_b), "{done:#?}");
        assert!(
            p[0].notice
                .starts_with(&format!("incident {inc_b} (4 alerts")),
            "{done:#?}"
        );
    }
    assert_eq!(done["bob"][0].level, 2);
    assert_eq!(done["carol"][0].level, 3);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_split_out_of_an_escalating_incident_page_nobody_until_one_fires_again() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-split");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    let a = outage(
        &r,
        "orders-api",
        "euw1",
        &["PgDown", "HighErrorRate", "SlowCheckout"],
    )
    .await;
    let inc = incident_of(&r, a[0]).await;
    let first = paged(&rx, |p| p["alice"].len() == 1).await;
    assert_eq!(first["alice"][0].subject, subject(inc), "{first:#?}");
    let started = first["alice"][0].started;

    // SlowCheckout makes an incident of its own; the incident's escalation stays with the
    // two alerts it keeps.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{inc}/split"),
            &json!({"alerts": [a[2]]}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let split = v["id"].as_i64().expect("the new incident");
    assert_eq!(incident_of(&r, a[2]).await, split);
    paged(&rx, |p| !p["carol"].is_empty()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let done = paged(&rx, |_| true).await;
    nobody_twice(&done);
    assert_eq!(done["alice"].len(), 1, "{done:#?}");
    for person in ["bob", "carol"] {
        let p = &done[person];
        assert_eq!(p.len(), 1, "{person} paged once: {done:#?}");
        assert_eq!(
            (p[0].subject.as_str(), p[0].started),
            (subject(inc).as_str(), started)
        );
        assert!(
            p[0].notice
                .starts_with(&format!("incident {inc} (2 alerts")),
            "{done:#?}"
        );
    }

    // SlowCheckout fires again (resolved, then sent again): it starts an escalation of its own
    // in the incident it was split into, from level 1.
    let (s, v) = r
        .admin("POST", &format!("/alerts/{}/resolve", a[2]), "{}")
        .await;
    assert_eq!(s, 200, "{v}");
    outage(&r, "orders-api", "euw1", &["SlowCheckout"]).await;
    let again = paged(&rx, |p| p["alice"].len() == 2).await;
    let p = &again["alice"][1];
    assert_eq!(p.level, 1, "{again:#?}");
    assert_eq!(
        p.subject,
        format!("alert:{}", alert_id(&r, "SlowCheckout").await),
        "{again:#?}"
    );
    nobody_twice(&again);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_moved_into_an_incident_joins_its_escalation_and_both_page_each_level_once() {
    let (rx, addr, _h) = receiver(0).await;
    let dir = data_dir("escalation-move");
    let addr = addr.to_string();
    let r = start(&dir, |c| configure(c, &addr)).await;

    // Incident A of two alerts escalates as one; B, of one alert, as that alert.
    let a = outage(&r, "orders-api", "euw1", &["PgDown", "HighErrorRate"]).await;
    let inc_a = incident_of(&r, a[0]).await;
    let first = paged(&rx, |p| p["alice"].len() == 1).await;
    let a_started = first["alice"][0].started;
    let b = outage(&r, "billing", "usw2", &["QueueStuck"]).await;
    let inc_b = incident_of(&r, b[0]).await;
    assert_ne!(inc_a, inc_b, "two incidents");
    let both = paged(&rx, |p| p["alice"].len() == 2).await;
    let b_page = both["alice"][1].clone();
    assert_eq!(b_page.subject, format!("alert:{}", b[0]), "{both:#?}");

    // HighErrorRate moves into B: B's alert's escalation becomes B's, where it was (alice is
    // not paged again); A goes on with PgDown alone.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{inc_a}/move"),
            &json!({"alerts": [a[1]], "to": inc_b}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(incident_of(&r, a[1]).await, inc_b);
    paged(&rx, |p| p["carol"].len() == 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let done = paged(&rx, |_| true).await;
    nobody_twice(&done);
    assert_eq!(done["alice"].len(), 2, "{done:#?}");
    for (person, level) in [("bob", 2), ("carol", 3)] {
        let p = &done[person];
        assert_eq!(p.len(), 2, "{person} paged once per incident: {done:#?}");
        let of_a = (p.iter().find(|p| p.incident == Some(inc_a)))
            .unwrap_or_else(|| panic!("{person} paged for A: {done:#?}"));
        let of_b = (p.iter().find(|p| p.incident == Some(inc_b)))
            .unwrap_or_else(|| panic!("{person} paged for B: {done:#?}"));
        assert_eq!((of_a.level, of_b.level), (level, level));
        assert_eq!(
            (of_a.subject.clone(), of_a.started),
            (subject(inc_a), a_started)
        );
        assert_eq!(
            (of_b.subject.clone(), of_b.started),
            (subject(inc_b), b_page.started),
            "the alert's escalation goes on as B's: {done:#?}"
        );
        assert!(
            of_a.notice
                .starts_with(&format!("incident {inc_a} (1 alert,")),
            "{done:#?}"
        );
        assert!(
            of_b.notice
                .starts_with(&format!("incident {inc_b} (2 alerts")),
            "{done:#?}"
        );
    }
    r.stop().await;
}
