//! Building stored alerts from what fires: engine alerts, Alertmanager alerts, hand-made ones.
//! Pure data mapping; no state.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use klaxon_engine::threshold::{ThresholdEvent, ThresholdEventKind};
use klaxon_engine::Alert;
use klaxon_store::{Occurrence, Source, StoredAlert};

/// The occurrence row of an engine alert.
pub(crate) fn engine_occurrence(a: &Alert) -> Occurrence {
    Occurrence {
        at: a.signal_ts,
        value: a.value,
        message: a.message.clone(),
    }
}

/// An alert that comes with labels (Alertmanager clients, threshold rules, the API).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Labelled {
    pub source: Source,
    pub fingerprint: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub severity: String,
    pub summary: String,
    /// When it started (epoch ms).
    pub starts_at: i64,
    /// When the sender says it ends; in the past means resolved.
    pub ends_at: Option<i64>,
    pub generator_url: Option<String>,
    pub value: Option<f64>,
    /// Create it as `pending` rather than `active` (threshold rules before `for` has passed).
    pub pending: bool,
    /// The rule behind it, for alerts that klaxon's own rules raise.
    pub rule: Option<RuleRef>,
    /// Why it ends, when `ends_at` resolves it (recorded on the transition).
    pub end_reason: Option<String>,
    /// Receivers named directly (a threshold rule's `notification_channels`), kept in the
    /// alert's `handler`, comma-separated.
    pub receivers: Vec<String>,
}

/// The rule that raised a labelled alert.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RuleRef {
    pub group: String,
    pub rule_set: String,
    pub rule_set_version: Option<serde_json::Number>,
    pub rule_id: String,
    /// The operator and aggregation, as `greater_than avg`.
    pub operator: String,
    pub limit: Option<f64>,
    /// Receivers the rule names (`notification_channels`), comma-separated.
    pub handler: String,
}

/// The labelled alert of a threshold event: the series' labels plus `alertname` (the rule id),
/// identified by the engine's fingerprint. Pending and firing raise or update it; resolved and
/// cancelled end it at the event's instant.
pub(crate) fn from_threshold(ev: &ThresholdEvent) -> Labelled {
    let mut labels = ev.labels.clone();
    labels.insert("alertname".to_owned(), ev.rule_id.to_string());
    let mut annotations = BTreeMap::new();
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
        fingerprint: ev.fingerprint_hex(),
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

/// A new stored alert for a labelled alert.
pub(crate) fn from_labelled(id: i64, a: &Labelled, now: i64) -> StoredAlert {
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
    StoredAlert {
        id,
        fingerprint: a.fingerprint.clone(),
        state: if a.pending {
            State::Pending
        } else {
            State::Active
        },
        source: a.source,
        name: name.clone(),
        labels: a.labels.clone(),
        annotations: a.annotations.clone(),
        first_seen: a.starts_at,
        last_seen: now.max(a.starts_at),
        occurrences: 1,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_at: None,
        resolved_by: None,
        closed_at: None,
        suppressed_until: None,
        suppressed_by: None,
        assignee: None,
        ends_at: a.ends_at,
        generator_url: a.generator_url.clone(),
        updated_at: now,
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
        process: String::new(),
        process_name: String::new(),
        scope: String::new(),
        action: String::new(),
        context: None,
        action_count: 0,
        value: a.value,
        limit: rule.limit,
        signal_ts: a.starts_at,
        engine_ts: now,
        message: a.summary.clone(),
        created_at: now,
    }
}

/// What a firing says (severity, summary, annotations), as one number: two firings of an alert
/// that say the same have the same key, within this process (the hash is keyed per process,
/// so a sender cannot aim at a collision).
pub(crate) fn content_key<'a>(
    severity: &str,
    summary: &str,
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static KEYS: std::sync::LazyLock<foldhash::quality::RandomState> =
        std::sync::LazyLock::new(foldhash::quality::RandomState::default);
    let mut h = KEYS.build_hasher();
    let mut part = |s: &str| {
        h.write_usize(s.len());
        h.write(s.as_bytes());
    };
    part(severity);
    part(summary);
    for (k, v) in annotations {
        part(k);
        part(v);
    }
    h.finish()
}

/// [`content_key`] of a map of annotations.
pub(crate) fn content_key_of(
    severity: &str,
    summary: &str,
    annotations: &BTreeMap<String, String>,
) -> u64 {
    content_key(
        severity,
        summary,
        annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// The fingerprint of a label set, as a number: FNV-1a over each name and value with its
/// length, in name order (the pairs must come sorted by name, as a `BTreeMap` gives them).
pub(crate) fn label_key<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for (k, v) in labels {
        for part in [k.as_bytes(), v.as_bytes()] {
            for b in (part.len() as u64).to_le_bytes().iter().chain(part) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(PRIME);
            }
        }
    }
    h
}

/// The fingerprint of a label set: [`label_key`] as 16 hex digits.
pub(crate) fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    format!(
        "{:016x}",
        label_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_fingerprint_ignores_insertion_order_and_separates_pairs() {
        let a: BTreeMap<String, String> = [("a", "1"), ("b", "2")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let b: BTreeMap<String, String> = [("b", "2"), ("a", "1")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let c: BTreeMap<String, String> = [("a", "1b"), ("", "2")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        assert_eq!(label_fingerprint(&a), label_fingerprint(&b));
        assert_ne!(label_fingerprint(&a), label_fingerprint(&c));
    }
}
