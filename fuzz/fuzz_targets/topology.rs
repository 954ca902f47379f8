//! The correlation topology document (`klaxon_engine::correlate::parse_topology`).
#![no_main]

use klaxon_engine::correlate::parse_topology;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(errors) = parse_topology(text) {
        assert!(!errors.is_empty(), "a refused document says why");
    }
});
