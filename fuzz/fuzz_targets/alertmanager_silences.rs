//! `POST /api/v2/silences` bodies (Alertmanager's postable silence), decoded and checked as the
//! server does, the matchers compiled as the lifecycle compiles them.
#![no_main]

use klaxon_server::fuzzing;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = fuzzing::alertmanager_silence(data, NOW) {
        assert!(s.starts_at < s.ends_at && NOW < s.ends_at);
        assert!(!s.matchers.is_empty());
    }
});
