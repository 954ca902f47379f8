//! The lifecycle manager: one task owns the index of every non-closed alert, deduplicates
//! firings by fingerprint, enforces the state machine for every action, runs the lifecycle's
//! timers (auto-resolve, resolve timeout, suppression expiry, close after resolution), commits
//! each batch of changes durably, and only then publishes them and answers callers.

pub(crate) mod convert;
mod noise;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_engine::lifecycle::{dedup, transition, Action, Dedup, State};
use klaxon_store::{AlertChange, AlertIndex, Source, Store, StoreError, StoredAlert};
use serde_json::json;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::clock::wall_ms;
use crate::metrics::Metrics;
use crate::pipeline::driver::Fired;
use crate::wire::alert_json;
use convert::Labelled;
pub(crate) use noise::{is_uuid, SilenceRefusal};

/// The manager's maps are keyed by numbers (ids, fingerprints), looked up on every firing:
/// foldhash, seeded per process, hashes them at a fraction of SipHash's cost.
type FastMap<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

/// Lifecycle settings, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LifecycleSettings {
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
pub(crate) enum Act {
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
pub(crate) enum Refusal {
    NotFound,
    /// The state machine does not allow it from `current`.
    Illegal {
        current: State,
        message: String,
    },
    Unavailable,
}

/// The outcome of an action: the transition made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Done {
    pub id: i64,
    pub from: State,
    pub to: State,
}

/// What the manager is asked to do.
pub(crate) enum Command {
    /// Alerts the engine fired.
    Fired(Fired),
    /// Labelled alerts (Alertmanager clients, threshold rules, the API); the reply lists the
    /// id each one landed on (`None` for a resolution of nothing).
    Labelled {
        alerts: Vec<Labelled>,
        reply: Option<oneshot::Sender<Vec<Option<i64>>>>,
    },
    /// Resends as their sender's task saw them (identity and content as numbers): each one
    /// that changes nothing but counts and times is taken here, with no text crossing
    /// threads; the reply says which were taken, and the caller sends the rest as
    /// [`Command::Labelled`].
    Resends {
        resends: Vec<Resend>,
        reply: oneshot::Sender<Vec<bool>>,
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
    /// Create or change a silence (an empty id creates); the reply is its id, once committed.
    UpsertSilence {
        silence: klaxon_engine::noise::Silence,
        reply: oneshot::Sender<Result<String, SilenceRefusal>>,
    },
    /// Expire a silence now.
    ExpireSilence {
        id: String,
        reply: oneshot::Sender<Result<String, SilenceRefusal>>,
    },
    /// Why an open alert is or is not muted (`None`: not open).
    Explain {
        id: i64,
        reply: oneshot::Sender<Option<serde_json::Value>>,
    },
}

/// A labelled alert reduced to what tells whether it is a quiet resend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resend {
    fp: u64,
    content: u64,
    ends_at: Option<i64>,
}

impl Resend {
    /// `fingerprint` as [`convert::label_key`] gives it, `content` as
    /// [`convert::content_key`] does.
    pub(crate) fn new(fingerprint: u64, content: u64, ends_at: Option<i64>) -> Resend {
        Resend {
            fp: fingerprint,
            content,
            ends_at,
        }
    }
}

/// A committed lifecycle change, as streams see it.
#[derive(Debug)]
pub(crate) struct Change {
    pub alert_id: i64,
    pub severity: String,
    pub state: State,
    /// The alert's labels, for stream filters.
    pub labels: Arc<std::collections::BTreeMap<String, String>>,
    pub json: String,
    /// The change as data, for the notification dispatcher.
    pub detail: Detail,
    /// The last change of one commit: readers that must see a commit whole (the dispatcher,
    /// before it tells anyone) wait for it.
    pub end_of_batch: bool,
}

/// What a change did, typed.
#[derive(Debug, Clone)]
pub(crate) enum Detail {
    /// A new alert, as stored, and its wire JSON (rendered once).
    Created {
        alert: Arc<StoredAlert>,
        json: Arc<str>,
    },
    /// Another firing: the latest summary, severity and count.
    Occurrence {
        summary: String,
        severity: String,
        occurrences: u64,
    },
    /// A state change by `actor` at `at`.
    Transition { to: State, actor: String, at: i64 },
    /// A note or an assignment: nothing a notification tells.
    Other,
    /// A silence that holds alerts ends soon (`[silence_notice]`): the text, and the alerts it
    /// holds.
    Notice { text: String, alerts: Vec<i64> },
}

/// Where committed changes go.
pub(crate) struct Outputs {
    /// Every change: the alert streams (through the publish hub) and the notification
    /// dispatcher read it.
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
    /// What suppresses it (`silence:<id>`, `maintenance:<name>`).
    suppressed_by: Option<String>,
    /// Maintenance windows its rule names (`suppression_rules`).
    windows: Arc<[String]>,
    /// The latest summary and annotations: a firing that changes neither is a quiet one.
    summary: Arc<str>,
    annotations: Arc<std::collections::BTreeMap<String, String>>,
    /// [`convert::content_key`] of severity, summary and annotations.
    content: u64,
    /// When its occurrence log last got a row (quiet occurrences log at most once a minute).
    logged_at: i64,
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
    /// A silence starts or ends, a maintenance window opens or closes, a flapping alert may be
    /// stable: every open alert is looked at again.
    Noise,
    /// Quiet occurrences waiting to be written.
    Flush,
}

enum Reply {
    Labelled(oneshot::Sender<Vec<Option<i64>>>, Vec<Option<i64>>),
    Resends(oneshot::Sender<Vec<bool>>, Vec<bool>),
    Act(
        oneshot::Sender<Result<Done, Refusal>>,
        Result<Done, Refusal>,
    ),
    Unit(oneshot::Sender<Result<(), Refusal>>, Result<(), Refusal>),
    Silence(
        oneshot::Sender<Result<String, SilenceRefusal>>,
        Result<String, SilenceRefusal>,
    ),
}

/// The manager's state.
pub(crate) struct Manager<S> {
    store: S,
    settings: LifecycleSettings,
    out: Outputs,
    alerts: FastMap<i64, Entry>,
    /// Fingerprint (as its 64-bit value) → the newest alert of it.
    by_fingerprint: FastMap<u64, i64>,
    next_id: i64,
    due: BinaryHeap<Reverse<(i64, i64, Due)>>,
    // One batch in the making.
    changes: Vec<AlertChange>,
    published: Vec<Change>,
    replies: Vec<Reply>,
    latencies: Vec<Instant>,
    /// Alerts whose latest change in this batch is an occurrence: (index in `changes`, index
    /// in `published`). A further firing replaces that occurrence instead of adding one, so a
    /// storm of firings costs one row update per alert and batch.
    folding: FastMap<i64, (usize, usize)>,
    noise: noise::State,
    /// Quiet occurrences (a resend that changes nothing but counts and times): kept in RAM and
    /// written, folded per alert, within [`QUIET_FLUSH_MS`], so that senders that resend every
    /// open alert (Prometheus does) cost no commit. The alert itself is durable already.
    quiet: FastMap<i64, (i64, Option<f64>)>,
    /// Quiet firings so far.
    quiet_firings: u64,
}

/// A fingerprint's 64-bit value: fingerprints are 16 hex digits, and a number hashes and
/// compares faster than its text. (Any other text is hashed, stably.)
fn fp_key(fp: &str) -> u64 {
    match u64::from_str_radix(fp, 16) {
        Ok(v) if fp.len() == 16 => v,
        _ => fp.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        }),
    }
}

/// How long a quiet occurrence waits in RAM before it is written (and published).
const QUIET_FLUSH_MS: i64 = 1000;
/// Quiet occurrences add a row to the occurrence log at most this often per alert (every
/// firing is counted in `occurrences` either way).
const QUIET_LOG_MS: i64 = 60_000;

impl<S: Store + Clone> Manager<S> {
    /// Loads the index of every non-closed alert and schedules its timers. `rule_auto` gives
    /// the `auto_resolve_seconds` (ms) of the active event rules by (group, rule id).
    pub(crate) async fn load(
        store: S,
        settings: LifecycleSettings,
        out: Outputs,
        rule_auto: &HashMap<(String, String), i64>,
        controls: crate::config::NoiseControls,
    ) -> Result<Manager<S>, StoreError> {
        let next_id = store.max_alert_id().await? + 1;
        let noise = noise::State::new(controls, store.silences().await?);
        let mut m = Manager {
            store,
            settings,
            out,
            alerts: FastMap::default(),
            by_fingerprint: FastMap::default(),
            next_id,
            due: BinaryHeap::new(),
            changes: Vec::new(),
            published: Vec::new(),
            replies: Vec::new(),
            latencies: Vec::new(),
            folding: FastMap::default(),
            noise,
            quiet: FastMap::default(),
            quiet_firings: 0,
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
        // Silences and windows may have changed while the server was down.
        m.reconsider_all(wall_ms());
        Ok(m)
    }

    fn index(&mut self, a: AlertIndex, auto_resolve_ms: Option<i64>) {
        let content = convert::content_key_of(&a.severity, &a.message, &a.annotations);
        let e = Entry {
            id: a.id,
            fingerprint: a.fingerprint.clone(),
            state: a.state,
            source: a.source,
            severity: a.severity,
            labels: Arc::new(a.labels),
            occurrences: a.occurrences,
            last_seen: a.last_seen,
            resolved_at: a.resolved_at,
            suppressed_until: a.suppressed_until,
            suppressed_by: a.suppressed_by,
            windows: noise::named_windows(&a.annotations),
            content,
            summary: Arc::from(a.message.as_str()),
            annotations: Arc::new(a.annotations),
            logged_at: a.last_seen,
            ends_at: a.ends_at,
            auto_resolve_ms,
            auto_at: None,
        };
        if e.state.is_firing() {
            self.noise.inhibitor.fire(e.id, &e.labels);
        }
        // The newest alert of a fingerprint is the one firings fold into.
        let newer = self
            .by_fingerprint
            .get(&fp_key(&a.fingerprint))
            .is_none_or(|&old| old < a.id);
        if newer {
            self.by_fingerprint.insert(fp_key(&a.fingerprint), a.id);
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
        self.schedule_auto_resolve(e.id);
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
    pub(crate) async fn run(
        mut self,
        mut engine: mpsc::Receiver<Fired>,
        mut api: mpsc::Receiver<Command>,
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
                fired = engine.recv(), if engine_open => match fired {
                    Some(f) => self.handle(Command::Fired(f)).await,
                    None => engine_open = false,
                },
                () = tokio::time::sleep(wait) => {}
            }
            // Gather what is already waiting into the same commit, up to a bounded batch.
            while self.changes.len() < MAX_BATCH_CHANGES {
                if let Ok(c) = api.try_recv() {
                    self.handle(c).await;
                } else if let Ok(f) = engine.try_recv() {
                    self.handle(Command::Fired(f)).await;
                } else {
                    break;
                }
            }
            self.fire_due(wall_ms());
            self.commit().await;
        }
        self.flush_quiet();
        self.commit().await;
    }

    async fn handle(&mut self, c: Command) {
        let now = wall_ms();
        match c {
            Command::Fired(f) => {
                // The publish latency is that of firings that change something; a quiet one is
                // published with the next flush, by design, and counted apart.
                for a in &f.alerts {
                    let quiet = self.quiet_firings;
                    self.engine_alert(a, now);
                    if self.quiet_firings == quiet {
                        self.latencies.push(f.accepted);
                    }
                }
                for ev in &f.threshold {
                    let quiet = self.quiet_firings;
                    self.labelled(&convert::from_threshold(ev), now);
                    if self.quiet_firings == quiet {
                        self.latencies.push(f.accepted);
                    }
                }
            }
            Command::Labelled { alerts, reply } => {
                let ids: Vec<Option<i64>> = alerts.iter().map(|l| self.labelled(l, now)).collect();
                if let Some(r) = reply {
                    self.replies.push(Reply::Labelled(r, ids));
                }
            }
            Command::Resends { resends, reply } => {
                // A fingerprint that missed once misses for the rest of the request, so its
                // firings keep their order.
                let mut missed = std::collections::HashSet::new();
                let taken = resends
                    .iter()
                    .map(|r| {
                        let taken = !missed.contains(&r.fp) && self.resend(r, now);
                        if !taken {
                            missed.insert(r.fp);
                        }
                        taken
                    })
                    .collect();
                self.replies.push(Reply::Resends(reply, taken));
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
                            state,
                        });
                        self.publish(
                            id,
                            "note",
                            state,
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
                            state,
                        });
                        self.publish(
                            id,
                            "assigned",
                            state,
                            json!({"id": id, "actor": actor, "assignee": assignee, "at": now}),
                            Detail::Other,
                        );
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                self.replies.push(Reply::Unit(reply, r));
            }
            Command::UpsertSilence { silence, reply } => {
                let r = self.upsert_silence(silence, now);
                self.replies.push(Reply::Silence(reply, r));
            }
            Command::ExpireSilence { id, reply } => {
                let r = self.expire_silence(&id, now);
                self.replies.push(Reply::Silence(reply, r));
            }
            Command::Explain { id, reply } => {
                let _ = reply.send(self.explain(id, now));
            }
        }
    }

    /// The state of an alert that may be closed (then only the store knows it).
    async fn current_state(&self, id: i64) -> Result<State, Refusal> {
        if let Some(e) = self.alerts.get(&id) {
            return Ok(e.state);
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
                &a.message,
                a.severity.as_str(),
                None,
                (a.signal_ts, a.value),
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
                    &a.message,
                    a.severity.as_str(),
                    None,
                    (a.signal_ts, a.value),
                );
            }
            _ => {
                let id = self.take_id();
                let stored = StoredAlert::from_engine(id, a, State::Active, now);
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
        let current = self.by_fingerprint.get(&fp_key(&l.fingerprint)).copied();
        if ended {
            let id = current.filter(|id| self.alerts.get(id).is_some_and(|e| e.state.is_open()))?;
            if let Some(e) = self.alerts.get_mut(&id) {
                e.ends_at = l.ends_at;
            }
            let reason = l.end_reason.as_deref().unwrap_or("resolved by its source");
            let _ = self.move_to(id, Action::Resolve, actor, reason, now, None);
            return Some(id);
        }
        match self.decide(&l.fingerprint, now) {
            (Dedup::Occurrence, Some(id)) => {
                let was_pending = self
                    .alerts
                    .get(&id)
                    .is_some_and(|e| e.state == State::Pending);
                self.occur(
                    id,
                    now,
                    &l.summary,
                    &l.severity,
                    Some((&l.annotations, l.ends_at)),
                    (now, l.value),
                );
                if was_pending && !l.pending {
                    let _ = self.move_to(id, Action::Fire, actor, "condition held", now, None);
                }
                Some(id)
            }
            // A new pending episode after resolution is a new alert: reopening makes an alert
            // active, and a pending one has not fired yet.
            (Dedup::Reopen, Some(id)) if !l.pending => {
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
                    &l.summary,
                    &l.severity,
                    Some((&l.annotations, l.ends_at)),
                    (now, l.value),
                );
                Some(id)
            }
            _ => {
                let id = self.take_id();
                let stored = convert::from_labelled(id, l, now);
                let occurrence = klaxon_store::Occurrence {
                    at: now,
                    value: l.value,
                    message: l.summary.clone(),
                };
                self.insert(stored, actor, "fired", occurrence, None);
                Some(id)
            }
        }
    }

    /// Takes a resend when it is a quiet one: its fingerprint's alert is open (not pending),
    /// not the API's, and the resend says what the alert says; it has not ended.
    fn resend(&mut self, r: &Resend, now: i64) -> bool {
        if r.ends_at.is_some_and(|e| e <= now) {
            return false;
        }
        let Some(&id) = self.by_fingerprint.get(&r.fp) else {
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
        self.hold_quiet(id, (now, None));
        true
    }

    fn decide(&self, fp: &str, at: i64) -> (Dedup, Option<i64>) {
        let id = self.by_fingerprint.get(&fp_key(fp)).copied();
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
        let e = Entry {
            id: a.id,
            fingerprint: a.fingerprint.clone(),
            state: a.state,
            source: a.source,
            severity: a.severity.clone(),
            labels: Arc::new(a.labels.clone()),
            occurrences: 1,
            last_seen: a.last_seen,
            resolved_at: None,
            suppressed_until: None,
            suppressed_by: None,
            windows: noise::named_windows(&a.annotations),
            content: convert::content_key_of(&a.severity, &a.message, &a.annotations),
            summary: Arc::from(a.message.as_str()),
            annotations: Arc::new(a.annotations.clone()),
            logged_at: a.first_seen,
            ends_at: a.ends_at,
            auto_resolve_ms,
            auto_at: None,
        };
        self.by_fingerprint.insert(fp_key(&a.fingerprint), a.id);
        self.alerts.insert(a.id, e.clone());
        self.schedule(&e);
        if e.state.is_firing() {
            self.noise.inhibitor.fire(e.id, &e.labels);
        }
        let alert = Arc::<str>::from(alert_json(&a).to_string());
        self.published.push(Change {
            alert_id: a.id,
            severity: a.severity.clone(),
            state: a.state,
            labels: Arc::new(a.labels.clone()),
            json: format!("{{\"alert\":{alert},\"kind\":\"created\"}}"),
            end_of_batch: false,
            detail: Detail::Created {
                alert: Arc::new(a.clone()),
                json: alert,
            },
        });
        self.changes.push(AlertChange::Insert {
            alert: Box::new(a.clone()),
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            occurrence,
        });
        if a.state == State::Active {
            self.reconsider(a.id, wall_ms());
        }
    }

    /// Another firing of open alert `id` at `at`; `occurred` is the (time, value) its log row
    /// records.
    fn occur(
        &mut self,
        id: i64,
        at: i64,
        summary: &str,
        severity: &str,
        labelled: Option<(&std::collections::BTreeMap<String, String>, Option<i64>)>,
        occurred: (i64, Option<f64>),
    ) {
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        // Machines resend; a person's own resend is answered with the new count.
        let quiet = e.source != Source::Api
            && e.severity == severity
            && *e.summary == *summary
            && labelled.is_none_or(|(ann, _)| *ann == *e.annotations);
        e.occurrences += 1;
        e.last_seen = e.last_seen.max(at);
        if let Some((ann, ends)) = labelled {
            e.ends_at = ends;
            if !quiet {
                e.annotations = Arc::new(ann.clone());
            }
        }
        if !quiet {
            e.severity = severity.to_owned();
            e.summary = Arc::from(summary);
            e.content = convert::content_key_of(&e.severity, &e.summary, &e.annotations);
        }
        self.schedule_auto_resolve(id);
        if quiet {
            self.hold_quiet(id, occurred);
            return;
        }
        self.quiet.remove(&id);
        self.push_occurrence(id, occurred, true);
    }

    /// Keeps a quiet occurrence of `id` in RAM until the next flush.
    fn hold_quiet(&mut self, id: i64, occurred: (i64, Option<f64>)) {
        if self.quiet.is_empty() {
            self.due
                .push(Reverse((wall_ms() + QUIET_FLUSH_MS, 0, Due::Flush)));
        }
        self.quiet.insert(id, occurred);
        self.quiet_firings += 1;
        self.out
            .metrics
            .quiet_occurrences
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Adds the alert's latest occurrence to the batch (from what the entry holds now),
    /// replacing one of the same alert already in it.
    fn push_occurrence(&mut self, id: i64, (at, value): (i64, Option<f64>), log: bool) {
        let Some(e) = self.alerts.get_mut(&id) else {
            return;
        };
        if log {
            e.logged_at = at;
        }
        let e = &*e;
        let change = AlertChange::Occur {
            id,
            at: e.last_seen,
            occurrences: e.occurrences,
            summary: e.summary.to_string(),
            severity: e.severity.clone(),
            annotations: (*e.annotations).clone(),
            ends_at: e.ends_at,
            occurrence: klaxon_store::Occurrence {
                at,
                value,
                message: e.summary.to_string(),
            },
            log,
        };
        let body = json!({"id": id, "occurrences": e.occurrences, "last_seen": e.last_seen, "summary": &*e.summary});
        let state = e.state;
        let detail = Detail::Occurrence {
            summary: e.summary.to_string(),
            severity: e.severity.clone(),
            occurrences: e.occurrences,
        };
        match self.folding.get(&id) {
            Some(&(ci, pi)) => {
                self.changes[ci] = change;
                self.published[pi] = self.change(id, "occurrence", state, body, detail);
            }
            None => {
                self.folding
                    .insert(id, (self.changes.len(), self.published.len()));
                self.changes.push(change);
                self.publish(id, "occurrence", state, body, detail);
            }
        }
    }

    /// Writes the quiet occurrences waiting in RAM (of alerts still open; a closed alert's
    /// last transition already stands).
    fn flush_quiet(&mut self) {
        let quiet: Vec<(i64, (i64, Option<f64>))> = self.quiet.drain().collect();
        for (id, occurred) in quiet {
            let log = self
                .alerts
                .get(&id)
                .is_some_and(|e| occurred.0 >= e.logged_at.saturating_add(QUIET_LOG_MS));
            self.push_occurrence(id, occurred, log);
        }
    }

    /// Schedules the entry's auto-resolve unless an earlier check is already due: a check that
    /// comes due early finds the new deadline and schedules it then.
    fn schedule_auto_resolve(&mut self, id: i64) {
        let Some(at) = self.alerts.get(&id).and_then(|e| self.auto_resolve_at(e)) else {
            return;
        };
        let Some(entry) = self.alerts.get_mut(&id) else {
            return;
        };
        if entry.auto_at.is_none_or(|old| at < old) {
            entry.auto_at = Some(at);
            self.due.push(Reverse((at, id, Due::AutoResolve)));
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
        self.move_to_by(id, action, actor, reason, now, until, None)
    }

    /// As [`Manager::move_to`], recording what suppresses the alert (`by`, to suppressed).
    #[allow(clippy::too_many_arguments)]
    fn move_to_by(
        &mut self,
        id: i64,
        action: Action,
        actor: &str,
        reason: &str,
        now: i64,
        until: Option<i64>,
        by: Option<String>,
    ) -> Result<Done, Refusal> {
        let Some(e) = self.alerts.get_mut(&id) else {
            return Err(Refusal::NotFound);
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
        match to {
            State::Resolved => e.resolved_at = Some(now),
            State::Suppressed => {
                e.suppressed_until = until;
                e.suppressed_by = by.clone();
            }
            _ => {}
        }
        let snapshot = e.clone();
        self.noise_after_move(&snapshot, from, action, now);
        if to == State::Closed {
            self.alerts.remove(&id);
            let key = fp_key(&snapshot.fingerprint);
            if self.by_fingerprint.get(&key) == Some(&id) {
                self.by_fingerprint.remove(&key);
            }
        } else {
            self.schedule(&snapshot);
        }
        self.folding.remove(&id);
        self.changes.push(AlertChange::Transition {
            id,
            from,
            to,
            at: now,
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            until,
            by,
        });
        self.publish(
            id,
            "transition",
            to,
            json!({"id": id, "from": from, "to": to, "actor": actor, "reason": reason, "at": now}),
            Detail::Transition {
                to,
                actor: actor.to_owned(),
                at: now,
            },
        );
        // An alert that becomes active may be one a silence or a window should hold.
        if to == State::Active {
            self.reconsider(id, now);
        }
        let to = self.alerts.get(&id).map_or(to, |e| e.state);
        Ok(Done { id, from, to })
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
                    current: state,
                    message: format!("the alert is {state}"),
                }),
                Err(e) => Err(e),
            };
        }
        let action = match act {
            Act::Acknowledge => Action::Acknowledge,
            Act::Resolve => Action::Resolve,
            Act::Suppress { until } => return self.suppress_by_hand(id, until, actor, reason, now),
            Act::Unsuppress => return self.unsuppress_by_hand(id, actor, reason, now),
            Act::Close => Action::Close,
        };
        self.move_to(id, action, actor, reason, now, None)
    }

    /// Fires the lifecycle timers that are due.
    fn fire_due(&mut self, now: i64) {
        while let Some(&Reverse((at, id, what))) = self.due.peek() {
            if at >= now {
                break;
            }
            self.due.pop();
            if what == Due::Noise {
                if id == 0 {
                    self.reconsider_all(now);
                }
                continue;
            }
            if what == Due::Flush {
                self.flush_quiet();
                continue;
            }
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
                    self.reconsider(id, now);
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
        state: State,
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
        state: State,
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
            severity,
            state,
            labels,
            json: body.to_string(),
            detail,
            end_of_batch: false,
        }
    }

    /// Commits the batch (retrying until the store takes it), then publishes and replies.
    async fn commit(&mut self) {
        if self.changes.is_empty() && self.replies.is_empty() && self.published.is_empty() {
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
                        self.out.metrics.alert_commit.observe(t0.elapsed());
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
        if let Some(last) = self.published.last_mut() {
            last.end_of_batch = true;
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
                Reply::Resends(tx, v) => {
                    let _ = tx.send(v);
                }
                Reply::Act(tx, v) => {
                    let _ = tx.send(v);
                }
                Reply::Unit(tx, v) => {
                    let _ = tx.send(v);
                }
                Reply::Silence(tx, v) => {
                    let _ = tx.send(v);
                }
            }
        }
    }
}
