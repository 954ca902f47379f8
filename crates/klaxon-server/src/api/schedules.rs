//! On-call schedules over the API: `/v1/schedules` list (viewer) and create (admin),
//! `/v1/schedules/{name}` read (viewer), replace and delete (admin); overrides, someone covering
//! a shift, added and removed by responders (`/v1/schedules/{name}/overrides`); who is on call
//! (`/v1/oncall`); and the iCalendar feeds of a schedule and of a user
//! (`/v1/feeds/schedules/{name}`, `/v1/feeds/users/{name}`), which calendar apps fetch with a
//! viewer token in the URL since they cannot send an `Authorization` header. Schedules declared
//! in the configuration file answer 409 to every change but overrides. Every change is written
//! with its audit row in one commit, then the schedule is compiled again.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use klaxon_engine::oncall::{Calendar, LayerConfig, ScheduleConfig, Shift};
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{Origin, OverrideRecord, PeopleChange, Role, Store};
use serde::Deserialize;
use serde_json::{json, Value};

use super::people::refuse;
use crate::auth::Need;
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Authed, JsonBody, Path, Query};
use crate::oncall::{self, Entry, ShiftSource, DAY_MS, RANGE_DAYS};
use crate::openapi::shape::{Schema, Shape};
use crate::people::{self, check_name, Problem};
use crate::state::AppState;

/// The body of `POST /v1/schedules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewScheduleBody {
    name: String,
    time_zone: String,
    layers: Vec<LayerConfig>,
}

/// The body of `PUT /v1/schedules/{name}`: the definition replaced whole (overrides stay).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchedulePut {
    time_zone: String,
    layers: Vec<LayerConfig>,
}

/// The body of `POST /v1/schedules/{name}/overrides`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOverrideBody {
    user: String,
    start: String,
    end: String,
}

/// The query of `GET /v1/oncall`.
#[derive(Debug, Deserialize)]
pub(crate) struct OnCallQuery {
    schedule: Option<String>,
    at: Option<String>,
    until: Option<String>,
}

/// The query of the feeds.
#[derive(Debug, Deserialize)]
pub(crate) struct FeedQuery {
    token: Option<String>,
}

fn name_shape() -> Shape {
    Shape::string()
        .with("minLength", 1.into())
        .with("maxLength", people::NAME.into())
        .describe("ASCII letters, digits, '.', '_', '-', '@'; starts with a letter or digit")
}

fn field() -> Shape {
    Shape::string().with("maxLength", oncall::FIELD.into())
}

fn layer_shape() -> Shape {
    let restriction = Shape::object()
        .opt(
            "days",
            Shape::array(field())
                .with("maxItems", 7.into())
                .describe("weekdays the window starts on (mon ... sun); absent: every day"),
        )
        .req("from", field().describe("HH:MM local time"))
        .req(
            "to",
            field().describe("HH:MM local time; not after `from`: past midnight"),
        )
        .closed();
    Shape::object()
        .req(
            "users",
            Shape::array(name_shape())
                .with("maxItems", oncall::LAYER_USERS.into())
                .describe("in rotation order"),
        )
        .req(
            "shift",
            field().describe("shift length: 1w, 2d (calendar days) or 12h (elapsed hours)"),
        )
        .req(
            "handoff",
            field().describe("the first hand-off, a local date-time such as 2026-12-07T09:00:00"),
        )
        .opt(
            "restrict",
            Shape::array(restriction).with("maxItems", oncall::RESTRICTIONS.into()),
        )
        .closed()
        .named("Layer")
}

fn layers_shape() -> Shape {
    Shape::array(layer_shape()).with("maxItems", oncall::LAYERS.into())
}

impl Schema for NewScheduleBody {
    fn shape() -> Shape {
        Shape::object()
            .req("name", name_shape())
            .req("time_zone", field().describe("an IANA time zone name"))
            .req("layers", layers_shape())
            .closed()
    }
}

impl Schema for SchedulePut {
    fn shape() -> Shape {
        Shape::object()
            .req("time_zone", field().describe("an IANA time zone name"))
            .req("layers", layers_shape())
            .closed()
    }
}

impl Schema for NewOverrideBody {
    fn shape() -> Shape {
        Shape::object()
            .req("user", name_shape())
            .req("start", Shape::time())
            .req("end", Shape::time().describe("after the start"))
            .closed()
    }
}

impl Schema for OnCallQuery {
    fn shape() -> Shape {
        Shape::object()
            .opt(
                "schedule",
                Shape::string()
                    .describe("one schedule's shifts; absent: every schedule's person now"),
            )
            .opt(
                "at",
                Shape::time().describe("from this time (default: now)"),
            )
            .opt(
                "until",
                Shape::time()
                    .describe("to this time (default: 14 days after `at`; at most 90 days)"),
            )
    }
}

impl Schema for FeedQuery {
    fn shape() -> Shape {
        Shape::object().opt(
            "token",
            Shape::string().describe(
                "a viewer token, for calendar apps that cannot send an Authorization header",
            ),
        )
    }
}

fn override_shape() -> Shape {
    Shape::object()
        .req(
            "id",
            Shape::integer()
                .nullable()
                .describe("null for an override declared in the configuration file"),
        )
        .req("user", Shape::string())
        .req("start", Shape::time())
        .req("end", Shape::time())
        .req("created_by", Shape::string().nullable())
        .req("created_at", Shape::time().nullable())
        .named("Override")
}

pub(crate) fn schedule_shape() -> Shape {
    Shape::object()
        .req("name", Shape::string())
        .req("time_zone", Shape::string())
        .req("layers", Shape::array(layer_shape()))
        .req("overrides", Shape::array(override_shape()))
        .req(
            "origin",
            Shape::one_of_text(&["api", "config"])
                .describe("`config`: declared in the configuration file, read-only here"),
        )
        .req(
            "on_call",
            Shape::string()
                .nullable()
                .describe("who is on call now; null when nobody is"),
        )
        .req("created_at", Shape::time())
        .req("updated_at", Shape::time())
        .named("Schedule")
}

pub(crate) fn schedules_shape() -> Shape {
    Shape::object().req("schedules", Shape::array(schedule_shape()))
}

fn shift_shape() -> Shape {
    Shape::object()
        .req("user", Shape::string())
        .req("start", Shape::time())
        .req("end", Shape::time())
        .req("source", Shape::one_of_text(&["layer", "override"]))
        .req(
            "layer",
            Shape::count()
                .nullable()
                .describe("the 0-based index of the layer, for a layer's shift"),
        )
        .req(
            "override_id",
            Shape::integer()
                .nullable()
                .describe("the override's id, for an override added through the API"),
        )
        .named("Shift")
}

pub(crate) fn oncall_shape() -> Shape {
    let now = Shape::object()
        .req("schedule", Shape::string())
        .req("time_zone", Shape::string())
        .req("user", Shape::string().nullable())
        .req(
            "until",
            Shape::time()
                .nullable()
                .describe("when this stretch ends, if within 14 days"),
        );
    Shape::object()
        .req("at", Shape::time())
        .opt("until", Shape::time())
        .opt("schedule", Shape::string())
        .opt("time_zone", Shape::string())
        .opt("on_call", Shape::string().nullable())
        .opt(
            "shifts",
            Shape::array(shift_shape()).describe("with `schedule`: the shifts from at to until"),
        )
        .opt(
            "schedules",
            Shape::array(now).describe("without `schedule`: every schedule's person at `at`"),
        )
}

fn no_schedule(name: &str) -> ApiError {
    ApiError::not_found(format!("no schedule named {name:?}"))
}

/// A declared instant (an override's start or end) in the API's form.
fn instant(text: &str) -> String {
    parse_ts_str(text).map_or_else(|_| text.to_owned(), format_ts)
}

fn schedule_json(e: &Entry, now: i64) -> Value {
    let declared = e.config.overrides.iter().map(|o| {
        json!({"id": null, "user": o.user, "start": instant(&o.start), "end": instant(&o.end),
               "created_by": null, "created_at": null})
    });
    let added = e.record.overrides.iter().map(|o| {
        json!({"id": o.id, "user": o.user, "start": format_ts(o.start), "end": format_ts(o.end),
               "created_by": o.created_by, "created_at": format_ts(o.created_at)})
    });
    json!({
        "name": e.record.name,
        "time_zone": e.config.time_zone,
        "layers": e.config.layers,
        "overrides": declared.chain(added).collect::<Vec<Value>>(),
        "origin": e.record.origin.as_str(),
        "on_call": e.schedule.on_call_at(now),
        "created_at": format_ts(e.record.created_at),
        "updated_at": format_ts(e.record.updated_at),
    })
}

fn shift_json(e: &Entry, s: &Shift<'_>) -> Value {
    let (source, layer, id) = match e.from(s.source) {
        ShiftSource::Layer(i) => ("layer", Some(i), None),
        ShiftSource::Declared(_) => ("override", None, None),
        ShiftSource::Added(id) => ("override", None, Some(id)),
    };
    json!({"user": s.user, "start": format_ts(s.start_ms), "end": format_ts(s.end_ms),
           "source": source, "layer": layer, "override_id": id})
}

/// The compiled schedule of that name, or 404.
fn entry<S>(st: &AppState<S>, name: &str) -> ApiResult<std::sync::Arc<Entry>> {
    st.oncall.get(name).ok_or_else(|| no_schedule(name))
}

/// Compiles a schedule again after a change to it.
async fn reload<S: Store + Clone>(st: &AppState<S>, name: &str) -> ApiResult<()> {
    st.oncall.reload_one(&st.store, name).await?;
    st.repage().await;
    Ok(())
}

/// `GET /v1/schedules`.
pub(crate) async fn list<S: Store + Clone>(State(st): State<AppState<S>>) -> Json<Value> {
    let now = wall_ms();
    let all: Vec<Value> = (st.oncall.all().values())
        .map(|e| schedule_json(e, now))
        .collect();
    Json(json!({ "schedules": all }))
}

/// `GET /v1/schedules/{name}`.
pub(crate) async fn get<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(schedule_json(&*entry(&st, &name)?, wall_ms())))
}

/// Checks a definition and the users it names: 422 with every problem.
async fn checked<S: Store + Clone>(st: &AppState<S>, c: &ScheduleConfig) -> ApiResult<()> {
    if let Err(problems) = oncall::check(c) {
        return refuse(problems);
    }
    let mut missing = Vec::new();
    for (layer, field, user) in c.user_references() {
        if st.store.get_user(user).await?.is_none() {
            let layer = layer.map(|l| format!("layers[{l}].")).unwrap_or_default();
            missing.push(Problem {
                field: format!("{layer}{field}"),
                message: format!("no user named {user:?}"),
            });
        }
    }
    refuse(missing)
}

/// `POST /v1/schedules`: 201 with the schedule.
pub(crate) async fn create<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    JsonBody(b): JsonBody<NewScheduleBody>,
) -> ApiResult<Response> {
    let now = wall_ms();
    let c = ScheduleConfig {
        name: b.name,
        time_zone: b.time_zone,
        layers: b.layers,
        overrides: Vec::new(),
    };
    checked(&st, &c).await?;
    if st.oncall.all().len() >= oncall::SCHEDULES {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "schedules: at most {} are kept; delete some first",
                oncall::SCHEDULES
            ),
        ));
    }
    let audit = people::audit(
        &caller,
        now,
        "schedule.create",
        format!("schedule:{}", c.name),
        None,
    );
    st.store
        .change_people(
            PeopleChange::CreateSchedule(oncall::record(&c, Origin::Api, now)),
            vec![audit],
        )
        .await?;
    reload(&st, &c.name).await?;
    let e = entry(&st, &c.name)?;
    Ok((StatusCode::CREATED, Json(schedule_json(&e, now))).into_response())
}

/// `PUT /v1/schedules/{name}`: the definition replaced; overrides stay.
pub(crate) async fn replace<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<SchedulePut>,
) -> ApiResult<Json<Value>> {
    let now = wall_ms();
    let old = st
        .store
        .get_schedule(&name)
        .await?
        .ok_or_else(|| no_schedule(&name))?;
    if old.origin == Origin::Config {
        return Err(declared(&name));
    }
    let c = ScheduleConfig {
        name: name.clone(),
        time_zone: b.time_zone,
        layers: b.layers,
        overrides: Vec::new(),
    };
    checked(&st, &c).await?;
    let mut rec = oncall::record(&c, Origin::Api, now);
    rec.created_at = old.created_at;
    let audit = people::audit(
        &caller,
        now,
        "schedule.update",
        format!("schedule:{name}"),
        None,
    );
    st.store
        .change_people(PeopleChange::UpdateSchedule(rec), vec![audit])
        .await?;
    reload(&st, &name).await?;
    Ok(Json(schedule_json(&*entry(&st, &name)?, now)))
}

fn declared(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!("schedule {name:?} is declared in the configuration file; change it there"),
    )
}

/// `DELETE /v1/schedules/{name}`: 204.
pub(crate) async fn delete<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let audit = people::audit(
        &caller,
        wall_ms(),
        "schedule.delete",
        format!("schedule:{name}"),
        None,
    );
    st.store
        .change_people(PeopleChange::DeleteSchedule(name.clone()), vec![audit])
        .await?;
    reload(&st, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn override_json(o: &OverrideRecord) -> Value {
    json!({"id": o.id, "user": o.user, "start": format_ts(o.start), "end": format_ts(o.end),
           "created_by": o.created_by, "created_at": format_ts(o.created_at)})
}

/// `POST /v1/schedules/{name}/overrides`: 201 with the override; 409 if it overlaps another.
pub(crate) async fn add_override<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<NewOverrideBody>,
) -> ApiResult<Response> {
    let now = wall_ms();
    let mut problems = Vec::new();
    problems.extend(check_name("user", &b.user).err());
    let mut time = |field: &str, text: &str| match parse_ts_str(text) {
        Ok(ms) => Some(ms),
        Err(e) => {
            problems.push(Problem {
                field: field.to_owned(),
                message: e,
            });
            None
        }
    };
    let (start, end) = (time("start", &b.start), time("end", &b.end));
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            problems.push(Problem {
                field: "end".into(),
                message: format!("{} is not after the start {}", b.end, b.start),
            });
        }
    }
    refuse(problems)?;
    let (start, end) = (start.unwrap_or(0), end.unwrap_or(0));
    let e = entry(&st, &name)?;
    let count = e.config.overrides.len() + e.record.overrides.len();
    if count >= oncall::OVERRIDES {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "schedule {name:?} has {count} overrides, the most it keeps; delete past ones first"
            ),
        ));
    }
    // The engine's checks of an override (its years), on the override alone.
    let mut alone = e.config.clone();
    alone.overrides = vec![klaxon_engine::oncall::OverrideConfig {
        user: b.user.clone(),
        start: format_ts(start),
        end: format_ts(end),
    }];
    if let Err(problems) = oncall::check(&alone) {
        let mine: Vec<Problem> = (problems.into_iter())
            .filter_map(|p| {
                let rest = p.field.strip_prefix("overrides[0].")?;
                Some(Problem {
                    field: rest.to_owned(),
                    message: p.message,
                })
            })
            .collect();
        refuse(mine)?;
    }
    // One person covers at a time: declared and added overrides alike (the store checks the
    // added ones again as it writes, against a racing request).
    if let Some((user, s, t)) = e.overlap(start, end) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "schedule {name:?}: overlaps the override of {user} from {} to {}; one person \
                 covers at a time",
                format_ts(s),
                format_ts(t)
            ),
        ));
    }
    let over = OverrideRecord {
        id: 0,
        user: b.user.clone(),
        start,
        end,
        created_by: people::actor(&caller).to_owned(),
        created_at: now,
    };
    let audit = people::audit(
        &caller,
        now,
        "schedule.override.add",
        format!("schedule:{name}"),
        Some(format!(
            "{} from {} to {}",
            b.user,
            format_ts(start),
            format_ts(end)
        )),
    );
    st.store
        .change_people(
            PeopleChange::AddOverride {
                schedule: name.clone(),
                over,
            },
            vec![audit],
        )
        .await?;
    reload(&st, &name).await?;
    // Overrides of a schedule never overlap: the one starting here is the one just added.
    let rec = st
        .store
        .get_schedule(&name)
        .await?
        .ok_or_else(|| no_schedule(&name))?;
    let made = (rec.overrides.iter())
        .find(|o| o.start == start)
        .ok_or_else(|| ApiError::internal("the override just added is not stored"))?;
    Ok((StatusCode::CREATED, Json(override_json(made))).into_response())
}

/// `DELETE /v1/schedules/{name}/overrides/{id}`: 204.
pub(crate) async fn delete_override<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Authed(caller): Authed,
    Path((name, id)): Path<(String, i64)>,
) -> ApiResult<StatusCode> {
    let audit = people::audit(
        &caller,
        wall_ms(),
        "schedule.override.delete",
        format!("schedule:{name}"),
        Some(format!("override {id}")),
    );
    st.store
        .change_people(
            PeopleChange::DeleteOverride {
                schedule: name.clone(),
                id,
            },
            vec![audit],
        )
        .await?;
    reload(&st, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn bad_query(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

fn query_time(field: &str, v: Option<&str>) -> ApiResult<Option<i64>> {
    v.map(|t| {
        parse_ts_str(t).map_err(|_| bad_query(format!("{field}: {t:?} is not an RFC 3339 time")))
    })
    .transpose()
}

/// `GET /v1/oncall`: one schedule's shifts from `at` to `until`, or every schedule's person
/// at `at`.
pub(crate) async fn who<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Query(q): Query<OnCallQuery>,
) -> ApiResult<Json<Value>> {
    let at = query_time("at", q.at.as_deref())?.unwrap_or_else(wall_ms);
    let until = query_time("until", q.until.as_deref())?;
    let Some(name) = q.schedule else {
        if until.is_some() {
            return Err(bad_query(
                "until: only with `schedule` (the shifts of one schedule)".into(),
            ));
        }
        let all: Vec<Value> = (st.oncall.all().values())
            .map(|e| {
                let user = st.oncall.on_call(&e.record.name, at);
                let first = e.schedule.shifts(at, at.saturating_add(14 * DAY_MS));
                let until = (first.first())
                    .filter(|s| s.start_ms == at && user.as_deref() == Some(s.user))
                    .map(|s| {
                        // The stretch goes on across shifts of the same user that touch.
                        let mut end = s.end_ms;
                        for next in &first[1..] {
                            if next.user != s.user || next.start_ms != end {
                                break;
                            }
                            end = next.end_ms;
                        }
                        format_ts(end)
                    });
                json!({"schedule": e.record.name, "time_zone": e.config.time_zone,
                       "user": user, "until": until})
            })
            .collect();
        return Ok(Json(json!({"at": format_ts(at), "schedules": all})));
    };
    let until = until.unwrap_or(at.saturating_add(14 * DAY_MS));
    if until <= at {
        return Err(bad_query(format!(
            "until: {} is not after at {}",
            format_ts(until),
            format_ts(at)
        )));
    }
    if until - at > RANGE_DAYS * DAY_MS {
        return Err(bad_query(format!(
            "until: at most {RANGE_DAYS} days after at; ask for a longer range in parts"
        )));
    }
    let e = entry(&st, &name)?;
    let shifts: Vec<Value> = (e.schedule.shifts(at, until).iter())
        .map(|s| shift_json(&e, s))
        .collect();
    Ok(Json(json!({
        "schedule": name,
        "time_zone": e.config.time_zone,
        "at": format_ts(at),
        "until": format_ts(until),
        "on_call": e.schedule.on_call_at(at),
        "shifts": shifts,
    })))
}

/// The days before now and after now a feed holds.
const FEED_PAST_DAYS: i64 = 30;
const FEED_AHEAD_DAYS: i64 = RANGE_DAYS - FEED_PAST_DAYS;

/// Who may read a feed: the request's own credentials (a bearer token or a dashboard session)
/// or, for calendar apps, `?token=` holding a token of the viewer role, never a stronger one,
/// so that a calendar URL that leaks gives no more than reading.
async fn feed_reader<S: Store + Clone>(
    st: &AppState<S>,
    headers: &HeaderMap,
    token: Option<&str>,
) -> ApiResult<()> {
    let has_own =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE);
    match token {
        Some(t) if !has_own => {
            let caller = st.auth.of_token(t).await?;
            if caller.role != Role::Viewer {
                return Err(ApiError::forbidden(format!(
                    "a token in a feed URL must have the viewer role, not {}: a calendar URL \
                     travels through other people's servers; make one with `klaxon tokens \
                     create --role viewer`",
                    caller.role.as_str()
                )));
            }
            Ok(())
        }
        _ => st.auth.caller(headers, Need::Read).await.map(drop),
    }
}

fn calendar(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        text,
    )
        .into_response()
}

/// `GET /v1/feeds/schedules/{name}`: the schedule's shifts from 30 days ago to 60 days ahead.
pub(crate) async fn schedule_feed<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Response> {
    feed_reader(&st, &headers, q.token.as_deref()).await?;
    let e = entry(&st, &name)?;
    let now = wall_ms();
    let (from, until) = (
        now - FEED_PAST_DAYS * DAY_MS,
        now + FEED_AHEAD_DAYS * DAY_MS,
    );
    let shifts = e.schedule.shifts(from, until);
    Ok(calendar(klaxon_engine::oncall::ical(
        &name, &shifts, None, now,
    )))
}

/// `GET /v1/feeds/users/{name}`: the user's shifts on every schedule, from 30 days ago to 60
/// days ahead.
pub(crate) async fn user_feed<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<FeedQuery>,
) -> ApiResult<Response> {
    feed_reader(&st, &headers, q.token.as_deref()).await?;
    if st.store.get_user(&name).await?.is_none() {
        return Err(ApiError::not_found(format!("no user named {name:?}")));
    }
    let now = wall_ms();
    let (from, until) = (
        now - FEED_PAST_DAYS * DAY_MS,
        now + FEED_AHEAD_DAYS * DAY_MS,
    );
    let mut cal = Calendar::new(&format!("On call: {name}"), now);
    for e in st.oncall.all().values() {
        let shifts = e.schedule.shifts(from, until);
        cal.add(&e.record.name, &shifts, Some(&name));
    }
    Ok(calendar(cal.finish()))
}
