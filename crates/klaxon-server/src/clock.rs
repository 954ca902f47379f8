//! The wall clock of a live server: the one place the server reads the time of day for its
//! engines and timers. A leaf: it uses nothing else of the crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in epoch milliseconds: the engine time of a live server.
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
