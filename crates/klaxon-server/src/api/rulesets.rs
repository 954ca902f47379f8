//! Rule sets over HTTP: store a version (every validation error at once), dry-run check,
//! activate (persisted first, then swapped into the engine in order with the signals), list.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use klaxon_engine::parse::{parse_rule_set, Parsed, RuleError};
use klaxon_store::{NewRuleSet, RuleSetRecord, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::AppState;
use crate::auth::Need;
use crate::driver::{wall_ms, Input};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
pub struct SetQuery {
    group: Option<String>,
    name: Option<String>,
    author: Option<String>,
}

fn group(q: &SetQuery) -> String {
    q.group
        .clone()
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// The record without its JSON (listings); `with_json` adds the document.
pub fn record_json(r: &RuleSetRecord, with_json: bool) -> Value {
    let mut v = json!({
        "group": r.group, "name": r.name, "version": r.version, "author": r.author,
        "created_at": klaxon_engine::timestamp::format_ts(r.created_at), "active": r.active,
    });
    if with_json {
        v["rule_set"] = serde_json::from_str(&r.json).unwrap_or(Value::Null);
    }
    v
}

fn invalid(errors: Vec<RuleError>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rule_set",
        format!(
            "the rule set has {} error(s); nothing was stored",
            errors.len()
        ),
    )
    .with_details(json!(errors))
}

fn validate(text: &str) -> ApiResult<Parsed> {
    parse_rule_set(text).map_err(invalid)
}

/// `POST /v1/rulesets`: stores a new version of (group, name).
pub async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<SetQuery>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    st.auth.check(&headers, Need::Admin).await?;
    let parsed = validate(&body)?;
    let name = q
        .name
        .clone()
        .or_else(|| parsed.set.name.clone())
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rule_set",
                "the set needs a name: header.rule_set or ?name=",
            )
        })?;
    let rec = st
        .store
        .insert_rule_set(NewRuleSet {
            group: group(&q),
            name,
            json: body,
            author: q.author.clone(),
            created_at: wall_ms(),
        })
        .await?;
    let mut v = record_json(&rec, false);
    v["warnings"] = json!(parsed.warnings);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `POST /v1/rulesets/check`: validation only, nothing stored.
pub async fn check<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let parsed = validate(&body)?;
    Ok(Json(
        json!({"valid": true, "rules": parsed.set.rules.len(), "warnings": parsed.warnings}),
    ))
}

/// `GET /v1/rulesets`: every stored version, and the active one per group.
pub async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let all = st.store.list_rule_sets().await?;
    let mut active = serde_json::Map::new();
    for r in all.iter().filter(|r| r.active) {
        active.insert(
            r.group.clone(),
            json!({"name": r.name, "version": r.version}),
        );
    }
    let sets: Vec<Value> = all.iter().map(|r| record_json(r, false)).collect();
    Ok(Json(json!({"rule_sets": sets, "active": active})))
}

/// `GET /v1/rulesets/{name}/{version}?group=`: one version with its document.
pub async fn get_one<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path((name, version)): Path<(String, i64)>,
    Query(q): Query<SetQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Read).await?;
    let rec = st.store.get_rule_set(&group(&q), &name, version).await?;
    Ok(Json(record_json(&rec, true)))
}

/// `POST /v1/rulesets/{name}/{version}/activate?group=`: persisted, then applied to the engine
/// before the next signal it takes.
pub async fn activate<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path((name, version)): Path<(String, i64)>,
    Query(q): Query<SetQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    st.auth.check(&headers, Need::Admin).await?;
    let g = group(&q);
    let rec = st.store.get_rule_set(&g, &name, version).await?;
    // Stored sets were valid when stored; a set that no longer parses is refused, not half-loaded.
    let parsed = validate(&rec.json)?;
    let rec = st.store.activate_rule_set(&g, &name, version).await?;
    apply(&st, &rec, parsed).await?;
    Ok(Json(record_json(&rec, false)))
}

/// Swaps a parsed set into the engine and waits until it is in effect.
pub async fn apply<S: Store + Clone>(
    st: &AppState<S>,
    rec: &RuleSetRecord,
    parsed: Parsed,
) -> ApiResult<()> {
    let (done, wait) = oneshot::channel();
    st.send(Input::Activate {
        group: rec.group.clone(),
        name: rec.name.clone(),
        version: rec.version,
        set: Box::new(parsed.set),
        done,
    })?;
    wait.await
        .map_err(|_| ApiError::unavailable("the engine stopped before the set was activated"))
}
