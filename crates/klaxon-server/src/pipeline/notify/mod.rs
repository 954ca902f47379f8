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
use klaxon_notify::Notifier;
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

pub(crate) use super::view::{named_receivers, routing_labels, view};

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
