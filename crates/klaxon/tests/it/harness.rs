//! The test harness of the binary: `klaxon serve` as a child process on 127.0.0.1:0 with its
//! own data directory (ready once it answers its health check; killed when dropped, also when
//! a test panics), other programs the tests run (Prometheus, Alertmanager) with their output
//! in a log file, temporary directories, and requests through the CLI's own HTTP client.
#![allow(dead_code)] // the test binary and the benches each use part of it

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use crate::client::{self, Client, Target};

/// The admin token of every server a test starts.
pub(crate) const TOKEN: &str = "it-admin-token-0123456789";

/// A rule set with an error in each of its three rules (a missing handler, an operator its
/// trigger cannot take, a misspelled key and a malformed value): `rules check` and `rules load`
/// must name them all.
pub(crate) const BROKEN_RULES: &str = r#"{
  "header": {"rule_set": "broken"},
  "rules": [
    {"id": "A", "trigger_type": "MARK_EVENT", "action": "X", "condition": {"operator": "ON_EVENT"}, "alert": {}},
    {"id": "B", "trigger_type": "TRACE_STOP", "action": "X", "condition": {"operator": "MAX_GAP_SECONDS", "value": "1"}, "alert": {"handler": "h"}},
    {"id": "C", "trigger_type": "MARK_EVENT", "action": "X", "contxt": "Y", "condition": {"operator": "PRECEDED_BY_WITHIN_MINUTES", "value": "|C1"}, "alert": {"handler": "h"}}
  ]
}"#;

/// What the errors of [`BROKEN_RULES`] name, one each at least.
pub(crate) const BROKEN_RULES_ERRORS: [&str; 4] = [
    "alert.handler",
    "MAX_GAP_SECONDS",
    "contxt",
    "PRECEDED_BY_WITHIN_MINUTES",
];

/// The repository's root (examples are read from there).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary under test, in the repository's root, with no `KLAXON_*` variable of the
/// environment that runs the tests.
pub(crate) fn klaxon() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KLAXON_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(root());
    cmd
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit code, stdout and stderr, for an assertion message.
pub(crate) fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// A port that was free a moment ago on 127.0.0.1 (nothing listens on it now).
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
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

/// A directory under the system temp dir, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let p =
            std::env::temp_dir().join(format!("klaxon-it-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub(crate) fn path(&self) -> &Path {
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
pub(crate) struct Serve {
    pub child: Child,
    /// `http://ADDR`.
    pub url: String,
    /// `ADDR`, as the server logged it.
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Serve {
    /// Serves `data_dir` (created if missing), which is also its working directory.
    pub(crate) fn start(data_dir: &Path) -> Serve {
        Serve::start_with(data_dir, None)
    }

    /// As [`Serve::start`], with a configuration file (`--config`).
    pub(crate) fn start_with(data_dir: &Path, config: Option<&Path>) -> Serve {
        Serve::start_on(&Backend::Sqlite, data_dir, config)
    }

    /// As [`Serve::start_with`], keeping its data in `backend`.
    pub(crate) fn start_on(backend: &Backend, data_dir: &Path, config: Option<&Path>) -> Serve {
        Serve::start_listening(backend, data_dir, config, "127.0.0.1:0")
    }

    /// As [`Serve::start_on`], listening on `listen`.
    pub(crate) fn start_listening(
        backend: &Backend,
        data_dir: &Path,
        config: Option<&Path>,
        listen: &str,
    ) -> Serve {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let mut cmd = klaxon();
        cmd.args(["serve", "--listen", listen, "--data-dir"])
            .arg(data_dir)
            .args(["--admin-token", TOKEN]);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        if let Backend::Postgres(pg) = backend {
            cmd.env("KLAXON_STORE__URL", pg.store_url());
        }
        cmd.current_dir(data_dir)
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
        let mut server = Serve {
            child,
            url: String::new(),
            addr: String::new(),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => {
                server.url = format!("http://{addr}");
                server.addr = addr;
            }
            Err(e) => panic!(
                "klaxon serve did not say where it listens ({e}); log:\n{}",
                server.log()
            ),
        }
        let give_up = Instant::now() + Duration::from_secs(15);
        while request(&server.addr, "GET", "/monitoring/health", None).map(|r| r.0) != Some(200) {
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

    /// The CLI's client for this server, with the admin token.
    pub(crate) fn client(&self) -> Client {
        Client::new(&Target {
            url: self.url.clone(),
            token: Some(TOKEN.to_owned()),
        })
        .expect("client")
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub(crate) fn kill_9(&mut self) {
        self.child.kill().expect("kill -9 the server");
        let status = self.child.wait().expect("reap the server");
        assert!(
            !status.success(),
            "the server was killed, not stopped: {status}"
        );
    }

    /// What the server wrote to stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a server under test keeps its data: SQLite files in its data directory, or a
/// PostgreSQL schema of its own.
pub(crate) enum Backend {
    Sqlite,
    Postgres(PgSchema),
}

impl Backend {
    /// A fresh PostgreSQL schema at `KLAXON_TEST_POSTGRES_URL` (default
    /// `postgres://postgres@127.0.0.1:5432/test`), or none with the reason printed when no
    /// PostgreSQL answers (a failure instead if `KLAXON_REQUIRE_PEERS` is set).
    pub(crate) fn postgres(tag: &str) -> Option<Backend> {
        PgSchema::new(tag).map(Backend::Postgres)
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgresql",
        }
    }
}

/// A fresh schema in the test database, dropped with everything in it when this is dropped.
pub(crate) struct PgSchema {
    url: String,
    pub schema: String,
}

impl PgSchema {
    /// A new empty schema, or none (the reason printed) when no PostgreSQL answers.
    pub(crate) fn new(tag: &str) -> Option<PgSchema> {
        let url = std::env::var("KLAXON_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!("klaxon_it_{tag}_{}_{nanos}", std::process::id());
        let pg = PgSchema { url, schema };
        let sql = format!("CREATE SCHEMA {}", pg.schema);
        match pg.run(|db| async move { db.batch_execute(&sql).await }) {
            Ok(()) => Some(pg),
            Err(why) => {
                assert!(
                    std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
                    "KLAXON_REQUIRE_PEERS is set but {why}"
                );
                eprintln!("skipped: {why} (set KLAXON_TEST_POSTGRES_URL)");
                None
            }
        }
    }

    /// `[store] url` of a server keeping its data in this schema.
    pub(crate) fn store_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.url, self.schema
        )
    }

    /// Runs `f` on a connection whose search path is this schema, on a runtime of its own.
    pub(crate) fn run<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: FnOnce(tokio_postgres::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let url = self.store_url();
        rt.block_on(async move {
            let connecting = tokio_postgres::connect(&url, tokio_postgres::NoTls);
            let (client, connection) =
                match tokio::time::timeout(Duration::from_secs(5), connecting).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => return Err(format!("cannot connect to {url}: {e}")),
                    Err(_) => return Err(format!("connecting to {url} timed out")),
                };
            tokio::spawn(connection);
            f(client).await.map_err(|e| format!("postgresql: {e}"))
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Err(e) = self.run(|db| async move { db.batch_execute(&sql).await }) {
            eprintln!("dropping schema {}: {e}", self.schema);
        }
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

/// One request to `addr` (with `token` as bearer, if any) through the CLI's client on a
/// runtime of its own: the status and the body, or `None` when nothing answers.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> Option<(u16, String)> {
    let client = Client::new(&Target {
        url: format!("http://{addr}"),
        token: token.map(str::to_owned),
    })
    .ok()?;
    let method = hyper::Method::from_bytes(method.as_bytes()).ok()?;
    let reply = client::runtime()
        .ok()?
        .block_on(client.call(method, path, None, Bytes::new()))
        .ok()?;
    Some((reply.status.as_u16(), text(&reply.body)))
}

/// GET with the admin token; the status and the JSON body (`null` when not JSON).
pub(crate) fn get(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) =
        request(addr, "GET", path, Some(TOKEN)).unwrap_or_else(|| panic!("GET {path}: no answer"));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Polls `addr` until `path` answers 200 (bounded).
pub(crate) fn wait_ready(addr: &str, path: &str) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while request(addr, "GET", path, None).map(|r| r.0) != Some(200) {
        assert!(Instant::now() < give_up, "{addr}{path} never answered 200");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process whose output goes to a log file; killed when dropped.
pub(crate) struct Proc {
    name: &'static str,
    pub child: Child,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Proc {
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

    /// The last 30 lines of its output.
    pub(crate) fn log_tail(&self) -> String {
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
