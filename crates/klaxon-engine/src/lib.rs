//! klaxon-engine: the pure rules engine.
//!
//! Two rule languages side by side: `event/` (rules over process, mark, trace and log signals:
//! rules, parsing, the engine that evaluates them) and `threshold/` (rules over metric samples).
//! The leaves at the top are shared by both or by the server around them: `signal` and `wire`
//! (what comes in), `check` (the checker both rule parsers share), `timestamp`, `severity`,
//! `number`, `matcher` (label matchers), `noise/` (silences, windows, inhibition, flapping) and
//! `lifecycle` (alert states).
//!
//! It does no I/O, never reads a clock (`now` is always an argument), has no async runtime, and
//! writes its results into buffers the caller owns.

use std::collections::HashMap;

mod check;
pub mod correlate;
pub mod duration;
pub mod escalation;
pub mod event;
pub mod lifecycle;
mod locate;
pub mod matcher;
pub mod noise;
mod number;
pub mod oncall;
mod severity;
pub mod signal;
pub mod threshold;
pub mod timestamp;
pub mod wire;

pub use check::{Parsed, RuleError};
pub use event::{
    fingerprint, Alert, BaselineRecord, Condition, Engine, Ewma, KeyPattern, Outcome, Rule,
    RuleSet, Stats, Unit,
};
pub use severity::Severity;
pub use signal::{Body, Labels, Level, Log, Metric, Monitor, ProcessFields, Signal, Trigger};

/// Hash maps keyed by data that may come from untrusted senders use a per-process random seed.
pub(crate) type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
