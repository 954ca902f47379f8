//! Why an alert is quiet is decided by the lifecycle alone; the notification pipeline applies
//! what it is told. After a restart the pipeline learns the decision from the lifecycle again:
//! an alert inhibited before the restart stays inhibited, tells nothing, and is told once its
//! source resolves.
#![allow(clippy::unwrap_used)] // tests

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{data_dir, start, Running};
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use klaxon_server::config::{Config, InhibitConfig};
use serde_json::{json, Value};

type Got = Arc<Mutex<Vec<Value>>>;

async fn receive(State(s): State<Got>, body: Bytes) -> &'static str {
    s.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    "ok"
}

/// Names of the alerts told with `status`, over every body received.
fn told(got: &Got, status: &str) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == status)
        .flat_map(|v| v["alerts"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
        .collect()
}

async fn until(got: &Got, pred: impl Fn(&Got) -> bool) {
    let t0 = Instant::now();
    while !pred(got) && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn configure(c: &mut Config, addr: std::net::SocketAddr) {
    #[derive(serde::Deserialize)]
    struct Part {
        route: Option<klaxon_notify::RouteConfig>,
        receivers: Vec<klaxon_notify::ReceiverConfig>,
    }
    let p: Part = toml::from_str(&format!(
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
    ))
    .unwrap();
    c.route = p.route;
    c.receivers = p.receivers;
    c.inhibit = vec![InhibitConfig {
        name: Some("node-down".into()),
        source_matchers: vec![r#"alertname="NodeDown""#.into()],
        target_matchers: vec![r#"alertname="DiskSlow""#.into()],
        equal: vec!["host".into()],
        route: None,
    }];
}

async fn fire(r: &Running, alerts: Value) {
    let (s, v) = r.admin("POST", "/api/v2/alerts", &alerts.to_string()).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inhibited_alert_stays_inhibited_across_a_restart_until_its_source_resolves() {
    let got: Got = Arc::default();
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&got));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });

    let dir = data_dir("mute-restart");
    let r = start(&dir, |c| configure(c, addr)).await;
    fire(
        &r,
        json!([{"labels": {"alertname": "NodeDown", "host": "a"}}]),
    )
    .await;
    until(&got, |g| told(g, "firing").contains(&"NodeDown".to_owned())).await;
    fire(
        &r,
        json!([{"labels": {"alertname": "DiskSlow", "host": "a"}}]),
    )
    .await;
    let v = r
        .until("/alerts/history?rule=DiskSlow", |v| {
            v["alerts"][0]["id"].is_i64()
        })
        .await;
    let slow = v["alerts"][0]["id"].as_i64().unwrap();
    let shown = |d: &Value| d["noise"]["notifications"]["shown_as"] == "inhibited";
    r.until(&format!("/alerts/{slow}"), shown).await;
    r.stop().await;

    // A new run: nothing changes, and the pipeline still shows the alert as inhibited.
    let r = start(&dir, |c| configure(c, addr)).await;
    let d = r.until(&format!("/alerts/{slow}"), shown).await;
    assert!(shown(&d), "{d}");
    assert_eq!(d["state"], "active", "inhibition changes no state: {d}");
    // A later alert, told: the pipeline's rebuild at start came before it, so whatever the
    // rebuild would have told of the inhibited alert is in the outbox by now.
    fire(&r, json!([{"labels": {"alertname": "Later", "host": "b"}}])).await;
    until(&got, |g| told(g, "firing").contains(&"Later".to_owned())).await;
    assert!(told(&got, "firing").contains(&"Later".to_owned()));
    let d = r.until(&format!("/alerts/{slow}"), shown).await;
    assert_eq!(
        d["notifications"].as_array().map(Vec::len),
        Some(0),
        "inhibited: nothing queued: {d}"
    );
    assert!(
        !told(&got, "firing").contains(&"DiskSlow".to_owned()),
        "inhibited: nothing told"
    );

    // The source resolves: the lifecycle frees the alert, and its news goes out.
    let ended = klaxon_engine::timestamp::format_ts(klaxon_server::wall_ms() - 1000);
    fire(
        &r,
        json!([{"labels": {"alertname": "NodeDown", "host": "a"}, "endsAt": ended}]),
    )
    .await;
    until(&got, |g| told(g, "firing").contains(&"DiskSlow".to_owned())).await;
    assert!(
        told(&got, "firing").contains(&"DiskSlow".to_owned()),
        "told once its source resolved"
    );
    let d = r
        .until(&format!("/alerts/{slow}"), |d| {
            d["noise"]["notifications"]["shown_as"].is_null()
        })
        .await;
    assert_eq!(d["noise"]["inhibited"], json!([]), "{d}");
    r.stop().await;
}
