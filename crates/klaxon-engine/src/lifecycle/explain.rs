//! Why an alert is quiet, told in full for `GET /alerts/{id}`: its suppression with the
//! silence or window behind it, every inhibition (everywhere and per route), its flap count.
//! Read-only.

use super::machine::Lifecycle;
use super::mute::Inhibited;
use super::record::Suppressor;
use super::table::State;
use crate::noise::MatcherSpec;

/// What [`Lifecycle::explain`] answers of a held alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// What the lifecycle holds now, ahead of the store by at most the quiet flush.
    pub state: State,
    pub occurrences: u64,
    pub last_seen: i64,
    pub ends_at: Option<i64>,
    pub suppressed: Option<Suppressed>,
    /// By rules that apply everywhere first, then by each route's scoped rules.
    pub inhibited: Vec<Inhibited>,
    pub flapping: Flapping,
}

/// What suppresses an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Suppressed {
    Silence {
        id: String,
        until: Option<i64>,
        /// `None` when the silence is gone.
        comment: Option<String>,
        created_by: Option<String>,
        /// As written: `name="value"`, `name=~"regex"`, …
        matchers: Vec<String>,
    },
    Maintenance {
        window: String,
        until: Option<i64>,
    },
    /// By hand, before suppression was a silence.
    Manual {
        until: Option<i64>,
    },
}

/// An alert's flap count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flapping {
    pub flapping: bool,
    /// Changes between firing and not firing within the window.
    pub changes: usize,
    /// `None`: detection is off.
    pub limit: Option<usize>,
    pub window_ms: Option<i64>,
    /// When it will be stable if nothing else changes.
    pub stable_at: Option<i64>,
}

impl Lifecycle {
    /// Why held alert `id` is or is not quiet at `now` (`None`: not held).
    pub fn explain(&self, now: i64, id: i64) -> Option<Explanation> {
        let e = self.alerts.get(&id)?;
        let suppressed = match &e.suppressed_by {
            Some(Suppressor::Silence(s)) => {
                let silence = self.muting.silences.get(s);
                Some(Suppressed::Silence {
                    id: s.to_string(),
                    until: e.suppressed_until,
                    comment: silence.map(|s| s.comment.clone()),
                    created_by: silence.map(|s| s.created_by.clone()),
                    matchers: silence.map_or_else(Vec::new, |s| {
                        s.matchers.iter().map(MatcherSpec::display).collect()
                    }),
                })
            }
            Some(Suppressor::Maintenance(w)) => Some(Suppressed::Maintenance {
                window: w.to_string(),
                until: e.suppressed_until,
            }),
            None if e.state == State::Suppressed => Some(Suppressed::Manual {
                until: e.suppressed_until,
            }),
            None => None,
        };
        let (everywhere, routes) = self.muting.inhibition(id, &e.labels);
        let (flapping, changes) = self.muting.flaps.status(id, now);
        let settings = self.muting.flaps.settings();
        Some(Explanation {
            state: e.state,
            occurrences: e.occurrences,
            last_seen: e.last_seen,
            ends_at: e.ends_at,
            suppressed,
            inhibited: everywhere.into_iter().chain(routes).collect(),
            flapping: Flapping {
                flapping,
                changes,
                limit: settings.map(|s| s.changes),
                window_ms: settings.map(|s| s.window_ms),
                stable_at: self.muting.flaps.stable_at(id, now),
            },
        })
    }
}
