//! Pages reaching people through each kind of contact, end to end: e-mail through a real SMTP
//! server (Python's aiosmtpd), Slack through `[paging] slack_url` and PagerDuty through
//! `[paging] pagerduty_url`, both pointed at a real HTTP receiver on loopback. Each test reads
//! what the person receives: which level pages whom, and why. (Webhook contacts are paged in
//! `escalation`.)
#![allow(clippy::unwrap_used)] // tests

use std::time::Duration;

use klaxon_server::config::Config;
use serde_json::{json, Value};

use crate::escalation::fire;
use crate::harness::receiver::{receiver, Act, Got};
use crate::harness::{data_dir, poll, start};
use crate::notify::{mails, smtp_sink};

/// Applies the notification, people and policy sections of `text` to `c`.
fn configure(c: &mut Config, text: &str) {
    let part: Config = toml::from_str(text).expect("configuration");
    c.notify = part.notify;
    c.smtp = part.smtp;
    c.paging = part.paging;
    c.route = part.route;
    c.receivers = part.receivers;
    c.users = part.users;
    c.teams = part.teams;
    c.escalation_policies = part.escalation_policies;
    c.collector.enabled = false;
}

/// A route that pages `policy` for every alert; its own notifications go to `/ops`.
fn route(addr: &str, policy: &str) -> String {
    format!(
        r#"
        [notify]
        retry_initial = "50ms"
        retry_max = "200ms"
        [route]
        receiver = "ops"
        group_wait = "0s"
        escalation_policy = "{policy}"
        [[receivers]]
        name = "ops"
        [[receivers.webhook_configs]]
        url = "http://{addr}/ops"
        "#
    )
}

/// The requests on `path`, in the order they came.
fn on(got: &[Got], path: &str) -> Vec<Got> {
    got.iter().filter(|g| g.path == path).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_contact_is_paged_through_a_real_smtp_server() {
    let out = data_dir("page-smtp-out");
    let Some((_sink, port)) = smtp_sink(&out).await else {
        return;
    };
    let (_rx, addr, _h) = receiver(0).await;
    let text = format!(
        r#"{}
        [smtp]
        smarthost = "127.0.0.1:{port}"
        from = "klaxon <klaxon@example.test>"
        tls = "none"
        username = "klaxon"
        password = "secret-pw"
        [[users]]
        name = "alice"
        contacts = [{{ kind = "email", to = "alice@example.test" }}]
        [[users]]
        name = "bob"
        contacts = [{{ kind = "email", to = "bob@example.test" }}]
        [[escalation_policies]]
        name = "mail"
        [[escalation_policies.levels]]
        notify = ["user:alice"]
        [[escalation_policies.levels]]
        wait = "1s"
        notify = ["user:bob"]
        "#,
        route(&addr.to_string(), "mail")
    );
    let dir = data_dir("page-smtp");
    let r = start(&dir, |c| configure(c, &text)).await;
    fire(&r, "DiskFull", json!({"severity": "critical"})).await;

    let got = poll("both levels' mails", Duration::from_secs(20), || {
        let m = mails(&out);
        (m.len() >= 2).then_some(m)
    })
    .await;
    let text_of = |m: &Value| -> String {
        m["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["type"] == "text/plain")
            .and_then(|p| p["content"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (first, second) = (&got[0], &got[1]);
    assert_eq!(first["rcpt"], json!(["alice@example.test"]), "{first}");
    assert_eq!(first["kind"], "escalated", "{first}");
    let notice = "DiskFull: level 1 of escalation policy mail pages user:alice: escalation started";
    assert_eq!(first["subject"], format!("[ESCALATED] {notice}"), "{first}");
    assert!(
        text_of(first).contains(&format!("NOTICE: {notice}")),
        "{first}"
    );
    assert_eq!(second["rcpt"], json!(["bob@example.test"]), "{second}");
    let notice =
        "DiskFull: level 2 of escalation policy mail pages user:bob: nobody acknowledged within 1s";
    assert_eq!(
        second["subject"],
        format!("[ESCALATED] {notice}"),
        "{second}"
    );
    assert!(
        text_of(second).contains(&format!("NOTICE: {notice}")),
        "{second}"
    );
    // Both delivered, and nothing more: the policy has two levels and no repeat.
    let d = r.delivered("email", 2).await;
    assert_eq!(d["sent"], 2, "{d}");
    assert_eq!(mails(&out).len(), 2);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_contacts_are_paged_to_their_own_targets_through_the_paging_webhook() {
    let (rx, addr, _h) = receiver(0).await;
    let text = format!(
        r##"{}
        [paging]
        slack_url = "http://{addr}/slack"
        [[users]]
        name = "carol"
        contacts = [{{ kind = "slack", target = "#db-oncall" }}]
        [[users]]
        name = "dave"
        contacts = [{{ kind = "slack", target = "@dave" }}]
        [[teams]]
        name = "db"
        members = ["carol", "dave"]
        [[escalation_policies]]
        name = "chat"
        [[escalation_policies.levels]]
        notify = ["team:db"]
        [[escalation_policies.levels]]
        wait = "1s"
        notify = ["user:dave"]
        "##,
        route(&addr.to_string(), "chat")
    );
    let dir = data_dir("page-slack");
    let r = start(&dir, |c| configure(c, &text)).await;
    fire(&r, "DiskFull", json!({"severity": "critical"})).await;

    let got = rx.until(|g| on(g, "/slack").len() >= 3).await;
    let posts = on(&got, "/slack");
    assert_eq!(posts.len(), 3, "{got:#?}");
    let to = |channel: &str, level: usize| -> Value {
        posts
            .iter()
            .map(|g| g.body.clone())
            .find(|b| {
                b["channel"] == channel
                    && b["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(&format!("level {level} ")))
            })
            .unwrap_or_else(|| panic!("no level {level} page to {channel}: {posts:#?}"))
    };
    let expect = [
        ("#db-oncall", 1, "DiskFull: level 1 of escalation policy chat pages team:db (carol): escalation started"),
        ("@dave", 1, "DiskFull: level 1 of escalation policy chat pages team:db (dave): escalation started"),
        ("@dave", 2, "DiskFull: level 2 of escalation policy chat pages user:dave: nobody acknowledged within 1s"),
    ];
    for (channel, level, notice) in expect {
        let b = to(channel, level);
        assert_eq!(b["text"], format!("[ESCALATED] {notice}"), "{b}");
        // The message itself says it too, in its first section.
        let sections = b["attachments"][0]["blocks"].to_string();
        assert!(
            sections.contains(&format!("*Notice:* {notice}")),
            "{channel}: {b}"
        );
    }
    assert!(posts.iter().all(|g| g.status == 200));
    let d = r.delivered("slack", 3).await;
    assert_eq!(d["sent"], 3, "{d}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_contacts_are_paged_as_events_v2_triggers_through_the_paging_url() {
    let (rx, addr, _h) = receiver(0).await;
    // The first event is refused: the page is sent again, the same event.
    *rx.script.lock().unwrap() = vec![Act::Fail503];
    let text = format!(
        r#"{}
        [paging]
        pagerduty_url = "http://{addr}/hook"
        [[users]]
        name = "erin"
        contacts = [{{ kind = "pagerduty", routing_key = "erin-routing-key-0001" }}]
        [[users]]
        name = "frank"
        contacts = [{{ kind = "pagerduty", routing_key = "frank-routing-key-0002" }}]
        [[escalation_policies]]
        name = "pd"
        [[escalation_policies.levels]]
        notify = ["user:erin"]
        [[escalation_policies.levels]]
        wait = "1s"
        notify = ["user:frank"]
        "#,
        route(&addr.to_string(), "pd")
    );
    let dir = data_dir("page-pagerduty");
    let r = start(&dir, |c| configure(c, &text)).await;
    let id = fire(&r, "DiskFull", json!({"severity": "critical"})).await;

    let events_of = |got: &[Got], key: &str| -> Vec<Got> {
        on(got, "/hook")
            .into_iter()
            .filter(|g| g.body["routing_key"] == key)
            .collect()
    };
    let got = rx
        .until(|g| {
            events_of(g, "erin-routing-key-0001").len() >= 2
                && !events_of(g, "frank-routing-key-0002").is_empty()
        })
        .await;
    let erin = events_of(&got, "erin-routing-key-0001");
    assert_eq!(erin.len(), 2, "refused once, then accepted: {got:#?}");
    assert_eq!(
        erin.iter().map(|g| g.status).collect::<Vec<_>>(),
        [503, 200]
    );
    assert_eq!(erin[0].raw, erin[1].raw, "the same event again");
    let e = &erin[1].body;
    assert_eq!(e["event_action"], "trigger", "{e}");
    assert!(
        e["dedup_key"].as_str().is_some_and(|k| !k.is_empty()),
        "{e}"
    );
    assert_eq!(
        e["payload"]["summary"],
        "DiskFull: level 1 of escalation policy pd pages user:erin: escalation started",
        "{e}"
    );
    assert_eq!(e["payload"]["severity"], "critical", "{e}");
    assert_eq!(e["payload"]["custom_details"]["klaxon_id"], id, "{e}");

    let frank = events_of(&got, "frank-routing-key-0002");
    assert_eq!(frank.len(), 1, "{got:#?}");
    let e = &frank[0].body;
    assert_eq!(e["event_action"], "trigger", "{e}");
    assert_eq!(
        e["payload"]["summary"],
        "DiskFull: level 2 of escalation policy pd pages user:frank: nobody acknowledged within 1s",
        "{e}"
    );
    let d = r.delivered("pagerduty", 2).await;
    assert_eq!(d["sent"], 2, "{d}");
    r.stop().await;
}
