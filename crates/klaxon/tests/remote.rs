//! `klaxon rules load|activate|list` against the real server, end to end: the binary serves on a
//! free loopback port with a temporary data directory, and the same binary talks to it.

#[allow(dead_code)]
#[path = "../src/client.rs"]
mod client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use client::{Client, Target};

const TOKEN: &str = "remote-test-admin-token-0123456789";

#[test]
fn a_rule_set_loaded_and_activated_remotely_fires_on_sent_signals() {
    let dir = TempDir::new("flow");
    let server = Server::start(dir.path());

    let out = klaxon(
        &server,
        &[
            "rules",
            "load",
            "examples/metro.rules.json",
            "--activate",
            "--author",
            "tester",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stored rule set \"METRO Rules\" version 1 in group \"default\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("activated rule set \"METRO Rules\" version 1"),
        "{stdout}"
    );

    // A second version, not activated: the list shows both and marks only the first.
    let out = klaxon(&server, &["rules", "load", "examples/metro.rules.json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).contains("version 2"), "{}", show(&out));
    assert!(!text(&out.stdout).contains("activated"), "{}", show(&out));

    let out = klaxon(&server, &["rules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("GROUP"), "{table}");
    assert!(rows[0].contains("ACTIVE"), "{table}");
    let v1 = rows
        .iter()
        .find(|r| r.contains("METRO Rules  1 "))
        .unwrap_or_else(|| panic!("no row for version 1:\n{table}"));
    let v2 = rows
        .iter()
        .find(|r| r.contains("METRO Rules  2 "))
        .unwrap_or_else(|| panic!("no row for version 2:\n{table}"));
    assert!(v1.starts_with("default"), "{table}");
    assert!(v1.contains(" * ") && v1.contains("tester"), "{table}");
    assert!(!v2.contains(" * "), "{table}");

    let rt = runtime();
    let client = client(&server);
    let signals =
        std::fs::read_to_string(root().join("examples/metro.signals.ndjson")).expect("signals");
    let reply = rt
        .block_on(client.call(
            hyper::Method::POST,
            "/v1/signals",
            Some("application/x-ndjson"),
            signals.clone().into(),
        ))
        .expect("POST /v1/signals");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let ack: serde_json::Value = reply.json().expect("ack");
    assert_eq!(ack["accepted"], signals.lines().count(), "{ack}");
    assert_eq!(ack["rejected"], serde_json::json!([]), "{ack}");

    // An alert is readable only once it is committed; wait for it, boundedly.
    let give_up = Instant::now() + Duration::from_secs(10);
    let seq3 = loop {
        let reply = rt
            .block_on(client.get("/v1/alerts"))
            .expect("GET /v1/alerts");
        assert_eq!(reply.status, 200);
        let list: serde_json::Value = reply.json().expect("alerts");
        let found = list["alerts"]
            .as_array()
            .expect("alerts array")
            .iter()
            .find(|a| a["rule_id"] == "SEQ-003")
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(Instant::now() < give_up, "no SEQ-003 alert: {list}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(seq3["process"], "train-4714", "{seq3}");
    assert_eq!(seq3["group"], "default", "{seq3}");
    assert_eq!(seq3["rule_set"], "METRO Rules", "{seq3}");
    assert_eq!(seq3["signal_ts"], "2026-11-22T08:03:38.000Z", "{seq3}");
    assert_eq!(seq3["value"], 30000, "{seq3}");
    assert_eq!(seq3["limit"], 25000, "{seq3}");
    assert!(seq3["id"].as_i64().is_some(), "{seq3}");
}

#[test]
fn threshold_rules_load_activate_and_list_apart_from_event_rule_sets() {
    let dir = TempDir::new("threshold");
    let server = Server::start(dir.path());
    let file = "examples/host.thresholds.json";
    let check = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
        cmd.args(["rules", "check"]).args(args).current_dir(root());
        clear_env(&mut cmd);
        cmd.output().expect("run klaxon")
    };
    let out = check(&["--threshold", file]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).contains("ok, 3 rules"), "{}", show(&out));
    // As an event rule set the same file is wrong, and says so.
    let out = check(&[file]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    let out = klaxon(
        &server,
        &[
            "rules",
            "load",
            "--threshold",
            file,
            "--activate",
            "--group",
            "hosts",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stored threshold rule set \"host\" version 1 in group \"hosts\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("activated threshold rule set \"host\" version 1"),
        "{stdout}"
    );
    let out = klaxon(&server, &["rules", "list", "--threshold"]);
    assert!(out.status.success(), "{}", show(&out));
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .any(|r| r.starts_with("hosts") && r.contains(" * ")),
        "{table}"
    );
    let out = klaxon(&server, &["rules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("no rule sets stored"),
        "threshold sets are not event rule sets: {}",
        show(&out)
    );
}

#[test]
fn rules_load_of_a_broken_set_lists_every_error_and_stores_nothing() {
    let dir = TempDir::new("broken");
    let server = Server::start(dir.path());
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        r#"{
  "header": {"rule_set": "broken"},
  "rules": [
    {"id": "A", "trigger_type": "MARK_EVENT", "action": "X", "condition": {"operator": "ON_EVENT"}, "alert": {}},
    {"id": "B", "trigger_type": "TRACE_STOP", "action": "X", "condition": {"operator": "MAX_GAP_SECONDS", "value": "1"}, "alert": {"handler": "h"}},
    {"id": "C", "trigger_type": "MARK_EVENT", "action": "X", "contxt": "Y", "condition": {"operator": "PRECEDED_BY_WITHIN_MINUTES", "value": "|C1"}, "alert": {"handler": "h"}}
  ]
}"#,
    )
    .expect("write broken set");
    let path = broken.to_str().expect("utf-8 path");
    let out = klaxon(&server, &["rules", "load", path, "--activate"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    for needle in [
        "alert.handler",
        "MAX_GAP_SECONDS",
        "contxt",
        "PRECEDED_BY_WITHIN_MINUTES",
    ] {
        assert!(stdout.contains(needle), "missing {needle} in:\n{stdout}");
    }
    assert!(
        stdout.lines().filter(|l| l.contains(": error: ")).count() >= 4,
        "{stdout}"
    );
    assert!(
        stdout.lines().all(|l| l.starts_with(path)),
        "every error names the file:\n{stdout}"
    );
    assert!(text(&out.stderr).contains("rejected"), "{}", show(&out));

    // Same errors, same words as the offline check.
    let offline = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(["rules", "check", path])
        .output()
        .expect("rules check");
    assert_eq!(text(&offline.stdout), stdout);

    let out = klaxon(&server, &["rules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(text(&out.stdout).trim(), "no rule sets stored");

    let out = klaxon(&server, &["rules", "activate", "broken", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("404"), "{}", show(&out));

    let out = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args([
            "rules",
            "list",
            "--url",
            &server.url,
            "--token",
            "not-a-token",
        ])
        .env_remove("KLAXON_TOKEN")
        .output()
        .expect("rules list");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("401"), "{}", show(&out));
}

#[test]
fn an_unreachable_server_exits_2_and_names_the_url() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["rules", "list"],
        vec!["rules", "activate", "x", "1"],
        vec!["rules", "load", "examples/metro.rules.json"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_klaxon"))
            .args(&args)
            .current_dir(root())
            .env("KLAXON_URL", &url)
            .env("KLAXON_TOKEN", TOKEN)
            .output()
            .expect("run klaxon");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot connect to the klaxon server at {url}")),
            "{args:?}: {stderr}"
        );
    }
}

fn klaxon(server: &Server, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    cmd.args(args)
        .args(["--url", &server.url, "--token", TOKEN])
        .current_dir(root());
    clear_env(&mut cmd);
    cmd.output().expect("run klaxon")
}

fn client(server: &Server) -> Client {
    Client::new(&Target {
        url: server.url.clone(),
        token: Some(TOKEN.to_owned()),
    })
    .expect("client")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn clear_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KLAXON_") {
            cmd.env_remove(k);
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p = std::env::temp_dir().join(format!(
            "klaxon-remote-{tag}-{}-{nanos}",
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

/// `klaxon serve` on `127.0.0.1:0`, ready (health answered 200); killed when dropped, also when
/// the test panics.
struct Server {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
        clear_env(&mut cmd);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(["--admin-token", TOKEN])
            .current_dir(data_dir)
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
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                    }
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let mut server = Server {
            child,
            url: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => server.url = format!("http://{addr}"),
            Err(e) => panic!(
                "klaxon serve did not say where it listens ({e}); log:\n{}",
                server.log()
            ),
        }
        let addr = server.url.trim_start_matches("http://").to_owned();
        let give_up = Instant::now() + Duration::from_secs(15);
        while health(&addr) != Some(200) {
            assert!(
                Instant::now() < give_up,
                "klaxon serve at {} never became healthy; log:\n{}",
                server.url,
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a `listening on http://ADDR` log line.
fn listening_addr(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']' | '-'))
        .collect();
    (!addr.is_empty()).then_some(addr)
}

/// The status of `GET /monitoring/health`, or `None` if nothing answers.
fn health(addr: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(
        format!("GET /monitoring/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}
