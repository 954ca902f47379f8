//! Event rules: the rule language over process, mark, trace and log signals. Its typed rules
//! (`rule.rs`), their parser and checker (`parse.rs`), the engine that evaluates them
//! (`engine/`), and what only that engine uses: the alerts it emits (`alert.rs`), the EWMA
//! baselines of `AVG_DEVIATION_PCT` (`ewma.rs`), string interning for its hot path
//! (`intern.rs`) and the benchmark workloads (`workload.rs`).
//!
//! Signals (`crate::signal`, `crate::wire`) are not here: both rule languages read them, so they
//! stay shared leaves at the crate root, as do severities, timestamps, number formatting, label
//! matchers and noise control. Nothing in this module knows threshold rules, and threshold rules
//! know nothing of it but the fingerprint scheme they keep apart from.
//!
//! Pure, like the whole crate: no I/O, no clock reads, no async runtime.

mod alert;
mod engine;
mod ewma;
mod intern;
mod parse;
mod rule;
#[doc(hidden)]
pub mod workload;

pub use alert::{fingerprint, Alert};
pub use engine::{BaselineRecord, Engine, Outcome, Stats};
pub use ewma::Ewma;
pub use parse::{parse_rule_set, Parsed};
pub use rule::{Condition, KeyPattern, Rule, RuleSet, Unit};
