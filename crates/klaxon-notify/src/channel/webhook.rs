//! The webhook channel: an HTTP POST of the Alertmanager webhook v4 body (so receivers written
//! for Alertmanager work unchanged) or of a templated body, with custom headers, an
//! `Idempotency-Key`, the kind in `X-Klaxon-Kind`, and an optional HMAC-SHA256 signature of the
//! body (`X-Klaxon-Signature: sha256=<hex>`) with a per-receiver secret.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use klaxon_engine::timestamp::format_ts;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::SendContext;
use crate::duration::Millis;
use crate::notification::Notification;
use crate::retry::{classify_http, DeliveryOutcome};
use crate::secret::Secret;
use crate::template::{self, am_status, Escape, TemplateId, Templates};

/// `[[receivers.webhook_configs]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: Secret,
    /// Extra request headers (values are secrets: they may carry tokens).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// A template for the body (JSON-escaped) instead of the Alertmanager v4 body.
    pub body: Option<String>,
    /// Content-Type of a templated body (default application/json).
    pub content_type: Option<String>,
    /// Signs the body with HMAC-SHA256 under this secret.
    pub hmac_secret: Option<Secret>,
    /// The header that carries the signature (default X-Klaxon-Signature).
    pub signature_header: Option<String>,
    /// At most this many alerts in the v4 body (0: all); the rest is counted in
    /// `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: usize,
    pub send_resolved: Option<bool>,
    pub send_acknowledged: Option<bool>,
    pub timeout: Option<Millis>,
}

super::common_settings!(WebhookConfig);

/// A compiled webhook.
#[derive(Debug)]
pub struct Webhook {
    url: Secret,
    headers: Vec<(String, String)>,
    body: Option<TemplateId>,
    content_type: String,
    secret: Option<Secret>,
    signature_header: String,
    max_alerts: usize,
}

impl Webhook {
    /// Where it posts.
    pub(crate) fn url(&self) -> &str {
        self.url.0.as_str()
    }

    pub fn compile(
        c: &WebhookConfig,
        key: &str,
        t: &mut Templates,
        errors: &mut Vec<String>,
    ) -> Webhook {
        super::check_url(&c.url.0, &format!("{key}.url"), errors);
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            if hyper::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                || hyper::header::HeaderValue::from_str(&v.0).is_err()
            {
                errors.push(format!("{key}.headers.{k}: not a valid HTTP header"));
            } else {
                headers.push((k.clone(), v.0.clone()));
            }
        }
        let body = c.body.as_deref().and_then(|src| {
            t.add(&format!("{key}.body"), src, Escape::Json)
                .map_err(|e| errors.push(e))
                .ok()
        });
        Webhook {
            url: c.url.clone(),
            headers,
            body,
            content_type: c
                .content_type
                .clone()
                .unwrap_or_else(|| "application/json".to_owned()),
            secret: c.hmac_secret.clone(),
            signature_header: c
                .signature_header
                .clone()
                .unwrap_or_else(|| "X-Klaxon-Signature".to_owned()),
            max_alerts: c.max_alerts,
        }
    }

    /// Whether the body is the default (Alertmanager) one.
    pub fn default_body(&self) -> bool {
        self.body.is_none()
    }

    /// The request body.
    pub fn body(
        &self,
        templates: &Templates,
        n: &Notification,
        external_url: &str,
    ) -> Result<Vec<u8>, String> {
        match &self.body {
            None => serde_json::to_vec(&alertmanager_v4(n, external_url, self.max_alerts))
                .map_err(|e| format!("encoding the body: {e}")),
            Some(id) => templates
                .render(id, &template::value(&template::context(n, external_url)))
                .map(String::into_bytes),
        }
    }

    pub(crate) async fn send(
        &self,
        cx: &SendContext<'_>,
        n: &Notification,
        timeout: Duration,
    ) -> DeliveryOutcome {
        let body = match self.body(cx.templates, n, cx.external_url) {
            Ok(b) => b,
            Err(e) => return DeliveryOutcome::failed(e),
        };
        let mut headers = vec![
            ("content-type".to_owned(), self.content_type.clone()),
            (
                "user-agent".to_owned(),
                concat!("klaxon/", env!("CARGO_PKG_VERSION")).to_owned(),
            ),
            ("idempotency-key".to_owned(), cx.idempotency_key.to_owned()),
            ("x-klaxon-kind".to_owned(), n.kind.as_str().to_owned()),
        ];
        if let Some(s) = &self.secret {
            headers.push((self.signature_header.clone(), signature(&s.0, &body)));
        }
        headers.extend(self.headers.iter().cloned());
        match cx
            .http
            .post(&self.url.0, &headers, Bytes::from(body), timeout)
            .await
        {
            Ok(a) => classify_http(a.status, a.retry_after.as_deref(), &a.body, cx.now_ms),
            Err(o) => o,
        }
    }
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut s = String::with_capacity(71);
    s.push_str("sha256=");
    for b in tag {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Alertmanager's "zero" time, which it sends as `endsAt` of an alert that has not ended.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The Alertmanager webhook body, version 4, with klaxon's `kind` beside `status` (receivers
/// ignore keys they do not know).
pub fn alertmanager_v4(n: &Notification, external_url: &str, max_alerts: usize) -> Value {
    let keep = if max_alerts == 0 {
        n.alerts.len()
    } else {
        max_alerts.min(n.alerts.len())
    };
    let alerts: Vec<Value> = n.alerts[..keep]
        .iter()
        .map(|a| {
            let status = if a.ends_at.is_some() || !a.state.is_open() {
                "resolved"
            } else {
                "firing"
            };
            let mut annotations = a.annotations.clone();
            if !a.summary.is_empty() {
                annotations.entry("summary".to_owned()).or_insert_with(|| a.summary.clone());
            }
            json!({
                "status": status,
                "labels": a.labels,
                "annotations": annotations,
                "startsAt": format_ts(a.starts_at),
                "endsAt": a.ends_at.map_or_else(|| ZERO_TIME.to_owned(), format_ts),
                "generatorURL": a.generator_url.clone().unwrap_or_else(|| template::alert_url(external_url, a.id)),
                "fingerprint": a.fingerprint,
            })
        })
        .collect();
    let mut body = json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": n.alerts.len() - keep,
        "status": am_status(n.kind),
        "kind": n.kind.as_str(),
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels(),
        "commonAnnotations": n.common_annotations(),
        "externalURL": external_url,
        "alerts": alerts,
    });
    if let Some(notice) = &n.notice {
        body["notice"] = json!(notice);
    }
    if let Some(e) = &n.escalation {
        body["escalation"] = json!(e);
    }
    // klaxon's addition: the incident all the alerts are in, when they are in one.
    if let Some(i) = n.incident() {
        body["incident"] = json!(i);
        body["incidentURL"] = json!(template::incident_url(external_url, i));
    }
    body
}
