//! The notification model: its kinds, the snapshot of an alert it carries, and the grouped
//! notification a receiver gets. Pure data; serialised as is into the outbox.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a notification tells. Distinct in every payload and subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Firing,
    Acknowledged,
    Resolved,
    /// Reserved for escalation policies; nothing emits it yet.
    Escalated,
    /// A heads-up that is not an alert's news (a silence about to expire): `notice` says it.
    Notice,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Firing => "firing",
            Kind::Acknowledged => "acknowledged",
            Kind::Resolved => "resolved",
            Kind::Escalated => "escalated",
            Kind::Notice => "notice",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Firing,
            Kind::Acknowledged,
            Kind::Resolved,
            Kind::Escalated,
            Kind::Notice,
        ]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One alert as a notification shows it, taken when the notification was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub fingerprint: String,
    pub name: String,
    /// The lifecycle state (`active`, `acknowledged`, `resolved`, ...).
    pub state: String,
    pub severity: String,
    pub summary: String,
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Epoch ms of the first firing.
    pub starts_at: i64,
    /// Epoch ms of the resolution, if resolved.
    #[serde(default)]
    pub ends_at: Option<i64>,
    #[serde(default)]
    pub acknowledged_at: Option<i64>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub generator_url: Option<String>,
    pub occurrences: u64,
    /// Epoch ms of the alert's latest change.
    pub updated_at: i64,
    /// Receivers the alert's rule names directly (a LILAM rule's handler, a threshold rule's
    /// `notification_channels`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<String>,
}

impl AlertView {
    /// The kind of notification the alert's state calls for; `None` for states that notify
    /// nobody (pending, suppressed).
    pub fn wanted(&self) -> Option<Kind> {
        match self.state.as_str() {
            "active" => Some(Kind::Firing),
            "acknowledged" => Some(Kind::Acknowledged),
            "resolved" | "closed" => Some(Kind::Resolved),
            _ => None,
        }
    }
}

/// One notification to one receiver: a group's alerts and what is told about them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub kind: Kind,
    pub receiver: String,
    /// The route and group label values, as in Alertmanager (`{}/{team="db"}:{alertname="X"}`).
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<AlertView>,
    /// Epoch ms when the notification was made.
    pub at: i64,
    /// How many more notifications this one stands for: a receiver's rate limit held them and
    /// folded them into this one ("and 37 more"). 0 for most.
    #[serde(default)]
    pub folded: u32,
    /// What a [`Kind::Notice`] says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

impl Notification {
    /// Labels every alert shares with the same value.
    pub fn common_labels(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.labels))
    }

    /// Annotations every alert shares with the same value.
    pub fn common_annotations(&self) -> BTreeMap<String, String> {
        common(self.alerts.iter().map(|a| &a.annotations))
    }
}

fn common<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut out = first.clone();
    for m in maps {
        out.retain(|k, v| m.get(k) == Some(v));
    }
    out
}
