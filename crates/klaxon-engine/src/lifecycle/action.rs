//! What people do to alerts: acknowledge, resolve, close, suppress (a silence on the alert's
//! labels) and unsuppress (expiring that silence), notes and assignments. Actions on an alert
//! that is not held (closed) are answered from what the store says, which the caller asks for
//! when told [`Refusal::NotHeld`].

use std::sync::Arc;

use super::effect::{Change, Detail, Effects};
use super::input::{Act, Done, Refusal, SilenceRefusal};
use super::machine::Lifecycle;
use super::record::{Assignment, NoteRecord, Suppressor, Write};
use super::table::{transition, Action, State};
use crate::noise::{MatcherSpec, Silence};

fn illegal(current: State, message: String) -> Refusal {
    Refusal::Illegal { current, message }
}

impl Lifecycle {
    /// Why an alert that is not held cannot be acted on.
    fn not_held(&self, id: i64, stored: Option<State>) -> Refusal {
        match stored {
            Some(state) => illegal(state, format!("the alert is {state}")),
            None if id <= 0 || id >= self.next_id => Refusal::NotFound,
            None => Refusal::NotHeld,
        }
    }

    pub(super) fn act(
        &mut self,
        now: i64,
        id: i64,
        act: Act,
        (actor, reason): (&str, &str),
        stored: Option<State>,
        fx: &mut Effects,
    ) -> Result<Done, Refusal> {
        if !self.alerts.contains_key(&id) {
            return Err(self.not_held(id, stored));
        }
        let action = match act {
            Act::Acknowledge => Action::Acknowledge,
            Act::Resolve => Action::Resolve,
            Act::Close => Action::Close,
            Act::Suppress { until } => {
                return self.suppress_by_hand(now, id, until, (actor, reason), fx)
            }
            Act::Unsuppress => return self.unsuppress_by_hand(now, id, (actor, reason), fx),
        };
        let (actor, reason) = (actor.to_owned().into(), reason.to_owned().into());
        self.move_to(now, id, action, actor, reason, None, fx)
    }

    /// The state a note or an assignment is recorded with.
    fn state_for(&self, id: i64, stored: Option<State>) -> Result<State, Refusal> {
        match (self.state_of(id), stored) {
            (Some(state), _) | (None, Some(state)) => Ok(state),
            (None, None) => Err(self.not_held(id, None)),
        }
    }

    /// A change about `id` with the state it is recorded in (the store's, when not held).
    fn change_in(&self, id: i64, state: State, detail: Detail) -> Change {
        Change {
            state,
            ..self.change(id, detail)
        }
    }

    pub(super) fn note(
        &mut self,
        now: i64,
        id: i64,
        author: &str,
        text: &str,
        stored: Option<State>,
        fx: &mut Effects,
    ) -> Result<(), Refusal> {
        let state = self.state_for(id, stored)?;
        let n = Arc::new(NoteRecord {
            id,
            at: now,
            author: author.to_owned(),
            text: text.to_owned(),
            state,
        });
        let change = self.change_in(id, state, Detail::Note(Arc::clone(&n)));
        fx.push(Some(Write::Note(n)), change);
        Ok(())
    }

    pub(super) fn assign(
        &mut self,
        now: i64,
        id: i64,
        actor: &str,
        assignee: Option<&str>,
        stored: Option<State>,
        fx: &mut Effects,
    ) -> Result<(), Refusal> {
        let state = self.state_for(id, stored)?;
        let a = Arc::new(Assignment {
            id,
            at: now,
            actor: actor.to_owned(),
            assignee: assignee.map(str::to_owned),
            state,
        });
        let change = self.change_in(id, state, Detail::Assigned(Arc::clone(&a)));
        fx.push(Some(Write::Assign(a)), change);
        Ok(())
    }

    /// `suppress`: a silence on every label of the alert, until `until`, by the person, with
    /// the reason as its comment.
    fn suppress_by_hand(
        &mut self,
        now: i64,
        id: i64,
        until: i64,
        (actor, reason): (&str, &str),
        fx: &mut Effects,
    ) -> Result<Done, Refusal> {
        let (from, labels) = match self.alerts.get(&id) {
            Some(e) => (e.state, Arc::clone(&e.labels)),
            None => return Err(Refusal::NotHeld),
        };
        transition(from, Action::Suppress).map_err(|i| illegal(from, i.to_string()))?;
        let matchers = labels
            .iter()
            .map(|(k, v)| MatcherSpec {
                name: k.clone(),
                value: v.clone(),
                is_regex: false,
                is_equal: true,
            })
            .collect();
        let silence = Silence {
            id: String::new(),
            matchers,
            starts_at: now,
            ends_at: until,
            created_by: actor.to_owned(),
            comment: format!("alert {id}: {reason}"),
            updated_at: now,
        };
        match self.upsert_silence(now, silence, fx) {
            Ok(_) => {}
            Err(SilenceRefusal::Invalid(m)) => return Err(illegal(from, m)),
            Err(SilenceRefusal::NotFound) => return Err(Refusal::NotHeld),
        }
        let to = self.state_of(id).unwrap_or(from);
        Ok(Done { id, from, to })
    }

    /// `unsuppress`: expires the silence that holds the alert (a window cannot be lifted by
    /// hand: the refusal says which holds it).
    fn unsuppress_by_hand(
        &mut self,
        now: i64,
        id: i64,
        (actor, reason): (&str, &str),
        fx: &mut Effects,
    ) -> Result<Done, Refusal> {
        let (from, by) = match self.alerts.get(&id) {
            Some(e) => (e.state, e.suppressed_by.clone()),
            None => return Err(Refusal::NotHeld),
        };
        transition(from, Action::Unsuppress).map_err(|i| illegal(from, i.to_string()))?;
        let lifted = match by {
            Some(Suppressor::Maintenance(w)) => {
                let why = format!("maintenance window {w} holds it until it closes");
                return Err(illegal(from, why));
            }
            Some(Suppressor::Silence(s)) => self.expire_silence(now, &s, fx).is_ok(),
            None => false,
        };
        if lifted {
            // A silence that had already run out expires nothing: settle the alert now.
            self.reconsider(now, id, fx);
        } else {
            let (actor, reason) = (actor.to_owned().into(), reason.to_owned().into());
            self.move_to(now, id, Action::Unsuppress, actor, reason, None, fx)?;
        }
        let to = self.state_of(id).unwrap_or(from);
        Ok(Done { id, from, to })
    }
}
