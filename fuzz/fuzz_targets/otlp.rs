//! `POST /v1/traces`, `/v1/logs` and `/v1/metrics` (OTLP/HTTP): the first byte chooses the
//! signal (its value mod 3) and the encoding (bit 2: OTLP/JSON, else protobuf), the rest is the
//! body. Whatever decodes maps to signals without a panic, and never refuses more items than
//! the export can hold.
#![no_main]

use klaxon_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    if let Ok((_, refused)) = fuzzing::otlp(first, first & 4 != 0, body) {
        assert!(refused >= 0);
        assert!(refused as usize <= body.len(), "more refused items than bytes");
    }
});
