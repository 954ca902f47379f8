//! Shift lengths: `"1w"`, `"2d"` (calendar days in the schedule's zone) or `"12h"`, `"1h30m"`
//! (elapsed time). Only the parsing and the two kinds; walking them is the layer's business.
//!
//! The two kinds are kept apart on purpose: a day of a rotation is a calendar day (23 or 25 hours
//! across a daylight-saving change), an hour is always an hour, and a length mixing both would
//! have no single meaning, so it is refused.

/// Milliseconds in a day of 24 hours.
pub(super) const DAY_MS: i64 = 86_400_000;

/// The longest accepted shift: 366 days (or 8,784 hours).
const MAX_DAYS: i64 = 366;

const FORMS: &str = "a shift length such as \"1w\" or \"2d\" (calendar days in the schedule's \
                     time zone) or \"12h\", \"1h30m\" (elapsed hours and minutes)";

/// How long one shift of a layer lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Length {
    /// A number of calendar days: hand-offs happen at the same local time of day.
    Days(i64),
    /// Elapsed milliseconds (whole minutes): hand-offs are this far apart in absolute time.
    Fixed(i64),
}

/// Parses a shift length. Units `w`, `d`, `h`, `m`, each at most once, largest first; weeks
/// and days cannot be combined with hours and minutes.
pub(super) fn parse_length(text: &str) -> Result<Length, String> {
    use crate::duration::{terms, DurationError, Unit};
    let bad = || format!("{text:?} is not {FORMS}");
    let terms = terms(text).map_err(|e| match e {
        DurationError::Order(_) => {
            format!("{text:?}: units must appear once each, largest first (e.g. \"1h30m\")")
        }
        _ => bad(),
    })?;
    let (mut days, mut minutes) = (0i64, 0i64);
    for (n, unit) in terms {
        let (sum, per) = match unit {
            Unit::Weeks => (&mut days, 7),
            Unit::Days => (&mut days, 1),
            Unit::Hours => (&mut minutes, 60),
            Unit::Minutes => (&mut minutes, 1),
            Unit::Seconds | Unit::Millis => return Err(bad()),
        };
        *sum = n
            .checked_mul(per)
            .and_then(|v| sum.checked_add(v))
            .ok_or_else(bad)?;
    }
    let length = match (days, minutes) {
        (0, 0) => return Err(format!("{text:?}: a shift must be longer than zero")),
        (d, 0) => Length::Days(d),
        (0, m) => Length::Fixed(m * 60_000),
        _ => {
            return Err(format!(
                "{text:?} mixes calendar days with hours; write it in days (\"2d\") or in hours \
                 (\"36h\")"
            ))
        }
    };
    let too_long = match length {
        Length::Days(d) => d > MAX_DAYS,
        Length::Fixed(ms) => ms > MAX_DAYS * DAY_MS,
    };
    if too_long {
        return Err(format!("{text:?} is longer than the maximum of 366 days"));
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_keep_calendar_days_apart_from_hours() {
        let cases: &[(&str, Result<Length, &str>)] = &[
            ("1d", Ok(Length::Days(1))),
            ("1w", Ok(Length::Days(7))),
            ("2w3d", Ok(Length::Days(17))),
            (" 1W ", Ok(Length::Days(7))),
            ("12h", Ok(Length::Fixed(12 * 3_600_000))),
            ("1h30m", Ok(Length::Fixed(90 * 60_000))),
            ("45m", Ok(Length::Fixed(45 * 60_000))),
            ("24h", Ok(Length::Fixed(DAY_MS))),
            ("366d", Ok(Length::Days(366))),
            ("0d", Err("longer than zero")),
            ("0h0m", Err("longer than zero")),
            ("-1d", Err("is not a shift length")),
            ("1", Err("is not a shift length")),
            ("1x", Err("is not a shift length")),
            ("1.5d", Err("is not a shift length")),
            ("", Err("is not a shift length")),
            ("1d12h", Err("mixes calendar days with hours")),
            ("30m1h", Err("largest first")),
            ("1d1d", Err("largest first")),
            ("367d", Err("maximum of 366 days")),
            ("8785h", Err("maximum of 366 days")),
            ("9999999d", Err("maximum of 366 days")),
        ];
        for (text, want) in cases {
            match (parse_length(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text:?}: {got}"),
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
