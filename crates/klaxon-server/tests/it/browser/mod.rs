//! The dashboard in a real browser: Debian's Chromium driven by chromedriver over the
//! WebDriver protocol (`driver`). Signs in, sees an alert fired through the API appear within
//! a second, acknowledges it with a click and sees the state change in the API and on a
//! second open page, and renders at phone width.
//!
//! Without chromium and chromedriver the tests print `skipped: ...` and pass, unless
//! `KLAXON_REQUIRE_PEERS=1` (CI), where they fail. The measurements of BENCHMARKS.md (time to
//! interactive with 10,000 open alerts, memory over a long stream) are `benches/dashboard.rs`.

pub(crate) mod driver;
mod incidents;
mod pages;
mod people;
mod policies;
mod sla;

use std::time::{Duration, Instant};

use klaxon_store::Store;
use serde_json::json;

use crate::harness::{self, data_dir, serve, Running, ADMIN};
use driver::browser;

async fn create(r: &Running, name: &str, severity: &str) -> i64 {
    let (s, v) = r
        .admin(
            "POST",
            "/alerts/create",
            &json!({"name": name, "severity": severity, "labels": {"service": "checkout"}, "summary": format!("{name} is failing")}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().expect("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_alert_appears_and_an_acknowledgement_reaches_the_api_and_another_page() {
    let dir = data_dir("browser-live");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("live").await else {
        return;
    };
    create(&r, "Warmup", "low").await;
    b.sign_in(&r, ADMIN).await;
    b.screenshot("overview").await;

    // An alert fired through the API appears in the open table within a second.
    b.goto(&format!("http://{}/#/alerts", r.addr())).await;
    b.until(
        "the open alerts table",
        "return document.querySelector('main [data-ready=\"1\"]') && document.querySelector('.grid-row:not([hidden])')",
        Duration::from_secs(10),
    )
    .await;
    let t0 = Instant::now();
    let id = create(&r, "CheckoutDown", "critical").await;
    b.until(
        "the new alert's row",
        &format!("return document.querySelector('.grid-row[data-id=\"{id}\"]:not([hidden])')?.innerText.includes('CheckoutDown')"),
        Duration::from_secs(5),
    )
    .await;
    let seen = t0.elapsed();
    println!("a fired alert appeared on screen after {seen:?}");
    assert!(seen < Duration::from_secs(1), "took {seen:?}");
    b.screenshot("alerts").await;

    // A second page watches the alert.
    let first = b.window().await;
    let second = b.new_window().await;
    b.switch(&second).await;
    b.goto(&format!("http://{}/#/alerts/{id}", r.addr())).await;
    b.until(
        "the detail page on the second window",
        "return document.querySelector('main [data-state=\"active\"]')",
        Duration::from_secs(10),
    )
    .await;

    // The first page opens the alert from its row and acknowledges it.
    b.switch(&first).await;
    b.click(&format!(".grid-row[data-id=\"{id}\"] .cell-name"))
        .await;
    b.until(
        "the detail page",
        "return [...document.querySelectorAll('main button')].find(b => b.textContent === 'Acknowledge' && !b.disabled)",
        Duration::from_secs(10),
    )
    .await;
    b.js(
        "[...document.querySelectorAll('main button')].find(b => b.textContent === 'Acknowledge').click()",
        json!([]),
    )
    .await;
    let v = r
        .until(&format!("/alerts/{id}"), |v| v["state"] == "acknowledged")
        .await;
    assert_eq!(v["state"], "acknowledged", "the click reached the API: {v}");
    assert!(
        v["acknowledged_by"]
            .as_str()
            .is_some_and(|a| a.starts_with("config-admin")),
        "{v}"
    );
    b.until(
        "the acknowledged state on the first page",
        "return document.querySelector('main [data-state=\"acknowledged\"]')",
        Duration::from_secs(5),
    )
    .await;
    b.switch(&second).await;
    let t0 = Instant::now();
    b.until(
        "the acknowledged state on the second page, live",
        "return document.querySelector('main [data-state=\"acknowledged\"]') && document.body.innerText.includes('active → acknowledged')",
        Duration::from_secs(5),
    )
    .await;
    println!(
        "the second page showed the acknowledgement {:?} after the API did",
        t0.elapsed()
    );
    b.screenshot("detail").await;

    // A note typed on the alert's page reaches the API, and the box is emptied for the next.
    b.type_into("main textarea", "restarted the checkout pods")
        .await;
    b.js(
        "[...document.querySelectorAll('main button')].find(b => b.textContent === 'Add note').click()",
        json!([]),
    )
    .await;
    let v = r
        .until(&format!("/alerts/{id}"), |v| {
            v["notes"].as_array().is_some_and(|n| !n.is_empty())
        })
        .await;
    assert_eq!(v["notes"][0]["text"], "restarted the checkout pods", "{v}");
    b.until(
        "the emptied note box",
        "return document.querySelector('main textarea').value === ''",
        Duration::from_secs(5),
    )
    .await;
    r.stop().await;
}

/// Signs in on the sign-in form the page shows now (whatever address it was opened at).
async fn sign_in_here(b: &driver::Browser, token: &str) {
    b.until(
        "the sign-in form",
        "return !document.getElementById('signin').hidden",
        Duration::from_secs(10),
    )
    .await;
    b.type_into("#token", token).await;
    b.click("#signin-form button[type=submit]").await;
}

/// The link a notification carries opens the alert's page on the dashboard at
/// `[server] external_url`: signed out, the page asks for a token and then shows that alert.
/// The alert's API address, opened in a browser, does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_link_opened_signed_out_shows_the_alert_after_sign_in() {
    let (rx, raddr, _t) = harness::receiver::receiver(0).await;
    let port = harness::free_port();
    // Another name of this host than the listen address, so the link can only come from it.
    let external = format!("http://localhost:{port}");
    let dir = data_dir("browser-link");
    let r = harness::serve_at(&dir, &format!("127.0.0.1:{port}"), |c| {
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
        c.server.external_url = Some(format!("{external}/"));
    })
    .await;
    let Some(b) = browser("link").await else {
        return;
    };
    let id = create(&r, "CheckoutDown", "critical").await;
    let got = rx.until(|g| g.iter().any(|g| g.path == "/hook")).await;
    let hook = got.iter().find(|g| g.path == "/hook").expect("the webhook");
    let link = hook.body["alerts"][0]["generatorURL"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(link, format!("{external}/#/alerts/{id}"), "{}", hook.body);

    let shows_the_alert = format!(
        "return location.pathname === '/' && location.hash === '#/alerts/{id}' && document.querySelector('main h1')?.textContent === 'CheckoutDown' && document.querySelector('main [data-state=\"active\"]')"
    );
    b.goto(&link).await;
    sign_in_here(&b, ADMIN).await;
    b.until(
        "the alert after sign-in",
        &shows_the_alert,
        Duration::from_secs(10),
    )
    .await;

    // The API's address of the alert, as older notifications linked it, signed out too.
    b.click("#signout").await;
    b.goto(&format!("{external}/alerts/{id}")).await;
    sign_in_here(&b, ADMIN).await;
    b.until(
        "the alert opened at its API address",
        &shows_the_alert,
        Duration::from_secs(10),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_width_fits_without_sideways_scrolling() {
    let dir = data_dir("browser-phone");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("phone").await else {
        return;
    };
    for i in 0..30 {
        create(
            &r,
            &format!("Phone{i}"),
            ["critical", "high", "medium"][i % 3],
        )
        .await;
    }
    b.size(390, 844).await;
    b.sign_in(&r, ADMIN).await;
    for page in [
        "",
        "alerts",
        "alerts/1",
        "rules",
        "analytics",
        "health",
        "silences",
    ] {
        b.goto(&format!("http://{}/#/{page}", r.addr())).await;
        b.until(
            &format!("page {page:?}"),
            &format!("return document.querySelector('main').dataset.page === '{}' && !document.querySelector('main .loading')", if page.is_empty() { "overview" } else { page.split('/').next().unwrap_or(page) }),
            Duration::from_secs(10),
        )
        .await;
        let overflow = b
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                json!([]),
            )
            .await;
        let (w, inner) = (
            overflow[0].as_i64().unwrap_or(0),
            overflow[1].as_i64().unwrap_or(0),
        );
        assert!(inner <= 400, "a phone-sized window: {overflow}");
        assert!(
            w <= inner,
            "page {page:?} scrolls sideways at phone width: {overflow}"
        );
        b.screenshot(&format!(
            "phone-{}",
            if page.is_empty() { "overview" } else { page }
        ))
        .await;
    }
    // The new-silence form previews, in the browser, the open alerts its matchers catch.
    b.goto(&format!(
        "http://{}/#/silences/new?m=alertname%3DPhone1&m=service%3D~check.*",
        r.addr()
    ))
    .await;
    b.until(
        "the silence preview",
        "return document.querySelector('[data-preview-count=\"1\"]')",
        Duration::from_secs(10),
    )
    .await;
    let w = b
        .js(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            json!([]),
        )
        .await;
    assert_eq!(w, true, "the silence form fits a phone");
    b.screenshot("phone-silence-new").await;
    // The menu replaces the side navigation and opens with the keyboard-reachable button.
    let nav = b
        .js(
            "return getComputedStyle(document.getElementById('nav')).display",
            json!([]),
        )
        .await;
    assert_eq!(nav, "none", "the navigation folds away at phone width");
    b.click("#menu").await;
    b.until(
        "the opened menu",
        "return getComputedStyle(document.getElementById('nav')).display !== 'none' && document.getElementById('menu').getAttribute('aria-expanded') === 'true'",
        Duration::from_secs(2),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_stream_is_shown_and_resumes_with_the_last_event_id() {
    let dir = data_dir("browser-reconnect");
    let r = serve(&dir, |_| {}).await;
    let addr = r.addr();
    let Some(b) = browser("reconnect").await else {
        return;
    };
    create(&r, "BeforeRestart", "high").await;
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{addr}/#/alerts")).await;
    b.until(
        "the table",
        "return document.querySelector('main [data-ready=\"1\"]')",
        Duration::from_secs(10),
    )
    .await;
    // One change, so the browser holds an event id of this server run.
    let id = create(&r, "SeenLive", "medium").await;
    b.until(
        "the live row",
        &format!("return document.querySelector('.grid-row[data-id=\"{id}\"]:not([hidden])')"),
        Duration::from_secs(5),
    )
    .await;

    r.stop().await;
    let shown = b
        .until(
            "the disconnection banner",
            "const el = document.getElementById('banner'); return !el.hidden && document.getElementById('conn').textContent + ' / ' + el.textContent",
            Duration::from_secs(10),
        )
        .await;
    println!("while the server is down the page shows: {shown}");
    assert!(
        shown
            .as_str()
            .is_some_and(|s| s.contains("Disconnected") && s.contains("Reconnecting")),
        "{shown}"
    );
    b.screenshot("disconnected").await;

    // The same server comes back (same data, new run): the browser reconnects by itself with
    // its Last-Event-ID, the server sees an id of the earlier run and sends `reset`, the page
    // reloads its data, and the banner goes.
    let r = harness::serve_at(&dir, &addr.to_string(), |_| {}).await;
    b.until(
        "the reconnection",
        "return document.getElementById('banner').hidden && document.getElementById('conn').dataset.state === 'live' && document.body.dataset.lastResync === 'reset'",
        Duration::from_secs(15),
    )
    .await;
    let after = create(&r, "AfterRestart", "critical").await;
    b.until(
        "an alert of the new run, live",
        &format!("return document.querySelector('.grid-row[data-id=\"{after}\"]:not([hidden])') && document.querySelector('.grid-row[data-id=\"{id}\"]')"),
        Duration::from_secs(5),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_search_and_bulk_resolve_of_twenty_and_a_viewer_cannot_act() {
    let dir = data_dir("browser-bulk");
    let r = serve(&dir, |_| {}).await;
    let viewer = "viewer-token-for-the-browser";
    r.store
        .insert_token(
            "vic",
            klaxon_store::Role::Viewer,
            &klaxon_server::hash_token(viewer),
            0,
        )
        .await
        .expect("token");
    let Some(b) = browser("bulk").await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(create(&r, &format!("Noisy{i}"), "medium").await);
    }
    let keep = create(&r, "Quiet", "high").await;
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{}/#/alerts", r.addr())).await;
    b.until(
        "the table",
        "return document.querySelector('main [data-ready=\"1\"]')",
        Duration::from_secs(10),
    )
    .await;
    b.type_into("[data-search]", "noisy").await;
    b.until(
        "twenty rows for the search",
        "return document.querySelector('.count').textContent.startsWith('20 shown')",
        Duration::from_secs(5),
    )
    .await;
    b.click(".grid-head input[type=checkbox]").await;
    b.until(
        "twenty selected",
        "return document.querySelector('.bulk:not([hidden])')?.textContent.includes('20 selected')",
        Duration::from_secs(5),
    )
    .await;
    b.js(
        "[...document.querySelectorAll('.bulk button')].find(b => b.textContent === 'Resolve').click()",
        json!([]),
    )
    .await;
    b.until(
        "the bulk result",
        "return document.getElementById('toasts').textContent.includes('20 resolved')",
        Duration::from_secs(10),
    )
    .await;
    let v = r
        .until("/alerts/summary", |v| v["by_state"]["resolved"] == 20)
        .await;
    assert_eq!(v["by_state"]["resolved"], 20, "{v}");
    for id in &ids {
        let (_, a) = r.admin("GET", &format!("/alerts/{id}"), "").await;
        assert_eq!(a["state"], "resolved", "{a}");
    }
    b.until(
        "the resolved alerts leave the open table",
        "return document.querySelector('.count').textContent.startsWith('0 shown of 1 open')",
        Duration::from_secs(5),
    )
    .await;

    // Keyboard: clear the search, move down the table and open the alert with Enter.
    b.js("const s = document.querySelector('[data-search]'); s.value = ''; s.dispatchEvent(new Event('input'))", json!([]))
        .await;
    b.until(
        "the full table again",
        "return document.querySelector('.count').textContent.startsWith('1 shown')",
        Duration::from_secs(5),
    )
    .await;
    let list = b.find(".vlist").await;
    // Home, then Enter.
    b.cmd(
        "POST",
        &format!("/element/{list}/value"),
        json!({"text": "\u{E011}\u{E007}"}),
    )
    .await;
    b.until(
        "the alert opened by keyboard",
        &format!("return location.hash === '#/alerts/{keep}' && document.querySelector('main h1')?.textContent === 'Quiet'"),
        Duration::from_secs(5),
    )
    .await;

    // A viewer sees the same page with every action disabled, and the reason.
    b.click("#signout").await;
    b.until(
        "the sign-in form after sign-out",
        "return !document.getElementById('signin').hidden",
        Duration::from_secs(5),
    )
    .await;
    b.type_into("#token", viewer).await;
    b.click("#signin-form button[type=submit]").await;
    b.until(
        "the viewer on the alert page",
        "return document.getElementById('who').textContent.includes('viewer') && document.querySelector('main h1')?.textContent === 'Quiet'",
        Duration::from_secs(10),
    )
    .await;
    let buttons = b
        .js("return [...document.querySelectorAll('main .actions button')].map(b => [b.textContent, b.disabled])", json!([]))
        .await;
    let all = buttons.as_array().expect("buttons");
    assert!(
        !all.is_empty() && all.iter().all(|x| x[1] == true),
        "{buttons}"
    );
    let text = b
        .js("return document.querySelector('main').innerText", json!([]))
        .await;
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("you can read, not act")),
        "{text}"
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_diff_and_matcher_logic_in_the_browser() {
    let dir = data_dir("browser-modules");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("modules").await else {
        return;
    };
    b.goto(&format!("http://{}/", r.addr())).await;
    let script = r#"
        const done = arguments[arguments.length - 1];
        Promise.all([import('/ui/assets/diff.js'), import('/ui/assets/matcher.js')]).then(([d, m]) => {
          const ops = d.lineDiff("a\nb\nc\nd", "a\nx\nc\nd\ne").map(o => o.op + o.text);
          const rules = d.ruleDiff(
            {rules: [{id: "A", v: 1}, {id: "B", v: 1}, {id: "C", x: {p: 1, q: 2}}]},
            {rules: [{id: "B", v: 2}, {id: "C", x: {q: 2, p: 1}}, {id: "D"}]});
          const ctx = d.withContext(d.lineDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10", "1\n2\n3\n4\n5\nX\n7\n8\n9\n10"), 1).map(o => o.op === "…" ? "…" + o.count : o.op + o.text);
          const labels = {alertname: "DiskFull", env: "production", host: "web-1"};
          const hit = (ms) => m.matches(m.compile(ms), labels);
          let invalid = "";
          try { m.compile([{name: "x", value: "(", isRegex: true, isEqual: true}]); } catch (e) { invalid = e.message; }
          done({
            ops, rules, ctx, invalid,
            eq: hit([{name: "alertname", value: "DiskFull", isRegex: false, isEqual: true}]),
            anchored: hit([{name: "env", value: "prod", isRegex: true, isEqual: true}]),
            regex: hit([{name: "env", value: "prod.*", isRegex: true, isEqual: true}]),
            notEqual: hit([{name: "host", value: "web-1", isRegex: false, isEqual: false}]),
            missingIsEmpty: hit([{name: "team", value: "", isRegex: false, isEqual: true}]),
            all: hit([{name: "alertname", value: "DiskFull", isRegex: false, isEqual: true}, {name: "host", value: "web-2", isRegex: false, isEqual: true}]),
            show: m.show({name: "env", value: "prod.*", isRegex: true, isEqual: false}),
          });
        });"#;
    let v = b
        .cmd(
            "POST",
            "/execute/async",
            json!({"script": script, "args": []}),
        )
        .await;
    assert_eq!(v["ops"], json!([" a", "-b", "+x", " c", " d", "+e"]), "{v}");
    assert_eq!(
        v["rules"],
        json!({"added": ["D"], "removed": ["A"], "changed": ["B"]}),
        "key order is not a change: {v}"
    );
    assert_eq!(v["ctx"], json!(["…4", " 5", "-6", "+X", " 7", "…3"]), "{v}");
    assert!(
        v["invalid"]
            .as_str()
            .is_some_and(|m| m.contains("matcher 1 (x)")),
        "{v}"
    );
    assert_eq!(v["eq"], true);
    assert_eq!(
        v["anchored"], false,
        "Alertmanager anchors regexes: prod does not match production"
    );
    assert_eq!(v["regex"], true);
    assert_eq!(v["notEqual"], false);
    assert_eq!(
        v["missingIsEmpty"], true,
        "a missing label is the empty string"
    );
    assert_eq!(v["all"], false, "every matcher must hold");
    assert_eq!(v["show"], "env!~\"prod.*\"");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_finds_an_old_resolved_alert() {
    let dir = data_dir("browser-history");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("history").await else {
        return;
    };
    let old = create(&r, "PaymentGatewayTimeout", "high").await;
    let (s, _) = r.admin("POST", &format!("/alerts/{old}/resolve"), "").await;
    assert_eq!(s, 200);
    for i in 0..30 {
        create(&r, &format!("Other{i}"), "low").await;
    }
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{}/#/alerts?tab=history", r.addr()))
        .await;
    b.until(
        "the history tab",
        "return document.querySelector('#tab-history[aria-selected=\"true\"]') && document.querySelectorAll('main tbody tr').length > 0",
        Duration::from_secs(10),
    )
    .await;
    b.type_into("main form[role=search] input[name=q]", "gateway")
        .await;
    b.click("#hs-resolved").await;
    b.click("main form[role=search] button[type=submit]").await;
    let rows = b
        .until(
            "the search result",
            "const rows = [...document.querySelectorAll('main tbody tr')]; return rows.length === 1 && rows[0].innerText",
            Duration::from_secs(5),
        )
        .await;
    let text = rows.as_str().unwrap_or("");
    assert!(
        text.contains("PaymentGatewayTimeout") && text.contains("resolved"),
        "{text}"
    );
    b.click("main tbody tr a").await;
    b.until(
        "the old alert's page",
        &format!("return location.hash === '#/alerts/{old}' && document.querySelector('main [data-state=\"resolved\"]')"),
        Duration::from_secs(5),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_show_validate_diff_and_activate_versions() {
    let dir = data_dir("browser-rules");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("rules").await else {
        return;
    };
    let v1 = r#"{"header":{"rule_set":"shop"},"rules":[
      {"id":"FIRE","trigger_type":"MARK_EVENT","action":"FIRE","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h","severity":"high"}},
      {"id":"OLD","trigger_type":"MARK_EVENT","action":"OLD","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h"}}]}"#;
    let v2 = r#"{"header":{"rule_set":"shop"},"rules":[
      {"id":"FIRE","trigger_type":"MARK_EVENT","action":"FIRE","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h","severity":"critical"}},
      {"id":"NEW","trigger_type":"MARK_EVENT","action":"NEW","condition":{"operator":"ON_EVENT"},"alert":{"handler":"h"}}]}"#;
    for doc in [v1, v2] {
        let (s, v) = r.admin("POST", "/v1/rulesets?author=ops", doc).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, _) = r.admin("POST", "/v1/rulesets/shop/1/activate", "").await;
    assert_eq!(s, 200);
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{}/#/rules", r.addr())).await;
    b.until(
        "the two versions",
        "return document.querySelectorAll('main section tbody tr').length === 2",
        Duration::from_secs(10),
    )
    .await;
    let click = |label: &'static str, nth: usize| {
        format!("[...document.querySelectorAll('main button')].filter(b => b.textContent === '{label}')[{nth}].click()")
    };
    b.js(&click("Diff", 0), json!([])).await;
    let diff = b
        .until(
            "the diff",
            "const d = document.querySelector('.diff-summary'); return d && d.innerText",
            Duration::from_secs(5),
        )
        .await;
    let diff = diff.as_str().unwrap_or("");
    assert!(
        diff.contains("Added rules: NEW")
            && diff.contains("Removed rules: OLD")
            && diff.contains("Changed rules: FIRE"),
        "{diff}"
    );
    let lines = b
        .js("return [...document.querySelectorAll('.diff .add, .diff .del')].map(e => e.textContent)", json!([]))
        .await;
    assert!(
        lines
            .to_string()
            .contains("\\\"severity\\\": \\\"critical\\\""),
        "{lines}"
    );
    b.js(&click("Validate", 0), json!([])).await;
    b.until(
        "the validation of v2",
        "return document.querySelector('main').innerText.includes('Valid: 2 rules')",
        Duration::from_secs(5),
    )
    .await;
    // Activate v2; the page asks first.
    b.js(&click("Activate", 0), json!([])).await;
    b.cmd("POST", "/alert/accept", json!({})).await;
    let v = r
        .until("/v1/rulesets", |v| v["active"]["default"]["version"] == 2)
        .await;
    assert_eq!(v["active"]["default"]["version"], 2, "{v}");
    b.until(
        "v2 marked active",
        "return document.querySelector('main tbody tr.selected')?.innerText.startsWith('v2')",
        Duration::from_secs(5),
    )
    .await;
    // A pasted document with errors lists each one.
    b.type_into(
        "#rules-check",
        r#"{"header":{"rule_set":"x"},"rules":[{"id":"A","trigger_type":"NOPE"}]}"#,
    )
    .await;
    b.js(&click("Validate", 2), json!([])).await;
    b.until(
        "the validation errors",
        "return document.querySelector('main .failure')?.innerText.includes('Invalid')",
        Duration::from_secs(5),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_charts_and_live_health() {
    let dir = data_dir("browser-analytics");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("analytics").await else {
        return;
    };
    for i in 0..12 {
        let id = create(
            &r,
            ["Noisy", "Noisy", "Rare"][i % 3],
            ["critical", "low"][i % 2],
        )
        .await;
        if i % 4 == 0 {
            r.admin("POST", &format!("/alerts/{id}/acknowledge"), "")
                .await;
        }
    }
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{}/#/analytics", r.addr())).await;
    let v = b
        .until(
            "the charts",
            "const bars = document.querySelectorAll('main svg rect[class^=\"fill-\"]').length; const rules = [...document.querySelectorAll('.hbar-label')].map(e => e.textContent); const lines = document.querySelectorAll('main svg path.stroke-accent').length; return bars && rules.length && lines && [bars, rules]",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(v[1], json!(["Noisy", "Rare"]), "noisiest rules first: {v}");
    // The delivery panel loads on its own: a server that sent no notifications says so.
    b.until(
        "the delivery panel of a server that sent nothing",
        "return document.querySelector('main').innerText.includes('No notifications were sent')",
        Duration::from_secs(10),
    )
    .await;
    b.goto(&format!("http://{}/#/health", r.addr())).await;
    b.until(
        "live health figures",
        "const t = document.querySelector('main').innerText; return t.includes('Ready') && t.includes('Live: one update a second.') && document.querySelectorAll('main .spark path').length >= 3",
        Duration::from_secs(10),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_alert_is_silenced_and_let_go_from_the_silences_page() {
    let dir = data_dir("browser-silences");
    let r = serve(&dir, |_| {}).await;
    let Some(b) = browser("silences").await else {
        return;
    };
    let noisy = create(&r, "Noisy", "high").await;
    let other = create(&r, "Calm", "low").await;
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!(
        "http://{}/#/silences/new?m=alertname%3DNoisy&comment=flaky%20disk",
        r.addr()
    ))
    .await;
    b.until(
        "the preview of the one noisy alert",
        "return document.querySelector('[data-preview-count=\"1\"]')",
        Duration::from_secs(10),
    )
    .await;
    b.js(
        "[...document.querySelectorAll('main button[type=submit]')].find(b => b.textContent === 'Create silence').click(); return true",
        json!([]),
    )
    .await;
    let row = b
        .until(
            "the new silence in the list",
            "const r = document.querySelector('main tr.selected'); return r && r.innerText",
            Duration::from_secs(10),
        )
        .await;
    assert!(
        row.as_str().is_some_and(|t| t.contains("flaky disk")),
        "{row}"
    );
    let d = r
        .until(&format!("/alerts/{noisy}"), |d| d["state"] == "suppressed")
        .await;
    assert_eq!(d["state"], "suppressed", "{d}");
    assert_eq!(d["noise"]["suppressed"]["kind"], "silence");
    let (_, calm) = r.admin("GET", &format!("/alerts/{other}"), "").await;
    assert_eq!(calm["state"], "active", "the other alert is not caught");
    let (_, list) = r.admin("GET", "/api/v2/silences", "").await;
    assert_eq!(list[0]["comment"], "flaky disk", "{list}");

    // Expire it from the page: the alert comes back, and the list moves it to expired.
    b.js(
        "[...document.querySelectorAll('main button')].find(b => b.textContent === 'Expire').click(); return true",
        json!([]),
    )
    .await;
    let d = r
        .until(&format!("/alerts/{noisy}"), |d| d["state"] == "active")
        .await;
    assert_eq!(d["state"], "active", "{d}");
    b.until(
        "the silence among the expired",
        "return [...document.querySelectorAll('main h2')].some(h => h.textContent.startsWith('Expired'))",
        Duration::from_secs(10),
    )
    .await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threshold_rules_show_validate_diff_and_activate_on_the_rules_page() {
    let dir = data_dir("browser-threshold-rules");
    let r = serve(&dir, |c| c.collector.enabled = false).await;
    let Some(b) = browser("threshold-rules").await else {
        return;
    };
    // Version 1 is one bare rule, as docs/threshold-rules.md writes it; version 2 a set.
    let v1 = r#"{"id":"high_cpu_usage","metric":"system.cpu.usage","threshold":90,"operator":"greater_than","aggregation":"avg","evaluation_window":"5m","for":"1m","severity":"HIGH"}"#;
    let v2 = r#"{"header":{"rule_set":"host"},"rules":[
      {"id":"high_cpu_usage","metric":"system.cpu.usage","threshold":80,"operator":"greater_than","aggregation":"avg","evaluation_window":"5m","for":"1m","severity":"HIGH"},
      {"id":"disk_full","metric":"system.disk.usage","threshold":95,"operator":"gte"}]}"#;
    for doc in [v1, v2] {
        let (s, v) = r
            .admin("POST", "/v1/threshold-rules?name=host&author=ops", doc)
            .await;
        assert_eq!(s, 201, "{v}");
    }
    b.sign_in(&r, ADMIN).await;
    b.goto(&format!("http://{}/#/rules", r.addr())).await;
    b.until(
        "the threshold rule set and its two versions",
        "const s = document.querySelector('main section[data-kind=\"threshold\"]'); return s && s.querySelectorAll('tbody tr').length === 2",
        Duration::from_secs(10),
    )
    .await;
    let in_set = |js: &str| {
        format!("const s = document.querySelector('main section[data-kind=\"threshold\"]'); {js}")
    };
    b.js(
        &in_set("[...s.querySelectorAll('button')].find(b => b.textContent === 'Show').click(); return true"),
        json!([]),
    )
    .await;
    let shown = b
        .until(
            "the rules of v2",
            &in_set("const t = s.innerText; return t.includes('disk_full') && t.includes('system.disk.usage') && t"),
            Duration::from_secs(5),
        )
        .await;
    assert!(shown.to_string().contains("avg greater_than 80"), "{shown}");
    b.js(
        &in_set("[...s.querySelectorAll('button')].find(b => b.textContent === 'Diff').click(); return true"),
        json!([]),
    )
    .await;
    let diff = b
        .until(
            "the diff of a bare rule and a set",
            &in_set("const d = s.querySelector('.diff-summary'); return d && d.innerText"),
            Duration::from_secs(5),
        )
        .await;
    let diff = diff.as_str().unwrap_or("");
    assert!(
        diff.contains("Added rules: disk_full") && diff.contains("Changed rules: high_cpu_usage"),
        "{diff}"
    );
    b.js(
        &in_set("[...s.querySelectorAll('button')].find(b => b.textContent === 'Validate').click(); return true"),
        json!([]),
    )
    .await;
    b.until(
        "the validation of v2 against the threshold checker",
        &in_set("return s.innerText.includes('Valid: 2 rules')"),
        Duration::from_secs(5),
    )
    .await;
    b.js(
        &in_set("[...s.querySelectorAll('button')].find(b => b.textContent === 'Activate').click(); return true"),
        json!([]),
    )
    .await;
    b.cmd("POST", "/alert/accept", json!({})).await;
    let v = r
        .until("/v1/threshold-rules", |v| {
            v["active"]["default"]["version"] == 2
        })
        .await;
    assert_eq!(v["active"]["default"]["name"], "host", "{v}");
    let (_, events) = r.admin("GET", "/v1/rulesets", "").await;
    assert_eq!(
        events["active"],
        json!({}),
        "an event rule set was not touched"
    );
    r.stop().await;
}
