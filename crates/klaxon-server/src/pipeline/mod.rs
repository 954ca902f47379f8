//! The alert pipeline, in dependency order: `driver` (the engine thread: signals in, alerts
//! out) → `lifecycle` (the manager: deduplication, the state machine, commits) → `publish` (the
//! numbered hub every alert stream reads) → `notify` (dispatch: routing and grouping into the
//! outbox; deliver: the workers). `collector` feeds the driver like ingest does; `telemetry`
//! writes what the driver hands it. A later stage may use an earlier one's types, never the
//! reverse.

pub mod collector;
pub mod driver;
pub mod lifecycle;
pub mod notify;
pub mod publish;
pub mod telemetry;
