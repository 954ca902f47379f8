//! Threshold rules on metric samples (the format of `docs/threshold-rules.md`): parsing,
//! the per-series ring buffers, the pending → firing → resolved state machine of each
//! (rule, series) pair, and one deadline set for what time alone changes.
//!
//! Pure, like the event-rules engine: no I/O, no clock reads, no async runtime. The caller
//! passes engine time with every call and owns the buffer events are written into. One owner
//! drives it, so it needs no locks. A sample of a known series allocates nothing.

mod activation;
mod eval;
mod event;
mod parse;
mod rule;
mod series;
mod window;
#[doc(hidden)]
pub mod workload;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::signal::{Labels, Metric};
use crate::Map;

pub use eval::fmt_duration;
pub use event::{threshold_fingerprint, ThresholdEvent, ThresholdEventKind};
pub use parse::{parse_duration, parse_threshold_rules, ParsedThreshold, RULE_KEYS};
pub use rule::{Aggregation, LabelMatcher, MatchOp, Operator, ThresholdRule, ThresholdRuleSet};
pub use series::State as PairState;

use activation::new_pair;
use eval::Compiled;
use series::{encode_key, key_hash, Series, State, Store, NIL};
use window::{Point, Ring};

/// Bounds on the engine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThresholdLimits {
    /// Series tracked at once; a sample of a new series beyond it is dropped (and counted).
    pub max_series: usize,
    /// Samples kept per series; beyond it the oldest is dropped, shortening long windows.
    pub max_points_per_series: usize,
}

impl Default for ThresholdLimits {
    fn default() -> Self {
        ThresholdLimits {
            max_series: 1_000_000,
            max_points_per_series: 10_000,
        }
    }
}

/// A series idle this long past its longest window, with no alert open, is forgotten.
pub const IDLE_SERIES_MS: i64 = 5 * 60_000;

/// What became of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleOutcome {
    /// Taken into its series and evaluated (`ts` is the sample's time).
    Evaluated { ts: i64 },
    /// No active rule is about this metric name: nothing is kept.
    NoRule,
    /// Not newer than the newest sample of its series: dropped (as Prometheus does).
    OutOfOrder,
    /// The value is NaN or infinite: dropped.
    NotFinite,
    /// A new series while `max_series` are tracked: dropped.
    SeriesLimit,
}

/// Counters of the engine's work since it was created, and its current sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThresholdStats {
    pub samples: u64,
    pub samples_evaluated: u64,
    pub samples_no_rule: u64,
    pub samples_out_of_order: u64,
    pub samples_not_finite: u64,
    pub samples_series_limit: u64,
    /// Samples dropped from full series (`max_points_per_series`).
    pub points_evicted: u64,
    pub events: u64,
    pub timers_fired: u64,
    pub series_forgotten: u64,
    pub series: usize,
    pub pairs: usize,
    pub pending: usize,
    pub firing: usize,
    pub points: usize,
    pub timer_entries: usize,
    pub rules: usize,
}

/// One (rule, series) pair as of its series' last evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSnapshot {
    pub group: Arc<str>,
    pub rule_id: Arc<str>,
    pub metric: Arc<str>,
    /// The series' full label set.
    pub labels: Labels,
    pub state: PairState,
    /// The aggregate at the last evaluation; `None` when undefined.
    pub value: Option<f64>,
    /// When the condition started holding, while pending or firing.
    pub since: Option<i64>,
    pub fingerprint: u64,
    /// The instant of that evaluation.
    pub evaluated_at: i64,
}

/// One active threshold rule set.
#[derive(Debug)]
struct ActiveSet {
    group: Arc<str>,
    name: Arc<str>,
    version: Option<serde_json::Number>,
    set: ThresholdRuleSet,
}

/// A deadline-set entry: evaluate the series in `slot` at instant `at`, once engine time is
/// strictly past it (so that every sample of that instant has been taken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Wake {
    at: i64,
    seq: u64,
    slot: u32,
    generation: u32,
}

/// The threshold-rules engine.
pub struct ThresholdEngine {
    now: i64,
    limits: ThresholdLimits,
    /// Active sets, sorted by group.
    active: Vec<ActiveSet>,
    /// The enabled rules of the active sets, in group then document order.
    rules: Vec<Compiled>,
    /// Metric name → indices into `rules`.
    by_metric: Map<Box<str>, Vec<u32>>,
    store: Store,
    /// The encoded key of the sample being taken (reused: no allocation per sample).
    scratch: Vec<u8>,
    timers: BinaryHeap<Reverse<Wake>>,
    seq: u64,
    stats: ThresholdStats,
}

impl Default for ThresholdEngine {
    fn default() -> Self {
        ThresholdEngine::new()
    }
}

impl ThresholdEngine {
    pub fn new() -> ThresholdEngine {
        ThresholdEngine::with_limits(ThresholdLimits::default())
    }

    pub fn with_limits(limits: ThresholdLimits) -> ThresholdEngine {
        ThresholdEngine {
            now: i64::MIN,
            limits: ThresholdLimits {
                max_series: limits.max_series,
                max_points_per_series: limits.max_points_per_series.max(1),
            },
            active: Vec::new(),
            rules: Vec::new(),
            by_metric: Map::default(),
            store: Store::default(),
            scratch: Vec::with_capacity(256),
            timers: BinaryHeap::new(),
            seq: 0,
            stats: ThresholdStats::default(),
        }
    }

    /// Engine time: the largest `now` passed so far (`i64::MIN` before the first call).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The active sets as (group, name, version).
    pub fn active(&self) -> impl Iterator<Item = (&str, &str, Option<&serde_json::Number>)> {
        self.active
            .iter()
            .map(|a| (&*a.group, &*a.name, a.version.as_ref()))
    }

    /// The earliest instant at which time alone may change something (a `for` or
    /// `resolve_after` running out, a sample leaving a window), a lower bound: call
    /// [`ThresholdEngine::advance`] with a time strictly past it. `None` when nothing is armed.
    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse(w)| w.at)
    }

    /// Moves engine time to `now` (never backwards) and evaluates, in instant order, every
    /// series with a deadline instant strictly before `now`, at that instant. Events therefore
    /// carry the exact instant, and do not depend on how often `advance` is called.
    pub fn advance(&mut self, now: i64, out: &mut Vec<ThresholdEvent>) {
        self.now = self.now.max(now);
        while let Some(&Reverse(w)) = self.timers.peek() {
            if w.at >= self.now {
                break;
            }
            self.timers.pop();
            let Some(s) = self.store.get_mut(w.slot) else {
                continue;
            };
            if s.generation != w.generation || s.armed != Some(w.at) {
                continue; // stale: the series was forgotten or re-armed earlier
            }
            s.armed = None;
            if s.evaluated_at >= w.at {
                // A sample of that instant already evaluated the series: only re-arm.
                if let Some(next) = s.wake {
                    self.arm(w.slot, next);
                }
                continue;
            }
            self.stats.timers_fired += 1;
            self.evaluate(w.slot, w.at, out);
        }
    }

    /// Takes one sample (`ts` `None` = engine time) at engine time `now`, appending the events
    /// it (and any deadline due before it) causes to `out`.
    pub fn process(
        &mut self,
        now: i64,
        ts: Option<i64>,
        sample: &Metric,
        out: &mut Vec<ThresholdEvent>,
    ) -> SampleOutcome {
        self.stats.samples += 1;
        self.advance(now, out);
        if !sample.value.is_finite() {
            self.stats.samples_not_finite += 1;
            return SampleOutcome::NotFinite;
        }
        if !self.by_metric.contains_key(sample.name.as_str()) {
            self.stats.samples_no_rule += 1;
            return SampleOutcome::NoRule;
        }
        encode_key(&mut self.scratch, sample);
        let hash = key_hash(&self.store.hasher, &self.scratch);
        let slot = match self.store.find(hash, &self.scratch) {
            Some(slot) => slot,
            None => match self.create(hash, sample) {
                Some(slot) => slot,
                None => {
                    self.stats.samples_series_limit += 1;
                    return SampleOutcome::SeriesLimit;
                }
            },
        };
        let t = self.now;
        let ts = ts.unwrap_or(t);
        let cap = self.limits.max_points_per_series;
        let s = self.store.slots[slot as usize]
            .as_mut()
            .expect("slot checked or created above");
        if ts <= s.last_ts {
            self.stats.samples_out_of_order += 1;
            // Keep the armed deadline: nothing changed.
            return SampleOutcome::OutOfOrder;
        }
        s.last_ts = ts;
        s.last_seen = t;
        if !s.pairs.is_empty() {
            if s.ring.points.len() >= cap {
                for p in &mut s.pairs {
                    if p.window.start == s.ring.base {
                        p.window.drop_oldest(&s.ring);
                    }
                }
                s.ring.points.pop_front();
                s.ring.base += 1;
                self.stats.points_evicted += 1;
            }
            s.ring.points.push_back(Point {
                ts,
                v: sample.value,
            });
            let seq = s.ring.end() - 1;
            for p in &mut s.pairs {
                p.window.include(&s.ring, seq);
            }
        }
        self.stats.samples_evaluated += 1;
        self.evaluate(slot, t, out);
        SampleOutcome::Evaluated { ts }
    }

    /// Every (rule, series) pair, in series then rule order: for status pages and tests.
    pub fn snapshot(&self) -> Vec<PairSnapshot> {
        let mut out = Vec::new();
        for s in self.store.slots.iter().flatten() {
            for p in &s.pairs {
                let c = &self.rules[p.rule as usize];
                out.push(PairSnapshot {
                    group: Arc::clone(&c.group),
                    rule_id: Arc::clone(&c.id),
                    metric: Arc::clone(&c.metric),
                    labels: s
                        .labels()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                    state: p.state,
                    value: p.value,
                    since: (p.state != PairState::Inactive).then_some(p.since),
                    fingerprint: p.fingerprint,
                    evaluated_at: s.evaluated_at,
                });
            }
        }
        out
    }

    /// Counters and sizes.
    pub fn stats(&self) -> ThresholdStats {
        let mut st = self.stats;
        st.series = self.store.len;
        st.rules = self.rules.len();
        st.timer_entries = self.timers.len();
        for s in self.store.slots.iter().flatten() {
            st.pairs += s.pairs.len();
            st.points += s.ring.points.len();
            for p in &s.pairs {
                match p.state {
                    State::Pending => st.pending += 1,
                    State::Firing => st.firing += 1,
                    State::Inactive => {}
                }
            }
        }
        st
    }

    /// Evaluates the series in `slot` at `t`, re-arms its deadline and forgets it when idle.
    fn evaluate(&mut self, slot: u32, t: i64, out: &mut Vec<ThresholdEvent>) {
        let s = self.store.slots[slot as usize]
            .as_mut()
            .expect("evaluated series are live");
        eval::expire(&self.rules, s, t);
        let before = out.len();
        let wake = eval::evaluate(&self.rules, s, t, out);
        self.stats.events += (out.len() - before) as u64;
        let longest = s
            .pairs
            .iter()
            .map(|p| self.rules[p.rule as usize].rule.window_ms)
            .max()
            .unwrap_or(0);
        let idle_at = s
            .last_seen
            .saturating_add(longest)
            .saturating_add(IDLE_SERIES_MS);
        let quiet = s.ring.points.is_empty() && s.pairs.iter().all(|p| p.state == State::Inactive);
        if quiet && t >= idle_at {
            self.store.remove(slot);
            self.stats.series_forgotten += 1;
            return;
        }
        // Also wake when the series may become idle, so one that stops reporting is forgotten
        // (an open alert keeps it; its next state change re-arms this).
        let idle = (idle_at > t).then_some(idle_at);
        let wake = match (wake, idle) {
            (Some(w), Some(i)) => Some(w.min(i)),
            (w, i) => w.or(i),
        };
        s.evaluated_at = t;
        s.wake = wake;
        if let Some(w) = wake {
            self.arm(slot, w);
        }
    }

    /// Arms the series' instant unless an earlier one is already armed (checked when due).
    fn arm(&mut self, slot: u32, at: i64) {
        let s = self.store.slots[slot as usize]
            .as_mut()
            .expect("armed series are live");
        if s.armed.is_some_and(|a| a <= at) {
            return;
        }
        s.armed = Some(at);
        self.seq += 1;
        self.timers.push(Reverse(Wake {
            at,
            seq: self.seq,
            slot,
            generation: s.generation,
        }));
    }

    /// Starts tracking the series of `m`, with a pair for each rule that matches it.
    fn create(&mut self, hash: u64, m: &Metric) -> Option<u32> {
        if self.store.len >= self.limits.max_series {
            return None;
        }
        let labels: Box<[(Box<str>, Box<str>)]> = m
            .labels
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (Box::from(k.as_str()), Box::from(v.as_str())))
            .collect();
        let mut s = Series {
            generation: 0,
            hash,
            key: Box::from(self.scratch.as_slice()),
            next: NIL,
            metric: Box::from(m.name.as_str()),
            labels,
            ring: Ring::default(),
            last_ts: i64::MIN,
            last_seen: self.now,
            pairs: Vec::new(),
            armed: None,
            evaluated_at: i64::MIN,
            wake: None,
        };
        let candidates = self
            .by_metric
            .get(m.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        for &r in candidates {
            let c = &self.rules[r as usize];
            if c.rule.matches_labels(s.labels()) {
                s.pairs.push(new_pair(r, c, &s, self.now));
            }
        }
        Some(self.store.insert(s))
    }
}
