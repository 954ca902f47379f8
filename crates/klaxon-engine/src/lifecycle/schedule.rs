//! What comes due: the lifecycle's timers armed for each alert's state (close after
//! resolution, a suppression running out, auto-resolve and the resolve timeout) and
//! [`Lifecycle::advance`], which validates each entry of the deadline set when it comes due
//! (the alert may have moved on) and acts, arming again what moved later.

use std::borrow::Cow;

use super::effect::Effects;
use super::machine::{Entry, Lifecycle};
use super::record::Source;
use super::table::{Action, State};
use super::timer::Due;

impl Lifecycle {
    /// The earliest deadline; [`Lifecycle::advance`] at any instant after it does something.
    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.next_deadline()
    }

    /// Runs every timer strictly past due at `now`: closes, suppressions that ran out,
    /// auto-resolves, flapping that became stable, silences and windows that changed, the
    /// flush of quiet occurrences.
    pub fn advance(&mut self, now: i64, fx: &mut Effects) {
        while let Some(t) = self.timers.pop_due(now) {
            match t.due {
                Due::Noise => {
                    if self.noise_at == Some(t.at) {
                        self.noise_at = None;
                        self.reconsider_all(now, fx);
                    }
                }
                Due::Flush => {
                    if self.flush_at == Some(t.at) {
                        self.flush_at = None;
                        self.flush_quiet(fx);
                    }
                }
                Due::Close(id) => {
                    let due = self.alerts.get(&id).is_some_and(|e| {
                        e.state == State::Resolved
                            && e.resolved_at.is_some_and(|r| {
                                r.saturating_add(self.settings.close_after_ms) < now
                            })
                    });
                    if due {
                        let why = Cow::Borrowed("closed after resolution");
                        let _ =
                            self.move_to(now, id, Action::Close, "system".into(), why, None, fx);
                    }
                }
                Due::Unsuppress(id) => {
                    let due = self.alerts.get(&id).is_some_and(|e| {
                        e.state == State::Suppressed && e.suppressed_until.is_some_and(|u| u < now)
                    });
                    if due {
                        self.reconsider(now, id, fx);
                    }
                }
                Due::AutoResolve(id) => self.auto_resolve(now, id, t.at, fx),
                Due::Stable(id) => {
                    if self.refresh_mute(id, now) {
                        self.push_muted(id, fx);
                    }
                    let later = self.muting.flaps.stable_at(id, now);
                    if let Some(at) = later.filter(|_| self.alerts.contains_key(&id)) {
                        self.timers.arm(at, Due::Stable(id));
                    }
                }
            }
        }
    }

    fn auto_resolve(&mut self, now: i64, id: i64, at: i64, fx: &mut Effects) {
        let Some(e) = self.alerts.get(&id).filter(|e| e.auto_at == Some(at)) else {
            return;
        };
        let next = self.auto_resolve_at(e);
        let reason = match e.source {
            Source::Alertmanager if e.ends_at.is_some() => "endsAt passed",
            Source::Alertmanager => "resolve timeout: not sent again",
            _ => "auto-resolve: no new firing",
        };
        let actor = e.source.as_str();
        if let Some(e) = self.alerts.get_mut(&id) {
            e.auto_at = next.filter(|d| *d >= now);
        }
        match next {
            Some(d) if d < now => {
                let _ = self.move_to(
                    now,
                    id,
                    Action::Resolve,
                    actor.into(),
                    reason.into(),
                    None,
                    fx,
                );
            }
            Some(d) => self.timers.arm(d, Due::AutoResolve(id)),
            None => {}
        }
    }

    /// Arms what the alert's state waits for.
    pub(super) fn schedule(&mut self, id: i64) {
        let Some(e) = self.alerts.get(&id) else {
            return;
        };
        match e.state {
            State::Resolved => {
                if let Some(r) = e.resolved_at {
                    let at = r.saturating_add(self.settings.close_after_ms);
                    self.timers.arm(at, Due::Close(id));
                }
            }
            State::Suppressed => {
                if let Some(u) = e.suppressed_until.filter(|&u| u < i64::MAX) {
                    self.timers.arm(u, Due::Unsuppress(id));
                }
            }
            _ => {}
        }
        self.schedule_auto_resolve(id);
    }

    pub(super) fn auto_resolve_at(&self, e: &Entry) -> Option<i64> {
        if !e.state.is_open() {
            return None;
        }
        match e.source {
            Source::Alertmanager => Some(
                e.ends_at
                    .unwrap_or(e.last_seen.saturating_add(self.settings.resolve_timeout_ms)),
            ),
            Source::Rule => e
                .auto_resolve_ms
                .or(self.settings.rule_auto_resolve_ms)
                .map(|ms| e.last_seen.saturating_add(ms)),
            Source::Threshold | Source::Api => None,
        }
    }

    /// Arms the alert's auto-resolve unless an earlier check is armed already: a check that
    /// comes due early finds the new deadline and arms that.
    pub(super) fn schedule_auto_resolve(&mut self, id: i64) {
        let Some(at) = self.alerts.get(&id).and_then(|e| self.auto_resolve_at(e)) else {
            return;
        };
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        if e.auto_at.is_none_or(|old| at < old) {
            e.auto_at = Some(at);
            self.timers.arm(at, Due::AutoResolve(id));
        }
    }
}
