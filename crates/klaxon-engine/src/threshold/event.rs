//! What the threshold engine emits: state changes of (rule, series) alerts, and their JSON form.
//! Owns no evaluation and no storage: the engine fills these in, callers persist and publish them.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::rule::{Aggregation, Operator};
use crate::number::json_number;
use crate::severity::Severity;
use crate::signal::Labels;
use crate::timestamp::format_ts;

/// The state change an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdEventKind {
    /// The condition holds, but not yet for `for`.
    Pending,
    /// The condition has held for `for` (at once when `for` is 0).
    Firing,
    /// A firing alert's condition stopped holding (for `resolve_after`), or its rule went away.
    Resolved,
    /// A pending alert's condition stopped holding before it fired (or its rule went away):
    /// nothing was ever firing, so there is nothing to notify.
    Cancelled,
}

impl ThresholdEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdEventKind::Pending => "pending",
            ThresholdEventKind::Firing => "firing",
            ThresholdEventKind::Resolved => "resolved",
            ThresholdEventKind::Cancelled => "cancelled",
        }
    }
}

/// One state change of the alert of one rule on one series.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdEvent {
    pub kind: ThresholdEventKind,
    /// Rule-set group the rule belongs to.
    pub group: Arc<str>,
    pub rule_set: Arc<str>,
    pub rule_set_version: Option<serde_json::Number>,
    pub rule_id: Arc<str>,
    pub rule_name: Arc<str>,
    pub description: Option<Arc<str>>,
    pub metric: Arc<str>,
    /// The series' full label set (not only the labels the rule matched on).
    pub labels: Labels,
    pub aggregation: Aggregation,
    pub window_ms: i64,
    /// The aggregate at `at`; `None` when undefined (no samples in the window).
    pub value: Option<f64>,
    pub threshold: f64,
    pub operator: Operator,
    pub severity: Severity,
    /// Identity for deduplication: [`threshold_fingerprint`] of group, rule id, metric, labels.
    pub fingerprint: u64,
    /// Engine time (ms) when the condition started holding (of this episode).
    pub since: i64,
    /// Engine time (ms) of the evaluation that made the change.
    pub at: i64,
    /// A one-line human explanation.
    pub message: String,
    pub notification_channels: Arc<[String]>,
    pub escalation_policy: Option<Arc<str>>,
    pub suppression_rules: Arc<[String]>,
}

impl ThresholdEvent {
    /// The fingerprint as 16 lower-case hex digits.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }
}

/// A stable 64-bit fingerprint (FNV-1a over length-prefixed parts, like
/// [`crate::event::fingerprint`], with its own leading tag so the two kinds never collide),
/// identical across runs, machines and versions. `labels` must be sorted by name and hold no
/// empty values, as a series' labels are.
pub fn threshold_fingerprint<'a>(
    group: &str,
    rule_id: &str,
    metric: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |part: &str| {
        for b in (part.len() as u64 + 1)
            .to_le_bytes()
            .iter()
            .chain(part.as_bytes())
        {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat("threshold");
    eat(group);
    eat(rule_id);
    eat(metric);
    for (k, v) in labels {
        eat(k);
        eat(v);
    }
    h
}

impl Serialize for ThresholdEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(23))?;
        m.serialize_entry("kind", self.kind.as_str())?;
        m.serialize_entry("rule_set", &*self.rule_set)?;
        m.serialize_entry("rule_set_version", &self.rule_set_version)?;
        m.serialize_entry("group", &*self.group)?;
        m.serialize_entry("rule_id", &*self.rule_id)?;
        m.serialize_entry("rule_name", &*self.rule_name)?;
        m.serialize_entry("description", &self.description.as_deref())?;
        m.serialize_entry("metric", &*self.metric)?;
        m.serialize_entry("labels", &self.labels)?;
        m.serialize_entry("aggregation", self.aggregation.as_str())?;
        m.serialize_entry("evaluation_window_ms", &self.window_ms)?;
        m.serialize_entry("value", &self.value.map(json_number))?;
        m.serialize_entry("threshold", &json_number(self.threshold))?;
        m.serialize_entry("operator", self.operator.as_str())?;
        m.serialize_entry("severity", self.severity.as_str())?;
        m.serialize_entry("fingerprint", &self.fingerprint_hex())?;
        m.serialize_entry("since", &format_ts(self.since))?;
        m.serialize_entry("at", &format_ts(self.at))?;
        m.serialize_entry("message", &self.message)?;
        m.serialize_entry("notification_channels", &*self.notification_channels)?;
        m.serialize_entry("escalation_policy", &self.escalation_policy.as_deref())?;
        m.serialize_entry("suppression_rules", &*self.suppression_rules)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_separates_parts() {
        let a = threshold_fingerprint("g", "r", "m", [("host", "web-1")]);
        assert_eq!(a, threshold_fingerprint("g", "r", "m", [("host", "web-1")]));
        assert_ne!(a, threshold_fingerprint("g", "r", "m", [("hos", "tweb-1")]));
        assert_ne!(a, threshold_fingerprint("g", "r", "m", []));
        assert_ne!(
            threshold_fingerprint("g", "r", "m", []),
            crate::event::fingerprint("g", "r", "m", "", None)
        );
        // Stored alerts deduplicate by this value: it must never change.
        assert_eq!(
            threshold_fingerprint(
                "default",
                "high_cpu_usage",
                "system.cpu.usage",
                [("host", "web-1")]
            ),
            0xc203_db8d_319b_b1e3
        );
    }
}
