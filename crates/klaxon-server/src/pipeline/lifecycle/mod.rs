//! The lifecycle manager: the shell around the pure lifecycle core
//! (`klaxon_engine::lifecycle::Lifecycle`), which makes every decision (deduplication, the
//! state machine, timers, silences and windows, inhibition and flapping). One task owns it:
//! it loads what the store holds at start, feeds the core the commands and firings it
//! receives, asks the store about alerts the core no longer holds, commits each batch of the
//! core's writes durably, and only then publishes the batch's changes and answers callers.
//! It decides nothing itself.

mod change;
pub(crate) mod convert;
mod escalate;
mod explain;
mod incident;
mod pace;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_engine::lifecycle::{
    Answer, ContentKeys, Effects, Input, Lifecycle, Mute, NoiseConfig, Refusal as Refused,
    Restored, State,
};
use klaxon_engine::threshold::ThresholdEventKind;
use klaxon_store::{
    AlertChange, IncidentChange, IncidentRecord, Member, Source, Store, StoreError, StoredAlert,
};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::clock::wall_ms;
use crate::metrics::Metrics;
use crate::pipeline::driver::Fired;

pub(crate) use change::{Change, Detail};
pub(crate) use convert::is_uuid;
use escalate::{EscalateError, Pager};
use incident::Desk;
pub(crate) use incident::IncidentRefusal;
pub(crate) use klaxon_engine::lifecycle::{
    Act, Done, Labelled, Resend, Settings as LifecycleSettings, SilenceRefusal,
};
use pace::Pacer;

/// Changes gathered into one commit at most (then committed, published and answered), so a
/// storm of firings is published in steady steps instead of one late lump.
const MAX_BATCH_CHANGES: usize = 4096;

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotFound,
    /// The state machine does not allow it from `current`.
    Illegal {
        current: State,
        message: String,
    },
    /// The store could not say what became of an alert the lifecycle no longer holds.
    Unavailable,
}

impl From<Refused> for Refusal {
    fn from(r: Refused) -> Refusal {
        match r {
            Refused::Illegal { current, message } => Refusal::Illegal { current, message },
            // Answered by asking the store before it gets here; a second `NotHeld` means the
            // store knows the alert no better.
            Refused::NotFound | Refused::NotHeld => Refusal::NotFound,
        }
    }
}

/// Every alert something mutes, with why: what the notification dispatcher rebuilds from.
pub(crate) type Muted = Vec<(i64, Arc<Mute>)>;

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
    /// Resends as their sender's task saw them (identity and content as numbers, keyed by the
    /// lifecycle's [`ContentKeys`]): each one that changes nothing but counts and times is
    /// taken here, with no text crossing threads; the reply says which were taken, and the
    /// caller sends the rest as [`Command::Labelled`].
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
    /// Every alert something mutes now, answered with the batch it is asked in (a reader
    /// that subscribed to the changes before asking misses nothing).
    Muted { reply: oneshot::Sender<Muted> },
    /// A notification about an incident's alerts went into the outbox: it goes on the
    /// incident's timeline (`detail`: receiver, kind, alerts).
    Notified {
        incident: i64,
        detail: serde_json::Value,
    },
    /// An action on an incident; the reply is the incident it leaves the caller at.
    Incident {
        id: i64,
        act: IncidentAct,
        actor: String,
        reply: oneshot::Sender<Result<i64, IncidentRefusal>>,
    },
    /// A new correlator (the topology document read again): the incidents that are not closed
    /// are placed in it again, as at start. Answers how many.
    ReloadCorrelator {
        correlator: Box<klaxon_engine::correlate::Correlator>,
        reply: oneshot::Sender<Result<usize, IncidentRefusal>>,
    },
    /// A new incident made by hand with these alerts.
    CreateIncident {
        alerts: Vec<i64>,
        title: Option<String>,
        actor: String,
        reply: oneshot::Sender<Result<i64, IncidentRefusal>>,
    },
    /// The escalation policies and teams changed (through the API): the pager follows these
    /// from now on; the reply comes once it does.
    Paging {
        catalog: Box<crate::escalation::Catalog>,
        reply: oneshot::Sender<()>,
    },
    /// Correlates these alerts now (those in no incident yet); the reply gives each one's
    /// incident.
    Correlate {
        alerts: Vec<i64>,
        reply: oneshot::Sender<Result<Vec<Option<i64>>, IncidentRefusal>>,
    },
}

/// What people do to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IncidentAct {
    /// Acknowledges its open alerts; the incident is investigated.
    Acknowledge,
    /// Resolves its open alerts and the incident.
    Resolve,
    Note(String),
    /// Moves its alerts into incident `into`, and closes it.
    Merge {
        into: i64,
    },
    /// Pages the next level of its open alerts' escalations now.
    Escalate,
    /// Makes a new incident of some of its alerts (answers the new incident).
    Split {
        alerts: Vec<i64>,
        title: Option<String>,
    },
    /// Sets its priority by hand (`None`: it follows its open alerts again).
    Priority(Option<String>),
    /// Moves some of its alerts into incident `to` (answers `to`).
    Move {
        alerts: Vec<i64>,
        to: i64,
    },
}

impl Command {
    /// Whether the command changes something (and so needs the store to write); questions
    /// do not.
    pub(crate) fn writes(&self) -> bool {
        !matches!(self, Command::Explain { .. } | Command::Muted { .. })
    }
}

/// Where committed changes go.
pub(crate) struct Outputs {
    /// Every change: the alert streams (through the publish hub) and the notification
    /// dispatcher read it.
    pub changes: broadcast::Sender<Arc<Change>>,
    pub metrics: Arc<Metrics>,
    /// Counts commits that wrote incidents: the incident stream wakes on it and reads the
    /// committed timeline.
    pub incidents: watch::Sender<u64>,
    /// Woken after a commit that wrote outbox rows (pages, SLA breaches): the delivery
    /// workers' claimer.
    pub outbox: Arc<tokio::sync::Notify>,
}

/// What the pager needs: the policies and SLA targets, the receivers (users' contacts among
/// them), and the declared teams' members.
pub(crate) struct Paging {
    pub escalations: crate::config::Escalations,
    pub notifier: Arc<klaxon_notify::Notifier>,
    pub teams: HashMap<String, Vec<String>>,
    /// Who is on call, for `schedule:NAME` targets.
    pub oncall: Arc<crate::oncall::OnCall>,
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
    Muted(oneshot::Sender<Muted>, Muted),
    Incident(
        oneshot::Sender<Result<i64, IncidentRefusal>>,
        Result<i64, IncidentRefusal>,
    ),
    Correlate(
        oneshot::Sender<Result<Vec<Option<i64>>, IncidentRefusal>>,
        Result<Vec<Option<i64>>, IncidentRefusal>,
    ),
    Done(oneshot::Sender<()>),
}

impl Reply {
    fn send(self) {
        match self {
            Reply::Labelled(tx, v) => drop(tx.send(v)),
            Reply::Resends(tx, v) => drop(tx.send(v)),
            Reply::Act(tx, v) => drop(tx.send(v)),
            Reply::Unit(tx, v) => drop(tx.send(v)),
            Reply::Silence(tx, v) => drop(tx.send(v)),
            Reply::Muted(tx, v) => drop(tx.send(v)),
            Reply::Incident(tx, v) => drop(tx.send(v)),
            Reply::Correlate(tx, v) => drop(tx.send(v)),
            Reply::Done(tx) => drop(tx.send(())),
        }
    }
}

/// The manager: the core, the batch in the making, and what waits for its commit.
pub(crate) struct Manager<S> {
    store: S,
    out: Outputs,
    lc: Lifecycle,
    fx: Effects,
    desk: Desk,
    pager: Pager,
    /// When what time alone brings to the pager is committed.
    pacer: Pacer,
    replies: Vec<Reply>,
    /// When the firings of this batch that change something were accepted, and when this
    /// task took them from the engine.
    latencies: Vec<(Instant, Instant)>,
}

/// The incidents that are not closed with their members, and the members' stored alerts; and
/// the highest incident id: what the incident desk starts from.
async fn open_incidents<S: Store>(
    store: &S,
) -> Result<
    (
        i64,
        Vec<(IncidentRecord, Vec<Member>)>,
        HashMap<i64, StoredAlert>,
    ),
    StoreError,
> {
    let max_incident = store.max_incident_id().await?;
    let open = store.load_open_incidents().await?;
    let mut members: HashMap<i64, StoredAlert> = HashMap::new();
    for m in open.iter().flat_map(|(_, m)| m) {
        match store.get_alert(m.alert_id).await {
            Ok(a) => {
                members.insert(a.id, a);
            }
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((max_incident, open, members))
}

/// A random seed for the core (its hash keys, content keys and silence ids).
fn seed() -> u64 {
    let mut b = [0u8; 8];
    if let Err(e) = getrandom::fill(&mut b) {
        // Without randomness the keys are only harder to guess than they should be; ids stay
        // unique (the core skips ids in use).
        tracing::warn!(error = %e, "no randomness for the lifecycle's keys; using the clock");
        b = wall_ms().to_le_bytes();
    }
    u64::from_le_bytes(b)
}

impl<S: Store + Clone> Manager<S> {
    /// Loads every non-closed alert and every silence into the core. `rule_auto` gives the
    /// `auto_resolve_seconds` (ms) of the active event rules by (group, rule id).
    pub(crate) async fn load(
        store: S,
        settings: LifecycleSettings,
        out: Outputs,
        rule_auto: &HashMap<(String, String), i64>,
        noise: NoiseConfig,
        correlator: Option<klaxon_engine::correlate::Correlator>,
        paging: Paging,
    ) -> Result<Manager<S>, StoreError> {
        let mut desk = Desk::new(correlator);
        let mut pager = Pager::new(
            paging.escalations,
            paging.notifier,
            paging.teams,
            paging.oncall,
        );
        // The desk first: an incident's escalation pages about its open alerts.
        let (max_incident, open_incidents, members) = open_incidents(&store).await?;
        desk.restore(max_incident, open_incidents, &members);
        {
            // Without a policy or an SLA target the open alerts are not needed: escalations
            // stored before end here.
            let open: HashMap<i64, StoredAlert> = if pager.configured() {
                store
                    .open_alerts()
                    .await?
                    .into_iter()
                    .map(|a| (a.id, a))
                    .collect()
            } else {
                HashMap::new()
            };
            pager.restore(
                store.open_escalations().await?,
                &open,
                store.open_sla_breaches().await?,
                &desk,
            );
        }
        let max_id = store.max_alert_id().await?;
        let silences = store.silences().await?;
        let alerts = store.load_open_alerts().await?.into_iter().map(|a| {
            let auto_resolve_ms = match (a.labels.get("group"), a.labels.get("alertname")) {
                (Some(g), Some(r)) if a.source == Source::Rule => {
                    rule_auto.get(&(g.clone(), r.clone())).copied()
                }
                _ => None,
            };
            Restored {
                id: a.id,
                fingerprint: a.fingerprint,
                state: a.state,
                source: a.source,
                severity: a.severity,
                labels: a.labels,
                annotations: a.annotations,
                message: a.message,
                occurrences: a.occurrences,
                last_seen: a.last_seen,
                resolved_at: a.resolved_at,
                suppressed_until: a.suppressed_until,
                suppressed_by: a.suppressed_by,
                ends_at: a.ends_at,
                auto_resolve_ms,
            }
        });
        let mut lc = Lifecycle::new(settings, noise, seed());
        for (id, why) in lc.restore(max_id, alerts, silences) {
            tracing::warn!(silence = %id, error = %why, "stored silence no longer valid; ignored");
        }
        Ok(Manager {
            store,
            out,
            lc,
            fx: Effects::new(),
            desk,
            pager,
            pacer: Pacer::default(),
            replies: Vec::new(),
            latencies: Vec::new(),
        })
    }

    /// The keys request tasks must give resends' content ([`Resend::content`]).
    pub(crate) fn content_keys(&self) -> ContentKeys {
        self.lc.content_keys()
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
        // Silences, windows and timers may have changed while the server was down: the core
        // looks at every alert again before it takes anything new.
        self.lc.advance(wall_ms(), &mut self.fx);
        self.commit().await;
        let (mut engine_open, mut api_open) = (true, true);
        while engine_open || api_open {
            // Levels that came due while the server was down page here first, nothing waiting.
            let waiting = !api.is_empty() || !engine.is_empty();
            self.commit_due(waiting).await;
            // Deadlines are strictly past: `advance` acts on what is due before its `now`.
            let now = wall_ms();
            let until = |at: i64| {
                let ms = at.saturating_add(1).saturating_sub(now);
                Duration::from_millis(u64::try_from(ms).unwrap_or(0))
            };
            let alerts = self.lc.next_deadline().map(until);
            // What the pager has due waits for the writer's rest too.
            let pages = self.pager.next_deadline().map(|at| {
                let rest = (self.pacer.rest_until(Instant::now())).map_or(Duration::ZERO, |t| {
                    t.saturating_duration_since(Instant::now())
                });
                until(at).max(rest)
            });
            let wait = match (alerts, pages) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(Duration::from_secs(3600)),
            };
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
            while self.fx.writes.len() < MAX_BATCH_CHANGES {
                if let Ok(c) = api.try_recv() {
                    self.handle(c).await;
                } else if let Ok(f) = engine.try_recv() {
                    self.handle(Command::Fired(f)).await;
                } else {
                    break;
                }
            }
            self.lc.advance(wall_ms(), &mut self.fx);
            self.commit().await;
        }
        self.lc.flush(&mut self.fx);
        self.commit().await;
        // What is still due pages at the next start.
    }

    /// Commits what time alone brings to the pager (levels that came due, SLA targets that
    /// passed), [`escalate::MAX_DUE_PER_COMMIT`] at most, in a commit of its own, when the
    /// pacer lets it (`waiting`: alert work waits in the channels). Its state is advanced only
    /// here, right before the commit and with nothing in between: a later alert commit never
    /// carries an escalation's state older than one committed after it.
    async fn commit_due(&mut self, waiting: bool) {
        let now = wall_ms();
        if !self.pager.due(now) {
            self.pacer.idle();
            return;
        }
        let began = Instant::now();
        if !self.pacer.may(began, waiting) {
            return;
        }
        self.pager.advance(now);
        if !self.pager.is_empty() {
            let pager = &self.pager;
            let took = write(&self.store, &self.out.metrics, || pager.writes.clone()).await;
            self.out.metrics.escalation_commit.observe(took);
            self.pager.writes.clear();
        }
        if std::mem::take(&mut self.pager.notified) {
            self.out.outbox.notify_one();
        }
        self.pacer.done(began, Instant::now());
    }

    /// Counts a firing's answer: a quiet one is published with the next flush, by design, and
    /// counted apart; the publish latency is that of firings that change something.
    fn firing(&mut self, answer: &Answer, accepted: Option<(Instant, Instant)>) -> Option<i64> {
        let Answer::Firing { id, quiet } = *answer else {
            return None;
        };
        if quiet {
            self.out.metrics.quiet_occurrences.fetch_add(1, Relaxed);
        } else if let Some(t) = accepted {
            self.latencies.push(t);
        }
        id
    }

    async fn handle(&mut self, c: Command) {
        let now = wall_ms();
        match c {
            Command::Fired(f) => {
                let taken = Instant::now();
                let metrics = &self.out.metrics;
                metrics
                    .alert_handoff
                    .observe(taken.saturating_duration_since(f.handed));
                metrics.fired(Source::Rule, f.alerts.len() as u64);
                let firing = f
                    .threshold
                    .iter()
                    .filter(|ev| ev.kind == ThresholdEventKind::Firing);
                metrics.fired(Source::Threshold, firing.count() as u64);
                for a in &f.alerts {
                    let answer = self.lc.apply(now, Input::Fired(a), &mut self.fx);
                    self.firing(&answer, Some((f.accepted, taken)));
                }
                for ev in &f.threshold {
                    let answer = self.lc.apply(now, Input::Threshold(ev), &mut self.fx);
                    self.firing(&answer, Some((f.accepted, taken)));
                }
                // The barrier of a batch from the signal stream: answered after the commit.
                if let Some(c) = f.committed {
                    self.replies.push(Reply::Done(c));
                }
            }
            Command::Labelled { alerts, reply } => {
                for l in alerts
                    .iter()
                    .filter(|l| !l.pending && l.ends_at.is_none_or(|e| e > now))
                {
                    self.out.metrics.fired(l.source, 1);
                }
                let mut ids = Vec::with_capacity(alerts.len());
                for l in &alerts {
                    let answer = self.lc.apply(now, Input::Labelled(l), &mut self.fx);
                    let fired = self.firing(&answer, None);
                    // An end the sender gave: the incident desk resolves with the alert's own
                    // time.
                    if let (Answer::Firing { id: Some(id), .. }, Some(end)) = (&answer, l.ends_at) {
                        self.desk.ends_at(*id, end);
                    }
                    ids.push(fired);
                }
                if let Some(r) = reply {
                    self.replies.push(Reply::Labelled(r, ids));
                }
            }
            Command::Resends { resends, reply } => {
                let taken = match self.lc.apply(now, Input::Resends(&resends), &mut self.fx) {
                    Answer::Taken(t) => t,
                    _ => vec![false; resends.len()],
                };
                let quiet = taken.iter().filter(|t| **t).count();
                self.out
                    .metrics
                    .quiet_occurrences
                    .fetch_add(quiet as u64, Relaxed);
                // Resends come from Alertmanager clients; the ones not taken here come back as
                // `Labelled` and are counted there.
                self.out.metrics.fired(Source::Alertmanager, quiet as u64);
                self.replies.push(Reply::Resends(reply, taken));
            }
            Command::Act {
                id,
                act,
                actor,
                reason,
                reply,
            } => {
                let (actor, reason) = (actor.as_str(), reason.as_str());
                let again = act == Act::Acknowledge;
                let r = self
                    .held(now, id, |stored| Input::Act {
                        id,
                        act,
                        actor,
                        reason,
                        stored,
                    })
                    .await
                    .and_then(|a| match a {
                        Answer::Act(r) => r.map_err(Refusal::from),
                        _ => Err(Refusal::Unavailable),
                    });
                // Acknowledging an alert whose acknowledgement expired (its escalation runs
                // again) stops the escalation again; the alert stays acknowledged.
                let r = match r {
                    Err(Refusal::Illegal {
                        current: State::Acknowledged,
                        ..
                    }) if again && self.pager.acknowledge_again(id, now, &self.desk) => Ok(Done {
                        id,
                        from: State::Acknowledged,
                        to: State::Acknowledged,
                    }),
                    r => r,
                };
                self.replies.push(Reply::Act(reply, r));
            }
            Command::Note {
                id,
                author,
                text,
                reply,
            } => {
                let (author, text) = (author.as_str(), text.as_str());
                let r = self
                    .held(now, id, |stored| Input::Note {
                        id,
                        author,
                        text,
                        stored,
                    })
                    .await
                    .and_then(unit);
                self.replies.push(Reply::Unit(reply, r));
            }
            Command::Assign {
                id,
                actor,
                assignee,
                reply,
            } => {
                let (actor, assignee) = (actor.as_str(), assignee.as_deref());
                let r = self
                    .held(now, id, |stored| Input::Assign {
                        id,
                        actor,
                        assignee,
                        stored,
                    })
                    .await
                    .and_then(unit);
                self.replies.push(Reply::Unit(reply, r));
            }
            Command::UpsertSilence { silence, reply } => {
                let a = self
                    .lc
                    .apply(now, Input::UpsertSilence(&silence), &mut self.fx);
                self.replies.push(Reply::Silence(reply, silence_answer(a)));
            }
            Command::ExpireSilence { id, reply } => {
                let a = self.lc.apply(now, Input::ExpireSilence(&id), &mut self.fx);
                self.replies.push(Reply::Silence(reply, silence_answer(a)));
            }
            Command::Explain { id, reply } => {
                let _ = reply.send(self.lc.explain(now, id).map(|e| explain::json(&e)));
            }
            Command::Notified { incident, detail } => {
                self.desk.notified(incident, detail, now);
            }
            Command::Muted { reply } => {
                let muted = self.lc.muted().map(|(id, m)| (id, Arc::clone(m))).collect();
                self.replies.push(Reply::Muted(reply, muted));
            }
            Command::Incident {
                id,
                act,
                actor,
                reply,
            } => {
                let r = self.incident_act(now, id, act, &actor).await;
                self.replies.push(Reply::Incident(reply, r));
            }
            Command::ReloadCorrelator { correlator, reply } => {
                // What this batch changed is committed first: the desk starts over from the
                // store.
                self.commit().await;
                let r = match open_incidents(&self.store).await {
                    Ok((max, open, members)) => {
                        let n = open.len();
                        self.desk.reload(*correlator, max, open, &members);
                        Ok(n)
                    }
                    Err(_) => Err(IncidentRefusal::Unavailable),
                };
                let _ = reply.send(r);
            }
            Command::CreateIncident {
                alerts,
                title,
                actor,
                reply,
            } => {
                let r = match self.stored(&alerts).await {
                    Ok(stored) => {
                        let from: BTreeSet<i64> = (stored.iter())
                            .filter_map(|a| self.desk.incident_of(a.id))
                            .collect();
                        let id = self.desk.create(&stored, title.as_deref(), &actor, now);
                        self.pager.regroup(id, &[], now, &self.desk);
                        for f in from {
                            self.pager.regroup(f, &[], now, &self.desk);
                        }
                        Ok(id)
                    }
                    Err(e) => Err(e),
                };
                self.replies.push(Reply::Incident(reply, r));
            }
            Command::Correlate { alerts, reply } => {
                let r = match self.stored(&alerts).await {
                    Ok(stored) => {
                        self.desk.correlate(&stored, now);
                        Ok(alerts.iter().map(|&a| self.desk.incident_of(a)).collect())
                    }
                    Err(e) => Err(e),
                };
                self.replies.push(Reply::Correlate(reply, r));
            }
            Command::Paging { catalog, reply } => {
                self.pager.follow(*catalog, now);
                self.replies.push(Reply::Done(reply));
            }
        }
    }

    /// The stored alerts with these ids, in order (NotFound names the first missing one).
    async fn stored(&self, ids: &[i64]) -> Result<Vec<StoredAlert>, IncidentRefusal> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            match self.store.get_alert(id).await {
                Ok(a) => out.push(a),
                Err(StoreError::NotFound(_)) => {
                    return Err(IncidentRefusal::NotFound(format!("alert {id}")))
                }
                Err(_) => return Err(IncidentRefusal::Unavailable),
            }
        }
        Ok(out)
    }

    /// Why an incident the desk does not hold cannot be acted on: unknown, or closed.
    async fn not_held(&self, id: i64) -> IncidentRefusal {
        match self.store.incident_detail(id, 0).await {
            Ok(_) => IncidentRefusal::Conflict(format!("incident {id} is closed")),
            Err(StoreError::NotFound(_)) => IncidentRefusal::NotFound(format!("incident {id}")),
            Err(_) => IncidentRefusal::Unavailable,
        }
    }

    /// Acts on an incident: its open alerts through the lifecycle core (as the alert
    /// endpoints do), the incident through the desk.
    async fn incident_act(
        &mut self,
        now: i64,
        id: i64,
        act: IncidentAct,
        actor: &str,
    ) -> Result<i64, IncidentRefusal> {
        if !self.desk.holds(id) {
            return Err(self.not_held(id).await);
        }
        let alert_act = match &act {
            IncidentAct::Acknowledge => Some((Act::Acknowledge, "incident acknowledged")),
            IncidentAct::Resolve => Some((Act::Resolve, "incident resolved")),
            IncidentAct::Note(_)
            | IncidentAct::Priority(_)
            | IncidentAct::Merge { .. }
            | IncidentAct::Split { .. }
            | IncidentAct::Move { .. }
            | IncidentAct::Escalate => None,
        };
        if let Some((alert_act, reason)) = alert_act {
            for a in self.desk.open_alerts(id).unwrap_or_default() {
                // An alert already acknowledged (or resolved) stays as it is.
                let _ = self
                    .held(now, a, |stored| Input::Act {
                        id: a,
                        act: alert_act,
                        actor,
                        reason,
                        stored,
                    })
                    .await;
            }
        }
        match act {
            IncidentAct::Acknowledge => self.desk.acknowledge(id, actor, now),
            IncidentAct::Resolve => self.desk.resolve(id, actor, now),
            IncidentAct::Note(text) => self.desk.note(id, actor, &text, now),
            IncidentAct::Escalate => {
                let alerts = self.desk.open_alerts(id).unwrap_or_default();
                match self.pager.escalate(id, &alerts, actor, now) {
                    Ok(pages) => self.desk.escalated(id, actor, &pages, now),
                    Err(EscalateError::NoPolicy) => {
                        return Err(IncidentRefusal::Conflict(format!(
                            "no open alert of incident {id} follows an escalation policy"
                        )))
                    }
                    Err(EscalateError::Refused(r)) => {
                        return Err(IncidentRefusal::Conflict(format!("incident {id}: {r}")))
                    }
                }
            }
            IncidentAct::Priority(p) => self.desk.set_priority(id, p, actor, now),
            IncidentAct::Merge { into } => {
                if into == id {
                    return Err(IncidentRefusal::Conflict(
                        "an incident cannot merge into itself".to_owned(),
                    ));
                }
                if !self.desk.holds(into) {
                    return Err(self.not_held(into).await);
                }
                self.desk.merge(id, into, actor, now);
                self.pager.regroup(into, &[id], now, &self.desk);
                return Ok(into);
            }
            IncidentAct::Split { alerts, title } => {
                self.members_of(id, &alerts)?;
                let stored = self.stored(&alerts).await?;
                let new = self.desk.split(id, &stored, title.as_deref(), actor, now);
                self.pager.regroup(new, &[], now, &self.desk);
                self.pager.regroup(id, &[], now, &self.desk);
                return Ok(new);
            }
            IncidentAct::Move { alerts, to } => {
                if to == id {
                    return Err(IncidentRefusal::Conflict(format!(
                        "the alerts are in incident {id} already"
                    )));
                }
                if !self.desk.holds(to) {
                    return Err(self.not_held(to).await);
                }
                self.members_of(id, &alerts)?;
                let stored = self.stored(&alerts).await?;
                self.desk.move_to(id, &stored, to, actor, now);
                self.pager.regroup(to, &[], now, &self.desk);
                self.pager.regroup(id, &[], now, &self.desk);
                return Ok(to);
            }
        }
        Ok(id)
    }

    /// Refuses alerts that are not members of incident `id`.
    fn members_of(&self, id: i64, alerts: &[i64]) -> Result<(), IncidentRefusal> {
        match alerts
            .iter()
            .find(|&&a| self.desk.incident_of(a) != Some(id))
        {
            Some(a) => Err(IncidentRefusal::Conflict(format!(
                "alert {a} is not in incident {id}"
            ))),
            None => Ok(()),
        }
    }

    /// Applies an input about one alert; when the core no longer holds it, asks the store for
    /// its state and applies the input again with that.
    async fn held<'a>(
        &mut self,
        now: i64,
        id: i64,
        input: impl Fn(Option<State>) -> Input<'a>,
    ) -> Result<Answer, Refusal> {
        let answer = self.lc.apply(now, input(None), &mut self.fx);
        if !matches!(
            answer,
            Answer::Act(Err(Refused::NotHeld)) | Answer::Unit(Err(Refused::NotHeld))
        ) {
            return Ok(answer);
        }
        let state = match self.store.get_alert(id).await {
            Ok(a) => a.state,
            Err(StoreError::NotFound(_)) => return Err(Refusal::NotFound),
            Err(_) => return Err(Refusal::Unavailable),
        };
        Ok(self.lc.apply(now, input(Some(state)), &mut self.fx))
    }

    /// Commits the batch (retrying until the store takes it), then publishes its changes and
    /// answers; nothing is told before the commit returns.
    async fn commit(&mut self) {
        // Incidents and escalations follow from this batch's alert changes and commands and
        // are written with them; what time alone brings to the pager waits for `commit_due`.
        let now = wall_ms();
        self.desk.observe(&self.fx.changes, now);
        self.pager.observe(&self.fx.changes, now, &self.desk);
        if self.fx.is_empty()
            && self.replies.is_empty()
            && self.desk.is_empty()
            && self.pager.is_empty()
        {
            return;
        }
        let commit_begins = Instant::now();
        for (_, taken) in &self.latencies {
            self.out
                .metrics
                .alert_in_lifecycle
                .observe(commit_begins.saturating_duration_since(*taken));
        }
        if !self.fx.writes.is_empty() || !self.desk.is_empty() || !self.pager.is_empty() {
            let (fx, desk, pager) = (&self.fx, &self.desk, &self.pager);
            let took = write(&self.store, &self.out.metrics, || {
                let mut changes: Vec<AlertChange> =
                    fx.writes.iter().map(AlertChange::from).collect();
                changes.extend(desk.writes.iter().cloned().map(AlertChange::Incident));
                changes.extend(pager.writes.iter().cloned());
                changes
            })
            .await;
            self.out.metrics.alert_commit.observe(took);
        }
        // Where alerts moved between incidents, after the alert changes of the same commit.
        let mut moved: Vec<(i64, Option<i64>)> = Vec::new();
        let mut at: HashMap<i64, usize> = HashMap::new();
        for w in &self.desk.writes {
            if let IncidentChange::Member {
                alert_id,
                incident_id,
                ..
            } = w
            {
                match at.get(alert_id) {
                    Some(&i) => moved[i].1 = *incident_id,
                    None => {
                        at.insert(*alert_id, moved.len());
                        moved.push((*alert_id, *incident_id));
                    }
                }
            }
        }
        let last = (self.fx.changes.len() + moved.len()).saturating_sub(1);
        for (i, c) in self.fx.changes.iter().enumerate() {
            let _ = self.out.changes.send(Arc::new(Change::of(c, i == last)));
        }
        let base = self.fx.changes.len();
        for (i, (alert, incident)) in moved.into_iter().enumerate() {
            let end = base + i == last;
            let _ = self
                .out
                .changes
                .send(Arc::new(Change::membership(alert, incident, end)));
        }
        for (t, _) in self.latencies.drain(..) {
            self.out.metrics.alert_publish_latency.observe(t.elapsed());
        }
        if !self.desk.is_empty() {
            self.desk.writes.clear();
            self.out.incidents.send_modify(|n| *n += 1);
        }
        self.pager.writes.clear();
        if std::mem::take(&mut self.pager.notified) {
            self.out.outbox.notify_one();
        }
        for r in self.replies.drain(..) {
            r.send();
        }
        self.fx.clear();
    }
}

/// Writes the changes `make` makes in one `apply_alert_changes`, retrying until the store
/// takes them (made anew for each try); answers how long the commit that took them ran.
async fn write<S: Store>(
    store: &S,
    metrics: &Metrics,
    make: impl Fn() -> Vec<AlertChange>,
) -> Duration {
    let mut backoff = Duration::from_millis(50);
    loop {
        let changes = make();
        let n = changes.len();
        let t0 = Instant::now();
        match store.apply_alert_changes(changes).await {
            Ok(()) => {
                let took = t0.elapsed();
                metrics.store_commit.observe(took);
                return took;
            }
            Err(e) => {
                crate::error::exit_if_fenced(&e);
                metrics.store_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, changes = n, "committing alert changes failed; retrying");
                // Retried for as long as it takes: nothing is lost. Requests that wait for
                // this commit give up on their own after `commit_wait_seconds`.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn unit(a: Answer) -> Result<(), Refusal> {
    match a {
        Answer::Unit(r) => r.map_err(Refusal::from),
        _ => Err(Refusal::Unavailable),
    }
}

fn silence_answer(a: Answer) -> Result<String, SilenceRefusal> {
    match a {
        Answer::Silence(r) => r,
        _ => Err(SilenceRefusal::NotFound),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicU64};

    use klaxon_store::sqlite::SqliteStore;

    use super::*;
    use crate::config::{load_text, Flags};

    const CONFIG: &str = r#"
[route]
receiver = "ops"
[[route.routes]]
matchers = ['paged="yes"']
escalation_policy = "two"
[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "https://hooks.example.com/ops"
[[users]]
name = "alice"
contacts = [{ kind = "webhook", url = "https://hooks.example.com/alice" }]
[[escalation_policies]]
name = "two"
[[escalation_policies.levels]]
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "1s"
notify = ["receiver:ops"]
"#;

    fn alert(labels: &[(&str, &str)]) -> Command {
        let labels: BTreeMap<String, String> = (labels.iter())
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let l = Labelled::of_labels(
            Source::Api,
            labels,
            BTreeMap::new(),
            ("critical", "load"),
            wall_ms(),
        );
        Command::Labelled {
            alerts: vec![l],
            reply: None,
        }
    }

    /// Alert work waits in the manager's channel after every commit (a producer fills it
    /// while the manager commits): the level that comes due is committed all the same, within
    /// the pacer's hold and rest of when it came due.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_due_level_pages_within_a_bound_under_a_steady_stream_of_alerts() {
        let dir =
            std::env::temp_dir().join(format!("klaxon-pace-{}-{}", std::process::id(), wall_ms()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::open(&dir.join("klaxon.db")).unwrap();
        let (c, _) = load_text(Some((Path::new("k.toml"), CONFIG)), &[], &Flags::default())
            .expect("configuration");
        let (changes, _) = broadcast::channel(16);
        let outbox = Arc::new(tokio::sync::Notify::new());
        let manager = Manager::load(
            store.clone(),
            LifecycleSettings {
                reopen_window_ms: 0,
                close_after_ms: 3_600_000,
                rule_auto_resolve_ms: None,
                resolve_timeout_ms: 3_600_000,
            },
            Outputs {
                changes,
                metrics: Arc::new(Metrics::default()),
                incidents: watch::channel(0).0,
                outbox: Arc::clone(&outbox),
            },
            &HashMap::new(),
            NoiseConfig::default(),
            None,
            Paging {
                escalations: c.escalations().unwrap(),
                notifier: Arc::new(c.notifier().unwrap()),
                teams: HashMap::new(),
                oncall: Arc::new(crate::oncall::OnCall::default()),
            },
        )
        .await
        .unwrap();
        let (engine_tx, engine_rx) = mpsc::channel(16);
        let (api_tx, api_rx) = mpsc::channel(256);
        let run = tokio::spawn(manager.run(engine_rx, api_rx));

        // Level 1 pages in the alert's commit; level 2 is due 1 s later.
        api_tx.send(alert(&[("paged", "yes")])).await.unwrap();
        let fired = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), outbox.notified())
            .await
            .expect("level 1 paged");

        // A steady stream of alerts that page nobody, faster than the manager commits them.
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let producer = {
            let (api_tx, stop, sent) = (api_tx.clone(), Arc::clone(&stop), Arc::clone(&sent));
            tokio::spawn(async move {
                let begun = Instant::now();
                while !stop.load(Relaxed) && begun.elapsed() < Duration::from_secs(20) {
                    let n = sent.fetch_add(1, Relaxed).to_string();
                    if api_tx.send(alert(&[("load", &n)])).await.is_err() {
                        break;
                    }
                }
            })
        };
        // Due 1 s after it fired; held back and rested at most this long after; slack for a
        // busy machine (alert commits of the stream run in between).
        let bound = Duration::from_secs(1) + pace::MAX_HOLD + pace::MAX_REST;
        let deadline = tokio::time::Instant::from_std(fired + bound + Duration::from_secs(2));
        let paged = tokio::time::timeout_at(deadline, outbox.notified()).await;
        let took = fired.elapsed();
        let running = !producer.is_finished();
        stop.store(true, Relaxed);
        producer.await.unwrap();
        drop((api_tx, engine_tx));
        run.await.unwrap();
        let pages = store.escalation_pages(0, i64::MAX, 10).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            paged.is_ok() && took <= bound + Duration::from_secs(2) && running,
            "level 2 not paged under the stream: paged {}, after {took:?}, the stream running {running}",
            paged.is_ok()
        );
        assert!(
            sent.load(Relaxed) > 1_000,
            "a stream: {} alerts",
            sent.load(Relaxed)
        );
        let levels: Vec<i64> = pages.iter().map(|p| p.level).collect();
        assert_eq!(levels.iter().filter(|&&l| l == 1).count(), 1, "{levels:?}");
    }
}
