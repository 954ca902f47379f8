//! The notification pipeline's noise controls, end to end against a webhook receiver on
//! loopback: a storm of 500 alerts to a rate-limited receiver arrives as the burst and one
//! folded summary; silenced alerts tell nothing until their silence ends; inhibited alerts
//! tell nothing while their source fires, and a route-scoped rule mutes only its route;
//! flapping alerts are held; `GET /alerts/{id}` says why.
#![allow(clippy::unwrap_used)] // tests

use crate::harness as common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use common::{data_dir, start, Running};
use klaxon_server::config::Config;
use serde_json::{json, Value};

#[derive(Default)]
struct Sink {
    got: Mutex<Vec<(String, Value)>>,
}

async fn receive(State(s): State<Arc<Sink>>, uri: axum::http::Uri, body: Bytes) -> &'static str {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.got.lock().unwrap().push((uri.path().to_owned(), v));
    "ok"
}

async fn sink() -> (Arc<Sink>, std::net::SocketAddr) {
    let s = Arc::new(Sink::default());
    let app = axum::Router::new()
        .route("/{*path}", post(receive))
        .with_state(Arc::clone(&s));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    (s, addr)
}

impl Sink {
    /// (path, status, alert names) of every body, once `pred` holds (bounded).
    async fn until(&self, pred: impl Fn(&[(String, Value)]) -> bool) -> Vec<(String, Value)> {
        let t0 = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if pred(&got) || t0.elapsed() > Duration::from_secs(10) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

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

fn configure(c: &mut Config, text: &str) {
    #[derive(serde::Deserialize)]
    struct Part {
        route: Option<klaxon_notify::RouteConfig>,
        #[serde(default)]
        receivers: Vec<klaxon_notify::ReceiverConfig>,
    }
    let p: Part = toml::from_str(text).unwrap();
    c.route = p.route;
    c.receivers = p.receivers;
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
    let (sink, addr) = sink().await;
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
        .until(|g| g.iter().map(|(_, v)| alert_names(v).len()).sum::<usize>() >= 500)
        .await;
    let total: usize = got.iter().map(|(_, v)| alert_names(v).len()).sum();
    assert_eq!(total, 500, "every alert told, once: {} bodies", got.len());
    assert!(
        got.len() <= 6,
        "a few notifications, not 500: {}",
        got.len()
    );
    let summary = got
        .iter()
        .find(|(_, v)| v["alerts"].as_array().is_some_and(|a| a.len() > 100))
        .expect("one folded summary");
    assert_eq!(summary.1["status"], "firing");
    let mut names: Vec<String> = got.iter().flat_map(|(_, v)| alert_names(v)).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 500, "no alert twice");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_notifications_are_explained_while_held() {
    let (sink, addr) = sink().await;
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
    let (sink, addr) = sink().await;
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
    sink.until(|g| {
        g.iter()
            .any(|(_, v)| alert_names(v).contains(&"ClusterDown".to_owned()))
    })
    .await;
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
    let got = sink
        .until(|g| {
            let on = |path: &str, name: &str| {
                g.iter()
                    .any(|(p, v)| p == path && alert_names(v).contains(&name.to_owned()))
            };
            on("/hook", "ReplicaLag") && on("/hook", "PrimaryDown") && on("/pager", "PrimaryDown")
        })
        .await;
    // Let anything that should not come have a chance to come.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got2 = sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), got2.len(), "nothing more arrived: {got2:?}");
    let told = |path: &str| -> Vec<String> {
        got2.iter()
            .filter(|(p, _)| p == path)
            .flat_map(|(_, v)| alert_names(v))
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
            .flat_map(|(_, v)| alert_names(v))
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
                .any(|(_, v)| alert_names(v).contains(&"Quiet".to_owned()))
        })
        .await;
    assert!(
        got.iter()
            .any(|(_, v)| alert_names(v).contains(&"Quiet".to_owned())),
        "told once the silence ended"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_alert_is_held_until_stable() {
    let (sink, addr) = sink().await;
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
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = sink.got.lock().unwrap().clone();
    let statuses: Vec<&str> = got
        .iter()
        .filter_map(|(_, v)| v["status"].as_str())
        .collect();
    // Firing, then resolved and firing again until the third change made it flap: held since.
    assert!(statuses.len() <= 4, "{statuses:?}");
    assert_eq!(statuses[0], "firing");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_about_to_end_is_announced_when_asked_for() {
    let (sink, addr) = sink().await;
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
                .any(|(p, v)| p == "/slack" && v.to_string().contains("Notice"))
        })
        .await;
    let notice = got
        .iter()
        .find(|(p, v)| p == "/slack" && v.to_string().contains("Notice"))
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("a notice on Slack: {got:?}"));
    assert!(
        notice.contains(&silence) && notice.contains("disk swap"),
        "{notice}"
    );
    assert!(
        !got.iter().any(|(p, _)| p == "/pd"),
        "no PagerDuty event for a notice, and nothing for the silenced alert: {got:?}"
    );
    r.stop().await;
}
