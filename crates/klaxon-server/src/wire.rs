//! The wire shape of an alert: the JSON object every API answer, stream and dashboard page
//! shows of a stored alert. A leaf: the lifecycle manager renders it once per change, the API
//! renders it for reads; neither owns it.

use klaxon_engine::timestamp::format_ts;
use klaxon_store::StoredAlert;
use serde_json::{json, Value};

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
