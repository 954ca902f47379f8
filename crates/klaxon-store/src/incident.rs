//! Records of incidents: the incident row, its members (each alert in at most one incident,
//! with the link evidence that put it there), its timeline, the changes that write them (as
//! part of [`crate::AlertChange`], in the same commits as the alert changes that cause them)
//! and the shapes of their reads.

use serde::Serialize;

pub use klaxon_engine::correlate::IncidentState;

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRecord {
    pub id: i64,
    pub title: String,
    /// The highest severity of its open alerts, or set by hand.
    pub priority: String,
    /// Who set the priority by hand (`None`: it follows the alerts).
    pub priority_by: Option<String>,
    pub state: IncidentState,
    pub owner: Option<String>,
    /// Epoch ms.
    pub opened_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    /// The weakest link that holds it together (`None`: one alert, or placed by hand).
    pub confidence: Option<f64>,
}

/// An alert of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub alert_id: i64,
    pub incident_id: i64,
    pub joined_at: i64,
    /// The link that put it there, as JSON (`None` for the alert that opened the incident or
    /// one placed by hand).
    pub link: Option<serde_json::Value>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// Ascending over every incident: the cursor of `GET /incidents/timeline`.
    pub id: i64,
    pub incident_id: i64,
    pub at: i64,
    pub actor: String,
    /// `opened`, `joined`, `left`, `state`, `note`, `merged`, ...
    pub kind: String,
    pub detail: serde_json::Value,
}

/// A change to incidents, committed with alert changes.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    /// Inserts or replaces the incident row.
    Put(IncidentRecord),
    /// Puts an alert into an incident (moving it from any other), or out of every incident
    /// (`incident_id` none).
    Member {
        alert_id: i64,
        incident_id: Option<i64>,
        at: i64,
        link: Option<serde_json::Value>,
    },
    /// Appends a timeline entry.
    Timeline {
        incident_id: i64,
        at: i64,
        actor: String,
        kind: String,
        detail: serde_json::Value,
    },
}

/// Which incidents to list, newest first. Every given filter must hold.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Cursor: only incidents with a smaller id.
    pub before_id: Option<i64>,
    /// Any of these states.
    pub states: Vec<IncidentState>,
    pub priority: Option<String>,
    pub owner: Option<String>,
    /// At most this many (1 to 1,000).
    pub limit: usize,
}

/// An incident with its members and timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentDetail {
    pub incident: IncidentRecord,
    /// By alert id.
    pub members: Vec<Member>,
    /// Oldest first, at most the number asked for (the newest ones).
    pub timeline: Vec<TimelineEntry>,
}
