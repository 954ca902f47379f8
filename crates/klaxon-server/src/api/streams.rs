//! The live stream of the server's figures, `/metrics/stream`, and the heartbeat every stream
//! sends (the alert streams are in `alerts`, the incident stream in `incidents`). Every stream
//! ends on shutdown.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use klaxon_store::Store;
use serde_json::json;

use crate::clock::wall_ms;
use crate::error::ApiResult;
use crate::state::AppState;

/// The heartbeat every stream sends.
pub(super) fn heartbeat() -> KeepAlive {
    KeepAlive::new()
        .interval(Duration::from_secs(15))
        .text("heartbeat")
}

/// `GET /metrics/stream`: the server's figures every second (event `metrics`).
pub(crate) async fn metrics<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let state = (
        st.clone(),
        0u64,
        tokio::time::interval(Duration::from_secs(1)),
        st.shutdown.clone(),
    );
    let s = futures_util::stream::unfold(state, |(st, n, mut tick, mut shutdown)| async move {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return None,
        }
        let m = &st.metrics;
        let histogram = |h: &crate::metrics::Histogram| {
            let (count, sum) = h.totals();
            json!({"count": count, "sum_seconds": sum})
        };
        let data = json!({
            "at": klaxon_engine::timestamp::format_ts(wall_ms()),
            "signals_accepted": m.signals_accepted.load(Relaxed),
            "signals_rejected": m.signals_rejected.load(Relaxed),
            "ingest_throttled": m.ingest_throttled.load(Relaxed),
            "queue_depth": m.queue_depth.load(Relaxed),
            "alerts_fired": m.fired_total(),
            "alerts_throttled": m.alerts_throttled.load(Relaxed),
            "open_processes": m.open_processes.load(Relaxed),
            "telemetry_rows": m.telemetry_rows.load(Relaxed),
            "telemetry_buffered": m.telemetry_buffered.load(Relaxed),
            "resident_memory_bytes": crate::metrics::resident_memory_bytes(),
            "store_errors": m.store_errors.load(Relaxed),
            "telemetry_lag": histogram(&m.telemetry_lag),
            "alert_publish_latency": histogram(&m.alert_publish_latency),
        });
        let e = Event::default()
            .id((n + 1).to_string())
            .event("metrics")
            .data(data.to_string());
        Some((Ok(e), (st, n + 1, tick, shutdown)))
    });
    Ok(Sse::new(s).keep_alive(heartbeat()))
}
