//! Durations in configuration: `30s`, `5m`, `4h`, `1d`, `1h30m`, `250ms`, or a number of
//! seconds. Pure parsing; no clock.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A duration read from configuration, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Millis(pub i64);

impl Millis {
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Parses `30s`, `5m`, `4h`, `1d`, `1h30m`, `250ms` (or `0`) into milliseconds.
pub fn parse(s: &str) -> Result<i64, String> {
    let bad = || format!("`{s}` is not a duration like 30s, 5m, 4h, 1d or 250ms");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = t.parse::<i64>() {
        return (n >= 0).then(|| n.saturating_mul(1000)).ok_or_else(bad);
    }
    let (mut total, mut rest) = (0i64, t);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.chars().next() {
                Some('s') => (1_000, 1),
                Some('m') => (60_000, 1),
                Some('h') => (3_600_000, 1),
                Some('d') => (86_400_000, 1),
                _ => return Err(bad()),
            }
        };
        rest = &rest[len..];
        total = total.saturating_add(n.saturating_mul(unit));
    }
    Ok(total)
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) if n >= 0 => Ok(Millis(n.saturating_mul(1000))),
            Raw::Secs(n) => Err(serde::de::Error::custom(format!(
                "{n} is negative; a duration is like 30s, 5m or 4h"
            ))),
            Raw::Text(s) => parse(&s).map(Millis).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("30s"), Ok(30_000));
        assert_eq!(parse("5m"), Ok(300_000));
        assert_eq!(parse("1h30m"), Ok(5_400_000));
        assert_eq!(parse("250ms"), Ok(250));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("2d"), Ok(172_800_000));
        assert!(parse("5x").is_err());
        assert!(parse("m").is_err());
        assert!(parse("").is_err());
    }
}
