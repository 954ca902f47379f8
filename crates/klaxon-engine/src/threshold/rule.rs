//! Threshold rules in their validated, typed form (the format of `docs/threshold-rules.md`).
//! Owns no parsing (see `parse`) and no evaluation state (see `engine`).

use std::fmt;

use crate::matcher::Regex;
use crate::severity::Severity;

/// A validated threshold rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRuleSet {
    /// `header.rule_set`; informational (the store names the set it activates).
    pub name: Option<String>,
    /// `header.rule_set_version`, exactly as written.
    pub version: Option<serde_json::Number>,
    /// `header.description`.
    pub description: Option<String>,
    /// The rules in document order, disabled ones included.
    pub rules: Vec<ThresholdRule>,
}

/// One validated threshold rule. Durations are whole milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRule {
    /// Unique within its set.
    pub id: String,
    /// Display name; the id when the document has none.
    pub name: String,
    pub description: Option<String>,
    /// The metric name a sample must have.
    pub metric: String,
    /// Every matcher must hold on the sample's labels (`labels` first, then `label_matchers`).
    pub matchers: Vec<LabelMatcher>,
    pub threshold: f64,
    pub operator: Operator,
    pub aggregation: Aggregation,
    /// `evaluation_window`, > 0.
    pub window_ms: i64,
    /// `for`: how long the condition must hold before the alert fires.
    pub for_ms: i64,
    pub severity: Severity,
    /// When false, the engine never emits `resolved`: people resolve the alert.
    pub auto_resolve: bool,
    /// `resolve_after`: how long the condition must be false before a firing alert resolves.
    pub resolve_after_ms: i64,
    /// A disabled rule is validated and kept, but never evaluated.
    pub enabled: bool,
    pub notification_channels: Vec<String>,
    pub escalation_policy: Option<String>,
    pub suppression_rules: Vec<String>,
}

/// How the aggregate is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    GreaterThan,
    GreaterEqual,
    LessThan,
    LessEqual,
    Equal,
    NotEqual,
}

impl Operator {
    pub const ALL: [Operator; 6] = [
        Operator::GreaterThan,
        Operator::GreaterEqual,
        Operator::LessThan,
        Operator::LessEqual,
        Operator::Equal,
        Operator::NotEqual,
    ];

    /// Parses a name, short name or symbol (`greater_than`, `gt`, `>`), case-insensitively.
    pub fn parse(s: &str) -> Option<Operator> {
        let s = s.trim();
        Operator::ALL.into_iter().find(|op| {
            op.as_str().eq_ignore_ascii_case(s)
                || op.short().eq_ignore_ascii_case(s)
                || op.symbol() == s
        })
    }

    /// The canonical name, as `docs/threshold-rules.md` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::GreaterThan => "greater_than",
            Operator::GreaterEqual => "greater_equal",
            Operator::LessThan => "less_than",
            Operator::LessEqual => "less_equal",
            Operator::Equal => "equal",
            Operator::NotEqual => "not_equal",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Operator::GreaterThan => "gt",
            Operator::GreaterEqual => "gte",
            Operator::LessThan => "lt",
            Operator::LessEqual => "lte",
            Operator::Equal => "eq",
            Operator::NotEqual => "ne",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Operator::GreaterThan => ">",
            Operator::GreaterEqual => ">=",
            Operator::LessThan => "<",
            Operator::LessEqual => "<=",
            Operator::Equal => "==",
            Operator::NotEqual => "!=",
        }
    }

    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Operator::GreaterThan => value > threshold,
            Operator::GreaterEqual => value >= threshold,
            Operator::LessThan => value < threshold,
            Operator::LessEqual => value <= threshold,
            Operator::Equal => value == threshold,
            Operator::NotEqual => value != threshold,
        }
    }

    /// Words for messages: "is 93, above 90".
    pub(crate) fn words(self) -> &'static str {
        match self {
            Operator::GreaterThan => "above",
            Operator::GreaterEqual => "at or above",
            Operator::LessThan => "below",
            Operator::LessEqual => "at or below",
            Operator::Equal => "equal to",
            Operator::NotEqual => "not equal to",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a window of samples is reduced to before the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregation {
    Last,
    Avg,
    Min,
    Max,
    Sum,
    Count,
    /// Per-second increase of a counter between the first and last sample, resets corrected.
    Rate,
    /// 95th percentile, interpolated between the closest ranks.
    P95,
}

impl Aggregation {
    pub const ALL: [Aggregation; 8] = [
        Aggregation::Last,
        Aggregation::Avg,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::Sum,
        Aggregation::Count,
        Aggregation::Rate,
        Aggregation::P95,
    ];

    /// Parses a name case-insensitively; `average` and `mean` are `avg`.
    pub fn parse(s: &str) -> Option<Aggregation> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("average") || s.eq_ignore_ascii_case("mean") {
            return Some(Aggregation::Avg);
        }
        Aggregation::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Last => "last",
            Aggregation::Avg => "avg",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::Rate => "rate",
            Aggregation::P95 => "p95",
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, a regular expression matching the whole value (`crate::matcher::Regex`).
    Matches,
    /// `!~`
    NotMatches,
}

impl MatchOp {
    pub fn symbol(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Matches => "=~",
            MatchOp::NotMatches => "!~",
        }
    }
}

/// One condition on a label; an absent label has the value `""` (as in Prometheus).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMatcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
    pattern: Option<Regex>,
}

impl LabelMatcher {
    /// A matcher; `Err` says what is wrong with a pattern of `=~` or `!~`.
    pub fn new(label: &str, op: MatchOp, value: &str) -> Result<LabelMatcher, String> {
        let pattern = match op {
            MatchOp::Equal | MatchOp::NotEqual => None,
            MatchOp::Matches | MatchOp::NotMatches => Some(Regex::new(value)?),
        };
        Ok(LabelMatcher {
            label: label.to_owned(),
            op,
            value: value.to_owned(),
            pattern,
        })
    }

    /// Whether a label value (`""` when the label is absent) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.pattern) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Matches, Some(p)) => p.is_match(value),
            (MatchOp::NotMatches, Some(p)) => !p.is_match(value),
            // `new` compiles a pattern for both regex operators.
            (MatchOp::Matches | MatchOp::NotMatches, None) => false,
        }
    }
}

impl fmt::Display for LabelMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.label, self.op.symbol(), self.value)
    }
}

impl ThresholdRule {
    /// Whether a series' labels (sorted, no empty values) satisfy every matcher.
    pub fn matches_labels<'a>(
        &self,
        labels: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> bool {
        self.matchers.iter().all(|m| {
            let value = labels
                .clone()
                .find(|(k, _)| *k == m.label)
                .map_or("", |(_, v)| v);
            m.matches(value)
        })
    }
}
