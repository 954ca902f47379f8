//! Notifications per incident: a route that groups by `incident` tells a receiver once when
//! an incident opens, again when it grows (a merge brings alerts in), and when it resolves,
//! never once per alert, and not again after a restart; the alert's incident travels in the
//! payload with a link to it.
#![allow(clippy::unwrap_used)] // tests

use serde_json::{json, Value};

use crate::harness::receiver::{receiver, Got};
use crate::harness::{self, configure_notify, data_dir, start};
use crate::incidents::{alert_id, now_ms, outage, post};

fn ids(g: &Got) -> Vec<i64> {
    let mut v: Vec<i64> = g.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["generatorURL"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
                .and_then(|id| id.parse().ok())
                .unwrap()
        })
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_grouped_by_incident_tells_each_incident_once_and_then_its_news() {
    let port = harness::free_port();
    let (rx, _addr, _t) = receiver(port).await;
    let dir = data_dir("incident-notify");
    let toml = format!(
        r#"
        [route]
        receiver = "oncall"
        group_by = ["incident"]
        group_wait = "2s"
        group_interval = "1s"
        [[receivers]]
        name = "oncall"
        [[receivers.webhook_configs]]
        url = "http://127.0.0.1:{port}/hook"
        "#
    );
    let r = start(&dir, |c| configure_notify(c, &toml)).await;
    let (first, a, b) = outage(&r).await;
    // Another problem elsewhere: an incident of its own.
    post(
        &r,
        &[(
            json!({"alertname": "QueueBacklog", "service": "billing-worker", "cluster": "use2"}),
            "billing queue backlog above 10k",
            now_ms() - 10_000,
        )],
    )
    .await;
    let c = alert_id(&r, "QueueBacklog").await;
    let (_, other) = r.admin("GET", &format!("/alerts/{c}"), "").await;
    let second = other["incident"]["id"].as_i64().expect("an incident");
    assert_ne!(first, second, "{other}");

    // One firing notification per incident, with every alert of it.
    let got = rx.until(|g| g.len() >= 2).await;
    let mut by_incident: Vec<(i64, Vec<i64>)> = got
        .iter()
        .map(|g| (g.body["incident"].as_i64().unwrap(), ids(g)))
        .collect();
    by_incident.sort_unstable();
    assert_eq!(by_incident, [(first, vec![a, b]), (second, vec![c])]);
    for g in &got {
        assert_eq!(g.kind, "firing");
        let i = g.body["incident"].as_i64().unwrap();
        assert_eq!(g.body["groupLabels"], json!({"incident": i.to_string()}));
        assert!(
            g.body["incidentURL"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/#/incidents/{i}")),
            "{}",
            g.body
        );
    }

    // What was told is on each incident's timeline.
    for i in [first, second] {
        let d = r
            .until(&format!("/incidents/{i}"), |d| {
                d["timeline"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|e| e["kind"] == "notified"))
            })
            .await;
        let told: Vec<&Value> = d["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "notified")
            .collect();
        assert_eq!(told.len(), 1, "{d}");
        assert_eq!(told[0]["detail"]["receiver"], "oncall");
        assert_eq!(told[0]["detail"]["kind"], "firing");
        assert_eq!(told[0]["actor"], "klaxon");
    }

    // A restart takes back which incident each alert is in: nothing is told again.
    drop(r.stop().await);
    let r = start(&dir, |c| configure_notify(c, &toml)).await;

    // The second incident merges into the first: one update of the first, with all three.
    let (s, v) = r
        .admin(
            "POST",
            &format!("/incidents/{second}/merge"),
            &json!({"into": first}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let got = rx.until(|g| g.len() >= 3).await;
    assert_eq!(got[2].kind, "firing");
    assert_eq!(got[2].body["incident"], first);
    assert_eq!(ids(&got[2]), [a, b, c]);

    // Resolving the incident: one resolved notification for the three.
    let (s, v) = r
        .admin("POST", &format!("/incidents/{first}/resolve"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    let got = rx.until(|g| g.len() >= 4).await;
    assert_eq!(got[3].kind, "resolved");
    assert_eq!(ids(&got[3]), [a, b, c]);
    assert_eq!(got[3].body["incident"], first);

    // Nothing else was told in between: the delivery counters agree with what arrived.
    let d = r.delivered("webhook", 4).await;
    assert_eq!(d["sent"].as_u64(), Some(4), "{d}");
    assert_eq!(rx.got.lock().unwrap().len(), 4);
}
