//! Alerts emitted by rules and their JSON line form.
//! Owns no evaluation and no storage: the engine fills these in, callers persist and publish them.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::number::json_number;
use crate::severity::Severity;
use crate::signal::Trigger;
use crate::timestamp::format_ts;

/// One firing of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Rule-set group the rule belongs to.
    pub group: Arc<str>,
    pub rule_set: Arc<str>,
    pub rule_set_version: Option<serde_json::Number>,
    pub rule_id: Arc<str>,
    pub trigger: Trigger,
    /// The operator as written in the rule, upper-cased.
    pub operator: Arc<str>,
    pub severity: Severity,
    pub handler: Arc<str>,
    /// The process run's id.
    pub process: Arc<str>,
    pub process_name: Arc<str>,
    /// Baseline and fingerprint scope: the process name, its `baseline_scope`, or for `#NONE`
    /// `<process id>@<run start ms>/<run number>`.
    pub scope: Arc<str>,
    pub action: Arc<str>,
    pub context: Option<Arc<str>>,
    pub action_count: u64,
    /// The measured value, where the operator has one.
    pub value: Option<f64>,
    /// The limit it was compared with, where the operator has one.
    pub limit: Option<f64>,
    /// Signal time (ms); for timer alerts the deadline.
    pub signal_ts: i64,
    /// Engine time (ms) when the alert fired.
    pub engine_ts: i64,
    /// A one-line human explanation.
    pub message: String,
    /// Identity for deduplication: a stable hash of (group, rule id, scope, action, context).
    pub fingerprint: u64,
    /// The rule's `alert.auto_resolve_seconds`, in ms.
    pub auto_resolve_ms: Option<f64>,
}

impl Alert {
    /// The fingerprint as 16 lower-case hex digits.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }
}

/// A stable 64-bit fingerprint (FNV-1a over length-prefixed parts), identical across runs,
/// machines and versions, so stored alerts deduplicate after a restart.
pub fn fingerprint(
    group: &str,
    rule_id: &str,
    scope: &str,
    action: &str,
    context: Option<&str>,
) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for part in [
        Some(group),
        Some(rule_id),
        Some(scope),
        Some(action),
        context,
    ] {
        match part {
            Some(p) => {
                eat(&(p.len() as u64 + 1).to_le_bytes());
                eat(p.as_bytes());
            }
            None => eat(&0u64.to_le_bytes()),
        }
    }
    h
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(21))?;
        m.serialize_entry("rule_set", &*self.rule_set)?;
        m.serialize_entry("rule_set_version", &self.rule_set_version)?;
        m.serialize_entry("group", &*self.group)?;
        m.serialize_entry("rule_id", &*self.rule_id)?;
        m.serialize_entry("trigger", self.trigger.as_str())?;
        m.serialize_entry("operator", &*self.operator)?;
        m.serialize_entry("severity", self.severity.as_str())?;
        m.serialize_entry("handler", &*self.handler)?;
        m.serialize_entry("process", &*self.process)?;
        m.serialize_entry("process_name", &*self.process_name)?;
        m.serialize_entry("scope", &*self.scope)?;
        m.serialize_entry("action", &*self.action)?;
        m.serialize_entry("context", &self.context.as_deref())?;
        m.serialize_entry("action_count", &self.action_count)?;
        m.serialize_entry("value", &self.value.map(json_number))?;
        m.serialize_entry("limit", &self.limit.map(json_number))?;
        m.serialize_entry("signal_ts", &format_ts(self.signal_ts))?;
        m.serialize_entry("engine_ts", &format_ts(self.engine_ts))?;
        m.serialize_entry("fingerprint", &self.fingerprint_hex())?;
        m.serialize_entry("message", &self.message)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_separates_parts() {
        let a = fingerprint("g", "r", "s", "ab", None);
        let b = fingerprint("g", "r", "s", "a", Some("b"));
        let c = fingerprint("g", "r", "s", "ab", Some(""));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, fingerprint("g", "r", "s", "ab", None));
    }

    #[test]
    fn fingerprint_is_stable_across_builds() {
        // Stored alerts deduplicate by this value: it must never change.
        assert_eq!(
            fingerprint("default", "SEQ-003", "metro", "TRACK", Some("S1")),
            0x69ec_4ec1_d9ff_5e02
        );
    }
}
