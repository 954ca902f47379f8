//! Notification endpoints: `GET /alerts/metrics/delivery` (delivery statistics per channel)
//! and `GET /notifications/ws` (notifications of WebSocket channels pushed to browsers, with
//! per-connection filters and resume from the outbox).
//!
//! WebSocket protocol: authenticate with `Authorization: Bearer <token>` on the upgrade or, from
//! a browser, with a first text frame `{"token": "..."}` within 10 s. Filters come as query
//! parameters or in any frame `{"filter": {...}}`: `receiver`, `kind`, `severity` (each a
//! comma-separated list or a JSON array: any of them), `matchers` (`{team="db"}`: some alert of
//! the notification matches all), `after_id` (first replay the stored notifications after this
//! id). The server sends `{"type": "ready"}`, then `{"type": "notification", "id", "kind", ...}`
//! frames, `{"type": "lagged", "missed": n}` when the client fell behind (it may reconnect with
//! `after_id`), `{"type": "error", "message"}`, and pings every 30 s.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::matcher::{self, Matcher};
use klaxon_notify::channel::Pushed;
use klaxon_store::Store;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::auth::Need;
use crate::error::{ApiError, ApiResult};
use crate::metrics::CHANNELS;
use crate::openapi::shape::Shape;
use crate::state::AppState;

/// `GET /alerts/metrics/delivery`: per channel, the outbox's rows by status (durable, every
/// notification kept), the counts since the server started (`failed_attempts` counts every
/// attempt that failed, while its notification is still retrying too; `dead` and `failed`
/// count notifications given up on), the delivery latency (made → delivered) over the latest
/// 10,000 deliveries, and the receivers' channels whose latest attempt failed.
pub(crate) async fn delivery<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let counts = st.store.delivery_counts().await?;
    let mut channels = serde_json::Map::new();
    for (name, stats) in CHANNELS.iter().zip(&st.metrics.delivery.channels) {
        let of = |status: &str| {
            counts
                .iter()
                .filter(|c| c.channel == *name && c.status == status)
                .map(|c| c.count)
                .sum::<u64>()
        };
        let (p50, p99, samples) = stats.percentiles();
        use std::sync::atomic::Ordering::Relaxed;
        channels.insert(
            (*name).to_owned(),
            json!({
                "sent": of("sent"),
                "failed": of("failed"),
                "retrying": of("retrying"),
                "dead": of("dead"),
                "pending": of("pending") + of("sending"),
                "latency_ms": {"p50": p50, "p99": p99, "samples": samples},
                "failed_attempts": stats.failed_attempts.load(Relaxed),
                "since_start": {
                    "sent": stats.sent.load(Relaxed),
                    "failed_attempts": stats.failed_attempts.load(Relaxed),
                    "failed": stats.failed.load(Relaxed),
                    "retries": stats.retried.load(Relaxed),
                    "dead": stats.dead.load(Relaxed),
                },
            }),
        );
    }
    let receivers: Vec<Value> = {
        let mut names: Vec<&String> = st.notify.notifier.receivers.keys().collect();
        names.sort();
        names
            .into_iter()
            .filter_map(|n| st.notify.notifier.receiver(n))
            .map(|r| json!({"name": r.name, "channels": r.channels.iter().map(|c| c.kind()).collect::<Vec<_>>()}))
            .collect()
    };
    let failing: Vec<Value> = st
        .notify
        .health
        .snapshot()
        .iter()
        .filter(|c| c.failing())
        .map(super::monitoring::channel_json)
        .collect();
    Ok(Json(
        json!({"channels": channels, "receivers": receivers, "failing": failing}),
    ))
}

/// The answer of `GET /alerts/metrics/delivery`.
pub(crate) fn delivery_shape() -> Shape {
    let n = Shape::count;
    let latency = Shape::object()
        .req("p50", n().nullable())
        .req("p99", n().nullable())
        .req("samples", n());
    let since_start = Shape::object()
        .req("sent", n())
        .req("failed_attempts", n())
        .req("failed", n())
        .req("retries", n())
        .req("dead", n());
    let channel = Shape::object()
        .req("sent", n())
        .req("failed", n())
        .req("retrying", n())
        .req("dead", n())
        .req("pending", n())
        .req("latency_ms", latency)
        .req("failed_attempts", n())
        .req("since_start", since_start);
    let receiver = Shape::object()
        .req("name", Shape::string())
        .req("channels", Shape::array(Shape::string()));
    Shape::object()
        .req(
            "channels",
            Shape::map(channel).describe(
                "by channel kind: the outbox's rows by status, counts since start, latency",
            ),
        )
        .req("receivers", Shape::array(receiver))
        .req("failing", Shape::array(super::monitoring::channel_shape()))
}

/// The query of `GET /notifications/ws`: the connection's first filter.
pub(crate) fn ws_query() -> Shape {
    let list = || Shape::string().describe("comma-separated: any of them");
    Shape::object()
        .opt("receiver", list())
        .opt(
            "kind",
            Shape::string().describe("firing, acknowledged, resolved, escalated; comma-separated"),
        )
        .opt("severity", list())
        .opt(
            "matchers",
            Shape::string().describe("`{team=\"db\"}`: some alert of the notification matches all"),
        )
        .opt(
            "after_id",
            Shape::integer().describe("replay the stored notifications after this id first"),
        )
}

/// What a connection wants to see.
#[derive(Debug, Default)]
struct Filter {
    receivers: Vec<String>,
    kinds: Vec<String>,
    severities: Vec<String>,
    matchers: Vec<Matcher>,
}

impl Filter {
    fn accepts(&self, p: &Pushed) -> bool {
        let n = &p.notification;
        (self.receivers.is_empty() || self.receivers.contains(&n.receiver))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == n.kind.as_str()))
            && (self.severities.is_empty()
                || n.alerts.iter().any(|a| {
                    self.severities
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(&a.severity))
                }))
            && (self.matchers.is_empty()
                || n.alerts
                    .iter()
                    .any(|a| self.matchers.iter().all(|m| m.matches(&a.labels))))
    }

    /// Reads a filter from query parameters or a `filter` object; every error at once.
    fn parse(v: &serde_json::Map<String, Value>) -> Result<(Filter, Option<i64>), String> {
        let list = |k: &str| -> Vec<String> {
            match v.get(k) {
                Some(Value::String(s)) => s
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut errors = Vec::new();
        for k in v.keys() {
            if ![
                "receiver", "kind", "severity", "matchers", "after_id", "token",
            ]
            .contains(&k.as_str())
            {
                errors.push(format!("{k}: unknown filter"));
            }
        }
        let kinds = list("kind");
        for k in &kinds {
            if klaxon_notify::Kind::parse(k).is_none() {
                errors.push(format!(
                    "kind: `{k}` is not firing, acknowledged, resolved or escalated"
                ));
            }
        }
        let matchers = match v.get("matchers").and_then(Value::as_str) {
            Some(m) if !m.trim().is_empty() => matcher::parse_filter(m).unwrap_or_else(|e| {
                errors.push(format!("matchers: {e}"));
                Vec::new()
            }),
            _ => Vec::new(),
        };
        let after_id = match v.get("after_id") {
            None => None,
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => match s.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(format!("after_id: `{s}` is not a notification id"));
                    None
                }
            },
            Some(other) => {
                errors.push(format!("after_id: `{other}` is not a notification id"));
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors.join("; "));
        }
        Ok((
            Filter {
                receivers: list("receiver"),
                kinds,
                severities: list("severity"),
                matchers,
            },
            after_id,
        ))
    }
}

/// `GET /notifications/ws`.
pub(crate) async fn ws<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(_) => {
            return ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "not_websocket",
                "this endpoint speaks WebSocket only",
            )
            .into_response()
        }
    };
    let header_auth = if headers.contains_key(axum::http::header::AUTHORIZATION) {
        match st.auth.check(&headers, Need::Read).await {
            Ok(_) => true,
            Err(e) => return e.into_response(),
        }
    } else {
        false
    };
    let query: serde_json::Map<String, Value> =
        q.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let parsed = match Filter::parse(&query) {
        Ok(p) => p,
        Err(e) => {
            return ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_filter", e)
                .into_response()
        }
    };
    let rx = st.notify.pushed.subscribe();
    upgrade.on_upgrade(move |socket| session(st, socket, header_auth, parsed, rx))
}

async fn session<S: Store + Clone>(
    st: AppState<S>,
    mut socket: WebSocket,
    mut authed: bool,
    (mut filter, mut after): (Filter, Option<i64>),
    mut rx: broadcast::Receiver<Arc<Pushed>>,
) {
    let send = |v: Value| Message::Text(v.to_string().into());
    if !authed {
        let first = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await;
        let token = match first {
            Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Value>(&t)
                .ok()
                .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned)),
            _ => None,
        };
        let mut h = HeaderMap::new();
        if let Some(v) =
            token.and_then(|t| axum::http::HeaderValue::from_str(&format!("Bearer {t}")).ok())
        {
            h.insert(axum::http::header::AUTHORIZATION, v);
        }
        match st.auth.check(&h, Need::Read).await {
            Ok(_) => authed = true,
            Err(_) => {
                let _ = socket.send(send(json!({"type": "error", "message": "unauthorized: send {\"token\": \"...\"} first"}))).await;
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
    debug_assert!(authed);
    if socket.send(send(json!({"type": "ready"}))).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        // Replay from the outbox first (after a reconnect), then follow live.
        if let Some(from) = after.take() {
            let mut cursor = from;
            loop {
                let rows = match st.store.notifications_after("websocket", cursor, 500).await {
                    Ok(r) => r,
                    Err(_) => break,
                };
                let Some(last) = rows.last().map(|r| r.id) else {
                    break;
                };
                for r in rows {
                    let Ok(n) = serde_json::from_str::<klaxon_notify::Notification>(&r.payload)
                    else {
                        continue;
                    };
                    let json =
                        klaxon_notify::channel::websocket::frame(r.id, &n, &st.notify.external_url);
                    let p = Pushed {
                        id: r.id,
                        notification: n,
                        json,
                    };
                    if filter.accepts(&p)
                        && socket.send(Message::Text(p.json.into())).await.is_err()
                    {
                        return;
                    }
                }
                cursor = last;
            }
        }
        tokio::select! {
            r = rx.recv() => match r {
                Ok(p) => {
                    if filter.accepts(&p) && socket.send(Message::Text(p.json.clone().into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    if socket.send(send(json!({"type": "lagged", "missed": n}))).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            m = socket.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    match v.get("filter").and_then(Value::as_object).map(Filter::parse) {
                        Some(Ok((f, a))) => {
                            filter = f;
                            after = a;
                        }
                        Some(Err(e)) if socket.send(send(json!({"type": "error", "message": e}))).await.is_err() => return,
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}
