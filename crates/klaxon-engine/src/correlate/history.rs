//! Learned co-occurrence: pairs of alert kinds (alert name and service) that were together in
//! past incidents, counted when an incident closes, so a recurring failure is recognised.
//! Owns the counts; bounded by a most-kinds cap that forgets the least recently updated.

use std::collections::HashMap;

/// Partners remembered per kind (the most frequent ones).
const PARTNERS: usize = 16;
/// Kinds of one incident that learn from it (the first ones to join).
const KINDS_PER_INCIDENT: usize = 24;

type Partners = Vec<(u64, u32)>;

#[derive(Debug, Default)]
pub(crate) struct History {
    /// Kind → (partner kind, incidents together), most frequent first; and the last update.
    kinds: HashMap<u64, (Partners, u64), foldhash::fast::FixedState>,
    updates: u64,
    max_kinds: usize,
}

impl History {
    pub(crate) fn new(max_kinds: usize) -> History {
        History {
            max_kinds,
            ..History::default()
        }
    }

    /// Learns from one closed incident holding `kinds` (deduplicated here).
    pub(crate) fn learn(&mut self, kinds: &[u64]) {
        let mut distinct: Vec<u64> = Vec::with_capacity(kinds.len().min(KINDS_PER_INCIDENT));
        for &k in kinds {
            if !distinct.contains(&k) {
                distinct.push(k);
                if distinct.len() == KINDS_PER_INCIDENT {
                    break;
                }
            }
        }
        if distinct.len() < 2 {
            return;
        }
        self.updates += 1;
        for &a in &distinct {
            let (partners, updated) = self.kinds.entry(a).or_default();
            *updated = self.updates;
            for &b in distinct.iter().filter(|&&b| b != a) {
                match partners.iter().position(|p| p.0 == b) {
                    Some(i) => partners[i].1 += 1,
                    None if partners.len() < PARTNERS => partners.push((b, 1)),
                    None => {
                        // Replace the least frequent partner (the last one).
                        let last = partners.last_mut().expect("full");
                        *last = (b, 1);
                    }
                }
            }
            // Most frequent first; ties by key, so the order never depends on arrival.
            partners.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
        }
        if self.kinds.len() > self.max_kinds {
            let mut ages: Vec<(u64, u64)> = self.kinds.iter().map(|(&k, v)| (v.1, k)).collect();
            ages.sort_unstable();
            let drop = self.kinds.len() - self.max_kinds / 2;
            for &(_, k) in &ages[..drop] {
                self.kinds.remove(&k);
            }
        }
    }

    /// Incidents that held both kinds.
    pub(crate) fn together(&self, a: u64, b: u64) -> u32 {
        self.kinds
            .get(&a)
            .and_then(|(p, _)| p.iter().find(|p| p.0 == b))
            .map_or(0, |p| p.1)
    }

    /// The partners of `kind`, most frequent first.
    pub(crate) fn partners(&self, kind: u64) -> &[(u64, u32)] {
        self.kinds.get(&kind).map_or(&[], |(p, _)| p.as_slice())
    }

    pub(crate) fn kinds(&self) -> usize {
        self.kinds.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_count_incidents_and_the_cap_forgets_the_oldest() {
        let mut h = History::new(4);
        h.learn(&[1, 2, 2, 3]);
        h.learn(&[2, 1]);
        h.learn(&[7]);
        assert_eq!(h.together(1, 2), 2);
        assert_eq!(h.together(2, 1), 2);
        assert_eq!(h.together(1, 3), 1);
        assert_eq!(h.together(1, 7), 0);
        assert_eq!(h.partners(1)[0], (2, 2));
        h.learn(&[10, 11, 12]);
        // Six kinds over a cap of four: the least recently updated go, down to half the cap.
        assert_eq!(h.kinds(), 2);
        assert_eq!(h.together(11, 12), 1);
        assert_eq!(h.together(1, 2), 0);
    }
}
