//! [`Lifecycle`]: the alerts that are not closed, by id and by fingerprint, the one deadline
//! set, and the steps every decision shares: opening an alert, moving it through the
//! transition table, and deciding why it is quiet. Timers are in `schedule.rs`.
//! Firings, people's actions and silences are in their own modules; they all come here.

use std::borrow::Cow;
use std::sync::Arc;

use super::convert::{from_threshold, named_windows};
use super::effect::{Change, Detail, Effects};
use super::input::{Answer, Done, Input, Refusal};
use super::key::{fp_key, ContentKeys, SilenceIds};
use super::mute::{Mute, Muting, NoiseConfig, Suppression};
use super::record::{
    Actor, AlertRecord, Labels, Occurrence, Restored, Source, Suppressor, Transition, Write,
};
use super::table::{transition, Action, State};
use super::timer::{Due, Timers};
use super::{fast_map, FastMap};
use crate::noise::Silence;

/// How long a quiet occurrence waits in RAM before it is written and published.
pub const QUIET_FLUSH_MS: i64 = 1000;
/// Quiet occurrences add a row to the occurrence log at most this often per alert (every
/// firing counts in `occurrences` either way).
pub const QUIET_LOG_MS: i64 = 60_000;

/// Lifecycle settings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// A resolved alert that fires again within this reopens (inclusive).
    pub reopen_window_ms: i64,
    /// Resolved alerts close after this.
    pub close_after_ms: i64,
    /// Event-rule alerts resolve after this long without a firing (`None`: by hand only),
    /// unless their rule says otherwise.
    pub rule_auto_resolve_ms: Option<i64>,
    /// Alertmanager alerts without `endsAt` resolve after this long without a resend.
    pub resolve_timeout_ms: i64,
}

impl Default for Settings {
    /// The documented defaults.
    fn default() -> Settings {
        Settings {
            reopen_window_ms: 300_000,
            close_after_ms: 3_600_000,
            rule_auto_resolve_ms: None,
            resolve_timeout_ms: 300_000,
        }
    }
}

/// What the lifecycle holds, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Alerts held (every alert that is not closed).
    pub alerts: usize,
    /// Quiet firings taken since the start.
    pub quiet_firings: u64,
    /// Alerts with quiet occurrences waiting for the flush.
    pub quiet_waiting: usize,
    /// Entries in the deadline set (stale ones included).
    pub timers: usize,
    pub silences: usize,
}

/// One alert that is not closed.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) id: i64,
    pub(super) fp: u64,
    pub(super) state: State,
    pub(super) source: Source,
    pub(super) severity: Arc<str>,
    pub(super) labels: Arc<Labels>,
    pub(super) annotations: Arc<Labels>,
    pub(super) summary: Arc<str>,
    /// [`ContentKeys::key`] of severity, summary and annotations.
    pub(super) content: u64,
    pub(super) occurrences: u64,
    pub(super) last_seen: i64,
    /// When its occurrence log last got a row.
    pub(super) logged_at: i64,
    pub(super) resolved_at: Option<i64>,
    pub(super) suppressed_until: Option<i64>,
    pub(super) suppressed_by: Option<Suppressor>,
    /// Maintenance windows its rule names (`suppression_rules`).
    pub(super) windows: Box<[Arc<str>]>,
    pub(super) ends_at: Option<i64>,
    /// Its rule's own auto-resolve time (event rules), before the server's.
    pub(super) auto_resolve_ms: Option<i64>,
    /// The auto-resolve deadline armed, if any.
    pub(super) auto_at: Option<i64>,
    pub(super) mute: Option<Arc<Mute>>,
}

/// The alert lifecycle: every alert that is not closed, its timers and its noise controls.
/// Fed by [`Lifecycle::apply`] and [`Lifecycle::advance`]; every effect goes into the
/// caller's [`Effects`].
pub struct Lifecycle {
    pub(super) settings: Settings,
    pub(super) keys: ContentKeys,
    pub(super) silence_ids: SilenceIds,
    pub(super) alerts: FastMap<i64, Entry>,
    /// Fingerprint → the newest alert of it.
    pub(super) by_fp: FastMap<u64, i64>,
    pub(super) next_id: i64,
    pub(super) timers: Timers,
    pub(super) muting: Muting,
    /// Quiet occurrences waiting for the flush: alert → (time, value) of the latest.
    pub(super) quiet: FastMap<i64, (i64, Option<f64>)>,
    pub(super) flush_at: Option<i64>,
    /// The one look at every open alert that is armed (others in the heap are stale).
    pub(super) noise_at: Option<i64>,
    /// Reused buffers.
    pub(super) scratch: Vec<i64>,
    pub(super) sweep: Vec<i64>,
    pub(super) drained: Vec<(i64, (i64, Option<f64>))>,
    pub(super) missed: FastMap<u64, ()>,
    pub(super) quiet_firings: u64,
    /// Labels and severity of a change about an alert not held (a note on a closed alert).
    pub(super) nothing: (Arc<Labels>, Arc<str>),
}

impl Lifecycle {
    /// An empty lifecycle. `seed` keys its hash maps, content keys and silence ids: give a
    /// random one in production, a fixed one to replay.
    pub fn new(settings: Settings, noise: NoiseConfig, seed: u64) -> Lifecycle {
        let mut timers = Timers::default();
        // The first advance looks at every alert and arms the next window or silence edge.
        timers.arm(i64::MIN, Due::Noise);
        Lifecycle {
            settings,
            keys: ContentKeys::new(seed),
            silence_ids: SilenceIds::new(seed),
            alerts: fast_map(seed),
            by_fp: fast_map(seed),
            next_id: 1,
            timers,
            muting: Muting::new(noise, seed),
            quiet: fast_map(seed),
            flush_at: None,
            noise_at: Some(i64::MIN),
            scratch: Vec::new(),
            sweep: Vec::new(),
            drained: Vec::new(),
            missed: fast_map(seed),
            quiet_firings: 0,
            nothing: (Arc::new(Labels::new()), Arc::from("")),
        }
    }

    /// Takes back what the store holds at start: the largest alert id ever given, every alert
    /// that is not closed, every silence. Their timers are armed as they were (a deadline
    /// that passed while the server was down fires at the first [`Lifecycle::advance`]), and
    /// the first advance looks at every alert again (silences and windows may have changed).
    /// Returns the silences no longer valid, with why; they are left out.
    pub fn restore(
        &mut self,
        max_id: i64,
        alerts: impl IntoIterator<Item = Restored>,
        silences: impl IntoIterator<Item = Silence>,
    ) -> Vec<(String, String)> {
        self.next_id = self.next_id.max(max_id.saturating_add(1));
        let refused = self.muting.load(silences);
        for r in alerts {
            self.index(r);
        }
        let ids: Vec<i64> = self.alerts.keys().copied().collect();
        for id in ids {
            self.refresh_mute(id, 0);
        }
        self.noise_at = Some(i64::MIN);
        self.timers.arm(i64::MIN, Due::Noise);
        refused
    }

    fn index(&mut self, r: Restored) {
        if r.state == State::Closed {
            return;
        }
        let fp = fp_key(&r.fingerprint);
        let e = Entry {
            id: r.id,
            fp,
            state: r.state,
            source: r.source,
            content: self.keys.key_of(&r.severity, &r.message, &r.annotations),
            severity: Arc::from(r.severity),
            windows: named_windows(&r.annotations),
            labels: Arc::new(r.labels),
            annotations: Arc::new(r.annotations),
            summary: Arc::from(r.message),
            occurrences: r.occurrences,
            last_seen: r.last_seen,
            logged_at: r.last_seen,
            resolved_at: r.resolved_at,
            suppressed_until: r.suppressed_until,
            suppressed_by: r.suppressed_by.as_deref().and_then(Suppressor::parse),
            ends_at: r.ends_at,
            auto_resolve_ms: r.auto_resolve_ms,
            auto_at: None,
            mute: None,
        };
        if e.state.is_firing() {
            self.muting.firing(e.id, &e.labels, true);
        }
        self.muting.watch(e.id, &e.labels);
        // The newest alert of a fingerprint is the one firings fold into.
        if self.by_fp.get(&fp).is_none_or(|&old| old < e.id) {
            self.by_fp.insert(fp, e.id);
        }
        self.next_id = self.next_id.max(e.id + 1);
        let id = e.id;
        self.alerts.insert(id, e);
        self.schedule(id);
    }

    /// Applies one input at `now` (epoch ms); its writes and changes go into `fx`.
    pub fn apply(&mut self, now: i64, input: Input<'_>, fx: &mut Effects) -> Answer {
        match input {
            Input::Fired(a) => {
                let (id, quiet) = self.engine_alert(now, a, fx);
                Answer::Firing { id, quiet }
            }
            Input::Threshold(ev) => {
                let (id, quiet) = self.labelled(now, &from_threshold(ev), fx);
                Answer::Firing { id, quiet }
            }
            Input::Labelled(l) => {
                let (id, quiet) = self.labelled(now, l, fx);
                Answer::Firing { id, quiet }
            }
            Input::Resends(rs) => Answer::Taken(self.resends(now, rs)),
            Input::Act {
                id,
                act,
                actor,
                reason,
                stored,
            } => Answer::Act(self.act(now, id, act, (actor, reason), stored, fx)),
            Input::Note {
                id,
                author,
                text,
                stored,
            } => Answer::Unit(self.note(now, id, author, text, stored, fx)),
            Input::Assign {
                id,
                actor,
                assignee,
                stored,
            } => Answer::Unit(self.assign(now, id, actor, assignee, stored, fx)),
            Input::UpsertSilence(s) => Answer::Silence(self.upsert_silence(now, s.clone(), fx)),
            Input::ExpireSilence(id) => Answer::Silence(self.expire_silence(now, id, fx)),
        }
    }

    /// Writes every quiet occurrence now (at shutdown).
    pub fn flush(&mut self, fx: &mut Effects) {
        self.flush_at = None;
        self.flush_quiet(fx);
    }

    /// The content keys request tasks must use for [`super::Resend::content`].
    pub fn content_keys(&self) -> ContentKeys {
        self.keys
    }

    /// The state of a held alert (`None`: closed or unknown).
    pub fn state_of(&self, id: i64) -> Option<State> {
        self.alerts.get(&id).map(|e| e.state)
    }

    /// Why a held alert is quiet (`None`: nothing mutes it, or it is not held).
    pub fn mute_of(&self, id: i64) -> Option<&Arc<Mute>> {
        self.alerts.get(&id).and_then(|e| e.mute.as_ref())
    }

    /// Every held alert that something mutes, for a reader that rebuilds its view.
    pub fn muted(&self) -> impl Iterator<Item = (i64, &Arc<Mute>)> {
        self.alerts
            .values()
            .filter_map(|e| e.mute.as_ref().map(|m| (e.id, m)))
    }

    pub fn stats(&self) -> Stats {
        Stats {
            alerts: self.alerts.len(),
            quiet_firings: self.quiet_firings,
            quiet_waiting: self.quiet.len(),
            timers: self.timers.len(),
            silences: self.muting.silences.len(),
        }
    }

    pub(super) fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Opens a new alert (its id taken with [`Lifecycle::take_id`]).
    pub(super) fn insert(
        &mut self,
        now: i64,
        (fp, rec): (u64, AlertRecord),
        (actor, reason): (Actor, Cow<'static, str>),
        occurrence: Occurrence,
        auto_resolve_ms: Option<i64>,
        fx: &mut Effects,
    ) {
        let (id, state) = (rec.id, rec.state);
        let e = Entry {
            id,
            fp,
            state,
            source: rec.source,
            severity: Arc::from(rec.severity.as_str()),
            labels: Arc::new(rec.labels.clone()),
            annotations: Arc::new(rec.annotations.clone()),
            summary: Arc::from(rec.message.as_str()),
            content: self
                .keys
                .key_of(&rec.severity, &rec.message, &rec.annotations),
            occurrences: 1,
            last_seen: rec.last_seen,
            logged_at: rec.first_seen,
            resolved_at: None,
            suppressed_until: None,
            suppressed_by: None,
            windows: named_windows(&rec.annotations),
            ends_at: rec.ends_at,
            auto_resolve_ms,
            auto_at: None,
            mute: None,
        };
        self.by_fp.insert(fp, id);
        self.muting.watch(id, &e.labels);
        if state.is_firing() {
            self.muting.firing(id, &e.labels, true);
        }
        self.alerts.insert(id, e);
        self.schedule(id);
        self.refresh_mute(id, now);
        let rec = Arc::new(rec);
        let change = self.change(id, Detail::Created(Arc::clone(&rec)));
        let write = Write::Insert {
            alert: rec,
            actor,
            reason,
            occurrence,
        };
        fx.push(Some(write), change);
        if state.is_firing() {
            self.remute_affected(now, fx);
        }
        if state == State::Active {
            self.reconsider(now, id, fx);
        }
    }

    /// Moves a held alert through the transition table; `hold` is what suppresses it (to
    /// suppressed). Answers the action with the state after everything it caused.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn move_to(
        &mut self,
        now: i64,
        id: i64,
        action: Action,
        actor: Actor,
        reason: Cow<'static, str>,
        hold: Option<(Suppressor, i64)>,
        fx: &mut Effects,
    ) -> Result<Done, Refusal> {
        let Some(e) = self.alerts.get_mut(&id) else {
            return Err(Refusal::NotHeld);
        };
        let from = e.state;
        let to = transition(from, action).map_err(|i| Refusal::Illegal {
            current: from,
            message: i.to_string(),
        })?;
        e.state = to;
        if from == State::Resolved {
            e.resolved_at = None;
        }
        if from == State::Suppressed {
            e.suppressed_until = None;
            e.suppressed_by = None;
        }
        let (by, until) = hold.map_or((None, None), |(b, u)| (Some(b), Some(u)));
        match to {
            State::Resolved => e.resolved_at = Some(now),
            State::Suppressed => {
                e.suppressed_until = until;
                e.suppressed_by.clone_from(&by);
            }
            _ => {}
        }
        let labels = Arc::clone(&e.labels);
        let t = Arc::new(Transition {
            id,
            from,
            to,
            at: now,
            actor,
            reason,
            until,
            by,
        });
        // Inhibition sources and flap counts follow whether it fires.
        let firing_changed = from.is_firing() != to.is_firing();
        if firing_changed {
            self.muting.firing(id, &labels, to.is_firing());
            if self.muting.flaps.record(id, now) {
                if let Some(at) = self.muting.flaps.stable_at(id, now) {
                    self.timers.arm(at, Due::Stable(id));
                }
            }
        }
        if to == State::Closed {
            let change = Change {
                mute: None,
                ..self.change(id, Detail::Transition(Arc::clone(&t)))
            };
            fx.push(Some(Write::Transition(t)), change);
            self.forget(id);
        } else {
            self.refresh_mute(id, now);
            self.schedule(id);
            let change = self.change(id, Detail::Transition(Arc::clone(&t)));
            fx.push(Some(Write::Transition(t)), change);
        }
        if firing_changed {
            self.remute_affected(now, fx);
        }
        // An alert that becomes active may be one a silence or a window holds.
        if to == State::Active {
            self.reconsider(now, id, fx);
        }
        let after = self.alerts.get(&id).map_or(to, |e| e.state);
        Ok(Done {
            id,
            from,
            to: after,
        })
    }

    /// Lets go of a closed alert.
    fn forget(&mut self, id: i64) {
        let Some(e) = self.alerts.remove(&id) else {
            return;
        };
        if self.by_fp.get(&e.fp) == Some(&id) {
            self.by_fp.remove(&e.fp);
        }
        self.muting.forget(id, &e.labels);
        self.quiet.remove(&id);
    }

    /// A change of held alert `id`, as it is now.
    pub(super) fn change(&self, id: i64, detail: Detail) -> Change {
        match self.alerts.get(&id) {
            Some(e) => Change {
                alert_id: id,
                state: e.state,
                severity: Arc::clone(&e.severity),
                labels: Arc::clone(&e.labels),
                mute: e.mute.clone(),
                detail,
            },
            None => Change {
                alert_id: id,
                state: State::Closed,
                severity: Arc::clone(&self.nothing.1),
                labels: Arc::clone(&self.nothing.0),
                mute: None,
                detail,
            },
        }
    }

    /// Decides again why alert `id` is quiet; whether that changed.
    pub(super) fn refresh_mute(&mut self, id: i64, now: i64) -> bool {
        let Some(e) = self.alerts.get(&id) else {
            return false;
        };
        let suppressed = (e.state == State::Suppressed).then(|| Suppression {
            by: e.suppressed_by.clone(),
            until: e.suppressed_until,
        });
        let m = self.muting.mute(id, &e.labels, suppressed, now);
        let m = (!m.is_empty()).then_some(m);
        if e.mute.as_deref() == m.as_ref() {
            return false;
        }
        if let Some(e) = self.alerts.get_mut(&id) {
            e.mute = m.map(Arc::new);
        }
        true
    }

    pub(super) fn push_muted(&mut self, id: i64, fx: &mut Effects) {
        let change = self.change(id, Detail::Muted);
        fx.push(None, change);
    }

    /// After an alert started or stopped firing: the alerts its inhibition rules target may be
    /// inhibited, or free, now.
    fn remute_affected(&mut self, now: i64, fx: &mut Effects) {
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        self.muting.affected(&mut ids);
        for &id in &ids {
            if self.refresh_mute(id, now) {
                self.push_muted(id, fx);
            }
        }
        ids.clear();
        self.scratch = ids;
    }
}
