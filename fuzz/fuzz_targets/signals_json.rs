//! `POST /v1/signals` with a JSON array body (the ingest decoder), and one signal's wire form:
//! what is read and written back reads back as the same signal.
#![no_main]

use klaxon_engine::wire::{parse_signal, signal_from_value, signal_to_value};
use klaxon_server::fuzzing;
use libfuzzer_sys::fuzz_target;

/// The server's default `ingest.max_line_bytes`.
const MAX_LINE: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = fuzzing::signals_array(data, MAX_LINE) {
        for (i, (line, _)) in items.iter().enumerate() {
            assert_eq!(*line, i + 1, "elements are numbered from 1 in order");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(signal) = parse_signal(text) {
        let written = signal_to_value(&signal);
        let again = signal_from_value(written.clone())
            .unwrap_or_else(|e| panic!("{written} does not read back: {e}"));
        assert_eq!(again, signal, "written as {written}");
    }
});
