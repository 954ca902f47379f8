//! The notification model: its kinds, the snapshot of an alert it carries, and the grouped
//! notification a receiver gets. Pure data; serialised as is into the outbox.

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use serde::{Deserialize, Serialize};

/// What a notification tells. Distinct in every payload and subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Firing,
    Acknowledged,
    Resolved,
    /// An escalation policy pages someone: `escalation` says who, at which level, and why.
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

/// Why the notification pipeline holds an alert's news for now, whatever its state: a muted
/// alert notifies nobody, and its news goes out as usual once it is no longer muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Muted {
    /// Firing, and inhibited by a rule that applies to every route.
    Inhibited,
    /// Flapping, until it is stable.
    Flapping,
}

/// One alert as a notification shows it, taken when the notification was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub fingerprint: String,
    pub name: String,
    /// The lifecycle state; serialised as its name (`active`, `acknowledged`, `resolved`, ...).
    pub state: State,
    /// Set while the notification pipeline mutes the alert; a muted alert is in no
    /// notification, so none carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted: Option<Muted>,
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
    /// Receivers the alert's rule names directly (an event rule's handler, a threshold rule's
    /// `notification_channels`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<String>,
    /// The incident the alert is in, if any: routes that group by `incident` group on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<i64>,
}

impl AlertView {
    /// The kind of notification the alert's state calls for; `None` for states that notify
    /// nobody (pending, suppressed) and while the alert is muted.
    pub fn wanted(&self) -> Option<Kind> {
        if self.muted.is_some() {
            return None;
        }
        match self.state {
            State::Active => Some(Kind::Firing),
            State::Acknowledged => Some(Kind::Acknowledged),
            State::Resolved | State::Closed => Some(Kind::Resolved),
            State::Pending | State::Suppressed => None,
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
    /// What a [`Kind::Notice`] says (an SLA breach, a silence about to end), or an
    /// [`Kind::Escalated`] page in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// Set on [`Kind::Escalated`]: the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationPage>,
}

/// What an `escalated` notification tells: who is paged now, at which level, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationPage {
    pub policy: String,
    /// 1-based.
    pub level: usize,
    /// 1-based: the run of the policy's levels.
    pub round: u32,
    /// Whom this notification pages: `user:bob`, `team:db` (then `member` names the user),
    /// `receiver:ops`.
    pub target: String,
    /// For a page through a team: the member this notification reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Why, in one sentence: "nobody acknowledged within 5m".
    pub reason: String,
    /// The incident that escalates, when it is an incident's escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<i64>,
}

impl Notification {
    /// The incident every alert of it is in, when they are all in the same one.
    pub fn incident(&self) -> Option<i64> {
        let first = self.alerts.first()?.incident?;
        self.alerts
            .iter()
            .all(|a| a.incident == Some(first))
            .then_some(first)
    }

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The outbox and every payload carry a view's state as its lowercase name, and a view
    /// that is not muted says nothing about muting, as before the state was a type.
    #[test]
    fn a_view_serialises_its_state_by_name_and_reads_rows_written_before() {
        let row = serde_json::json!({
            "id": 7, "fingerprint": "fp", "name": "Disk", "state": "acknowledged",
            "severity": "high", "summary": "s", "labels": {}, "starts_at": 1,
            "occurrences": 2, "updated_at": 3,
        });
        let v: AlertView = serde_json::from_value(row).unwrap();
        assert_eq!((v.state, v.muted), (State::Acknowledged, None));
        assert_eq!(v.wanted(), Some(Kind::Acknowledged));
        let back = serde_json::to_value(&v).unwrap();
        assert_eq!(back["state"], "acknowledged");
        assert!(back.get("muted").is_none(), "{back}");
        for s in State::ALL {
            let v = AlertView {
                state: s,
                ..v.clone()
            };
            assert_eq!(serde_json::to_value(&v).unwrap()["state"], s.as_str());
            let muted = AlertView {
                muted: Some(Muted::Flapping),
                ..v
            };
            assert_eq!(muted.wanted(), None, "{s} muted");
        }
    }
}
