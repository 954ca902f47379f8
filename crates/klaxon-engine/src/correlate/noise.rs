//! Noise: label sets that keep firing on their own (flapping) or at a fixed period (periodic).
//! Remembers the firings of each label set within the noise window, recognises noise, and
//! keeps a recognised label set's firings in one recurring group while it goes on. Owns the
//! per-label-set history only; bounded by the label sets that fired within the window.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::config::CorrelationConfig;
use super::index::Handle;

/// Why a label set's firings form a recurring group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// It keeps firing and resolving, each time on its own.
    Flapping,
    /// It fires at a regular interval.
    Periodic,
}

impl NoiseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseKind::Flapping => "flapping",
            NoiseKind::Periodic => "periodic",
        }
    }
}

/// One earlier firing of a label set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Past {
    pub alert: u64,
    pub start: i64,
    /// The incident it went to, if any, and its record while that incident is open.
    pub incident: Option<u64>,
    pub handle: Option<Handle>,
    /// The label sets it linked to or was linked from, as of when its record left memory
    /// (while it is in memory, the record says).
    pub partners: Partners,
}

/// Up to four other label sets an alert linked with (0 is no entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Partners([u64; 4]);

impl Partners {
    pub(crate) fn add(&mut self, fp: u64) {
        if self.0.contains(&fp) {
            return;
        }
        if let Some(free) = self.0.iter_mut().find(|x| **x == 0) {
            *free = fp;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().copied().filter(|&x| x != 0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct LabelSet {
    pub firings: VecDeque<Past>,
    /// Its recurring group, once recognised.
    pub group: Option<(u64, NoiseKind)>,
    pub last: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Recurrence {
    sets: HashMap<u64, LabelSet, foldhash::fast::FixedState>,
    /// (firing time, label set) in time order, to forget label sets quiet for a window.
    expiry: VecDeque<(i64, u64)>,
    next_group: u64,
}

/// At most this many firings are remembered per label set.
const MAX_FIRINGS: usize = 64;

impl Recurrence {
    /// Forgets label sets that have not fired within the window; returns the recurring groups
    /// that ended.
    pub(crate) fn advance(&mut self, c: &CorrelationConfig, now: i64, ended: &mut Vec<u64>) {
        while let Some(&(t, fp)) = self.expiry.front() {
            if t + c.noise_window_ms > now {
                break;
            }
            self.expiry.pop_front();
            if let Some(set) = self.sets.get_mut(&fp) {
                if set.last + c.noise_window_ms <= now {
                    if let Some((g, _)) = set.group {
                        ended.push(g);
                    }
                    self.sets.remove(&fp);
                } else {
                    while set
                        .firings
                        .front()
                        .is_some_and(|p| p.start + c.noise_window_ms <= now)
                    {
                        set.firings.pop_front();
                    }
                }
            }
        }
    }

    pub(crate) fn get(&self, fp: u64) -> Option<&LabelSet> {
        self.sets.get(&fp)
    }

    pub(crate) fn get_mut(&mut self, fp: u64) -> Option<&mut LabelSet> {
        self.sets.get_mut(&fp)
    }

    /// Records a firing of `fp`.
    pub(crate) fn record(&mut self, fp: u64, past: Past) {
        let set = self.sets.entry(fp).or_default();
        set.last = set.last.max(past.start);
        set.firings.push_back(past);
        if set.firings.len() > MAX_FIRINGS {
            set.firings.pop_front();
        }
        self.expiry.push_back((past.start, fp));
    }

    /// Starts a recurring group for `fp`.
    pub(crate) fn start_group(&mut self, fp: u64, kind: NoiseKind) -> u64 {
        self.next_group += 1;
        let g = self.next_group;
        self.sets.entry(fp).or_default().group = Some((g, kind));
        g
    }

    pub(crate) fn len(&self) -> usize {
        self.sets.len()
    }
}

/// Whether the firing at `now` of a label set with these earlier firings (within the window)
/// makes it noise: `alone` of them had no link to a label set that fired only once or twice.
pub(crate) fn recognise(
    c: &CorrelationConfig,
    starts: &[i64],
    alone: usize,
    now: i64,
) -> Option<NoiseKind> {
    if alone + 1 >= c.flap_min_firings {
        return Some(NoiseKind::Flapping);
    }
    periodic(c, starts, now).then_some(NoiseKind::Periodic)
}

/// At least `periodic_min_firings` starts (the last ones) at intervals within the tolerance of
/// their median (or half a minute, for scrape jitter), and at least a minute apart.
fn periodic(c: &CorrelationConfig, starts: &[i64], now: i64) -> bool {
    let need = c.periodic_min_firings;
    if starts.len() + 1 < need {
        return false;
    }
    let mut times: Vec<i64> = starts[starts.len() + 1 - need..].to_vec();
    times.push(now);
    let mut gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    if median < 60_000 {
        return false;
    }
    let slack = (c.periodic_tolerance * median as f64).max(30_000.0);
    gaps.iter().all(|&g| ((g - median).abs() as f64) <= slack)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_intervals_are_periodic_and_irregular_ones_not() {
        let c = CorrelationConfig::default();
        let hour = 3_600_000;
        let regular = [0, hour + 20_000, 2 * hour - 10_000];
        assert_eq!(
            recognise(&c, &regular, 0, 3 * hour),
            Some(NoiseKind::Periodic)
        );
        let irregular = [0, hour, 3 * hour];
        assert_eq!(recognise(&c, &irregular, 0, 4 * hour), None);
        // Too few firings.
        assert_eq!(recognise(&c, &regular[1..], 0, 3 * hour), None);
        // Firings on their own are flapping whatever the intervals.
        assert_eq!(
            recognise(&c, &irregular, 3, 4 * hour),
            Some(NoiseKind::Flapping)
        );
        assert_eq!(recognise(&c, &irregular, 2, 4 * hour), None);
    }
}
