//! Notification figures for BENCHMARKS.md: deliveries per second to a local webhook receiver
//! (`throughput`, and `drain` for deliveries alone), alert posted → webhook received latency
//! with no grouping wait (`latency`), and a receiver down under load (`outage`: backlog on
//! disk, catch-up speed), and a small receiver (`small_receiver`: Python's `http.server`). The server, the load and the receiver share this process and the
//! machine's cores.
//!
//! `cargo bench -p klaxon-server --bench notify -- NAME...` runs the named measurements; with
//! no name, all but `outage` (ten minutes and more).
#![allow(clippy::unwrap_used)] // bench

#[path = "../tests/it/harness/mod.rs"]
mod harness;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use klaxon_server::config::Config;
use serde_json::{json, Value};

#[derive(Default)]
struct Sink {
    count: AtomicU64,
    /// Label `n` → when its firing notification arrived.
    seen: Mutex<HashMap<String, Instant>>,
    keys: Mutex<std::collections::HashSet<String>>,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

async fn sink(
    State(s): State<Arc<Sink>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> &'static str {
    let now = Instant::now();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(n) = v["alerts"][0]["labels"]["n"].as_str() {
        s.seen.lock().unwrap().entry(n.to_owned()).or_insert(now);
    }
    if let Some(k) = headers.get("idempotency-key").and_then(|k| k.to_str().ok()) {
        s.keys.lock().unwrap().insert(k.to_owned());
    }
    s.first.lock().unwrap().get_or_insert(now);
    *s.last.lock().unwrap() = Some(now);
    s.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn start_sink(port: u16) -> (Arc<Sink>, u16, tokio::task::JoinHandle<()>) {
    let s = Arc::new(Sink::default());
    let app = axum::Router::new()
        .route("/hook", post(sink))
        .with_state(Arc::clone(&s));
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let port = l.local_addr().unwrap().port();
    (
        s,
        port,
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }),
    )
}

fn configure(c: &mut Config, port: u16) {
    c.telemetry.enabled = false;
    // The load generator does not resend its alerts; they stay firing for the whole run.
    c.lifecycle.resolve_timeout_seconds = 86_400;
    harness::configure_notify(
        c,
        &format!(
            r#"
            [notify]
            workers = 128
            [route]
            receiver = "hook"
            group_by = ["..."]
            group_wait = "0s"
            group_interval = "0s"
            [[receivers]]
            name = "hook"
            [[receivers.webhook_configs]]
            url = "http://127.0.0.1:{port}/hook"
            timeout = "2s"
            "#
        ),
    );
}

fn batch(from: u64, n: u64) -> String {
    let v: Vec<Value> = (from..from + n)
        .map(|i| json!({"labels": {"alertname": "Bench", "n": i.to_string()}, "annotations": {"summary": format!("bench alert {i}")}}))
        .collect();
    Value::Array(v).to_string()
}

/// Posts `batch(from, n)` to `POST /api/v2/alerts` over the socket; it must be taken.
async fn post_alerts(addr: std::net::SocketAddr, from: u64, n: u64) {
    let (st, _, v) = harness::http(
        addr,
        "POST",
        "/api/v2/alerts",
        Some(harness::ADMIN),
        "application/json",
        &batch(from, n),
    )
    .await;
    assert_eq!(st, 200, "{v}");
}

async fn wait_count(s: &Sink, n: u64, limit: Duration) {
    let t0 = Instant::now();
    while s.count.load(Ordering::Relaxed) < n {
        assert!(
            t0.elapsed() < limit,
            "only {} of {n} arrived",
            s.count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn throughput() {
    let total: u64 = harness::env_or("KLAXON_BENCH_ALERTS", 60_000);
    let (sink, port, _t) = start_sink(0).await;
    let dir = harness::data_dir("bench-throughput");
    let notify = std::env::var("KLAXON_BENCH_NO_NOTIFY").is_err();
    let s = harness::serve(&dir, |c| {
        configure(c, port);
        if !notify {
            // The same load without notifications: what the alert path alone does.
            c.route = None;
            c.receivers.clear();
        }
    })
    .await;
    let addr = s.addr();
    let t0 = Instant::now();
    let per = 2_000;
    let mut posts = Vec::new();
    for w in 0..4u64 {
        posts.push(tokio::spawn(async move {
            let mut i = w * per;
            while i < total {
                post_alerts(addr, i, per.min(total - i)).await;
                i += 4 * per;
            }
        }));
    }
    for p in posts {
        p.await.unwrap();
    }
    let committed = t0.elapsed();
    if !notify {
        println!(
            "throughput: {total} alerts committed in {:.2} s ({:.0}/s) without notifications",
            committed.as_secs_f64(),
            total as f64 / committed.as_secs_f64()
        );
        s.stop().await;
        return;
    }
    wait_count(&sink, total, Duration::from_secs(600)).await;
    let all = t0.elapsed();
    let (first, last) = (
        sink.first.lock().unwrap().unwrap(),
        sink.last.lock().unwrap().unwrap(),
    );
    let span = last - first;
    println!(
        "throughput: {total} alerts committed in {:.2} s; {total} webhook deliveries in {:.2} s from the first POST \
         ({:.0}/s); first to last delivery {:.2} s ({:.0}/s); distinct idempotency keys {}",
        committed.as_secs_f64(),
        all.as_secs_f64(),
        total as f64 / all.as_secs_f64(),
        span.as_secs_f64(),
        total as f64 / span.as_secs_f64(),
        sink.keys.lock().unwrap().len()
    );
    s.stop().await;
}

async fn latency() {
    let total: u64 = harness::env_or("KLAXON_BENCH_ALERTS", 2_000);
    let (sink, port, _t) = start_sink(0).await;
    let dir = harness::data_dir("bench-latency");
    let s = harness::serve(&dir, |c| configure(c, port)).await;
    let mut sent = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for i in 0..total {
        tick.tick().await;
        sent.insert(i.to_string(), Instant::now());
        post_alerts(s.addr(), i, 1).await;
    }
    wait_count(&sink, total, Duration::from_secs(60)).await;
    let seen = sink.seen.lock().unwrap().clone();
    let mut lat: Vec<f64> = sent
        .iter()
        .map(|(n, t)| (seen[n] - *t).as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "latency: {total} alerts at 100/s, POST sent -> webhook received: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        q(0.5),
        q(0.99),
        lat[lat.len() - 1]
    );
    s.stop().await;
}

fn disk(dir: &std::path::Path) -> u64 {
    ["klaxon.sqlite", "klaxon.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

async fn outage() {
    let secs: u64 = harness::env_or("KLAXON_BENCH_OUTAGE_SECS", 600);
    let rate: u64 = harness::env_or("KLAXON_BENCH_RATE", 200);
    let port = harness::free_port();
    let dir = harness::data_dir("bench-outage");
    let s = harness::serve(&dir, |c| configure(c, port)).await;
    let t0 = Instant::now();
    let mut posted = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut peak = 0u64;
    while t0.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        post_alerts(s.addr(), posted, rate).await;
        posted += rate;
        peak = peak.max(disk(&dir));
        if posted % (rate * 60) == 0 {
            let (_, d) = s.admin("GET", "/alerts/metrics/delivery", "").await;
            let w = &d["channels"]["webhook"];
            println!(
                "outage: {:>4} s, {posted} alerts, outbox retrying {} pending {} sent {}, attempts failed so far {}, db+wal {:.1} MB",
                t0.elapsed().as_secs(),
                w["retrying"], w["pending"], w["sent"], w["since_start"]["retries"],
                disk(&dir) as f64 / 1e6
            );
        }
    }
    let before = disk(&dir);
    let (sink, _, _t) = start_sink(port).await;
    let back = Instant::now();
    // Load continues while the backlog drains.
    let mut extra = 0u64;
    while (sink.seen.lock().unwrap().len() as u64) < posted + extra {
        tick.tick().await;
        if back.elapsed() < Duration::from_secs(60) {
            post_alerts(s.addr(), posted + extra, rate).await;
            extra += rate;
        }
        assert!(
            back.elapsed() < Duration::from_secs(3600),
            "backlog did not drain"
        );
    }
    let caught = back.elapsed();
    let total = posted + extra;
    let distinct = sink.seen.lock().unwrap().len() as u64;
    println!(
        "outage: receiver down {secs} s at {rate} alerts/s: {posted} notifications held; db+wal {:.1} MB at recovery (peak {:.1} MB); \
         after recovery all {total} (with {extra} more posted meanwhile) delivered in {:.1} s ({:.0}/s); distinct alerts received {distinct}; keys {}",
        before as f64 / 1e6,
        peak as f64 / 1e6,
        caught.as_secs_f64(),
        total as f64 / caught.as_secs_f64(),
        sink.keys.lock().unwrap().len()
    );
    assert_eq!(distinct, total, "nothing lost");
    s.stop().await;
}

async fn drain() {
    // Deliveries alone: the outbox holds `total` notifications (the receiver was down while the
    // alerts were made); the receiver starts and the backlog drains.
    let total: u64 = harness::env_or("KLAXON_BENCH_ALERTS", 60_000);
    let port = harness::free_port();
    let dir = harness::data_dir("bench-drain");
    let s = harness::serve(&dir, |c| configure(c, port)).await;
    let mut i = 0;
    while i < total {
        let n = 2_000.min(total - i);
        post_alerts(s.addr(), i, n).await;
        i += n;
    }
    let t0 = Instant::now();
    loop {
        let (_, d) = s.admin("GET", "/alerts/metrics/delivery", "").await;
        if d["channels"]["webhook"]["retrying"].as_u64() == Some(total) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "{d}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (sink, _, _t) = start_sink(port).await;
    wait_count(&sink, total, Duration::from_secs(600)).await;
    let (first, last) = (
        sink.first.lock().unwrap().unwrap(),
        sink.last.lock().unwrap().unwrap(),
    );
    let span = last - first;
    println!(
        "drain: {total} notifications in the outbox, first to last delivery {:.2} s ({:.0} deliveries/s); distinct keys {}",
        span.as_secs_f64(),
        total as f64 / span.as_secs_f64(),
        sink.keys.lock().unwrap().len()
    );
    s.stop().await;
}

/// 100 notifications to Python's `http.server` (one request per connection, a listen backlog of
/// 5), with the default per-host limit of 4 and with it raised to 64 (every worker at once).
async fn small_receiver() {
    for per_host in [64, 4] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let script = format!(
            "import http.server\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def do_POST(self):\n\
             \x20       self.rfile.read(int(self.headers.get('content-length', 0)))\n\
             \x20       self.send_response(200); self.send_header('content-length', '2'); self.end_headers(); self.wfile.write(b'ok')\n\
             \x20   def log_message(self, *a): pass\n\
             http.server.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
        );
        struct Kill(std::process::Child);
        impl Drop for Kill {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let _child = Kill(
            std::process::Command::new("python3")
                .args(["-c", &script])
                .spawn()
                .expect("python3"),
        );
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "python did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let dir = harness::data_dir(&format!("bench-small-receiver-{per_host}"));
        let s = harness::serve(&dir, |c| {
            c.telemetry.enabled = false;
            harness::configure_notify(
                c,
                &format!(
                    r#"
                    [notify]
                    per_host_connections = {per_host}
                    [route]
                    receiver = "hook"
                    group_by = ["..."]
                    group_wait = "0s"
                    group_interval = "0s"
                    [[receivers]]
                    name = "hook"
                    [[receivers.webhook_configs]]
                    url = "http://127.0.0.1:{port}/hook"
                    "#
                ),
            );
        })
        .await;
        let t0 = Instant::now();
        let alerts: Vec<Value> = (0..100)
            .map(|i| json!({"labels": {"alertname": "Small", "n": i.to_string()}}))
            .collect();
        let (st, v) = s
            .admin("POST", "/api/v2/alerts", &Value::Array(alerts).to_string())
            .await;
        assert_eq!(st, 200, "{v}");
        let d = s
            .until("/alerts/metrics/delivery", |d| {
                d["channels"]["webhook"]["sent"].as_u64() >= Some(100)
            })
            .await;
        let w = &d["channels"]["webhook"];
        println!(
            "small_receiver: per_host_connections = {per_host}: 100 notifications in {:.2} s, latency p50 {} ms p99 {} ms, {} retries, {} sent",
            t0.elapsed().as_secs_f64(),
            w["latency_ms"]["p50"],
            w["latency_ms"]["p99"],
            w["since_start"]["retries"],
            w["sent"]
        );
        s.stop().await;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if harness::bench_selected("throughput", false) {
        rt.block_on(throughput());
    }
    if harness::bench_selected("latency", false) {
        rt.block_on(latency());
    }
    if harness::bench_selected("drain", false) {
        rt.block_on(drain());
    }
    if harness::bench_selected("small_receiver", false) {
        rt.block_on(small_receiver());
    }
    if harness::bench_selected("outage", true) {
        rt.block_on(outage());
    }
}
