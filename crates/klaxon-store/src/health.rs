//! Whether the store's writes commit: [`WriteFailure`] says since when they fail and why, so
//! that callers can refuse new work while the disk is full instead of queueing it in memory.
//! Kept by each backend from the outcome of its commits; no SQL here.

use serde::Serialize;

/// Writes to the store fail: the first failure of the current run of failures, and the latest.
/// It ends at the first write that commits again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteFailure {
    /// Epoch ms of the first failed commit of this run.
    pub since: i64,
    /// The latest failure, as the backend reports it (`database or disk is full`).
    pub error: String,
    /// Which of the backend's databases fails (`main` or `telemetry` for SQLite).
    pub database: &'static str,
}
