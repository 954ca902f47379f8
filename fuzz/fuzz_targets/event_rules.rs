//! Event rule sets (`klaxon_engine::event::parse_rule_set`); a set that parses activates.
#![no_main]

use klaxon_engine::event::parse_rule_set;
use klaxon_engine::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_rule_set(text) {
        Ok(parsed) => Engine::new().activate("fuzz", "fuzz", None, &parsed.set),
        Err(errors) => assert!(!errors.is_empty(), "a refused set says why"),
    }
});
