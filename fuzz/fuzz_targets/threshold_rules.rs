//! Threshold rule sets (`klaxon_engine::threshold::parse_threshold_rules`).
#![no_main]

use klaxon_engine::threshold::parse_threshold_rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = parse_threshold_rules(text) {
        assert!(!errors.is_empty(), "a refused set says why");
    }
});
