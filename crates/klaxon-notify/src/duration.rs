//! Durations in configuration, in klaxon's one grammar (`klaxon_engine::duration`: `250ms`,
//! `30s`, `5m`, `4h`, `1d`, `1w`, `1h30m`); a bare number, in TOML or text, is seconds. Pure
//! parsing; no clock.

use std::fmt;

use klaxon_engine::duration::Unit;
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

/// Parses a duration in klaxon's one grammar (`klaxon_engine::duration`) into milliseconds; a
/// bare number is seconds.
pub fn parse(s: &str) -> Result<i64, String> {
    klaxon_engine::duration::parse_ms(s, Some(Unit::Seconds)).map_err(|e| e.to_string())
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
        assert_eq!(parse("1w"), Ok(604_800_000));
        assert_eq!(parse("90"), Ok(90_000));
        assert!(parse("5x").is_err());
        assert!(parse("m").is_err());
        assert!(parse("").is_err());
    }
}
