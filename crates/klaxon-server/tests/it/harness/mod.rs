//! The test harness: a real server over a real SQLite file, reached through its router in
//! process (`tower::ServiceExt::oneshot`, no socket) or, for streams, browsers and outside
//! clients, bound on 127.0.0.1:0 with a minimal HTTP/1.1 client. Time is wall-clock here
//! (the server reads it), so waits are bounded polls, never fixed sleeps.
#![allow(dead_code)] // the test binary and the benches each use part of it

pub(crate) mod receiver;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt;
use klaxon_server::config::{Config, Secret};
use klaxon_server::Server;
use klaxon_store::sqlite::SqliteStore;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

pub(crate) const ADMIN: &str = "test-admin-token-0123456789";

/// The `Host` of a request that goes through the router without a socket.
pub(crate) const HOST: &str = "klaxon.test";

/// A directory of its own under the system temp dir, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty data directory named after `name`, unique within this process.
pub(crate) fn data_dir(name: &str) -> TempDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("klaxon-it-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    TempDir(d)
}

/// A started server: its router, its store and, when bound, its address.
pub(crate) struct Running {
    app: Router,
    addr: Option<std::net::SocketAddr>,
    run: Run,
    pub store: SqliteStore,
    pub permits: std::sync::Arc<tokio::sync::Semaphore>,
    /// The telemetry buffer's byte budget (`None` with telemetry off).
    pub telemetry_budget: Option<std::sync::Arc<klaxon_server::ByteBudget>>,
}

enum Run {
    /// Started, not bound: requests go through the router; `stop` drains.
    Router(Server<SqliteStore>),
    /// Serving on a socket until told to stop.
    Bound {
        stop: tokio::sync::oneshot::Sender<()>,
        done: tokio::task::JoinHandle<anyhow::Result<()>>,
    },
}

/// A response: status, head (`name: value` lines), body text.
pub(crate) struct Resp {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

async fn started(
    dir: &Path,
    tweak: impl FnOnce(&mut Config),
) -> (Server<SqliteStore>, SqliteStore) {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        admin_token: Some(Secret(ADMIN.to_owned())),
        ..Config::default()
    };
    tweak(&mut config);
    let store = SqliteStore::open(&config.database_path()).expect("open store");
    let server = Server::start(config, store.clone())
        .await
        .expect("server starts");
    (server, store)
}

/// A server on `dir`, reached through its router: no socket.
pub(crate) async fn start(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Running {
    let (server, store) = started(dir, tweak).await;
    Running {
        app: server.router(),
        addr: None,
        permits: server.ingest_permits(),
        telemetry_budget: server.telemetry_budget(),
        run: Run::Router(server),
        store,
    }
}

/// A server on `dir` listening on 127.0.0.1:0, for what needs a socket: streams, WebSockets,
/// browsers, other programs.
pub(crate) async fn serve(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Running {
    serve_at(dir, "127.0.0.1:0", tweak).await
}

/// As [`serve`], listening on `addr` (a restart on the port of a stopped server).
pub(crate) async fn serve_at(dir: &Path, addr: &str, tweak: impl FnOnce(&mut Config)) -> Running {
    // The configured address, as a server run from its configuration has it: the outbound
    // policy knows its own address from the start, not only once the listener task runs.
    let listen = addr.to_owned();
    let (server, store) = started(dir, |c| {
        if !listen.ends_with(":0") {
            c.listen = listen;
        }
        tweak(c);
    })
    .await;
    let app = server.router();
    let permits = server.ingest_permits();
    let telemetry_budget = server.telemetry_budget();
    let listener = TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    Running {
        app,
        addr: Some(addr),
        run: Run::Bound { stop: tx, done },
        store,
        permits,
        telemetry_budget,
    }
}

impl Running {
    /// The address of a server started with [`serve`].
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.addr
            .expect("this server has no socket: start it with `serve` to reach it over TCP")
    }

    /// Stops taking input, commits everything accepted, and hands back the store.
    pub(crate) async fn stop(self) -> SqliteStore {
        match self.run {
            Run::Router(server) => server.drain().await,
            Run::Bound { stop, done } => {
                let _ = stop.send(());
                done.await.expect("join").expect("clean shutdown");
            }
        }
        self.store
    }

    /// One request through the router, with these headers (and `Host` unless given).
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Resp {
        let (status, head, bytes) = self
            .request_bytes(method, path, headers, body.as_bytes().to_vec())
            .await;
        Resp {
            status,
            head,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// As [`Running::request`], with a body of bytes and the answer's body as bytes (protobuf):
    /// status, head, body.
    pub(crate) async fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, String, Vec<u8>) {
        let mut req = axum::http::Request::builder().method(method).uri(path);
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req = req.header("host", HOST);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body)).expect("a well-formed request");
        let resp = self
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status().as_u16();
        let mut head = String::new();
        for (k, v) in resp.headers() {
            head.push_str(&format!(
                "{k}: {}\r\n",
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
        let bytes = resp
            .into_body()
            .collect()
            .await
            .expect("a complete body")
            .to_bytes();
        (status, head, bytes.to_vec())
    }

    /// A request with an optional bearer token and a content type: status, head, JSON body.
    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: &str,
        body: &str,
    ) -> (u16, String, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", ctype)];
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        let r = self.request(method, path, &headers, body).await;
        let json = r.json();
        (r.status, r.head, json)
    }

    pub(crate) async fn admin(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let (s, _, v) = self
            .call(method, path, Some(ADMIN), "application/json", body)
            .await;
        (s, v)
    }

    pub(crate) async fn ndjson(&self, path: &str, body: &str) -> (u16, Value) {
        let (s, _, v) = self
            .call("POST", path, Some(ADMIN), "application/x-ndjson", body)
            .await;
        (s, v)
    }

    /// GET `path` with the admin token: the body as text (Prometheus's exposition format).
    pub(crate) async fn text(&self, path: &str) -> String {
        let auth = format!("Bearer {ADMIN}");
        let r = self
            .request("GET", path, &[("authorization", &auth)], "")
            .await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    /// Polls `path` (admin token) until `pred` holds on its JSON (bounded).
    pub(crate) async fn until(&self, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let t0 = Instant::now();
        loop {
            let (_, v) = self.admin("GET", path, "").await;
            if pred(&v) || t0.elapsed() > Duration::from_secs(10) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The outbox counts of `channel` (`GET /alerts/metrics/delivery`) once `sent` rows or more
    /// are sent and none is left to send (bounded). Called after a notification that the
    /// dispatcher wrote after everything a test waits on, it is the point after which nothing
    /// more can arrive: what a test then does not see was never written.
    pub(crate) async fn delivered(&self, channel: &str, sent: u64) -> Value {
        let v = self
            .until("/alerts/metrics/delivery", |v| {
                let c = &v["channels"][channel];
                c["sent"].as_u64() >= Some(sent) && c["pending"] == 0 && c["retrying"] == 0
            })
            .await;
        v["channels"][channel].clone()
    }

    /// Polls GET /v1/alerts until `pred` holds on the list (bounded).
    pub(crate) async fn alerts_until(&self, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let v = self
            .until("/v1/alerts?limit=1000", |v| {
                pred(v["alerts"].as_array().map_or(&[], Vec::as_slice))
            })
            .await;
        v["alerts"].as_array().cloned().unwrap_or_default()
    }
}

/// A minimal HTTP/1.1 client over a real socket, one request per connection: status, head,
/// JSON body.
pub(crate) async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &str,
) -> (u16, String, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, head.to_owned(), json)
}

pub(crate) fn dechunk(mut s: &str) -> String {
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

/// Polls `f` until it gives a value; fails naming `what` after `limit`.
pub(crate) async fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Applies a TOML snippet with `[notify]`, `[smtp]`, `[route]` and `[[receivers]]` to `c`.
pub(crate) fn configure_notify(c: &mut Config, text: &str) {
    #[derive(serde::Deserialize)]
    struct Part {
        #[serde(default)]
        notify: Option<klaxon_notify::NotifySettings>,
        #[serde(default)]
        smtp: Option<klaxon_notify::SmtpDefaults>,
        route: Option<klaxon_notify::RouteConfig>,
        #[serde(default)]
        receivers: Vec<klaxon_notify::ReceiverConfig>,
    }
    let p: Part = toml::from_str(text).expect("a notification configuration");
    if let Some(n) = p.notify {
        c.notify = n;
    }
    if let Some(s) = p.smtp {
        c.smtp = s;
    }
    c.route = p.route;
    c.receivers = p.receivers;
}

/// `amtool`, Alertmanager's own client, pointed at a running klaxon with the admin token.
pub(crate) struct Amtool {
    args: Vec<String>,
}

pub(crate) const AMTOOL: &str = "/usr/bin/amtool";

impl Amtool {
    /// `None` (after printing why) when amtool is not installed; a failure when it must be
    /// (`KLAXON_REQUIRE_PEERS`).
    pub(crate) fn new(r: &Running, dir: &Path) -> Option<Amtool> {
        if !std::path::Path::new(AMTOOL).exists() {
            assert!(
                std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
                "KLAXON_REQUIRE_PEERS is set but {AMTOOL} is missing"
            );
            println!("skipped: amtool not installed (apt-get install prometheus-alertmanager)");
            return None;
        }
        let auth = dir.join("amtool-http.yml");
        std::fs::write(&auth, format!("authorization:\n  credentials: {ADMIN}\n"))
            .expect("write http config");
        Some(Amtool {
            args: vec![
                format!("--alertmanager.url=http://{}", r.addr()),
                format!("--http.config.file={}", auth.display()),
            ],
        })
    }

    /// The same amtool without the token.
    pub(crate) fn without_token(&self) -> Amtool {
        Amtool {
            args: self.args[..1].to_vec(),
        }
    }

    /// Runs amtool with these arguments: (success, stdout, stdout and stderr).
    pub(crate) async fn run(&self, rest: &[&str]) -> (bool, String, String) {
        let mut args = self.args.clone();
        args.extend(rest.iter().map(|s| (*s).to_owned()));
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(AMTOOL)
                .args(&args)
                .output()
                .expect("run amtool");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
            (out.status.success(), stdout, text)
        })
        .await
        .expect("join amtool")
    }
}

/// The folders of the workspace's crates (`crates/*` with a `Cargo.toml`), by name.
pub(crate) fn workspace_crates() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates folder");
    let mut out: Vec<PathBuf> = std::fs::read_dir(crates)
        .expect("read crates")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    out.sort();
    out
}

/// A port that was free a moment ago on 127.0.0.1 (nothing listens on it now).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The environment variable `name` parsed, or `default`.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// For a bench binary (`harness = false`): whether to run the measurement `name`. Names given
/// on the command line (`cargo bench --bench B -- NAME...`, matched as substrings) choose;
/// without any, every measurement runs but the `long` ones.
pub(crate) fn bench_selected(name: &str, long: bool) -> bool {
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if asked.is_empty() {
        !long
    } else {
        asked.iter().any(|a| name.contains(a.as_str()))
    }
}
