//! The HTTP API: one file per area, and the table of its endpoints (the dashboard adds its
//! own; `app` builds the router and the OpenAPI document from both).

pub(crate) mod alertmanager;
pub(crate) mod alertmanager_config;
pub(crate) mod alertmanager_read;
pub(crate) mod alertmanager_schema;
pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod incidents;
pub(crate) mod ingest;
pub(crate) mod manage;
pub(crate) mod monitoring;
pub(crate) mod notifications;
pub(crate) mod otlp;
pub(crate) mod people;
pub(crate) mod policies;
pub(crate) mod rulesets;
pub(crate) mod schedules;
pub(crate) mod signal_body;
pub(crate) mod silences;
pub(crate) mod sla;
pub(crate) mod streams;
pub(crate) mod tokens;

use axum::routing::{delete, get, patch, post, put, MethodRouter};
use klaxon_store::Store;

use alertmanager_schema as am;
use ingest::OneSignal;

use crate::auth::Need::{Admin, Ingest, Read, Respond};
use crate::openapi::doc::{Doc, JSON};
use crate::openapi::shape::Shape;
use crate::state::Access::{InBand, Public, Token};
use crate::state::BodyLimit::{self, Batch, Bytes, Signal};
use crate::state::{Access, AppState, Endpoint};
use crate::wire;

/// Rule sets are documents of many rules.
const RULES: BodyLimit = Bytes(4 << 20);
/// An Alertmanager batch (Prometheus sends up to a few hundred alerts at once).
const ALERT_BATCH: BodyLimit = Bytes(8 << 20);
/// A hand-made alert, or a bulk action of up to 10,000 ids.
const LARGE: BodyLimit = Bytes(1 << 20);
const SMALL: BodyLimit = BodyLimit::SMALL;

/// NDJSON's media type.
const NDJSON: &str = "application/x-ndjson";
/// Server-sent events' media type.
const EVENTS: &str = "text/event-stream";

fn ep<S>(
    method: &'static str,
    path: &'static str,
    access: Access,
    body: BodyLimit,
    summary: &'static str,
    handler: MethodRouter<AppState<S>>,
) -> Endpoint<S> {
    Endpoint {
        method,
        path,
        access,
        body,
        summary,
        handler,
        doc: Doc::new(),
    }
}

/// A convenience endpoint of ingest: one signal of a kind for the process of the path.
fn signal_doc<const KIND: u8>() -> Doc {
    Doc::new()
        .path("id", Shape::string(), "the process (run) id")
        .query::<ingest::IngestQuery>()
        .json::<OneSignal<KIND>>()
        .ok(ingest::one_accepted_shape())
        .errors(&[400, 422, 429, 503])
}

/// An OTLP/HTTP export: protobuf or OTLP/JSON in, the same encoding out; `field` counts
/// the items refused.
fn otlp_doc(field: &str) -> Doc {
    let binary = || Shape::string().with("format", "binary".into());
    Doc::new()
        .header(
            "Content-Encoding",
            Shape::one_of_text(&["gzip", "identity"]),
            "gzip, inflated within `[otlp] max_inflated_bytes`",
        )
        .body(
            otlp::PROTOBUF,
            binary().describe("an Export…ServiceRequest"),
        )
        .body(
            JSON,
            Shape::object().describe("an Export…ServiceRequest in OTLP/JSON"),
        )
        .ok(otlp::answer_shape(field))
        .reply(
            200,
            "success",
            otlp::PROTOBUF,
            binary().describe("an Export…ServiceResponse"),
        )
        .reply(
            400,
            "the body does not decode: a google.rpc.Status (protobuf for a protobuf request)",
            JSON,
            otlp::status_shape(),
        )
        .reply(
            400,
            "the body does not decode",
            otlp::PROTOBUF,
            binary().describe("a google.rpc.Status"),
        )
        .reply(
            415,
            "a Content-Type or Content-Encoding OTLP/HTTP does not have",
            JSON,
            otlp::status_shape(),
        )
        .errors(&[429, 503])
}

/// Storing a rule-set version (event or threshold).
fn store_doc() -> Doc {
    Doc::new()
        .query::<rulesets::SetQuery>()
        .body(JSON, rulesets::document_shape())
        .created(rulesets::created_shape())
        .errors(&[400, 409, 422, 503])
}

/// Checking a rule-set document (event or threshold).
fn check_doc() -> Doc {
    Doc::new()
        .body(JSON, rulesets::document_shape())
        .ok(rulesets::check_shape())
        .errors(&[400, 422])
}

/// One stored rule-set version (event or threshold).
fn version_doc() -> Doc {
    Doc::new()
        .path("name", Shape::string(), "the rule set's name")
        .path("version", Shape::integer(), "the version number")
        .query::<rulesets::GroupQuery>()
}

/// An action on one alert.
fn action_doc<const SUPPRESS: bool>() -> Doc {
    let doc = Doc::new()
        .path("id", Shape::integer(), "the alert's id")
        .json::<manage::ActionBody<SUPPRESS>>();
    let doc = if SUPPRESS { doc } else { doc.body_optional() };
    doc.ok(manage::action_shape())
        .errors(&[400, 404, 409, 422, 429, 503])
}

/// A bulk action.
fn bulk_doc() -> Doc {
    Doc::new()
        .json::<manage::BulkBody>()
        .ok(manage::bulk_shape())
        .errors(&[400, 422, 429, 503])
}

/// One silence by its id, in Alertmanager's answers.
fn silence_doc() -> Doc {
    Doc::new()
        .path(
            "id",
            Shape::string().with("format", "uuid".into()),
            "the silence's id, a UUID",
        )
        .reply(
            400,
            "a path that does not decode",
            JSON,
            am::bad_request_shape(),
        )
        .reply(
            404,
            "no silence of that id: a JSON string",
            JSON,
            Shape::string(),
        )
        .reply(
            422,
            "an id that is not a UUID",
            JSON,
            am::unprocessable_shape(),
        )
}

/// Every endpoint of the API (the dashboard's and `/openapi.json` are added by `app`).
pub(crate) fn endpoints<S: Store + Clone>() -> Vec<Endpoint<S>> {
    vec![
        ep(
            "POST",
            "/v1/signals",
            Token(Ingest),
            Batch,
            "Send signals: one JSON object, a JSON array, or NDJSON (streamed)",
            post(ingest::signals::<S>),
        )
        .doc(
            Doc::new()
                .query::<ingest::IngestQuery>()
                .body(JSON, ingest::signals_shape())
                .body(NDJSON, Shape::string().describe("one signal per line"))
                .ok(ingest::accepted_shape())
                .errors(&[400, 429, 503]),
        ),
        ep(
            "POST",
            "/v1/traces",
            Token(Ingest),
            Batch,
            "OTLP/HTTP: spans as process runs, traces and marks (docs/opentelemetry.md)",
            post(otlp::traces::<S>),
        )
        .doc(otlp_doc("rejectedSpans")),
        ep(
            "POST",
            "/v1/logs",
            Token(Ingest),
            Batch,
            "OTLP/HTTP: log records as log signals (docs/opentelemetry.md)",
            post(otlp::logs::<S>),
        )
        .doc(otlp_doc("rejectedLogRecords")),
        ep(
            "POST",
            "/v1/metrics",
            Token(Ingest),
            Batch,
            "OTLP/HTTP: metric points as samples for threshold rules (docs/opentelemetry.md)",
            post(otlp::metrics::<S>),
        )
        .doc(otlp_doc("rejectedDataPoints")),
        ep(
            "POST",
            "/v1/processes",
            Token(Ingest),
            Signal,
            "Start a process run; its id is generated when not given",
            post(ingest::process_start::<S>),
        )
        .doc(
            Doc::new()
                .query::<ingest::IngestQuery>()
                .json::<OneSignal<{ ingest::START }>>()
                .body_optional()
                .created(ingest::one_accepted_shape())
                .errors(&[400, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/update",
            Token(Ingest),
            Signal,
            "Update a process run",
            post(ingest::process_update::<S>),
        )
        .doc(
            signal_doc::<{ ingest::PROCESS }>().body_optional(),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/stop",
            Token(Ingest),
            Signal,
            "Stop a process run",
            post(ingest::process_stop::<S>),
        )
        .doc(
            signal_doc::<{ ingest::PROCESS }>().body_optional(),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/marks",
            Token(Ingest),
            Signal,
            "A mark of the process",
            post(ingest::mark::<S>),
        )
        .doc(
            signal_doc::<{ ingest::MONITOR }>(),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/traces/start",
            Token(Ingest),
            Signal,
            "Start a trace",
            post(ingest::trace_start::<S>),
        )
        .doc(
            signal_doc::<{ ingest::MONITOR }>(),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/traces/stop",
            Token(Ingest),
            Signal,
            "Stop a trace",
            post(ingest::trace_stop::<S>),
        )
        .doc(
            signal_doc::<{ ingest::MONITOR }>(),
        ),
        ep(
            "POST",
            "/v1/processes/{id}/logs",
            Token(Ingest),
            Signal,
            "A log line of the process",
            post(ingest::log::<S>),
        )
        .doc(
            signal_doc::<{ ingest::LOG }>(),
        ),
        ep(
            "POST",
            "/v1/rulesets",
            Token(Admin),
            RULES,
            "Store a new rule-set version (422 with every validation error)",
            post(rulesets::event::create::<S>),
        )
        .doc(
            store_doc(),
        ),
        ep(
            "GET",
            "/v1/rulesets",
            Token(Read),
            SMALL,
            "Every rule-set version and the active one per group",
            get(rulesets::event::list::<S>),
        )
        .doc(
            Doc::new().ok(rulesets::list_shape()).errors(&[503]),
        ),
        ep(
            "POST",
            "/v1/rulesets/check",
            Token(Read),
            RULES,
            "Validate a rule set without storing it",
            post(rulesets::event::check::<S>),
        )
        .doc(
            check_doc(),
        ),
        ep(
            "GET",
            "/v1/rulesets/{name}/{version}",
            Token(Read),
            SMALL,
            "One rule-set version with its document",
            get(rulesets::event::get_one::<S>),
        )
        .doc(
            version_doc()
                .ok(rulesets::record_with_document_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "POST",
            "/v1/rulesets/{name}/{version}/activate",
            Token(Admin),
            SMALL,
            "Activate a stored version in its group",
            post(rulesets::event::activate::<S>),
        )
        .doc(
            version_doc()
                .no_body()
                .ok(rulesets::record_shape())
                .errors(&[404, 422, 503]),
        ),
        ep(
            "POST",
            "/v1/threshold-rules",
            Token(Admin),
            RULES,
            "Store a new threshold rule-set version (422 with every validation error)",
            post(rulesets::threshold::create::<S>),
        )
        .doc(
            store_doc(),
        ),
        ep(
            "GET",
            "/v1/threshold-rules",
            Token(Read),
            SMALL,
            "Every threshold rule-set version and the active one per group",
            get(rulesets::threshold::list::<S>),
        )
        .doc(
            Doc::new().ok(rulesets::list_shape()).errors(&[503]),
        ),
        ep(
            "POST",
            "/v1/threshold-rules/check",
            Token(Read),
            RULES,
            "Validate threshold rules without storing them",
            post(rulesets::threshold::check::<S>),
        )
        .doc(
            check_doc(),
        ),
        ep(
            "GET",
            "/v1/threshold-rules/{name}/{version}",
            Token(Read),
            SMALL,
            "One threshold rule-set version with its document",
            get(rulesets::threshold::get_one::<S>),
        )
        .doc(
            version_doc()
                .ok(rulesets::record_with_document_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "POST",
            "/v1/threshold-rules/{name}/{version}/activate",
            Token(Admin),
            SMALL,
            "Activate a stored threshold rule-set version in its group",
            post(rulesets::threshold::activate::<S>),
        )
        .doc(
            version_doc()
                .no_body()
                .ok(rulesets::record_shape())
                .errors(&[404, 422, 503]),
        ),
        ep(
            "POST",
            "/v1/tokens",
            Token(Admin),
            SMALL,
            "Create a token (role, name, expiry, user); 201 with its secret, shown only this once",
            post(tokens::create::<S>),
        )
        .doc(
            Doc::new()
                .json::<tokens::CreateBody>()
                .created(tokens::created_shape())
                .errors(&[400, 409, 422, 503]),
        ),
        ep(
            "GET",
            "/v1/tokens",
            Token(Admin),
            SMALL,
            "Every token with its state and last use; never a secret",
            get(tokens::list::<S>),
        )
        .doc(
            Doc::new().ok(tokens::list_shape()).errors(&[503]),
        ),
        ep(
            "DELETE",
            "/v1/tokens/{id}",
            Token(Admin),
            SMALL,
            "Revoke a token and end its dashboard sessions at once",
            delete(tokens::revoke::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the token's id")
                .ok(tokens::token_shape())
                .errors(&[404, 409, 503]),
        ),
        // People: users, teams, the audit log and on-call.
        ep(
            "GET",
            "/v1/users",
            Token(Admin),
            SMALL,
            "Every user with their contacts",
            get(people::list_users::<S>),
        )
        .doc(Doc::new().ok(people::users_shape()).errors(&[503])),
        ep(
            "POST",
            "/v1/users",
            Token(Admin),
            SMALL,
            "Create a user (name, time zone, contacts); 422 with every problem",
            post(people::create_user::<S>),
        )
        .doc(
            Doc::new()
                .json::<people::NewUserBody>()
                .created(people::user_shape())
                .errors(&[400, 409, 422, 503]),
        ),
        ep(
            "GET",
            "/v1/users/{name}",
            Token(Admin),
            SMALL,
            "One user",
            get(people::get_user::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the user's name")
                .ok(people::user_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "PATCH",
            "/v1/users/{name}",
            Token(Admin),
            SMALL,
            "Change a user: the fields given replace theirs (409 if declared in the config file)",
            patch(people::update_user::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the user's name")
                .json::<people::UserPatch>()
                .ok(people::user_shape())
                .errors(&[400, 404, 409, 422, 503]),
        ),
        ep(
            "DELETE",
            "/v1/users/{name}",
            Token(Admin),
            SMALL,
            "Delete a user (409 while in a team, on a schedule, owning a token in force, or declared in the config file)",
            delete(people::delete_user::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the user's name")
                .empty(204, "deleted")
                .errors(&[404, 409, 503]),
        ),
        ep(
            "GET",
            "/v1/teams",
            Token(Admin),
            SMALL,
            "Every team with its members",
            get(people::list_teams::<S>),
        )
        .doc(Doc::new().ok(people::teams_shape()).errors(&[503])),
        ep(
            "POST",
            "/v1/teams",
            Token(Admin),
            SMALL,
            "Create a team of users (409 if a member is not a user)",
            post(people::create_team::<S>),
        )
        .doc(
            Doc::new()
                .json::<people::NewTeamBody>()
                .created(people::team_shape())
                .errors(&[400, 409, 422, 503]),
        ),
        ep(
            "GET",
            "/v1/teams/{name}",
            Token(Admin),
            SMALL,
            "One team",
            get(people::get_team::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the team's name")
                .ok(people::team_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "PATCH",
            "/v1/teams/{name}",
            Token(Admin),
            SMALL,
            "Change a team's members (409 if declared in the config file)",
            patch(people::update_team::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the team's name")
                .json::<people::TeamPatch>()
                .ok(people::team_shape())
                .errors(&[400, 404, 409, 422, 503]),
        ),
        ep(
            "DELETE",
            "/v1/teams/{name}",
            Token(Admin),
            SMALL,
            "Delete a team (409 if declared in the config file)",
            delete(people::delete_team::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the team's name")
                .empty(204, "deleted")
                .errors(&[404, 409, 503]),
        ),
        ep(
            "GET",
            "/v1/audit",
            Token(Admin),
            SMALL,
            "What people did, newest first: actor, role, action, target, time",
            get(audit::log::<S>),
        )
        .doc(
            Doc::new()
                .query::<audit::LogQuery>()
                .ok(audit::log_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/v1/escalation-policies",
            Token(Read),
            SMALL,
            "Every escalation policy: levels, targets, origin, the routes that name it",
            get(policies::list::<S>),
        )
        .doc(Doc::new().ok(policies::policies_shape()).errors(&[503])),
        ep(
            "POST",
            "/v1/escalation-policies",
            Token(Admin),
            SMALL,
            "Create an escalation policy (the shape of [[escalation_policies]]); 422 with every problem",
            post(policies::create::<S>),
        )
        .doc(
            Doc::new()
                .json::<policies::NewPolicyBody>()
                .created(policies::policy_shape())
                .errors(&[400, 409, 422, 503]),
        ),
        ep(
            "GET",
            "/v1/escalation-policies/{name}",
            Token(Read),
            SMALL,
            "One escalation policy",
            get(policies::get::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the policy's name")
                .ok(policies::policy_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "PUT",
            "/v1/escalation-policies/{name}",
            Token(Admin),
            SMALL,
            "Replace an escalation policy's levels, repeat and ack_timeout (409 if declared in the config file)",
            put(policies::replace::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the policy's name")
                .json::<policies::PolicyPut>()
                .ok(policies::policy_shape())
                .errors(&[400, 404, 409, 422, 503]),
        ),
        ep(
            "DELETE",
            "/v1/escalation-policies/{name}",
            Token(Admin),
            SMALL,
            "Delete an escalation policy (409 while a route names it, or if declared in the config file)",
            delete(policies::delete::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the policy's name")
                .empty(204, "deleted")
                .errors(&[404, 409, 503]),
        ),
        ep(
            "GET",
            "/v1/schedules",
            Token(Read),
            SMALL,
            "Every on-call schedule: layers, overrides, who is on call now",
            get(schedules::list::<S>),
        )
        .doc(Doc::new().ok(schedules::schedules_shape())),
        ep(
            "POST",
            "/v1/schedules",
            Token(Admin),
            SMALL,
            "Create an on-call schedule (time zone, layers); 422 with every problem",
            post(schedules::create::<S>),
        )
        .doc(
            Doc::new()
                .json::<schedules::NewScheduleBody>()
                .created(schedules::schedule_shape())
                .errors(&[400, 409, 422, 503]),
        ),
        ep(
            "GET",
            "/v1/schedules/{name}",
            Token(Read),
            SMALL,
            "One on-call schedule",
            get(schedules::get::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the schedule's name")
                .ok(schedules::schedule_shape())
                .errors(&[404]),
        ),
        ep(
            "PUT",
            "/v1/schedules/{name}",
            Token(Admin),
            SMALL,
            "Replace a schedule's time zone and layers; its overrides stay (409 if declared in the config file)",
            put(schedules::replace::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the schedule's name")
                .json::<schedules::SchedulePut>()
                .ok(schedules::schedule_shape())
                .errors(&[400, 404, 409, 422, 503]),
        ),
        ep(
            "DELETE",
            "/v1/schedules/{name}",
            Token(Admin),
            SMALL,
            "Delete a schedule and its overrides (409 if declared in the config file)",
            delete(schedules::delete::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the schedule's name")
                .empty(204, "deleted")
                .errors(&[404, 409, 503]),
        ),
        ep(
            "POST",
            "/v1/schedules/{name}/overrides",
            Token(Respond),
            SMALL,
            "Someone covers a shift: an override from start to end (409 if it overlaps another)",
            post(schedules::add_override::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the schedule's name")
                .json::<schedules::NewOverrideBody>()
                .created(Shape::object()
                    .req("id", Shape::integer())
                    .req("user", Shape::string())
                    .req("start", Shape::time())
                    .req("end", Shape::time())
                    .req("created_by", Shape::string())
                    .req("created_at", Shape::time()))
                .errors(&[400, 404, 409, 422, 503]),
        ),
        ep(
            "DELETE",
            "/v1/schedules/{name}/overrides/{id}",
            Token(Respond),
            SMALL,
            "Remove an override",
            delete(schedules::delete_override::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the schedule's name")
                .path("id", Shape::integer(), "the override's id")
                .empty(204, "deleted")
                .errors(&[404, 503]),
        ),
        ep(
            "GET",
            "/v1/oncall",
            Token(Read),
            SMALL,
            "Who is on call: one schedule's shifts from at to until (at most 90 days), or every schedule's person now",
            get(schedules::who::<S>),
        )
        .doc(
            Doc::new()
                .query::<schedules::OnCallQuery>()
                .ok(schedules::oncall_shape())
                .errors(&[404]),
        ),
        ep(
            "GET",
            "/v1/feeds/schedules/{name}",
            InBand(Read),
            SMALL,
            "iCalendar feed of a schedule's shifts (30 days back, 60 ahead); calendar apps pass a viewer token as ?token=",
            get(schedules::schedule_feed::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the schedule's name")
                .query::<schedules::FeedQuery>()
                .reply(200, "an iCalendar feed", "text/calendar", Shape::string())
                .errors(&[401, 403, 404, 503]),
        ),
        ep(
            "GET",
            "/v1/feeds/users/{name}",
            InBand(Read),
            SMALL,
            "iCalendar feed of a user's shifts on every schedule (30 days back, 60 ahead); calendar apps pass a viewer token as ?token=",
            get(schedules::user_feed::<S>),
        )
        .doc(
            Doc::new()
                .path("name", Shape::string(), "the user's name")
                .query::<schedules::FeedQuery>()
                .reply(200, "an iCalendar feed", "text/calendar", Shape::string())
                .errors(&[401, 403, 404, 503]),
        ),
        // End of people.
        ep(
            "GET",
            "/v1/alerts",
            Token(Read),
            SMALL,
            "Committed alerts, newest first",
            get(alerts::list::<S>),
        )
        .doc(
            Doc::new()
                .query::<alerts::ListQuery>()
                .ok(alerts::list_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/v1/alerts/stream",
            Token(Read),
            SMALL,
            "New alerts as server-sent events, resumable by alert id",
            get(alerts::stream::<S>),
        )
        .doc(
            Doc::new()
                .query::<alerts::StreamQuery>()
                .header("Last-Event-ID", Shape::string(), "the alert id to resume after")
                .reply(200, "event `alert` per new alert, `id:` its id", EVENTS, alerts::events_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/v1/alerts/{id}",
            Token(Read),
            SMALL,
            "One alert",
            get(alerts::get_one::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the alert's id")
                .ok(wire::alert_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "POST",
            "/alerts/create",
            Token(Respond),
            LARGE,
            "Create an alert by hand (deduplicated by its labels)",
            post(manage::create::<S>),
        )
        .doc(
            Doc::new()
                .json::<manage::CreateBody>()
                .created(wire::alert_shape())
                .errors(&[400, 422, 429, 503]),
        ),
        ep(
            "GET",
            "/alerts/stream",
            Token(Read),
            SMALL,
            "Every committed lifecycle change as server-sent events",
            get(alerts::changes::<S>),
        )
        .doc(
            Doc::new()
                .query::<alerts::StreamFilter>()
                .header("Last-Event-ID", Shape::string(), "`<boot>-<seq>` of this run to resume after")
                .reply(200, "`hello`, then event `alert` per change; `reset` and `lagged` when a reader must resync", EVENTS, alerts::events_shape()),
        ),
        ep(
            "GET",
            "/incidents/stream",
            Token(Read),
            SMALL,
            "Every committed incident timeline entry as server-sent events",
            get(incidents::stream::<S>),
        )
        .doc(
            Doc::new()
                .header("Last-Event-ID", Shape::integer(), "the timeline entry id to resume after (kept across restarts)")
                .reply(200, "`hello`, then event `incident` per timeline entry, with the incident as it is now", EVENTS, alerts::events_shape())
                .errors(&[400]),
        ),
        ep(
            "GET",
            "/incidents",
            Token(Read),
            SMALL,
            "Incidents with filters and cursor pagination",
            get(incidents::list::<S>),
        )
        .doc(
            Doc::new()
                .query::<incidents::ListParams>()
                .ok(incidents::list_shape())
                .errors(&[400, 503]),
        ),
        ep(
            "GET",
            "/incidents/timeline",
            Token(Read),
            SMALL,
            "The timeline of every incident, oldest first from a cursor",
            get(incidents::timeline::<S>),
        )
        .doc(
            Doc::new()
                .query::<incidents::TimelineParams>()
                .ok(incidents::timeline_shape())
                .errors(&[503]),
        ),
        ep(
            "POST",
            "/incidents/create",
            Token(Respond),
            SMALL,
            "Make an incident by hand from alerts",
            post(incidents::create::<S>),
        )
        .doc(
            Doc::new()
                .json::<incidents::CreateBody>()
                .created(incidents::incident_shape())
                .errors(&[400, 404, 422, 429, 503]),
        ),
        ep(
            "GET",
            "/incidents/{id}",
            Token(Read),
            SMALL,
            "One incident with its alerts, the links that put them there, and its timeline",
            get(incidents::detail::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident's id")
                .ok(incidents::detail_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/acknowledge",
            Token(Respond),
            SMALL,
            "Acknowledge an incident and its open alerts",
            post(incidents::acknowledge::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident's id")
                .no_body()
                .ok(incidents::incident_shape())
                .errors(&[404, 409, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/resolve",
            Token(Respond),
            SMALL,
            "Resolve an incident and its open alerts",
            post(incidents::resolve::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident's id")
                .no_body()
                .ok(incidents::incident_shape())
                .errors(&[404, 409, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/escalate",
            Token(Respond),
            SMALL,
            "Page the next level of the escalation policies of an incident's open alerts now",
            post(incidents::escalate::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident's id")
                .no_body()
                .ok(incidents::incident_shape())
                .errors(&[404, 409, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/notes",
            Token(Respond),
            SMALL,
            "Add a note to an incident's timeline",
            post(incidents::note::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident's id")
                .json::<manage::NoteBody>()
                .ok(incidents::incident_shape())
                .errors(&[400, 404, 409, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/merge",
            Token(Respond),
            SMALL,
            "Merge an incident into another (its alerts move; it closes)",
            post(incidents::merge::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident that merges (and closes)")
                .json::<incidents::MergeBody>()
                .ok(incidents::incident_shape())
                .errors(&[400, 404, 409, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/topology/reload",
            Token(Admin),
            SMALL,
            "Read the correlation topology file again",
            post(incidents::reload_topology::<S>),
        )
        .doc(
            Doc::new()
                .no_body()
                .ok(incidents::reload_shape())
                .errors(&[409, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/priority",
            Token(Respond),
            SMALL,
            "Set an incident's priority by hand, or let it follow its alerts again",
            post(incidents::priority::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident's id")
                .json::<incidents::PriorityBody>()
                .ok(incidents::incident_shape())
                .errors(&[400, 404, 409, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/split",
            Token(Respond),
            SMALL,
            "Make a new incident of some of an incident's alerts",
            post(incidents::split::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident the alerts leave")
                .json::<incidents::SplitBody>()
                .created(incidents::incident_shape())
                .errors(&[400, 404, 409, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/incidents/{id}/move",
            Token(Respond),
            SMALL,
            "Move some of an incident's alerts into another incident",
            post(incidents::move_alerts::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the incident the alerts leave")
                .json::<incidents::MoveBody>()
                .ok(incidents::incident_shape())
                .errors(&[400, 404, 409, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/alerts/correlate",
            Token(Respond),
            SMALL,
            "Correlate alerts now; each one's incident",
            post(incidents::correlate::<S>),
        )
        .doc(
            Doc::new()
                .json::<incidents::CorrelateBody>()
                .ok(incidents::correlate_shape())
                .errors(&[400, 404, 422, 429, 503]),
        ),
        ep(
            "GET",
            "/alerts/correlation/{alert_id}",
            Token(Read),
            SMALL,
            "Why an alert is in its incident: the links and their evidence",
            get(incidents::correlation::<S>),
        )
        .doc(
            Doc::new()
                .path("alert_id", Shape::integer(), "the alert's id")
                .ok(incidents::correlation_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "GET",
            "/metrics/stream",
            Token(Read),
            SMALL,
            "The server's figures every second as server-sent events",
            get(streams::metrics::<S>),
        )
        .doc(
            Doc::new().reply(200, "event `metrics` every second", EVENTS, alerts::events_shape()),
        ),
        ep(
            "GET",
            "/alerts/history",
            Token(Read),
            SMALL,
            "Alert history with filters and cursor pagination",
            get(alerts::history::<S>),
        )
        .doc(
            Doc::new()
                .query::<alerts::HistoryParams>()
                .ok(alerts::history_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/alerts/open",
            Token(Read),
            SMALL,
            "Every open alert in one compact answer (fields and rows)",
            get(alerts::open::<S>),
        )
        .doc(
            Doc::new()
                .query::<alerts::OpenParams>()
                .ok(alerts::open_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/alerts/summary",
            Token(Read),
            SMALL,
            "Counts by state and severity",
            get(alerts::summary::<S>),
        )
        .doc(
            Doc::new().ok(alerts::summary_shape()).errors(&[503]),
        ),
        ep(
            "GET",
            "/alerts/metrics/performance",
            Token(Read),
            SMALL,
            "Mean time to acknowledge and to resolve",
            get(alerts::performance::<S>),
        )
        .doc(
            Doc::new()
                .param("from", Shape::time(), "default: 24 h before `to`")
                .param("to", Shape::time(), "default: now")
                .ok(alerts::performance_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/alerts/sla/dashboard",
            Token(Read),
            SMALL,
            "SLA compliance per period, team and severity, and the breaches told",
            get(sla::dashboard::<S>),
        )
        .doc(
            Doc::new()
                .query::<sla::WindowQuery>()
                .ok(sla::dashboard_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/alerts/metrics/escalation",
            Token(Read),
            SMALL,
            "Escalations started and acknowledged, pages per policy, level and reason",
            get(sla::escalation::<S>),
        )
        .doc(
            Doc::new()
                .query::<sla::WindowQuery>()
                .ok(sla::escalation_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/alerts/metrics/delivery",
            Token(Read),
            SMALL,
            "Notification delivery per channel: sent, failed, retrying, dead, latency p50/p99",
            get(notifications::delivery::<S>),
        )
        .doc(
            Doc::new()
                .ok(notifications::delivery_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/notifications/ws",
            InBand(Read),
            SMALL,
            "WebSocket: notifications of WebSocket receivers, with filters and resume",
            get(notifications::ws::<S>),
        )
        .doc(
            Doc::new()
                .query_of(notifications::ws_query())
                .empty(101, "switching to WebSocket")
                .errors(&[400]),
        ),
        ep(
            "GET",
            "/alerts/trends/analysis",
            Token(Read),
            SMALL,
            "Alert counts per time bucket by severity and rule",
            get(alerts::trends::<S>),
        )
        .doc(
            Doc::new()
                .query::<alerts::PeriodParams>()
                .ok(alerts::trends_shape())
                .errors(&[503]),
        ),
        ep(
            "POST",
            "/alerts/bulk/acknowledge",
            Token(Respond),
            LARGE,
            "Acknowledge many alerts; a result per alert",
            post(manage::bulk_acknowledge::<S>),
        )
        .doc(
            bulk_doc(),
        ),
        ep(
            "POST",
            "/alerts/bulk/resolve",
            Token(Respond),
            LARGE,
            "Resolve many alerts; a result per alert",
            post(manage::bulk_resolve::<S>),
        )
        .doc(
            bulk_doc(),
        ),
        ep(
            "GET",
            "/alerts/{id}",
            Token(Read),
            SMALL,
            "One alert with its events, occurrences and notes",
            get(alerts::detail::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the alert's id")
                .ok(alerts::detail_shape())
                .errors(&[404, 503]),
        ),
        ep(
            "POST",
            "/alerts/{id}/acknowledge",
            Token(Respond),
            SMALL,
            "Acknowledge an alert (409 from an illegal state)",
            post(manage::acknowledge::<S>),
        )
        .doc(
            action_doc::<false>(),
        ),
        ep(
            "POST",
            "/alerts/{id}/resolve",
            Token(Respond),
            SMALL,
            "Resolve an alert",
            post(manage::resolve::<S>),
        )
        .doc(
            action_doc::<false>(),
        ),
        ep(
            "POST",
            "/alerts/{id}/suppress",
            Token(Respond),
            SMALL,
            "Suppress an alert for a duration",
            post(manage::suppress::<S>),
        )
        .doc(
            action_doc::<true>(),
        ),
        ep(
            "POST",
            "/alerts/{id}/unsuppress",
            Token(Respond),
            SMALL,
            "Lift a suppression",
            post(manage::unsuppress::<S>),
        )
        .doc(
            action_doc::<false>(),
        ),
        ep(
            "POST",
            "/alerts/{id}/close",
            Token(Respond),
            SMALL,
            "Close a resolved alert",
            post(manage::close::<S>),
        )
        .doc(
            action_doc::<false>(),
        ),
        ep(
            "POST",
            "/alerts/{id}/notes",
            Token(Respond),
            SMALL,
            "Add a note",
            post(manage::note::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the alert's id")
                .json::<manage::NoteBody>()
                .ok(manage::note_shape())
                .errors(&[400, 404, 422, 429, 503]),
        ),
        ep(
            "POST",
            "/alerts/{id}/assign",
            Token(Respond),
            SMALL,
            "Set or clear the assignee",
            post(manage::assign::<S>),
        )
        .doc(
            Doc::new()
                .path("id", Shape::integer(), "the alert's id")
                .json::<manage::AssignBody>()
                .body_optional()
                .ok(manage::assign_shape())
                .errors(&[400, 404, 422, 429, 503]),
        ),
        ep(
            "GET",
            "/monitoring/health",
            Public,
            SMALL,
            "Liveness and readiness",
            get(monitoring::health::<S>),
        )
        .doc(
            Doc::new()
                .ok(monitoring::health_shape())
                .reply(503, "not ready: the store or the engine fails", JSON, monitoring::health_shape()),
        ),
        ep(
            "GET",
            "/monitoring/prometheus",
            Token(Read),
            SMALL,
            "The server's metrics in the Prometheus text format",
            get(monitoring::prometheus::<S>),
        )
        .doc(
            Doc::new().reply(200, "the Prometheus text format", "text/plain", Shape::string()),
        ),
        ep(
            "POST",
            "/api/v2/alerts",
            Token(Ingest),
            ALERT_BATCH,
            "Alertmanager API v2: receive alerts (Prometheus, Grafana, vmalert)",
            post(alertmanager::post_alerts::<S>),
        )
        .doc(
            Doc::new()
                .body(JSON, am::postable_alerts_shape())
                .empty(200, "every valid alert is committed (empty body)")
                .reply(400, "Alertmanager's answer: a JSON string naming each invalid alert (the valid ones are taken)", JSON, am::bad_request_shape())
                .errors(&[429, 503]),
        ),
        ep(
            "GET",
            "/api/v2/alerts",
            Token(Read),
            SMALL,
            "Alertmanager API v2: open alerts with Alertmanager's filters",
            get(alertmanager_read::get_alerts::<S>),
        )
        .doc(
            Doc::new()
                .param("active", Shape::boolean(), "list active and acknowledged alerts (default true)")
                .param("silenced", Shape::boolean(), "list suppressed alerts (default true)")
                .param("inhibited", Shape::boolean(), "list alerts an inhibition rule holds everywhere (default true)")
                .param("unprocessed", Shape::boolean(), "list pending alerts (default true)")
                .param("filter", Shape::array(Shape::string()), "label matchers, all of which must hold")
                .param("receiver", Shape::string(), "a regular expression on the receiver")
                .ok(am::gettable_alerts_shape())
                .reply(400, "a parameter that does not parse: a JSON string", JSON, am::bad_request_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/api/v2/alerts/groups",
            Token(Read),
            SMALL,
            "Alertmanager API v2: open alerts in the groups the routing tree forms, with their receiver",
            get(alertmanager_read::get_groups::<S>),
        )
        .doc(
            Doc::new()
                .param("active", Shape::boolean(), "list active and acknowledged alerts (default true)")
                .param("silenced", Shape::boolean(), "list suppressed alerts (default true)")
                .param("inhibited", Shape::boolean(), "list alerts an inhibition rule holds everywhere (default true)")
                .param("muted", Shape::boolean(), "leaves out nothing: no alert is muted by a time interval here")
                .param("filter", Shape::array(Shape::string()), "label matchers, all of which must hold")
                .param("receiver", Shape::string(), "a regular expression on the group's receiver")
                .ok(am::alert_groups_shape())
                .reply(400, "a parameter that does not parse: a JSON string", JSON, am::bad_request_shape())
                .errors(&[503]),
        ),
        ep(
            "POST",
            "/api/v2/silences",
            Token(Respond),
            SMALL,
            "Create a silence, or change one (Alertmanager API v2)",
            post(silences::post::<S>),
        )
        .doc(
            Doc::new()
                .body(JSON, am::postable_silence_shape())
                .ok(am::silence_id_shape())
                .reply(400, "a bad silence, or one over a size limit: a JSON string", JSON, am::bad_request_shape())
                .reply(404, "no silence of that id: a JSON string", JSON, Shape::string())
                .reply(422, "a body against Alertmanager's schema", JSON, am::unprocessable_shape())
                .errors(&[429, 503]),
        ),
        ep(
            "GET",
            "/api/v2/silences",
            Token(Read),
            SMALL,
            "Silences, with Alertmanager's `filter` (Alertmanager API v2)",
            get(silences::list::<S>),
        )
        .doc(
            Doc::new()
                .param("filter", Shape::array(Shape::string()), "label matchers the silence must have")
                .ok(Shape::array(am::gettable_silence_shape()))
                .reply(400, "a filter that does not parse", JSON, am::bad_request_shape())
                .errors(&[503]),
        ),
        ep(
            "GET",
            "/api/v2/silence/{id}",
            Token(Read),
            SMALL,
            "One silence (Alertmanager API v2)",
            get(silences::get_one::<S>),
        )
        .doc(
            silence_doc()
                .ok(am::gettable_silence_shape())
                .errors(&[503]),
        ),
        ep(
            "DELETE",
            "/api/v2/silence/{id}",
            Token(Respond),
            SMALL,
            "Expire a silence (Alertmanager API v2)",
            delete(silences::delete::<S>),
        )
        .doc(
            silence_doc()
                .empty(200, "expired (empty body)")
                .errors(&[429, 503]),
        ),
        ep(
            "GET",
            "/api/v2/status",
            Token(Read),
            SMALL,
            "Alertmanager API v2: status of this single, ready node",
            alertmanager::status_route::<S>(),
        )
        .doc(
            Doc::new().ok(am::status_shape()),
        ),
        ep(
            "GET",
            "/api/v2/receivers",
            Token(Read),
            SMALL,
            "Alertmanager API v2: the receivers alerts go to",
            get(alertmanager::receivers::<S>),
        )
        .doc(
            Doc::new().ok(am::receivers_shape()).errors(&[503]),
        ),
        ep(
            "GET",
            "/api/v1/alerts",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            get(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "POST",
            "/api/v1/alerts",
            Public,
            ALERT_BATCH,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            post(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().no_body().reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "GET",
            "/api/v1/silences",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            get(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "POST",
            "/api/v1/silences",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            post(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().no_body().reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "GET",
            "/api/v1/silence/{id}",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            get(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().path("id", Shape::string(), "any").reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "DELETE",
            "/api/v1/silence/{id}",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            delete(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().path("id", Shape::string(), "any").reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "GET",
            "/api/v1/status",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            get(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
        ep(
            "GET",
            "/api/v1/receivers",
            Public,
            SMALL,
            "Alertmanager's removed API v1: 410 Gone, as Alertmanager 0.27+ answers",
            get(alertmanager::v1_gone),
        )
        .doc(
            Doc::new().reply(410, "gone: Alertmanager's JSON notice", JSON, alertmanager::v1_gone_shape()),
        ),
    ]
}
