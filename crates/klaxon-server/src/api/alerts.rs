//! Reading alerts: a plain listing, one alert, and the SSE stream that only ever carries
//! committed alerts (with `Last-Event-ID` resume from the store).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::Stream;
use klaxon_store::{AlertQuery, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::auth::Need;
use crate::error::{ApiError, ApiResult};
use crate::pipeline::lifecycle::Detail;
use crate::pipeline::publish::{Hub, Read};
use crate::state::AppState;
use crate::wire::alert_json;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    after_id: Option<i64>,
    before_id: Option<i64>,
    limit: Option<usize>,
    rule_id: Option<String>,
    process: Option<String>,
    severity: Option<String>,
}

/// `GET /v1/alerts`: newest first, or ascending after `after_id`.
pub async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let alerts = st
        .store
        .list_alerts(AlertQuery {
            after_id: q.after_id,
            before_id: q.before_id,
            rule_id: q.rule_id,
            process: q.process,
            severity: q.severity.map(|s| s.to_ascii_lowercase()),
            limit,
        })
        .await?;
    let next = alerts.last().map(|a| a.id);
    let items: Vec<Value> = alerts.iter().map(alert_json).collect();
    Ok(Json(json!({"alerts": items, "next": next})))
}

/// `GET /v1/alerts/{id}`.
pub async fn get_one<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    Ok(Json(alert_json(&st.store.get_alert(id).await?)))
}

#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    after_id: Option<i64>,
}

struct Follow<S> {
    store: S,
    hub: Arc<Hub>,
    wake: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    /// The hub's sequence number read up to.
    cursor: u64,
    /// The newest alert id sent.
    last: i64,
    backlog: VecDeque<Event>,
    catching_up: bool,
}

/// `GET /v1/alerts/stream`: committed alerts as server-sent events, resumable by alert id. Live
/// alerts come from the publish hub (its `created` changes); a resume, or a reader that falls
/// out of the hub's buffer, catches up from the store first.
pub async fn stream<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    st.auth.check(&headers, Need::Read).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(q.after_id);
    // Take the hub's position before reading the store, so nothing committed in between is
    // missed.
    let hub = Arc::clone(&st.hub);
    let wake = hub.subscribe();
    let cursor = hub.latest();
    let (last, catching_up) = match resume {
        Some(id) => (id, true),
        None => {
            let newest = st
                .store
                .list_alerts(AlertQuery {
                    limit: 1,
                    ..AlertQuery::default()
                })
                .await?;
            (newest.first().map_or(0, |a| a.id), false)
        }
    };
    let follow = Follow {
        store: st.store.clone(),
        hub,
        wake,
        shutdown: st.shutdown.clone(),
        cursor,
        last,
        backlog: VecDeque::new(),
        catching_up,
    };
    let s = futures_util::stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(e) = f.backlog.pop_front() {
                return Some((Ok(e), f));
            }
            if f.catching_up {
                let page = f
                    .store
                    .list_alerts(AlertQuery {
                        after_id: Some(f.last),
                        limit: 500,
                        ..AlertQuery::default()
                    })
                    .await
                    .ok()?;
                if page.is_empty() {
                    f.catching_up = false;
                    continue;
                }
                for a in &page {
                    f.backlog.push_back(event(a.id, &alert_json(a).to_string()));
                }
                f.last = page.last().map_or(f.last, |a| a.id);
                continue;
            }
            match f.hub.read(f.cursor, 256) {
                Read::Lagged { from, .. } => {
                    f.cursor = from;
                    f.catching_up = true;
                }
                Read::Entries(entries) if !entries.is_empty() => {
                    for e in entries {
                        f.cursor = e.seq;
                        if let Detail::Created { alert, json } = &e.change.detail {
                            if alert.id > f.last {
                                f.last = alert.id;
                                f.backlog.push_back(event(alert.id, json));
                            }
                        }
                    }
                }
                Read::Entries(_) => {
                    tokio::select! {
                        r = f.wake.changed() => if r.is_err() { return None },
                        _ = f.shutdown.changed() => return None,
                    }
                }
            }
        }
    });
    Ok(Sse::new(s).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("heartbeat"),
    ))
}

fn event(id: i64, json: &str) -> Event {
    Event::default()
        .id(id.to_string())
        .event("alert")
        .data(json)
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> ApiError {
        ApiError::internal(e)
    }
}
