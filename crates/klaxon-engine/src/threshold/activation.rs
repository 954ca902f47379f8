//! Activation of threshold rule sets: recompiling the active rules, carrying every series'
//! (rule, series) pairs over to them, and settling the alerts of rules that went away; and the
//! re-seeding of firing alerts after a restart. Part of the engine: no I/O, no clock.

use std::sync::Arc;

use super::eval::{self, Compiled};
use super::series::{encode_key, key_hash, Pair, Series, State};
use super::window::Window;
use super::{
    threshold_fingerprint, ActiveSet, ThresholdEngine, ThresholdEvent, ThresholdEventKind,
    ThresholdRuleSet,
};
use crate::signal::{Labels, Metric};
use crate::Map;

impl ThresholdEngine {
    /// Activates `set` as the one version of `group`, at once, at engine time.
    ///
    /// A (rule, series) pair whose rule keeps its id and still matches the series keeps its
    /// state (pending since, firing, resolving); when the definition changed, its window is
    /// rebuilt from the samples the series still holds and it is evaluated now. New rules
    /// start from those samples too. Pairs whose rule went away (or is disabled, or no longer
    /// matches) emit `cancelled` when pending and `resolved` when firing (unless the rule had
    /// `auto_resolve: false`).
    pub fn activate(
        &mut self,
        group: &str,
        name: &str,
        version: Option<serde_json::Number>,
        set: &ThresholdRuleSet,
        out: &mut Vec<ThresholdEvent>,
    ) {
        let pos = self.active.iter().position(|a| &*a.group == group);
        let entry = ActiveSet {
            group: Arc::from(group),
            name: Arc::from(name),
            version,
            set: set.clone(),
        };
        match pos {
            Some(i) => self.active[i] = entry,
            None => {
                self.active.push(entry);
                self.active.sort_by(|a, b| a.group.cmp(&b.group));
            }
        }
        self.rebuild(out);
    }

    /// Deactivates the set of `group` (events as in [`ThresholdEngine::activate`]); returns
    /// whether one was active.
    pub fn deactivate(&mut self, group: &str, out: &mut Vec<ThresholdEvent>) -> bool {
        let before = self.active.len();
        self.active.retain(|a| &*a.group != group);
        let removed = self.active.len() != before;
        if removed {
            self.rebuild(out);
        }
        removed
    }

    /// Marks the alert of rule `rule_id` of `group` on the series with these labels as firing
    /// since `since`, as it was before a restart (the engine keeps no state across one), so
    /// that it resolves when its condition is found false instead of staying open forever.
    /// Its window starts empty: the first sample re-evaluates it, and without any sample it
    /// resolves for lack of data one window after `now`. Returns false when the rule is not
    /// active, does not match these labels, or the series limit is reached.
    pub fn restore_firing(
        &mut self,
        now: i64,
        group: &str,
        rule_id: &str,
        labels: &Labels,
        since: i64,
    ) -> bool {
        self.now = self.now.max(now);
        let Some(r) = self
            .rules
            .iter()
            .position(|c| &*c.group == group && &*c.id == rule_id)
        else {
            return false;
        };
        let c = &self.rules[r];
        let window_ms = c.rule.window_ms;
        let key = Metric {
            name: c.metric.to_string(),
            labels: labels.clone(),
            value: 0.0,
        };
        encode_key(&mut self.scratch, &key);
        let hash = key_hash(&self.store.hasher, &self.scratch);
        let slot = match self.store.find(hash, &self.scratch) {
            Some(slot) => slot,
            None => match self.create(hash, &key) {
                Some(slot) => slot,
                None => return false,
            },
        };
        let s = self.store.slots[slot as usize]
            .as_mut()
            .expect("found or created above");
        let r = u32::try_from(r).expect("fewer than 2^32 rules");
        let Some(p) = s.pairs.iter_mut().find(|p| p.rule == r) else {
            return false;
        };
        p.state = State::Firing;
        p.since = since;
        p.clear_since = None;
        let at = self.now.saturating_add(window_ms);
        self.arm(slot, at);
        true
    }

    /// Recompiles the active rules and carries every series' pairs over.
    fn rebuild(&mut self, out: &mut Vec<ThresholdEvent>) {
        let mut rules = Vec::new();
        for a in &self.active {
            for r in a.set.rules.iter().filter(|r| r.enabled) {
                rules.push(Compiled::new(&a.group, &a.name, a.version.as_ref(), r));
            }
        }
        let mut by_metric: Map<Box<str>, Vec<u32>> = Map::default();
        for (i, c) in rules.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 2^32 rules");
            by_metric.entry(Box::from(&*c.metric)).or_default().push(i);
        }
        let old = std::mem::replace(&mut self.rules, rules);
        self.by_metric = by_metric;
        let t = self.now;
        for slot in 0..self.store.slots.len() {
            let slot = u32::try_from(slot).expect("fewer than 2^32 series");
            let Some(s) = self.store.get_mut(slot) else {
                continue;
            };
            let candidates = self
                .by_metric
                .get(&*s.metric)
                .map_or(&[][..], Vec::as_slice);
            let mut old_pairs: Vec<Option<Pair>> =
                std::mem::take(&mut s.pairs).into_iter().map(Some).collect();
            let mut pairs = Vec::with_capacity(candidates.len());
            let mut dirty = false;
            for &r in candidates {
                let c = &self.rules[r as usize];
                if !c.rule.matches_labels(s.labels()) {
                    continue;
                }
                let kept = old_pairs.iter_mut().find(|p| {
                    p.as_ref().is_some_and(|p| {
                        let o = &old[p.rule as usize];
                        o.group == c.group && o.id == c.id
                    })
                });
                match kept.and_then(Option::take) {
                    Some(mut p) => {
                        if old[p.rule as usize].rule != c.rule {
                            let r = &c.rule;
                            p.window = Window::build(
                                r.aggregation,
                                &s.ring,
                                t.saturating_sub(r.window_ms),
                            );
                            dirty = true;
                        }
                        p.rule = r;
                        pairs.push(p);
                    }
                    None => {
                        pairs.push(new_pair(r, c, s, t));
                        dirty = true;
                    }
                }
            }
            for p in old_pairs.into_iter().flatten() {
                let o = &old[p.rule as usize];
                let kind = match p.state {
                    State::Pending => ThresholdEventKind::Cancelled,
                    State::Firing if o.rule.auto_resolve => ThresholdEventKind::Resolved,
                    State::Firing | State::Inactive => continue,
                };
                let why = format!(
                    "rule {} of group {} was removed, disabled or no longer matches",
                    o.id, o.group
                );
                out.push(eval::event(
                    o,
                    &s.metric,
                    &s.labels,
                    &p,
                    kind,
                    t,
                    Some(&why),
                ));
                self.stats.events += 1;
            }
            let no_rules = candidates.is_empty();
            s.pairs = pairs;
            if no_rules {
                // Samples of this metric are no longer kept at all.
                self.store.remove(slot);
                self.stats.series_forgotten += 1;
            } else if dirty {
                self.evaluate(slot, t, out);
            } else {
                eval::expire(&self.rules, s, t);
            }
        }
    }
}

/// A fresh, inactive pair of rule `r` on series `s`, its window built at `t` from the samples
/// the series holds.
pub(super) fn new_pair(r: u32, c: &Compiled, s: &Series, t: i64) -> Pair {
    let rule = &c.rule;
    let after = t.saturating_sub(rule.window_ms);
    Pair {
        rule: r,
        fingerprint: threshold_fingerprint(&c.group, &c.id, &s.metric, s.labels()),
        state: State::Inactive,
        since: 0,
        clear_since: None,
        value: None,
        window: Window::build(rule.aggregation, &s.ring, after),
    }
}
