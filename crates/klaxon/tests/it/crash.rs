//! Write-then-signal, proven with `kill -9`: while alerts fire at a high rate, a client follows
//! the alert stream and polls the listing; the server is killed without warning, restarted on
//! the same data directory, and every alert the client had seen must be there, through the API
//! and in the database itself (the SQLite file, or the PostgreSQL schema), with the same
//! process, rule and times.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::Full;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::Method;

use crate::client::Client;
use crate::harness::{Backend, Serve, TempDir};

/// Marks per request; every one fires.
const BATCH: usize = 500;
/// Fire for at least this long before the kill.
const FIRE_FOR: Duration = Duration::from_millis(1500);
/// ... and until the client has seen at least this many alerts.
const MIN_SEEN: usize = 200;

const RULES: &str = r#"{
  "header": {"rule_set": "crash"},
  "rules": [
    {"id": "FIRE-1", "trigger_type": "MARK_EVENT", "action": "FIRE",
     "condition": {"operator": "ON_EVENT"},
     "alert": {"handler": "test", "severity": "high", "throttle_seconds": 0}}
  ]
}"#;

/// What a client learned of one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    process: String,
    rule_id: String,
    signal_ts: String,
    engine_ts: String,
    fingerprint: String,
}

impl Seen {
    fn of(a: &serde_json::Value) -> Option<(i64, Seen)> {
        let s = |k: &str| a.get(k)?.as_str().map(str::to_owned);
        Some((
            a.get("id")?.as_i64()?,
            Seen {
                process: s("process")?,
                rule_id: s("rule_id")?,
                signal_ts: s("signal_ts")?,
                engine_ts: s("engine_ts")?,
                fingerprint: s("fingerprint")?,
            },
        ))
    }
}

/// Every alert id the client saw, from either source; a disagreement between the two is kept.
#[derive(Default)]
struct Ledger {
    seen: BTreeMap<i64, Seen>,
    from_stream: usize,
    from_listing: usize,
    conflicts: Vec<String>,
}

impl Ledger {
    fn record(&mut self, id: i64, s: Seen, via_stream: bool) {
        if via_stream {
            self.from_stream += 1;
        } else {
            self.from_listing += 1;
        }
        if let Some(old) = self.seen.get(&id) {
            if *old != s {
                self.conflicts.push(format!("alert {id}: {old:?} vs {s:?}"));
            }
            return;
        }
        self.seen.insert(id, s);
    }
}

#[test]
fn every_alert_a_client_saw_survives_kill_9() {
    every_alert_survives_kill_9_on(&Backend::Sqlite);
}

#[test]
fn every_alert_a_client_saw_survives_kill_9_on_postgresql() {
    if let Some(pg) = Backend::postgres("crash") {
        every_alert_survives_kill_9_on(&pg);
    }
}

fn every_alert_survives_kill_9_on(backend: &Backend) {
    // PostgreSQL commits each batch of new alerts over a socket, behind the schema's write
    // lock: the first ones show later than on SQLite, so the bounds on time are wider.
    let slack = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres(_) => 2,
    };
    let started = Instant::now();
    let dir = TempDir::new("crash");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .expect("runtime");

    let mut server = Serve::start_on(backend, dir.path(), None);
    let client = server.client();
    rt.block_on(load_rules(&client));

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let sender_done = Arc::new(AtomicBool::new(false));
    let follower = rt.spawn(follow_stream(
        client.clone(),
        Arc::clone(&ledger),
        Arc::clone(&stop),
    ));
    let poller = rt.spawn(poll_listing(
        client.clone(),
        Arc::clone(&ledger),
        Arc::clone(&stop),
    ));
    let sender = rt.spawn(send_fire(
        client.clone(),
        Arc::clone(&stop),
        Arc::clone(&accepted),
        Arc::clone(&sender_done),
        Duration::from_secs(15) * slack,
    ));

    // Fire for a while, and until the client has seen enough, boundedly.
    let firing = Instant::now();
    loop {
        let (seen, both) = {
            let l = ledger.lock().expect("ledger");
            (l.seen.len(), l.from_stream > 0 && l.from_listing > 0)
        };
        if firing.elapsed() >= FIRE_FOR && seen >= MIN_SEEN && both {
            break;
        }
        assert!(
            firing.elapsed() < Duration::from_secs(12) * slack
                && !sender_done.load(Ordering::SeqCst),
            "the client saw only {seen} alerts ({} signals accepted); log:\n{}",
            accepted.load(Ordering::SeqCst),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !sender_done.load(Ordering::SeqCst),
        "the server must be killed while signals are still arriving"
    );
    server.kill_9();
    stop.store(true, Ordering::SeqCst);
    let joined = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), async {
            let sent = sender.await;
            let polled = poller.await;
            follower.abort();
            [sent, polled, follower.await]
        })
        .await
    });
    // A failed assertion inside a task fails the test.
    for j in joined.expect("the client tasks stop once the server is gone") {
        if let Err(e) = j {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    let ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
    assert!(
        ledger.conflicts.is_empty(),
        "stream and listing disagree: {:?}",
        ledger.conflicts
    );
    let seen = ledger.seen;
    assert!(
        seen.len() > 100,
        "only {} alerts seen before the kill",
        seen.len()
    );
    assert!(
        ledger.from_stream > 0 && ledger.from_listing > 0,
        "both the stream ({}) and the listing ({}) saw alerts",
        ledger.from_stream,
        ledger.from_listing
    );

    // Restart on the same data directory: everything seen must be there, unchanged.
    let server = Serve::start_on(backend, dir.path(), None);
    let client = server.client();
    let stored = rt.block_on(all_alerts(&client));
    let mut missing = Vec::new();
    for (id, s) in &seen {
        match stored.get(id) {
            None => missing.push(*id),
            Some(got) => assert_eq!(got, s, "alert {id} changed across the crash"),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} alerts the client saw are gone after kill -9 (first: {:?}); {} stored",
        missing.len(),
        seen.len(),
        &missing[..missing.len().min(10)],
        stored.len()
    );

    // And in the database itself.
    let rows = stored_rows(backend, dir.path());
    for (id, s) in &seen {
        let ms = |t: &str| klaxon_engine::timestamp::parse_ts_str(t).expect("RFC 3339 time");
        let want = (
            s.rule_id.clone(),
            s.process.clone(),
            ms(&s.signal_ts),
            ms(&s.engine_ts),
        );
        assert_eq!(
            rows.get(id),
            Some(&want),
            "alert {id} in the {} database",
            backend.name()
        );
    }
    eprintln!(
        "crash test ({}): {} signals accepted, {} alerts seen ({} stream events, {} listed), {} alerts stored after restart, {:?} in all",
        backend.name(),
        accepted.load(Ordering::SeqCst),
        seen.len(),
        ledger.from_stream,
        ledger.from_listing,
        stored.len(),
        started.elapsed()
    );
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(60) * slack,
        "took {:?}",
        started.elapsed()
    );
}

/// `id → (rule_id, process, signal_ts, engine_ts)` of every alert, read from the database
/// rather than through the server.
fn stored_rows(
    backend: &Backend,
    dir: &std::path::Path,
) -> BTreeMap<i64, (String, String, i64, i64)> {
    const SQL: &str = "SELECT id, rule_id, process, signal_ts, engine_ts FROM alerts";
    match backend {
        Backend::Sqlite => {
            let db = rusqlite::Connection::open_with_flags(
                dir.join("klaxon.sqlite"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .expect("open klaxon.sqlite read-only");
            let mut stmt = db.prepare(SQL).expect("select alerts");
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                })
                .expect("query alerts")
                .collect::<Result<_, _>>()
                .expect("read alerts");
            rows
        }
        Backend::Postgres(pg) => pg
            .run(|db| async move {
                let rows = db.query(SQL, &[]).await?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
                    .collect())
            })
            .expect("read alerts from postgresql"),
    }
}

async fn load_rules(client: &Client) {
    let reply = client
        .post_json("/v1/rulesets?group=crash", RULES)
        .await
        .expect("POST /v1/rulesets");
    assert_eq!(reply.status, 201, "{:?}", reply.error());
    let rec: serde_json::Value = reply.json().expect("record");
    let path = format!(
        "/v1/rulesets/crash/{}/activate?group=crash",
        rec["version"].as_i64().expect("version")
    );
    let reply = client.post_json(&path, "").await.expect("activate");
    assert_eq!(reply.status, 200, "{:?}", reply.error());
}

/// Sends batches of `FIRE` marks as fast as the server takes them, until stopped, the server
/// goes away, or `fire_for` passes.
async fn send_fire(
    client: Client,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    fire_for: Duration,
) {
    // Every mark has a context of its own, so every firing opens a new alert (a repeat would
    // only add an occurrence to an existing one).
    let batch = |n: usize| {
        let mut body = String::new();
        for i in 0..BATCH {
            body.push_str(&format!(
                "{{\"kind\":\"mark\",\"process\":\"crash-{}\",\"group\":\"crash\",\"action\":\"FIRE\",\"context\":\"c{n}-{i}\"}}\n",
                i % 50
            ));
        }
        Bytes::from(body)
    };
    let mut n = 0;
    let give_up = Instant::now() + fire_for;
    while !stop.load(Ordering::SeqCst) && Instant::now() < give_up {
        n += 1;
        match client
            .call(
                Method::POST,
                "/v1/signals",
                Some("application/x-ndjson"),
                batch(n),
            )
            .await
        {
            Ok(r) if r.status == 200 => {
                let ack: serde_json::Value = r.json().expect("ack");
                accepted.fetch_add(ack["accepted"].as_u64().unwrap_or(0), Ordering::SeqCst);
            }
            Ok(r) if r.status == 429 => {
                let wait = r.retry_after().unwrap_or(Duration::from_secs(1));
                tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
            }
            Ok(r) => panic!("POST /v1/signals: {}", r.error()),
            // The server was killed mid-request.
            Err(_) => break,
        }
    }
    done.store(true, Ordering::SeqCst);
}

/// Follows `GET /v1/alerts/stream` from the first alert and records every alert event.
async fn follow_stream(client: Client, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let req = client
        .request(Method::GET, client.uri("/v1/alerts/stream").expect("uri"))
        .header(ACCEPT, "text/event-stream")
        .header("last-event-id", "0")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let Ok(resp) = client.execute(req).await else {
        return;
    };
    assert_eq!(resp.status(), 200);
    assert!(resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    let mut body = resp.into_body();
    let mut buf = String::new();
    while !stop.load(Ordering::SeqCst) {
        let Some(Ok(frame)) = body.frame().await else {
            return;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            if let Some((id, s)) = parse_event(&event) {
                ledger.lock().expect("ledger").record(id, s, true);
            }
        }
    }
}

/// An SSE `alert` event as `(id, what it says)`; comments and other events give `None`.
fn parse_event(event: &str) -> Option<(i64, Seen)> {
    let (mut id, mut kind, mut data) = (None, None, String::new());
    for line in event.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = value.parse::<i64>().ok(),
            "event" => kind = Some(value.to_owned()),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    if kind.as_deref() != Some("alert") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&data).expect("alert event data is JSON");
    let (data_id, s) = Seen::of(&v).expect("alert event has the alert's fields");
    assert_eq!(id, Some(data_id), "event id is the alert id");
    Some((data_id, s))
}

/// Polls `GET /v1/alerts?after_id=` and records every alert listed.
async fn poll_listing(client: Client, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let mut after = 0_i64;
    while !stop.load(Ordering::SeqCst) {
        let Ok(reply) = client
            .get(&format!("/v1/alerts?after_id={after}&limit=1000"))
            .await
        else {
            return;
        };
        assert_eq!(reply.status, 200, "{:?}", reply.error());
        let page: serde_json::Value = reply.json().expect("alert page");
        let alerts = page["alerts"].as_array().expect("alerts");
        {
            let mut l = ledger.lock().expect("ledger");
            for a in alerts {
                let (id, s) = Seen::of(a).expect("alert fields");
                assert!(id > after, "ascending after after_id");
                after = id;
                l.record(id, s, false);
            }
        }
        if alerts.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Every stored alert, read through the API in ascending pages.
async fn all_alerts(client: &Client) -> BTreeMap<i64, Seen> {
    let mut out = BTreeMap::new();
    let mut after = 0_i64;
    loop {
        let reply = client
            .get(&format!("/v1/alerts?after_id={after}&limit=1000"))
            .await
            .expect("GET /v1/alerts");
        assert_eq!(reply.status, 200, "{:?}", reply.error());
        let page: serde_json::Value = reply.json().expect("alert page");
        let alerts = page["alerts"].as_array().expect("alerts");
        if alerts.is_empty() {
            return out;
        }
        for a in alerts {
            let (id, s) = Seen::of(a).expect("alert fields");
            after = after.max(id);
            out.insert(id, s);
        }
    }
}
