//! Moving from Alertmanager, end to end, as `docs/migrating-from-alertmanager.md` tells it: an
//! `alertmanager.yml` with two webhook receivers is converted by `klaxon config
//! import-alertmanager`, the real `klaxon serve` starts with the result, alerts are posted as
//! Prometheus posts them (`POST /api/v2/alerts`), and each webhook receiver (a real HTTP server
//! here) gets notifications for exactly the alerts `amtool config routes test` routes to it on
//! the original file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::client;
use crate::harness::{klaxon, show, text, Serve, TempDir};

const AMTOOL: &str = "/usr/bin/amtool";

/// The original configuration; `ADDR` is the receivers' address.
const ALERTMANAGER_YML: &str = r#"global:
  resolve_timeout: 5m
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
  routes:
  - matchers: [team="db"]
    receiver: db
    continue: true
  - match_re:
      severity: critical|page
    receiver: ops
receivers:
- name: ops
  webhook_configs:
  - url: http://ADDR/ops
- name: db
  webhook_configs:
  - url: http://ADDR/db
    send_resolved: true
"#;

/// The alerts Prometheus sends: (alertname, team, severity).
const ALERTS: [(&str, &str, &str); 5] = [
    ("DiskFull", "db", "critical"),
    ("ReplicationLag", "db", "warning"),
    ("CpuHigh", "web", "critical"),
    ("CertExpiry", "web", "info"),
    ("Backup", "storage", "page"),
];

/// A webhook receiver on 127.0.0.1 that answers 200 and keeps (path, body) of every request.
struct Sink {
    addr: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Sink {
    fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address").to_string();
        let got = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&got);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let keep = Arc::clone(&keep);
                std::thread::spawn(move || answer(conn, &keep));
            }
        });
        Sink { addr, got }
    }

    /// The alertnames of the firing alerts each path (receiver) was told of.
    fn told(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (path, body) in self.got.lock().expect("receiver lock").iter() {
            let names = out
                .entry(path.trim_start_matches('/').to_owned())
                .or_default();
            for a in body["alerts"].as_array().into_iter().flatten() {
                if a["status"] == "firing" {
                    if let Some(n) = a["labels"]["alertname"].as_str() {
                        names.insert(n.to_owned());
                    }
                }
            }
        }
        out
    }
}

fn answer(conn: TcpStream, keep: &Mutex<Vec<(String, Value)>>) {
    let mut out = conn.try_clone().expect("clone the connection");
    let mut r = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if r.read_line(&mut line).map_or(true, |n| n == 0) {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
        loop {
            line.clear();
            if r.read_line(&mut line).map_or(true, |n| n == 0) {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        keep.lock().expect("receiver lock").push((path, body));
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Posts alerts as Prometheus does: `startsAt` now, `endsAt` a few minutes on, a generator URL.
fn post(server: &Serve, alerts: &[(&str, &str, &str)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let body: Vec<Value> = alerts
        .iter()
        .map(|(name, team, severity)| {
            json!({
                "labels": {"alertname": name, "team": team, "severity": severity, "job": "node"},
                "annotations": {"summary": format!("{name} on {team}")},
                "startsAt": klaxon_engine::timestamp::format_ts(now),
                "endsAt": klaxon_engine::timestamp::format_ts(now + 4 * 60_000),
                "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
            })
        })
        .collect();
    let reply = client::runtime()
        .expect("runtime")
        .block_on(server.client().call(
            Method::POST,
            "/api/v2/alerts",
            Some("application/json"),
            Bytes::from(Value::Array(body).to_string()),
        ))
        .expect("post alerts");
    assert_eq!(reply.status.as_u16(), 200, "{}", text(&reply.body));
}

/// The receivers `amtool config routes test` chooses on the original for an alert.
fn amtool_receivers(file: &Path, (name, team, severity): (&str, &str, &str)) -> Vec<String> {
    let out = std::process::Command::new(AMTOOL)
        .args(["config", "routes", "test"])
        .arg(format!("--config.file={}", file.display()))
        .args([
            format!("alertname={name}"),
            format!("team={team}"),
            format!("severity={severity}"),
            "job=node".to_owned(),
        ])
        .output()
        .expect("run amtool");
    assert!(out.status.success(), "amtool: {}", show(&out));
    text(&out.stdout)
        .trim()
        .split(',')
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_alertmanager_yml_converted_notifies_the_receivers_alertmanager_would() {
    if !Path::new(AMTOOL).exists() {
        assert!(
            std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
            "KLAXON_REQUIRE_PEERS is set but {AMTOOL} is missing"
        );
        println!("skipped: amtool not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let dir = TempDir::new("migrate-am");
    let sink = Sink::start();
    let original = dir.path().join("alertmanager.yml");
    std::fs::write(&original, ALERTMANAGER_YML.replace("ADDR", &sink.addr)).expect("write");

    // What Alertmanager would do: each receiver's alerts, by amtool on the original.
    let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for alert in ALERTS {
        for receiver in amtool_receivers(&original, alert) {
            want.entry(receiver).or_default().insert(alert.0.to_owned());
        }
    }
    let names = |list: &[&str]| {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        want,
        BTreeMap::from([
            ("db".to_owned(), names(&["DiskFull", "ReplicationLag"])),
            (
                "ops".to_owned(),
                names(&["Backup", "CertExpiry", "CpuHigh", "DiskFull"])
            ),
        ]),
        "the original's routing, by amtool"
    );

    // The migration: convert, then serve the result.
    let out = klaxon()
        .args(["config", "import-alertmanager"])
        .arg(&original)
        .output()
        .expect("run klaxon");
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stderr).trim().is_empty(),
        "everything converts: {}",
        show(&out)
    );
    let converted = dir.path().join("klaxon.toml");
    std::fs::write(&converted, &out.stdout).expect("write klaxon.toml");
    let server = Serve::start_with(&dir.path().join("data"), Some(&converted));

    post(&server, &ALERTS);
    let give_up = Instant::now() + Duration::from_secs(30);
    while sink.told() != want {
        assert!(
            Instant::now() < give_up,
            "receivers told {:?}, Alertmanager's routing tells {want:?}\nklaxon log:\n{}",
            sink.told(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing else comes: an alert posted last reaches both receivers, and by then neither has
    // been told of anything the original routing does not send it.
    post(&server, &[("Last", "db", "critical")]);
    while !sink.told().values().all(|names| names.contains("Last")) {
        assert!(
            Instant::now() < give_up,
            "the last alert never reached both receivers: {:?}\nklaxon log:\n{}",
            sink.told(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut told = sink.told();
    for names in told.values_mut() {
        names.remove("Last");
    }
    assert_eq!(told, want);
}
