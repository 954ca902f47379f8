//! The alert pipeline, in dependency order: `driver` (the engine thread: signals in, alerts
//! out) → `lifecycle` (the manager: deduplication, the state machine, commits) → `publish` (the
//! numbered hub every alert stream reads) → `notify` (dispatch: routing and grouping into the
//! outbox; deliver: the workers). `collector` feeds the driver like ingest does; `telemetry`
//! writes what the driver hands it; `probe` pings a store whose writes fail until one commits. A later stage may use an earlier one's types, never the
//! reverse.

pub(crate) mod collector;
pub(crate) mod driver;
pub(crate) mod lifecycle;
pub(crate) mod notify;
pub(crate) mod probe;
pub(crate) mod publish;
pub(crate) mod telemetry;
pub(crate) mod view;
