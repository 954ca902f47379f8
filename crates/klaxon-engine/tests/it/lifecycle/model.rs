//! A stand-in for the store: the lifecycle's writes applied as the store applies them, refusing
//! what the store would refuse (a transition from a state the alert is not in, or one the
//! table does not allow), and answering what the store answers (an alert's state).

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::{transition, Action, Restored, State, Write};
use klaxon_engine::noise::Silence;

/// The store as the lifecycle's writes leave it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Model {
    pub open: BTreeMap<i64, Restored>,
    pub closed: BTreeMap<i64, State>,
    pub silences: BTreeMap<String, Silence>,
    pub max_id: i64,
}

impl Model {
    /// Applies one write as the store would, refusing what it would refuse.
    pub(crate) fn apply(&mut self, w: &Write) {
        match w {
            Write::Insert { alert, .. } => {
                assert!(
                    alert.id > self.max_id,
                    "ids grow: {} after {}",
                    alert.id,
                    self.max_id
                );
                self.max_id = alert.id;
                self.open.insert(
                    alert.id,
                    Restored {
                        id: alert.id,
                        fingerprint: alert.fingerprint.clone(),
                        state: alert.state,
                        source: alert.source,
                        severity: alert.severity.clone(),
                        labels: alert.labels.clone(),
                        annotations: alert.annotations.clone(),
                        message: alert.message.clone(),
                        occurrences: alert.occurrences,
                        last_seen: alert.last_seen,
                        resolved_at: None,
                        suppressed_until: None,
                        suppressed_by: None,
                        ends_at: alert.ends_at,
                        auto_resolve_ms: None,
                    },
                );
            }
            Write::Occur(o) => {
                let a = self
                    .open
                    .get_mut(&o.id)
                    .expect("an occurrence of an open alert");
                a.occurrences = o.occurrences;
                a.last_seen = o.at;
                a.message = o.summary.to_string();
                a.severity = o.severity.to_string();
                a.annotations = (*o.annotations).clone();
                a.ends_at = o.ends_at;
            }
            Write::Transition(tr) => {
                let a = self
                    .open
                    .get_mut(&tr.id)
                    .unwrap_or_else(|| panic!("a transition of #{} that is not open", tr.id));
                assert_eq!(a.state, tr.from, "#{} is not in `from`: {tr:?}", tr.id);
                let legal = (tr.from == State::Suppressed && tr.to == State::Suppressed)
                    || Action::ALL
                        .into_iter()
                        .any(|act| transition(tr.from, act) == Ok(tr.to));
                assert!(legal, "illegal transition written: {tr:?}");
                a.state = tr.to;
                match tr.to {
                    State::Resolved => a.resolved_at = Some(tr.at),
                    State::Closed => {}
                    _ => a.resolved_at = None,
                }
                if tr.to == State::Suppressed {
                    a.suppressed_until = tr.until;
                    a.suppressed_by = tr.by.as_ref().map(|b| b.to_record());
                } else {
                    a.suppressed_until = None;
                    a.suppressed_by = None;
                }
                if tr.to == State::Closed {
                    self.open.remove(&tr.id);
                    self.closed.insert(tr.id, State::Closed);
                }
            }
            Write::Silence(s) => {
                self.silences.insert(s.id.clone(), s.clone());
            }
            Write::Note(n) => assert!(self.knows(n.id), "a note on an unknown alert"),
            Write::Assign(a) => assert!(self.knows(a.id), "an assignment of an unknown alert"),
        }
    }

    fn knows(&self, id: i64) -> bool {
        self.open.contains_key(&id) || self.closed.contains_key(&id)
    }

    /// What the store says of an alert.
    pub(crate) fn state(&self, id: i64) -> Option<State> {
        self.open
            .get(&id)
            .map(|a| a.state)
            .or_else(|| self.closed.get(&id).copied())
    }
}
