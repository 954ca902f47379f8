//! Actions on alerts (`/alerts/...`): create, acknowledge, resolve, suppress, unsuppress,
//! close, notes, assignee, bulk actions. Every action goes through the lifecycle manager, so
//! the state machine is the one judge. Reads are in `alerts`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use klaxon_engine::duration::Unit;
use klaxon_store::{Source, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::auth::Caller;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, JsonBody, Path};
use crate::limits;
use crate::openapi::shape::{Schema, Shape};
use crate::pipeline::lifecycle::convert::{label_fingerprint, Labelled};
use crate::pipeline::lifecycle::{Act, Command, Done, Refusal};
use crate::state::AppState;
use crate::wire::{alert_json, alert_shape, labels_shape, state_shape};

/// Body of `POST /alerts/create`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
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

impl Schema for CreateBody {
    fn shape() -> Shape {
        let severities = klaxon_engine::Severity::ALL.map(klaxon_engine::Severity::as_str);
        Shape::object()
            .req(
                "name",
                Shape::string().describe("the alert's name (its `alertname` label)"),
            )
            .opt(
                "labels",
                labels_shape().describe("with the name, the alert's identity"),
            )
            .opt("annotations", labels_shape())
            .opt(
                "severity",
                Shape::one_of_text(&severities).describe(
                    "default medium; aliases such as `warning` and any case are taken too",
                ),
            )
            .opt(
                "summary",
                Shape::string().describe("one line for people; default: the name"),
            )
            .opt("value", Shape::number())
            .opt(
                "notification_channels",
                Shape::array(Shape::string()).describe("receivers to notify directly"),
            )
            .closed()
    }
}

/// `POST /alerts/create`: a hand-made alert, deduplicated by its label set like any other.
pub(crate) async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if b.name.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "name: must not be empty",
        ));
    }
    limits::text("name", &b.name, limits::ALERT_NAME)?;
    limits::labels(b.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    limits::annotations(b.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    if let Some(summary) = &b.summary {
        limits::text("summary", summary, limits::ANNOTATION_VALUE)?;
    }
    limits::count(
        "notification_channels",
        b.notification_channels.len(),
        limits::RECEIVERS,
    )?;
    for (i, r) in b.notification_channels.iter().enumerate() {
        limits::text(
            format!("notification_channels[{i}]"),
            r,
            limits::RECEIVER_NAME,
        )?;
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
    let ids = st.committed(rx).await?;
    let id = ids
        .first()
        .copied()
        .flatten()
        .ok_or_else(|| ApiError::internal("created alert has no id"))?;
    let a = st.store.get_alert(id).await?;
    record(&st, &caller, "alert.create", id, Some(a.name.clone())).await?;
    Ok((StatusCode::CREATED, Json(alert_json(&a))))
}

/// Optional body of an action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActBody {
    reason: Option<String>,
    /// For suppress: how long, as `30m`, `2h`, `90s` or a number of seconds.
    duration: Option<Value>,
    /// For bulk actions.
    ids: Option<Vec<i64>>,
}

/// The body of an action on one alert (`duration` only for suppress).
pub(crate) struct ActionBody<const SUPPRESS: bool>;

impl<const SUPPRESS: bool> Schema for ActionBody<SUPPRESS> {
    fn shape() -> Shape {
        let reason = Shape::string().describe("why, for the alert's history");
        let duration = Shape::any_of([Shape::string(), Shape::number()])
            .describe("how long: `30m`, `2h`, `1d` or a number of seconds");
        let body = Shape::object().opt("reason", reason);
        if SUPPRESS {
            body.req("duration", duration).closed()
        } else {
            body.closed()
        }
    }
}

/// The body of a bulk action.
pub(crate) struct BulkBody;

impl Schema for BulkBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "ids",
                Shape::array(Shape::integer()).describe("1 to 10000 alert ids"),
            )
            .opt("reason", Shape::string())
            .closed()
    }
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

/// Parses a duration in klaxon's one grammar (`klaxon_engine::duration`: `30m`, `2h`, `1d`,
/// `1w`, `1h30m`, `250ms`) into milliseconds; a bare number, JSON or text, is seconds. Zero is
/// refused: a suppression or a trend bucket must last.
pub(crate) fn duration_ms(v: &Value) -> Result<i64, String> {
    let ms = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|n| n.is_finite() && *n > 0.0)
            .map(|n| (n * 1000.0) as i64)
            .ok_or_else(|| format!("`{v}` is not a positive number of seconds"))?,
        Value::String(s) => {
            klaxon_engine::duration::parse_ms(s, Some(Unit::Seconds)).map_err(|e| e.to_string())?
        }
        _ => {
            return Err(format!(
                "`{v}` is not a duration like \"30m\", \"2h\" or a number of seconds"
            ))
        }
    };
    (ms > 0)
        .then_some(ms)
        .ok_or_else(|| format!("`{v}` must be longer than 0"))
}

async fn one_act<S: Store + Clone>(
    st: &AppState<S>,
    id: i64,
    act: Act,
    actor: &str,
    reason: &str,
) -> ApiResult<Done> {
    let (tx, rx) = oneshot::channel();
    let cmd = Command::Act {
        id,
        act,
        actor: actor.to_owned(),
        reason: reason.to_owned(),
        reply: tx,
    };
    st.command(cmd)?;
    st.committed(rx).await?.map_err(refusal)
}

async fn action<S: Store + Clone>(
    st: AppState<S>,
    caller: Caller,
    id: i64,
    body: JsonBody<ActBody>,
    kind: &str,
) -> ApiResult<Json<Value>> {
    let JsonBody(body) = body;
    let act = act_of(kind, &body)?;
    let reason = body
        .reason
        .clone()
        .unwrap_or_else(|| format!("{kind}d by {}", caller.name));
    let done = one_act(&st, id, act, &caller.name, &reason).await?;
    record(
        &st,
        &caller,
        &format!("alert.{kind}"),
        id,
        body.reason.clone(),
    )
    .await?;
    let a = st.store.get_alert(done.id).await?;
    Ok(Json(
        json!({"id": done.id, "from": done.from, "to": done.to, "alert": alert_json(&a)}),
    ))
}

/// The audit row of an action on alert `id`, written once the action has committed.
async fn record<S: Store + Clone>(
    st: &AppState<S>,
    caller: &Caller,
    action: &str,
    id: i64,
    detail: Option<String>,
) -> ApiResult<()> {
    let row = crate::people::audit(caller, wall_ms(), action, format!("alert:{id}"), detail);
    st.store.append_audit(vec![row]).await?;
    Ok(())
}

/// The answer of an action on one alert.
pub(crate) fn action_shape() -> Shape {
    Shape::object()
        .req("id", Shape::integer())
        .req("from", state_shape())
        .req(
            "to",
            state_shape().describe("the state after everything the action caused"),
        )
        .req("alert", alert_shape())
}

fn act_of(kind: &str, body: &ActBody) -> ApiResult<Act> {
    if let Some(r) = &body.reason {
        limits::text("reason", r, limits::REASON)?;
    }
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
            let ms = duration_ms(d).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("duration: {e}"),
                )
            })?;
            Act::Suppress {
                until: wall_ms().saturating_add(ms),
            }
        }
    })
}

macro_rules! act_handler {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("`POST /alerts/{id}/", $kind, "`.")]
        pub(crate) async fn $name<S: Store + Clone>(
            State(st): State<AppState<S>>,
            Path(id): Path<i64>,
            Authed(caller): Authed,
            body: JsonBody<ActBody>,
        ) -> ApiResult<Json<Value>> {
            action(st, caller, id, body, $kind).await
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
    caller: Caller,
    body: JsonBody<ActBody>,
    kind: &str,
) -> ApiResult<Json<Value>> {
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
    // Every action is queued before any answer is awaited, so they commit together; when the
    // queue has no room for all of them, none is queued (429).
    let mut waits = Vec::with_capacity(ids.len());
    let mut cmds = Vec::with_capacity(ids.len());
    for &id in &ids {
        let (tx, rx) = oneshot::channel();
        cmds.push(Command::Act {
            id,
            act,
            actor: caller.name.clone(),
            reason: reason.clone(),
            reply: tx,
        });
        waits.push((id, rx));
    }
    st.commands(cmds)?;
    let mut results = Vec::with_capacity(ids.len());
    let mut ok = 0;
    let (now, action) = (wall_ms(), format!("alert.{kind}"));
    let mut audit = Vec::new();
    for (id, rx) in waits {
        match st.committed(rx).await? {
            Ok(d) => {
                ok += 1;
                results.push(json!({"id": id, "ok": true, "from": d.from, "to": d.to}));
                let detail = Some(format!("bulk: {reason}"));
                audit.push(crate::people::audit(
                    &caller,
                    now,
                    &action,
                    format!("alert:{id}"),
                    detail,
                ));
            }
            Err(r) => {
                let e = refusal(r);
                results.push(json!({"id": id, "ok": false, "status": e.status.as_u16(), "error": {"code": e.code, "message": e.message, "details": e.details}}));
            }
        }
    }
    if !audit.is_empty() {
        st.store.append_audit(audit).await?;
    }
    Ok(Json(
        json!({"requested": ids.len(), "succeeded": ok, "failed": ids.len() - ok, "results": results}),
    ))
}

/// The answer of a bulk action: a result per alert, in the order asked.
pub(crate) fn bulk_shape() -> Shape {
    let result = Shape::object()
        .req("id", Shape::integer())
        .req("ok", Shape::boolean())
        .opt("from", state_shape())
        .opt("to", state_shape())
        .opt(
            "status",
            Shape::count().describe("when refused: the status one action would have had"),
        )
        .opt(
            "error",
            Shape::object()
                .req("code", Shape::string())
                .req("message", Shape::string())
                .req("details", Shape::any()),
        );
    Shape::object()
        .req("requested", Shape::count())
        .req("succeeded", Shape::count())
        .req("failed", Shape::count())
        .req("results", Shape::array(result))
}

/// `POST /alerts/bulk/acknowledge` with `{"ids": [...]}`: a result per alert.
pub(crate) async fn bulk_acknowledge<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    body: JsonBody<ActBody>,
) -> ApiResult<Json<Value>> {
    bulk(st, caller, body, "acknowledge").await
}

/// `POST /alerts/bulk/resolve` with `{"ids": [...]}`: a result per alert.
pub(crate) async fn bulk_resolve<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    body: JsonBody<ActBody>,
) -> ApiResult<Json<Value>> {
    bulk(st, caller, body, "resolve").await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    text: String,
}

impl NoteBody {
    /// The note's text, checked: not blank, within the size limit of a note. Alerts and
    /// incidents take their notes alike.
    pub(crate) fn checked(self) -> ApiResult<String> {
        if self.text.trim().is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "text: must not be empty",
            ));
        }
        limits::text("text", &self.text, limits::NOTE)?;
        Ok(self.text)
    }
}

impl Schema for NoteBody {
    fn shape() -> Shape {
        Shape::object()
            .req("text", Shape::string().with("minLength", 1.into()))
            .closed()
    }
}

/// `POST /alerts/{id}/notes`.
pub(crate) async fn note<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<NoteBody>,
) -> ApiResult<Json<Value>> {
    let text = b.checked()?;
    let (tx, rx) = oneshot::channel();
    let first_line = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    st.command(Command::Note {
        id,
        author: caller.name.clone(),
        text,
        reply: tx,
    })?;
    st.committed(rx).await?.map_err(refusal)?;
    record(&st, &caller, "alert.note", id, Some(first_line)).await?;
    Ok(Json(json!({"id": id, "ok": true})))
}

/// The answer of `POST /alerts/{id}/notes`.
pub(crate) fn note_shape() -> Shape {
    Shape::object()
        .req("id", Shape::integer())
        .req("ok", Shape::boolean())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// `null` unassigns.
    assignee: Option<String>,
}

impl Schema for AssignBody {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "assignee",
                Shape::string()
                    .nullable()
                    .describe("null or empty unassigns"),
            )
            .closed()
    }
}

/// `POST /alerts/{id}/assign`.
pub(crate) async fn assign<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<AssignBody>,
) -> ApiResult<Json<Value>> {
    if let Some(a) = &b.assignee {
        limits::text("assignee", a, limits::ASSIGNEE)?;
    }
    let (tx, rx) = oneshot::channel();
    st.command(Command::Assign {
        id,
        actor: caller.name.clone(),
        assignee: b.assignee.clone().filter(|a| !a.trim().is_empty()),
        reply: tx,
    })?;
    st.committed(rx).await?.map_err(refusal)?;
    record(&st, &caller, "alert.assign", id, b.assignee.clone()).await?;
    Ok(Json(json!({"id": id, "assignee": b.assignee})))
}

/// The answer of `POST /alerts/{id}/assign`.
pub(crate) fn assign_shape() -> Shape {
    Shape::object()
        .req("id", Shape::integer())
        .req("assignee", Shape::string().nullable())
}

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
        assert_eq!(duration_ms(&json!("1w")), Ok(604_800_000));
        assert_eq!(duration_ms(&json!("250ms")), Ok(250));
        assert_eq!(duration_ms(&json!(1.5)), Ok(1_500));
        assert!(duration_ms(&json!("0")).is_err());
        assert!(duration_ms(&json!("soon")).is_err());
        assert!(duration_ms(&json!(0)).is_err());
    }
}
