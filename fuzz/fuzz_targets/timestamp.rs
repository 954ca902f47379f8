//! Timestamps (`klaxon_engine::timestamp`: epoch ms and RFC 3339, as text and as JSON): within
//! range, and what is read and written back reads back as the same instant.
#![no_main]

use klaxon_engine::timestamp::{format_ts, parse_ts_str, parse_ts_value, MAX_TS_MS, MIN_TS_MS};
use libfuzzer_sys::fuzz_target;

fn check(text: &str, ms: i64) {
    assert!(
        (MIN_TS_MS..=MAX_TS_MS).contains(&ms),
        "{text:?} read as {ms}"
    );
    let written = format_ts(ms);
    assert_eq!(
        parse_ts_str(&written),
        Ok(ms),
        "{text:?} written as {written}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ms) = parse_ts_str(text) {
        check(text, ms);
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        if let Ok(ms) = parse_ts_value(&v) {
            check(text, ms);
        }
    }
});
