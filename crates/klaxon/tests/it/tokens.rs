//! `klaxon tokens create|list|revoke` as a user runs them: the binary against a server that
//! runs inside this test process, so that its whole log (debug level) is captured and can be
//! searched for secrets.
#![allow(clippy::unwrap_used)] // tests

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, Once};

use crate::client::{Client, Target};
use klaxon_server::config::{Config, Secret};

const ADMIN: &str = "cli-tokens-admin-token-0123456789";

/// Everything the server logged, from every test of this binary.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

/// `klaxon serve` in this process, on a free loopback port; stopped when dropped.
struct Server {
    url: String,
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(tag: &str) -> Server {
        static LOGS: Once = Once::new();
        LOGS.call_once(|| {
            tracing_subscriber::fmt()
                .with_writer(|| Capture)
                .with_max_level(tracing::Level::DEBUG)
                .with_ansi(false)
                .init();
        });
        let dir = std::env::temp_dir().join(format!("klaxon-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = Config {
            data_dir: dir.clone(),
            admin_token: Some(Secret(ADMIN.to_owned())),
            ..Config::default()
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                klaxon_server::run(config, listener, async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            url,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Runs the binary with these arguments against this server, as the holder of `token`.
    fn klaxon(&self, token: &str, args: &[&str]) -> Ran {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KLAXON_") {
                cmd.env_remove(k);
            }
        }
        Ran::of(
            cmd.args(args)
                .args(["--url", &self.url, "--token", token])
                .output()
                .unwrap(),
        )
    }

    /// Creates a token with the binary; its secret.
    fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["tokens", "create"];
        all.extend_from_slice(args);
        let out = self.klaxon(ADMIN, &all);
        assert!(out.ok(), "{out:?}");
        let secret = out.stdout.trim().to_owned();
        assert!(secret.starts_with("klx_"), "{out:?}");
        assert_eq!(out.stdout.lines().count(), 1, "only the secret on stdout");
        assert!(out.stderr.contains("shown only this once"), "{out:?}");
        secret
    }

    /// The status of `method path` with `token`.
    fn status(&self, token: &str, method: hyper::Method, path: &str, body: &str) -> u16 {
        let client = Client::new(&Target {
            url: self.url.clone(),
            token: Some(token.to_owned()),
        })
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let reply = rt
            .block_on(client.call(
                method,
                path,
                Some("application/json"),
                body.to_owned().into(),
            ))
            .unwrap();
        reply.status.as_u16()
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a run of the binary printed, and how it ended.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn of(out: Output) -> Ran {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ran {
            code: out.status.code(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }

    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

#[test]
fn every_role_created_with_the_cli_works_for_its_routes_and_only_those() {
    use hyper::Method;
    let server = Server::start("roles");
    let signal = r#"{"kind":"mark","process":"p","action":"A"}"#;
    let routes = [
        (Method::POST, "/v1/signals", signal),
        (Method::GET, "/v1/alerts", ""),
        (
            Method::POST,
            "/alerts/bulk/acknowledge",
            r#"{"ids": [999999]}"#,
        ),
        (Method::GET, "/v1/tokens", ""),
    ];
    for (role, expected) in [
        ("ingest", [true, false, false, false]),
        ("viewer", [false, true, false, false]),
        ("responder", [false, true, true, false]),
        ("admin", [true, true, true, true]),
    ] {
        let secret = server.create(&["--role", role, "--name", &format!("cli-{role}")]);
        for ((method, path, body), allowed) in routes.iter().zip(expected) {
            let s = server.status(&secret, method.clone(), path, body);
            if allowed {
                assert!((200..300).contains(&s), "{role} {method} {path}: {s}");
            } else {
                assert_eq!(s, 403, "{role} {method} {path}");
            }
        }
        let out = server.klaxon(&secret, &["tokens", "list"]);
        if role == "admin" {
            assert!(out.ok(), "{out:?}");
        } else {
            assert_eq!(out.code, Some(1), "{role}: {out:?}");
            assert!(out.stderr.contains("403"), "{out:?}");
        }
    }
    let out = server.klaxon(
        ADMIN,
        &["tokens", "create", "--role", "root", "--name", "x"],
    );
    assert_eq!(out.code, Some(2), "clap refuses the role: {out:?}");
    assert!(server.path().exists());
}

#[test]
fn tokens_are_listed_and_revoked_by_name_or_id_and_no_secret_is_printed_or_logged() {
    let server = Server::start("revoke");
    let out = server.klaxon(ADMIN, &["users", "create", "ana"]);
    assert!(out.ok(), "{out:?}");
    let prometheus = server.create(&["--role", "ingest", "--name", "prometheus"]);
    let grafana = server.create(&[
        "--role",
        "viewer",
        "--name",
        "grafana",
        "--expires",
        "30d",
        "--user",
        "ana",
    ]);
    let out = server.klaxon(ADMIN, &["tokens", "list"]);
    assert!(out.ok(), "{out:?}");
    let table = out.stdout;
    let head = table.lines().next().unwrap_or("");
    assert!(
        head.starts_with("ID") && head.contains("LAST USED"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains("grafana"))
        .unwrap_or_else(|| panic!("no grafana row:\n{table}"));
    assert!(
        row.contains("viewer") && row.contains("active") && row.contains("ana"),
        "{row}"
    );
    assert!(
        row.contains("config-admin-"),
        "created by the admin token: {row}"
    );

    let signal = r#"{"kind":"mark","process":"p","action":"A"}"#;
    assert_eq!(
        server.status(&prometheus, hyper::Method::POST, "/v1/signals", signal),
        200
    );
    let out = server.klaxon(ADMIN, &["tokens", "revoke", "prometheus"]);
    assert!(out.ok(), "{out:?}");
    assert!(
        out.stdout.contains("revoked ingest token \"prometheus\""),
        "{out:?}"
    );
    assert_eq!(
        server.status(&prometheus, hyper::Method::POST, "/v1/signals", signal),
        401,
        "refused at once"
    );

    let id = table
        .lines()
        .find(|l| l.contains("grafana"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let out = server.klaxon(ADMIN, &["tokens", "revoke", &id]);
    assert!(out.ok(), "{out:?}");
    assert_eq!(
        server.status(&grafana, hyper::Method::GET, "/v1/alerts", ""),
        401
    );
    let out = server.klaxon(ADMIN, &["tokens", "revoke", "prometheus"]);
    assert_eq!(out.code, Some(1), "no token in force of that name: {out:?}");

    let out = server.klaxon(ADMIN, &["tokens", "list"]);
    let table = out.stdout;
    assert_eq!(
        table.lines().filter(|l| l.contains(" revoked ")).count(),
        2,
        "{table}"
    );
    let log = log();
    assert!(log.contains("token created"), "the log is captured:\n{log}");
    for secret in [&prometheus, &grafana] {
        assert!(
            !table.contains(secret.as_str()),
            "a secret in the list:\n{table}"
        );
        assert!(
            !log.contains(secret.as_str()),
            "a secret in the log:\n{log}"
        );
        assert!(
            !log.contains(&secret[4..]),
            "part of a secret in the log:\n{log}"
        );
    }
}

#[test]
fn users_and_teams_are_made_listed_shown_and_deleted_with_the_cli() {
    let server = Server::start("people");
    let out = server.klaxon(
        ADMIN,
        &[
            "users",
            "create",
            "alice",
            "--time-zone",
            "Europe/Berlin",
            "--email",
            "alice@example.com",
            "--contact",
            "slack:#ops",
            "--contact",
            "webhook:https://hooks.example.com/alice",
        ],
    );
    assert!(out.ok(), "{out:?}");
    let out = server.klaxon(
        ADMIN,
        &["users", "create", "bob", "--time-zone", "Mars/Base"],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("time_zone"), "{out:?}");
    let out = server.klaxon(ADMIN, &["users", "create", "bob", "--contact", "fax:1"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("email, slack, webhook, pagerduty"),
        "{out:?}"
    );

    let out = server.klaxon(ADMIN, &["users", "list"]);
    assert!(out.ok(), "{out:?}");
    assert!(
        out.stdout.contains("Europe/Berlin") && out.stdout.contains("slack:#ops"),
        "{out:?}"
    );
    let out = server.klaxon(ADMIN, &["users", "show", "alice"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["contacts"][1]["url"], "https://hooks.example.com/alice");

    let out = server.klaxon(ADMIN, &["teams", "create", "db", "--member", "alice"]);
    assert!(out.ok(), "{out:?}");
    let out = server.klaxon(ADMIN, &["teams", "list"]);
    assert!(out.stdout.contains("alice"), "{out:?}");
    let out = server.klaxon(ADMIN, &["users", "delete", "alice"]);
    assert_eq!(out.code, Some(1), "in a team: {out:?}");

    let secret = server.create(&["--role", "viewer", "--name", "alice-cli", "--user", "alice"]);
    assert_eq!(
        server.status(&secret, hyper::Method::GET, "/v1/alerts", ""),
        200
    );
    let out = server.klaxon(ADMIN, &["tokens", "list"]);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("alice-cli") && l.contains("alice")),
        "{out:?}"
    );
    let out = server.klaxon(
        ADMIN,
        &[
            "tokens", "create", "--role", "viewer", "--name", "x", "--user", "nobody",
        ],
    );
    assert_eq!(out.code, Some(1), "{out:?}");

    let out = server.klaxon(ADMIN, &["teams", "delete", "db"]);
    assert!(out.ok(), "{out:?}");
    let out = server.klaxon(ADMIN, &["teams", "show", "db"]);
    assert_eq!(out.code, Some(1), "{out:?}");
}
