//! Alertmanager API v2, so that Prometheus, Grafana, vmalert and amtool can use klaxon as their
//! Alertmanager: `POST /api/v2/alerts`, `GET /api/v2/status` and `GET /api/v2/receivers`, with
//! Alertmanager's wire shapes (camelCase, its 400 bodies), and the 410 Alertmanager 0.27+
//! answers on the paths of its removed API v1. Reads of alerts and groups are in
//! `alertmanager_read`.
//! It maps wire shapes only: deduplication, resolution and timers are the lifecycle manager's.
//!
//! - Posted alerts are identified by their label set. One request is at most two commands: a
//!   `Command::Resends` with each alert as numbers (the lifecycle manager takes the quiet
//!   resends), then a `Command::Labelled` with the rest, committed before the answer. As in
//!   Alertmanager, valid alerts of a batch are kept when others are invalid (an alert over a
//!   size limit of `limits` among them), and the 400 lists every invalid one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use klaxon_engine::timestamp::{format_ts, parse_ts_str};
use klaxon_store::{Source, Store};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::clock::wall_ms;
use crate::error::ApiResult;
use crate::extract::Raw;
use crate::limits;
use crate::pipeline::lifecycle::convert::{label_key, Labelled};
use crate::pipeline::lifecycle::{Command, Resend};
use crate::state::AppState;
use klaxon_engine::lifecycle::ContentKeys;

/// The receiver every alert without a handler of its own goes to.
pub(crate) const RECEIVER: &str = "klaxon";

/// Go's zero time, which Alertmanager clients send for "not set".
const GO_ZERO_MS: i64 = -62_135_596_800_000;

static STARTED: OnceLock<i64> = OnceLock::new();

/// The route of `GET /api/v2/status`; building it pins the start time the status reports.
pub(crate) fn status_route<S: Store + Clone>() -> MethodRouter<AppState<S>> {
    STARTED.get_or_init(wall_ms);
    get(status::<S>)
}

/// Alertmanager answers a bad request with a JSON string, and its clients expect that shape.
pub(crate) fn bad_request(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(Value::String(message.into()))).into_response()
}

/// One alert of `POST /api/v2/alerts` (Alertmanager's `postableAlert`); unknown fields are
/// ignored, as Alertmanager does. Its text is borrowed from the body where it can be: most
/// posts are resends, and a resend that changes nothing is settled from numbers alone.
#[derive(Debug, Deserialize)]
struct Postable<'a> {
    #[serde(borrow)]
    labels: Option<TextMap<'a>>,
    #[serde(borrow)]
    annotations: Option<TextMap<'a>>,
    #[serde(rename = "startsAt", borrow)]
    starts_at: Option<Text<'a>>,
    #[serde(rename = "endsAt", borrow)]
    ends_at: Option<Text<'a>>,
    #[serde(rename = "generatorURL", borrow)]
    generator_url: Option<Text<'a>>,
}

/// A JSON string: borrowed from the body unless it holds escapes.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit(std::marker::PhantomData))
    }
}

/// A JSON object of strings as pairs sorted by name, the last of a repeated name kept (as a
/// map keeps it): one allocation where a map makes a node per few pairs.
#[derive(Debug, Default)]
struct TextMap<'a>(Vec<(Text<'a>, Text<'a>)>);

impl<'a> TextMap<'a> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (*k.0).cmp(name))
            .ok()
            .map(|i| &*self.0[i].1 .0)
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| &*k.0)
    }

    fn pairs(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&*k.0, &*v.0))
    }

    fn into_owned(self) -> BTreeMap<String, String> {
        self.0
            .into_iter()
            .map(|(k, v)| (k.0.into_owned(), v.0.into_owned()))
            .collect()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TextMap<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = TextMap<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<TextMap<'a>, M::Error> {
                let mut v: Vec<(Text<'a>, Text<'a>)> =
                    Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some(pair) = m.next_entry()? {
                    v.push(pair);
                }
                // Stable: of a repeated name, the last comes last; keep that one.
                v.sort_by(|a, b| a.0.cmp(&b.0));
                if v.windows(2).any(|w| w[0].0 == w[1].0) {
                    v.reverse();
                    v.dedup_by(|later, earlier| later.0 == earlier.0);
                    v.reverse();
                }
                Ok(TextMap(v))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A posted alert that passed validation, still borrowing the body.
#[derive(Debug)]
struct Checked<'a> {
    labels: TextMap<'a>,
    annotations: TextMap<'a>,
    fingerprint: u64,
    severity: &'static str,
    starts_at: i64,
    ends_at: Option<i64>,
    generator_url: Option<Text<'a>>,
}

impl Checked<'_> {
    /// The summary: the `summary` or `description` annotation, else the alert's name.
    fn summary(&self) -> &str {
        ["summary", "description"]
            .iter()
            .find_map(|k| self.annotations.get(k).filter(|s| !s.trim().is_empty()))
            .or_else(|| self.labels.get("alertname"))
            .unwrap_or_default()
    }

    /// Its identity and content as numbers, the content keyed by the lifecycle's `keys`.
    fn resend(&self, keys: &ContentKeys) -> Resend {
        Resend {
            fingerprint: self.fingerprint,
            content: keys.key(self.severity, self.summary(), self.annotations.pairs()),
            ends_at: self.ends_at,
        }
    }

    fn into_labelled(self) -> Labelled {
        let summary = self.summary().to_owned();
        Labelled {
            source: Source::Alertmanager,
            fingerprint: self.fingerprint,
            labels: self.labels.into_owned(),
            annotations: self.annotations.into_owned(),
            severity: self.severity.to_owned(),
            summary,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            generator_url: self.generator_url.map(|u| u.0.into_owned()),
            value: None,
            pending: false,
            rule: None,
            end_reason: None,
            receivers: Vec::new(),
        }
    }
}

/// `POST /api/v2/alerts`: a JSON array of alerts. Needs an `ingest` or `admin` token. Answers
/// 200 with an empty body once every valid alert is committed, or 400 with a JSON string naming
/// each invalid alert (the valid ones are still taken, as Alertmanager does).
pub(crate) async fn post_alerts<S: Store + Clone>(
    State(st): State<AppState<S>>,
    Raw(body): Raw,
) -> ApiResult<Response> {
    let mut each = Vec::new();
    let (mut alerts, errors) = match decode_alerts(&body, &mut each, wall_ms()) {
        Ok(decoded) => decoded,
        Err(e) => return Ok(bad_request(e)),
    };
    if !alerts.is_empty() {
        // Resends that change nothing go as numbers; only the rest go whole.
        let (tx, rx) = oneshot::channel();
        st.command(Command::Resends {
            resends: alerts.iter().map(|a| a.resend(&st.content_keys)).collect(),
            reply: tx,
        })?;
        let taken = st.committed(rx).await?;
        let mut taken = taken.into_iter();
        alerts.retain(|_| !taken.next().unwrap_or(false));
    }
    if !alerts.is_empty() {
        let (tx, rx) = oneshot::channel();
        st.command(Command::Labelled {
            alerts: alerts.into_iter().map(Checked::into_labelled).collect(),
            reply: Some(tx),
        })?;
        st.committed(rx).await?;
    }
    if errors.is_empty() {
        Ok(StatusCode::OK.into_response())
    } else {
        Ok(bad_request(errors.join("; ")))
    }
}

/// A body of `POST /api/v2/alerts`: the valid alerts and why each other one is not, or why the
/// body is not a JSON array of alerts. `each` holds the text of every alert when the body did
/// not parse whole, for the valid ones to borrow.
fn decode_alerts<'a>(
    body: &'a [u8],
    each: &'a mut Vec<String>,
    now: i64,
) -> Result<(Vec<Checked<'a>>, Vec<String>), String> {
    match serde_json::from_slice::<Vec<Postable>>(body) {
        Ok(list) => Ok(validate_all(list.into_iter().map(Ok), now)),
        // Find out which alerts are bad, so the valid ones can still be taken.
        Err(e) => match serde_json::from_slice::<Vec<Value>>(body) {
            Ok(values) => {
                *each = values.iter().map(Value::to_string).collect();
                let each: &'a Vec<String> = each;
                Ok(validate_all(each.iter().map(|text| parse_one(text)), now))
            }
            Err(_) => Err(format!("body: expected a JSON array of alerts: {e}")),
        },
    }
}

/// The alerts of a body of `POST /api/v2/alerts` as the lifecycle would take them, or why not.
#[cfg(feature = "fuzzing")]
pub(crate) fn decode_labelled(
    body: &[u8],
    now: i64,
) -> Result<(Vec<Labelled>, Vec<String>), String> {
    let mut each = Vec::new();
    let (alerts, errors) = decode_alerts(body, &mut each, now)?;
    Ok((
        alerts.into_iter().map(Checked::into_labelled).collect(),
        errors,
    ))
}

/// One alert of a batch that did not parse whole, for its own error (without the position,
/// which would be within the alert, not the body).
fn parse_one(text: &str) -> Result<Postable<'_>, String> {
    serde_json::from_str(text).map_err(|e| {
        let e = e.to_string();
        match e.rsplit_once(" at line ") {
            Some((reason, _)) => reason.to_owned(),
            None => e,
        }
    })
}

fn validate_all<'a>(
    list: impl Iterator<Item = Result<Postable<'a>, String>>,
    now: i64,
) -> (Vec<Checked<'a>>, Vec<String>) {
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    for (i, p) in list.enumerate() {
        match p.and_then(|p| validate(p, now)) {
            Ok(l) => ok.push(l),
            Err(e) => errors.push(format!("alert {i}: {e}")),
        }
    }
    (ok, errors)
}

/// Checks one posted alert as Alertmanager does.
fn validate(p: Postable<'_>, now: i64) -> Result<Checked<'_>, String> {
    let labels = p.labels.ok_or("labels: required")?;
    let annotations = p.annotations.unwrap_or_default();
    if labels
        .names()
        .chain(annotations.names())
        .any(|k| k.trim().is_empty())
    {
        return Err("label and annotation names must not be empty".into());
    }
    if labels.get("alertname").is_none_or(|n| n.trim().is_empty()) {
        return Err("labels: alertname is required".into());
    }
    let sizes = || -> Result<(), limits::OverLimit> {
        limits::text(
            "labels.alertname",
            labels.get("alertname").unwrap_or_default(),
            limits::ALERT_NAME,
        )?;
        limits::labels(labels.pairs())?;
        limits::annotations(annotations.pairs())?;
        if let Some(u) = &p.generator_url {
            limits::text("generatorURL", &u.0, limits::GENERATOR_URL)?;
        }
        Ok(())
    };
    sizes().map_err(|e| e.to_string())?;
    let starts = am_time("startsAt", p.starts_at.as_ref().map(|t| &*t.0))?;
    let ends = am_time("endsAt", p.ends_at.as_ref().map(|t| &*t.0))?;
    // A missing start is now, or the end when the alert already ended (as Alertmanager does).
    let starts = starts.unwrap_or_else(|| ends.map_or(now, |e| e.min(now)));
    if ends.is_some_and(|e| e < starts) {
        return Err("endsAt: must not be before startsAt".into());
    }
    let severity = labels
        .get("severity")
        .and_then(klaxon_engine::Severity::parse)
        .map_or("medium", klaxon_engine::Severity::as_str);
    Ok(Checked {
        fingerprint: label_key(labels.pairs()),
        labels,
        annotations,
        severity,
        starts_at: starts,
        ends_at: ends,
        generator_url: p.generator_url.filter(|u| !u.0.trim().is_empty()),
    })
}

/// An Alertmanager time: RFC 3339, or absent (missing, empty or Go's zero time).
fn am_time(field: &str, s: Option<&str>) -> Result<Option<i64>, String> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(format!("{field}: `{s}` is not an RFC 3339 time"));
    }
    match parse_ts_str(s).map_err(|e| format!("{field}: {e}"))? {
        GO_ZERO_MS => Ok(None),
        ms => Ok(Some(ms)),
    }
}

/// Percent-decoding of a query component (`+` is a space).
pub(crate) fn decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(b.len()), 0);
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent-encoding in `{s}`"))?;
                out.push(byte);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

/// `GET /api/v2/status`: Alertmanager's `alertmanagerStatus` for a single, ready node.
/// `config.original` is klaxon's notification configuration as Alertmanager YAML.
pub(crate) async fn status<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let started = *STARTED.get_or_init(wall_ms);
    Ok(Json(json!({
        "cluster": {"name": "klaxon", "status": "ready", "peers": []},
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "none (klaxon is written in Rust)",
        },
        "config": {"original": super::alertmanager_config::original(&st.config, RECEIVER)},
        "uptime": format_ts(started),
    })))
}

/// What Alertmanager 0.27 and later answer on every path of the API v1 they removed (which
/// Prometheus 2.x still uses with `api_version: v1`), word for word.
const V1_GONE: &str = "The Alertmanager v1 API was deprecated in version 0.16.0 and is removed as of version 0.27.0 - please use the equivalent route in the v2 API";

/// `/api/v1/...`: 410 Gone with Alertmanager's JSON body, as Alertmanager 0.27+ answers.
pub(crate) async fn v1_gone() -> Response {
    (
        StatusCode::GONE,
        Json(json!({"status": "deprecated", "error": V1_GONE})),
    )
        .into_response()
}

/// The body of [`v1_gone`].
pub(crate) fn v1_gone_shape() -> crate::openapi::shape::Shape {
    use crate::openapi::shape::Shape;
    Shape::object()
        .req("status", Shape::one_of_text(&["deprecated"]))
        .req("error", Shape::string())
}

/// `GET /api/v2/receivers`: [`RECEIVER`] and the handlers of the active rule sets.
pub(crate) async fn receivers<S: Store + Clone>(
    State(st): State<AppState<S>>,
) -> ApiResult<Json<Value>> {
    let mut names = BTreeSet::from([RECEIVER.to_owned()]);
    names.extend(st.notify.notifier.receivers.keys().cloned());
    for rec in st.store.active_rule_sets().await? {
        if let Ok(parsed) = klaxon_engine::event::parse_rule_set(&rec.json) {
            names.extend(parsed.set.rules.into_iter().map(|r| r.handler));
        }
    }
    Ok(Json(
        names
            .into_iter()
            .map(|name| json!({"name": name}))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(v: Value) -> Result<Labelled, String> {
        let text = v.to_string();
        validate(parse_one(&text)?, 1_700_000_000_000).map(Checked::into_labelled)
    }

    #[test]
    fn posted_alerts_map_to_labelled_alerts() {
        let l = post(json!({
            "labels": {"alertname": "DiskFull", "severity": "warning", "instance": "a"},
            "annotations": {"description": "disk is full"},
            "startsAt": "2023-11-14T22:13:20.5Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
            "extra": "ignored",
        }))
        .expect("valid");
        assert_eq!(l.severity, "medium");
        assert_eq!(l.summary, "disk is full");
        assert_eq!(l.starts_at, 1_699_999_999_000 + 1_500);
        assert_eq!(l.ends_at, None, "Go's zero time is no end");
        assert_eq!(
            l.fingerprint,
            crate::pipeline::lifecycle::convert::label_fingerprint(&l.labels)
        );
        let l = post(json!({"labels": {"alertname": "X", "severity": "CRITICAL"}})).expect("valid");
        assert_eq!(
            (l.severity.as_str(), l.summary.as_str(), l.starts_at),
            ("critical", "X", 1_700_000_000_000)
        );
        let l = post(json!({"labels": {"alertname": "X", "severity": "page"}, "endsAt": "2023-11-14T00:00:00Z"})).expect("valid");
        assert_eq!(l.severity, "medium");
        assert_eq!(
            Some(l.starts_at),
            l.ends_at,
            "an ended alert without a start starts at its end"
        );
    }

    #[test]
    fn borrowed_and_escaped_text_key_alike_to_what_is_stored() {
        // Escapes make owned text; either way the keys are those of the stored alert.
        let text = json!([{
            "labels": {"alertname": "Disk\"Full", "path": "/var/log", "severity": "warning"},
            "annotations": {"summary": "full\nagain", "runbook": "http://wiki"},
        }])
        .to_string();
        let list: Vec<Postable> = serde_json::from_str(&text).expect("parses");
        let checked = validate(list.into_iter().next().expect("one"), 0).expect("valid");
        let keys = ContentKeys::new(7);
        let resend = checked.resend(&keys);
        let l = checked.into_labelled();
        assert_eq!(l.labels["alertname"], "Disk\"Full");
        assert_eq!(l.summary, "full\nagain");
        assert_eq!(
            l.fingerprint,
            crate::pipeline::lifecycle::convert::label_fingerprint(&l.labels)
        );
        let again = Resend {
            fingerprint: l.fingerprint,
            content: keys.key_of(&l.severity, &l.summary, &l.annotations),
            ends_at: l.ends_at,
        };
        assert_eq!(resend, again);
    }

    #[test]
    fn repeated_label_names_keep_the_last_value_as_a_map_does() {
        let text = r#"[{"labels": {"zone": "b", "alertname": "X", "zone": "c", "app": "a", "zone": "d"}}]"#;
        let list: Vec<Postable> = serde_json::from_str(text).expect("parses");
        let l = validate(list.into_iter().next().expect("one"), 0)
            .expect("valid")
            .into_labelled();
        let want: BTreeMap<String, String> = [("alertname", "X"), ("app", "a"), ("zone", "d")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(l.labels, want);
        assert_eq!(
            l.fingerprint,
            crate::pipeline::lifecycle::convert::label_fingerprint(&want)
        );
    }

    #[test]
    fn invalid_alerts_say_why() {
        for (v, says) in [
            (json!({"annotations": {}}), "labels: required"),
            (json!({"labels": {"job": "x"}}), "alertname is required"),
            (
                json!({"labels": {"alertname": ""}}),
                "alertname is required",
            ),
            (
                json!({"labels": {"alertname": "x", "": "v"}}),
                "must not be empty",
            ),
            (
                json!({"labels": {"alertname": "x"}, "startsAt": "yesterday"}),
                "startsAt",
            ),
            (
                json!({"labels": {"alertname": "x"}, "startsAt": "1700000000000"}),
                "not an RFC 3339 time",
            ),
            (
                json!({"labels": {"alertname": "x"}, "startsAt": "2023-11-14T00:00:01Z", "endsAt": "2023-11-14T00:00:00Z"}),
                "must not be before",
            ),
            (json!({"labels": {"alertname": 1}}), "invalid type"),
        ] {
            let e = post(v.clone()).expect_err(&v.to_string());
            assert!(e.contains(says), "{v}: {e}");
        }
    }
}
