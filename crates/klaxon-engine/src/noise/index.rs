//! An index of entries (silences, inhibition rules, windows) by one matcher each: an entry whose
//! matchers include `name="value"` (value not empty) can only match label sets that have that
//! pair, so it is filed under it; failing that, one with `name=~"prefix…"` is filed under the
//! literal prefix its pattern starts with; entries with neither are always candidates.

use std::collections::{BTreeSet, HashMap};

use super::LabelSet;
use crate::matcher::{Matcher, Op};

/// Entries of type `K` by the (label, value) pair each one requires.
#[derive(Debug, Clone)]
pub struct LabelIndex<K> {
    /// Label name → value → entries. Nested so that a lookup borrows the alert's strings. The
    /// keys come from silences and rules (written by people with a token), alerts only look
    /// them up, so a fast per-process seeded hasher is safe here.
    by_pair: Nested<K>,
    /// Label name → literal prefix of a regular expression → entries.
    by_prefix: Nested<K>,
    /// Label name → the lengths (in bytes) of the prefixes filed under it.
    prefix_lens: HashMap<String, BTreeSet<usize>, Hasher>,
    /// Entries with no usable matcher.
    always: Vec<K>,
}

type Hasher = foldhash::fast::RandomState;
type Nested<K> = HashMap<String, HashMap<String, Vec<K>, Hasher>, Hasher>;

impl<K> Default for LabelIndex<K> {
    fn default() -> Self {
        LabelIndex {
            by_pair: HashMap::default(),
            by_prefix: HashMap::default(),
            prefix_lens: HashMap::default(),
            always: Vec::new(),
        }
    }
}

/// Where an entry is filed.
enum Key {
    /// Its first equality matcher with a non-empty value (an empty one also matches a missing
    /// label, so it cannot narrow anything), and that matcher's position.
    Pair(String, String, usize),
    /// Else its first regular expression with a literal prefix.
    Prefix(String, String),
    Always,
}

fn key_of(matchers: &[Matcher]) -> Key {
    let pair = matchers.iter().enumerate().find_map(|(i, m)| match &m.op {
        Op::Eq(v) if !v.is_empty() => Some(Key::Pair(m.name.clone(), v.clone(), i)),
        _ => None,
    });
    let prefix = || {
        matchers.iter().find_map(|m| match &m.op {
            Op::Re(r) if !r.prefix().is_empty() => {
                Some(Key::Prefix(m.name.clone(), r.prefix().to_owned()))
            }
            _ => None,
        })
    };
    pair.or_else(prefix).unwrap_or(Key::Always)
}

fn file<K>(map: &mut Nested<K>, name: String, value: String, k: K) {
    map.entry(name)
        .or_default()
        .entry(value)
        .or_default()
        .push(k);
}

fn unfile<K: PartialEq>(map: &mut Nested<K>, name: &str, value: &str, k: &K) {
    if let Some(values) = map.get_mut(name) {
        if let Some(list) = values.get_mut(value) {
            list.retain(|x| x != k);
            if list.is_empty() {
                values.remove(value);
            }
        }
        if values.is_empty() {
            map.remove(name);
        }
    }
}

impl<K: Clone + PartialEq> LabelIndex<K> {
    /// Files `key`; returns the position of the equality matcher it is filed under, which
    /// every candidate found through it satisfies (callers need not check it again).
    pub fn insert(&mut self, key: K, matchers: &[Matcher]) -> Option<usize> {
        match key_of(matchers) {
            Key::Pair(n, v, i) => {
                file(&mut self.by_pair, n, v, key);
                return Some(i);
            }
            Key::Prefix(n, p) => {
                self.prefix_lens
                    .entry(n.clone())
                    .or_default()
                    .insert(p.len());
                file(&mut self.by_prefix, n, p, key);
            }
            Key::Always => self.always.push(key),
        }
        None
    }

    pub fn remove(&mut self, key: &K, matchers: &[Matcher]) {
        match key_of(matchers) {
            Key::Pair(n, v, _) => unfile(&mut self.by_pair, &n, &v, key),
            Key::Prefix(n, p) => {
                unfile(&mut self.by_prefix, &n, &p, key);
                let still = self
                    .by_prefix
                    .get(&n)
                    .is_some_and(|m| m.keys().any(|q| q.len() == p.len()));
                if !still {
                    if let Some(lens) = self.prefix_lens.get_mut(&n) {
                        lens.remove(&p.len());
                        if lens.is_empty() {
                            self.prefix_lens.remove(&n);
                        }
                    }
                }
            }
            Key::Always => self.always.retain(|k| k != key),
        }
    }

    /// Calls `f` with every entry that may match `labels` (each entry at most once). The
    /// caller still checks the entry's matchers.
    pub fn candidates(&self, labels: &LabelSet, mut f: impl FnMut(&K)) {
        self.always.iter().for_each(&mut f);
        for (k, v) in labels {
            if let Some(list) = self.by_pair.get(k.as_str()).and_then(|m| m.get(v.as_str())) {
                list.iter().for_each(&mut f);
            }
            // The prefixes of the value, of the lengths some pattern of this label has.
            if let (Some(prefixes), Some(lens)) = (
                self.by_prefix.get(k.as_str()),
                self.prefix_lens.get(k.as_str()),
            ) {
                for &n in lens.range(..=v.len()) {
                    if let Some(list) = v.get(..n).and_then(|p| prefixes.get(p)) {
                        list.iter().for_each(&mut f);
                    }
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.always.len()
            + [&self.by_pair, &self.by_prefix]
                .iter()
                .flat_map(|m| m.values())
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
        let d = parse_filter(r#"{host=~"db-[0-9]+"}"#).unwrap();
        ix.insert(1, &a);
        ix.insert(2, &b);
        ix.insert(3, &c);
        ix.insert(4, &d);
        fn seen(ix: &LabelIndex<i32>, l: &LabelSet) -> Vec<i32> {
            let mut v = Vec::new();
            ix.candidates(l, |k| v.push(*k));
            v.sort_unstable();
            v
        }
        assert_eq!(seen(&ix, &labels(&[("alertname", "Disk")])), [1, 2]);
        assert_eq!(seen(&ix, &labels(&[("alertname", "Cpu")])), [2, 3]);
        assert_eq!(seen(&ix, &labels(&[("alertname", "Mem")])), [2]);
        assert_eq!(
            seen(&ix, &labels(&[("host", "db-7")])),
            [2, 4],
            "by the prefix db-"
        );
        assert_eq!(
            seen(&ix, &labels(&[("host", "db")])),
            [2],
            "shorter than the prefix"
        );
        assert_eq!(seen(&ix, &labels(&[("host", "web-1")])), [2]);
        ix.remove(&1, &a);
        ix.remove(&4, &d);
        assert_eq!(seen(&ix, &labels(&[("alertname", "Disk")])), [2]);
        assert_eq!(ix.len(), 2);
    }
}
