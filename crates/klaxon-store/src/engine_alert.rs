//! An engine alert as the store keeps it: its identity labels and the `StoredAlert` a new one
//! becomes. It lives here, next to `StoredAlert`, because the engine must not know the store's
//! records, and both the server's lifecycle manager and the SQLite backend build new alerts
//! from engine alerts: their identity labels (and with them deduplication and routing) must
//! match, so there is one mapping.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use klaxon_engine::Alert;

use crate::{Source, StoredAlert};

/// The identity labels of an engine alert: `alertname` (the rule id), `rule_set`, `group`,
/// `process_name`, `scope`, `action`, `context` when it has one, `handler`, `severity`.
pub fn engine_labels(a: &Alert) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut put = |k: &str, v: &str| labels.insert(k.to_owned(), v.to_owned());
    put("alertname", &a.rule_id);
    put("rule_set", &a.rule_set);
    put("group", &a.group);
    put("process_name", &a.process_name);
    put("scope", &a.scope);
    put("action", &a.action);
    if let Some(context) = &a.context {
        put("context", context);
    }
    put("handler", &a.handler);
    put("severity", a.severity.as_str());
    labels
}

impl StoredAlert {
    /// A new stored alert for an engine alert: id `id`, in `state`, made at `now`.
    pub fn from_engine(id: i64, a: &Alert, state: State, now: i64) -> StoredAlert {
        StoredAlert {
            id,
            fingerprint: a.fingerprint_hex(),
            state,
            source: Source::Rule,
            name: a.rule_id.to_string(),
            labels: engine_labels(a),
            annotations: BTreeMap::new(),
            first_seen: a.engine_ts,
            last_seen: a.engine_ts,
            occurrences: 1,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
            closed_at: None,
            suppressed_until: None,
            suppressed_by: None,
            assignee: None,
            ends_at: None,
            generator_url: None,
            updated_at: now,
            group: a.group.to_string(),
            rule_set: a.rule_set.to_string(),
            rule_set_version: a.rule_set_version.clone(),
            rule_id: a.rule_id.to_string(),
            trigger: a.trigger.as_str().to_owned(),
            operator: a.operator.to_string(),
            severity: a.severity.as_str().to_owned(),
            handler: a.handler.to_string(),
            process: a.process.to_string(),
            process_name: a.process_name.to_string(),
            scope: a.scope.to_string(),
            action: a.action.to_string(),
            context: a.context.as_ref().map(|c| c.to_string()),
            action_count: a.action_count,
            value: a.value,
            limit: a.limit,
            signal_ts: a.signal_ts,
            engine_ts: a.engine_ts,
            message: a.message.clone(),
            created_at: now,
        }
    }
}
