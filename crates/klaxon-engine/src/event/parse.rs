//! Rule-set parsing and validation: turns a rule-set JSON document into a [`RuleSet`] or into
//! the complete list of what is wrong with it (header, rules, operators and their values, timer
//! rules, throttling; the checks docs/rules.md lists).
//! Owns no storage, activation or evaluation, and must not stop at the first error: every rule
//! is checked and every error of the whole set is reported at once.
//!
//! The text is read into a `serde_json::Value` first (a syntax error is one [`RuleError`] with
//! line and column), then walked by hand. One invalid rule rejects the whole set; warnings never
//! reject.
//!
//! Decisions on what the rule language leaves open (strict, but trying to be helpful):
//! - A key that appears twice in one JSON object is a syntax-level error with line and column
//!   (plain `serde_json` would silently keep the last one, hiding a typo).
//! - A leading UTF-8 byte-order mark is skipped.
//! - JSON `null` for an optional field means "absent" (`"context": null` is no context); for a
//!   required field it reports "is required".
//! - Names in values (ACTION, CONTEXT), `action` and `context` are kept exactly as written, since
//!   matching is exact; leading or trailing whitespace in them is accepted with a warning.
//!   Keywords (trigger type, operator, severity, log levels) and numbers are trimmed.
//! - A value, or a `|`-separated part of one, made only of whitespace counts as empty.
//! - `condition.value` must be a string or a number for every operator; an ON_* operator ignores
//!   its content but not a wrong type (an object or an array is still an error).
//! - INFO_CONTAINS and SEVERITY take the whole value as one part: an INFO_CONTAINS needle may
//!   contain `|`; a SEVERITY value with `|` is not a level and is rejected.
//! - Numbers accept an optional sign, digits with an optional fraction and an optional exponent
//!   (`12`, `0.8`, `.5`, `1e3`); `inf`, `NaN`, hex and anything that overflows to infinity (also
//!   after the seconds-to-milliseconds conversion) are rejected. `-0` is stored as 0.
//! - STATUS_EQUALS needs an integer (status is an integer, a fraction could never match);
//!   AVG_DEVIATION_PCT warm-up must be integral (`3` or `3.0`) and fit in 32 bits. Every other
//!   threshold except STATUS_EQUALS must be >= 0 (STEPS_LEFT_HIGH included).
//! - An operator not allowed for its trigger is reported on `condition.operator`; when the
//!   trigger itself is invalid, the compatibility check is skipped (the value is still checked).
//! - A missing `action` is reported only when the trigger is known and is not LOGGING.
//! - Rule ids are compared exactly (case-sensitively); a blank id is not usable and the error
//!   names the rule by index only. `#n` in messages is the 0-based index in `rules`.
//! - `header.rule_set_version` must be a JSON number (a numeric string is an error);
//!   `alert.throttle_seconds`/`throttle` also accept a numeric string. Both throttle keys with
//!   the same value are fine.
//! - A process or LOGGING rule with a context is kept (with its context) and warned about: the
//!   engine never evaluates it.
//! - Unknown keys suggest the nearest accepted key, and at rule level a key that belongs inside
//!   `condition` or `alert` (e.g. `handler`) says so.
//! - Syntax errors and "the document is not an object" use the field `document`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::check::{self, get, kind, At, Keyword, RuleError, DOCUMENT, DOC_KEYS};
use crate::event::rule::{Condition, KeyPattern, Rule, RuleSet, Unit};
use crate::number::scaled;
use crate::severity::Severity;
use crate::signal::{Level, Trigger};

/// A rule set that passed validation, with the warnings it produced.
pub type Parsed = check::Parsed<RuleSet>;

/// Parses and validates a rule-set document. `Err` holds every error of the set.
pub fn parse_rule_set(text: &str) -> Result<Parsed, Vec<RuleError>> {
    check::parse(text, Checker::document)
}

// ---------------------------------------------------------------------------------------------
// Operators

/// The operator kinds; several names may share one (the ON_* family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Always,
    MaxDurationMs,
    MaxOccurrence,
    MaxGapSeconds,
    AvgDeviationPct,
    PrecededBy,
    PrecededByWithinMs,
    PrecededByWithinSecs,
    RuntimeExceeded,
    MaxRuntimeExceeded,
    StepsLeftHigh,
    SuccessRateLow,
    StatusEquals,
    InfoContains,
    Severity,
    LogContains,
    FollowedByWithinMs,
    MaxOpenMs,
    SilenceSeconds,
}

use Trigger::{
    Logging, MarkEvent, ProcessStart, ProcessStop, ProcessUpdate, TraceStart, TraceStop,
};

const NOT_LOGGING: &[Trigger] = &[
    ProcessStart,
    ProcessUpdate,
    ProcessStop,
    MarkEvent,
    TraceStart,
    TraceStop,
];
const PROCESS: &[Trigger] = &[ProcessStart, ProcessUpdate, ProcessStop];
const PRECEDED: &[Trigger] = &[MarkEvent, TraceStart, ProcessUpdate, ProcessStop];

/// Operator name, kind, allowed triggers.
const OPERATORS: &[(&str, Op, &[Trigger])] = &[
    ("ON_EVENT", Op::Always, NOT_LOGGING),
    ("ON_START", Op::Always, NOT_LOGGING),
    ("ON_STOP", Op::Always, NOT_LOGGING),
    ("ON_UPDATE", Op::Always, NOT_LOGGING),
    ("PROCESS_START", Op::Always, NOT_LOGGING),
    ("PROCESS_STOP", Op::Always, NOT_LOGGING),
    (
        "MAX_DURATION_MS",
        Op::MaxDurationMs,
        &[MarkEvent, TraceStop],
    ),
    (
        "MAX_OCCURRENCE",
        Op::MaxOccurrence,
        &[MarkEvent, TraceStop, ProcessUpdate, ProcessStop],
    ),
    (
        "MAX_GAP_SECONDS",
        Op::MaxGapSeconds,
        &[MarkEvent, TraceStart],
    ),
    (
        "AVG_DEVIATION_PCT",
        Op::AvgDeviationPct,
        &[MarkEvent, TraceStop],
    ),
    ("PRECEDED_BY", Op::PrecededBy, PRECEDED),
    ("PRECEDED_BY_WITHIN_MS", Op::PrecededByWithinMs, PRECEDED),
    (
        "PRECEDED_BY_WITHIN_SECS",
        Op::PrecededByWithinSecs,
        PRECEDED,
    ),
    (
        "RUNTIME_EXCEEDED",
        Op::RuntimeExceeded,
        &[ProcessStart, ProcessUpdate],
    ),
    (
        "MAX_RUNTIME_EXCEEDED",
        Op::MaxRuntimeExceeded,
        &[ProcessStop],
    ),
    ("STEPS_LEFT_HIGH", Op::StepsLeftHigh, PROCESS),
    ("SUCCESS_RATE_LOW", Op::SuccessRateLow, PROCESS),
    ("STATUS_EQUALS", Op::StatusEquals, PROCESS),
    ("INFO_CONTAINS", Op::InfoContains, PROCESS),
    ("SEVERITY", Op::Severity, &[Logging]),
    ("LOG_CONTAINS", Op::LogContains, &[Logging]),
    (
        "FOLLOWED_BY_WITHIN_MS",
        Op::FollowedByWithinMs,
        &[MarkEvent, TraceStart, TraceStop, ProcessStart],
    ),
    ("MAX_OPEN_MS", Op::MaxOpenMs, &[TraceStart]),
    ("SILENCE_SECONDS", Op::SilenceSeconds, &[ProcessStart]),
];

const LEVELS: &str = "ERROR, WARN, MONITOR, INFO or DEBUG (any case)";

impl Op {
    /// What the value must look like, for messages.
    fn format(self) -> &'static str {
        match self {
            Op::Always => "any value (it is ignored)",
            Op::MaxDurationMs | Op::RuntimeExceeded | Op::MaxRuntimeExceeded | Op::MaxOpenMs => {
                "a number of milliseconds >= 0"
            }
            Op::MaxOccurrence => "a count >= 0",
            Op::MaxGapSeconds | Op::SilenceSeconds => "a number of seconds >= 0 (decimals allowed)",
            Op::AvgDeviationPct => {
                "PCT, PCT|WARMUP or PCT|WARMUP|ALPHA (percent >= 0; warm-up an integer >= 0, \
                 default 3; 0 < alpha <= 1, default 0.1)"
            }
            Op::PrecededBy => "ACTION or ACTION|CONTEXT",
            Op::PrecededByWithinMs | Op::FollowedByWithinMs => {
                "ACTION|MS or ACTION|CONTEXT|MS (MS a number >= 0)"
            }
            Op::PrecededByWithinSecs => {
                "ACTION|SECONDS or ACTION|CONTEXT|SECONDS (SECONDS a number >= 0)"
            }
            Op::StepsLeftHigh => "a number of steps >= 0",
            Op::SuccessRateLow => "a percentage >= 0",
            Op::StatusEquals => "an integer status",
            Op::InfoContains => "a non-empty text",
            Op::Severity => "a log level: ERROR, WARN, MONITOR, INFO or DEBUG (any case)",
            Op::LogContains => {
                "TEXT or LEVEL|TEXT (LEVEL one of ERROR, WARN, MONITOR, INFO, DEBUG, any case)"
            }
        }
    }
}

fn operator_names() -> String {
    OPERATORS
        .iter()
        .map(|(n, _, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn trigger_names(triggers: &[Trigger]) -> String {
    triggers
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Keys

/// The keys a rule of an event rule set may have (keys starting with `_` aside).
pub const RULE_KEYS: &[&str] = &[
    "id",
    "trigger_type",
    "action",
    "context",
    "condition",
    "alert",
];
const CONDITION_KEYS: &[&str] = &["operator", "value", "metric"];
const ALERT_KEYS: &[&str] = &[
    "handler",
    "severity",
    "throttle_seconds",
    "throttle",
    "auto_resolve_seconds",
];

// ---------------------------------------------------------------------------------------------
// Numbers

/// Parses a finite decimal (`12`, `-0.8`, `.5`, `1e3`); `inf`, `NaN` and overflow are errors.
fn decimal(text: &str) -> Result<f64, &'static str> {
    let t = text.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if !mantissa_ok || !exponent_ok {
        return Err("is not a number");
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v + 0.0),
        _ => Err("is out of range"),
    }
}

/// Lower bound a number must respect.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Min {
    Any,
    Zero,
}

// ---------------------------------------------------------------------------------------------
// The checker

const VALUE: &str = "condition.value";

/// Keys that belong one level down, for the hint on an unknown rule-level key.
const NESTED: &[(&str, &[&str])] = &[("condition", CONDITION_KEYS), ("alert", ALERT_KEYS)];

/// The rule language the checker's own checks below belong to.
enum EventRules {}

type Checker = check::Checker<EventRules>;

impl Checker {
    fn document(&mut self, doc: &Value) -> RuleSet {
        let mut set = RuleSet {
            name: None,
            version: None,
            description: None,
            rules: Vec::new(),
        };
        let Some(obj) = doc.as_object() else {
            self.error(
                &DOCUMENT,
                "document",
                format!(
                    "must be a JSON object with header and rules, got {}",
                    kind(doc)
                ),
            );
            return set;
        };
        let header = self.header(obj);
        set.name = header.name;
        set.version = header.version;
        set.description = header.description;
        match get(obj, "rules") {
            None => self.error(
                &DOCUMENT,
                "rules",
                "is required: an array of rules (it may be empty)",
            ),
            Some(Value::Array(rules)) => {
                let mut seen = HashMap::new();
                for (index, rule) in rules.iter().enumerate() {
                    if let Some(rule) = self.rule(index, rule, &mut seen) {
                        set.rules.push(rule);
                    }
                }
            }
            Some(other) => self.error(
                &DOCUMENT,
                "rules",
                format!("must be an array of rules, got {}", kind(other)),
            ),
        }
        self.unknown_keys(&DOCUMENT, obj, "", DOC_KEYS, &[]);
        set
    }

    /// Checks one rule; `None` when it has an error (all of them reported).
    fn rule(&mut self, index: usize, v: &Value, seen: &mut HashMap<String, usize>) -> Option<Rule> {
        let before = self.errors.len();
        let (obj, at) = self.rule_start(index, v, seen)?;
        let id = at.rule.clone();

        let k = Keyword::any_case("trigger_type", "trigger type", trigger_names(&Trigger::ALL));
        // Unlike the other keywords, a trigger type of the wrong type says "any case" too.
        let k = Keyword {
            typed: k.accepted.clone(),
            ..k
        };
        let trigger = self.keyword(&at, get(obj, "trigger_type"), k, None, |s| {
            Trigger::parse(s.trim())
        });

        let action = match get(obj, "action") {
            None => {
                if let Some(t) = trigger.filter(|t| *t != Logging) {
                    let what = if t.is_process() {
                        "the process name"
                    } else {
                        "the monitored action"
                    };
                    self.error(
                        &at,
                        "action",
                        format!(
                            "is required for {} rules ({what}); only LOGGING rules may omit it",
                            t.as_str()
                        ),
                    );
                }
                None
            }
            Some(v) => {
                let blank = if trigger == Some(Logging) {
                    "must be a non-empty string (omit it to match every process)"
                } else {
                    "must be a non-empty string"
                };
                self.name(&at, "action", v, blank, "must be a non-empty string")
            }
        };

        let context = get(obj, "context").and_then(|v| {
            self.name(
                &at,
                "context",
                v,
                "must be a non-empty string; omit it to match every context",
                "must be a non-empty string (or omitted to match every context)",
            )
        });
        if let (Some(t), Some(_)) = (trigger, &context) {
            if !t.is_monitor() {
                self.warn(
                    &at,
                    "context",
                    format!(
                        "context is ignored for {} rules: only MARK_EVENT, TRACE_START and \
                         TRACE_STOP rules match a context, so this rule is never evaluated",
                        t.as_str()
                    ),
                );
            }
        }

        let condition = match get(obj, "condition") {
            None => {
                self.error(
                    &at,
                    "condition",
                    "is required: an object with operator and value",
                );
                None
            }
            Some(Value::Object(c)) => self.condition(&at, c, trigger),
            Some(other) => {
                self.error(
                    &at,
                    "condition",
                    format!(
                        "must be an object with operator and value, got {}",
                        kind(other)
                    ),
                );
                None
            }
        };

        let alert = match get(obj, "alert") {
            None => {
                self.error(&at, "alert", "is required: an object with at least handler");
                None
            }
            Some(Value::Object(a)) => self.alert(&at, a),
            Some(other) => {
                self.error(
                    &at,
                    "alert",
                    format!(
                        "must be an object with handler, severity and throttle_seconds, got {}",
                        kind(other)
                    ),
                );
                None
            }
        };

        self.unknown_keys(&at, obj, "", RULE_KEYS, NESTED);

        if self.errors.len() > before {
            return None;
        }
        let (operator, condition, metric) = condition?;
        let (handler, severity, throttle_ms, auto_resolve_ms) = alert?;
        Some(Rule {
            id: id?,
            trigger: trigger?,
            action,
            context,
            operator,
            condition,
            handler,
            severity,
            throttle_ms,
            auto_resolve_ms,
            metric,
        })
    }

    /// `condition`: operator (upper-cased), compiled condition, metric.
    fn condition(
        &mut self,
        at: &At,
        c: &Map<String, Value>,
        trigger: Option<Trigger>,
    ) -> Option<(String, Condition, Option<String>)> {
        let before = self.errors.len();
        let k = Keyword::any_case("condition.operator", "operator", operator_names());
        let found = self.keyword(at, get(c, "operator"), k, None, |s| {
            let name = s.trim().to_uppercase();
            OPERATORS.iter().find(|(n, _, _)| *n == name).copied()
        });
        let operator = found.map(|(n, op, allowed)| {
            if let Some(t) = trigger.filter(|t| !allowed.contains(t)) {
                self.error(
                    at,
                    "condition.operator",
                    format!(
                        "{n} is not allowed for {} rules; it is allowed for {}",
                        t.as_str(),
                        trigger_names(allowed)
                    ),
                );
            }
            (n, op)
        });

        let value = match get(c, "value") {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(Value::Number(n)) => Some(Some(n.to_string())),
            Some(other) => {
                let expected = operator.map_or("", |(_, op)| op.format());
                let expected = if expected.is_empty() {
                    String::new()
                } else {
                    format!(": {expected}")
                };
                self.error(
                    at,
                    VALUE,
                    format!(
                        "must be a string or a number{expected}, got {}",
                        kind(other)
                    ),
                );
                None
            }
        };

        let metric = self.opt_string(at, c, "metric", "condition.metric", false);
        self.unknown_keys(at, c, "condition.", CONDITION_KEYS, &[]);

        let (name, op) = operator?;
        let compiled = self.value(at, name, op, value?.as_deref());
        if self.errors.len() > before {
            return None;
        }
        Some((name.to_owned(), compiled?, metric))
    }

    /// `alert`: handler, severity, throttle in ms, auto-resolve in ms.
    fn alert(
        &mut self,
        at: &At,
        a: &Map<String, Value>,
    ) -> Option<(String, Severity, f64, Option<f64>)> {
        let before = self.errors.len();
        let handler = match get(a, "handler") {
            None => {
                self.error(at, "alert.handler", "is required: a non-empty string");
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.error(at, "alert.handler", "must be a non-empty string");
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.error(
                    at,
                    "alert.handler",
                    format!("must be a non-empty string, got {}", kind(other)),
                );
                None
            }
        };

        let severity = self.severity(at, a, "alert.severity");

        let seconds = self.throttle(at, a, "throttle_seconds");
        let synonym = self.throttle(at, a, "throttle");
        let auto_resolve = self.throttle(at, a, "auto_resolve_seconds");
        if let (Some(Some((s, s_text))), Some(Some((t, t_text)))) = (&seconds, &synonym) {
            if s != t {
                self.error(
                    at,
                    "alert.throttle",
                    format!(
                        "conflicts with alert.throttle_seconds ({t_text} vs {s_text}); \
                         give only one of them (they are synonyms)"
                    ),
                );
            }
        }
        self.unknown_keys(at, a, "alert.", ALERT_KEYS, &[]);

        if self.errors.len() > before {
            return None;
        }
        let throttle = match (seconds?, synonym?) {
            (Some((s, _)), _) | (None, Some((s, _))) => s,
            (None, None) => 0.0,
        };
        let throttle_ms = scaled(throttle, 3);
        if !throttle_ms.is_finite() {
            self.error(
                at,
                "alert.throttle_seconds",
                "is out of range; expected a number of seconds >= 0",
            );
            return None;
        }
        let auto_resolve_ms = auto_resolve?
            .map(|(v, _)| scaled(v, 3))
            .filter(|ms| *ms > 0.0);
        Some((handler?, severity?, throttle_ms, auto_resolve_ms))
    }

    /// One throttle key: `None` = invalid (reported), `Some(None)` = absent, else (seconds, text).
    fn throttle(
        &mut self,
        at: &At,
        a: &Map<String, Value>,
        key: &str,
    ) -> Option<Option<(f64, String)>> {
        let field = format!("alert.{key}");
        const EXPECTED: &str = "expected a number of seconds >= 0 (decimals allowed)";
        let text = match get(a, key) {
            None => return Some(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                self.error(
                    at,
                    &field,
                    format!("must be a number, got {}; {EXPECTED}", kind(other)),
                );
                return None;
            }
        };
        match decimal(&text) {
            Ok(v) if v >= 0.0 => Some(Some((v, text))),
            Ok(_) => {
                self.error(at, &field, format!("{text:?} is negative; {EXPECTED}"));
                None
            }
            Err(reason) => {
                self.error(at, &field, format!("{text:?} {reason}; {EXPECTED}"));
                None
            }
        }
    }

    /// A number inside `condition.value`; `what` names the part ("" for the whole value).
    fn number(&mut self, at: &At, what: &str, text: &str, min: Min, op: Op) -> Option<f64> {
        let expected = op.format();
        match decimal(text) {
            Ok(v) if min == Min::Zero && v < 0.0 => {
                self.error(
                    at,
                    VALUE,
                    format!("{what}{text:?} is negative; expected {expected}"),
                );
                None
            }
            Ok(v) => Some(v),
            Err(reason) => {
                self.error(
                    at,
                    VALUE,
                    format!("{what}{text:?} {reason}; expected {expected}"),
                );
                None
            }
        }
    }

    /// Seconds as written to milliseconds, exactly; overflow is an error.
    fn millis(&mut self, at: &At, seconds: f64, op: Op) -> Option<f64> {
        let ms = scaled(seconds, 3);
        if ms.is_finite() {
            Some(ms)
        } else {
            self.error(
                at,
                VALUE,
                format!(
                    "{seconds} seconds is out of range; expected {}",
                    op.format()
                ),
            );
            None
        }
    }

    /// Splits a `|` value, requiring no empty part and a part count in `min..=max`.
    fn parts<'t>(
        &mut self,
        at: &At,
        text: &'t str,
        min: usize,
        max: usize,
        op: Op,
    ) -> Option<Vec<&'t str>> {
        let parts: Vec<&str> = text.split('|').collect();
        if parts.iter().any(|p| p.trim().is_empty()) {
            self.error(
                at,
                VALUE,
                format!(
                    "{text:?} has an empty part; expected {}, with no empty part",
                    op.format()
                ),
            );
            return None;
        }
        if parts.len() < min || parts.len() > max {
            self.error(
                at,
                VALUE,
                format!(
                    "{text:?} has {} parts; expected {}",
                    parts.len(),
                    op.format()
                ),
            );
            return None;
        }
        Some(parts)
    }

    /// ACTION and optional CONTEXT of a value, as written.
    fn key_pattern(&mut self, at: &At, action: &str, context: Option<&str>) -> KeyPattern {
        self.check_spaces(at, VALUE, "action", action);
        if let Some(c) = context {
            self.check_spaces(at, VALUE, "context", c);
        }
        KeyPattern {
            action: action.to_owned(),
            context: context.map(str::to_owned),
        }
    }

    /// Compiles `condition.value` for a known operator; errors go to `condition.value`.
    fn value(&mut self, at: &At, name: &str, op: Op, value: Option<&str>) -> Option<Condition> {
        if op == Op::Always {
            return Some(Condition::Always);
        }
        let Some(text) = value.filter(|t| !t.trim().is_empty()) else {
            self.error(
                at,
                VALUE,
                format!("is required for {name}: {}", op.format()),
            );
            return None;
        };
        let condition = match op {
            Op::Always => Condition::Always,
            Op::MaxDurationMs => Condition::MaxDurationMs {
                limit_ms: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::MaxOccurrence => Condition::MaxOccurrence {
                limit: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::MaxGapSeconds => {
                let seconds = self.number(at, "", text, Min::Zero, op)?;
                Condition::MaxGapSeconds {
                    limit_ms: self.millis(at, seconds, op)?,
                    seconds,
                }
            }
            Op::SilenceSeconds => {
                let seconds = self.number(at, "", text, Min::Zero, op)?;
                Condition::SilenceSeconds {
                    limit_ms: self.millis(at, seconds, op)?,
                    seconds,
                }
            }
            Op::RuntimeExceeded => Condition::RuntimeExceeded {
                limit_ms: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::MaxRuntimeExceeded => Condition::MaxRuntimeExceeded {
                limit_ms: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::MaxOpenMs => Condition::MaxOpenMs {
                limit_ms: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::StepsLeftHigh => Condition::StepsLeftHigh {
                limit: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::SuccessRateLow => Condition::SuccessRateLow {
                pct: self.number(at, "", text, Min::Zero, op)?,
            },
            Op::StatusEquals => {
                let status = self.number(at, "", text, Min::Any, op)?;
                if status.fract() != 0.0 {
                    self.error(
                        at,
                        VALUE,
                        format!("{text:?} is not an integer; expected {}", op.format()),
                    );
                    return None;
                }
                Condition::StatusEquals { status }
            }
            Op::InfoContains => Condition::InfoContains {
                needle: text.to_lowercase(),
            },
            Op::Severity => match Level::parse(text.trim()) {
                Some(level) => Condition::Severity { level },
                None => {
                    self.error(
                        at,
                        VALUE,
                        format!("unknown log level {text:?}; expected {LEVELS}"),
                    );
                    return None;
                }
            },
            Op::LogContains => {
                let parts = self.parts(at, text, 1, 2, op)?;
                match parts.as_slice() {
                    [needle] => Condition::LogContains {
                        level: None,
                        needle: needle.to_lowercase(),
                    },
                    [level, needle] => match Level::parse(level.trim()) {
                        Some(level) => Condition::LogContains {
                            level: Some(level),
                            needle: needle.to_lowercase(),
                        },
                        None => {
                            self.error(
                                at,
                                VALUE,
                                format!(
                                    "unknown log level {level:?} in {text:?}; expected {}",
                                    op.format()
                                ),
                            );
                            return None;
                        }
                    },
                    _ => return None,
                }
            }
            Op::AvgDeviationPct => {
                let parts = self.parts(at, text, 1, 3, op)?;
                let pct = self.number(at, "percent ", parts[0], Min::Zero, op);
                let warmup = match parts.get(1) {
                    None => Some(3),
                    Some(w) => self.warmup(at, w, op),
                };
                let alpha = match parts.get(2) {
                    None => Some(0.1),
                    Some(a) => self.alpha(at, a, op),
                };
                Condition::AvgDeviationPct {
                    pct: pct?,
                    warmup: warmup?,
                    alpha: alpha?,
                }
            }
            Op::PrecededBy => {
                let parts = self.parts(at, text, 1, 2, op)?;
                Condition::PrecededBy {
                    expect: self.key_pattern(at, parts[0], parts.get(1).copied()),
                }
            }
            Op::PrecededByWithinMs | Op::PrecededByWithinSecs | Op::FollowedByWithinMs => {
                let parts = self.parts(at, text, 2, 3, op)?;
                let (limit_text, key) = parts.split_last()?;
                let limit = self.number(at, "limit ", limit_text, Min::Zero, op)?;
                let expect = self.key_pattern(at, key[0], key.get(1).copied());
                match op {
                    Op::PrecededByWithinMs => Condition::PrecededByWithin {
                        expect,
                        limit_ms: limit,
                        unit: Unit::Ms,
                        limit,
                    },
                    Op::PrecededByWithinSecs => Condition::PrecededByWithin {
                        expect,
                        limit_ms: self.millis(at, limit, op)?,
                        unit: Unit::Secs,
                        limit,
                    },
                    _ => Condition::FollowedByWithinMs {
                        expect,
                        limit_ms: limit,
                    },
                }
            }
        };
        Some(condition)
    }

    fn warmup(&mut self, at: &At, text: &str, op: Op) -> Option<u32> {
        let w = self.number(at, "warm-up ", text, Min::Zero, op)?;
        if w.fract() != 0.0 || w > f64::from(u32::MAX) {
            self.error(
                at,
                VALUE,
                format!(
                    "warm-up {text:?} is not an integer >= 0 that fits 32 bits; expected {}",
                    op.format()
                ),
            );
            return None;
        }
        // Integral and within 0..=u32::MAX, so the conversion is exact.
        Some(w as u32)
    }

    fn alpha(&mut self, at: &At, text: &str, op: Op) -> Option<f64> {
        let a = self.number(at, "alpha ", text, Min::Any, op)?;
        if a <= 0.0 || a > 1.0 {
            self.error(
                at,
                VALUE,
                format!("alpha {text:?} is out of range; expected {}", op.format()),
            );
            return None;
        }
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "id": "R1",
            "trigger_type": "MARK_EVENT",
            "action": "A",
            "condition": {"operator": "ON_EVENT"},
            "alert": {"handler": "LOG"}
        })
    }

    /// `base()` with `pointer` set to `new` (or removed when `new` is `None`).
    fn with(mut rule: Value, pointer: &str, new: Option<Value>) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a slash");
        let obj = rule
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("parent object exists");
        match new {
            Some(v) => obj.insert(key.to_owned(), v),
            None => obj.remove(key),
        };
        rule
    }

    fn rule(trigger: &str, operator: &str, value: Value) -> Value {
        let r = with(base(), "/trigger_type", Some(json!(trigger)));
        let r = with(r, "/condition/operator", Some(json!(operator)));
        with(r, "/condition/value", Some(value))
    }

    fn set_text(rules: Vec<Value>) -> String {
        json!({"header": {"rule_set": "test", "rule_set_version": 1}, "rules": rules}).to_string()
    }

    fn accept(rule: Value) -> Parsed {
        parse_rule_set(&set_text(vec![rule])).expect("set is valid")
    }

    fn condition_of(rule: Value) -> Condition {
        accept(rule).set.rules.remove(0).condition
    }

    fn reject(rule: Value) -> Vec<RuleError> {
        parse_rule_set(&set_text(vec![rule])).expect_err("set must be rejected")
    }

    /// The set is rejected with exactly one error, on `field`; returns it.
    fn reject_on(rule: Value, field: &str) -> RuleError {
        let errors = reject(rule);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].field, field, "{errors:#?}");
        errors[0].clone()
    }

    const SEQ_003: &str = r#"{
      "header": {"rule_set": "METRO Rules", "rule_set_version": 2, "description": "example"},
      "rules": [
        {
          "id": "SEQ-003",
          "_comment": "Mehr als 25 Sekunden dauert die Fahrt nicht. Irgendetwas hat den Zug aufgehalten.",
          "trigger_type": "TRACE_STOP",
          "action": "TRACK_SECTION",
          "context": "SECTION_400_001",
          "condition": {
            "operator": "MAX_DURATION_MS",
            "value": "25000"
          },
          "alert": { "handler": "MAIL_LOG", "severity": "WARN", "throttle_seconds": 0 }
        }
      ]
    }"#;

    #[test]
    fn metro_example_parses() {
        let parsed = parse_rule_set(SEQ_003).expect("the example is valid");
        assert!(parsed.warnings.is_empty());
        let set = parsed.set;
        assert_eq!(set.name.as_deref(), Some("METRO Rules"));
        assert_eq!(set.version.map(|v| v.to_string()).as_deref(), Some("2"));
        assert_eq!(set.description.as_deref(), Some("example"));
        assert_eq!(
            set.rules,
            vec![Rule {
                id: "SEQ-003".into(),
                trigger: Trigger::TraceStop,
                action: Some("TRACK_SECTION".into()),
                context: Some("SECTION_400_001".into()),
                operator: "MAX_DURATION_MS".into(),
                condition: Condition::MaxDurationMs { limit_ms: 25000.0 },
                handler: "MAIL_LOG".into(),
                severity: Severity::Medium,
                throttle_ms: 0.0,
                auto_resolve_ms: None,
                metric: None,
            }]
        );
    }

    #[test]
    fn metro_example_with_missing_comma_is_a_syntax_error() {
        let broken = SEQ_003.replace(r#""SECTION_400_001","#, r#""SECTION_400_001""#);
        let errors = parse_rule_set(&broken).expect_err("missing comma");
        assert_eq!(errors.len(), 1);
        let e = &errors[0];
        assert_eq!((e.line, e.column), (Some(10), Some(11)), "{e:?}");
        assert_eq!(e.field, "document");
        assert!(
            e.message.starts_with("invalid JSON: expected"),
            "{}",
            e.message
        );
        assert_eq!(e.to_string(), format!("line 10, column 11: {}", e.message));
    }

    #[test]
    fn empty_input_and_trailing_garbage_are_syntax_errors() {
        let e = &parse_rule_set("").expect_err("empty")[0];
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("end of input"), "{}", e.message);
        let e = &parse_rule_set("{\"rules\": []}\n x").expect_err("trailing")[0];
        assert_eq!((e.line, e.column), (Some(2), Some(2)));
    }

    #[test]
    fn duplicate_json_keys_are_rejected_with_position() {
        let text = "{\"rules\": [],\n \"rules\": []}";
        let e = &parse_rule_set(text).expect_err("duplicate key")[0];
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("duplicate key \"rules\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn minimal_documents() {
        let parsed = parse_rule_set(r#"{"rules": []}"#).expect("empty rules allowed");
        assert_eq!(parsed.set.rules, vec![]);
        assert_eq!(parsed.set.version, None);
        assert_eq!(parsed.set.name, None);
        let parsed = parse_rule_set("\u{feff}{\"header\": null, \"rules\": []}").expect("bom");
        assert_eq!(parsed.set.rules, vec![]);

        let errors = parse_rule_set(r#"{"header": {}}"#).expect_err("rules missing");
        assert_eq!(errors[0].field, "rules");
        assert_eq!(errors[0].index, None);
        let errors = parse_rule_set(r#"{"rules": {}}"#).expect_err("rules not array");
        assert_eq!(errors[0].field, "rules");
        let errors = parse_rule_set("[]").expect_err("not an object");
        assert_eq!(errors[0].field, "document");
        let errors = parse_rule_set(r#"{"rules": [], "header": {"rule_set_version": "2"}}"#)
            .expect_err("version as string");
        assert_eq!(errors[0].field, "header.rule_set_version");
        assert_eq!(
            errors[0].to_string(),
            "header.rule_set_version: must be a number, got a string"
        );
    }

    #[test]
    fn version_is_kept_as_written() {
        let parsed =
            parse_rule_set(r#"{"header": {"rule_set_version": 2.5}, "rules": []}"#).expect("ok");
        assert_eq!(
            parsed.set.version.map(|v| v.to_string()).as_deref(),
            Some("2.5")
        );
    }

    // ----- scenario 21 -----

    #[test]
    fn rule_without_handler() {
        let e = reject_on(with(base(), "/alert/handler", None), "alert.handler");
        assert_eq!(e.rule.as_deref(), Some("R1"));
        assert_eq!(e.index, Some(0));
        assert_eq!(
            e.to_string(),
            "rule R1 (#0): alert.handler: is required: a non-empty string"
        );
        reject_on(
            with(base(), "/alert/handler", Some(json!(""))),
            "alert.handler",
        );
        reject_on(with(base(), "/alert", None), "alert");
    }

    #[test]
    fn unknown_operator_lists_accepted_ones() {
        let e = reject_on(
            rule("MARK_EVENT", "PRECEDED_BY_WITHIN_MINUTES", json!("A|1")),
            "condition.operator",
        );
        assert!(
            e.message
                .contains("unknown operator \"PRECEDED_BY_WITHIN_MINUTES\""),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("PRECEDED_BY_WITHIN_SECS"),
            "{}",
            e.message
        );
        assert!(e.message.contains("SILENCE_SECONDS"), "{}", e.message);
    }

    #[test]
    fn max_gap_seconds_on_trace_stop() {
        let e = reject_on(
            rule("TRACE_STOP", "MAX_GAP_SECONDS", json!("0.8")),
            "condition.operator",
        );
        assert_eq!(
            e.message,
            "MAX_GAP_SECONDS is not allowed for TRACE_STOP rules; it is allowed for MARK_EVENT, TRACE_START"
        );
    }

    #[test]
    fn empty_action() {
        reject_on(with(base(), "/action", Some(json!(""))), "action");
        reject_on(with(base(), "/action", Some(json!("  "))), "action");
        let e = reject_on(with(base(), "/action", None), "action");
        assert!(
            e.message.contains("only LOGGING rules may omit it"),
            "{}",
            e.message
        );
    }

    #[test]
    fn values_with_empty_parts() {
        for (op, value) in [
            ("PRECEDED_BY", "|C1"),
            ("PRECEDED_BY", "A|"),
            ("AVG_DEVIATION_PCT", "20||0.3"),
            ("PRECEDED_BY_WITHIN_SECS", "|5"),
            ("PRECEDED_BY_WITHIN_MS", "A| |5"),
            ("FOLLOWED_BY_WITHIN_MS", "|5"),
        ] {
            let e = reject_on(rule("MARK_EVENT", op, json!(value)), "condition.value");
            assert!(
                e.message.contains("has an empty part"),
                "{op} {value}: {}",
                e.message
            );
        }
    }

    #[test]
    fn misspelt_key() {
        let r = with(base(), "/contxt", Some(json!("C1")));
        let e = reject_on(r, "contxt");
        assert!(
            e.message.starts_with("unknown key (did you mean context?)"),
            "{}",
            e.message
        );
        let e = reject_on(
            with(base(), "/alert/throtle", Some(json!(1))),
            "alert.throtle",
        );
        assert!(
            e.message.contains("did you mean alert.throttle?"),
            "{}",
            e.message
        );
        let e = reject_on(with(base(), "/handler", Some(json!("X"))), "handler");
        assert!(
            e.message.contains("did you mean alert.handler?"),
            "{}",
            e.message
        );
        reject_on(
            with(base(), "/condition/valu", Some(json!("1"))),
            "condition.valu",
        );
        let errors = parse_rule_set(r#"{"rules": [], "header": {"ruleset": "x"}, "extra": 1}"#)
            .expect_err("unknown keys");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["header.ruleset", "extra"]);
    }

    #[test]
    fn context_must_be_a_non_empty_string() {
        let e = reject_on(
            with(base(), "/context", Some(json!({"name": "C1"}))),
            "context",
        );
        assert!(e.message.ends_with("got an object"), "{}", e.message);
        reject_on(with(base(), "/context", Some(json!(3))), "context");
        reject_on(with(base(), "/context", Some(json!(""))), "context");
        // null is no context
        let parsed = accept(with(base(), "/context", Some(Value::Null)));
        assert_eq!(parsed.set.rules[0].context, None);
    }

    #[test]
    fn preceded_by_on_trace_stop() {
        let e = reject_on(
            rule("TRACE_STOP", "PRECEDED_BY", json!("A")),
            "condition.operator",
        );
        assert!(
            e.message
                .ends_with("allowed for MARK_EVENT, TRACE_START, PROCESS_UPDATE, PROCESS_STOP"),
            "{}",
            e.message
        );
    }

    #[test]
    fn log_contains_with_empty_text() {
        let r = with(
            rule("LOGGING", "LOG_CONTAINS", json!("ERROR|")),
            "/action",
            None,
        );
        reject_on(r, "condition.value");
    }

    // ----- several errors -----

    #[test]
    fn every_error_of_the_set_is_reported() {
        let good = base();
        let bad1 = with(
            rule("TRACE_STOP", "PRECEDED_BY", json!("A")),
            "/id",
            Some(json!("B1")),
        );
        let bad2 = with(
            rule("MARK_EVENT", "MAX_DURATION_MS", json!("-5")),
            "/id",
            Some(json!("B2")),
        );
        let bad2 = with(bad2, "/alert/handler", None);
        let bad3 = with(base(), "/id", None);
        let bad3 = with(bad3, "/trigger_type", Some(json!("MARKEVENT")));
        let text = set_text(vec![good, bad1, bad2, bad3]);
        let errors = parse_rule_set(&text).expect_err("three broken rules");
        let got: Vec<(Option<&str>, Option<usize>, &str)> = errors
            .iter()
            .map(|e| (e.rule.as_deref(), e.index, e.field.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("B1"), Some(1), "condition.operator"),
                (Some("B2"), Some(2), "condition.value"),
                (Some("B2"), Some(2), "alert.handler"),
                (None, Some(3), "id"),
                (None, Some(3), "trigger_type"),
            ]
        );
        assert_eq!(
            errors[1].to_string(),
            "rule B2 (#2): condition.value: \"-5\" is negative; expected a number of milliseconds >= 0"
        );
        assert!(errors[4]
            .to_string()
            .starts_with("rule #3: trigger_type: unknown trigger type"));
    }

    #[test]
    fn duplicate_ids_are_errors_on_the_later_rule() {
        let text = set_text(vec![base(), with(base(), "/id", Some(json!("R2"))), base()]);
        let errors = parse_rule_set(&text).expect_err("duplicate id");
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].index, errors[0].field.as_str()), (Some(2), "id"));
        assert!(
            errors[0].message.contains("rule #0 already uses it"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn rule_that_is_not_an_object() {
        let errors = parse_rule_set(r#"{"rules": ["x"]}"#).expect_err("not an object");
        assert_eq!(
            (errors[0].index, errors[0].field.as_str()),
            (Some(0), "rule")
        );
    }

    // ----- keys, aliases, defaults -----

    #[test]
    fn underscore_keys_are_ignored_everywhere() {
        let text = r#"{"_comment": 1, "header": {"_x": {}, "rule_set": "s"}, "rules": [
            {"_comment": "r", "id": "R", "trigger_type": "mark_event", "action": "A",
             "condition": {"operator": "on_event", "_why": [1]},
             "alert": {"handler": "H", "_note": null}}]}"#;
        let parsed = parse_rule_set(text).expect("underscore keys ignored");
        let r = &parsed.set.rules[0];
        assert_eq!(r.trigger, Trigger::MarkEvent);
        assert_eq!(r.operator, "ON_EVENT");
        assert_eq!(r.condition, Condition::Always);
    }

    #[test]
    fn auto_resolve_seconds_is_a_number_of_seconds() {
        let ar =
            |alert: Value| accept(with(base(), "/alert", Some(alert))).set.rules[0].auto_resolve_ms;
        assert_eq!(ar(json!({"handler": "H"})), None);
        assert_eq!(
            ar(json!({"handler": "H", "auto_resolve_seconds": 90})),
            Some(90_000.0)
        );
        assert_eq!(ar(json!({"handler": "H", "auto_resolve_seconds": 0})), None);
        reject_on(
            with(base(), "/alert/auto_resolve_seconds", Some(json!(-5))),
            "alert.auto_resolve_seconds",
        );
    }

    #[test]
    fn throttle_synonyms() {
        let ms =
            |alert: Value| accept(with(base(), "/alert", Some(alert))).set.rules[0].throttle_ms;
        assert_eq!(ms(json!({"handler": "H"})), 0.0);
        assert_eq!(ms(json!({"handler": "H", "throttle": 2})), 2000.0);
        assert_eq!(ms(json!({"handler": "H", "throttle_seconds": 1.3})), 1300.0);
        assert_eq!(
            ms(json!({"handler": "H", "throttle_seconds": "2.5"})),
            2500.0
        );
        assert_eq!(
            ms(json!({"handler": "H", "throttle": 2, "throttle_seconds": "2.0"})),
            2000.0
        );

        let conflict = json!({"handler": "H", "throttle": 2, "throttle_seconds": 3});
        let e = reject_on(with(base(), "/alert", Some(conflict)), "alert.throttle");
        assert!(
            e.message
                .starts_with("conflicts with alert.throttle_seconds"),
            "{}",
            e.message
        );
        reject_on(
            with(base(), "/alert/throttle", Some(json!(-1))),
            "alert.throttle",
        );
        reject_on(
            with(base(), "/alert/throttle_seconds", Some(json!("soon"))),
            "alert.throttle_seconds",
        );
        reject_on(
            with(base(), "/alert/throttle_seconds", Some(json!(true))),
            "alert.throttle_seconds",
        );
    }

    #[test]
    fn severity_default_and_aliases() {
        let sev =
            |s: Option<Value>| accept(with(base(), "/alert/severity", s)).set.rules[0].severity;
        assert_eq!(sev(None), Severity::Medium);
        assert_eq!(sev(Some(Value::Null)), Severity::Medium);
        assert_eq!(sev(Some(json!("WARN"))), Severity::Medium);
        assert_eq!(sev(Some(json!("warning"))), Severity::Medium);
        assert_eq!(sev(Some(json!("Error"))), Severity::High);
        assert_eq!(sev(Some(json!("CRITICAL"))), Severity::Critical);
        assert_eq!(sev(Some(json!("low"))), Severity::Low);
        assert_eq!(sev(Some(json!("info"))), Severity::Info);
        let e = reject_on(
            with(base(), "/alert/severity", Some(json!("fatal"))),
            "alert.severity",
        );
        assert!(
            e.message.contains("critical, high, medium, low, info")
                && e.message.contains("WARNING"),
            "{}",
            e.message
        );
        reject_on(
            with(base(), "/alert/severity", Some(json!(1))),
            "alert.severity",
        );
    }

    #[test]
    fn trigger_and_operator_are_case_insensitive() {
        let r = accept(rule("trace_stop", "max_duration_ms", json!("5")))
            .set
            .rules
            .remove(0);
        assert_eq!(
            (r.trigger, r.operator.as_str()),
            (Trigger::TraceStop, "MAX_DURATION_MS")
        );
        let e = reject_on(
            with(base(), "/trigger_type", Some(json!("TRACE"))),
            "trigger_type",
        );
        assert!(
            e.message.contains("PROCESS_START") && e.message.contains("LOGGING"),
            "{}",
            e.message
        );
    }

    // ----- values -----

    #[test]
    fn numeric_values_are_their_decimal_text() {
        let as_number = condition_of(rule("TRACE_STOP", "MAX_DURATION_MS", json!(25000)));
        let as_text = condition_of(rule("TRACE_STOP", "MAX_DURATION_MS", json!("25000")));
        assert_eq!(as_number, Condition::MaxDurationMs { limit_ms: 25000.0 });
        assert_eq!(as_number, as_text);
        assert_eq!(
            condition_of(rule("MARK_EVENT", "MAX_GAP_SECONDS", json!(0.8))),
            Condition::MaxGapSeconds {
                limit_ms: 800.0,
                seconds: 0.8
            }
        );
        reject_on(
            rule("TRACE_STOP", "MAX_DURATION_MS", json!(true)),
            "condition.value",
        );
        reject_on(
            rule("TRACE_STOP", "MAX_DURATION_MS", json!(["1"])),
            "condition.value",
        );
    }

    #[test]
    fn numbers_must_be_finite_decimals() {
        for bad in [
            "1e400", "NaN", "inf", "-inf", "0x10", "1,5", "", " ", "1.2.3", "e5", "5e",
        ] {
            reject_on(
                rule("TRACE_STOP", "MAX_DURATION_MS", json!(bad)),
                "condition.value",
            );
        }
        for (good, v) in [
            ("100", 100.0),
            (" 100 ", 100.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("-0", 0.0),
        ] {
            assert_eq!(
                condition_of(rule("TRACE_STOP", "MAX_DURATION_MS", json!(good))),
                Condition::MaxDurationMs { limit_ms: v }
            );
        }
        let e = reject_on(
            rule("MARK_EVENT", "MAX_GAP_SECONDS", json!("1e306")),
            "condition.value",
        );
        assert!(e.message.contains("out of range"), "{}", e.message);
        for op in [
            "MAX_OCCURRENCE",
            "MAX_GAP_SECONDS",
            "MAX_DURATION_MS",
            "AVG_DEVIATION_PCT",
        ] {
            reject_on(rule("MARK_EVENT", op, json!("-1")), "condition.value");
        }
    }

    #[test]
    fn on_values_are_ignored_others_required() {
        assert_eq!(
            condition_of(rule("MARK_EVENT", "ON_EVENT", json!(""))),
            Condition::Always
        );
        assert_eq!(
            condition_of(rule("PROCESS_STOP", "PROCESS_STOP", json!("x|"))),
            Condition::Always
        );
        reject_on(rule("MARK_EVENT", "ON_EVENT", json!({})), "condition.value");
        reject_on(rule("LOGGING", "ON_EVENT", json!("")), "condition.operator");
        let e = reject_on(
            rule("MARK_EVENT", "MAX_OCCURRENCE", json!("")),
            "condition.value",
        );
        assert_eq!(e.message, "is required for MAX_OCCURRENCE: a count >= 0");
        reject_on(
            with(base(), "/condition/operator", Some(json!("MAX_OCCURRENCE"))),
            "condition.value",
        );
    }

    #[test]
    fn avg_deviation_defaults_and_bounds() {
        let avg = |v: &str| condition_of(rule("TRACE_STOP", "AVG_DEVIATION_PCT", json!(v)));
        assert_eq!(
            avg("50"),
            Condition::AvgDeviationPct {
                pct: 50.0,
                warmup: 3,
                alpha: 0.1
            }
        );
        assert_eq!(
            avg("50|5"),
            Condition::AvgDeviationPct {
                pct: 50.0,
                warmup: 5,
                alpha: 0.1
            }
        );
        assert_eq!(
            avg("50|3|0.5"),
            Condition::AvgDeviationPct {
                pct: 50.0,
                warmup: 3,
                alpha: 0.5
            }
        );
        assert_eq!(
            avg("0|0|1"),
            Condition::AvgDeviationPct {
                pct: 0.0,
                warmup: 0,
                alpha: 1.0
            }
        );
        for bad in [
            "50|2.5",
            "50|-1",
            "50|3|0",
            "50|3|1.5",
            "50|3|-0.1",
            "x",
            "50|3|0.5|1",
        ] {
            reject_on(
                rule("TRACE_STOP", "AVG_DEVIATION_PCT", json!(bad)),
                "condition.value",
            );
        }
        // several bad parts in one value: each reported
        let errors = reject(rule("TRACE_STOP", "AVG_DEVIATION_PCT", json!("-1|x|2")));
        assert_eq!(errors.len(), 3, "{errors:#?}");
    }

    #[test]
    fn preceded_and_followed_values() {
        let key = |a: &str, c: Option<&str>| KeyPattern {
            action: a.into(),
            context: c.map(Into::into),
        };
        assert_eq!(
            condition_of(rule("MARK_EVENT", "PRECEDED_BY", json!("RG_A|C1"))),
            Condition::PrecededBy {
                expect: key("RG_A", Some("C1"))
            }
        );
        assert_eq!(
            condition_of(rule(
                "MARK_EVENT",
                "PRECEDED_BY_WITHIN_SECS",
                json!("RG_C|1.3")
            )),
            Condition::PrecededByWithin {
                expect: key("RG_C", None),
                limit_ms: 1300.0,
                unit: Unit::Secs,
                limit: 1.3
            }
        );
        assert_eq!(
            condition_of(rule(
                "PROCESS_UPDATE",
                "PRECEDED_BY_WITHIN_MS",
                json!("A|C|250")
            )),
            Condition::PrecededByWithin {
                expect: key("A", Some("C")),
                limit_ms: 250.0,
                unit: Unit::Ms,
                limit: 250.0
            }
        );
        assert_eq!(
            condition_of(rule("MARK_EVENT", "FOLLOWED_BY_WITHIN_MS", json!("B|1000"))),
            Condition::FollowedByWithinMs {
                expect: key("B", None),
                limit_ms: 1000.0
            }
        );
        reject_on(
            rule("MARK_EVENT", "PRECEDED_BY", json!("A|B|C")),
            "condition.value",
        );
        reject_on(
            rule("MARK_EVENT", "PRECEDED_BY_WITHIN_MS", json!("A")),
            "condition.value",
        );
        reject_on(
            rule("MARK_EVENT", "PRECEDED_BY_WITHIN_MS", json!("A|C1")),
            "condition.value",
        );
        reject_on(
            rule("MARK_EVENT", "FOLLOWED_BY_WITHIN_MS", json!("A|-5")),
            "condition.value",
        );
        let parsed = accept(rule("MARK_EVENT", "PRECEDED_BY", json!("RG_A |C1")));
        assert_eq!(parsed.warnings.len(), 1);
        assert_eq!(parsed.warnings[0].field, "condition.value");
    }

    #[test]
    fn process_and_log_values() {
        assert_eq!(
            condition_of(rule("PROCESS_UPDATE", "INFO_CONTAINS", json!("KapUtt|x"))),
            Condition::InfoContains {
                needle: "kaputt|x".into()
            }
        );
        assert_eq!(
            condition_of(rule("PROCESS_UPDATE", "STATUS_EQUALS", json!(3))),
            Condition::StatusEquals { status: 3.0 }
        );
        reject_on(
            rule("PROCESS_UPDATE", "STATUS_EQUALS", json!("2.5")),
            "condition.value",
        );
        assert_eq!(
            condition_of(rule("PROCESS_STOP", "SUCCESS_RATE_LOW", json!("80"))),
            Condition::SuccessRateLow { pct: 80.0 }
        );
        assert_eq!(
            condition_of(rule("PROCESS_START", "SILENCE_SECONDS", json!("5"))),
            Condition::SilenceSeconds {
                limit_ms: 5000.0,
                seconds: 5.0
            }
        );
        reject_on(
            rule("PROCESS_STOP", "RUNTIME_EXCEEDED", json!("500")),
            "condition.operator",
        );
        let log = |op: &str, v: &str| with(rule("LOGGING", op, json!(v)), "/action", None);
        assert_eq!(
            condition_of(log("SEVERITY", "warn")),
            Condition::Severity { level: Level::Warn }
        );
        reject_on(log("SEVERITY", "FATAL"), "condition.value");
        reject_on(log("SEVERITY", "ERROR|WARN"), "condition.value");
        assert_eq!(
            condition_of(log("LOG_CONTAINS", "RG_LC_Text")),
            Condition::LogContains {
                level: None,
                needle: "rg_lc_text".into()
            }
        );
        assert_eq!(
            condition_of(log("LOG_CONTAINS", "error|RG_LC_LVL")),
            Condition::LogContains {
                level: Some(Level::Error),
                needle: "rg_lc_lvl".into()
            }
        );
        reject_on(log("LOG_CONTAINS", "FATAL|x"), "condition.value");
        reject_on(log("LOG_CONTAINS", "ERROR|a|b"), "condition.value");
    }

    #[test]
    fn logging_rules_may_omit_action_and_context_is_warned() {
        let parsed = accept(with(
            rule("LOGGING", "SEVERITY", json!("ERROR")),
            "/action",
            None,
        ));
        assert_eq!(parsed.set.rules[0].action, None);
        assert!(parsed.warnings.is_empty());
        let blank = with(
            rule("LOGGING", "SEVERITY", json!("ERROR")),
            "/action",
            Some(json!(" ")),
        );
        assert_eq!(
            reject_on(blank, "action").message,
            "must be a non-empty string (omit it to match every process)"
        );

        let r = with(
            rule("PROCESS_UPDATE", "STATUS_EQUALS", json!(3)),
            "/context",
            Some(json!("C1")),
        );
        let parsed = accept(r);
        assert_eq!(parsed.set.rules[0].context.as_deref(), Some("C1"));
        assert_eq!(parsed.warnings.len(), 1);
        let w = &parsed.warnings[0];
        assert_eq!((w.field.as_str(), w.index), ("context", Some(0)));
        assert!(
            w.message
                .starts_with("context is ignored for PROCESS_UPDATE rules"),
            "{}",
            w.message
        );

        let r = with(
            rule("LOGGING", "SEVERITY", json!("ERROR")),
            "/context",
            Some(json!("C1")),
        );
        assert_eq!(accept(r).warnings.len(), 1);
        let r = with(base(), "/context", Some(json!("C1")));
        assert!(accept(r).warnings.is_empty());
    }

    #[test]
    fn operator_table_matches_the_spec() {
        let allowed = |op: &str| -> Vec<Trigger> {
            Trigger::ALL
                .into_iter()
                .filter(|t| {
                    let text = set_text(vec![rule(t.as_str(), op, json!("A|1"))]);
                    parse_rule_set(&text)
                        .err()
                        .is_none_or(|errors| errors.iter().all(|e| e.field != "condition.operator"))
                })
                .collect()
        };
        use Trigger::*;
        assert_eq!(allowed("ON_UPDATE"), NOT_LOGGING);
        assert_eq!(
            allowed("MAX_OCCURRENCE"),
            [ProcessUpdate, ProcessStop, MarkEvent, TraceStop]
        );
        assert_eq!(
            allowed("FOLLOWED_BY_WITHIN_MS"),
            [ProcessStart, MarkEvent, TraceStart, TraceStop]
        );
        assert_eq!(allowed("MAX_OPEN_MS"), [TraceStart]);
        assert_eq!(allowed("LOG_CONTAINS"), [Logging]);
    }

    #[test]
    fn errors_serialize() {
        let rule = with(base(), "/alert/handler", None);
        let at_alert = set_text(vec![rule.clone()])
            .find("\"alert\"")
            .expect("the rule has an alert");
        let e = reject_on(rule, "alert.handler");
        let v = serde_json::to_value(&e).expect("serializable");
        assert_eq!(v["field"], "alert.handler");
        assert_eq!(v["index"], 0);
        assert_eq!(
            (v["line"].as_u64(), v["column"].as_u64()),
            (Some(1), Some(u64::try_from(at_alert).expect("small") + 1)),
            "a missing field points at the object that lacks it"
        );
    }
}
