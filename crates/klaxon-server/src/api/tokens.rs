//! Access tokens over the API, admin only: `POST /v1/tokens` creates one and answers its
//! secret, once; `GET /v1/tokens` lists them (never a secret or its hash);
//! `DELETE /v1/tokens/{id}` revokes one and ends its dashboard sessions at once.
//! The secret is never logged.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::duration;
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{NewToken, Role, Store, TokenRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, JsonBody, Path};
use crate::openapi::shape::{Schema, Shape};
use crate::people;
use crate::state::AppState;

/// Names and user names are at most this many characters.
const MAX_NAME: usize = 100;

/// The body of `POST /v1/tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: Option<String>,
    role: Option<String>,
    /// A duration from now (`"30d"`) or an RFC 3339 time.
    expires: Option<String>,
    user: Option<String>,
}

impl Schema for CreateBody {
    fn shape() -> Shape {
        let name = Shape::string()
            .with("minLength", 1.into())
            .with("maxLength", 100.into())
            .describe("1 to 100 characters, not only digits");
        Shape::object()
            .req("name", name.clone())
            .req(
                "role",
                Shape::one_of_text(&["ingest", "viewer", "responder", "admin"]),
            )
            .opt(
                "expires",
                Shape::string().describe("a duration from now (`30d`) or an RFC 3339 time"),
            )
            .opt("user", name)
            .closed()
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
}

/// The JSON of a token: never its secret or its hash.
pub(crate) fn token_json(t: &TokenRecord, now: i64) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.as_str(),
        "user": t.user,
        "state": t.state(now).as_str(),
        "created_at": format_ts(t.created_at),
        "created_by": t.created_by,
        "expires_at": t.expires_at.map(format_ts),
        "revoked_at": t.revoked_at.map(format_ts),
        "last_used_at": t.last_used_at.map(format_ts),
    })
}

/// The fields of [`token_json`], added to `object`.
fn token_fields(object: Shape) -> Shape {
    let (text, time) = (Shape::string, Shape::time);
    object
        .req("id", Shape::integer())
        .req("name", text())
        .req(
            "role",
            Shape::one_of_text(&["ingest", "viewer", "responder", "admin"]),
        )
        .req("user", text().nullable())
        .req(
            "state",
            Shape::one_of_text(&["active", "expired", "revoked"]),
        )
        .req("created_at", time())
        .req("created_by", text().nullable())
        .req("expires_at", time().nullable())
        .req("revoked_at", time().nullable())
        .req("last_used_at", time().nullable())
}

/// The shape of [`token_json`], `Token` in the OpenAPI document.
pub(crate) fn token_shape() -> Shape {
    token_fields(Shape::object()).named("Token")
}

/// The answer of `POST /v1/tokens`: the token and its secret.
pub(crate) fn created_shape() -> Shape {
    token_fields(Shape::object()).req(
        "token",
        Shape::string().describe("the secret, shown only in this answer"),
    )
}

/// The answer of `GET /v1/tokens`.
pub(crate) fn list_shape() -> Shape {
    Shape::object().req("tokens", Shape::array(token_shape()))
}

/// A name: 1 to 100 characters, no control characters, not only digits (a token is named by
/// its id or its name, and must not be mistaken for another's id).
fn name_of(field: &str, v: Option<&str>) -> ApiResult<Option<String>> {
    let Some(v) = v.map(str::trim) else {
        return Ok(None);
    };
    if v.is_empty() || v.chars().count() > MAX_NAME || v.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{field}: 1 to {MAX_NAME} characters, no control characters"
        )));
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "{field}: a name of digits only would read as a token id"
        )));
    }
    Ok(Some(v.to_owned()))
}

/// When a token expires: a duration from `now` in klaxon's duration grammar (`"30d"`,
/// `"12h"`) or an RFC 3339 time; it must be in the future.
pub(crate) fn expiry(text: &str, now: i64) -> Result<i64, String> {
    let t = text.trim();
    let at = match duration::parse_ms(t, None) {
        Ok(ms) => now.saturating_add(ms),
        Err(e) if t.bytes().all(|b| b.is_ascii_digit()) => return Err(e.to_string()),
        Err(e) => parse_ts_str(t)
            .map_err(|_| format!("{e}; or an RFC 3339 time such as \"2030-01-31T00:00:00Z\""))?,
    };
    if at <= now {
        return Err(format!("{t:?} is not in the future"));
    }
    Ok(at)
}

/// `POST /v1/tokens`: 201 with the token and its secret (`token`), shown only this once.
pub(crate) async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult<Response> {
    let now = wall_ms();
    let name = name_of("name", body.name.as_deref())?.ok_or_else(|| invalid("name: required"))?;
    let role = body.role.as_deref().map(str::trim).unwrap_or("");
    let role = Role::parse(role).ok_or_else(|| {
        invalid(format!(
            "role: {role:?} is not one of ingest, viewer, responder, admin"
        ))
    })?;
    let expires_at = match body.expires.as_deref() {
        Some(e) => Some(expiry(e, now).map_err(|m| invalid(format!("expires: {m}")))?),
        None => None,
    };
    let user = name_of("user", body.user.as_deref())?;
    if let Some(u) = &user {
        if st.store.get_user(u).await?.is_none() {
            return Err(invalid(format!(
                "user: no user named {u:?}; create it first (a service token names none)"
            )));
        }
    }
    let new = NewToken {
        name,
        role,
        hash: String::new(),
        created_at: now,
        created_by: Some(caller.name.clone()),
        expires_at,
        user,
    };
    let (secret, rec) = st.auth.create_token(new, now).await?;
    let detail = format!(
        "role {}{}",
        rec.role.as_str(),
        rec.user
            .as_ref()
            .map_or(String::new(), |u| format!(", user {u}"))
    );
    let audit = people::audit(
        &caller,
        now,
        "token.create",
        format!("token:{}", rec.name),
        Some(detail),
    );
    st.store.append_audit(vec![audit]).await?;
    tracing::info!(
        id = rec.id, name = %rec.name, role = rec.role.as_str(), by = %caller.name,
        "token created"
    );
    let mut v = token_json(&rec, now);
    v["token"] = Value::String(secret);
    let mut resp = (StatusCode::CREATED, Json(v)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// `GET /v1/tokens`: every token, revoked and expired ones too, by id.
pub(crate) async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let tokens: Vec<Value> = st
        .store
        .list_tokens()
        .await?
        .iter()
        .map(|t| token_json(t, now))
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

/// `DELETE /v1/tokens/{id}`: revokes the token and ends its sessions; 200 with the token.
/// 409 for the last admin token in force.
pub(crate) async fn revoke<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(id): Path<i64>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let rec = st.auth.revoke_token(id, now).await?;
    let audit = people::audit(
        &caller,
        now,
        "token.revoke",
        format!("token:{}", rec.name),
        None,
    );
    st.store.append_audit(vec![audit]).await?;
    tracing::info!(id = rec.id, name = %rec.name, by = %caller.name, "token revoked");
    Ok(Json(token_json(&rec, now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_are_durations_or_times_in_the_future() {
        let now = 1_700_000_000_000;
        assert_eq!(expiry("30d", now), Ok(now + 30 * 86_400_000));
        assert_eq!(expiry(" 1h30m ", now), Ok(now + 5_400_000));
        assert_eq!(
            expiry("2030-01-31T00:00:00Z", now),
            Ok(parse_ts_str("2030-01-31T00:00:00Z").unwrap_or(0))
        );
        for bad in ["30", "0", "2001-01-01T00:00:00Z", "soon", ""] {
            assert!(expiry(bad, now).is_err(), "{bad:?}");
        }
        assert!(expiry("30", now).is_err_and(|e| e.contains("no unit")));
    }

    #[test]
    fn names_are_short_printable_and_not_ids() {
        assert_eq!(
            name_of("name", Some(" prometheus "))
                .ok()
                .flatten()
                .as_deref(),
            Some("prometheus")
        );
        assert!(name_of("name", None).is_ok_and(|n| n.is_none()));
        for bad in ["", "  ", "42", "a\nb", &"x".repeat(101)] {
            assert!(name_of("name", Some(bad)).is_err(), "{bad:?}");
        }
    }
}
