//! Rate limits per receiver: a token bucket (`per_minute` tokens a minute, at most `burst`
//! saved). A notification that finds the bucket empty is held, never dropped; when a token is
//! there again, everything held for the receiver goes out folded into one notification per
//! kind, its alerts merged (each alert once, its latest view) and `folded` counting the
//! notifications it stands for ("and 37 more"). Pure: time is an argument. What it holds is
//! the caller's to record durably (`admit` says what it held); `restore` takes it back after a
//! restart, behind an empty bucket, so a hold keeps its place in the budget.

use std::collections::{BTreeMap, HashMap};

use crate::notification::{Kind, Notification};

/// A receiver's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_minute: f64,
    pub burst: f64,
}

#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: i64,
    held: Vec<Notification>,
}

impl Bucket {
    fn refill(&mut self, limit: RateLimit, now: i64) {
        let elapsed = (now - self.at).max(0) as f64;
        self.tokens = (self.tokens + elapsed * limit.per_minute / 60_000.0).min(limit.burst);
        self.at = now;
    }
}

/// The buckets of every limited receiver.
#[derive(Debug, Default, Clone)]
pub struct Limiter {
    buckets: HashMap<String, Bucket>,
}

/// What a receiver's limit is doing now.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub notifications: usize,
    /// The alerts in the held notifications.
    pub alerts: Vec<i64>,
    /// When the held notifications go out (folded), at the earliest.
    pub until: i64,
}

impl Limiter {
    pub fn new() -> Limiter {
        Limiter::default()
    }

    fn bucket(&mut self, receiver: &str, limit: RateLimit, now: i64) -> &mut Bucket {
        let b = self
            .buckets
            .entry(receiver.to_owned())
            .or_insert_with(|| Bucket {
                tokens: limit.burst,
                at: now,
                held: Vec::new(),
            });
        b.refill(limit, now);
        b
    }

    /// Passes `n` on (into `out`) if its receiver's bucket has a token, else holds it and
    /// returns it as held (for the caller to record). Something already held is always sent
    /// before anything newer: a new notification waits behind it.
    pub fn admit(
        &mut self,
        n: Notification,
        limit: RateLimit,
        now: i64,
        out: &mut Vec<Notification>,
    ) -> Option<&Notification> {
        let b = self.bucket(&n.receiver, limit, now);
        if b.held.is_empty() && b.tokens >= 1.0 {
            b.tokens -= 1.0;
            out.push(n);
            None
        } else {
            b.held.push(n);
            b.held.last()
        }
    }

    /// Takes back a notification that was held before a restart (oldest first). Its
    /// receiver's bucket, if this is the first of its holds, starts empty at the hold's time:
    /// when something was held the bucket had less than a token, so the summary goes out at
    /// most one token's interval later than it would have, never earlier, and nothing newer
    /// overtakes it.
    pub fn restore(&mut self, n: Notification) {
        let at = n.at;
        let b = self
            .buckets
            .entry(n.receiver.clone())
            .or_insert_with(|| Bucket {
                tokens: 0.0,
                at,
                held: Vec::new(),
            });
        b.held.push(n);
    }

    /// Sends, folded, what is held for receivers whose bucket has a token again.
    pub fn release(
        &mut self,
        now: i64,
        limits: &dyn Fn(&str) -> Option<RateLimit>,
        out: &mut Vec<Notification>,
    ) {
        for (receiver, b) in &mut self.buckets {
            if b.held.is_empty() {
                continue;
            }
            let Some(limit) = limits(receiver) else {
                // The limit went away: everything held goes now.
                out.extend(fold(std::mem::take(&mut b.held), now));
                continue;
            };
            b.refill(limit, now);
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                out.extend(fold(std::mem::take(&mut b.held), now));
            }
        }
    }

    /// When the next held notifications can go out.
    pub fn next_deadline(&self, limits: &dyn Fn(&str) -> Option<RateLimit>) -> Option<i64> {
        self.buckets
            .iter()
            .filter(|(_, b)| !b.held.is_empty())
            .map(|(r, b)| match limits(r) {
                Some(l) if l.per_minute > 0.0 => {
                    let missing = (1.0 - b.tokens).max(0.0);
                    b.at + (missing * 60_000.0 / l.per_minute).ceil() as i64
                }
                _ => b.at,
            })
            .min()
    }

    /// What is held for `receiver`.
    pub fn held(&self, receiver: &str, limit: Option<RateLimit>) -> Option<Held> {
        let b = self.buckets.get(receiver).filter(|b| !b.held.is_empty())?;
        let mut alerts: Vec<i64> = b
            .held
            .iter()
            .flat_map(|n| n.alerts.iter().map(|a| a.id))
            .collect();
        alerts.sort_unstable();
        alerts.dedup();
        let until = match limit {
            Some(l) if l.per_minute > 0.0 => {
                b.at + ((1.0 - b.tokens).max(0.0) * 60_000.0 / l.per_minute).ceil() as i64
            }
            _ => b.at,
        };
        Some(Held {
            notifications: b.held.len(),
            alerts,
            until,
        })
    }

    /// Every receiver with something held.
    pub fn receivers_holding(&self) -> impl Iterator<Item = &str> {
        self.buckets
            .iter()
            .filter(|(_, b)| !b.held.is_empty())
            .map(|(r, _)| r.as_str())
    }
}

/// Folds notifications into one per kind (and group key, when they all share one): alerts
/// merged by id, the newest view of each kept, `folded` = how many more notifications the
/// result stands for.
pub fn fold(held: Vec<Notification>, now: i64) -> Vec<Notification> {
    let mut by_kind: BTreeMap<Kind, Vec<Notification>> = BTreeMap::new();
    for n in held {
        by_kind.entry(n.kind).or_default().push(n);
    }
    let mut out = Vec::new();
    for (kind, list) in by_kind {
        let count = list.len();
        let mut iter = list.into_iter();
        let Some(mut first) = iter.next() else {
            continue;
        };
        let mut alerts: BTreeMap<i64, crate::notification::AlertView> = BTreeMap::new();
        let mut same_group = true;
        for a in first.alerts.drain(..) {
            alerts.insert(a.id, a);
        }
        let mut folded = first.folded;
        for n in iter {
            same_group &= n.group_key == first.group_key;
            folded += 1 + n.folded;
            for a in n.alerts {
                alerts.insert(a.id, a);
            }
        }
        if !same_group {
            first.group_key = format!("{}:rate-limited", first.receiver);
            first.group_labels = BTreeMap::new();
        }
        debug_assert!(count as u32 > folded.saturating_sub(first.folded) || count == 1);
        out.push(Notification {
            kind,
            alerts: alerts.into_values().collect(),
            at: now,
            folded,
            ..first
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::notification::AlertView;
    use klaxon_engine::lifecycle::State;

    fn view(id: i64) -> AlertView {
        AlertView {
            id,
            fingerprint: format!("{id:016x}"),
            name: "Disk".into(),
            state: State::Active,
            muted: None,
            severity: "high".into(),
            summary: String::new(),
            labels: BTreeMap::new(),
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
        }
    }

    fn n(kind: Kind, ids: &[i64]) -> Notification {
        Notification {
            kind,
            receiver: "chat".into(),
            group_key: format!("g{}", ids[0]),
            group_labels: BTreeMap::new(),
            alerts: ids.iter().map(|&i| view(i)).collect(),
            at: 0,
            folded: 0,
            notice: None,
            escalation: None,
        }
    }

    #[test]
    fn a_storm_goes_out_as_the_burst_then_one_folded_summary() {
        let limit = RateLimit {
            per_minute: 2.0,
            burst: 3.0,
        };
        let (mut l, mut out) = (Limiter::new(), Vec::new());
        for i in 0..500 {
            l.admit(n(Kind::Firing, &[i]), limit, 0, &mut out);
        }
        assert_eq!(out.len(), 3, "the burst");
        let none = |_: &str| Some(limit);
        assert_eq!(
            l.held("chat", Some(limit)).map(|h| h.notifications),
            Some(497)
        );
        assert_eq!(l.next_deadline(&none), Some(30_000), "a token every 30 s");
        out.clear();
        l.release(29_999, &none, &mut out);
        assert!(out.is_empty());
        l.release(30_000, &none, &mut out);
        assert_eq!(out.len(), 1, "one summary");
        assert_eq!(out[0].alerts.len(), 497);
        assert_eq!(out[0].folded, 496, "and 496 more");
        assert_eq!(out[0].group_key, "chat:rate-limited");
        assert!(l.held("chat", Some(limit)).is_none());
        assert_eq!(l.next_deadline(&none), None);
    }

    #[test]
    fn a_hold_restored_after_a_restart_keeps_its_place_in_the_budget() {
        let limit = RateLimit {
            per_minute: 1.0,
            burst: 1.0,
        };
        let limits = |_: &str| Some(limit);
        let (mut before, mut out) = (Limiter::new(), Vec::new());
        assert!(before
            .admit(n(Kind::Firing, &[1]), limit, 0, &mut out)
            .is_none());
        let second = Notification {
            at: 10_000,
            ..n(Kind::Firing, &[2])
        };
        let held = before
            .admit(second, limit, 10_000, &mut out)
            .cloned()
            .expect("held");
        assert_eq!(before.next_deadline(&limits), Some(60_000));
        // A restart: the bucket is gone, the hold comes back from the store.
        let mut after = Limiter::new();
        after.restore(held);
        assert_eq!(
            after.next_deadline(&limits),
            Some(70_000),
            "at most one token's interval later, not at once"
        );
        out.clear();
        after.admit(n(Kind::Firing, &[3]), limit, 20_000, &mut out);
        assert!(out.is_empty(), "nothing newer overtakes it");
        after.release(69_999, &limits, &mut out);
        assert!(out.is_empty());
        after.release(70_000, &limits, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
            [2, 3]
        );
    }

    #[test]
    fn folding_keeps_kinds_apart_and_each_alert_once() {
        let folded = fold(
            vec![
                n(Kind::Firing, &[1, 2]),
                n(Kind::Resolved, &[1]),
                n(Kind::Firing, &[2, 3]),
            ],
            9,
        );
        assert_eq!(folded.len(), 2);
        assert_eq!(folded[0].kind, Kind::Firing);
        assert_eq!(
            folded[0].alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!((folded[0].folded, folded[1].folded), (1, 0));
        assert_eq!(folded[1].kind, Kind::Resolved);
    }
}
