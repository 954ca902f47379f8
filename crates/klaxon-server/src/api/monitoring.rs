//! Operating the server: liveness and readiness, and the server's own metrics.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use klaxon_engine::timestamp::format_ts;
use klaxon_store::Store;
use serde_json::{json, Value};

use crate::clock::wall_ms;
use crate::error::ApiResult;
use crate::openapi::shape::Shape;
use crate::state::AppState;

/// `GET /monitoring/health`: no token needed. 200 when ready (store writable, engine alive),
/// 503 otherwise; `live` is true whenever the process answers. A store whose writes fail is
/// `unavailable`, with the latest error and since when, until a write commits again.
/// `channels` tells how each notification channel is doing; a ready server whose channels fail
/// says `degraded` and names them in `failing_channels`, still with 200 (the server itself is
/// fine).
pub(crate) async fn health<S: Store + Clone>(State(st): State<AppState<S>>) -> impl IntoResponse {
    // The ping is a durable write: it also finds out when a failing store can write again.
    let pinged = match tokio::time::timeout(Duration::from_secs(2), st.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 2 s".to_owned()),
    };
    let (store, store_error) = match (st.store.write_failure(), pinged) {
        (Some(f), _) => (
            "unavailable",
            json!({"since": format_ts(f.since), "error": f.error, "database": f.database}),
        ),
        (None, Some(e)) => ("unavailable", json!({"since": null, "error": e})),
        (None, None) => ("ok", Value::Null),
    };
    let beat = st.engine_heartbeat.load(Relaxed);
    let engine = if wall_ms() - beat < 5_000 {
        "ok"
    } else {
        "stalled"
    };
    let ready = store == "ok" && engine == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let channels = st.notify.health.snapshot();
    let failing: Vec<String> = channels
        .iter()
        .filter(|c| c.failing())
        .map(|c| c.name())
        .collect();
    let body = json!({
        "status": if ready && failing.is_empty() { "ok" } else { "degraded" },
        "live": true,
        "ready": ready,
        "store": store,
        "store_error": store_error,
        "engine": engine,
        "queue_depth": st.metrics.queue_depth.load(Relaxed),
        "telemetry_buffered": st.metrics.telemetry_buffered.load(Relaxed),
        "failing_channels": failing,
        "channels": channels.iter().map(channel_json).collect::<Vec<_>>(),
    });
    (status, Json(body))
}

/// The answer of `GET /monitoring/health`, ready (200) or not (503).
pub(crate) fn health_shape() -> Shape {
    Shape::object()
        .req("status", Shape::one_of_text(&["ok", "degraded"]))
        .req("live", Shape::boolean())
        .req("ready", Shape::boolean())
        .req("store", Shape::one_of_text(&["ok", "unavailable"]))
        .req(
            "store_error",
            Shape::object()
                .req("since", Shape::time().nullable())
                .req("error", Shape::string())
                .opt("database", Shape::string())
                .nullable()
                .describe("why the store cannot write, while it cannot"),
        )
        .opt("engine", Shape::one_of_text(&["ok", "stalled"]))
        .opt("queue_depth", Shape::integer())
        .opt("telemetry_buffered", Shape::integer())
        .opt("failing_channels", Shape::array(Shape::string()))
        .opt("channels", Shape::array(channel_shape()))
        .opt("cluster", cluster_shape())
        .describe(
            "a node's health; a cluster's follower (docs/cluster.md) has no pipeline of its own \
             and leaves out `engine`, `queue_depth`, `telemetry_buffered`, `failing_channels` \
             and `channels`: it is ready while it knows a leader to forward requests to",
        )
}

/// The `cluster` part of a cluster node's health answer (`[cluster]`, docs/cluster.md).
pub(crate) fn cluster_shape() -> Shape {
    Shape::object()
        .req("node", Shape::string())
        .req("advertise", Shape::string())
        .req("role", Shape::one_of_text(&["leader", "follower"]))
        .req("epoch", Shape::integer().nullable())
        .req(
            "leader",
            Shape::object()
                .req("node", Shape::string())
                .req("advertise", Shape::string())
                .req("epoch", Shape::integer())
                .req("since", Shape::time())
                .nullable()
                .describe("the leader, while one holds the leadership"),
        )
        .req(
            "members",
            Shape::array(
                Shape::object()
                    .req("node", Shape::string())
                    .req("advertise", Shape::string())
                    .req(
                        "role",
                        Shape::one_of_text(&["leader", "follower", "gone"])
                            .describe("`gone`: no heartbeat for longer than the lease"),
                    )
                    .req("heartbeat_age_ms", Shape::integer())
                    .req("started_at", Shape::time()),
            ),
        )
        .req("view_age_ms", Shape::integer().nullable())
        .req("view_error", Shape::string().nullable())
        .describe("the cluster as this node last read it from the database")
}

/// One channel's health as health and the delivery statistics show it.
pub(crate) fn channel_json(c: &crate::pipeline::notify::health::ChannelState) -> serde_json::Value {
    json!({
        "receiver": c.receiver,
        "channel": c.kind,
        "index": c.index,
        "state": if c.failing() { "failing" } else { "ok" },
        "last_success": c.last_success.map(format_ts),
        "last_failure": c.last_failure.map(format_ts),
        "consecutive_failures": c.consecutive_failures,
        "failed_attempts": c.failed_attempts,
        "last_error": c.last_error,
    })
}

/// The shape of [`channel_json`], `ChannelHealth` in the OpenAPI document.
pub(crate) fn channel_shape() -> Shape {
    Shape::object()
        .req("receiver", Shape::string())
        .req("channel", Shape::string())
        .req("index", Shape::integer())
        .req("state", Shape::one_of_text(&["ok", "failing"]))
        .req("last_success", Shape::time().nullable())
        .req("last_failure", Shape::time().nullable())
        .req("consecutive_failures", Shape::count())
        .req("failed_attempts", Shape::count())
        .req("last_error", Shape::string().nullable())
        .named("ChannelHealth")
}

/// One figure of a channel's health.
type Reading = fn(&crate::pipeline::notify::health::ChannelState) -> u64;

/// A Prometheus label value: backslash, double quote and line feed escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /monitoring/prometheus`: the server's metrics in the Prometheus text format.
pub(crate) async fn prometheus<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<impl IntoResponse> {
    let mut text = st.metrics.render();
    if let Ok(counts) = st.store.delivery_counts().await {
        use std::fmt::Write as _;
        let name = "klaxon_notification_outbox";
        let _ = writeln!(
            text,
            "# HELP {name} notifications in the outbox by channel and status\n# TYPE {name} gauge"
        );
        for c in counts {
            let _ = writeln!(
                text,
                "{name}{{channel=\"{}\",status=\"{}\"}} {}",
                c.channel, c.status, c.count
            );
        }
    }
    {
        use std::fmt::Write as _;
        let channels = st.notify.health.snapshot();
        let families: [(&str, &str, &str, Reading); 3] = [
            (
                "klaxon_notification_attempt_failures_total",
                "delivery attempts that failed, retried ones included, by receiver and channel",
                "counter",
                |c| c.failed_attempts,
            ),
            (
                "klaxon_notification_consecutive_failures",
                "delivery attempts that failed since the channel last delivered",
                "gauge",
                |c| c.consecutive_failures,
            ),
            (
                "klaxon_notification_channel_failing",
                "1 while the latest delivery attempt of the channel failed",
                "gauge",
                |c| u64::from(c.failing()),
            ),
        ];
        for (name, help, kind, value) in families {
            let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for c in &channels {
                let _ = writeln!(
                    text,
                    "{name}{{receiver=\"{}\",channel=\"{}\",index=\"{}\"}} {}",
                    label(&c.receiver),
                    c.kind,
                    c.index,
                    value(c)
                );
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
