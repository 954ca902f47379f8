//! The incident desk: the correlator (`klaxon_engine::correlate::Correlator`) and the
//! incidents that are not closed, owned by the lifecycle manager's task. It reads the core's
//! committed-to-be changes of a batch (alerts that fire, alerts that resolve) with the alerts'
//! own times, turns the correlator's decisions and people's actions on incidents into
//! incident writes for the same commit, and rebuilds itself from the store at start. It
//! changes no alert itself: actions on an incident's alerts are the manager's, through the
//! lifecycle core.

use std::collections::{BTreeSet, HashMap};

use klaxon_engine::correlate::{Correlator, Decision, Event, Firing, IncidentState, Link};
use klaxon_engine::lifecycle::{AlertRecord, Change as CoreChange, Detail as CoreDetail, State};
use klaxon_engine::Severity;
use klaxon_store::{IncidentChange, IncidentRecord, Member, StoredAlert};
use serde_json::{json, Value};

/// Who the correlator's own changes are recorded as.
const CORRELATOR: &str = "correlator";
/// Who notifications on a timeline are recorded as.
const NOTIFIER: &str = "klaxon";

/// An incident that is not closed.
#[derive(Debug)]
struct Held {
    rec: IncidentRecord,
    members: BTreeSet<i64>,
}

/// What the desk knows of an alert of a held incident.
#[derive(Debug)]
struct Facts {
    incident: i64,
    severity: String,
    open: bool,
    ends_at: Option<i64>,
    link: Option<Value>,
}

/// Why an action on an incident was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IncidentRefusal {
    NotFound(String),
    Conflict(String),
    Unavailable,
}

pub(crate) struct Desk {
    /// `None` when correlation is off: incidents are then made by hand only.
    correlator: Option<Correlator>,
    held: HashMap<i64, Held>,
    alerts: HashMap<i64, Facts>,
    /// Pending alerts, until they fire (or end).
    pending: HashMap<i64, std::sync::Arc<AlertRecord>>,
    next_id: i64,
    decisions: Vec<Decision>,
    /// Incident writes of the batch, committed with its alert changes.
    pub(crate) writes: Vec<IncidentChange>,
}

impl Desk {
    pub(crate) fn new(correlator: Option<Correlator>) -> Desk {
        Desk {
            correlator,
            held: HashMap::new(),
            alerts: HashMap::new(),
            pending: HashMap::new(),
            next_id: 0,
            decisions: Vec::new(),
            writes: Vec::new(),
        }
    }

    /// Rebuilds the incidents that are not closed, and the correlator's open incidents from
    /// their alerts in start order, so that a restart does not split an incident. `alert`
    /// gives a member's stored alert (`None`: gone).
    pub(crate) fn restore(
        &mut self,
        max_id: i64,
        open: Vec<(IncidentRecord, Vec<Member>)>,
        alerts: &HashMap<i64, StoredAlert>,
    ) {
        self.next_id = max_id;
        let mut placed: Vec<(&StoredAlert, i64)> = Vec::new();
        for (rec, members) in open {
            let id = rec.id;
            let mut held = Held {
                rec,
                members: BTreeSet::new(),
            };
            for m in members {
                let Some(a) = alerts.get(&m.alert_id) else {
                    continue;
                };
                held.members.insert(a.id);
                let open = !matches!(a.state, State::Resolved | State::Closed);
                self.alerts.insert(
                    a.id,
                    Facts {
                        incident: id,
                        severity: a.severity.clone(),
                        open,
                        ends_at: a.resolved_at,
                        link: m.link,
                    },
                );
                placed.push((a, id));
            }
            self.held.insert(id, held);
        }
        if let Some(c) = &mut self.correlator {
            placed.sort_by_key(|(a, _)| (a.first_seen, a.id));
            for (a, incident) in placed {
                let ends_at = match a.state {
                    State::Resolved | State::Closed => Some(a.resolved_at.unwrap_or(a.last_seen)),
                    _ => None,
                };
                c.place(
                    incident as u64,
                    &Firing {
                        alert: a.id as u64,
                        labels: &a.labels,
                        annotations: &a.annotations,
                        starts_at: a.first_seen,
                        ends_at,
                    },
                );
            }
            c.reserve_ids_up_to(u64::try_from(max_id).unwrap_or(0));
        }
    }

    /// Starts over with a new correlator (a reloaded topology), as a start does: the
    /// incidents that are not closed, as the store has them, are placed in it again. Pending
    /// alerts and the id sequence are kept.
    pub(crate) fn reload(
        &mut self,
        correlator: Correlator,
        max_id: i64,
        open: Vec<(IncidentRecord, Vec<Member>)>,
        alerts: &HashMap<i64, StoredAlert>,
    ) {
        let mut fresh = Desk::new(Some(correlator));
        fresh.restore(max_id.max(self.next_id), open, alerts);
        fresh.pending = std::mem::take(&mut self.pending);
        fresh.writes = std::mem::take(&mut self.writes);
        *self = fresh;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Reads a batch of the core's changes: alerts that fire go to the correlator, and so do
    /// alerts that end (at their own end when the sender gave one).
    pub(crate) fn observe(&mut self, changes: &[CoreChange], now: i64) {
        for c in changes {
            match &c.detail {
                CoreDetail::Created(rec) => match rec.state {
                    State::Pending => {
                        self.pending.insert(rec.id, std::sync::Arc::clone(rec));
                    }
                    State::Active | State::Acknowledged | State::Suppressed => {
                        self.fire(rec, now);
                    }
                    State::Resolved | State::Closed => {}
                },
                CoreDetail::Occurrence { ends_at, .. } => {
                    if let Some(f) = self.alerts.get_mut(&c.alert_id) {
                        f.ends_at = *ends_at;
                    }
                }
                CoreDetail::Transition(t) => {
                    let ended = matches!(t.to, State::Resolved | State::Closed);
                    if t.from == State::Pending {
                        if let Some(rec) = self.pending.remove(&t.id) {
                            if !ended {
                                self.fire(&rec, now);
                            }
                        }
                    }
                    if ended && t.from != State::Resolved {
                        self.ended(t.id, t.at, now);
                    }
                }
                _ => {}
            }
        }
    }

    /// The sender of an alert gave its end.
    pub(crate) fn ends_at(&mut self, alert: i64, end: i64) {
        if let Some(f) = self.alerts.get_mut(&alert) {
            f.ends_at = Some(end);
        }
    }

    fn fire(&mut self, rec: &AlertRecord, now: i64) {
        let Some(c) = &mut self.correlator else {
            return;
        };
        self.alerts.insert(
            rec.id,
            Facts {
                incident: 0,
                severity: rec.severity.clone(),
                open: true,
                ends_at: rec.ends_at,
                link: None,
            },
        );
        c.observe(
            &Event::Firing(Firing {
                alert: rec.id as u64,
                labels: &rec.labels,
                annotations: &rec.annotations,
                starts_at: rec.first_seen,
                ends_at: None,
            }),
            &mut self.decisions,
        );
        self.decide(now);
        // An alert no incident took (a recurring firing) is not the desk's.
        if self.alerts.get(&rec.id).is_some_and(|f| f.incident == 0) {
            self.alerts.remove(&rec.id);
        }
    }

    fn ended(&mut self, alert: i64, at: i64, now: i64) {
        self.pending.remove(&alert);
        let Some(f) = self.alerts.get_mut(&alert) else {
            return;
        };
        if !f.open {
            return;
        }
        f.open = false;
        let incident = f.incident;
        // The sender's own end when it gave one that has passed: the alerts' own times.
        let at = f.ends_at.filter(|e| *e <= at).unwrap_or(at);
        self.reprioritise(incident, now);
        if let Some(c) = &mut self.correlator {
            c.observe(
                &Event::Resolved {
                    alert: alert as u64,
                    at,
                },
                &mut self.decisions,
            );
            self.decide(now);
        }
    }

    /// Turns the correlator's decisions into incident writes.
    fn decide(&mut self, now: i64) {
        let mut decisions = std::mem::take(&mut self.decisions);
        for d in decisions.drain(..) {
            match d {
                Decision::Opened {
                    incident,
                    alert,
                    title,
                } => {
                    let (id, alert) = (incident as i64, alert as i64);
                    self.next_id = self.next_id.max(id);
                    let Some(f) = self.alerts.get_mut(&alert) else {
                        continue;
                    };
                    f.incident = id;
                    let rec = IncidentRecord {
                        id,
                        title: title.clone(),
                        priority: f.severity.clone(),
                        state: IncidentState::Open,
                        owner: None,
                        opened_at: now,
                        updated_at: now,
                        resolved_at: None,
                        confidence: None,
                        priority_by: None,
                    };
                    self.held.insert(
                        id,
                        Held {
                            rec: rec.clone(),
                            members: BTreeSet::from([alert]),
                        },
                    );
                    self.writes.push(IncidentChange::Put(rec));
                    self.member(alert, Some(id), now, None);
                    self.timeline(
                        id,
                        now,
                        CORRELATOR,
                        "opened",
                        json!({"alert": alert, "title": title}),
                    );
                }
                Decision::Joined {
                    incident,
                    reopened,
                    link,
                } => {
                    let (id, alert) = (incident as i64, link.alert as i64);
                    let evidence = link_json(&link);
                    let Some(f) = self.alerts.get_mut(&alert) else {
                        continue;
                    };
                    f.incident = id;
                    f.link = Some(evidence.clone());
                    let severity = f.severity.clone();
                    let Some(h) = self.held.get_mut(&id) else {
                        continue;
                    };
                    h.members.insert(alert);
                    if h.rec.priority_by.is_none() {
                        h.rec.priority = higher(&h.rec.priority, &severity);
                    }
                    h.rec.confidence = Some(
                        h.rec
                            .confidence
                            .map_or(link.confidence, |c| c.min(link.confidence)),
                    );
                    h.rec.updated_at = now;
                    let was = h.rec.state;
                    if reopened || was == IncidentState::Resolved {
                        h.rec.state = IncidentState::Reopened;
                        h.rec.resolved_at = None;
                    }
                    let rec = h.rec.clone();
                    self.writes.push(IncidentChange::Put(rec.clone()));
                    self.member(alert, Some(id), now, Some(evidence.clone()));
                    self.timeline(id, now, CORRELATOR, "joined", evidence);
                    if rec.state != was {
                        self.state_entry(id, now, CORRELATOR, was, rec.state, "an alert joined");
                    }
                }
                Decision::Merged { from, into, link } => {
                    let evidence = link_json(&link);
                    self.move_all(from as i64, into as i64, now, CORRELATOR, Some(evidence));
                }
                Decision::Recurring {
                    alert,
                    moved_from: Some(from),
                    ..
                } => {
                    let alert = alert as i64;
                    self.alerts.remove(&alert);
                    self.leave(from as i64, alert, now, CORRELATOR, "recurring");
                }
                Decision::Resolved { incident, at } => {
                    let id = incident as i64;
                    self.set_state(
                        id,
                        IncidentState::Resolved,
                        now,
                        CORRELATOR,
                        Some(at),
                        "its alerts resolved",
                    );
                }
                Decision::Closed { incident } => {
                    let id = incident as i64;
                    if self
                        .held
                        .get(&id)
                        .is_some_and(|h| h.rec.state == IncidentState::Resolved)
                    {
                        self.set_state(
                            id,
                            IncidentState::Closed,
                            now,
                            CORRELATOR,
                            None,
                            "reopen window passed",
                        );
                    }
                }
                Decision::Recurring { .. }
                | Decision::RecurringEnded { .. }
                | Decision::Ignored { .. } => {}
            }
        }
        self.decisions = decisions;
    }

    fn member(&mut self, alert: i64, incident: Option<i64>, at: i64, link: Option<Value>) {
        self.writes.push(IncidentChange::Member {
            alert_id: alert,
            incident_id: incident,
            at,
            link,
        });
    }

    fn timeline(&mut self, incident: i64, at: i64, actor: &str, kind: &str, detail: Value) {
        self.writes.push(IncidentChange::Timeline {
            incident_id: incident,
            at,
            actor: actor.to_owned(),
            kind: kind.to_owned(),
            detail,
        });
    }

    fn state_entry(
        &mut self,
        id: i64,
        at: i64,
        actor: &str,
        from: IncidentState,
        to: IncidentState,
        why: &str,
    ) {
        self.timeline(
            id,
            at,
            actor,
            "state",
            json!({"from": from.as_str(), "to": to.as_str(), "reason": why}),
        );
    }

    /// Moves a held incident to `to` with a timeline entry; a closed one is no longer held.
    fn set_state(
        &mut self,
        id: i64,
        to: IncidentState,
        now: i64,
        actor: &str,
        resolved_at: Option<i64>,
        why: &str,
    ) {
        let Some(h) = self.held.get_mut(&id) else {
            return;
        };
        let from = h.rec.state;
        if from == to {
            return;
        }
        h.rec.state = to;
        h.rec.updated_at = now;
        match to {
            IncidentState::Resolved => h.rec.resolved_at = Some(resolved_at.unwrap_or(now)),
            IncidentState::Closed => {}
            _ => h.rec.resolved_at = None,
        }
        let rec = h.rec.clone();
        self.writes.push(IncidentChange::Put(rec));
        self.state_entry(id, now, actor, from, to, why);
        if to == IncidentState::Closed {
            if let Some(h) = self.held.remove(&id) {
                for a in h.members {
                    self.alerts.remove(&a);
                }
            }
        }
    }

    /// An alert leaves a held incident; an incident left empty closes.
    fn leave(&mut self, id: i64, alert: i64, now: i64, actor: &str, why: &str) {
        self.member(alert, None, now, None);
        let Some(h) = self.held.get_mut(&id) else {
            return;
        };
        h.members.remove(&alert);
        let empty = h.members.is_empty();
        self.timeline(
            id,
            now,
            actor,
            "left",
            json!({"alert": alert, "reason": why}),
        );
        if empty {
            self.set_state(
                id,
                IncidentState::Closed,
                now,
                actor,
                None,
                "no alerts left",
            );
        }
    }

    /// Moves every alert of `from` into `into`; `from` closes.
    fn move_all(&mut self, from: i64, into: i64, now: i64, actor: &str, link: Option<Value>) {
        let Some(f) = self.held.remove(&from) else {
            return;
        };
        let moved: Vec<i64> = f.members.iter().copied().collect();
        for &a in &moved {
            let kept = self.alerts.get_mut(&a).map(|x| {
                x.incident = into;
                x.link.clone()
            });
            self.member(a, Some(into), now, kept.flatten());
        }
        if let Some(h) = self.held.get_mut(&into) {
            h.members.extend(moved.iter().copied());
            h.rec.updated_at = now;
            if f.rec.state.is_active() && h.rec.state == IncidentState::Resolved {
                h.rec.state = IncidentState::Reopened;
                h.rec.resolved_at = None;
            }
            let rec = h.rec.clone();
            self.writes.push(IncidentChange::Put(rec));
        }
        let mut closed = f.rec;
        let was = closed.state;
        closed.state = IncidentState::Closed;
        closed.updated_at = now;
        self.writes.push(IncidentChange::Put(closed));
        self.timeline(
            from,
            now,
            actor,
            "merged",
            json!({"into": into, "alerts": moved}),
        );
        self.state_entry(from, now, actor, was, IncidentState::Closed, "merged");
        self.reprioritise(into, now);
        self.timeline(
            into,
            now,
            actor,
            "merged",
            json!({"from": from, "alerts": moved, "link": link}),
        );
    }

    /// The open alerts of a held incident (`Err` when it is not held: closed or unknown).
    pub(crate) fn open_alerts(&self, id: i64) -> Option<Vec<i64>> {
        let h = self.held.get(&id)?;
        Some(
            h.members
                .iter()
                .copied()
                .filter(|a| self.alerts.get(a).is_none_or(|f| f.open))
                .collect(),
        )
    }

    pub(crate) fn holds(&self, id: i64) -> bool {
        self.held.contains_key(&id)
    }

    /// Someone acknowledged the incident (its alerts are the manager's to acknowledge).
    pub(crate) fn acknowledge(&mut self, id: i64, actor: &str, now: i64) {
        if let Some(h) = self.held.get_mut(&id) {
            if h.rec.owner.is_none() {
                h.rec.owner = Some(actor.to_owned());
            }
        }
        let state = self.held.get(&id).map(|h| h.rec.state);
        if state.is_some_and(IncidentState::is_active) {
            self.set_state(
                id,
                IncidentState::Investigating,
                now,
                actor,
                None,
                "acknowledged",
            );
        } else if let Some(h) = self.held.get(&id) {
            // Already resolved or investigating: the owner may still be new.
            let rec = h.rec.clone();
            self.writes.push(IncidentChange::Put(rec));
        }
    }

    /// Someone resolved the incident (its alerts are the manager's to resolve).
    pub(crate) fn resolve(&mut self, id: i64, actor: &str, now: i64) {
        self.set_state(
            id,
            IncidentState::Resolved,
            now,
            actor,
            Some(now),
            "resolved by hand",
        );
    }

    /// Someone set the priority by hand (`None`: it follows the open alerts again).
    pub(crate) fn set_priority(
        &mut self,
        id: i64,
        priority: Option<String>,
        actor: &str,
        now: i64,
    ) {
        let Some(h) = self.held.get_mut(&id) else {
            return;
        };
        let from = h.rec.priority.clone();
        h.rec.priority_by = priority.as_ref().map(|_| actor.to_owned());
        if let Some(p) = &priority {
            h.rec.priority.clone_from(p);
        }
        h.rec.updated_at = now;
        let rec = h.rec.clone();
        self.writes.push(IncidentChange::Put(rec));
        self.reprioritise(id, now);
        let to = self.held.get(&id).map(|h| h.rec.priority.clone());
        self.timeline(
            id,
            now,
            actor,
            "priority",
            json!({"from": from, "to": to, "by_hand": priority.is_some()}),
        );
    }

    /// A notification about the alerts of held incident `id` was made: on its timeline.
    pub(crate) fn notified(&mut self, id: i64, detail: Value, now: i64) {
        if self.held.contains_key(&id) {
            self.timeline(id, now, NOTIFIER, "notified", detail);
        }
    }

    pub(crate) fn note(&mut self, id: i64, actor: &str, text: &str, now: i64) {
        if let Some(h) = self.held.get_mut(&id) {
            h.rec.updated_at = now;
            let rec = h.rec.clone();
            self.writes.push(IncidentChange::Put(rec));
        }
        self.timeline(id, now, actor, "note", json!({"text": text}));
    }

    /// Someone escalated the incident by hand: what each of its alerts paged.
    pub(crate) fn escalated(
        &mut self,
        id: i64,
        actor: &str,
        pages: &[(i64, usize, Vec<String>)],
        now: i64,
    ) {
        if let Some(h) = self.held.get_mut(&id) {
            h.rec.updated_at = now;
            let rec = h.rec.clone();
            self.writes.push(IncidentChange::Put(rec));
        }
        let pages: Vec<Value> = pages
            .iter()
            .map(|(alert, level, notify)| json!({"alert": alert, "level": level, "notify": notify}))
            .collect();
        self.timeline(id, now, actor, "escalated", json!({"pages": pages}));
    }

    /// Merges held incident `from` into held incident `into`.
    pub(crate) fn merge(&mut self, from: i64, into: i64, actor: &str, now: i64) {
        if let Some(c) = &mut self.correlator {
            c.merge(from as u64, into as u64);
        }
        self.move_all(from, into, now, actor, None);
    }

    /// A new incident made by hand with these alerts (moved out of the incidents they were
    /// in); returns its id.
    pub(crate) fn create(
        &mut self,
        alerts: &[StoredAlert],
        title: Option<&str>,
        actor: &str,
        now: i64,
    ) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(c) = &mut self.correlator {
            c.reserve_ids_up_to(id as u64);
        }
        let title = title.map_or_else(
            || {
                alerts
                    .first()
                    .map_or_else(|| "incident".to_owned(), |a| a.name.clone())
            },
            str::to_owned,
        );
        let priority = alerts
            .iter()
            .map(|a| a.severity.as_str())
            .fold(String::new(), |p, s| higher(&p, s));
        let rec = IncidentRecord {
            id,
            title: title.clone(),
            priority,
            state: IncidentState::Open,
            owner: None,
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            confidence: None,
            priority_by: None,
        };
        self.held.insert(
            id,
            Held {
                rec: rec.clone(),
                members: BTreeSet::new(),
            },
        );
        self.writes.push(IncidentChange::Put(rec));
        self.timeline(
            id,
            now,
            actor,
            "created",
            json!({"title": title, "alerts": alerts.iter().map(|a| a.id).collect::<Vec<_>>()}),
        );
        for a in alerts {
            self.put_in(id, a, actor, now);
        }
        id
    }

    /// A new incident made by hand of alerts of held incident `from`; returns its id.
    pub(crate) fn split(
        &mut self,
        from: i64,
        alerts: &[StoredAlert],
        title: Option<&str>,
        actor: &str,
        now: i64,
    ) -> i64 {
        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
        let into = self.create(alerts, title, actor, now);
        self.timeline(
            from,
            now,
            actor,
            "split",
            json!({"into": into, "alerts": ids}),
        );
        self.reprioritise(from, now);
        into
    }

    /// Moves alerts of held incident `from` into held incident `to` by hand.
    pub(crate) fn move_to(
        &mut self,
        from: i64,
        alerts: &[StoredAlert],
        to: i64,
        actor: &str,
        now: i64,
    ) {
        let ids: Vec<i64> = alerts.iter().map(|a| a.id).collect();
        self.timeline(from, now, actor, "moved", json!({"to": to, "alerts": ids}));
        for a in alerts {
            self.put_in(to, a, actor, now);
        }
        self.reprioritise(from, now);
        self.reprioritise(to, now);
    }

    /// Sets a held incident's priority to the highest severity of its open alerts (after
    /// alerts left, came or resolved), unless it was set by hand; without open alerts it
    /// stays.
    fn reprioritise(&mut self, id: i64, now: i64) {
        let Some(h) = self.held.get(&id) else {
            return;
        };
        if h.rec.priority_by.is_some() {
            return;
        }
        let p = h
            .members
            .iter()
            .filter_map(|a| self.alerts.get(a))
            .filter(|f| f.open)
            .fold(String::new(), |p, f| higher(&p, &f.severity));
        if p.is_empty() || p == h.rec.priority {
            return;
        }
        if let Some(h) = self.held.get_mut(&id) {
            h.rec.priority = p;
            h.rec.updated_at = now;
            let rec = h.rec.clone();
            self.writes.push(IncidentChange::Put(rec));
        }
    }

    /// Puts a stored alert into held incident `id` by hand.
    fn put_in(&mut self, id: i64, a: &StoredAlert, actor: &str, now: i64) {
        if let Some(old) = self.alerts.get(&a.id).map(|f| f.incident) {
            if old != id {
                self.leave(old, a.id, now, actor, "moved");
            }
        }
        let open = !matches!(a.state, State::Resolved | State::Closed);
        self.alerts.insert(
            a.id,
            Facts {
                incident: id,
                severity: a.severity.clone(),
                open,
                ends_at: a.resolved_at,
                link: None,
            },
        );
        if let Some(h) = self.held.get_mut(&id) {
            h.members.insert(a.id);
        }
        if let Some(c) = &mut self.correlator {
            let emptied = c.place(
                id as u64,
                &Firing {
                    alert: a.id as u64,
                    labels: &a.labels,
                    annotations: &a.annotations,
                    starts_at: a.first_seen,
                    ends_at: (!open).then(|| a.resolved_at.unwrap_or(a.last_seen)),
                },
            );
            let _ = emptied; // the desk closed it on `leave` already
        }
        self.member(a.id, Some(id), now, None);
        self.timeline(
            id,
            now,
            actor,
            "joined",
            json!({"alert": a.id, "by": "hand"}),
        );
    }

    /// The incident an alert is in, if the desk holds it.
    pub(crate) fn incident_of(&self, alert: i64) -> Option<i64> {
        self.alerts.get(&alert).map(|f| f.incident)
    }

    /// Correlates stored alerts that are in no incident now, as if they had just fired.
    pub(crate) fn correlate(&mut self, alerts: &[StoredAlert], now: i64) {
        for a in alerts {
            if self.alerts.contains_key(&a.id) {
                continue;
            }
            let open = !matches!(a.state, State::Resolved | State::Closed);
            self.fire(a, now);
            if !open {
                self.ended(a.id, a.resolved_at.unwrap_or(now), now);
            }
        }
    }
}

/// The higher of two severities (an unknown one ranks lowest; empty is none).
fn higher(a: &str, b: &str) -> String {
    let rank =
        |s: &str| Severity::parse(s).map_or(usize::MAX - usize::from(s.is_empty()), |x| x as usize);
    if rank(b) < rank(a) {
        b.to_owned()
    } else {
        a.to_owned()
    }
}

/// A link and its evidence as JSON (the shape `klaxon correlate` prints).
fn link_json(l: &Link) -> Value {
    l.json(|id| json!(id))
}

impl super::escalate::Groups for Desk {
    fn incident_of(&self, alert: i64) -> Option<i64> {
        Desk::incident_of(self, alert)
    }

    fn open_alerts(&self, incident: i64) -> Vec<i64> {
        Desk::open_alerts(self, incident).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::higher;

    #[test]
    fn priority_is_the_highest_severity() {
        assert_eq!(higher("high", "critical"), "critical");
        assert_eq!(higher("critical", "low"), "critical");
        assert_eq!(higher("", "low"), "low");
        assert_eq!(higher("warning", "nonsense"), "warning");
    }
}
