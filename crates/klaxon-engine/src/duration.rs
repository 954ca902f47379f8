//! The one duration grammar of klaxon, for rules, configuration and the API: a number and a
//! unit (`ms`, `s`, `m`, `h`, `d`, `w`), or several of them largest first (`1h30m`,
//! `1m30s250ms`), each unit at most once; any case, spaces around it ignored; `0` alone is
//! zero. A bare number other than `0` has no unit: `parse` rejects it, and a caller that gives
//! bare numbers a meaning says which unit with `parse_or_bare`. No fractions, no signs. Pure.

use std::time::Duration;

/// A unit of the grammar; also the unit a caller gives to bare numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    /// Milliseconds in one of this unit.
    pub fn ms(self) -> i64 {
        match self {
            Unit::Millis => 1,
            Unit::Seconds => 1_000,
            Unit::Minutes => 60_000,
            Unit::Hours => 3_600_000,
            Unit::Days => 86_400_000,
            Unit::Weeks => 7 * 86_400_000,
        }
    }
}

/// Largest first, as a compound value must list them; `ms` is matched before `m`.
const UNITS: [(&str, Unit); 6] = [
    ("w", Unit::Weeks),
    ("d", Unit::Days),
    ("h", Unit::Hours),
    ("ms", Unit::Millis),
    ("m", Unit::Minutes),
    ("s", Unit::Seconds),
];

/// Why a text is not a duration. Each message quotes the text and says what would be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?} is not a duration like \"30s\", \"5m\", \"1h30m\" or \"250ms\" (units w, d, h, m, s, ms, largest first)")]
    Invalid(String),
    #[error("{0:?} has no unit; write e.g. \"{0}s\"")]
    NoUnit(String),
    #[error("{0:?}: fractions are not allowed in a duration; combine units (\"1h30m\")")]
    Fraction(String),
    #[error("{0:?}: units must appear once each, largest first (e.g. \"1h30m\")")]
    Order(String),
    #[error("{0:?} is too long")]
    TooLong(String),
}

/// Milliseconds written largest unit first (`1h30m`, `500ms`, `0s`): read back alike by
/// [`parse`] and by Prometheus's and Alertmanager's duration syntax.
pub fn format_ms(ms: i64) -> String {
    if ms <= 0 {
        return "0s".to_owned();
    }
    let mut left = ms;
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}

/// Parses a duration with units; a bare number other than `0` is an error.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_ms(text, None).map(to_std)
}

/// As [`parse`], with a bare number meaning that many of `bare` (`"90"` with
/// [`Unit::Seconds`] is 90 seconds).
pub fn parse_or_bare(text: &str, bare: Unit) -> Result<Duration, DurationError> {
    parse_ms(text, Some(bare)).map(to_std)
}

/// The duration in milliseconds; `bare` as in [`parse_or_bare`] (`None`: as [`parse`]).
pub fn parse_ms(text: &str, bare: Option<Unit>) -> Result<i64, DurationError> {
    let t = text.trim().to_ascii_lowercase();
    let invalid = || DurationError::Invalid(text.to_owned());
    if t.is_empty() {
        return Err(invalid());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t
            .parse()
            .map_err(|_| DurationError::TooLong(text.to_owned()))?;
        return match bare {
            _ if n == 0 => Ok(0),
            Some(unit) => n
                .checked_mul(unit.ms())
                .ok_or_else(|| DurationError::TooLong(text.to_owned())),
            None => Err(DurationError::NoUnit(text.trim().to_owned())),
        };
    }
    let mut total = 0i64;
    for (n, unit) in terms(text)? {
        total = n
            .checked_mul(unit.ms())
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
    }
    Ok(total)
}

/// The terms of a duration with units, in order (`"1h30m"` is `[(1, Hours), (30, Minutes)]`),
/// for a caller that gives units meanings of its own (calendar days in a time zone, say).
/// Each unit at most once, largest first; a bare number is [`DurationError::NoUnit`].
pub fn terms(text: &str) -> Result<Vec<(i64, Unit)>, DurationError> {
    let t = text.trim().to_ascii_lowercase();
    let invalid = || DurationError::Invalid(text.to_owned());
    if t.is_empty() {
        return Err(invalid());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::NoUnit(text.trim().to_owned()));
    }
    let mut rest = t.as_str();
    let (mut out, mut last) = (Vec::new(), None::<usize>);
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::TooLong(text.to_owned()))?;
        rest = &rest[digits..];
        if rest.starts_with('.') {
            return Err(DurationError::Fraction(text.to_owned()));
        }
        let Some(u) = UNITS.iter().position(|(name, _)| rest.starts_with(name)) else {
            return Err(invalid());
        };
        // Rank by size: `ms` sits before `m` in the table only to be matched first.
        let rank = |i: usize| match UNITS[i].1 {
            Unit::Weeks => 0,
            Unit::Days => 1,
            Unit::Hours => 2,
            Unit::Minutes => 3,
            Unit::Seconds => 4,
            Unit::Millis => 5,
        };
        if last.is_some_and(|l| rank(u) <= rank(l)) {
            return Err(DurationError::Order(text.to_owned()));
        }
        last = Some(u);
        rest = &rest[UNITS[u].0.len()..];
        out.push((n, UNITS[u].1));
    }
    Ok(out)
}

fn to_std(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_compounds_and_zero() {
        let ok = |s: &str| parse_ms(s, None).unwrap_or_else(|e| panic!("{s}: {e}"));
        for (text, ms) in [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("4h", 14_400_000),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
            ("1h30m", 5_400_000),
            ("1m30s250ms", 90_250),
            ("1w2d", 777_600_000),
            (" 2D ", 172_800_000),
            ("0", 0),
            ("0s", 0),
        ] {
            assert_eq!(ok(text), ms, "{text}");
        }
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn bare_numbers_only_where_the_caller_names_the_unit() {
        assert_eq!(parse("90"), Err(DurationError::NoUnit("90".into())));
        assert_eq!(
            parse_or_bare("90", Unit::Seconds),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(parse_ms("5", Some(Unit::Minutes)), Ok(300_000));
        assert_eq!(parse_ms("5m", Some(Unit::Seconds)), Ok(300_000));
    }

    #[test]
    fn every_error_says_what_is_wrong() {
        for (text, want) in [
            ("", DurationError::Invalid(String::new())),
            ("m", DurationError::Invalid("m".into())),
            ("5x", DurationError::Invalid("5x".into())),
            ("-5s", DurationError::Invalid("-5s".into())),
            ("5 m", DurationError::Invalid("5 m".into())),
            ("1.5h", DurationError::Fraction("1.5h".into())),
            ("30m1h", DurationError::Order("30m1h".into())),
            ("1m1m", DurationError::Order("1m1m".into())),
            ("5", DurationError::NoUnit("5".into())),
            (
                "99999999999999999999w",
                DurationError::TooLong("99999999999999999999w".into()),
            ),
            (
                "9999999999999999w",
                DurationError::TooLong("9999999999999999w".into()),
            ),
        ] {
            assert_eq!(parse_ms(text, None), Err(want), "{text:?}");
        }
        assert_eq!(
            parse("5").map_err(|e| e.to_string()),
            Err("\"5\" has no unit; write e.g. \"5s\"".to_owned())
        );
        assert!(parse("1.5m")
            .map_err(|e| e.to_string())
            .is_err_and(|e| e.contains("fractions are not allowed")));
    }
}
