//! Users and teams over the API, admin only: `/v1/users` and `/v1/teams` list and create,
//! `/v1/users/{name}` and `/v1/teams/{name}` read, change (PATCH: the fields given replace
//! theirs) and delete. Objects declared in the configuration file answer 409 to every change.
//! Every change is written with its audit row in one commit.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{Contact, Origin, PeopleChange, Store, TeamRecord, UserRecord};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, JsonBody, Path};
use crate::openapi::shape::{Schema, Shape};
use crate::people::{self, Problem};
use crate::state::AppState;

/// Present and `null` (`Some(None)`) is told apart from absent (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `POST /v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    name: String,
    display_name: Option<String>,
    email: Option<String>,
    time_zone: String,
    #[serde(default)]
    contacts: Vec<Contact>,
}

/// The body of `PATCH /v1/users/{name}`: a field given replaces it, `null` clears it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserPatch {
    #[serde(default, deserialize_with = "present")]
    display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    time_zone: Option<String>,
    contacts: Option<Vec<Contact>>,
}

/// The body of `POST /v1/teams`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTeamBody {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

/// The body of `PATCH /v1/teams/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamPatch {
    members: Option<Vec<String>>,
}

fn name_shape() -> Shape {
    Shape::string()
        .with("minLength", 1.into())
        .with("maxLength", people::NAME.into())
        .describe("ASCII letters, digits, '.', '_', '-', '@'; starts with a letter or digit")
}

fn contact_shape() -> Shape {
    let kind = |k: &str, field: &str, max: usize| {
        Shape::object()
            .req("kind", Shape::one_of_text(&[k]))
            .req(field, Shape::string().with("maxLength", max.into()))
            .closed()
    };
    Shape::any_of([
        kind("email", "to", people::EMAIL),
        kind("slack", "target", people::SLACK),
        kind("webhook", "url", people::URL),
        kind("pagerduty", "routing_key", people::ROUTING_KEY),
    ])
    .named("Contact")
}

fn contacts_shape() -> Shape {
    Shape::array(contact_shape()).with("maxItems", people::CONTACTS.into())
}

fn text(max: usize) -> Shape {
    Shape::string().with("maxLength", max.into())
}

impl Schema for NewUserBody {
    fn shape() -> Shape {
        Shape::object()
            .req("name", name_shape())
            .opt("display_name", text(people::DISPLAY_NAME).nullable())
            .opt("email", text(people::EMAIL).nullable())
            .req(
                "time_zone",
                Shape::string().describe("an IANA time zone name"),
            )
            .opt("contacts", contacts_shape())
            .closed()
    }
}

impl Schema for UserPatch {
    fn shape() -> Shape {
        Shape::object()
            .opt("display_name", text(people::DISPLAY_NAME).nullable())
            .opt("email", text(people::EMAIL).nullable())
            .opt(
                "time_zone",
                Shape::string().describe("an IANA time zone name"),
            )
            .opt("contacts", contacts_shape())
            .closed()
    }
}

fn members_shape() -> Shape {
    Shape::array(name_shape()).with("maxItems", people::MEMBERS.into())
}

impl Schema for NewTeamBody {
    fn shape() -> Shape {
        Shape::object()
            .req("name", name_shape())
            .opt("members", members_shape())
            .closed()
    }
}

impl Schema for TeamPatch {
    fn shape() -> Shape {
        Shape::object().opt("members", members_shape()).closed()
    }
}

/// 422 with every problem (the first in the message, all in `details.problems`): the answer
/// of every people and schedule change that breaks a rule.
pub(crate) fn refuse(problems: Vec<Problem>) -> ApiResult<()> {
    let Some(first) = problems.first() else {
        return Ok(());
    };
    let message = if problems.len() == 1 {
        first.to_string()
    } else {
        format!("{first} (and {} more)", problems.len() - 1)
    };
    let all: Vec<Value> = problems
        .iter()
        .map(|p| json!({"field": p.field, "message": p.message}))
        .collect();
    Err(
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
            .with_details(json!({ "problems": all })),
    )
}

pub(crate) fn user_json(u: &UserRecord) -> Value {
    json!({
        "name": u.name,
        "display_name": u.display_name,
        "email": u.email,
        "time_zone": u.time_zone,
        "contacts": u.contacts,
        "origin": u.origin.as_str(),
        "created_at": format_ts(u.created_at),
        "updated_at": format_ts(u.updated_at),
    })
}

pub(crate) fn user_shape() -> Shape {
    Shape::object()
        .req("name", Shape::string())
        .req("display_name", Shape::string().nullable())
        .req("email", Shape::string().nullable())
        .req("time_zone", Shape::string())
        .req("contacts", Shape::array(contact_shape()))
        .req(
            "origin",
            Shape::one_of_text(&["api", "config"])
                .describe("`config`: declared in the configuration file, read-only here"),
        )
        .req("created_at", Shape::time())
        .req("updated_at", Shape::time())
        .named("User")
}

pub(crate) fn users_shape() -> Shape {
    Shape::object().req("users", Shape::array(user_shape()))
}

pub(crate) fn team_json(t: &TeamRecord) -> Value {
    json!({
        "name": t.name,
        "members": t.members,
        "origin": t.origin.as_str(),
        "created_at": format_ts(t.created_at),
        "updated_at": format_ts(t.updated_at),
    })
}

pub(crate) fn team_shape() -> Shape {
    Shape::object()
        .req("name", Shape::string())
        .req("members", Shape::array(Shape::string()))
        .req("origin", Shape::one_of_text(&["api", "config"]))
        .req("created_at", Shape::time())
        .req("updated_at", Shape::time())
        .named("Team")
}

pub(crate) fn teams_shape() -> Shape {
    Shape::object().req("teams", Shape::array(team_shape()))
}

fn no_user(name: &str) -> ApiError {
    ApiError::not_found(format!("no user named {name:?}"))
}

fn no_team(name: &str) -> ApiError {
    ApiError::not_found(format!("no team named {name:?}"))
}

fn full(kind: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!(
            "{kind}: at most {} are kept; delete some first",
            people::PEOPLE
        ),
    )
}

/// `GET /v1/users`.
pub(crate) async fn list_users<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let users: Vec<Value> = st.store.list_users().await?.iter().map(user_json).collect();
    Ok(Json(json!({ "users": users })))
}

/// `GET /v1/users/{name}`.
pub(crate) async fn get_user<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let u = st
        .store
        .get_user(&name)
        .await?
        .ok_or_else(|| no_user(&name))?;
    Ok(Json(user_json(&u)))
}

/// `POST /v1/users`: 201 with the user.
pub(crate) async fn create_user<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<NewUserBody>,
) -> ApiResult<Response> {
    let now = wall_ms();
    let u = UserRecord {
        name: b.name,
        display_name: b.display_name,
        email: b.email,
        time_zone: b.time_zone,
        contacts: b.contacts,
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    };
    refuse(people::check_user(&u))?;
    if st.store.list_users().await?.len() >= people::PEOPLE {
        return Err(full("users"));
    }
    let audit = people::audit(
        &caller,
        now,
        "user.create",
        format!("user:{}", u.name),
        None,
    );
    st.store
        .change_people(PeopleChange::CreateUser(u.clone()), vec![audit])
        .await?;
    st.repage().await;
    Ok((StatusCode::CREATED, Json(user_json(&u))).into_response())
}

/// `PATCH /v1/users/{name}`.
pub(crate) async fn update_user<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    JsonBody(p): JsonBody<UserPatch>,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let mut u = st
        .store
        .get_user(&name)
        .await?
        .ok_or_else(|| no_user(&name))?;
    let mut changed = Vec::new();
    if let Some(v) = p.display_name {
        u.display_name = v;
        changed.push("display_name");
    }
    if let Some(v) = p.email {
        u.email = v;
        changed.push("email");
    }
    if let Some(v) = p.time_zone {
        u.time_zone = v;
        changed.push("time_zone");
    }
    if let Some(v) = p.contacts {
        u.contacts = v;
        changed.push("contacts");
    }
    u.updated_at = now;
    refuse(people::check_user(&u))?;
    let audit = people::audit(
        &caller,
        now,
        "user.update",
        format!("user:{name}"),
        Some(changed.join(", ")),
    );
    st.store
        .change_people(PeopleChange::UpdateUser(u), vec![audit])
        .await?;
    st.repage().await;
    let u = st
        .store
        .get_user(&name)
        .await?
        .ok_or_else(|| no_user(&name))?;
    Ok(Json(user_json(&u)))
}

/// `DELETE /v1/users/{name}`: 204. 409 while the user is in a team, is named by a schedule or
/// an override, or owns a token in force.
pub(crate) async fn delete_user<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let audit = people::audit(
        &caller,
        wall_ms(),
        "user.delete",
        format!("user:{name}"),
        None,
    );
    st.store
        .change_people(PeopleChange::DeleteUser(name), vec![audit])
        .await?;
    st.repage().await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/teams`.
pub(crate) async fn list_teams<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let teams: Vec<Value> = st.store.list_teams().await?.iter().map(team_json).collect();
    Ok(Json(json!({ "teams": teams })))
}

/// `GET /v1/teams/{name}`.
pub(crate) async fn get_team<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = st
        .store
        .get_team(&name)
        .await?
        .ok_or_else(|| no_team(&name))?;
    Ok(Json(team_json(&t)))
}

/// `POST /v1/teams`: 201 with the team; 409 if a member is not a user.
pub(crate) async fn create_team<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<NewTeamBody>,
) -> ApiResult<Response> {
    let now = wall_ms();
    let t = TeamRecord {
        name: b.name,
        members: b.members,
        origin: Origin::Api,
        created_at: now,
        updated_at: now,
    };
    refuse(people::check_team(&t))?;
    if st.store.list_teams().await?.len() >= people::PEOPLE {
        return Err(full("teams"));
    }
    let audit = people::audit(
        &caller,
        now,
        "team.create",
        format!("team:{}", t.name),
        Some(t.members.join(", ")),
    );
    st.store
        .change_people(PeopleChange::CreateTeam(t.clone()), vec![audit])
        .await?;
    st.repage().await;
    Ok((StatusCode::CREATED, Json(team_json(&t))).into_response())
}

/// `PATCH /v1/teams/{name}`.
pub(crate) async fn update_team<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    JsonBody(p): JsonBody<TeamPatch>,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let mut t = st
        .store
        .get_team(&name)
        .await?
        .ok_or_else(|| no_team(&name))?;
    if let Some(m) = p.members {
        t.members = m;
    }
    t.updated_at = now;
    refuse(people::check_team(&t))?;
    let audit = people::audit(
        &caller,
        now,
        "team.update",
        format!("team:{name}"),
        Some(t.members.join(", ")),
    );
    st.store
        .change_people(PeopleChange::UpdateTeam(t), vec![audit])
        .await?;
    st.repage().await;
    let t = st
        .store
        .get_team(&name)
        .await?
        .ok_or_else(|| no_team(&name))?;
    Ok(Json(team_json(&t)))
}

/// `DELETE /v1/teams/{name}`: 204.
pub(crate) async fn delete_team<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let audit = people::audit(
        &caller,
        wall_ms(),
        "team.delete",
        format!("team:{name}"),
        None,
    );
    st.store
        .change_people(PeopleChange::DeleteTeam(name), vec![audit])
        .await?;
    st.repage().await;
    Ok(StatusCode::NO_CONTENT)
}
