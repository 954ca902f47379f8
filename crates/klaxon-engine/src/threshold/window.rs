//! Sliding windows over a series' samples: the incremental state of one aggregation.
//! Owns no samples (the series' ring buffer does) and no alert state; every update is O(1)
//! amortised, except p95 whose sorted copy moves O(n) values (a `memmove`), so evaluating a
//! sample never rescans its window.

use std::collections::VecDeque;

use super::rule::Aggregation;

/// One sample of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    pub ts: i64,
    pub v: f64,
}

/// A series' samples, oldest first; `base` is the sequence number of `points[0]`.
#[derive(Debug, Default)]
pub(crate) struct Ring {
    pub points: VecDeque<Point>,
    pub base: u64,
}

impl Ring {
    /// The sequence number one past the newest point.
    pub(crate) fn end(&self) -> u64 {
        self.base + self.points.len() as u64
    }

    pub(crate) fn at(&self, seq: u64) -> Point {
        self.points[(seq - self.base) as usize]
    }
}

/// The window of one (rule, series) pair: the points from `start` to the newest.
#[derive(Debug)]
pub(crate) struct Window {
    pub start: u64,
    acc: Acc,
}

#[derive(Debug)]
enum Acc {
    /// `last` and `count` need nothing beyond the bounds.
    Bounds,
    /// `sum` and `avg`: a compensated running sum, recomputed after as many removals as the
    /// window holds so that rounding never accumulates.
    Sum { sum: f64, comp: f64, churn: u64 },
    /// `min` / `max`: a monotonic deque of (sequence, value).
    Extreme {
        max: bool,
        deque: VecDeque<(u64, f64)>,
    },
    /// `rate`: the sum of the values before each counter reset inside the window.
    Rate { resets: f64, comp: f64, churn: u64 },
    /// `p95`: the window's values, sorted by `f64::total_cmp`.
    Sorted(Vec<f64>),
}

fn add(sum: &mut f64, comp: &mut f64, x: f64) {
    // Neumaier's compensated summation.
    let t = *sum + x;
    if sum.abs() >= x.abs() {
        *comp += (*sum - t) + x;
    } else {
        *comp += (x - t) + *sum;
    }
    *sum = t;
}

impl Window {
    /// An empty window starting at `start` (the ring's end).
    pub(crate) fn new(agg: Aggregation, start: u64) -> Window {
        let acc = match agg {
            Aggregation::Last | Aggregation::Count => Acc::Bounds,
            Aggregation::Avg | Aggregation::Sum => Acc::Sum {
                sum: 0.0,
                comp: 0.0,
                churn: 0,
            },
            Aggregation::Min | Aggregation::Max => Acc::Extreme {
                max: agg == Aggregation::Max,
                deque: VecDeque::new(),
            },
            Aggregation::Rate => Acc::Rate {
                resets: 0.0,
                comp: 0.0,
                churn: 0,
            },
            Aggregation::P95 => Acc::Sorted(Vec::new()),
        };
        Window { start, acc }
    }

    /// A window over the ring's points newer than `after`.
    pub(crate) fn build(agg: Aggregation, ring: &Ring, after: i64) -> Window {
        let first = ring
            .points
            .iter()
            .position(|p| p.ts > after)
            .map_or(ring.end(), |i| ring.base + i as u64);
        let mut w = Window::new(agg, first);
        for seq in first..ring.end() {
            w.include(ring, seq);
        }
        w
    }

    pub(crate) fn len(&self, ring: &Ring) -> u64 {
        ring.end() - self.start
    }

    /// Takes in the point `seq`, just appended to the ring.
    pub(crate) fn include(&mut self, ring: &Ring, seq: u64) {
        let v = ring.at(seq).v;
        match &mut self.acc {
            Acc::Bounds => {}
            Acc::Sum { sum, comp, .. } => add(sum, comp, v),
            Acc::Extreme { max, deque } => {
                while deque
                    .back()
                    .is_some_and(|&(_, b)| if *max { b <= v } else { b >= v })
                {
                    deque.pop_back();
                }
                deque.push_back((seq, v));
            }
            Acc::Rate { resets, comp, .. } => {
                if seq > self.start {
                    let prev = ring.at(seq - 1).v;
                    if v < prev {
                        add(resets, comp, prev);
                    }
                }
            }
            Acc::Sorted(values) => {
                let i = values
                    .binary_search_by(|x| x.total_cmp(&v))
                    .unwrap_or_else(|i| i);
                values.insert(i, v);
            }
        }
    }

    /// Drops the oldest point of the window (the ring still holds it).
    pub(crate) fn drop_oldest(&mut self, ring: &Ring) {
        let seq = self.start;
        let first = ring.at(seq);
        let len = self.len(ring);
        self.start += 1;
        match &mut self.acc {
            Acc::Bounds => {}
            Acc::Sum { sum, comp, churn } => {
                add(sum, comp, -first.v);
                *churn += 1;
                if *churn >= len || !sum.is_finite() {
                    (*sum, *comp) = (0.0, 0.0);
                    for s in self.start..ring.end() {
                        add(sum, comp, ring.at(s).v);
                    }
                    *churn = 0;
                }
            }
            Acc::Extreme { deque, .. } => {
                if deque.front().is_some_and(|&(s, _)| s == seq) {
                    deque.pop_front();
                }
            }
            Acc::Rate {
                resets,
                comp,
                churn,
            } => {
                if self.start < ring.end() && ring.at(self.start).v < first.v {
                    add(resets, comp, -first.v);
                }
                *churn += 1;
                if *churn >= len || !resets.is_finite() {
                    (*resets, *comp) = (0.0, 0.0);
                    for s in self.start + 1..ring.end() {
                        let (prev, cur) = (ring.at(s - 1).v, ring.at(s).v);
                        if cur < prev {
                            add(resets, comp, prev);
                        }
                    }
                    *churn = 0;
                }
            }
            Acc::Sorted(values) => {
                if let Ok(i) = values.binary_search_by(|x| x.total_cmp(&first.v)) {
                    values.remove(i);
                }
            }
        }
    }

    /// Drops the points at or before `cutoff` (they left the window).
    pub(crate) fn expire(&mut self, ring: &Ring, cutoff: i64) {
        while self.start < ring.end() && ring.at(self.start).ts <= cutoff {
            self.drop_oldest(ring);
        }
    }

    /// The aggregate; `None` when it is undefined (no samples, or a rate of fewer than two
    /// samples or of samples at one instant, or a value that overflowed).
    pub(crate) fn value(&self, agg: Aggregation, ring: &Ring) -> Option<f64> {
        let n = self.len(ring);
        if agg == Aggregation::Count {
            return Some(n as f64);
        }
        if n == 0 {
            return None;
        }
        let v = match (&self.acc, agg) {
            (Acc::Sum { sum, comp, .. }, Aggregation::Sum) => sum + comp,
            (Acc::Sum { sum, comp, .. }, _) => (sum + comp) / n as f64,
            (Acc::Extreme { deque, .. }, _) => deque.front()?.1,
            (Acc::Rate { resets, comp, .. }, _) => {
                let (first, last) = (ring.at(self.start), ring.at(ring.end() - 1));
                let dt = last.ts.checked_sub(first.ts).filter(|&dt| dt > 0)?;
                (last.v - first.v + resets + comp) * 1000.0 / dt as f64
            }
            (Acc::Sorted(values), _) => {
                let rank = 0.95 * (values.len() - 1) as f64;
                let lo = rank.floor() as usize;
                let hi = (lo + 1).min(values.len() - 1);
                values[lo] + (values[hi] - values[lo]) * (rank - lo as f64)
            }
            (Acc::Bounds, _) => ring.at(ring.end() - 1).v,
        };
        v.is_finite().then_some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(points: &[(i64, f64)]) -> Ring {
        Ring {
            points: points.iter().map(|&(ts, v)| Point { ts, v }).collect(),
            base: 7,
        }
    }

    fn value(agg: Aggregation, points: &[(i64, f64)], after: i64) -> Option<f64> {
        let r = ring(points);
        Window::build(agg, &r, after).value(agg, &r)
    }

    #[test]
    fn hand_computed_aggregates() {
        let pts = [(1, 10.0), (2, 30.0), (3, 20.0), (4, 40.0)];
        assert_eq!(value(Aggregation::Last, &pts, 0), Some(40.0));
        assert_eq!(value(Aggregation::Avg, &pts, 0), Some(25.0));
        assert_eq!(value(Aggregation::Sum, &pts, 0), Some(100.0));
        assert_eq!(value(Aggregation::Min, &pts, 0), Some(10.0));
        assert_eq!(value(Aggregation::Max, &pts, 0), Some(40.0));
        assert_eq!(value(Aggregation::Count, &pts, 0), Some(4.0));
        // p95 of [10, 20, 30, 40]: rank 0.95 × 3 = 2.85 → 30 + 0.85 × 10.
        assert_eq!(value(Aggregation::P95, &pts, 0), Some(38.5));
        // Rate: a reset after 30 (30 → 20): increase 40 − 10 + 30 = 60 over 3 ms.
        assert_eq!(value(Aggregation::Rate, &pts, 0), Some(20_000.0));
        // Only the points after ts 2.
        assert_eq!(value(Aggregation::Avg, &pts, 2), Some(30.0));
        // Rate of (3, 20) → (4, 40): 20 over 1 ms.
        assert_eq!(value(Aggregation::Rate, &pts, 2), Some(20_000.0));
    }

    #[test]
    fn empty_and_degenerate_windows() {
        for agg in Aggregation::ALL {
            let expected = (agg == Aggregation::Count).then_some(0.0);
            assert_eq!(value(agg, &[(1, 5.0)], 1), expected, "{agg}");
        }
        assert_eq!(value(Aggregation::Rate, &[(1, 5.0)], 0), None);
        assert_eq!(value(Aggregation::Rate, &[(1, 5.0), (1, 6.0)], 0), None);
        assert_eq!(value(Aggregation::P95, &[(1, 5.0)], 0), Some(5.0));
    }

    #[test]
    fn sliding_matches_recomputing() {
        // Every aggregation, slid point by point, equals the one built from scratch.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut r = Ring::default();
        let mut windows: Vec<(Aggregation, Window)> = Aggregation::ALL
            .into_iter()
            .map(|a| (a, Window::new(a, 0)))
            .collect();
        for ts in 0..2_000i64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = (state % 1000) as f64 / 7.0 - 40.0;
            r.points.push_back(Point { ts: ts * 10, v });
            let seq = r.end() - 1;
            let cutoff = ts * 10 - 300;
            for (_, w) in &mut windows {
                w.include(&r, seq);
                w.expire(&r, cutoff);
            }
            while r.points.len() > 40 {
                r.points.pop_front();
                r.base += 1;
            }
            for (agg, w) in &windows {
                let fresh = Window::build(*agg, &r, cutoff).value(*agg, &r);
                let slid = w.value(*agg, &r);
                match (slid, fresh) {
                    (Some(a), Some(b)) => assert!(
                        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                        "{agg}: {a} vs {b}"
                    ),
                    (a, b) => assert_eq!(a, b, "{agg}"),
                }
            }
        }
    }
}
