//! The calls two real Alertmanager clients make, made here exactly (paths, methods, query
//! parameters, bodies), with their answers checked in the shapes those clients read: Grafana's
//! Alertmanager data source in its "Prometheus" implementation, and the Karma dashboard
//! (its `v017` mapper, used for every Alertmanager from 0.17 on). Neither client is packaged
//! by a registry this project installs from, so the calls are taken from their sources, cited
//! above each one. Where a client decodes the configuration of `GET /api/v2/status` as
//! Alertmanager's configuration, `amtool check-config` (Alertmanager's own loader) stands in for
//! it when installed.

use serde_json::{json, Value};

use super::alertmanager::{assert_schema, encode, post, Schema, GETTABLE_ALERT, RECEIVER, STATUS};
use crate::harness::{configure_notify, data_dir, start, Running, ADMIN, AMTOOL};
use klaxon_server::config::{Config, InhibitConfig};

use Schema::{Array, Bool, Enum, LabelSet, Object, Str, Time};

/// Grafana's `AlertmanagerGroup` and Karma's `models.AlertGroup` source: `alertGroup`.
const ALERT_GROUPS: Schema = Array(&Object(&[
    ("labels", true, LabelSet),
    ("receiver", true, RECEIVER),
    ("alerts", true, Array(&GETTABLE_ALERT)),
]));

/// A silence as Grafana's `Silence` type and Karma's `silences()` read it (Karma dereferences
/// `id`, `startsAt`, `endsAt`, `createdBy`, `comment` and each matcher's `name`, `value`,
/// `isRegex`, so a missing one would crash it).
const SILENCE: Schema = Object(&[
    ("id", true, Str),
    (
        "matchers",
        true,
        Array(&Object(&[
            ("name", true, Str),
            ("value", true, Str),
            ("isRegex", true, Bool),
            ("isEqual", false, Bool),
        ])),
    ),
    ("startsAt", true, Time),
    ("endsAt", true, Time),
    ("updatedAt", true, Time),
    ("createdBy", true, Str),
    ("comment", true, Str),
    (
        "status",
        true,
        Object(&[("state", true, Enum(&["active", "pending", "expired"]))]),
    ),
]);

/// The routing tree both clients read groups of (WebSocket receivers: nothing leaves the host).
const ROUTES: &str = r#"
[route]
receiver = "default"
group_by = ["alertname"]
group_wait = "1h"
[[route.routes]]
matchers = ['team="db"']
receiver = "db"
group_by = ["alertname", "team"]
[[receivers]]
name = "default"
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

async fn get(r: &Running, path: &str) -> (u16, Value) {
    let (s, _, v) = r.call("GET", path, Some(ADMIN), "", "").await;
    (s, v)
}

/// Three alerts as Prometheus posts them: one for `db`, one for the root's receiver, one the
/// first inhibits (same alertname, critical over warning).
async fn post_alerts(r: &Running) {
    let (s, v) = post(
        r,
        ADMIN,
        &json!([
            {"labels": {"alertname": "Disk", "severity": "critical", "team": "db"},
             "annotations": {"summary": "disk full"},
             "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk"},
            {"labels": {"alertname": "Disk", "severity": "warning", "team": "web"}},
            {"labels": {"alertname": "Cpu", "severity": "critical", "team": "web"}},
        ]),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// The alerts no inhibition holds, once the warning is inhibited: the lifecycle decides it as
/// the alerts open; bounded in case it lands just after the post is answered.
async fn until_inhibited(r: &Running) -> Vec<Value> {
    let started = std::time::Instant::now();
    loop {
        let (s, v) = get(r, "/api/v2/alerts?inhibited=false&silenced=false").await;
        assert_eq!(s, 200, "{v}");
        let v = v.as_array().cloned().unwrap_or_default();
        if v.len() == 2 || started.elapsed() > std::time::Duration::from_secs(10) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn alertnames(alerts: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["labels"]["alertname"].as_str().unwrap_or(""),
                a["labels"]["team"].as_str().unwrap_or("")
            )
        })
        .collect();
    n.sort();
    n
}

/// `config.original` through Alertmanager's own configuration loader, as Grafana decodes it
/// (`GettableStatus.UnmarshalJSON` unmarshals it into Alertmanager's `config.Config`, whose
/// `UnmarshalYAML` checks it as `amtool check-config` does). Skipped without amtool.
fn alertmanager_loads(original: &str, dir: &std::path::Path) {
    if !std::path::Path::new(AMTOOL).exists() {
        assert!(
            std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
            "KLAXON_REQUIRE_PEERS is set but {AMTOOL} is missing"
        );
        println!("skipped amtool check-config: amtool not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let file = dir.join("status-config.yml");
    std::fs::write(&file, original).expect("write the status configuration");
    let out = std::process::Command::new(AMTOOL)
        .args(["check-config"])
        .arg(&file)
        .output()
        .expect("run amtool check-config");
    assert!(
        out.status.success(),
        "amtool check-config refuses config.original:\n{}{}\n{original}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Grafana, Alertmanager data source with `implementation: prometheus`. Grafana's backend
/// proxies `/api/alertmanager/{uid}/api/v2/...` to these paths of the data source's URL
/// (`pkg/services/ngalert/api/lotex_am.go`, the `"prometheus"` entry of `endpoints`), passing
/// the query string on as the UI wrote it (`withPath(*ctx.Req.URL, ...)`), and decodes each
/// answer into Alertmanager's own models (`jsonExtractor(&apimodels.GettableAlerts{})`, ...).
/// That file's table has no receivers endpoint for this implementation: Grafana does not ask
/// `/api/v2/receivers`, it reads the receivers from the status's configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_alertmanager_data_source_calls_answer_in_the_shapes_grafana_reads() {
    let dir = data_dir("am-grafana");
    let r = start(&dir, routed).await;
    post_alerts(&r).await;

    // The health check ("Save & test"), `testDatasource` in
    // public/app/plugins/datasource/alertmanager/DataSource.ts: first the build info
    // (`discoverAlertmanagerFeaturesByUrl`, public/app/features/alerting/unified/api/buildInfo.ts:
    // a 404 or any error means "not Mimir"), then Mimir's status path, which must NOT answer
    // 200 (Grafana would report "detected a Mimir or Cortex endpoint"), then
    // `/api/v2/status`, which must answer 200.
    let (s, v) = get(&r, "/api/v1/status/buildinfo").await;
    assert!(
        s != 200 || v["data"]["application"] != "Grafana Mimir",
        "{s} {v}"
    );
    let (s, v) = get(&r, "/alertmanager/api/v2/status").await;
    assert_ne!(s, 200, "Grafana would take klaxon for Mimir: {v}");
    let (s, status) = get(&r, "/api/v2/status").await;
    assert_eq!(s, 200, "{status}");

    // `fetchStatus` (public/app/features/alerting/unified/api/alertmanager.ts), used for the
    // configuration of a vanilla Alertmanager (`getAlertmanagerConfiguration` in
    // alertmanagerApi.ts: "for vanilla prometheus, there is no config endpoint"). Grafana's
    // backend decodes it with `GettableStatus.UnmarshalJSON`
    // (pkg/services/ngalert/api/tooling/definitions/alertmanager.go): Alertmanager's
    // `AlertmanagerStatus`, then `config.original` as Alertmanager's `config.Config`.
    assert_schema(STATUS, &status);
    let original = status["config"]["original"]
        .as_str()
        .expect("config.original");
    for line in [
        "route:\n",
        "  receiver: default\n",
        "receivers:\n",
        "- name: db\n",
    ] {
        assert!(original.contains(line), "{line:?} missing:\n{original}");
    }
    alertmanager_loads(original, &dir);

    // `getAlertmanagerAlerts` (public/app/features/alerting/unified/api/alertmanagerApi.ts):
    // `filter` once per matcher (`encodeMatcher`: `name="value"`, `name=~"value"`), then the
    // state flags it was given (`silenced`, `active`, `inhibited`, `unprocessed`). The alert
    // list page asks with every flag; the silence editor's preview with matchers only.
    let (s, all) = get(
        &r,
        "/api/v2/alerts?silenced=true&active=true&inhibited=true&unprocessed=true",
    )
    .await;
    assert_eq!(s, 200, "{all}");
    assert_schema(Array(&GETTABLE_ALERT), &all);
    let all = all.as_array().cloned().unwrap_or_default();
    assert_eq!(alertnames(&all), ["Cpu/web", "Disk/db", "Disk/web"]);
    let (s, found) = get(
        &r,
        &format!(
            "/api/v2/alerts?filter={}&filter={}",
            encode("alertname=\"Disk\""),
            encode("team=~\"d.*\"")
        ),
    )
    .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(
        alertnames(found.as_array().map_or(&[][..], Vec::as_slice)),
        ["Disk/db"]
    );
    let not_inhibited = until_inhibited(&r).await;
    assert_eq!(alertnames(&not_inhibited), ["Cpu/web", "Disk/db"]);

    // `getAlertmanagerAlertGroups` (the same file): `filter`, `receiver`, `active`,
    // `silenced`, `inhibited`, each only when set (the alert groups page and the notification
    // policies page, which asks per receiver).
    let (s, groups) = get(&r, "/api/v2/alerts/groups").await;
    assert_eq!(s, 200, "{groups}");
    assert_schema(ALERT_GROUPS, &groups);
    assert_eq!(groups.as_array().map_or(0, Vec::len), 3, "{groups}");
    let (s, db) = get(
        &r,
        &format!(
            "/api/v2/alerts/groups?filter={}&receiver=db&active=true&silenced=false&inhibited=false",
            encode("severity=\"critical\"")
        ),
    )
    .await;
    assert_eq!(s, 200, "{db}");
    assert_schema(ALERT_GROUPS, &db);
    assert_eq!(
        db,
        json!([{
            "labels": {"alertname": "Disk", "team": "db"},
            "receiver": {"name": "db"},
            "alerts": db[0]["alerts"],
        }])
    );
    assert_eq!(db[0]["alerts"].as_array().map_or(0, Vec::len), 1, "{db}");

    // Silences: `createOrUpdateSilence`, `fetchSilences`, `expireSilence`
    // (public/app/features/alerting/unified/api/alertmanager.ts). The body is Grafana's
    // `SilenceCreatePayload` (public/app/plugins/datasource/alertmanager/types.ts); the answer
    // is decoded as `PostSilencesOKBody` (`{silenceID}`, lotex_am.go `RouteCreateSilence`).
    let now = klaxon_engine::timestamp::format_ts(wall_ms());
    let later = klaxon_engine::timestamp::format_ts(wall_ms() + 3_600_000);
    let payload = json!({
        "matchers": [
            {"name": "team", "value": "web", "isRegex": false, "isEqual": true},
            {"name": "severity", "value": "crit.*", "isRegex": true, "isEqual": true},
        ],
        "startsAt": now,
        "endsAt": later,
        "createdBy": "grafana-user",
        "comment": "from Grafana",
    });
    let (s, _, created) = r
        .call(
            "POST",
            "/api/v2/silences",
            Some(ADMIN),
            "application/json",
            &payload.to_string(),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let id = created["silenceID"]
        .as_str()
        .unwrap_or_else(|| panic!("no silenceID: {created}"))
        .to_owned();
    let (s, silences) = get(&r, "/api/v2/silences").await;
    assert_eq!(s, 200, "{silences}");
    assert_schema(Array(&SILENCE), &silences);
    let ours = silences
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("{id} not listed: {silences}"));
    assert_eq!(ours["status"]["state"], "active");
    assert_eq!(ours["matchers"], payload["matchers"]);
    // The silenced alert now shows as Grafana's list reads it.
    let (_, cpu) = get(
        &r,
        &format!("/api/v2/alerts?filter={}", encode("alertname=\"Cpu\"")),
    )
    .await;
    assert_eq!(cpu[0]["status"]["state"], "suppressed", "{cpu}");
    assert_eq!(cpu[0]["status"]["silencedBy"], json!([id]), "{cpu}");
    // Editing sends the id back with the new fields.
    let mut edited = payload.clone();
    edited["id"] = json!(id);
    edited["comment"] = json!("edited in Grafana");
    let (s, _, v) = r
        .call(
            "POST",
            "/api/v2/silences",
            Some(ADMIN),
            "application/json",
            &edited.to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let edited_id = v["silenceID"].as_str().expect("silenceID").to_owned();
    // `expireSilence`: DELETE with the id URI-encoded; Grafana keeps the body as a message.
    let (s, _, v) = r
        .call(
            "DELETE",
            &format!("/api/v2/silence/{}", encode(&edited_id)),
            Some(ADMIN),
            "",
            "",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, after) = get(&r, &format!("/api/v2/silence/{edited_id}")).await;
    assert_eq!(after["status"]["state"], "expired", "{after}");
    r.stop().await;
}

/// Karma (github.com/prymitive/karma), each collection cycle `Alertmanager.Pull`
/// (internal/alertmanager/models.go): `probeVersion` reads `GET /metrics`, then the `v017`
/// mapper's go-swagger client (internal/mapper/v017/api.go, base path `/api/v2`) asks for the
/// status, the silences and the alert groups, with no query parameters (its generated client
/// has `GetReceivers` too, which Karma never calls). Its UI creates and
/// expires silences through Karma's proxy (cmd/karma/proxy.go), which forwards `POST
/// /api/v2/silences` and `DELETE /api/v2/silence/{id}` unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn karma_calls_answer_in_the_shapes_karma_reads() {
    let dir = data_dir("am-karma");
    let r = start(&dir, routed).await;
    post_alerts(&r).await;
    until_inhibited(&r).await;

    // `probeVersion`: `GET /metrics`, looking for `alertmanager_build_info{version=...}`
    // (internal/verprobe/verprobe.go). Any failure makes Karma assume version "999.0.0",
    // which selects the same `v017` mapper (`>=0.17.0`) as a real Alertmanager 0.25 would.
    let (s, _, _) = r.call("GET", "/metrics", Some(ADMIN), "", "").await;
    assert_ne!(
        s, 200,
        "a 200 would have to be Prometheus text with alertmanager_build_info"
    );

    // `status()`: `cluster.name` is the instance's id, `cluster.peers[].name` its peers.
    let (s, status) = get(&r, "/api/v2/status").await;
    assert_eq!(s, 200, "{status}");
    assert_schema(STATUS, &status);
    assert!(status["cluster"]["name"].is_string(), "{status}");
    assert!(status["cluster"]["peers"].is_array(), "{status}");

    // A silence, posted as Karma's silence form posts it through the proxy: Alertmanager's
    // `PostableSilence` (Karma's `unmarshal` reads it back with `isEqual` optional).
    let body = json!({
        "matchers": [{"name": "alertname", "value": "Cpu", "isRegex": false}],
        "startsAt": klaxon_engine::timestamp::format_ts(wall_ms()),
        "endsAt": klaxon_engine::timestamp::format_ts(wall_ms() + 3_600_000),
        "createdBy": "karma-user",
        "comment": "from karma",
    });
    let (s, _, v) = r
        .call(
            "POST",
            "/api/v2/silences",
            Some(ADMIN),
            "application/json",
            &body.to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let id = v["silenceID"].as_str().expect("silenceID").to_owned();

    // `silences()`: every silence, each field dereferenced.
    let (s, silences) = get(&r, "/api/v2/silences").await;
    assert_eq!(s, 200, "{silences}");
    assert_schema(Array(&SILENCE), &silences);
    let karma = silences
        .as_array()
        .and_then(|l| l.iter().find(|x| x["id"] == id.as_str()))
        .unwrap_or_else(|| panic!("{id} not listed: {silences}"));
    assert_eq!(karma["createdBy"], "karma-user");
    assert_eq!(karma["matchers"][0]["isEqual"], true, "{karma}");

    // `groups()`: `GET /api/v2/alerts/groups` with no parameter; for each group
    // `receiver.name` and `labels`, for each alert `fingerprint`, `labels`, `annotations`,
    // `startsAt`, `generatorURL`, `status.state`, `status.inhibitedBy`, `status.silencedBy`
    // (each silence id looked up among the silences above).
    let (s, groups) = get(&r, "/api/v2/alerts/groups").await;
    assert_eq!(s, 200, "{groups}");
    assert_schema(ALERT_GROUPS, &groups);
    let groups = groups.as_array().cloned().unwrap_or_default();
    let mut seen = Vec::new();
    for g in &groups {
        let receiver = g["receiver"]["name"].as_str().expect("receiver.name");
        for a in g["alerts"].as_array().into_iter().flatten() {
            assert!(a["fingerprint"].is_string(), "{a}");
            assert!(a["status"]["state"].is_string(), "{a}");
            for sid in a["status"]["silencedBy"].as_array().into_iter().flatten() {
                assert!(
                    silences
                        .as_array()
                        .is_some_and(|l| l.iter().any(|x| &x["id"] == sid)),
                    "silencedBy {sid} is no silence Karma knows"
                );
            }
            seen.push(format!(
                "{receiver}:{}/{}:{}",
                a["labels"]["alertname"].as_str().unwrap_or(""),
                a["labels"]["team"].as_str().unwrap_or(""),
                a["status"]["state"].as_str().unwrap_or("")
            ));
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "db:Disk/db:active",
            "default:Cpu/web:suppressed",
            "default:Disk/web:suppressed"
        ]
    );
    let disk_db = groups
        .iter()
        .flat_map(|g| g["alerts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["labels"]["team"] == "db")
        .expect("Disk/db");
    assert_eq!(
        disk_db["generatorURL"],
        "http://prometheus.example:9090/graph?g0.expr=disk"
    );
    assert_eq!(disk_db["annotations"]["summary"], "disk full");

    // Expiring through the proxy.
    let (s, _, v) = r
        .call(
            "DELETE",
            &format!("/api/v2/silence/{id}"),
            Some(ADMIN),
            "",
            "",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    r.stop().await;
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}
