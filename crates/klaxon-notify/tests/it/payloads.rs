//! Payloads checked against the receivers' documented fields and limits: Slack Block Kit
//! (header 150, section text 3000, field 2000, at most 10 fields and 50 blocks), PagerDuty
//! Events API v2 (routing_key, event_action, dedup_key ≤ 255, payload.summary ≤ 1024, source,
//! severity one of critical/error/warning/info), the Alertmanager webhook v4 body.
#![allow(clippy::unwrap_used)] // tests

use std::collections::BTreeMap;

use klaxon_engine::lifecycle::State;
use klaxon_notify::channel::pagerduty::PagerDutyConfig;
use klaxon_notify::channel::slack::{self, limits};
use klaxon_notify::channel::webhook::{alertmanager_v4, signature};
use klaxon_notify::{AlertView, Kind, Notification};
use serde_json::Value;

fn alert(id: i64, severity: &str, labels: &[(&str, &str)], summary: &str) -> AlertView {
    AlertView {
        id,
        fingerprint: format!("{id:016x}"),
        name: "DiskFull".to_owned(),
        state: State::Active,
        muted: None,
        severity: severity.to_owned(),
        summary: summary.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        annotations: BTreeMap::new(),
        starts_at: 1_700_000_000_000,
        ends_at: None,
        acknowledged_at: None,
        acknowledged_by: None,
        resolved_by: None,
        generator_url: None,
        occurrences: 3,
        updated_at: 1_700_000_000_000,
        receivers: Vec::new(),
        incident: None,
    }
}

fn notification(kind: Kind, alerts: Vec<AlertView>) -> Notification {
    Notification {
        kind,
        receiver: "ops".to_owned(),
        group_key: "{}:{alertname=\"DiskFull\"}".to_owned(),
        group_labels: [("alertname".to_owned(), "DiskFull".to_owned())]
            .into_iter()
            .collect(),
        alerts,
        at: 1_700_000_001_000,
        folded: 0,
        notice: None,
        escalation: None,
    }
}

fn texts(v: &Value, out: &mut Vec<(String, String)>, path: &str) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(t)), Some(Value::String(kind))) =
                (m.get("text"), m.get("type"))
            {
                out.push((format!("{path}:{kind}"), t.clone()));
            }
            for (k, x) in m {
                texts(x, out, &format!("{path}.{k}"));
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| texts(x, out, &format!("{path}[{i}]"))),
        _ => {}
    }
}

#[test]
fn slack_blocks_stay_within_the_documented_limits_and_escape_labels() {
    let many: Vec<(String, String)> = (0..15)
        .map(|i| (format!("label{i:02}"), "v".repeat(2500)))
        .collect();
    let mut labels: Vec<(&str, &str)> =
        many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    labels.push(("team", "<!channel> & friends"));
    let a = alert(1, "critical", &labels, &"x".repeat(5000));
    let n = notification(Kind::Firing, vec![a]);
    let title = "t".repeat(400);
    let text = format!("{}\n{}", "line ".repeat(700), "y".repeat(4000));
    let v = slack::payload(&n, &title, &text, "https://klaxon.example");
    let att = &v["attachments"][0];
    let blocks = att["blocks"].as_array().unwrap();
    assert!(blocks.len() <= limits::BLOCKS);
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= limits::HEADER_TEXT);
    assert_eq!(
        blocks[0]["text"]["type"], "plain_text",
        "headers take plain_text only"
    );
    for b in blocks.iter().filter(|b| b["type"] == "section") {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(t.chars().count() <= limits::SECTION_TEXT);
        }
        if let Some(f) = b["fields"].as_array() {
            assert!(f.len() <= limits::FIELDS);
            assert!(f
                .iter()
                .all(|x| x["text"].as_str().unwrap().chars().count() <= limits::FIELD_TEXT));
        }
    }
    let all: Vec<(String, String)> = {
        let mut out = Vec::new();
        texts(&v, &mut out, "");
        out
    };
    assert!(
        all.iter().all(|(_, t)| !t.contains("<!channel>")),
        "labels cannot mention @channel"
    );
    let button = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(
        button["elements"][0]["url"],
        "https://klaxon.example/#/alerts/1"
    );
    assert_eq!(att["color"], "#b60205", "critical is red");
    assert!(v["text"].as_str().unwrap().chars().count() <= limits::MESSAGE_TEXT);
    let resolved = slack::payload(
        &notification(Kind::Resolved, vec![alert(2, "low", &[], "ok")]),
        "r",
        "r",
        "https://k",
    );
    assert_eq!(resolved["attachments"][0]["color"], "#2eb886");
    let acked = slack::payload(
        &notification(Kind::Acknowledged, vec![alert(2, "low", &[], "ok")]),
        "a",
        "a",
        "https://k",
    );
    assert_eq!(acked["attachments"][0]["color"], "#6f42c1");
}

#[test]
fn pagerduty_events_follow_events_api_v2() {
    let mut t = klaxon_notify::template::Templates::new();
    let mut errors = Vec::new();
    let cfg: PagerDutyConfig =
        toml::from_str("routing_key = \"0123456789abcdef0123456789abcdef\"").unwrap();
    let pd = klaxon_notify::channel::pagerduty::PagerDuty::compile(
        &cfg,
        "receivers[0].pagerduty_configs[0]",
        &mut t,
        &mut errors,
    )
    .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let mut long = alert(7, "high", &[("host", "db-1")], &"s".repeat(3000));
    long.fingerprint = "f".repeat(400);
    let two = vec![
        alert(5, "critical", &[("instance", "web-1:9100")], "down"),
        long,
    ];
    let fire = pd
        .events(
            &t,
            &notification(Kind::Firing, two.clone()),
            "https://klaxon.example",
        )
        .unwrap();
    assert_eq!(fire.len(), 2, "one event per alert");
    for e in &fire {
        assert_eq!(e["event_action"], "trigger");
        assert_eq!(e["routing_key"], "0123456789abcdef0123456789abcdef");
        assert!(e["dedup_key"].as_str().unwrap().chars().count() <= 255);
        let p = &e["payload"];
        assert!(p["summary"].as_str().unwrap().chars().count() <= 1024);
        assert!(!p["source"].as_str().unwrap().is_empty());
        assert!(["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap()));
        assert!(p["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(e["links"][0]["href"]
            .as_str()
            .unwrap()
            .starts_with("https://klaxon.example/#/alerts/"));
    }
    assert_eq!(
        fire[0]["dedup_key"], "0000000000000005",
        "dedup_key is the fingerprint"
    );
    assert_eq!(fire[0]["payload"]["source"], "web-1:9100");
    assert_eq!(fire[0]["payload"]["severity"], "critical");
    assert_eq!(fire[1]["payload"]["severity"], "error");
    for (kind, action) in [
        (Kind::Acknowledged, "acknowledge"),
        (Kind::Resolved, "resolve"),
    ] {
        let ev = pd
            .events(&t, &notification(kind, two.clone()), "https://k")
            .unwrap();
        assert_eq!(ev[0]["event_action"], action);
        assert_eq!(ev[0]["dedup_key"], "0000000000000005");
        assert!(ev[0].get("payload").is_none(), "{action} needs no payload");
    }
}

#[test]
fn alertmanager_v4_body_has_every_documented_key_and_truncates() {
    let n = notification(
        Kind::Resolved,
        vec![
            alert(1, "low", &[("a", "1")], "one"),
            alert(2, "low", &[("a", "1")], "two"),
        ],
    );
    let v = alertmanager_v4(&n, "https://k", 1);
    for k in [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["version"], "4");
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["truncatedAlerts"], 1);
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1);
    for k in [
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    ] {
        assert!(v["alerts"][0].get(k).is_some(), "alert misses {k}");
    }
    assert_eq!(v["commonLabels"]["a"], "1");
}

#[test]
fn the_signature_is_hmac_sha256_of_the_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        signature("Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// Every channel links to the alert's page on the dashboard at `external_url` (the API's
/// `/alerts/{id}` would answer a browser 401), and a Slack message of several alerts to the
/// dashboard's table.
#[test]
fn every_channel_links_to_the_alert_on_the_dashboard() {
    let base = "https://klaxon.example.com/ops/";
    let page = "https://klaxon.example.com/ops/#/alerts/11";
    let one = notification(
        Kind::Firing,
        vec![alert(11, "critical", &[("host", "db-1")], "full")],
    );
    let mut t = klaxon_notify::template::Templates::new();
    let mut errors = Vec::new();

    let hook: klaxon_notify::channel::webhook::WebhookConfig =
        toml::from_str("url = \"https://hooks.example/x\"").unwrap();
    let hook = klaxon_notify::channel::webhook::Webhook::compile(&hook, "w", &mut t, &mut errors);
    let body: Value = serde_json::from_slice(&hook.body(&t, &one, base).unwrap()).unwrap();
    assert_eq!(body["alerts"][0]["generatorURL"], page, "{body}");
    assert_eq!(body["externalURL"], "https://klaxon.example.com/ops/");

    let slack_cfg: klaxon_notify::channel::slack::SlackConfig =
        toml::from_str("url = \"https://hooks.slack.example/x\"").unwrap();
    let slack = slack::Slack::compile(&slack_cfg, "s", &mut t, &mut errors).unwrap();
    let v = slack.body(&t, &one, base).unwrap();
    let blocks = v["attachments"][0]["blocks"].as_array().unwrap();
    let button = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(button["elements"][0]["text"]["text"], "Open alert");
    assert_eq!(button["elements"][0]["url"], page);
    assert!(
        v.to_string().contains(&format!("<{page}|DiskFull>")),
        "the text links the alert's name: {v}"
    );
    let two = notification(
        Kind::Firing,
        vec![
            alert(11, "critical", &[], "a"),
            alert(12, "critical", &[], "b"),
        ],
    );
    let v = slack.body(&t, &two, base).unwrap();
    let blocks = v["attachments"][0]["blocks"].as_array().unwrap();
    let button = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(
        button["elements"][0]["url"],
        "https://klaxon.example.com/ops/#/alerts"
    );

    let mail_cfg: klaxon_notify::channel::email::EmailConfig = toml::from_str(
        "to = [\"oncall@example.com\"]\nfrom = \"klaxon@example.com\"\nsmarthost = \"127.0.0.1:25\"\ntls = \"none\"",
    )
    .unwrap();
    let mail = klaxon_notify::channel::email::Email::compile(
        &mail_cfg,
        &klaxon_notify::SmtpDefaults::default(),
        std::time::Duration::from_secs(5),
        "e",
        &mut t,
        &mut errors,
    )
    .unwrap();
    let m = mail.message(&t, &one, base, "key-1").unwrap();
    // Quoted-printable undone (soft line breaks, `=3D`), and the HTML part's escaped slashes.
    let raw = String::from_utf8(m.formatted())
        .unwrap()
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .replace("&#x2f;", "/");
    assert!(
        raw.contains(&format!("  {page}\r\n")),
        "the text part: {raw}"
    );
    assert!(
        raw.contains(&format!("<a href=\"{page}\">DiskFull</a>")),
        "the HTML part: {raw}"
    );
    assert!(errors.is_empty(), "{errors:?}");
}

/// A page says who is paged and why: the webhook's v4 body carries `escalation` and `notice`,
/// Slack's header is the page's sentence under its kind.
#[test]
fn an_escalated_page_tells_level_target_and_why() {
    let mut n = notification(
        Kind::Escalated,
        vec![alert(7, "critical", &[("host", "db-1")], "full")],
    );
    n.notice = Some(
        "DiskFull: level 2 of escalation policy critical pages team:db (bob): nobody acknowledged within 5m"
            .to_owned(),
    );
    n.escalation = Some(klaxon_notify::EscalationPage {
        policy: "critical".to_owned(),
        level: 2,
        round: 1,
        target: "team:db".to_owned(),
        member: Some("bob".to_owned()),
        reason: "nobody acknowledged within 5m".to_owned(),
        incident: None,
    });
    let v = alertmanager_v4(&n, "https://k", 0);
    assert_eq!(v["kind"], "escalated");
    assert_eq!(v["status"], "firing");
    assert_eq!(v["escalation"]["level"], 2);
    assert_eq!(v["escalation"]["member"], "bob");
    assert_eq!(v["escalation"]["reason"], "nobody acknowledged within 5m");
    assert!(v["escalation"].get("incident").is_none(), "{v}");
    assert!(v["notice"].as_str().unwrap().contains("level 2"), "{v}");

    let mut t = klaxon_notify::template::Templates::new();
    let mut errors = Vec::new();
    let cfg: klaxon_notify::channel::slack::SlackConfig =
        toml::from_str("url = \"https://hooks.slack.example/x\"").unwrap();
    let s = slack::Slack::compile(&cfg, "s", &mut t, &mut errors).unwrap();
    let body = s.body(&t, &n, "https://k").unwrap();
    assert!(
        body.to_string()
            .contains("[ESCALATED] DiskFull: level 2 of escalation policy critical"),
        "{body}"
    );
    // A notice's title is unchanged.
    n.kind = Kind::Notice;
    let body = s.body(&t, &n, "https://k").unwrap();
    assert!(
        body.to_string().contains("[NOTICE] DiskFull: level 2"),
        "{body}"
    );
}
