//! The test harness: a real server on 127.0.0.1:0 over a real SQLite file, and a minimal
//! HTTP/1.1 client. Time is wall-clock here, so waits are bounded polls, never fixed sleeps.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use klaxon_server::config::{Config, Secret};
use klaxon_server::Server;
use klaxon_store::sqlite::SqliteStore;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub(crate) const ADMIN: &str = "test-admin-token-0123456789";

pub(crate) struct Running {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub store: SqliteStore,
    pub permits: std::sync::Arc<tokio::sync::Semaphore>,
}

pub(crate) fn data_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("klaxon-api-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub(crate) async fn start(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Running {
    start_at(dir, "127.0.0.1:0", tweak).await
}

/// As [`start`], listening on `addr` (a restart on the port of a stopped server).
pub(crate) async fn start_at(
    dir: &std::path::Path,
    addr: &str,
    tweak: impl FnOnce(&mut Config),
) -> Running {
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
    let permits = server.ingest_permits();
    let listener = TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        done,
        store,
        permits,
    }
}

impl Running {
    pub(crate) async fn stop(mut self) -> SqliteStore {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.done.await.expect("join").expect("clean shutdown");
        self.store
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: &str,
        body: &str,
    ) -> (u16, String, Value) {
        http(self.addr, method, path, token, ctype, body).await
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

    /// Polls GET /v1/alerts until `pred` holds (bounded).
    pub(crate) async fn alerts_until(&self, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let (_, v) = self.admin("GET", "/v1/alerts?limit=1000", "").await;
            let list = v["alerts"].as_array().cloned().unwrap_or_default();
            if pred(&list) || t0.elapsed() > Duration::from_secs(10) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
pub(crate) async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    ctype: &str,
    body: &str,
) -> (u16, String, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", ctype)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http_with(addr, method, path, &headers, body).await
}

/// As [`http`], with any headers (`Host` is `test`).
pub(crate) async fn http_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
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

impl Running {
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
}

/// `amtool`, Alertmanager's own client, pointed at a running klaxon with the admin token.
pub(crate) struct Amtool {
    args: Vec<String>,
}

pub(crate) const AMTOOL: &str = "/usr/bin/amtool";

impl Amtool {
    /// `None` (after printing why) when amtool is not installed; a failure when it must be
    /// (`KLAXON_REQUIRE_PEERS`).
    pub(crate) fn new(r: &Running, dir: &std::path::Path) -> Option<Amtool> {
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
                format!("--alertmanager.url=http://{}", r.addr),
                format!("--http.config.file={}", auth.display()),
            ],
        })
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
