//! The notification pipeline's noise controls, end to end against a webhook receiver on
//! loopback: a storm of 500 alerts to a rate-limited receiver arrives as the burst and one
//! folded summary; silenced alerts tell nothing until their silence ends; inhibited alerts
//! tell nothing while their source fires, and a route-scoped rule mutes only its route;
//! flapping alerts are held; `GET /alerts/{id}` says why.
#![allow(clippy::unwrap_used)] // tests

use serde_json::{json, Value};

use crate::harness::receiver::{receiver, Got, Receiver};
use crate::harness::{configure_notify as configure, data_dir, start, Running};

fn alert_names(v: &Value) -> Vec<String> {
    v["alerts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["labels"]["alertname"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a notification on `path` told of an alert named `name`.
fn told_on(got: &[Got], path: &str, name: &str) -> bool {
    got.iter()
        .any(|g| g.path == path && alert_names(&g.body).iter().any(|n| n == name))
}

/// Everything the receiver will ever get of what happened so far: fires `barrier` (an alert
/// routed to `paths`), waits until it is told on each (the dispatcher has then decided on every
/// earlier change: nothing it holds back is still in the making) and until the outbox has
/// nothing left to send (everything it wrote has arrived). Every notification sent arrived once.
async fn settled(r: &Running, sink: &Receiver, barrier: Value, paths: &[&str]) -> Vec<Got> {
    let name = barrier["alertname"].as_str().expect("a name").to_owned();
    fire(r, json!([{ "labels": barrier }])).await;
    let got = sink
        .until(|g| paths.iter().all(|p| told_on(g, p, &name)))
        .await;
    assert!(
        paths.iter().all(|p| told_on(&got, p, &name)),
        "the barrier was told on {paths:?}: {got:?}"
    );
    let d = r.delivered("webhook", 0).await;
    let got = sink.got.lock().unwrap().clone();
    assert_eq!(
        Some(got.len() as u64),
        d["sent"].as_u64(),
        "every notification sent arrived, once: {d} {got:?}"
    );
    got
}

async fn fire(r: &Running, alerts: Value) {
    let (s, v) = r.admin("POST", "/api/v2/alerts", &alerts.to_string()).await;
    assert_eq!(s, 200, "{v}");
}

async fn id_of(r: &Running, name: &str) -> i64 {
    let v = r
        .until(&format!("/alerts/history?rule={name}"), |v| {
            v["alerts"][0]["id"].is_i64()
        })
        .await;
    v["alerts"][0]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_to_a_rate_limited_receiver_arrives_as_the_burst_and_a_summary() {
    let (sink, addr, _receiver) = receiver(0).await;
    let dir = data_dir("pipeline-storm");
    let r = start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [route]
                receiver = "chat"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "chat"
                rate_limit = {{ per_minute = 60, burst = 3 }}
                [[receivers.webhook_configs]]
                url = "http://{addr}/chat"
                "#
            ),
        )
    })
    .await;
    let storm: Vec<Value> = (0..500)
        .map(|i| json!({"labels": {"alertname": format!("Storm{i:03}"), "job": "batch"}}))
        .collect();
    fire(&r, Value::Array(storm)).await;
    // The burst at once; a token a second after that: everything held goes as one.
    let got = sink
        .until(|g| g.iter().map(|g| alert_names(&g.body).len()).sum::<usize>() >= 500)
        .await;
    let total: usize = got.iter().map(|g| alert_names(&g.body).len()).sum();
    assert_eq!(total, 500, "every alert told, once: {} bodies", got.len());
    assert!(
        got.len() <= 6,
        "a few notifications, not 500: {}",
        got.len()
    );
    let summary = got
        .iter()
        .find(|g| g.body["alerts"].as_array().is_some_and(|a| a.len() > 100))
        .expect("one folded summary");
    assert_eq!(summary.body["status"], "firing");
    let mut names: Vec<String> = got.iter().flat_map(|g| alert_names(&g.body)).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 500, "no alert twice");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_notifications_are_explained_while_held() {
    let (sink, addr, _receiver) = receiver(0).await;
    let dir = data_dir("pipeline-held");
    let r = start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [route]
                receiver = "slow"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "slow"
                rate_limit = {{ per_minute = 1, burst = 1 }}
                [[receivers.webhook_configs]]
                url = "http://{addr}/slow"
                "#
            ),
        )
    })
    .await;
    fire(&r, json!([{"labels": {"alertname": "First"}}])).await;
    sink.until(|g| !g.is_empty()).await;
    fire(&r, json!([{"labels": {"alertname": "Second"}}])).await;
    let id = id_of(&r, "Second").await;
    let d = r
        .until(&format!("/alerts/{id}"), |d| {
            d["noise"]["notifications"]["rate_limited"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .await;
    let held = &d["noise"]["notifications"]["rate_limited"][0];
    assert_eq!(held["receiver"], "slow", "{d}");
    assert_eq!(held["notifications_held"], 1);
    assert!(held["until"].is_string());
    assert_eq!(sink.got.lock().unwrap().len(), 1, "held, not sent");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_and_inhibited_alerts_tell_nothing_and_scoped_rules_mute_one_route() {
    let (sink, addr, _receiver) = receiver(0).await;
    let dir = data_dir("pipeline-mute");
    let r = start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [route]
                receiver = "hook"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[route.routes]]
                matchers = ['team="db"']
                receiver = "pager"
                continue = true
                [[route.routes]]
                matchers = ['team="db"']
                receiver = "hook"
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://{addr}/hook"
                [[receivers]]
                name = "pager"
                [[receivers.webhook_configs]]
                url = "http://{addr}/pager"
                "#
            ),
        );
        c.inhibit = vec![
            klaxon_server::config::InhibitConfig {
                name: Some("cluster-down".into()),
                source_matchers: vec![r#"alertname="ClusterDown""#.into()],
                target_matchers: vec![r#"alertname="NodeSlow""#.into()],
                equal: vec!["cluster".into()],
                route: None,
            },
            klaxon_server::config::InhibitConfig {
                name: Some("no-pages-for-replicas".into()),
                source_matchers: vec![r#"alertname="PrimaryDown""#.into()],
                target_matchers: vec![r#"alertname="ReplicaLag""#.into()],
                equal: vec![],
                route: Some("pager".into()),
            },
        ];
    })
    .await;
    // A silence first, then the alert it matches: nothing is told.
    let (s, v) = r
        .admin(
            "POST",
            "/api/v2/silences",
            &json!({"matchers": [{"name": "alertname", "value": "Quiet", "isRegex": false}],
                    "startsAt": klaxon_engine::timestamp::format_ts(klaxon_server::wall_ms()),
                    "endsAt": klaxon_engine::timestamp::format_ts(klaxon_server::wall_ms() + 3_600_000),
                    "createdBy": "t", "comment": "quiet"})
            .to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let silence = v["silenceID"].as_str().unwrap().to_owned();
    fire(
        &r,
        json!([
            {"labels": {"alertname": "ClusterDown", "cluster": "a"}},
            {"labels": {"alertname": "Quiet"}},
        ]),
    )
    .await;
    sink.until(|g| told_on(g, "/hook", "ClusterDown")).await;
    fire(
        &r,
        json!([
            {"labels": {"alertname": "NodeSlow", "cluster": "a"}},
            {"labels": {"alertname": "NodeSlow", "cluster": "b"}},
            {"labels": {"alertname": "PrimaryDown", "team": "db"}},
            {"labels": {"alertname": "ReplicaLag", "team": "db"}},
        ]),
    )
    .await;
    sink.until(|g| {
        told_on(g, "/hook", "ReplicaLag")
            && told_on(g, "/hook", "PrimaryDown")
            && told_on(g, "/pager", "PrimaryDown")
    })
    .await;
    let got2 = settled(
        &r,
        &sink,
        json!({"alertname": "Barrier", "team": "db"}),
        &["/hook", "/pager"],
    )
    .await;
    let told = |path: &str| -> Vec<String> {
        got2.iter()
            .filter(|g| g.path == path)
            .flat_map(|g| alert_names(&g.body))
            .collect()
    };
    let (hook, pager) = (told("/hook"), told("/pager"));
    assert!(!hook.contains(&"Quiet".to_owned()), "silenced: {hook:?}");
    assert_eq!(
        hook.iter().filter(|n| *n == "NodeSlow").count(),
        1,
        "only the node of the cluster that is not down: {hook:?}"
    );
    assert!(
        hook.contains(&"ReplicaLag".to_owned()),
        "scoped rules leave other routes: {hook:?}"
    );
    assert!(pager.contains(&"PrimaryDown".to_owned()), "{pager:?}");
    assert!(
        !pager.contains(&"ReplicaLag".to_owned()),
        "muted on the pager route: {pager:?}"
    );

    // The detail says so.
    let (_, h) = r.admin("GET", "/alerts/history?rule=NodeSlow", "").await;
    let muted = h["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["cluster"] == "a")
        .and_then(|a| a["id"].as_i64())
        .unwrap();
    let (_, d) = r.admin("GET", &format!("/alerts/{muted}"), "").await;
    assert_eq!(d["noise"]["inhibited"][0]["rule"], "cluster-down", "{d}");
    assert_eq!(d["noise"]["notifications"]["shown_as"], "inhibited", "{d}");
    let lag = id_of(&r, "ReplicaLag").await;
    let (_, d) = r.admin("GET", &format!("/alerts/{lag}"), "").await;
    assert_eq!(
        d["noise"]["notifications"]["inhibited_on_routes"][0]["route"], "pager",
        "{d}"
    );

    // The source resolves: the inhibited alert is told. The silence ends: the quiet one too.
    fire(
        &r,
        json!([{"labels": {"alertname": "ClusterDown", "cluster": "a"},
                 "endsAt": klaxon_engine::timestamp::format_ts(klaxon_server::wall_ms() - 1000)}]),
    )
    .await;
    sink.until(|g| {
        g.iter()
            .flat_map(|g| alert_names(&g.body))
            .filter(|n| n == "NodeSlow")
            .count()
            >= 2
    })
    .await;
    let (s, _) = r
        .admin("DELETE", &format!("/api/v2/silence/{silence}"), "")
        .await;
    assert_eq!(s, 200);
    let got = sink
        .until(|g| {
            g.iter()
                .any(|g| alert_names(&g.body).contains(&"Quiet".to_owned()))
        })
        .await;
    assert!(
        got.iter()
            .any(|g| alert_names(&g.body).contains(&"Quiet".to_owned())),
        "told once the silence ended"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_alert_is_held_until_stable() {
    let (sink, addr, _receiver) = receiver(0).await;
    let dir = data_dir("pipeline-flap");
    let r = start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [route]
                receiver = "hook"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://{addr}/hook"
                "#
            ),
        );
        c.flapping.changes = 2;
        c.flapping.window_minutes = 10;
    })
    .await;
    let flap = json!([{"labels": {"alertname": "Flappy"}}]);
    fire(&r, flap.clone()).await;
    sink.until(|g| !g.is_empty()).await;
    let id = id_of(&r, "Flappy").await;
    for _ in 0..2 {
        let (s, v) = r.admin("POST", &format!("/alerts/{id}/resolve"), "").await;
        assert_eq!(s, 200, "{v}");
        fire(&r, flap.clone()).await;
        r.until(&format!("/alerts/{id}"), |v| v["state"] == "active")
            .await;
    }
    let d = r
        .until(&format!("/alerts/{id}"), |d| {
            d["noise"]["notifications"]["flapping_held"] == true
        })
        .await;
    assert_eq!(d["noise"]["flapping"]["flapping"], true, "{d}");
    assert_eq!(d["noise"]["notifications"]["shown_as"], "flapping", "{d}");
    let got = settled(&r, &sink, json!({"alertname": "Barrier"}), &["/hook"]).await;
    let statuses: Vec<&str> = got
        .iter()
        .filter(|g| alert_names(&g.body) == ["Flappy"])
        .filter_map(|g| g.body["status"].as_str())
        .collect();
    // Firing, then resolved and firing again until the third change made it flap: held since.
    assert!(statuses.len() <= 4, "{statuses:?}");
    assert_eq!(statuses[0], "firing");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_about_to_end_is_announced_when_asked_for() {
    let (sink, addr, _receiver) = receiver(0).await;
    let dir = data_dir("pipeline-notice");
    let r = start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [route]
                receiver = "chat"
                group_wait = "0s"
                [[receivers]]
                name = "chat"
                [[receivers.slack_configs]]
                url = "http://{addr}/slack"
                [[receivers.pagerduty_configs]]
                routing_key = "0123456789abcdef0123456789abcdef"
                url = "http://{addr}/pd"
                "#
            ),
        );
        c.silence_notice.before_minutes = 1;
        c.silence_notice.receivers = vec!["chat".into()];
    })
    .await;
    let now = klaxon_server::wall_ms();
    let (s, v) = r
        .admin(
            "POST",
            "/api/v2/silences",
            &json!({"matchers": [{"name": "alertname", "value": "Muted", "isRegex": false}],
                    "startsAt": klaxon_engine::timestamp::format_ts(now),
                    "endsAt": klaxon_engine::timestamp::format_ts(now + 61_000),
                    "createdBy": "ops", "comment": "disk swap"})
            .to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let silence = v["silenceID"].as_str().unwrap().to_owned();
    fire(&r, json!([{"labels": {"alertname": "Muted"}}])).await;
    let got = sink
        .until(|g| {
            g.iter()
                .any(|g| g.path == "/slack" && g.body.to_string().contains("Notice"))
        })
        .await;
    let notice = got
        .iter()
        .find(|g| g.path == "/slack" && g.body.to_string().contains("Notice"))
        .map(|g| g.body.to_string())
        .unwrap_or_else(|| panic!("a notice on Slack: {got:?}"));
    assert!(
        notice.contains(&silence) && notice.contains("disk swap"),
        "{notice}"
    );
    assert!(
        !got.iter().any(|g| g.path == "/pd"),
        "no PagerDuty event for a notice, and nothing for the silenced alert: {got:?}"
    );
    r.stop().await;
}
