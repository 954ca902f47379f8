//! Operating the server: liveness and readiness, and the server's own metrics.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use klaxon_store::Store;
use serde_json::json;

use crate::clock::wall_ms;
use crate::error::ApiResult;
use crate::state::AppState;

/// `GET /monitoring/health`: no token needed. 200 when ready (store writable, engine alive),
/// 503 otherwise; `live` is true whenever the process answers.
pub(crate) async fn health<S: Store + Clone>(State(st): State<AppState<S>>) -> impl IntoResponse {
    let store = match tokio::time::timeout(Duration::from_secs(2), st.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => format!("error: {e}"),
        Err(_) => "error: no answer within 2 s".to_owned(),
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
        "engine": engine,
        "queue_depth": st.metrics.queue_depth.load(Relaxed),
        "telemetry_buffered": st.metrics.telemetry_buffered.load(Relaxed),
    });
    (status, Json(body))
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
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
