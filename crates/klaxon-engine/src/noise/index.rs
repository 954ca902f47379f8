//! An index of entries (silences, inhibition rules, windows) by one equality matcher each: an
//! entry whose matchers include `name="value"` (value not empty) can only match label sets
//! that have that pair, so it is filed under it; entries without one are always candidates.

use std::collections::HashMap;

use super::LabelSet;
use crate::matcher::{Matcher, Op};

/// Entries of type `K` by the (label, value) pair each one requires.
#[derive(Debug, Clone)]
pub struct LabelIndex<K> {
    /// Label name → value → entries. Keyed by untrusted label data: the standard library's
    /// DoS-resistant hasher. Nested so that a lookup borrows the alert's strings.
    by_pair: HashMap<String, HashMap<String, Vec<K>>>,
    /// Entries with no usable equality matcher.
    always: Vec<K>,
}

impl<K> Default for LabelIndex<K> {
    fn default() -> Self {
        LabelIndex {
            by_pair: HashMap::new(),
            always: Vec::new(),
        }
    }
}

/// The pair an entry is filed under: its first equality matcher with a non-empty value (an
/// empty one also matches a missing label, so it cannot narrow anything).
fn key_of(matchers: &[Matcher]) -> Option<(String, String)> {
    matchers.iter().find_map(|m| match &m.op {
        Op::Eq(v) if !v.is_empty() => Some((m.name.clone(), v.clone())),
        _ => None,
    })
}

impl<K: Clone + PartialEq> LabelIndex<K> {
    pub fn insert(&mut self, key: K, matchers: &[Matcher]) {
        match key_of(matchers) {
            Some((name, value)) => self
                .by_pair
                .entry(name)
                .or_default()
                .entry(value)
                .or_default()
                .push(key),
            None => self.always.push(key),
        }
    }

    pub fn remove(&mut self, key: &K, matchers: &[Matcher]) {
        match key_of(matchers) {
            Some((name, value)) => {
                if let Some(values) = self.by_pair.get_mut(&name) {
                    if let Some(list) = values.get_mut(&value) {
                        list.retain(|k| k != key);
                        if list.is_empty() {
                            values.remove(&value);
                        }
                    }
                    if values.is_empty() {
                        self.by_pair.remove(&name);
                    }
                }
            }
            None => self.always.retain(|k| k != key),
        }
    }

    /// Calls `f` with every entry that may match `labels` (each entry at most once). The
    /// caller still checks the entry's matchers.
    pub fn candidates(&self, labels: &LabelSet, mut f: impl FnMut(&K)) {
        self.always.iter().for_each(&mut f);
        if self.by_pair.is_empty() {
            return;
        }
        for (k, v) in labels {
            if let Some(list) = self.by_pair.get(k.as_str()).and_then(|m| m.get(v.as_str())) {
                list.iter().for_each(&mut f);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.always.len()
            + self
                .by_pair
                .values()
                .flat_map(HashMap::values)
                .map(Vec::len)
                .sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    #[test]
    fn entries_are_candidates_only_for_label_sets_with_their_pair() {
        let mut ix = LabelIndex::default();
        let a = parse_filter(r#"{alertname="Disk",host=~"web.*"}"#).unwrap();
        let b = parse_filter(r#"{host!="db"}"#).unwrap();
        let c = parse_filter(r#"{job="",alertname="Cpu"}"#).unwrap();
        ix.insert(1, &a);
        ix.insert(2, &b);
        ix.insert(3, &c);
        fn seen(ix: &LabelIndex<i32>, l: &LabelSet) -> Vec<i32> {
            let mut v = Vec::new();
            ix.candidates(l, |k| v.push(*k));
            v.sort_unstable();
            v
        }
        assert_eq!(seen(&ix, &labels(&[("alertname", "Disk")])), [1, 2]);
        assert_eq!(seen(&ix, &labels(&[("alertname", "Cpu")])), [2, 3]);
        assert_eq!(seen(&ix, &labels(&[("alertname", "Mem")])), [2]);
        ix.remove(&1, &a);
        assert_eq!(seen(&ix, &labels(&[("alertname", "Disk")])), [2]);
        assert_eq!(ix.len(), 2);
    }
}
