//! Rate-limit holds and summaries survive kill -9: a receiver limited to one notification
//! every 5 s gets an alert at once, three more folded into a summary, then a fifth is held;
//! the server is killed without warning and restarted on the same data directory. The
//! receiver must never hear again of an alert a summary told (a notification sent twice may
//! only be a re-send of the same row, with the same idempotency key), and the hold must come
//! back with its place in the budget: not sent at the restart, but when its token is due.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::client;
use crate::harness::{get, Backend, Serve, TempDir};

/// One token every 5 s, none saved up beyond one.
const CONFIG: &str = r#"
[collector]
enabled = false

[route]
receiver = "chat"
group_by = ["..."]
group_wait = "0s"
group_interval = "0s"

[[receivers]]
name = "chat"
rate_limit = { per_minute = 12, burst = 1 }
[[receivers.webhook_configs]]
url = "http://ADDR/chat"
"#;

/// The token interval of [`CONFIG`].
const TOKEN_EVERY: Duration = Duration::from_secs(5);

/// One notification the receiver got.
#[derive(Debug, Clone)]
struct Got {
    at: Instant,
    key: String,
    names: Vec<String>,
}

/// A webhook receiver on 127.0.0.1 that answers 200 to everything and keeps what it got.
struct Sink {
    addr: String,
    got: Arc<Mutex<Vec<Got>>>,
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
                std::thread::spawn(move || serve(conn, &keep));
            }
        });
        Sink { addr, got }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().expect("receiver lock").clone()
    }

    /// Polls until `pred` holds on what arrived (bounded).
    fn until(&self, what: &str, pred: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.got();
            if pred(&got) {
                return got;
            }
            assert!(Instant::now() < give_up, "never {what}: {got:#?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Serves one keep-alive connection: each request's idempotency key and alert names kept.
fn serve(conn: TcpStream, keep: &Mutex<Vec<Got>>) {
    let mut out = conn.try_clone().expect("clone the connection");
    let mut r = BufReader::new(conn);
    loop {
        let (mut length, mut key) = (0usize, String::new());
        let mut line = String::new();
        if r.read_line(&mut line).map_or(true, |n| n == 0) {
            return;
        }
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
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "idempotency-key" => v.trim().clone_into(&mut key),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let names = v["alerts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["labels"]["alertname"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        keep.lock().expect("receiver lock").push(Got {
            at: Instant::now(),
            key,
            names,
        });
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

/// Alertmanager alerts with these names, through the API.
fn fire(server: &Serve, names: &[&str]) {
    let alerts: Vec<Value> = names
        .iter()
        .map(|n| serde_json::json!({"labels": {"alertname": n}}))
        .collect();
    let body = Bytes::from(Value::Array(alerts).to_string());
    let reply = client::runtime()
        .expect("runtime")
        .block_on(server.client().call(
            Method::POST,
            "/api/v2/alerts",
            Some("application/json"),
            body,
        ))
        .expect("post alerts");
    assert_eq!(reply.status.as_u16(), 200, "{names:?}");
}

/// When `name` first arrived.
fn first_of(got: &[Got], name: &str) -> Option<Instant> {
    got.iter()
        .find(|g| g.names.iter().any(|n| n == name))
        .map(|g| g.at)
}

fn told(got: &[Got], name: &str) -> bool {
    first_of(got, name).is_some()
}

#[test]
fn a_rate_limits_summary_is_not_told_again_and_a_hold_keeps_its_place_after_kill_9() {
    holds_survive_kill_9_on(&Backend::Sqlite);
}

#[test]
fn a_rate_limits_summary_is_not_told_again_and_a_hold_keeps_its_place_after_kill_9_on_postgresql() {
    if let Some(pg) = Backend::postgres("holds") {
        holds_survive_kill_9_on(&pg);
    }
}

fn holds_survive_kill_9_on(backend: &Backend) {
    let sink = Sink::start();
    let dir = TempDir::new("holds");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, CONFIG.replace("ADDR", &sink.addr)).expect("write config");
    let mut server = Serve::start_on(backend, dir.path(), Some(&config));

    fire(&server, &["First"]);
    sink.until("the first alert", |g| told(g, "First"));
    fire(&server, &["Folded1", "Folded2", "Folded3"]);
    let got = sink.until("the summary", |g| told(g, "Folded3"));
    let summary_at = first_of(&got, "Folded1").expect("summary");
    assert!(
        got.iter()
            .any(|g| g.names.len() == 3 && g.names.iter().all(|n| n.starts_with("Folded"))),
        "one summary of the three: {got:#?}"
    );

    // A fifth finds the bucket empty: held, and recorded as held, before the kill.
    fire(&server, &["Held"]);
    let (_, list) = get(&server.addr, "/v1/alerts?limit=100");
    let id = list["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["labels"]["alertname"] == "Held"))
        .and_then(|a| a["id"].as_i64())
        .expect("the held alert");
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, a) = get(&server.addr, &format!("/alerts/{id}"));
        let limited = a["notifications"]
            .as_array()
            .is_some_and(|n| n.iter().any(|r| r["status"] == "limited"));
        if limited {
            break;
        }
        assert!(Instant::now() < give_up, "the hold was never recorded: {a}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !told(&sink.got(), "Held"),
        "held, not sent: {:#?}",
        sink.got()
    );
    server.kill_9();
    let before_kill = sink.got().len();

    let server = Serve::start_on(backend, dir.path(), Some(&config));
    // Behind the hold: it goes out with it, once the token is due.
    fire(&server, &["AfterRestart"]);
    let got = sink.until("the alert fired after the restart", |g| {
        told(g, "AfterRestart")
    });
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, d) = get(&server.addr, "/alerts/metrics/delivery");
        let c = &d["channels"]["webhook"];
        if c["pending"] == 0 && c["retrying"] == 0 {
            break;
        }
        assert!(Instant::now() < give_up, "the outbox never settled: {d}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = if got.len() < sink.got().len() {
        sink.got()
    } else {
        got
    };

    // Every alert was told; one told twice was a re-send of the same row.
    for name in [
        "First",
        "Folded1",
        "Folded2",
        "Folded3",
        "Held",
        "AfterRestart",
    ] {
        let keys: Vec<&str> = got
            .iter()
            .filter(|g| g.names.iter().any(|n| n == name))
            .map(|g| g.key.as_str())
            .collect();
        assert!(!keys.is_empty(), "{name} was never told: {got:#?}");
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "{name} was told again in a new notification after the restart: {keys:?}; {got:#?}"
        );
    }
    let held_at = first_of(&got, "Held").expect("held told");
    assert!(
        held_at >= summary_at + TOKEN_EVERY - Duration::from_millis(500),
        "the hold went out {:?} after the summary, before its token ({TOKEN_EVERY:?}); \
         {before_kill} notifications before the kill: {got:#?}",
        held_at - summary_at
    );
}
