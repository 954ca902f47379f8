//! The size limits of what senders and people write: alert names, labels and annotations,
//! silences, notes, assignees and reasons. One table (docs/server.md shows it), checked where
//! each body is read, after the endpoint's body limit. A value over its limit is refused whole
//! (422 naming the field and the limit); nothing is ever truncated. Knows no HTTP beyond the
//! error it becomes.

use axum::http::StatusCode;
use serde_json::json;

use crate::error::ApiError;

/// An alert's name (`name`, the `alertname` label), in bytes.
pub(crate) const ALERT_NAME: usize = 1024;
/// Labels of one alert.
pub(crate) const LABELS: usize = 128;
/// A label's name, in bytes.
pub(crate) const LABEL_NAME: usize = 256;
/// A label's value, in bytes.
pub(crate) const LABEL_VALUE: usize = 4096;
/// Annotations of one alert.
pub(crate) const ANNOTATIONS: usize = 64;
/// An annotation's name, in bytes.
pub(crate) const ANNOTATION_NAME: usize = 256;
/// An annotation's value, and a hand-made alert's `summary`, in bytes.
pub(crate) const ANNOTATION_VALUE: usize = 16 << 10;
/// Receivers a hand-made alert names (`notification_channels`).
pub(crate) const RECEIVERS: usize = 32;
/// A receiver's name, in bytes.
pub(crate) const RECEIVER_NAME: usize = 256;
/// An Alertmanager alert's `generatorURL`, in bytes.
pub(crate) const GENERATOR_URL: usize = 4096;
/// Matchers of one silence.
pub(crate) const MATCHERS: usize = 64;
/// A matcher's label name, in bytes.
pub(crate) const MATCHER_NAME: usize = 256;
/// A matcher's value (text or regular expression), in bytes.
pub(crate) const MATCHER_VALUE: usize = 4096;
/// A silence's `comment`, in bytes.
pub(crate) const COMMENT: usize = 4096;
/// A silence's `createdBy` and `id`, in bytes.
pub(crate) const SILENCE_WHO: usize = 256;
/// A note's text, in bytes.
pub(crate) const NOTE: usize = 16 << 10;
/// An assignee, in bytes.
pub(crate) const ASSIGNEE: usize = 256;
/// The reason of an action, in bytes.
pub(crate) const REASON: usize = 1024;

/// A value over its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OverLimit {
    /// The field, e.g. `labels`, `labels.team`, `matchers[3].value`.
    pub field: String,
    pub limit: usize,
    /// `bytes` or `entries`.
    pub unit: &'static str,
    pub size: usize,
}

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} {}, over the limit of {}",
            self.field, self.size, self.unit, self.limit
        )
    }
}

impl From<OverLimit> for ApiError {
    fn from(o: OverLimit) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "over_limit",
            o.to_string(),
        )
        .with_details(json!({"field": o.field, "limit": o.limit, "unit": o.unit, "size": o.size}))
    }
}

/// `value` is at most `limit` bytes.
pub(crate) fn text(field: impl Into<String>, value: &str, limit: usize) -> Result<(), OverLimit> {
    if value.len() <= limit {
        return Ok(());
    }
    Err(OverLimit {
        field: field.into(),
        limit,
        unit: "bytes",
        size: value.len(),
    })
}

/// At most `limit` entries.
pub(crate) fn count(field: &str, n: usize, limit: usize) -> Result<(), OverLimit> {
    if n <= limit {
        return Ok(());
    }
    Err(OverLimit {
        field: field.to_owned(),
        limit,
        unit: "entries",
        size: n,
    })
}

/// A map of text: its size, each name and each value.
fn map<'a>(
    field: &str,
    pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    (entries, name, value): (usize, usize, usize),
) -> Result<(), OverLimit> {
    count(field, pairs.len(), entries)?;
    for (k, v) in pairs {
        // A name over its limit is not echoed back in the field.
        text(format!("{field} (a name)"), k, name)?;
        text(format!("{field}.{k}"), v, value)?;
    }
    Ok(())
}

/// An alert's labels, its name among them.
pub(crate) fn labels<'a>(
    pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<(), OverLimit> {
    map("labels", pairs, (LABELS, LABEL_NAME, LABEL_VALUE))
}

/// An alert's annotations.
pub(crate) fn annotations<'a>(
    pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<(), OverLimit> {
    map(
        "annotations",
        pairs,
        (ANNOTATIONS, ANNOTATION_NAME, ANNOTATION_VALUE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_field_and_are_inclusive() {
        assert_eq!(text("name", &"a".repeat(ALERT_NAME), ALERT_NAME), Ok(()));
        let e = text("name", &"a".repeat(ALERT_NAME + 1), ALERT_NAME).expect_err("over");
        assert_eq!((e.field.as_str(), e.size, e.unit), ("name", 1025, "bytes"));
        let many: Vec<(String, String)> =
            (0..=LABELS).map(|i| (i.to_string(), "v".into())).collect();
        let e = labels(many.iter().map(|(k, v)| (k.as_str(), v.as_str()))).expect_err("count");
        assert_eq!(
            (e.field.as_str(), e.unit, e.limit),
            ("labels", "entries", LABELS)
        );
        let long = "v".repeat(LABEL_VALUE + 1);
        let e = labels([("team", long.as_str())].into_iter()).expect_err("value");
        assert_eq!(e.field, "labels.team");
        let name = "n".repeat(ANNOTATION_NAME + 1);
        let e = annotations([(name.as_str(), "x")].into_iter()).expect_err("name");
        assert_eq!(e.field, "annotations (a name)");
        let api: ApiError = e.into();
        assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(api.details["limit"], ANNOTATION_NAME);
    }
}
