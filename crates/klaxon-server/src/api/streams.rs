//! The live streams of the Step 8 paths: `/alerts/stream` (every committed lifecycle change,
//! resumable with `Last-Event-ID` from a bounded replay buffer, filterable), `/incidents/stream`
//! and `/metrics/stream`. Every stream sends heartbeats and ends on shutdown.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use klaxon_store::Store;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Need;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::pipeline::publish::{Entry, Read};
use crate::state::AppState;

/// Filters of `/alerts/stream`; every given one must hold.
#[derive(Debug, Deserialize, Default)]
pub struct StreamFilter {
    /// Comma-separated severities.
    severity: Option<String>,
    /// Comma-separated states (the state after the change).
    state: Option<String>,
    /// `key=value`, comma-separated.
    label: Option<String>,
}

struct Filter {
    severities: Vec<String>,
    states: Vec<String>,
    labels: Vec<(String, String)>,
}

impl Filter {
    fn parse(f: &StreamFilter) -> ApiResult<Filter> {
        let split = |s: &Option<String>| -> Vec<String> {
            s.as_deref()
                .map(|s| {
                    s.split(',')
                        .map(|x| x.trim().to_ascii_lowercase())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut labels = Vec::new();
        for pair in f
            .label
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                ApiError::bad_request(format!("label: `{pair}` is not key=value"))
            })?;
            labels.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        Ok(Filter {
            severities: split(&f.severity),
            states: split(&f.state),
            labels,
        })
    }

    fn keeps(&self, e: &Entry) -> bool {
        let c = &e.change;
        (self.severities.is_empty() || self.severities.contains(&c.severity))
            && (self.states.is_empty() || self.states.contains(&c.state))
            && self.labels.iter().all(|(k, v)| c.labels.get(k) == Some(v))
    }
}

fn heartbeat() -> KeepAlive {
    KeepAlive::new()
        .interval(Duration::from_secs(15))
        .text("heartbeat")
}

/// `GET /alerts/stream`: event `alert` per committed change, id `<boot>-<seq>`.
/// `Last-Event-ID` of this run resumes from the replay buffer; one that is too old, or of an
/// earlier run, gets a `reset` event first (resync from `/alerts/history`). A reader that falls
/// behind the buffer gets a `lagged` event saying how many changes it missed.
pub async fn alerts<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(f): Query<StreamFilter>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    st.auth.check(&headers, Need::Read).await?;
    let filter = Filter::parse(&f)?;
    let hub = std::sync::Arc::clone(&st.hub);
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut first: Vec<Event> = vec![Event::default().event("hello").data(
        json!({"boot": hub.boot, "latest": format!("{}-{}", hub.boot, hub.latest())}).to_string(),
    )];
    let cursor = match last.as_deref().and_then(|l| l.split_once('-')) {
        Some((b, s)) if b.parse::<i64>().ok() == Some(hub.boot) => {
            s.parse::<u64>().unwrap_or(hub.latest())
        }
        Some(_) | None if last.is_some() => {
            first.push(Event::default().event("reset").data(
                json!({"reason": "the event id is not from this server run; resync from /alerts/history"}).to_string(),
            ));
            hub.latest()
        }
        _ => hub.latest(),
    };
    let state = (
        hub.subscribe(),
        st.shutdown.clone(),
        cursor,
        first,
        filter,
        hub,
    );
    let s = futures_util::stream::unfold(
        state,
        |(mut wake, mut shutdown, mut cursor, mut pending, filter, hub)| async move {
            loop {
                if !pending.is_empty() {
                    let e = pending.remove(0);
                    return Some((Ok(e), (wake, shutdown, cursor, pending, filter, hub)));
                }
                match hub.read(cursor, 256) {
                    Read::Lagged { missed, from } => {
                        cursor = from;
                        pending.push(Event::default().event("lagged").data(
                        json!({"missed": missed, "resync": "/alerts/history", "resume_after": format!("{}-{from}", hub.boot)}).to_string(),
                    ));
                    }
                    Read::Entries(entries) if !entries.is_empty() => {
                        for e in entries {
                            cursor = e.seq;
                            if filter.keeps(&e) {
                                pending.push(
                                    Event::default()
                                        .id(format!("{}-{}", hub.boot, e.seq))
                                        .event("alert")
                                        .data(e.change.json.clone()),
                                );
                            }
                        }
                    }
                    Read::Entries(_) => {
                        tokio::select! {
                            r = wake.changed() => if r.is_err() { return None },
                            _ = shutdown.changed() => return None,
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(s).keep_alive(heartbeat()))
}

/// `GET /incidents/stream`: a hello and heartbeats until incidents exist.
pub async fn incidents<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    st.auth.check(&headers, Need::Read).await?;
    let hello = Event::default().event("hello").data(
        json!({"incidents": [], "note": "incident correlation is not built yet"}).to_string(),
    );
    let shutdown = st.shutdown.clone();
    let s = futures_util::stream::unfold(Some(hello), move |next| {
        let mut shutdown = shutdown.clone();
        async move {
            match next {
                Some(e) => Some((Ok(e), None)),
                None => {
                    if !*shutdown.borrow() {
                        let _ = shutdown.changed().await;
                    }
                    None
                }
            }
        }
    });
    Ok(Sse::new(s).keep_alive(heartbeat()))
}

/// `GET /metrics/stream`: the server's figures every second (event `metrics`).
pub async fn metrics<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    st.auth.check(&headers, Need::Read).await?;
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
            "alerts_fired": m.alerts_fired.load(Relaxed),
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
