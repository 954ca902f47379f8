//! The Alertmanager API v2 as Prometheus and amtool meet it: posting alerts, listing them with
//! Alertmanager's filters, status and receivers, every response checked against the required
//! fields and types of Alertmanager's OpenAPI document, and amtool itself when it is installed.

use std::time::{Duration, Instant};

use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{Role, Store};
use serde_json::{json, Value};

use crate::harness::{data_dir, serve, start, Amtool, Running, ADMIN};

/// A schema of Alertmanager's `api/v2/openapi.yaml` (v0.25, unchanged in what we serve since).
#[derive(Clone, Copy)]
pub(crate) enum Schema {
    Str,
    Bool,
    /// `type: string, format: date-time`.
    Time,
    Enum(&'static [&'static str]),
    /// `labelSet`: an object whose values are strings.
    LabelSet,
    Array(&'static Schema),
    /// Properties as (name, required, schema).
    Object(&'static [(&'static str, bool, Schema)]),
}

use Schema::{Array, Bool, Enum, LabelSet, Object, Str, Time};

pub(crate) const RECEIVER: Schema = Object(&[("name", true, Str)]);
const ALERT_STATUS: Schema = Object(&[
    (
        "state",
        true,
        Enum(&["unprocessed", "active", "suppressed"]),
    ),
    ("silencedBy", true, Array(&Str)),
    ("inhibitedBy", true, Array(&Str)),
    // Newer Alertmanagers add it; optional for their clients.
    ("mutedBy", false, Array(&Str)),
]);
pub(crate) const GETTABLE_ALERT: Schema = Object(&[
    ("labels", true, LabelSet),
    ("generatorURL", false, Str),
    ("annotations", true, LabelSet),
    ("receivers", true, Array(&RECEIVER)),
    ("fingerprint", true, Str),
    ("startsAt", true, Time),
    ("updatedAt", true, Time),
    ("endsAt", true, Time),
    ("status", true, ALERT_STATUS),
]);
pub(crate) const GETTABLE_ALERTS: Schema = Array(&GETTABLE_ALERT);
pub(crate) const STATUS: Schema = Object(&[
    (
        "cluster",
        true,
        Object(&[
            ("name", false, Str),
            ("status", true, Enum(&["ready", "settling", "disabled"])),
            (
                "peers",
                false,
                Array(&Object(&[("name", true, Str), ("address", true, Str)])),
            ),
        ]),
    ),
    (
        "versionInfo",
        true,
        Object(&[
            ("version", true, Str),
            ("revision", true, Str),
            ("branch", true, Str),
            ("buildUser", true, Str),
            ("buildDate", true, Str),
            ("goVersion", true, Str),
        ]),
    ),
    ("config", true, Object(&[("original", true, Str)])),
    ("uptime", true, Time),
]);
const RECEIVERS: Schema = Array(&RECEIVER);

/// Every way `v` breaks `schema`, with its path.
fn violations(schema: Schema, v: &Value, path: &str, out: &mut Vec<String>) {
    let mut fail = |what: &str| out.push(format!("{path}: {what}, got {v}"));
    match schema {
        Str if !v.is_string() => fail("expected a string"),
        Bool if !v.is_boolean() => fail("expected a boolean"),
        Time => match v.as_str() {
            Some(s) if !s.bytes().all(|b| b.is_ascii_digit()) && parse_ts_str(s).is_ok() => {}
            _ => fail("expected an RFC 3339 date-time"),
        },
        Enum(values) if !v.as_str().is_some_and(|s| values.contains(&s)) => {
            fail(&format!("expected one of {values:?}"))
        }
        LabelSet => match v.as_object() {
            Some(m) => {
                for (k, x) in m {
                    if !x.is_string() {
                        out.push(format!("{path}.{k}: expected a string, got {x}"));
                    }
                }
            }
            None => fail("expected an object of strings"),
        },
        Array(item) => match v.as_array() {
            Some(items) => {
                for (i, x) in items.iter().enumerate() {
                    violations(*item, x, &format!("{path}[{i}]"), out);
                }
            }
            None => fail("expected an array"),
        },
        Object(props) => match v.as_object() {
            Some(m) => {
                for (name, required, s) in props {
                    match m.get(*name) {
                        Some(x) => violations(*s, x, &format!("{path}.{name}"), out),
                        None if *required => {
                            out.push(format!("{path}.{name}: required but missing"))
                        }
                        None => {}
                    }
                }
            }
            None => fail("expected an object"),
        },
        _ => {}
    }
}

pub(crate) fn assert_schema(schema: Schema, v: &Value) {
    let mut out = Vec::new();
    violations(schema, v, "$", &mut out);
    assert!(
        out.is_empty(),
        "not Alertmanager's shape:\n{}\nin {v:#}",
        out.join("\n")
    );
}

#[test]
fn the_schema_check_catches_what_it_must() {
    let good = json!({
        "labels": {"alertname": "x"}, "annotations": {}, "receivers": [{"name": "r"}],
        "fingerprint": "0123456789abcdef", "startsAt": "2023-11-14T22:13:20.000Z",
        "updatedAt": "2023-11-14T22:13:20.000Z", "endsAt": "2023-11-14T22:13:20.000Z",
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
    });
    assert_schema(GETTABLE_ALERT, &good);
    for (field, bad) in [
        ("endsAt", Value::Null),
        ("startsAt", json!("1700000000000")),
        ("labels", json!({"a": 1})),
        ("receivers", json!([{}])),
        (
            "status",
            json!({"state": "resolved", "silencedBy": [], "inhibitedBy": []}),
        ),
        ("status", json!({"state": "active", "silencedBy": []})),
    ] {
        let mut v = good.clone();
        v[field] = bad;
        let mut out = Vec::new();
        violations(GETTABLE_ALERT, &v, "$", &mut out);
        assert!(!out.is_empty(), "{field} should break the schema: {v}");
    }
}

const VIEWER: &str = "viewer-token-abcdefghijklmnop";
const INGEST: &str = "ingest-token-abcdefghijklmnop";

async fn tokens(r: &Running) {
    for (name, role, token) in [("v", Role::Viewer, VIEWER), ("i", Role::Ingest, INGEST)] {
        r.store
            .insert_token(name, role, &klaxon_server::hash_token(token), 0)
            .await
            .expect("token");
    }
}

pub(crate) async fn post(r: &Running, token: &str, body: &Value) -> (u16, Value) {
    let (s, _, v) = r
        .call(
            "POST",
            "/api/v2/alerts",
            Some(token),
            "application/json",
            &body.to_string(),
        )
        .await;
    (s, v)
}

pub(crate) async fn list(r: &Running, query: &str) -> Vec<Value> {
    let (s, _, v) = r
        .call(
            "GET",
            &format!("/api/v2/alerts{query}"),
            Some(ADMIN),
            "",
            "",
        )
        .await;
    assert_eq!(s, 200, "GET /api/v2/alerts{query}: {v}");
    assert_schema(GETTABLE_ALERTS, &v);
    v.as_array().cloned().unwrap_or_default()
}

fn names(alerts: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["labels"]["alertname"].as_str().unwrap_or(""),
                a["labels"]["instance"].as_str().unwrap_or("")
            )
        })
        .collect();
    n.sort();
    n
}

/// The klaxon alerts of the Alertmanager source, once `pred` holds (bounded).
async fn history_until(r: &Running, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let v = r
        .until("/alerts/history?source=alertmanager&limit=1000", |v| {
            v["alerts"].as_array().is_some_and(|a| pred(a))
        })
        .await;
    v["alerts"].as_array().cloned().unwrap_or_default()
}

fn at(offset_ms: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    format_ts(now + offset_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_posts_fold_by_label_set_and_list_in_alertmanagers_shape() {
    let dir = data_dir("am-post");
    let r = start(&dir, |_| {}).await;
    let (starts, ends) = (at(-60_000), at(240_000));
    let disk_a = json!({
        "labels": {"alertname": "DiskFull", "instance": "a", "severity": "critical"},
        "annotations": {"summary": "disk a is full", "runbook": "http://wiki/disk"},
        "startsAt": starts, "endsAt": ends, "generatorURL": "http://prom:9090/graph?g0.expr=x",
    });
    // Prometheus's own shape: nanoseconds and every field; the second alert has neither a
    // known severity nor a summary.
    let disk_b = json!({
        "labels": {"alertname": "DiskFull", "instance": "b", "severity": "page"},
        "annotations": {"description": "disk b is full"},
        "startsAt": "2023-11-14T22:13:20.123456789Z", "endsAt": ends,
    });
    let (s, v) = post(&r, ADMIN, &json!([disk_a, disk_b])).await;
    assert_eq!(
        (s, v),
        (200, Value::Null),
        "200 with an empty body, as Alertmanager answers"
    );
    // Prometheus sends it again a minute later: the same alert, one more occurrence.
    let (s, _) = post(&r, ADMIN, &json!([disk_a])).await;
    assert_eq!(s, 200);

    let listed = list(&r, "").await;
    assert_eq!(names(&listed), ["DiskFull/a", "DiskFull/b"]);
    assert!(
        listed[0]["fingerprint"].as_str() < listed[1]["fingerprint"].as_str(),
        "sorted by fingerprint"
    );
    let a = listed
        .iter()
        .find(|a| a["labels"]["instance"] == "a")
        .expect("a");
    assert_eq!(a["labels"], disk_a["labels"]);
    assert_eq!(a["annotations"], disk_a["annotations"]);
    assert_eq!(a["startsAt"], json!(starts));
    assert_eq!(a["endsAt"], json!(ends));
    assert_eq!(a["generatorURL"], disk_a["generatorURL"]);
    assert_eq!(a["receivers"], json!([{"name": "klaxon"}]));
    assert_eq!(
        a["status"],
        json!({"state": "active", "silencedBy": [], "inhibitedBy": [], "mutedBy": []})
    );
    assert!(
        a["fingerprint"]
            .as_str()
            .is_some_and(|f| f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit())),
        "{a}"
    );
    let b = listed
        .iter()
        .find(|a| a["labels"]["instance"] == "b")
        .expect("b");
    assert_eq!(b["startsAt"], "2023-11-14T22:13:20.123Z");
    assert!(b.get("generatorURL").is_none(), "{b}");

    // The klaxon side: severity from the label, summary from the annotations.
    let h = history_until(&r, |h| h.len() == 2).await;
    let ka = h
        .iter()
        .find(|x| x["fingerprint"] == a["fingerprint"])
        .expect("a in history");
    let kb = h
        .iter()
        .find(|x| x["fingerprint"] == b["fingerprint"])
        .expect("b in history");
    assert_eq!(
        (
            ka["severity"].as_str(),
            ka["message"].as_str(),
            ka["state"].as_str()
        ),
        (Some("critical"), Some("disk a is full"), Some("active"))
    );
    assert_eq!(
        (kb["severity"].as_str(), kb["message"].as_str()),
        (Some("medium"), Some("disk b is full"))
    );
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", ka["id"]), "").await;
    assert_eq!(detail["occurrences"], 2, "the count at once: {detail}");
    // A resend that changes nothing else is written within a second, and logged at most
    // once a minute.
    let listed = r
        .until("/alerts/history?label=instance=a", |v| {
            v["alerts"][0]["occurrences"] == 2
        })
        .await;
    assert_eq!(listed["alerts"][0]["occurrences"], 2, "{listed}");
    assert_eq!(
        detail["recent_occurrences"].as_array().map(Vec::len),
        Some(1),
        "{detail}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_fold_quietly_and_a_changed_one_changes_the_alert_in_order() {
    let dir = data_dir("am-resend");
    let r = start(&dir, |_| {}).await;
    let alert = |summary: &str, ends: &str| {
        json!({
            "labels": {"alertname": "QueueDeep", "queue": "orders", "severity": "warning"},
            "annotations": {"summary": summary},
            "endsAt": ends,
        })
    };
    let (s, _) = post(&r, ADMIN, &json!([alert("deep", &at(240_000))])).await;
    assert_eq!(s, 200);
    // A quiet resend moves endsAt on, as Prometheus's resends do (written within a second).
    let later = at(480_000);
    let (s, _) = post(&r, ADMIN, &json!([alert("deep", &later)])).await;
    assert_eq!(s, 200);
    let listed = r
        .until("/api/v2/alerts", |v| v[0]["endsAt"] == json!(later))
        .await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["endsAt"], json!(later), "{listed}");
    assert_eq!(listed[0]["annotations"]["summary"], "deep");

    // One batch: quiet, changed, changed back. The alert ends as the last one says (the
    // third is no quiet resend: it undoes the second), with every firing counted.
    let batch = json!([
        alert("deep", &later),
        alert("deeper", &later),
        alert("deep", &later),
    ]);
    let (s, _) = post(&r, ADMIN, &batch).await;
    assert_eq!(s, 200);
    let listed = list(&r, "").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["annotations"]["summary"], "deep", "{listed:?}");
    let h = history_until(&r, |h| h.len() == 1).await;
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", h[0]["id"]), "").await;
    assert_eq!(detail["occurrences"], 5, "{detail}");
    assert_eq!(detail["message"], "deep", "{detail}");
    // What is stored says the same after a restart.
    r.stop().await;
    let r = start(&dir, |_| {}).await;
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", h[0]["id"]), "").await;
    assert_eq!(
        (detail["occurrences"].as_u64(), detail["message"].as_str()),
        (Some(5), Some("deep")),
        "{detail}"
    );
    // A quiet resend after the restart is still folded into the same alert.
    let (s, _) = post(&r, ADMIN, &json!([alert("deep", &later)])).await;
    assert_eq!(s, 200);
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", h[0]["id"]), "").await;
    assert_eq!(detail["occurrences"], 6, "{detail}");
    assert_eq!(list(&r, "").await.len(), 1);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ends_at_in_the_past_resolves_and_the_alert_leaves_the_list() {
    let dir = data_dir("am-resolve");
    let r = start(&dir, |_| {}).await;
    let labels = json!({"alertname": "Flip", "job": "node"});
    let (s, _) = post(
        &r,
        ADMIN,
        &json!([{"labels": labels, "startsAt": at(-5_000), "endsAt": at(240_000)}]),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list(&r, "").await.len(), 1);
    // Resolved the way Prometheus resolves: the same labels with endsAt = when it stopped.
    let (s, _) = post(
        &r,
        ADMIN,
        &json!([{"labels": labels, "startsAt": at(-5_000), "endsAt": at(-1)}]),
    )
    .await;
    assert_eq!(s, 200);
    let h = history_until(&r, |h| h.len() == 1 && h[0]["state"] == "resolved").await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["state"], "resolved", "{h:?}");
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", h[0]["id"]), "").await;
    let last = detail["events"]
        .as_array()
        .and_then(|e| e.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (last["actor"].as_str(), last["to"].as_str()),
        (Some("alertmanager"), Some("resolved")),
        "{detail}"
    );
    assert!(list(&r, "").await.is_empty(), "ended alerts are not listed");
    // An alert that ended before klaxon heard of it opens nothing.
    let (s, _) = post(
        &r,
        ADMIN,
        &json!([{"labels": {"alertname": "Gone"}, "endsAt": at(-1_000)}]),
    )
    .await;
    assert_eq!(s, 200);
    assert!(list(&r, "").await.is_empty());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_without_ends_at_resolve_after_the_resolve_timeout() {
    let dir = data_dir("am-timeout");
    let r = start(&dir, |c| c.lifecycle.resolve_timeout_seconds = 1).await;
    let (s, _) = post(&r, ADMIN, &json!([{"labels": {"alertname": "Quiet"}}])).await;
    assert_eq!(s, 200);
    let listed = list(&r, "").await;
    assert_eq!(listed.len(), 1);
    let (starts, ends) = (
        parse_ts_str(listed[0]["startsAt"].as_str().unwrap_or("")),
        parse_ts_str(listed[0]["endsAt"].as_str().unwrap_or("")),
    );
    let span = ends.and_then(|e| starts.map(|s| e - s));
    assert!(
        span.is_ok_and(|ms| (1_000..1_500).contains(&ms)),
        "endsAt is when the timeout resolves it: {:?}",
        listed[0]
    );
    let t0 = Instant::now();
    let h = history_until(&r, |h| h.first().is_some_and(|a| a["state"] == "resolved")).await;
    assert_eq!(
        h.first().map(|a| a["state"].clone()),
        Some(json!("resolved")),
        "{h:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", h[0]["id"]), "").await;
    let reasons: Vec<&str> = detail["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("resolve timeout")),
        "{detail}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_alerts_get_alertmanagers_400_and_valid_ones_are_kept() {
    let dir = data_dir("am-invalid");
    let r = start(&dir, |_| {}).await;
    for body in ["{\"labels\":{\"alertname\":\"x\"}}", "not json", ""] {
        let (s, _, v) = r
            .call(
                "POST",
                "/api/v2/alerts",
                Some(ADMIN),
                "application/json",
                body,
            )
            .await;
        assert_eq!(s, 400, "{body}");
        assert!(
            v.as_str()
                .is_some_and(|m| m.contains("expected a JSON array")),
            "a JSON string, as Alertmanager: {v}"
        );
    }
    let batch = json!([
        {"labels": {"alertname": "Good"}},
        {"labels": {"job": "no-name"}},
        {"labels": {"alertname": "BadTime"}, "startsAt": "yesterday"},
        {"labels": {"alertname": "EmptyName", "": "x"}},
        {"labels": {"alertname": "Backwards"}, "startsAt": at(0), "endsAt": at(-60_000)},
        {"labels": {"alertname": "NotString", "n": 1}},
        {"annotations": {}},
    ]);
    let (s, v) = post(&r, ADMIN, &batch).await;
    assert_eq!(s, 400, "{v}");
    let msg = v.as_str().unwrap_or_default();
    for expect in [
        "alert 1: labels: alertname is required",
        "alert 2: startsAt",
        "alert 3: label and annotation names must not be empty",
        "alert 4: endsAt: must not be before startsAt",
        "alert 5: invalid type",
        "alert 6: labels: required",
    ] {
        assert!(msg.contains(expect), "{expect} in {msg}");
    }
    assert!(!msg.contains("alert 0"), "{msg}");
    let listed = list(&r, "").await;
    assert_eq!(
        names(&listed),
        ["Good/"],
        "the valid alert of the batch is kept"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_the_alertmanager_api() {
    let dir = data_dir("am-auth");
    let r = start(&dir, |_| {}).await;
    tokens(&r).await;
    let body = json!([{"labels": {"alertname": "A"}}]);
    for (method, path) in [
        ("POST", "/api/v2/alerts"),
        ("GET", "/api/v2/alerts"),
        ("GET", "/api/v2/status"),
        ("GET", "/api/v2/receivers"),
    ] {
        let (s, _, _) = r.call(method, path, None, "application/json", "[]").await;
        assert_eq!(s, 401, "{method} {path} without a token");
    }
    assert_eq!(
        post(&r, VIEWER, &body).await.0,
        403,
        "a viewer may not post alerts"
    );
    assert_eq!(post(&r, INGEST, &body).await.0, 200, "an ingest token may");
    let (s, _, _) = r.call("GET", "/api/v2/alerts", Some(INGEST), "", "").await;
    assert_eq!(s, 403, "an ingest token may not read");
    let (s, _, v) = r.call("GET", "/api/v2/alerts", Some(VIEWER), "", "").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(1)), "{v}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_states_and_receivers_work_as_in_alertmanager() {
    let dir = data_dir("am-filter");
    let r = start(&dir, |_| {}).await;
    let body = json!([
        {"labels": {"alertname": "X", "instance": "1", "severity": "critical", "team": "db"}},
        {"labels": {"alertname": "X", "instance": "2", "severity": "warning", "team": "web"}},
        {"labels": {"alertname": "Y", "instance": "3", "severity": "info"}},
    ]);
    assert_eq!(post(&r, ADMIN, &body).await.0, 200);
    let q = |f: &[&str]| {
        let parts: Vec<String> = f.iter().map(|m| format!("filter={}", encode(m))).collect();
        format!("?{}", parts.join("&"))
    };
    for (filters, want) in [
        (vec![r#"alertname="X""#], vec!["X/1", "X/2"]),
        (vec![r#"severity=~"crit.*""#], vec!["X/1"]),
        (vec![r#"alertname="X""#, r#"team!="db""#], vec!["X/2"]),
        (vec![r#"{alertname="X",instance=~"[2-9]"}"#], vec!["X/2"]),
        (vec![r#"alertname!~"X|Y""#], vec![]),
        (vec![r#"team="""#], vec!["Y/3"]),
        (vec!["alertname=Y"], vec!["Y/3"]),
    ] {
        assert_eq!(names(&list(&r, &q(&filters)).await), want, "{filters:?}");
    }

    // Acknowledged is still active for Alertmanager clients; suppressed is silenced.
    let h = history_until(&r, |h| h.len() == 3).await;
    let before = list(&r, "").await;
    let id_of = |instance: &str| {
        let fp = before
            .iter()
            .find(|a| a["labels"]["instance"] == instance)
            .map(|a| a["fingerprint"].clone());
        h.iter()
            .find(|a| Some(&a["fingerprint"]) == fp.as_ref())
            .and_then(|a| a["id"].as_i64())
            .expect("alert in history")
    };
    let (x1, x2) = (id_of("1"), id_of("2"));
    let (s, v) = r
        .admin("POST", &format!("/alerts/{x1}/acknowledge"), "{}")
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .admin(
            "POST",
            &format!("/alerts/{x2}/suppress"),
            r#"{"duration":"1h"}"#,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let silence = v["alert"]["suppressed_by"]
        .as_str()
        .and_then(|b| b.strip_prefix("silence:"))
        .unwrap_or_else(|| panic!("suppressing by hand makes a silence: {v}"))
        .to_owned();
    let listed = list(&r, "").await;
    let status = |inst: &str| {
        listed
            .iter()
            .find(|a| a["labels"]["instance"] == inst)
            .map(|a| a["status"].clone())
            .unwrap_or_default()
    };
    assert_eq!(status("1")["state"], "active");
    assert_eq!(
        status("2"),
        json!({"state": "suppressed", "silencedBy": [silence], "inhibitedBy": [], "mutedBy": []})
    );
    // What amtool asks by default, and with --silenced.
    assert_eq!(
        names(
            &list(
                &r,
                "?active=true&silenced=false&inhibited=false&unprocessed=false"
            )
            .await
        ),
        ["X/1", "Y/3"]
    );
    assert_eq!(
        names(&list(&r, "?active=false&silenced=true").await),
        ["X/2"]
    );
    assert_eq!(list(&r, "?receiver=klax.*").await.len(), 3);
    assert!(list(&r, "?receiver=pager").await.is_empty());

    for (query, says) in [
        ("?filter=alertname%3D~%22a%7B2%22", "counted repetition"),
        ("?filter=nonsense", "filter `nonsense`"),
        ("?active=sometimes", "not a boolean"),
    ] {
        let (s, _, v) = r
            .call(
                "GET",
                &format!("/api/v2/alerts{query}"),
                Some(ADMIN),
                "",
                "",
            )
            .await;
        assert_eq!(s, 400, "{query}: {v}");
        assert!(v.as_str().is_some_and(|m| m.contains(says)), "{query}: {v}");
    }
    r.stop().await;
}

pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const RULES: &str = r#"{"header":{"rule_set":"am"},"rules":[
 {"id":"FIRE","trigger_type":"MARK_EVENT","action":"FIRE","condition":{"operator":"ON_EVENT"},"alert":{"handler":"pager","severity":"high"}}
]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_alerts_are_listed_with_their_labels_and_handler() {
    let dir = data_dir("am-engine");
    let r = start(&dir, |_| {}).await;
    let (s, v) = r.admin("POST", "/v1/rulesets", RULES).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = r.admin("POST", "/v1/rulesets/am/1/activate", "").await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = r
        .ndjson(
            "/v1/signals",
            "{\"kind\":\"mark\",\"process\":\"p1\",\"action\":\"FIRE\"}\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let t0 = Instant::now();
    let listed = loop {
        let l = list(&r, "").await;
        if !l.is_empty() || t0.elapsed() > Duration::from_secs(10) {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(listed.len(), 1);
    let a = &listed[0];
    assert_eq!(
        (
            a["labels"]["alertname"].as_str(),
            a["labels"]["severity"].as_str()
        ),
        (Some("FIRE"), Some("high")),
        "{a}"
    );
    assert_eq!(a["receivers"], json!([{"name": "pager"}]));
    assert!(
        a["annotations"]["summary"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{a}"
    );
    let (s, _, v) = r
        .call("GET", "/api/v2/receivers", Some(ADMIN), "", "")
        .await;
    assert_eq!(s, 200);
    assert_schema(RECEIVERS, &v);
    assert_eq!(v, json!([{"name": "klaxon"}, {"name": "pager"}]));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_a_ready_single_node() {
    let dir = data_dir("am-status");
    let r = start(&dir, |_| {}).await;
    let (s, _, v) = r.call("GET", "/api/v2/status", Some(ADMIN), "", "").await;
    assert_eq!(s, 200, "{v}");
    assert_schema(STATUS, &v);
    assert_eq!(v["cluster"]["status"], "ready");
    assert_eq!(v["versionInfo"]["version"], env!("CARGO_PKG_VERSION"));
    let up = parse_ts_str(v["uptime"].as_str().unwrap_or("")).expect("uptime");
    assert!(format_ts(up) <= at(0), "uptime is the start time: {v}");
    r.stop().await;
}

/// amtool, Alertmanager's own client, against klaxon over a real socket. Needs
/// `/usr/bin/amtool` (Debian package `prometheus-alertmanager`); skipped without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_adds_and_queries_alerts() {
    let dir = data_dir("am-amtool");
    let r = serve(&dir, |_| {}).await;
    let Some(amtool) = Amtool::new(&r, &dir) else {
        r.stop().await;
        return;
    };
    let (ok, _, text) = amtool
        .run(&[
            "alert",
            "add",
            "alertname=AmtoolTest",
            "severity=critical",
            "--annotation=summary=from amtool",
        ])
        .await;
    assert!(ok, "amtool alert add: {text}");
    let (ok, json_out, text) = amtool.run(&["alert", "query", "-o", "json"]).await;
    assert!(ok, "amtool alert query -o json: {text}");
    let v: Value = serde_json::from_str(&json_out).unwrap_or_else(|e| panic!("{e}: {json_out}"));
    assert_schema(GETTABLE_ALERTS, &v);
    assert_eq!(v[0]["labels"]["alertname"], "AmtoolTest", "{v}");
    assert_eq!(v[0]["annotations"]["summary"], "from amtool", "{v}");
    let (ok, out, text) = amtool.run(&["alert", "query", "alertname=~Amtool.*"]).await;
    assert!(
        ok && out.contains("AmtoolTest") && out.contains("from amtool"),
        "amtool alert query with a regex matcher: {text}"
    );
    let (ok, out, text) = amtool.run(&["alert", "query", "alertname=Other"]).await;
    assert!(ok && !out.contains("AmtoolTest"), "{text}");
    let (ok, out, text) = amtool.run(&["alert", "query", "-o", "extended"]).await;
    assert!(ok && out.contains("severity=\"critical\""), "{text}");
    // `--silenced` alone asks for silenced alerts only, and this one is not.
    let (ok, out, text) = amtool.run(&["alert", "query", "--silenced"]).await;
    assert!(ok && !out.contains("AmtoolTest"), "{text}");

    // Without its token amtool gets klaxon's 401.
    let (ok, _, text) = amtool.without_token().run(&["alert", "query"]).await;
    assert!(!ok, "{text}");
    r.stop().await;
}

/// `amtool silence import` of a file `amtool silence query -o json` exported: into a klaxon
/// that has never seen those silences (every id unknown, as in a file exported from another
/// Alertmanager: amtool posts with the id, gets the 404 and posts again as new), and back into
/// the klaxon it came from (the ids known: updated in place, nothing added).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_imports_exported_silences() {
    let dir = data_dir("am-silence-import");
    let other_dir = data_dir("am-silence-import-to");
    let from = serve(&dir, |_| {}).await;
    let Some(amtool) = Amtool::new(&from, &dir) else {
        from.stop().await;
        return;
    };
    for args in [
        &["team=web", "--comment=deploy window", "--duration=2h"][..],
        &[
            "alertname=~Disk.*",
            "env!=dev",
            "--comment=disks",
            "--duration=1h",
        ][..],
    ] {
        let mut cmd = vec!["silence", "add"];
        cmd.extend(args);
        let (ok, _, text) = amtool.run(&cmd).await;
        assert!(ok, "amtool silence add: {text}");
    }
    let (ok, exported, text) = amtool.run(&["silence", "query", "-o", "json"]).await;
    assert!(ok, "{text}");
    let file = dir.join("silences.json");
    std::fs::write(&file, &exported).expect("write the export");
    let file = file.display().to_string();
    let sorted = |json: &str| {
        let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let mut out: Vec<Value> = v
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| {
                json!({
                    "id": s["id"], "matchers": s["matchers"], "comment": s["comment"],
                    "createdBy": s["createdBy"], "endsAt": s["endsAt"], "state": s["status"]["state"],
                })
            })
            .collect();
        out.sort_by_key(|s| s["comment"].to_string());
        out
    };
    let before = sorted(&exported);
    assert_eq!(before.len(), 2, "{exported}");

    // Into a klaxon that does not know them: created anew, with new ids.
    let to = serve(&other_dir, |_| {}).await;
    let other = Amtool::new(&to, &other_dir).expect("amtool");
    let (ok, out, text) = other.run(&["silence", "import", &file]).await;
    assert!(ok, "amtool silence import: {text}");
    assert_eq!(out.lines().count(), 2, "one new id a silence: {text}");
    let (ok, listed, text) = other.run(&["silence", "query", "-o", "json"]).await;
    assert!(ok, "{text}");
    let after = sorted(&listed);
    assert_eq!(after.len(), 2, "{listed}");
    for (a, b) in after.iter().zip(&before) {
        assert_ne!(a["id"], b["id"], "a new id: {a}");
        for key in ["matchers", "comment", "createdBy", "endsAt", "state"] {
            assert_eq!(a[key], b[key], "{key}: {a} vs {b}");
        }
    }

    // Back into the klaxon it came from: the same two silences, updated, none added.
    let (ok, _, text) = amtool.run(&["silence", "import", &file]).await;
    assert!(ok, "amtool silence import: {text}");
    let (ok, listed, text) = amtool.run(&["silence", "query", "-o", "json"]).await;
    assert!(ok, "{text}");
    let again = sorted(&listed);
    assert_eq!(again.len(), 2, "{listed}");
    for (a, b) in again.iter().zip(&before) {
        for key in ["id", "matchers", "comment", "endsAt", "state"] {
            assert_eq!(a[key], b[key], "{key}: {a} vs {b}");
        }
    }
    to.stop().await;
    from.stop().await;
}

/// `amtool silence import` into klaxon of a file `amtool silence query -o json` exported from
/// a real Alertmanager (`/usr/bin/prometheus-alertmanager`; skipped without it or amtool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_imports_silences_exported_from_alertmanager() {
    const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
    let dir = data_dir("am-silence-from-am");
    let r = serve(&dir, |_| {}).await;
    let Some(amtool) = Amtool::new(&r, &dir) else {
        r.stop().await;
        return;
    };
    if !std::path::Path::new(ALERTMANAGER).exists() {
        assert!(
            std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
            "KLAXON_REQUIRE_PEERS is set but {ALERTMANAGER} is missing"
        );
        println!("skipped: {ALERTMANAGER} not installed");
        r.stop().await;
        return;
    }
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: default\nreceivers:\n- name: default\n",
    )
    .expect("write alertmanager.yml");
    let port = crate::harness::free_port();
    let log = std::fs::File::create(dir.join("alertmanager.log")).expect("log");
    /// Killed when dropped, also when the test fails.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let am = Killed(
        std::process::Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start Alertmanager"),
    );
    let at_am = |args: &[&str]| {
        let mut all = vec![format!("--alertmanager.url=http://127.0.0.1:{port}")];
        all.extend(args.iter().map(|s| (*s).to_owned()));
        let out = std::process::Command::new(crate::harness::AMTOOL)
            .args(&all)
            .output()
            .expect("run amtool");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let (ok, _, err) = at_am(&[
            "silence",
            "add",
            "service=~\"api|web\"",
            "--comment=from Alertmanager",
            "--author=ops",
            "--duration=3h",
        ]);
        if ok {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "Alertmanager never took a silence: {err}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, exported, err) = at_am(&["silence", "query", "-o", "json"]);
    drop(am);
    assert!(ok, "{err}");
    let file = dir.join("from-alertmanager.json");
    std::fs::write(&file, &exported).expect("write the export");
    let (ok, _, text) = amtool
        .run(&["silence", "import", &file.display().to_string()])
        .await;
    assert!(ok, "amtool silence import: {text}");
    let (ok, listed, text) = amtool.run(&["silence", "query", "-o", "json"]).await;
    assert!(ok, "{text}");
    let theirs: Value = serde_json::from_str(&exported).expect("Alertmanager's export");
    let ours: Value = serde_json::from_str(&listed).expect("klaxon's list");
    assert_eq!(ours.as_array().map(Vec::len), Some(1), "{ours}");
    let (a, b) = (&ours[0], &theirs[0]);
    assert_ne!(a["id"], b["id"], "klaxon's own id");
    for key in ["matchers", "comment", "createdBy", "endsAt"] {
        assert_eq!(a[key], b[key], "{key}: {a} vs {b}");
    }
    assert_eq!(a["status"]["state"], "active", "{a}");
    r.stop().await;
}
