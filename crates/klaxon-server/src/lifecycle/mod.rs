//! The lifecycle manager: one task owns the index of every non-closed alert, deduplicates
//! firings by fingerprint, enforces the state machine for every action, runs the lifecycle's
//! timers (auto-resolve, resolve timeout, suppression expiry, close after resolution), commits
//! each batch of changes durably, and only then publishes them and answers callers.

pub mod convert;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_engine::lifecycle::{dedup, transition, Action, Dedup, State};
use klaxon_store::{AlertChange, AlertIndex, Source, Store, StoreError, StoredAlert};
use serde_json::json;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::driver::{wall_ms, Fired};
use crate::metrics::Metrics;
use crate::publish::Published;
use convert::Labelled;

/// Lifecycle settings, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// A resolved alert that fires again within this reopens (default 5 min).
    pub reopen_window_ms: i64,
    /// Resolved alerts close after this.
    pub close_after_ms: i64,
    /// Event-rule alerts resolve after this long without a new firing (None: by hand only).
    pub rule_auto_resolve_ms: Option<i64>,
    /// Alertmanager alerts without `endsAt` resolve after this long without a resend.
    pub resolve_timeout_ms: i64,
}

/// Changes gathered into one commit at most (then committed, published and answered), so a
/// storm of firings is published in steady steps instead of one late lump.
const MAX_BATCH_CHANGES: usize = 4096;

/// An action a person (or a silence) takes on one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Acknowledge,
    Resolve,
    /// Until this time (epoch ms), then back to active.
    Suppress {
        until: i64,
    },
    Unsuppress,
    Close,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    /// The state machine does not allow it from `current`.
    Illegal {
        current: String,
        message: String,
    },
    Unavailable,
}

/// The outcome of an action: the transition made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub id: i64,
    pub from: String,
    pub to: String,
}

/// What the manager is asked to do.
pub enum Command {
    /// Alerts the engine fired.
    Fired(Fired),
    /// Labelled alerts (Alertmanager clients, threshold rules, the API); the reply lists the
    /// id each one landed on (`None` for a resolution of nothing).
    Labelled {
        alerts: Vec<Labelled>,
        reply: Option<oneshot::Sender<Vec<Option<i64>>>>,
    },
    Act {
        id: i64,
        act: Act,
        actor: String,
        reason: String,
        reply: oneshot::Sender<Result<Done, Refusal>>,
    },
    Note {
        id: i64,
        author: String,
        text: String,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
    Assign {
        id: i64,
        actor: String,
        assignee: Option<String>,
        reply: oneshot::Sender<Result<(), Refusal>>,
    },
}

/// A committed lifecycle change, as streams see it.
#[derive(Debug)]
pub struct Change {
    pub alert_id: i64,
    /// `created`, `occurrence`, `transition`, `note`, `assigned`.
    pub kind: &'static str,
    pub severity: String,
    pub state: String,
    /// The alert's labels, for stream filters.
    pub labels: Arc<std::collections::BTreeMap<String, String>>,
    pub json: String,
    /// The change as data, for the notification dispatcher.
    pub detail: Detail,
}

/// What a change did, typed.
#[derive(Debug, Clone)]
pub enum Detail {
    /// A new alert, as stored.
    Created(Arc<StoredAlert>),
    /// Another firing: the latest summary, severity and count.
    Occurrence {
        summary: String,
        severity: String,
        occurrences: u64,
        last_seen: i64,
    },
    /// A state change by `actor` at `at`.
    Transition { to: String, actor: String, at: i64 },
    /// A note or an assignment: nothing a notification tells.
    Other,
}

/// Where committed changes go.
pub struct Outputs {
    /// New alerts (the `/v1/alerts/stream` feed).
    pub created: broadcast::Sender<Arc<Published>>,
    /// Every change (the `/alerts/stream` feed).
    pub changes: broadcast::Sender<Arc<Change>>,
    pub metrics: Arc<Metrics>,
}

#[derive(Debug, Clone)]
struct Entry {
    id: i64,
    fingerprint: String,
    state: State,
    source: Source,
    severity: String,
    labels: Arc<std::collections::BTreeMap<String, String>>,
    occurrences: u64,
    last_seen: i64,
    resolved_at: Option<i64>,
    suppressed_until: Option<i64>,
    ends_at: Option<i64>,
    /// The rule's own auto-resolve time (event rules), overriding the server setting.
    auto_resolve_ms: Option<i64>,
    /// The auto-resolve check waiting in the timer heap, if any.
    auto_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Close,
    Unsuppress,
    AutoResolve,
}

enum Reply {
    Labelled(oneshot::Sender<Vec<Option<i64>>>, Vec<Option<i64>>),
    Act(
        oneshot::Sender<Result<Done, Refusal>>,
        Result<Done, Refusal>,
    ),
    Unit(oneshot::Sender<Result<(), Refusal>>, Result<(), Refusal>),
}

/// The manager's state.
pub struct Manager<S> {
    store: S,
    settings: Settings,
    out: Outputs,
    alerts: HashMap<i64, Entry>,
    by_fingerprint: HashMap<String, i64>,
    next_id: i64,
    due: BinaryHeap<Reverse<(i64, i64, Due)>>,
    // One batch in the making.
    changes: Vec<AlertChange>,
    created: Vec<StoredAlert>,
    published: Vec<Change>,
    replies: Vec<Reply>,
    latencies: Vec<Instant>,
    /// Alerts whose latest change in this batch is an occurrence: (index in `changes`, index
    /// in `published`). A further firing replaces that occurrence instead of adding one, so a
    /// storm of firings costs one row update per alert and batch.
    folding: HashMap<i64, (usize, usize)>,
}

impl<S: Store + Clone> Manager<S> {
    /// Loads the index of every non-closed alert and schedules its timers. `rule_auto` gives
    /// the `auto_resolve_seconds` (ms) of the active event rules by (group, rule id).
    pub async fn load(
        store: S,
        settings: Settings,
        out: Outputs,
        rule_auto: &HashMap<(String, String), i64>,
    ) -> Result<Manager<S>, StoreError> {
        let next_id = store.max_alert_id().await? + 1;
        let mut m = Manager {
            store,
            settings,
            out,
            alerts: HashMap::new(),
            by_fingerprint: HashMap::new(),
            next_id,
            due: BinaryHeap::new(),
            changes: Vec::new(),
            created: Vec::new(),
            published: Vec::new(),
            replies: Vec::new(),
            latencies: Vec::new(),
            folding: HashMap::new(),
        };
        for a in m.store.load_open_alerts().await? {
            let auto = match (a.labels.get("group"), a.labels.get("alertname")) {
                (Some(g), Some(r)) if a.source == Source::Rule => {
                    rule_auto.get(&(g.clone(), r.clone())).copied()
                }
                _ => None,
            };
            m.index(a, auto);
        }
        Ok(m)
    }

    fn index(&mut self, a: AlertIndex, auto_resolve_ms: Option<i64>) {
        let Some(state) = State::parse(&a.state) else {
            return;
        };
        let e = Entry {
            id: a.id,
            fingerprint: a.fingerprint.clone(),
            state,
            source: a.source,
            severity: a.severity,
            labels: Arc::new(a.labels),
            occurrences: a.occurrences,
            last_seen: a.last_seen,
            resolved_at: a.resolved_at,
            suppressed_until: a.suppressed_until,
            ends_at: a.ends_at,
            auto_resolve_ms,
            auto_at: None,
        };
        // The newest alert of a fingerprint is the one firings fold into.
        let newer = self
            .by_fingerprint
            .get(&a.fingerprint)
            .is_none_or(|&old| old < a.id);
        if newer {
            self.by_fingerprint.insert(a.fingerprint, a.id);
        }
        self.alerts.insert(a.id, e.clone());
        self.schedule(&e);
    }

    /// Schedules what the entry's state waits for.
    fn schedule(&mut self, e: &Entry) {
        match e.state {
            State::Resolved => {
                if let Some(r) = e.resolved_at {
                    self.due.push(Reverse((
                        r.saturating_add(self.settings.close_after_ms),
                        e.id,
                        Due::Close,
                    )));
                }
            }
            State::Suppressed => {
                if let Some(u) = e.suppressed_until {
                    self.due.push(Reverse((u, e.id, Due::Unsuppress)));
                }
            }
            _ => {}
        }
        self.schedule_auto_resolve(e);
    }

    fn auto_resolve_at(&self, e: &Entry) -> Option<i64> {
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

    /// Runs until both command channels close and every command is committed. `engine`
    /// carries what the engine fired (bounded: a full channel holds the engine back, and with
    /// it ingest); `api` carries what people and other senders ask (actions, labelled alerts),
    /// served first so an acknowledgement never waits behind a storm of firings.
    pub async fn run(
        mut self,
        mut engine: mpsc::Receiver<Command>,
        mut api: mpsc::UnboundedReceiver<Command>,
    ) {
        let (mut engine_open, mut api_open) = (true, true);
        while engine_open || api_open {
            let next = self.due.peek().map(|Reverse((at, _, _))| *at);
            let wait = next.map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis(u64::try_from(at.saturating_add(1) - wall_ms()).unwrap_or(0))
            });
            tokio::select! {
                biased;
                cmd = api.recv(), if api_open => match cmd {
                    Some(c) => self.handle(c).await,
                    None => api_open = false,
                },
                cmd = engine.recv(), if engine_open => match cmd {
                    Some(c) => self.handle(c).await,
                    None => engine_open = false,
                },
                () = tokio::time::sleep(wait) => {}
            }
            // Gather what is already waiting into the same commit, up to a bounded batch.
            while self.changes.len() < MAX_BATCH_CHANGES {
                if let Ok(c) = api.try_recv() {
                    self.handle(c).await;
                } else if let Ok(c) = engine.try_recv() {
                    self.handle(c).await;
                } else {
                    break;
                }
            }
            self.fire_due(wall_ms());
            self.commit().await;
        }
        self.commit().await;
    }

    async fn handle(&mut self, c: Command) {
        let now = wall_ms();
        match c {
            Command::Fired(f) => {
                for a in &f.alerts {
                    self.engine_alert(a, now);
                    self.latencies.push(f.accepted);
                }
            }
            Command::Labelled { alerts, reply } => {
                let ids: Vec<Option<i64>> = alerts.iter().map(|l| self.labelled(l, now)).collect();
                if let Some(r) = reply {
                    self.replies.push(Reply::Labelled(r, ids));
                }
            }
            Command::Act {
                id,
                act,
                actor,
                reason,
                reply,
            } => {
                let r = self.act(id, act, &actor, &reason, now).await;
                self.replies.push(Reply::Act(reply, r));
            }
            Command::Note {
                id,
                author,
                text,
                reply,
            } => {
                let r = match self.current_state(id).await {
                    Ok(state) => {
                        self.folding.remove(&id);
                        self.changes.push(AlertChange::Note {
                            id,
                            at: now,
                            author: author.clone(),
                            text: text.clone(),
                            state: state.clone(),
                        });
                        self.publish(
                            id,
                            "note",
                            &state,
                            json!({"id": id, "author": author, "text": text, "at": now}),
                            Detail::Other,
                        );
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                self.replies.push(Reply::Unit(reply, r));
            }
            Command::Assign {
                id,
                actor,
                assignee,
                reply,
            } => {
                let r = match self.current_state(id).await {
                    Ok(state) => {
                        self.folding.remove(&id);
                        self.changes.push(AlertChange::Assign {
                            id,
                            at: now,
                            actor: actor.clone(),
                            assignee: assignee.clone(),
                            state: state.clone(),
                        });
                        self.publish(
                            id,
                            "assigned",
                            &state,
                            json!({"id": id, "actor": actor, "assignee": assignee, "at": now}),
                            Detail::Other,
                        );
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                self.replies.push(Reply::Unit(reply, r));
            }
        }
    }

    /// The state of an alert that may be closed (then only the store knows it).
    async fn current_state(&self, id: i64) -> Result<String, Refusal> {
        if let Some(e) = self.alerts.get(&id) {
            return Ok(e.state.as_str().to_owned());
        }
        match self.store.get_alert(id).await {
            Ok(a) => Ok(a.state),
            Err(StoreError::NotFound(_)) => Err(Refusal::NotFound),
            Err(_) => Err(Refusal::Unavailable),
        }
    }

    fn engine_alert(&mut self, a: &klaxon_engine::Alert, now: i64) {
        let fp = a.fingerprint_hex();
        let at = a.engine_ts;
        match self.decide(&fp, at) {
            (Dedup::Occurrence, Some(id)) => self.occur(
                id,
                at,
                a.message.clone(),
                a.severity.as_str(),
                None,
                convert::engine_occurrence(a),
            ),
            (Dedup::Reopen, Some(id)) => {
                let _ = self.move_to(
                    id,
                    Action::Reopen,
                    "engine",
                    "fired again within the reopen window",
                    now,
                    None,
                );
                self.occur(
                    id,
                    at,
                    a.message.clone(),
                    a.severity.as_str(),
                    None,
                    convert::engine_occurrence(a),
                );
            }
            _ => {
                let id = self.take_id();
                let stored = convert::from_engine(id, a, "active", now);
                let auto = a.auto_resolve_ms.map(|ms| ms as i64);
                self.insert(
                    stored,
                    "engine",
                    "fired",
                    convert::engine_occurrence(a),
                    auto,
                );
            }
        }
    }

    fn labelled(&mut self, l: &Labelled, now: i64) -> Option<i64> {
        let actor = l.source.as_str();
        let ended = l.ends_at.is_some_and(|e| e <= now);
        let current = self.by_fingerprint.get(&l.fingerprint).copied();
        if ended {
            let id = current.filter(|id| self.alerts.get(id).is_some_and(|e| e.state.is_open()))?;
            if let Some(e) = self.alerts.get_mut(&id) {
                e.ends_at = l.ends_at;
            }
            let _ = self.move_to(
                id,
                Action::Resolve,
                actor,
                "resolved by its source",
                now,
                None,
            );
            return Some(id);
        }
        let occurrence = klaxon_store::Occurrence {
            at: now,
            value: l.value,
            message: l.summary.clone(),
        };
        match self.decide(&l.fingerprint, now) {
            (Dedup::Occurrence, Some(id)) => {
                let was_pending = self
                    .alerts
                    .get(&id)
                    .is_some_and(|e| e.state == State::Pending);
                self.occur(
                    id,
                    now,
                    l.summary.clone(),
                    &l.severity,
                    Some((l.annotations.clone(), l.ends_at)),
                    occurrence,
                );
                if was_pending && !l.pending {
                    let _ = self.move_to(id, Action::Fire, actor, "condition held", now, None);
                }
                Some(id)
            }
            (Dedup::Reopen, Some(id)) => {
                let _ = self.move_to(
                    id,
                    Action::Reopen,
                    actor,
                    "fired again within the reopen window",
                    now,
                    None,
                );
                self.occur(
                    id,
                    now,
                    l.summary.clone(),
                    &l.severity,
                    Some((l.annotations.clone(), l.ends_at)),
                    occurrence,
                );
                Some(id)
            }
            _ => {
                let id = self.take_id();
                let stored = convert::from_labelled(id, l, now);
                self.insert(stored, actor, "fired", occurrence, None);
                Some(id)
            }
        }
    }

    fn decide(&self, fp: &str, at: i64) -> (Dedup, Option<i64>) {
        let id = self.by_fingerprint.get(fp).copied();
        let latest = id
            .and_then(|id| self.alerts.get(&id))
            .map(|e| (e.state, e.resolved_at));
        (dedup(latest, at, self.settings.reopen_window_ms), id)
    }

    fn take_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn insert(
        &mut self,
        a: StoredAlert,
        actor: &str,
        reason: &str,
        occurrence: klaxon_store::Occurrence,
        auto_resolve_ms: Option<i64>,
    ) {
        let state = State::parse(&a.state).unwrap_or(State::Active);
        let e = Entry {
            id: a.id,
            fingerprint: a.fingerprint.clone(),
            state,
            source: a.source,
            severity: a.severity.clone(),
            labels: Arc::new(a.labels.clone()),
            occurrences: 1,
            last_seen: a.last_seen,
            resolved_at: None,
            suppressed_until: None,
            ends_at: a.ends_at,
            auto_resolve_ms,
            auto_at: None,
        };
        self.by_fingerprint.insert(a.fingerprint.clone(), a.id);
        self.alerts.insert(a.id, e.clone());
        self.schedule(&e);
        let json = crate::api::alerts::to_json(&a);
        self.published.push(Change {
            alert_id: a.id,
            kind: "created",
            severity: a.severity.clone(),
            state: a.state.clone(),
            labels: Arc::new(a.labels.clone()),
            json: json!({"kind": "created", "alert": json}).to_string(),
            detail: Detail::Created(Arc::new(a.clone())),
        });
        self.changes.push(AlertChange::Insert {
            alert: Box::new(a.clone()),
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            occurrence,
        });
        self.created.push(a);
    }

    fn occur(
        &mut self,
        id: i64,
        at: i64,
        summary: String,
        severity: &str,
        labelled: Option<(std::collections::BTreeMap<String, String>, Option<i64>)>,
        occurrence: klaxon_store::Occurrence,
    ) {
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        e.occurrences += 1;
        e.last_seen = e.last_seen.max(at);
        e.severity = severity.to_owned();
        let (annotations, ends_at) = match labelled {
            Some((ann, ends)) => {
                e.ends_at = ends;
                (ann, ends)
            }
            None => (Default::default(), e.ends_at),
        };
        let (occurrences, last_seen, state) = (e.occurrences, e.last_seen, e.state);
        let snapshot = e.clone();
        self.schedule_auto_resolve(&snapshot);
        let change = AlertChange::Occur {
            id,
            at: last_seen,
            occurrences,
            summary: summary.clone(),
            severity: severity.to_owned(),
            annotations,
            ends_at,
            occurrence,
        };
        let body = json!({"id": id, "occurrences": occurrences, "last_seen": last_seen, "summary": summary});
        let detail = Detail::Occurrence {
            summary,
            severity: severity.to_owned(),
            occurrences,
            last_seen,
        };
        match self.folding.get(&id) {
            Some(&(ci, pi)) => {
                self.changes[ci] = change;
                self.published[pi] = self.change(id, "occurrence", state.as_str(), body, detail);
            }
            None => {
                self.folding
                    .insert(id, (self.changes.len(), self.published.len()));
                self.changes.push(change);
                self.publish(id, "occurrence", state.as_str(), body, detail);
            }
        }
    }

    /// Schedules the entry's auto-resolve unless an earlier check is already due: a check that
    /// comes due early finds the new deadline and schedules it then.
    fn schedule_auto_resolve(&mut self, e: &Entry) {
        let Some(at) = self.auto_resolve_at(e) else {
            return;
        };
        let Some(entry) = self.alerts.get_mut(&e.id) else {
            return;
        };
        if entry.auto_at.is_none_or(|old| at < old) {
            entry.auto_at = Some(at);
            self.due.push(Reverse((at, e.id, Due::AutoResolve)));
        }
    }

    /// Applies a state-machine action to an indexed alert, or says why it cannot.
    fn move_to(
        &mut self,
        id: i64,
        action: Action,
        actor: &str,
        reason: &str,
        now: i64,
        until: Option<i64>,
    ) -> Result<Done, Refusal> {
        let Some(e) = self.alerts.get_mut(&id) else {
            return Err(Refusal::NotFound);
        };
        let from = e.state;
        let to = transition(from, action).map_err(|i| Refusal::Illegal {
            current: from.as_str().to_owned(),
            message: i.to_string(),
        })?;
        e.state = to;
        match to {
            State::Resolved => e.resolved_at = Some(now),
            State::Suppressed => e.suppressed_until = until,
            _ => {}
        }
        if from == State::Resolved {
            e.resolved_at = None;
        }
        if from == State::Suppressed {
            e.suppressed_until = None;
        }
        let snapshot = e.clone();
        if to == State::Closed {
            self.alerts.remove(&id);
            if self.by_fingerprint.get(&snapshot.fingerprint) == Some(&id) {
                self.by_fingerprint.remove(&snapshot.fingerprint);
            }
        } else {
            self.schedule(&snapshot);
        }
        self.folding.remove(&id);
        self.changes.push(AlertChange::Transition {
            id,
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            at: now,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            until,
        });
        self.publish(
            id,
            "transition",
            to.as_str(),
            json!({"id": id, "from": from.as_str(), "to": to.as_str(), "actor": actor, "reason": reason, "at": now}),
            Detail::Transition {
                to: to.as_str().to_owned(),
                actor: actor.to_owned(),
                at: now,
            },
        );
        Ok(Done {
            id,
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
        })
    }

    async fn act(
        &mut self,
        id: i64,
        act: Act,
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<Done, Refusal> {
        if !self.alerts.contains_key(&id) {
            // Closed (final) or unknown.
            return match self.current_state(id).await {
                Ok(state) => Err(Refusal::Illegal {
                    current: state.clone(),
                    message: format!("the alert is {state}"),
                }),
                Err(e) => Err(e),
            };
        }
        let (action, until) = match act {
            Act::Acknowledge => (Action::Acknowledge, None),
            Act::Resolve => (Action::Resolve, None),
            Act::Suppress { until } => (Action::Suppress, Some(until)),
            Act::Unsuppress => (Action::Unsuppress, None),
            Act::Close => (Action::Close, None),
        };
        self.move_to(id, action, actor, reason, now, until)
    }

    /// Fires the lifecycle timers that are due.
    fn fire_due(&mut self, now: i64) {
        while let Some(&Reverse((at, id, what))) = self.due.peek() {
            if at >= now {
                break;
            }
            self.due.pop();
            let Some(e) = self.alerts.get(&id).cloned() else {
                continue;
            };
            match what {
                Due::Close if e.state == State::Resolved => {
                    let due = e
                        .resolved_at
                        .map(|r| r.saturating_add(self.settings.close_after_ms));
                    if due.is_some_and(|d| d < now) {
                        let _ = self.move_to(
                            id,
                            Action::Close,
                            "system",
                            "closed after resolution",
                            now,
                            None,
                        );
                    }
                }
                Due::Unsuppress
                    if e.state == State::Suppressed
                        && e.suppressed_until.is_some_and(|u| u < now) =>
                {
                    let _ = self.move_to(
                        id,
                        Action::Unsuppress,
                        "system",
                        "suppression expired",
                        now,
                        None,
                    );
                }
                Due::AutoResolve if e.auto_at == Some(at) => {
                    let next = self.auto_resolve_at(&e);
                    if let Some(entry) = self.alerts.get_mut(&id) {
                        entry.auto_at = next.filter(|d| *d >= now);
                    }
                    match next {
                        Some(d) if d < now => {
                            let reason = match e.source {
                                Source::Alertmanager if e.ends_at.is_some() => "endsAt passed",
                                Source::Alertmanager => "resolve timeout: not sent again",
                                _ => "auto-resolve: no new firing",
                            };
                            let _ = self.move_to(
                                id,
                                Action::Resolve,
                                e.source.as_str(),
                                reason,
                                now,
                                None,
                            );
                        }
                        Some(d) => self.due.push(Reverse((d, id, Due::AutoResolve))),
                        None => {}
                    }
                }
                _ => {}
            }
        }
    }

    fn publish(
        &mut self,
        id: i64,
        kind: &'static str,
        state: &str,
        body: serde_json::Value,
        detail: Detail,
    ) {
        let c = self.change(id, kind, state, body, detail);
        self.published.push(c);
    }

    fn change(
        &self,
        id: i64,
        kind: &'static str,
        state: &str,
        body: serde_json::Value,
        detail: Detail,
    ) -> Change {
        let (severity, labels) = self
            .alerts
            .get(&id)
            .map(|e| (e.severity.clone(), Arc::clone(&e.labels)))
            .unwrap_or_default();
        let mut body = body;
        body["kind"] = json!(kind);
        Change {
            alert_id: id,
            kind,
            severity,
            state: state.to_owned(),
            labels,
            json: body.to_string(),
            detail,
        }
    }

    /// Commits the batch (retrying until the store takes it), then publishes and replies.
    async fn commit(&mut self) {
        if self.changes.is_empty() && self.replies.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut self.changes);
        self.folding.clear();
        if !changes.is_empty() {
            let mut backoff = Duration::from_millis(50);
            loop {
                let t0 = Instant::now();
                match self.store.apply_alert_changes(changes.clone()).await {
                    Ok(()) => {
                        self.out.metrics.store_commit.observe(t0.elapsed());
                        break;
                    }
                    Err(e) => {
                        self.out
                            .metrics
                            .store_errors
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::error!(error = %e, changes = changes.len(), "committing alert changes failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
        for a in self.created.drain(..) {
            let _ = self.out.created.send(Arc::new(Published::new(&a)));
        }
        for c in self.published.drain(..) {
            let _ = self.out.changes.send(Arc::new(c));
        }
        for t in self.latencies.drain(..) {
            self.out.metrics.alert_publish_latency.observe(t.elapsed());
        }
        for r in self.replies.drain(..) {
            match r {
                Reply::Labelled(tx, v) => {
                    let _ = tx.send(v);
                }
                Reply::Act(tx, v) => {
                    let _ = tx.send(v);
                }
                Reply::Unit(tx, v) => {
                    let _ = tx.send(v);
                }
            }
        }
    }
}
