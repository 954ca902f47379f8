//! `POST /v1/signals` with an NDJSON body (the ingest decoder): streamed in chunks of any size,
//! the body reads as it does in one piece; held whole (sent without its content type), it is
//! read too. The first byte picks the chunk size and a line limit small enough to be reached.
#![no_main]

use klaxon_server::fuzzing;
use libfuzzer_sys::fuzz_target;

/// The server's default `ingest.max_line_bytes`.
const MAX_LINE: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&k, body)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(k % 61) + 1;
    let small = usize::from(k / 61) * 16 + 1;
    for max_line in [MAX_LINE, small] {
        let whole = fuzzing::signals_stream([body], max_line);
        let chunked = fuzzing::signals_stream(body.chunks(chunk), max_line);
        assert_eq!(whole, chunked, "chunks of {chunk}, lines up to {max_line}");
        let _ = fuzzing::signals_lines(body, max_line);
    }
});
