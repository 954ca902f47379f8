//! Operating the server: liveness and readiness, and the server's own metrics.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use klaxon_engine::timestamp::format_ts;
use klaxon_store::Store;
use serde_json::{json, Value};

use crate::auth::Need;
use crate::clock::wall_ms;
use crate::error::ApiResult;
use crate::state::AppState;

/// `GET /monitoring/health`: no token needed. 200 when ready (store writable, engine alive),
/// 503 otherwise; `live` is true whenever the process answers. A store whose writes fail is
/// `unavailable`, with the latest error and since when, until a write commits again.
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
    let body = json!({
        "status": if ready { "ok" } else { "degraded" },
        "live": true,
        "ready": ready,
        "store": store,
        "store_error": store_error,
        "engine": engine,
        "queue_depth": st.metrics.queue_depth.load(Relaxed),
        "telemetry_buffered": st.metrics.telemetry_buffered.load(Relaxed),
    });
    (status, Json(body))
}

/// `GET /monitoring/prometheus`: the server's metrics in the Prometheus text format.
pub(crate) async fn prometheus<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    st.auth.check(&headers, Need::Read).await?;
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
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
