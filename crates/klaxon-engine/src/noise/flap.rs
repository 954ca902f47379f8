//! Flap detection: an alert that changes between firing and not firing more than `changes`
//! times within `window_ms` is flapping; it is stable again once the changes within the window
//! fall back to `changes` or fewer. Callers hold its notifications while it flaps.

use std::collections::{HashMap, VecDeque};

/// The thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapSettings {
    /// More than this many changes within the window is flapping (0 turns detection off).
    pub changes: usize,
    pub window_ms: i64,
}

/// Recent changes of every alert that has had any.
#[derive(Debug, Clone, Default)]
pub struct Flaps {
    settings: Option<FlapSettings>,
    changes: HashMap<i64, VecDeque<i64>>,
}

impl Flaps {
    pub fn new(settings: FlapSettings) -> Flaps {
        Flaps {
            settings: (settings.changes > 0 && settings.window_ms > 0).then_some(settings),
            changes: HashMap::new(),
        }
    }

    fn trim(q: &mut VecDeque<i64>, s: FlapSettings, now: i64) {
        while q.front().is_some_and(|&t| t <= now - s.window_ms) {
            q.pop_front();
        }
    }

    /// Records a change of alert `id` at `at`; returns whether it is flapping now.
    pub fn record(&mut self, id: i64, at: i64) -> bool {
        let Some(s) = self.settings else {
            return false;
        };
        let q = self.changes.entry(id).or_default();
        q.push_back(at);
        Self::trim(q, s, at);
        // Bounded: the count is exact up to 64 changes within the window.
        while q.len() > (s.changes + 1).max(64) {
            q.pop_front();
        }
        q.len() > s.changes
    }

    /// Whether alert `id` is flapping at `now`, and how many changes the window holds.
    pub fn status(&self, id: i64, now: i64) -> (bool, usize) {
        let (Some(s), Some(q)) = (self.settings, self.changes.get(&id)) else {
            return (false, 0);
        };
        let n = q.iter().filter(|&&t| t > now - s.window_ms).count();
        (n > s.changes, n)
    }

    /// When alert `id`, flapping at `now`, becomes stable if nothing else changes.
    pub fn stable_at(&self, id: i64, now: i64) -> Option<i64> {
        let s = self.settings?;
        let q = self.changes.get(&id)?;
        let mut live = q.iter().copied().filter(|&t| t > now - s.window_ms);
        let n = live.clone().count();
        if n <= s.changes {
            return None;
        }
        // Stable once the oldest change that keeps it over the limit leaves the window.
        live.nth(n - s.changes - 1).map(|t| t + s.window_ms)
    }

    /// Forgets an alert (it closed).
    pub fn forget(&mut self, id: i64) {
        self.changes.remove(&id);
    }

    pub fn settings(&self) -> Option<FlapSettings> {
        self.settings
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn more_than_n_changes_in_the_window_is_flapping_until_they_age_out() {
        let mut f = Flaps::new(FlapSettings {
            changes: 3,
            window_ms: 1000,
        });
        assert!(!f.record(1, 0));
        assert!(!f.record(1, 100));
        assert!(!f.record(1, 200));
        assert!(f.record(1, 300), "the fourth change within a second");
        assert_eq!(f.status(1, 300), (true, 4));
        assert_eq!(
            f.stable_at(1, 300),
            Some(1000),
            "when the change at 0 leaves"
        );
        assert_eq!(f.status(1, 1000), (false, 3));
        assert!(!f.record(1, 2000), "the old changes are gone");
        assert_eq!(f.status(2, 0), (false, 0));
    }

    #[test]
    fn zero_turns_detection_off() {
        let mut f = Flaps::new(FlapSettings {
            changes: 0,
            window_ms: 1000,
        });
        for t in 0..10 {
            assert!(!f.record(1, t));
        }
    }
}
