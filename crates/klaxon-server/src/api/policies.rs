//! Escalation policies over the API: `/v1/escalation-policies` lists (viewer) and creates
//! (admin), `/v1/escalation-policies/{name}` reads (viewer), replaces and deletes (admin). The
//! body is the policy as the configuration file writes it. Policies declared in the
//! configuration file answer 409 to every change, and so does deleting a policy a route names.
//! Every change is written with its audit row in one commit, and the pager follows it at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::escalation::{self, LevelConfig, PolicyConfig};
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{Origin, PeopleChange, PolicyRecord, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::people::refuse;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::escalation::{self as policy, Known};
use crate::extract::{Authed, JsonBody, Path};
use crate::openapi::shape::{Schema, Shape};
use crate::people;
use crate::state::AppState;

/// The body of `POST /v1/escalation-policies`: the policy as `[[escalation_policies]]` has it.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct NewPolicyBody(PolicyConfig);

/// The body of `PUT /v1/escalation-policies/{name}`: levels, `repeat` and `ack_timeout`
/// replace theirs; a `name` may be given, the path's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyPut {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    repeat: u32,
    #[serde(default)]
    ack_timeout: Option<String>,
    levels: Vec<LevelConfig>,
}

fn duration_shape(what: &str) -> Shape {
    Shape::string().describe(&format!("{what}, like 5m or 1h30m; at most 1w"))
}

fn levels_shape() -> Shape {
    let target = Shape::string().describe(
        "user:NAME, team:NAME, schedule:NAME or receiver:NAME (a receiver of the configuration)",
    );
    let level = Shape::object()
        .opt(
            "wait",
            duration_shape("after the alert fires (first level) or the previous level; default 0s"),
        )
        .req(
            "notify",
            Shape::array(target)
                .with("minItems", 1.into())
                .with("maxItems", escalation::MAX_TARGETS.into()),
        )
        .closed()
        .named("EscalationLevel");
    Shape::array(level)
        .with("minItems", 1.into())
        .with("maxItems", escalation::MAX_LEVELS.into())
}

fn repeat_shape() -> Shape {
    Shape::integer()
        .with("minimum", 0.into())
        .with("maximum", escalation::MAX_REPEAT.into())
        .describe("runs of the levels after the first while nobody acknowledges; default 0")
}

fn ack_timeout_shape() -> Shape {
    duration_shape("an acknowledgement this old without resolution re-triggers the policy")
        .nullable()
}

impl Schema for NewPolicyBody {
    fn shape() -> Shape {
        Shape::object()
            .req(
                "name",
                Shape::string()
                    .with("minLength", 1.into())
                    .with("maxLength", people::NAME.into())
                    .describe(
                        "ASCII letters, digits, '.', '_', '-', '@'; starts with a letter or digit",
                    ),
            )
            .opt("repeat", repeat_shape())
            .opt("ack_timeout", ack_timeout_shape())
            .req("levels", levels_shape())
            .closed()
    }
}

impl Schema for PolicyPut {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "name",
                Shape::string().describe("when given, the name in the path"),
            )
            .opt("repeat", repeat_shape())
            .opt("ack_timeout", ack_timeout_shape())
            .req("levels", levels_shape())
            .closed()
    }
}

pub(crate) fn policy_shape() -> Shape {
    Shape::object()
        .req("name", Shape::string())
        .req("repeat", Shape::count())
        .req("ack_timeout", Shape::string().nullable())
        .req("levels", levels_shape())
        .req(
            "origin",
            Shape::one_of_text(&["api", "config"])
                .describe("`config`: declared in the configuration file, read-only here"),
        )
        .req(
            "routes",
            Shape::array(Shape::string())
                .describe("the routes of the configuration that name it (`route.routes[0].escalation_policy`)"),
        )
        .req("created_at", Shape::time())
        .req("updated_at", Shape::time())
        .named("EscalationPolicy")
}

pub(crate) fn policies_shape() -> Shape {
    Shape::object().req("policies", Shape::array(policy_shape()))
}

fn policy_json<S>(st: &AppState<S>, r: &PolicyRecord) -> Value {
    let mut v = match policy::definition(r) {
        Ok(c) => policy::definition_json(&c),
        Err(e) => {
            tracing::error!(error = %e, "a stored escalation policy does not read back");
            json!({"name": r.name, "repeat": 0, "ack_timeout": null, "levels": []})
        }
    };
    v["origin"] = r.origin.as_str().into();
    v["routes"] = st.config.routes_naming(&r.name).into();
    v["created_at"] = format_ts(r.created_at).into();
    v["updated_at"] = format_ts(r.updated_at).into();
    v
}

fn no_policy(name: &str) -> ApiError {
    ApiError::not_found(format!("no escalation policy named {name:?}"))
}

fn declared(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!(
            "escalation policy {name:?} is declared in the configuration file; change it there"
        ),
    )
}

/// Checks a policy against the users, teams and schedules of the store and the receivers of
/// the configuration: 422 with every problem, each with its field.
async fn checked<S: Store + Clone>(st: &AppState<S>, c: &PolicyConfig) -> ApiResult<()> {
    let known = Known::read(&st.store, &st.config).await?;
    match policy::check(c, &known) {
        Ok(_) => Ok(()),
        Err(problems) => refuse(problems),
    }
}

fn summary(c: &PolicyConfig) -> String {
    format!(
        "{} level(s), repeat {}{}",
        c.levels.len(),
        c.repeat,
        c.ack_timeout
            .as_deref()
            .map(|t| format!(", ack_timeout {t}"))
            .unwrap_or_default()
    )
}

/// `GET /v1/escalation-policies`.
pub(crate) async fn list<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let all: Vec<Value> = (st.store.list_policies().await?.iter())
        .map(|r| policy_json(&st, r))
        .collect();
    Ok(Json(json!({ "policies": all })))
}

/// `GET /v1/escalation-policies/{name}`.
pub(crate) async fn get<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let r = st
        .store
        .get_policy(&name)
        .await?
        .ok_or_else(|| no_policy(&name))?;
    Ok(Json(policy_json(&st, &r)))
}

/// `POST /v1/escalation-policies`: 201 with the policy.
pub(crate) async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(NewPolicyBody(c)): JsonBody<NewPolicyBody>,
) -> ApiResult<Response> {
    let now = wall_ms();
    checked(&st, &c).await?;
    if st.store.list_policies().await?.len() >= policy::POLICIES {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "escalation policies: at most {} are kept; delete some first",
                policy::POLICIES
            ),
        ));
    }
    let audit = people::audit(
        &caller,
        now,
        "escalation_policy.create",
        format!("escalation_policy:{}", c.name),
        Some(summary(&c)),
    );
    let r = policy::record(&c, Origin::Api, now);
    st.store
        .change_people(PeopleChange::CreatePolicy(r.clone()), vec![audit])
        .await?;
    st.repage().await;
    Ok((StatusCode::CREATED, Json(policy_json(&st, &r))).into_response())
}

/// `PUT /v1/escalation-policies/{name}`: levels, `repeat` and `ack_timeout` replaced.
pub(crate) async fn replace<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<PolicyPut>,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let old = st
        .store
        .get_policy(&name)
        .await?
        .ok_or_else(|| no_policy(&name))?;
    if old.origin == Origin::Config {
        return Err(declared(&name));
    }
    if let Some(other) = b.name.as_deref().filter(|n| *n != name) {
        refuse(vec![people::Problem {
            field: "name".to_owned(),
            message: format!(
                "{other:?} is not the name in the path ({name:?}); a policy is not renamed"
            ),
        }])?;
    }
    let c = PolicyConfig {
        name: name.clone(),
        repeat: b.repeat,
        ack_timeout: b.ack_timeout,
        levels: b.levels,
    };
    checked(&st, &c).await?;
    let mut r = policy::record(&c, Origin::Api, now);
    r.created_at = old.created_at;
    let audit = people::audit(
        &caller,
        now,
        "escalation_policy.update",
        format!("escalation_policy:{name}"),
        Some(summary(&c)),
    );
    st.store
        .change_people(PeopleChange::UpdatePolicy(r), vec![audit])
        .await?;
    st.repage().await;
    let r = st
        .store
        .get_policy(&name)
        .await?
        .ok_or_else(|| no_policy(&name))?;
    Ok(Json(policy_json(&st, &r)))
}

/// `DELETE /v1/escalation-policies/{name}`: 204. 409 while a route names it or when it is
/// declared in the configuration file.
pub(crate) async fn delete<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let routes = st.config.routes_naming(&name);
    if !routes.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "escalation policy {name:?} is named by {} of the configuration file; change the file first",
                routes.join(", ")
            ),
        )
        .with_details(json!({ "named_by": routes })));
    }
    let audit = people::audit(
        &caller,
        wall_ms(),
        "escalation_policy.delete",
        format!("escalation_policy:{name}"),
        None,
    );
    st.store
        .change_people(PeopleChange::DeletePolicy(name), vec![audit])
        .await?;
    st.repage().await;
    Ok(StatusCode::NO_CONTENT)
}
