//! Noise control through the server: silences over Alertmanager's API v2 (and amtool) move the
//! alerts they match to `suppressed` and back; maintenance windows mute only while open;
//! inhibition and flapping are explained by `GET /alerts/{id}`; all of it survives a restart.

use klaxon_engine::timestamp::format_ts;
use serde_json::{json, Value};

use crate::harness::{data_dir, serve, start, Amtool, Running};

fn now_ms() -> i64 {
    klaxon_server::wall_ms()
}

fn at(offset_ms: i64) -> String {
    format_ts(now_ms() + offset_ms)
}

/// Posts Alertmanager alerts (no endsAt: they stay firing for the resolve timeout).
async fn fire(r: &Running, alerts: Value) {
    let (s, v) = r.admin("POST", "/api/v2/alerts", &alerts.to_string()).await;
    assert_eq!(s, 200, "{v}");
}

/// The alert with these labels among the open alerts, once it exists.
async fn alert(r: &Running, alertname: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let v = r
        .until(&format!("/alerts/history?rule={alertname}"), |v| {
            v["alerts"]
                .as_array()
                .and_then(|a| a.first())
                .is_some_and(&pred)
        })
        .await;
    v["alerts"][0].clone()
}

async fn silence(r: &Running, body: Value) -> (u16, Value) {
    r.admin("POST", "/api/v2/silences", &body.to_string()).await
}

fn matcher(name: &str, value: &str, is_regex: bool) -> Value {
    json!({"name": name, "value": value, "isRegex": is_regex, "isEqual": true})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_suppresses_what_it_matches_and_lets_go_when_expired() {
    let dir = data_dir("noise-silence");
    let r = start(&dir, |_| {}).await;
    fire(
        &r,
        json!([
            {"labels": {"alertname": "DiskFull", "host": "web-1"}},
            {"labels": {"alertname": "DiskFull", "host": "db-1"}}
        ]),
    )
    .await;
    let (s, v) = silence(
        &r,
        json!({"matchers": [matcher("alertname", "DiskFull", false), matcher("host", "web-.*", true)],
               "startsAt": at(-60_000), "endsAt": at(3_600_000),
               "createdBy": "ops", "comment": "swapping disks"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let id = v["silenceID"].as_str().expect("silenceID").to_owned();
    assert_eq!(id.len(), 36, "a uuid: {id}");

    let web = r
        .until("/alerts/history?label=host=web-1", |v| {
            v["alerts"][0]["state"] == "suppressed"
        })
        .await["alerts"][0]
        .clone();
    assert_eq!(web["state"], "suppressed", "{web}");
    assert_eq!(web["suppressed_by"], format!("silence:{id}"));
    let (_, db) = r.admin("GET", "/alerts/history?label=host=db-1", "").await;
    assert_eq!(db["alerts"][0]["state"], "active", "not matched: {db}");

    // The detail says why, and Alertmanager's listing says silencedBy.
    let web_id = web["id"].as_i64().expect("id");
    let (_, d) = r.admin("GET", &format!("/alerts/{web_id}"), "").await;
    assert_eq!(d["noise"]["suppressed"]["kind"], "silence", "{d}");
    assert_eq!(d["noise"]["suppressed"]["id"], id.as_str());
    assert_eq!(d["noise"]["suppressed"]["comment"], "swapping disks");
    let (_, am) = r
        .admin("GET", "/api/v2/alerts?filter=host%3D%22web-1%22", "")
        .await;
    assert_eq!(am[0]["status"]["state"], "suppressed", "{am}");
    assert_eq!(am[0]["status"]["silencedBy"], json!([id]));

    // Listing and reading the silence, in Alertmanager's shape.
    let (s, list) = r.admin("GET", "/api/v2/silences", "").await;
    assert_eq!(s, 200);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"]["state"], "active");
    assert_eq!(list[0]["createdBy"], "ops");
    assert_eq!(list[0]["matchers"][1]["isRegex"], true);
    let (s, one) = r.admin("GET", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!((s, &one["comment"]), (200, &json!("swapping disks")));
    let (_, filtered) = r
        .admin("GET", "/api/v2/silences?filter=alertname%3DOther", "")
        .await;
    assert_eq!(filtered, json!([]));

    // Expired: the alert is active again, and says who let it go.
    let (s, _) = r
        .admin("DELETE", &format!("/api/v2/silence/{id}"), "")
        .await;
    assert_eq!(s, 200);
    let (_, d) = r.admin("GET", &format!("/alerts/{web_id}"), "").await;
    assert_eq!(d["state"], "active", "{d}");
    assert_eq!(d["suppressed_by"], Value::Null);
    let last = d["events"].as_array().and_then(|e| e.last()).cloned();
    assert!(
        last.as_ref()
            .and_then(|e| e["reason"].as_str())
            .is_some_and(|m| m.contains("no longer applies")),
        "{last:?}"
    );
    let (_, one) = r.admin("GET", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(one["status"]["state"], "expired");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_are_checked_and_changed_as_alertmanager_does() {
    let dir = data_dir("noise-silence-api");
    let r = start(&dir, |_| {}).await;
    let base = json!({"matchers": [matcher("alertname", "X", false)],
                      "startsAt": at(0), "endsAt": at(3_600_000),
                      "createdBy": "me", "comment": "c"});
    let mut no_comment = base.clone();
    no_comment.as_object_mut().map(|o| o.remove("comment"));
    let (s, v) = silence(&r, no_comment).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (422, Some("comment in body is required"))
    );
    // A time that is not one: Alertmanager's 400 with a JSON string naming the field; a
    // missing one: go-swagger's 422.
    let mut no_time = base.clone();
    no_time["startsAt"] = json!("");
    let (s, v) = silence(&r, no_time).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v.as_str().is_some_and(|m| m.starts_with("startsAt: ")),
        "{v}"
    );
    let mut no_end = base.clone();
    no_end.as_object_mut().map(|o| o.remove("endsAt"));
    let (s, v) = silence(&r, no_end).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (422, Some("endsAt in body is required"))
    );
    let mut backwards = base.clone();
    backwards["endsAt"] = json!(at(-1_000));
    backwards["startsAt"] = json!(at(10_000));
    let (s, v) = silence(&r, backwards).await;
    assert_eq!(s, 400, "{v}");
    assert!(v
        .as_str()
        .is_some_and(|m| m.contains("start time must be before end time")));
    let mut everything = base.clone();
    everything["matchers"] = json!([matcher("x", "", false)]);
    let (s, v) = silence(&r, everything).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v.as_str().is_some_and(|m| m.contains("empty string")),
        "{v}"
    );
    let mut bad_regex = base.clone();
    bad_regex["matchers"] = json!([matcher("x", "a{2", true)]);
    let (s, v) = silence(&r, bad_regex).await;
    assert_eq!(s, 400, "{v}");
    let mut unknown = base.clone();
    unknown["id"] = json!("00000000-0000-4000-8000-000000000000");
    let (s, v) = silence(&r, unknown).await;
    assert_eq!((s, v), (404, json!("silence not found")));
    let (s, _) = r.admin("GET", "/api/v2/silence/nope", "").await;
    assert_eq!(s, 422);

    // Same matchers: changed in place. Other matchers: the old one expires, a new one begins.
    let (_, v) = silence(&r, base.clone()).await;
    let id = v["silenceID"].as_str().expect("id").to_owned();
    let mut longer = base.clone();
    longer["id"] = json!(id);
    longer["endsAt"] = json!(at(7_200_000));
    longer["comment"] = json!("longer");
    let (_, v) = silence(&r, longer).await;
    assert_eq!(v["silenceID"], id.as_str(), "kept its id");
    let mut other = base.clone();
    other["id"] = json!(id);
    other["matchers"] = json!([matcher("alertname", "Y", false)]);
    let (_, v) = silence(&r, other).await;
    let new_id = v["silenceID"].as_str().expect("id").to_owned();
    assert_ne!(new_id, id);
    let (_, old) = r.admin("GET", &format!("/api/v2/silence/{id}"), "").await;
    assert_eq!(
        (&old["status"]["state"], &old["comment"]),
        (&json!("expired"), &json!("longer"))
    );
    // A silence that starts later is pending until it starts.
    let mut later = base.clone();
    later["startsAt"] = json!(at(600_000));
    let (_, v) = silence(&r, later).await;
    let later_id = v["silenceID"].as_str().expect("id").to_owned();
    let (_, v) = r
        .admin("GET", &format!("/api/v2/silence/{later_id}"), "")
        .await;
    assert_eq!(v["status"]["state"], "pending");
    // Active first, then pending, then expired.
    let (_, list) = r.admin("GET", "/api/v2/silences", "").await;
    let states: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["status"]["state"].as_str())
        .collect();
    assert_eq!(states, ["active", "pending", "expired"]);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressing_by_hand_is_a_silence_and_a_restart_keeps_it() {
    let dir = data_dir("noise-hand");
    let r = start(&dir, |_| {}).await;
    fire(&r, json!([{"labels": {"alertname": "Noisy", "job": "a"}}])).await;
    let a = alert(&r, "Noisy", |_| true).await;
    let id = a["id"].as_i64().expect("id");
    let (s, v) = r
        .admin(
            "POST",
            &format!("/alerts/{id}/suppress"),
            r#"{"duration": "2h", "reason": "known issue"}"#,
        )
        .await;
    assert_eq!((s, v["to"].as_str()), (200, Some("suppressed")), "{v}");
    let (_, list) = r.admin("GET", "/api/v2/silences", "").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert!(list[0]["comment"]
        .as_str()
        .is_some_and(|c| c.contains("known issue")));
    r.stop().await;

    let r = start(&dir, |_| {}).await;
    let (_, d) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(d["state"], "suppressed", "kept across the restart: {d}");
    assert_eq!(d["noise"]["suppressed"]["kind"], "silence");
    let (s, v) = r
        .admin("POST", &format!("/alerts/{id}/unsuppress"), "")
        .await;
    assert_eq!((s, v["to"].as_str()), (200, Some("active")), "{v}");
    let (_, list) = r.admin("GET", "/api/v2/silences", "").await;
    assert_eq!(
        list[0]["status"]["state"], "expired",
        "unsuppressing expires it"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_mutes_only_while_open() {
    let dir = data_dir("noise-window");
    let open_until = now_ms() + 1_500;
    let r = start(&dir, |c| {
        c.maintenance = vec![
            klaxon_server::config::MaintenanceConfig {
                name: "staging-upgrade".into(),
                matchers: vec![r#"env="staging""#.into()],
                start: Some(toml::Value::Integer(now_ms() - 1_000)),
                end: Some(toml::Value::Integer(open_until)),
                ..Default::default()
            },
            klaxon_server::config::MaintenanceConfig {
                name: "never".into(),
                matchers: vec![r#"env="prod""#.into()],
                start: Some(toml::Value::Integer(now_ms() + 86_400_000)),
                end: Some(toml::Value::Integer(now_ms() + 90_000_000)),
                ..Default::default()
            },
        ];
    })
    .await;
    fire(
        &r,
        json!([
            {"labels": {"alertname": "Deploy", "env": "staging"}},
            {"labels": {"alertname": "Deploy", "env": "prod"}}
        ]),
    )
    .await;
    let staging = r
        .until("/alerts/history?label=env=staging", |v| {
            v["alerts"][0]["state"] == "suppressed"
        })
        .await["alerts"][0]
        .clone();
    assert_eq!(
        staging["suppressed_by"], "maintenance:staging-upgrade",
        "{staging}"
    );
    let (_, prod) = r.admin("GET", "/alerts/history?label=env=prod", "").await;
    assert_eq!(prod["alerts"][0]["state"], "active");
    // When the window closes, the alert comes back by itself.
    let id = staging["id"].as_i64().expect("id");
    let v = r
        .until(&format!("/alerts/{id}"), |v| v["state"] == "active")
        .await;
    assert_eq!(v["state"], "active", "{v}");
    assert!(now_ms() >= open_until);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_rule_names_its_maintenance_window() {
    let dir = data_dir("noise-rule-window");
    let r = start(&dir, |c| {
        c.collector.enabled = false;
        c.maintenance = vec![klaxon_server::config::MaintenanceConfig {
            name: "maintenance_mode".into(),
            weekdays: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .map(String::from)
                .to_vec(),
            from: Some("00:00".into()),
            to: Some("00:00".into()),
            ..Default::default()
        }];
    })
    .await;
    let doc = json!({"header": {"rule_set": "t"}, "rules": [
        {"id": "muted", "metric": "m", "threshold": 1, "operator": "gt",
         "suppression_rules": ["maintenance_mode"]},
        {"id": "loud", "metric": "m", "threshold": 1, "operator": "gt"}
    ]});
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules", &doc.to_string())
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r
        .admin("POST", "/v1/threshold-rules/t/1/activate", "")
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .ndjson(
            "/v1/signals",
            "{\"kind\":\"metric\",\"name\":\"m\",\"value\":5}\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let muted = alert(&r, "muted", |a| a["state"] == "suppressed").await;
    assert_eq!(muted["suppressed_by"], "maintenance:maintenance_mode");
    let loud = alert(&r, "loud", |_| true).await;
    assert_eq!(loud["state"], "active");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inhibition_and_flapping_are_explained() {
    let dir = data_dir("noise-inhibit");
    let r = start(&dir, |c| {
        c.inhibit = vec![klaxon_server::config::InhibitConfig {
            name: Some("node-down".into()),
            source_matchers: vec![r#"alertname="NodeDown""#.into()],
            target_matchers: vec![r#"severity="warning""#.into()],
            equal: vec!["host".into()],
            route: None,
        }];
        c.flapping.changes = 2;
        c.flapping.window_minutes = 10;
    })
    .await;
    fire(
        &r,
        json!([
            {"labels": {"alertname": "NodeDown", "host": "a"}},
            {"labels": {"alertname": "Disk", "host": "a", "severity": "warning"}},
            {"labels": {"alertname": "Disk", "host": "b", "severity": "warning"}}
        ]),
    )
    .await;
    let source = alert(&r, "NodeDown", |_| true).await["id"]
        .as_i64()
        .expect("id");
    let (_, h) = r.admin("GET", "/alerts/history?rule=Disk", "").await;
    let id_of = |host: &str| {
        h["alerts"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["labels"]["host"] == host))
            .and_then(|x| x["id"].as_i64())
            .expect("alert")
    };
    let (a, b) = (id_of("a"), id_of("b"));
    let (_, d) = r.admin("GET", &format!("/alerts/{a}"), "").await;
    assert_eq!(
        d["noise"]["inhibited"],
        json!([{"rule": "node-down", "route": null, "source_alert": source}]),
        "{d}"
    );
    assert_eq!(d["state"], "active", "inhibition changes no state");
    let (_, d) = r.admin("GET", &format!("/alerts/{b}"), "").await;
    assert_eq!(d["noise"]["inhibited"], json!([]), "another host");

    // Resolve and fire again, three times: more than two changes in ten minutes.
    for _ in 0..2 {
        let (s, v) = r.admin("POST", &format!("/alerts/{b}/resolve"), "").await;
        assert_eq!(s, 200, "{v}");
        fire(
            &r,
            json!([{"labels": {"alertname": "Disk", "host": "b", "severity": "warning"}}]),
        )
        .await;
        r.until(&format!("/alerts/{b}"), |v| v["state"] == "active")
            .await;
    }
    let (_, d) = r.admin("GET", &format!("/alerts/{b}"), "").await;
    assert_eq!(d["noise"]["flapping"]["flapping"], true, "{d}");
    assert_eq!(d["noise"]["flapping"]["changes"], 4);
    assert!(d["noise"]["flapping"]["stable_at"].is_string());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_adds_queries_and_expires_silences() {
    let dir = data_dir("noise-amtool");
    let r = serve(&dir, |_| {}).await;
    let Some(amtool) = Amtool::new(&r, &dir) else {
        r.stop().await;
        return;
    };
    fire(
        &r,
        json!([{"labels": {"alertname": "AmtoolNoisy", "host": "web-1"}}]),
    )
    .await;
    let (ok, out, text) = amtool
        .run(&[
            "silence",
            "add",
            "alertname=AmtoolNoisy",
            "host=~web-(1|2)",
            "--comment=from amtool",
            "--duration=1h",
        ])
        .await;
    assert!(ok, "amtool silence add: {text}");
    let id = out.trim().to_owned();
    assert_eq!(id.len(), 36, "amtool prints the new id: {text}");
    let a = alert(&r, "AmtoolNoisy", |a| a["state"] == "suppressed").await;
    assert_eq!(a["suppressed_by"], format!("silence:{id}"));

    let (ok, out, text) = amtool.run(&["silence", "query"]).await;
    assert!(
        ok && out.contains(&id) && out.contains("from amtool"),
        "{text}"
    );
    let (ok, out, text) = amtool.run(&["silence", "query", "-o", "json"]).await;
    assert!(ok, "{text}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v[0]["id"], id.as_str());
    let (ok, out, text) = amtool.run(&["alert", "query", "--silenced"]).await;
    assert!(
        ok && out.contains("AmtoolNoisy"),
        "a silenced alert: {text}"
    );
    let (ok, out, text) = amtool.run(&["alert", "query"]).await;
    assert!(
        ok && !out.contains("AmtoolNoisy"),
        "not among the active: {text}"
    );

    let (ok, _, text) = amtool.run(&["silence", "expire", &id]).await;
    assert!(ok, "amtool silence expire: {text}");
    let a = alert(&r, "AmtoolNoisy", |a| a["state"] == "active").await;
    assert_eq!(a["state"], "active");
    let (ok, out, text) = amtool.run(&["silence", "query"]).await;
    assert!(
        ok && !out.contains(&id),
        "expired silences are not listed: {text}"
    );
    let (ok, out, text) = amtool.run(&["silence", "query", "--expired"]).await;
    assert!(ok && out.contains(&id), "{text}");
    r.stop().await;
}
