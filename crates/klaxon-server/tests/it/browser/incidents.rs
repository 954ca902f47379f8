//! Incidents in the browser: an incident the correlator opens appears on the incidents page
//! live; its page groups the alerts by service and says why each is there; acknowledging,
//! splitting chosen alerts off, setting the priority, merging into another incident and a
//! note are clicks that reach the API; the alerts table shows which incident each alert is in.

use std::time::Duration;

use serde_json::{json, Value};

use super::driver::browser;
use crate::harness::{data_dir, serve, Running, ADMIN};

/// Posts Alertmanager alerts now, each `(labels, summary)`.
async fn fire(r: &Running, alerts: &[(Value, &str)]) {
    let at = klaxon_engine::timestamp::format_ts(klaxon_server::wall_ms() - 5_000);
    let body: Vec<Value> = alerts
        .iter()
        .map(|(labels, summary)| json!({"labels": labels, "annotations": {"summary": summary}, "startsAt": at}))
        .collect();
    let (s, v) = r
        .admin("POST", "/api/v2/alerts", &Value::Array(body).to_string())
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn incident_of(r: &Running, alertname: &str) -> (i64, i64) {
    let v = r
        .until(&format!("/alerts/history?rule={alertname}"), |v| {
            v["alerts"][0]["id"].is_i64()
        })
        .await;
    let id = v["alerts"][0]["id"].as_i64().expect("alert id");
    let a = r
        .until(&format!("/alerts/{id}"), |a| a["incident"]["id"].is_i64())
        .await;
    (id, a["incident"]["id"].as_i64().expect("incident id"))
}

/// Clicks the enabled button of `main` whose text starts with `label`.
const CLICK: &str = "const b = [...document.querySelectorAll('main button')].find(b => b.textContent.startsWith(arguments[0]) && !b.disabled); if (b) b.click(); return !!b;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_is_seen_live_explained_and_worked_on_with_clicks() {
    let dir = data_dir("browser-incidents");
    let r = serve(&dir, |c| c.collector.enabled = false).await;
    let Some(b) = browser("incidents").await else {
        return;
    };
    b.sign_in(&r, ADMIN).await;
    let addr = r.addr();
    b.goto(&format!("http://{addr}/#/incidents")).await;
    b.until(
        "the incidents page",
        "return document.querySelector('main .incident-list')?.dataset.loaded",
        Duration::from_secs(10),
    )
    .await;

    // An outage of one service instance: one incident, shown live.
    let svc = |name: &str, sev: &str| json!({"alertname": name, "service": "orders-api", "cluster": "euw1", "severity": sev});
    fire(
        &r,
        &[
            (svc("PgDown", "critical"), "database connection refused"),
            (svc("HighLatency", "warning"), "p99 above 2s"),
            (svc("HighErrorRate", "warning"), "5xx above 10%"),
        ],
    )
    .await;
    let (pg, id) = incident_of(&r, "PgDown").await;
    let (lat, same) = incident_of(&r, "HighLatency").await;
    assert_eq!(id, same);
    b.until(
        "the new incident's row",
        &format!("return document.querySelector('main tr[data-id=\"{id}\"]')?.innerText.includes('PgDown')"),
        Duration::from_secs(5),
    )
    .await;
    let row = b
        .js(
            &format!("return document.querySelector('main tr[data-id=\"{id}\"]').innerText"),
            json!([]),
        )
        .await;
    let row = row.as_str().unwrap_or_default();
    assert!(
        row.contains("critical") && row.contains('3') && row.contains("open"),
        "{row}"
    );
    b.screenshot("incidents").await;

    // Its page: alerts grouped by service, each joined alert with its evidence in words.
    b.click(&format!("main tr[data-id=\"{id}\"] a")).await;
    b.until(
        "the incident page",
        "return document.querySelector('main [data-state=\"open\"]') && document.querySelectorAll('main .member-row').length === 3",
        Duration::from_secs(10),
    )
    .await;
    let words = b
        .js(
            &format!("return document.querySelector('main .member-row[data-alert=\"{lat}\"] .evidence').innerText"),
            json!([]),
        )
        .await;
    let words = words.as_str().unwrap_or_default().to_owned();
    assert!(
        words.contains("confidence") && words.contains("same instance orders-api@euw1"),
        "{words}"
    );
    let group = b
        .js(
            "return [...document.querySelectorAll('main .service-group')].map(g => g.dataset.service)",
            json!([]),
        )
        .await;
    assert_eq!(group, json!(["service orders-api"]));
    b.screenshot("incident").await;

    // Acknowledge with a click: the incident is investigated, its alerts acknowledged.
    assert_eq!(b.js(CLICK, json!(["Acknowledge"])).await, json!(true));
    let v = r
        .until(&format!("/incidents/{id}"), |v| {
            v["state"] == "investigating"
        })
        .await;
    assert!(
        v["owner"]
            .as_str()
            .is_some_and(|o| o.starts_with("config-admin")),
        "{v}"
    );
    let a = r
        .until(&format!("/alerts/{pg}"), |a| a["state"] == "acknowledged")
        .await;
    assert_eq!(a["state"], "acknowledged");
    b.until(
        "the investigating state on the page",
        "return document.querySelector('main [data-state=\"investigating\"]')",
        Duration::from_secs(5),
    )
    .await;

    // Choose the database alert and split it off into an incident of its own.
    b.click(&format!(
        "main .member-row[data-alert=\"{pg}\"] input[type=checkbox]"
    ))
    .await;
    b.until(
        "the split button for one alert",
        "return [...document.querySelectorAll('main button')].find(b => b.textContent === 'Split 1 off…' && !b.disabled)",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(b.js(CLICK, json!(["Split 1 off"])).await, json!(true));
    b.type_into("dialog input[name=title]", "primary database")
        .await;
    b.click("dialog button[type=submit]").await;
    let a = r
        .until(&format!("/alerts/{pg}"), |a| a["incident"]["id"] != id)
        .await;
    let db = a["incident"]["id"].as_i64().expect("the new incident");
    assert_eq!(a["incident"]["title"], "primary database", "{a}");
    b.until(
        "two alerts left on the page",
        "return document.querySelectorAll('main .member-row').length === 2",
        Duration::from_secs(5),
    )
    .await;

    // The priority, set by hand in a dialog.
    assert_eq!(b.js(CLICK, json!(["Priority"])).await, json!(true));
    b.until(
        "the priority dialog",
        "return document.querySelector('dialog select[name=priority]')",
        Duration::from_secs(5),
    )
    .await;
    b.js(
        "document.querySelector('dialog select[name=priority]').value = 'high'; return true;",
        json!([]),
    )
    .await;
    b.click("dialog button[type=submit]").await;
    let v = r
        .until(&format!("/incidents/{id}"), |v| v["priority"] == "high")
        .await;
    assert!(v["priority_by"].is_string(), "{v}");

    // A note, typed and added.
    b.type_into("main textarea", "failing over the primary")
        .await;
    assert_eq!(b.js(CLICK, json!(["Add note"])).await, json!(true));
    r.until(&format!("/incidents/{id}"), |v| {
        v["timeline"].as_array().is_some_and(|t| {
            t.iter()
                .any(|e| e["kind"] == "note" && e["detail"]["text"] == "failing over the primary")
        })
    })
    .await;

    // Merge this incident into the database one, chosen in the dialog.
    assert_eq!(b.js(CLICK, json!(["Merge into"])).await, json!(true));
    b.until(
        "the merge dialog",
        &format!("return document.querySelector('dialog select option[value=\"{db}\"]')"),
        Duration::from_secs(5),
    )
    .await;
    b.js(
        &format!(
            "const s = document.querySelector('dialog select'); s.value = '{db}'; return true;"
        ),
        json!([]),
    )
    .await;
    b.click("dialog button[type=submit]").await;
    let v = r
        .until(&format!("/incidents/{id}"), |v| v["state"] == "closed")
        .await;
    assert_eq!(v["members"], json!([]));
    b.until(
        "the merged incident's page, with all three alerts",
        &format!("return location.hash === '#/incidents/{db}' && document.querySelectorAll('main .member-row').length === 3"),
        Duration::from_secs(10),
    )
    .await;

    // The alerts table says which incident each alert is in, and links to it.
    b.goto(&format!("http://{addr}/#/alerts")).await;
    let tag = b
        .until(
            "the incident tag of an alert row",
            &format!("const t = document.querySelector('.grid-row[data-id=\"{lat}\"]:not([hidden]) .inc-tag'); return t && !t.hidden && t.getAttribute('href')"),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(tag, json!(format!("#/incidents/{db}")));
    b.screenshot("alerts-with-incidents").await;
    r.stop().await;
}
