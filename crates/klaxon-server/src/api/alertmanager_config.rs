//! klaxon's notification configuration as Alertmanager's `alertmanager.yml`, for
//! `GET /api/v2/status` (`config.original`): `global`, the routing tree, the inhibition rules
//! and the receivers, and the named time intervals routes mute by, in Alertmanager's keys, so `amtool config routes` and other readers of
//! that field understand it. Secrets are written as Alertmanager writes them, `<secret>`; what
//! Alertmanager has no key for (templates in klaxon's template language, WebSocket channels,
//! rate limits, maintenance windows, a route-scoped inhibition's route) is left out.
//! Pure: a function of the configuration.

use klaxon_notify::channel::email::EmailConfig;
use klaxon_notify::{ReceiverConfig, RouteConfig};
use serde_json::{json, Map, Value};

use crate::config::Config;

/// Alertmanager's rendering of a secret.
const SECRET: &str = "<secret>";

/// The configuration as Alertmanager YAML; `fallback` is the receiver of alerts no route
/// takes, the root route's when the configuration has no routing tree.
pub(crate) fn original(c: &Config, fallback: &str) -> String {
    let mut out = String::new();
    yaml(&document(c, fallback), 0, &mut out);
    out
}

/// The configuration as the JSON value of Alertmanager's configuration document.
fn document(c: &Config, fallback: &str) -> Value {
    let mut global = Map::new();
    global.insert(
        "resolve_timeout".into(),
        json!(duration(
            i64::try_from(c.lifecycle.resolve_timeout_seconds.saturating_mul(1000))
                .unwrap_or(i64::MAX)
        )),
    );
    let smtp = &c.smtp;
    for (k, v) in [
        ("smtp_from", &smtp.from),
        ("smtp_smarthost", &smtp.smarthost),
        ("smtp_hello", &smtp.hello),
        ("smtp_auth_username", &smtp.username),
    ] {
        if let Some(v) = v {
            global.insert(k.into(), json!(v));
        }
    }
    if smtp.password.is_some() {
        global.insert("smtp_auth_password".into(), json!(SECRET));
    }
    if let Some(t) = &smtp.tls {
        global.insert("smtp_require_tls".into(), json!(t != "none"));
    }
    let route = match &c.route {
        Some(r) => route(r),
        None => json!({"receiver": fallback}),
    };
    let mut receivers: Vec<Value> = c.receivers.iter().map(receiver).collect();
    if c.route.is_none() && !c.receivers.iter().any(|r| r.name == fallback) {
        receivers.insert(0, json!({"name": fallback}));
    }
    let inhibit: Vec<Value> = c
        .inhibit
        .iter()
        .map(|i| {
            let mut m = Map::new();
            m.insert("source_matchers".into(), json!(i.source_matchers));
            m.insert("target_matchers".into(), json!(i.target_matchers));
            if !i.equal.is_empty() {
                m.insert("equal".into(), json!(i.equal));
            }
            Value::Object(m)
        })
        .collect();
    let mut doc = json!({
        "global": global,
        "route": route,
        "inhibit_rules": inhibit,
        "receivers": receivers,
        "templates": [],
    });
    if !c.time_intervals.is_empty() {
        doc["time_intervals"] = c.time_intervals.iter().map(time_intervals).collect();
    }
    doc
}

/// A `[[time_intervals]]` entry in Alertmanager's keys, which are klaxon's.
fn time_intervals(t: &crate::config::TimeIntervalsConfig) -> Value {
    let specs: Vec<Value> = t
        .time_intervals
        .iter()
        .map(|s| {
            let mut m = Map::new();
            if let Some(times) = &s.times {
                let list: Vec<Value> = times
                    .iter()
                    .map(|r| json!({"start_time": r.start_time, "end_time": r.end_time}))
                    .collect();
                m.insert("times".into(), json!(list));
            }
            for (k, v) in [
                ("weekdays", &s.weekdays),
                ("days_of_month", &s.days_of_month),
                ("months", &s.months),
                ("years", &s.years),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(v));
                }
            }
            if let Some(l) = &s.location {
                m.insert("location".into(), json!(l));
            }
            Value::Object(m)
        })
        .collect();
    json!({"name": t.name, "time_intervals": specs})
}

fn route(r: &RouteConfig) -> Value {
    let mut m = Map::new();
    if let Some(x) = &r.receiver {
        m.insert("receiver".into(), json!(x));
    }
    if let Some(g) = &r.group_by {
        m.insert("group_by".into(), json!(g));
    }
    if !r.matchers.is_empty() {
        m.insert("matchers".into(), json!(r.matchers));
    }
    if r.continue_matching {
        m.insert("continue".into(), json!(true));
    }
    for (k, v) in [
        ("mute_time_intervals", &r.mute_time_intervals),
        ("active_time_intervals", &r.active_time_intervals),
    ] {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    }
    for (k, v) in [
        ("group_wait", r.group_wait),
        ("group_interval", r.group_interval),
        ("repeat_interval", r.repeat_interval),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(duration(v.0)));
        }
    }
    if !r.routes.is_empty() {
        m.insert("routes".into(), r.routes.iter().map(route).collect());
    }
    Value::Object(m)
}

fn receiver(r: &ReceiverConfig) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(r.name));
    let resolved = |v: Option<bool>| json!(v.unwrap_or(true));
    if !r.webhook_configs.is_empty() {
        let list: Vec<Value> = r
            .webhook_configs
            .iter()
            .map(|w| {
                json!({
                    "send_resolved": resolved(w.send_resolved),
                    "url": redacted_url(&w.url.0),
                    "max_alerts": w.max_alerts,
                })
            })
            .collect();
        m.insert("webhook_configs".into(), json!(list));
    }
    if !r.slack_configs.is_empty() {
        let list: Vec<Value> = r
            .slack_configs
            .iter()
            .map(|s| {
                let mut c = Map::new();
                c.insert("send_resolved".into(), resolved(s.send_resolved));
                c.insert("api_url".into(), json!(SECRET));
                for (k, v) in [
                    ("channel", &s.channel),
                    ("username", &s.username),
                    ("icon_emoji", &s.icon_emoji),
                ] {
                    if let Some(v) = v {
                        c.insert(k.into(), json!(v));
                    }
                }
                Value::Object(c)
            })
            .collect();
        m.insert("slack_configs".into(), json!(list));
    }
    if !r.email_configs.is_empty() {
        let list: Vec<Value> = r.email_configs.iter().map(email).collect();
        m.insert("email_configs".into(), json!(list));
    }
    if !r.pagerduty_configs.is_empty() {
        let list: Vec<Value> = r
            .pagerduty_configs
            .iter()
            .map(|p| {
                let mut c = Map::new();
                c.insert("send_resolved".into(), resolved(p.send_resolved));
                c.insert("routing_key".into(), json!(SECRET));
                for (k, v) in [
                    ("url", &p.url),
                    ("severity", &p.severity),
                    ("component", &p.component),
                    ("group", &p.group),
                    ("class", &p.class),
                ] {
                    if let Some(v) = v {
                        c.insert(k.into(), json!(v));
                    }
                }
                Value::Object(c)
            })
            .collect();
        m.insert("pagerduty_configs".into(), json!(list));
    }
    Value::Object(m)
}

fn email(e: &EmailConfig) -> Value {
    let mut c = Map::new();
    c.insert(
        "send_resolved".into(),
        json!(e.send_resolved.unwrap_or(true)),
    );
    c.insert("to".into(), json!(e.to.join(", ")));
    for (k, v) in [
        ("from", &e.from),
        ("smarthost", &e.smarthost),
        ("hello", &e.hello),
        ("auth_username", &e.username),
    ] {
        if let Some(v) = v {
            c.insert(k.into(), json!(v));
        }
    }
    if e.password.is_some() {
        c.insert("auth_password".into(), json!(SECRET));
    }
    if let Some(t) = &e.tls {
        c.insert("require_tls".into(), json!(t != "none"));
    }
    Value::Object(c)
}

/// A webhook URL with only its scheme and host shown: its path and query may carry a token.
/// Alertmanager 0.25 and older parse this field as a URL, so `<secret>` alone would not load.
fn redacted_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default();
    format!("{scheme}://{host}/{SECRET}")
}

/// Milliseconds in Prometheus's duration syntax (`1h30m`, `500ms`, `0s`).
pub(crate) fn duration(ms: i64) -> String {
    klaxon_engine::duration::format_ms(ms)
}

/// `v` as block-style YAML; strings are double-quoted (JSON's escapes are YAML's too).
fn yaml(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push_str(&pad);
                out.push_str(&scalar(&Value::String(k.clone())));
                out.push(':');
                block(x, indent, out);
            }
        }
        Value::Array(items) => {
            for x in items {
                out.push_str(&pad);
                out.push('-');
                match x {
                    Value::Object(m) if !m.is_empty() => {
                        // The first key on the dash's line, the others under it.
                        let mut first = String::new();
                        yaml(x, indent + 2, &mut first);
                        out.push(' ');
                        out.push_str(first.trim_start());
                    }
                    _ => block(x, indent, out),
                }
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

/// What follows `key:` or `-`: an inline scalar or empty collection, else a nested block.
fn block(x: &Value, indent: usize, out: &mut String) {
    match x {
        Value::Object(m) if m.is_empty() => out.push_str(" {}\n"),
        Value::Array(a) if a.is_empty() => out.push_str(" []\n"),
        Value::Object(_) => {
            out.push('\n');
            yaml(x, indent + 2, out);
        }
        // A list under a key starts at the key's column, as Alertmanager's own files do.
        Value::Array(_) => {
            out.push('\n');
            yaml(x, indent, out);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if is_plain(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether a string can stand unquoted in YAML and still read back as that string.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_prometheus_durations() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(30_000), "30s");
        assert_eq!(duration(5_400_000), "1h30m");
        assert_eq!(duration(4 * 3_600_000), "4h");
        assert_eq!(duration(1_500), "1s500ms");
    }

    #[test]
    fn yaml_nests_lists_of_maps_and_quotes_what_needs_it() {
        let v = json!({
            "route": {"receiver": "team-a", "group_by": ["alertname"], "routes": [
                {"matchers": ["severity=\"critical\""], "receiver": "pager", "continue": true}
            ]},
            "receivers": [{"name": "team-a"}, {"name": "yes"}],
            "templates": [],
        });
        let mut out = String::new();
        yaml(&v, 0, &mut out);
        let want = "receivers:\n- name: team-a\n- name: \"yes\"\nroute:\n  group_by:\n  - alertname\n  \
                    receiver: team-a\n  routes:\n  - continue: true\n    matchers:\n    - \"severity=\\\"critical\\\"\"\n    \
                    receiver: pager\ntemplates: []\n";
        assert_eq!(out, want);
    }

    #[test]
    fn webhook_urls_keep_their_host_only() {
        assert_eq!(
            redacted_url("https://user:pw@hooks.example.com:8443/t/abc?k=1"),
            "https://hooks.example.com:8443/<secret>"
        );
    }
}
