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
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{AlertQuery, Store, StoredAlert};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

use super::AppState;
use crate::auth::Need;
use crate::error::{ApiError, ApiResult};
use crate::publish::Published;

/// The API shape of an alert: times as RFC 3339 with milliseconds.
pub fn to_json(a: &StoredAlert) -> Value {
    let ts = |t: Option<i64>| t.map(format_ts);
    json!({
        "id": a.id, "fingerprint": a.fingerprint, "state": a.state, "source": a.source.as_str(),
        "name": a.name, "labels": a.labels, "annotations": a.annotations,
        "group": a.group,
        "rule_set": a.rule_set, "rule_set_version": a.rule_set_version, "rule_id": a.rule_id,
        "trigger": a.trigger, "operator": a.operator, "severity": a.severity, "handler": a.handler,
        "process": a.process, "process_name": a.process_name, "scope": a.scope, "action": a.action,
        "context": a.context, "action_count": a.action_count,
        "value": a.value.map(num), "limit": a.limit.map(num),
        "signal_ts": format_ts(a.signal_ts), "engine_ts": format_ts(a.engine_ts),
        "created_at": format_ts(a.created_at), "message": a.message,
        "first_seen": format_ts(a.first_seen), "last_seen": format_ts(a.last_seen),
        "occurrences": a.occurrences,
        "acknowledged_at": ts(a.acknowledged_at), "acknowledged_by": a.acknowledged_by,
        "resolved_at": ts(a.resolved_at), "resolved_by": a.resolved_by,
        "closed_at": ts(a.closed_at), "suppressed_until": ts(a.suppressed_until),
        "suppressed_by": a.suppressed_by,
        "assignee": a.assignee, "ends_at": ts(a.ends_at), "generator_url": a.generator_url,
        "updated_at": format_ts(a.updated_at),
    })
}

fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

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
    let items: Vec<Value> = alerts.iter().map(to_json).collect();
    Ok(Json(json!({"alerts": items, "next": next})))
}

/// `GET /v1/alerts/{id}`.
pub async fn get_one<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    Ok(Json(to_json(&st.store.get_alert(id).await?)))
}

#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    after_id: Option<i64>,
}

struct Follow<S> {
    store: S,
    rx: broadcast::Receiver<Arc<Published>>,
    shutdown: watch::Receiver<bool>,
    last: i64,
    backlog: VecDeque<Event>,
    catching_up: bool,
}

/// `GET /v1/alerts/stream`: committed alerts as server-sent events, resumable.
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
    // Subscribe before reading the store, so nothing committed in between is missed.
    let rx = st.stream.subscribe();
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
        rx,
        shutdown: st.shutdown.clone(),
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
                    f.backlog.push_back(event(a.id, &to_json(a).to_string()));
                }
                f.last = page.last().map_or(f.last, |a| a.id);
                continue;
            }
            tokio::select! {
                r = f.rx.recv() => match r {
                    Ok(p) if p.id > f.last => {
                        f.last = p.id;
                        return Some((Ok(event(p.id, &p.json)), f));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => f.catching_up = true,
                    Err(RecvError::Closed) => return None,
                },
                _ = f.shutdown.changed() => return None,
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
