//! Records of the alert lifecycle: the changes the lifecycle manager commits (each one a
//! lifecycle `Write`, mapped field for field), and the shapes of the lifecycle's reads (index,
//! detail, history, summary, performance, trends).

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::{State, Suppressor, Write};
use serde::Serialize;

use crate::StoredAlert;

/// Where an alert came from: the lifecycle's own type.
pub use klaxon_engine::lifecycle::Source;

/// One entry of the audit trail: a transition, or another change (from = to) such as a note or
/// an assignment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    pub id: i64,
    pub alert_id: i64,
    /// Epoch ms.
    pub at: i64,
    pub actor: String,
    /// `None` for the creation.
    pub from: Option<State>,
    pub to: State,
    pub reason: String,
}

/// One firing folded into an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occurrence {
    /// Epoch ms (the firing's signal time or the sample time).
    pub at: i64,
    pub value: Option<f64>,
    pub message: String,
}

/// A note on an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub id: i64,
    pub alert_id: i64,
    pub at: i64,
    pub author: String,
    pub text: String,
}

/// A change committed by the lifecycle manager. Every change that alters an alert also
/// writes its audit event.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChange {
    /// A new alert (with its id already chosen), its `created` event (from none to its state)
    /// and its first occurrence.
    Insert {
        alert: Box<StoredAlert>,
        actor: String,
        reason: String,
        occurrence: Occurrence,
    },
    /// Another firing of an open alert: occurrences = `occurrences`, last_seen = `at`, the
    /// latest summary/value/severity/annotations, and an occurrence row. No event.
    Occur {
        id: i64,
        at: i64,
        occurrences: u64,
        summary: String,
        severity: String,
        annotations: BTreeMap<String, String>,
        ends_at: Option<i64>,
        occurrence: Occurrence,
        /// Whether `occurrence` goes into the occurrence log (the counts and the latest value
        /// are written either way).
        log: bool,
    },
    /// A state change with its event. Sets acknowledged_at/by (to acknowledged),
    /// resolved_at/by (to resolved; cleared when reopened, kept when closed), closed_at (to
    /// closed), suppressed_until (to suppressed: `until`; cleared when leaving suppressed).
    /// Conflict if the alert is not in `from`.
    Transition {
        id: i64,
        from: State,
        to: State,
        at: i64,
        actor: String,
        reason: String,
        until: Option<i64>,
        /// What suppresses it (to suppressed), as [`StoredAlert::suppressed_by`].
        by: Option<String>,
    },
    /// Stores a silence (new or changed; an expired one is kept, with its end).
    Silence(klaxon_engine::noise::Silence),
    /// A note, with an event (from = to = the current state, reason "note").
    Note {
        id: i64,
        at: i64,
        author: String,
        text: String,
        state: State,
    },
    /// Sets or clears the assignee, with an event (reason "assigned to …" / "unassigned").
    Assign {
        id: i64,
        at: i64,
        actor: String,
        assignee: Option<String>,
        state: State,
    },
    /// A change to incidents, made by what the alert changes before it in the same commit
    /// caused.
    Incident(crate::incident::IncidentChange),
    /// A change to escalations or the SLA (a page, a breach, with their notifications), caused
    /// by the alert changes before it in the same commit or by time.
    Escalation(crate::escalation::EscalationChange),
}

impl From<&Write> for AlertChange {
    /// The store's form of one lifecycle write, field for field (shared text becomes owned,
    /// what holds a suppressed alert its recorded form).
    fn from(w: &Write) -> AlertChange {
        let occurrence = |o: &klaxon_engine::lifecycle::Occurrence| Occurrence {
            at: o.at,
            value: o.value,
            message: o.message.to_string(),
        };
        match w {
            Write::Insert {
                alert,
                actor,
                reason,
                occurrence: first,
            } => AlertChange::Insert {
                alert: Box::new(StoredAlert::clone(alert)),
                actor: actor.to_string(),
                reason: reason.to_string(),
                occurrence: occurrence(first),
            },
            Write::Occur(o) => AlertChange::Occur {
                id: o.id,
                at: o.at,
                occurrences: o.occurrences,
                summary: o.summary.to_string(),
                severity: o.severity.to_string(),
                annotations: BTreeMap::clone(&o.annotations),
                ends_at: o.ends_at,
                occurrence: occurrence(&o.occurrence),
                log: o.log,
            },
            Write::Transition(t) => AlertChange::Transition {
                id: t.id,
                from: t.from,
                to: t.to,
                at: t.at,
                actor: t.actor.to_string(),
                reason: t.reason.to_string(),
                until: t.until,
                by: t.by.as_ref().map(Suppressor::to_record),
            },
            Write::Silence(s) => AlertChange::Silence(s.clone()),
            Write::Note(n) => AlertChange::Note {
                id: n.id,
                at: n.at,
                author: n.author.clone(),
                text: n.text.clone(),
                state: n.state,
            },
            Write::Assign(a) => AlertChange::Assign {
                id: a.id,
                at: a.at,
                actor: a.actor.clone(),
                assignee: a.assignee.clone(),
                state: a.state,
            },
        }
    }
}

/// What the lifecycle manager keeps in RAM of a non-closed alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertIndex {
    pub id: i64,
    pub fingerprint: String,
    pub state: State,
    pub source: Source,
    pub severity: String,
    /// The alert's labels (for stream filters).
    pub labels: BTreeMap<String, String>,
    /// Its annotations (a threshold rule's `suppression_rules` are among them).
    pub annotations: BTreeMap<String, String>,
    /// Its latest one-line summary.
    pub message: String,
    pub occurrences: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
    pub suppressed_until: Option<i64>,
    pub suppressed_by: Option<String>,
    pub ends_at: Option<i64>,
}

/// One alert with everything that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertDetail {
    pub alert: StoredAlert,
    /// Oldest first.
    pub events: Vec<AlertEvent>,
    /// Newest first, at most the number asked for.
    pub occurrences: Vec<Occurrence>,
    /// Oldest first.
    pub notes: Vec<Note>,
}

/// Filters of the alert history. Every given filter must hold.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Cursor: only alerts with a smaller id.
    pub before_id: Option<i64>,
    /// Any of these states.
    pub states: Vec<State>,
    /// Any of these severities.
    pub severities: Vec<String>,
    /// The alert's name (rule id or alertname).
    pub name: Option<String>,
    pub source: Option<Source>,
    /// Every (label, value) must match exactly.
    pub labels: Vec<(String, String)>,
    /// Case-insensitive substring of the name, summary or any label value.
    pub text: Option<String>,
    /// first_seen in [from, to) (epoch ms).
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// At most this many (1 to 1,000).
    pub limit: usize,
}

/// Counts of alerts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub total: u64,
    /// Every state, zero included.
    pub by_state: BTreeMap<State, u64>,
    /// Open alerts (pending, active, acknowledged, suppressed) by severity.
    pub open_by_severity: BTreeMap<String, u64>,
}

/// Response times over a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Performance {
    /// Alerts first seen in the period.
    pub alerts: u64,
    pub acknowledged: u64,
    pub resolved: u64,
    /// Mean time to acknowledge (first_seen → acknowledged_at), ms.
    pub mtta_ms: Option<f64>,
    /// Mean time to resolve (first_seen → resolved_at), ms.
    pub mttr_ms: Option<f64>,
}

/// Which trends to count.
#[derive(Debug, Clone)]
pub struct TrendQuery {
    pub from: i64,
    pub to: i64,
    /// Bucket width in ms (buckets start at multiples of it).
    pub bucket_ms: i64,
}

/// Alerts first seen in one bucket with one severity and name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendBucket {
    /// Bucket start, epoch ms.
    pub start: i64,
    pub severity: String,
    pub name: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use klaxon_engine::lifecycle::{Occur, Transition};

    use super::*;

    /// A lifecycle write becomes the store's change field for field: what holds a suppressed
    /// alert in its recorded form, shared text owned.
    #[test]
    fn writes_map_field_for_field() {
        let t = Write::Transition(Arc::new(Transition {
            id: 7,
            from: State::Active,
            to: State::Suppressed,
            at: 10,
            actor: Cow::Borrowed("silence"),
            reason: Cow::Owned("silenced by s1 (disks)".to_owned()),
            until: Some(20),
            by: Some(Suppressor::Silence(Arc::from("s1"))),
        }));
        assert_eq!(
            AlertChange::from(&t),
            AlertChange::Transition {
                id: 7,
                from: State::Active,
                to: State::Suppressed,
                at: 10,
                actor: "silence".to_owned(),
                reason: "silenced by s1 (disks)".to_owned(),
                until: Some(20),
                by: Some("silence:s1".to_owned()),
            }
        );
        let annotations: BTreeMap<String, String> =
            [("runbook".to_owned(), "wiki".to_owned())].into();
        let o = Write::Occur(Occur {
            id: 7,
            at: 30,
            occurrences: 3,
            summary: Arc::from("disk full"),
            severity: Arc::from("high"),
            annotations: Arc::new(annotations.clone()),
            ends_at: None,
            occurrence: klaxon_engine::lifecycle::Occurrence {
                at: 29,
                value: Some(1.5),
                message: Arc::from("disk full"),
            },
            log: false,
        });
        assert_eq!(
            AlertChange::from(&o),
            AlertChange::Occur {
                id: 7,
                at: 30,
                occurrences: 3,
                summary: "disk full".to_owned(),
                severity: "high".to_owned(),
                annotations,
                ends_at: None,
                occurrence: Occurrence {
                    at: 29,
                    value: Some(1.5),
                    message: "disk full".to_owned(),
                },
                log: false,
            }
        );
    }
}
