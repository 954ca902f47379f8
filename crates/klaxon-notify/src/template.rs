//! Templates: minijinja, sandboxed. No loader is set, so a template cannot include or import
//! anything, and nothing reaches the filesystem, the environment or the process; a fuel limit
//! bounds the work one render may do, and a size limit (default 1 MiB, `[notify]
//! template_max_bytes`) bounds what it writes and every string or list it builds on the way
//! (see `sandbox`). Escaping follows the template's kind: HTML templates escape HTML, JSON
//! bodies serialise every value as JSON, Slack text escapes `&`, `<` and `>` (so a label cannot
//! mention `@channel`), plain text escapes nothing.
//!
//! Every channel ships its defaults ([`defaults`]); a receiver's channel config may override
//! each one. Templates are compiled when the configuration is loaded; an error names the key.

mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use klaxon_engine::timestamp::format_ts;
use minijinja::machinery::{make_string_output, CompiledTemplate, TemplateConfig, Vm};
use minijinja::{AutoEscape, Environment, Value};
use serde_json::json;

pub use sandbox::DEFAULT_MAX_BYTES;

use crate::notification::{Kind, Notification};

/// How a template's output is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Text,
    Html,
    Json,
    Slack,
}

impl Escape {
    fn ext(self) -> &'static str {
        match self {
            Escape::Text => "txt",
            Escape::Html => "html",
            Escape::Json => "json",
            Escape::Slack => "slack",
        }
    }
}

/// Instructions one render may run.
const FUEL: u64 = 2_000_000;

/// The auto-escaping of a template, from the extension its name carries.
fn auto_escape(name: &str) -> AutoEscape {
    match name.rsplit('.').next() {
        Some("html") => AutoEscape::Html,
        Some("json") => AutoEscape::Json,
        Some("slack") => AutoEscape::Custom("slack"),
        _ => AutoEscape::None,
    }
}

/// The compiled templates of every channel.
pub struct Templates {
    env: Environment<'static>,
    /// Each template's instructions, rewritten with the size checks. Their names and sources
    /// live as long as the process: templates are compiled once per configuration load.
    compiled: HashMap<String, CompiledTemplate<'static>>,
    max_bytes: usize,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

/// A handle on one compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateId(String);

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(auto_escape);
        env.set_formatter(|out, state, value| {
            sandbox::admit(value)?;
            if state.auto_escape() == AutoEscape::Custom("slack") && !value.is_safe() {
                let s = match value.as_str() {
                    Some(s) => s.to_owned(),
                    None if value.is_undefined() || value.is_none() => String::new(),
                    None => value.to_string(),
                };
                out.write_str(&escape_slack(&s)).map_err(|e| {
                    minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
                })
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        sandbox::install(&mut env);
        Templates {
            env,
            compiled: HashMap::new(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// Sets the limit of one render's output and of every value it builds, in bytes.
    pub fn set_max_bytes(&mut self, max_bytes: usize) {
        self.max_bytes = max_bytes;
    }

    /// Compiles `source` under `key` (the config key it came from). The error names the key
    /// and the line.
    pub fn add(&mut self, key: &str, source: &str, escape: Escape) -> Result<TemplateId, String> {
        let name = format!("{key}.{}", escape.ext());
        let leaked_name: &'static str = Box::leak(name.clone().into_boxed_str());
        let leaked_source: &'static str = Box::leak(source.to_owned().into_boxed_str());
        // `SyntaxConfig` is a unit struct only while minijinja's `custom_syntax` is off.
        #[allow(clippy::default_constructed_unit_structs)]
        let config = TemplateConfig {
            syntax_config: minijinja::syntax::SyntaxConfig::default(),
            ws_config: minijinja::machinery::WhitespaceConfig::default(),
            default_auto_escape: Arc::new(auto_escape),
        };
        let mut c = CompiledTemplate::new(leaked_name, leaked_source, &config)
            .map_err(|e| describe(key, &e))?;
        c.instructions = sandbox::rewrite(&c.instructions);
        for block in c.blocks.values_mut() {
            *block = sandbox::rewrite(block);
        }
        self.compiled.insert(name.clone(), c);
        Ok(TemplateId(name))
    }

    /// Renders a template; an error (undefined filter, fuel exhausted, output or a value over
    /// the size limit) names it.
    pub fn render(&self, id: &TemplateId, ctx: &Value) -> Result<String, String> {
        let key = id.0.rsplit_once('.').map_or(id.0.as_str(), |(k, _)| k);
        let c = self
            .compiled
            .get(&id.0)
            .ok_or_else(|| format!("template {}: not compiled", id.0))?;
        let _limit = sandbox::Render::start(self.max_bytes);
        let mut text = String::new();
        Vm::new(&self.env)
            .eval(
                &c.instructions,
                ctx.clone(),
                &c.blocks,
                &mut make_string_output(&mut text),
                c.initial_auto_escape,
            )
            .map_err(|e| describe(key, &e))?;
        // Escaping may have grown what the formatter admitted: the limit holds exactly here.
        if text.len() > self.max_bytes {
            return Err(format!(
                "{key}: template error: {}",
                sandbox::output_too_large(self.max_bytes)
            ));
        }
        Ok(text)
    }
}

fn describe(key: &str, e: &minijinja::Error) -> String {
    let detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), |d| format!("{}: {d}", e.kind()));
    match e.line() {
        Some(line) => format!("{key}: template error at line {line}: {detail}"),
        None => format!("{key}: template error: {detail}"),
    }
}

/// Slack's escaping for mrkdwn text: `&`, `<` and `>`.
pub fn escape_slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The link back to an alert: its page on the dashboard (`/#/alerts/{id}`), which a browser
/// can open (the API's `/alerts/{id}` wants a token) and which still shows the alert after
/// the person who opened it signed in.
pub fn alert_url(external_url: &str, id: i64) -> String {
    format!("{}/#/alerts/{id}", external_url.trim_end_matches('/'))
}

/// The link to an incident's page on the dashboard.
pub fn incident_url(external_url: &str, id: i64) -> String {
    format!("{}/#/incidents/{id}", external_url.trim_end_matches('/'))
}

/// The link to the dashboard's table of open alerts.
pub fn alerts_url(external_url: &str) -> String {
    format!("{}/#/alerts", external_url.trim_end_matches('/'))
}

/// Alertmanager's status of a notification: `resolved` only for the resolved kind.
pub fn am_status(kind: Kind) -> &'static str {
    match kind {
        Kind::Resolved => "resolved",
        _ => "firing",
    }
}

/// What every template sees: the notification, its alerts with RFC 3339 times and links, and
/// the labels and annotations the alerts share.
pub fn context(n: &Notification, external_url: &str) -> serde_json::Value {
    let alerts: Vec<serde_json::Value> = n
        .alerts
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "state": a.state,
                "severity": a.severity,
                "summary": a.summary,
                "labels": a.labels,
                "annotations": a.annotations,
                "fingerprint": a.fingerprint,
                "starts_at": format_ts(a.starts_at),
                "ends_at": a.ends_at.map(format_ts),
                "acknowledged_at": a.acknowledged_at.map(format_ts),
                "acknowledged_by": a.acknowledged_by,
                "resolved_by": a.resolved_by,
                "generator_url": a.generator_url,
                "occurrences": a.occurrences,
                "url": alert_url(external_url, a.id),
                "incident": a.incident,
            })
        })
        .collect();
    json!({
        "kind": n.kind.as_str(),
        "status": am_status(n.kind),
        "receiver": n.receiver,
        "group_key": n.group_key,
        "group_labels": n.group_labels,
        "common_labels": n.common_labels(),
        "common_annotations": n.common_annotations(),
        "external_url": external_url,
        "alerts": alerts,
        "at": format_ts(n.at),
        "folded": n.folded,
        "notice": n.notice,
        "incident": n.incident(),
        "incident_url": n.incident().map(|i| incident_url(external_url, i)),
    })
}

/// The templates klaxon ships, by name; a channel config overrides each by the same key.
pub mod defaults {
    /// `[FIRING:2] DiskFull` / `[ACKNOWLEDGED] ...` / `[RESOLVED] ...`; a notice or a page
    /// (`[ESCALATED] DiskFull: level 2 of ...`) is its one sentence.
    pub const TITLE: &str = "{% if notice %}[{{ kind|upper }}] {{ notice }}{% else %}[{{ kind|upper }}{% if kind == 'firing' %}:{{ alerts|length }}{% endif %}] \
{% if group_labels.incident %}incident {{ group_labels.incident }}: {% endif %}\
{{ common_labels.alertname or (alerts[0].name if alerts else 'alerts') }}\
{% if alerts|length == 1 and alerts[0].summary and alerts[0].summary != alerts[0].name %}: {{ alerts[0].summary }}{% endif %}\
{% if folded %} (and {{ folded }} more, held by the rate limit){% endif %}{% endif %}";

    /// Slack mrkdwn: one line per alert.
    pub const SLACK_TEXT: &str = "{% if notice %}*Notice:* {{ notice }}\n{% endif %}{% if folded %}_{{ folded + 1 }} notifications folded into one by the rate limit: {{ alerts|length }} alert(s)_\n{% endif %}{% for a in alerts %}*{{ a.severity|upper }}* <{{ a.url }}|{{ a.name }}> {{ a.summary }}\
{% if kind == 'acknowledged' and a.acknowledged_by %} (acknowledged by {{ a.acknowledged_by }}){% endif %}\
{% if kind == 'resolved' and a.resolved_by %} (resolved by {{ a.resolved_by }}){% endif %}\n{% endfor %}";

    /// Plain text e-mail body.
    pub const EMAIL_TEXT: &str = "{% if notice %}NOTICE: {{ notice }}\n\n{% endif %}{{ kind|upper }}: {{ alerts|length }} alert(s) for {{ receiver }}\
{% if folded %} (and {{ folded }} more notifications, held by the rate limit){% endif %}\n\n\
{% for a in alerts %}- [{{ a.severity|upper }}] {{ a.name }}: {{ a.summary }}\n  state: {{ a.state }}, since {{ a.starts_at }}\
{% if a.ends_at %}, resolved {{ a.ends_at }}{% endif %}\
{% if a.acknowledged_by %}, acknowledged by {{ a.acknowledged_by }}{% endif %}\n\
{% for k, v in a.labels|items %}  {{ k }} = {{ v }}\n{% endfor %}  {{ a.url }}\n\n{% endfor %}";

    /// HTML e-mail body (auto-escaped).
    pub const EMAIL_HTML: &str = "<!doctype html><html><body style=\"font-family:sans-serif\">\
{% if notice %}<p><b>Notice:</b> {{ notice }}</p>{% endif %}\
<h2>{{ kind|upper }}: {{ alerts|length }} alert(s) for {{ receiver }}</h2>\
{% for a in alerts %}<div style=\"margin:12px 0;padding:8px;border-left:4px solid \
{% if kind == 'resolved' %}#2eb886{% elif kind == 'acknowledged' %}#6f42c1{% else %}#d93f0b{% endif %}\">\
<p><b>[{{ a.severity|upper }}] <a href=\"{{ a.url }}\">{{ a.name }}</a></b>: {{ a.summary }}</p>\
<p>state: {{ a.state }}, since {{ a.starts_at }}{% if a.ends_at %}, resolved {{ a.ends_at }}{% endif %}\
{% if a.acknowledged_by %}, acknowledged by {{ a.acknowledged_by }}{% endif %}</p>\
<table>{% for k, v in a.labels|items %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>\
</div>{% endfor %}</body></html>";

    /// PagerDuty's summary of one alert (the template sees the notification with that alert);
    /// a page's is its notice (`DiskFull: level 2 of escalation policy ... pages user:bob: ...`).
    pub const PAGERDUTY_SUMMARY: &str =
        "{% if notice %}{{ notice }}{% else %}{{ alerts[0].name }}: {{ alerts[0].summary }}{% endif %}";

    /// PagerDuty's source: where it happened.
    pub const PAGERDUTY_SOURCE: &str = "{{ alerts[0].labels.instance or alerts[0].labels.host or alerts[0].labels.process_name or alerts[0].labels.scope or 'klaxon' }}";
}

/// Values of a context as minijinja sees them.
pub fn value(ctx: &serde_json::Value) -> Value {
    Value::from_serialize(ctx)
}

/// The labels of a map as `k=v` pairs, sorted, for subjects and fallbacks.
pub fn pairs(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use super::*;

    fn render(src: &str, escape: Escape, ctx: serde_json::Value) -> Result<String, String> {
        let mut t = Templates::new();
        let id = t.add("receivers[0].x", src, escape)?;
        t.render(&id, &value(&ctx))
    }

    #[test]
    fn escaping_follows_the_kind() {
        let ctx = json!({"v": "<b>&\"x\"</b>"});
        assert_eq!(
            render("{{ v }}", Escape::Html, ctx.clone()).unwrap(),
            "&lt;b&gt;&amp;&quot;x&quot;&lt;&#x2f;b&gt;"
        );
        assert_eq!(
            render("{{ v }}", Escape::Slack, ctx.clone()).unwrap(),
            "&lt;b&gt;&amp;\"x\"&lt;/b&gt;"
        );
        assert_eq!(
            render("{\"t\": {{ v }}}", Escape::Json, ctx.clone()).unwrap(),
            "{\"t\": \"<b>&\\\"x\\\"</b>\"}"
        );
        assert_eq!(
            render("{{ v }}", Escape::Text, ctx).unwrap(),
            "<b>&\"x\"</b>"
        );
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let e = render("ok\n{% for x in %}", Escape::Text, json!({})).unwrap_err();
        assert!(
            e.starts_with("receivers[0].x: template error at line 2:"),
            "{e}"
        );
    }

    /// Resident memory of this process, from /proc (Linux); 0 elsewhere.
    fn rss_bytes() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or(0, |kb| kb * 1024)
    }

    #[test]
    fn templates_that_would_build_gigabytes_fail_fast_naming_the_limit() {
        let cases = [
            // A 100 MB string doubled three times: 2.5 GB before the limit.
            r#"{% set s = "x" * 100000000 %}{% set s = s ~ s %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s|length }}"#,
            // A loop writing 1 GB.
            r#"{% for i in range(100000) %}{{ "x" * 10000 }}{% endfor %}"#,
            // Literal text in a loop, 1 GB.
            &format!("{{% for i in range(100000) %}}{}{{% endfor %}}", "y".repeat(10_000)),
            // Output captured into a variable instead of written.
            &format!(
                "{{% set big %}}{{% for i in range(100000) %}}{}{{% endfor %}}{{% endset %}}{{{{ big|length }}}}",
                "z".repeat(10_000)
            ),
            // A list grown in a namespace across a loop.
            r#"{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + ["x" * 10000] %}{% endfor %}{{ ns.l|length }}"#,
            // Filters that multiply what they are given.
            r#"{{ ("x" * 2000)|replace("x", "y" * 1000)|length }}"#,
            r#"{{ ["x" * 1000] * 100000 }}"#,
            r#"{{ ("x\n" * 1000)|indent(1000000)|length }}"#,
            r#"{{ "%1000000000s"|format("x")|length }}"#,
            r#"{{ (["y" * 100000] * 20)|join("x")|length }}"#,
        ];
        for src in cases {
            let before = rss_bytes();
            let t0 = std::time::Instant::now();
            let e = render(src, Escape::Text, json!({})).unwrap_err();
            let grew = rss_bytes().saturating_sub(before);
            let shown: String = src.chars().take(80).collect();
            assert!(
                e.contains("limit of 1048576 bytes ([notify] template_max_bytes)")
                    || e.contains("more than 100000 items"),
                "{shown}: {e}"
            );
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(10),
                "{shown}: {:?}",
                t0.elapsed()
            );
            assert!(
                grew < 256 << 20,
                "{shown}: resident memory grew {grew} bytes"
            );
        }
    }

    #[test]
    fn the_limit_is_a_setting_and_ordinary_templates_still_work() {
        let mut t = Templates::new();
        let ctx = value(&json!({"xs": [1, 2, 3], "s": "a\nb", "n": null}));
        for (src, want) in [
            ("{{ 2 * 3 }} {{ 1 + 2 }} {{ 7 - 2 }} {{ 'ab' * 2 }} {{ 'a' ~ 1 ~ 'b' }}", "6 3 5 abab a1b"),
            ("{{ ([1] + [2])|join(',') }} {{ xs|join('-') }} {{ ([0] * 2)|list }}", "1,2 1-2-3 [0, 0]"),
            ("{% for x in xs %}{% if loop.first %}[{% endif %}{{ x }}{% if not loop.last %},{% else %}]{% endif %}{% endfor %}", "[1,2,3]"),
            ("{{ s|indent(2, first=true) }}|{{ n or 'none' }}|{{ xs|length > 2 and 'many' }}", "  a\n  b|none|many"),
            ("{{ '%s=%d'|format('k', 4) }} {{ 'a-b'|replace('-', '+') }} {{ xs|tojson }}", "k=4 a+b [1,2,3]"),
            ("{% set ns = namespace(t=0) %}{% for x in xs %}{% set ns.t = ns.t + x %}{% endfor %}{{ ns.t }}", "6"),
            ("{% set c %}{{ xs|first }}{% endset %}{{ c }}{{ c }}", "11"),
        ] {
            let id = t.add("k", src, Escape::Text).unwrap();
            assert_eq!(t.render(&id, &ctx).unwrap(), want, "{src}");
        }
        let id = t.add("small", "hello, world", Escape::Text).unwrap();
        t.set_max_bytes(5);
        let e = t.render(&id, &ctx).unwrap_err();
        assert!(
            e.starts_with("small: template error") && e.contains("limit of 5 bytes"),
            "{e}"
        );
        let id = t.add("big", "{{ 'x' * 6 }}", Escape::Text).unwrap();
        assert!(t
            .render(&id, &ctx)
            .unwrap_err()
            .contains("limit of 5 bytes"));
        // Escaping that grows the text past the limit is caught too.
        t.set_max_bytes(7);
        let id = t.add("esc", "{{ '<<' }}", Escape::Html).unwrap();
        assert!(t
            .render(&id, &ctx)
            .unwrap_err()
            .contains("limit of 7 bytes"));
    }

    #[test]
    fn the_sandbox_has_no_loader_and_bounded_fuel() {
        let e = render("{% include 'etc/passwd' %}", Escape::Text, json!({})).unwrap_err();
        assert!(e.contains("template"), "{e}");
        let e = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            Escape::Text,
            json!({}),
        )
        .unwrap_err();
        assert!(e.contains("fuel") || e.contains("range"), "{e}");
    }
}
