//! `POST /api/v2/alerts` bodies (Alertmanager's postable alerts), decoded and checked as the
//! server does before the lifecycle takes them.
#![no_main]

use klaxon_server::fuzzing;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok((alerts, _errors)) = fuzzing::alertmanager_alerts(data, NOW) else {
        return;
    };
    for a in alerts {
        assert!(
            a.labels
                .get("alertname")
                .is_some_and(|n| !n.trim().is_empty()),
            "an alert taken has a name"
        );
        assert!(a.ends_at.is_none_or(|e| e >= a.starts_at));
    }
});
