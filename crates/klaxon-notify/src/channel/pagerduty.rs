//! The PagerDuty channel: Events API v2. One event per alert: `trigger` for firing,
//! `acknowledge` and `resolve` for the other kinds, with `dedup_key` = the alert's fingerprint,
//! so PagerDuty's incident follows klaxon's alert. Fields are cut to the documented limits
//! (summary 1024, dedup_key 255). The endpoint URL is configurable. PagerDuty answers 202 with
//! `{"status": "success"}`; a 2xx with another status is a failure.

use std::time::Duration;

use bytes::Bytes;
use klaxon_engine::timestamp::format_ts;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{truncate, SendContext};
use crate::duration::Millis;
use crate::notification::{Kind, Notification};
use crate::retry::{classify_http, DeliveryOutcome};
use crate::secret::Secret;
use crate::template::{self, defaults, Escape, TemplateId, Templates};

/// The Events API v2 endpoint.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Documented limits.
pub mod limits {
    pub const SUMMARY: usize = 1024;
    pub const DEDUP_KEY: usize = 255;
}

/// `[[receivers.pagerduty_configs]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The integration (routing) key.
    pub routing_key: Secret,
    /// Default https://events.pagerduty.com/v2/enqueue.
    pub url: Option<String>,
    /// Template of `payload.summary` (it sees the notification with one alert).
    pub summary: Option<String>,
    /// Template of `payload.source`.
    pub source: Option<String>,
    /// A fixed PagerDuty severity (critical, error, warning, info) instead of the mapping.
    pub severity: Option<String>,
    pub component: Option<String>,
    pub group: Option<String>,
    pub class: Option<String>,
    pub send_resolved: Option<bool>,
    pub send_acknowledged: Option<bool>,
    pub timeout: Option<Millis>,
}

super::common_settings!(PagerDutyConfig);

/// A compiled PagerDuty channel.
#[derive(Debug)]
pub struct PagerDuty {
    routing_key: Secret,
    url: String,
    summary: TemplateId,
    source: TemplateId,
    severity: Option<String>,
    component: Option<String>,
    group: Option<String>,
    class: Option<String>,
}

impl PagerDuty {
    /// Where it posts.
    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    pub fn compile(
        c: &PagerDutyConfig,
        key: &str,
        t: &mut Templates,
        errors: &mut Vec<String>,
    ) -> Option<PagerDuty> {
        let url = c.url.clone().unwrap_or_else(|| DEFAULT_URL.to_owned());
        super::check_url(&url, &format!("{key}.url"), errors);
        if c.routing_key.0.trim().is_empty() {
            errors.push(format!("{key}.routing_key: must not be empty"));
        }
        if let Some(s) = &c.severity {
            if !["critical", "error", "warning", "info"].contains(&s.as_str()) {
                errors.push(format!(
                    "{key}.severity: `{s}` is not one of critical, error, warning, info"
                ));
            }
        }
        let summary = t
            .add(
                &format!("{key}.summary"),
                c.summary.as_deref().unwrap_or(defaults::PAGERDUTY_SUMMARY),
                Escape::Text,
            )
            .map_err(|e| errors.push(e))
            .ok();
        let source = t
            .add(
                &format!("{key}.source"),
                c.source.as_deref().unwrap_or(defaults::PAGERDUTY_SOURCE),
                Escape::Text,
            )
            .map_err(|e| errors.push(e))
            .ok();
        Some(PagerDuty {
            routing_key: c.routing_key.clone(),
            url,
            summary: summary?,
            source: source?,
            severity: c.severity.clone(),
            component: c.component.clone(),
            group: c.group.clone(),
            class: c.class.clone(),
        })
    }

    /// The events of a notification, one per alert.
    pub fn events(
        &self,
        templates: &Templates,
        n: &Notification,
        external_url: &str,
    ) -> Result<Vec<Value>, String> {
        let mut out = Vec::with_capacity(n.alerts.len());
        for a in &n.alerts {
            let dedup = truncate(&a.fingerprint, limits::DEDUP_KEY);
            let action = match n.kind {
                Kind::Firing | Kind::Escalated => "trigger",
                Kind::Acknowledged => "acknowledge",
                Kind::Resolved => "resolve",
                Kind::Notice => continue,
            };
            if action != "trigger" {
                out.push(json!({"routing_key": self.routing_key.0, "dedup_key": dedup, "event_action": action}));
                continue;
            }
            let one = Notification {
                alerts: vec![a.clone()],
                ..n.clone()
            };
            let ctx = template::value(&template::context(&one, external_url));
            let summary = templates.render(&self.summary, &ctx)?;
            let source = templates.render(&self.source, &ctx)?;
            let mut payload = json!({
                "summary": truncate(summary.trim(), limits::SUMMARY),
                "source": if source.trim().is_empty() { "klaxon".to_owned() } else { source.trim().to_owned() },
                "severity": self.severity.clone().unwrap_or_else(|| severity(&a.severity).to_owned()),
                "timestamp": format_ts(a.starts_at),
                "custom_details": {
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "state": a.state,
                    "occurrences": a.occurrences,
                    "klaxon_id": a.id,
                },
            });
            for (k, v) in [
                ("component", &self.component),
                ("group", &self.group),
                ("class", &self.class),
            ] {
                if let Some(v) = v {
                    payload[k] = json!(v);
                }
            }
            out.push(json!({
                "routing_key": self.routing_key.0,
                "event_action": "trigger",
                "dedup_key": dedup,
                "payload": payload,
                "client": "klaxon",
                "client_url": external_url,
                "links": [{"href": template::alert_url(external_url, a.id), "text": format!("klaxon alert {}", a.id)}],
            }));
        }
        Ok(out)
    }

    pub(crate) async fn send(
        &self,
        cx: &SendContext<'_>,
        n: &Notification,
        timeout: Duration,
    ) -> DeliveryOutcome {
        let events = match self.events(cx.templates, n, cx.external_url) {
            Ok(e) => e,
            Err(e) => return DeliveryOutcome::failed(e),
        };
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        let mut last = DeliveryOutcome::Sent { status: None };
        // Sent in order; PagerDuty deduplicates by dedup_key, so resending the whole
        // notification after a partial failure is harmless.
        for e in events {
            let body = Bytes::from(e.to_string());
            last = match cx.http.post(&self.url, &headers, body, timeout).await {
                Ok(a) => {
                    match classify_http(a.status, a.retry_after.as_deref(), &a.body, cx.now_ms) {
                        DeliveryOutcome::Sent { status } => judge(&a.body, status),
                        other => other,
                    }
                }
                Err(o) => o,
            };
            if !matches!(last, DeliveryOutcome::Sent { .. }) {
                return last;
            }
        }
        last
    }
}

/// klaxon severity → PagerDuty severity.
pub fn severity(s: &str) -> &'static str {
    match s.to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "high" | "error" => "error",
        "low" | "info" => "info",
        _ => "warning",
    }
}

fn judge(body: &str, status: Option<u16>) -> DeliveryOutcome {
    match serde_json::from_str::<Value>(body) {
        Ok(v)
            if v.get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s != "success") =>
        {
            DeliveryOutcome::Failed {
                error: format!(
                    "PagerDuty answered {}: {}",
                    status.unwrap_or(202),
                    crate::retry::excerpt(
                        v.get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("not success"),
                        crate::retry::EXCERPT
                    )
                ),
                status,
            }
        }
        _ => DeliveryOutcome::Sent { status },
    }
}
