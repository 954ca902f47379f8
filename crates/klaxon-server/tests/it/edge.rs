//! The HTTP edge, walked over every endpoint of the table (read from `/openapi.json`, which the
//! router and the document are both built from, so a new endpoint is covered without a change
//! here): the caller is checked before a body is read, bodies are capped per endpoint, and every
//! error, whatever the input, is the API's JSON error with a 4xx status.

use std::time::{Duration, Instant};

use klaxon_store::{Role, Store};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{data_dir, dechunk, serve, Running, ADMIN};

const VIEWER: &str = "edge-viewer-token-0123456789";
const INGEST: &str = "edge-ingest-token-0123456789";

/// One response, read by hand so that a request whose body is never sent can still be answered.
#[derive(Debug)]
struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one response from `s` within 5 s (None: nothing, or the connection closed first).
async fn read_response(s: &mut TcpStream) -> Option<Resp> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut body = buf[head_end + 4..].to_vec();
        let mut r = Resp {
            status: head.split_whitespace().nth(1)?.parse().ok()?,
            head,
            body: Vec::new(),
        };
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let len = r.header("content-length").and_then(|v| v.parse().ok());
        if r.header("content-type")
            .is_some_and(|v| v.starts_with("text/event-stream"))
        {
            return Some(r); // a stream: its body never ends
        }
        loop {
            let done = match len {
                Some(n) => body.len() >= n,
                None if chunked => body.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        r.body = if chunked {
            dechunk(&String::from_utf8_lossy(&body)).into_bytes()
        } else {
            body
        };
        Some(r)
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}

/// Sends `head` (a request line and headers, without the blank line) and `body` on a fresh
/// connection and reads the response.
async fn send(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{head}\r\n\r\n").into_bytes();
    req.extend_from_slice(body);
    // The server may answer (413, 401) and close before the whole body is written.
    let _ = s.write_all(&req).await;
    read_response(&mut s)
        .await
        .unwrap_or_else(|| panic!("no response to {head:?}"))
}

/// A request with `token` (if any) and a body of exactly its bytes.
async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> Resp {
    let auth = token
        .map(|t| format!("\r\nAuthorization: Bearer {t}"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close",
        body.len()
    );
    send(addr, &head, body).await
}

/// Asserts that `r` is an error in the documented shape: JSON, `{"error": {"code", "message"}}`
/// (the Alertmanager API's own 400 and 422 shapes on `/api/v2/`, and its 410 notice on the
/// removed `/api/v1/`, as docs/alertmanager.md says; OTLP's `google.rpc.Status` for a body
/// OTLP/HTTP cannot read, as docs/opentelemetry.md says).
fn assert_error(what: &str, path: &str, r: &Resp) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: {path}: status {} is not a 4xx: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let ctype = r.header("content-type").unwrap_or_default();
    assert!(
        ctype.starts_with("application/json"),
        "{what}: {path}: {} with content type {ctype:?}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let v = r.json();
    if path.starts_with("/api/v2/") && (v.is_string() || v["code"].is_number()) {
        return;
    }
    // Alertmanager's removed API v1 answers everything with its own 410 notice.
    if path.starts_with("/api/v1/") && r.status == 410 && v["status"] == "deprecated" {
        return;
    }
    let otlp = ["/v1/traces", "/v1/logs", "/v1/metrics"].contains(&path);
    if otlp && (r.status == 400 || r.status == 415) {
        assert!(
            v["code"] == 3 && v["message"].is_string(),
            "{what}: {path}: {} body is not a google.rpc.Status: {v}",
            r.status
        );
        return;
    }
    assert!(
        v["error"]["code"].is_string() && v["error"]["message"].is_string(),
        "{what}: {path}: {} body is not the error shape: {v}",
        r.status
    );
}

/// Every (method, path template, operation) of the endpoint table.
async fn table(addr: std::net::SocketAddr) -> Vec<(String, String, Value)> {
    let doc = call(addr, "GET", "/openapi.json", None, b"").await.json();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            out.push((method.to_ascii_uppercase(), path.clone(), op.clone()));
        }
    }
    assert!(out.len() > 40, "the table has {} endpoints", out.len());
    out
}

/// `template` with each `{param}` replaced by `value(param)`.
fn fill(template: &str, value: impl Fn(&str) -> &'static str) -> String {
    template
        .split('/')
        .map(|seg| {
            match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => value(name),
                None => seg,
            }
            .to_owned()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn good(param: &str) -> &'static str {
    match param {
        "id" | "version" => "1",
        _ => "x",
    }
}

async fn with_tokens(r: &Running) {
    for (name, role, token) in [("v", Role::Viewer, VIEWER), ("i", Role::Ingest, INGEST)] {
        r.store
            .insert_token(name, role, &klaxon_server::hash_token(token), 0)
            .await
            .expect("token");
    }
}

/// The caller is checked from the request's head: a request that declares a 100 MB body it
/// never sends is answered 401 at once (the server cannot have read it), whatever its path,
/// query or body; a token of the wrong role is a 403 before the body matters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_checks_the_caller_before_reading_the_body() {
    let dir = data_dir("edge-auth");
    let s = serve(&dir, |_| {}).await;
    with_tokens(&s).await;
    let mut checked = 0;
    for (method, template, op) in table(s.addr()).await {
        let role = op["x-klaxon-role"].as_str().expect("role");
        if role == "none" || op["x-klaxon-auth"] == "in-band" {
            continue;
        }
        let path = fill(&template, good);
        let t0 = Instant::now();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100000000"
        );
        let r = send(s.addr(), &head, b"").await;
        assert_eq!(r.status, 401, "{method} {path}: {:?}", r.json());
        assert_error("no token, 100 MB declared", &path, &r);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "{method} {path}: 401 took {:?}",
            t0.elapsed()
        );

        // Whatever the path, query and body.
        let bad = fill(&template, |_| "99999999999999999999");
        let r = call(
            s.addr(),
            &method,
            &format!("{bad}?limit=-1&after_id=x"),
            None,
            b"\xff\xfe{\"not json",
        )
        .await;
        assert_eq!(r.status, 401, "{method} {bad}: {:?}", r.json());
        assert_error("no token, bad input", &bad, &r);

        let wrong = if role == "ingest" { VIEWER } else { INGEST };
        let r = call(s.addr(), &method, &path, Some(wrong), b"{}").await;
        assert_eq!(r.status, 403, "{method} {path} as {wrong}: {:?}", r.json());
        assert_error("wrong role", &path, &r);
        checked += 1;
    }
    assert!(checked > 40, "{checked} endpoints checked");
    s.stop().await;
}

/// Bad path parameters, bad queries and bad bodies, sent with the admin token to every endpoint,
/// are never a 5xx and never a text answer: each error is the JSON error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_bad_input_with_a_json_error() {
    let dir = data_dir("edge-errors");
    let s = serve(&dir, |_| {}).await;
    let bodies: [&[u8]; 5] = [
        b"{\"a\":",
        b"\xff\xfe\x00{}",
        b"[1, 2, 3]",
        b"\"text\"",
        b"{\"name\": 7, \"text\": [], \"assignee\": {}, \"token\": 1, \"matchers\": 2}",
    ];
    for (method, template, op) in table(s.addr()).await {
        if op["x-klaxon-auth"] == "in-band" {
            continue;
        }
        let path = fill(&template, good);
        // Ids that are not numbers, or do not fit one.
        let integers: Vec<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path" && p["schema"]["type"] == "integer")
            .filter_map(|p| p["name"].as_str())
            .collect();
        for bad in ["abc", "99999999999999999999", "-"] {
            if integers.is_empty() {
                break;
            }
            let p = fill(
                &template,
                |n| {
                    if integers.contains(&n) {
                        bad
                    } else {
                        good(n)
                    }
                },
            );
            let r = call(s.addr(), &method, &p, Some(ADMIN), b"").await;
            assert_eq!(r.status, 400, "{method} {p}");
            assert_error("bad path", &p, &r);
        }
        // Queries that do not parse where a handler reads them (ignored where none does).
        let q = format!(
            "{path}?limit=99999999999999999999&after_id=abc&before_id=-1.5&cursor=%ZZ&from=never&wait=x&group=&active=maybe&filter=%7B"
        );
        let r = call(s.addr(), &method, &q, Some(ADMIN), b"").await;
        assert!(r.status < 500, "{method} {q}: {}", r.status);
        if r.status >= 400 {
            assert_error("bad query", &path, &r);
        }
        if method == "GET" || method == "DELETE" {
            continue;
        }
        for body in bodies {
            let r = call(s.addr(), &method, &path, Some(ADMIN), body).await;
            assert!(
                r.status < 500,
                "{method} {path} {:?}: {}",
                String::from_utf8_lossy(body),
                r.status
            );
            if r.status >= 400 {
                assert_error(
                    &format!("body {:?}", String::from_utf8_lossy(body)),
                    &path,
                    &r,
                );
            }
        }
    }
    // Queries that do not parse on the endpoints that read them are 400s.
    for q in [
        "/v1/alerts?limit=99999999999999999999",
        "/v1/alerts?after_id=abc",
        "/alerts/history?limit=-1",
        "/alerts/99999999999999999999",
    ] {
        let r = call(s.addr(), "GET", q, Some(ADMIN), b"").await;
        assert_eq!(r.status, 400, "{q}");
        assert_error("bad query", q, &r);
    }
    // As docs/alerts.md says: malformed JSON is 400, the wrong shape 422; rule sets are UTF-8.
    let r = call(
        s.addr(),
        "POST",
        "/alerts/create",
        Some(ADMIN),
        b"{\"name\":",
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let r = call(
        s.addr(),
        "POST",
        "/alerts/create",
        Some(ADMIN),
        b"{\"name\": 1}",
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (422, Some("invalid_body"))
    );
    let r = call(
        s.addr(),
        "POST",
        "/v1/rulesets/check",
        Some(ADMIN),
        b"\xff\xfe",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_error("rule set not UTF-8", "/v1/rulesets/check", &r);
    // A note with a bad body and no token is a 401, not a 422.
    let r = call(s.addr(), "POST", "/alerts/1/notes", None, b"{\"text\": 5}").await;
    assert_eq!(r.status, 401);
    s.stop().await;
}

/// A method the endpoint does not take is a JSON 405 with `Allow`; an unknown path a JSON 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_and_paths_are_json_errors() {
    let dir = data_dir("edge-405");
    let s = serve(&dir, |_| {}).await;
    let endpoints = table(s.addr()).await;
    for (_, template, _) in &endpoints {
        // PUT, or PATCH where the path takes PUT: a method the path does not take.
        let takes = |m: &str| (endpoints.iter()).any(|(em, t, _)| t == template && em == m);
        let method = if takes("PUT") { "PATCH" } else { "PUT" };
        assert!(!takes(method), "{template} takes both PUT and PATCH");
        let path = fill(template, good);
        let r = call(s.addr(), method, &path, Some(ADMIN), b"{}").await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_error(method, &path, &r);
        assert!(
            r.header("allow").is_some(),
            "{method} {path}: no Allow header"
        );
    }
    let r = call(s.addr(), "GET", "/no/such/thing", Some(ADMIN), b"").await;
    assert_eq!(r.status, 404);
    assert_error("unknown path", "/no/such/thing", &r);
    s.stop().await;
}

/// Each endpoint caps its body at its own limit (the table's `x-klaxon-max-body-bytes`): one
/// byte more, declared, is a 413 naming the limit before anything is read; a chunked body that
/// passes the limit is cut off with the same answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_capped_per_endpoint() {
    let dir = data_dir("edge-413");
    let s = serve(&dir, |c| {
        c.ingest.max_body_bytes = 512 << 10;
        c.ingest.max_line_bytes = 16 << 10;
    })
    .await;
    let mut caps = std::collections::BTreeMap::new();
    for (method, template, op) in table(s.addr()).await {
        let cap = op["x-klaxon-max-body-bytes"].as_u64().expect("cap");
        caps.insert((method.clone(), template.clone()), cap);
        if op["x-klaxon-auth"] == "in-band" {
            continue;
        }
        let path = fill(&template, good);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {}",
            cap + 1
        );
        let r = send(s.addr(), &head, b"").await;
        assert_eq!(r.status, 413, "{method} {path} with {} bytes", cap + 1);
        assert_error("over the cap", &path, &r);
        assert_eq!(r.json()["error"]["details"]["limit_bytes"], cap, "{path}");
    }
    // What the table says for the endpoints of each kind.
    let cap = |m: &str, p: &str| caps[&(m.to_owned(), p.to_owned())];
    assert_eq!(
        cap("POST", "/v1/signals"),
        512 << 10,
        "[ingest] max_body_bytes"
    );
    assert_eq!(
        cap("POST", "/v1/processes/{id}/marks"),
        16 << 10,
        "one signal"
    );
    assert_eq!(cap("POST", "/api/v2/silences"), 64 << 10);
    assert_eq!(cap("POST", "/alerts/{id}/notes"), 64 << 10);
    assert_eq!(cap("POST", "/ui/signin"), 64 << 10);
    assert_eq!(cap("POST", "/v1/rulesets"), 4 << 20);
    assert_eq!(cap("POST", "/api/v2/alerts"), 8 << 20);

    // Streamed without a length: cut off at the cap, the same JSON 413.
    for (path, cap) in [
        ("/api/v2/silences", 64usize << 10),
        ("/alerts/1/notes", 64 << 10),
        ("/v1/signals", 512 << 10),
    ] {
        let mut s2 = TcpStream::connect(s.addr()).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        s2.write_all(head.as_bytes()).await.expect("head");
        let piece = vec![b' '; 8192];
        let mut sent = 0;
        while sent <= cap {
            let frame = [format!("{:x}\r\n", piece.len()).as_bytes(), &piece, b"\r\n"].concat();
            if s2.write_all(&frame).await.is_err() {
                break;
            }
            sent += piece.len();
        }
        let r = read_response(&mut s2).await.expect("a response");
        assert_eq!(r.status, 413, "{path} chunked");
        assert_error("chunked over the cap", path, &r);
        assert_eq!(r.json()["error"]["details"]["limit_bytes"], cap, "{path}");
    }
    // Streamed NDJSON: the 413 also says how many signals were taken before the cap.
    let mut s2 = TcpStream::connect(s.addr()).await.expect("connect");
    let head = format!(
        "POST /v1/signals HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    s2.write_all(head.as_bytes()).await.expect("head");
    let piece = "{\"kind\":\"mark\",\"process\":\"cap\",\"action\":\"A\"}\n".repeat(200);
    let mut sent = 0;
    while sent <= 512 << 10 {
        let frame = format!("{:x}\r\n{piece}\r\n", piece.len());
        if s2.write_all(frame.as_bytes()).await.is_err() {
            break;
        }
        sent += piece.len();
    }
    let r = read_response(&mut s2).await.expect("a response");
    assert_eq!(r.status, 413, "NDJSON over the cap");
    let d = &r.json()["error"]["details"];
    assert_eq!(d["limit_bytes"], 512 << 10, "{d}");
    assert!(d["accepted"].as_u64().is_some_and(|n| n > 0), "{d}");
    assert!(d["first_unaccepted_line"].as_u64().is_some(), "{d}");
    s.stop().await;
}

fn over_limit(r: &Resp, field: &str) {
    assert_eq!(r.status, 422, "{field}: {:?}", r.json());
    let e = &r.json()["error"];
    assert_eq!(e["code"], "over_limit", "{e}");
    assert_eq!(e["details"]["field"], field, "{e}");
    assert!(e["details"]["limit"].is_u64(), "{e}");
}

/// What people and senders write is bounded, field by field (docs/server.md's table): one byte
/// or entry over is refused whole with a 422 naming the field and the limit; far over, the
/// endpoint's body limit answers 413 first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sizes_over_their_limits_are_refused_naming_the_field() {
    let dir = data_dir("edge-sizes");
    let s = serve(&dir, |_| {}).await;
    let post = |path: &'static str, body: String| {
        let addr = s.addr();
        async move { call(addr, "POST", path, Some(ADMIN), body.as_bytes()).await }
    };
    let labels = |n: usize| {
        let m: serde_json::Map<String, Value> = (0..n)
            .map(|i| (format!("l{i}"), Value::from("v")))
            .collect();
        Value::Object(m)
    };

    // Hand-made alerts.
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "n".repeat(1025)}).to_string(),
    )
    .await;
    over_limit(&r, "name");
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "ok", "labels": labels(129)}).to_string(),
    )
    .await;
    over_limit(&r, "labels");
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "ok", "labels": {"team": "t".repeat(4097)}}).to_string(),
    )
    .await;
    over_limit(&r, "labels.team");
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "ok", "annotations": {"runbook": "r".repeat(16385)}})
            .to_string(),
    )
    .await;
    over_limit(&r, "annotations.runbook");
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "n".repeat(10 << 20)}).to_string(),
    )
    .await;
    assert_eq!(r.status, 413, "a 10 MB name");
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "ok", "labels": labels(100_000)}).to_string(),
    )
    .await;
    assert_eq!(r.status, 413, "100,000 labels");
    let r = post(
        "/alerts/create",
        serde_json::json!({"name": "Sized", "labels": labels(128), "summary": "s".repeat(16384)})
            .to_string(),
    )
    .await;
    assert_eq!(r.status, 201, "at the limits: {:?}", r.json());
    let id = r.json()["id"].as_i64().expect("id");

    // Actions, notes and assignees.
    let act = format!("/alerts/{id}/acknowledge");
    let act: &'static str = Box::leak(act.into_boxed_str());
    over_limit(
        &post(
            act,
            serde_json::json!({"reason": "r".repeat(1025)}).to_string(),
        )
        .await,
        "reason",
    );
    let note: &'static str = Box::leak(format!("/alerts/{id}/notes").into_boxed_str());
    over_limit(
        &post(
            note,
            serde_json::json!({"text": "t".repeat(16385)}).to_string(),
        )
        .await,
        "text",
    );
    let assign: &'static str = Box::leak(format!("/alerts/{id}/assign").into_boxed_str());
    over_limit(
        &post(
            assign,
            serde_json::json!({"assignee": "a".repeat(257)}).to_string(),
        )
        .await,
        "assignee",
    );
    assert_eq!(
        post(
            note,
            serde_json::json!({"text": "t".repeat(16384)}).to_string()
        )
        .await
        .status,
        200
    );
    let bulk = serde_json::json!({"ids": [id], "reason": "r".repeat(1025)}).to_string();
    over_limit(&post("/alerts/bulk/resolve", bulk).await, "reason");

    // Silences.
    let silence = |matchers: Vec<Value>, comment: String| {
        serde_json::json!({
            "matchers": matchers, "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
            "createdBy": "edge", "comment": comment,
        })
        .to_string()
    };
    let m = |v: String| serde_json::json!({"name": "team", "value": v, "isRegex": false});
    // A bad silence to Alertmanager's clients: a 400 whose JSON string names the field.
    let bad_silence = |r: &Resp, field: &str| {
        assert_eq!(r.status, 400, "{field}: {:?}", r.json());
        let said = r.json();
        assert!(
            said.as_str().is_some_and(
                |m| m.starts_with(&format!("{field}: ")) && m.contains("over the limit of")
            ),
            "{field}: {said}"
        );
    };
    let r = post(
        "/api/v2/silences",
        silence((0..65).map(|i| m(i.to_string())).collect(), "c".into()),
    )
    .await;
    bad_silence(&r, "matchers");
    let r = post(
        "/api/v2/silences",
        silence(vec![m("v".repeat(4097))], "c".into()),
    )
    .await;
    bad_silence(&r, "matchers[0].value");
    let r = post(
        "/api/v2/silences",
        silence(vec![m("v".into())], "c".repeat(4097)),
    )
    .await;
    bad_silence(&r, "comment");
    let r = post(
        "/api/v2/silences",
        silence((0..100_000).map(|i| m(i.to_string())).collect(), "c".into()),
    )
    .await;
    assert_eq!(r.status, 413, "100,000 matchers");
    let r = post(
        "/api/v2/silences",
        silence((0..64).map(|i| m(i.to_string())).collect(), "c".into()),
    )
    .await;
    assert_eq!(r.status, 200, "64 matchers: {:?}", r.json());

    // An Alertmanager batch: as Alertmanager, the valid alerts are taken and the 400 names the
    // invalid one.
    let mut many = labels(128);
    many["alertname"] = Value::from("TooManyLabels");
    let batch = serde_json::json!([
        {"labels": {"alertname": "FitsFine"}},
        {"labels": many},
        {"labels": {"alertname": "n".repeat(1025)}},
    ]);
    let r = post("/api/v2/alerts", batch.to_string()).await;
    assert_eq!(r.status, 400);
    let text = r.json().as_str().expect("Alertmanager's string").to_owned();
    assert!(
        text.contains("alert 1: labels: 129 entries, over the limit of 128"),
        "{text}"
    );
    assert!(
        text.contains("alert 2: labels.alertname: 1025 bytes"),
        "{text}"
    );
    let r = call(s.addr(), "GET", "/api/v2/alerts", Some(ADMIN), b"").await;
    let names: Vec<Value> = r
        .json()
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["labels"]["alertname"].clone())
        .collect();
    assert!(names.contains(&Value::from("FitsFine")), "{names:?}");
    s.stop().await;
}

/// A signal is at most `[ingest] max_line_bytes` in every form, and a key given twice is
/// refused in every form: an NDJSON line, one object, an element of an array (by its 1-based
/// index), a process endpoint's body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_refuse_repeated_keys_and_oversized_elements_in_every_form() {
    let dir = data_dir("edge-signals");
    let s = serve(&dir, |c| c.ingest.max_line_bytes = 1024).await;
    let good = r#"{"kind":"mark","process":"p1","action":"A"}"#;
    let twice = r#"{"kind":"mark","process":"p1","action":"A","action":"B"}"#;
    let big = format!(
        r#"{{"kind":"log","process":"p1","level":"info","message":"{}"}}"#,
        "m".repeat(1100)
    );
    let array = format!("[{good}, {twice}, {big}, {good}]");
    let r = call(
        s.addr(),
        "POST",
        "/v1/signals",
        Some(ADMIN),
        array.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let v = r.json();
    assert_eq!(v["accepted"], 2, "{v}");
    let rejected = v["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 2, "{v}");
    assert_eq!(rejected[0]["line"], 2);
    assert!(
        rejected[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("duplicate")),
        "{v}"
    );
    assert_eq!(rejected[1]["line"], 3);
    assert!(
        rejected[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("1024 bytes")),
        "{v}"
    );

    // One object, and NDJSON: the same answers.
    let r = call(
        s.addr(),
        "POST",
        "/v1/signals",
        Some(ADMIN),
        twice.as_bytes(),
    )
    .await;
    assert_eq!(
        (
            r.json()["accepted"].as_u64(),
            r.json()["rejected"][0]["line"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let r = call(
        s.addr(),
        "POST",
        "/v1/signals",
        Some(ADMIN),
        format!("{good}\n{big}\n").as_bytes(),
    )
    .await;
    assert_eq!(
        (
            r.json()["accepted"].as_u64(),
            r.json()["rejected"][0]["line"].as_u64()
        ),
        (Some(1), Some(2))
    );

    // A process endpoint's body.
    let r = call(
        s.addr(),
        "POST",
        "/v1/processes/p1/marks",
        Some(ADMIN),
        br#"{"action":"A","action":"B"}"#,
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.json());
    assert!(r.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("duplicate field `action`")));
    s.stop().await;
}
