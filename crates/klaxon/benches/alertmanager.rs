//! The comparison figure for BENCHMARKS.md: alerts/s through `POST /api/v2/alerts`, klaxon
//! (the real `klaxon serve` of this build) against a real Prometheus Alertmanager
//! (`/usr/bin/prometheus-alertmanager`) on the same machine with the same load. Run with
//! `scripts/am-bench.sh` or `cargo bench -p klaxon --bench alertmanager`; without Alertmanager
//! it says so and measures nothing. klaxon keeps its data in SQLite, or with
//! `AM_BENCH_STORE=postgresql` in a fresh schema of the PostgreSQL at `KLAXON_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`), dropped afterwards.

// The CLI's HTTP client, which the harness uses (its unit tests compile to nothing here).
#[allow(dead_code, unused_imports)]
#[path = "../src/client.rs"]
mod client;
#[path = "../tests/it/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use harness::{env_or, free_port, get, wait_ready, Backend, Proc, Serve, TempDir, TOKEN};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// The comparison figure for BENCHMARKS.md: alerts/s through `POST /api/v2/alerts` in batches of
/// 100, 10,000 distinct alerts sent again and again (as Prometheus resends firing alerts), many
/// keep-alive connections over loopback, against klaxon and a real Alertmanager on the same
/// machine with the same load. Both run side by side; after a first pass that creates the alerts
/// in each, timed runs alternate between them (`AM_BENCH_ROUNDS`), so a noisy neighbour weighs
/// on both alike. Run with `scripts/am-bench.sh`.
fn alertmanager_load_comparison() {
    if !Path::new(ALERTMANAGER).exists() {
        println!("skipped: alertmanager not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let seconds: u64 = env_or("AM_BENCH_SECONDS", 10);
    let connections: usize = env_or("AM_BENCH_CONNECTIONS", 32);
    let rounds: usize = env_or("AM_BENCH_ROUNDS", 3).max(1);
    let workload = Workload::new();
    let backend = match std::env::var("AM_BENCH_STORE").as_deref() {
        Ok("postgresql") => match Backend::postgres("am_bench") {
            Some(pg) => pg,
            None => return,
        },
        _ => Backend::Sqlite,
    };
    let dir = TempDir::new("bench");
    let klaxon = Serve::start_on(&backend, &dir.path().join("klaxon"), None);
    let am = Alertmanager::start(&dir.path().join("alertmanager"));
    println!(
        "POST /api/v2/alerts, batches of {BATCH}, {DISTINCT} distinct alerts resent, {connections} connections, \
         {rounds} x {seconds} s each, alternating, loopback, {} CPUs, klaxon on {}",
        cpus(),
        backend.name()
    );
    let k_first = first_pass(&klaxon.addr, &workload, connections);
    let a_first = first_pass(&am.addr, &workload, connections);
    println!(
        "first pass, {DISTINCT} new alerts: klaxon {:.2} s, alertmanager {:.2} s",
        k_first.as_secs_f64(),
        a_first.as_secs_f64()
    );
    let (mut ks, mut as_) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let k = timed(&klaxon.addr, &workload, seconds, connections);
        println!("round {round} {}", k.line("klaxon"));
        let a = timed(&am.addr, &workload, seconds, connections);
        println!("round {round} {}", a.line("alertmanager 0.25"));
        ks.push(k);
        as_.push(a);
    }
    let (k_rss, a_rss) = (rss_kib(klaxon.child.id()), rss_kib(am._proc.child.id()));
    let (_, summary) = get(&klaxon.addr, "/alerts/summary");
    let (_, listed) = get(&klaxon.addr, "/api/v2/alerts");
    let (_, am_listed) = get(&am.addr, "/api/v2/alerts");
    drop(klaxon);
    drop(am);
    assert_eq!(
        summary["total"], DISTINCT,
        "every resend folded into its alert: {summary}"
    );
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(DISTINCT),
        "klaxon lists every alert"
    );
    assert_eq!(
        am_listed.as_array().map(Vec::len),
        Some(DISTINCT),
        "alertmanager lists every alert"
    );

    let (k, a) = (median(&mut ks), median(&mut as_));
    let ratio = k.alerts_per_second() / a.alerts_per_second().max(f64::MIN_POSITIVE);
    println!("median {}", k.line("klaxon"));
    println!("median {}", a.line("alertmanager 0.25"));
    println!(
        "resident memory after the runs: klaxon {} MiB, alertmanager {} MiB",
        k_rss / 1024,
        a_rss / 1024
    );
    println!("ratio klaxon / alertmanager (medians): {ratio:.2}x");
    println!(
        "{}",
        json!({
            "batch": BATCH, "distinct": DISTINCT, "connections": connections, "seconds": seconds,
            "store": backend.name(), "first_pass_seconds": {"klaxon": k_first.as_secs_f64(), "alertmanager": a_first.as_secs_f64()},
            "rounds": rounds, "cpus": cpus(),
            "klaxon": k.to_json(), "alertmanager": a.to_json(), "ratio": (ratio * 100.0).round() / 100.0,
            "rss_kib": {"klaxon": k_rss, "alertmanager": a_rss},
        })
    );
    let errors: u64 = ks.iter().chain(&as_).map(|f| f.errors).sum();
    assert_eq!(errors, 0, "every request answered 200");
}

/// The run with the median rate.
fn median(runs: &mut [Figures]) -> &Figures {
    runs.sort_by(|x, y| x.alerts_per_second().total_cmp(&y.alerts_per_second()));
    &runs[runs.len() / 2]
}

/// Resident memory of a process, KiB (0 when unknown).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const BATCH: usize = 100;
const DISTINCT: usize = 10_000;

/// Pre-built request bodies: `DISTINCT / BATCH` batches of `BATCH` alerts with realistic labels.
struct Workload {
    bodies: Vec<Bytes>,
}

impl Workload {
    fn new() -> Workload {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let ts = |ms: i64| Value::from(klaxon_engine::timestamp::format_ts(ms));
        let severities = ["critical", "warning", "info"];
        let bodies = (0..DISTINCT / BATCH)
            .map(|b| {
                let alerts: Vec<Value> = (0..BATCH)
                    .map(|i| {
                        let n = b * BATCH + i;
                        json!({
                            "labels": {
                                "alertname": format!("BenchAlert{}", n % 20),
                                "instance": format!("host-{n}.example.net:9100"),
                                "job": "node",
                                "severity": severities[n % 3],
                                "team": format!("team-{}", n % 7),
                            },
                            "annotations": {
                                "summary": format!("bench alert {n} is firing"),
                                "description": "a longer description of the bench alert, as rules usually carry",
                            },
                            "startsAt": ts(now - 60_000),
                            // Valid for the whole run, as Prometheus's endsAt of a firing alert.
                            "endsAt": ts(now + 3_600_000),
                            "generatorURL": format!("http://prometheus:9090/graph?g0.expr=up%7Binstance%3D%22host-{n}%22%7D"),
                        })
                    })
                    .collect();
                Bytes::from(Value::Array(alerts).to_string())
            })
            .collect();
        Workload { bodies }
    }
}

/// What one load run measured.
struct Figures {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    p50_ms: f64,
    p99_ms: f64,
}

impl Figures {
    fn alerts_per_second(&self) -> f64 {
        (self.requests * BATCH as u64) as f64 / self.elapsed.as_secs_f64()
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:>18}: {:>9.0} alerts/s ({} requests, {} errors, p50 {:.1} ms, p99 {:.1} ms)",
            self.alerts_per_second(),
            self.requests,
            self.errors,
            self.p50_ms,
            self.p99_ms,
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "alerts_per_second": self.alerts_per_second().round(), "requests": self.requests,
            "errors": self.errors, "p50_ms": (self.p50_ms * 10.0).round() / 10.0,
            "p99_ms": (self.p99_ms * 10.0).round() / 10.0,
        })
    }
}

/// Posts bodies to one server over a pool of keep-alive connections.
#[derive(Clone)]
struct Sender {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
    uri: hyper::Uri,
}

impl Sender {
    fn new(addr: &str, connections: usize) -> Sender {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(connections)
                .build_http();
        Sender {
            client,
            uri: format!("http://{addr}/api/v2/alerts").parse().expect("uri"),
        }
    }

    /// Whether the body was answered 200.
    async fn send(&self, body: Bytes) -> bool {
        self.answer(body).await == Some(200)
    }

    /// The status the body was answered with (its body read), or none without an answer.
    async fn answer(&self, body: Bytes) -> Option<u16> {
        let req = hyper::Request::post(self.uri.clone())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Full::new(body))
            .expect("request");
        let resp = self.client.request(req).await.ok()?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await.ok()?;
        Some(status)
    }
}

/// The load generator's runtime: two workers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Sends every batch once (the alerts are created then); how long it took.
fn first_pass(addr: &str, w: &Workload, connections: usize) -> Duration {
    let send = Sender::new(addr, connections);
    runtime().block_on(async {
        let t0 = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in w.bodies.chunks(w.bodies.len().div_ceil(connections)) {
            let (chunk, send) = (chunk.to_vec(), send.clone());
            tasks.spawn(async move {
                for b in chunk {
                    let t = Instant::now();
                    let got = send.answer(b).await;
                    assert_eq!(
                        got,
                        Some(200),
                        "first pass: a request failed after {:?}",
                        t.elapsed()
                    );
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.expect("first pass task");
        }
        t0.elapsed()
    })
}

/// Sends the batches round-robin from `connections` keep-alive connections for `seconds`.
fn timed(addr: &str, w: &Workload, seconds: u64, connections: usize) -> Figures {
    let send = Sender::new(addr, connections);
    runtime().block_on(async {
        let next = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            let (next, errors, send) = (Arc::clone(&next), Arc::clone(&errors), send.clone());
            let bodies = w.bodies.clone();
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                while tokio::time::Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % bodies.len();
                    let t = Instant::now();
                    if !send.send(bodies[i].clone()).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    latencies.push(t.elapsed());
                }
                latencies
            });
        }
        let mut latencies = Vec::new();
        while let Some(r) = tasks.join_next().await {
            latencies.extend(r.expect("load task"));
        }
        let elapsed = start.elapsed();
        latencies.sort();
        let pct = |p: f64| {
            let i =
                ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
            latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        let errors = errors.load(Ordering::Relaxed);
        Figures {
            requests: latencies.len() as u64 - errors,
            errors,
            elapsed,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
        }
    })
}

/// A real Alertmanager with a receiver that sends nothing, clustering off.
struct Alertmanager {
    _proc: Proc,
    addr: String,
}

impl Alertmanager {
    fn start(dir: &Path) -> Alertmanager {
        std::fs::create_dir_all(dir).expect("alertmanager dir");
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n",
        )
        .expect("write config");
        let addr = format!("127.0.0.1:{}", free_port());
        let proc = Proc::spawn(
            "alertmanager",
            Command::new(ALERTMANAGER)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.path={}", dir.join("data").display()))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--cluster.listen-address="),
            &dir.join("alertmanager.log"),
        );
        wait_ready(&addr, "/-/ready");
        Alertmanager { _proc: proc, addr }
    }
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn main() {
    if harness::bench_selected("alertmanager", false) {
        alertmanager_load_comparison();
    }
}
