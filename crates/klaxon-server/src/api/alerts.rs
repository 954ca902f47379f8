//! Every read of alerts, at both paths: `/v1/alerts` (a plain listing, one alert, the stream of
//! new alerts resumable by alert id) and `/alerts/...` (one alert with its events, notes and
//! noise, history, the open set, summary, performance, trends, and `/alerts/stream` of every
//! committed change). Both streams read the one publish hub; every alert is shown in the one
//! wire shape (`wire::alert_json`). Actions on alerts are in `manage`.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use axum::Json;
use futures_util::Stream;
use klaxon_engine::lifecycle::State as AlertState;
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{AlertQuery, HistoryQuery, Source, Store, TrendQuery};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use super::manage::duration_ms;
use super::streams::heartbeat;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Query};
use crate::openapi::shape::{Schema, Shape};
use crate::pipeline::lifecycle::{Command, Detail};
use crate::pipeline::publish::{Entry, Hub, Read};
use crate::state::AppState;
use crate::wire::{alert_fields, alert_json, alert_shape, state_shape};

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    after_id: Option<i64>,
    before_id: Option<i64>,
    limit: Option<usize>,
    rule_id: Option<String>,
    process: Option<String>,
    severity: Option<String>,
}

impl Schema for ListQuery {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "after_id",
                Shape::integer().describe("alerts after this id, oldest first"),
            )
            .opt(
                "before_id",
                Shape::integer().describe("alerts before this id"),
            )
            .opt(
                "limit",
                Shape::count().describe("at most this many (1 to 1000, default 100)"),
            )
            .opt(
                "rule_id",
                Shape::string().describe("only this rule's alerts"),
            )
            .opt(
                "process",
                Shape::string().describe("only this process's alerts"),
            )
            .opt("severity", Shape::string().describe("only this severity"))
    }
}

/// The answer of `GET /v1/alerts`.
pub(crate) fn list_shape() -> Shape {
    Shape::object()
        .req("alerts", Shape::array(alert_shape()))
        .req(
            "next",
            Shape::integer()
                .nullable()
                .describe("the id to page on from"),
        )
}

/// `GET /v1/alerts`: newest first, or ascending after `after_id`.
pub(crate) async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
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
pub(crate) async fn get_one<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(alert_json(&st.store.get_alert(id).await?)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamQuery {
    after_id: Option<i64>,
}

impl Schema for StreamQuery {
    fn shape() -> Shape {
        Shape::object().opt(
            "after_id",
            Shape::integer().describe("resume after this alert id (or send Last-Event-ID)"),
        )
    }
}

/// Server-sent events: the body of every stream.
pub(crate) fn events_shape() -> Shape {
    Shape::string()
        .describe("server-sent events (`event:`, `id:`, `data:` lines), until the server stops")
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
pub(crate) async fn stream<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
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
    Ok(Sse::new(s).keep_alive(heartbeat()))
}

fn event(id: i64, json: &str) -> Event {
    Event::default()
        .id(id.to_string())
        .event("alert")
        .data(json)
}

/// `GET /alerts/{id}`: the alert with its events, latest occurrences and notes.
pub(crate) async fn detail<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let d = st.store.alert_detail(id, 100).await?;
    let mut v = alert_json(&d.alert);
    v["events"] = d
        .events
        .iter()
        .map(|e| json!({"at": format_ts(e.at), "actor": e.actor, "from": e.from, "to": e.to, "reason": e.reason}))
        .collect();
    v["recent_occurrences"] = d
        .occurrences
        .iter()
        .map(|o| json!({"at": format_ts(o.at), "value": o.value, "message": o.message}))
        .collect();
    v["notes"] = d
        .notes
        .iter()
        .map(|n| json!({"at": format_ts(n.at), "author": n.author, "text": n.text}))
        .collect();
    v["notifications"] = st
        .store
        .alert_notifications(id, 100)
        .await?
        .iter()
        .map(|n| {
            json!({
                "id": n.id, "receiver": n.receiver, "channel": n.channel, "kind": n.kind,
                "status": n.status, "attempts": n.attempts, "created_at": format_ts(n.created_at),
                "finished_at": n.finished_at.map(format_ts), "last_error": n.last_error,
                "last_code": n.last_code, "idempotency_key": n.idempotency_key,
            })
        })
        .collect();
    // Open alerts: what mutes it (silence, maintenance window), inhibits it, or holds it
    // (flapping), from the lifecycle manager, which knows them in the present.
    let (tx, rx) = oneshot::channel();
    let mut noise = match st.command(Command::Explain { id, reply: tx }) {
        // Bounded: a manager retrying a commit (a full disk) must not hang a read.
        Ok(()) => st.committed(rx).await.ok().flatten().unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    // Resends that changed nothing else are written within a second; the manager knows the
    // counts now.
    if let Some(live) = noise.as_object_mut().and_then(|n| n.remove("live")) {
        for k in ["occurrences", "last_seen", "ends_at"] {
            v[k] = live[k].clone();
        }
    }
    // What the notification pipeline does with it: groups, holds, route-scoped inhibition,
    // rate limits.
    if let (Some(q), Some(n)) = (&st.notify.queries, noise.as_object_mut()) {
        let (tx, rx) = oneshot::channel();
        let asked = q
            .send(crate::pipeline::notify::dispatch::Query {
                alert_id: id,
                reply: tx,
            })
            .is_ok();
        if asked {
            if let Ok(p) = st.committed(rx).await {
                n.insert("notifications".to_owned(), p);
            }
        }
    }
    v["noise"] = noise;
    v["incident"] = super::incidents::block(&st, id).await?;
    Ok(Json(v))
}

/// The shape of `GET /alerts/{id}`: the alert, its history and what keeps it quiet.
pub(crate) fn detail_shape() -> Shape {
    let (text, time) = (Shape::string, Shape::time);
    let event = Shape::object()
        .req("at", time())
        .req("actor", text())
        .req(
            "from",
            state_shape().nullable().describe("null for the creation"),
        )
        .req("to", state_shape())
        .req("reason", text());
    let occurrence = Shape::object()
        .req("at", time())
        .req("value", Shape::number().nullable())
        .req("message", text());
    let note = Shape::object()
        .req("at", time())
        .req("author", text())
        .req("text", text());
    let notification = Shape::object()
        .req("id", Shape::integer())
        .req("receiver", text())
        .req("channel", text())
        .req("kind", text())
        .req("status", text())
        .req("attempts", Shape::count())
        .req("created_at", time())
        .req("finished_at", time().nullable())
        .req("last_error", text().nullable())
        .req("last_code", Shape::count().nullable())
        .req("idempotency_key", text());
    let noise = Shape::object()
        .opt(
            "suppressed",
            Shape::object()
                .nullable()
                .describe("the silence, maintenance window or hand-made suppression that mutes it"),
        )
        .opt("inhibited", Shape::array(Shape::object()))
        .opt("flapping", Shape::object())
        .opt(
            "notifications",
            Shape::any()
                .describe("what the notification pipeline holds of it: groups, holds, rate limits"),
        )
        .nullable()
        .describe("why an open alert is quiet; null once it is closed");
    alert_fields(Shape::object())
        .req("events", Shape::array(event).describe("oldest first"))
        .req(
            "recent_occurrences",
            Shape::array(occurrence).describe("newest first"),
        )
        .req("notes", Shape::array(note))
        .req("notifications", Shape::array(notification))
        .req("noise", noise)
        .req("incident", super::incidents::block_shape())
        .named("AlertDetail")
}

/// Query of `GET /alerts/history`.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryParams {
    cursor: Option<i64>,
    limit: Option<usize>,
    /// Comma-separated states.
    state: Option<String>,
    severity: Option<String>,
    rule: Option<String>,
    source: Option<String>,
    /// `key=value`, comma-separated for several.
    label: Option<String>,
    /// Free text.
    q: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl Schema for HistoryParams {
    fn shape() -> Shape {
        let text = Shape::string;
        Shape::object()
            .opt("cursor", Shape::integer().describe("`next_cursor` of the page before"))
            .opt("limit", Shape::count().describe("at most this many (1 to 1000, default 50)"))
            .opt("state", text().describe("states, comma-separated: pending, active, acknowledged, suppressed, resolved, closed"))
            .opt("severity", text().describe("severities, comma-separated"))
            .opt("rule", text().describe("the alert's name (rule id or alertname)"))
            .opt("source", Shape::one_of_text(&["rule", "threshold", "alertmanager", "api"]))
            .opt("label", text().describe("`key=value`, comma-separated for several"))
            .opt("q", text().describe("free text in the name, summary or label values"))
            .opt("from", Shape::time().describe("first seen at or after"))
            .opt("to", Shape::time().describe("first seen before"))
    }
}

fn csv_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The `state` filter, each name parsed here, once; `Err` is the first that names no state.
fn state_list(s: &Option<String>) -> Result<Vec<AlertState>, String> {
    csv_list(s)
        .into_iter()
        .map(|name| AlertState::parse(&name).ok_or(name))
        .collect()
}

/// `key=value` pairs, comma-separated (the `label` filter).
fn label_pairs(s: &Option<String>) -> ApiResult<Vec<(String, String)>> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                ApiError::bad_request(format!("label: `{pair}` is not key=value"))
            })?;
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn time(name: &str, s: &Option<String>) -> ApiResult<Option<i64>> {
    s.as_deref()
        .map(|t| parse_ts_str(t).map_err(|e| ApiError::bad_request(format!("{name}: {e}"))))
        .transpose()
}

/// `GET /alerts/history`: newest first, `next_cursor` pages on.
pub(crate) async fn history<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<HistoryParams>,
) -> ApiResult<Json<Value>> {
    let states = state_list(&p.state).map_err(|bad| {
        ApiError::bad_request(format!("state: `{bad}` is not one of pending, active, acknowledged, suppressed, resolved, closed"))
    })?;
    let source = match p.source.as_deref() {
        None => None,
        Some(s) => Some(Source::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "source: `{s}` is not one of rule, threshold, alertmanager, api"
            ))
        })?),
    };
    let labels = label_pairs(&p.label)?;
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let q = HistoryQuery {
        before_id: p.cursor,
        states,
        severities: csv_list(&p.severity),
        name: p.rule.clone(),
        source,
        labels,
        text: p.q.clone().filter(|t| !t.trim().is_empty()),
        from: time("from", &p.from)?,
        to: time("to", &p.to)?,
        limit,
    };
    let page = st.store.alert_history(q).await?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|a| a.id))
        .flatten();
    Ok(Json(
        json!({"alerts": page.iter().map(alert_json).collect::<Vec<_>>(), "next_cursor": next}),
    ))
}

/// The answer of `GET /alerts/history`.
pub(crate) fn history_shape() -> Shape {
    Shape::object()
        .req("alerts", Shape::array(alert_shape()))
        .req(
            "next_cursor",
            Shape::integer()
                .nullable()
                .describe("the `cursor` of the next page; null on the last"),
        )
}

/// Query of `GET /alerts/open`.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenParams {
    /// At most this many, newest first (default and maximum 100,000).
    limit: Option<usize>,
}

impl Schema for OpenParams {
    fn shape() -> Shape {
        Shape::object().opt(
            "limit",
            Shape::count().describe("at most this many, newest first (default and maximum 100000)"),
        )
    }
}

/// The answer of `GET /alerts/open`: one row per alert, its columns named by `fields`.
pub(crate) fn open_shape() -> Shape {
    Shape::object()
        .req(
            "fields",
            Shape::array(Shape::string()).describe("the columns of every row, in order"),
        )
        .req("rows", Shape::array(Shape::array(Shape::any())))
        .req(
            "truncated",
            Shape::boolean().describe("more open alerts than `limit`"),
        )
}

/// The columns of a `GET /alerts/open` row, in order.
const OPEN_FIELDS: [&str; 12] = [
    "id",
    "name",
    "severity",
    "state",
    "source",
    "message",
    "labels",
    "first_seen",
    "last_seen",
    "occurrences",
    "assignee",
    "incident",
];

/// `GET /alerts/open`: every open alert (pending, active, acknowledged, suppressed), newest
/// first, in one compact answer for a client that keeps the open set itself (the dashboard):
/// `{"fields": [...], "rows": [[...], ...], "truncated": bool}`.
pub(crate) async fn open<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<OpenParams>,
) -> ApiResult<axum::response::Response> {
    let max = p.limit.unwrap_or(100_000).clamp(1, 100_000);
    let states: Vec<AlertState> = AlertState::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
    // The incident of each alert in one that is not closed (where open alerts are).
    let incidents: std::collections::HashMap<i64, i64> = st
        .store
        .load_open_incidents()
        .await?
        .into_iter()
        .flat_map(|(_, members)| members)
        .map(|m| (m.alert_id, m.incident_id))
        .collect();
    let mut out = String::with_capacity(1 << 16);
    out.push_str(&json!({ "fields": OPEN_FIELDS }).to_string());
    out.pop();
    out.push_str(",\"rows\":[");
    let (mut n, mut cursor, mut truncated) = (0usize, None, false);
    loop {
        let limit = 1000.min(max - n);
        let page = st
            .store
            .alert_history(HistoryQuery {
                before_id: cursor,
                states: states.clone(),
                limit,
                ..HistoryQuery::default()
            })
            .await?;
        for a in &page {
            if n > 0 {
                out.push(',');
            }
            let row = (
                a.id,
                &a.name,
                &a.severity,
                &a.state,
                a.source.as_str(),
                &a.message,
                &a.labels,
                format_ts(a.first_seen),
                format_ts(a.last_seen),
                a.occurrences,
                &a.assignee,
                incidents.get(&a.id),
            );
            out.push_str(&serde_json::to_string(&row)?);
            n += 1;
        }
        cursor = page.last().map(|a| a.id);
        if page.len() < limit {
            break;
        }
        if n >= max {
            truncated = true;
            break;
        }
    }
    out.push_str(&format!("],\"truncated\":{truncated}}}"));
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

/// `GET /alerts/summary`.
pub(crate) async fn summary<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let s = st.store.alert_summary().await?;
    let open: u64 = s
        .by_state
        .iter()
        .filter(|(state, _)| state.is_open())
        .map(|(_, n)| n)
        .sum();
    Ok(Json(
        json!({"total": s.total, "open": open, "by_state": s.by_state, "open_by_severity": s.open_by_severity}),
    ))
}

/// The answer of `GET /alerts/summary`.
pub(crate) fn summary_shape() -> Shape {
    Shape::object()
        .req("total", Shape::count())
        .req("open", Shape::count())
        .req(
            "by_state",
            Shape::map(Shape::count()).describe("every state, zero included"),
        )
        .req("open_by_severity", Shape::map(Shape::count()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PeriodParams {
    from: Option<String>,
    to: Option<String>,
    /// Trend bucket: `1h`, `15m`, … (default 1h).
    bucket: Option<String>,
}

impl Schema for PeriodParams {
    fn shape() -> Shape {
        Shape::object()
            .opt("from", Shape::time().describe("default: 24 h before `to`"))
            .opt("to", Shape::time().describe("default: now"))
            .opt(
                "bucket",
                Shape::string().describe("trend bucket: `1h`, `15m`, ... (default 1h)"),
            )
    }
}

fn period(p: &PeriodParams) -> ApiResult<(i64, i64)> {
    let to = time("to", &p.to)?.unwrap_or_else(|| wall_ms() + 1);
    let from = time("from", &p.from)?.unwrap_or(to - 86_400_000);
    if from >= to {
        return Err(ApiError::bad_request("from: must be before to"));
    }
    Ok((from, to))
}

/// `GET /alerts/metrics/performance?from=&to=`: MTTA and MTTR (default: the last 24 h).
pub(crate) async fn performance<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<PeriodParams>,
) -> ApiResult<Json<Value>> {
    let (from, to) = period(&p)?;
    let perf = st.store.alert_performance(from, to).await?;
    Ok(Json(json!({
        "from": format_ts(from), "to": format_ts(to),
        "alerts": perf.alerts, "acknowledged": perf.acknowledged, "resolved": perf.resolved,
        "mtta_seconds": perf.mtta_ms.map(|m| m / 1000.0), "mttr_seconds": perf.mttr_ms.map(|m| m / 1000.0),
    })))
}

/// The answer of `GET /alerts/metrics/performance`.
pub(crate) fn performance_shape() -> Shape {
    Shape::object()
        .req("from", Shape::time())
        .req("to", Shape::time())
        .req("alerts", Shape::count())
        .req("acknowledged", Shape::count())
        .req("resolved", Shape::count())
        .req("mtta_seconds", Shape::number().nullable())
        .req("mttr_seconds", Shape::number().nullable())
}

/// `GET /alerts/trends/analysis?from=&to=&bucket=`: counts per bucket by severity and rule.
pub(crate) async fn trends<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<PeriodParams>,
) -> ApiResult<Json<Value>> {
    let (from, to) = period(&p)?;
    let bucket_ms = match &p.bucket {
        None => 3_600_000,
        Some(b) => duration_ms(&Value::from(b.clone()))
            .map_err(|e| ApiError::bad_request(format!("bucket: {e}")))?,
    };
    if (to - from) / bucket_ms > 10_000 {
        return Err(ApiError::bad_request(
            "bucket: more than 10000 buckets in the period; choose a wider bucket",
        ));
    }
    let rows = st
        .store
        .alert_trends(TrendQuery {
            from,
            to,
            bucket_ms,
        })
        .await?;
    let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
    for r in &rows {
        let b = buckets.entry(r.start).or_default();
        b.0 += r.count;
        *b.1.entry(r.severity.clone()).or_default() += r.count;
        *b.2.entry(r.name.clone()).or_default() += r.count;
    }
    let out: Vec<Value> = buckets
        .into_iter()
        .map(|(start, (total, sev, rule))| json!({"start": format_ts(start), "total": total, "by_severity": sev, "by_rule": rule}))
        .collect();
    Ok(Json(
        json!({"from": format_ts(from), "to": format_ts(to), "bucket_seconds": bucket_ms / 1000, "buckets": out}),
    ))
}

/// The answer of `GET /alerts/trends/analysis`.
pub(crate) fn trends_shape() -> Shape {
    let bucket = Shape::object()
        .req("start", Shape::time())
        .req("total", Shape::count())
        .req("by_severity", Shape::map(Shape::count()))
        .req("by_rule", Shape::map(Shape::count()));
    Shape::object()
        .req("from", Shape::time())
        .req("to", Shape::time())
        .req("bucket_seconds", Shape::count())
        .req("buckets", Shape::array(bucket))
}

/// One trend bucket: the total, by severity, by rule.
type Bucket = (u64, BTreeMap<String, u64>, BTreeMap<String, u64>);

/// Filters of `/alerts/stream`; every given one must hold.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct StreamFilter {
    /// Comma-separated severities.
    severity: Option<String>,
    /// Comma-separated states (the state after the change).
    state: Option<String>,
    /// `key=value`, comma-separated.
    label: Option<String>,
}

impl Schema for StreamFilter {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "severity",
                Shape::string().describe("severities, comma-separated"),
            )
            .opt(
                "state",
                Shape::string().describe("states after the change, comma-separated"),
            )
            .opt(
                "label",
                Shape::string().describe("`key=value`, comma-separated"),
            )
    }
}

struct Filter {
    severities: Vec<String>,
    /// `None` keeps every state. A name that is no state is no error here: it keeps nothing.
    states: Option<Vec<AlertState>>,
    labels: Vec<(String, String)>,
}

impl Filter {
    fn parse(f: &StreamFilter) -> ApiResult<Filter> {
        let names = csv_list(&f.state);
        Ok(Filter {
            severities: csv_list(&f.severity),
            states: (!names.is_empty())
                .then(|| names.iter().filter_map(|n| AlertState::parse(n)).collect()),
            labels: label_pairs(&f.label)?,
        })
    }

    fn keeps(&self, e: &Entry) -> bool {
        let c = &e.change;
        let any = !self.severities.is_empty() || self.states.is_some() || !self.labels.is_empty();
        if any && matches!(c.detail, Detail::Incident(_)) {
            // A move into an incident says nothing of the alert a filter could test.
            return false;
        }
        (self.severities.is_empty() || self.severities.contains(&c.severity))
            && self.states.as_ref().is_none_or(|s| s.contains(&c.state))
            && self.labels.iter().all(|(k, v)| c.labels.get(k) == Some(v))
    }
}

/// `GET /alerts/stream`: event `alert` per committed change, id `<boot>-<seq>`.
/// `Last-Event-ID` of this run resumes from the replay buffer; one that is too old, or of an
/// earlier run, gets a `reset` event first (resync from `/alerts/history`). A reader that falls
/// behind the buffer gets a `lagged` event saying how many changes it missed.
pub(crate) async fn changes<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(f): Query<StreamFilter>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
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

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> ApiError {
        ApiError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::lifecycle::Change;

    fn entry(state: AlertState) -> Entry {
        Entry {
            seq: 1,
            change: Arc::new(Change {
                alert_id: 1,
                severity: "high".to_owned(),
                state,
                labels: Arc::default(),
                json: String::new(),
                detail: Detail::Other,
                mute: None,
                end_of_batch: true,
            }),
        }
    }

    /// The stream's state filter takes names in any case; a name that is no state keeps
    /// nothing (the stream never refused one).
    #[test]
    fn the_stream_keeps_the_states_its_filter_names() {
        use AlertState as S;
        let cases: [(Option<&str>, &[AlertState]); 5] = [
            (None, &S::ALL),
            (Some("active"), &[S::Active]),
            (Some(" Resolved,closed"), &[S::Resolved, S::Closed]),
            (Some("sleeping"), &[]),
            (Some("sleeping,pending"), &[S::Pending]),
        ];
        for (state, kept) in cases {
            let f = Filter::parse(&StreamFilter {
                state: state.map(str::to_owned),
                ..StreamFilter::default()
            })
            .expect("a state filter is never refused");
            let got: Vec<AlertState> = S::ALL.into_iter().filter(|s| f.keeps(&entry(*s))).collect();
            assert_eq!(got, kept, "state={state:?}");
        }
    }
}
