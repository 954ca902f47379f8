//! The OpenAPI document (`/openapi.json`): that it is structurally OpenAPI 3.0 (every `$ref`
//! resolves, every operation answers something, parameters match their paths), and that real
//! answers of a walk through the API, one request or more per endpoint, fit the statuses and
//! shapes the document gives, so a handler cannot change its answer without its schema.
//! `scripts/schemathesis.sh` checks the same with generated requests against a running server.

use std::collections::BTreeSet;

use klaxon_engine::timestamp::parse_ts_str;
use serde_json::{json, Value};

use crate::harness::{data_dir, start, Running, ADMIN};

/// Every `$ref` in `v`, with where it is.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push((at.to_owned(), x.as_str().unwrap_or("").to_owned()));
                } else {
                    refs(x, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The value a JSON pointer of the document names.
fn resolve<'a>(doc: &'a Value, pointer: &str) -> Option<&'a Value> {
    doc.pointer(pointer.strip_prefix('#')?)
}

/// Every way `v` breaks `schema` (the OpenAPI 3.0 subset the document uses), with its path;
/// an object may not have fields its schema does not name, unless it says so.
fn violations(doc: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        match resolve(doc, r) {
            Some(s) => violations(doc, s, v, at, out),
            None => out.push(format!("{at}: {r} does not resolve")),
        }
        return;
    }
    if v.is_null() && schema["nullable"] == true {
        return;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            violations(doc, s, v, at, out);
        }
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let fits = any.iter().any(|s| {
            let mut e = Vec::new();
            violations(doc, s, v, at, &mut e);
            e.is_empty()
        });
        if !fits {
            out.push(format!("{at}: fits none of anyOf: {v}"));
        }
    }
    let mut fail = |what: String| out.push(format!("{at}: {what}, got {v}"));
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(v) {
            fail(format!("not one of {values:?}"));
        }
    }
    match schema["type"].as_str() {
        None => {}
        Some("string") => match v.as_str() {
            None => fail("expected a string".into()),
            Some(s) => {
                if schema["format"] == "date-time" && parse_ts_str(s).is_err() {
                    fail("expected an RFC 3339 time".into());
                }
                let len = s.chars().count() as u64;
                if schema["minLength"].as_u64().is_some_and(|m| len < m) {
                    fail("too short".into());
                }
            }
        },
        Some("integer") => match v.as_i64().or(v.as_u64().map(|_| 0)) {
            None => fail("expected an integer".into()),
            Some(n) => {
                if schema["minimum"].as_i64().is_some_and(|m| n < m) {
                    fail("below its minimum".into());
                }
            }
        },
        Some("number") if !v.is_number() => fail("expected a number".into()),
        Some("boolean") if !v.is_boolean() => fail("expected a boolean".into()),
        Some("array") => match v.as_array() {
            None => fail("expected an array".into()),
            Some(items) => {
                for (i, x) in items.iter().enumerate() {
                    violations(doc, &schema["items"], x, &format!("{at}[{i}]"), out);
                }
            }
        },
        Some("object") => match v.as_object() {
            None => fail("expected an object".into()),
            Some(m) => {
                let props = schema["properties"].as_object();
                for name in schema["required"].as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or("");
                    if !m.contains_key(name) {
                        out.push(format!("{at}.{name}: required but missing"));
                    }
                }
                for (k, x) in m {
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => violations(doc, s, x, &format!("{at}.{k}"), out),
                        None => match &schema["additionalProperties"] {
                            extra @ Value::Object(_) => {
                                violations(doc, extra, x, &format!("{at}.{k}"), out);
                            }
                            // Stricter than JSON Schema: a field an answer adds to an object
                            // whose fields are documented must be documented too.
                            Value::Null if props.is_some_and(|p| !p.is_empty()) => {
                                out.push(format!("{at}.{k}: not in the schema"));
                            }
                            Value::Bool(false) => {
                                out.push(format!("{at}.{k}: not in the schema"));
                            }
                            _ => {}
                        },
                    }
                }
            }
        },
        Some(_) => {}
    }
}

/// The document's structure: what a reader of OpenAPI 3.0 relies on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_structurally_openapi_3() {
    let dir = data_dir("openapi-doc");
    let r = start(&dir, |_| {}).await;
    let (s, _, doc) = r.call("GET", "/openapi.json", None, "", "").await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 40, "{} paths", paths.len());
    for (path, item) in paths {
        let templated: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().expect("path item") {
            let at = format!("{method} {path}");
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                problems.push(format!("{at}: not a method"));
            }
            match op["operationId"].as_str() {
                Some(id) if ids.insert(id.to_owned()) => {}
                _ => problems.push(format!("{at}: operationId missing or not unique")),
            }
            let mut in_path = BTreeSet::new();
            for p in op["parameters"].as_array().expect("parameters") {
                let name = p["name"].as_str().unwrap_or("");
                let place = p["in"].as_str().unwrap_or("");
                if !["path", "query", "header"].contains(&place) || !p["schema"].is_object() {
                    problems.push(format!("{at}: parameter {p}"));
                }
                if place == "path" {
                    in_path.insert(name);
                    if p["required"] != true {
                        problems.push(format!("{at}: path parameter {name} not required"));
                    }
                }
            }
            if in_path != templated {
                problems.push(format!("{at}: path parameters {in_path:?}"));
            }
            let responses = op["responses"].as_object().expect("responses");
            // Alertmanager's removed API v1 only ever answers 410 Gone.
            let gone = responses.contains_key("410");
            if !gone && !responses.keys().any(|k| k.as_str() < "400") {
                problems.push(format!("{at}: no success answer"));
            }
            for (status, resp) in responses {
                let three_digits = status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit());
                if !three_digits || !resp["description"].is_string() {
                    problems.push(format!("{at}: response {status}"));
                }
                for (media, c) in resp["content"].as_object().into_iter().flatten() {
                    if !c["schema"].is_object() {
                        problems.push(format!("{at}: {status} {media} without a schema"));
                    }
                }
            }
            if let Some(body) = op.get("requestBody") {
                let content = body["content"].as_object();
                if content
                    .is_none_or(|c| c.is_empty() || c.values().any(|m| !m["schema"].is_object()))
                {
                    problems.push(format!("{at}: request body without a schema"));
                }
            }
            for scheme in op["security"].as_array().into_iter().flatten() {
                for name in scheme.as_object().expect("requirement").keys() {
                    if doc["components"]["securitySchemes"][name].is_null() {
                        problems.push(format!("{at}: security scheme {name} not defined"));
                    }
                }
            }
        }
    }
    let mut all = Vec::new();
    refs(&doc, "#", &mut all);
    let mut used = BTreeSet::new();
    for (at, target) in &all {
        if resolve(&doc, target).is_none() {
            problems.push(format!("{at}: $ref {target} does not resolve"));
        }
        used.insert(
            target
                .trim_start_matches("#/components/schemas/")
                .to_owned(),
        );
    }
    for name in doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
    {
        if !used.contains(name) {
            problems.push(format!("components/schemas/{name} is never referred to"));
        }
    }
    assert!(all.len() > 50, "{} references", all.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    r.stop().await;
}

/// The operation of `method` at the template that `path` fills, and the template.
fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> (String, &'a Value) {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.split('/').collect();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let t: Vec<&str> = template.split('/').collect();
        let fits = t.len() == segs.len()
            && t.iter()
                .zip(&segs)
                .all(|(a, b)| a == b || a.starts_with('{'));
        let op = &item[method.to_ascii_lowercase()];
        // A literal segment wins over a parameter (`/alerts/open` over `/alerts/{id}`).
        if fits && op.is_object() && (template == path || !doc["paths"][path].is_object()) {
            return (template.clone(), op);
        }
    }
    panic!("{method} {path}: not in the document");
}

/// A walk through the API, checking each answer against the document.
struct Walk<'a> {
    r: &'a Running,
    doc: Value,
    checked: BTreeSet<String>,
    problems: Vec<String>,
}

impl Walk<'_> {
    /// Sends a request with the admin token and checks the answer; returns status and JSON.
    async fn send(&mut self, method: &str, path: &str, ctype: &str, body: &str) -> (u16, Value) {
        let auth = format!("Bearer {ADMIN}");
        let resp = self
            .r
            .request(
                method,
                path,
                &[("authorization", &auth), ("content-type", ctype)],
                body,
            )
            .await;
        let (template, op) = operation(&self.doc, method, path);
        let at = format!("{method} {path} → {}", resp.status);
        self.checked.insert(format!("{method} {template}"));
        let documented = &op["responses"][resp.status.to_string()];
        if documented.is_null() {
            self.problems
                .push(format!("{at}: undocumented status: {}", resp.body));
            return (resp.status, resp.json());
        }
        let media = resp
            .header("content-type")
            .map(|c| c.split(';').next().unwrap_or("").trim().to_owned());
        match (&documented["content"], media) {
            (Value::Null, _) if resp.body.is_empty() => {}
            (Value::Null, _) => self
                .problems
                .push(format!("{at}: a body where none is documented")),
            (content, Some(m)) if content[&m].is_object() => {
                if m == "application/json" {
                    let mut errors = Vec::new();
                    let v: Value = serde_json::from_str(&resp.body).unwrap_or(json!("<not JSON>"));
                    violations(&self.doc, &content[&m]["schema"], &v, "body", &mut errors);
                    for e in errors {
                        self.problems.push(format!("{at}: {e}"));
                    }
                }
            }
            (_, m) => self
                .problems
                .push(format!("{at}: content type {m:?} is not documented")),
        }
        (resp.status, resp.json())
    }

    async fn json(&mut self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let text = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.send(method, path, "application/json", &text).await
    }
}

const THRESHOLDS: &str = include_str!("../../../../examples/host.thresholds.json");
const RULES: &str = include_str!("../../../../examples/metro.rules.json");

/// Real answers, successes and errors, fit the statuses and shapes the document gives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_fit_the_documented_shapes() {
    let dir = data_dir("openapi-answers");
    let r = start(&dir, |_| {}).await;
    let (_, _, doc) = r.call("GET", "/openapi.json", None, "", "").await;
    let mut w = Walk {
        r: &r,
        doc,
        checked: BTreeSet::new(),
        problems: Vec::new(),
    };
    let null = Value::Null;

    // Signals and processes.
    let signal = json!({"kind": "process_start", "process": "p1", "name": "train", "ts": 1_700_000_000_000_i64});
    w.json("POST", "/v1/signals", signal).await;
    w.json(
        "POST",
        "/v1/signals?wait=durable",
        json!([{"kind": "mark", "process": "p1", "action": "A"}, {"kind": "nope"}]),
    )
    .await;
    w.send(
        "POST",
        "/v1/signals",
        "application/x-ndjson",
        "{\"kind\":\"log\",\"process\":\"p1\",\"level\":\"info\",\"message\":\"m\"}\nnot json\n",
    )
    .await;
    w.json("POST", "/v1/signals?wait=soon", json!({})).await;

    // OpenTelemetry in (OTLP/JSON): a span, a partly bad export, one that does not decode, and a
    // media type OTLP does not have.
    let span = |trace: &str| {
        json!({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": trace,
            "spanId": "0101010101010101", "name": "checkout",
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000"}]}]}]})
    };
    w.json(
        "POST",
        "/v1/traces",
        span("0101010101010101010101010101010a"),
    )
    .await;
    w.json("POST", "/v1/traces", span("")).await;
    w.json(
        "POST",
        "/v1/logs",
        json!({"resourceLogs": [{"scopeLogs": [{"logRecords": 7}]}]}),
    )
    .await;
    w.json("POST", "/v1/logs", json!({})).await;
    w.json("POST", "/v1/metrics", json!({})).await;
    w.send("POST", "/v1/metrics", "text/plain", "x").await;
    let (s, v) = w
        .json("POST", "/v1/processes", json!({"name": "train"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let p = v["process"].as_str().unwrap_or("p2").to_owned();
    for (kind, body) in [
        ("update", json!({"steps_done": 1})),
        ("marks", json!({"action": "STATION", "context": "A"})),
        ("traces/start", json!({"action": "SECTION"})),
        ("traces/stop", json!({"action": "SECTION"})),
        ("logs", json!({"level": "WARN", "message": "late"})),
        ("stop", json!({"status": 0})),
    ] {
        w.json("POST", &format!("/v1/processes/{p}/{kind}"), body)
            .await;
    }
    w.json("POST", "/v1/processes/p3/marks", json!({"level": "INFO"}))
        .await;
    w.send("POST", "/v1/processes/p3/logs", "application/json", "{")
        .await;

    // Rule sets of both kinds.
    for (base, doc) in [("/v1/rulesets", RULES), ("/v1/threshold-rules", THRESHOLDS)] {
        w.send("POST", &format!("{base}/check"), "application/json", doc)
            .await;
        w.send(
            "POST",
            &format!("{base}/check"),
            "application/json",
            "{\"rules\": 1}",
        )
        .await;
        let (s, v) = w
            .send(
                "POST",
                &format!("{base}?group=g&author=me"),
                "application/json",
                doc,
            )
            .await;
        assert_eq!(s, 201, "{base}: {v}");
        let (name, version) = (
            v["name"].as_str().unwrap_or("").replace(' ', "%20"),
            &v["version"],
        );
        w.json("GET", base, null.clone()).await;
        w.json(
            "GET",
            &format!("{base}/{name}/{version}?group=g"),
            null.clone(),
        )
        .await;
        w.json(
            "POST",
            &format!("{base}/{name}/{version}/activate?group=g"),
            null.clone(),
        )
        .await;
        w.json("GET", &format!("{base}/{name}/99?group=g"), null.clone())
            .await;
        w.json("GET", &format!("{base}/{name}/x"), null.clone())
            .await;
    }

    // Tokens.
    let (s, v) = w
        .json(
            "POST",
            "/v1/tokens",
            json!({"name": "ci", "role": "viewer", "expires": "30d"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    w.json(
        "POST",
        "/v1/tokens",
        json!({"name": "ci", "role": "viewer"}),
    )
    .await;
    w.json("POST", "/v1/tokens", json!({"name": "x", "role": "god"}))
        .await;
    w.json("GET", "/v1/tokens", null.clone()).await;
    w.json("DELETE", &format!("/v1/tokens/{}", v["id"]), null.clone())
        .await;
    w.json("DELETE", "/v1/tokens/999", null.clone()).await;

    // People.
    let alice = json!({"name": "alice", "time_zone": "Europe/Berlin", "email": "a@example.com",
        "contacts": [{"kind": "slack", "target": "#ops"}, {"kind": "webhook", "url": "https://x.example/a"}]});
    let (s, v) = w.json("POST", "/v1/users", alice.clone()).await;
    assert_eq!(s, 201, "{v}");
    w.json("POST", "/v1/users", alice).await;
    w.json(
        "POST",
        "/v1/users",
        json!({"name": "-", "time_zone": "Nowhere"}),
    )
    .await;
    w.json("GET", "/v1/users", null.clone()).await;
    w.json("GET", "/v1/users/alice", null.clone()).await;
    w.json("GET", "/v1/users/nobody", null.clone()).await;
    w.json("PATCH", "/v1/users/alice", json!({"display_name": "Alice"}))
        .await;
    w.json("PATCH", "/v1/users/alice", json!({"time_zone": "Nowhere"}))
        .await;
    w.json("PATCH", "/v1/users/nobody", json!({})).await;
    let (s, v) = w
        .json(
            "POST",
            "/v1/teams",
            json!({"name": "db", "members": ["alice"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    w.json(
        "POST",
        "/v1/teams",
        json!({"name": "web", "members": ["ghost"]}),
    )
    .await;
    w.json("POST", "/v1/teams", json!({"name": "web web"}))
        .await;
    w.json("GET", "/v1/teams", null.clone()).await;
    w.json("GET", "/v1/teams/db", null.clone()).await;
    w.json("GET", "/v1/teams/nope", null.clone()).await;
    w.json("PATCH", "/v1/teams/db", json!({"members": []}))
        .await;
    w.json("PATCH", "/v1/teams/db", json!({"members": ["a b"]}))
        .await;
    w.json("PATCH", "/v1/teams/nope", json!({})).await;
    w.json("DELETE", "/v1/teams/db", null.clone()).await;
    w.json("DELETE", "/v1/teams/db", null.clone()).await;
    // Escalation policies.
    let policy = json!({"name": "p", "repeat": 1, "ack_timeout": "30m",
        "levels": [{"notify": ["user:alice"]}, {"wait": "5m", "notify": ["user:alice"]}]});
    let (s, v) = w
        .json("POST", "/v1/escalation-policies", policy.clone())
        .await;
    assert_eq!(s, 201, "{v}");
    w.json("POST", "/v1/escalation-policies", policy).await;
    w.json(
        "POST",
        "/v1/escalation-policies",
        json!({"name": "q", "levels": [{"wait": "soon", "notify": ["user:ghost"]}]}),
    )
    .await;
    w.json("POST", "/v1/escalation-policies", json!({"name": 1}))
        .await;
    w.json("GET", "/v1/escalation-policies", null.clone()).await;
    w.json("GET", "/v1/escalation-policies/p", null.clone())
        .await;
    w.json("GET", "/v1/escalation-policies/nope", null.clone())
        .await;
    w.json(
        "PUT",
        "/v1/escalation-policies/p",
        json!({"levels": [{"notify": ["user:alice"]}]}),
    )
    .await;
    w.json(
        "PUT",
        "/v1/escalation-policies/p",
        json!({"levels": [{"notify": ["team:ghost"]}]}),
    )
    .await;
    w.json("PUT", "/v1/escalation-policies/p", json!({"levels": 1}))
        .await;
    w.json(
        "PUT",
        "/v1/escalation-policies/nope",
        json!({"levels": [{"notify": ["user:alice"]}]}),
    )
    .await;
    w.json("DELETE", "/v1/users/alice", null.clone()).await;
    w.json("DELETE", "/v1/escalation-policies/p", null.clone())
        .await;
    w.json("DELETE", "/v1/escalation-policies/p", null.clone())
        .await;
    // On-call schedules.
    let layer = json!({"users": ["alice"], "shift": "1d", "handoff": "2026-12-07T09:00:00",
        "restrict": [{"days": ["mon"], "from": "09:00", "to": "18:00"}]});
    let (s, v) = w
        .json(
            "POST",
            "/v1/schedules",
            json!({"name": "db", "time_zone": "Europe/Berlin", "layers": [layer.clone()]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    w.json(
        "POST",
        "/v1/schedules",
        json!({"name": "db", "time_zone": "Europe/Berlin", "layers": [layer.clone()]}),
    )
    .await;
    w.json(
        "POST",
        "/v1/schedules",
        json!({"name": "x", "time_zone": "Nowhere", "layers": []}),
    )
    .await;
    w.json("POST", "/v1/schedules", json!({"name": 1})).await;
    w.json("GET", "/v1/schedules", null.clone()).await;
    w.json("GET", "/v1/schedules/db", null.clone()).await;
    w.json("GET", "/v1/schedules/nope", null.clone()).await;
    w.json(
        "PUT",
        "/v1/schedules/db",
        json!({"time_zone": "UTC", "layers": [layer.clone()]}),
    )
    .await;
    w.json(
        "PUT",
        "/v1/schedules/db",
        json!({"time_zone": "UTC", "layers": [{"users": ["ghost"], "shift": "1d", "handoff": "2026-12-07T09:00:00"}]}),
    )
    .await;
    w.json("PUT", "/v1/schedules/db", json!({"time_zone": 1}))
        .await;
    w.json(
        "PUT",
        "/v1/schedules/nope",
        json!({"time_zone": "UTC", "layers": [layer]}),
    )
    .await;
    let cover = json!({"user": "alice", "start": "2026-12-24T18:00:00+01:00",
        "end": "2026-12-26T09:00:00+01:00"});
    let (s, o) = w
        .json("POST", "/v1/schedules/db/overrides", cover.clone())
        .await;
    assert_eq!(s, 201, "{o}");
    w.json("POST", "/v1/schedules/db/overrides", cover.clone())
        .await;
    w.json(
        "POST",
        "/v1/schedules/db/overrides",
        json!({"user": "alice", "start": "soon", "end": "later"}),
    )
    .await;
    w.json("POST", "/v1/schedules/db/overrides", json!([]))
        .await;
    w.json("POST", "/v1/schedules/nope/overrides", cover).await;
    w.json("GET", "/v1/oncall", null.clone()).await;
    w.json(
        "GET",
        "/v1/oncall?schedule=db&at=2026-12-24T00:00:00Z&until=2026-12-28T00:00:00Z",
        null.clone(),
    )
    .await;
    w.json("GET", "/v1/oncall?schedule=nope", null.clone())
        .await;
    w.json("GET", "/v1/oncall?schedule=db&until=tomorrow", null.clone())
        .await;
    w.json("GET", "/v1/feeds/schedules/db", null.clone()).await;
    w.json("GET", "/v1/feeds/schedules/nope", null.clone())
        .await;
    w.json("GET", "/v1/feeds/users/alice", null.clone()).await;
    w.json("GET", "/v1/feeds/users/nobody", null.clone()).await;
    w.json(
        "DELETE",
        &format!("/v1/schedules/db/overrides/{}", o["id"]),
        null.clone(),
    )
    .await;
    w.json("DELETE", "/v1/schedules/db/overrides/999", null.clone())
        .await;
    w.json("DELETE", "/v1/schedules/db", null.clone()).await;
    w.json("DELETE", "/v1/schedules/db", null.clone()).await;
    w.json("DELETE", "/v1/users/alice", null.clone()).await;
    w.json("DELETE", "/v1/users/alice", null.clone()).await;
    w.json("GET", "/v1/audit?actor=alice&limit=2", null.clone())
        .await;
    w.json("GET", "/v1/audit?since=yesterday", null.clone())
        .await;

    // Alerts: made by hand, acted on, read every way.
    let mut ids = Vec::new();
    for host in ["a", "b", "c"] {
        let body =
            json!({"name": "Disk", "labels": {"host": host}, "severity": "high", "value": 93.5});
        let (s, v) = w.json("POST", "/alerts/create", body).await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["id"].as_i64().unwrap_or(0));
    }
    w.json("POST", "/alerts/create", json!({"name": "", "extra": 1}))
        .await;
    let [a, b, c] = [ids[0], ids[1], ids[2]];
    w.json(
        "POST",
        &format!("/alerts/{a}/acknowledge"),
        json!({"reason": "mine"}),
    )
    .await;
    w.json("POST", &format!("/alerts/{a}/acknowledge"), null.clone())
        .await;
    w.json(
        "POST",
        &format!("/alerts/{a}/notes"),
        json!({"text": "looking"}),
    )
    .await;
    w.json(
        "POST",
        &format!("/alerts/{a}/assign"),
        json!({"assignee": "ann"}),
    )
    .await;
    w.json(
        "POST",
        &format!("/alerts/{b}/suppress"),
        json!({"duration": "1h"}),
    )
    .await;
    w.json("POST", &format!("/alerts/{b}/suppress"), json!({}))
        .await;
    w.json("POST", &format!("/alerts/{b}/unsuppress"), null.clone())
        .await;
    w.json("POST", &format!("/alerts/{c}/resolve"), null.clone())
        .await;
    w.json("POST", &format!("/alerts/{c}/close"), null.clone())
        .await;
    w.json("POST", "/alerts/999/resolve", null.clone()).await;
    w.json("POST", "/alerts/abc/notes", json!({"text": "x"}))
        .await;
    w.json(
        "POST",
        "/alerts/bulk/acknowledge",
        json!({"ids": [a, b, 999]}),
    )
    .await;
    w.json("POST", "/alerts/bulk/resolve", json!({"ids": [b]}))
        .await;
    w.json("POST", "/alerts/bulk/resolve", json!({"ids": []}))
        .await;
    for path in [
        format!("/alerts/{a}"),
        format!("/alerts/{c}"),
        format!("/v1/alerts/{a}"),
        "/v1/alerts/999".to_owned(),
        "/v1/alerts?limit=2&severity=HIGH".to_owned(),
        "/v1/alerts?limit=many".to_owned(),
        "/alerts/history?state=active,resolved&label=host%3Da&limit=1".to_owned(),
        "/alerts/history?state=sleeping".to_owned(),
        "/alerts/open?limit=1".to_owned(),
        "/alerts/summary".to_owned(),
        "/alerts/metrics/performance".to_owned(),
        "/alerts/metrics/performance?from=2030-01-01T00:00:00Z&to=2029-01-01T00:00:00Z".to_owned(),
        "/alerts/trends/analysis?bucket=15m".to_owned(),
        "/alerts/metrics/delivery".to_owned(),
        "/alerts/sla/dashboard".to_owned(),
        "/alerts/sla/dashboard?period=1d".to_owned(),
        "/alerts/sla/dashboard?period=5m".to_owned(),
        "/alerts/metrics/escalation?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"
            .to_owned(),
        "/alerts/metrics/escalation?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"
            .to_owned(),
        "/monitoring/health".to_owned(),
        "/monitoring/prometheus".to_owned(),
        "/notifications/ws".to_owned(),
        "/openapi.json".to_owned(),
    ] {
        w.json("GET", &path, null.clone()).await;
    }

    // Incidents.
    let (s, made) = w
        .json(
            "POST",
            "/incidents/create",
            json!({"alerts": [a, b], "title": "disks"}),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    let inc = made["id"].as_i64().unwrap_or(0);
    let (s, other) = w
        .json("POST", "/incidents/create", json!({"alerts": [c]}))
        .await;
    assert_eq!(s, 201, "{other}");
    let other = other["id"].as_i64().unwrap_or(0);
    w.json("POST", "/incidents/create", json!({"alerts": [999]}))
        .await;
    w.json("POST", "/incidents/create", json!({"alerts": "x"}))
        .await;
    w.json(
        "POST",
        &format!("/incidents/{inc}/acknowledge"),
        null.clone(),
    )
    .await;
    w.json("POST", "/incidents/999/acknowledge", null.clone())
        .await;
    // No alert of it follows an escalation policy: 409.
    w.json("POST", &format!("/incidents/{inc}/escalate"), null.clone())
        .await;
    w.json("POST", "/incidents/999/escalate", null.clone())
        .await;
    w.json(
        "POST",
        &format!("/incidents/{inc}/notes"),
        json!({"text": "replacing disks"}),
    )
    .await;
    w.json(
        "POST",
        &format!("/incidents/{inc}/notes"),
        json!({"text": ""}),
    )
    .await;
    w.json("POST", &format!("/incidents/{other}/resolve"), null.clone())
        .await;
    w.json(
        "POST",
        &format!("/incidents/{other}/merge"),
        json!({"into": inc}),
    )
    .await;
    w.json(
        "POST",
        &format!("/incidents/{inc}/merge"),
        json!({"into": inc}),
    )
    .await;
    let (s, split) = w
        .json(
            "POST",
            &format!("/incidents/{inc}/split"),
            json!({"alerts": [c], "title": "the other disk"}),
        )
        .await;
    assert_eq!(s, 201, "{split}");
    let split = split["id"].as_i64().unwrap_or(0);
    w.json(
        "POST",
        &format!("/incidents/{inc}/split"),
        json!({"alerts": "x"}),
    )
    .await;
    let (s, moved) = w
        .json(
            "POST",
            &format!("/incidents/{inc}/move"),
            json!({"alerts": [b], "to": split}),
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    w.json(
        "POST",
        &format!("/incidents/{inc}/move"),
        json!({"alerts": [b], "to": split}),
    )
    .await;
    w.json("POST", "/alerts/correlate", json!({"alerts": [a]}))
        .await;
    w.json("POST", "/incidents/topology/reload", null.clone())
        .await;
    w.json(
        "POST",
        &format!("/incidents/{inc}/priority"),
        json!({"priority": "critical"}),
    )
    .await;
    w.json(
        "POST",
        &format!("/incidents/{inc}/priority"),
        json!({"priority": 3}),
    )
    .await;
    w.json("POST", "/alerts/correlate", json!({"alerts": []}))
        .await;
    for path in [
        "/incidents?state=open,investigating&limit=1".to_owned(),
        "/incidents?state=sleeping".to_owned(),
        format!("/incidents/{inc}"),
        "/incidents/999".to_owned(),
        "/incidents/timeline?after=1&limit=5".to_owned(),
        format!("/alerts/correlation/{a}"),
        "/alerts/correlation/999".to_owned(),
    ] {
        w.json("GET", &path, null.clone()).await;
    }

    // Alertmanager's API.
    let am =
        json!([{"labels": {"alertname": "Up", "job": "x"}, "annotations": {"summary": "down"}}]);
    w.json("POST", "/api/v2/alerts", am).await;
    w.json("POST", "/api/v2/alerts", json!([{"labels": {"job": "x"}}]))
        .await;
    w.json(
        "GET",
        "/api/v2/alerts?active=true&filter=job%3D%22x%22",
        null.clone(),
    )
    .await;
    w.json("GET", "/api/v2/alerts?active=maybe", null.clone())
        .await;
    w.json(
        "GET",
        "/api/v2/alerts/groups?inhibited=false&receiver=kl.*",
        null.clone(),
    )
    .await;
    w.json("GET", "/api/v2/alerts/groups?muted=maybe", null.clone())
        .await;
    w.json("GET", "/api/v2/status", null.clone()).await;
    w.json("GET", "/api/v2/receivers", null.clone()).await;
    for (method, path) in [
        ("GET", "/api/v1/alerts"),
        ("POST", "/api/v1/alerts"),
        ("GET", "/api/v1/silences"),
        ("POST", "/api/v1/silences"),
        ("GET", "/api/v1/silence/x"),
        ("DELETE", "/api/v1/silence/x"),
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/receivers"),
    ] {
        w.json(method, path, json!([])).await;
    }
    let silence = json!({"matchers": [{"name": "job", "value": "x", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z", "comment": "deploy"});
    let (s, v) = w.json("POST", "/api/v2/silences", silence).await;
    assert_eq!(s, 200, "{v}");
    let id = v["silenceID"].as_str().unwrap_or("").to_owned();
    w.json(
        "POST",
        "/api/v2/silences",
        json!({"comment": "no matchers"}),
    )
    .await;
    w.json("GET", "/api/v2/silences?filter=job%3D%22x%22", null.clone())
        .await;
    w.json("GET", &format!("/api/v2/silence/{id}"), null.clone())
        .await;
    w.json("GET", "/api/v2/silence/not-a-uuid", null.clone())
        .await;
    w.json("DELETE", &format!("/api/v2/silence/{id}"), null.clone())
        .await;
    w.json(
        "DELETE",
        "/api/v2/silence/00000000-0000-4000-8000-000000000000",
        null.clone(),
    )
    .await;

    // The dashboard's.
    w.json("POST", "/ui/signin", json!({"token": ADMIN})).await;
    w.json("POST", "/ui/signin", json!({"token": "klx_unknown"}))
        .await;
    w.send(
        "POST",
        "/ui/signin",
        "application/x-www-form-urlencoded",
        "token=nope",
    )
    .await;
    w.json("POST", "/ui/signout", null.clone()).await;
    w.json("GET", "/ui/session", null.clone()).await;
    w.json("GET", "/", null.clone()).await;
    w.json("GET", "/ui/assets/nope.js", null.clone()).await;

    let Walk {
        checked,
        problems,
        doc,
        ..
    } = w;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every endpoint but the streams was walked.
    let mut unwalked = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            let at = format!("{} {path}", method.to_ascii_uppercase());
            if !checked.contains(&at) && !path.ends_with("/stream") {
                unwalked.push(at);
            }
        }
    }
    assert!(unwalked.is_empty(), "not walked: {unwalked:?}");
    r.stop().await;
}
