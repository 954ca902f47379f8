//! Local wall-clock time and instants of one time zone over a bounded range: the zone's offset
//! changes in that range are read once into a table, so walking a year of hand-offs is integer
//! arithmetic instead of a time-zone lookup per hand-off. Reads nothing but the zone it is given.
//!
//! A *local* value is milliseconds since 1970-01-01T00:00 on the zone's wall clock (the epoch
//! milliseconds the local date-time would have in UTC); an *instant* is epoch milliseconds.

use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

/// The earliest instant a clock covers, 1800-01-01T00:00:00Z.
const EARLIEST_MS: i64 = -5_364_662_400_000;
/// The latest instant a clock covers, 3100-01-01T00:00:00Z.
const LATEST_MS: i64 = 35_659_353_600_000;

/// The offsets of one zone between two instants.
#[derive(Debug, Clone)]
pub(super) struct Clock {
    /// Instant at which each segment starts; the first is `i64::MIN`.
    starts: Vec<i64>,
    /// Offset from UTC in milliseconds, per segment.
    offsets: Vec<i64>,
}

fn offset_ms(o: Offset) -> i64 {
    i64::from(o.seconds()) * 1000
}

impl Clock {
    /// A clock exact for instants in `[lo, hi]` (clamped to the years 1800 to 3100) and for the
    /// local values they show. Outside, the first and last offsets are assumed to hold.
    pub(super) fn new(tz: &TimeZone, lo: i64, hi: i64) -> Clock {
        let lo = lo.clamp(EARLIEST_MS, LATEST_MS);
        let hi = hi.clamp(EARLIEST_MS, LATEST_MS);
        let first = Timestamp::from_millisecond(lo).expect("the clamped range is within jiff's");
        let mut starts = vec![i64::MIN];
        let mut offsets = vec![offset_ms(tz.to_offset(first))];
        for transition in tz.following(first) {
            let at = transition.timestamp().as_millisecond();
            if at > hi {
                break;
            }
            starts.push(at);
            offsets.push(offset_ms(transition.offset()));
        }
        Clock { starts, offsets }
    }

    /// The local value the wall clock shows at instant `t`.
    pub(super) fn local(&self, t: i64) -> i64 {
        let i = self.starts.partition_point(|&s| s <= t) - 1;
        t.saturating_add(self.offsets[i])
    }

    /// The first instant at which the wall clock shows `local` or later: the one instant it
    /// shows `local` at, the first of two in a fold (the repeated hour after a fall-back), or
    /// the end of the gap when `local` is skipped (spring-forward). Non-decreasing in `local`.
    pub(super) fn instant(&self, local: i64) -> i64 {
        let last = self.starts.len() - 1;
        let candidate = |i: usize| self.starts[i].max(local.saturating_sub(self.offsets[i]));
        (0..last)
            .map(|i| (candidate(i), self.starts[i + 1]))
            .find(|&(t, end)| t < end)
            .map_or_else(|| candidate(last), |(t, _)| t)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jiff::civil::DateTime;

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn local(s: &str) -> i64 {
        let dt: DateTime = s.parse().unwrap();
        TimeZone::UTC.to_timestamp(dt).unwrap().as_millisecond()
    }

    #[test]
    fn the_range_limits_match_their_dates() {
        assert_eq!(EARLIEST_MS, at("1800-01-01T00:00:00Z"));
        assert_eq!(LATEST_MS, at("3100-01-01T00:00:00Z"));
    }

    #[test]
    fn local_times_resolve_to_the_first_instant_showing_them() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let clock = Clock::new(&tz, at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"));
        let cases = [
            // Winter and summer time.
            ("2026-01-15T09:00", "2026-01-15T08:00:00Z"),
            ("2026-07-15T09:00", "2026-07-15T07:00:00Z"),
            // Spring forward: 02:00–03:00 does not exist; it all happens at 03:00 CEST.
            ("2026-03-29T02:00", "2026-03-29T01:00:00Z"),
            ("2026-03-29T02:30", "2026-03-29T01:00:00Z"),
            ("2026-03-29T03:00", "2026-03-29T01:00:00Z"),
            ("2026-03-29T03:01", "2026-03-29T01:01:00Z"),
            ("2026-03-29T01:59", "2026-03-29T00:59:00Z"),
            // Fall back: 02:00–03:00 happens twice; the first time counts.
            ("2026-10-25T02:00", "2026-10-25T00:00:00Z"),
            ("2026-10-25T02:30", "2026-10-25T00:30:00Z"),
            ("2026-10-25T03:00", "2026-10-25T02:00:00Z"),
        ];
        for (l, want) in cases {
            assert_eq!(clock.instant(local(l)), at(want), "{l}");
        }
        assert_eq!(
            clock.local(at("2026-10-25T00:30:00Z")),
            local("2026-10-25T02:30")
        );
        assert_eq!(
            clock.local(at("2026-10-25T01:30:00Z")),
            local("2026-10-25T02:30")
        );
        assert_eq!(
            clock.local(at("2026-03-29T01:00:00Z")),
            local("2026-03-29T03:00")
        );
    }

    #[test]
    fn a_fixed_zone_has_one_segment() {
        let clock = Clock::new(&TimeZone::fixed(jiff::tz::offset(-5)), 0, 10 * 86_400_000);
        assert_eq!(clock.starts.len(), 1);
        assert_eq!(
            clock.instant(local("1970-01-02T00:00")),
            at("1970-01-02T05:00:00Z")
        );
    }
}
