//! What the lifecycle writes: alert records and the changes to them, shaped as the store takes
//! them (one [`Write`] is one store change, in order, in one commit), and what it reads back at
//! start ([`Restored`]). Data only: no decisions here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::table::State;
use crate::noise::Silence;

/// Labels and annotations.
pub type Labels = BTreeMap<String, String>;

/// Who or what did something (a token's name, `engine`, `system`, `silence`, a source).
pub type Actor = Cow<'static, str>;

/// Where an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An event rule of the engine.
    Rule,
    /// A threshold rule on metric samples.
    Threshold,
    /// An Alertmanager API v2 client (Prometheus, Grafana, vmalert).
    Alertmanager,
    /// Created by hand through `POST /alerts/create`.
    Api,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Rule,
        Source::Threshold,
        Source::Alertmanager,
        Source::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rule => "rule",
            Source::Threshold => "threshold",
            Source::Alertmanager => "alertmanager",
            Source::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// What holds a suppressed alert, recorded as `silence:<id>` or `maintenance:<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Suppressor {
    Silence(Arc<str>),
    Maintenance(Arc<str>),
}

impl Suppressor {
    /// The stored form.
    pub fn to_record(&self) -> String {
        match self {
            Suppressor::Silence(id) => format!("silence:{id}"),
            Suppressor::Maintenance(w) => format!("maintenance:{w}"),
        }
    }

    /// Reads the stored form (`None` for anything else, such as the older `manual`).
    pub fn parse(s: &str) -> Option<Suppressor> {
        match s.split_once(':')? {
            ("silence", id) => Some(Suppressor::Silence(Arc::from(id))),
            ("maintenance", w) => Some(Suppressor::Maintenance(Arc::from(w))),
            _ => None,
        }
    }
}

/// A whole alert, as a new alert is inserted. Engine-rule alerts fill the rule columns
/// (`group` … `engine_ts`); alerts from elsewhere leave them empty (`""`, `0`, `None`) and
/// carry `labels` and `annotations`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    pub id: i64,
    /// 16 hex digits.
    pub fingerprint: String,
    pub state: State,
    pub source: Source,
    /// `alertname` for labelled alerts, the rule id for engine alerts.
    pub name: String,
    pub labels: Labels,
    pub annotations: Labels,
    /// Epoch ms of the first firing.
    pub first_seen: i64,
    /// Epoch ms of the latest firing.
    pub last_seen: i64,
    pub occurrences: u64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
    pub closed_at: Option<i64>,
    pub suppressed_until: Option<i64>,
    /// [`Suppressor::to_record`].
    pub suppressed_by: Option<String>,
    pub assignee: Option<String>,
    /// Alertmanager `endsAt` (epoch ms) when the sender gave one.
    pub ends_at: Option<i64>,
    pub generator_url: Option<String>,
    pub updated_at: i64,
    pub group: String,
    pub rule_set: String,
    pub rule_set_version: Option<serde_json::Number>,
    pub rule_id: String,
    pub trigger: String,
    pub operator: String,
    pub severity: String,
    pub handler: String,
    pub process: String,
    pub process_name: String,
    pub scope: String,
    pub action: String,
    pub context: Option<String>,
    pub action_count: u64,
    pub value: Option<f64>,
    pub limit: Option<f64>,
    pub signal_ts: i64,
    pub engine_ts: i64,
    pub message: String,
    /// When it was committed (epoch ms, the lifecycle's `now`).
    pub created_at: i64,
}

/// One firing, as the occurrence log records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence {
    /// Epoch ms (the firing's signal time or the sample time).
    pub at: i64,
    pub value: Option<f64>,
    pub message: Arc<str>,
}

/// Another firing of an open alert: its counts and latest content (no event).
#[derive(Debug, Clone, PartialEq)]
pub struct Occur {
    pub id: i64,
    /// The alert's `last_seen`.
    pub at: i64,
    pub occurrences: u64,
    pub summary: Arc<str>,
    pub severity: Arc<str>,
    pub annotations: Arc<Labels>,
    pub ends_at: Option<i64>,
    pub occurrence: Occurrence,
    /// Whether `occurrence` goes into the occurrence log (the counts are written either way).
    pub log: bool,
}

/// A state change with its event. From = to (`suppressed`) when another silence or window
/// takes over holding an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub id: i64,
    pub from: State,
    pub to: State,
    pub at: i64,
    pub actor: Actor,
    pub reason: Cow<'static, str>,
    /// To suppressed: until when.
    pub until: Option<i64>,
    /// To suppressed: what holds it.
    pub by: Option<Suppressor>,
}

/// A note on an alert, with its event (from = to = `state`).
#[derive(Debug, Clone, PartialEq)]
pub struct NoteRecord {
    pub id: i64,
    pub at: i64,
    pub author: String,
    pub text: String,
    pub state: State,
}

/// An assignee set or cleared, with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub assignee: Option<String>,
    pub state: State,
}

/// One change to commit; a batch's writes go into one transaction, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A new alert (id chosen), its `created` event and its first occurrence.
    Insert {
        alert: Arc<AlertRecord>,
        actor: Actor,
        reason: Cow<'static, str>,
        occurrence: Occurrence,
    },
    Occur(Occur),
    Transition(Arc<Transition>),
    /// A silence, new or changed (an expired one is kept, with its end).
    Silence(Silence),
    Note(Arc<NoteRecord>),
    Assign(Arc<Assignment>),
}

impl Write {
    /// The alert it changes (`None` for a silence).
    pub fn alert_id(&self) -> Option<i64> {
        match self {
            Write::Insert { alert, .. } => Some(alert.id),
            Write::Occur(o) => Some(o.id),
            Write::Transition(t) => Some(t.id),
            Write::Silence(_) => None,
            Write::Note(n) => Some(n.id),
            Write::Assign(a) => Some(a.id),
        }
    }
}

/// A non-closed alert as the store gives it back at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Restored {
    pub id: i64,
    /// 16 hex digits.
    pub fingerprint: String,
    pub state: State,
    pub source: Source,
    pub severity: String,
    pub labels: Labels,
    pub annotations: Labels,
    /// Its latest summary.
    pub message: String,
    pub occurrences: u64,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
    pub suppressed_until: Option<i64>,
    /// As stored ([`Suppressor::to_record`]).
    pub suppressed_by: Option<String>,
    pub ends_at: Option<i64>,
    /// Its event rule's `auto_resolve_seconds` in ms, as the active rules say now.
    pub auto_resolve_ms: Option<i64>,
}
