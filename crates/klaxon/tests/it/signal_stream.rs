//! Signals through NATS JetStream (`[cluster] nats`), against the real NATS server at
//! `KLAXON_TEST_NATS_URL` (default `nats://127.0.0.1:4222`, JetStream on), each test with a
//! stream of its own, deleted afterwards; skipped, saying why, when NATS does not answer
//! (a failure instead with `KLAXON_REQUIRE_PEERS`). Real `klaxon serve` processes: the same
//! alerts as without the stream; a batch answered before `kill -9` has its alerts after the
//! restart; the engine's state rebuilt by replay (a run's duration across a restart, a timer
//! armed before it that fires once after it); a publisher with no server of its own; NATS
//! unreachable is 503 with Retry-After.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::client::{self, Client};
use crate::harness::{free_port, get, Serve, TempDir};

/// The NATS server of the tests.
fn nats_url() -> String {
    std::env::var("KLAXON_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// A stream of the test's own on the test NATS server, deleted when dropped.
pub(crate) struct TestStream {
    pub(crate) url: String,
    pub(crate) stream: String,
    pub(crate) subject: String,
}

impl TestStream {
    /// A fresh stream name and subject, or none (the reason printed) when NATS does not answer.
    pub(crate) fn new(tag: &str) -> Option<TestStream> {
        let url = nats_url();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let id = format!("{tag}_{}_{nanos}", std::process::id());
        let s = TestStream {
            url,
            stream: format!("KLAXON_IT_{id}"),
            subject: format!("klaxon.it.{id}"),
        };
        match s.js(|_| async { Ok(()) }) {
            Ok(()) => Some(s),
            Err(why) => {
                assert!(
                    std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
                    "KLAXON_REQUIRE_PEERS is set but {why}"
                );
                eprintln!("skipped: {why} (set KLAXON_TEST_NATS_URL)");
                None
            }
        }
    }

    /// Runs `f` with a JetStream context, on a runtime of its own.
    fn js<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(async_nats::jetstream::Context) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let rt = client::runtime().map_err(|e| e.to_string())?;
        let url = self.url.clone();
        rt.block_on(async move {
            let connecting = async_nats::connect(&url);
            let nats = match tokio::time::timeout(Duration::from_secs(3), connecting).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => return Err(format!("cannot connect to NATS at {url}: {e}")),
                Err(_) => return Err(format!("connecting to NATS at {url} timed out")),
            };
            let info = nats
                .request("$JS.API.INFO", Bytes::new())
                .await
                .map_err(|e| format!("NATS at {url} has no JetStream: {e}"))?;
            let info: Value = serde_json::from_slice(&info.payload).unwrap_or(Value::Null);
            if info.get("error").is_some() || info.is_null() {
                return Err(format!("NATS at {url} has no JetStream: {info}"));
            }
            f(async_nats::jetstream::new(nats)).await
        })
    }

    /// A configuration file in `dir` with `[cluster]` pointing at this stream.
    fn config(&self, dir: &Path) -> PathBuf {
        let path = dir.join("cluster.toml");
        let text = format!(
            "[cluster]\nnats = \"{}\"\nnats_stream = \"{}\"\nnats_subject = \"{}\"\nnats_publish_timeout = \"3s\"\n",
            self.url, self.stream, self.subject
        );
        std::fs::write(&path, text).expect("write the configuration");
        path
    }

    /// The durable consumer's acknowledged stream sequence and the stream's last one.
    fn positions(&self) -> (u64, u64) {
        let stream = self.stream.clone();
        self.js(|js| async move {
            let mut s = js.get_stream(&stream).await.map_err(|e| e.to_string())?;
            let last = s
                .info()
                .await
                .map_err(|e| e.to_string())?
                .state
                .last_sequence;
            let floor = match s.consumer_info("klaxon-engine").await {
                Ok(i) => i.ack_floor.stream_sequence,
                Err(_) => 0,
            };
            Ok((floor, last))
        })
        .expect("stream positions")
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let stream = self.stream.clone();
        if let Err(e) = self.js(|js| async move {
            js.delete_stream(&stream).await.map_err(|e| e.to_string())?;
            Ok(())
        }) {
            eprintln!("deleting stream {}: {e}", self.stream);
        }
    }
}

/// Event rules whose alerts say what the engine's state was: marks, a trace's duration, a
/// run's duration from its start to its stop, and a timer on an open run.
const RULES: &str = r#"{
  "header": {"rule_set": "stream"},
  "rules": [
    {"id": "MARK", "trigger_type": "MARK_EVENT", "action": "FIRE",
     "condition": {"operator": "ON_EVENT"}, "alert": {"handler": "h", "severity": "high"}},
    {"id": "SECOND", "trigger_type": "MARK_EVENT", "action": "STEP",
     "condition": {"operator": "MAX_OCCURRENCE", "value": 1}, "alert": {"handler": "h"}},
    {"id": "SLOW-TRACE", "trigger_type": "TRACE_STOP", "action": "LOAD",
     "condition": {"operator": "MAX_DURATION_MS", "value": 500}, "alert": {"handler": "h"}},
    {"id": "LONG-RUN", "trigger_type": "PROCESS_STOP", "action": "job",
     "condition": {"operator": "MAX_RUNTIME_EXCEEDED", "value": 2000}, "alert": {"handler": "h"}},
    {"id": "STILL-OPEN", "trigger_type": "PROCESS_START", "action": "slow",
     "condition": {"operator": "RUNTIME_EXCEEDED", "value": 4000}, "alert": {"handler": "h"}},
    {"id": "LOG", "trigger_type": "LOGGING",
     "condition": {"operator": "LOG_CONTAINS", "value": "ERROR|declined"}, "alert": {"handler": "h"}}
  ]
}"#;

/// POSTs `body` as JSON on a runtime of its own (a pooled connection stays with its runtime).
fn call(client: &Client, path: &str, body: &str) -> client::Reply {
    post(client, path, "application/json", body)
}

fn post(client: &Client, path: &str, content_type: &str, body: &str) -> client::Reply {
    client::runtime()
        .expect("runtime")
        .block_on(client.call(
            hyper::Method::POST,
            path,
            Some(content_type),
            Bytes::from(body.to_owned()),
        ))
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

fn load_rules(server: &Serve) {
    let client = server.client();
    let reply = call(&client, "/v1/rulesets?group=stream", RULES);
    assert_eq!(reply.status, 201, "{:?}", reply.error());
    let rec: Value = reply.json().expect("record");
    let path = format!(
        "/v1/rulesets/stream/{}/activate?group=stream",
        rec["version"].as_i64().expect("version")
    );
    let reply = call(&client, &path, "");
    assert_eq!(reply.status, 200, "{:?}", reply.error());
}

/// Posts signals as a JSON array; the status.
fn post_signals(server: &Serve, signals: &[Value]) -> client::Reply {
    call(
        &server.client(),
        "/v1/signals",
        &Value::from(signals.to_vec()).to_string(),
    )
}

/// Every stored alert as (rule, process, context or message, signal time).
fn alerts(server: &Serve) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = get(
            &server.addr,
            &format!("/v1/alerts?after_id={after}&limit=1000"),
        );
        assert_eq!(status, 200, "{page}");
        let list = page["alerts"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            return out;
        }
        after = list.last().and_then(|a| a["id"].as_i64()).expect("id");
        out.extend(list);
    }
}

fn key(a: &Value) -> (String, String, String, u64) {
    (
        a["rule_id"].as_str().unwrap_or_default().to_owned(),
        a["process"].as_str().unwrap_or_default().to_owned(),
        a["signal_ts"].as_str().unwrap_or_default().to_owned(),
        a["occurrences"].as_u64().unwrap_or(0),
    )
}

/// Waits (bounded) until `done` holds of the stored alerts; returns them.
fn wait_alerts(server: &Serve, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let list = alerts(server);
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < give_up,
            "never {what}; alerts: {list:#?}\nlog:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn now_ms() -> i64 {
    klaxon_server::wall_ms()
}

/// The signals of the comparison: marks, a slow trace, a long run, each with its own time.
fn workload(t0: i64) -> Vec<Value> {
    let mut s = vec![
        json!({"kind": "process_start", "process": "run-1", "name": "job", "ts": t0}),
        json!({"kind": "trace_start", "process": "run-1", "action": "LOAD", "ts": t0 + 10}),
        json!({"kind": "trace_stop", "process": "run-1", "action": "LOAD", "ts": t0 + 900}),
        json!({"kind": "trace_start", "process": "run-1", "action": "LOAD", "ts": t0 + 1000}),
        json!({"kind": "trace_stop", "process": "run-1", "action": "LOAD", "ts": t0 + 1100}),
        json!({"kind": "process_stop", "process": "run-1", "ts": t0 + 2500}),
        json!({"kind": "process_start", "process": "run-2", "name": "job", "ts": t0}),
        json!({"kind": "process_stop", "process": "run-2", "ts": t0 + 1000}),
    ];
    for i in 0..20 {
        s.push(
            json!({"kind": "mark", "process": format!("m-{i}"), "action": "FIRE", "ts": t0 + i}),
        );
        s.push(json!({"kind": "mark", "process": "steps", "action": "STEP", "ts": t0 + i}));
    }
    s
}

/// What the workload fires, the same with the stream as without it.
fn fired(list: &[Value]) -> BTreeSet<(String, String, String, u64)> {
    list.iter().map(key).collect()
}

#[test]
fn signals_through_the_stream_fire_the_alerts_they_fire_without_it() {
    let Some(stream) = TestStream::new("same") else {
        return;
    };
    let (plain_dir, stream_dir) = (TempDir::new("plain"), TempDir::new("streamed"));
    let plain = Serve::start(plain_dir.path());
    let config = stream.config(stream_dir.path());
    let streamed = Serve::start_with(stream_dir.path(), Some(&config));
    load_rules(&plain);
    load_rules(&streamed);
    let t0 = now_ms() - 60_000;
    let signals = workload(t0);
    // Every ingest route: a JSON array, NDJSON, a process endpoint, OTLP/HTTP (JSON).
    let ndjson = [
        json!({"kind": "mark", "process": "nd-1", "action": "FIRE", "ts": t0 + 100}),
        json!({"kind": "mark", "process": "nd-2", "action": "FIRE", "ts": t0 + 101}),
    ]
    .iter()
    .map(|v| format!("{v}\n"))
    .collect::<String>();
    let t_ns = (t0 + 200) * 1_000_000;
    let otlp = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"logRecords": [
            {"timeUnixNano": t_ns.to_string(), "severityNumber": 17, "severityText": "ERROR",
             "body": {"stringValue": "Payment declined for order 7"}}
        ]}]
    }]});
    for s in [&plain, &streamed] {
        let reply = post_signals(s, &signals);
        assert_eq!(reply.status, 200, "{:?}", reply.error());
        let body: Value = reply.json().expect("answer");
        assert_eq!(body["accepted"], signals.len(), "{body}");
        let client = s.client();
        let reply = post(&client, "/v1/signals", "application/x-ndjson", &ndjson);
        assert_eq!(reply.status, 200, "{:?}", reply.error());
        let mark = json!({"action": "FIRE", "ts": t0 + 150}).to_string();
        let reply = call(&client, "/v1/processes/conv-1/marks", &mark);
        assert_eq!(reply.status, 200, "{:?}", reply.error());
        let reply = call(&client, "/v1/logs", &otlp.to_string());
        assert_eq!(reply.status, 200, "{:?}", reply.error());
    }
    // 20 marks, 19 steps past the first, one slow trace, one long run, two NDJSON marks, one
    // mark through a process endpoint, one OTLP log.
    let expected = 20 + 19 + 1 + 1 + 2 + 1 + 1;
    let count = |l: &[Value]| {
        l.iter()
            .map(|a| a["occurrences"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let without = wait_alerts(&plain, "fired without the stream", |l| count(l) >= expected);
    let with = wait_alerts(&streamed, "fired through the stream", |l| {
        count(l) >= expected
    });
    assert_eq!(fired(&with), fired(&without));
    let (floor, last) = stream.positions();
    assert_eq!(last, 4, "each request is one message of the stream");
    let give_up = Instant::now() + Duration::from_secs(10);
    let mut floor = floor;
    while floor < last {
        assert!(
            Instant::now() < give_up,
            "the batches were never acknowledged"
        );
        std::thread::sleep(Duration::from_millis(50));
        floor = stream.positions().0;
    }
}

#[test]
fn a_batch_published_without_a_server_is_evaluated_by_the_node_that_consumes() {
    let Some(stream) = TestStream::new("follower") else {
        return;
    };
    let dir = TempDir::new("consumer");
    let config = stream.config(dir.path());
    let server = Serve::start_with(dir.path(), Some(&config));
    load_rules(&server);
    // A node that runs no engine: nothing but a publisher over its own connection.
    let settings = klaxon_server::jetstream::StreamSettings {
        stream: stream.stream.clone(),
        subject: stream.subject.clone(),
        max_age: Duration::from_secs(3600),
        max_bytes: 1 << 30,
        replicas: 1,
        publish_timeout: Duration::from_secs(3),
    };
    let signals = (0..3)
        .map(|i| {
            klaxon_engine::wire::parse_signal(
                &json!({"kind": "mark", "process": format!("f-{i}"), "action": "FIRE"}).to_string(),
            )
            .expect("signal")
        })
        .collect();
    let accepted_ms = now_ms();
    let seq = client::runtime()
        .expect("runtime")
        .block_on(async {
            let p = klaxon_server::jetstream::Publisher::connect(&stream.url, settings).await?;
            p.publish(&klaxon_server::jetstream::SignalBatch {
                signals,
                accepted_ms,
                in_time: false,
            })
            .await
        })
        .expect("published");
    assert!(seq >= 1);
    let list = wait_alerts(&server, "fired the published marks", |l| l.len() >= 3);
    let processes: BTreeSet<&str> = list.iter().filter_map(|a| a["process"].as_str()).collect();
    assert_eq!(processes, BTreeSet::from(["f-0", "f-1", "f-2"]));
    // Marks sent without a time take the time the batch was accepted.
    for a in &list {
        let ts =
            klaxon_engine::timestamp::parse_ts_str(a["signal_ts"].as_str().unwrap_or_default());
        assert_eq!(ts.ok(), Some(accepted_ms), "{a}");
    }
}

#[test]
fn a_batch_answered_before_kill_9_has_its_alerts_after_the_restart() {
    let Some(stream) = TestStream::new("kill") else {
        return;
    };
    let dir = TempDir::new("stream-kill");
    let config = stream.config(dir.path());
    let mut server = Serve::start_with(dir.path(), Some(&config));
    load_rules(&server);
    // Each mark a process of its own: each fires an alert of its own.
    let n = 3000;
    let t0 = now_ms();
    let batch: Vec<Value> = (0..n)
        .map(|i| json!({"kind": "mark", "process": format!("k-{i}"), "action": "FIRE", "ts": t0 + i}))
        .collect();
    let reply = post_signals(&server, &batch);
    assert_eq!(reply.status, 200, "{:?}", reply.error());
    // Killed at once, before the consumer is likely to have committed the batch's alerts.
    server.kill_9();
    let before = stream.positions();
    let server = Serve::start_with(dir.path(), Some(&config));
    let list = wait_alerts(&server, "had every alert of the answered batch", |l| {
        l.len() >= n as usize
    });
    let processes: BTreeSet<&str> = list.iter().filter_map(|a| a["process"].as_str()).collect();
    assert_eq!(
        processes.len(),
        n as usize,
        "one alert per mark, none twice"
    );
    eprintln!(
        "acknowledged/last sequence at the kill: {before:?}; alerts after the restart: {}",
        list.len()
    );
}

/// The text of the server's metrics.
fn metric(server: &Serve, name: &str) -> Option<f64> {
    let (_, text) = crate::harness::request(
        &server.addr,
        "GET",
        "/monitoring/prometheus",
        Some(crate::harness::TOKEN),
    )?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} "))?.trim().parse().ok())
}

#[test]
fn the_engine_state_is_rebuilt_by_replay_across_a_restart() {
    let Some(stream) = TestStream::new("replay") else {
        return;
    };
    let dir = TempDir::new("stream-replay");
    let config = stream.config(dir.path());
    let mut server = Serve::start_with(dir.path(), Some(&config));
    load_rules(&server);
    let t0 = now_ms();
    // A run that ends after the restart, 3 s after its start; a run whose 4 s timer comes due
    // after the restart.
    let signals = [
        json!({"kind": "process_start", "process": "across", "name": "job", "ts": t0}),
        json!({"kind": "process_start", "process": "open", "name": "slow", "ts": t0}),
        json!({"kind": "mark", "process": "before", "action": "FIRE", "ts": t0}),
    ];
    let reply = post_signals(&server, &signals);
    assert_eq!(reply.status, 200, "{:?}", reply.error());
    wait_alerts(&server, "fired the mark before the restart", |l| {
        l.len() == 1
    });
    // The batch is acknowledged (committed): after the restart it is replayed, not applied.
    let give_up = Instant::now() + Duration::from_secs(10);
    while stream.positions().0 < 1 {
        assert!(Instant::now() < give_up, "never acknowledged");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill_9();
    let server = Serve::start_with(dir.path(), Some(&config));
    let give_up = Instant::now() + Duration::from_secs(10);
    while metric(&server, "klaxon_stream_replayed_batches") != Some(1.0)
        || !server
            .log()
            .contains("engine state rebuilt from the signal stream")
    {
        assert!(
            Instant::now() < give_up,
            "no replay reported; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metric(&server, "klaxon_stream_replay_truncated"), Some(0.0));
    assert!(
        server
            .log()
            .contains("engine state rebuilt from the signal stream"),
        "{}",
        server.log()
    );
    // The stop 3 s after the start: the run's duration is known only from the replayed start.
    let stop = [json!({"kind": "process_stop", "process": "across", "ts": t0 + 3000})];
    let reply = post_signals(&server, &stop);
    assert_eq!(reply.status, 200, "{:?}", reply.error());
    let list = wait_alerts(&server, "fired the run's duration and the timer", |l| {
        let rules: BTreeSet<&str> = l.iter().filter_map(|a| a["rule_id"].as_str()).collect();
        rules.contains("LONG-RUN") && rules.contains("STILL-OPEN")
    });
    // The timer fired once: a mark sent after it fired is committed after it, and by then
    // the timer's alert is still one, once.
    let after = [json!({"kind": "mark", "process": "after", "action": "FIRE"})];
    assert_eq!(post_signals(&server, &after).status, 200);
    let list2 = wait_alerts(&server, "fired the mark after the timer", |l| {
        l.iter().any(|a| a["process"] == "after")
    });
    for l in [&list, &list2] {
        let timers: Vec<&Value> = l.iter().filter(|a| a["rule_id"] == "STILL-OPEN").collect();
        assert_eq!(timers.len(), 1, "{timers:#?}");
        assert_eq!(timers[0]["occurrences"], 1, "{timers:#?}");
        assert_eq!(timers[0]["process"], "open");
        let marks = l.iter().filter(|a| a["process"] == "before").count();
        assert_eq!(
            marks, 1,
            "the mark before the restart was not applied again"
        );
    }
    assert_eq!(
        list2.iter().filter(|a| a["rule_id"] == "LONG-RUN").count(),
        1
    );
    // Two more restarts, the second before anything new was acknowledged: each rebuilds from
    // the whole window, and nothing fires twice.
    let mut server = server;
    for _ in 0..2 {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let (floor, last) = stream.positions();
            if floor >= last || metric(&server, "klaxon_stream_replayed_batches") == Some(3.0) {
                break;
            }
            assert!(Instant::now() < give_up, "never acknowledged");
            std::thread::sleep(Duration::from_millis(20));
        }
        server.kill_9();
        server = Serve::start_with(dir.path(), Some(&config));
        let give_up = Instant::now() + Duration::from_secs(10);
        while metric(&server, "klaxon_stream_replayed_batches") != Some(3.0) {
            assert!(
                Instant::now() < give_up,
                "the restart did not replay the 3 batches; log:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let last = [json!({"kind": "mark", "process": "last", "action": "FIRE"})];
    assert_eq!(post_signals(&server, &last).status, 200);
    let list3 = wait_alerts(&server, "fired the last mark", |l| {
        l.iter().any(|a| a["process"] == "last")
    });
    let mut by_process: Vec<(String, u64)> = list3
        .iter()
        .map(|a| {
            (
                a["process"].as_str().unwrap_or_default().to_owned(),
                a["occurrences"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    by_process.sort();
    let expected: Vec<(String, u64)> = ["across", "after", "before", "last", "open"]
        .iter()
        .map(|p| ((*p).to_owned(), 1))
        .collect();
    assert_eq!(by_process, expected, "{list3:#?}");
}

#[test]
fn ingest_answers_503_with_retry_after_when_nats_is_unreachable() {
    // Needs no NATS: nothing listens on the port.
    let dir = TempDir::new("stream-down");
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "[cluster]\nnats = \"nats://127.0.0.1:{}\"\nnats_publish_timeout = \"1s\"\n",
            free_port()
        ),
    )
    .expect("write the configuration");
    let server = Serve::start_with(dir.path(), Some(&config));
    let mark = [json!({"kind": "mark", "process": "p", "action": "FIRE"})];
    let reply = post_signals(&server, &mark);
    assert_eq!(reply.status, 503, "{:?}", reply.error());
    assert!(
        reply.retry_after().is_some(),
        "Retry-After: {:?}",
        reply.headers
    );
    let body: Value = reply.json().expect("error body");
    assert_eq!(body["error"]["details"]["accepted"], 0, "{body}");
    let reply = call(&server.client(), "/v1/processes", r#"{"name": "job"}"#);
    assert_eq!(reply.status, 503, "{:?}", reply.error());
    assert!(reply.retry_after().is_some());
}

#[test]
fn a_rebuild_says_when_the_window_no_longer_holds_the_start_of_runs() {
    let Some(stream) = TestStream::new("window") else {
        return;
    };
    let dir = TempDir::new("stream-window");
    let config = stream.config(dir.path());
    let mut server = Serve::start_with(dir.path(), Some(&config));
    load_rules(&server);
    let t0 = now_ms();
    let start = [json!({"kind": "process_start", "process": "early", "name": "job", "ts": t0})];
    let mark = [json!({"kind": "mark", "process": "early", "action": "FIRE", "ts": t0 + 1})];
    for batch in [&start[..], &mark[..]] {
        assert_eq!(post_signals(&server, batch).status, 200);
    }
    let give_up = Instant::now() + Duration::from_secs(10);
    while stream.positions().0 < 2 {
        assert!(Instant::now() < give_up, "never acknowledged");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill_9();
    // The window moves past the run's start, as `nats_max_age` or `nats_max_bytes` would.
    let name = stream.stream.clone();
    stream
        .js(|js| async move {
            let s = js.get_stream(&name).await.map_err(|e| e.to_string())?;
            s.purge().sequence(2).await.map_err(|e| e.to_string())?;
            Ok(())
        })
        .expect("purged");
    let server = Serve::start_with(dir.path(), Some(&config));
    let give_up = Instant::now() + Duration::from_secs(10);
    while metric(&server, "klaxon_stream_replay_truncated") != Some(1.0)
        || !server.log().contains("dropped_before_window")
    {
        assert!(
            Instant::now() < give_up,
            "the truncated window was not reported; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metric(&server, "klaxon_stream_replayed_batches"), Some(1.0));
    assert_eq!(
        metric(&server, "klaxon_stream_runs_before_window"),
        Some(1.0)
    );
    assert_eq!(metric(&server, "klaxon_stream_lost_batches"), Some(0.0));
    let log = server.log();
    assert!(
        log.contains("dropped_before_window=1") && log.contains("runs_begun_before_window=1"),
        "{log}"
    );
}
