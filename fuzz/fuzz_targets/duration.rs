//! Durations (`klaxon_engine::duration`, and the callers that give bare numbers a unit or a
//! bound): what is read and written back reads back as the same duration.
#![no_main]

use klaxon_engine::duration::{parse_ms, terms, Unit};
use klaxon_engine::threshold::{fmt_duration, parse_duration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for bare in [None, Some(Unit::Seconds), Some(Unit::Millis)] {
        if let Ok(ms) = parse_ms(text, bare) {
            assert!(ms >= 0, "{text:?} read as {ms}");
            let written = fmt_duration(ms);
            assert_eq!(
                parse_ms(&written, None),
                Ok(ms),
                "{text:?} written as {written:?}"
            );
        }
    }
    let _ = terms(text);
    let _ = parse_duration(text);
    let _ = klaxon_notify::duration::parse(text);
});
