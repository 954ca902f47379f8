//! Formats klaxon both reads and writes read back what they wrote: durations
//! (`duration::parse_ms` and `threshold::fmt_duration`), timestamps (`parse_ts_str` and
//! `format_ts`) and label matchers (`parse_filter_parts` and their `Display`, which silences'
//! explanations use too).

use klaxon_engine::duration::parse_ms;
use klaxon_engine::matcher::{parse_filter_parts, Written};
use klaxon_engine::noise::MatcherSpec;
use klaxon_engine::threshold::fmt_duration;
use klaxon_engine::timestamp::{format_ts, parse_ts_str, MAX_TS_MS, MIN_TS_MS};
use proptest::prelude::*;

fn duration_text() -> impl Strategy<Value = String> {
    let unit = prop::sample::select(vec!["w", "d", "h", "m", "s", "ms", "W", "Ms", "x", ""]);
    prop::collection::vec(("[0-9]{1,20}", unit), 1..5).prop_map(|terms| {
        terms
            .into_iter()
            .map(|(n, u)| format!("{n}{u}"))
            .collect::<String>()
    })
}

fn written() -> impl Strategy<Value = Written> {
    (
        "[a-zA-Z_:.][a-zA-Z0-9_:.]{0,8}",
        prop::sample::select(vec!["=", "!=", "=~", "!~"]),
        // Quotes, backslashes, newlines, commas, braces, spaces and other scripts.
        "[a-z\"\\\\\n,{}= ~!\t\u{e9}\u{1F600}]{0,12}",
    )
        .prop_map(|(name, op, value)| Written { name, op, value })
}

proptest! {
    #[test]
    fn a_duration_written_reads_back_as_the_same_value(ms in 0i64..=i64::MAX) {
        prop_assert_eq!(parse_ms(&fmt_duration(ms), None), Ok(ms));
    }

    #[test]
    fn a_duration_read_and_written_reads_back_the_same(text in duration_text()) {
        if let Ok(ms) = parse_ms(&text, None) {
            let written = fmt_duration(ms);
            prop_assert_eq!(parse_ms(&written, None), Ok(ms), "{} written as {}", text, written);
        }
    }

    #[test]
    fn a_timestamp_written_reads_back_as_the_same_instant(ms in MIN_TS_MS..=MAX_TS_MS) {
        prop_assert_eq!(parse_ts_str(&format_ts(ms)), Ok(ms));
    }

    #[test]
    fn a_timestamp_read_and_written_reads_back_the_same(
        y in 0u32..=9999, mo in 1u32..=12, d in 1u32..=28, h in 0u32..24, mi in 0u32..60,
        s in 0u32..60, frac in "[0-9]{0,12}", off in prop::sample::select(vec![
            "Z", "z", "+00:00", "-00:00", "+05:30", "-12:00", "+14:00",
        ]),
    ) {
        let dot = if frac.is_empty() { "" } else { "." };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{dot}{frac}{off}");
        if let Ok(ms) = parse_ts_str(&text) {
            prop_assert_eq!(parse_ts_str(&format_ts(ms)), Ok(ms), "{}", text);
        }
    }

    #[test]
    fn a_matcher_written_reads_back_as_the_same_matcher(m in written()) {
        let text = m.to_string();
        prop_assert_eq!(parse_filter_parts(&text), Ok(vec![m]), "written as {}", text);
    }

    #[test]
    fn a_braced_list_of_matchers_written_reads_back_the_same(
        ms in prop::collection::vec(written(), 1..4),
    ) {
        let list: Vec<String> = ms.iter().map(Written::to_string).collect();
        let text = format!("{{{}}}", list.join(","));
        prop_assert_eq!(parse_filter_parts(&text), Ok(ms), "written as {}", text);
    }

    #[test]
    fn a_silence_matcher_shown_reads_back_as_the_same_matcher(m in written()) {
        let spec = MatcherSpec {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: m.op.contains('~'),
            is_equal: m.op.starts_with('='),
        };
        prop_assert_eq!(parse_filter_parts(&spec.display()), Ok(vec![m]));
    }
}

#[test]
fn matcher_values_keep_tabs_and_other_scripts_when_shown() {
    let spec = MatcherSpec {
        name: "job".into(),
        value: "a\tb\u{e9}\"\\".into(),
        is_regex: false,
        is_equal: true,
    };
    assert_eq!(spec.display(), "job=\"a\tb\u{e9}\\\"\\\\\"");
}
