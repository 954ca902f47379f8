//! New alert records from what fires (engine alerts, threshold events, labelled alerts).
//! Pure data mapping; no state, no decisions.

use std::sync::Arc;

use super::input::{Labelled, RuleRef};
use super::key::fp_hex;
use super::record::{AlertRecord, Labels, Occurrence, Source};
use super::table::State;
use crate::threshold::{ThresholdEvent, ThresholdEventKind};
use crate::Alert;

/// Identity labels of an engine alert.
pub fn engine_labels(a: &Alert) -> Labels {
    let mut l = Labels::new();
    l.insert("alertname".to_owned(), a.rule_id.to_string());
    l.insert("rule_set".to_owned(), a.rule_set.to_string());
    l.insert("group".to_owned(), a.group.to_string());
    l.insert("process_name".to_owned(), a.process_name.to_string());
    l.insert("scope".to_owned(), a.scope.to_string());
    l.insert("action".to_owned(), a.action.to_string());
    if let Some(c) = &a.context {
        l.insert("context".to_owned(), c.to_string());
    }
    l.insert("handler".to_owned(), a.handler.to_string());
    l.insert("severity".to_owned(), a.severity.as_str().to_owned());
    l
}

/// A new alert as it opens: nothing has happened to it yet, and no rule columns are filled.
fn opened(id: i64, fingerprint: u64, state: State, source: Source, now: i64) -> AlertRecord {
    AlertRecord {
        id,
        fingerprint: fp_hex(fingerprint),
        state,
        source,
        name: String::new(),
        labels: Labels::new(),
        annotations: Labels::new(),
        first_seen: now,
        last_seen: now,
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
        group: String::new(),
        rule_set: String::new(),
        rule_set_version: None,
        rule_id: String::new(),
        trigger: String::new(),
        operator: String::new(),
        severity: String::new(),
        handler: String::new(),
        process: String::new(),
        process_name: String::new(),
        scope: String::new(),
        action: String::new(),
        context: None,
        action_count: 0,
        value: None,
        limit: None,
        signal_ts: now,
        engine_ts: now,
        message: String::new(),
        created_at: now,
    }
}

/// A new, active alert for an engine alert.
pub fn from_engine(id: i64, a: &Alert, now: i64) -> AlertRecord {
    AlertRecord {
        name: a.rule_id.to_string(),
        labels: engine_labels(a),
        first_seen: a.engine_ts,
        last_seen: a.engine_ts,
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
        ..opened(id, a.fingerprint, State::Active, Source::Rule, now)
    }
}

/// The occurrence row of an engine alert.
pub fn engine_occurrence(a: &Alert) -> Occurrence {
    Occurrence {
        at: a.signal_ts,
        value: a.value,
        message: Arc::from(a.message.as_str()),
    }
}

/// The labelled alert of a threshold event: the series' labels plus `alertname` (the rule id),
/// identified by the engine's fingerprint. Pending and firing raise or update it; resolved and
/// cancelled end it at the event's instant.
pub fn from_threshold(ev: &ThresholdEvent) -> Labelled {
    let mut labels = ev.labels.clone();
    labels.insert("alertname".to_owned(), ev.rule_id.to_string());
    let mut annotations = Labels::new();
    annotations.insert("summary".to_owned(), ev.message.clone());
    annotations.insert("metric".to_owned(), ev.metric.to_string());
    annotations.insert("rule_name".to_owned(), ev.rule_name.to_string());
    if let Some(d) = &ev.description {
        annotations.insert("description".to_owned(), d.to_string());
    }
    if let Some(p) = &ev.escalation_policy {
        annotations.insert("escalation_policy".to_owned(), p.to_string());
    }
    if !ev.suppression_rules.is_empty() {
        annotations.insert(
            "suppression_rules".to_owned(),
            ev.suppression_rules.join(","),
        );
    }
    let ended = matches!(
        ev.kind,
        ThresholdEventKind::Resolved | ThresholdEventKind::Cancelled
    );
    Labelled {
        source: Source::Threshold,
        fingerprint: ev.fingerprint,
        labels,
        annotations,
        severity: ev.severity.as_str().to_owned(),
        summary: ev.message.clone(),
        starts_at: ev.since,
        ends_at: ended.then_some(ev.at),
        generator_url: None,
        value: ev.value,
        pending: ev.kind == ThresholdEventKind::Pending,
        rule: Some(RuleRef {
            group: ev.group.to_string(),
            rule_set: ev.rule_set.to_string(),
            rule_set_version: ev.rule_set_version.clone(),
            rule_id: ev.rule_id.to_string(),
            operator: format!("{} {}", ev.operator.as_str(), ev.aggregation.as_str()),
            limit: Some(ev.threshold),
            handler: ev.notification_channels.join(","),
        }),
        end_reason: ended.then(|| format!("{}: {}", ev.kind.as_str(), ev.message)),
        receivers: ev.notification_channels.to_vec(),
    }
}

/// A new alert (pending or active) for a labelled alert.
pub fn from_labelled(id: i64, a: &Labelled, now: i64) -> AlertRecord {
    let name = a
        .labels
        .get("alertname")
        .cloned()
        .unwrap_or_else(|| "unnamed".to_owned());
    let rule = a.rule.clone().unwrap_or_else(|| RuleRef {
        group: String::new(),
        rule_set: String::new(),
        rule_set_version: None,
        rule_id: name.clone(),
        operator: String::new(),
        limit: None,
        handler: String::new(),
    });
    let state = if a.pending {
        State::Pending
    } else {
        State::Active
    };
    AlertRecord {
        name,
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        first_seen: a.starts_at,
        last_seen: now.max(a.starts_at),
        ends_at: a.ends_at,
        generator_url: a.generator_url.clone(),
        group: rule.group,
        rule_set: rule.rule_set,
        rule_set_version: rule.rule_set_version,
        rule_id: rule.rule_id,
        trigger: if a.source == Source::Threshold {
            "METRIC".to_owned()
        } else {
            String::new()
        },
        operator: rule.operator,
        severity: a.severity.clone(),
        handler: if a.receivers.is_empty() {
            rule.handler
        } else {
            a.receivers.join(",")
        },
        value: a.value,
        limit: rule.limit,
        signal_ts: a.starts_at,
        message: a.summary.clone(),
        ..opened(id, a.fingerprint, state, a.source, now)
    }
}

/// The maintenance windows a threshold rule names (`suppression_rules`, comma-separated).
pub(crate) fn named_windows(annotations: &Labels) -> Box<[Arc<str>]> {
    annotations
        .get("suppression_rules")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Arc::from)
                .collect()
        })
        .unwrap_or_default()
}
