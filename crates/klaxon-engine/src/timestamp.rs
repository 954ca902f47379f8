//! Signal timestamps: epoch milliseconds and RFC 3339 text, parsed to and formatted from epoch ms.
//! Owns only conversions; it never reads a clock (a missing `ts` is the caller's business).

use std::borrow::Cow;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The earliest accepted timestamp, `0000-01-01T00:00:00.000Z`, the start of RFC 3339's range.
pub const MIN_TS_MS: i64 = -62_167_219_200_000;

/// The latest accepted timestamp, `9999-12-31T23:59:59.999Z`, the end of RFC 3339's range.
pub const MAX_TS_MS: i64 = 253_402_300_799_999;

const EXPECTED: &str = "expected epoch milliseconds or an RFC 3339 timestamp \
                        (e.g. 1700000000000 or 2023-11-14T22:13:20.000Z)";

/// Parses a timestamp string: integer epoch milliseconds (`"1700000000000"`, optionally with a
/// leading `-`) or RFC 3339 with `Z` or any offset; fractional seconds of any length are
/// truncated to the millisecond. Accepts years 0000 to 9999 (in UTC).
pub fn parse_ts_str(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(ms) => in_range(ms),
            Err(_) => Err(out_of_range()),
        };
    }
    if !looks_like_rfc3339(s) {
        return Err(format!("{EXPECTED}, got `{}`", excerpt(s)));
    }
    let separator = s.as_bytes()[10];
    if !matches!(separator, b'T' | b't' | b' ') {
        return Err(format!(
            "invalid RFC 3339 timestamp `{}`: date and time must be separated by `T`",
            excerpt(s)
        ));
    }
    let parsed = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("invalid RFC 3339 timestamp `{}`: {e}", excerpt(s)))?;
    let ms = parsed.unix_timestamp_nanos().div_euclid(1_000_000);
    match i64::try_from(ms) {
        Ok(ms) => in_range(ms),
        Err(_) => Err(out_of_range()),
    }
}

/// Parses a JSON timestamp: a number of epoch milliseconds (a fractional part is floored to the
/// millisecond) or a string as [`parse_ts_str`] takes it.
pub fn parse_ts_value(v: &serde_json::Value) -> Result<i64, String> {
    match v {
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                ts_from_i64(i)
            } else if let Some(u) = n.as_u64() {
                ts_from_u64(u)
            } else {
                ts_from_f64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => parse_ts_str(s),
        other => Err(format!("{EXPECTED}, got {}", json_type_name(other))),
    }
}

/// Formats epoch milliseconds as RFC 3339 in UTC with exactly three fractional digits and `Z`,
/// e.g. `2023-11-14T22:13:20.000Z`. Values outside [`MIN_TS_MS`]..=[`MAX_TS_MS`], which no
/// parser here produces, saturate to the nearest end of that range.
pub fn format_ts(ms: i64) -> String {
    let ms = ms.clamp(MIN_TS_MS, MAX_TS_MS);
    let dt = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .expect("years 0000 to 9999 are within the time crate's range");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        ms.rem_euclid(1000),
    )
}

/// An integer number of epoch milliseconds, range-checked.
pub(crate) fn ts_from_i64(ms: i64) -> Result<i64, String> {
    in_range(ms)
}

/// An unsigned number of epoch milliseconds, range-checked.
pub(crate) fn ts_from_u64(ms: u64) -> Result<i64, String> {
    i64::try_from(ms)
        .map_err(|_| out_of_range())
        .and_then(in_range)
}

/// A floating-point number of epoch milliseconds, floored to the millisecond and range-checked.
pub(crate) fn ts_from_f64(ms: f64) -> Result<i64, String> {
    if !ms.is_finite() {
        return Err("timestamp must be a finite number of epoch milliseconds".to_owned());
    }
    let floored = ms.floor();
    if floored < MIN_TS_MS as f64 || floored > MAX_TS_MS as f64 {
        return Err(out_of_range());
    }
    // In range and integral, so the cast is exact.
    Ok(floored as i64)
}

fn in_range(ms: i64) -> Result<i64, String> {
    if (MIN_TS_MS..=MAX_TS_MS).contains(&ms) {
        Ok(ms)
    } else {
        Err(out_of_range())
    }
}

fn out_of_range() -> String {
    "timestamp out of range: expected a time from year 0000 to 9999 \
     (epoch milliseconds -62167219200000 to 253402300799999)"
        .to_owned()
}

/// `YYYY-MM-DD` followed by something: worth handing to the RFC 3339 parser for a precise error.
fn looks_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// At most 40 characters of user input, for error messages.
pub(crate) fn excerpt(s: &str) -> Cow<'_, str> {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}…", &s[..end])),
    }
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_strings_are_epoch_ms() {
        assert_eq!(parse_ts_str("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_ts_str("0"), Ok(0));
        assert_eq!(parse_ts_str("-1"), Ok(-1));
        assert_eq!(parse_ts_str("007"), Ok(7));
    }

    #[test]
    fn integer_strings_reject_signs_and_junk() {
        for bad in ["", "-", "+5", "1 ", " 1", "1.5", "1e3", "--1", "12a"] {
            let err = parse_ts_str(bad).expect_err(bad);
            assert!(err.contains("expected epoch milliseconds"), "{bad}: {err}");
        }
    }

    #[test]
    fn integers_out_of_range_are_rejected() {
        assert!(parse_ts_str("99999999999999999999")
            .expect_err("rejected")
            .contains("out of range"));
        assert!(parse_ts_str("253402300800000")
            .expect_err("rejected")
            .contains("out of range"));
        assert_eq!(parse_ts_str("253402300799999"), Ok(MAX_TS_MS));
        assert_eq!(parse_ts_str("-62167219200000"), Ok(MIN_TS_MS));
        assert!(parse_ts_str("-62167219200001")
            .expect_err("rejected")
            .contains("out of range"));
    }

    #[test]
    fn range_constants_match_their_dates() {
        assert_eq!(parse_ts_str("0000-01-01T00:00:00Z"), Ok(MIN_TS_MS));
        assert_eq!(parse_ts_str("9999-12-31T23:59:59.999Z"), Ok(MAX_TS_MS));
    }

    #[test]
    fn rfc3339_with_z_and_offsets() {
        let utc = parse_ts_str("2026-11-22T04:51:58.123Z").expect("valid");
        assert_eq!(parse_ts_str("2026-11-22T06:51:58.123+02:00"), Ok(utc));
        assert_eq!(parse_ts_str("2026-11-21T23:21:58.123-05:30"), Ok(utc));
        assert_eq!(parse_ts_str("2026-11-22t04:51:58.123z"), Ok(utc));
        assert_eq!(parse_ts_str("2026-11-22 04:51:58.123Z"), Ok(utc));
        assert_eq!(parse_ts_str("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
    }

    #[test]
    fn fractional_seconds_of_any_length_truncate_to_ms() {
        let base = 1_700_000_000_000;
        assert_eq!(parse_ts_str("2023-11-14T22:13:20.1Z"), Ok(base + 100));
        assert_eq!(parse_ts_str("2023-11-14T22:13:20.12Z"), Ok(base + 120));
        assert_eq!(parse_ts_str("2023-11-14T22:13:20.1239Z"), Ok(base + 123));
        assert_eq!(
            parse_ts_str("2023-11-14T22:13:20.999999999999Z"),
            Ok(base + 999)
        );
    }

    #[test]
    fn before_1970_truncates_towards_the_past() {
        assert_eq!(parse_ts_str("1969-12-31T23:59:59.9999Z"), Ok(-1));
        assert_eq!(parse_ts_str("1969-12-31T23:59:59Z"), Ok(-1000));
    }

    #[test]
    fn offsets_cannot_leave_the_range() {
        let err = parse_ts_str("9999-12-31T23:59:59-01:00").expect_err("rejected");
        assert!(err.contains("out of range"), "{err}");
        let err = parse_ts_str("0000-01-01T00:00:00+01:00").expect_err("rejected");
        assert!(err.contains("out of range"), "{err}");
    }

    #[test]
    fn bad_rfc3339_says_what_is_wrong() {
        let err = parse_ts_str("2026-13-22T04:51:58Z").expect_err("rejected");
        assert!(
            err.starts_with("invalid RFC 3339 timestamp `2026-13-22T04:51:58Z`"),
            "{err}"
        );
        assert!(err.contains("month"), "{err}");
        let err = parse_ts_str("2026-11-22T04:51:58").expect_err("rejected");
        assert!(err.starts_with("invalid RFC 3339 timestamp"), "{err}");
        let err = parse_ts_str("2026-11-22X04:51:58Z").expect_err("rejected");
        assert!(err.contains("separated by `T`"), "{err}");
        let err = parse_ts_str("2026-02-30T04:51:58Z").expect_err("rejected");
        assert!(err.starts_with("invalid RFC 3339 timestamp"), "{err}");
        let err = parse_ts_str("yesterday").expect_err("rejected");
        assert!(
            err.starts_with("expected epoch milliseconds or an RFC 3339"),
            "{err}"
        );
        assert!(err.ends_with("got `yesterday`"), "{err}");
    }

    #[test]
    fn long_input_is_cut_in_messages() {
        let long = "x".repeat(1000);
        assert!(parse_ts_str(&long).expect_err("rejected").len() < 200);
    }

    #[test]
    fn json_numbers_and_strings() {
        assert_eq!(
            parse_ts_value(&json!(1_700_000_000_000_i64)),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_ts_value(&json!(-5)), Ok(-5));
        assert_eq!(
            parse_ts_value(&json!(1_700_000_000_000.9)),
            Ok(1_700_000_000_000)
        );
        assert_eq!(parse_ts_value(&json!(-0.5)), Ok(-1));
        assert_eq!(
            parse_ts_value(&json!("2023-11-14T22:13:20Z")),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_ts_value(&json!("1700000000000")),
            Ok(1_700_000_000_000)
        );
    }

    #[test]
    fn json_rejects_other_types_and_out_of_range() {
        assert!(parse_ts_value(&json!(u64::MAX))
            .expect_err("rejected")
            .contains("out of range"));
        assert!(parse_ts_value(&json!(1e300))
            .expect_err("rejected")
            .contains("out of range"));
        assert!(parse_ts_value(&json!(-1e300))
            .expect_err("rejected")
            .contains("out of range"));
        assert!(parse_ts_value(&json!(true))
            .expect_err("rejected")
            .ends_with("got a boolean"));
        assert!(parse_ts_value(&json!(null))
            .expect_err("rejected")
            .ends_with("got null"));
        assert!(ts_from_f64(f64::NAN)
            .expect_err("rejected")
            .contains("finite"));
        assert!(ts_from_f64(f64::INFINITY)
            .expect_err("rejected")
            .contains("finite"));
    }

    #[test]
    fn format_is_utc_with_three_digits() {
        assert_eq!(format_ts(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(format_ts(1_700_000_000_007), "2023-11-14T22:13:20.007Z");
        assert_eq!(format_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ts(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_ts(MIN_TS_MS), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_ts(MAX_TS_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn format_saturates_outside_the_range() {
        assert_eq!(format_ts(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(format_ts(i64::MIN), "0000-01-01T00:00:00.000Z");
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_is_identity(ms in MIN_TS_MS..=MAX_TS_MS) {
            proptest::prop_assert_eq!(parse_ts_str(&format_ts(ms)), Ok(ms));
        }
    }
}
