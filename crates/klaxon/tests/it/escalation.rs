//! Escalation timers survive kill -9: an alert follows a policy that pages alice at once and
//! bob 4 s later. The server is killed without warning after alice's page and before bob's
//! level comes due, and restarted on the same data directory after it came due. Bob must be
//! paged when the server starts, exactly once, and alice never again (a notification sent
//! twice may only be a re-send of the same outbox row, with the same idempotency key). The
//! alert's SLA target (acknowledged within 3 s) passed while the server was down too: the
//! breach is told once when it starts. The same holds for an incident of two correlated
//! alerts, which escalates as one: one page per level, none twice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::client;
use crate::harness::{get, Backend, Serve, TempDir};

const CONFIG: &str = r#"
[collector]
enabled = false

[route]
receiver = "ops"
group_wait = "0s"
escalation_policy = "critical"

[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "http://ADDR/ops"
[[receivers.webhook_configs]]
url = "http://ADDR/notices"
body = '{"notice": {{ notice }}}'

[[users]]
name = "alice"
contacts = [{ kind = "webhook", url = "http://ADDR/alice" }]

[[users]]
name = "bob"
contacts = [{ kind = "webhook", url = "http://ADDR/bob" }]

[[escalation_policies]]
name = "critical"
[[escalation_policies.levels]]
wait = "0s"
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "4s"
notify = ["user:bob"]

[sla]
critical = { acknowledge = "3s" }
"#;

/// The second level's wait in [`CONFIG`].
const SECOND_LEVEL: Duration = Duration::from_secs(4);

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    key: String,
    body: Value,
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

    fn pages(&self, path: &str) -> Vec<Got> {
        self.got()
            .into_iter()
            .filter(|g| g.path == path && g.body["kind"] == "escalated")
            .collect()
    }

    fn until(&self, what: &str, pred: impl Fn(&Sink) -> bool) {
        let give_up = Instant::now() + Duration::from_secs(30);
        while !pred(self) {
            assert!(Instant::now() < give_up, "never {what}: {:#?}", self.got());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(conn: TcpStream, keep: &Mutex<Vec<Got>>) {
    let mut out = conn.try_clone().expect("clone the connection");
    let mut r = BufReader::new(conn);
    loop {
        let (mut length, mut key) = (0usize, String::new());
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
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        keep.lock()
            .expect("receiver lock")
            .push(Got { path, key, body });
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn fire(server: &Serve, name: &str) {
    let body = Bytes::from(
        serde_json::json!([{"labels": {"alertname": name, "severity": "critical"}}]).to_string(),
    );
    let reply = client::runtime()
        .expect("runtime")
        .block_on(server.client().call(
            Method::POST,
            "/api/v2/alerts",
            Some("application/json"),
            body,
        ))
        .expect("post alerts");
    assert_eq!(reply.status.as_u16(), 200);
}

/// Waits until the outbox has nothing left to send.
fn settled(server: &Serve) {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, d) = get(&server.addr, "/alerts/metrics/delivery");
        let c = &d["channels"]["webhook"];
        if c["pending"] == 0 && c["retrying"] == 0 {
            return;
        }
        assert!(Instant::now() < give_up, "the outbox never settled: {d}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_level_due_while_the_server_was_down_pages_once_when_it_starts() {
    a_level_due_while_down_pages_once_on(&Backend::Sqlite);
}

#[test]
fn a_level_due_while_the_server_was_down_pages_once_when_it_starts_on_postgresql() {
    if let Some(pg) = Backend::postgres("escalation") {
        a_level_due_while_down_pages_once_on(&pg);
    }
}

fn a_level_due_while_down_pages_once_on(backend: &Backend) {
    let sink = Sink::start();
    let dir = TempDir::new("escalation");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, CONFIG.replace("ADDR", &sink.addr)).expect("write config");
    let mut server = Serve::start_on(backend, dir.path(), Some(&config));

    let fired = Instant::now();
    fire(&server, "DiskFull");
    sink.until("alice's page", |s| !s.pages("/alice").is_empty());
    assert!(
        sink.pages("/bob").is_empty(),
        "bob is paged only after the wait"
    );
    server.kill_9();
    assert!(
        fired.elapsed() < SECOND_LEVEL,
        "the kill came after the second level was due; the machine is too slow for this test"
    );
    // Down until the second level is due.
    std::thread::sleep(SECOND_LEVEL.saturating_sub(fired.elapsed()) + Duration::from_millis(500));

    let server = Serve::start_on(backend, dir.path(), Some(&config));
    sink.until("bob's page after the restart", |s| {
        !s.pages("/bob").is_empty()
    });
    // A later alert's first page is told after everything before it.
    fire(&server, "Later");
    sink.until("the later alert's page", |s| {
        s.pages("/alice")
            .iter()
            .any(|g| g.body["alerts"][0]["labels"]["alertname"] == "Later")
    });
    settled(&server);

    let bob = sink.pages("/bob");
    assert_eq!(bob.len(), 1, "bob paged exactly once: {bob:#?}");
    let page = &bob[0].body;
    assert_eq!(page["alerts"][0]["labels"]["alertname"], "DiskFull");
    assert_eq!(page["escalation"]["level"], 2, "{page}");
    assert_eq!(page["escalation"]["target"], "user:bob", "{page}");
    assert_eq!(
        page["escalation"]["reason"], "nobody acknowledged within 4s",
        "{page}"
    );
    let alice: Vec<Got> = sink
        .pages("/alice")
        .into_iter()
        .filter(|g| g.body["alerts"][0]["labels"]["alertname"] == "DiskFull")
        .collect();
    assert!(
        alice.iter().all(|g| g.key == alice[0].key),
        "alice was paged again in a new notification after the restart: {alice:#?}"
    );
    assert_eq!(alice[0].body["escalation"]["reason"], "escalation started");

    let breaches: Vec<Got> = sink
        .got()
        .into_iter()
        .filter(|g| {
            g.path == "/notices"
                && g.body["notice"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("SLA breached: DiskFull "))
        })
        .collect();
    assert_eq!(breaches.len(), 1, "the breach told once: {breaches:#?}");
    assert_eq!(
        breaches[0].body["notice"],
        "SLA breached: DiskFull (critical) was not acknowledged within 3s"
    );
}

#[test]
fn an_incidents_level_due_while_the_server_was_down_pages_once_when_it_starts() {
    let sink = Sink::start();
    let dir = TempDir::new("escalation-incident");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, CONFIG.replace("ADDR", &sink.addr)).expect("write config");
    let mut server = Serve::start_with(dir.path(), Some(&config));

    let fired = Instant::now();
    // Two alerts of one service instance in one request: one incident.
    let alerts: Vec<Value> = ["PgDown", "HighErrorRate"]
        .iter()
        .map(|name| {
            serde_json::json!({
                "labels": {"alertname": name, "severity": "critical", "service": "orders-api", "cluster": "euw1"},
                "annotations": {"summary": "orders-api database connection refused"},
            })
        })
        .collect();
    let reply = client::runtime()
        .expect("runtime")
        .block_on(server.client().call(
            Method::POST,
            "/api/v2/alerts",
            Some("application/json"),
            Bytes::from(Value::Array(alerts).to_string()),
        ))
        .expect("post alerts");
    assert_eq!(reply.status.as_u16(), 200);
    sink.until("alice's page", |s| !s.pages("/alice").is_empty());
    server.kill_9();
    assert!(
        fired.elapsed() < SECOND_LEVEL,
        "the kill came after the second level was due; the machine is too slow for this test"
    );
    std::thread::sleep(SECOND_LEVEL.saturating_sub(fired.elapsed()) + Duration::from_millis(500));

    let server = Serve::start_with(dir.path(), Some(&config));
    sink.until("bob's page after the restart", |s| {
        !s.pages("/bob").is_empty()
    });
    settled(&server);

    let alice = sink.pages("/alice");
    let incident = &alice[0].body["escalation"]["incident"];
    assert!(
        incident.is_i64(),
        "the page carries the incident: {alice:#?}"
    );
    assert!(
        alice.iter().all(|g| g.key == alice[0].key),
        "alice was paged more than once: {alice:#?}"
    );
    let bob = sink.pages("/bob");
    assert_eq!(bob.len(), 1, "bob paged exactly once: {bob:#?}");
    assert_eq!(bob[0].body["escalation"]["incident"], *incident, "{bob:#?}");
    assert_eq!(bob[0].body["escalation"]["level"], 2);
}
