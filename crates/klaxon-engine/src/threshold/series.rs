//! Series: one (metric name, label set) with its ring buffer of samples and the alert state of
//! each rule that matches it; and the hash index that finds a sample's series without
//! allocating. Owns no rules (the engine does) and no evaluation (see `eval`).

use std::hash::BuildHasher;

use super::window::{Ring, Window};
use crate::signal::Metric;
use crate::Map;

/// No next series in a hash chain.
pub(crate) const NIL: u32 = u32::MAX;

/// The alert state of one (rule, series) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Inactive,
    Pending,
    Firing,
}

/// One rule on one series.
#[derive(Debug)]
pub(crate) struct Pair {
    /// Index of the rule in the engine's active rules.
    pub rule: u32,
    pub fingerprint: u64,
    pub state: State,
    /// When the condition started holding (pending or firing).
    pub since: i64,
    /// Firing with `resolve_after`: when the condition stopped holding.
    pub clear_since: Option<i64>,
    /// The aggregate at the last evaluation.
    pub value: Option<f64>,
    pub window: Window,
}

/// One series.
#[derive(Debug)]
pub(crate) struct Series {
    /// Bumped when the slot is reused, so that stale timer entries are recognised.
    pub generation: u32,
    pub hash: u64,
    /// The identity as [`encode_key`] writes it, compared in one go.
    pub key: Box<[u8]>,
    /// The next series with the same hash.
    pub next: u32,
    pub metric: Box<str>,
    /// Sorted by name, no empty values.
    pub labels: Box<[(Box<str>, Box<str>)]>,
    pub ring: Ring,
    /// `ts` of the newest sample taken; older or equal ones are out of order.
    pub last_ts: i64,
    /// Engine time of the newest sample taken.
    pub last_seen: i64,
    /// One per matching rule, in rule order.
    pub pairs: Vec<Pair>,
    /// The instant of this series' valid timer entry, if one is armed.
    pub armed: Option<i64>,
    /// The instant of the last evaluation, and the wake-up instant it computed.
    pub evaluated_at: i64,
    pub wake: Option<i64>,
}

impl Series {
    pub(crate) fn labels(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.labels.iter().map(|(k, v)| (&**k, &**v))
    }
}

/// Writes the identity of `m`'s series into `buf`: the metric name and the labels (sorted, as
/// `Labels` keeps them; empty values left out), each length-prefixed so that no two differ
/// only in where one part ends.
pub(crate) fn encode_key(buf: &mut Vec<u8>, m: &Metric) {
    buf.clear();
    let mut put = |s: &str| {
        buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    };
    put(&m.name);
    for (k, v) in m.labels.iter().filter(|(_, v)| !v.is_empty()) {
        put(k);
        put(v);
    }
}

/// The hash of an encoded key, seeded per process (keys come from untrusted senders).
pub(crate) fn key_hash(hasher: &impl BuildHasher, key: &[u8]) -> u64 {
    hasher.hash_one(key)
}

/// The series slab and its hash index (chains through `Series::next`).
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub slots: Vec<Option<Series>>,
    free: Vec<u32>,
    generations: Vec<u32>,
    index: Map<u64, u32>,
    pub hasher: foldhash::fast::RandomState,
    pub len: usize,
}

impl Store {
    /// The slot of the series with this encoded key, if it is tracked.
    pub(crate) fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let mut slot = *self.index.get(&hash)?;
        while slot != NIL {
            let s = self.slots[slot as usize]
                .as_ref()
                .expect("index chains hold live slots");
            if *s.key == *key {
                return Some(slot);
            }
            slot = s.next;
        }
        None
    }

    /// Adds a series (its `next` and `generation` are set here) and returns its slot.
    pub(crate) fn insert(&mut self, mut s: Series) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.generations.push(0);
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 series")
            }
        };
        let g = &mut self.generations[slot as usize];
        *g = g.wrapping_add(1);
        s.generation = *g;
        s.next = self.index.insert(s.hash, slot).unwrap_or(NIL);
        self.slots[slot as usize] = Some(s);
        self.len += 1;
        slot
    }

    /// Removes the series in `slot`.
    pub(crate) fn remove(&mut self, slot: u32) -> Option<Series> {
        let s = self.slots[slot as usize].take()?;
        // Unlink from its hash chain.
        match self.index.get(&s.hash).copied() {
            Some(head) if head == slot => {
                if s.next == NIL {
                    self.index.remove(&s.hash);
                } else {
                    self.index.insert(s.hash, s.next);
                }
            }
            Some(mut at) => {
                while at != NIL {
                    let cur = self.slots[at as usize]
                        .as_mut()
                        .expect("index chains hold live slots");
                    if cur.next == slot {
                        cur.next = s.next;
                        break;
                    }
                    at = cur.next;
                }
            }
            None => {}
        }
        self.free.push(slot);
        self.len -= 1;
        Some(s)
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Series> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Labels;

    fn metric(name: &str, labels: &[(&str, &str)]) -> Metric {
        Metric {
            name: name.into(),
            labels: labels
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<Labels>(),
            value: 1.0,
        }
    }

    fn key(m: &Metric) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_key(&mut buf, m);
        buf
    }

    fn series(m: &Metric, hash: u64) -> Series {
        Series {
            generation: 0,
            hash,
            key: key(m).into(),
            next: NIL,
            metric: m.name.as_str().into(),
            labels: m
                .labels
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.as_str().into(), v.as_str().into()))
                .collect(),
            ring: Ring::default(),
            last_ts: i64::MIN,
            last_seen: i64::MIN,
            pairs: Vec::new(),
            armed: None,
            evaluated_at: i64::MIN,
            wake: None,
        }
    }

    #[test]
    fn colliding_hashes_chain_and_unlink() {
        let mut st = Store::default();
        let (a, b, c) = (
            metric("m", &[("host", "a")]),
            metric("m", &[("host", "b")]),
            metric("m", &[("host", "c")]),
        );
        // Force one hash for all three.
        let sa = st.insert(series(&a, 42));
        let sb = st.insert(series(&b, 42));
        let sc = st.insert(series(&c, 42));
        let (ka, kb, kc) = (key(&a), key(&b), key(&c));
        assert_eq!(st.find(42, &ka), Some(sa));
        assert_eq!(st.find(42, &kb), Some(sb));
        assert_eq!(st.find(42, &kc), Some(sc));
        st.remove(sb);
        assert_eq!(st.find(42, &kb), None);
        assert_eq!(st.find(42, &ka), Some(sa));
        assert_eq!(st.find(42, &kc), Some(sc));
        st.remove(sc);
        assert_eq!(st.find(42, &ka), Some(sa));
        st.remove(sa);
        assert_eq!(st.find(42, &ka), None);
        assert_eq!(st.len, 0);
    }

    #[test]
    fn empty_label_values_are_absent_and_order_does_not_matter() {
        let st = Store::default();
        let a = metric("m", &[("host", "a"), ("dc", "")]);
        let b = metric("m", &[("host", "a")]);
        assert_eq!(key(&a), key(&b));
        assert_eq!(
            key_hash(&st.hasher, &key(&a)),
            key_hash(&st.hasher, &key(&b))
        );
        assert_ne!(
            key(&metric("m", &[("ab", "c")])),
            key(&metric("m", &[("a", "bc")]))
        );
        assert_ne!(
            key(&metric("m", &[("a", "b")])),
            key(&metric("ma", &[("", "b")]))
        );
    }
}
