//! Candidate lookup: the alerts of open incidents filed under their evidence keys (place,
//! rare label values, words, names their text mentions, kind), the most recent few per key, so
//! a new alert meets only the alerts it could link to and never scans the open incidents.
//! Entries of forgotten alerts are dropped in sweeps (the caller checks handles meanwhile).

use std::collections::{HashMap, VecDeque};

/// An alert's slot in the correlator's table and the generation that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Handle {
    pub slot: u32,
    pub generation: u32,
}

/// Most recent alerts kept per key.
const PER_KEY: usize = 32;

#[derive(Debug, Default)]
pub(crate) struct Index {
    lists: HashMap<u64, VecDeque<Handle>, foldhash::fast::FixedState>,
}

impl Index {
    /// Files `h` under `key`, dropping the oldest entry of a full list.
    pub(crate) fn insert(&mut self, key: u64, h: Handle) {
        let list = self.lists.entry(key).or_default();
        if list.back() == Some(&h) {
            return;
        }
        if list.len() == PER_KEY {
            list.pop_front();
        }
        list.push_back(h);
    }

    /// The newest `n` alerts filed under `key`, newest first.
    pub(crate) fn newest(&self, key: u64, n: usize) -> impl Iterator<Item = Handle> + '_ {
        self.lists
            .get(&key)
            .into_iter()
            .flat_map(move |l| l.iter().rev().take(n).copied())
    }

    /// Drops every entry `live` rejects, and the lists left empty.
    pub(crate) fn sweep(&mut self, live: impl Fn(Handle) -> bool) {
        self.lists.retain(|_, list| {
            list.retain(|&h| live(h));
            !list.is_empty()
        });
    }

    pub(crate) fn keys(&self) -> usize {
        self.lists.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(slot: u32) -> Handle {
        Handle {
            slot,
            generation: 0,
        }
    }

    #[test]
    fn lists_keep_the_newest_and_empty_lists_go() {
        let mut ix = Index::default();
        for s in 0..40 {
            ix.insert(7, h(s));
        }
        let newest: Vec<u32> = ix.newest(7, 3).map(|h| h.slot).collect();
        assert_eq!(newest, [39, 38, 37]);
        assert_eq!(ix.newest(7, 100).count(), PER_KEY);
        ix.insert(8, h(50));
        ix.sweep(|h| h.slot != 50 && h.slot % 2 == 0);
        assert_eq!(ix.keys(), 1);
        let left: Vec<u32> = ix.newest(7, 3).map(|h| h.slot).collect();
        assert_eq!(left, [38, 36, 34]);
    }
}
