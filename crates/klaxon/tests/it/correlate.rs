//! `klaxon correlate` as a user meets it: the real binary on a small Alertmanager stream.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use crate::harness::text;

fn klaxon(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn klaxon");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("wait for klaxon")
}

fn temp(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("klaxon-correlate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write temp file");
    p
}

const TOPOLOGY: &str = r#"{
  "clusters": [{"name": "euw1"}, {"name": "use1"}],
  "services": [
    {"name": "orders-api", "depends_on": ["pg-orders"], "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "pg-orders", "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]},
    {"name": "cart-api", "deployments": [{"cluster": "euw1"}, {"cluster": "use1"}]}
  ]
}"#;

fn line(
    key: Option<&str>,
    name: &str,
    service: &str,
    cluster: &str,
    start: &str,
    end: Option<&str>,
) -> String {
    let mut a = json!({
        "labels": {"alertname": name, "service": service, "cluster": cluster, "env": "prod"},
        "annotations": {"summary": format!("{name} on {service}")},
        "startsAt": start,
        "generatorURL": "http://prometheus.example/graph",
    });
    if let Some(k) = key {
        a["key"] = json!(k);
    }
    if let Some(e) = end {
        a["endsAt"] = json!(e);
    }
    a.to_string()
}

/// An outage in euw1 (database, then its caller), another in use1 at the same time, a
/// resolution line, and an alert without key.
fn stream() -> String {
    [
        line(
            Some("a1"),
            "PostgresDown",
            "pg-orders",
            "euw1",
            "2026-03-02T10:00:00Z",
            None,
        ),
        line(
            Some("a2"),
            "KubePodCrashLooping",
            "cart-api",
            "use1",
            "2026-03-02T10:00:10Z",
            None,
        ),
        line(
            Some("a3"),
            "HighErrorRate",
            "orders-api",
            "euw1",
            "2026-03-02T10:00:40Z",
            None,
        ),
        // The resolution of a1: same labels and start, with an end.
        line(
            Some("a1"),
            "PostgresDown",
            "pg-orders",
            "euw1",
            "2026-03-02T10:00:00Z",
            Some("2026-03-02T10:05:00Z"),
        ),
        // No key: named by its line number (5).
        line(
            None,
            "HighErrorRate",
            "cart-api",
            "use1",
            "2026-03-02T10:01:00Z",
            None,
        ),
    ]
    .join("\n")
        + "\n"
}

fn groups(out: &Output) -> Value {
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    doc["groups"].clone()
}

#[test]
fn correlate_groups_an_outage_and_keeps_another_apart() {
    let topology = temp("topology.json", TOPOLOGY);
    let alerts = temp("alerts.ndjson", &stream());
    let args = [
        "correlate",
        "--topology",
        topology.to_str().expect("utf-8"),
        alerts.to_str().expect("utf-8"),
    ];
    let out = klaxon(&args, "");
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(groups(&out), json!([["a1", "a3"], ["a2", "5"]]));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let link = &doc["incidents"][0]["links"][0];
    assert_eq!(link["alert"], "a3");
    assert_eq!(link["to"], "a1");
    assert_eq!(
        link["evidence"]["topology"],
        "orders-api@euw1 calls pg-orders@euw1"
    );
    assert!(["high", "very_high"].contains(&link["level"].as_str().expect("level")));
    // The same input gives the same output, byte for byte, from stdin too.
    let again = klaxon(
        &[
            "correlate",
            "--topology",
            topology.to_str().expect("utf-8"),
            "-",
        ],
        &stream(),
    );
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn without_a_topology_it_says_so_and_still_correlates() {
    let out = klaxon(&["correlate", "-"], &stream());
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no topology document"),
        "{}",
        text(&out.stderr)
    );
    // Same service and cluster still links; the two outages stay apart.
    let g = groups(&out);
    assert!(
        g.as_array().expect("array").contains(&json!(["a2", "5"])),
        "{g}"
    );
}

#[test]
fn a_bad_line_is_reported_with_its_number_and_skipped() {
    let mut input = stream();
    input.push_str("{not json\n");
    input.push_str(&line(
        Some("a9"),
        "X",
        "cart-api",
        "use1",
        "yesterday",
        None,
    ));
    input.push('\n');
    input.push_str(&line(
        Some("a2"),
        "Other",
        "cart-api",
        "use1",
        "2026-03-02T10:02:00Z",
        None,
    ));
    input.push('\n');
    let out = klaxon(&["correlate", "-"], &input);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("-:6: "), "{err}");
    assert!(err.contains("-:7: startsAt"), "{err}");
    assert!(
        err.contains("-:8: key `a2` already names another alert"),
        "{err}"
    );
    assert!(err.contains("3 bad line(s) skipped"), "{err}");
    // The good lines are still correlated.
    assert!(groups(&out)
        .as_array()
        .expect("array")
        .contains(&json!(["a2", "5"])));
}

#[test]
fn the_config_file_sets_the_correlation_table_and_rejects_unknown_keys() {
    // A threshold nothing reaches: every alert alone (other tables are ignored).
    let config = temp(
        "klaxon.toml",
        "listen = \"127.0.0.1:1\"\n[correlation]\njoin_threshold = 0.99\n[sla]\nx = 1\n",
    );
    let out = klaxon(
        &[
            "correlate",
            "--config",
            config.to_str().expect("utf-8"),
            "-",
        ],
        &stream(),
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(groups(&out), json!([["a1"], ["a2"], ["a3"], ["5"]]));

    let config = temp("bad.toml", "[correlation]\njoin_treshold = 0.5\n");
    let out = klaxon(
        &[
            "correlate",
            "--config",
            config.to_str().expect("utf-8"),
            "-",
        ],
        &stream(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("join_treshold"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_topology_error_is_reported() {
    let topology = temp(
        "bad-topology.json",
        r#"{"services": [{"name": "a", "depends_on": ["ghost"]}, {"name": "a"}]}"#,
    );
    let out = klaxon(
        &[
            "correlate",
            "--topology",
            topology.to_str().expect("utf-8"),
            "-",
        ],
        &stream(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("services[0].depends_on[0]: unknown service `ghost`"),
        "{err}"
    );
    assert!(
        err.contains("services[1].name: duplicate service `a`"),
        "{err}"
    );
    assert!(err.contains("2 error(s), topology rejected"), "{err}");
}
