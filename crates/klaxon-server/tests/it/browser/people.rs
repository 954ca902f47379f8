//! The people pages in a real browser: an admin makes a user, a team and a viewer token with
//! the forms (the secret shown once, and working), revokes the token with a click, and reads
//! the on-call page: who is on call now and two weeks of shifts, the same as the API's, with an
//! override added through its form. A viewer does not see the admin's pages. Each page is
//! checked for layout faults at desktop and phone width.

use std::time::Duration;

use serde_json::{json, Value};

use super::driver::browser;
use super::pages::{LAYOUT_FAULTS, WIDER_THAN_THE_WINDOW};
use crate::harness::{data_dir, serve, Running, ADMIN};

const WAIT: Duration = Duration::from_secs(10);

async fn api(r: &Running, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let (s, _, v) = r
        .call(method, path, Some(token), "application/json", &text)
        .await;
    (s, v)
}

async fn layout(b: &super::driver::Browser, at: &str, faults: &mut Vec<String>) {
    let v = b.js(LAYOUT_FAULTS, json!([])).await;
    for (what, list) in [("broken words", &v[0]), ("clipped badges", &v[1])] {
        if list.as_array().is_some_and(|l| !l.is_empty()) {
            faults.push(format!("{at}: {what}: {list}"));
        }
    }
    let wide = b.js(WIDER_THAN_THE_WINDOW, json!([])).await;
    if wide.as_array().is_some_and(|w| !w.is_empty()) {
        faults.push(format!("{at}: wider than the window: {wide}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_makes_people_and_a_token_whose_secret_is_shown_once() {
    let dir = data_dir("browser-people");
    let r = serve(&dir, |c| c.collector.enabled = false).await;
    let Some(b) = browser("people").await else {
        return;
    };
    b.sign_in(&r, ADMIN).await;
    let base = format!("http://{}", r.addr());

    b.goto(&format!("{base}/#/users")).await;
    b.until(
        "the users page",
        "return document.querySelector('#user-form')",
        WAIT,
    )
    .await;
    b.type_into("#user-name", "alice").await;
    b.js(
        "document.getElementById('user-tz').value = 'Europe/Berlin'",
        json!([]),
    )
    .await;
    b.type_into("#user-email", "alice@example.com").await;
    b.click("#user-form button[type=submit]").await;
    b.until("alice's row", "return document.querySelector('tr[data-user=\"alice\"]')?.innerText.includes('email:alice@example.com')", WAIT).await;
    let (s, v) = api(&r, ADMIN, "GET", "/v1/users/alice", Value::Null).await;
    assert_eq!(
        (s, v["time_zone"].as_str()),
        (200, Some("Europe/Berlin")),
        "{v}"
    );
    b.screenshot_page("people-users").await;

    b.goto(&format!("{base}/#/teams")).await;
    b.until(
        "the teams page",
        "return document.querySelector('#team-form')",
        WAIT,
    )
    .await;
    b.type_into("#team-name", "db").await;
    b.type_into("#team-members", "alice").await;
    b.click("#team-form button[type=submit]").await;
    b.until(
        "the db row",
        "return document.querySelector('tr[data-team=\"db\"]')?.innerText.includes('alice')",
        WAIT,
    )
    .await;
    b.screenshot_page("people-teams").await;

    b.goto(&format!("{base}/#/tokens")).await;
    b.until("the tokens page", "return document.querySelector('#token-form') && document.querySelector('main [data-ready=\"1\"]')", WAIT).await;
    b.type_into("#token-name", "calendar-alice").await;
    b.type_into("#token-user", "alice").await;
    b.click("#token-form button[type=submit]").await;
    let secret = b
        .until(
            "the secret, once",
            "return document.getElementById('token-secret')?.value",
            WAIT,
        )
        .await;
    let secret = secret.as_str().unwrap_or("").to_owned();
    assert!(secret.starts_with("klx_"), "{secret}");
    b.screenshot_page("people-tokens-secret").await;
    let (s, _) = api(&r, &secret, "GET", "/v1/schedules", Value::Null).await;
    assert_eq!(s, 200, "the new viewer token reads");
    let (s, v) = api(&r, ADMIN, "GET", "/v1/tokens", Value::Null).await;
    assert_eq!(s, 200);
    assert!(
        !v.to_string().contains(&secret),
        "the list never holds a secret"
    );
    let id = (v["tokens"].as_array().into_iter().flatten())
        .find(|t| t["name"] == "calendar-alice")
        .and_then(|t| t["id"].as_i64())
        .expect("the token in the list");
    // Leaving the page forgets the secret.
    b.goto(&format!("{base}/#/users")).await;
    b.goto(&format!("{base}/#/tokens")).await;
    b.until(
        "the token's row",
        &format!("return document.querySelector('tr[data-token=\"{id}\"]')"),
        WAIT,
    )
    .await;
    let shown = b.js("return document.getElementById('token-secret') === null && !document.body.innerText.includes(arguments[0])", json!([secret])).await;
    assert_eq!(shown, json!(true), "the secret is shown only once");
    b.click(&format!("tr[data-token=\"{id}\"] button.danger"))
        .await;
    b.until(
        "the revoked row",
        &format!(
            "return document.querySelector('tr[data-token=\"{id}\"]')?.dataset.state === 'revoked'"
        ),
        WAIT,
    )
    .await;
    let (s, _) = api(&r, &secret, "GET", "/v1/schedules", Value::Null).await;
    assert_eq!(s, 401, "revoked at once");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oncall_page_shows_who_is_on_call_and_two_weeks_of_the_api_shifts() {
    let dir = data_dir("browser-oncall");
    let r = serve(&dir, |c| c.collector.enabled = false).await;
    let Some(b) = browser("oncall").await else {
        return;
    };
    for u in ["alice", "bob", "carol"] {
        let (s, v) = api(
            &r,
            ADMIN,
            "POST",
            "/v1/users",
            json!({"name": u, "time_zone": "UTC"}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    for (name, users, shift) in [
        ("db-primary", ["alice", "bob"], "1d"),
        ("web", ["carol", "alice"], "1w"),
    ] {
        let (s, v) = api(
            &r,
            ADMIN,
            "POST",
            "/v1/schedules",
            json!({"name": name, "time_zone": "Europe/Berlin", "layers": [
                {"users": users, "shift": shift, "handoff": "2026-01-05T09:00:00"}]}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let token = "oncall-viewer-token-0123456789";
    r.store
        .insert_token(
            "v",
            klaxon_store::Role::Viewer,
            &klaxon_server::hash_token(token),
            0,
        )
        .await
        .expect("a viewer token");
    use klaxon_store::Store as _;

    b.sign_in(&r, ADMIN).await;
    let base = format!("http://{}", r.addr());
    b.goto(&format!("{base}/#/oncall")).await;
    let ready = "return document.querySelector('main [data-ready=\"1\"]') && document.querySelectorAll('.calendar').length === 2";
    b.until("the on-call page", ready, WAIT).await;
    // Now: the cards say what the API says.
    let (_, now) = api(&r, ADMIN, "GET", "/v1/oncall", Value::Null).await;
    for s in now["schedules"].as_array().into_iter().flatten() {
        let shown = b
            .js("return document.querySelector(`.card[data-schedule=\"${arguments[0]}\"]`)?.dataset.onCall", json!([s["schedule"]]))
            .await;
        assert_eq!(shown, s["user"], "{s}");
    }
    // Two weeks of days, today's shifts those of the API in the browser's day.
    let days = b.js("return document.querySelectorAll('.calendar[data-schedule=\"db-primary\"] .cal-day').length", json!([])).await;
    assert_eq!(days, json!(14));
    let today = b
        .js("const d = [...document.querySelectorAll('.calendar[data-schedule=\"db-primary\"] .cal-day')].find(d => d.classList.contains('today')); return [...d.querySelectorAll('.shift strong')].map(s => s.textContent)", json!([]))
        .await;
    let bounds = b
        .js("const d = new Date(); d.setHours(0,0,0,0); const e = new Date(d); e.setDate(e.getDate() + 1); return [d.toISOString(), e.toISOString()]", json!([]))
        .await;
    let (s, v) = api(
        &r,
        ADMIN,
        "GET",
        &format!(
            "/v1/oncall?schedule=db-primary&at={}&until={}",
            bounds[0].as_str().unwrap_or(""),
            bounds[1].as_str().unwrap_or("")
        ),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let want: Vec<Value> = (v["shifts"].as_array().into_iter().flatten())
        .map(|s| s["user"].clone())
        .collect();
    assert_eq!(today, json!(want), "today's cell");
    b.screenshot_page("oncall-desktop").await;

    // An override through the form: carol covers tomorrow from 10:00 to 14:00, local time.
    b.js(
        "const d = new Date(); d.setDate(d.getDate() + 1); const p = n => String(n).padStart(2, '0'); \
         const day = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`; \
         document.getElementById('cover-schedule').value = 'db-primary'; \
         document.getElementById('cover-start').value = `${day}T10:00`; \
         document.getElementById('cover-end').value = `${day}T14:00`;",
        json!([]),
    )
    .await;
    b.type_into("#cover-user", "carol").await;
    b.click("#cover-form button[type=submit]").await;
    b.until(
        "carol's override in the calendar",
        "return [...document.querySelectorAll('.calendar[data-schedule=\"db-primary\"] .shift.override')].some(s => s.textContent.startsWith('carol 10:00–14:00'))",
        WAIT,
    )
    .await;
    let (_, v) = api(&r, ADMIN, "GET", "/v1/schedules/db-primary", Value::Null).await;
    assert_eq!(v["overrides"][0]["user"], "carol", "{v}");

    let mut faults = Vec::new();
    for (width, height, tag) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.size(width, height).await;
        for page in ["oncall", "policies", "users", "teams", "tokens"] {
            b.goto(&format!("{base}/#/{page}")).await;
            b.until(
                &format!("{tag} {page}"),
                "return document.querySelector('main [data-ready=\"1\"]')",
                WAIT,
            )
            .await;
            layout(&b, &format!("{tag} #/{page}"), &mut faults).await;
            b.screenshot_page(&format!("page-{tag}-{page}")).await;
        }
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));

    // A viewer reads the on-call page and sees no admin's pages.
    b.js("document.getElementById('signout').click()", json!([]))
        .await;
    b.sign_in(&r, token).await;
    let hidden = b
        .js("return ['users', 'teams', 'tokens'].map(p => document.querySelector(`nav a[data-path=\"${p}\"]`).hidden).concat([document.querySelector('nav a[data-path=\"oncall\"]').hidden])", json!([]))
        .await;
    assert_eq!(hidden, json!([true, true, true, false]));
    b.goto(&format!("{base}/#/oncall")).await;
    b.until("the viewer's on-call page", ready, WAIT).await;
    let disabled = b
        .js(
            "return document.querySelector('#cover-form button[type=submit]').disabled",
            json!([]),
        )
        .await;
    assert_eq!(disabled, json!(true), "a viewer does not cover shifts");
    r.stop().await;
}
