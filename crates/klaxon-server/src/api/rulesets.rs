//! Rule sets over HTTP, for both engines: event rule sets under `/v1/rulesets` and threshold
//! rule sets under `/v1/threshold-rules`. Store a version (every validation error at once),
//! dry-run check, activate (persisted first, then swapped into the engine in order with the
//! signals), list, read one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use klaxon_engine::event::{parse_rule_set, Parsed};
use klaxon_engine::threshold::{parse_threshold_rules, ParsedThreshold};
use klaxon_engine::RuleError;
use klaxon_store::{NewRuleSet, RuleKind, RuleSetRecord, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::auth::token::Caller;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, Path, Query, Text};
use crate::openapi::shape::{Schema, Shape};
use crate::pipeline::driver::Input;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct SetQuery {
    group: Option<String>,
    name: Option<String>,
    author: Option<String>,
}

impl Schema for SetQuery {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "group",
                Shape::string().describe("the rule-set group (default `default`)"),
            )
            .opt(
                "name",
                Shape::string().describe("the set's name, when its header has none"),
            )
            .opt("author", Shape::string().describe("who stores it"))
    }
}

/// The query of reading or activating one version: its group.
pub(crate) struct GroupQuery;

impl Schema for GroupQuery {
    fn shape() -> Shape {
        Shape::object().opt(
            "group",
            Shape::string().describe("the rule-set group (default `default`)"),
        )
    }
}

/// A rule-set document, as the body of storing or checking one.
pub(crate) fn document_shape() -> Shape {
    Shape::object().describe(
        "a rule-set document: event rules (docs/rules.md) or threshold rules (docs/threshold-rules.md); read as UTF-8 text whatever the content type",
    )
}

/// A problem found in a rule document, `RuleError` in the OpenAPI document.
pub(crate) fn rule_error_shape() -> Shape {
    Shape::object()
        .req(
            "rule",
            Shape::string()
                .nullable()
                .describe("the rule's id when it has one"),
        )
        .req(
            "index",
            Shape::count()
                .nullable()
                .describe("the rule's 0-based index in `rules`"),
        )
        .req(
            "field",
            Shape::string().describe("dotted path in the rule or document"),
        )
        .req("message", Shape::string())
        .req("line", Shape::count().nullable())
        .req("column", Shape::count().nullable())
        .named("RuleError")
}

fn group(q: &SetQuery) -> String {
    q.group
        .clone()
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

/// The record without its JSON (listings); `with_json` adds the document.
pub(crate) fn record_json(r: &RuleSetRecord, with_json: bool) -> Value {
    let mut v = json!({
        "kind": r.kind.as_str(), "group": r.group, "name": r.name, "version": r.version,
        "author": r.author, "created_at": klaxon_engine::timestamp::format_ts(r.created_at),
        "active": r.active,
    });
    if with_json {
        v["rule_set"] = serde_json::from_str(&r.json).unwrap_or(Value::Null);
    }
    v
}

/// The fields of [`record_json`] without the document, added to `object`.
fn record_fields(object: Shape) -> Shape {
    object
        .req("kind", Shape::one_of_text(&["event", "threshold"]))
        .req("group", Shape::string())
        .req("name", Shape::string())
        .req("version", Shape::integer())
        .req("author", Shape::string().nullable())
        .req("created_at", Shape::time())
        .req("active", Shape::boolean())
}

/// The shape of [`record_json`] without the document, `RuleSetRecord` in the OpenAPI document.
pub(crate) fn record_shape() -> Shape {
    record_fields(Shape::object()).named("RuleSetRecord")
}

/// One version with its document.
pub(crate) fn record_with_document_shape() -> Shape {
    record_fields(Shape::object()).req("rule_set", Shape::any().describe("the document as stored"))
}

/// The answer of storing a version: the record and the document's warnings.
pub(crate) fn created_shape() -> Shape {
    record_fields(Shape::object()).req("warnings", Shape::array(rule_error_shape()))
}

/// The answer of a check.
pub(crate) fn check_shape() -> Shape {
    Shape::object()
        .req("valid", Shape::boolean())
        .req("rules", Shape::count())
        .req("warnings", Shape::array(rule_error_shape()))
}

/// The answer of a listing.
pub(crate) fn list_shape() -> Shape {
    let active = Shape::object()
        .req("name", Shape::string())
        .req("version", Shape::integer());
    Shape::object()
        .req("rule_sets", Shape::array(record_shape()))
        .req(
            "active",
            Shape::map(active).describe("the active version of each group"),
        )
}

/// A validated document of either kind.
pub(crate) enum Doc {
    Event(Parsed),
    Threshold(ParsedThreshold),
}

impl Doc {
    fn name(&self) -> Option<&str> {
        match self {
            Doc::Event(p) => p.set.name.as_deref(),
            Doc::Threshold(p) => p.set.name.as_deref(),
        }
    }

    /// `header.rule_set_version` as written.
    fn version(&self) -> Option<&serde_json::Number> {
        match self {
            Doc::Event(p) => p.set.version.as_ref(),
            Doc::Threshold(p) => p.set.version.as_ref(),
        }
    }

    /// The version the set is stored as: the header's, which must then be a whole number of
    /// at least 1 (`None`: the server gives the next one).
    fn stored_version(&self, kind: RuleKind) -> ApiResult<Option<i64>> {
        let Some(v) = self.version() else {
            return Ok(None);
        };
        match v.as_i64().filter(|v| *v >= 1) {
            Some(v) => Ok(Some(v)),
            None => Err(invalid(
                kind,
                vec![RuleError {
                    rule: None,
                    index: None,
                    field: "header.rule_set_version".to_owned(),
                    message: format!(
                        "must be a whole number of at least 1 (the set is stored as that \
                         version), got {v}"
                    ),
                    line: None,
                    column: None,
                }],
            )),
        }
    }

    fn rules(&self) -> usize {
        match self {
            Doc::Event(p) => p.set.rules.len(),
            Doc::Threshold(p) => p.set.rules.len(),
        }
    }

    fn warnings(&self) -> &[RuleError] {
        match self {
            Doc::Event(p) => &p.warnings,
            Doc::Threshold(p) => &p.warnings,
        }
    }
}

fn what(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::Event => "rule set",
        RuleKind::Threshold => "threshold rule set",
    }
}

fn invalid(kind: RuleKind, errors: Vec<RuleError>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_rule_set",
        format!(
            "the {} has {} error(s); nothing was stored",
            what(kind),
            errors.len()
        ),
    )
    .with_details(json!(errors))
}

/// Parses and validates a document of `kind`; every error at once.
pub(crate) fn validate(kind: RuleKind, text: &str) -> ApiResult<Doc> {
    match kind {
        RuleKind::Event => parse_rule_set(text)
            .map(Doc::Event)
            .map_err(|e| invalid(kind, e)),
        RuleKind::Threshold => parse_threshold_rules(text)
            .map(Doc::Threshold)
            .map_err(|e| invalid(kind, e)),
    }
}

async fn create_kind<S: Store + Clone>(
    st: AppState<S>,
    kind: RuleKind,
    q: SetQuery,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let doc = validate(kind, &body)?;
    let name = q
        .name
        .clone()
        .or_else(|| doc.name().map(str::to_owned))
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_rule_set",
                format!("the {} needs a name: header.rule_set or ?name=", what(kind)),
            )
        })?;
    let version = doc.stored_version(kind)?;
    let g = group(&q);
    let new = NewRuleSet {
        kind,
        group: g.clone(),
        name: name.clone(),
        version,
        json: body,
        author: q.author.clone(),
        created_at: wall_ms(),
    };
    let (status, rec) = match (st.store.insert_rule_set(new.clone()).await, version) {
        (Ok(rec), _) => (StatusCode::CREATED, rec),
        // The same document again is the version already stored; another document under a
        // stored version is a conflict (a version never changes).
        (Err(StoreError::AlreadyExists(_)), Some(v)) => {
            let stored = st.store.get_rule_set(kind, &g, &name, v).await?;
            if stored.json != new.json {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "version_exists",
                    format!(
                        "version {v} of {} {name:?} in group {g:?} is stored with another \
                         document; give the new one a higher header.rule_set_version",
                        what(kind)
                    ),
                ));
            }
            (StatusCode::OK, stored)
        }
        (Err(e), _) => return Err(e.into()),
    };
    let mut v = record_json(&rec, false);
    v["warnings"] = json!(doc.warnings());
    Ok((status, Json(v)))
}

fn check_kind(kind: RuleKind, body: String) -> ApiResult<Json<Value>> {
    let doc = validate(kind, &body)?;
    doc.stored_version(kind)?;
    Ok(Json(
        json!({"valid": true, "rules": doc.rules(), "warnings": doc.warnings()}),
    ))
}

async fn list_kind<S: Store + Clone>(st: AppState<S>, kind: RuleKind) -> ApiResult<Json<Value>> {
    let all: Vec<RuleSetRecord> = st
        .store
        .list_rule_sets()
        .await?
        .into_iter()
        .filter(|r| r.kind == kind)
        .collect();
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

async fn get_kind<S: Store + Clone>(
    st: AppState<S>,
    kind: RuleKind,
    (name, version): (String, i64),
    q: SetQuery,
) -> ApiResult<Json<Value>> {
    let rec = st
        .store
        .get_rule_set(kind, &group(&q), &name, version)
        .await?;
    Ok(Json(record_json(&rec, true)))
}

async fn activate_kind<S: Store + Clone>(
    st: AppState<S>,
    kind: RuleKind,
    (name, version): (String, i64),
    q: SetQuery,
) -> ApiResult<Json<Value>> {
    let g = group(&q);
    let rec = st.store.get_rule_set(kind, &g, &name, version).await?;
    // Stored sets were valid when stored; a set that no longer parses is refused, not half-loaded.
    let doc = validate(kind, &rec.json)?;
    let rec = st.store.activate_rule_set(kind, &g, &name, version).await?;
    apply(&st, &rec, doc).await?;
    Ok(Json(record_json(&rec, false)))
}

/// Swaps a parsed set into its engine and waits until it is in effect.
pub(crate) async fn apply<S: Store + Clone>(
    st: &AppState<S>,
    rec: &RuleSetRecord,
    doc: Doc,
) -> ApiResult<()> {
    let (done, wait) = oneshot::channel();
    st.send(activation(rec, doc, done))?;
    wait.await
        .map_err(|_| ApiError::unavailable("the engine stopped before the set was activated"))
}

/// The engine input that activates `doc` as stored in `rec`.
pub(crate) fn activation(rec: &RuleSetRecord, doc: Doc, done: oneshot::Sender<()>) -> Input {
    let (group, name, version) = (rec.group.clone(), rec.name.clone(), rec.version);
    match doc {
        Doc::Event(p) => Input::Activate {
            group,
            name,
            version,
            set: Box::new(p.set),
            done,
        },
        Doc::Threshold(p) => Input::ActivateThreshold {
            group,
            name,
            version,
            set: Box::new(p.set),
            done,
        },
    }
}

/// The audit row of a rule-set change, from its answer: target `KIND:GROUP/NAME`, detail the
/// version.
async fn audit<S: Store + Clone>(
    st: &AppState<S>,
    caller: &Caller,
    action: &str,
    answer: &Json<Value>,
) -> ApiResult<()> {
    let v = &answer.0;
    let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let target = format!("{}:{}/{}", text("kind"), text("group"), text("name"));
    let detail = Some(format!("version {}", v["version"]));
    let row = crate::people::audit(caller, wall_ms(), action, target, detail);
    st.store.append_audit(vec![row]).await?;
    Ok(())
}

/// The handlers of one kind, at its own paths.
macro_rules! kind_handlers {
    ($module:ident, $kind:expr, $path:literal) => {
        #[doc = concat!("Handlers under `", $path, "`.")]
        pub(crate) mod $module {
            use super::*;

            #[doc = concat!("`POST ", $path, "`: stores a new version of (group, name).")]
            pub(crate) async fn create<S: Store + Clone>(
                State(st): State<AppState<S>>,
                Authed(caller): Authed,
                Query(q): Query<SetQuery>,
                Text(body): Text,
            ) -> ApiResult<(StatusCode, Json<Value>)> {
                let (status, v) = create_kind(st.clone(), $kind, q, body).await?;
                if status == StatusCode::CREATED {
                    audit(&st, &caller, "rule_set.load", &v).await?;
                }
                Ok((status, v))
            }

            #[doc = concat!("`POST ", $path, "/check`: validation only, nothing stored.")]
            pub(crate) async fn check<S: Store + Clone>(
                State(_): State<AppState<S>>,
                Text(body): Text,
            ) -> ApiResult<Json<Value>> {
                check_kind($kind, body)
            }

            #[doc = concat!("`GET ", $path, "`: every stored version, and the active one per group.")]
            pub(crate) async fn list<S: Store + Clone>(
                State(st): State<AppState<S>>,
            ) -> ApiResult<Json<Value>> {
                list_kind(st, $kind).await
            }

            #[doc = concat!("`GET ", $path, "/{name}/{version}?group=`: one version with its document.")]
            pub(crate) async fn get_one<S: Store + Clone>(
                State(st): State<AppState<S>>,
                Path(key): Path<(String, i64)>,
                Query(q): Query<SetQuery>,
            ) -> ApiResult<Json<Value>> {
                get_kind(st, $kind, key, q).await
            }

            #[doc = concat!("`POST ", $path, "/{name}/{version}/activate?group=`: persisted, then applied to the engine before the next signal it takes.")]
            pub(crate) async fn activate<S: Store + Clone>(
                State(st): State<AppState<S>>,
                Authed(caller): Authed,
                Path(key): Path<(String, i64)>,
                Query(q): Query<SetQuery>,
            ) -> ApiResult<Json<Value>> {
                let v = activate_kind(st.clone(), $kind, key, q).await?;
                audit(&st, &caller, "rule_set.activate", &v).await?;
                Ok(v)
            }
        }
    };
}

kind_handlers!(event, RuleKind::Event, "/v1/rulesets");
kind_handlers!(threshold, RuleKind::Threshold, "/v1/threshold-rules");
