//! The TOML configuration file, loaded and checked as `klaxon serve` loads it (receivers,
//! routes, templates and noise controls compiled).
#![no_main]

use klaxon_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = fuzzing::config(text);
});
