//! The alert API at the Step 8 paths (`/alerts/...`): create, read with history, acknowledge,
//! resolve, suppress, notes, assignee, bulk actions, history, summary, performance and trends.
//! Every action goes through the lifecycle manager, so the state machine is the one judge.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{HistoryQuery, Source, Store, TrendQuery};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::auth::Need;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult, JsonBody};
use crate::pipeline::lifecycle::convert::{label_fingerprint, Labelled};
use crate::pipeline::lifecycle::{Act, Command, Done, Refusal};
use crate::state::AppState;
use crate::wire::alert_json;

/// Body of `POST /alerts/create`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The alert's name (the `alertname` label).
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    severity: Option<String>,
    /// One line for people; defaults to the name.
    summary: Option<String>,
    value: Option<f64>,
    /// Receivers to notify directly (as a threshold rule's `notification_channels`).
    #[serde(default)]
    notification_channels: Vec<String>,
}

/// `POST /alerts/create`: a hand-made alert, deduplicated by its label set like any other.
pub async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    st.auth.caller(&headers, Need::Respond).await?;
    let Json(b) = body.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            e.body_text(),
        )
    })?;
    if b.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "name: must not be empty",
        ));
    }
    let severity = match b.severity.as_deref() {
        None => "medium".to_owned(),
        Some(s) => klaxon_engine::Severity::parse(s)
            .map(|s| s.as_str().to_owned())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("severity: `{s}` is not one of critical, high, medium, low, info"),
                )
            })?,
    };
    let mut labels = b.labels;
    labels.insert("alertname".to_owned(), b.name.clone());
    let now = wall_ms();
    let l = Labelled {
        source: Source::Api,
        fingerprint: label_fingerprint(&labels),
        labels,
        annotations: b.annotations,
        severity,
        summary: b.summary.unwrap_or(b.name),
        starts_at: now,
        ends_at: None,
        generator_url: None,
        value: b.value,
        pending: false,
        rule: None,
        end_reason: None,
        receivers: b.notification_channels,
    };
    let (tx, rx) = oneshot::channel();
    st.command(Command::Labelled {
        alerts: vec![l],
        reply: Some(tx),
    })?;
    let ids = rx
        .await
        .map_err(|_| ApiError::unavailable("lifecycle manager stopped"))?;
    let id = ids
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| ApiError::internal("created alert has no id"))?;
    let a = st.store.get_alert(id).await?;
    Ok((StatusCode::CREATED, Json(alert_json(&a))))
}

/// `GET /alerts/{id}`: the alert with its events, latest occurrences and notes.
pub async fn detail<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
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
        Ok(()) => rx.await.ok().flatten().unwrap_or(Value::Null),
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
            if let Ok(p) = rx.await {
                n.insert("notifications".to_owned(), p);
            }
        }
    }
    v["noise"] = noise;
    Ok(Json(v))
}

/// Optional body of an action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    reason: Option<String>,
    /// For suppress: how long, as `30m`, `2h`, `90s` or a number of seconds.
    duration: Option<Value>,
    /// For bulk actions.
    ids: Option<Vec<i64>>,
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::NotFound => ApiError::not_found("no such alert"),
        Refusal::Illegal { current, message } => {
            ApiError::new(StatusCode::CONFLICT, "illegal_transition", message)
                .with_details(json!({"current_state": current}))
        }
        Refusal::Unavailable => ApiError::unavailable("store unavailable"),
    }
}

/// Parses `30m`, `2h`, `1d`, `90s`, `1h30m` or a number of seconds into milliseconds.
pub fn duration_ms(v: &Value) -> Result<i64, String> {
    let bad =
        || format!("duration: `{v}` is not a duration like 30m, 2h, 90s or a number of seconds");
    if let Some(n) = v.as_f64() {
        return (n > 0.0 && n.is_finite())
            .then_some((n * 1000.0) as i64)
            .ok_or_else(bad);
    }
    let s = v.as_str().ok_or_else(bad)?.trim();
    let (mut total, mut num) = (0i64, String::new());
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !num.is_empty() {
        total = total.saturating_add(num.parse::<i64>().map_err(|_| bad())?.saturating_mul(1000));
    }
    (total > 0).then_some(total).ok_or_else(bad)
}

async fn one_act<S: Store + Clone>(
    st: &AppState<S>,
    id: i64,
    act: Act,
    actor: &str,
    reason: &str,
) -> Result<Done, Refusal> {
    let (tx, rx) = oneshot::channel();
    let cmd = Command::Act {
        id,
        act,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        reply: tx,
    };
    if st.command(cmd).is_err() {
        return Err(Refusal::Unavailable);
    }
    rx.await.unwrap_or(Err(Refusal::Unavailable))
}

async fn action<S: Store + Clone>(
    st: AppState<S>,
    headers: HeaderMap,
    id: i64,
    body: JsonBody<ActBody>,
    kind: &str,
) -> ApiResult<Json<Value>> {
    let caller = st.auth.caller(&headers, Need::Respond).await?;
    let JsonBody(body) = body;
    let act = act_of(kind, &body)?;
    let reason = body
        .reason
        .clone()
        .unwrap_or_else(|| format!("{kind}d by {}", caller.name));
    let done = one_act(&st, id, act, &caller.name, &reason)
        .await
        .map_err(refusal)?;
    let a = st.store.get_alert(done.id).await?;
    Ok(Json(
        json!({"id": done.id, "from": done.from, "to": done.to, "alert": alert_json(&a)}),
    ))
}

fn act_of(kind: &str, body: &ActBody) -> ApiResult<Act> {
    Ok(match kind {
        "acknowledge" => Act::Acknowledge,
        "resolve" => Act::Resolve,
        "close" => Act::Close,
        "unsuppress" => Act::Unsuppress,
        _ => {
            let d = body.duration.as_ref().ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    "duration: required, e.g. \"30m\"",
                )
            })?;
            let ms = duration_ms(d)
                .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e))?;
            Act::Suppress {
                until: wall_ms().saturating_add(ms),
            }
        }
    })
}

macro_rules! act_handler {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("`POST /alerts/{id}/", $kind, "`.")]
        pub async fn $name<S: Store + Clone>(
            State(st): State<AppState<S>>,
            Path(id): Path<i64>,
            headers: HeaderMap,
            body: JsonBody<ActBody>,
        ) -> ApiResult<Json<Value>> {
            action(st, headers, id, body, $kind).await
        }
    };
}

act_handler!(acknowledge, "acknowledge");
act_handler!(resolve, "resolve");
act_handler!(suppress, "suppress");
act_handler!(unsuppress, "unsuppress");
act_handler!(close, "close");

async fn bulk<S: Store + Clone>(
    st: AppState<S>,
    headers: HeaderMap,
    body: JsonBody<ActBody>,
    kind: &str,
) -> ApiResult<Json<Value>> {
    let caller = st.auth.caller(&headers, Need::Respond).await?;
    let JsonBody(body) = body;
    let ids = body.ids.clone().filter(|i| !i.is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "ids: a non-empty list of alert ids is required",
        )
    })?;
    if ids.len() > 10_000 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "ids: at most 10000 per request",
        ));
    }
    let act = act_of(kind, &body)?;
    let reason = body
        .reason
        .clone()
        .unwrap_or_else(|| format!("{kind}d by {} (bulk)", caller.name));
    // Every action is queued before any answer is awaited, so they commit together.
    let mut waits = Vec::with_capacity(ids.len());
    for &id in &ids {
        let (tx, rx) = oneshot::channel();
        st.command(Command::Act {
            id,
            act,
            actor: caller.name.clone(),
            reason: reason.clone(),
            reply: tx,
        })?;
        waits.push((id, rx));
    }
    let mut results = Vec::with_capacity(ids.len());
    let mut ok = 0;
    for (id, rx) in waits {
        match rx.await.unwrap_or(Err(Refusal::Unavailable)) {
            Ok(d) => {
                ok += 1;
                results.push(json!({"id": id, "ok": true, "from": d.from, "to": d.to}));
            }
            Err(r) => {
                let e = refusal(r);
                results.push(json!({"id": id, "ok": false, "status": e.status.as_u16(), "error": {"code": e.code, "message": e.message, "details": e.details}}));
            }
        }
    }
    Ok(Json(
        json!({"requested": ids.len(), "succeeded": ok, "failed": ids.len() - ok, "results": results}),
    ))
}

/// `POST /alerts/bulk/acknowledge` with `{"ids": [...]}`: a result per alert.
pub async fn bulk_acknowledge<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: JsonBody<ActBody>,
) -> ApiResult<Json<Value>> {
    bulk(st, headers, body, "acknowledge").await
}

/// `POST /alerts/bulk/resolve` with `{"ids": [...]}`: a result per alert.
pub async fn bulk_resolve<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: JsonBody<ActBody>,
) -> ApiResult<Json<Value>> {
    bulk(st, headers, body, "resolve").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
}

/// `POST /alerts/{id}/notes`.
pub async fn note<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<NoteBody>,
) -> ApiResult<Json<Value>> {
    let caller = st.auth.caller(&headers, Need::Respond).await?;
    if b.text.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "text: must not be empty",
        ));
    }
    let (tx, rx) = oneshot::channel();
    st.command(Command::Note {
        id,
        author: caller.name,
        text: b.text,
        reply: tx,
    })?;
    rx.await
        .unwrap_or(Err(Refusal::Unavailable))
        .map_err(refusal)?;
    Ok(Json(json!({"id": id, "ok": true})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// `null` unassigns.
    assignee: Option<String>,
}

/// `POST /alerts/{id}/assign`.
pub async fn assign<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<AssignBody>,
) -> ApiResult<Json<Value>> {
    let caller = st.auth.caller(&headers, Need::Respond).await?;
    let (tx, rx) = oneshot::channel();
    st.command(Command::Assign {
        id,
        actor: caller.name,
        assignee: b.assignee.clone().filter(|a| !a.trim().is_empty()),
        reply: tx,
    })?;
    rx.await
        .unwrap_or(Err(Refusal::Unavailable))
        .map_err(refusal)?;
    Ok(Json(json!({"id": id, "assignee": b.assignee})))
}

/// Query of `GET /alerts/history`.
#[derive(Debug, Deserialize)]
pub struct HistoryParams {
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

fn list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_ascii_lowercase())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn time(name: &str, s: &Option<String>) -> ApiResult<Option<i64>> {
    s.as_deref()
        .map(|t| parse_ts_str(t).map_err(|e| ApiError::bad_request(format!("{name}: {e}"))))
        .transpose()
}

/// `GET /alerts/history`: newest first, `next_cursor` pages on.
pub async fn history<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<HistoryParams>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let states = list(&p.state);
    if let Some(bad) = states
        .iter()
        .find(|s| klaxon_engine::lifecycle::State::parse(s).is_none())
    {
        return Err(ApiError::bad_request(format!("state: `{bad}` is not one of pending, active, acknowledged, suppressed, resolved, closed")));
    }
    let source = match p.source.as_deref() {
        None => None,
        Some(s) => Some(Source::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "source: `{s}` is not one of rule, threshold, alertmanager, api"
            ))
        })?),
    };
    let mut labels = Vec::new();
    for pair in p
        .label
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|x| !x.trim().is_empty())
    {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| ApiError::bad_request(format!("label: `{pair}` is not key=value")))?;
        labels.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let q = HistoryQuery {
        before_id: p.cursor,
        states,
        severities: list(&p.severity),
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

/// Query of `GET /alerts/open`.
#[derive(Debug, Deserialize)]
pub struct OpenParams {
    /// At most this many, newest first (default and maximum 100,000).
    limit: Option<usize>,
}

/// The columns of a `GET /alerts/open` row, in order.
const OPEN_FIELDS: [&str; 11] = [
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
];

/// `GET /alerts/open`: every open alert (pending, active, acknowledged, suppressed), newest
/// first, in one compact answer for a client that keeps the open set itself (the dashboard):
/// `{"fields": [...], "rows": [[...], ...], "truncated": bool}`.
pub async fn open<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<OpenParams>,
    headers: HeaderMap,
) -> ApiResult<axum::response::Response> {
    st.auth.check(&headers, Need::Read).await?;
    let max = p.limit.unwrap_or(100_000).clamp(1, 100_000);
    let states: Vec<String> = ["pending", "active", "acknowledged", "suppressed"]
        .map(str::to_owned)
        .to_vec();
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
pub async fn summary<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let s = st.store.alert_summary().await?;
    let open: u64 = ["pending", "active", "acknowledged", "suppressed"]
        .iter()
        .map(|k| s.by_state.get(*k).copied().unwrap_or(0))
        .sum();
    Ok(Json(
        json!({"total": s.total, "open": open, "by_state": s.by_state, "open_by_severity": s.open_by_severity}),
    ))
}

#[derive(Debug, Deserialize)]
pub struct PeriodParams {
    from: Option<String>,
    to: Option<String>,
    /// Trend bucket: `1h`, `15m`, … (default 1h).
    bucket: Option<String>,
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
pub async fn performance<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<PeriodParams>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let (from, to) = period(&p)?;
    let perf = st.store.alert_performance(from, to).await?;
    Ok(Json(json!({
        "from": format_ts(from), "to": format_ts(to),
        "alerts": perf.alerts, "acknowledged": perf.acknowledged, "resolved": perf.resolved,
        "mtta_seconds": perf.mtta_ms.map(|m| m / 1000.0), "mttr_seconds": perf.mttr_ms.map(|m| m / 1000.0),
    })))
}

/// `GET /alerts/trends/analysis?from=&to=&bucket=`: counts per bucket by severity and rule.
pub async fn trends<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<PeriodParams>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
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

/// One trend bucket: the total, by severity, by rule.
type Bucket = (u64, BTreeMap<String, u64>, BTreeMap<String, u64>);

#[cfg(test)]
mod tests {
    use super::duration_ms;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(duration_ms(&json!("30m")), Ok(1_800_000));
        assert_eq!(duration_ms(&json!("1h30m")), Ok(5_400_000));
        assert_eq!(duration_ms(&json!(90)), Ok(90_000));
        assert_eq!(duration_ms(&json!("45")), Ok(45_000));
        assert!(duration_ms(&json!("soon")).is_err());
        assert!(duration_ms(&json!(0)).is_err());
    }
}
