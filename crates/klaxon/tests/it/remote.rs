//! `klaxon rules load|activate|list` against the real server, end to end: the binary serves on a
//! free loopback port with a temporary data directory, and the same binary talks to it.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::client;
use crate::harness::{
    free_port, klaxon as binary, root, show, text, Serve, TempDir, BROKEN_RULES,
    BROKEN_RULES_ERRORS, TOKEN,
};

#[test]
fn a_rule_set_loaded_and_activated_remotely_fires_on_sent_signals() {
    let dir = TempDir::new("flow");
    let server = Serve::start(dir.path());

    let out = klaxon(
        &server,
        &[
            "rules",
            "load",
            "examples/metro.rules.json",
            "--activate",
            "--author",
            "tester",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    // Stored and activated as the version its header gives (`rule_set_version: 2`).
    assert!(
        stdout.contains("stored rule set \"METRO Rules\" version 2 in group \"default\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("activated rule set \"METRO Rules\" version 2"),
        "{stdout}"
    );

    // The same document again is the version already stored.
    let out = klaxon(&server, &["rules", "load", "examples/metro.rules.json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).contains("version 2"), "{}", show(&out));
    // A document without a version gets the next one; it is not activated.
    let unversioned = dir.path().join("unversioned.json");
    let doc = std::fs::read_to_string(root().join("examples/metro.rules.json")).expect("rules");
    let mut doc: serde_json::Value = serde_json::from_str(&doc).expect("rules JSON");
    doc["header"]
        .as_object_mut()
        .expect("a header")
        .remove("rule_set_version");
    std::fs::write(&unversioned, doc.to_string()).expect("write");
    let out = klaxon(
        &server,
        &["rules", "load", unversioned.to_str().expect("utf-8 path")],
    );
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).contains("version 3"), "{}", show(&out));
    assert!(!text(&out.stdout).contains("activated"), "{}", show(&out));

    let out = klaxon(&server, &["rules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table.lines().collect();
    assert!(rows[0].starts_with("GROUP"), "{table}");
    assert!(rows[0].contains("ACTIVE"), "{table}");
    assert_eq!(rows.len(), 3, "two versions: {table}");
    let v2 = rows
        .iter()
        .find(|r| r.contains("METRO Rules  2 "))
        .unwrap_or_else(|| panic!("no row for version 2:\n{table}"));
    let v3 = rows
        .iter()
        .find(|r| r.contains("METRO Rules  3 "))
        .unwrap_or_else(|| panic!("no row for version 3:\n{table}"));
    assert!(v2.starts_with("default"), "{table}");
    assert!(v2.contains(" * ") && v2.contains("tester"), "{table}");
    assert!(!v3.contains(" * "), "{table}");

    let rt = client::runtime().expect("runtime");
    let client = server.client();
    let signals =
        std::fs::read_to_string(root().join("examples/metro.signals.ndjson")).expect("signals");
    let reply = rt
        .block_on(client.call(
            hyper::Method::POST,
            "/v1/signals",
            Some("application/x-ndjson"),
            signals.clone().into(),
        ))
        .expect("POST /v1/signals");
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let ack: serde_json::Value = reply.json().expect("ack");
    assert_eq!(ack["accepted"], signals.lines().count(), "{ack}");
    assert_eq!(ack["rejected"], serde_json::json!([]), "{ack}");

    // An alert is readable only once it is committed; wait for it, boundedly.
    let give_up = Instant::now() + Duration::from_secs(10);
    let seq3 = loop {
        let reply = rt
            .block_on(client.get("/v1/alerts"))
            .expect("GET /v1/alerts");
        assert_eq!(reply.status, 200);
        let list: serde_json::Value = reply.json().expect("alerts");
        let found = list["alerts"]
            .as_array()
            .expect("alerts array")
            .iter()
            .find(|a| a["rule_id"] == "SEQ-003")
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(Instant::now() < give_up, "no SEQ-003 alert: {list}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(seq3["process"], "train-4714", "{seq3}");
    assert_eq!(seq3["group"], "default", "{seq3}");
    assert_eq!(seq3["rule_set"], "METRO Rules", "{seq3}");
    assert_eq!(
        seq3["rule_set_version"], 2,
        "the document's version: {seq3}"
    );
    assert_eq!(seq3["signal_ts"], "2026-11-22T08:03:38.000Z", "{seq3}");
    assert_eq!(seq3["value"], 30000, "{seq3}");
    assert_eq!(seq3["limit"], 25000, "{seq3}");
    assert!(seq3["id"].as_i64().is_some(), "{seq3}");
}

#[test]
fn threshold_rules_load_activate_and_list_apart_from_event_rule_sets() {
    let dir = TempDir::new("threshold");
    let server = Serve::start(dir.path());
    let file = "examples/host.thresholds.json";
    let check = |args: &[&str]| {
        binary()
            .args(["rules", "check"])
            .args(args)
            .output()
            .expect("run klaxon")
    };
    let out = check(&["--threshold", file]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(text(&out.stdout).contains("ok, 3 rules"), "{}", show(&out));
    // Without the flag its content says what it is.
    let out = check(&[file]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("ok, 3 rules (threshold rules)"),
        "{}",
        show(&out)
    );

    let out = klaxon(
        &server,
        &[
            "rules",
            "load",
            "--threshold",
            file,
            "--activate",
            "--group",
            "hosts",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("stored threshold rule set \"host\" version 1 in group \"hosts\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("activated threshold rule set \"host\" version 1"),
        "{stdout}"
    );
    let out = klaxon(&server, &["rules", "list", "--threshold"]);
    assert!(out.status.success(), "{}", show(&out));
    let table = text(&out.stdout);
    assert!(
        table
            .lines()
            .any(|r| r.starts_with("hosts") && r.contains(" * ")),
        "{table}"
    );
    let out = klaxon(&server, &["rules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        text(&out.stdout).contains("no rule sets stored"),
        "threshold sets are not event rule sets: {}",
        show(&out)
    );
}

#[test]
fn rules_load_of_a_broken_set_lists_every_error_and_stores_nothing() {
    let dir = TempDir::new("broken");
    let server = Serve::start(dir.path());
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, BROKEN_RULES).expect("write broken set");
    let path = broken.to_str().expect("utf-8 path");
    let out = klaxon(&server, &["rules", "load", path, "--activate"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    for needle in BROKEN_RULES_ERRORS {
        assert!(stdout.contains(needle), "missing {needle} in:\n{stdout}");
    }
    assert!(
        stdout.lines().filter(|l| l.contains(": error: ")).count() >= 4,
        "{stdout}"
    );
    assert!(
        stdout.lines().all(|l| l.starts_with(path)),
        "every error names the file:\n{stdout}"
    );
    assert!(text(&out.stderr).contains("rejected"), "{}", show(&out));

    // Same errors, same words as the offline check.
    let offline = binary()
        .args(["rules", "check", path])
        .output()
        .expect("rules check");
    assert_eq!(text(&offline.stdout), stdout);

    let out = klaxon(&server, &["rules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(text(&out.stdout).trim(), "no rule sets stored");

    let out = klaxon(&server, &["rules", "activate", "broken", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("404"), "{}", show(&out));

    let out = binary()
        .args([
            "rules",
            "list",
            "--url",
            &server.url,
            "--token",
            "not-a-token",
        ])
        .output()
        .expect("rules list");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("401"), "{}", show(&out));
}

#[test]
fn an_unreachable_server_exits_2_and_names_the_url() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["rules", "list"],
        vec!["rules", "activate", "x", "1"],
        vec!["rules", "load", "examples/metro.rules.json"],
    ] {
        let out = binary()
            .args(&args)
            .env("KLAXON_URL", &url)
            .env("KLAXON_TOKEN", TOKEN)
            .output()
            .expect("run klaxon");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot connect to the klaxon server at {url}")),
            "{args:?}: {stderr}"
        );
    }
}

/// `klaxon ARGS --url URL --token TOKEN` against `server`.
fn klaxon(server: &Serve, args: &[&str]) -> Output {
    binary()
        .args(args)
        .args(["--url", &server.url, "--token", TOKEN])
        .output()
        .expect("run klaxon")
}
