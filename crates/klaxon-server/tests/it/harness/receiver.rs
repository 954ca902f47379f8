//! A webhook receiver on 127.0.0.1 for the notification tests: it records every request (path,
//! idempotency key, kind, signature, body, when, what it answered) and answers `/hook` as a
//! script says (fail, hang, 429 with Retry-After), or 503 while it is down; Slack and
//! PagerDuty paths answer as those services do.
#![allow(dead_code)] // the test binary and the benches each use part of it
#![allow(clippy::unwrap_used)] // test support

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Got {
    pub path: String,
    pub key: String,
    pub kind: String,
    pub signature: String,
    pub body: Value,
    pub raw: Vec<u8>,
    pub at: Instant,
    /// What the receiver answered.
    pub status: u16,
}

/// How the receiver answers its n-th request (0-based) on `/hook`; later requests get 200.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Act {
    Fail503,
    Hang,
    TooMany(u64),
    Fail500,
}

#[derive(Default)]
pub(crate) struct Receiver {
    pub got: Mutex<Vec<Got>>,
    pub script: Mutex<Vec<Act>>,
    /// Answer 503 to everything on /hook while set.
    pub down: AtomicBool,
}

async fn handle(
    State(r): State<Arc<Receiver>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let path = uri.path().to_owned();
    let act = if path == "/hook" {
        let mut s = r.script.lock().unwrap();
        (!s.is_empty()).then(|| s.remove(0))
    } else {
        None
    };
    let down = path == "/hook" && r.down.load(Ordering::SeqCst);
    let (status, resp): (u16, Response) = match (down, act) {
        (true, _) => (503, StatusCode::SERVICE_UNAVAILABLE.into_response()),
        (_, Some(Act::Fail503)) => (503, StatusCode::SERVICE_UNAVAILABLE.into_response()),
        (_, Some(Act::Fail500)) => (
            500,
            (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        ),
        (_, Some(Act::TooMany(s))) => (
            429,
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", s.to_string())],
                "slow down",
            )
                .into_response(),
        ),
        (_, Some(Act::Hang)) => {
            // Longer than the channel's timeout: klaxon gives up and retries.
            tokio::time::sleep(Duration::from_secs(3)).await;
            (200, StatusCode::OK.into_response())
        }
        (_, None) if path == "/slack" => (200, (StatusCode::OK, "ok").into_response()),
        (_, None) if path == "/pd" => (
            202,
            (
                StatusCode::ACCEPTED,
                r#"{"status":"success","message":"Event processed"}"#,
            )
                .into_response(),
        ),
        (_, None) => (200, StatusCode::OK.into_response()),
    };
    r.got.lock().unwrap().push(Got {
        path,
        key: h("idempotency-key"),
        kind: h("x-klaxon-kind"),
        signature: h("x-klaxon-signature"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        raw: body.to_vec(),
        at: Instant::now(),
        status,
    });
    resp
}

/// Starts the receiver on a free port (or on `port`).
pub(crate) async fn receiver(
    port: u16,
) -> (
    Arc<Receiver>,
    std::net::SocketAddr,
    tokio::task::JoinHandle<()>,
) {
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/{*path}", post(handle))
        .with_state(Arc::clone(&r));
    let l = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (r, addr, task)
}

/// Accepted requests on `path`, by idempotency key.
pub(crate) fn accepted(r: &Receiver, path: &str) -> BTreeMap<String, Vec<Got>> {
    let mut m: BTreeMap<String, Vec<Got>> = BTreeMap::new();
    for g in r
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|g| g.path == path && (200..300).contains(&g.status))
    {
        m.entry(g.key.clone()).or_default().push(g.clone());
    }
    m
}

impl Receiver {
    /// Every request so far, once `pred` holds on them (bounded: after 10 s, whatever came).
    pub(crate) async fn until(&self, pred: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let t0 = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if pred(&got) || t0.elapsed() > Duration::from_secs(10) {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
