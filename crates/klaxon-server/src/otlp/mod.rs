//! OpenTelemetry in: OTLP spans, log records and metric points mapped to klaxon's signals
//! (docs/opentelemetry.md has the table). Pure: no HTTP, no queues, no clock; the one state is
//! the last point of each cumulative sum (`Rates`), which the caller owns. Decoding the bodies
//! and answering is the API's (`api/otlp.rs`).

mod hold;
mod log;
mod metric;
mod trace;

use klaxon_engine::Signal;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

pub(crate) use hold::{Hold, Released};
pub(crate) use log::map_logs;
pub(crate) use metric::{map_metrics, Rates};
pub(crate) use trace::map_traces;

use crate::config::Otlp;

/// The most rejection reasons an answer's `error_message` lists; the count says the rest.
const REASONS: usize = 10;

/// What one export request maps to: signals sorted by time, and the items refused.
#[derive(Debug, Default)]
pub(crate) struct Mapped {
    pub signals: Vec<Signal>,
    /// Items (spans, log records, data points) refused, each with why.
    pub rejected: i64,
    reasons: Vec<String>,
    /// What the signals take, estimated from the encoded items (for the queue's byte budget).
    pub bytes: usize,
}

impl Mapped {
    fn reject(&mut self, what: impl FnOnce() -> String) {
        self.rejected += 1;
        if self.reasons.len() < REASONS {
            self.reasons.push(what());
        }
    }

    /// OTLP's `partial_success.error_message`: empty when nothing was refused.
    pub(crate) fn error_message(&self) -> String {
        if self.rejected == 0 {
            return String::new();
        }
        let more = self.rejected - self.reasons.len() as i64;
        let mut m = self.reasons.join("; ");
        if more > 0 {
            m.push_str(&format!("; and {more} more"));
        }
        m
    }

    /// Sorts the signals by time, keeping a span's own order on ties (a start before its marks
    /// before its stop), so the engine meets them as it would have live.
    fn sort(&mut self) {
        self.signals
            .sort_by_key(|s| (s.ts.unwrap_or(i64::MAX), rank(&s.body)));
    }
}

/// The order of signals of one millisecond: starts, then marks and logs, then stops.
pub(crate) fn rank(b: &klaxon_engine::Body) -> u8 {
    use klaxon_engine::Body;
    match b {
        Body::ProcessStart(_) => 0,
        Body::TraceStart(_) => 1,
        Body::ProcessUpdate(_) | Body::Mark(_) | Body::Log(_) | Body::Metric(_) => 2,
        Body::TraceStop(_) => 3,
        Body::ProcessStop(_) => 4,
    }
}

/// What the mapping reads of the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    pub config: &'a Otlp,
    /// The largest item, encoded (`[ingest] max_line_bytes`, a signal's limit).
    pub max_item_bytes: usize,
}

/// Epoch milliseconds of OTLP's nanoseconds; `None` for 0 (not set).
fn millis(nanos: u64) -> Option<i64> {
    (nanos != 0).then(|| i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX))
}

/// An id as lowercase hex; `None` when it is empty or all zeros (OTLP's invalid id).
fn hex_id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|b| *b == 0) {
        return None;
    }
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    Some(s)
}

/// An attribute's value as text: strings as they are, numbers and booleans written out,
/// arrays and maps as JSON-like text; `None` for an empty value.
fn text(v: &AnyValue) -> Option<String> {
    use any_value::Value;
    Some(match v.value.as_ref()? {
        Value::StringValue(s) => s.clone(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        Value::BytesValue(b) => hex_id(b).unwrap_or_default(),
        // An index into a profile's string table: no text outside profiles.
        Value::StringValueStrindex(_) => return None,
        Value::ArrayValue(a) => {
            let items: Vec<String> = a
                .values
                .iter()
                .map(|v| serde_json::Value::from(text(v).unwrap_or_default()).to_string())
                .collect();
            format!("[{}]", items.join(","))
        }
        Value::KvlistValue(l) => {
            let items: Vec<String> = l
                .values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().and_then(text).unwrap_or_default();
                    format!(
                        "{}:{}",
                        serde_json::Value::from(kv.key.as_str()),
                        serde_json::Value::from(v)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(","))
        }
    })
}

/// The text of attribute `key` among `attrs`, if given and not empty.
fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(text)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lowercase_hex_and_zero_ids_are_none() {
        assert_eq!(hex_id(&[0xAB, 0x01]).as_deref(), Some("ab01"));
        assert_eq!(hex_id(&[0, 0]), None);
        assert_eq!(hex_id(&[]), None);
    }

    #[test]
    fn nanoseconds_floor_to_milliseconds_and_zero_is_unset() {
        assert_eq!(millis(1_700_000_000_123_999_999), Some(1_700_000_000_123));
        assert_eq!(millis(0), None);
    }
}
