//! Incidents over HTTP: the list, one incident with its members and timeline, the timeline of
//! every incident, actions on an incident (create, acknowledge, resolve, notes, merge), asking
//! to correlate alerts now and why an alert is in its incident, and the incident stream.
//! Every action goes through the lifecycle manager, which owns the incidents; reads come from
//! the store, which holds only what was committed.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::Json;
use futures_util::Stream;
use klaxon_engine::correlate::{IncidentState, Level};
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{IncidentQuery, IncidentRecord, Member, Store, StoreError, TimelineEntry};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::auth::Caller;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, JsonBody, Path, Query};
use crate::limits;
use crate::openapi::shape::{Schema, Shape};
use crate::pipeline::lifecycle::{Command, IncidentAct, IncidentRefusal};
use crate::state::AppState;

use super::streams::heartbeat;

/// The most alerts one create or correlate request names.
pub(crate) const MAX_ALERTS: usize = 1_000;
/// The members whose alert `GET /incidents/{id}` shows.
const MEMBER_ALERTS: usize = 1_000;
/// The newest timeline entries `GET /incidents/{id}` shows.
const DETAIL_TIMELINE: usize = 500;
/// A title's length at most.
const TITLE: usize = 512;

fn refusal(r: IncidentRefusal) -> ApiError {
    match r {
        IncidentRefusal::NotFound(what) => ApiError::not_found(format!("no such {what}")),
        IncidentRefusal::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
        IncidentRefusal::Unavailable => ApiError::unavailable("store unavailable"),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
}

/// An incident's JSON.
pub(crate) fn incident_json(i: &IncidentRecord) -> Value {
    json!({
        "id": i.id,
        "title": i.title,
        "priority": i.priority,
        "state": i.state,
        "owner": i.owner,
        "opened_at": format_ts(i.opened_at),
        "updated_at": format_ts(i.updated_at),
        "resolved_at": i.resolved_at.map(format_ts),
        "priority_by": i.priority_by,
        "confidence": i.confidence,
        "level": i.confidence.map(|c| Level::of(c).as_str()),
    })
}

fn state_shape() -> Shape {
    Shape::one_of_text(&IncidentState::ALL.map(IncidentState::as_str))
}

pub(crate) fn incident_shape() -> Shape {
    incident_fields().named("Incident")
}

/// An incident of `GET /incidents`: with how many alerts it has.
fn listed_shape() -> Shape {
    incident_fields()
        .req("alerts", Shape::count().describe("how many alerts it has"))
        .named("ListedIncident")
}

fn incident_fields() -> Shape {
    let (text, time) = (Shape::string, Shape::time);
    Shape::object()
        .req("id", Shape::integer())
        .req("title", text())
        .req(
            "priority",
            text().describe("the highest severity of its open alerts, or set by hand"),
        )
        .req(
            "priority_by",
            text()
                .nullable()
                .describe("who set the priority by hand; null while it follows the alerts"),
        )
        .req("state", state_shape())
        .req("owner", text().nullable())
        .req("opened_at", time())
        .req("updated_at", time())
        .req("resolved_at", time().nullable())
        .req(
            "confidence",
            Shape::number()
                .nullable()
                .describe("the weakest link that holds it together; null for one alert or by hand"),
        )
        .req(
            "level",
            Shape::one_of_text(&["very_low", "low", "medium", "high", "very_high"]).nullable(),
        )
}

fn member_json(m: &Member) -> Value {
    json!({"alert_id": m.alert_id, "joined_at": format_ts(m.joined_at), "link": m.link})
}

fn link_shape() -> Shape {
    Shape::object()
        .describe(
            "the link that put the alert there: `alert`, `to`, `confidence`, `level`, `evidence`",
        )
        .nullable()
}

fn member_shape() -> Shape {
    Shape::object()
        .req("alert_id", Shape::integer())
        .req("joined_at", Shape::time())
        .req("link", link_shape())
        .opt(
            "alert",
            Shape::object()
                .req("name", Shape::string())
                .req("severity", Shape::string())
                .req("state", Shape::string())
                .req("message", Shape::string())
                .req("source", Shape::string())
                .req("first_seen", Shape::time())
                .req("labels", Shape::map(Shape::string()))
                .req("annotations", Shape::map(Shape::string()))
                .describe("what the alert is now (the first 1,000 members only)"),
        )
}

/// What a member of `GET /incidents/{id}` shows of its alert.
fn member_alert_json(a: &klaxon_store::StoredAlert) -> Value {
    json!({
        "name": a.name, "severity": a.severity, "state": a.state, "message": a.message,
        "source": a.source.as_str(), "first_seen": format_ts(a.first_seen),
        "labels": a.labels, "annotations": a.annotations,
    })
}

fn entry_json(e: &TimelineEntry) -> Value {
    json!({
        "id": e.id, "incident_id": e.incident_id, "at": format_ts(e.at), "actor": e.actor,
        "kind": e.kind, "detail": e.detail,
    })
}

fn entry_shape() -> Shape {
    Shape::object()
        .req("id", Shape::integer())
        .req("incident_id", Shape::integer())
        .req("at", Shape::time())
        .req("actor", Shape::string())
        .req(
            "kind",
            Shape::string().describe(
                "opened, created, joined, left, state, note, merged, split, moved, priority",
            ),
        )
        .req("detail", Shape::object())
}

/// Query of `GET /incidents`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    cursor: Option<i64>,
    limit: Option<usize>,
    /// Comma-separated states.
    state: Option<String>,
    priority: Option<String>,
    owner: Option<String>,
}

impl Schema for ListParams {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "cursor",
                Shape::integer().describe("`next_cursor` of the page before"),
            )
            .opt(
                "limit",
                Shape::count().describe("at most this many (1 to 1000, default 50)"),
            )
            .opt(
                "state",
                Shape::string().describe(
                    "states, comma-separated: open, investigating, resolved, closed, reopened",
                ),
            )
            .opt("priority", Shape::string())
            .opt("owner", Shape::string())
    }
}

/// `GET /incidents`: newest first, `next_cursor` pages on.
pub(crate) async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let states = p
        .state
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .map(|s| {
            IncidentState::parse(&s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "state: `{s}` is not one of open, investigating, resolved, closed, reopened"
                ))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let page = st
        .store
        .list_incidents(IncidentQuery {
            before_id: p.cursor,
            states,
            priority: p.priority.clone(),
            owner: p.owner.clone(),
            limit,
        })
        .await?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|i| i.id))
        .flatten();
    let sizes: std::collections::HashMap<i64, i64> = st
        .store
        .incident_sizes(page.iter().map(|i| i.id).collect())
        .await?
        .into_iter()
        .collect();
    let incidents: Vec<Value> = page
        .iter()
        .map(|i| {
            let mut v = incident_json(i);
            v["alerts"] = json!(sizes.get(&i.id).copied().unwrap_or(0));
            v
        })
        .collect();
    Ok(Json(json!({"incidents": incidents, "next_cursor": next})))
}

pub(crate) fn list_shape() -> Shape {
    Shape::object()
        .req("incidents", Shape::array(listed_shape()))
        .req(
            "next_cursor",
            Shape::integer()
                .nullable()
                .describe("the `cursor` of the next page; null on the last"),
        )
}

fn not_found(e: StoreError, what: String) -> ApiError {
    match e {
        StoreError::NotFound(_) => ApiError::not_found(format!("no such {what}")),
        e => e.into(),
    }
}

/// `GET /incidents/{id}`: the incident, its alerts with the links that put them there, and
/// its timeline.
pub(crate) async fn detail<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let d = st
        .store
        .incident_detail(id, DETAIL_TIMELINE)
        .await
        .map_err(|e| not_found(e, format!("incident {id}")))?;
    let mut v = incident_json(&d.incident);
    let mut members: Vec<Value> = d.members.iter().map(member_json).collect();
    for (m, json) in d.members.iter().zip(members.iter_mut()).take(MEMBER_ALERTS) {
        match st.store.get_alert(m.alert_id).await {
            Ok(a) => json["alert"] = member_alert_json(&a),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    v["members"] = members.into();
    v["timeline"] = d.timeline.iter().map(entry_json).collect();
    Ok(Json(v))
}

pub(crate) fn detail_shape() -> Shape {
    Shape::object()
        .req("id", Shape::integer())
        .req("title", Shape::string())
        .req("priority", Shape::string())
        .req("priority_by", Shape::string().nullable())
        .req("state", state_shape())
        .req("owner", Shape::string().nullable())
        .req("opened_at", Shape::time())
        .req("updated_at", Shape::time())
        .req("resolved_at", Shape::time().nullable())
        .req("confidence", Shape::number().nullable())
        .req(
            "level",
            Shape::one_of_text(&["very_low", "low", "medium", "high", "very_high"]).nullable(),
        )
        .req("members", Shape::array(member_shape()))
        .req(
            "timeline",
            Shape::array(entry_shape()).describe("oldest first, the newest 500 entries"),
        )
        .named("IncidentDetail")
}

/// Alert ids of a request: 1 to [`MAX_ALERTS`], no repeats.
fn alert_ids(field: &str, ids: &[i64]) -> ApiResult<()> {
    if ids.is_empty() {
        return Err(invalid(format!("{field}: name at least one alert")));
    }
    limits::count(field, ids.len(), MAX_ALERTS)?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
        return Err(invalid(format!("{field}: alert {dup} is named twice")));
    }
    Ok(())
}

/// A title given by hand: not blank, within [`TITLE`].
fn title(t: Option<&str>) -> ApiResult<()> {
    if let Some(t) = t {
        if t.trim().is_empty() {
            return Err(invalid("title: must not be empty"));
        }
        limits::text("title", t, TITLE)?;
    }
    Ok(())
}

/// Body of `POST /incidents/create`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    alerts: Vec<i64>,
    title: Option<String>,
}

impl Schema for CreateBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "alerts",
                Shape::array(Shape::integer())
                    .describe("1 to 1000 alert ids; each leaves the incident it was in"),
            )
            .opt(
                "title",
                Shape::string().describe("default: the first alert's name"),
            )
            .closed()
    }
}

/// `POST /incidents/create`: an incident made by hand with these alerts.
pub(crate) async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    alert_ids("alerts", &b.alerts)?;
    title(b.title.as_deref())?;
    let alerts = b.alerts.clone();
    let (tx, rx) = oneshot::channel();
    st.command(Command::CreateIncident {
        alerts: b.alerts,
        title: b.title,
        actor: caller.name.clone(),
        reply: tx,
    })?;
    let id = st.committed(rx).await?.map_err(refusal)?;
    audit(
        &st,
        &caller,
        "incident.create",
        id,
        json!({"alerts": alerts}),
    )
    .await?;
    let d = st.store.incident_detail(id, 0).await?;
    Ok((StatusCode::CREATED, Json(incident_json(&d.incident))))
}

/// The audit row of an action on incident `id`, written once the action has committed.
async fn audit<S: Store + Clone>(
    st: &AppState<S>,
    caller: &Caller,
    action: &str,
    id: i64,
    detail: Value,
) -> ApiResult<()> {
    let detail = (!detail.is_null()).then(|| detail.to_string());
    let row = crate::people::audit(caller, wall_ms(), action, format!("incident:{id}"), detail);
    st.store.append_audit(vec![row]).await?;
    Ok(())
}

/// Acts on incident `id` as `caller`, audits it, and answers the incident the action names
/// (`id`, or the one it made or moved alerts into).
async fn act_on<S: Store + Clone>(
    st: &AppState<S>,
    id: i64,
    act: IncidentAct,
    caller: &Caller,
) -> ApiResult<Json<Value>> {
    let (action, detail) = match &act {
        IncidentAct::Acknowledge => ("incident.acknowledge", Value::Null),
        IncidentAct::Resolve => ("incident.resolve", Value::Null),
        IncidentAct::Note(_) => ("incident.note", Value::Null),
        IncidentAct::Priority(p) => ("incident.priority", json!({"priority": p})),
        IncidentAct::Merge { into } => ("incident.merge", json!({"into": into})),
        IncidentAct::Split { alerts, .. } => ("incident.split", json!({"alerts": alerts})),
        IncidentAct::Move { alerts, to } => ("incident.move", json!({"alerts": alerts, "to": to})),
        IncidentAct::Escalate => ("incident.escalate", Value::Null),
    };
    let (tx, rx) = oneshot::channel();
    st.command(Command::Incident {
        id,
        act,
        actor: caller.name.clone(),
        reply: tx,
    })?;
    let at = st.committed(rx).await?.map_err(refusal)?;
    let detail = match (action, detail) {
        ("incident.split", mut d) => {
            d["into"] = json!(at);
            d
        }
        (_, d) => d,
    };
    audit(st, caller, action, id, detail).await?;
    let d = st.store.incident_detail(at, 0).await?;
    Ok(Json(incident_json(&d.incident)))
}

/// `POST /incidents/{id}/acknowledge`: acknowledges its open alerts; the incident is
/// investigated, owned by the caller if nobody owned it.
pub(crate) async fn acknowledge<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    act_on(&st, id, IncidentAct::Acknowledge, &caller).await
}

/// `POST /incidents/{id}/resolve`: resolves its open alerts and the incident.
pub(crate) async fn resolve<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    act_on(&st, id, IncidentAct::Resolve, &caller).await
}

/// `POST /incidents/{id}/escalate`: pages the next level of its open alerts' escalation
/// policies now (an acknowledgement is set aside), recorded in its timeline and the audit log.
pub(crate) async fn escalate<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    act_on(&st, id, IncidentAct::Escalate, &caller).await
}

/// `POST /incidents/{id}/notes`.
pub(crate) async fn note<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<super::manage::NoteBody>,
) -> ApiResult<Json<Value>> {
    act_on(&st, id, IncidentAct::Note(b.checked()?), &caller).await
}

/// Body of `POST /incidents/{id}/merge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeBody {
    into: i64,
}

impl Schema for MergeBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "into",
                Shape::integer().describe("the incident that takes the alerts"),
            )
            .closed()
    }
}

/// `POST /incidents/{id}/merge`: its alerts move into `into`; it closes. Answers `into`.
pub(crate) async fn merge<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<MergeBody>,
) -> ApiResult<Json<Value>> {
    if b.into == id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "an incident cannot merge into itself",
        ));
    }
    act_on(&st, id, IncidentAct::Merge { into: b.into }, &caller).await
}

/// `POST /incidents/topology/reload`: reads `[correlation] topology` again; with errors the
/// topology in use stays and every error is answered. The correlator starts over from the
/// incidents that are not closed, as at start.
pub(crate) async fn reload_topology<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    let correlator =
        match st.config.correlator() {
            Ok(Some(c)) => c,
            Ok(None) => return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "correlation is off ([correlation] enabled = false): there is no topology to load",
            )),
            Err(errors) => {
                return Err(invalid(format!(
                    "the topology was not loaded ({} error{}); the one in use stays: {}",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" },
                    errors.first().map_or("", String::as_str)
                ))
                .with_details(json!({"errors": errors})))
            }
        };
    let file = st.config.correlation.topology.clone();
    let services = correlator.topology_services();
    let (tx, rx) = oneshot::channel();
    st.command(Command::ReloadCorrelator {
        correlator: Box::new(correlator),
        reply: tx,
    })?;
    let incidents = st.committed(rx).await?.map_err(refusal)?;
    let row = crate::people::audit(
        &caller,
        wall_ms(),
        "topology.reload",
        format!("topology:{}", file.as_deref().unwrap_or("")),
        Some(format!("{services} services")),
    );
    st.store.append_audit(vec![row]).await?;
    Ok(Json(
        json!({"topology": file, "services": services, "incidents": incidents}),
    ))
}

pub(crate) fn reload_shape() -> Shape {
    Shape::object()
        .req(
            "topology",
            Shape::string()
                .nullable()
                .describe("the file read (null: none configured)"),
        )
        .req(
            "services",
            Shape::count().describe("services the document declares"),
        )
        .req(
            "incidents",
            Shape::count().describe("incidents not closed, placed in the correlator again"),
        )
}

/// Body of `POST /incidents/{id}/priority`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriorityBody {
    priority: Option<String>,
}

impl Schema for PriorityBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "priority",
                Shape::string().nullable().describe(
                    "critical, high, medium, low or info; null: follow its open alerts again",
                ),
            )
            .closed()
    }
}

/// `POST /incidents/{id}/priority`: sets the priority by hand, or gives it back to the alerts.
pub(crate) async fn priority<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<PriorityBody>,
) -> ApiResult<Json<Value>> {
    let p = match b.priority.as_deref() {
        None => None,
        Some(s) => Some(
            klaxon_engine::Severity::parse(s)
                .ok_or_else(|| {
                    invalid(format!(
                        "priority: `{s}` is not one of critical, high, medium, low, info"
                    ))
                })?
                .as_str()
                .to_owned(),
        ),
    };
    act_on(&st, id, IncidentAct::Priority(p), &caller).await
}

/// Body of `POST /incidents/{id}/split`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SplitBody {
    alerts: Vec<i64>,
    title: Option<String>,
}

impl Schema for SplitBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "alerts",
                Shape::array(Shape::integer())
                    .describe("1 to 1000 ids of its alerts: they make the new incident"),
            )
            .opt(
                "title",
                Shape::string().describe("default: the first alert's name"),
            )
            .closed()
    }
}

/// `POST /incidents/{id}/split`: a new incident of some of its alerts; 201 with it.
pub(crate) async fn split<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<SplitBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    alert_ids("alerts", &b.alerts)?;
    title(b.title.as_deref())?;
    let act = IncidentAct::Split {
        alerts: b.alerts,
        title: b.title,
    };
    Ok((StatusCode::CREATED, act_on(&st, id, act, &caller).await?))
}

/// Body of `POST /incidents/{id}/move`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MoveBody {
    alerts: Vec<i64>,
    to: i64,
}

impl Schema for MoveBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "alerts",
                Shape::array(Shape::integer()).describe("1 to 1000 ids of its alerts"),
            )
            .req(
                "to",
                Shape::integer().describe("the incident that takes them"),
            )
            .closed()
    }
}

/// `POST /incidents/{id}/move`: some of its alerts move into incident `to`; answers `to`.
pub(crate) async fn move_alerts<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<MoveBody>,
) -> ApiResult<Json<Value>> {
    alert_ids("alerts", &b.alerts)?;
    let act = IncidentAct::Move {
        alerts: b.alerts,
        to: b.to,
    };
    act_on(&st, id, act, &caller).await
}

/// Query of `GET /incidents/timeline`.
#[derive(Debug, Deserialize)]
pub(crate) struct TimelineParams {
    after: Option<i64>,
    limit: Option<usize>,
}

impl Schema for TimelineParams {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "after",
                Shape::integer().describe("`next_cursor` of the page before (entries after it)"),
            )
            .opt(
                "limit",
                Shape::count().describe("at most this many (1 to 1000, default 100)"),
            )
    }
}

/// `GET /incidents/timeline`: every incident's timeline, oldest first from a cursor.
pub(crate) async fn timeline<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(p): Query<TimelineParams>,
) -> ApiResult<Json<Value>> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let after = p.after.unwrap_or(0);
    let page = st.store.incident_timeline(after, limit).await?;
    let next = page.last().map_or(after, |e| e.id);
    Ok(Json(
        json!({"entries": page.iter().map(entry_json).collect::<Vec<_>>(), "next_cursor": next}),
    ))
}

pub(crate) fn timeline_shape() -> Shape {
    Shape::object()
        .req("entries", Shape::array(entry_shape()))
        .req(
            "next_cursor",
            Shape::integer().describe("the `after` of the next page"),
        )
}

/// Body of `POST /alerts/correlate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CorrelateBody {
    alerts: Vec<i64>,
}

impl Schema for CorrelateBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "alerts",
                Shape::array(Shape::integer()).describe(
                    "1 to 1000 alert ids; those in no incident are correlated now, as if they had just fired",
                ),
            )
            .closed()
    }
}

/// `POST /alerts/correlate`: correlates the alerts now; answers each one's incident.
pub(crate) async fn correlate<S: Store + Clone>(
    State(st): State<AppState<S>>,
    JsonBody(b): JsonBody<CorrelateBody>,
) -> ApiResult<Json<Value>> {
    alert_ids("alerts", &b.alerts)?;
    let (tx, rx) = oneshot::channel();
    st.command(Command::Correlate {
        alerts: b.alerts.clone(),
        reply: tx,
    })?;
    let placed = st.committed(rx).await?.map_err(refusal)?;
    let mut incidents = Vec::new();
    for id in placed.iter().flatten() {
        if !incidents.iter().any(|i: &IncidentRecord| i.id == *id) {
            incidents.push(st.store.incident_detail(*id, 0).await?.incident);
        }
    }
    let alerts: Vec<Value> = b
        .alerts
        .iter()
        .zip(&placed)
        .map(|(a, i)| json!({"alert": a, "incident": i}))
        .collect();
    Ok(Json(json!({
        "alerts": alerts,
        "incidents": incidents.iter().map(incident_json).collect::<Vec<_>>(),
    })))
}

pub(crate) fn correlate_shape() -> Shape {
    Shape::object()
        .req(
            "alerts",
            Shape::array(
                Shape::object().req("alert", Shape::integer()).req(
                    "incident",
                    Shape::integer().nullable().describe(
                        "null: in no incident (a recurring firing, or correlation is off)",
                    ),
                ),
            ),
        )
        .req("incidents", Shape::array(incident_shape()))
}

/// `GET /alerts/correlation/{alert_id}`: why an alert is in its incident: the link that put
/// it there and the links of the alerts that joined through it.
pub(crate) async fn correlation<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(alert_id): Path<i64>,
) -> ApiResult<Json<Value>> {
    st.store
        .get_alert(alert_id)
        .await
        .map_err(|e| not_found(e, format!("alert {alert_id}")))?;
    let Some(m) = st.store.incident_of_alert(alert_id).await? else {
        return Ok(Json(
            json!({"alert": alert_id, "incident": null, "link": null, "linked_from": []}),
        ));
    };
    let d = st.store.incident_detail(m.incident_id, 0).await?;
    let linked_from: Vec<Value> = d
        .members
        .iter()
        .filter(|o| {
            o.link
                .as_ref()
                .and_then(|l| l.get("to"))
                .and_then(Value::as_i64)
                == Some(alert_id)
        })
        .filter_map(|o| o.link.clone())
        .collect();
    Ok(Json(json!({
        "alert": alert_id,
        "incident": incident_json(&d.incident),
        "link": m.link,
        "linked_from": linked_from,
    })))
}

pub(crate) fn correlation_shape() -> Shape {
    Shape::object()
        .req("alert", Shape::integer())
        .req("incident", incident_shape().nullable())
        .req("link", link_shape())
        .req(
            "linked_from",
            Shape::array(Shape::object()).describe("links of alerts that joined through this one"),
        )
}

/// The `incident` block of `GET /alerts/{id}`: the incident the alert is in and the link that
/// put it there; null when it is in none.
pub(crate) async fn block<S: Store + Clone>(st: &AppState<S>, alert_id: i64) -> ApiResult<Value> {
    let Some(m) = st.store.incident_of_alert(alert_id).await? else {
        return Ok(Value::Null);
    };
    let d = st.store.incident_detail(m.incident_id, 0).await?;
    Ok(json!({
        "id": d.incident.id, "title": d.incident.title, "state": d.incident.state,
        "link": m.link,
    }))
}

pub(crate) fn block_shape() -> Shape {
    Shape::object()
        .req("id", Shape::integer())
        .req("title", Shape::string())
        .req("state", state_shape())
        .req("link", link_shape())
        .nullable()
        .describe("the incident the alert is in; null when none")
}

/// `GET /incidents/stream`: every committed timeline entry as event `incident` (id: the
/// entry's id), with the incident as it is now. `Last-Event-ID` resumes after that entry,
/// across restarts too: the timeline is stored.
pub(crate) async fn stream<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("Last-Event-ID: not an entry id"))
        })
        .transpose()?;
    let wake = st.incidents.clone();
    let cursor = match last {
        Some(c) => c,
        // From now on: after the newest entry committed.
        None => st.store.latest_timeline_id().await?,
    };
    let hello = Event::default()
        .event("hello")
        .data(json!({"resume_after": cursor}).to_string());
    let state = (st.clone(), wake, cursor, vec![hello]);
    let s = futures_util::stream::unfold(
        state,
        |(st, mut wake, mut cursor, mut pending)| async move {
            let mut shutdown = st.shutdown.clone();
            loop {
                if !pending.is_empty() {
                    let e = pending.remove(0);
                    return Some((Ok(e), (st, wake, cursor, pending)));
                }
                // Marked seen before reading, so a commit after the read wakes the next wait.
                wake.borrow_and_update();
                let page = match st.store.incident_timeline(cursor, 100).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "incident stream: reading the timeline failed");
                        return None;
                    }
                };
                if page.is_empty() {
                    tokio::select! {
                        r = wake.changed() => if r.is_err() { return None },
                        _ = shutdown.changed() => return None,
                    }
                    continue;
                }
                for e in page {
                    cursor = e.id;
                    let incident = st
                        .store
                        .incident_detail(e.incident_id, 0)
                        .await
                        .ok()
                        .map(|d| incident_json(&d.incident));
                    let mut data = entry_json(&e);
                    data["incident"] = incident.unwrap_or(Value::Null);
                    pending.push(
                        Event::default()
                            .id(e.id.to_string())
                            .event("incident")
                            .data(data.to_string()),
                    );
                }
            }
        },
    );
    Ok(Sse::new(s).keep_alive(heartbeat()))
}
