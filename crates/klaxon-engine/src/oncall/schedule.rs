//! A compiled schedule and its two questions: who is on call at an instant, and the shifts over
//! a range. Computed from the layers' hand-offs and restriction windows, overlaid in priority
//! order; no clock is read, every instant is an argument.

use jiff::tz::TimeZone;

use super::clock::Clock;
use super::layer::{Layer, Scratch};
use super::overlay::{overlay, push, Piece, Source, Tag};

/// Schedules answer for the years 1850 to 3050 (1850-01-01T00:00:00Z to 3050-01-01T00:00:00Z);
/// outside, nobody is on call.
const FIRST_MS: i64 = -3_786_825_600_000;
const LAST_MS: i64 = 34_081_516_800_000;

/// Someone covers from `start` to `end`, by user index; `index` is its place in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Override {
    pub user: u32,
    pub start: i64,
    pub end: i64,
    pub index: usize,
}

/// A compiled on-call schedule (see [`compile`](super::compile)).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub(super) name: String,
    pub(super) time_zone_name: String,
    pub(super) tz: TimeZone,
    /// Every user named, each once, in order of first mention.
    pub(super) users: Vec<String>,
    pub(super) layers: Vec<Layer>,
    /// Sorted by start, disjoint.
    pub(super) overrides: Vec<Override>,
    /// How far before an instant the local times of hand-offs that decide it can lie.
    pub(super) reach_ms: i64,
}

/// One user on call without interruption from one source, `start_ms` to `end_ms` (epoch ms, end
/// exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift<'a> {
    pub user: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub source: Source,
}

impl Schedule {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The IANA name the schedule was declared with.
    pub fn time_zone_name(&self) -> &str {
        &self.time_zone_name
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Every user the schedule names (layers and overrides), each once.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(String::as_str)
    }

    /// Who is on call at `t_ms`, if anyone.
    pub fn on_call_at(&self, t_ms: i64) -> Option<&str> {
        self.shifts(t_ms, t_ms.saturating_add(1))
            .first()
            .map(|s| s.user)
    }

    /// The shifts meeting `[from_ms, until_ms)`, clipped to it, in order: each is a maximal
    /// stretch of one user from one source. Time when nobody is on call has no shift.
    pub fn shifts(&self, from_ms: i64, until_ms: i64) -> Vec<Shift<'_>> {
        let mut pieces = Vec::new();
        self.pieces(from_ms, until_ms, &mut pieces);
        pieces
            .into_iter()
            .map(|p| Shift {
                user: &self.users[p.user as usize],
                start_ms: p.start,
                end_ms: p.end,
                source: p.source.source(),
            })
            .collect()
    }

    fn pieces(&self, from: i64, until: i64, out: &mut Vec<Piece>) {
        out.clear();
        let (from, until) = (from.max(FIRST_MS), until.min(LAST_MS));
        if from >= until {
            return;
        }
        let clock = Clock::new(&self.tz, from - self.reach_ms, until + self.reach_ms);
        let mut scratch = Scratch::default();
        let mut top = Vec::new();
        let mut merged = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let target = if i == 0 { &mut *out } else { &mut top };
            target.clear();
            layer.pieces(&clock, from, until, Tag::layer(i), &mut scratch, target);
            if i > 0 && !top.is_empty() {
                overlay(out, &top, &mut merged);
                std::mem::swap(out, &mut merged);
            }
        }
        top.clear();
        let first = self.overrides.partition_point(|o| o.end <= from);
        for o in self.overrides[first..]
            .iter()
            .take_while(|o| o.start < until)
        {
            push(
                &mut top,
                Piece {
                    start: o.start.max(from),
                    end: o.end.min(until),
                    user: o.user,
                    source: Tag::cover(o.index),
                },
            );
        }
        if !top.is_empty() {
            overlay(out, &top, &mut merged);
            std::mem::swap(out, &mut merged);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_years_answered_match_their_dates() {
        let ms = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        assert_eq!(FIRST_MS, ms("1850-01-01T00:00:00Z"));
        assert_eq!(LAST_MS, ms("3050-01-01T00:00:00Z"));
    }
}
