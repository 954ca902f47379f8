//! `klaxon oncall` and `klaxon schedules list|show` as a user runs them: `klaxon serve` with a
//! configuration file that declares users and a schedule in Europe/Berlin, asked across the
//! daylight-saving change of 2026-03-29, an answer the server refuses (a range over 90 days)
//! with its exit code, and a user's calendar feed fetched with a viewer token in its URL.

use crate::harness::{klaxon, request, show, text, Serve, TempDir, TOKEN};

const CONFIG: &str = r#"
[[users]]
name = "alice"
time_zone = "Europe/Berlin"

[[users]]
name = "bob"

[[schedules]]
name = "db-primary"
time_zone = "Europe/Berlin"
[[schedules.layers]]
users = ["alice", "bob"]
shift = "1d"
handoff = "2026-03-27T09:00:00"
[[schedules.overrides]]
user = "bob"
start = "2026-03-31T09:00:00+02:00"
end = "2026-03-31T12:00:00+02:00"
"#;

fn run(server: &Serve, args: &[&str]) -> std::process::Output {
    klaxon()
        .args(args)
        .args(["--url", &server.url, "--token", TOKEN])
        .output()
        .expect("run klaxon")
}

#[test]
fn oncall_and_schedules_answer_from_a_running_server() {
    let dir = TempDir::new("cli-oncall");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, CONFIG).expect("write the config");
    let server = Serve::start_with(&dir.path().join("data"), Some(&config));

    let out = run(
        &server,
        &[
            "oncall",
            "--schedule",
            "db-primary",
            "--at",
            "2026-03-28T08:00:00Z",
            "--until",
            "2026-03-31T12:00:00Z",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        stdout.starts_with(
            "schedule db-primary (Europe/Berlin), on call at 2026-03-28T08:00:00Z: bob"
        ),
        "{stdout}"
    );
    // 09:00 local every day: 08:00Z before the change, 07:00Z after it; bob covers three hours.
    let want: Vec<Vec<&str>> = [
        "bob 2026-03-28T08:00:00Z 2026-03-29T07:00:00Z layer 0",
        "alice 2026-03-29T07:00:00Z 2026-03-30T07:00:00Z layer 0",
        "bob 2026-03-30T07:00:00Z 2026-03-31T07:00:00Z layer 0",
        "bob 2026-03-31T07:00:00Z 2026-03-31T10:00:00Z override",
        "alice 2026-03-31T10:00:00Z 2026-03-31T12:00:00Z layer 0",
    ]
    .iter()
    .map(|l| l.split_whitespace().collect())
    .collect();
    assert_eq!(rows, want, "{stdout}");

    let out = run(&server, &["oncall", "--at", "2026-03-29T12:00:00+02:00"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["db-primary", "alice", "2026-03-30T07:00:00Z"]),
        "{stdout}"
    );

    let out = run(&server, &["schedules", "list"]);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("db-primary")
            && stdout.contains("config")
            && stdout.contains("alice,bob every 1d"),
        "{stdout}"
    );
    let out = run(&server, &["schedules", "show", "db-primary"]);
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["overrides"][0]["user"], "bob");

    let out = run(
        &server,
        &[
            "oncall",
            "--schedule",
            "db-primary",
            "--at",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-06-01T00:00:00Z",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(text(&out.stderr).contains("90 days"), "{}", show(&out));
    let out = run(&server, &["schedules", "show", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));

    // A calendar app's URL: a viewer token made with the CLI, in the query; never logged.
    let out = run(
        &server,
        &[
            "tokens",
            "create",
            "--role",
            "viewer",
            "--name",
            "calendar-alice",
            "--user",
            "alice",
        ],
    );
    assert!(out.status.success(), "{}", show(&out));
    let secret = text(&out.stdout).trim().to_owned();
    let (status, body) = request(
        &server.addr,
        "GET",
        &format!("/v1/feeds/users/alice?token={secret}"),
        None,
    )
    .expect("an answer");
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("BEGIN:VCALENDAR\r\n"), "{body}");
    assert!(!server.log().contains(&secret), "the secret is not logged");
}
