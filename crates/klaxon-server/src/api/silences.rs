//! Silences over Alertmanager's API v2, so that `amtool` and Alertmanager's clients drive
//! klaxon's silences unchanged: `POST /api/v2/silences` (create, or change when an id is
//! given), `GET /api/v2/silences` (with `filter`), `GET` and `DELETE /api/v2/silence/{id}`.
//! Shapes, states and error answers are Alertmanager's: a bad silence is a 400 with a JSON
//! string, an unknown id 404, a malformed one 422; one over klaxon's own size limits (`limits`)
//! is a bad silence too, its 400 naming the field and the limit.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::matcher::{parse_filter_parts, Written};
use klaxon_engine::noise::{MatcherSpec, Silence};
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::Store;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, Path, Raw};
use crate::limits;
use crate::people;
use crate::pipeline::lifecycle::{Command, SilenceRefusal};
use crate::state::AppState;

fn am_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(Value::String(message.into()))).into_response()
}

/// Alertmanager's answer to a body that does not fit its schema (go-swagger's shape).
fn schema_error(code: u16, message: impl Into<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"code": code, "message": message.into()})),
    )
        .into_response()
}

/// `postableSilence`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Postable {
    #[serde(default)]
    id: Option<String>,
    matchers: Option<Vec<MatcherSpec>>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    created_by: Option<String>,
    comment: Option<String>,
}

/// `gettableSilence`.
pub(crate) fn gettable(s: &Silence, now: i64) -> Value {
    json!({
        "id": s.id,
        "status": {"state": s.state(now).as_str()},
        "updatedAt": format_ts(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": format_ts(s.ends_at),
        "matchers": s.matchers,
        "startsAt": format_ts(s.starts_at),
    })
}

async fn ask<S: Store + Clone>(
    st: &AppState<S>,
    make: impl FnOnce(oneshot::Sender<Result<String, SilenceRefusal>>) -> Command,
) -> ApiResult<Result<String, SilenceRefusal>> {
    let (tx, rx) = oneshot::channel();
    st.command(make(tx))?;
    st.committed(rx).await
}

/// `POST /api/v2/silences`: `{"silenceID"}` once the silence (and what it mutes) is committed.
pub(crate) async fn post<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Raw(body): Raw,
) -> ApiResult<Response> {
    let now = wall_ms();
    let silence = match decode(&body, caller.name.clone(), now) {
        Ok(s) => s,
        Err(Refused::Am(status, m)) => return Ok(am_error(status, m)),
        Err(Refused::Schema(code, m)) => return Ok(schema_error(code, m)),
        // As a bad silence: amtool and Alertmanager's clients show a 400's JSON string.
        Err(Refused::Limit(e)) => return Ok(am_error(StatusCode::BAD_REQUEST, e.to_string())),
    };
    match ask(&st, |reply| Command::UpsertSilence { silence, reply }).await? {
        Ok(id) => {
            let row = people::audit(
                &caller,
                now,
                "silence.create",
                format!("silence:{id}"),
                None,
            );
            st.store.append_audit(vec![row]).await?;
            Ok(Json(json!({"silenceID": id})).into_response())
        }
        Err(SilenceRefusal::NotFound) => Ok(am_error(StatusCode::NOT_FOUND, "silence not found")),
        Err(SilenceRefusal::Invalid(m)) => Ok(am_error(
            StatusCode::BAD_REQUEST,
            format!("silence invalid: {m}"),
        )),
    }
}

/// Why a posted silence is refused before the lifecycle sees it, in the shape of the answer.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Alertmanager's JSON string with this status.
    Am(StatusCode, String),
    /// go-swagger's `{"code", "message"}` (422).
    Schema(u16, String),
    /// Over klaxon's own size limits.
    Limit(limits::OverLimit),
}

/// A body of `POST /api/v2/silences` as a silence, as Alertmanager checks it; `caller` is who
/// created it when the body does not say.
pub(crate) fn decode(body: &[u8], caller: String, now: i64) -> Result<Silence, Refused> {
    let p: Postable = serde_json::from_slice(body)
        .map_err(|e| Refused::Am(StatusCode::BAD_REQUEST, format!("body: {e}")))?;
    let Some(matchers) = p.matchers else {
        return Err(Refused::Schema(602, "matchers in body is required".into()));
    };
    if matchers.is_empty() {
        return Err(Refused::Schema(
            612,
            "matchers in body should have at least 1 items".into(),
        ));
    }
    let Some(comment) = p.comment else {
        return Err(Refused::Schema(602, "comment in body is required".into()));
    };
    sizes(
        &matchers,
        &comment,
        p.created_by.as_deref(),
        p.id.as_deref(),
    )
    .map_err(Refused::Limit)?;
    let created_by = p
        .created_by
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(caller);
    // A missing time is go-swagger's 422; one that is not a time is the 400 Alertmanager
    // answers when its body cannot be decoded.
    let time = |field: &str, v: Option<String>| -> Result<i64, Refused> {
        let v = v.ok_or_else(|| Refused::Schema(602, format!("{field} in body is required")))?;
        parse_ts_str(&v).map_err(|e| Refused::Am(StatusCode::BAD_REQUEST, format!("{field}: {e}")))
    };
    let (starts_at, ends_at) = match (time("startsAt", p.starts_at), time("endsAt", p.ends_at)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    if ends_at <= starts_at {
        return Err(Refused::Am(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: start time must be before end time".into(),
        ));
    }
    if ends_at <= now {
        return Err(Refused::Am(
            StatusCode::BAD_REQUEST,
            "Failed to create silence: end time can't be in the past".into(),
        ));
    }
    Ok(Silence {
        id: p.id.unwrap_or_default(),
        matchers,
        starts_at,
        ends_at,
        created_by,
        comment,
        updated_at: now,
    })
}

/// A silence within the size limits (klaxon's own; 422 in klaxon's error shape).
fn sizes(
    matchers: &[MatcherSpec],
    comment: &str,
    created_by: Option<&str>,
    id: Option<&str>,
) -> Result<(), limits::OverLimit> {
    limits::count("matchers", matchers.len(), limits::MATCHERS)?;
    for (i, m) in matchers.iter().enumerate() {
        limits::text(format!("matchers[{i}].name"), &m.name, limits::MATCHER_NAME)?;
        limits::text(
            format!("matchers[{i}].value"),
            &m.value,
            limits::MATCHER_VALUE,
        )?;
    }
    limits::text("comment", comment, limits::COMMENT)?;
    limits::text("createdBy", created_by.unwrap_or(""), limits::SILENCE_WHO)?;
    limits::text("id", id.unwrap_or(""), limits::SILENCE_WHO)
}

/// Whether a silence has a matcher equal to `m` (Alertmanager's silence filter).
fn has_matcher(s: &Silence, m: &Written) -> bool {
    let (is_regex, is_equal) = match m.op {
        "=" => (false, true),
        "!=" => (false, false),
        "=~" => (true, true),
        _ => (true, false),
    };
    s.matchers.iter().any(|x| {
        x.name == m.name && x.value == m.value && x.is_regex == is_regex && x.is_equal == is_equal
    })
}

/// `GET /api/v2/silences[?filter=...]`: every silence, newest change first within a state, in
/// Alertmanager's order (active, pending, expired).
pub(crate) async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let mut filters = Vec::new();
    for pair in q.as_deref().unwrap_or("").split('&') {
        let Some(v) = pair.strip_prefix("filter=") else {
            continue;
        };
        let v = super::alertmanager::decode(v).map_err(ApiError::bad_request)?;
        match parse_filter_parts(&v) {
            Ok(ms) => filters.extend(ms),
            Err(e) => return Ok(am_error(StatusCode::BAD_REQUEST, e)),
        }
    }
    let now = wall_ms();
    let mut all = st.store.silences().await?;
    all.retain(|s| filters.iter().all(|m| has_matcher(s, m)));
    let rank = |s: &Silence| match s.state(now) {
        klaxon_engine::noise::SilenceState::Active => 0,
        klaxon_engine::noise::SilenceState::Pending => 1,
        klaxon_engine::noise::SilenceState::Expired => 2,
    };
    all.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(b.updated_at.cmp(&a.updated_at))
            .then(a.id.cmp(&b.id))
    });
    let out: Vec<Value> = all.iter().map(|s| gettable(s, now)).collect();
    Ok(Json(Value::Array(out)).into_response())
}

fn uuid_or_422(id: &str) -> Option<Response> {
    (!crate::pipeline::lifecycle::is_uuid(id)).then(|| {
        schema_error(
            601,
            format!("silenceID in path must be of type uuid: {id:?}"),
        )
    })
}

/// `GET /api/v2/silence/{id}`.
pub(crate) async fn get_one<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if let Some(r) = uuid_or_422(&id) {
        return Ok(r);
    }
    let all = st.store.silences().await?;
    match all.iter().find(|s| s.id == id) {
        Some(s) => Ok(Json(gettable(s, wall_ms())).into_response()),
        None => Ok(am_error(StatusCode::NOT_FOUND, "silence not found")),
    }
}

/// `DELETE /api/v2/silence/{id}`: expires it now (an expired one stays expired).
pub(crate) async fn delete<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if let Some(r) = uuid_or_422(&id) {
        return Ok(r);
    }
    let target = format!("silence:{id}");
    match ask(&st, |reply| Command::ExpireSilence { id, reply }).await? {
        Ok(_) => {
            let row = people::audit(&caller, wall_ms(), "silence.expire", target, None);
            st.store.append_audit(vec![row]).await?;
            Ok(StatusCode::OK.into_response())
        }
        Err(SilenceRefusal::NotFound) => Ok(am_error(StatusCode::NOT_FOUND, "silence not found")),
        Err(SilenceRefusal::Invalid(m)) => Ok(am_error(StatusCode::BAD_REQUEST, m)),
    }
}
