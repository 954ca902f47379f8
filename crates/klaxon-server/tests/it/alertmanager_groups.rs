//! The rest of Alertmanager's API v2 as its clients read it: alert groups as klaxon's routing
//! tree forms them, receivers and inhibition in listed alerts and their filters, the
//! configuration in `GET /api/v2/status` that `amtool config routes` reads, and the 410 of the
//! removed API v1. amtool runs against klaxon when it is installed.

use serde_json::{json, Value};

use super::alertmanager::{
    assert_schema, encode, list, post, Schema, GETTABLE_ALERT, RECEIVER, STATUS,
};
use crate::harness::{configure_notify, data_dir, serve, start, Amtool, Running, ADMIN};
use klaxon_server::config::{Config, InhibitConfig};

const ALERT_GROUPS: Schema = Schema::Array(&Schema::Object(&[
    ("labels", true, Schema::LabelSet),
    ("receiver", true, RECEIVER),
    ("alerts", true, Schema::Array(&GETTABLE_ALERT)),
]));

/// A routing tree with three receivers (WebSocket channels: nothing leaves the machine).
const ROUTES: &str = r#"
[route]
receiver = "default"
group_by = ["alertname"]
group_wait = "1h"
[[route.routes]]
matchers = ['severity="critical"']
receiver = "pager"
continue = true
group_by = ["alertname", "team"]
[[route.routes]]
matchers = ['team="db"']
receiver = "db"
[[receivers]]
name = "default"
[[receivers.websocket_configs]]
[[receivers]]
name = "pager"
[[receivers.websocket_configs]]
[[receivers]]
name = "db"
[[receivers.websocket_configs]]
"#;

fn routed(c: &mut Config) {
    configure_notify(c, ROUTES);
    c.inhibit = vec![InhibitConfig {
        name: Some("critical-hides-warning".into()),
        source_matchers: vec!["severity=\"critical\"".into()],
        target_matchers: vec!["severity=\"warning\"".into()],
        equal: vec!["alertname".into()],
        route: None,
    }];
}

async fn groups(r: &Running, query: &str) -> Vec<Value> {
    let (s, _, v) = r
        .call(
            "GET",
            &format!("/api/v2/alerts/groups{query}"),
            Some(ADMIN),
            "",
            "",
        )
        .await;
    assert_eq!(s, 200, "GET /api/v2/alerts/groups{query}: {v}");
    assert_schema(ALERT_GROUPS, &v);
    v.as_array().cloned().unwrap_or_default()
}

/// Each group as `receiver {labels}: alertname/team, ...`.
fn summary(groups: &[Value]) -> Vec<String> {
    groups
        .iter()
        .map(|g| {
            let labels: Vec<String> = g["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            let alerts: Vec<String> = g["alerts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            format!(
                                "{}/{}",
                                x["labels"]["alertname"].as_str().unwrap_or(""),
                                x["labels"]["team"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "{} {{{}}}: {}",
                g["receiver"]["name"].as_str().unwrap_or(""),
                labels.join(","),
                alerts.join(",")
            )
        })
        .collect()
}

fn receivers_of(a: &Value) -> Vec<String> {
    a["receivers"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn post_three(r: &Running) {
    let (s, v) = post(
        r,
        ADMIN,
        &json!([
            {"labels": {"alertname": "Disk", "severity": "critical", "team": "db"}},
            {"labels": {"alertname": "Disk", "severity": "warning", "team": "web"}},
            {"labels": {"alertname": "Cpu", "severity": "critical", "team": "web"}},
        ]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_follow_the_routing_tree_with_their_receivers() {
    let dir = data_dir("am-groups");
    let r = start(&dir, routed).await;
    post_three(&r).await;
    // Cpu reaches the pager only (continue, then no other route); Disk/db the pager and db;
    // Disk/web the root's receiver, grouped by the root's `group_by`.
    let all = groups(&r, "").await;
    assert_eq!(
        summary(&all),
        [
            "db {alertname=Disk}: Disk/db",
            "default {alertname=Disk}: Disk/web",
            "pager {alertname=Cpu,team=web}: Cpu/web",
            "pager {alertname=Disk,team=db}: Disk/db",
        ]
    );
    // `receiver` matches the group's receiver (anchored), `filter` the alerts' labels.
    let pager = groups(&r, "?receiver=pag.*").await;
    assert_eq!(pager.len(), 2, "{pager:?}");
    assert!(groups(&r, "?receiver=pag").await.is_empty());
    let db = groups(&r, &format!("?filter={}", encode("team=\"db\""))).await;
    assert_eq!(
        summary(&db),
        [
            "db {alertname=Disk}: Disk/db",
            "pager {alertname=Disk,team=db}: Disk/db"
        ]
    );

    // The alerts' receivers are the routing tree's, and `receiver` filters on any of them.
    let alerts = list(&r, "").await;
    let disk_db = alerts
        .iter()
        .find(|a| a["labels"]["team"] == "db")
        .expect("Disk/db listed");
    assert_eq!(receivers_of(disk_db), ["pager", "db"]);
    let only_db = list(&r, "?receiver=db").await;
    assert_eq!(only_db.len(), 1, "{only_db:?}");
    assert_eq!(only_db[0]["labels"]["team"], "db");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inhibited_alerts_are_suppressed_by_their_source_as_in_alertmanager() {
    let dir = data_dir("am-inhibited");
    let r = start(&dir, routed).await;
    post_three(&r).await;
    // Disk/critical inhibits Disk/warning (equal alertname): the lifecycle decides it as the
    // alerts open, before the post is answered; bounded in case it lands just after.
    let started = std::time::Instant::now();
    let alerts = loop {
        let alerts = list(&r, "").await;
        let done = alerts.iter().any(|a| {
            a["labels"]["severity"] == "warning"
                && a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|v| !v.is_empty())
        });
        if done || started.elapsed() > std::time::Duration::from_secs(10) {
            break alerts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let source = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "Disk" && a["labels"]["severity"] == "critical")
        .expect("the source is listed");
    let target = alerts
        .iter()
        .find(|a| a["labels"]["severity"] == "warning")
        .expect("the target is listed");
    assert_eq!(
        target["status"],
        json!({"state": "suppressed", "silencedBy": [], "inhibitedBy": [source["fingerprint"]], "mutedBy": []})
    );
    assert_eq!(source["status"]["state"], "active");
    // As Alertmanager filters: `inhibited=false` leaves it out, `active=false` keeps it (it is
    // suppressed) and leaves out the active ones, `silenced=false` keeps it.
    let names = |v: &[Value]| {
        let mut n: Vec<String> = v
            .iter()
            .map(|a| {
                format!(
                    "{}/{}",
                    a["labels"]["alertname"].as_str().unwrap_or(""),
                    a["labels"]["severity"].as_str().unwrap_or("")
                )
            })
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&list(&r, "?inhibited=false").await),
        ["Cpu/critical", "Disk/critical"]
    );
    assert_eq!(names(&list(&r, "?active=false").await), ["Disk/warning"]);
    assert_eq!(names(&list(&r, "?silenced=false").await).len(), 3);
    let g = groups(&r, "?inhibited=false&receiver=default").await;
    assert!(g.is_empty(), "{g:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_carries_the_routing_tree_as_alertmanager_yaml() {
    let dir = data_dir("am-status-config");
    let r = start(&dir, routed).await;
    let (s, _, v) = r.call("GET", "/api/v2/status", Some(ADMIN), "", "").await;
    assert_eq!(s, 200, "{v}");
    assert_schema(STATUS, &v);
    let original = v["config"]["original"].as_str().expect("config.original");
    for line in [
        "route:\n",
        "  receiver: default\n",
        "  group_wait: \"1h\"\n",
        "  - continue: true\n",
        "    - \"severity=\\\"critical\\\"\"\n",
        "    receiver: pager\n",
        "inhibit_rules:\n",
        "- equal:\n",
        "receivers:\n",
        "- name: db\n",
    ] {
        assert!(
            original.contains(line),
            "{line:?} missing from:\n{original}"
        );
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_removed_api_v1_answers_410_as_alertmanager_does() {
    let dir = data_dir("am-v1");
    let r = start(&dir, |_| {}).await;
    for (method, path) in [
        ("GET", "/api/v1/alerts"),
        ("POST", "/api/v1/alerts"),
        ("GET", "/api/v1/silences"),
        ("POST", "/api/v1/silences"),
        ("GET", "/api/v1/silence/abc"),
        ("DELETE", "/api/v1/silence/abc"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/receivers"),
    ] {
        // Prometheus 2.x with `api_version: v1` posts a JSON array, with or without a token.
        let (s, _, v) = r.call(method, path, None, "application/json", "[]").await;
        assert_eq!(s, 410, "{method} {path}: {v}");
        assert_eq!(v["status"], "deprecated", "{method} {path}: {v}");
        assert_eq!(
            v["error"],
            "The Alertmanager v1 API was deprecated in version 0.16.0 and is removed as of version 0.27.0 - please use the equivalent route in the v2 API",
            "{method} {path}"
        );
    }
    r.stop().await;
}

/// amtool reads groups, receivers and the routing tree from klaxon. Needs `/usr/bin/amtool`
/// (Debian package `prometheus-alertmanager`); skipped without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_reads_receivers_routes_and_silences() {
    let dir = data_dir("am-amtool-routes");
    let r = serve(&dir, routed).await;
    let Some(amtool) = Amtool::new(&r, &dir) else {
        r.stop().await;
        return;
    };
    post_three(&r).await;
    let (ok, out, text) = amtool.run(&["alert", "query", "--receiver=db"]).await;
    assert!(ok && out.contains("Disk") && !out.contains("Cpu"), "{text}");
    // The routing tree of `config.original`, as amtool draws it and as it routes.
    let (ok, out, text) = amtool.run(&["config", "routes"]).await;
    assert!(ok, "amtool config routes: {text}");
    assert!(
        out.contains("receiver: default")
            && out.contains("receiver: pager")
            && out.contains("receiver: db"),
        "{out}"
    );
    let (ok, out, text) = amtool
        .run(&["config", "routes", "test", "severity=critical", "team=db"])
        .await;
    assert!(ok, "{text}");
    assert_eq!(out.trim(), "pager,db");
    let (ok, out, text) = amtool.run(&["config", "show"]).await;
    assert!(ok && out.contains("inhibit_rules"), "{text}");
    // Silences: added, listed (every field amtool prints), expired.
    let (ok, id, text) = amtool
        .run(&[
            "silence",
            "add",
            "team=web",
            "--comment=amtool",
            "--duration=1h",
        ])
        .await;
    assert!(ok, "{text}");
    let (ok, out, text) = amtool.run(&["silence", "query", "-o", "extended"]).await;
    assert!(
        ok && out.contains(id.trim()) && out.contains("team=\"web\"") && out.contains("amtool"),
        "{text}"
    );
    // Every field of Alertmanager's `gettableSilence`, as amtool decodes it.
    let (ok, out, text) = amtool.run(&["silence", "query", "-o", "json"]).await;
    assert!(ok, "{text}");
    let silences: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let s = &silences[0];
    for key in [
        "id",
        "updatedAt",
        "comment",
        "createdBy",
        "startsAt",
        "endsAt",
    ] {
        assert!(s[key].is_string(), "{key} in {s}");
    }
    assert_eq!(s["status"]["state"], "active", "{s}");
    assert_eq!(
        s["matchers"],
        json!([{"name": "team", "value": "web", "isRegex": false, "isEqual": true}])
    );
    let (ok, out, text) = amtool.run(&["alert", "query", "--silenced"]).await;
    assert!(
        ok && out.contains("Cpu") && !out.contains("critical  team=\"db\""),
        "{text}"
    );
    let (ok, _, text) = amtool.run(&["silence", "expire", id.trim()]).await;
    assert!(ok, "{text}");
    r.stop().await;
}
