//! Silences and maintenance windows, the noise controls that change state: what one holds
//! moves from `active` or `acknowledged` to `suppressed` (recording which silence or window)
//! and back to `active` when nothing holds it any more. Silences are created and expired here,
//! so that they commit with the changes they cause; notices announce a silence's end.

use std::sync::Arc;

use super::effect::{Detail, Effects, Notice};
use super::input::SilenceRefusal;
use super::machine::{Entry, Lifecycle};
use super::record::{Suppressor, Transition, Write};
use super::table::{Action, State};
use super::timer::Due;
use crate::noise::{Silence, SilenceState};
use crate::timestamp::format_ts;

/// What holds an alert now: how it is recorded, until when, and who says so.
struct Hold {
    by: Suppressor,
    until: i64,
    actor: &'static str,
    reason: String,
}

impl Lifecycle {
    /// The silence (first) or open maintenance window that holds `e` at `now`.
    fn hold_of(&self, e: &Entry, now: i64) -> Option<Hold> {
        if let Some(s) = self.muting.silences.muting(&e.labels, now) {
            return Some(Hold {
                by: Suppressor::Silence(Arc::from(s.id.as_str())),
                until: s.ends_at,
                actor: "silence",
                reason: format!("silenced by {} ({})", s.id, s.comment),
            });
        }
        self.muting.windows.iter().next()?;
        let named: Vec<&str> = e.windows.iter().map(|w| &**w).collect();
        let w = self.muting.windows.muting(&e.labels, &named, now)?;
        Some(Hold {
            by: Suppressor::Maintenance(Arc::from(w.name.as_str())),
            until: w.next_change(now).unwrap_or(i64::MAX),
            actor: "maintenance",
            reason: format!("maintenance window {} is open", w.name),
        })
    }

    /// Brings one alert in line with the silences and windows at `now`.
    pub(super) fn reconsider(&mut self, now: i64, id: i64, fx: &mut Effects) {
        let Some(e) = self.alerts.get(&id) else {
            return;
        };
        match e.state {
            State::Active | State::Acknowledged => {
                if let Some(h) = self.hold_of(e, now) {
                    let hold = Some((h.by, h.until));
                    let (actor, reason) = (h.actor.into(), h.reason.into());
                    let _ = self.move_to(now, id, Action::Suppress, actor, reason, hold, fx);
                }
            }
            State::Suppressed => {
                let Some(by) = e.suppressed_by.clone() else {
                    // Suppressed by hand for a time: lifted when the time runs out.
                    if e.suppressed_until.is_some_and(|u| u <= now) {
                        let why = "suppression expired".into();
                        let _ = self.move_to(
                            now,
                            id,
                            Action::Unsuppress,
                            "system".into(),
                            why,
                            None,
                            fx,
                        );
                    }
                    return;
                };
                match self.hold_of(e, now) {
                    Some(h) if h.by == by && Some(h.until) == e.suppressed_until => {}
                    Some(h) => self.resuppress(now, id, h, fx),
                    None => {
                        let why = match by {
                            Suppressor::Silence(s) => format!("silence {s} no longer applies"),
                            Suppressor::Maintenance(w) => format!("maintenance window {w} closed"),
                        };
                        let _ = self.move_to(
                            now,
                            id,
                            Action::Unsuppress,
                            "system".into(),
                            why.into(),
                            None,
                            fx,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// A suppressed alert that another silence or window now holds: the record follows.
    fn resuppress(&mut self, now: i64, id: i64, h: Hold, fx: &mut Effects) {
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        e.suppressed_by = Some(h.by.clone());
        e.suppressed_until = Some(h.until);
        self.schedule(id);
        self.refresh_mute(id, now);
        let t = Arc::new(Transition {
            id,
            from: State::Suppressed,
            to: State::Suppressed,
            at: now,
            actor: h.actor.into(),
            reason: h.reason.into(),
            until: Some(h.until),
            by: Some(h.by),
        });
        let change = self.change(id, Detail::Transition(Arc::clone(&t)));
        fx.push(Some(Write::Transition(t)), change);
    }

    /// Looks at every firing alert again (silences changed, a window opened or closed), in id
    /// order, then arms the next instant at which that is needed.
    pub(super) fn reconsider_all(&mut self, now: i64, fx: &mut Effects) {
        let mut ids = std::mem::take(&mut self.sweep);
        ids.clear();
        ids.extend(
            self.alerts
                .values()
                .filter(|e| e.state.is_firing())
                .map(|e| e.id),
        );
        ids.sort_unstable();
        for &id in &ids {
            self.reconsider(now, id, fx);
        }
        ids.clear();
        self.sweep = ids;
        let next_notice = self.announce(now, fx);
        let next = [
            self.muting.silences.next_change(now),
            self.muting.windows.next_change(now),
            next_notice,
        ]
        .into_iter()
        .flatten()
        .min();
        self.noise_at = next.map(|at| at - 1);
        if let Some(at) = self.noise_at {
            // Strictly past the instant before: at the change itself.
            self.timers.arm(at, Due::Noise);
        }
    }

    /// Announces the active silences that hold alerts and end within the notice time (once
    /// per silence and end); returns when the next notice is due.
    fn announce(&mut self, now: i64, fx: &mut Effects) -> Option<i64> {
        let before = self.muting.notice_before?;
        let mut next: Option<i64> = None;
        let mut due = Vec::new();
        for s in self.muting.silences.iter() {
            if s.state(now) == SilenceState::Expired {
                continue;
            }
            let at = s.ends_at.saturating_sub(before);
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
            } else if s.state(now) == SilenceState::Active
                && !self.muting.noticed.contains(&(s.id.clone(), s.ends_at))
            {
                due.push(s.clone());
            }
        }
        due.sort_by(|a, b| a.id.cmp(&b.id));
        for s in due {
            self.muting.noticed.insert((s.id.clone(), s.ends_at));
            let by = Suppressor::Silence(Arc::from(s.id.as_str()));
            let mut held: Vec<i64> = self
                .alerts
                .values()
                .filter(|e| e.suppressed_by.as_ref() == Some(&by))
                .map(|e| e.id)
                .collect();
            held.sort_unstable();
            let Some(&first) = held.first() else {
                continue;
            };
            let minutes = (s.ends_at - now).max(0) / 60_000;
            let comment = if s.comment.is_empty() {
                "no comment"
            } else {
                s.comment.as_str()
            };
            let text = format!(
                "silence {} ({comment} by {}) ends at {}, in {minutes} min; it holds {} alert(s), which notify again then",
                s.id,
                s.created_by,
                format_ts(s.ends_at),
                held.len()
            );
            let notice = Notice {
                silence: s.id,
                ends_at: s.ends_at,
                text,
                alerts: held,
            };
            let change = self.change(first, Detail::Notice(Arc::new(notice)));
            fx.push(None, change);
        }
        // Strictly past, as every timer here.
        next.map(|n| n + 1)
    }

    /// Creates a silence, or changes one (`id` given). As Alertmanager does, a change of the
    /// matchers of a silence, or a change of an expired one, expires it and creates a new
    /// silence; other changes keep the id (and a running silence its start). A start in the
    /// past is now. Nothing changes when the new silence is invalid.
    pub(super) fn upsert_silence(
        &mut self,
        now: i64,
        mut s: Silence,
        fx: &mut Effects,
    ) -> Result<String, SilenceRefusal> {
        let mut keep_start = None;
        let mut replaced = None;
        if !s.id.is_empty() {
            let old = self
                .muting
                .silences
                .get(&s.id)
                .cloned()
                .ok_or(SilenceRefusal::NotFound)?;
            let state = old.state(now);
            if state != SilenceState::Expired && old.matchers == s.matchers {
                if state == SilenceState::Active {
                    keep_start = Some(old.starts_at);
                }
            } else {
                s.id = String::new();
                replaced = (state != SilenceState::Expired).then_some(old);
            }
        }
        s.starts_at = keep_start.unwrap_or(s.starts_at.max(now));
        s.updated_at = now;
        s.validate().map_err(SilenceRefusal::Invalid)?;
        if let Some(old) = replaced {
            self.expire(now, old, fx)?;
        }
        if s.id.is_empty() {
            s.id = self.new_silence_id();
        }
        let id = s.id.clone();
        self.push_silence(s, fx)?;
        self.reconsider_all(now, fx);
        Ok(id)
    }

    fn new_silence_id(&mut self) -> String {
        loop {
            let id = self.silence_ids.next_id();
            if self.muting.silences.get(&id).is_none() {
                return id;
            }
        }
    }

    fn push_silence(&mut self, s: Silence, fx: &mut Effects) -> Result<(), SilenceRefusal> {
        self.muting
            .silences
            .upsert(s.clone())
            .map_err(SilenceRefusal::Invalid)?;
        fx.push_write(Write::Silence(s));
        Ok(())
    }

    fn expire(
        &mut self,
        now: i64,
        mut old: Silence,
        fx: &mut Effects,
    ) -> Result<(), SilenceRefusal> {
        // Ended now: `now` is past its end, so it holds nothing from this instant on. One that
        // had not started yet starts a millisecond earlier (a range must not be empty); it never
        // holds an alert, since nothing looks at a past instant again.
        old.ends_at = now.min(old.ends_at);
        old.starts_at = old.starts_at.min(old.ends_at - 1);
        old.updated_at = now;
        self.push_silence(old, fx)
    }

    /// Expires a silence now (an expired one stays as it is).
    pub(super) fn expire_silence(
        &mut self,
        now: i64,
        id: &str,
        fx: &mut Effects,
    ) -> Result<String, SilenceRefusal> {
        let old = self
            .muting
            .silences
            .get(id)
            .cloned()
            .ok_or(SilenceRefusal::NotFound)?;
        if old.state(now) != SilenceState::Expired {
            self.expire(now, old, fx)?;
            self.reconsider_all(now, fx);
        }
        Ok(id.to_owned())
    }
}
