//! The SLA and escalation page in the browser: a breach made in the test is counted and listed
//! with a link to its alert, and the escalation it started shows under its policy.

use std::time::Duration;

use serde_json::json;

use super::driver::browser;
use crate::escalation::{configure, fire};
use crate::harness::receiver::receiver;
use crate::harness::{data_dir, serve, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sla_page_shows_a_breach_and_the_escalation_it_started() {
    let (_rx, addr, _h) = receiver(0).await;
    let dir = data_dir("browser-sla");
    let addr = addr.to_string();
    let r = serve(&dir, |c| configure(c, &addr)).await;
    let Some(b) = browser("sla").await else {
        return;
    };
    // A high alert must be acknowledged within 1 s: this one is not.
    let late = fire(&r, "Late", json!({"severity": "high", "team": "db"})).await;
    r.until("/alerts/sla/dashboard", |d| d["breaches"]["told"] == 1)
        .await;
    r.until("/alerts/metrics/escalation", |e| {
        e["pages"].as_u64() >= Some(1)
    })
    .await;

    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{}/#/sla", r.addr())).await;
    let text = b
        .until(
            "the SLA page",
            "const m = document.querySelector('main'); return m.querySelector('[data-loaded]') && m.querySelector('svg') && m.innerText",
            Duration::from_secs(10),
        )
        .await;
    let text = text.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("Breaches told\n1"), "{text}");
    assert!(text.contains("acknowledge within 1 s"), "{text}");
    let link = b
        .js(
            &format!("return !!document.querySelector('main a[href=\"#/alerts/{late}\"]')"),
            json!([]),
        )
        .await;
    assert_eq!(link, json!(true), "the breach links to its alert: {text}");
    let policy = b
        .js(
            "return document.querySelector('main tr[data-policy=\"critical\"]')?.innerText",
            json!([]),
        )
        .await;
    assert!(
        policy.as_str().is_some_and(|p| p.contains("level 1: 1")),
        "{policy}"
    );
    let team = b
        .js(
            "return document.querySelector('main tr[data-key=\"db\"]')?.innerText",
            json!([]),
        )
        .await;
    assert!(team.as_str().is_some_and(|t| t.contains("0.0 %")), "{team}");
    b.screenshot("sla").await;
    r.stop().await;
}
