//! Firings: deduplication by fingerprint (another occurrence of an open alert, a reopen within
//! the window, else a new alert), quiet firings (nothing changed but counts and times) kept in
//! RAM and written folded within [`QUIET_FLUSH_MS`], and resends reduced to numbers. A quiet
//! firing allocates nothing once the maps have grown.

use std::borrow::Cow;
use std::sync::Arc;

use super::convert::{engine_occurrence, from_engine, from_labelled};
use super::effect::{Detail, Effects};
use super::input::{Labelled, Resend};
use super::machine::{Lifecycle, QUIET_FLUSH_MS, QUIET_LOG_MS};
use super::record::{Labels, Occur, Occurrence, Source};
use super::table::{dedup, Action, Dedup, State};
use super::timer::Due;
use crate::Alert;

/// One firing of an alert already held.
struct Firing<'a> {
    /// Its time (`last_seen` moves there).
    at: i64,
    summary: &'a str,
    severity: &'a str,
    /// A labelled alert's annotations and `endsAt`.
    labelled: Option<(&'a Labels, Option<i64>)>,
    /// (time, value) of its occurrence row.
    occurred: (i64, Option<f64>),
}

const REOPENED: &str = "fired again within the reopen window";

impl Lifecycle {
    fn decide(&self, fp: u64, at: i64) -> (Dedup, Option<i64>) {
        let id = self.by_fp.get(&fp).copied();
        let latest = id
            .and_then(|id| self.alerts.get(&id))
            .map(|e| (e.state, e.resolved_at));
        (dedup(latest, at, self.settings.reopen_window_ms), id)
    }

    /// An event rule fired. Returns the alert and whether the firing was quiet.
    pub(super) fn engine_alert(
        &mut self,
        now: i64,
        a: &Alert,
        fx: &mut Effects,
    ) -> (Option<i64>, bool) {
        let firing = Firing {
            at: a.engine_ts,
            summary: &a.message,
            severity: a.severity.as_str(),
            labelled: None,
            occurred: (a.signal_ts, a.value),
        };
        match self.decide(a.fingerprint, a.engine_ts) {
            (Dedup::Occurrence, Some(id)) => (Some(id), self.occur(now, id, &firing, fx)),
            (Dedup::Reopen, Some(id)) => {
                self.reopen(now, id, "engine", &firing, fx);
                (Some(id), false)
            }
            _ => {
                let id = self.take_id();
                let rec = from_engine(id, a, now);
                let auto = a.auto_resolve_ms.map(|ms| ms as i64);
                let why = ("engine".into(), "fired".into());
                self.insert(
                    now,
                    (a.fingerprint, rec),
                    why,
                    engine_occurrence(a),
                    auto,
                    fx,
                );
                (Some(id), false)
            }
        }
    }

    /// A firing of resolved alert `id` within the reopen window: it is active again (not
    /// quiet: the reopening is published now), and the firing counts.
    fn reopen(&mut self, now: i64, id: i64, actor: &'static str, f: &Firing<'_>, fx: &mut Effects) {
        let why = REOPENED.into();
        let _ = self.move_to(now, id, Action::Reopen, actor.into(), why, None, fx);
        self.occur(now, id, f, fx);
    }

    /// A labelled alert fired, or ended (`endsAt` at or before `now`).
    pub(super) fn labelled(
        &mut self,
        now: i64,
        l: &Labelled,
        fx: &mut Effects,
    ) -> (Option<i64>, bool) {
        let actor = l.source.as_str();
        if l.ends_at.is_some_and(|e| e <= now) {
            let open = self
                .by_fp
                .get(&l.fingerprint)
                .copied()
                .filter(|id| self.alerts.get(id).is_some_and(|e| e.state.is_open()));
            let Some(id) = open else {
                return (None, false);
            };
            if let Some(e) = self.alerts.get_mut(&id) {
                e.ends_at = l.ends_at;
            }
            let reason = l
                .end_reason
                .clone()
                .map_or(Cow::Borrowed("resolved by its source"), Cow::Owned);
            let _ = self.move_to(now, id, Action::Resolve, actor.into(), reason, None, fx);
            return (Some(id), false);
        }
        let firing = Firing {
            at: now,
            summary: &l.summary,
            severity: &l.severity,
            labelled: Some((&l.annotations, l.ends_at)),
            occurred: (now, l.value),
        };
        match self.decide(l.fingerprint, now) {
            (Dedup::Occurrence, Some(id)) => {
                let was_pending = self.state_of(id) == Some(State::Pending);
                let mut quiet = self.occur(now, id, &firing, fx);
                if was_pending && !l.pending {
                    let why = "condition held".into();
                    let _ = self.move_to(now, id, Action::Fire, actor.into(), why, None, fx);
                    quiet = false;
                }
                (Some(id), quiet)
            }
            // A new pending episode after resolution is a new alert: reopening makes an alert
            // active, and a pending one has not fired yet.
            (Dedup::Reopen, Some(id)) if !l.pending => {
                self.reopen(now, id, actor, &firing, fx);
                (Some(id), false)
            }
            _ => {
                let id = self.take_id();
                let rec = from_labelled(id, l, now);
                let occurrence = Occurrence {
                    at: now,
                    value: l.value,
                    message: Arc::from(l.summary.as_str()),
                };
                let why = (actor.into(), "fired".into());
                self.insert(now, (l.fingerprint, rec), why, occurrence, None, fx);
                (Some(id), false)
            }
        }
    }

    /// Resends of one request, in order: each quiet one is taken. A fingerprint that missed
    /// once misses for the rest of the request, so its firings keep their order.
    pub(super) fn resends(&mut self, now: i64, rs: &[Resend]) -> Vec<bool> {
        self.missed.clear();
        rs.iter()
            .map(|r| {
                let taken = !self.missed.contains_key(&r.fingerprint) && self.resend(now, r);
                if !taken {
                    self.missed.insert(r.fingerprint, ());
                }
                taken
            })
            .collect()
    }

    /// Takes a resend when it is a quiet one: its fingerprint's alert is open (not pending),
    /// not the API's, says what the resend says, and the resend has not ended.
    fn resend(&mut self, now: i64, r: &Resend) -> bool {
        if r.ends_at.is_some_and(|e| e <= now) {
            return false;
        }
        let Some(&id) = self.by_fp.get(&r.fingerprint) else {
            return false;
        };
        let Some(e) = self.alerts.get_mut(&id) else {
            return false;
        };
        if !e.state.is_open()
            || e.state == State::Pending
            || e.source == Source::Api
            || e.content != r.content
        {
            return false;
        }
        e.occurrences += 1;
        e.last_seen = e.last_seen.max(now);
        e.ends_at = r.ends_at;
        self.schedule_auto_resolve(id);
        self.hold_quiet(now, id, (now, None));
        true
    }

    /// Another firing of held alert `id`; returns whether it was quiet.
    fn occur(&mut self, now: i64, id: i64, f: &Firing<'_>, fx: &mut Effects) -> bool {
        let keys = self.keys;
        let Some(e) = self.alerts.get_mut(&id) else {
            return false;
        };
        // Machines resend; a person's own resend is answered with the new count.
        let quiet = e.source != Source::Api
            && *e.severity == *f.severity
            && *e.summary == *f.summary
            && f.labelled.is_none_or(|(ann, _)| *ann == *e.annotations);
        e.occurrences += 1;
        e.last_seen = e.last_seen.max(f.at);
        if let Some((ann, ends)) = f.labelled {
            e.ends_at = ends;
            if *ann != *e.annotations {
                e.annotations = Arc::new(ann.clone());
            }
        }
        if !quiet {
            if *e.severity != *f.severity {
                e.severity = Arc::from(f.severity);
            }
            if *e.summary != *f.summary {
                e.summary = Arc::from(f.summary);
            }
            e.content = keys.key_of(&e.severity, &e.summary, &e.annotations);
        }
        self.schedule_auto_resolve(id);
        if quiet {
            self.hold_quiet(now, id, f.occurred);
        } else {
            self.quiet.remove(&id);
            self.push_occurrence(id, f.occurred, true, fx);
        }
        quiet
    }

    /// Keeps a quiet occurrence of `id` in RAM until the next flush.
    fn hold_quiet(&mut self, now: i64, id: i64, occurred: (i64, Option<f64>)) {
        if self.flush_at.is_none() {
            let at = now.saturating_add(QUIET_FLUSH_MS);
            self.flush_at = Some(at);
            self.timers.arm(at, Due::Flush);
        }
        self.quiet.insert(id, occurred);
        self.quiet_firings += 1;
    }

    /// Adds the alert's latest occurrence (as the alert holds it now) to the batch.
    fn push_occurrence(
        &mut self,
        id: i64,
        (at, value): (i64, Option<f64>),
        log: bool,
        fx: &mut Effects,
    ) {
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        if log {
            e.logged_at = at;
        }
        let write = Occur {
            id,
            at: e.last_seen,
            occurrences: e.occurrences,
            summary: Arc::clone(&e.summary),
            severity: Arc::clone(&e.severity),
            annotations: Arc::clone(&e.annotations),
            ends_at: e.ends_at,
            occurrence: Occurrence {
                at,
                value,
                message: Arc::clone(&e.summary),
            },
            log,
        };
        let detail = Detail::Occurrence {
            occurrences: e.occurrences,
            last_seen: e.last_seen,
            summary: Arc::clone(&e.summary),
            ends_at: e.ends_at,
        };
        let change = self.change(id, detail);
        fx.push_occurrence(write, change);
    }

    /// Writes the quiet occurrences waiting in RAM (of alerts still held), in id order.
    pub(super) fn flush_quiet(&mut self, fx: &mut Effects) {
        let mut drained = std::mem::take(&mut self.drained);
        drained.clear();
        drained.extend(self.quiet.drain());
        drained.sort_unstable_by_key(|&(id, _)| id);
        for &(id, occurred) in &drained {
            let log = self
                .alerts
                .get(&id)
                .is_some_and(|e| occurred.0 >= e.logged_at.saturating_add(QUIET_LOG_MS));
            self.push_occurrence(id, occurred, log, fx);
        }
        drained.clear();
        self.drained = drained;
    }
}
