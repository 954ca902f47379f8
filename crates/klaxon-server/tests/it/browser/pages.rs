//! Every page of the dashboard read as a person reads it, at desktop and at phone width, over a
//! server holding what a real one holds (event and threshold rules, alerts in every open state
//! with look-alike labels, notifications, notes, silences): no word broken in the middle in a
//! table header, a button, a badge or a chip; no badge cut by its cell; nothing scrolls
//! sideways on a phone. With `KLAXON_SCREENSHOTS=DIR` each page is saved there as a PNG.
//! Beside them, what the pages say: the feed shows what happened before the page opened, a
//! threshold alert goes by its rule's name, two alerts of one name show the label that tells
//! them apart, the silence preview shows each alert's own severity.

use std::time::Duration;

use serde_json::{json, Value};

use super::driver::browser;
use crate::harness::{self, data_dir, Running, ADMIN};

/// Words (in table headers and cells but the last column's free text, buttons, badges, chips,
/// card labels) that the browser laid out on more than one line, and badges that an
/// ancestor's `overflow` cuts; `[broken, clipped]`.
pub(super) const LAYOUT_FAULTS: &str = r#"
const broken = [];
for (const el of document.querySelectorAll('th, td:not(:last-child), button, .button, .badge, .chip, .card-label')) {
  if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') continue;
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    for (const m of n.data.matchAll(/\S+/g)) {
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const lines = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
      if (lines.size > 1) broken.push(`${el.tagName.toLowerCase()} "${m[0]}"`);
    }
  }
}
const clipped = [];
for (const b of document.querySelectorAll('main .badge')) {
  if (!b.offsetParent) continue;
  const r = b.getBoundingClientRect();
  for (let p = b.parentElement; p && p !== document.body; p = p.parentElement) {
    if (getComputedStyle(p).overflowX === 'visible') continue;
    const q = p.getBoundingClientRect();
    if (r.left < q.left - 0.5 || r.right > q.right + 0.5) {
      clipped.push(`"${b.textContent}" (${Math.round(r.width)}px) in ${p.className || p.tagName}`);
      break;
    }
  }
}
return [broken, clipped];
"#;

/// The innermost elements that reach past the window's right edge (its width without the
/// scroll bar), when the page scrolls sideways.
pub(super) const WIDER_THAN_THE_WINDOW: &str = r#"
const width = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth <= width) return [];
return [...document.querySelectorAll('body *')]
  .filter((el) => el.getBoundingClientRect().right > width + 0.5)
  .filter((el) => ![...el.children].some((c) => c.getBoundingClientRect().right > width + 0.5))
  .slice(0, 8)
  .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)} > ${width}`);
"#;

async fn create(r: &Running, name: &str, severity: &str, labels: Value) -> i64 {
    let body = json!({"name": name, "severity": severity, "labels": labels, "summary": format!("{name} on {}", labels["host"].as_str().unwrap_or("the host"))});
    let (s, v) = r.admin("POST", "/alerts/create", &body.to_string()).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().expect("id")
}

async fn call(r: &Running, method: &str, path: &str, body: Value) -> Value {
    let (s, v) = r.admin(method, path, &body.to_string()).await;
    assert!((200..300).contains(&s), "{method} {path}: {s} {v}");
    v
}

/// A server with what a dashboard shows on a working day; the ids of interesting alerts.
struct Day {
    disk: [i64; 2],
    hot: i64,
}

async fn a_working_day(r: &Running) -> Day {
    let event = |v: &str| {
        json!({"header": {"rule_set": "shop"}, "rules": [
            {"id": "FIRE", "trigger_type": "MARK_EVENT", "action": "FIRE", "condition": {"operator": "ON_EVENT"}, "alert": {"handler": "h", "severity": v}}]})
    };
    for v in ["high", "critical"] {
        call(r, "POST", "/v1/rulesets?author=ops", event(v)).await;
    }
    call(r, "POST", "/v1/rulesets/shop/1/activate", json!({})).await;
    let rooms = json!({"header": {"rule_set": "rooms"}, "rules": [
        {"id": "hot_room", "name": "Hot room", "metric": "room.temp", "threshold": 30,
         "operator": "greater_than", "aggregation": "last", "severity": "HIGH"}]});
    call(r, "POST", "/v1/threshold-rules?group=ops", rooms).await;
    call(
        r,
        "POST",
        "/v1/threshold-rules/rooms/1/activate?group=ops",
        json!({}),
    )
    .await;
    let sample = json!({"kind": "metric", "name": "room.temp", "labels": {"room": "server room"}, "value": 35});
    let (s, v) = r.ndjson("/v1/signals", &format!("{sample}\n")).await;
    assert_eq!(s, 200, "{v}");

    // Two alerts of one name whose first labels agree; only `host` tells them apart.
    let common =
        |host: &str| json!({"app": "shop", "cluster": "eu-1", "env": "production", "host": host});
    let disk = [
        create(r, "DiskFull", "critical", common("db-1")).await,
        create(r, "DiskFull", "critical", common("db-2")).await,
    ];
    let ack = create(
        r,
        "CheckoutLatency",
        "medium",
        json!({"service": "checkout"}),
    )
    .await;
    call(r, "POST", &format!("/alerts/{ack}/acknowledge"), json!({})).await;
    call(
        r,
        "POST",
        &format!("/alerts/{ack}/notes"),
        json!({"text": "looking at the payment provider"}),
    )
    .await;
    let quiet = create(r, "BackupLate", "low", json!({"host": "nas-1"})).await;
    call(
        r,
        "POST",
        &format!("/alerts/{quiet}/suppress"),
        json!({"duration": "2h", "reason": "maintenance"}),
    )
    .await;
    let gone = create(
        r,
        "CertificateExpiring",
        "info",
        json!({"domain": "shop.example.com"}),
    )
    .await;
    call(r, "POST", &format!("/alerts/{gone}/resolve"), json!({})).await;
    let now = klaxon_server::wall_ms();
    let iso = klaxon_engine::timestamp::format_ts;
    let silence = |name: &str, comment: &str| {
        json!({"matchers": [{"name": "alertname", "value": name, "isRegex": false, "isEqual": true}],
               "startsAt": iso(now), "endsAt": iso(now + 3_600_000), "createdBy": "ana", "comment": comment})
    };
    call(
        r,
        "POST",
        "/api/v2/silences",
        silence("NightlyJob", "the nightly job is being rewritten"),
    )
    .await;
    let old = call(
        r,
        "POST",
        "/api/v2/silences",
        silence("Flaky", "flaky probe"),
    )
    .await;
    let old = old["silenceID"].as_str().expect("silence id").to_owned();
    let (s, v) = r
        .admin("DELETE", &format!("/api/v2/silence/{old}"), "")
        .await;
    assert_eq!(s, 200, "{v}");
    let v = r
        .until("/alerts/history?source=threshold", |v| {
            v["alerts"][0]["state"] == "active"
        })
        .await;
    let hot = v["alerts"][0]["id"].as_i64().expect("the threshold alert");
    Day { disk, hot }
}

/// What each page shows once it has loaded.
fn ready(page: &str) -> String {
    let main = "const m = document.querySelector('main'); const t = m.innerText;";
    let cond = match page.split(['/', '?']).next().unwrap_or("") {
        "" => "document.querySelectorAll('.card').length >= 10 && m.querySelectorAll('.feed li').length > 0",
        "alerts" if page.contains("tab=history") => "m.querySelectorAll('tbody tr').length > 0",
        "alerts" if page.contains('/') => "m.querySelector('[data-state]') && t.includes('Timeline')",
        "alerts" => "m.querySelector('[data-ready=\"1\"]') && m.querySelector('.grid-row:not([hidden])')",
        "silences" if page.contains("new") => "m.querySelector('[data-preview-count]')",
        "silences" => "t.includes('Expired')",
        "incidents" if page.contains('/') => "m.querySelector('[data-state]') && m.querySelectorAll('.member-row').length > 0",
        "incidents" => "m.querySelector('.incident-list')?.dataset.loaded && m.querySelector('tbody tr')",
        "rules" => "m.querySelectorAll('section tbody tr').length >= 3",
        "analytics" => "m.querySelectorAll('svg').length > 0 && !t.includes('Loading')",
        "health" => "t.includes('Ready')",
        other => panic!("no readiness for {other}"),
    };
    format!("{main} return !m.querySelector('.loading') && ({cond})")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_reads_well_at_desktop_and_phone_width() {
    let (_rx, raddr, _t) = harness::receiver::receiver(0).await;
    let dir = data_dir("browser-pages");
    let r = harness::serve(&dir, |c| {
        c.collector.enabled = false;
        harness::configure_notify(
            c,
            &format!(
                r#"
                [route]
                receiver = "hook"
                group_wait = "0s"
                [[receivers]]
                name = "hook"
                [[receivers.webhook_configs]]
                url = "http://{raddr}/hook"
                "#
            ),
        );
    })
    .await;
    let Some(b) = browser("pages").await else {
        return;
    };
    let day = a_working_day(&r).await;
    // Notifications recorded, so the alert page has its table of them.
    r.delivered("webhook", 1).await;
    let [disk1, _] = day.disk;
    let hot = day.hot;
    let (_, incidents) = r.admin("GET", "/incidents", "").await;
    let incident = incidents["incidents"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("the day's alerts are in incidents: {incidents}"));
    let pages = [
        String::new(),
        "alerts?tab=open".into(),
        "alerts?tab=history".into(),
        format!("alerts/{disk1}"),
        format!("alerts/{hot}"),
        "incidents".into(),
        format!("incidents/{incident}"),
        "silences".into(),
        "silences/new?m=alertname%3DDiskFull".into(),
        "rules".into(),
        "analytics".into(),
        "health".into(),
    ];
    b.sign_in(&r, ADMIN).await;
    let mut faults = Vec::new();
    for (width, height, tag) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.size(width, height).await;
        for page in &pages {
            b.goto(&format!("http://{}/#/{page}", r.addr())).await;
            b.until(
                &format!("{tag} page {page:?}"),
                &ready(page),
                Duration::from_secs(10),
            )
            .await;
            if page == "rules" {
                // A version's rules, in a table with headers.
                b.js("[...document.querySelectorAll('main button')].find(b => b.textContent === 'Show').click()", json!([]))
                    .await;
                b.until(
                    "the rules of a version",
                    "return document.querySelector('main section h3')",
                    Duration::from_secs(5),
                )
                .await;
            }
            let v = b.js(LAYOUT_FAULTS, json!([])).await;
            for (what, list) in [("broken words", &v[0]), ("clipped badges", &v[1])] {
                if list.as_array().is_some_and(|l| !l.is_empty()) {
                    faults.push(format!("{tag} #/{page}: {what}: {list}"));
                }
            }
            let wide = b.js(WIDER_THAN_THE_WINDOW, json!([])).await;
            if wide.as_array().is_some_and(|w| !w.is_empty()) {
                faults.push(format!("{tag} #/{page}: wider than the window: {wide}"));
            }
            b.screenshot_page(&format!(
                "page-{tag}-{}",
                if page.is_empty() { "overview" } else { page }
            ))
            .await;
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
    r.stop().await;
}

/// What the pages say about the alerts of a working day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_tell_alerts_apart_and_name_them_as_their_rules_do() {
    let dir = data_dir("browser-words");
    let r = harness::serve(&dir, |c| c.collector.enabled = false).await;
    let Some(b) = browser("words").await else {
        return;
    };
    let day = a_working_day(&r).await;
    b.sign_in(&r, ADMIN).await;
    let addr = r.addr();

    // The feed shows what happened before the page was opened, newest first.
    let feed = b
        .until(
            "the feed of earlier changes",
            "const f = [...document.querySelectorAll('.feed li')].map(li => li.innerText); return f.length >= 5 && f",
            Duration::from_secs(10),
        )
        .await;
    let feed_text = feed.to_string();
    for what in [
        "DiskFull",
        "CheckoutLatency",
        "acknowledged",
        "resolved",
        "Hot room",
    ] {
        assert!(feed_text.contains(what), "the feed tells of {what}: {feed}");
    }

    // A threshold alert goes by its rule's name, in the table and on its page.
    b.goto(&format!("http://{addr}/#/alerts")).await;
    b.until(
        "the open table",
        "return document.querySelector('main [data-ready=\"1\"]') && document.querySelector('.grid-row:not([hidden])')",
        Duration::from_secs(10),
    )
    .await;
    b.until(
        "the threshold alert's row under its rule's name, not its id",
        &format!("return document.querySelector('.grid-row[data-id=\"{}\"] .cell-name strong')?.textContent === 'Hot room'", day.hot),
        Duration::from_secs(5),
    )
    .await;

    // Two alerts of one name show the label that tells them apart.
    let labels = b
        .js(
            "return [...document.querySelectorAll('.grid-row:not([hidden])')].filter(r => r.querySelector('.cell-name strong').textContent === 'DiskFull').map(r => r.querySelector('.cell-labels').textContent)",
            json!([]),
        )
        .await;
    let labels: Vec<&str> = labels
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert_ne!(
        labels[0], labels[1],
        "two alerts of one name look different"
    );
    for (text, host) in labels.iter().zip(["host=db-", "host=db-"]) {
        assert!(
            text.starts_with(host),
            "the label that differs comes first: {labels:?}"
        );
    }

    b.goto(&format!("http://{addr}/#/alerts/{}", day.hot)).await;
    let h1 = b
        .until(
            "the threshold alert's page",
            "return document.querySelector('main [data-state]') && document.querySelector('main h1')?.textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(h1, "Hot room");
    let text = b
        .js("return document.querySelector('main').innerText", json!([]))
        .await;
    assert!(
        text.as_str().is_some_and(|t| t.contains("hot_room")),
        "its rule id is among the details: {text}"
    );

    // The rules page marks the active version with a word of its own.
    b.goto(&format!("http://{addr}/#/rules")).await;
    let active = b
        .until(
            "the active version",
            "return document.querySelector('main tbody tr.selected td')?.innerText",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(active, "v1 active");

    // The silence preview shows each alert's own severity and no empty values.
    b.goto(&format!(
        "http://{addr}/#/silences/new?m=alertname%3DDiskFull"
    ))
    .await;
    let preview = b
        .until(
            "the preview",
            "const p = document.querySelector('[data-preview-count=\"2\"]')?.parentElement; return p && [[...p.querySelectorAll('li .badge')].map(b => b.textContent), p.innerText]",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(preview[0], json!(["critical", "critical"]), "{preview}");
    let shown = preview[1].as_str().unwrap_or_default();
    assert!(
        !shown.contains("null") && !shown.contains("undefined"),
        "{shown}"
    );
    assert!(
        shown.contains("host=db-1") && shown.contains("host=db-2"),
        "{shown}"
    );
    r.stop().await;
}
