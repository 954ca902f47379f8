//! The escalation policies page in a real browser: an admin makes a policy of two levels with
//! the form, sees it in the list and through the API, is shown every problem of a refused one
//! with its field, edits it, and sees the configuration file's policy read-only. The page is
//! checked for layout faults at desktop and phone width.

use std::time::Duration;

use klaxon_server::config::Config;
use serde_json::{json, Value};

use super::driver::browser;
use super::pages::{LAYOUT_FAULTS, WIDER_THAN_THE_WINDOW};
use crate::harness::{data_dir, serve, ADMIN};

const WAIT: Duration = Duration::from_secs(10);

const CONFIG: &str = r#"
[[users]]
name = "oscar"
[[escalation_policies]]
name = "declared"
[[escalation_policies.levels]]
notify = ["user:oscar"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_makes_and_edits_an_escalation_policy_with_the_form() {
    let dir = data_dir("browser-policies");
    let r = serve(&dir, |c| {
        c.collector.enabled = false;
        let part: Config = toml::from_str(CONFIG).expect("configuration");
        c.users = part.users;
        c.escalation_policies = part.escalation_policies;
    })
    .await;
    let Some(b) = browser("policies").await else {
        return;
    };
    let (s, v) = r
        .admin(
            "POST",
            "/v1/users",
            &json!({"name": "alice", "time_zone": "UTC"}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    b.sign_in(&r, ADMIN).await;
    let base = format!("http://{}", r.addr());
    b.goto(&format!("{base}/#/policies")).await;
    b.until(
        "the policies page",
        "return document.querySelector('#policy-form') && document.querySelector('main [data-ready=\"1\"]')",
        WAIT,
    )
    .await;
    // The file's policy: listed, read-only.
    let declared = b
        .js(
            "const r = document.querySelector('tr[data-policy=\"declared\"]'); \
             return [r.innerText, [...r.querySelectorAll('button')].every(x => x.disabled)]",
            json!([]),
        )
        .await;
    assert!(
        declared[0]
            .as_str()
            .is_some_and(|t| t.contains("user:oscar") && t.contains("config")),
        "{declared}"
    );
    assert_eq!(declared[1], true, "{declared}");

    // Refused: every problem with its field.
    b.type_into("#policy-name", "made").await;
    b.type_into(
        "#policy-levels .level-row:nth-child(1) .level-notify",
        "user:ghost",
    )
    .await;
    b.click("#policy-form button[type=submit]").await;
    b.until(
        "the problems",
        "return document.getElementById('policy-problems').innerText.includes('levels[0].notify[0]')",
        WAIT,
    )
    .await;

    // Two levels by clicks.
    b.js(
        "document.querySelector('#policy-levels .level-row .level-notify').value = ''",
        json!([]),
    )
    .await;
    b.type_into(
        "#policy-levels .level-row:nth-child(1) .level-notify",
        "user:alice",
    )
    .await;
    b.click("#policy-add-level").await;
    b.js(
        "document.querySelector('#policy-levels .level-row:nth-child(2) .level-wait').value = ''",
        json!([]),
    )
    .await;
    b.type_into("#policy-levels .level-row:nth-child(2) .level-wait", "5m")
        .await;
    b.type_into(
        "#policy-levels .level-row:nth-child(2) .level-notify",
        "user:alice, user:oscar",
    )
    .await;
    b.click("#policy-form button[type=submit]").await;
    b.until(
        "the made row",
        "return document.querySelector('tr[data-policy=\"made\"]')?.innerText.includes('user:oscar')",
        WAIT,
    )
    .await;
    let (s, v) = r.admin("GET", "/v1/escalation-policies/made", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["levels"],
        json!([{"wait": "0s", "notify": ["user:alice"]},
               {"wait": "5m", "notify": ["user:alice", "user:oscar"]}]),
        "{v}"
    );
    assert_eq!(v["origin"], "api");
    b.screenshot_page("policies-made").await;

    // Edited: repeat once.
    b.click("tr[data-policy=\"made\"] button.secondary").await;
    b.js(
        "document.getElementById('policy-repeat').value = '1'",
        json!([]),
    )
    .await;
    b.click("#policy-form button[type=submit]").await;
    b.until(
        "the edited row",
        "return document.querySelector('tr[data-policy=\"made\"]')?.innerText.includes('repeat 1')",
        WAIT,
    )
    .await;
    let (_, v) = r.admin("GET", "/v1/escalation-policies/made", "").await;
    assert_eq!(v["repeat"], 1, "{v}");

    let mut faults = Vec::new();
    for (width, height, tag) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.size(width, height).await;
        b.goto(&format!("{base}/#/overview")).await;
        b.goto(&format!("{base}/#/policies")).await;
        b.until(
            &format!("{tag} policies"),
            "return document.querySelector('tr[data-policy=\"made\"]')",
            WAIT,
        )
        .await;
        let v = b.js(LAYOUT_FAULTS, json!([])).await;
        for (what, list) in [("broken words", &v[0]), ("clipped badges", &v[1])] {
            if list.as_array().is_some_and(|l| !l.is_empty()) {
                faults.push(format!("{tag}: {what}: {list}"));
            }
        }
        let wide: Value = b.js(WIDER_THAN_THE_WINDOW, json!([])).await;
        if wide.as_array().is_some_and(|w| !w.is_empty()) {
            faults.push(format!("{tag}: wider than the window: {wide}"));
        }
        b.screenshot_page(&format!("page-{tag}-policies")).await;
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
    r.stop().await;
}
