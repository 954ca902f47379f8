//! The Slack channel: an incoming webhook with Block Kit, inside an attachment whose colour
//! tells the severity (firing), acknowledged (purple) or resolved (green). Every text is cut to
//! Slack's documented limits (header 150, section text 3000, field 2000, at most 10 fields and
//! 50 blocks, button text 75 and URL 3000), every label escaped for mrkdwn.
//! A 2xx whose body says it failed (`{"ok": false}`) is a failure: Slack-compatible servers
//! answer that way.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{truncate, SendContext};
use crate::duration::Millis;
use crate::notification::{Kind, Notification};
use crate::retry::{classify_http, DeliveryOutcome};
use crate::secret::Secret;
use crate::template::{self, defaults, escape_slack, Escape, TemplateId, Templates};

/// Slack's limits (Block Kit reference).
pub mod limits {
    pub const HEADER_TEXT: usize = 150;
    pub const SECTION_TEXT: usize = 3000;
    pub const FIELD_TEXT: usize = 2000;
    pub const FIELDS: usize = 10;
    pub const BLOCKS: usize = 50;
    pub const CONTEXT_ELEMENTS: usize = 10;
    pub const BUTTON_TEXT: usize = 75;
    pub const BUTTON_URL: usize = 3000;
    /// Top-level `text` (Slack truncates beyond it).
    pub const MESSAGE_TEXT: usize = 40_000;
}

/// `[[receivers.slack_configs]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming-webhook URL (a secret: it is the credential).
    pub url: Secret,
    /// Post to this channel instead of the webhook's own.
    pub channel: Option<String>,
    pub username: Option<String>,
    pub icon_emoji: Option<String>,
    /// Header template (plain text).
    pub title: Option<String>,
    /// Body template (mrkdwn, escaped for Slack).
    pub text: Option<String>,
    pub send_resolved: Option<bool>,
    pub send_acknowledged: Option<bool>,
    pub timeout: Option<Millis>,
}

super::common_settings!(SlackConfig);

/// A compiled Slack channel.
#[derive(Debug)]
pub struct Slack {
    url: Secret,
    channel: Option<String>,
    username: Option<String>,
    icon_emoji: Option<String>,
    title: TemplateId,
    text: TemplateId,
}

impl Slack {
    /// Where it posts.
    pub(crate) fn url(&self) -> &str {
        self.url.0.as_str()
    }

    pub fn compile(
        c: &SlackConfig,
        key: &str,
        t: &mut Templates,
        errors: &mut Vec<String>,
    ) -> Option<Slack> {
        super::check_url(&c.url.0, &format!("{key}.url"), errors);
        let title = t
            .add(
                &format!("{key}.title"),
                c.title.as_deref().unwrap_or(defaults::TITLE),
                Escape::Text,
            )
            .map_err(|e| errors.push(e))
            .ok();
        let text = t
            .add(
                &format!("{key}.text"),
                c.text.as_deref().unwrap_or(defaults::SLACK_TEXT),
                Escape::Slack,
            )
            .map_err(|e| errors.push(e))
            .ok();
        Some(Slack {
            url: c.url.clone(),
            channel: c.channel.clone(),
            username: c.username.clone(),
            icon_emoji: c.icon_emoji.clone(),
            title: title?,
            text: text?,
        })
    }

    /// The request body.
    pub fn body(
        &self,
        templates: &Templates,
        n: &Notification,
        external_url: &str,
    ) -> Result<Value, String> {
        let ctx = template::value(&template::context(n, external_url));
        let title = templates.render(&self.title, &ctx)?;
        let text = templates.render(&self.text, &ctx)?;
        let mut v = payload(n, &title, &text, external_url);
        if let Some(c) = &self.channel {
            v["channel"] = json!(c);
        }
        if let Some(u) = &self.username {
            v["username"] = json!(u);
        }
        if let Some(i) = &self.icon_emoji {
            v["icon_emoji"] = json!(i);
        }
        Ok(v)
    }

    pub(crate) async fn send(
        &self,
        cx: &SendContext<'_>,
        n: &Notification,
        timeout: Duration,
    ) -> DeliveryOutcome {
        let body = match self
            .body(cx.templates, n, cx.external_url)
            .and_then(|v| serde_json::to_vec(&v).map_err(|e| format!("encoding the body: {e}")))
        {
            Ok(b) => b,
            Err(e) => return DeliveryOutcome::failed(e),
        };
        let headers = [("content-type".to_owned(), "application/json".to_owned())];
        match cx
            .http
            .post(&self.url.0, &headers, Bytes::from(body), timeout)
            .await
        {
            Ok(a) => match classify_http(a.status, a.retry_after.as_deref(), &a.body, cx.now_ms) {
                DeliveryOutcome::Sent { status } => judge_ok_body(&a.body, status),
                other => other,
            },
            Err(o) => o,
        }
    }
}

/// A 2xx answer is a success unless its body says otherwise (`{"ok": false, "error": ...}` or
/// `{"success": false}`).
fn judge_ok_body(body: &str, status: Option<u16>) -> DeliveryOutcome {
    let t = body.trim();
    if t.is_empty() || t == "ok" {
        return DeliveryOutcome::Sent { status };
    }
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        let failed = v.get("ok") == Some(&Value::Bool(false))
            || v.get("success") == Some(&Value::Bool(false));
        if failed {
            let why = v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("the receiver said it failed");
            return DeliveryOutcome::Failed {
                error: format!(
                    "answered {}: {}",
                    status.unwrap_or(200),
                    crate::retry::excerpt(why, crate::retry::EXCERPT)
                ),
                status,
            };
        }
    }
    DeliveryOutcome::Sent { status }
}

/// The colour bar: severity while firing, purple acknowledged, green resolved.
pub fn colour(n: &Notification) -> &'static str {
    match n.kind {
        Kind::Resolved => "#2eb886",
        Kind::Acknowledged => "#6f42c1",
        Kind::Notice => "#f2c744",
        Kind::Firing | Kind::Escalated => {
            let worst = n
                .alerts
                .iter()
                .map(|a| severity_rank(&a.severity))
                .min()
                .unwrap_or(2);
            ["#b60205", "#d93f0b", "#fbca04", "#0e8a16", "#1d76db"][worst.min(4)]
        }
    }
}

fn severity_rank(s: &str) -> usize {
    match s.to_ascii_lowercase().as_str() {
        "critical" => 0,
        "high" | "error" => 1,
        "medium" | "warning" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// The Block Kit message, within Slack's limits.
pub fn payload(n: &Notification, title: &str, text: &str, external_url: &str) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(title, limits::HEADER_TEXT), "emoji": true}
    })];
    // Long texts become several sections rather than one rejected block.
    let body = truncate(text.trim_end(), limits::SECTION_TEXT * 5);
    let mut chunk = String::new();
    for line in body.lines() {
        if chunk.chars().count() + line.chars().count() + 1 > limits::SECTION_TEXT
            && !chunk.is_empty()
        {
            blocks.push(section(&chunk));
            chunk.clear();
        }
        if !chunk.is_empty() {
            chunk.push('\n');
        }
        chunk.push_str(&truncate(line, limits::SECTION_TEXT));
    }
    if !chunk.is_empty() {
        blocks.push(section(&chunk));
    }
    let labels = if n.alerts.len() == 1 {
        n.alerts[0].labels.clone()
    } else {
        n.common_labels()
    };
    let mut fields: Vec<Value> = labels
        .iter()
        .take(limits::FIELDS)
        .map(|(k, v)| {
            json!({"type": "mrkdwn", "text": truncate(&format!("*{}*\n{}", escape_slack(k), escape_slack(v)), limits::FIELD_TEXT)})
        })
        .collect();
    if labels.len() > limits::FIELDS {
        fields.truncate(limits::FIELDS - 1);
        fields.push(json!({"type": "mrkdwn", "text": format!("_and {} more labels_", labels.len() - (limits::FIELDS - 1))}));
    }
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let (link, label) = match (n.alerts.as_slice(), n.incident()) {
        ([one], _) => (template::alert_url(external_url, one.id), "Open alert"),
        (_, Some(i)) => (template::incident_url(external_url, i), "Open incident"),
        _ => (template::alerts_url(external_url), "Open alerts"),
    };
    if link.len() <= limits::BUTTON_URL {
        blocks.push(json!({
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": truncate(label, limits::BUTTON_TEXT)}, "url": link}]
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(&format!("klaxon · {} · {} alert(s) · receiver {}", n.kind.as_str(), n.alerts.len(), escape_slack(&n.receiver)), limits::SECTION_TEXT)}]
    }));
    blocks.truncate(limits::BLOCKS);
    json!({
        "text": truncate(title, limits::MESSAGE_TEXT),
        "attachments": [{"color": colour(n), "fallback": truncate(title, limits::MESSAGE_TEXT), "blocks": blocks}],
    })
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, limits::SECTION_TEXT)}})
}
