//! Event rules: the rule language over process, mark, trace and log signals. Here are its typed
//! rules (`rule.rs`), their parser (`parse.rs`, the event-rule checks over `crate::check`), the
//! engine that evaluates them (`engine/`), and what only that engine uses:
//! - `alert.rs`: the alerts event rules emit and their fingerprint (threshold rules emit their
//!   own `ThresholdEvent`, and only borrow the fingerprint's shape to stay apart from it);
//! - `ewma.rs`: the baselines of `AVG_DEVIATION_PCT`, an event-rule operator;
//! - `intern.rs`: interned actions, contexts and scopes for the engine's hot path (the threshold
//!   engine finds series by hash instead);
//! - `workload.rs`: the benchmark and allocation-test workloads.
//!
//! What both rule languages, or the server around them, use stays a leaf at the crate root:
//! signals and their wire form (`signal`, `wire`: one input feeds both engines), `timestamp`,
//! `severity`, `number`, the shared checker (`check`), label matchers (`matcher`), noise control
//! (`noise/`) and alert states (`lifecycle`). Nothing here knows threshold rules.
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
pub use parse::{parse_rule_set, Parsed, RULE_KEYS};
pub use rule::{Condition, KeyPattern, Rule, RuleSet, Unit};
