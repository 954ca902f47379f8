//! Notification configuration: receivers (each a list of channel configs), the routing tree,
//! SMTP defaults and the outbox settings, compiled into a [`Notifier`]. Compiling reports every
//! error at once, each naming its key (`receivers[1].slack_configs[0].text: ...`).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::channel::email::{Email, EmailConfig, SmtpDefaults};
use crate::channel::pagerduty::{PagerDuty, PagerDutyConfig};
use crate::channel::slack::{Slack, SlackConfig};
use crate::channel::webhook::{Webhook, WebhookConfig};
use crate::channel::{settings, Channel, Common, Spec};
use crate::duration::Millis;
use crate::notification::AlertView;
use crate::route::{GroupBy, Route, RouteConfig, Target, Timing};
use crate::template::Templates;

/// `[[receivers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    #[serde(default)]
    pub webhook_configs: Vec<WebhookConfig>,
    #[serde(default)]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(default)]
    pub email_configs: Vec<EmailConfig>,
    #[serde(default)]
    pub pagerduty_configs: Vec<PagerDutyConfig>,
    #[serde(default)]
    pub websocket_configs: Vec<Common>,
    /// At most this many notifications (each channel counts as one) a minute, with a burst;
    /// more are held and folded into one summary, never dropped.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// At most this many deliveries at once to each host this receiver's channels send to
    /// (default `[notify] per_host_connections`).
    #[serde(default)]
    pub max_connections: Option<usize>,
}

/// `rate_limit = { per_minute = 10, burst = 20 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub per_minute: f64,
    /// Notifications that may go at once after a quiet time (default: `per_minute`).
    #[serde(default)]
    pub burst: Option<f64>,
}

/// A compiled receiver.
#[derive(Debug)]
pub struct Receiver {
    pub name: String,
    pub channels: Vec<Channel>,
    pub rate_limit: Option<crate::limit::RateLimit>,
    /// Deliveries at once to one host, when the receiver sets its own limit.
    pub max_connections: Option<usize>,
}

/// Receivers, routes and templates, ready to use.
#[derive(Debug)]
pub struct Notifier {
    pub route: Option<Route>,
    pub receivers: HashMap<String, Receiver>,
    pub templates: Templates,
    /// Grouping for receivers an alert names directly: the root route's.
    direct: Option<(Arc<GroupBy>, Timing)>,
    /// Receivers made while the server runs (the contacts of users that escalation policies
    /// made through the API page), each in a notifier of its own with its templates; found
    /// after [`Notifier::receivers`]. Empty in a notifier that is one of them.
    paged: std::sync::RwLock<HashMap<String, Arc<Notifier>>>,
}

/// The notifier that holds a receiver: the configuration's, or one made while the server runs
/// ([`Notifier::set_paged`]). Render with its templates.
pub enum Holder<'a> {
    Own(&'a Notifier),
    Paged(Arc<Notifier>),
}

impl std::ops::Deref for Holder<'_> {
    type Target = Notifier;

    fn deref(&self) -> &Notifier {
        match self {
            Holder::Own(n) => n,
            Holder::Paged(n) => n,
        }
    }
}

impl Notifier {
    /// Whether any notification can be sent at all.
    pub fn enabled(&self) -> bool {
        self.route.is_some() || !self.receivers.is_empty()
    }

    /// Where an alert goes: the receivers its rule names directly (those that exist), then the
    /// routing tree. When the alert names a receiver, the root route's own receiver (the
    /// catch-all for alerts no route took) is skipped; routes that match still apply.
    /// A receiver reached twice is kept once (the first target).
    pub fn targets(&self, a: &AlertView) -> Vec<Target> {
        self.targets_of(&a.labels, &a.receivers)
    }

    /// [`Notifier::targets`] of an alert with these labels (as [`AlertView::labels`] has them)
    /// whose rule names these receivers.
    pub fn targets_of(
        &self,
        labels: &std::collections::BTreeMap<String, String>,
        receivers: &[String],
    ) -> Vec<Target> {
        let mut out: Vec<Target> = Vec::new();
        if let Some((group_by, timing)) = &self.direct {
            for r in receivers {
                if self.receivers.contains_key(r) && !out.iter().any(|t| &*t.receiver == r.as_str())
                {
                    out.push(Target {
                        route: Arc::from("direct"),
                        receiver: Arc::from(r.as_str()),
                        group_by: Arc::clone(group_by),
                        timing: *timing,
                        escalation_policy: None,
                        time_mute: crate::route::TimeMute::default(),
                    });
                }
            }
        }
        let named = !out.is_empty();
        if let Some(root) = &self.route {
            for t in root.targets(labels) {
                if named && Arc::ptr_eq(&t.route, &root.target.route) {
                    continue;
                }
                if !out.iter().any(|o| o.receiver == t.receiver) {
                    out.push(t.clone());
                }
            }
        }
        out
    }

    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.get(name)
    }

    /// The notifier that holds receiver `name`: this one when the configuration declares it,
    /// else the one made for it while the server runs, if any.
    pub fn holder(&self, name: &str) -> Option<Holder<'_>> {
        if self.receivers.contains_key(name) {
            return Some(Holder::Own(self));
        }
        let paged = self
            .paged
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        paged.get(name).map(|n| Holder::Paged(Arc::clone(n)))
    }

    /// Replaces the receivers made while the server runs: each name (one the configuration
    /// does not declare) with the notifier that holds it.
    pub fn set_paged(&self, receivers: HashMap<String, Arc<Notifier>>) {
        *self
            .paged
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = receivers;
    }

    /// The receivers made while the server runs, by name.
    pub fn paged(&self) -> HashMap<String, Arc<Notifier>> {
        self.paged
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Compiles receivers and the route; every error, each with its key.
pub fn compile(
    receivers: &[ReceiverConfig],
    route: Option<&RouteConfig>,
    smtp: &SmtpDefaults,
    intervals: &crate::route::TimeIntervals,
) -> Result<Notifier, Vec<String>> {
    let mut errors = Vec::new();
    let mut templates = Templates::new();
    let mut compiled = HashMap::new();
    for (i, r) in receivers.iter().enumerate() {
        let at = format!("receivers[{i}]");
        if r.name.trim().is_empty() {
            errors.push(format!("{at}.name: must not be empty"));
        }
        if compiled.contains_key(&r.name) {
            errors.push(format!("{at}.name: `{}` is defined twice", r.name));
        }
        let mut channels = Vec::new();
        let mut push = |common: &Common, ack_default: bool, key: String, spec: Option<Spec>| {
            let (send_resolved, send_acknowledged, timeout) = settings(common, ack_default);
            if let Some(spec) = spec {
                channels.push(Channel {
                    index: channels.len(),
                    key,
                    spec,
                    send_resolved,
                    send_acknowledged,
                    timeout,
                });
            }
        };
        for (j, c) in r.webhook_configs.iter().enumerate() {
            let key = format!("{at}.webhook_configs[{j}]");
            let w = Webhook::compile(c, &key, &mut templates, &mut errors);
            let ack_default = !w.default_body();
            push(&c.common(), ack_default, key, Some(Spec::Webhook(w)));
        }
        for (j, c) in r.slack_configs.iter().enumerate() {
            let key = format!("{at}.slack_configs[{j}]");
            let s = Slack::compile(c, &key, &mut templates, &mut errors).map(Spec::Slack);
            push(&c.common(), true, key, s);
        }
        for (j, c) in r.email_configs.iter().enumerate() {
            let key = format!("{at}.email_configs[{j}]");
            let (_, _, timeout) = settings(&c.common(), true);
            let e = Email::compile(c, smtp, timeout, &key, &mut templates, &mut errors)
                .map(|e| Spec::Email(Box::new(e)));
            push(&c.common(), true, key, e);
        }
        for (j, c) in r.pagerduty_configs.iter().enumerate() {
            let key = format!("{at}.pagerduty_configs[{j}]");
            let p = PagerDuty::compile(c, &key, &mut templates, &mut errors).map(Spec::PagerDuty);
            push(&c.common(), true, key, p);
        }
        for (j, c) in r.websocket_configs.iter().enumerate() {
            push(
                c,
                true,
                format!("{at}.websocket_configs[{j}]"),
                Some(Spec::WebSocket),
            );
        }
        let rate_limit = r.rate_limit.as_ref().and_then(|l| {
            let burst = l.burst.unwrap_or(l.per_minute.max(1.0));
            if !(l.per_minute.is_finite() && l.per_minute > 0.0) {
                errors.push(format!(
                    "{at}.rate_limit.per_minute: must be a number above 0"
                ));
                return None;
            }
            if !(burst.is_finite() && burst >= 1.0) {
                errors.push(format!("{at}.rate_limit.burst: must be at least 1"));
                return None;
            }
            Some(crate::limit::RateLimit {
                per_minute: l.per_minute,
                burst,
            })
        });
        if r.max_connections == Some(0) {
            errors.push(format!("{at}.max_connections: must be at least 1"));
        }
        compiled.insert(
            r.name.clone(),
            Receiver {
                name: r.name.clone(),
                channels,
                rate_limit,
                max_connections: r.max_connections,
            },
        );
    }
    let names: Vec<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
    let route = match route {
        Some(c) => match Route::compile_with(c, &names, intervals) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let direct = match &route {
        Some(r) => Some((Arc::clone(&r.target.group_by), r.target.timing)),
        None => Some((
            Arc::new(GroupBy::Labels(vec!["alertname".to_owned()])),
            Timing::default(),
        )),
    };
    Ok(Notifier {
        route,
        receivers: compiled,
        templates,
        direct,
        paged: std::sync::RwLock::default(),
    })
}

/// `[notify]`: the outbox and its workers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// Deliveries in flight at once, over every channel.
    pub workers: usize,
    /// The first retry waits up to this (full jitter), doubling per attempt...
    pub retry_initial: Millis,
    /// ...up to this.
    pub retry_max: Millis,
    /// A notification not delivered this long after it was made is dead-lettered.
    pub max_age: Millis,
    /// A claimed notification whose worker vanished is claimable again after this.
    pub lease: Millis,
    /// Delivered, failed and dead notifications are deleted after this (0 keeps them).
    pub retention_hours: u64,
    /// The base URL of links back to klaxon in notifications.
    pub external_url: Option<String>,
    /// This node's name in claims (several nodes may share a PostgreSQL store).
    pub node: String,
    /// Networks notifications may not connect to (CIDR or single addresses).
    pub deny_networks: Vec<String>,
    /// Networks notifications may connect to even when `deny_networks` or the rule against
    /// klaxon's own address says no.
    pub allow_networks: Vec<String>,
    /// Follow HTTP redirects (each hop checked like the first).
    pub follow_redirects: bool,
    /// The most one template render may write, and the largest string or list it may build.
    pub template_max_bytes: usize,
    /// Deliveries at once to one host (a receiver's `max_connections` overrides it).
    pub per_host_connections: usize,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            workers: 64,
            retry_initial: Millis(1_000),
            retry_max: Millis(300_000),
            max_age: Millis(24 * 3_600_000),
            lease: Millis(300_000),
            retention_hours: 24 * 7,
            external_url: None,
            node: "local".to_owned(),
            deny_networks: crate::outbound::DEFAULT_DENY
                .iter()
                .map(|n| (*n).to_owned())
                .collect(),
            allow_networks: Vec::new(),
            follow_redirects: false,
            template_max_bytes: crate::template::DEFAULT_MAX_BYTES,
            per_host_connections: 4,
        }
    }
}

impl NotifySettings {
    /// Every error of the settings.
    pub fn validate(&self, errors: &mut Vec<String>) {
        if self.workers == 0 {
            errors.push("notify.workers: must be at least 1".to_owned());
        }
        if self.retry_initial.0 <= 0 || self.retry_max < self.retry_initial {
            errors.push(
                "notify.retry_initial: must be more than 0 and at most notify.retry_max".to_owned(),
            );
        }
        if self.max_age.0 <= 0 {
            errors.push("notify.max_age: must be more than 0".to_owned());
        }
        if self.lease.0 < 10_000 {
            errors.push("notify.lease: must be at least 10s".to_owned());
        }
        if self.node.trim().is_empty() {
            errors.push("notify.node: must not be empty".to_owned());
        }
        if self.template_max_bytes < 1024 {
            errors.push("notify.template_max_bytes: must be at least 1024".to_owned());
        }
        if self.per_host_connections == 0 {
            errors.push("notify.per_host_connections: must be at least 1".to_owned());
        }
        self.outbound(errors);
    }

    /// The outbound policy these settings describe; errors name the key and position.
    pub fn outbound(&self, errors: &mut Vec<String>) -> crate::outbound::Policy {
        use crate::outbound::Policy;
        let deny = Policy::networks(&self.deny_networks, "notify.deny_networks", errors);
        let allow = Policy::networks(&self.allow_networks, "notify.allow_networks", errors);
        Policy::new(deny, allow, self.follow_redirects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(toml_text: &str) -> Vec<String> {
        #[derive(Deserialize)]
        struct Doc {
            receivers: Vec<ReceiverConfig>,
        }
        let doc: Doc = toml::from_str(toml_text).expect("toml");
        compile(
            &doc.receivers,
            None,
            &SmtpDefaults::default(),
            &Default::default(),
        )
        .err()
        .unwrap_or_default()
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_named_with_its_key() {
        let dir = std::env::temp_dir().join(format!("klaxon-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "just text\n").expect("write");
        let doc = |path: &str| {
            format!(
                "[[receivers]]\nname = \"mail\"\n[[receivers.email_configs]]\nto = [\"a@example.test\"]\n\
                 from = \"k@example.test\"\nsmarthost = \"127.0.0.1:25\"\nca_file = {path:?}\n"
            )
        };
        let missing = errors_of(&doc("/nonexistent/ca.pem"));
        assert!(
            missing.iter().any(|e| e.starts_with(
                "receivers[0].email_configs[0].ca_file: cannot read /nonexistent/ca.pem"
            )),
            "{missing:?}"
        );
        let bad = errors_of(&doc(&not_pem.display().to_string()));
        assert!(
            bad.iter()
                .any(|e| e.contains("ca_file:") && e.contains("holds no PEM certificate")),
            "{bad:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
