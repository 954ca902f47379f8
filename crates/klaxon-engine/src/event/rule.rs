//! Compiled rule sets: the validated, typed form the engine evaluates (header, rules, operators).
//! Owns no parsing (see `parse`) and no evaluation state (see `engine`).

use crate::severity::Severity;
use crate::signal::{Level, Trigger};

/// A validated rule set, as its JSON document describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    /// `header.rule_set`; informational (the store names the set it activates).
    pub name: Option<String>,
    /// `header.rule_set_version`, exactly as written; `None` when the header has none.
    pub version: Option<serde_json::Number>,
    /// `header.description`.
    pub description: Option<String>,
    /// The rules in document order.
    pub rules: Vec<Rule>,
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique within its set.
    pub id: String,
    pub trigger: Trigger,
    /// The monitored action; for process rules the process name. `None` only for LOGGING.
    pub action: Option<String>,
    /// `None` means the rule applies to every context (the missing one included).
    pub context: Option<String>,
    /// The operator as written, upper-cased (e.g. `ON_START`, `MAX_DURATION_MS`).
    pub operator: String,
    pub condition: Condition,
    pub handler: String,
    pub severity: Severity,
    /// Throttle window in milliseconds; 0 never throttles.
    pub throttle_ms: f64,
    /// `alert.auto_resolve_seconds` in ms: the alert resolves after this long without a new
    /// firing. `None`: the server's setting (by default, resolved by hand).
    pub auto_resolve_ms: Option<f64>,
    /// `condition.metric`, informational.
    pub metric: Option<String>,
}

/// The typed condition of a rule. Durations are held in milliseconds, converted exactly from
/// the decimal the user wrote (see `number::scaled`); percent thresholds stay percent.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `ON_EVENT`, `ON_START`, `ON_STOP`, `ON_UPDATE`, `PROCESS_START`, `PROCESS_STOP`.
    Always,
    /// `used_ms > limit_ms`.
    MaxDurationMs { limit_ms: f64 },
    /// Monitor: `action_count > limit`; process: `steps_done > limit`.
    MaxOccurrence { limit: f64 },
    /// Mark: gap since the previous mark of the key; trace start: since the previous stop.
    MaxGapSeconds { limit_ms: f64, seconds: f64 },
    /// Deviation from the EWMA baseline, in percent.
    AvgDeviationPct { pct: f64, warmup: u32, alpha: f64 },
    /// The predecessor must be ACTION (with CONTEXT when given).
    PrecededBy { expect: KeyPattern },
    /// `PRECEDED_BY_WITHIN_MS` / `_SECS`: as `PrecededBy`, and no older than the limit.
    PrecededByWithin {
        expect: KeyPattern,
        limit_ms: f64,
        unit: Unit,
        limit: f64,
    },
    /// The open process's runtime passes the limit; by signal and by timer, once per run.
    RuntimeExceeded { limit_ms: f64 },
    /// At stop: stop − start > limit.
    MaxRuntimeExceeded { limit_ms: f64 },
    /// `steps_todo − steps_done > limit`.
    StepsLeftHigh { limit: f64 },
    /// `steps_todo > 0` and `steps_done × 100 < limit × steps_todo`.
    SuccessRateLow { pct: f64 },
    /// `status == value`.
    StatusEquals { status: f64 },
    /// `info` contains the text, case-insensitively. `needle` is lower-cased.
    InfoContains { needle: String },
    /// The log level equals this one.
    Severity { level: Level },
    /// The message contains the text (lower-cased) case-insensitively, and the level matches.
    LogContains {
        level: Option<Level>,
        needle: String,
    },
    /// Timer: ACTION (CONTEXT) must follow in the same process within the limit.
    FollowedByWithinMs { expect: KeyPattern, limit_ms: f64 },
    /// Timer: the trace is still open this long after its start.
    MaxOpenMs { limit_ms: f64 },
    /// Timer: the open process sends no signal for this long.
    SilenceSeconds { limit_ms: f64, seconds: f64 },
}

/// An expected monitor key: ACTION alone matches any context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    pub action: String,
    pub context: Option<String>,
}

/// The unit a limit was written in, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Secs,
}

impl Condition {
    /// Timer conditions fire from the deadline set, not only from signals.
    pub fn is_timer(&self) -> bool {
        matches!(
            self,
            Condition::FollowedByWithinMs { .. }
                | Condition::MaxOpenMs { .. }
                | Condition::SilenceSeconds { .. }
                | Condition::RuntimeExceeded { .. }
        )
    }
}
