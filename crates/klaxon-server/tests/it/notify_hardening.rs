//! Notifications that a hostile configuration or receiver cannot abuse, and a failing channel
//! that cannot hide, end to end against real receivers on loopback: a template that would
//! write a gigabyte, receivers on the metadata address, behind odd spellings of klaxon's own
//! address, behind redirects and answering pages of HTML; an SMTP smarthost that refuses
//! every connection; a small receiver with a listen backlog of five.
//! Waits are bounded polls.
#![allow(clippy::unwrap_used)] // tests

use crate::harness::{configure_notify, data_dir, dechunk, serve, serve_at, Running, ADMIN};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use klaxon_server::config::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Applies `[notify]`, `[route]` and `[[receivers]]` from TOML to `c`, telemetry off.
fn configure(c: &mut Config, text: &str) {
    configure_notify(c, text);
    c.telemetry.enabled = false;
}

/// A route sending every alert at once to receiver `hook`, each alert its own group.
const ROUTE: &str = r#"
[route]
receiver = "hook"
group_by = ["..."]
group_wait = "0s"
group_interval = "0s"
"#;

async fn create(s: &Running, name: &str) -> i64 {
    let body = json!({"name": name, "severity": "high", "labels": {"n": name}, "summary": "x"});
    let (st, v) = s.admin("POST", "/alerts/create", &body.to_string()).await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_i64().unwrap()
}

/// The alert's first notification once `pred` holds on it (bounded).
async fn notification(s: &Running, id: i64, pred: impl Fn(&Value) -> bool) -> Value {
    let v = s
        .until(&format!("/alerts/{id}"), |v| {
            v["notifications"].get(0).is_some_and(&pred)
        })
        .await;
    let n = v["notifications"][0].clone();
    assert!(pred(&n), "{v}");
    n
}

fn finished(n: &Value) -> bool {
    matches!(n["status"].as_str(), Some("failed" | "sent" | "dead"))
}

/// A free loopback port (bound, then closed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_template_that_would_write_a_gigabyte_fails_once_and_says_why() {
    let port = free_port();
    let dir = data_dir("hardening-template");
    let s = serve(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                retry_initial = "50ms"
                retry_max = "100ms"
                {ROUTE}
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://127.0.0.1:{port}/hook"
                body = '{{% for i in range(100000) %}}{{{{ "x" * 10000 }}}}{{% endfor %}}'
                "#
            ),
        );
    })
    .await;
    let before = rss_bytes();
    let t0 = Instant::now();
    let id = create(&s, "Big").await;
    let n = notification(&s, id, finished).await;
    let grew = rss_bytes().saturating_sub(before);
    assert_eq!(n["status"], "failed", "not retried: {n}");
    assert_eq!(n["attempts"], 1, "{n}");
    let e = n["last_error"].as_str().unwrap();
    assert!(
        e.starts_with("receivers[0].webhook_configs[0].body: template error")
            && e.contains("exceeds the limit of 1048576 bytes ([notify] template_max_bytes)"),
        "{e}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(grew < 256 << 20, "resident memory grew {grew} bytes");
    s.stop().await;
}

/// What a scripted HTTP receiver got: (path, body) per request.
#[derive(Default)]
struct Hits(Mutex<Vec<String>>);

/// A receiver: `/hook` answers 200, `/boom` 500 with a 10 KB HTML page, `/redirect?to=URL`
/// 302 to URL.
async fn http_receiver() -> (Arc<Hits>, std::net::SocketAddr) {
    use axum::extract::{Query, State};
    use axum::response::IntoResponse;
    let hits = Arc::new(Hits::default());
    async fn any(
        State(h): State<Arc<Hits>>,
        uri: axum::http::Uri,
        Query(q): Query<std::collections::HashMap<String, String>>,
    ) -> axum::response::Response {
        h.0.lock().unwrap().push(uri.path().to_owned());
        match uri.path() {
            "/boom" => {
                let page = format!(
                    "<!doctype html><html><head><title>500</title><style>h1 {{ color: red }}</style></head>\
                     <body><h1>Internal Server Error</h1><p>\u{1b}[31mthe database is down</p>{}</body></html>",
                    "<div class=\"trace\">at frame</div>\n".repeat(300)
                );
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    [("content-type", "text/html")],
                    page,
                )
                    .into_response()
            }
            "/redirect" => (
                axum::http::StatusCode::FOUND,
                [("location", q.get("to").cloned().unwrap_or_default())],
            )
                .into_response(),
            _ => "ok".into_response(),
        }
    }
    let app = axum::Router::new()
        .fallback(axum::routing::post(any))
        .with_state(Arc::clone(&hits));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (hits, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receivers_cannot_reach_metadata_or_klaxon_itself_and_their_answers_are_cut_short() {
    let (hits, r) = http_receiver().await;
    let own = free_port();
    let dir = data_dir("hardening-outbound");
    // One receiver per case; each alert names its receiver.
    let cases: [(&str, String, &str); 5] = [
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "refused by the outbound policy: 169.254.169.254: 169.254.169.254 is in 169.254.0.0/16, which [notify] deny_networks refuses",
        ),
        (
            "itself",
            format!("http://0x7f000001:{own}/api/v2/alerts"),
            &format!("refused by the outbound policy: 0x7f000001: 127.0.0.1:{own} is klaxon's own listening address"),
        ),
        (
            "itself-decimal",
            format!("http://2130706433:{own}/api/v2/alerts"),
            &format!("127.0.0.1:{own} is klaxon's own listening address"),
        ),
        (
            "redirect",
            format!("http://{r}/redirect?to=http://{r}/hook"),
            &format!("HTTP 302: redirect to http://{r}/hook not followed ([notify] follow_redirects = false)"),
        ),
        ("boom", format!("http://{r}/boom"), "HTTP 500: 500 Internal Server Error [31mthe database is down at frame at frame"),
    ];
    let mut receivers = String::new();
    for (name, url, _) in &cases {
        receivers.push_str(&format!(
            "[[receivers]]\nname = \"{name}\"\n[[receivers.webhook_configs]]\nurl = \"{url}\"\nheaders = {{ Authorization = \"Bearer {}\" }}\ntimeout = \"2s\"\n",
            ADMIN
        ));
    }
    let s = serve_at(&dir, &format!("127.0.0.1:{own}"), |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                retry_initial = "10s"
                retry_max = "10s"
                [route]
                receiver = "boom"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                {receivers}
                "#
            ),
        );
    })
    .await;
    let mut ids = Vec::new();
    for (name, _, _) in &cases {
        let body = json!({"name": format!("A-{name}"), "severity": "high", "notification_channels": [name], "summary": "x"});
        let (st, v) = s.admin("POST", "/alerts/create", &body.to_string()).await;
        assert_eq!(st, 201, "{v}");
        ids.push(v["id"].as_i64().unwrap());
    }
    for ((name, _, want), id) in cases.iter().zip(&ids) {
        let n = notification(&s, *id, |n| {
            n["attempts"].as_i64() >= Some(1) && n["last_error"].is_string()
        })
        .await;
        let e = n["last_error"].as_str().unwrap();
        assert!(e.starts_with(want) || e.contains(want), "{name}: {e}");
        if *name == "boom" {
            assert_eq!(n["status"], "retrying", "a 500 is retried: {n}");
            assert!(
                e.chars().count() <= 210,
                "{name}: {} characters",
                e.chars().count()
            );
            assert!(
                !e.contains('<') && !e.chars().any(char::is_control),
                "{name}: {e}"
            );
            assert_eq!(n["last_code"], 500);
        } else {
            assert_eq!(n["status"], "failed", "{name}: not retried: {n}");
        }
    }
    // Only the 500 and the redirect reached the receiver; nothing followed the redirect.
    let got = hits.0.lock().unwrap().clone();
    assert_eq!(got.iter().filter(|p| *p == "/hook").count(), 0, "{got:?}");
    assert!(got.contains(&"/redirect".to_owned()), "{got:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_name_that_resolves_to_a_denied_address_is_refused() {
    let (hits, r) = http_receiver().await;
    let dir = data_dir("hardening-denied-name");
    let s = serve(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                deny_networks = ["127.0.0.0/8", "::1"]
                {ROUTE}
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://localhost:{}/hook"
                "#,
                r.port()
            ),
        );
    })
    .await;
    let id = create(&s, "Local").await;
    let n = notification(&s, id, finished).await;
    assert_eq!(n["status"], "failed", "{n}");
    let e = n["last_error"].as_str().unwrap();
    assert!(
        e.starts_with("refused by the outbound policy: localhost: ")
            && e.contains("which [notify] deny_networks refuses"),
        "{e}"
    );
    assert!(hits.0.lock().unwrap().is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redirects_when_followed_are_checked_at_every_hop() {
    let (hits, r) = http_receiver().await;
    let own = free_port();
    let dir = data_dir("hardening-redirect");
    let s = serve_at(&dir, &format!("127.0.0.1:{own}"), |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                follow_redirects = true
                retry_initial = "10s"
                retry_max = "10s"
                [route]
                receiver = "ok"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "ok"
                [[receivers.webhook_configs]]
                url = "http://{r}/redirect?to=/hook"
                [[receivers]]
                name = "itself"
                [[receivers.webhook_configs]]
                url = "http://{r}/redirect?to=http://0177.0.0.1:{own}/api/v2/alerts"
                "#
            ),
        );
    })
    .await;
    let ok = create(&s, "Followed").await;
    let body = json!({"name": "Bounced", "severity": "high", "notification_channels": ["itself"], "summary": "x"});
    let (_, v) = s.admin("POST", "/alerts/create", &body.to_string()).await;
    let bounced = v["id"].as_i64().unwrap();
    let n = notification(&s, ok, finished).await;
    assert_eq!(n["status"], "sent", "{n}");
    let n = notification(&s, bounced, finished).await;
    assert_eq!(n["status"], "failed", "{n}");
    let e = n["last_error"].as_str().unwrap();
    assert!(
        e.contains(&format!(
            "127.0.0.1:{own} is klaxon's own listening address"
        )),
        "{e}"
    );
    assert_eq!(
        hits.0
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == "/hook")
            .count(),
        1
    );
    s.stop().await;
}

/// Log lines of this test binary, for the tests that look for a warning.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct W;
        impl std::io::Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                logs().lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| W)
            .finish();
        let _ = tracing::subscriber::set_global_default(sub);
        Mutex::new(Vec::new())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_smtp_relay_that_refuses_every_connection_is_logged_named_and_counted() {
    logs();
    let closed = free_port();
    let dir = data_dir("hardening-smtp");
    let s = serve(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                retry_initial = "20ms"
                retry_max = "40ms"
                [route]
                receiver = "refusing-relay"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "refusing-relay"
                [[receivers.email_configs]]
                to = ["oncall@example.test"]
                from = "klaxon@example.test"
                smarthost = "127.0.0.1:{closed}"
                tls = "none"
                "#
            ),
        );
    })
    .await;
    let id = create(&s, "Unmailable").await;
    // Several attempts fail while the notification keeps retrying.
    let n = notification(&s, id, |n| n["attempts"].as_i64() >= Some(4)).await;
    // Between attempts it is retrying, during one it is claimed (sending): never given up.
    assert!(
        matches!(n["status"].as_str(), Some("retrying" | "sending")),
        "{n}"
    );
    assert!(
        n["last_error"].as_str().unwrap().starts_with("smtp:"),
        "{n}"
    );

    // Health: 200 (the server is fine), degraded, naming the channel.
    let (st, _, h) = s.call("GET", "/monitoring/health", None, "", "").await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["status"], "degraded", "{h}");
    assert_eq!(h["ready"], true, "{h}");
    assert_eq!(
        h["failing_channels"],
        json!(["refusing-relay/email#0"]),
        "{h}"
    );
    let c = &h["channels"][0];
    assert_eq!(
        (&c["receiver"], &c["channel"], &c["state"]),
        (&json!("refusing-relay"), &json!("email"), &json!("failing")),
        "{h}"
    );
    assert!(c["consecutive_failures"].as_u64() >= Some(4), "{h}");
    assert!(
        c["last_success"].is_null() && c["last_failure"].is_string(),
        "{h}"
    );

    // Delivery statistics: the failed attempts count while the notification still retries.
    let (_, d) = s.admin("GET", "/alerts/metrics/delivery", "").await;
    let email = &d["channels"]["email"];
    assert!(email["failed_attempts"].as_u64() >= Some(4), "{d}");
    assert_eq!(
        email["retrying"].as_u64().unwrap() + email["pending"].as_u64().unwrap(),
        1,
        "{d}"
    );
    assert_eq!(
        (email["sent"].as_u64(), email["dead"].as_u64()),
        (Some(0), Some(0)),
        "{d}"
    );
    assert_eq!(d["failing"][0]["receiver"], "refusing-relay", "{d}");

    // Prometheus, by receiver and channel.
    let metrics = raw(s.addr(), "/monitoring/prometheus").await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with(
                "klaxon_notification_attempt_failures_total{receiver=\"refusing-relay\",channel=\"email\",index=\"0\"}",
            )
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    let count: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 4, "{line}");
    assert!(
        metrics.contains(
            "klaxon_notification_channel_failing{receiver=\"refusing-relay\",channel=\"email\",index=\"0\"} 1"
        ),
        "{metrics}"
    );

    // A warning names the channel, once: the other failures of the minute are counted, not
    // logged. (The log is the whole test binary's, so the receiver's name is its own.)
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("notification delivery failed") && l.contains("receiver=refusing-relay")
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].contains("WARN") && warnings[0].contains("receiver=refusing-relay"),
        "{}",
        warnings[0]
    );
    s.stop().await;
}

/// A GET with the admin token; the whole answer as text.
async fn raw(addr: std::net::SocketAddr, path: &str) -> String {
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        ADMIN
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.to_ascii_lowercase().contains("chunked") => dechunk(body),
        Some((_, body)) => body.to_owned(),
        None => text,
    }
}

/// A small HTTP/1.1 receiver with a listen backlog of 5 that counts connections: accepted in
/// all, open at once (and the most ever), and requests. Each request takes `work`.
#[derive(Default)]
struct Small {
    accepted: AtomicUsize,
    open: AtomicUsize,
    most_open: AtomicUsize,
    requests: AtomicUsize,
}

async fn small_receiver(work: Duration) -> (Arc<Small>, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let l = socket.listen(5).unwrap();
    let port = l.local_addr().unwrap().port();
    let small = Arc::new(Small::default());
    let st = Arc::clone(&small);
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let st = Arc::clone(&st);
            st.accepted.fetch_add(1, SeqCst);
            let now = st.open.fetch_add(1, SeqCst) + 1;
            st.most_open.fetch_max(now, SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                'conn: loop {
                    // One request: head, then Content-Length bytes of body.
                    let (head_end, len) = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (i + 4, len);
                        }
                        match c.read(&mut chunk).await {
                            Ok(0) | Err(_) => break 'conn,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_end + len {
                        match c.read(&mut chunk).await {
                            Ok(0) | Err(_) => break 'conn,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    tokio::time::sleep(work).await;
                    st.requests.fetch_add(1, SeqCst);
                    if c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                st.open.fetch_sub(1, SeqCst);
            });
        }
    });
    (small, port)
}

/// 100 alerts in one Alertmanager batch: 100 notifications, each alert its own group.
async fn hundred_alerts(s: &Running) {
    let alerts: Vec<Value> = (0..100)
        .map(|i| json!({"labels": {"alertname": "Small", "n": i.to_string()}}))
        .collect();
    let (st, v) = s
        .admin("POST", "/api/v2/alerts", &Value::Array(alerts).to_string())
        .await;
    assert_eq!(st, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_receiver_gets_a_few_reused_connections_and_every_notification() {
    let (small, port) = small_receiver(Duration::from_millis(10)).await;
    let dir = data_dir("hardening-small");
    let s = serve(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                retry_initial = "100ms"
                retry_max = "1s"
                {ROUTE}
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://127.0.0.1:{port}/hook"
                "#
            ),
        );
    })
    .await;
    hundred_alerts(&s).await;
    let t0 = Instant::now();
    while small.requests.load(SeqCst) < 100 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "only {} of 100 arrived",
            small.requests.load(SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, d) = s.admin("GET", "/alerts/metrics/delivery", "").await;
    let retries = d["channels"]["webhook"]["since_start"]["retries"]
        .as_u64()
        .unwrap();
    let most = small.most_open.load(SeqCst);
    let accepted = small.accepted.load(SeqCst);
    println!(
        "100 notifications in {:.2} s, {retries} retries, {accepted} connections, at most {most} at once",
        t0.elapsed().as_secs_f64()
    );
    assert!(most <= 4, "at most the per-host limit at once: {most}");
    assert!(accepted <= 8, "connections are reused: {accepted} accepted");
    assert!(retries <= 2, "{retries} retries");
    assert_eq!(small.requests.load(SeqCst), 100);
    s.stop().await;
}
