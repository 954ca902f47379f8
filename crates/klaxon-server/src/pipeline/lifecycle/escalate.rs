//! The pager: the escalations of alerts (and incidents) and the SLA timers, owned by the
//! lifecycle manager's task. It reads each batch of the core's changes before the batch is
//! committed (an alert that fires and has a policy starts escalating, or its incident does
//! when the incident has other open alerts: an incident of several alerts escalates as one,
//! subject `incident:ID`; acknowledging stops it, resolving or closing ends it), and turns
//! what the batch caused into store writes for the same commit: the escalation's state with
//! its next due time, the page, and the page's outbox rows. What time alone brings (a level
//! coming due, an SLA target passing) is found by [`Pager::advance`], which the manager calls
//! only for a commit of its own, apart from alert changes (`mod.rs`, `Pacer`). A page is named
//! by (subject, start, cycle, round, level) and each of its outbox rows by an idempotency key
//! made from that name, so a page found again after a restart writes nothing the second time.
//! Rebuilt from the store at start, so a level that came due while the server was down pages
//! when it starts. Decides nothing about escalating itself: the policy core
//! (`klaxon_engine::escalation`) does.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use klaxon_engine::escalation::{EscalateRefusal, Escalation, Page, Policy, Target};
use klaxon_engine::lifecycle::{AlertRecord, Change as CoreChange, Detail as CoreDetail, State};
use klaxon_notify::{EscalationPage, Kind, Notification, Notifier};
use klaxon_store::{
    AlertChange, BreachRecord, EscalationChange, EscalationRecord, NewNotification, PageRecord,
    StoredAlert,
};

use crate::config::{Escalations, Sla};
use crate::oncall::OnCall;

/// Escalations and SLA timers that come due handled by one [`Pager::advance`] at most: the
/// size of one commit of time-driven pages, the rest going into the next one (a restart after
/// a long stop does not make one huge commit). Small, because an alert change that arrives
/// while such a commit is written waits for it (one writer): with 1,024 in the alert's own
/// commit the alert publish p99 grew several times longer (BENCHMARKS.md).
pub(crate) const MAX_DUE_PER_COMMIT: usize = 16;

/// What the SLA asks of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum What {
    Acknowledge,
    Resolve,
}

impl What {
    fn as_str(self) -> &'static str {
        match self {
            What::Acknowledge => "acknowledge",
            What::Resolve => "resolve",
        }
    }

    fn past(self) -> &'static str {
        match self {
            What::Acknowledge => "acknowledged",
            What::Resolve => "resolved",
        }
    }
}

/// One escalation the pager holds.
struct Live {
    policy: Arc<Policy>,
    state: Escalation,
    started_at: i64,
    /// The alert it pages about, as it was when the escalation began (its state kept current).
    alert: Arc<AlertRecord>,
    state_now: State,
    /// The incident, for an incident's escalation (or an alert's escalated by hand).
    incident: Option<i64>,
    /// The incident's open alerts when it last looked (pages name the count).
    alerts: usize,
    acknowledged_at: Option<i64>,
    /// When it is filed in `due`.
    next: Option<i64>,
}

/// An alert the SLA watches.
struct Watch {
    alert: Arc<AlertRecord>,
    team: Option<String>,
    due: BTreeMap<What, (i64, i64)>,
}

/// Why an incident cannot be escalated by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EscalateError {
    /// No alert of the incident follows a policy.
    NoPolicy,
    Refused(EscalateRefusal),
}

/// The incidents as the incident desk holds them, after it read the batch.
pub(crate) trait Groups {
    /// The incident an alert is in.
    fn incident_of(&self, alert: i64) -> Option<i64>;
    /// The open alerts of an incident (empty when it is not held).
    fn open_alerts(&self, incident: i64) -> Vec<i64>;
}

pub(crate) struct Pager {
    policies: HashMap<String, Arc<Policy>>,
    sla: Sla,
    notifier: Arc<Notifier>,
    /// Who is on call, for `schedule:` targets.
    oncall: Arc<OnCall>,
    teams: HashMap<String, Vec<String>>,
    /// Alerts that start escalating once they are active and nothing mutes them.
    waiting: HashMap<i64, Arc<AlertRecord>>,
    live: HashMap<String, Live>,
    /// Alerts that started no escalation of their own because their incident's ran: a reopened
    /// one starts escalating again (or joins its incident's again).
    joined: HashMap<i64, Arc<AlertRecord>>,
    /// Open alerts that are acknowledged: an incident's escalation stops when all its open
    /// alerts are.
    acked: BTreeSet<i64>,
    /// Policy names found missing, each warned of once until the policies change (a log line
    /// per alert would flood the log).
    missing: HashSet<String>,
    due: BTreeSet<(i64, String)>,
    watches: HashMap<i64, Watch>,
    sla_due: BTreeSet<(i64, i64, What)>,
    /// Breaches already recorded (subject, what): told once.
    breached: BTreeSet<(String, &'static str)>,
    pages: Vec<Page>,
    /// Writes of the batch, committed with its alert changes.
    pub(crate) writes: Vec<AlertChange>,
    /// Whether the batch's writes hold outbox rows (the delivery workers are woken after it).
    pub(crate) notified: bool,
}

fn subject_of_alert(id: i64) -> String {
    format!("alert:{id}")
}

fn subject_of_incident(id: i64) -> String {
    format!("incident:{id}")
}

impl Pager {
    pub(crate) fn new(
        escalations: Escalations,
        notifier: Arc<Notifier>,
        teams: HashMap<String, Vec<String>>,
        oncall: Arc<OnCall>,
    ) -> Pager {
        Pager {
            policies: escalations.policies,
            sla: escalations.sla,
            notifier,
            oncall,
            teams,
            waiting: HashMap::new(),
            live: HashMap::new(),
            joined: HashMap::new(),
            acked: BTreeSet::new(),
            missing: HashSet::new(),
            due: BTreeSet::new(),
            watches: HashMap::new(),
            sla_due: BTreeSet::new(),
            breached: BTreeSet::new(),
            pages: Vec::new(),
            writes: Vec::new(),
            notified: false,
        }
    }

    /// Takes back the escalations that had not ended, the alerts that may still start one,
    /// and the SLA's timers of the open alerts (less the breaches already told).
    /// Escalations of alerts that are gone, of incidents with no open alert, or of policies no
    /// longer configured, end here. `groups` is the incident desk, restored before.
    pub(crate) fn restore(
        &mut self,
        escalations: Vec<EscalationRecord>,
        open: &HashMap<i64, StoredAlert>,
        breached: Vec<(String, String)>,
        groups: &dyn Groups,
    ) {
        for (subject, what) in breached {
            let what = match what.as_str() {
                "acknowledge" => What::Acknowledge.as_str(),
                _ => What::Resolve.as_str(),
            };
            self.breached.insert((subject, what));
        }
        let mut escalating = BTreeSet::new();
        let mut incidents = Vec::new();
        for r in escalations {
            let of = |prefix: &str| {
                r.subject
                    .strip_prefix(prefix)
                    .and_then(|id| id.parse::<i64>().ok())
            };
            // An incident's escalation pages about one of its open alerts.
            let target = match (of("alert:"), of("incident:")) {
                (Some(id), _) => open.get(&id).map(|a| (a, None, 1)),
                (None, Some(inc)) => {
                    let alerts = groups.open_alerts(inc);
                    (alerts.iter().find_map(|a| open.get(a))).map(|a| (a, Some(inc), alerts.len()))
                }
                (None, None) => None,
            };
            let state = serde_json::from_str::<Escalation>(&r.state);
            let policy = self.policies.get(&r.policy).cloned();
            match (target, state, policy) {
                (Some((a, incident, alerts)), Ok(state), Some(policy)) => {
                    match incident {
                        Some(inc) => incidents.push(inc),
                        None => {
                            escalating.insert(a.id);
                        }
                    }
                    let live = Live {
                        policy,
                        state,
                        started_at: r.started_at,
                        alert: Arc::new(a.clone()),
                        state_now: a.state,
                        incident,
                        alerts,
                        acknowledged_at: r.acknowledged_at,
                        next: None,
                    };
                    self.live.insert(r.subject.clone(), live);
                    self.file(&r.subject);
                }
                (_, state, policy) => {
                    if let Err(e) = &state {
                        tracing::warn!(subject = %r.subject, error = %e, "a stored escalation does not read back; it ends");
                    } else if policy.is_none() {
                        tracing::warn!(subject = %r.subject, policy = %r.policy, "an escalation's policy is no longer configured; it ends");
                    }
                    self.writes
                        .push(AlertChange::Escalation(EscalationChange::Put(
                            EscalationRecord { ended: true, ..r },
                        )));
                }
            }
        }
        for inc in incidents {
            for id in groups.open_alerts(inc) {
                if let Some(a) = open.get(&id).filter(|_| !escalating.contains(&id)) {
                    self.joined.insert(id, Arc::new(a.clone()));
                }
            }
        }
        for a in open.values() {
            if a.state == State::Acknowledged {
                self.acked.insert(a.id);
            }
            let rec = Arc::new(a.clone());
            if !self.policies.is_empty()
                && matches!(a.state, State::Pending | State::Suppressed)
                && !escalating.contains(&a.id)
            {
                self.waiting.insert(a.id, Arc::clone(&rec));
            }
            self.watch(&rec);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Whether it has anything to do: a policy or an SLA target is configured.
    pub(crate) fn configured(&self) -> bool {
        !self.policies.is_empty() || !self.sla.is_empty()
    }

    /// When something next comes due.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        let a = self.due.first().map(|(t, _)| *t);
        let b = self.sla_due.first().map(|(t, _, _)| *t);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The policy an alert follows: the one a threshold rule names (`escalation_policy`), the
    /// one an event rule's handler names, else that of the first route that takes it and names
    /// one.
    fn policy_of(&mut self, a: &AlertRecord) -> Option<Arc<Policy>> {
        if let Some(name) = a.annotations.get("escalation_policy") {
            match self.policies.get(name) {
                Some(p) => return Some(Arc::clone(p)),
                None if self.missing.insert(name.clone()) => {
                    tracing::warn!(alert = a.id, policy = %name, "a rule names an escalation policy that does not exist; its alerts do not escalate by it (told once until the policies change)");
                }
                None => {}
            }
        }
        if let Some(p) = a
            .handler
            .split(',')
            .map(str::trim)
            .find_map(|n| self.policies.get(n))
        {
            return Some(Arc::clone(p));
        }
        let route = self.notifier.route.as_ref()?;
        let view = crate::pipeline::view::view(a);
        let name = route.escalation_policy(&view.labels)?;
        let policy = self.policies.get(&*name).cloned();
        // A route's policy is checked at start, and the API does not delete it.
        if policy.is_none() && self.missing.insert(name.to_string()) {
            tracing::warn!(alert = a.id, policy = %name, "a route names an escalation policy that does not exist; its alerts page nobody (told once until the policies change)");
        }
        policy
    }

    /// Follows the policies and teams as they are now (changed through the API). An
    /// escalation whose policy changed goes on under the changed one from its next level (by
    /// position; its wait counts from the last page, as before; past the changed policy's last
    /// level the round is over and `repeat` says what follows); the levels it paged are not
    /// paged again. One whose policy was deleted keeps the policy it had until it ends.
    pub(crate) fn follow(&mut self, catalog: crate::escalation::Catalog, _now: i64) {
        self.policies = catalog.policies;
        self.teams = catalog.teams;
        self.missing.clear();
        let changed: Vec<String> = (self.live.iter())
            .filter(|(_, l)| {
                self.policies
                    .get(&l.policy.name)
                    .is_some_and(|p| **p != *l.policy)
            })
            .map(|(s, _)| s.clone())
            .collect();
        for subject in changed {
            if let Some(l) = self.live.get_mut(&subject) {
                if let Some(p) = self.policies.get(&l.policy.name) {
                    l.policy = Arc::clone(p);
                }
            }
            self.file(&subject);
        }
    }

    /// Reads a batch of the core's changes (`groups`: the incidents after the desk read it).
    pub(crate) fn observe(&mut self, changes: &[CoreChange], now: i64, groups: &dyn Groups) {
        for c in changes {
            match &c.detail {
                CoreDetail::Created(rec) => {
                    self.watch(rec);
                    match rec.state {
                        State::Active if c.mute.is_none() => self.start(rec, now, groups),
                        // Kept even without a policy: one may be made through the API before
                        // it fires.
                        State::Active | State::Pending | State::Suppressed => {
                            self.waiting.insert(rec.id, Arc::clone(rec));
                        }
                        _ => {}
                    }
                }
                CoreDetail::Muted if c.state == State::Active && c.mute.is_none() => {
                    if let Some(rec) = self.waiting.remove(&c.alert_id) {
                        self.start(&rec, now, groups);
                    }
                }
                CoreDetail::Transition(t) => {
                    self.transition(t.id, t.from, t.to, t.at, c, now, groups);
                }
                _ => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn transition(
        &mut self,
        id: i64,
        from: State,
        to: State,
        at: i64,
        c: &CoreChange,
        now: i64,
        groups: &dyn Groups,
    ) {
        let subject = subject_of_alert(id);
        if let Some(l) = self.live.get_mut(&subject) {
            l.state_now = to;
        }
        if to == State::Acknowledged {
            self.acked.insert(id);
        } else {
            self.acked.remove(&id);
        }
        let incident = groups.incident_of(id).map(subject_of_incident);
        if let Some(l) = incident.as_ref().and_then(|s| self.live.get_mut(s)) {
            if l.alert.id == id {
                l.state_now = to;
            }
        }
        match to {
            State::Acknowledged => {
                self.waiting.remove(&id);
                self.unwatch(id, What::Acknowledge);
                if let Some(l) = self.live.get_mut(&subject) {
                    l.acknowledged_at.get_or_insert(at);
                    let policy = Arc::clone(&l.policy);
                    l.state.acknowledge(&policy, now, &mut self.pages);
                    self.persist(&subject, now);
                }
                self.settle(id, now, groups);
            }
            State::Active => {
                let live = self.live.get_mut(&subject);
                match (from, live) {
                    (State::Acknowledged, Some(l)) if !l.state.ended => {
                        let policy = Arc::clone(&l.policy);
                        l.state.unacknowledge(&policy, now, &mut self.pages);
                        self.persist(&subject, now);
                    }
                    // Back from resolved or suppressed: a new escalation.
                    (_, Some(l)) if l.state.ended => {
                        let rec = Arc::clone(&l.alert);
                        if c.mute.is_none() {
                            self.start(&rec, now, groups);
                        } else {
                            self.waiting.insert(id, rec);
                        }
                    }
                    (_, None) => {
                        let rec = (self.waiting.remove(&id)).or_else(|| self.joined.remove(&id));
                        if let Some(rec) = rec {
                            if c.mute.is_none() {
                                self.start(&rec, now, groups);
                            } else {
                                self.waiting.insert(id, rec);
                            }
                        }
                    }
                    _ => {}
                }
                // Back from acknowledged: its incident's escalation goes on.
                if let Some(l) = incident.as_ref().and_then(|s| self.live.get_mut(s)) {
                    if from == State::Acknowledged
                        && !l.state.ended
                        && l.state.acknowledged_at.is_some()
                    {
                        let policy = Arc::clone(&l.policy);
                        l.state.unacknowledge(&policy, now, &mut self.pages);
                        let s = incident.clone().unwrap_or_default();
                        self.persist(&s, now);
                    }
                }
            }
            State::Suppressed => self.end(&subject, now, false),
            State::Resolved => {
                self.waiting.remove(&id);
                self.unwatch(id, What::Acknowledge);
                self.unwatch(id, What::Resolve);
                self.end(&subject, now, false);
                self.settle(id, now, groups);
            }
            State::Closed => {
                self.waiting.remove(&id);
                self.joined.remove(&id);
                self.unwatch(id, What::Acknowledge);
                self.unwatch(id, What::Resolve);
                self.end(&subject, now, true);
                self.breached
                    .retain(|(s, _)| s.as_str() != subject.as_str());
                self.settle(id, now, groups);
            }
            State::Pending => {}
        }
    }

    /// Starts the escalation of an alert that fires, when a policy applies. In an incident
    /// with other open alerts, the incident escalates instead: the alert joins the incident's
    /// escalation when one runs; else an escalation of another of its alerts becomes the
    /// incident's; else the incident's starts now, under this alert's policy.
    fn start(&mut self, rec: &Arc<AlertRecord>, now: i64, groups: &dyn Groups) {
        let Some(policy) = self.policy_of(rec) else {
            return;
        };
        if let Some(inc) = groups.incident_of(rec.id) {
            let open = groups.open_alerts(inc);
            if open.iter().any(|&a| a != rec.id) {
                self.joined.insert(rec.id, Arc::clone(rec));
                let subject = subject_of_incident(inc);
                if let Some(l) = self.live.get_mut(&subject).filter(|l| !l.state.ended) {
                    l.alerts = open.len();
                    return;
                }
                let other = (open.iter())
                    .filter(|&&a| a != rec.id)
                    .map(|&a| subject_of_alert(a))
                    .find(|s| self.live.get(s).is_some_and(|l| !l.state.ended));
                if let Some(other) = other {
                    self.adopt(&other, inc, open.len(), now);
                    return;
                }
                self.begin(subject, policy, rec, Some((inc, open.len())), now);
                return;
            }
        }
        self.begin(subject_of_alert(rec.id), policy, rec, None, now);
    }

    /// Starts the escalation of `subject` (an alert's, or an incident's with its count of open
    /// alerts) at its first level. A subject that escalated before (a reopened alert, an
    /// incident escalating again) goes on from the old escalation's cycles: no page key repeats.
    fn begin(
        &mut self,
        subject: String,
        policy: Arc<Policy>,
        rec: &Arc<AlertRecord>,
        incident: Option<(i64, usize)>,
        now: i64,
    ) {
        let mut state = Escalation::start(now);
        if let Some(old) = self.live.get(&subject) {
            state.cycle = old.state.cycle + 1;
        }
        self.live.insert(
            subject.clone(),
            Live {
                policy,
                state,
                started_at: now,
                alert: Arc::clone(rec),
                state_now: State::Active,
                incident: incident.map(|(inc, _)| inc),
                alerts: incident.map_or(1, |(_, n)| n),
                acknowledged_at: None,
                next: None,
            },
        );
        self.step(&subject, now);
    }

    /// An alert's escalation becomes incident `inc`'s: it goes on where it was (the levels it
    /// paged are not paged again), under the incident's subject; the alert's record ends.
    fn adopt(&mut self, subject: &str, inc: i64, alerts: usize, now: i64) {
        let Some(mut l) = self.live.remove(subject) else {
            return;
        };
        if let Some(at) = l.next.take() {
            self.due.remove(&(at, subject.to_owned()));
        }
        let mut ended = l.state.clone();
        ended.ended = true;
        self.writes
            .push(AlertChange::Escalation(EscalationChange::Put(
                EscalationRecord {
                    subject: subject.to_owned(),
                    policy: l.policy.name.clone(),
                    state: serde_json::to_string(&ended).expect("an escalation serialises"),
                    next_due: None,
                    started_at: l.started_at,
                    ended: true,
                    acknowledged_at: l.acknowledged_at,
                },
            )));
        if subject.starts_with("alert:") {
            self.joined.insert(l.alert.id, Arc::clone(&l.alert));
        }
        l.incident = Some(inc);
        l.alerts = alerts;
        let to = subject_of_incident(inc);
        self.live.insert(to.clone(), l);
        self.persist(&to, now);
    }

    /// An alert of an incident was acknowledged, resolved or closed: the incident's escalation
    /// stops when every open alert of it is acknowledged, and ends when none is open.
    fn settle(&mut self, alert: i64, now: i64, groups: &dyn Groups) {
        let Some(inc) = groups.incident_of(alert) else {
            return;
        };
        self.settle_incident(inc, now, groups);
    }

    fn settle_incident(&mut self, inc: i64, now: i64, groups: &dyn Groups) {
        let subject = subject_of_incident(inc);
        let Some(l) = self.live.get_mut(&subject) else {
            return;
        };
        if l.state.ended {
            return;
        }
        let open = groups.open_alerts(inc);
        if open.is_empty() {
            self.end(&subject, now, true);
            return;
        }
        l.alerts = open.len();
        if !open.contains(&l.alert.id) {
            // Pages name an alert that is still open.
            if let Some(rec) = open.iter().find_map(|a| self.joined.get(a)) {
                l.alert = Arc::clone(rec);
                l.state_now = rec.state;
            }
        }
        if l.state.acknowledged_at.is_none() && open.iter().all(|a| self.acked.contains(a)) {
            l.acknowledged_at.get_or_insert(now);
            let policy = Arc::clone(&l.policy);
            l.state.acknowledge(&policy, now, &mut self.pages);
            self.persist(&subject, now);
        }
    }

    /// Incidents were merged, or alerts moved between them: `into` escalates as one. Of the
    /// escalations running for it (its own, those of `from`, those of its open alerts when it
    /// has more than one) the oldest goes on as `into`'s, the others end. Then each of `from`
    /// whose escalation still runs settles (it ends when no alert of it is open).
    pub(crate) fn regroup(&mut self, into: i64, from: &[i64], now: i64, groups: &dyn Groups) {
        let open = groups.open_alerts(into);
        let mut subjects: Vec<String> = from.iter().map(|&i| subject_of_incident(i)).collect();
        subjects.push(subject_of_incident(into));
        if open.len() > 1 {
            subjects.extend(open.iter().map(|&a| subject_of_alert(a)));
        }
        let mut running: Vec<(i64, String)> = (subjects.into_iter())
            .filter_map(|s| {
                let l = self.live.get(&s).filter(|l| !l.state.ended)?;
                Some((l.started_at, s))
            })
            .collect();
        running.sort();
        let target = subject_of_incident(into);
        if let Some((_, keep)) = running.first().cloned() {
            // A moved alert's escalation stays its own while its incident is of one alert.
            if keep != target && (open.len() > 1 || keep.starts_with("incident:")) {
                for (_, s) in &running[1..] {
                    self.retire(s, now);
                }
                self.adopt(&keep, into, open.len(), now);
            } else if keep == target {
                for (_, s) in &running[1..] {
                    self.retire(s, now);
                }
            }
        }
        if let Some(l) = self.live.get_mut(&target) {
            l.alerts = open.len();
        }
        for &f in from {
            self.settle_incident(f, now, groups);
        }
        self.settle_incident(into, now, groups);
    }

    /// Ends an escalation that another one takes over; an alert's alert joins that one.
    fn retire(&mut self, subject: &str, now: i64) {
        if let Some(l) = self.live.get(subject) {
            if subject.starts_with("alert:") {
                let rec = Arc::clone(&l.alert);
                self.joined.insert(rec.id, rec);
            }
        }
        self.end(subject, now, true);
    }

    /// Ends an escalation (`forget`: the pager holds it no more).
    fn end(&mut self, subject: &str, now: i64, forget: bool) {
        if let Some(l) = self.live.get_mut(subject) {
            if !l.state.ended {
                let policy = Arc::clone(&l.policy);
                l.state.end(&policy, now, &mut self.pages);
                self.persist(subject, now);
            }
        }
        if forget {
            if let Some(l) = self.live.remove(subject) {
                if let Some(at) = l.next {
                    self.due.remove(&(at, subject.to_owned()));
                }
            }
        }
    }

    /// Advances one escalation to `now` and writes what it paged.
    fn step(&mut self, subject: &str, now: i64) {
        if let Some(l) = self.live.get_mut(subject) {
            let policy = Arc::clone(&l.policy);
            l.state.advance(&policy, now, &mut self.pages);
        }
        self.persist(subject, now);
    }

    /// Writes the escalation's state and its pages (with their outbox rows), and files its
    /// next due time.
    fn persist(&mut self, subject: &str, now: i64) {
        let mut pages = std::mem::take(&mut self.pages);
        let Some(l) = self.live.get(subject) else {
            pages.clear();
            self.pages = pages;
            return;
        };
        let mut out = Vec::with_capacity(pages.len() + 1);
        let mut notified = false;
        for page in &pages {
            let (page, notifications) = self.page_rows(subject, l, page, now);
            notified |= !notifications.is_empty();
            out.push(AlertChange::Escalation(EscalationChange::Page {
                page,
                notifications,
            }));
        }
        let record = EscalationRecord {
            subject: subject.to_owned(),
            policy: l.policy.name.clone(),
            state: serde_json::to_string(&l.state).expect("an escalation serialises"),
            next_due: l.state.next_due(&l.policy),
            started_at: l.started_at,
            ended: l.state.ended,
            acknowledged_at: l.acknowledged_at,
        };
        out.push(AlertChange::Escalation(EscalationChange::Put(record)));
        self.notified |= notified;
        self.writes.extend(out);
        pages.clear();
        self.pages = pages;
        self.file(subject);
    }

    /// Files an escalation under its next due time.
    fn file(&mut self, subject: &str) {
        let Some(l) = self.live.get_mut(subject) else {
            return;
        };
        if let Some(at) = l.next.take() {
            self.due.remove(&(at, subject.to_owned()));
        }
        l.next = l.state.next_due(&l.policy);
        if let Some(at) = l.next {
            self.due.insert((at, subject.to_owned()));
        }
    }

    /// Whether an escalation or an SLA timer is due at `now` (its time is not after `now`).
    pub(crate) fn due(&self, now: i64) -> bool {
        self.next_deadline().is_some_and(|at| at <= now)
    }

    /// Pages what came due and tells the SLA breaches whose time passed, at most
    /// [`MAX_DUE_PER_COMMIT`] of them (the rest stay due).
    pub(crate) fn advance(&mut self, now: i64) {
        let mut budget = MAX_DUE_PER_COMMIT;
        while let Some((at, subject)) = self.due.first().cloned() {
            if at > now || budget == 0 {
                break;
            }
            budget -= 1;
            self.due.remove(&(at, subject.clone()));
            if let Some(l) = self.live.get_mut(&subject) {
                l.next = None;
            }
            self.step(&subject, now);
        }
        while let Some(&(at, id, what)) = self.sla_due.first() {
            if at > now || budget == 0 {
                break;
            }
            budget -= 1;
            self.sla_due.remove(&(at, id, what));
            self.breach(id, what, at, now);
        }
    }

    /// An acknowledged alert whose acknowledgement expired (its escalation re-triggered) is
    /// acknowledged again: the escalation stops again. False when it has no such escalation.
    /// For an alert of an escalating incident, the incident's stops again when every open
    /// alert of it is acknowledged.
    pub(crate) fn acknowledge_again(&mut self, id: i64, now: i64, groups: &dyn Groups) -> bool {
        let subject = subject_of_alert(id);
        let Some(l) = self.live.get_mut(&subject) else {
            let Some(inc) = groups.incident_of(id) else {
                return false;
            };
            let subject = subject_of_incident(inc);
            let again = self.live.get(&subject).is_some_and(|l| {
                !l.state.ended && l.state.acknowledged_at.is_none() && self.acked.contains(&id)
            });
            if again {
                self.settle_incident(inc, now, groups);
            }
            return again;
        };
        if l.state.ended || l.state.acknowledged_at.is_some() || l.state_now != State::Acknowledged
        {
            return false;
        }
        let policy = Arc::clone(&l.policy);
        l.state.acknowledge(&policy, now, &mut self.pages);
        self.persist(&subject, now);
        true
    }

    /// Escalates an incident's alerts by hand: each escalation among `alerts` moves to its
    /// next level now. Answers what paged (alert, 1-based level, targets). Refused when none
    /// of them follows a policy, or none has a level left.
    pub(crate) fn escalate(
        &mut self,
        incident: i64,
        alerts: &[i64],
        actor: &str,
        now: i64,
    ) -> Result<Vec<(i64, usize, Vec<String>)>, EscalateError> {
        // An incident that escalates as one moves to its next level once.
        let subject = subject_of_incident(incident);
        if let Some(l) = self.live.get_mut(&subject) {
            let policy = Arc::clone(&l.policy);
            let alert = l.alert.id;
            let before = self.pages.len();
            let r = l.state.escalate(&policy, now, actor, &mut self.pages);
            let moved: Vec<(i64, usize, Vec<String>)> = (self.pages[before..].last())
                .map(|p| {
                    let targets = (policy.levels[p.level].notify.iter())
                        .map(ToString::to_string)
                        .collect();
                    (alert, p.level + 1, targets)
                })
                .into_iter()
                .collect();
            self.persist(&subject, now);
            return match r {
                Ok(()) => Ok(moved),
                Err(e) => Err(EscalateError::Refused(e)),
            };
        }
        let mut moved = Vec::new();
        let mut refusal = None;
        for &id in alerts {
            let subject = subject_of_alert(id);
            let Some(l) = self.live.get_mut(&subject) else {
                continue;
            };
            l.incident = Some(incident);
            let policy = Arc::clone(&l.policy);
            let before = self.pages.len();
            match l.state.escalate(&policy, now, actor, &mut self.pages) {
                Ok(()) => {
                    if let Some(p) = self.pages[before..].last() {
                        let targets = policy.levels[p.level]
                            .notify
                            .iter()
                            .map(ToString::to_string)
                            .collect();
                        moved.push((id, p.level + 1, targets));
                    }
                }
                Err(e) => refusal = Some(e),
            }
            self.persist(&subject, now);
        }
        match (moved.is_empty(), refusal) {
            (true, Some(e)) => Err(EscalateError::Refused(e)),
            (true, None) => Err(EscalateError::NoPolicy),
            (false, _) => Ok(moved),
        }
    }

    /// The page's record and its outbox rows: one per channel of each target (a team's
    /// members one by one).
    fn page_rows(
        &self,
        subject: &str,
        l: &Live,
        page: &Page,
        now: i64,
    ) -> (PageRecord, Vec<NewNotification>) {
        let level = &l.policy.levels[page.level];
        let key = format!("{}.{}", l.started_at, page.key());
        let reason = page.why.text();
        let mut view = crate::pipeline::view::view(&l.alert);
        view.state = l.state_now;
        let group_key = format!("escalation:{subject}");
        let about = match l.incident.filter(|_| subject.starts_with("incident:")) {
            Some(inc) => format!(
                "incident {inc} ({} alert{}, first {})",
                l.alerts,
                if l.alerts == 1 { "" } else { "s" },
                view.name
            ),
            None => view.name.to_string(),
        };
        let mut rows = Vec::new();
        for target in &level.notify {
            let receivers: Vec<(String, Option<String>)> = match target {
                Target::Receiver(r) => vec![(r.clone(), None)],
                Target::User(u) => vec![(format!("user:{u}"), None)],
                Target::Team(t) => self
                    .teams
                    .get(t)
                    .map(|members| {
                        members
                            .iter()
                            .map(|m| (format!("user:{m}"), Some(m.clone())))
                            .collect()
                    })
                    .unwrap_or_default(),
                // Whoever is on call when the level came due.
                Target::Schedule(s) => match self.oncall.on_call(s, page.at) {
                    Some(u) => vec![(format!("user:{u}"), Some(u))],
                    None => {
                        tracing::warn!(schedule = %s, policy = %l.policy.name, level = page.level + 1, "nobody is on call: the schedule's part of the page reaches nobody");
                        Vec::new()
                    }
                },
            };
            for (receiver, member) in receivers {
                let holder = self.notifier.holder(&receiver);
                let Some(r) = holder.as_deref().and_then(|n| n.receiver(&receiver)) else {
                    // A user with no contact that can be paged, or a receiver the
                    // configuration no longer declares.
                    tracing::warn!(%receiver, "a paged user or receiver has no channel; not paged");
                    continue;
                };
                let target_text = target.to_string();
                let n = Notification {
                    kind: Kind::Escalated,
                    receiver: receiver.clone(),
                    group_key: group_key.clone(),
                    group_labels: BTreeMap::new(),
                    alerts: vec![view.clone()],
                    at: now,
                    folded: 0,
                    notice: Some(format!(
                        "{}: level {} of escalation policy {} pages {}{}: {}",
                        about,
                        page.level + 1,
                        l.policy.name,
                        target_text,
                        member
                            .as_deref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default(),
                        reason
                    )),
                    escalation: Some(EscalationPage {
                        policy: l.policy.name.clone(),
                        level: page.level + 1,
                        round: page.round + 1,
                        target: target_text.clone(),
                        member: member.clone(),
                        reason: reason.clone(),
                        incident: l.incident,
                    }),
                };
                let payload = serde_json::to_string(&n).expect("a notification serialises");
                for c in &r.channels {
                    rows.push(NewNotification {
                        idempotency_key: format!(
                            "escalation:{subject}:{key}:{target_text}:{receiver}:{}",
                            c.index
                        ),
                        receiver: receiver.clone(),
                        channel: c.kind().to_owned(),
                        channel_index: i64::try_from(c.index).unwrap_or(i64::MAX),
                        group_key: group_key.clone(),
                        kind: Kind::Escalated.as_str().to_owned(),
                        payload: payload.clone(),
                        alert_ids: vec![l.alert.id],
                        created_at: now,
                        limited: false,
                        summary: false,
                    });
                }
            }
        }
        let record = PageRecord {
            subject: subject.to_owned(),
            key,
            policy: l.policy.name.clone(),
            level: i64::try_from(page.level).unwrap_or(i64::MAX),
            round: i64::from(page.round),
            cycle: i64::from(page.cycle),
            targets: level.notify.iter().map(ToString::to_string).collect(),
            reason,
            actor: match &page.why {
                klaxon_engine::escalation::Why::ByHand { actor } => Some(actor.clone()),
                _ => None,
            },
            at: page.at,
        };
        (record, rows)
    }

    /// Starts the SLA's timers of an open alert (those not told already).
    fn watch(&mut self, rec: &Arc<AlertRecord>) {
        if self.sla.is_empty() || matches!(rec.state, State::Resolved | State::Closed) {
            return;
        }
        let team = rec.labels.get("team").cloned();
        let target = self.sla.target(&rec.severity, team.as_deref());
        let subject = subject_of_alert(rec.id);
        let mut due = BTreeMap::new();
        for (what, ms, done) in [
            (
                What::Acknowledge,
                target.acknowledge,
                rec.acknowledged_at.is_some() || rec.state == State::Acknowledged,
            ),
            (What::Resolve, target.resolve, false),
        ] {
            let Some(ms) = ms else { continue };
            if done || self.breached.contains(&(subject.clone(), what.as_str())) {
                continue;
            }
            let at = rec.first_seen.saturating_add(ms);
            due.insert(what, (at, ms));
            self.sla_due.insert((at, rec.id, what));
        }
        if !due.is_empty() {
            self.watches.insert(
                rec.id,
                Watch {
                    alert: Arc::clone(rec),
                    team,
                    due,
                },
            );
        }
    }

    fn unwatch(&mut self, id: i64, what: What) {
        if let Some(w) = self.watches.get_mut(&id) {
            if let Some((at, _)) = w.due.remove(&what) {
                self.sla_due.remove(&(at, id, what));
            }
            if w.due.is_empty() {
                self.watches.remove(&id);
            }
        }
    }

    /// A target of the SLA passed: the breach, told through the alert's routes.
    fn breach(&mut self, id: i64, what: What, at: i64, now: i64) {
        let Some(w) = self.watches.get_mut(&id) else {
            return;
        };
        let Some((_, ms)) = w.due.remove(&what) else {
            return;
        };
        let alert = Arc::clone(&w.alert);
        let team = w.team.clone();
        if w.due.is_empty() {
            self.watches.remove(&id);
        }
        let subject = subject_of_alert(id);
        self.breached.insert((subject.clone(), what.as_str()));
        let mut view = crate::pipeline::view::view(&alert);
        if let Some(l) = self.live.get(&subject) {
            view.state = l.state_now;
        }
        let text = format!(
            "SLA breached: {} ({}{}) was not {} within {}",
            view.name,
            alert.severity,
            team.as_deref()
                .map(|t| format!(", team {t}"))
                .unwrap_or_default(),
            what.past(),
            klaxon_engine::escalation::human(ms)
        );
        let group_key = format!("sla:{subject}");
        let mut rows = Vec::new();
        for t in self.notifier.targets(&view) {
            let Some(r) = self.notifier.receiver(&t.receiver) else {
                continue;
            };
            let n = Notification {
                kind: Kind::Notice,
                receiver: t.receiver.to_string(),
                group_key: group_key.clone(),
                group_labels: BTreeMap::new(),
                alerts: vec![view.clone()],
                at: now,
                folded: 0,
                notice: Some(text.clone()),
                escalation: None,
            };
            let payload = serde_json::to_string(&n).expect("a notification serialises");
            for c in r.channels.iter().filter(|c| c.wants(Kind::Notice)) {
                rows.push(NewNotification {
                    idempotency_key: format!(
                        "sla:{subject}:{}:{}:{}",
                        what.as_str(),
                        t.receiver,
                        c.index
                    ),
                    receiver: t.receiver.to_string(),
                    channel: c.kind().to_owned(),
                    channel_index: i64::try_from(c.index).unwrap_or(i64::MAX),
                    group_key: group_key.clone(),
                    kind: Kind::Notice.as_str().to_owned(),
                    payload: payload.clone(),
                    alert_ids: vec![id],
                    created_at: now,
                    limited: false,
                    summary: false,
                });
            }
        }
        self.notified |= !rows.is_empty();
        self.writes
            .push(AlertChange::Escalation(EscalationChange::Breach {
                breach: BreachRecord {
                    subject,
                    what: what.as_str().to_owned(),
                    severity: alert.severity.clone(),
                    team,
                    target_ms: ms,
                    at,
                },
                notifications: rows,
            }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;

    use klaxon_engine::lifecycle::Transition;
    use klaxon_store::conformance::labelled;

    use super::*;
    use crate::config::{load_text, Flags};

    const CONFIG: &str = r#"
[route]
receiver = "ops"
[[route.routes]]
matchers = ['team="db"']
escalation_policy = "by-route"
[[receivers]]
name = "ops"
[[receivers.webhook_configs]]
url = "https://hooks.example.com/ops"
[[users]]
name = "alice"
contacts = [{ kind = "webhook", url = "https://hooks.example.com/alice" }]
[[escalation_policies]]
name = "by-route"
[[escalation_policies.levels]]
notify = ["user:alice"]
[[escalation_policies.levels]]
wait = "5m"
notify = ["receiver:ops"]
[[escalation_policies]]
name = "by-rule"
[[escalation_policies.levels]]
notify = ["receiver:ops"]
"#;

    const M: i64 = 60_000;

    /// No incidents (alerts alone).
    struct NoGroups;

    impl Groups for NoGroups {
        fn incident_of(&self, _: i64) -> Option<i64> {
            None
        }
        fn open_alerts(&self, _: i64) -> Vec<i64> {
            Vec::new()
        }
    }

    /// Incidents as the desk would hold them: alert → incident, and the alerts that ended.
    #[derive(Default)]
    struct Desk {
        of: BTreeMap<i64, i64>,
        ended: BTreeSet<i64>,
    }

    impl Groups for Desk {
        fn incident_of(&self, alert: i64) -> Option<i64> {
            self.of.get(&alert).copied()
        }
        fn open_alerts(&self, incident: i64) -> Vec<i64> {
            (self.of.iter())
                .filter(|(a, i)| **i == incident && !self.ended.contains(a))
                .map(|(a, _)| *a)
                .collect()
        }
    }

    fn pager() -> Pager {
        let (c, _) = load_text(Some((Path::new("k.toml"), CONFIG)), &[], &Flags::default())
            .expect("configuration");
        Pager::new(
            c.escalations().unwrap(),
            Arc::new(c.notifier().unwrap()),
            HashMap::new(),
            Arc::new(OnCall::default()),
        )
    }

    fn created(a: &StoredAlert) -> CoreChange {
        CoreChange {
            alert_id: a.id,
            state: a.state,
            severity: Arc::from(a.severity.as_str()),
            labels: Arc::new(a.labels.clone()),
            mute: None,
            detail: CoreDetail::Created(Arc::new(a.clone())),
        }
    }

    fn moved(id: i64, from: State, to: State, at: i64) -> CoreChange {
        CoreChange {
            alert_id: id,
            state: to,
            severity: Arc::from("critical"),
            labels: Arc::new(BTreeMap::new()),
            mute: None,
            detail: CoreDetail::Transition(Arc::new(Transition {
                id,
                from,
                to,
                at,
                actor: "api".into(),
                reason: "".into(),
                until: None,
                by: None,
            })),
        }
    }

    /// (receiver, level) of each outbox row of the pages written, and clears the writes.
    fn paged(p: &mut Pager) -> Vec<(String, i64)> {
        let out = p
            .writes
            .iter()
            .filter_map(|w| match w {
                AlertChange::Escalation(EscalationChange::Page {
                    page,
                    notifications,
                }) => Some(
                    notifications
                        .iter()
                        .map(|n| (n.receiver.clone(), page.level)),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        p.writes.clear();
        out
    }

    #[test]
    fn the_rule_names_the_policy_before_the_route() {
        let mut p = pager();
        let mut a = labelled(1, "Disk", "critical", 0, &[("team", "db")]);
        assert_eq!(
            p.policy_of(&a).map(|x| x.name.clone()).as_deref(),
            Some("by-route")
        );
        a.handler = "ops,by-rule".to_owned();
        assert_eq!(
            p.policy_of(&a).map(|x| x.name.clone()).as_deref(),
            Some("by-rule")
        );
        a.handler = String::new();
        a.annotations
            .insert("escalation_policy".to_owned(), "by-rule".to_owned());
        assert_eq!(
            p.policy_of(&a).map(|x| x.name.clone()).as_deref(),
            Some("by-rule")
        );
        let other = labelled(2, "Cpu", "critical", 0, &[("team", "web")]);
        assert!(p.policy_of(&other).is_none());
    }

    #[test]
    fn a_changed_policy_goes_on_from_the_next_level_and_a_deleted_one_keeps_its_escalations() {
        let mut p = pager();
        let a = labelled(1, "Disk", "critical", 0, &[("team", "db")]);
        p.observe(&[created(&a)], 0, &NoGroups);
        assert_eq!(paged(&mut p), [("user:alice".to_owned(), 0)]);
        assert_eq!(p.next_deadline(), Some(5 * M));

        // Level 2 now waits 1m and pages alice: due at 1m after level 1, not at 5m.
        let mut policies = p.policies.clone();
        let mut changed = (*policies["by-route"]).clone();
        changed.levels[1] = klaxon_engine::escalation::Level {
            wait_ms: M,
            notify: vec![Target::User("alice".to_owned())],
        };
        changed.levels.push(klaxon_engine::escalation::Level {
            wait_ms: M,
            notify: vec![Target::Receiver("ops".to_owned())],
        });
        policies.insert("by-route".to_owned(), Arc::new(changed));
        p.follow(
            crate::escalation::Catalog {
                policies: policies.clone(),
                teams: HashMap::new(),
            },
            30_000,
        );
        assert_eq!(p.next_deadline(), Some(M), "the changed wait counts");
        p.advance(M);
        assert_eq!(paged(&mut p), [("user:alice".to_owned(), 1)]);

        // Deleted: the running escalation goes on under the policy it had; a new alert under
        // the route pages nobody.
        policies.remove("by-route");
        p.follow(
            crate::escalation::Catalog {
                policies,
                teams: HashMap::new(),
            },
            M,
        );
        p.advance(2 * M);
        assert_eq!(paged(&mut p), [("ops".to_owned(), 2)]);
        let b = labelled(2, "Disk2", "critical", 0, &[("team", "db")]);
        p.observe(&[created(&b)], 3 * M, &NoGroups);
        assert!(paged(&mut p).is_empty());
        assert!(!p.live.contains_key("alert:2"));
    }

    #[test]
    fn an_alert_pages_until_acknowledged_and_is_forgotten_when_closed() {
        let mut p = pager();
        let a = labelled(1, "Disk", "critical", 0, &[("team", "db")]);
        p.observe(&[created(&a)], 0, &NoGroups);
        assert_eq!(paged(&mut p), [("user:alice".to_owned(), 0)]);
        assert_eq!(p.next_deadline(), Some(5 * M));
        p.advance(5 * M);
        assert_eq!(paged(&mut p), [("ops".to_owned(), 1)]);
        assert_eq!(p.next_deadline(), None, "every level paged");

        let b = labelled(2, "Disk2", "critical", 0, &[("team", "db")]);
        p.observe(&[created(&b)], 6 * M, &NoGroups);
        paged(&mut p);
        p.observe(
            &[moved(2, State::Active, State::Acknowledged, 7 * M)],
            7 * M,
            &NoGroups,
        );
        p.advance(100 * M);
        assert!(paged(&mut p).is_empty(), "acknowledged: nothing more");
        p.observe(
            &[moved(2, State::Acknowledged, State::Resolved, 101 * M)],
            101 * M,
            &NoGroups,
        );
        p.observe(
            &[moved(2, State::Resolved, State::Closed, 102 * M)],
            102 * M,
            &NoGroups,
        );
        assert!(!p.live.contains_key("alert:2"));
        assert!(p.due.is_empty());
    }

    #[test]
    fn a_pending_alert_escalates_when_it_fires_and_a_reopened_one_anew() {
        let mut p = pager();
        let mut a = labelled(1, "Disk", "critical", 0, &[("team", "db")]);
        a.state = State::Pending;
        p.observe(&[created(&a)], 0, &NoGroups);
        assert!(paged(&mut p).is_empty());
        p.observe(&[moved(1, State::Pending, State::Active, M)], M, &NoGroups);
        assert_eq!(paged(&mut p), [("user:alice".to_owned(), 0)]);
        p.observe(
            &[moved(1, State::Active, State::Resolved, 2 * M)],
            2 * M,
            &NoGroups,
        );
        p.observe(
            &[moved(1, State::Resolved, State::Active, 3 * M)],
            3 * M,
            &NoGroups,
        );
        let keys: Vec<String> = p
            .writes
            .iter()
            .filter_map(|w| match w {
                AlertChange::Escalation(EscalationChange::Page { page, .. }) => {
                    Some(page.key.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            keys,
            [format!("{}.1.0.0", 3 * M)],
            "a new escalation, a new key"
        );
    }

    #[test]
    fn what_comes_due_at_once_is_paged_in_bounded_batches() {
        let mut p = pager();
        let n = MAX_DUE_PER_COMMIT + 10;
        let alerts: Vec<CoreChange> = (1..=n as i64)
            .map(|id| created(&labelled(id, "Disk", "critical", 0, &[("team", "db")])))
            .collect();
        p.observe(&alerts, 0, &NoGroups);
        paged(&mut p);
        p.advance(10 * M);
        assert_eq!(paged(&mut p).len(), MAX_DUE_PER_COMMIT);
        assert!(p.due(10 * M));
        assert_eq!(p.next_deadline(), Some(5 * M), "the rest is due at once");
        p.advance(10 * M);
        assert_eq!(paged(&mut p).len(), 10);
        assert_eq!(p.next_deadline(), None);
        assert!(!p.due(10 * M));
    }

    /// The subjects of the pages written (with their level), and clears the writes.
    fn page_subjects(p: &mut Pager) -> Vec<(String, i64)> {
        let out = (p.writes.iter())
            .filter_map(|w| match w {
                AlertChange::Escalation(EscalationChange::Page { page, .. }) => {
                    Some((page.subject.clone(), page.level))
                }
                _ => None,
            })
            .collect();
        p.writes.clear();
        out
    }

    fn db(id: i64) -> StoredAlert {
        labelled(id, &format!("Disk{id}"), "critical", 0, &[("team", "db")])
    }

    #[test]
    fn an_incident_of_two_alerts_pages_once_per_level() {
        // Both fire in one batch: the incident's escalation starts, the second alert joins it.
        let mut p = pager();
        let mut d = Desk::default();
        d.of.extend([(1, 7), (2, 7)]);
        p.observe(&[created(&db(1)), created(&db(2))], 0, &d);
        assert_eq!(page_subjects(&mut p), [("incident:7".to_owned(), 0)]);
        p.advance(5 * M);
        assert_eq!(page_subjects(&mut p), [("incident:7".to_owned(), 1)]);
        assert!(!p.live.contains_key("alert:1") && !p.live.contains_key("alert:2"));

        // One after the other: the first alert's escalation becomes the incident's, and goes
        // on where it was.
        let mut p = pager();
        let mut d = Desk::default();
        d.of.insert(1, 7);
        p.observe(&[created(&db(1))], 0, &d);
        assert_eq!(page_subjects(&mut p), [("alert:1".to_owned(), 0)]);
        d.of.insert(2, 7);
        p.observe(&[created(&db(2))], M, &d);
        let ended: Vec<(String, bool)> = (p.writes.iter())
            .filter_map(|w| match w {
                AlertChange::Escalation(EscalationChange::Put(r)) => {
                    Some((r.subject.clone(), r.ended))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            ended,
            [
                ("alert:1".to_owned(), true),
                ("incident:7".to_owned(), false)
            ]
        );
        assert!(
            page_subjects(&mut p).is_empty(),
            "level 1 is not paged again"
        );
        d.of.insert(3, 7);
        p.observe(&[created(&db(3))], 2 * M, &d);
        assert!(page_subjects(&mut p).is_empty());
        p.advance(5 * M);
        let rows = paged_rows(&mut p);
        assert_eq!(rows.len(), 1, "{rows:?}");
        let n: Notification = serde_json::from_str(&rows[0]).unwrap();
        assert_eq!(n.escalation.as_ref().and_then(|e| e.incident), Some(7));
        let notice = n.notice.unwrap_or_default();
        assert!(notice.starts_with("incident 7 (3 alerts"), "{notice}");
    }

    /// The payloads of the outbox rows of the pages written, and clears the writes.
    fn paged_rows(p: &mut Pager) -> Vec<String> {
        let out = (p.writes.iter())
            .filter_map(|w| match w {
                AlertChange::Escalation(EscalationChange::Page { notifications, .. }) => {
                    Some(notifications.iter().map(|n| n.payload.clone()))
                }
                _ => None,
            })
            .flatten()
            .collect();
        p.writes.clear();
        out
    }

    #[test]
    fn acknowledging_every_open_alert_of_an_incident_stops_it_and_resolving_ends_it() {
        let mut p = pager();
        let mut d = Desk::default();
        d.of.extend([(1, 7), (2, 7)]);
        p.observe(&[created(&db(1)), created(&db(2))], 0, &d);
        page_subjects(&mut p);
        p.observe(&[moved(1, State::Active, State::Acknowledged, M)], M, &d);
        assert_eq!(
            p.next_deadline(),
            Some(5 * M),
            "alert 2 is not acknowledged"
        );
        p.observe(&[moved(2, State::Active, State::Acknowledged, M)], M, &d);
        assert_eq!(p.next_deadline(), None, "every open alert acknowledged");
        p.advance(100 * M);
        assert!(page_subjects(&mut p).is_empty());
        // Back to firing: it goes on.
        p.observe(
            &[moved(2, State::Acknowledged, State::Active, 101 * M)],
            101 * M,
            &d,
        );
        assert_eq!(p.next_deadline(), Some(106 * M));
        // An acknowledged alert resolves; the last open one is acknowledged: it stops.
        d.ended.insert(1);
        p.observe(
            &[moved(1, State::Acknowledged, State::Resolved, 102 * M)],
            102 * M,
            &d,
        );
        p.observe(
            &[moved(2, State::Active, State::Acknowledged, 102 * M)],
            102 * M,
            &d,
        );
        assert_eq!(p.next_deadline(), None);
        d.ended.insert(2);
        p.observe(
            &[moved(2, State::Acknowledged, State::Resolved, 103 * M)],
            103 * M,
            &d,
        );
        assert!(
            !p.live.contains_key("incident:7"),
            "no open alert: it ended"
        );
    }

    #[test]
    fn merging_two_escalating_incidents_keeps_the_older_escalation() {
        for (from, into) in [(8, 7), (7, 8)] {
            let mut p = pager();
            let mut d = Desk::default();
            d.of.extend([(1, 7), (2, 7)]);
            p.observe(&[created(&db(1)), created(&db(2))], 0, &d);
            d.of.extend([(3, 8), (4, 8)]);
            p.observe(&[created(&db(3)), created(&db(4))], M, &d);
            assert_eq!(
                page_subjects(&mut p),
                [("incident:7".to_owned(), 0), ("incident:8".to_owned(), 0)]
            );
            for a in 1..=4 {
                d.of.insert(a, into);
            }
            p.regroup(into, &[from], 2 * M, &d);
            assert!(!p.live.contains_key(&format!("incident:{from}")));
            assert_eq!(
                p.live[&format!("incident:{into}")].started_at,
                0,
                "the older"
            );
            assert_eq!(p.live[&format!("incident:{into}")].alerts, 4);
            p.advance(10 * M);
            assert_eq!(
                page_subjects(&mut p),
                [(format!("incident:{into}"), 1)],
                "one level 2, at 5m"
            );
        }
    }

    #[test]
    fn escalating_an_incident_by_hand_moves_its_one_escalation() {
        let mut p = pager();
        let mut d = Desk::default();
        d.of.extend([(1, 7), (2, 7)]);
        p.observe(&[created(&db(1)), created(&db(2))], 0, &d);
        page_subjects(&mut p);
        let moved = p.escalate(7, &[1, 2], "ann", M).unwrap();
        assert_eq!(moved, [(1, 2, vec!["receiver:ops".to_owned()])]);
        assert_eq!(page_subjects(&mut p), [("incident:7".to_owned(), 1)]);
        assert_eq!(
            p.escalate(7, &[1, 2], "ann", M),
            Err(EscalateError::Refused(EscalateRefusal::Exhausted))
        );
    }
}
