//! Numbers as klaxon reads and writes them: decimals scaled exactly (seconds written by a user
//! to milliseconds) and whole values written without a needless `.0`, in JSON and in messages.
//! Shared by both rule languages and their outputs; owns no parsing of documents.

use std::fmt::Write as _;

/// `v × 10^exp`, rounded once from the shortest decimal form of `v`, so that `1.3` seconds is
/// exactly 1300 ms (a plain `1.3 * 1000.0` may not be).
pub(crate) fn scaled(v: f64, exp: i32) -> f64 {
    format!("{v}e{exp}").parse().unwrap_or(v * 10f64.powi(exp))
}

/// A JSON number without a needless `.0` for whole values.
pub(crate) fn json_number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        serde_json::Value::from(v as i64)
    } else {
        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// Writes a number for messages: whole values without decimals, others as Rust prints them.
pub(crate) fn push_num(s: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        let _ = write!(s, "{}", v as i64);
    } else {
        let _ = write!(s, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_is_exact_for_short_decimals() {
        assert_eq!(scaled(1.3, 3), 1300.0);
        assert_eq!(scaled(0.8, 3), 800.0);
        assert_eq!(scaled(4.35, 3), 4350.0);
        assert_eq!(scaled(2.0, 3), 2000.0);
    }
}
