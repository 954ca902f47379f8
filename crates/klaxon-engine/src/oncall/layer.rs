//! One compiled rotation layer: when hand-off `k` happens, who holds shift `k`, and the weekly
//! windows that restrict it, walked hand-off by hand-off (never minute by minute) over a range.

use super::clock::Clock;
use super::length::{Length, DAY_MS};
use super::overlay::{push, Piece, Tag};

/// A weekly window in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Restriction {
    /// Weekdays it starts on, Monday = bit 0.
    pub days: u8,
    /// Milliseconds after local midnight.
    pub from: i64,
    /// Milliseconds after local midnight; not after `from`: on the next day.
    pub to: i64,
}

/// Buffers a query reuses from one layer to the next.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    windows: Vec<(i64, i64)>,
    rotation: Vec<Piece>,
}

#[derive(Debug, Clone)]
pub(super) struct Layer {
    /// Rotation order, by the schedule's user index.
    pub users: Vec<u32>,
    pub length: Length,
    /// The first hand-off as a local value (see `clock`).
    pub handoff_local: i64,
    /// The first hand-off as an instant.
    pub first_handoff: i64,
    pub restrictions: Vec<Restriction>,
}

impl Layer {
    /// The instant of hand-off `k` (0 is the first; negative ones are before the layer starts).
    fn handoff(&self, clock: &Clock, k: i64) -> i64 {
        match self.length {
            Length::Days(d) => clock.instant(self.handoff_local + k * d * DAY_MS),
            Length::Fixed(ms) => self.first_handoff + k * ms,
        }
    }

    /// A hand-off at or before `t`, counted from the local time `t` shows: never after the last
    /// one (a local time at or past hand-off `k`'s means it has happened) and at most one
    /// before it (in a repeated hour the clock shows an earlier time than a hand-off that has
    /// happened). Negative: `t` is before the layer starts.
    fn index_near(&self, clock: &Clock, t: i64) -> i64 {
        match self.length {
            Length::Days(d) => (clock.local(t) - self.handoff_local).div_euclid(d * DAY_MS),
            Length::Fixed(ms) => (t - self.first_handoff).div_euclid(ms),
        }
    }

    fn user(&self, k: i64) -> u32 {
        let n = i64::try_from(self.users.len()).expect("a layer holds fewer than 2^63 users");
        let i = usize::try_from(k.rem_euclid(n)).expect("a remainder fits in usize");
        self.users[i]
    }

    /// Appends to `out` who this layer has on call within `[from, until)`, in order.
    pub(super) fn pieces(
        &self,
        clock: &Clock,
        from: i64,
        until: i64,
        source: Tag,
        scratch: &mut Scratch,
        out: &mut Vec<Piece>,
    ) {
        if self.restrictions.is_empty() {
            self.rotation(clock, from, until, source, out);
            return;
        }
        let Scratch { windows, rotation } = scratch;
        windows.clear();
        rotation.clear();
        self.windows(clock, from, until, windows);
        let (Some(first), Some(last)) = (windows.first(), windows.last()) else {
            return;
        };
        self.rotation(clock, first.0, last.1, source, rotation);
        out.reserve(windows.len() + rotation.len());
        let (mut i, mut j) = (0, 0);
        while let (Some(p), Some(&(ws, we))) = (rotation.get(i), windows.get(j)) {
            let (s, e) = (p.start.max(ws), p.end.min(we));
            if s < e {
                push(
                    out,
                    Piece {
                        start: s,
                        end: e,
                        ..*p
                    },
                );
            }
            if p.end <= we {
                i += 1;
            } else {
                j += 1;
            }
        }
    }

    /// The rotation alone: shift `k` runs from hand-off `k` to hand-off `k + 1`. Starting one
    /// shift early costs an empty shift, skipped.
    fn rotation(&self, clock: &Clock, from: i64, until: i64, source: Tag, out: &mut Vec<Piece>) {
        let mut k = self.index_near(clock, from).max(0);
        let mut start = self.handoff(clock, k);
        while start < until {
            let end = self.handoff(clock, k + 1);
            let (s, e) = (start.max(from), end.min(until));
            if s < e {
                let user = self.user(k);
                push(
                    out,
                    Piece {
                        start: s,
                        end: e,
                        user,
                        source,
                    },
                );
            }
            k += 1;
            start = end;
        }
    }

    /// The restriction windows meeting `[from, until)`, clipped to it, sorted, and merged where
    /// they overlap or touch.
    fn windows(&self, clock: &Clock, from: i64, until: i64, out: &mut Vec<(i64, i64)>) {
        // A window belongs to the local day it starts on; one from the day before may still run,
        // and around a clock change the local day of `from` or `until` may be off by one.
        let first = clock.local(from).div_euclid(DAY_MS) - 1;
        let last = clock.local(until).div_euclid(DAY_MS) + 1;
        for day in first..=last {
            // 1970-01-01 (day 0) was a Thursday, three days after a Monday.
            let weekday = (day + 3).rem_euclid(7);
            for r in &self.restrictions {
                if r.days & (1 << weekday) == 0 {
                    continue;
                }
                let end_day = if r.to <= r.from { day + 1 } else { day };
                let s = clock.instant(day * DAY_MS + r.from).max(from);
                let e = clock.instant(end_day * DAY_MS + r.to).min(until);
                if s < e {
                    out.push((s, e));
                }
            }
        }
        if self.restrictions.len() > 1 {
            out.sort_unstable_by_key(|w| w.0);
        }
        let mut kept: usize = 0;
        for i in 0..out.len() {
            let w = out[i];
            if kept > 0 && w.0 <= out[kept - 1].1 {
                out[kept - 1].1 = out[kept - 1].1.max(w.1);
            } else {
                out[kept] = w;
                kept += 1;
            }
        }
        out.truncate(kept);
    }
}
