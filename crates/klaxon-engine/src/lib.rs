//! klaxon-engine: the pure event-rules engine.
//!
//! Owns signals, rule sets (parsing, validation, compiled form), evaluation, timers and the
//! alerts rules emit. It does no I/O, never reads a clock (`now` is always an argument), has no
//! async runtime, and writes its results into buffers the caller owns.

pub mod alert;
pub mod correlate;
mod engine;
mod ewma;
mod intern;
pub mod lifecycle;
pub mod matcher;
pub mod noise;
pub mod parse;
pub mod rule;
pub mod signal;
#[doc(hidden)]
pub mod testkit;
pub mod threshold;
pub mod timestamp;
pub mod wire;

pub use alert::{fingerprint, Alert};
pub use engine::{BaselineRecord, Engine, Outcome, Stats};
pub use ewma::Ewma;
pub use rule::{Condition, KeyPattern, Rule, RuleSet, Severity, Unit};
pub use signal::{Body, Labels, Level, Log, Metric, Monitor, ProcessFields, Signal, Trigger};
