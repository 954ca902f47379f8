//! How rare a label value or a word is: document frequencies over a sliding window of alerts,
//! kept in time buckets so the window slides without remembering each alert. Owns counting
//! only; memory is bounded by the distinct keys seen within the window.

use std::collections::{HashMap, VecDeque};

type Counts = HashMap<u64, u32, foldhash::fast::FixedState>;

/// Buckets per window.
const BUCKETS: i64 = 12;

#[derive(Debug, Default)]
pub(crate) struct Rarity {
    bucket_ms: i64,
    /// (bucket start, alerts in it, the keys they held), oldest first.
    buckets: VecDeque<(i64, u32, Vec<u64>)>,
    totals: Counts,
    docs: u32,
}

impl Rarity {
    pub(crate) fn new(window_ms: i64) -> Rarity {
        Rarity {
            bucket_ms: (window_ms / BUCKETS).max(1),
            ..Rarity::default()
        }
    }

    /// Drops the buckets that left the window at `now`.
    pub(crate) fn advance(&mut self, now: i64) {
        while let Some(&(start, docs, _)) = self.buckets.front() {
            if start + self.bucket_ms * BUCKETS > now {
                break;
            }
            let (_, _, keys) = self.buckets.pop_front().expect("front exists");
            self.docs -= docs;
            for k in keys {
                if let Some(t) = self.totals.get_mut(&k) {
                    *t -= 1;
                    if *t == 0 {
                        self.totals.remove(&k);
                    }
                }
            }
        }
    }

    /// Counts one alert holding `keys` (each key once) at `now`.
    #[cfg(test)]
    pub(crate) fn add(&mut self, now: i64, keys: impl IntoIterator<Item = u64>) {
        self.start_doc(now);
        for k in keys {
            self.count(k);
        }
    }

    /// Starts counting an alert at `now`; its keys follow through [`Rarity::count`].
    pub(crate) fn start_doc(&mut self, now: i64) {
        let start = now - now.rem_euclid(self.bucket_ms);
        if self.buckets.back().is_none_or(|b| b.0 < start) {
            self.buckets.push_back((start, 0, Vec::new()));
        }
        let bucket = self.buckets.back_mut().expect("just pushed");
        bucket.1 += 1;
        self.docs += 1;
    }

    /// Counts `key` in the alert started last, and returns its rarity among the alerts before
    /// it (what [`Rarity::of`] answered before the alert started): one lookup, not two.
    pub(crate) fn count(&mut self, key: u64) -> f64 {
        let bucket = self.buckets.back_mut().expect("an alert was started");
        bucket.2.push(key);
        let t = self.totals.entry(key).or_insert(0);
        let df = f64::from(*t) + 1.0;
        *t += 1;
        let n = f64::from(self.docs - 1) + 2.0;
        ((n / df).ln() / n.ln()).clamp(0.0, 1.0)
    }

    /// The rarity of `key` in [0, 1]: 1 for a key no alert in the window held, near 0 for one
    /// every alert holds (a normalised inverse document frequency).
    #[cfg(test)]
    pub(crate) fn of(&self, key: u64) -> f64 {
        let n = f64::from(self.docs) + 2.0;
        let df = f64::from(self.totals.get(&key).copied().unwrap_or(0)) + 1.0;
        ((n / df).ln() / n.ln()).clamp(0.0, 1.0)
    }

    /// Distinct keys counted (for memory tests).
    pub(crate) fn keys(&self) -> usize {
        self.totals.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_values_say_little_and_the_window_forgets() {
        let mut r = Rarity::new(60_000);
        for i in 0..1000 {
            // Every alert is env=prod (key 1); one in a hundred is service=x (key 2).
            let rare = (i % 100 == 0).then_some(2);
            r.add(i, [1].into_iter().chain(rare));
        }
        assert!(r.of(1) < 0.01, "{}", r.of(1));
        assert!(r.of(2) > 0.6, "{}", r.of(2));
        assert!((r.of(3) - 1.0).abs() < 1e-9);
        // Counting answers what `of` said before the alert.
        let before = (r.of(1), r.of(2));
        r.start_doc(1000);
        assert_eq!((r.count(1), r.count(2)), before);
        r.advance(10 * 60_000);
        assert_eq!(r.keys(), 0);
        assert!((r.of(1) - 1.0).abs() < 1e-9);
    }
}
