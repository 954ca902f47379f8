//! The shapes of Alertmanager's API v2 as klaxon serves them, for the OpenAPI document:
//! Alertmanager's own `postableAlert`, `gettableAlert`, `alertmanagerStatus`, `receiver`,
//! `alertGroups`, `postableSilence` and `gettableSilence` (its `api/v2/openapi.yaml`), where klaxon takes or
//! answers the same, and its error bodies (a JSON string; go-swagger's `{code, message}`).
//! Shapes only: the handlers are in `alertmanager` and `silences`.

use crate::error::error_shape;
use crate::openapi::shape::Shape;

/// Alertmanager's `labelSet`.
fn label_set() -> Shape {
    Shape::map(Shape::string()).named("labelSet")
}

/// One posted alert; unknown fields are ignored, as Alertmanager ignores them.
pub(crate) fn postable_alerts_shape() -> Shape {
    let alert = Shape::object()
        .req(
            "labels",
            label_set().describe("the alert's identity; `alertname` is required"),
        )
        .opt("annotations", label_set())
        .opt("startsAt", Shape::time().describe("default: now"))
        .opt(
            "endsAt",
            Shape::time().describe("in the past: the alert is resolved"),
        )
        .opt("generatorURL", Shape::string())
        .named("postableAlert");
    Shape::array(alert)
}

fn receiver() -> Shape {
    Shape::object()
        .req("name", Shape::string())
        .named("receiver")
}

/// `gettableAlerts`.
pub(crate) fn gettable_alerts_shape() -> Shape {
    Shape::array(gettable_alert())
}

/// `alertGroups`: each group's labels, its receiver and its alerts.
pub(crate) fn alert_groups_shape() -> Shape {
    let group = Shape::object()
        .req("labels", label_set())
        .req("receiver", receiver())
        .req("alerts", Shape::array(gettable_alert()))
        .named("alertGroup");
    Shape::array(group)
}

/// `gettableAlert`.
fn gettable_alert() -> Shape {
    let names = || Shape::array(Shape::string());
    let status = Shape::object()
        .req(
            "state",
            Shape::one_of_text(&["unprocessed", "active", "suppressed"]),
        )
        .req("silencedBy", names())
        .req("inhibitedBy", names())
        .opt("mutedBy", names())
        .named("alertStatus");
    Shape::object()
        .req("labels", label_set())
        .req("annotations", label_set())
        .req("receivers", Shape::array(receiver()))
        .req("fingerprint", Shape::string())
        .req("startsAt", Shape::time())
        .req("updatedAt", Shape::time())
        .req("endsAt", Shape::time())
        .req("status", status)
        .opt("generatorURL", Shape::string())
        .named("gettableAlert")
}

/// `alertmanagerStatus` of a single node.
pub(crate) fn status_shape() -> Shape {
    let text = Shape::string;
    let peer = Shape::object().req("name", text()).req("address", text());
    let cluster = Shape::object()
        .opt("name", text())
        .req(
            "status",
            Shape::one_of_text(&["ready", "settling", "disabled"]),
        )
        .opt("peers", Shape::array(peer));
    let version = Shape::object()
        .req("version", text())
        .req("revision", text())
        .req("branch", text())
        .req("buildUser", text())
        .req("buildDate", text())
        .req("goVersion", text());
    Shape::object()
        .req("cluster", cluster)
        .req("versionInfo", version)
        .req("config", Shape::object().req("original", text()))
        .req(
            "uptime",
            Shape::time().describe("the start time, as Alertmanager has it"),
        )
        .named("alertmanagerStatus")
}

/// The receivers.
pub(crate) fn receivers_shape() -> Shape {
    Shape::array(receiver())
}

fn matchers() -> Shape {
    let matcher = Shape::object()
        .req("name", Shape::string())
        .req("value", Shape::string())
        .req("isRegex", Shape::boolean())
        .opt(
            "isEqual",
            Shape::boolean().describe("false negates; default true"),
        )
        .named("matcher");
    Shape::array(matcher)
}

/// `postableSilence`: with `id`, a change of that silence.
pub(crate) fn postable_silence_shape() -> Shape {
    Shape::object()
        .opt(
            "id",
            Shape::string().describe("the silence to change; none creates one"),
        )
        .req("matchers", matchers().with("minItems", 1.into()))
        .req("startsAt", Shape::time())
        .req("endsAt", Shape::time())
        .opt(
            "createdBy",
            Shape::string().describe("default: the token's name"),
        )
        .req("comment", Shape::string())
        .named("postableSilence")
}

/// `gettableSilence`.
pub(crate) fn gettable_silence_shape() -> Shape {
    let status = Shape::object().req(
        "state",
        Shape::one_of_text(&["expired", "active", "pending"]),
    );
    Shape::object()
        .req("id", Shape::string())
        .req("status", status)
        .req("updatedAt", Shape::time())
        .req("comment", Shape::string())
        .req("createdBy", Shape::string())
        .req("endsAt", Shape::time())
        .req("matchers", matchers())
        .req("startsAt", Shape::time())
        .named("gettableSilence")
}

/// The answer of `POST /api/v2/silences`.
pub(crate) fn silence_id_shape() -> Shape {
    Shape::object().req("silenceID", Shape::string())
}

/// Alertmanager's answer to a bad request, a JSON string; or klaxon's `Error` where the
/// request did not reach Alertmanager's checks (a parameter that does not decode).
pub(crate) fn bad_request_shape() -> Shape {
    Shape::any_of([Shape::string(), error_shape()])
}

/// Alertmanager's (go-swagger's) answer to a body or parameter against its schema; or klaxon's
/// `Error` for a value over klaxon's size limits.
pub(crate) fn unprocessable_shape() -> Shape {
    let swagger = Shape::object()
        .req("code", Shape::integer())
        .req("message", Shape::string());
    Shape::any_of([swagger, error_shape()])
}
