//! Incidents of a running `klaxon serve`: the same Alertmanager stream, posted to the server
//! one alert at a time, gives the incidents `klaxon correlate` finds offline; and an incident
//! with its members and timeline survives kill -9, and the next alert still joins it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::client::{self, Client, Target};
use crate::harness::{klaxon, show, text, Backend, Serve, TempDir, TOKEN};

const TOPOLOGY: &str = r#"{
  "clusters": [{"name": "euw1"}, {"name": "use1"}],
  "services": [
    {"name": "frontend", "depends_on": ["orders-api", "cart-api"],
     "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "orders-api", "depends_on": ["pg-orders"],
     "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "cart-api", "depends_on": ["redis-cart"],
     "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "pg-orders", "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "redis-cart", "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]}
  ]
}"#;

/// One request with the admin token: status and JSON body.
fn call(s: &Serve, method: &str, path: &str, body: &str) -> (u16, Value) {
    let c = Client::new(&Target {
        url: s.url.clone(),
        token: Some(TOKEN.to_owned()),
    })
    .expect("client");
    let method = hyper::Method::from_bytes(method.as_bytes()).expect("method");
    let ctype = (!body.is_empty()).then_some("application/json");
    let reply = client::runtime()
        .expect("runtime")
        .block_on(c.call(method, path, ctype, Bytes::from(body.to_owned())))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let v = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status.as_u16(), v)
}

fn ts(ms: i64) -> String {
    klaxon_engine::timestamp::format_ts(ms)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A postable alert named by `key` (a label too, so the server's alerts can be named back).
fn alert(key: &str, name: &str, labels: &[(&str, &str)], summary: &str, start: i64) -> Value {
    let mut l: BTreeMap<&str, &str> = labels.iter().copied().collect();
    l.insert("alertname", name);
    l.insert("key", key);
    json!({"key": key, "labels": l, "annotations": {"summary": summary}, "startsAt": ts(start)})
}

fn ended(a: &Value, end: i64) -> Value {
    let mut a = a.clone();
    a["endsAt"] = json!(ts(end));
    a
}

/// Two waves of outages and an unrelated alert, with resolutions, in time order; every time
/// is in the past (the server resolves an alert whose `endsAt` has passed).
fn stream() -> Vec<Value> {
    let m = 60_000;
    let t0 = now_ms() - 3 * 60 * m;
    let (euw, usw) = (("cluster", "euw1"), ("cluster", "use1"));
    let pg = alert(
        "pg",
        "PgDown",
        &[("service", "pg-orders"), euw],
        "pg-orders primary is down",
        t0,
    );
    let orders = alert(
        "orders",
        "HighErrorRate",
        &[("service", "orders-api"), euw],
        "orders-api errors: connection refused by pg-orders",
        t0 + m,
    );
    let front = alert(
        "front",
        "HighErrorRate",
        &[("service", "frontend"), euw],
        "frontend 5xx: orders-api unavailable",
        t0 + 2 * m,
    );
    let disk = alert(
        "disk",
        "DiskFull",
        &[("host", "build-07")],
        "disk full on build-07",
        t0 + 3 * m,
    );
    let redis = alert(
        "redis",
        "RedisDown",
        &[("service", "redis-cart"), usw],
        "redis-cart unreachable",
        t0 + 5 * m,
    );
    let cart = alert(
        "cart",
        "HighLatency",
        &[("service", "cart-api"), usw],
        "cart-api latency: redis-cart timeouts",
        t0 + 6 * m,
    );
    // Just after the first outage's incident closed (resolved at t0 + 21 min, reopen window
    // 10 min): a new incident, as long as the server resolved the alerts at their own ends.
    let orders3 = alert(
        "orders3",
        "HighLatency",
        &[("service", "orders-api"), euw],
        "orders-api latency: connection refused by pg-orders",
        t0 + 33 * m,
    );
    // Soon after redis-cart's first alert ended: linked to it only if that end is counted
    // (the gap after an alert ended counts double), that is if the server resolved it at
    // its own end.
    let redis2 = alert(
        "redis2",
        "RedisMemoryHigh",
        &[("service", "redis-cart"), usw],
        "redis-cart memory above 90%",
        t0 + 12 * m,
    );
    let pg2 = alert(
        "pg2",
        "PgDown",
        &[("service", "pg-orders"), euw],
        "pg-orders primary is down",
        t0 + 90 * m,
    );
    let orders2 = alert(
        "orders2",
        "HighErrorRate",
        &[("service", "orders-api"), euw],
        "orders-api errors: connection refused by pg-orders",
        t0 + 91 * m,
    );
    vec![
        pg.clone(),
        orders.clone(),
        front.clone(),
        disk.clone(),
        redis.clone(),
        ended(&redis, t0 + 5 * m + 30_000),
        cart.clone(),
        ended(&disk, t0 + 10 * m),
        redis2,
        ended(&pg, t0 + 20 * m),
        ended(&orders, t0 + 20 * m),
        ended(&front, t0 + 21 * m),
        orders3,
        pg2,
        orders2,
        ended(&cart, t0 + 100 * m),
    ]
}

type Partition = BTreeSet<BTreeSet<String>>;

/// What `klaxon correlate` groups.
fn offline(dir: &Path, lines: &[Value]) -> Partition {
    let input = dir.join("alerts.ndjson");
    let ndjson: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&input, ndjson).expect("write the stream");
    let topology = dir.join("topology.json");
    std::fs::write(&topology, TOPOLOGY).expect("write the topology");
    let out = klaxon()
        .arg("correlate")
        .arg("--topology")
        .arg(&topology)
        .arg(&input)
        .output()
        .expect("run klaxon correlate");
    assert!(out.status.success(), "{}", show(&out));
    let v: Value = serde_json::from_str(&text(&out.stdout)).expect("one JSON document");
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            g.as_array()
                .expect("a group")
                .iter()
                .map(|k| k.as_str().expect("a key").to_owned())
                .collect()
        })
        .collect()
}

/// What a running server's incidents hold, each alert named by its `key` label.
fn online(s: &Serve) -> Partition {
    let (status, list) = call(s, "GET", "/incidents?limit=1000", "");
    assert_eq!(status, 200, "{list}");
    let mut groups = Partition::new();
    for i in list["incidents"].as_array().expect("incidents") {
        let (_, d) = call(s, "GET", &format!("/incidents/{}", i["id"]), "");
        let mut keys = BTreeSet::new();
        for m in d["members"].as_array().expect("members") {
            let (_, a) = call(s, "GET", &format!("/alerts/{}", m["alert_id"]), "");
            keys.insert(a["labels"]["key"].as_str().expect("key label").to_owned());
        }
        if !keys.is_empty() {
            groups.insert(keys);
        }
    }
    groups
}

fn post(s: &Serve, line: &Value) {
    let mut a = line.clone();
    if let Some(o) = a.as_object_mut() {
        o.remove("key");
    }
    let (status, v) = call(s, "POST", "/api/v2/alerts", &json!([a]).to_string());
    assert_eq!(status, 200, "POST /api/v2/alerts: {v}");
}

#[test]
fn the_server_finds_the_incidents_klaxon_correlate_finds() {
    let dir = TempDir::new("incidents-same");
    let lines = stream();
    let expected = offline(dir.path(), &lines);
    assert!(
        expected.iter().filter(|g| g.len() > 1).count() >= 3,
        "the stream is worth comparing: {expected:?}"
    );

    let config = dir.path().join("klaxon.toml");
    let topology = dir.path().join("topology.json");
    std::fs::write(
        &config,
        format!(
            "[correlation]\ntopology = {:?}\n",
            topology.display().to_string()
        ),
    )
    .expect("write the config");
    let server = Serve::start_with(&dir.path().join("data"), Some(&config));
    for l in &lines {
        post(&server, l);
    }
    assert_eq!(online(&server), expected, "log:\n{}", server.log());
}

#[test]
fn an_incident_survives_kill_9_and_takes_the_next_alert() {
    an_incident_survives_kill_9_on(&Backend::Sqlite);
}

#[test]
fn an_incident_survives_kill_9_and_takes_the_next_alert_on_postgresql() {
    if let Some(pg) = Backend::postgres("incidents") {
        an_incident_survives_kill_9_on(&pg);
    }
}

fn an_incident_survives_kill_9_on(backend: &Backend) {
    let dir = TempDir::new("incidents-kill");
    let data = dir.path().join("data");
    let mut server = Serve::start_on(backend, &data, None);
    let t = now_ms() - 120_000;
    let instance = [("service", "orders-api"), ("cluster", "euw1")];
    let first = alert(
        "a",
        "PgDown",
        &instance,
        "orders-api database connection refused",
        t,
    );
    let second = alert(
        "b",
        "HighErrorRate",
        &instance,
        "orders-api 5xx: database connection refused",
        t + 30_000,
    );
    post(&server, &first);
    post(&server, &second);
    let (_, list) = call(&server, "GET", "/incidents", "");
    let id = list["incidents"][0]["id"].as_i64().expect("an incident");
    assert_eq!(
        list["incidents"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
    let (s, v) = call(&server, "POST", &format!("/incidents/{id}/acknowledge"), "");
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        &server,
        "POST",
        &format!("/incidents/{id}/notes"),
        r#"{"text": "failing over"}"#,
    );
    assert_eq!(s, 200, "{v}");
    let (_, before) = call(&server, "GET", &format!("/incidents/{id}"), "");

    server.kill_9();
    let server = Serve::start_on(backend, &data, None);
    let (s, after) = call(&server, "GET", &format!("/incidents/{id}"), "");
    assert_eq!(s, 200, "{after}");
    assert_eq!(
        after, before,
        "everything answered before the kill is still there"
    );
    assert_eq!(after["state"], "investigating");
    assert_eq!(after["members"].as_array().map(Vec::len), Some(2));
    let kinds: Vec<&str> = after["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["opened", "joined", "state", "note"]);

    // The restart rebuilt the correlator: a third alert of the outage joins, not splits.
    let third = alert(
        "c",
        "HighLatency",
        &instance,
        "orders-api p99 above 2s: database connection refused",
        now_ms(),
    );
    post(&server, &third);
    let (_, d) = call(&server, "GET", &format!("/incidents/{id}"), "");
    assert_eq!(d["members"].as_array().map(Vec::len), Some(3), "{d}");
    let (_, list) = call(&server, "GET", "/incidents", "");
    assert_eq!(
        list["incidents"].as_array().map(Vec::len),
        Some(1),
        "{list}"
    );
}
