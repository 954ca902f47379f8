//! Threshold rule-set parsing and validation: turns a threshold rule document into a
//! [`ThresholdRuleSet`] or into the complete list of what is wrong with it, every error of
//! every rule at once, as [`RuleError`]s (rule id or index, field, reason; line and column for
//! JSON syntax errors). Owns no storage, activation or evaluation.
//!
//! Three document shapes are accepted: a set `{"header": {...}, "rules": [...]}`, a bare array
//! of rules, and one bare rule object. The decisions are listed in `docs/threshold-rules.md`.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::rule::{Aggregation, LabelMatcher, MatchOp, Operator, ThresholdRule, ThresholdRuleSet};
use crate::check::{self, get, kind, At, Keyword, RuleError, DOCUMENT, DOC_KEYS};
use crate::number::scaled;

/// A threshold rule set that passed validation, with the warnings it produced.
pub type ParsedThreshold = check::Parsed<ThresholdRuleSet>;

/// Parses and validates a threshold rule document. `Err` holds every error.
pub fn parse_threshold_rules(text: &str) -> Result<ParsedThreshold, Vec<RuleError>> {
    check::parse(text, Checker::document)
}

/// The longest accepted `evaluation_window`, `for` or `resolve_after`: 31 days.
pub(super) const MAX_DURATION_MS: i64 = 31 * 86_400_000;

const DURATION_FORMS: &str =
    "a duration such as \"30s\", \"5m\", \"1h30m\", \"250ms\" (units w, d, h, m, s, ms, largest \
     first) or a number of seconds";

/// Parses a duration string in the one grammar of `crate::duration` (no bare numbers: a
/// JSON number of seconds is the way to give one) into milliseconds, at most 31 days.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let ms = crate::duration::parse_ms(text, None).map_err(|e| match e {
        crate::duration::DurationError::NoUnit(_) => {
            format!("{e} (or a JSON number of seconds)")
        }
        _ => e.to_string(),
    })?;
    if ms > MAX_DURATION_MS {
        return Err(format!("{text:?} is longer than the maximum of 31 days"));
    }
    Ok(ms)
}

/// A duration given as a JSON string or number of seconds.
fn duration_value(v: &Value) -> Result<i64, String> {
    match v {
        Value::String(s) => parse_duration(s),
        Value::Number(n) => {
            let Some(secs) = n.as_f64().filter(|s| s.is_finite() && *s >= 0.0) else {
                return Err(format!("{n} is negative; expected {DURATION_FORMS}"));
            };
            let ms = scaled(secs, 3);
            if ms.fract() != 0.0 {
                return Err(format!(
                    "{n} seconds is finer than a millisecond; expected whole milliseconds"
                ));
            }
            if ms > MAX_DURATION_MS as f64 {
                return Err(format!("{n} seconds is longer than the maximum of 31 days"));
            }
            // Whole and within 0..=MAX_DURATION_MS, so the conversion is exact.
            Ok(ms as i64)
        }
        other => Err(format!("must be {DURATION_FORMS}, got {}", kind(other))),
    }
}

/// A matcher written as `label=value`, `label!=value`, `label=~pattern` or `label!~pattern`;
/// the value may be in double quotes (JSON string escapes apply inside them).
fn matcher(text: &str) -> Result<LabelMatcher, String> {
    let expected = "expected label=value, label!=value, label=~pattern or label!~pattern, e.g. \
                    env!=\"staging\"";
    let Some(at) = text.find(['=', '!']) else {
        return Err(format!("{text:?} has no operator; {expected}"));
    };
    let label = text[..at].trim();
    let rest = &text[at..];
    let (op, rest) = [
        ("=~", MatchOp::Matches),
        ("!~", MatchOp::NotMatches),
        ("!=", MatchOp::NotEqual),
        ("=", MatchOp::Equal),
    ]
    .into_iter()
    .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (op, r)))
    .ok_or_else(|| format!("{text:?} has no valid operator; {expected}"))?;
    if label.is_empty()
        || label.contains(['~', '"', '{', '}', ','])
        || label.contains(char::is_whitespace)
    {
        return Err(format!("{text:?} has no valid label name; {expected}"));
    }
    let raw = rest.trim();
    let value = if raw.starts_with('"') {
        serde_json::from_str::<String>(raw)
            .map_err(|_| format!("{text:?}: the quoted value is not a valid JSON string"))?
    } else {
        raw.to_owned()
    };
    LabelMatcher::new(label, op, &value).map_err(|e| format!("{text:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The checker

/// The keys a threshold rule may have (keys starting with `_` aside).
pub const RULE_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "metric",
    "labels",
    "label_matchers",
    "threshold",
    "operator",
    "aggregation",
    "evaluation_window",
    "for",
    "severity",
    "notification_channels",
    "escalation_policy",
    "suppression_rules",
    "auto_resolve",
    "resolve_after",
    "enabled",
];

fn operator_names() -> String {
    Operator::ALL
        .iter()
        .map(|o| format!("{} ({}, {})", o.as_str(), o.short(), o.symbol()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn aggregation_names() -> String {
    Aggregation::ALL
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rule language the checker's own checks below belong to.
enum ThresholdRules {}

type Checker = check::Checker<ThresholdRules>;

impl Checker {
    fn opt_bool(&mut self, at: &At, obj: &Map<String, Value>, key: &str, default: bool) -> bool {
        match get(obj, key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.error(
                    at,
                    key,
                    format!("must be true or false, got {}", kind(other)),
                );
                default
            }
        }
    }

    /// An optional array of non-empty strings.
    fn string_list(&mut self, at: &At, obj: &Map<String, Value>, key: &str) -> Vec<String> {
        match get(obj, key) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                    other => {
                        let got = if other.is_string() {
                            "an empty string"
                        } else {
                            kind(other)
                        };
                        self.error(
                            at,
                            &format!("{key}[{i}]"),
                            format!("must be a non-empty string, got {got}"),
                        );
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.error(
                    at,
                    key,
                    format!("must be an array of strings, got {}", kind(other)),
                );
                Vec::new()
            }
        }
    }

    fn duration(
        &mut self,
        at: &At,
        obj: &Map<String, Value>,
        key: &str,
        default: i64,
        positive: bool,
    ) -> i64 {
        match get(obj, key).map(duration_value) {
            None => default,
            Some(Ok(0)) if positive => {
                self.error(at, key, "must be longer than 0");
                default
            }
            Some(Ok(ms)) => ms,
            Some(Err(e)) => {
                self.error(at, key, e);
                default
            }
        }
    }

    fn document(&mut self, doc: &Value) -> ThresholdRuleSet {
        let mut set = ThresholdRuleSet {
            name: None,
            version: None,
            description: None,
            rules: Vec::new(),
        };
        let rules: &[Value] = match doc {
            Value::Array(rules) => rules,
            Value::Object(obj) if obj.contains_key("rules") || obj.contains_key("header") => {
                let header = self.header(obj);
                set.name = header.name;
                set.version = header.version;
                set.description = header.description;
                self.unknown_keys(&DOCUMENT, obj, "", DOC_KEYS, &[]);
                match get(obj, "rules") {
                    None => {
                        self.error(
                            &DOCUMENT,
                            "rules",
                            "is required: an array of threshold rules (it may be empty)",
                        );
                        &[]
                    }
                    Some(Value::Array(rules)) => rules,
                    Some(other) => {
                        self.error(
                            &DOCUMENT,
                            "rules",
                            format!("must be an array of threshold rules, got {}", kind(other)),
                        );
                        &[]
                    }
                }
            }
            Value::Object(obj) if obj.keys().any(|k| RULE_KEYS.contains(&k.as_str())) => {
                std::slice::from_ref(doc)
            }
            other => {
                self.error(
                    &DOCUMENT,
                    "document",
                    format!(
                        "must be a threshold rule set {{\"header\", \"rules\"}}, an array of \
                         rules or one rule object, got {}",
                        match other {
                            Value::Object(_) => "an object with none of the rule keys",
                            other => kind(other),
                        }
                    ),
                );
                &[]
            }
        };
        let mut seen = HashMap::new();
        for (index, rule) in rules.iter().enumerate() {
            if let Some(rule) = self.rule(index, rule, &mut seen) {
                set.rules.push(rule);
            }
        }
        set
    }

    /// Checks one rule; `None` when it has an error (all of them reported).
    fn rule(
        &mut self,
        index: usize,
        v: &Value,
        seen: &mut HashMap<String, usize>,
    ) -> Option<ThresholdRule> {
        let before = self.errors.len();
        let (obj, at) = self.rule_start(index, v, seen)?;
        let id = at.rule.clone();

        let name = self.opt_string(&at, obj, "name", "name", false);
        let description = self.opt_string(&at, obj, "description", "description", false);
        let metric = match get(obj, "metric") {
            None => {
                self.error(
                    &at,
                    "metric",
                    "is required: the metric name, e.g. \"system.cpu.usage\"",
                );
                None
            }
            Some(v) => self.name(
                &at,
                "metric",
                v,
                "must be a non-empty string",
                "must be a non-empty string",
            ),
        };

        let mut matchers = Vec::new();
        match get(obj, "labels") {
            None => {}
            Some(Value::Object(labels)) => {
                for (k, v) in labels {
                    let field = format!("labels.{k}");
                    match v {
                        _ if k.is_empty() => {
                            self.error(&at, "labels", "a label name must not be empty");
                        }
                        Value::String(s) => match LabelMatcher::new(k, MatchOp::Equal, s) {
                            Ok(m) => matchers.push(m),
                            Err(e) => self.error(&at, &field, e),
                        },
                        other => self.error(
                            &at,
                            &field,
                            format!(
                                "must be a string (labels match exactly), got {}",
                                kind(other)
                            ),
                        ),
                    }
                }
            }
            Some(other) => self.error(
                &at,
                "labels",
                format!(
                    "must be an object of label names to values, got {}",
                    kind(other)
                ),
            ),
        }
        match get(obj, "label_matchers") {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("label_matchers[{i}]");
                    match item {
                        Value::String(s) => match matcher(s) {
                            Ok(m) => matchers.push(m),
                            Err(e) => self.error(&at, &field, e),
                        },
                        other => self.error(
                            &at,
                            &field,
                            format!(
                                "must be a string such as env!=\"staging\", got {}",
                                kind(other)
                            ),
                        ),
                    }
                }
            }
            Some(other) => self.error(
                &at,
                "label_matchers",
                format!(
                    "must be an array of strings such as [\"env!=staging\", \"host=~web-.*\"], \
                     got {}",
                    kind(other)
                ),
            ),
        }

        let threshold = match get(obj, "threshold") {
            None => {
                self.error(&at, "threshold", "is required: a number");
                None
            }
            Some(Value::Number(n)) => match n.as_f64().filter(|t| t.is_finite()) {
                Some(t) => Some(t + 0.0),
                None => {
                    self.error(&at, "threshold", format!("{n} is out of range"));
                    None
                }
            },
            Some(other) => {
                self.error(
                    &at,
                    "threshold",
                    format!("must be a number, got {}", kind(other)),
                );
                None
            }
        };

        let k = Keyword::any_case("operator", "operator", operator_names());
        let operator = self.keyword(&at, get(obj, "operator"), k, None, Operator::parse);
        let k = Keyword::any_case("aggregation", "aggregation", aggregation_names());
        let last = Some(Aggregation::Last);
        let aggregation = self.keyword(&at, get(obj, "aggregation"), k, last, Aggregation::parse);

        let window_ms = self.duration(&at, obj, "evaluation_window", 60_000, true);
        let for_ms = self.duration(&at, obj, "for", 0, false);
        let resolve_after_ms = self.duration(&at, obj, "resolve_after", 0, false);

        let severity = self.severity(&at, obj, "severity");

        let notification_channels = self.string_list(&at, obj, "notification_channels");
        let escalation_policy =
            self.opt_string(&at, obj, "escalation_policy", "escalation_policy", true);
        let suppression_rules = self.string_list(&at, obj, "suppression_rules");
        let auto_resolve = self.opt_bool(&at, obj, "auto_resolve", true);
        let enabled = self.opt_bool(&at, obj, "enabled", true);

        self.unknown_keys(&at, obj, "", RULE_KEYS, &[]);

        if let (Some(op @ (Operator::Equal | Operator::NotEqual)), Some(agg)) =
            (operator, aggregation)
        {
            if matches!(agg, Aggregation::Avg | Aggregation::Rate | Aggregation::P95) {
                self.warn(
                    &at,
                    "operator",
                    format!(
                        "{op} compares the computed {agg} exactly, which rarely holds for a \
                         fractional result; consider a range or another aggregation"
                    ),
                );
            }
        }

        if self.errors.len() > before {
            return None;
        }
        let id = id?;
        Some(ThresholdRule {
            name: name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| id.clone()),
            id,
            description,
            metric: metric?,
            matchers,
            threshold: threshold?,
            operator: operator?,
            aggregation: aggregation?,
            window_ms,
            for_ms,
            severity: severity?,
            auto_resolve,
            resolve_after_ms,
            enabled,
            notification_channels,
            escalation_policy,
            suppression_rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str| parse_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("30s"), 30_000);
        assert_eq!(ok("5m"), 300_000);
        assert_eq!(ok("1h"), 3_600_000);
        assert_eq!(ok("1h30m"), 5_400_000);
        assert_eq!(ok("250ms"), 250);
        assert_eq!(ok("1m30s250ms"), 90_250);
        assert_eq!(ok(" 2D "), 172_800_000);
        assert_eq!(ok("1w"), 604_800_000);
        assert_eq!(ok("0"), 0);
        assert_eq!(ok("0s"), 0);
        for bad in [
            "", "5", "1.5h", "m", "5x", "30m1h", "1m1m", "-5s", "5 m", "32d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} must be rejected");
        }
        assert!(parse_duration("5")
            .expect_err("unit")
            .contains("has no unit"));
        assert_eq!(duration_value(&Value::from(1.5)), Ok(1_500));
        assert_eq!(duration_value(&Value::from(90)), Ok(90_000));
        assert!(duration_value(&Value::from(0.0001)).is_err());
        assert!(duration_value(&Value::from(-1)).is_err());
        assert!(duration_value(&Value::Bool(true)).is_err());
    }

    #[test]
    fn matchers() {
        let m = matcher("env!=staging").expect("valid");
        assert_eq!(
            (m.label.as_str(), m.op, m.value.as_str()),
            ("env", MatchOp::NotEqual, "staging")
        );
        let m = matcher(r#" host =~ "web-.*" "#).expect("valid");
        assert_eq!(
            (m.label.as_str(), m.op, m.value.as_str()),
            ("host", MatchOp::Matches, "web-.*")
        );
        assert!(m.matches("web-1") && !m.matches("db-1"));
        let m = matcher(r#"dc="eu \"west\"""#).expect("valid");
        assert_eq!(m.value, "eu \"west\"");
        let m = matcher("dc=").expect("valid");
        assert!(m.matches("") && !m.matches("eu"));
        let m = matcher("host=~(web|db)-[0-9]{1,2}").expect("groups and counted repetition");
        assert!(m.matches("db-12") && !m.matches("db-123") && !m.matches("cache-1"));
        let m = matcher("host!~db-.*").expect("valid");
        assert!(m.matches("web-1") && !m.matches("db-2") && m.matches(""));
        for bad in [
            "host",
            "=x",
            "host~=x",
            "host=~(a|b",
            "ho st=x",
            r#"h="unterminated"#,
        ] {
            assert!(matcher(bad).is_err(), "{bad} must be rejected");
        }
    }
}
