//! The wire shape of an alert: the JSON object every API answer, stream and dashboard page
//! shows of a stored alert, and its schema for the OpenAPI document. A leaf: the lifecycle manager renders it once per change, the API
//! renders it for reads; neither owns it.

use klaxon_engine::lifecycle::State as AlertState;
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{Source, StoredAlert};
use serde_json::{json, Value};

use crate::openapi::shape::Shape;

/// The API shape of an alert: times as RFC 3339 with milliseconds.
pub(crate) fn alert_json(a: &StoredAlert) -> Value {
    let ts = |t: Option<i64>| t.map(format_ts);
    json!({
        "id": a.id, "fingerprint": a.fingerprint, "state": a.state, "source": a.source.as_str(),
        "name": a.name, "labels": a.labels, "annotations": a.annotations,
        "group": a.group,
        "rule_set": a.rule_set, "rule_set_version": a.rule_set_version, "rule_id": a.rule_id,
        "trigger": a.trigger, "operator": a.operator, "severity": a.severity, "handler": a.handler,
        "process": a.process, "process_name": a.process_name, "scope": a.scope, "action": a.action,
        "context": a.context, "action_count": a.action_count,
        "value": a.value.map(num), "limit": a.limit.map(num),
        "signal_ts": format_ts(a.signal_ts), "engine_ts": format_ts(a.engine_ts),
        "created_at": format_ts(a.created_at), "message": a.message,
        "first_seen": format_ts(a.first_seen), "last_seen": format_ts(a.last_seen),
        "occurrences": a.occurrences,
        "acknowledged_at": ts(a.acknowledged_at), "acknowledged_by": a.acknowledged_by,
        "resolved_at": ts(a.resolved_at), "resolved_by": a.resolved_by,
        "closed_at": ts(a.closed_at), "suppressed_until": ts(a.suppressed_until),
        "suppressed_by": a.suppressed_by,
        "assignee": a.assignee, "ends_at": ts(a.ends_at), "generator_url": a.generator_url,
        "updated_at": format_ts(a.updated_at),
    })
}

fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Value::from(v as i64)
    } else {
        Value::from(v)
    }
}

/// The shape of an alert's state, `AlertState` in the OpenAPI document.
pub(crate) fn state_shape() -> Shape {
    let names: Vec<&str> = AlertState::ALL.iter().map(|s| s.as_str()).collect();
    Shape::one_of_text(&names).named("AlertState")
}

/// Labels or annotations: names to text.
pub(crate) fn labels_shape() -> Shape {
    Shape::map(Shape::string()).named("Labels")
}

/// The fields of [`alert_json`], added to `object` (an alert, or an alert with more).
pub(crate) fn alert_fields(object: Shape) -> Shape {
    let (text, int, time) = (Shape::string, Shape::integer, Shape::time);
    let sources: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
    object
        .req("id", int())
        .req("fingerprint", text())
        .req("state", state_shape())
        .req("source", Shape::one_of_text(&sources))
        .req("name", text())
        .req("labels", labels_shape())
        .req("annotations", labels_shape())
        .req("group", text())
        .req("rule_set", text())
        .req("rule_set_version", int().nullable())
        .req("rule_id", text())
        .req("trigger", text())
        .req("operator", text())
        .req("severity", text())
        .req("handler", text())
        .req("process", text())
        .req("process_name", text())
        .req("scope", text())
        .req("action", text())
        .req("context", text().nullable())
        .req("action_count", Shape::count())
        .req("value", Shape::number().nullable())
        .req("limit", Shape::number().nullable())
        .req("signal_ts", time())
        .req("engine_ts", time())
        .req("created_at", time())
        .req("message", text())
        .req("first_seen", time())
        .req("last_seen", time())
        .req("occurrences", Shape::count())
        .req("acknowledged_at", time().nullable())
        .req("acknowledged_by", text().nullable())
        .req("resolved_at", time().nullable())
        .req("resolved_by", text().nullable())
        .req("closed_at", time().nullable())
        .req("suppressed_until", time().nullable())
        .req("suppressed_by", text().nullable())
        .req("assignee", text().nullable())
        .req("ends_at", time().nullable())
        .req("generator_url", text().nullable())
        .req("updated_at", time())
}

/// The shape of [`alert_json`], `Alert` in the OpenAPI document.
pub(crate) fn alert_shape() -> Shape {
    alert_fields(Shape::object()).named("Alert")
}
