//! `view`: an alert as notifications show it (and the labels it is routed by, the receivers
//! its rule names), shared by the notification dispatcher and the lifecycle manager's pager
//! (a leaf: it imports no other stage).

use klaxon_notify::AlertView;
use klaxon_store::StoredAlert;

/// The labels notifications route an alert by: its own, with its severity as a label when its
/// source did not make it one ([`view`]'s labels).
pub(crate) fn routing_labels(a: &StoredAlert) -> std::collections::BTreeMap<String, String> {
    let mut labels = a.labels.clone();
    if !a.severity.is_empty() {
        labels
            .entry("severity".to_owned())
            .or_insert_with(|| a.severity.clone());
    }
    labels
}

/// The receivers an alert's rule names directly ([`view`]'s receivers).
pub(crate) fn named_receivers(a: &StoredAlert) -> Vec<String> {
    a.handler
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An alert as notifications show it. The `handler` column names receivers directly
/// (comma-separated). The severity is a label for routing and grouping even when the alert's
/// source did not make it one.
pub(crate) fn view(a: &StoredAlert) -> AlertView {
    let labels = routing_labels(a);
    let summary = if a.message.is_empty() {
        a.annotations
            .get("summary")
            .cloned()
            .unwrap_or_else(|| a.name.clone())
    } else {
        a.message.clone()
    };
    AlertView {
        id: a.id,
        fingerprint: a.fingerprint.clone(),
        name: a.name.clone(),
        state: a.state,
        muted: None,
        severity: a.severity.clone(),
        summary,
        labels,
        annotations: a.annotations.clone(),
        starts_at: a.first_seen,
        ends_at: a.resolved_at,
        acknowledged_at: a.acknowledged_at,
        acknowledged_by: a.acknowledged_by.clone(),
        resolved_by: a.resolved_by.clone(),
        generator_url: a.generator_url.clone(),
        occurrences: a.occurrences,
        updated_at: a.updated_at,
        receivers: named_receivers(a),
        incident: None,
    }
}
