//! Channels: one file per kind of destination. Each owns its configuration, its payload (a pure
//! function of the notification, tested against the receiver's documented fields and limits)
//! and its send, which returns a classified [`DeliveryOutcome`] and never panics or retries by itself:
//! retrying is the outbox's business.

pub mod email;
pub mod pagerduty;
pub mod slack;
pub mod webhook;
pub mod websocket;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::broadcast;

use crate::duration::Millis;
use crate::http::HttpClient;
use crate::notification::{Kind, Notification};
use crate::retry::DeliveryOutcome;
use crate::template::Templates;

/// Settings every channel has.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Common {
    /// Send resolved notifications (default true).
    pub send_resolved: Option<bool>,
    /// Send acknowledged notifications (default true; false for a webhook with the
    /// Alertmanager body, whose format has no acknowledged state).
    pub send_acknowledged: Option<bool>,
    /// Longest a delivery attempt may take (default 10s).
    pub timeout: Option<Millis>,
}

/// A compiled channel of a receiver.
#[derive(Debug)]
pub struct Channel {
    /// Its position among the receiver's channels (the outbox refers to it).
    pub index: usize,
    /// The config key it came from, for messages.
    pub key: String,
    pub spec: Spec,
    pub send_resolved: bool,
    pub send_acknowledged: bool,
    pub timeout: Duration,
}

/// What kind of channel, with its compiled settings.
#[derive(Debug)]
pub enum Spec {
    Webhook(webhook::Webhook),
    Slack(slack::Slack),
    Email(Box<email::Email>),
    PagerDuty(pagerduty::PagerDuty),
    WebSocket,
}

/// A notification pushed to the WebSocket hub.
#[derive(Debug)]
pub struct Pushed {
    /// The outbox id (clients resume after it).
    pub id: i64,
    pub notification: Notification,
    /// The JSON frame.
    pub json: String,
}

/// What a send needs besides the notification.
pub struct SendContext<'a> {
    pub http: &'a HttpClient,
    pub templates: &'a Templates,
    pub external_url: &'a str,
    pub websocket: &'a broadcast::Sender<Arc<Pushed>>,
    /// The outbox id of the notification.
    pub id: i64,
    /// The idempotency key sent to the receiver.
    pub idempotency_key: &'a str,
    /// Wall clock, epoch ms (for Retry-After dates).
    pub now_ms: i64,
}

impl Channel {
    /// `webhook`, `slack`, `email`, `pagerduty` or `websocket`.
    pub fn kind(&self) -> &'static str {
        match self.spec {
            Spec::Webhook(_) => "webhook",
            Spec::Slack(_) => "slack",
            Spec::Email(_) => "email",
            Spec::PagerDuty(_) => "pagerduty",
            Spec::WebSocket => "websocket",
        }
    }

    /// The host (`host:port`, lower case) this channel connects to; `None` for the WebSocket.
    /// Deliveries at once to one host are limited by it.
    pub fn destination(&self) -> Option<String> {
        let url = match &self.spec {
            Spec::Webhook(w) => w.url(),
            Spec::Slack(s) => s.url(),
            Spec::PagerDuty(p) => p.url(),
            Spec::Email(e) => return Some(e.smarthost()),
            Spec::WebSocket => return None,
        };
        let uri: hyper::Uri = url.parse().ok()?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        Some(format!("{}:{port}", uri.host()?.to_ascii_lowercase()))
    }

    /// Whether this channel wants notifications of `kind`.
    pub fn wants(&self, kind: Kind) -> bool {
        match kind {
            Kind::Firing | Kind::Escalated => true,
            Kind::Acknowledged => self.send_acknowledged,
            Kind::Resolved => self.send_resolved,
            // Notices need words: not for PagerDuty events or Alertmanager's webhook body.
            Kind::Notice => match &self.spec {
                Spec::PagerDuty(_) => false,
                Spec::Webhook(w) => !w.default_body(),
                _ => true,
            },
        }
    }

    /// One delivery attempt, bounded by the channel's timeout.
    pub async fn send(&self, cx: &SendContext<'_>, n: &Notification) -> DeliveryOutcome {
        let attempt = async {
            match &self.spec {
                Spec::Webhook(w) => w.send(cx, n, self.timeout).await,
                Spec::Slack(s) => s.send(cx, n, self.timeout).await,
                Spec::Email(e) => e.send(cx, n).await,
                Spec::PagerDuty(p) => p.send(cx, n, self.timeout).await,
                Spec::WebSocket => websocket::send(cx, n),
            }
        };
        // The HTTP channels bound themselves; this bounds SMTP dialogues and anything else.
        match tokio::time::timeout(self.timeout + Duration::from_millis(500), attempt).await {
            Ok(o) => o,
            Err(_) => {
                DeliveryOutcome::retry(format!("timed out after {} ms", self.timeout.as_millis()))
            }
        }
    }
}

/// Implements `common()` for a channel config with the three common fields.
macro_rules! common_settings {
    ($t:ty) => {
        impl $t {
            pub fn common(&self) -> super::Common {
                super::Common {
                    send_resolved: self.send_resolved,
                    send_acknowledged: self.send_acknowledged,
                    timeout: self.timeout,
                }
            }
        }
    };
}
pub(crate) use common_settings;

/// Reports `url` unless it is an absolute http or https URL.
pub(crate) fn check_url(url: &str, key: &str, errors: &mut Vec<String>) {
    let ok = url
        .parse::<hyper::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !ok {
        errors.push(format!("{key}: not an absolute http(s) URL"));
    }
}

/// `common` with its defaults; `ack_default` is the channel's default for acknowledged.
pub(crate) fn settings(c: &Common, ack_default: bool) -> (bool, bool, Duration) {
    (
        c.send_resolved.unwrap_or(true),
        c.send_acknowledged.unwrap_or(ack_default),
        c.timeout.map_or(Duration::from_secs(10), Millis::as_std),
    )
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
