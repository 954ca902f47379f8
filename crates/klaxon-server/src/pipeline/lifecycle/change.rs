//! A committed lifecycle change as the server publishes it: the core's change with its JSON
//! line for the alert streams, rendered once on the manager's task. Data mapping only.

use std::sync::Arc;

use klaxon_engine::lifecycle::{self as core, Labels, Mute, Notice, State, Transition};
use klaxon_engine::timestamp::format_ts;
use klaxon_store::StoredAlert;
use serde_json::json;

use crate::wire::alert_json;

/// A committed lifecycle change, as streams and the dispatcher see it.
#[derive(Debug)]
pub(crate) struct Change {
    pub alert_id: i64,
    pub severity: String,
    pub state: State,
    /// The alert's labels, for stream filters.
    pub labels: Arc<Labels>,
    /// The line `/alerts/stream` sends (empty for `muted`, which the streams do not tell).
    pub json: String,
    /// The change as data, for the notification dispatcher.
    pub detail: Detail,
    /// Why the alert is quiet after this change, as the lifecycle decided (`None`: nothing
    /// mutes it).
    pub mute: Option<Arc<Mute>>,
    /// The last change of one commit: readers that must see a commit whole (the dispatcher,
    /// before it tells anyone) wait for it.
    pub end_of_batch: bool,
}

/// What a change did, typed.
#[derive(Debug, Clone)]
pub(crate) enum Detail {
    /// A new alert, as stored, and its wire JSON (rendered once).
    Created {
        alert: Arc<StoredAlert>,
        json: Arc<str>,
    },
    /// Another firing: the latest summary and count (the severity is the change's).
    Occurrence { summary: Arc<str>, occurrences: u64 },
    /// A state change.
    Transition(Arc<Transition>),
    /// A note or an assignment: nothing a notification tells.
    Other,
    /// Only why the alert is quiet changed ([`Change::mute`]): nothing was written.
    Muted,
    /// A silence that holds alerts ends soon (`[silence_notice]`).
    Notice(Arc<Notice>),
    /// The alert is now in this incident (`None`: in none), committed with the batch: routes
    /// that group by incident move it. The alert itself did not change.
    Incident(Option<i64>),
}

impl Change {
    /// The published form of one of the core's changes.
    pub(crate) fn of(c: &core::Change, end_of_batch: bool) -> Change {
        let id = c.alert_id;
        let (kind, body, detail) = match &c.detail {
            core::Detail::Created(a) => {
                let alert = Arc::<str>::from(alert_json(a).to_string());
                let json = format!("{{\"alert\":{alert},\"kind\":\"created\"}}");
                let detail = Detail::Created {
                    alert: Arc::clone(a),
                    json: alert,
                };
                return Change::with(c, json, detail, end_of_batch);
            }
            core::Detail::Occurrence {
                occurrences,
                last_seen,
                summary,
                ..
            } => (
                "occurrence",
                json!({"id": id, "occurrences": occurrences, "last_seen": last_seen, "summary": &**summary}),
                Detail::Occurrence {
                    summary: Arc::clone(summary),
                    occurrences: *occurrences,
                },
            ),
            core::Detail::Transition(t) => (
                "transition",
                json!({"id": id, "from": t.from, "to": t.to, "actor": &*t.actor, "reason": &*t.reason, "at": t.at}),
                Detail::Transition(Arc::clone(t)),
            ),
            core::Detail::Note(n) => (
                "note",
                json!({"id": id, "author": n.author, "text": n.text, "at": n.at}),
                Detail::Other,
            ),
            core::Detail::Assigned(a) => (
                "assigned",
                json!({"id": id, "actor": a.actor, "assignee": a.assignee, "at": a.at}),
                Detail::Other,
            ),
            core::Detail::Muted => {
                return Change::with(c, String::new(), Detail::Muted, end_of_batch);
            }
            core::Detail::Notice(n) => (
                "notice",
                json!({"silence": n.silence, "ends_at": format_ts(n.ends_at), "alerts": n.alerts, "text": n.text}),
                Detail::Notice(Arc::clone(n)),
            ),
        };
        let mut body = body;
        body["kind"] = json!(kind);
        Change::with(c, body.to_string(), detail, end_of_batch)
    }

    fn with(c: &core::Change, json: String, detail: Detail, end_of_batch: bool) -> Change {
        Change {
            alert_id: c.alert_id,
            severity: c.severity.to_string(),
            state: c.state,
            labels: Arc::clone(&c.labels),
            json,
            detail,
            mute: c.mute.clone(),
            end_of_batch,
        }
    }

    /// An alert's move into an incident (or out of every incident), after the changes of its
    /// commit.
    pub(crate) fn membership(alert_id: i64, incident: Option<i64>, end_of_batch: bool) -> Change {
        Change {
            alert_id,
            severity: String::new(),
            state: State::Active,
            labels: Arc::default(),
            json: json!({"kind": "incident", "id": alert_id, "incident": incident}).to_string(),
            detail: Detail::Incident(incident),
            mute: None,
            end_of_batch,
        }
    }

    /// Whether the alert streams skip it: only why the alert is quiet changed.
    pub(crate) fn unstreamed(&self) -> bool {
        matches!(self.detail, Detail::Muted)
    }
}
