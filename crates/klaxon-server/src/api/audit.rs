//! The audit log over the API, admin only: `GET /v1/audit`, newest first, filtered by actor,
//! action and a time range, paged with the cursor `before_id` (the answer's `next`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{AuditQuery, AuditRecord, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::openapi::shape::{Schema, Shape};

/// Rows of a page when the query names no limit.
const DEFAULT_LIMIT: usize = 100;
/// An actor or action filter, in bytes.
const FILTER: usize = 256;

#[derive(Debug, Deserialize)]
pub(crate) struct LogQuery {
    actor: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before_id: Option<i64>,
    limit: Option<usize>,
}

impl Schema for LogQuery {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "actor",
                Shape::string().describe("only this user's (or service token's) actions"),
            )
            .opt(
                "action",
                Shape::string().describe("only this action, e.g. `alert.acknowledge`"),
            )
            .opt("since", Shape::time().describe("at or after this time"))
            .opt("until", Shape::time().describe("before this time"))
            .opt(
                "before_id",
                Shape::integer().describe("the cursor: rows before this id"),
            )
            .opt(
                "limit",
                Shape::count().describe("at most this many (1 to 1000, default 100)"),
            )
    }
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

fn time(field: &str, v: Option<&str>) -> ApiResult<Option<i64>> {
    v.map(|t| parse_ts_str(t).map_err(|_| bad(format!("{field}: {t:?} is not an RFC 3339 time"))))
        .transpose()
}

fn filter(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    match v {
        Some(v) if v.len() > FILTER => Err(bad(format!(
            "{field}: {} bytes, over the limit of {FILTER}",
            v.len()
        ))),
        v => Ok(v),
    }
}

fn row_json(r: &AuditRecord) -> Value {
    let e = &r.entry;
    json!({
        "id": r.id,
        "at": format_ts(e.at),
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "target": e.target,
        "detail": e.detail,
    })
}

pub(crate) fn log_shape() -> Shape {
    let row = Shape::object()
        .req("id", Shape::integer())
        .req("at", Shape::time())
        .req(
            "actor",
            Shape::string().describe("a user, or a service token's name"),
        )
        .req("role", Shape::string())
        .req("action", Shape::string())
        .req("target", Shape::string())
        .req("detail", Shape::string().nullable())
        .named("AuditRow");
    Shape::object().req("entries", Shape::array(row)).req(
        "next",
        Shape::integer()
            .nullable()
            .describe("`before_id` of the next page; null on the last"),
    )
}

/// `GET /v1/audit`.
pub(crate) async fn log<S: Store + Clone>(
    State(st): State<crate::state::AppState<S>>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > AuditQuery::MAX_LIMIT {
        return Err(bad(format!(
            "limit: 1 to {}, not {limit}",
            AuditQuery::MAX_LIMIT
        )));
    }
    let rows = st
        .store
        .audit_log(AuditQuery {
            actor: filter("actor", q.actor)?,
            action: filter("action", q.action)?,
            since: time("since", q.since.as_deref())?,
            until: time("until", q.until.as_deref())?,
            before_id: q.before_id,
            limit,
        })
        .await?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let entries: Vec<Value> = rows.iter().map(row_json).collect();
    Ok(Json(json!({ "entries": entries, "next": next })))
}
