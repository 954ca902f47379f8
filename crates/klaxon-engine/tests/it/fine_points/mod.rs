//! The fine points of the rule language, one or more tests each (`fpNN_...`, numbered by the
//! section comments of each module), plus details of how signals meet per-key state (trace
//! stops without a trace, marks vs traces, evaluation order). One module per theme.

mod alerts;
mod baselines;
mod followed_by;
mod limits;
mod numbers;
mod once;
mod runs;
mod signals;
mod timers;
mod trace_stop;
mod validation;

use crate::common::*;
use klaxon_engine::event::parse_rule_set;
use klaxon_engine::wire::parse_signal;
use klaxon_engine::{fingerprint, Severity, Trigger};

/// A `FOLLOWED_BY_WITHIN_MS` rule on the marks of `on`.
fn followed(id: &str, on: &str, value: &str) -> R {
    rule(id, "MARK_EVENT", on, "FOLLOWED_BY_WITHIN_MS", value)
}
