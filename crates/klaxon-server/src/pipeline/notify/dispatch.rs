//! The dispatcher: one task that turns committed lifecycle changes into outbox rows. It keeps
//! the alerts it routes and the groups they are in ([`klaxon_notify::group::Grouper`]), flushes
//! groups when they are due, writes one row per channel that wants the notification (claimed
//! at once when its stream is free) and hands the claimed rows to the workers. It never sends
//! anything itself. At start, and whenever the broadcast lags, it rebuilds its state from the
//! store (the open alerts, and the outbox's record of what was last told in each group) and
//! from the lifecycle (why each alert is quiet: the lifecycle decides that, this only reads it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use klaxon_engine::lifecycle::State;
use klaxon_notify::group::Grouper;
use klaxon_notify::{AlertView, Kind, Limiter, Muted, Notifier};
use klaxon_store::{Claim, NewNotification, Store};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::deliver::Handle;
use super::mute::Muting;

use crate::clock::wall_ms;
use crate::pipeline::lifecycle::{Change, Command, Detail};

/// At most this many changes are applied before due groups are flushed.
const BATCH: usize = 8192;

pub(crate) struct Dispatcher<S> {
    store: S,
    notifier: Arc<Notifier>,
    grouper: Grouper,
    views: HashMap<i64, Arc<AlertView>>,
    /// Open alerts no receiver wants (labels never change, so neither do their targets).
    unrouted: HashSet<i64>,
    /// Rows claimed at enqueue go straight to the workers.
    work: Handle,
    owner: String,
    lease_ms: i64,
    /// The lifecycle's decision of why each alert is quiet: what the grouper is shown of it.
    mute: Muting,
    /// The lifecycle manager, asked for every muted alert on a rebuild (weak: it does not keep
    /// the manager's queue open at shutdown).
    lifecycle: mpsc::WeakSender<Command>,
    /// Why each muted grouped alert is muted.
    presented: HashMap<i64, Muted>,
    /// Rate limits per receiver.
    limiter: Limiter,
    /// Questions from the API: what became of an alert's notifications.
    queries: mpsc::UnboundedReceiver<Query>,
    /// Notices waiting for the next write.
    notices: Vec<klaxon_notify::Notification>,
    /// The holds of the rate limits were taken back from the store (at the first rebuild;
    /// later rebuilds keep the limiter, which the store's holds only mirror).
    holds_restored: bool,
    /// The incident of each alert in one, until the alert closes: what routes grouping by
    /// incident group on.
    incidents: HashMap<i64, i64>,
}

/// `GET /alerts/{id}` asks what the pipeline does with an alert's notifications.
pub(crate) struct Query {
    pub alert_id: i64,
    pub reply: oneshot::Sender<Value>,
}

impl<S: Store + Clone> Dispatcher<S> {
    pub(crate) fn new(
        store: S,
        notifier: Arc<Notifier>,
        work: Handle,
        (owner, lease_ms): (String, i64),
        mute: Muting,
        queries: mpsc::UnboundedReceiver<Query>,
        lifecycle: mpsc::WeakSender<Command>,
    ) -> Dispatcher<S> {
        Dispatcher {
            store,
            notifier,
            grouper: Grouper::new(),
            views: HashMap::new(),
            unrouted: HashSet::new(),
            work,
            owner,
            lease_ms,
            mute,
            lifecycle,
            presented: HashMap::new(),
            limiter: Limiter::new(),
            queries,
            notices: Vec::new(),
            holds_restored: false,
            incidents: HashMap::new(),
        }
    }

    fn limit_of(&self, receiver: &str) -> Option<klaxon_notify::RateLimit> {
        self.notifier.receiver(receiver).and_then(|r| r.rate_limit)
    }

    /// The earliest instant something is due: a group, a receiver's rate limit.
    fn next_deadline(&mut self) -> Option<i64> {
        let notifier = Arc::clone(&self.notifier);
        let limits = |r: &str| notifier.receiver(r).and_then(|r| r.rate_limit);
        [
            self.grouper.next_deadline(),
            self.limiter.next_deadline(&limits),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Shows the grouper an alert whose mute changed, unless it was and stays shown muted for
    /// the same reason.
    fn present(&mut self, now: i64, real: &Arc<AlertView>) {
        let shown = self.mute.presented(real);
        let before = self.remember(&shown);
        let changed = before.is_none() || before != shown.muted;
        if changed && self.grouper.knows(real.id) {
            self.grouper.update(now, shown);
        }
    }

    /// Records why a view the grouper is shown is muted (or that it is not); returns what was
    /// recorded before.
    fn remember(&mut self, shown: &AlertView) -> Option<Muted> {
        match shown.muted {
            Some(why) => self.presented.insert(shown.id, why),
            None => self.presented.remove(&shown.id),
        }
    }

    fn answer(&self, q: Query) {
        let id = q.alert_id;
        let groups: Vec<Value> = self
            .grouper
            .groups_of(id)
            .into_iter()
            .map(|g| {
                json!({"receiver": g.receiver, "group_key": g.key, "alerts_in_group": g.size,
                       "last_told": g.notified.map(Kind::as_str),
                       "next_flush": g.next.map(klaxon_engine::timestamp::format_ts)})
            })
            .collect();
        let held: Vec<Value> = self
            .limiter
            .receivers_holding()
            .filter_map(|r| {
                let h = self.limiter.held(r, self.limit_of(r))?;
                h.alerts.contains(&id).then(|| {
                    json!({"receiver": r, "notifications_held": h.notifications,
                           "until": klaxon_engine::timestamp::format_ts(h.until)})
                })
            })
            .collect();
        let scoped: Vec<Value> = self
            .mute
            .of(id)
            .filter(|_| self.views.contains_key(&id))
            .map(|m| {
                m.routes
                    .iter()
                    .map(|i| json!({"rule": &*i.rule, "route": i.route.as_deref(), "source_alert": i.source}))
                    .collect()
            })
            .unwrap_or_default();
        let _ = q.reply.send(json!({
            "routed": !self.unrouted.contains(&id),
            "shown_as": self.presented.get(&id),
            "flapping_held": self.mute.flapping(id),
            "groups": groups,
            "inhibited_on_routes": scoped,
            "rate_limited": held,
        }));
    }

    /// Runs until the lifecycle manager stops publishing; subscribe `rx` before the manager
    /// starts so nothing committed is missed.
    /// `stop` ends it after what is already published has been applied and flushed.
    pub(crate) async fn run(
        mut self,
        mut rx: broadcast::Receiver<Arc<Change>>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        self.rebuild().await;
        let mut out = Vec::new();
        // Inside a commit whose last change has not arrived yet: tell nobody until it has (a
        // new alert and the silence that holds it are one commit).
        let mut mid_batch = false;
        loop {
            let wait = self
                .next_deadline()
                .map_or(Duration::from_secs(3600), |at| {
                    Duration::from_millis(u64::try_from(at - wall_ms()).unwrap_or(0))
                });
            let mut closed = false;
            tokio::select! {
                Some(q) = self.queries.recv() => self.answer(q),
                r = rx.recv() => match r {
                    Ok(c) => {
                        mid_batch = !c.end_of_batch;
                        self.apply(&c).await;
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "notification dispatcher lagged; rebuilding from the store");
                        rx = rx.resubscribe();
                        self.rebuild().await;
                        mid_batch = false;
                    }
                    Err(broadcast::error::RecvError::Closed) => closed = true,
                },
                () = tokio::time::sleep(wait) => {}
                _ = stop.changed() => closed = true,
            }
            for _ in 0..BATCH {
                match rx.try_recv() {
                    Ok(c) => {
                        mid_batch = !c.end_of_batch;
                        self.apply(&c).await;
                    }
                    Err(broadcast::error::TryRecvError::Lagged(n)) => {
                        tracing::warn!(
                            missed = n,
                            "notification dispatcher lagged; rebuilding from the store"
                        );
                        rx = rx.resubscribe();
                        self.rebuild().await;
                        mid_batch = false;
                    }
                    Err(broadcast::error::TryRecvError::Closed) => {
                        closed = true;
                        break;
                    }
                    Err(broadcast::error::TryRecvError::Empty) => break,
                }
            }
            if mid_batch && !closed {
                continue;
            }
            let now = wall_ms();
            self.grouper.flush_due(now, &mut out);
            out.append(&mut self.notices);
            self.write(&mut out).await;
            if closed {
                break;
            }
        }
    }

    /// Loads the open alerts and what was told of them, asks the lifecycle why each is quiet,
    /// and groups them again. The changes broadcast is subscribed before, so nothing that
    /// happens after these answers is missed.
    async fn rebuild(&mut self) {
        let mut backoff = Duration::from_millis(100);
        let (alerts, log, holds, incidents) = loop {
            match (
                self.store.open_alerts().await,
                self.store.notification_log().await,
                self.store.limited_notifications().await,
                self.store.load_open_incidents().await,
            ) {
                (Ok(a), Ok(l), Ok(h), Ok(i)) => break (a, l, h, i),
                (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
                    tracing::error!(error = %e, "loading alerts for notifications failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        let told: HashMap<(String, i64), (Kind, i64)> = log
            .into_iter()
            .filter_map(|n| Some(((n.group_key, n.alert_id), (Kind::parse(&n.kind)?, n.at))))
            .collect();
        if !self.holds_restored {
            self.holds_restored = true;
            for row in holds {
                match serde_json::from_str(&row.payload) {
                    Ok(n) => self.limiter.restore(n),
                    Err(e) => {
                        tracing::error!(id = row.id, error = %e, "a held notification does not read back; the next summary of its kind folds it")
                    }
                }
            }
        }
        self.grouper = Grouper::new();
        self.incidents = incidents
            .into_iter()
            .flat_map(|(_, members)| members)
            .map(|m| (m.alert_id, m.incident_id))
            .collect();
        self.views.clear();
        self.unrouted.clear();
        self.presented.clear();
        self.mute.reset(self.muted().await);
        let now = wall_ms();
        let views: Vec<Arc<AlertView>> = alerts.iter().map(|a| Arc::new(self.view(a))).collect();
        for real in views {
            let v = self.mute.presented(&real);
            self.remember(&v);
            let targets = self.notifier.targets(&v);
            if targets.is_empty() {
                self.unrouted.insert(v.id);
                continue;
            }
            let id = v.id;
            self.grouper.insert(now, Arc::clone(&v), &targets, &|key| {
                told.get(&(key.to_owned(), id)).copied()
            });
            if self.grouper.knows(id) {
                self.views.insert(id, real);
            }
        }
    }

    /// Every alert the lifecycle mutes now (none when it has stopped).
    async fn muted(&self) -> crate::pipeline::lifecycle::Muted {
        let Some(tx) = self.lifecycle.upgrade() else {
            return Vec::new();
        };
        let (reply, rx) = oneshot::channel();
        if tx.send(Command::Muted { reply }).await.is_err() {
            return Vec::new();
        }
        drop(tx);
        rx.await.unwrap_or_default()
    }

    /// An alert as notifications show it, with the incident it is in.
    fn view(&self, a: &klaxon_store::StoredAlert) -> AlertView {
        let mut v = super::view(a);
        v.incident = self.incidents.get(&a.id).copied();
        v
    }

    /// The alert moved into `incident` (or out of every incident): groups by incident follow.
    fn moved(&mut self, now: i64, alert_id: i64, incident: Option<i64>) {
        match incident {
            Some(i) => self.incidents.insert(alert_id, i),
            None => self.incidents.remove(&alert_id),
        };
        let Some(old) = self.views.get(&alert_id) else {
            return;
        };
        if old.incident == incident {
            return;
        }
        let mut v = old.as_ref().clone();
        v.incident = incident;
        let real = Arc::new(v);
        let shown = self.mute.presented(&real);
        self.views.insert(alert_id, real);
        self.grouper.regroup(now, shown);
    }

    async fn apply(&mut self, c: &Change) {
        let now = wall_ms();
        if let Detail::Notice(n) = &c.detail {
            let text = &n.text;
            let views: Vec<AlertView> = n
                .alerts
                .iter()
                .filter_map(|id| self.views.get(id).map(|v| v.as_ref().clone()))
                .collect();
            for r in self.mute.notice_to.clone() {
                self.notices.push(klaxon_notify::Notification {
                    kind: Kind::Notice,
                    receiver: r,
                    group_key: format!("notice:{}", c.alert_id),
                    group_labels: std::collections::BTreeMap::new(),
                    alerts: views.clone(),
                    at: now,
                    folded: 0,
                    notice: Some(text.clone()),
                    escalation: None,
                });
            }
            return;
        }
        if let Detail::Incident(incident) = c.detail {
            self.moved(now, c.alert_id, incident);
            return;
        }
        if c.state == State::Closed {
            self.incidents.remove(&c.alert_id);
        }
        let remuted = self.mute.record(c.alert_id, c.mute.as_ref());
        if let Detail::Muted = c.detail {
            if remuted {
                if let Some(v) = self.views.get(&c.alert_id).cloned() {
                    self.present(now, &v);
                }
            }
            return;
        }
        if self.unrouted.contains(&c.alert_id) {
            if c.state == State::Closed {
                self.unrouted.remove(&c.alert_id);
            }
            return;
        }
        let view = match &c.detail {
            Detail::Created { alert: a, .. } => Arc::new(self.view(a)),
            Detail::Occurrence {
                summary,
                occurrences,
            } => {
                let Some(old) = self.views.get(&c.alert_id) else {
                    return;
                };
                let mut v = old.as_ref().clone();
                v.summary = summary.to_string();
                v.severity.clone_from(&c.severity);
                v.occurrences = *occurrences;
                Arc::new(v)
            }
            Detail::Transition(t) => {
                let (to, at, actor) = (&t.to, &t.at, t.actor.to_string());
                let mut v = match self.views.get(&c.alert_id) {
                    Some(old) => old.as_ref().clone(),
                    // An alert this task has not seen (it reopened after being dropped, or
                    // was routed nowhere before): read it.
                    None => match self.store.get_alert(c.alert_id).await {
                        Ok(a) => self.view(&a),
                        Err(_) => return,
                    },
                };
                v.state = *to;
                v.updated_at = *at;
                match to {
                    State::Acknowledged => {
                        v.acknowledged_at = Some(*at);
                        v.acknowledged_by = Some(actor);
                    }
                    State::Resolved => {
                        v.ends_at = Some(*at);
                        v.resolved_by = Some(actor);
                    }
                    State::Active | State::Pending => {
                        v.ends_at = None;
                        v.resolved_by = None;
                    }
                    State::Suppressed | State::Closed => {}
                }
                Arc::new(v)
            }
            Detail::Other | Detail::Muted | Detail::Notice(_) | Detail::Incident(_) => return,
        };
        let id = view.id;
        let shown = self.mute.presented(&view);
        self.remember(&shown);
        if self.grouper.knows(id) {
            self.grouper.update(now, Arc::clone(&shown));
        } else if view.wanted().is_some_and(|k| k != Kind::Resolved) {
            let targets = self.notifier.targets(&view);
            if targets.is_empty() {
                self.unrouted.insert(id);
                return;
            }
            self.grouper
                .insert(now, Arc::clone(&shown), &targets, &|_| None);
        }
        if self.grouper.knows(id) {
            self.views.insert(id, view);
        } else {
            self.views.remove(&id);
        }
    }

    /// Writes the flushed notifications into the outbox (retrying until the store takes them)
    /// and hands the rows claimed at once to the workers. What a rate limit holds is written
    /// too (`limited`, never sent), and a summary folds its receiver's holds in the same
    /// commit, so a restart neither loses a hold nor tells what a summary told.
    async fn write(&mut self, out: &mut Vec<klaxon_notify::Notification>) {
        if out.is_empty() && self.limiter.receivers_holding().next().is_none() {
            return;
        }
        let now = wall_ms();
        let mut rows = Vec::new();
        let mut passed = Vec::new();
        for mut n in out.drain(..) {
            // Inhibition scoped to a route: the alert leaves this route's firing news only.
            if n.kind == Kind::Firing {
                let receiver = n.receiver.clone();
                n.alerts
                    .retain(|a| self.mute.inhibited_on(a.id, &receiver).is_none());
                if n.alerts.is_empty() {
                    continue;
                }
            }
            match self.limit_of(&n.receiver) {
                Some(limit) => {
                    if let Some(held) = self.limiter.admit(n, limit, now, &mut passed) {
                        rows.extend(limited_row(&self.notifier, held));
                    }
                }
                None => passed.push(n),
            }
        }
        let notifier = Arc::clone(&self.notifier);
        let limits = |r: &str| notifier.receiver(r).and_then(|r| r.rate_limit);
        let mut summaries = Vec::new();
        self.limiter.release(now, &limits, &mut summaries);
        let told = passed
            .into_iter()
            .map(|n| (n, false))
            .chain(summaries.into_iter().map(|n| (n, true)));
        let mut timelines = Vec::new();
        for (n, summary) in told {
            let Some(r) = self.notifier.receiver(&n.receiver) else {
                continue;
            };
            let Some(payload) = encode(&n) else {
                continue;
            };
            let alert_ids: Vec<i64> = n.alerts.iter().map(|a| a.id).collect();
            if let (Some(i), true) = (n.incident(), r.channels.iter().any(|c| c.wants(n.kind))) {
                timelines.push((
                    i,
                    json!({"receiver": &n.receiver, "kind": n.kind.as_str(), "alerts": &alert_ids}),
                ));
            }
            for ch in r.channels.iter().filter(|c| c.wants(n.kind)) {
                rows.push(NewNotification {
                    idempotency_key: super::random_key(),
                    receiver: n.receiver.clone(),
                    channel: ch.kind().to_owned(),
                    channel_index: i64::try_from(ch.index).unwrap_or(0),
                    group_key: n.group_key.clone(),
                    kind: n.kind.as_str().to_owned(),
                    payload: payload.clone(),
                    alert_ids: alert_ids.clone(),
                    created_at: n.at,
                    limited: false,
                    summary,
                });
            }
        }
        if rows.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            let now = wall_ms();
            let claim = Claim {
                owner: self.owner.clone(),
                now,
                until: now + self.lease_ms,
            };
            match self
                .store
                .enqueue_notifications(rows.clone(), Some(claim))
                .await
            {
                Ok(claimed) => {
                    for row in claimed {
                        self.work.submit(row);
                    }
                    self.tell_incidents(timelines);
                    return;
                }
                Err(e) => {
                    crate::error::exit_if_fenced(&e);
                    tracing::error!(error = %e, rows = rows.len(), "writing notifications to the outbox failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

impl<S> Dispatcher<S> {
    /// Puts the notifications made about incidents on their timelines (through the lifecycle
    /// manager, which owns the incidents). A full queue leaves the entry out, said in the log:
    /// the notification itself is in the outbox whatever happens here.
    fn tell_incidents(&self, timelines: Vec<(i64, Value)>) {
        if timelines.is_empty() {
            return;
        }
        let Some(tx) = self.lifecycle.upgrade() else {
            return;
        };
        for (incident, detail) in timelines {
            if tx.try_send(Command::Notified { incident, detail }).is_err() {
                tracing::warn!(
                    incident,
                    "the lifecycle queue is full: a notification is left off the incident's timeline"
                );
            }
        }
    }
}

fn encode(n: &klaxon_notify::Notification) -> Option<String> {
    serde_json::to_string(n)
        .map_err(|e| tracing::error!(error = %e, "encoding a notification failed"))
        .ok()
}

/// The record of a notification its receiver's rate limit holds: one row for the receiver (no
/// channel), in the notification's own group, so a restart counts its alerts as told and takes
/// it back into the limit. `None` when no channel of the receiver wants its kind (then no
/// summary of it is written either).
fn limited_row(notifier: &Notifier, n: &klaxon_notify::Notification) -> Option<NewNotification> {
    let r = notifier.receiver(&n.receiver)?;
    if !r.channels.iter().any(|c| c.wants(n.kind)) {
        return None;
    }
    Some(NewNotification {
        idempotency_key: super::random_key(),
        receiver: n.receiver.clone(),
        channel: String::new(),
        channel_index: -1,
        group_key: n.group_key.clone(),
        kind: n.kind.as_str().to_owned(),
        payload: encode(n)?,
        alert_ids: n.alerts.iter().map(|a| a.id).collect(),
        created_at: n.at,
        limited: true,
        summary: false,
    })
}
