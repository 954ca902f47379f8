//! Records of escalations and SLA breaches. An escalation's state is the lifecycle shell's
//! (opaque JSON here) with its next due time; each level paged is a [`PageRecord`] with its
//! notifications, written once: a page is keyed by (subject, page key), and its notifications
//! by their idempotency keys, so the same page found twice (after a restart) writes nothing
//! the second time. Breaches are keyed by (subject, what). All of it is written as
//! [`crate::AlertChange::Escalation`], in the commit of the alert changes that caused it.

use serde::Serialize;

use crate::outbox::NewNotification;

/// One escalation: `subject` is `alert:ID` or `incident:ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationRecord {
    pub subject: String,
    pub policy: String,
    /// The state (JSON), as its owner wrote it.
    pub state: String,
    /// Epoch ms when it next needs to be woken; `None` when nothing is due.
    pub next_due: Option<i64>,
    /// Epoch ms.
    pub started_at: i64,
    /// Resolved, closed or its subject is gone: it is not loaded at start.
    pub ended: bool,
    /// Epoch ms of the first acknowledgement, if any.
    pub acknowledged_at: Option<i64>,
}

/// One level paged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageRecord {
    pub subject: String,
    /// Unique within the subject (`cycle.round.level`).
    pub key: String,
    pub policy: String,
    /// 0-based.
    pub level: i64,
    pub round: i64,
    pub cycle: i64,
    /// The targets, as written (`user:bob`).
    pub targets: Vec<String>,
    /// Why it paged, one sentence.
    pub reason: String,
    /// Who asked, for a page by hand.
    pub actor: Option<String>,
    /// Epoch ms it came due.
    pub at: i64,
}

/// A target of the SLA that passed without its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreachRecord {
    pub subject: String,
    /// `acknowledge` or `resolve`.
    pub what: String,
    pub severity: String,
    pub team: Option<String>,
    pub target_ms: i64,
    /// Epoch ms the target passed.
    pub at: i64,
}

/// A write about escalations and the SLA.
#[derive(Debug, Clone, PartialEq)]
pub enum EscalationChange {
    /// Stores (or replaces) an escalation's record.
    Put(EscalationRecord),
    /// A page and its notifications (each skipped when a notification with its idempotency
    /// key exists; the page itself when it was recorded before).
    Page {
        page: PageRecord,
        notifications: Vec<NewNotification>,
    },
    /// A breach and the notifications that tell of it (written once, like a page).
    Breach {
        breach: BreachRecord,
        notifications: Vec<NewNotification>,
    },
}

/// An alert as the SLA dashboard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaAlert {
    pub id: i64,
    pub severity: String,
    pub team: Option<String>,
    pub first_seen: i64,
    pub acknowledged_at: Option<i64>,
    pub resolved_at: Option<i64>,
}
