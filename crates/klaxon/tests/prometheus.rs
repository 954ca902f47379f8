//! klaxon as Prometheus's Alertmanager, end to end: the real `klaxon serve` binary and a real
//! Prometheus (`/usr/bin/prometheus`, Debian package `prometheus`) whose alerting rule fires and
//! then resolves. Skipped, with a message, when Prometheus is not installed; the test installs
//! nothing.
//!
//! Also the load comparison of `POST /api/v2/alerts` against a real Alertmanager
//! (`/usr/bin/prometheus-alertmanager`), an ignored test run by `scripts/am-bench.sh`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

const TOKEN: &str = "prometheus-test-admin-token-0123456789";
const PROMETHEUS: &str = "/usr/bin/prometheus";
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// Fires for ten seconds of every twenty, so within half a minute it has fired and resolved.
const RULES: &str = r#"groups:
- name: klaxon-e2e
  interval: 1s
  rules:
  - alert: KlaxonFlip
    expr: vector(time() % 20) < 10
    for: 0s
    labels:
      severity: critical
      team: e2e
    annotations:
      summary: flips every ten seconds
"#;

#[test]
fn a_prometheus_alert_fires_and_resolves_in_klaxon() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
            "KLAXON_REQUIRE_PEERS is set but {PROMETHEUS} is missing"
        );
        println!("skipped: prometheus not installed (apt-get install prometheus)");
        return;
    }
    let dir = TempDir::new("e2e");
    let klaxon = Klaxon::start(&dir.path().join("klaxon"));
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("prometheus dir");
    std::fs::write(prom_dir.join("rules.yml"), RULES).expect("write rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [rules.yml]\n\
         alerting:\n  alertmanagers:\n  - api_version: v2\n    timeout: 5s\n\
         \x20   authorization:\n      credentials: {TOKEN}\n\
         \x20   static_configs:\n    - targets: ['{}']\n",
        klaxon.addr
    );
    std::fs::write(prom_dir.join("prometheus.yml"), config).expect("write prometheus.yml");
    let web = format!("127.0.0.1:{}", free_port());
    let prometheus = Proc::spawn(
        "prometheus",
        Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                prom_dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            // Firing alerts are sent again every 2 s, so a send lost at start-up is repeated.
            .arg("--rules.alert.resend-delay=2s"),
        &prom_dir.join("prometheus.log"),
    );

    let give_up = Instant::now() + Duration::from_secs(90);
    let mut seen_active = None;
    let mut listed_while_active = Value::Null;
    let resolved = loop {
        let (status, body) = get(
            &klaxon.addr,
            "/alerts/history?source=alertmanager&limit=100",
        );
        assert_eq!(status, 200, "{body}");
        let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
        let flip = alerts
            .iter()
            .find(|a| a["rule_id"] == "KlaxonFlip")
            .cloned();
        match flip {
            Some(a) if a["state"] == "active" && seen_active.is_none() => {
                // Seen through the Alertmanager API too (unless it resolved in between).
                let listed = get(
                    &klaxon.addr,
                    "/api/v2/alerts?filter=alertname%3D%22KlaxonFlip%22",
                )
                .1;
                if listed.as_array().is_some_and(|l| !l.is_empty()) {
                    listed_while_active = listed;
                    seen_active = Some(a);
                }
            }
            Some(a) if a["state"] == "resolved" && seen_active.is_some() => break a,
            _ => {}
        }
        assert!(
            Instant::now() < give_up,
            "no {} within 90 s; klaxon saw: {alerts:?}\nprometheus log:\n{}\nklaxon log:\n{}",
            if seen_active.is_some() {
                "resolution"
            } else {
                "firing"
            },
            prometheus.log_tail(),
            klaxon.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let active = seen_active.expect("seen active before resolved");
    assert_eq!(
        active["id"], resolved["id"],
        "one alert, fired then resolved"
    );
    assert_eq!(active["severity"], "critical", "{active}");
    assert_eq!(active["message"], "flips every ten seconds", "{active}");

    let (_, detail) = get(&klaxon.addr, &format!("/alerts/{}", resolved["id"]));
    let events = detail["events"].as_array().cloned().unwrap_or_default();
    let resolution = events
        .iter()
        .find(|e| e["to"] == "resolved")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        resolution["actor"], "alertmanager",
        "resolved by what Prometheus sent: {detail}"
    );

    // Alertmanager's clients saw it with the labels and annotations Prometheus sent.
    let shown = &listed_while_active[0];
    assert_eq!(
        shown["labels"],
        json!({"alertname": "KlaxonFlip", "severity": "critical", "team": "e2e"}),
        "{listed_while_active}"
    );
    assert_eq!(
        shown["annotations"]["summary"], "flips every ten seconds",
        "{shown}"
    );
    assert!(
        shown["generatorURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{shown}"
    );
    drop(prometheus);
    drop(klaxon);
}

/// The comparison figure for BENCHMARKS.md: alerts/s through `POST /api/v2/alerts` in batches of
/// 100, 10,000 distinct alerts sent again and again (as Prometheus resends firing alerts), many
/// keep-alive connections over loopback, against klaxon and a real Alertmanager on the same
/// machine with the same load. Both run side by side; after a first pass that creates the alerts
/// in each, timed runs alternate between them (`AM_BENCH_ROUNDS`), so a noisy neighbour weighs
/// on both alike. Run with `scripts/am-bench.sh`.
#[test]
#[ignore = "load comparison; run scripts/am-bench.sh"]
fn alertmanager_load_comparison() {
    if !Path::new(ALERTMANAGER).exists() {
        println!("skipped: alertmanager not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let seconds: u64 = env_or("AM_BENCH_SECONDS", 10);
    let connections: usize = env_or("AM_BENCH_CONNECTIONS", 32);
    let rounds: usize = env_or("AM_BENCH_ROUNDS", 3).max(1);
    let workload = Workload::new();
    let dir = TempDir::new("bench");
    let klaxon = Klaxon::start(&dir.path().join("klaxon"));
    let am = Alertmanager::start(&dir.path().join("alertmanager"));
    println!(
        "POST /api/v2/alerts, batches of {BATCH}, {DISTINCT} distinct alerts resent, {connections} connections, \
         {rounds} x {seconds} s each, alternating, loopback, {} CPUs",
        cpus()
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
        let req = hyper::Request::post(self.uri.clone())
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Full::new(body))
            .expect("request");
        match self.client.request(req).await {
            Ok(resp) => resp.status() == 200 && resp.into_body().collect().await.is_ok(),
            Err(_) => false,
        }
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
                    assert!(send.send(b).await, "first pass: a request failed");
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

/// `klaxon serve` on a free loopback port with its own data directory; killed when dropped.
struct Klaxon {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Klaxon {
    fn start(data_dir: &Path) -> Klaxon {
        std::fs::create_dir_all(data_dir).expect("klaxon data dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KLAXON_") {
                cmd.env_remove(k);
            }
        }
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--admin-token", TOKEN])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn klaxon serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = line.find("listening on http://") {
                        let rest = &line[at + "listening on http://".len()..];
                        let addr: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':'))
                            .collect();
                        let _ = tx.send(addr);
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let mut k = Klaxon {
            child,
            addr: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => k.addr = addr,
            Err(e) => panic!(
                "klaxon serve did not say where it listens ({e}); log:\n{}",
                k.log()
            ),
        }
        wait_ready(&k.addr, "/monitoring/health");
        k
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Klaxon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

/// A child process whose output goes to a log file; killed when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Proc {
        let file = std::fs::File::create(log).expect("log file");
        let err = file.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name,
            child,
            log: log.to_path_buf(),
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "({}) {}",
            self.name,
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_ready(addr: &str, path: &str) {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        if matches!(request(addr, "GET", path, None), Some((200, _))) {
            return;
        }
        assert!(Instant::now() < give_up, "{addr}{path} never answered 200");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET with the admin token; the status and the JSON body (`null` when not JSON).
fn get(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) =
        request(addr, "GET", path, Some(TOKEN)).unwrap_or_else(|| panic!("GET {path}: no answer"));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// One request on its own connection (`Connection: close`).
fn request(addr: &str, method: &str, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!(
            "klaxon-prometheus-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
