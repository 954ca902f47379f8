//! Grouping: aggregation groups as in Alertmanager, plus klaxon's acknowledged kind. Pure: time
//! is an argument, results go into a buffer the caller owns, one deadline set serves every
//! group.
//!
//! A group is (target, group labels). Its first notification waits `group_wait` from its first
//! alert; later news waits until `group_interval` after the previous notification; a group that
//! is still firing and has told nothing new repeats its firing notification every
//! `repeat_interval`. At each flush a group emits at most one notification of each kind:
//! firing (every alert of the group that is firing, when one of them is new or a repeat is
//! due), acknowledged (the alerts acknowledged since the last flush), resolved (the alerts
//! resolved since the last flush that were notified before; an alert resolved before anyone
//! was told is dropped silently). An alert acknowledged before anyone was told it fired is in
//! both the firing and the acknowledged notification. Acknowledged alerts do not repeat.
//!
//! A flush at an instant the target's route is muted (its `mute_time_intervals`, or outside
//! its `active_time_intervals`) tells nothing, as in Alertmanager: firing and acknowledged
//! news waits for the next flush, `group_interval` later, that is not muted; alerts resolved
//! meanwhile leave the group untold.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use crate::notification::{AlertView, Kind, Notification};
use crate::route::Target;

struct Member {
    alert: Arc<AlertView>,
    /// The kind last notified for this alert in this group.
    notified: Option<Kind>,
}

struct Group {
    key: String,
    target: Target,
    labels: BTreeMap<String, String>,
    members: BTreeMap<i64, Member>,
    /// When the first alert with something to tell joined.
    started: Option<i64>,
    last_flush: Option<i64>,
    last_firing: Option<i64>,
    /// The deadline waiting in the heap for this group.
    next: Option<i64>,
    /// When the last flush found the route muted (cleared by a flush that was not).
    muted_at: Option<i64>,
}

impl Group {
    fn has_news(&self) -> bool {
        self.members.values().any(|m| news(m).is_some())
    }

    fn firing(&self) -> bool {
        self.members
            .values()
            .any(|m| m.alert.wanted() == Some(Kind::Firing))
    }

    /// When the group should flush next, if ever: never sooner than `group_interval` after a
    /// muted flush, or, with a `group_interval` of 0, than the next minute (time intervals
    /// change on whole minutes).
    fn due(&self) -> Option<i64> {
        let due = self.due_unmuted()?;
        Some(match self.muted_at {
            Some(m) if self.target.timing.group_interval > 0 => {
                due.max(m + self.target.timing.group_interval)
            }
            Some(m) => due.max((m.div_euclid(60_000) + 1) * 60_000),
            None => due,
        })
    }

    fn due_unmuted(&self) -> Option<i64> {
        if self.has_news() {
            return Some(match self.last_flush {
                None => self.started.unwrap_or(0) + self.target.timing.group_wait,
                Some(last) => last + self.target.timing.group_interval,
            });
        }
        if self.firing() {
            return self
                .last_firing
                .map(|t| t + self.target.timing.repeat_interval);
        }
        None
    }
}

/// What a member has to tell, if anything.
fn news(m: &Member) -> Option<Kind> {
    let wanted = m.alert.wanted()?;
    match (wanted, m.notified) {
        (w, Some(n)) if w == n => None,
        // Nobody was told it fired: its resolution tells nothing.
        (Kind::Resolved, None) => None,
        (w, _) => Some(w),
    }
}

/// One group an alert is in, as [`Grouper::groups_of`] describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub key: String,
    pub receiver: String,
    /// Alerts in the group.
    pub size: usize,
    /// What the group last told of this alert.
    pub notified: Option<Kind>,
    /// When the group flushes next.
    pub next: Option<i64>,
}

/// Every group of every target.
#[derive(Default)]
pub struct Grouper {
    groups: HashMap<u64, Group>,
    by_key: HashMap<String, u64>,
    /// The groups each alert is in.
    by_alert: HashMap<i64, Vec<u64>>,
    deadlines: BinaryHeap<Reverse<(i64, u64)>>,
    next_id: u64,
}

impl Grouper {
    pub fn new() -> Grouper {
        Grouper::default()
    }

    /// Groups alive.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether `alert_id` is in some group already (its targets need not be computed again).
    pub fn knows(&self, alert_id: i64) -> bool {
        self.by_alert.contains_key(&alert_id)
    }

    /// The groups `alert_id` is in.
    pub fn groups_of(&self, alert_id: i64) -> Vec<GroupInfo> {
        self.by_alert
            .get(&alert_id)
            .into_iter()
            .flatten()
            .filter_map(|gid| self.groups.get(gid))
            .map(|g| GroupInfo {
                key: g.key.clone(),
                receiver: g.target.receiver.to_string(),
                size: g.members.len(),
                notified: g.members.get(&alert_id).and_then(|m| m.notified),
                next: g.next,
            })
            .collect()
    }

    /// The alert's new state: updates it in the groups it is in.
    pub fn update(&mut self, now: i64, alert: Arc<AlertView>) {
        let Some(ids) = self.by_alert.get(&alert.id).cloned() else {
            return;
        };
        for gid in ids {
            if let Some(g) = self.groups.get_mut(&gid) {
                if let Some(m) = g.members.get_mut(&alert.id) {
                    m.alert = Arc::clone(&alert);
                }
            }
            self.touch(gid, now);
        }
    }

    /// Puts an alert into the group of each target. `notified` gives, per group key, what was
    /// already told of it and when (from the outbox after a restart).
    pub fn insert(
        &mut self,
        now: i64,
        alert: Arc<AlertView>,
        targets: &[Target],
        notified: &dyn Fn(&str) -> Option<(Kind, i64)>,
    ) {
        for t in targets {
            let (key, labels) = t.group_key_of(&alert);
            let gid = match self.by_key.get(&key) {
                Some(&g) => g,
                None => {
                    let g = self.next_id;
                    self.next_id += 1;
                    self.by_key.insert(key.clone(), g);
                    self.groups.insert(
                        g,
                        Group {
                            key: key.clone(),
                            target: t.clone(),
                            labels,
                            members: BTreeMap::new(),
                            started: None,
                            last_flush: None,
                            last_firing: None,
                            next: None,
                            muted_at: None,
                        },
                    );
                    g
                }
            };
            let before = notified(&key);
            let Some(g) = self.groups.get_mut(&gid) else {
                continue;
            };
            if let Some((kind, at)) = before {
                g.last_flush = Some(g.last_flush.map_or(at, |l| l.max(at)));
                if kind == Kind::Firing {
                    g.last_firing = Some(g.last_firing.map_or(at, |l| l.max(at)));
                }
            }
            g.members.insert(
                alert.id,
                Member {
                    alert: Arc::clone(&alert),
                    notified: before.map(|(k, _)| k),
                },
            );
            let ids = self.by_alert.entry(alert.id).or_default();
            if !ids.contains(&gid) {
                ids.push(gid);
            }
            self.touch(gid, now);
        }
    }

    /// The alert moved to another incident: it leaves each group whose key it no longer has
    /// (targets grouping by incident) for the group of its new key, as a new member there (the
    /// group it joins tells of it; the group it left says nothing more of it), and is updated
    /// in the groups it stays in.
    pub fn regroup(&mut self, now: i64, alert: Arc<AlertView>) {
        let Some(ids) = self.by_alert.get(&alert.id).cloned() else {
            return;
        };
        let mut moved = Vec::new();
        for gid in ids {
            let Some(g) = self.groups.get_mut(&gid) else {
                continue;
            };
            if g.target.group_key_of(&alert).0 == g.key {
                if let Some(m) = g.members.get_mut(&alert.id) {
                    m.alert = Arc::clone(&alert);
                }
            } else {
                g.members.remove(&alert.id);
                moved.push(g.target.clone());
                if let Some(v) = self.by_alert.get_mut(&alert.id) {
                    v.retain(|x| *x != gid);
                    if v.is_empty() {
                        self.by_alert.remove(&alert.id);
                    }
                }
            }
            self.touch(gid, now);
        }
        if !moved.is_empty() {
            self.insert(now, alert, &moved, &|_| None);
        }
    }

    /// Drops an alert from every group without telling anything (it was closed before anyone
    /// was told, or is gone).
    pub fn forget(&mut self, alert_id: i64) {
        for gid in self.by_alert.remove(&alert_id).unwrap_or_default() {
            if let Some(g) = self.groups.get_mut(&gid) {
                g.members.remove(&alert_id);
                if g.members.is_empty() {
                    self.remove_group(gid);
                }
            }
        }
    }

    fn remove_group(&mut self, gid: u64) {
        if let Some(g) = self.groups.remove(&gid) {
            self.by_key.remove(&g.key);
        }
    }

    /// Recomputes a group's deadline after a change.
    fn touch(&mut self, gid: u64, now: i64) {
        let Some(g) = self.groups.get_mut(&gid) else {
            return;
        };
        if g.started.is_none() && g.has_news() {
            g.started = Some(now);
        }
        // Members with nothing to tell now or later leave.
        let gone: Vec<i64> = g
            .members
            .iter()
            .filter(|(_, m)| m.alert.wanted() == Some(Kind::Resolved) && m.notified.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            g.members.remove(id);
        }
        let empty = g.members.is_empty();
        let due = g.due();
        if !empty && due != g.next {
            g.next = due;
            if let Some(at) = due {
                self.deadlines.push(Reverse((at, gid)));
            }
        }
        for id in gone {
            if let Some(v) = self.by_alert.get_mut(&id) {
                v.retain(|g| *g != gid);
                if v.is_empty() {
                    self.by_alert.remove(&id);
                }
            }
        }
        if empty {
            self.remove_group(gid);
        }
    }

    /// The earliest time a group is due.
    pub fn next_deadline(&mut self) -> Option<i64> {
        while let Some(&Reverse((at, gid))) = self.deadlines.peek() {
            if self.groups.get(&gid).is_some_and(|g| g.next == Some(at)) {
                return Some(at);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Flushes every group due at `now` into `out`.
    pub fn flush_due(&mut self, now: i64, out: &mut Vec<Notification>) {
        while let Some(&Reverse((at, gid))) = self.deadlines.peek() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            let current = self.groups.get(&gid).is_some_and(|g| g.next == Some(at));
            if current {
                self.flush(gid, now, out);
            }
        }
    }

    fn flush(&mut self, gid: u64, now: i64, out: &mut Vec<Notification>) {
        let Some(g) = self.groups.get_mut(&gid) else {
            return;
        };
        g.next = None;
        if g.target.time_mute.muted_at(now).is_some() {
            g.muted_at = Some(now);
            let resolved: Vec<i64> = g
                .members
                .iter()
                .filter(|(_, m)| m.alert.wanted() == Some(Kind::Resolved))
                .map(|(id, _)| *id)
                .collect();
            for id in &resolved {
                g.members.remove(id);
            }
            self.leave(gid, &resolved);
            self.touch(gid, now);
            return;
        }
        g.muted_at = None;
        let mut firing = Vec::new();
        let (mut new_firing, mut acked, mut resolved) = (false, Vec::new(), Vec::new());
        for m in g.members.values() {
            match m.alert.wanted() {
                Some(Kind::Firing) => {
                    new_firing |= m.notified != Some(Kind::Firing);
                    firing.push(m.alert.as_ref().clone());
                }
                _ => match news(m) {
                    Some(Kind::Acknowledged) => {
                        // Acknowledged before anyone was told it fired: tell both.
                        if m.notified.is_none() {
                            new_firing = true;
                            firing.push(m.alert.as_ref().clone());
                        }
                        acked.push(m.alert.as_ref().clone());
                    }
                    Some(Kind::Resolved) => resolved.push(m.alert.as_ref().clone()),
                    _ => {}
                },
            }
        }
        let repeat = !firing.is_empty()
            && g.last_firing
                .is_some_and(|t| now >= t + g.target.timing.repeat_interval);
        let make = |kind, alerts| Notification {
            kind,
            receiver: g.target.receiver.to_string(),
            group_key: g.key.clone(),
            group_labels: g.labels.clone(),
            alerts,
            at: now,
            folded: 0,
            notice: None,
            escalation: None,
        };
        let mut told = false;
        if new_firing || repeat {
            out.push(make(Kind::Firing, firing));
            g.last_firing = Some(now);
            told = true;
        }
        if !acked.is_empty() {
            out.push(make(Kind::Acknowledged, acked));
            told = true;
        }
        if !resolved.is_empty() {
            out.push(make(Kind::Resolved, resolved));
            told = true;
        }
        if told {
            g.last_flush = Some(now);
        }
        let mut done = Vec::new();
        for (id, m) in g.members.iter_mut() {
            match m.alert.wanted() {
                Some(Kind::Resolved) => done.push(*id),
                Some(k) => m.notified = Some(k),
                None => {}
            }
        }
        for id in &done {
            g.members.remove(id);
        }
        self.leave(gid, &done);
        self.touch(gid, now);
    }

    /// `ids` are no longer members of group `gid`.
    fn leave(&mut self, gid: u64, ids: &[i64]) {
        for id in ids {
            if let Some(v) = self.by_alert.get_mut(id) {
                v.retain(|x| *x != gid);
                if v.is_empty() {
                    self.by_alert.remove(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::Muted;
    use crate::route::{GroupBy, Timing};
    use klaxon_engine::lifecycle::State;

    fn target(group_by: GroupBy, wait: i64, interval: i64, repeat: i64) -> Target {
        Target {
            route: Arc::from("{}"),
            receiver: Arc::from("ops"),
            group_by: Arc::new(group_by),
            timing: Timing {
                group_wait: wait,
                group_interval: interval,
                repeat_interval: repeat,
            },
            escalation_policy: None,
            time_mute: crate::route::TimeMute::default(),
        }
    }

    fn alert(id: i64, name: &str, state: State) -> Arc<AlertView> {
        Arc::new(AlertView {
            id,
            fingerprint: format!("fp{id}"),
            name: name.to_owned(),
            state,
            muted: None,
            severity: "high".to_owned(),
            summary: format!("{name} fired"),
            labels: [
                ("alertname".to_owned(), name.to_owned()),
                ("id".to_owned(), id.to_string()),
            ]
            .into_iter()
            .collect(),
            annotations: BTreeMap::new(),
            starts_at: 0,
            ends_at: None,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_by: None,
            generator_url: None,
            occurrences: 1,
            updated_at: 0,
            receivers: Vec::new(),
            incident: None,
        })
    }

    fn none(_: &str) -> Option<(Kind, i64)> {
        None
    }

    /// (kind, alert ids) of each notification flushed at `now`.
    fn flush(g: &mut Grouper, now: i64) -> Vec<(Kind, Vec<i64>)> {
        let mut out = Vec::new();
        g.flush_due(now, &mut out);
        out.into_iter()
            .map(|n| (n.kind, n.alerts.iter().map(|a| a.id).collect()))
            .collect()
    }

    #[test]
    fn group_wait_then_interval_then_repeat() {
        let t = [target(
            GroupBy::Labels(vec!["alertname".into()]),
            30,
            300,
            3600,
        )];
        let mut g = Grouper::new();
        g.insert(0, alert(1, "A", State::Active), &t, &none);
        g.insert(10, alert(2, "A", State::Active), &t, &none);
        assert_eq!(g.next_deadline(), Some(30));
        assert!(flush(&mut g, 29).is_empty());
        assert_eq!(flush(&mut g, 30), [(Kind::Firing, vec![1, 2])]);
        // New alert: waits for the group interval after the last flush.
        g.insert(40, alert(3, "A", State::Active), &t, &none);
        assert_eq!(g.next_deadline(), Some(330));
        g.update(50, alert(1, "A", State::Acknowledged));
        g.update(60, alert(2, "A", State::Resolved));
        assert_eq!(
            flush(&mut g, 330),
            [
                (Kind::Firing, vec![3]),
                (Kind::Acknowledged, vec![1]),
                (Kind::Resolved, vec![2])
            ]
        );
        // Nothing new: the firing alert repeats after the repeat interval; the acked one not.
        assert_eq!(g.next_deadline(), Some(3930));
        assert_eq!(flush(&mut g, 3930), [(Kind::Firing, vec![3])]);
    }

    /// 00:00 to 01:00 UTC every day (epoch 0 is 1970-01-01T00:00Z), named `night`.
    fn first_hour() -> Vec<(Arc<str>, Arc<[klaxon_engine::noise::TimeInterval]>)> {
        let spec = klaxon_engine::noise::IntervalSpec {
            times: Some(vec![klaxon_engine::noise::TimeRangeSpec {
                start_time: "00:00".into(),
                end_time: "01:00".into(),
            }]),
            ..Default::default()
        };
        let interval =
            klaxon_engine::noise::TimeInterval::compile(&spec, |_| Err("no zones here".to_owned()))
                .expect("compiles");
        vec![(Arc::from("night"), Arc::from(vec![interval]))]
    }

    #[test]
    fn a_muted_flush_tells_nothing_and_news_waits_for_the_first_flush_outside() {
        let mut t = target(
            GroupBy::Labels(vec!["alertname".into()]),
            0,
            1_800_000,
            4 * 3_600_000,
        );
        t.time_mute = crate::route::TimeMute::new(first_hour(), vec![]);
        let t = [t];
        let mut g = Grouper::new();
        g.insert(0, alert(1, "A", State::Active), &t, &none);
        g.insert(0, alert(2, "A", State::Active), &t, &none);
        assert_eq!(g.next_deadline(), Some(0));
        assert!(flush(&mut g, 0).is_empty(), "muted at 00:00");
        // Resolved while muted: leaves untold, as in Alertmanager.
        g.update(60_000, alert(2, "A", State::Resolved));
        assert_eq!(g.next_deadline(), Some(1_800_000));
        assert!(flush(&mut g, 1_800_000).is_empty(), "muted at 00:30");
        assert_eq!(g.groups_of(2), []);
        assert_eq!(g.next_deadline(), Some(3_600_000));
        assert_eq!(flush(&mut g, 3_600_000), [(Kind::Firing, vec![1])]);
        // The next day's first hour holds the repeat back until 01:00.
        assert_eq!(g.next_deadline(), Some(3_600_000 + 4 * 3_600_000));
        let day = 86_400_000;
        g.insert(day, alert(3, "A", State::Active), &t, &none);
        let at = g.next_deadline().expect("due");
        assert!(
            flush(&mut g, at.max(day)).is_empty(),
            "muted the next night"
        );
        assert_eq!(g.next_deadline(), Some(at.max(day) + 1_800_000));
    }

    #[test]
    fn a_muted_route_without_a_group_interval_looks_again_at_the_next_minute() {
        let mut t = target(
            GroupBy::Labels(vec!["alertname".into()]),
            0,
            0,
            4 * 3_600_000,
        );
        t.time_mute = crate::route::TimeMute::new(first_hour(), vec![]);
        let t = [t];
        let mut g = Grouper::new();
        g.insert(1_000, alert(1, "A", State::Active), &t, &none);
        assert!(
            flush(&mut g, 1_000).is_empty(),
            "muted, and the flush returns"
        );
        assert_eq!(g.next_deadline(), Some(60_000));
        let mut at = 60_000;
        while at < 3_600_000 {
            assert!(flush(&mut g, at).is_empty(), "{at}");
            at = g.next_deadline().expect("due");
        }
        assert_eq!(at, 3_600_000);
        assert_eq!(flush(&mut g, at), [(Kind::Firing, vec![1])]);
    }

    #[test]
    fn outside_its_active_intervals_a_route_tells_nothing() {
        let mut t = target(
            GroupBy::Labels(vec!["alertname".into()]),
            0,
            1_800_000,
            4 * 3_600_000,
        );
        // Active only during the first hour: the mirror image of the test above.
        t.time_mute = crate::route::TimeMute::new(vec![], first_hour());
        let t = [t];
        let mut g = Grouper::new();
        g.insert(3_600_000, alert(1, "A", State::Active), &t, &none);
        assert!(flush(&mut g, 3_600_000).is_empty(), "01:00 is outside");
        assert_eq!(g.next_deadline(), Some(5_400_000));
        assert!(flush(&mut g, 5_400_000).is_empty());
        let next_day = 86_400_000;
        // Flushes every 30 minutes until 00:00 the next day, which is inside.
        let mut at = g.next_deadline().expect("due");
        while at < next_day {
            assert!(flush(&mut g, at).is_empty(), "{at}");
            at = g.next_deadline().expect("due");
        }
        assert_eq!(flush(&mut g, at), [(Kind::Firing, vec![1])]);
    }

    fn in_incident(id: i64, name: &str, incident: Option<i64>) -> Arc<AlertView> {
        let mut a = alert(id, name, State::Active).as_ref().clone();
        a.incident = incident;
        Arc::new(a)
    }

    #[test]
    fn by_incident_one_group_per_incident_and_a_moved_alert_follows_its_incident() {
        let t = [target(
            GroupBy::Labels(vec!["incident".into()]),
            30,
            300,
            3600,
        )];
        let mut g = Grouper::new();
        // Different alert names, one incident: one group, one notification.
        g.insert(0, in_incident(1, "A", Some(7)), &t, &none);
        g.insert(1, in_incident(2, "B", Some(7)), &t, &none);
        g.insert(2, in_incident(3, "C", Some(8)), &t, &none);
        // In no incident: alone, not with the other incident-less alert.
        g.insert(3, in_incident(4, "D", None), &t, &none);
        g.insert(3, in_incident(5, "D2", None), &t, &none);
        assert_eq!(g.len(), 4);
        let mut first = Vec::new();
        g.flush_due(33, &mut first);
        let mut by_group: Vec<(String, Vec<i64>)> = first
            .iter()
            .map(|n| {
                let inc = n.group_labels.get("incident").cloned().unwrap_or_default();
                (inc, n.alerts.iter().map(|a| a.id).collect())
            })
            .collect();
        by_group.sort();
        assert_eq!(
            by_group,
            [
                (String::new(), vec![4]),
                (String::new(), vec![5]),
                ("7".into(), vec![1, 2]),
                ("8".into(), vec![3])
            ]
        );
        // Incident 8 merges into 7: its alert leaves its group (which goes) and is news in 7's.
        g.regroup(40, in_incident(3, "C", Some(7)));
        assert_eq!(g.len(), 3);
        assert_eq!(g.groups_of(3).len(), 1);
        assert_eq!(g.groups_of(3)[0].size, 3);
        assert_eq!(flush(&mut g, 333), [(Kind::Firing, vec![1, 2, 3])]);
        // Moving to the incident it is in already changes nothing.
        g.regroup(400, in_incident(3, "C", Some(7)));
        assert_eq!(g.len(), 3);
        assert_eq!(g.groups_of(3)[0].next, Some(3933));
    }

    #[test]
    fn regroup_leaves_label_groups_alone() {
        let t = [target(
            GroupBy::Labels(vec!["alertname".into()]),
            30,
            300,
            3600,
        )];
        let mut g = Grouper::new();
        g.insert(0, in_incident(1, "A", None), &t, &none);
        assert_eq!(flush(&mut g, 30), [(Kind::Firing, vec![1])]);
        // Not a grouping by incident: the alert stays told, nothing new to say.
        g.regroup(40, in_incident(1, "A", Some(9)));
        assert_eq!(g.next_deadline(), Some(3630));
        assert!(flush(&mut g, 330).is_empty());
    }

    #[test]
    fn resolved_before_anyone_was_told_says_nothing() {
        let t = [target(GroupBy::All, 30, 300, 3600)];
        let mut g = Grouper::new();
        g.insert(0, alert(1, "A", State::Active), &t, &none);
        g.update(5, alert(1, "A", State::Resolved));
        assert!(flush(&mut g, 30).is_empty());
        assert_eq!(g.next_deadline(), None);
        assert!(g.is_empty());
    }

    #[test]
    fn by_every_label_each_alert_is_its_own_group_and_zero_wait_is_immediate() {
        let t = [target(GroupBy::All, 0, 0, 3600)];
        let mut g = Grouper::new();
        g.insert(7, alert(1, "A", State::Active), &t, &none);
        g.insert(7, alert(2, "A", State::Active), &t, &none);
        assert_eq!(
            flush(&mut g, 7),
            [(Kind::Firing, vec![1]), (Kind::Firing, vec![2])]
        );
        g.update(8, alert(2, "A", State::Resolved));
        assert_eq!(flush(&mut g, 8), [(Kind::Resolved, vec![2])]);
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn restored_state_is_not_told_again() {
        let t = [target(GroupBy::All, 0, 100, 3600)];
        let mut g = Grouper::new();
        let told = |_: &str| Some((Kind::Firing, 1_000));
        g.insert(2_000, alert(1, "A", State::Active), &t, &told);
        assert_eq!(g.next_deadline(), Some(4_600), "only the repeat is due");
        g.insert(2_000, alert(2, "B", State::Acknowledged), &t, &told);
        assert_eq!(flush(&mut g, 2_000), [(Kind::Acknowledged, vec![2])]);
    }

    #[test]
    fn acknowledged_before_the_first_flush_is_told_firing_then_acknowledged() {
        let t = [target(GroupBy::All, 10, 0, 3600)];
        let mut g = Grouper::new();
        g.insert(0, alert(1, "A", State::Active), &t, &none);
        g.update(5, alert(1, "A", State::Acknowledged));
        assert_eq!(
            flush(&mut g, 10),
            [(Kind::Firing, vec![1]), (Kind::Acknowledged, vec![1])]
        );
        assert_eq!(g.next_deadline(), None, "acknowledged alerts do not repeat");
    }

    #[test]
    fn suppressed_and_pending_alerts_notify_nobody() {
        let t = [target(GroupBy::All, 0, 0, 3600)];
        let mut g = Grouper::new();
        g.insert(0, alert(1, "A", State::Pending), &t, &none);
        assert_eq!(g.next_deadline(), None);
        g.update(5, alert(1, "A", State::Active));
        assert_eq!(flush(&mut g, 5), [(Kind::Firing, vec![1])]);
        g.update(6, alert(1, "A", State::Suppressed));
        assert!(flush(&mut g, 6).is_empty());
        g.update(9, alert(1, "A", State::Active));
        assert!(flush(&mut g, 9).is_empty(), "it was told firing already");
    }

    fn muted(id: i64, state: State, why: Muted) -> Arc<AlertView> {
        let mut v = alert(id, "A", state).as_ref().clone();
        v.muted = Some(why);
        Arc::new(v)
    }

    #[test]
    fn muted_alerts_notify_nobody_until_their_muting_ends() {
        let t = [target(GroupBy::All, 0, 0, 3600)];
        let mut g = Grouper::new();
        g.insert(0, muted(1, State::Active, Muted::Inhibited), &t, &none);
        assert_eq!(g.next_deadline(), None, "an inhibited firing tells nothing");
        g.update(5, alert(1, "A", State::Active));
        assert_eq!(flush(&mut g, 5), [(Kind::Firing, vec![1])]);
        g.update(6, muted(1, State::Resolved, Muted::Flapping));
        assert!(flush(&mut g, 6).is_empty(), "a flapping resolution waits");
        g.update(9, alert(1, "A", State::Resolved));
        assert_eq!(flush(&mut g, 9), [(Kind::Resolved, vec![1])]);
    }
}
