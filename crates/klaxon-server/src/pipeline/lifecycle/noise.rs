//! The lifecycle manager's noise controls: silences (stored, created and expired through the
//! manager so that they commit with the changes they cause), maintenance windows, inhibition
//! and flap detection. A silence or an open window moves the alerts it matches to
//! `suppressed` (recording which) and back to `active` when nothing mutes them any more.
//! Inhibition and flapping change no state: they are answered by [`Manager::explain`] and
//! consulted before notifying.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_engine::lifecycle::{transition, Action, State as AlertState};
use klaxon_engine::noise::{
    Flaps, Inhibitor, MatcherSpec, Silence, SilenceState, Silences, Windows,
};
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{AlertChange, Store};
use serde_json::{json, Value};

use super::{Done, Due, Entry, Manager, Refusal};

/// Why a silence request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SilenceRefusal {
    NotFound,
    Invalid(String),
    Unavailable,
}

/// The noise controls the manager holds.
pub(super) struct State {
    pub(super) silences: Silences,
    pub(super) windows: Windows,
    pub(super) inhibitor: Inhibitor,
    pub(super) flaps: Flaps,
    /// `[silence_notice]`: how long before its end a silence that holds alerts is announced.
    notice_before: Option<i64>,
    /// (silence, end) already announced.
    noticed: std::collections::HashSet<(String, i64)>,
}

impl State {
    pub(super) fn new(controls: crate::config::NoiseControls, stored: Vec<Silence>) -> State {
        let mut silences = Silences::default();
        for s in stored {
            if let Err(e) = silences.upsert(s.clone()) {
                tracing::warn!(silence = %s.id, error = %e, "stored silence no longer valid; ignored");
            }
        }
        State {
            silences,
            windows: controls.windows,
            inhibitor: controls.inhibitor,
            flaps: Flaps::new(controls.flapping),
            notice_before: controls.notice_before_ms,
            noticed: std::collections::HashSet::new(),
        }
    }
}

/// The maintenance windows a threshold rule names (`suppression_rules`, comma-separated).
pub(super) fn named_windows(annotations: &BTreeMap<String, String>) -> Arc<[String]> {
    annotations
        .get("suppression_rules")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// What mutes an alert: how it is recorded, until when, and who says so.
struct Mute {
    by: String,
    until: i64,
    actor: &'static str,
    reason: String,
}

impl<S: Store + Clone> Manager<S> {
    fn mute(&self, e: &Entry, now: i64) -> Option<Mute> {
        if let Some(s) = self.noise.silences.muting(&e.labels, now) {
            return Some(Mute {
                by: format!("silence:{}", s.id),
                until: s.ends_at,
                actor: "silence",
                reason: format!("silenced by {} ({})", s.id, s.comment),
            });
        }
        let named: Vec<&str> = e.windows.iter().map(String::as_str).collect();
        let w = self.noise.windows.muting(&e.labels, &named, now)?;
        Some(Mute {
            by: format!("maintenance:{}", w.name),
            until: w.next_change(now).unwrap_or(i64::MAX),
            actor: "maintenance",
            reason: format!("maintenance window {} is open", w.name),
        })
    }

    /// Brings one alert in line with the silences and windows at `now`.
    pub(super) fn reconsider(&mut self, id: i64, now: i64) {
        let Some(e) = self.alerts.get(&id).cloned() else {
            return;
        };
        match e.state {
            AlertState::Active | AlertState::Acknowledged => {
                if let Some(m) = self.mute(&e, now) {
                    let _ = self.move_to_by(
                        id,
                        Action::Suppress,
                        m.actor,
                        &m.reason,
                        now,
                        Some(m.until),
                        Some(m.by),
                    );
                }
            }
            AlertState::Suppressed => {
                let managed = e
                    .suppressed_by
                    .as_deref()
                    .is_some_and(|b| b.starts_with("silence:") || b.starts_with("maintenance:"));
                if !managed {
                    // Suppressed by hand for a time: lifted when the time runs out.
                    if e.suppressed_until.is_some_and(|u| u <= now) {
                        let _ = self.move_to(
                            id,
                            Action::Unsuppress,
                            "system",
                            "suppression expired",
                            now,
                            None,
                        );
                    }
                    return;
                }
                match self.mute(&e, now) {
                    Some(m)
                        if Some(&m.by) == e.suppressed_by.as_ref()
                            && Some(m.until) == e.suppressed_until => {}
                    Some(m) => self.resuppress(id, m, now),
                    None => {
                        let what = e.suppressed_by.clone().unwrap_or_default();
                        let reason = match what.split_once(':') {
                            Some(("silence", s)) => format!("silence {s} no longer applies"),
                            Some((_, w)) => format!("maintenance window {w} closed"),
                            None => "nothing mutes it any more".to_owned(),
                        };
                        let _ = self.move_to(id, Action::Unsuppress, "system", &reason, now, None);
                    }
                }
            }
            _ => {}
        }
    }

    /// A suppressed alert that another silence or window now holds: the record follows.
    fn resuppress(&mut self, id: i64, m: Mute, now: i64) {
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        e.suppressed_by = Some(m.by.clone());
        e.suppressed_until = Some(m.until);
        let snapshot = e.clone();
        self.schedule(&snapshot);
        self.folding.remove(&id);
        self.changes.push(AlertChange::Transition {
            id,
            from: AlertState::Suppressed,
            to: AlertState::Suppressed,
            at: now,
            actor: m.actor.to_owned(),
            reason: m.reason.clone(),
            until: Some(m.until),
            by: Some(m.by),
        });
        self.publish(
            id,
            "transition",
            AlertState::Suppressed,
            json!({"id": id, "from": AlertState::Suppressed, "to": AlertState::Suppressed, "actor": m.actor, "reason": m.reason, "at": now}),
            super::Detail::Transition {
                to: AlertState::Suppressed,
                actor: m.actor.to_owned(),
                at: now,
            },
        );
    }

    /// Looks at every open alert again (silences changed, a window opened or closed), then
    /// schedules the next instant at which that is needed.
    pub(super) fn reconsider_all(&mut self, now: i64) {
        let ids: Vec<i64> = self
            .alerts
            .values()
            .filter(|e| {
                matches!(
                    e.state,
                    AlertState::Active | AlertState::Acknowledged | AlertState::Suppressed
                )
            })
            .map(|e| e.id)
            .collect();
        for id in ids {
            self.reconsider(id, now);
        }
        let next_notice = self.announce(now);
        let next = [
            self.noise.silences.next_change(now),
            self.noise.windows.next_change(now),
            next_notice,
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = next {
            // Strictly past the edge, as every lifecycle timer.
            self.due.push(Reverse((at - 1, 0, Due::Noise)));
        }
    }

    /// Announces the active silences that hold alerts and end within the notice time (once
    /// per silence and end); returns when the next notice is due.
    fn announce(&mut self, now: i64) -> Option<i64> {
        let before = self.noise.notice_before?;
        let mut next: Option<i64> = None;
        let mut due = Vec::new();
        for s in self.noise.silences.iter() {
            if s.state(now) == SilenceState::Expired {
                continue;
            }
            let at = s.ends_at.saturating_sub(before);
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
            } else if s.state(now) == SilenceState::Active
                && !self.noise.noticed.contains(&(s.id.clone(), s.ends_at))
            {
                due.push(s.clone());
            }
        }
        for s in due {
            self.noise.noticed.insert((s.id.clone(), s.ends_at));
            let by = format!("silence:{}", s.id);
            let mut held: Vec<i64> = self
                .alerts
                .values()
                .filter(|e| e.suppressed_by.as_deref() == Some(by.as_str()))
                .map(|e| e.id)
                .collect();
            held.sort_unstable();
            let Some(&first) = held.first() else {
                continue;
            };
            let minutes = (s.ends_at - now).max(0) / 60_000;
            let text = format!(
                "silence {} ({} by {}) ends at {}, in {minutes} min; it holds {} alert(s), which notify again then",
                s.id,
                if s.comment.is_empty() { "no comment" } else { s.comment.as_str() },
                s.created_by,
                format_ts(s.ends_at),
                held.len()
            );
            self.publish(
                first,
                "notice",
                AlertState::Suppressed,
                json!({"silence": s.id, "ends_at": format_ts(s.ends_at), "alerts": held, "text": text}),
                super::Detail::Notice {
                    text,
                    alerts: held,
                },
            );
        }
        // Strictly past, as every timer here.
        next.map(|n| n + 1)
    }

    fn push_silence(&mut self, s: Silence) -> Result<(), SilenceRefusal> {
        self.noise
            .silences
            .upsert(s.clone())
            .map_err(SilenceRefusal::Invalid)?;
        self.changes.push(AlertChange::Silence(s));
        Ok(())
    }

    /// Creates a silence, or changes one (`id` given). As Alertmanager does, a change of the
    /// matchers of a silence, or a change of an expired one, expires it and creates a new
    /// silence; other changes keep the id. A start in the past is now.
    pub(super) fn upsert_silence(
        &mut self,
        mut s: Silence,
        now: i64,
    ) -> Result<String, SilenceRefusal> {
        let mut keep_start = None;
        if !s.id.is_empty() {
            let old = self
                .noise
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
                if state != SilenceState::Expired {
                    self.expire(old, now)?;
                }
            }
        }
        if s.id.is_empty() {
            s.id = silence_id().map_err(|_| SilenceRefusal::Unavailable)?;
        }
        s.starts_at = keep_start.unwrap_or(s.starts_at.max(now));
        s.updated_at = now;
        let id = s.id.clone();
        self.push_silence(s)?;
        self.reconsider_all(now);
        Ok(id)
    }

    fn expire(&mut self, mut old: Silence, now: i64) -> Result<(), SilenceRefusal> {
        old.starts_at = old.starts_at.min(now);
        old.ends_at = now.max(old.starts_at + 1).min(old.ends_at);
        old.updated_at = now;
        self.push_silence(old)
    }

    /// Expires a silence now (an expired one stays as it is).
    pub(super) fn expire_silence(&mut self, id: &str, now: i64) -> Result<String, SilenceRefusal> {
        let old = self
            .noise
            .silences
            .get(id)
            .cloned()
            .ok_or(SilenceRefusal::NotFound)?;
        if old.state(now) != SilenceState::Expired {
            self.expire(old, now)?;
            self.reconsider_all(now);
        }
        Ok(id.to_owned())
    }

    /// `POST /alerts/{id}/suppress`: a silence on the alert's labels until `until`.
    pub(super) fn suppress_by_hand(
        &mut self,
        id: i64,
        until: i64,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Done, Refusal> {
        let e = self.alerts.get(&id).cloned().ok_or(Refusal::NotFound)?;
        transition(e.state, Action::Suppress).map_err(|i| Refusal::Illegal {
            current: e.state,
            message: i.to_string(),
        })?;
        let matchers = e
            .labels
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
        match self.upsert_silence(silence, now) {
            Ok(_) => {}
            Err(SilenceRefusal::Invalid(m)) => {
                return Err(Refusal::Illegal {
                    current: e.state,
                    message: m,
                })
            }
            Err(_) => return Err(Refusal::Unavailable),
        }
        let to = self.alerts.get(&id).map_or(e.state, |x| x.state);
        Ok(Done {
            id,
            from: e.state,
            to,
        })
    }

    /// `POST /alerts/{id}/unsuppress`: expires the silence that holds it (a window cannot be
    /// lifted by hand: it says so).
    pub(super) fn unsuppress_by_hand(
        &mut self,
        id: i64,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Done, Refusal> {
        let e = self.alerts.get(&id).cloned().ok_or(Refusal::NotFound)?;
        let illegal = |message: String| Refusal::Illegal {
            current: e.state,
            message,
        };
        transition(e.state, Action::Unsuppress).map_err(|i| illegal(i.to_string()))?;
        match e.suppressed_by.as_deref().and_then(|b| b.split_once(':')) {
            Some(("silence", s)) => {
                let s = s.to_owned();
                self.expire_silence(&s, now)
                    .map_err(|_| Refusal::Unavailable)?;
            }
            Some((_, w)) => {
                return Err(illegal(format!(
                    "maintenance window {w} holds it until it closes"
                )))
            }
            None => {
                self.move_to(id, Action::Unsuppress, actor, reason, now, None)?;
            }
        }
        let to = self.alerts.get(&id).map_or(e.state, |x| x.state);
        Ok(Done {
            id,
            from: e.state,
            to,
        })
    }

    /// Keeps inhibition sources and flap counts in step with a transition.
    pub(super) fn noise_after_move(
        &mut self,
        e: &Entry,
        from: AlertState,
        action: Action,
        now: i64,
    ) {
        match (from.is_firing(), e.state.is_firing()) {
            (false, true) => self.noise.inhibitor.fire(e.id, &e.labels),
            (true, false) => self.noise.inhibitor.stop(e.id, &e.labels),
            _ => {}
        }
        if matches!(action, Action::Fire | Action::Resolve | Action::Reopen) {
            let flapping = self.noise.flaps.record(e.id, now);
            if flapping {
                if let Some(at) = self.noise.flaps.stable_at(e.id, now) {
                    self.due.push(Reverse((at, e.id, Due::Noise)));
                }
            }
        }
        if e.state == AlertState::Closed {
            self.noise.flaps.forget(e.id);
        }
    }

    /// Why an alert is or is not muted: its suppression (and the silence or window behind it),
    /// inhibition (by the rules that apply everywhere, and by each route-scoped one), flapping.
    pub(super) fn explain(&self, id: i64, now: i64) -> Option<Value> {
        let e = self.alerts.get(&id)?;
        let suppressed = match e.suppressed_by.as_deref().and_then(|b| b.split_once(':')) {
            Some(("silence", s)) => {
                let silence = self.noise.silences.get(s);
                json!({"kind": "silence", "id": s,
                       "until": e.suppressed_until.map(format_ts),
                       "comment": silence.map(|s| s.comment.clone()),
                       "created_by": silence.map(|s| s.created_by.clone()),
                       "matchers": silence.map(|s| s.matchers.iter().map(MatcherSpec::display).collect::<Vec<_>>())})
            }
            Some((_, w)) => json!({"kind": "maintenance", "window": w,
                                   "until": e.suppressed_until.map(format_ts)}),
            None if e.state == AlertState::Suppressed => {
                json!({"kind": "manual", "until": e.suppressed_until.map(format_ts)})
            }
            None => Value::Null,
        };
        let mut routes: Vec<Option<&str>> = vec![None];
        routes.extend(
            self.noise
                .inhibitor
                .rules()
                .iter()
                .filter_map(|r| r.route.as_deref().map(Some)),
        );
        routes.dedup();
        let inhibited: Vec<Value> = routes
            .into_iter()
            .filter_map(|route| self.noise.inhibitor.inhibited(id, &e.labels, route))
            .map(|i| json!({"rule": i.rule, "route": i.route, "source_alert": i.source}))
            .collect();
        let (flapping, changes) = self.noise.flaps.status(id, now);
        let settings = self.noise.flaps.settings();
        Some(json!({
            // What the manager holds now, ahead of the store by at most the quiet flush.
            "live": {"occurrences": e.occurrences, "last_seen": format_ts(e.last_seen),
                     "ends_at": e.ends_at.map(format_ts), "state": e.state},
            "suppressed": suppressed,
            "inhibited": inhibited,
            "flapping": {
                "flapping": flapping,
                "changes": changes,
                "limit": settings.map(|s| s.changes),
                "window_seconds": settings.map(|s| s.window_ms / 1000),
                "stable_at": self.noise.flaps.stable_at(id, now).map(format_ts),
            },
        }))
    }
}

/// A random silence id in the UUID v4 form Alertmanager's clients expect.
pub(super) fn silence_id() -> anyhow::Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness for a silence id: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

/// Whether `s` has the form of a UUID (Alertmanager refuses other silence ids with 422).
pub(crate) fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_ids_are_uuids() {
        let id = silence_id().expect("id");
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "4");
        assert!(!is_uuid("nope"));
    }
}
