//! Notifications end to end, against real receivers on loopback: an HTTP receiver that fails,
//! hangs, answers 429 with Retry-After and 500 before it recovers; Slack- and PagerDuty-style
//! endpoints; a real SMTP server (Python's aiosmtpd) in plain text, STARTTLS and TLS with a
//! private CA; a restart in the middle of a backlog.
//! Waits are bounded polls.
#![allow(clippy::unwrap_used)] // tests

use std::collections::HashMap;
use std::time::Duration;

use klaxon_server::config::Config;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::receiver::{accepted, receiver, Act, Got};
use crate::harness::{self, configure_notify as configure, poll, Running, ADMIN};

/// HMAC-SHA256, written out from its definition (RFC 2104) to check klaxon's independently.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x36)
        .chain(msg.iter().copied())
        .collect();
    let ih = Sha256::digest(&inner);
    let outer: Vec<u8> = k
        .iter()
        .map(|b| b ^ 0x5c)
        .chain(ih.iter().copied())
        .collect();
    let d = Sha256::digest(&outer);
    format!(
        "sha256={}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

async fn create(s: &Running, name: &str, severity: &str, labels: Value) -> i64 {
    let body = serde_json::json!({"name": name, "severity": severity, "labels": labels, "summary": format!("{name} is broken")});
    let (st, v) = s.admin("POST", "/alerts/create", &body.to_string()).await;
    assert_eq!(st, 201, "{v}");
    v["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_notification_arrives_through_failures_and_none_twice_beyond_its_key() {
    let (rx, raddr, _t) = receiver(0).await;
    *rx.script.lock().unwrap() = vec![Act::Fail503, Act::Hang, Act::TooMany(1), Act::Fail500];
    let dir = harness::data_dir("notify-flaky");
    let s = harness::start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [notify]
                retry_initial = "50ms"
                retry_max = "200ms"
                external_url = "http://klaxon.example"
                [route]
                receiver = "hook"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[route.routes]]
                matchers = ['severity="critical"']
                receiver = "pager"
                continue = true
                [[route.routes]]
                matchers = ['team=~"db|infra"']
                receiver = "hook"
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://{raddr}/hook"
                hmac_secret = "s3cret"
                timeout = "400ms"
                send_acknowledged = true
                [[receivers]]
                name = "pager"
                [[receivers.pagerduty_configs]]
                routing_key = "0123456789abcdef0123456789abcdef"
                url = "http://{raddr}/pd"
                [[receivers.slack_configs]]
                url = "http://{raddr}/slack"
                "#
            ),
        )
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let sev = if i % 4 == 0 { "critical" } else { "high" };
        ids.push(
            create(
                &s,
                "DiskFull",
                sev,
                serde_json::json!({"host": format!("h{i}"), "team": "db"}),
            )
            .await,
        );
    }
    // Acknowledge a third, then resolve every one.
    for id in ids.iter().step_by(3) {
        let (st, v) = s
            .admin("POST", &format!("/alerts/{id}/acknowledge"), "{}")
            .await;
        assert_eq!(st, 200, "{v}");
    }
    // Wait until each firing went out, so every resolution has a firing to follow.
    poll("firing notifications", Duration::from_secs(20), || {
        let n = accepted(&rx, "/hook")
            .values()
            .filter(|g| g[0].kind == "firing")
            .count();
        (n == ids.len()).then_some(())
    })
    .await;
    for id in &ids {
        let (st, v) = s
            .admin("POST", &format!("/alerts/{id}/resolve"), "{}")
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let expected = ids.len() * 2 + ids.len().div_ceil(3);
    let got = poll(
        "every webhook notification",
        Duration::from_secs(30),
        || {
            let a = accepted(&rx, "/hook");
            (a.len() >= expected).then_some(a)
        },
    )
    .await;
    assert_eq!(got.len(), expected, "one key per notification");
    // Per alert (each its own group): one firing, at most one acknowledged, one resolved, in that order.
    let mut per_alert: HashMap<String, Vec<String>> = HashMap::new();
    for gs in got.values() {
        let g = &gs[0];
        assert!(
            gs.iter().all(|x| x.raw == g.raw),
            "a repeat of a key carries the same body"
        );
        assert_eq!(
            g.signature,
            hmac_sha256(b"s3cret", &g.raw),
            "signature over the body"
        );
        assert_eq!(g.body["version"], "4");
        assert_eq!(g.body["kind"], g.kind.as_str());
        assert_eq!(
            g.body["status"],
            if g.kind == "resolved" {
                "resolved"
            } else {
                "firing"
            }
        );
        assert_eq!(g.body["receiver"], "hook");
        assert_eq!(g.body["externalURL"], "http://klaxon.example");
        let a = &g.body["alerts"][0];
        assert_eq!(a["labels"]["alertname"], "DiskFull");
        assert_eq!(a["annotations"]["summary"], "DiskFull is broken");
        assert!(a["startsAt"].as_str().unwrap().ends_with('Z'));
        if g.kind == "resolved" {
            assert_ne!(a["endsAt"], "0001-01-01T00:00:00Z");
        } else {
            assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
        }
        per_alert
            .entry(a["fingerprint"].as_str().unwrap().to_owned())
            .or_default()
            .push(g.kind.clone());
    }
    assert_eq!(per_alert.len(), ids.len());
    for kinds in per_alert.values() {
        assert_eq!(
            kinds.iter().filter(|k| *k == "firing").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| *k == "resolved").count(),
            1,
            "{kinds:?}"
        );
    }
    // The 429 asked for 1 s: its key came back no sooner.
    let all = rx.got.lock().unwrap().clone();
    let limited = all.iter().find(|g| g.status == 429).unwrap();

    let next = all
        .iter()
        .find(|g| g.key == limited.key && g.at > limited.at)
        .unwrap();
    assert!(
        next.at - limited.at >= Duration::from_millis(950),
        "Retry-After honoured: {:?}",
        next.at - limited.at
    );
    // The hang timed out and was tried again under the same key.
    assert!(
        all.iter().filter(|g| g.path == "/hook").count() > expected,
        "the failures were retried"
    );

    // PagerDuty: trigger, then acknowledge (for acked ones), then resolve, dedup_key = fingerprint.
    let critical: Vec<i64> = ids.iter().copied().step_by(4).collect();
    let pd = poll("pagerduty events", Duration::from_secs(20), || {
        let v: Vec<Value> = rx
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.path == "/pd")
            .map(|g| g.body.clone())
            .collect();
        let resolves = v.iter().filter(|e| e["event_action"] == "resolve").count();
        (resolves == critical.len()).then_some(v)
    })
    .await;
    for id in &critical {
        let (_, a) = s.admin("GET", &format!("/alerts/{id}"), "").await;
        let fp = a["fingerprint"].as_str().unwrap();
        let actions: Vec<&str> = pd
            .iter()
            .filter(|e| e["dedup_key"] == fp)
            .map(|e| e["event_action"].as_str().unwrap())
            .collect();
        let want: &[&str] = if (id - ids[0]) % 3 == 0 {
            &["trigger", "acknowledge", "resolve"]
        } else {
            &["trigger", "resolve"]
        };
        assert_eq!(actions, want, "alert {id}");
        let trigger = pd
            .iter()
            .find(|e| e["dedup_key"] == fp && e["event_action"] == "trigger")
            .unwrap();
        assert_eq!(trigger["routing_key"], "0123456789abcdef0123456789abcdef");
        assert_eq!(trigger["payload"]["severity"], "critical");
        assert_eq!(
            trigger["payload"]["summary"],
            "DiskFull: DiskFull is broken"
        );
        assert!(trigger["payload"]["source"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        // The alert lists its notifications, each with its outcome (recorded right after the
        // receiver answered).
        let a = s
            .until(&format!("/alerts/{id}"), |a| {
                a["notifications"]
                    .as_array()
                    .is_some_and(|n| n.iter().all(|x| x["status"] != "sending"))
            })
            .await;
        let notes = a["notifications"].as_array().unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n["channel"] == "pagerduty" && n["status"] == "sent"),
            "{a}"
        );
        assert!(
            notes.iter().any(|n| n["channel"] == "webhook"
                && n["kind"] == "resolved"
                && n["status"] == "sent"),
            "{a}"
        );
    }
    // Slack has no idempotency key: each message once (nothing failed on this path).
    let want = critical.len() * 2
        + critical
            .iter()
            .filter(|id| (**id - ids[0]) % 3 == 0)
            .count();
    // Every change has been dispatched (its webhook and PagerDuty notifications arrived), so
    // once Slack's outbox has nothing left to send, the receiver has all it will ever get.
    let d = s.delivered("slack", want as u64).await;
    assert_eq!(d["sent"].as_u64(), Some(want as u64), "{d}");
    let slack: Vec<Got> = rx
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|g| g.path == "/slack")
        .cloned()
        .collect();
    assert_eq!(slack.len(), want, "each message once");
    for g in &slack {
        let att = &g.body["attachments"][0];
        assert!(att["color"].as_str().unwrap().starts_with('#'));
        assert_eq!(att["blocks"][0]["type"], "header");
    }

    // Delivery tracking, in the endpoint and in Prometheus.
    let d = s
        .until("/alerts/metrics/delivery", |v| {
            v["channels"]["webhook"]["sent"].as_u64() == Some(expected as u64)
        })
        .await;
    let w = &d["channels"]["webhook"];
    assert_eq!(w["sent"].as_u64(), Some(expected as u64), "{d}");
    assert_eq!(w["dead"].as_u64(), Some(0));
    assert!(w["since_start"]["retries"].as_u64().unwrap() >= 4, "{d}");
    assert!(w["latency_ms"]["p99"].as_u64().is_some(), "{d}");
    let prom = s.text("/monitoring/prometheus").await;
    assert!(
        prom.contains(&format!(
            "klaxon_notification_outbox{{channel=\"webhook\",status=\"sent\"}} {expected}"
        )),
        "{prom}"
    );
    assert!(prom.contains("klaxon_notifications_sent_total{channel=\"pagerduty\"}"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_in_the_middle_of_a_backlog_loses_nothing() {
    // The receiver's port, reserved and closed: connections are refused until it starts.
    let port = harness::free_port();
    let dir = harness::data_dir("notify-restart");
    let toml = format!(
        r#"
        [notify]
        retry_initial = "100ms"
        retry_max = "300ms"
        [route]
        receiver = "hook"
        group_by = ["..."]
        group_wait = "0s"
        group_interval = "0s"
        [[route.routes]]
        matchers = ['team="slow"']
        receiver = "hook"
        group_by = ["team"]
        group_wait = "2s"
        [[receivers]]
        name = "hook"
        [[receivers.webhook_configs]]
        url = "http://127.0.0.1:{port}/hook"
        timeout = "500ms"
        "#
    );
    let s = harness::start(&dir, |c| configure(c, &toml)).await;
    for i in 0..30 {
        create(
            &s,
            "Backlog",
            "high",
            serde_json::json!({"n": i.to_string()}),
        )
        .await;
    }
    // Grouped with a 2 s wait: still in RAM when the server stops.
    create(
        &s,
        "Slow",
        "low",
        serde_json::json!({"team": "slow", "n": "1"}),
    )
    .await;
    create(
        &s,
        "Slow",
        "low",
        serde_json::json!({"team": "slow", "n": "2"}),
    )
    .await;
    s.until("/alerts/metrics/delivery", |v| {
        v["channels"]["webhook"]["retrying"].as_u64() == Some(30)
    })
    .await;
    let store = s.stop().await;
    drop(store);

    let (rx, _addr, _t) = receiver(port).await;
    let s = harness::start(&dir, |c| configure(c, &toml)).await;
    let got = poll(
        "the backlog and the grouped notification",
        Duration::from_secs(30),
        || {
            let a = accepted(&rx, "/hook");
            (a.len() >= 31).then_some(a)
        },
    )
    .await;
    assert_eq!(
        got.len(),
        31,
        "30 single notifications and one of the slow group"
    );
    let slow: Vec<&Got> = got
        .values()
        .map(|g| &g[0])
        .filter(|g| g.body["groupLabels"]["team"] == "slow")
        .collect();
    assert_eq!(slow.len(), 1);
    assert_eq!(
        slow[0].body["alerts"].as_array().unwrap().len(),
        2,
        "both slow alerts in one notification"
    );
    let names: std::collections::BTreeSet<String> = got
        .values()
        .filter_map(|g| {
            g[0].body["alerts"][0]["labels"]["n"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(names.len() >= 30);
    let d = s
        .until("/alerts/metrics/delivery", |v| {
            v["channels"]["webhook"]["sent"].as_u64() == Some(31)
        })
        .await;
    assert_eq!(
        d["channels"]["webhook"]["retrying"].as_u64(),
        Some(0),
        "{d}"
    );
    // Nothing is told twice after another restart.
    let store = s.stop().await;
    drop(store);
    // The dispatcher rebuilds from the store before it takes a new change, so once the alert
    // made now has been told and the outbox has nothing left to send, anything told again
    // would have arrived (or be counted as still to send).
    let s = harness::start(&dir, |c| configure(c, &toml)).await;
    create(
        &s,
        "AfterRestart",
        "high",
        serde_json::json!({"n": "after"}),
    )
    .await;
    let d = s.delivered("webhook", 32).await;
    assert_eq!(d["sent"].as_u64(), Some(32), "{d}");
    let got = accepted(&rx, "/hook");
    assert_eq!(got.len(), 32, "the new alert, and nothing of before again");
    assert!(got
        .values()
        .any(|g| g[0].body["alerts"][0]["labels"]["n"] == "after"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn configuration_errors_name_the_key() {
    let mut c = Config::default();
    configure(
        &mut c,
        r#"
        [route]
        receiver = "nobody"
        [[receivers]]
        name = "ops"
        [[receivers.slack_configs]]
        url = "not a url"
        text = "{% for a in alerts %}"
        "#,
    );
    let errors = c.notifier().unwrap_err();
    let all = errors.join("\n");
    assert!(all.contains("receivers[0].slack_configs[0].url:"), "{all}");
    assert!(
        all.contains("receivers[0].slack_configs[0].text: template error at line 1"),
        "{all}"
    );
    assert!(
        all.contains("route.receiver: no receiver is named `nobody`"),
        "{all}"
    );
}

/// Starts the SMTP sink, or says why it cannot (None) — a failure when KLAXON_REQUIRE_PEERS=1.
/// Ends the child process when dropped.
pub(crate) struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn smtp_sink(out: &std::path::Path) -> Option<(Peer, u16)> {
    smtp_sink_in(out, "plain").await
}

/// The SMTP sink in `mode` (`plain`, `starttls`, `tls`; see the script).
async fn smtp_sink_in(out: &std::path::Path, mode: &str) -> Option<(Peer, u16)> {
    let require = std::env::var("KLAXON_REQUIRE_PEERS").is_ok_and(|v| v == "1");
    let skip = |why: String| {
        assert!(!require, "KLAXON_REQUIRE_PEERS=1 but {why}");
        println!("skipped: {why}");
        None
    };
    let probe = std::process::Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(_) => return skip("python3 has no aiosmtpd (pip install aiosmtpd)".to_owned()),
        Err(e) => return skip(format!("no python3: {e}")),
    }
    if mode != "plain"
        && !std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    {
        return skip("no openssl command to make the sink's certificates".to_owned());
    }
    let port = harness::free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/smtp_sink.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(out)
        .arg(mode)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Peer(child);
    let ready = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .map(|_| line)
        }),
    )
    .await;
    let line = ready
        .ok()
        .and_then(|r| r.ok())
        .and_then(|r| r.ok())
        .unwrap_or_default();
    assert_eq!(line.trim(), "ready", "smtp sink did not start");
    Some((child, port))
}

pub(crate) fn mails(dir: &std::path::Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// Mail over STARTTLS and over TLS from the first byte, authenticated, to a server whose
/// certificate a private CA signed (`ca_file`); without `ca_file` the certificate is refused
/// and nothing is sent in the clear instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_goes_over_starttls_and_tls_trusting_a_private_ca() {
    for mode in ["starttls", "tls"] {
        let out = harness::data_dir(&format!("notify-{mode}-out"));
        let Some((_sink, port)) = smtp_sink_in(&out, mode).await else {
            return;
        };
        let ca = out.join("ca.pem");
        let mail_config = |ca_file: &str| {
            format!(
                r#"
                [smtp]
                smarthost = "127.0.0.1:{port}"
                from = "klaxon@example.test"
                tls = "{mode}"
                {ca_file}
                username = "klaxon"
                password = "secret-pw"
                [route]
                receiver = "mail"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "mail"
                [[receivers.email_configs]]
                to = ["oncall@example.test"]
                "#
            )
        };

        // Trusting the CA: the mail arrives, encrypted and authenticated.
        let dir = harness::data_dir(&format!("notify-{mode}"));
        let trusted = mail_config(&format!("ca_file = {:?}", ca.display().to_string()));
        let s = harness::start(&dir, |c| configure(c, &trusted)).await;
        let id = create(&s, "Encrypted", "high", serde_json::json!({"mode": mode})).await;
        let mail = poll(
            &format!("the mail over {mode}"),
            Duration::from_secs(20),
            || mails(&out).into_iter().next(),
        )
        .await;
        assert_eq!(mail["tls"], true, "{mode}: {mail}");
        assert_eq!(mail["login"], "klaxon", "{mode}: {mail}");
        assert_eq!(mail["kind"], "firing", "{mode}: {mail}");
        let a = s
            .until(&format!("/alerts/{id}"), |a| {
                a["notifications"][0]["status"] == "sent"
            })
            .await;
        assert_eq!(a["notifications"][0]["status"], "sent", "{mode}: {a}");
        s.stop().await;

        // Not trusting it: the certificate is refused, the notification waits to retry.
        let dir = harness::data_dir(&format!("notify-{mode}-untrusted"));
        let untrusted = mail_config("");
        let s = harness::start(&dir, |c| configure(c, &untrusted)).await;
        let id = create(&s, "Refused", "high", serde_json::json!({"mode": mode})).await;
        let a = s
            .until(&format!("/alerts/{id}"), |a| {
                a["notifications"][0]["last_error"].is_string()
            })
            .await;
        let n = &a["notifications"][0];
        let error = n["last_error"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            error.contains("certificate") || error.contains("issuer"),
            "{mode}: {n}"
        );
        assert_ne!(n["status"], "sent", "{mode}: {n}");
        assert_eq!(mails(&out).len(), 1, "{mode}: nothing more arrived");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_arrives_at_a_real_smtp_server_as_escaped_text_and_html() {
    let out = harness::data_dir("notify-smtp-out");
    let Some((_sink, port)) = smtp_sink(&out).await else {
        return;
    };
    let dir = harness::data_dir("notify-smtp");
    let s = harness::start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [smtp]
                smarthost = "127.0.0.1:{port}"
                from = "klaxon <klaxon@example.test>"
                tls = "none"
                username = "klaxon"
                password = "secret-pw"
                [route]
                receiver = "mail"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[receivers]]
                name = "mail"
                [[receivers.email_configs]]
                to = ["oncall@example.test", "Ops Team <ops@example.test>"]
                "#
            ),
        )
    })
    .await;
    let id = create(
        &s,
        "Injection",
        "critical",
        serde_json::json!({"host": "<script>alert(1)</script>"}),
    )
    .await;
    let first = poll("the firing mail", Duration::from_secs(20), || {
        let m = mails(&out);
        (!m.is_empty()).then(|| m[0].clone())
    })
    .await;
    let (st, _) = s
        .admin("POST", &format!("/alerts/{id}/resolve"), "{}")
        .await;
    assert_eq!(st, 200);
    let second = poll("the resolved mail", Duration::from_secs(20), || {
        let m = mails(&out);
        (m.len() >= 2).then(|| m[1].clone())
    })
    .await;
    assert_eq!(first["login"], "klaxon", "authenticated");
    assert_eq!(first["content_type"], "multipart/alternative");
    assert_eq!(first["kind"], "firing");
    assert!(
        first["subject"]
            .as_str()
            .unwrap()
            .starts_with("[FIRING:1] Injection"),
        "{first}"
    );
    assert_eq!(second["kind"], "resolved");
    assert!(
        second["subject"]
            .as_str()
            .unwrap()
            .starts_with("[RESOLVED] Injection"),
        "{second}"
    );
    assert_ne!(first["message_id"], second["message_id"]);
    assert!(first["message_id"].as_str().unwrap().ends_with("@klaxon>"));
    let rcpt: Vec<&str> = first["rcpt"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(rcpt, ["oncall@example.test", "ops@example.test"]);
    let part = |m: &Value, t: &str| -> String {
        m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["type"] == t)
            .map(|p| p["content"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (text, html) = (part(&first, "text/plain"), part(&first, "text/html"));
    assert!(
        text.contains("<script>alert(1)</script>"),
        "text is not HTML: {text}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains(&format!("&#x2f;alerts&#x2f;{id}\"")),
        "links back: {html}"
    );
    // The mail server has both; their outcomes are recorded right after.
    let a = s
        .until(&format!("/alerts/{id}"), |a| {
            a["notifications"]
                .as_array()
                .is_some_and(|n| n.len() == 2 && n.iter().all(|x| x["status"] != "sending"))
        })
        .await;
    let n = a["notifications"].as_array().unwrap();
    assert_eq!(n.len(), 2);
    assert!(
        n.iter()
            .all(|x| x["channel"] == "email" && x["status"] == "sent"),
        "{a}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn websocket_clients_get_what_their_filters_accept_and_resume_from_the_outbox() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let dir = harness::data_dir("notify-ws");
    let s = harness::serve(&dir, |c| {
        configure(
            c,
            r#"
            [route]
            receiver = "browser"
            group_by = ["..."]
            group_wait = "0s"
            group_interval = "0s"
            [[receivers]]
            name = "browser"
            [[receivers.websocket_configs]]
            "#,
        )
    })
    .await;
    let url = format!("ws://{}/notifications/ws?severity=critical", s.addr());
    // A browser cannot set headers: it authenticates with its first frame.
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.send(Message::Text(
        format!("{{\"token\": \"{}\"}}", ADMIN).into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    create(&s, "Quiet", "low", serde_json::json!({"x": "1"})).await;
    let id = create(&s, "Loud", "critical", serde_json::json!({"x": "2"})).await;
    let n = next_frame(&mut ws).await;
    assert_eq!(n["type"], "notification");
    assert_eq!(n["kind"], "firing");
    assert_eq!(
        n["alerts"][0]["id"], id,
        "the low alert was filtered out: {n}"
    );
    let first_id = n["id"].as_i64().unwrap();
    ws.close(None).await.unwrap();

    // A bad token is refused; a client that was away resumes after the last id it saw.
    let (mut bad, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    bad.send(Message::Text(
        "{\"token\": \"wrong-token-000000000\"}".into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_frame(&mut bad).await["type"], "error");
    let (st, _) = s
        .admin("POST", &format!("/alerts/{id}/resolve"), "{}")
        .await;
    assert_eq!(st, 200);
    s.until("/alerts/metrics/delivery", |v| {
        v["channels"]["websocket"]["sent"].as_u64() == Some(3)
    })
    .await;
    let mut req =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/notifications/ws?after_id={first_id}&kind=resolved",
            s.addr()
        ))
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", ADMIN).parse().unwrap(),
    );
    let (mut back, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(next_frame(&mut back).await["type"], "ready");
    let r = next_frame(&mut back).await;
    assert_eq!(
        (r["kind"].as_str(), r["alerts"][0]["id"].as_i64()),
        (Some("resolved"), Some(id)),
        "{r}"
    );
    assert!(r["id"].as_i64().unwrap() > first_id);
    s.stop().await;
}

/// The next text frame as JSON (bounded wait).
async fn next_frame<W>(ws: &mut W) -> Value
where
    W: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                    return serde_json::from_str::<Value>(&t).unwrap()
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .expect("a frame within 10 s")
}

/// The first TOML block after `heading` in a document of the repository.
fn toml_block(doc: &str, heading: &str) -> String {
    let text =
        std::fs::read_to_string(format!("{}/../../{doc}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let from = text
        .find(heading)
        .unwrap_or_else(|| panic!("{doc} has no {heading}"));
    let rest = &text[from..];
    let start = rest.find("```toml\n").unwrap() + "```toml\n".len();
    let end = rest[start..].find("```").unwrap();
    rest[start..start + end].to_owned()
}

#[test]
fn the_documented_configurations_load() {
    for (doc, heading) in [
        ("README.md", "## Notifications in five minutes"),
        ("docs/notifications.md", "## A configuration to copy"),
    ] {
        let path = std::env::temp_dir().join(format!(
            "klaxon-doc-{}-{}.toml",
            std::process::id(),
            doc.replace('/', "-")
        ));
        std::fs::write(&path, toml_block(doc, heading)).unwrap();
        let c =
            klaxon_server::config::load(Some(&path), &[], &klaxon_server::config::Flags::default())
                .unwrap_or_else(|e| panic!("{doc}: {e}"));
        let n = c.notifier().unwrap();
        assert!(n.enabled() && n.receivers.len() >= 2, "{doc}");
        let kinds: std::collections::BTreeSet<&str> = n
            .receivers
            .values()
            .flat_map(|r| r.channels.iter().map(|c| c.kind()))
            .collect();
        for k in ["webhook", "slack", "email"] {
            assert!(kinds.contains(k), "{doc} configures a {k} channel");
        }
    }
}

/// A route muted by a time interval tells nothing while it holds, and a route outside its
/// active intervals neither, while a route with neither notifies the same kind of alert as
/// usual. The intervals hold at every instant (an interval without fields) or at none (an
/// empty list of weekdays), so the test does not depend on the clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn routes_muted_by_time_intervals_tell_nothing_while_an_open_route_notifies() {
    let (rx, raddr, _t) = receiver(0).await;
    let dir = harness::data_dir("notify-time-mute");
    let s = harness::start(&dir, |c| {
        configure(
            c,
            &format!(
                r#"
                [route]
                receiver = "open"
                group_by = ["..."]
                group_wait = "0s"
                group_interval = "0s"
                [[route.routes]]
                matchers = ['team="db"']
                receiver = "muted"
                mute_time_intervals = ["always"]
                [[route.routes]]
                matchers = ['team="web"']
                receiver = "inactive"
                active_time_intervals = ["never"]
                [[receivers]]
                name = "open"
                [[receivers.webhook_configs]]
                url = "http://{raddr}/open"
                [[receivers]]
                name = "muted"
                [[receivers.webhook_configs]]
                url = "http://{raddr}/muted"
                [[receivers]]
                name = "inactive"
                [[receivers.webhook_configs]]
                url = "http://{raddr}/inactive"
                "#
            ),
        );
        #[derive(serde::Deserialize)]
        struct Intervals {
            time_intervals: Vec<klaxon_server::config::TimeIntervalsConfig>,
        }
        let i: Intervals = toml::from_str(
            r#"
            [[time_intervals]]
            name = "always"
            [[time_intervals.time_intervals]]
            [[time_intervals]]
            name = "never"
            [[time_intervals.time_intervals]]
            weekdays = []
            "#,
        )
        .unwrap();
        c.time_intervals = i.time_intervals;
    })
    .await;
    create(&s, "Db", "high", serde_json::json!({"team": "db"})).await;
    create(&s, "Web", "high", serde_json::json!({"team": "web"})).await;
    // Posted last: once the open route has told of it, the muted ones had every chance.
    create(&s, "Other", "high", serde_json::json!({"team": "ops"})).await;
    poll(
        "the open route's notification",
        Duration::from_secs(20),
        || (!accepted(&rx, "/open").is_empty()).then_some(()),
    )
    .await;
    // The muted groups flushed (telling nothing) as their alerts came, before this one's.
    assert!(accepted(&rx, "/muted").is_empty());
    assert!(accepted(&rx, "/inactive").is_empty());
    let open = accepted(&rx, "/open");
    let names: Vec<String> = open
        .values()
        .flat_map(|g| g[0].body["alerts"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["Other"], "{open:?}");
    s.stop().await;
}
