//! klaxon as Prometheus's Alertmanager, end to end: the real `klaxon serve` binary and a real
//! Prometheus (`/usr/bin/prometheus`, Debian package `prometheus`) whose alerting rule fires and
//! then resolves. Skipped, with a message, when Prometheus is not installed; the test installs
//! nothing.
//!
//! The load comparison against a real Alertmanager is `benches/alertmanager.rs`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{free_port, get, Proc, Serve, TempDir, TOKEN};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Fires for ten seconds of every twenty, so within half a minute it has fired and resolved.
const RULES: &str = r#"groups:
- name: klaxon-e2e
  interval: 1s
  rules:
  - alert: KlaxonFlip
    expr: vector(time() % 20) < 10
    for: 0s
    labels:
      severity: critical
      team: e2e
    annotations:
      summary: flips every ten seconds
"#;

#[test]
fn a_prometheus_alert_fires_and_resolves_in_klaxon() {
    if !Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var_os("KLAXON_REQUIRE_PEERS").is_none(),
            "KLAXON_REQUIRE_PEERS is set but {PROMETHEUS} is missing"
        );
        println!("skipped: prometheus not installed (apt-get install prometheus)");
        return;
    }
    let dir = TempDir::new("e2e");
    let klaxon = Serve::start(&dir.path().join("klaxon"));
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).expect("prometheus dir");
    std::fs::write(prom_dir.join("rules.yml"), RULES).expect("write rules");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [rules.yml]\n\
         alerting:\n  alertmanagers:\n  - api_version: v2\n    timeout: 5s\n\
         \x20   authorization:\n      credentials: {TOKEN}\n\
         \x20   static_configs:\n    - targets: ['{}']\n",
        klaxon.addr
    );
    std::fs::write(prom_dir.join("prometheus.yml"), config).expect("write prometheus.yml");
    let web = format!("127.0.0.1:{}", free_port());
    let prometheus = Proc::spawn(
        "prometheus",
        Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                prom_dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                prom_dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            // Firing alerts are sent again every 2 s, so a send lost at start-up is repeated.
            .arg("--rules.alert.resend-delay=2s"),
        &prom_dir.join("prometheus.log"),
    );

    let give_up = Instant::now() + Duration::from_secs(90);
    let mut seen_active = None;
    let mut listed_while_active = Value::Null;
    let resolved = loop {
        let (status, body) = get(
            &klaxon.addr,
            "/alerts/history?source=alertmanager&limit=100",
        );
        assert_eq!(status, 200, "{body}");
        let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
        let flip = alerts
            .iter()
            .find(|a| a["rule_id"] == "KlaxonFlip")
            .cloned();
        match flip {
            Some(a) if a["state"] == "active" && seen_active.is_none() => {
                // Seen through the Alertmanager API too (unless it resolved in between).
                let listed = get(
                    &klaxon.addr,
                    "/api/v2/alerts?filter=alertname%3D%22KlaxonFlip%22",
                )
                .1;
                if listed.as_array().is_some_and(|l| !l.is_empty()) {
                    listed_while_active = listed;
                    seen_active = Some(a);
                }
            }
            Some(a) if a["state"] == "resolved" && seen_active.is_some() => break a,
            _ => {}
        }
        assert!(
            Instant::now() < give_up,
            "no {} within 90 s; klaxon saw: {alerts:?}\nprometheus log:\n{}\nklaxon log:\n{}",
            if seen_active.is_some() {
                "resolution"
            } else {
                "firing"
            },
            prometheus.log_tail(),
            klaxon.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let active = seen_active.expect("seen active before resolved");
    assert_eq!(
        active["id"], resolved["id"],
        "one alert, fired then resolved"
    );
    assert_eq!(active["severity"], "critical", "{active}");
    assert_eq!(active["message"], "flips every ten seconds", "{active}");

    let (_, detail) = get(&klaxon.addr, &format!("/alerts/{}", resolved["id"]));
    let events = detail["events"].as_array().cloned().unwrap_or_default();
    let resolution = events
        .iter()
        .find(|e| e["to"] == "resolved")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        resolution["actor"], "alertmanager",
        "resolved by what Prometheus sent: {detail}"
    );

    // Alertmanager's clients saw it with the labels and annotations Prometheus sent.
    let shown = &listed_while_active[0];
    assert_eq!(
        shown["labels"],
        json!({"alertname": "KlaxonFlip", "severity": "critical", "team": "e2e"}),
        "{listed_while_active}"
    );
    assert_eq!(
        shown["annotations"]["summary"], "flips every ten seconds",
        "{shown}"
    );
    assert!(
        shown["generatorURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("http")),
        "{shown}"
    );
    drop(prometheus);
    drop(klaxon);
}
