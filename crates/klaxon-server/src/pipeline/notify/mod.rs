//! Notifications in the server: the dispatcher (committed lifecycle changes → routing and
//! grouping → outbox rows) and the delivery workers (outbox rows → channels → outcomes).
//! Neither can slow the lifecycle manager: the dispatcher reads the manager's broadcast, and
//! when it lags it rebuilds its state from the store (open alerts and what the outbox says was
//! told), so a lag delays notifications but never loses them. Sending happens on the workers,
//! off the dispatcher's task.

pub(crate) mod deliver;
pub(crate) mod dispatch;
pub(crate) mod health;
pub(crate) mod mute;

use std::sync::Arc;

use klaxon_notify::channel::Pushed;
use klaxon_notify::{AlertView, Notifier};
use klaxon_store::StoredAlert;
use tokio::sync::broadcast;

/// What the API holds of the notification side: the compiled receivers, the WebSocket feed,
/// the base URL of links, a line to the dispatcher, the health of every channel and the
/// outbound policy (which learns klaxon's own address once the listener is bound).
pub(crate) struct NotifyHandle {
    pub notifier: Arc<Notifier>,
    pub health: Arc<health::Health>,
    pub policy: Arc<klaxon_notify::outbound::Policy>,
    /// Notifications pushed to WebSocket clients.
    pub pushed: broadcast::Sender<Arc<Pushed>>,
    /// Base URL of links in notifications.
    pub external_url: String,
    /// Questions to the dispatcher; `None` without notifications.
    pub queries: Option<tokio::sync::mpsc::UnboundedSender<dispatch::Query>>,
}

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

/// 128 random bits as 32 hex digits: an idempotency key.
pub(crate) fn random_key() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No randomness: time and a counter still make keys unique within this process.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        b[..8].copy_from_slice(&crate::clock::wall_ms().to_le_bytes());
        b[8..].copy_from_slice(&n.to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random number for backoff jitter.
pub(crate) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}
