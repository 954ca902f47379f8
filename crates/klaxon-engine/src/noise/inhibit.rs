//! Inhibition rules as Alertmanager defines them: while an alert matching the *source*
//! matchers is firing, alerts matching the *target* matchers that have the same values for the
//! `equal` labels are inhibited. An alert never inhibits itself. A rule may be scoped to one
//! route (receiver): then it inhibits only what is sent along that route.
//!
//! [`Inhibitor`] keeps, per rule, the firing sources by their `equal` values, so asking about
//! an alert costs a lookup per candidate rule, not a scan of the firing alerts.

use std::collections::{BTreeSet, HashMap};

use super::index::LabelIndex;
use super::LabelSet;
use crate::matcher::Matcher;

/// One inhibition rule.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// A name for explanations (`inhibit[0]` when the config gives none).
    pub name: String,
    pub source: Vec<Matcher>,
    pub target: Vec<Matcher>,
    /// Labels whose values source and target must share (a label missing on both counts as
    /// equal, as in Alertmanager).
    pub equal: Vec<String>,
    /// Only for notifications along this route (receiver); `None`: everywhere.
    pub route: Option<String>,
}

/// Why an alert is inhibited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inhibition {
    pub rule: String,
    pub route: Option<String>,
    /// The firing alert that inhibits it (the smallest id when several do).
    pub source: i64,
}

#[derive(Debug, Clone, Default)]
struct RuleState {
    /// `equal` values → ids of firing sources with those values.
    sources: HashMap<Vec<String>, BTreeSet<i64>>,
}

/// The rules and their firing sources.
#[derive(Debug, Clone, Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
    state: Vec<RuleState>,
    by_source: LabelIndex<usize>,
    by_target: LabelIndex<usize>,
}

fn key(rule: &InhibitRule, labels: &LabelSet) -> Vec<String> {
    rule.equal
        .iter()
        .map(|l| labels.get(l).cloned().unwrap_or_default())
        .collect()
}

/// A number for the `equal` values of `labels` under `rule` (stable; two keys that differ may
/// share it, which costs a needless look, never a wrong answer).
fn key_hash(rule: &InhibitRule, labels: &LabelSet) -> u64 {
    // FNV-1a over each value with its length.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in &rule.equal {
        let v = labels.get(l).map_or("", String::as_str);
        for b in (v.len() as u64).to_le_bytes().iter().chain(v.as_bytes()) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

impl Inhibitor {
    pub fn new(rules: Vec<InhibitRule>) -> Inhibitor {
        let mut by_source = LabelIndex::default();
        let mut by_target = LabelIndex::default();
        for (i, r) in rules.iter().enumerate() {
            let _ = by_source.insert(i, &r.source);
            let _ = by_target.insert(i, &r.target);
        }
        Inhibitor {
            state: vec![RuleState::default(); rules.len()],
            rules,
            by_source,
            by_target,
        }
    }

    pub fn rules(&self) -> &[InhibitRule] {
        &self.rules
    }

    /// Records that alert `id` with `labels` is firing (idempotent).
    pub fn fire(&mut self, id: i64, labels: &LabelSet) {
        self.fire_noting(id, labels, |_, _| {});
    }

    /// Records that alert `id` with `labels` stopped firing (idempotent).
    pub fn stop(&mut self, id: i64, labels: &LabelSet) {
        self.stop_noting(id, labels, |_, _| {});
    }

    /// As [`Inhibitor::fire`], telling `changed` (rule, [`key_hash`]) for every
    /// rule whose sources it joined: the targets filed under those may have changed.
    pub(crate) fn fire_noting(
        &mut self,
        id: i64,
        labels: &LabelSet,
        mut changed: impl FnMut(usize, u64),
    ) {
        let (rules, state) = (&self.rules, &mut self.state);
        self.by_source.candidates(labels, |&i| {
            let r = &rules[i];
            if r.source.iter().all(|m| m.matches(labels))
                && state[i]
                    .sources
                    .entry(key(r, labels))
                    .or_default()
                    .insert(id)
            {
                changed(i, key_hash(r, labels));
            }
        });
    }

    /// As [`Inhibitor::stop`], telling `changed` every rule whose sources it left.
    pub(crate) fn stop_noting(
        &mut self,
        id: i64,
        labels: &LabelSet,
        mut changed: impl FnMut(usize, u64),
    ) {
        let (rules, state) = (&self.rules, &mut self.state);
        self.by_source.candidates(labels, |&i| {
            let k = key(&rules[i], labels);
            if let Some(set) = state[i].sources.get_mut(&k) {
                if set.remove(&id) {
                    changed(i, key_hash(&rules[i], labels));
                }
                if set.is_empty() {
                    state[i].sources.remove(&k);
                }
            }
        });
    }

    /// Tells `f` (rule, [`key_hash`]) for every rule whose targets match `labels`:
    /// where an alert with these labels waits for sources to inhibit it.
    pub(crate) fn target_keys(&self, labels: &LabelSet, mut f: impl FnMut(usize, u64)) {
        self.by_target.candidates(labels, |&i| {
            let r = &self.rules[i];
            if r.target.iter().all(|m| m.matches(labels)) {
                f(i, key_hash(r, labels));
            }
        });
    }

    /// Why alert `id` with `labels` is inhibited along `route` (`None`: by the rules that apply
    /// everywhere only), if it is.
    pub fn inhibited(&self, id: i64, labels: &LabelSet, route: Option<&str>) -> Option<Inhibition> {
        let (i, source) = self.find(id, labels, |r| {
            r.route.as_deref().is_none_or(|s| Some(s) == route)
        })?;
        let r = &self.rules[i];
        Some(Inhibition {
            rule: r.name.clone(),
            route: r.route.clone(),
            source,
        })
    }

    /// The first rule `applies` accepts that inhibits alert `id` with `labels`, and its
    /// source (the smallest id when several are firing).
    pub(crate) fn find(
        &self,
        id: i64,
        labels: &LabelSet,
        applies: impl Fn(&InhibitRule) -> bool,
    ) -> Option<(usize, i64)> {
        let mut found: Option<(usize, i64)> = None;
        self.by_target.candidates(labels, |&i| {
            if found.is_some() {
                return;
            }
            let r = &self.rules[i];
            if self.state[i].sources.is_empty()
                || !applies(r)
                || !r.target.iter().all(|m| m.matches(labels))
            {
                return;
            }
            let source = self.state[i]
                .sources
                .get(&key(r, labels))
                .and_then(|set| set.iter().find(|&&s| s != id));
            if let Some(&source) = source {
                found = Some((i, source));
            }
        });
        found
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::matcher::parse_filter;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn rule(name: &str, source: &str, target: &str, equal: &[&str]) -> InhibitRule {
        InhibitRule {
            name: name.into(),
            source: parse_filter(source).unwrap(),
            target: parse_filter(target).unwrap(),
            equal: equal.iter().map(|s| (*s).to_owned()).collect(),
            route: None,
        }
    }

    #[test]
    fn a_firing_source_inhibits_targets_with_equal_labels_until_it_stops() {
        let mut inh = Inhibitor::new(vec![rule(
            "node-down",
            r#"{alertname="NodeDown"}"#,
            r#"{severity=~"warning|info"}"#,
            &["host"],
        )]);
        let down = labels(&[("alertname", "NodeDown"), ("host", "a")]);
        let disk_a = labels(&[
            ("alertname", "Disk"),
            ("host", "a"),
            ("severity", "warning"),
        ]);
        let disk_b = labels(&[
            ("alertname", "Disk"),
            ("host", "b"),
            ("severity", "warning"),
        ]);
        let crit_a = labels(&[
            ("alertname", "Disk"),
            ("host", "a"),
            ("severity", "critical"),
        ]);
        assert_eq!(inh.inhibited(2, &disk_a, None), None);
        inh.fire(1, &down);
        assert_eq!(
            inh.inhibited(2, &disk_a, None),
            Some(Inhibition {
                rule: "node-down".into(),
                route: None,
                source: 1
            })
        );
        assert_eq!(inh.inhibited(3, &disk_b, None), None, "another host");
        assert_eq!(inh.inhibited(4, &crit_a, None), None, "not a target");
        inh.stop(1, &down);
        assert_eq!(inh.inhibited(2, &disk_a, None), None);
    }

    #[test]
    fn an_alert_does_not_inhibit_itself_and_scoped_rules_apply_to_their_route() {
        let mut r = rule("self", r#"{team="ops"}"#, r#"{team="ops"}"#, &[]);
        r.route = Some("pager".into());
        let mut inh = Inhibitor::new(vec![r]);
        let a = labels(&[("team", "ops"), ("alertname", "A")]);
        let b = labels(&[("team", "ops"), ("alertname", "B")]);
        inh.fire(1, &a);
        assert_eq!(inh.inhibited(1, &a, Some("pager")), None, "not itself");
        assert_eq!(inh.inhibited(2, &b, None), None, "scoped: not everywhere");
        assert_eq!(inh.inhibited(2, &b, Some("email")), None, "another route");
        assert_eq!(
            inh.inhibited(2, &b, Some("pager")).map(|i| i.source),
            Some(1)
        );
    }
}
