//! `IncidentState`: the states of an incident, one type wherever an incident's state travels
//! (store records, API filters, streams); text only as its lowercase name. Data only.

use serde::Serialize;

/// Where an incident is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// Opened, nobody on it yet.
    Open,
    /// Acknowledged: someone is on it.
    Investigating,
    /// Resolved under the resolve policy, or by hand.
    Resolved,
    /// Takes no more alerts (resolved past its reopen window, merged into another, or closed).
    Closed,
    /// An alert joined it after it resolved, within its reopen window.
    Reopened,
}

impl IncidentState {
    pub const ALL: [IncidentState; 5] = [
        IncidentState::Open,
        IncidentState::Investigating,
        IncidentState::Resolved,
        IncidentState::Closed,
        IncidentState::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Investigating => "investigating",
            IncidentState::Resolved => "resolved",
            IncidentState::Closed => "closed",
            IncidentState::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<IncidentState> {
        IncidentState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Open, investigating or reopened: something is still wrong.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            IncidentState::Open | IncidentState::Investigating | IncidentState::Reopened
        )
    }
}

impl std::fmt::Display for IncidentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
