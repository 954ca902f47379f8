//! `klaxon policies` as a user runs it: `klaxon serve` with a configuration file that declares
//! a user and a policy; a policy made from a JSON file, listed beside the declared one, shown,
//! replaced and deleted; a refused one with every problem printed with its field and exit code
//! 1; the declared one refused a change.

use crate::harness::{klaxon, show, text, Serve, TempDir, TOKEN};

const CONFIG: &str = r#"
[[users]]
name = "alice"

[[escalation_policies]]
name = "declared"
[[escalation_policies.levels]]
notify = ["user:alice"]
"#;

fn run(server: &Serve, args: &[&str]) -> std::process::Output {
    klaxon()
        .args(args)
        .args(["--url", &server.url, "--token", TOKEN])
        .output()
        .expect("run klaxon")
}

#[test]
fn policies_are_made_listed_replaced_and_deleted_from_the_command_line() {
    let dir = TempDir::new("cli-policies");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, CONFIG).expect("write the config");
    let server = Serve::start_with(&dir.path().join("data"), Some(&config));
    let file = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).expect("write a policy file");
        p.to_string_lossy().into_owned()
    };

    let made = file(
        "made.json",
        r#"{"name": "made", "levels": [{"notify": ["user:alice"]}]}"#,
    );
    let out = run(&server, &["policies", "create", "--file", &made]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(text(&out.stdout).trim(), "created escalation policy made");

    let bad = file(
        "bad.json",
        r#"{"name": "bad", "levels": [{"wait": "soon", "notify": ["user:ghost"]}]}"#,
    );
    let out = run(&server, &["policies", "create", "--file", &bad]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("levels[0].wait: ") && stderr.contains("levels[0].notify[0]: user:ghost"),
        "{stderr}"
    );

    let out = run(&server, &["policies", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = (stdout.lines().skip(1))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["declared", "config", "0", "-", "0s:", "user:alice"],
            ["made", "api", "0", "-", "0s:", "user:alice"]
        ],
        "{stdout}"
    );

    let replaced = file(
        "replaced.json",
        r#"{"repeat": 1, "ack_timeout": "30m", "levels": [{"notify": ["user:alice"]}, {"wait": "5m", "notify": ["user:alice"]}]}"#,
    );
    let out = run(
        &server,
        &["policies", "replace", "made", "--file", &replaced],
    );
    assert!(out.status.success(), "{}", show(&out));
    let out = run(&server, &["policies", "show", "made"]);
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (
            v["repeat"].as_u64(),
            v["ack_timeout"].as_str(),
            v["levels"][1]["wait"].as_str()
        ),
        (Some(1), Some("30m"), Some("5m")),
        "{v}"
    );

    let out = run(
        &server,
        &["policies", "replace", "declared", "--file", &replaced],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("configuration file"),
        "{}",
        show(&out)
    );

    let out = run(&server, &["policies", "delete", "made"]);
    assert!(out.status.success(), "{}", show(&out));
    let out = run(&server, &["policies", "show", "made"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}
