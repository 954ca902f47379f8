//! The alert states, the transition table of `docs/alerts.md` and the deduplication decision.
//! Pure functions of their arguments: no alert is held here and no time is read.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The states of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Active,
    Acknowledged,
    Suppressed,
    Resolved,
    Closed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Pending,
        State::Active,
        State::Acknowledged,
        State::Suppressed,
        State::Resolved,
        State::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Active => "active",
            State::Acknowledged => "acknowledged",
            State::Suppressed => "suppressed",
            State::Resolved => "resolved",
            State::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Open alerts take new occurrences; resolved and closed ones do not.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            State::Pending | State::Active | State::Acknowledged | State::Suppressed
        )
    }

    /// Firing: its condition holds (open and past pending). Firing alerts inhibit others.
    pub fn is_firing(self) -> bool {
        matches!(
            self,
            State::Active | State::Acknowledged | State::Suppressed
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can happen to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The condition held long enough (pending → active).
    Fire,
    /// A person takes it (active → acknowledged).
    Acknowledge,
    /// The condition cleared or a person resolved it.
    Resolve,
    /// A silence or a person suppresses it (active → suppressed).
    Suppress,
    /// The suppression is lifted (suppressed → active).
    Unsuppress,
    /// It fired again within the reopen window (resolved → active).
    Reopen,
    /// Final (resolved → closed).
    Close,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Fire,
        Action::Acknowledge,
        Action::Resolve,
        Action::Suppress,
        Action::Unsuppress,
        Action::Reopen,
        Action::Close,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Fire => "fire",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
            Action::Suppress => "suppress",
            Action::Unsuppress => "unsuppress",
            Action::Reopen => "reopen",
            Action::Close => "close",
        }
    }
}

/// An action that the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Illegal {
    pub from: State,
    pub action: Action,
}

impl fmt::Display for Illegal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} an alert that is {}",
            self.action.as_str(),
            self.from
        )
    }
}

/// The state `action` moves `from` to, or why it cannot. The documented diagram, plus what a live
/// system needs: a pending alert whose condition clears resolves; an acknowledged or suppressed
/// alert whose condition clears resolves; an acknowledged alert can be suppressed by a silence;
/// a resolved alert that fires again within the reopen window reopens.
pub fn transition(from: State, action: Action) -> Result<State, Illegal> {
    use Action as A;
    use State as S;
    let to = match (from, action) {
        (S::Pending, A::Fire) => S::Active,
        (S::Active, A::Acknowledge) => S::Acknowledged,
        (S::Pending | S::Active | S::Acknowledged | S::Suppressed, A::Resolve) => S::Resolved,
        (S::Active | S::Acknowledged, A::Suppress) => S::Suppressed,
        (S::Suppressed, A::Unsuppress) => S::Active,
        (S::Resolved, A::Reopen) => S::Active,
        (S::Resolved, A::Close) => S::Closed,
        _ => return Err(Illegal { from, action }),
    };
    Ok(to)
}

/// What a new firing of a fingerprint does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// An open alert counts one more occurrence.
    Occurrence,
    /// A resolved alert within the reopen window becomes active again.
    Reopen,
    /// A new alert (none, closed, or resolved longer ago than the window).
    New,
}

/// Decides a firing at `at` against the latest alert of its fingerprint: `(state, resolved_at)`.
/// The window is inclusive: a firing exactly `reopen_window_ms` after resolution reopens.
pub fn dedup(latest: Option<(State, Option<i64>)>, at: i64, reopen_window_ms: i64) -> Dedup {
    match latest {
        Some((s, _)) if s.is_open() => Dedup::Occurrence,
        Some((State::Resolved, Some(resolved_at))) if at - resolved_at <= reopen_window_ms => {
            Dedup::Reopen
        }
        _ => Dedup::New,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_diagram_is_allowed() {
        assert_eq!(transition(State::Pending, Action::Fire), Ok(State::Active));
        assert_eq!(
            transition(State::Active, Action::Acknowledge),
            Ok(State::Acknowledged)
        );
        assert_eq!(
            transition(State::Active, Action::Resolve),
            Ok(State::Resolved)
        );
        assert_eq!(
            transition(State::Acknowledged, Action::Resolve),
            Ok(State::Resolved)
        );
        assert_eq!(
            transition(State::Resolved, Action::Close),
            Ok(State::Closed)
        );
        assert_eq!(
            transition(State::Active, Action::Suppress),
            Ok(State::Suppressed)
        );
        assert_eq!(
            transition(State::Suppressed, Action::Unsuppress),
            Ok(State::Active)
        );
    }

    #[test]
    fn illegal_transitions_say_where_from() {
        let e = transition(State::Resolved, Action::Acknowledge).expect_err("illegal");
        assert_eq!(e.from, State::Resolved);
        assert_eq!(
            e.to_string(),
            "cannot acknowledge an alert that is resolved"
        );
        assert!(transition(State::Acknowledged, Action::Acknowledge).is_err());
        assert!(transition(State::Pending, Action::Acknowledge).is_err());
        for a in Action::ALL {
            assert!(transition(State::Closed, a).is_err(), "closed is final");
        }
    }

    #[test]
    fn states_never_move_backwards_to_pending() {
        for s in State::ALL {
            for a in Action::ALL {
                assert_ne!(transition(s, a).ok(), Some(State::Pending));
            }
        }
    }

    #[test]
    fn dedup_by_state_and_window() {
        assert_eq!(dedup(None, 0, 300_000), Dedup::New);
        assert_eq!(
            dedup(Some((State::Acknowledged, None)), 0, 300_000),
            Dedup::Occurrence
        );
        assert_eq!(
            dedup(Some((State::Resolved, Some(1_000))), 301_000, 300_000),
            Dedup::Reopen
        );
        assert_eq!(
            dedup(Some((State::Resolved, Some(1_000))), 301_001, 300_000),
            Dedup::New
        );
        assert_eq!(
            dedup(Some((State::Closed, Some(1_000))), 1_001, 300_000),
            Dedup::New
        );
    }
}
