//! What the lifecycle is asked ([`Input`]) and what it answers ([`Answer`]). Inputs borrow what
//! they can; an answer is given to the caller at once but means nothing to the outside world
//! until the batch's writes are committed.

use std::fmt;

use super::key::label_key;
use super::record::{Labels, Source};
use super::table::State;
use crate::noise::Silence;
use crate::threshold::ThresholdEvent;
use crate::Alert;

/// One thing that happened, for [`super::Lifecycle::apply`].
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// An event rule fired.
    Fired(&'a Alert),
    /// A threshold alert changed (pending, firing, resolved, cancelled).
    Threshold(&'a ThresholdEvent),
    /// An alert with labels (Alertmanager clients, the API).
    Labelled(&'a Labelled),
    /// Resends reduced to numbers, as the sender's request parsed them: the quiet ones are
    /// taken; the answer says which, and the caller sends the rest as [`Input::Labelled`].
    Resends(&'a [Resend]),
    /// A person acts on an alert. `stored`: the state the store holds for an alert the
    /// lifecycle answered [`Refusal::NotHeld`] about (`None` on the first asking).
    Act {
        id: i64,
        act: Act,
        actor: &'a str,
        reason: &'a str,
        stored: Option<State>,
    },
    Note {
        id: i64,
        author: &'a str,
        text: &'a str,
        stored: Option<State>,
    },
    /// `None` unassigns.
    Assign {
        id: i64,
        actor: &'a str,
        assignee: Option<&'a str>,
        stored: Option<State>,
    },
    /// Create a silence (empty id) or change one.
    UpsertSilence(&'a Silence),
    /// Expire a silence now.
    ExpireSilence(&'a str),
}

/// What a person does to one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Acknowledge,
    Resolve,
    /// A silence on the alert's labels until this time (epoch ms).
    Suppress {
        until: i64,
    },
    /// Lifts the silence that holds it.
    Unsuppress,
    Close,
}

/// An alert that comes with labels (Alertmanager clients, threshold rules, the API).
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub source: Source,
    /// [`super::key::label_key`] of the labels, or the threshold rule's fingerprint.
    pub fingerprint: u64,
    pub labels: Labels,
    pub annotations: Labels,
    pub severity: String,
    pub summary: String,
    /// When it started (epoch ms).
    pub starts_at: i64,
    /// When the sender says it ends; at or before `now`: resolved.
    pub ends_at: Option<i64>,
    pub generator_url: Option<String>,
    pub value: Option<f64>,
    /// Pending rather than firing (a threshold rule before `for` has passed).
    pub pending: bool,
    /// The rule behind it, for alerts klaxon's own rules raise.
    pub rule: Option<RuleRef>,
    /// Why it ends, when `ends_at` resolves it (recorded on the transition).
    pub end_reason: Option<String>,
    /// Receivers named directly (a threshold rule's `notification_channels`).
    pub receivers: Vec<String>,
}

impl Labelled {
    /// A firing alert identified by its label set (as Alertmanager clients and the API send
    /// them): no rule behind it, no `endsAt`, no value.
    pub fn of_labels(
        source: Source,
        labels: Labels,
        annotations: Labels,
        (severity, summary): (&str, &str),
        starts_at: i64,
    ) -> Labelled {
        Labelled {
            source,
            fingerprint: label_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            labels,
            annotations,
            severity: severity.to_owned(),
            summary: summary.to_owned(),
            starts_at,
            ends_at: None,
            generator_url: None,
            value: None,
            pending: false,
            rule: None,
            end_reason: None,
            receivers: Vec::new(),
        }
    }
}

/// The rule that raised a labelled alert.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRef {
    pub group: String,
    pub rule_set: String,
    pub rule_set_version: Option<serde_json::Number>,
    pub rule_id: String,
    /// The operator and aggregation, as `greater_than avg`.
    pub operator: String,
    pub limit: Option<f64>,
    /// Receivers the rule names, comma-separated.
    pub handler: String,
}

/// A labelled alert reduced to what tells whether it is a quiet resend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resend {
    /// [`super::key::label_key`] of its labels.
    pub fingerprint: u64,
    /// [`super::key::ContentKeys::key`] of its severity, summary and annotations.
    pub content: u64,
    pub ends_at: Option<i64>,
}

/// The answer to one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The alert a firing landed on (`None`: an end of nothing), and whether it was quiet:
    /// nothing of it is published before the next flush (its occurrence waits in RAM).
    Firing {
        id: Option<i64>,
        quiet: bool,
    },
    /// Per resend, whether it was taken.
    Taken(Vec<bool>),
    Act(Result<Done, Refusal>),
    /// A note or an assignment.
    Unit(Result<(), Refusal>),
    /// The silence's id.
    Silence(Result<String, SilenceRefusal>),
}

/// A person's action that went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub id: i64,
    pub from: State,
    /// The state after everything the action caused (a silence may hold it at once).
    pub to: State,
}

/// Why an action on an alert was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No alert ever had this id.
    NotFound,
    /// Not held in RAM (closed, or gone): only the store knows it. Ask the store, then apply
    /// the same input again with `stored` set (or answer not found if the store has none).
    NotHeld,
    /// The state machine does not allow it from `current` (409 `illegal_transition`).
    Illegal { current: State, message: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotFound => f.write_str("no such alert"),
            Refusal::NotHeld => f.write_str("the alert is not held; ask the store"),
            Refusal::Illegal { message, .. } => f.write_str(message),
        }
    }
}

/// Why a silence request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceRefusal {
    NotFound,
    Invalid(String),
}
