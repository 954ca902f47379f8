//! Users, teams and the audit log over real HTTP: the round trip of each, every problem of a
//! body named at once, the conflicts a person would hit (a name taken, a member that is not a
//! user, deleting a user still in a team or owning a token), tokens that belong to users, and
//! the audit rows of those changes with their actor, filtered and paged.

use serde_json::{json, Value};

use crate::harness::{data_dir, start, Running, ADMIN};

async fn admin(r: &Running, method: &str, path: &str, body: Value) -> (u16, Value) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    r.admin(method, path, &text).await
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_teams_round_trip_and_refuse_what_would_break() {
    let dir = data_dir("people-round-trip");
    let r = start(&dir, |_| {}).await;

    let alice = json!({"name": "alice", "display_name": "Alice", "email": "alice@example.com",
        "time_zone": "Europe/Berlin",
        "contacts": [{"kind": "email", "to": "alice@example.com"},
                     {"kind": "pagerduty", "routing_key": "abc123"}]});
    let (s, v) = admin(&r, "POST", "/v1/users", alice.clone()).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["origin"], "api");
    assert_eq!(
        v["contacts"][1],
        json!({"kind": "pagerduty", "routing_key": "abc123"})
    );
    let (s, v) = admin(&r, "POST", "/v1/users", alice).await;
    assert_eq!(s, 409, "the name is taken: {v}");
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "bob", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    // Every problem at once, each with its field.
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "carol", "time_zone": "Mars/Base",
               "contacts": [{"kind": "webhook", "url": "gopher://x"}]}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["error"]["details"]["problems"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["time_zone", "contacts[0].url"], "{v}");
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "carol", "time_zone": "UTC", "contacts": [{"kind": "fax", "to": "1"}]}),
    )
    .await;
    assert!(s == 422 || s == 400, "an unknown contact kind: {s} {v}");
    let many = vec![json!({"kind": "slack", "target": "#ops"}); 17];
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "carol", "time_zone": "UTC", "contacts": many}),
    )
    .await;
    assert_eq!(
        (s, message(&v)),
        (422, "contacts: 17 entries, over the limit of 16")
    );

    let (s, v) = admin(
        &r,
        "PATCH",
        "/v1/users/alice",
        json!({"display_name": null, "time_zone": "Asia/Tokyo"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["display_name"], &v["time_zone"]),
        (&Value::Null, &json!("Asia/Tokyo"))
    );
    assert_eq!(v["email"], "alice@example.com", "a field not given is kept");
    let (_, v) = admin(&r, "GET", "/v1/users/alice", Value::Null).await;
    assert_eq!(v["time_zone"], "Asia/Tokyo");
    let (_, v) = admin(&r, "GET", "/v1/users", Value::Null).await;
    let names: Vec<&str> = v["users"]
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["alice", "bob"]);

    // Teams name users only, keep their order, and hold their members.
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/teams",
        json!({"name": "db", "members": ["bob", "ghost"]}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(message(&v).contains("ghost"), "{v}");
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/teams",
        json!({"name": "db", "members": ["bob", "alice"]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["members"], json!(["bob", "alice"]));
    let (s, v) = admin(&r, "DELETE", "/v1/users/bob", Value::Null).await;
    assert_eq!(s, 409, "{v}");
    assert!(message(&v).contains("team db"), "{v}");
    let (s, v) = admin(&r, "PATCH", "/v1/teams/db", json!({"members": ["alice"]})).await;
    assert_eq!((s, &v["members"]), (200, &json!(["alice"])), "{v}");
    let (s, _) = admin(&r, "DELETE", "/v1/users/bob", Value::Null).await;
    assert_eq!(s, 204);
    let (s, _) = admin(&r, "GET", "/v1/users/bob", Value::Null).await;
    assert_eq!(s, 404);

    // A token of alice's keeps her until it is revoked.
    let (s, t) = admin(
        &r,
        "POST",
        "/v1/tokens",
        json!({"name": "alice-cli", "role": "responder", "user": "alice"}),
    )
    .await;
    assert_eq!((s, &t["user"]), (201, &json!("alice")), "{t}");
    let (s, _) = admin(&r, "DELETE", "/v1/teams/db", Value::Null).await;
    assert_eq!(s, 204);
    let (s, v) = admin(&r, "DELETE", "/v1/users/alice", Value::Null).await;
    assert_eq!(s, 409, "{v}");
    assert!(message(&v).contains("token"), "{v}");
    let (s, _) = admin(
        &r,
        "DELETE",
        &format!("/v1/tokens/{}", t["id"]),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = admin(&r, "DELETE", "/v1/users/alice", Value::Null).await;
    assert_eq!(s, 204);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_names_the_user_of_a_token_and_pages_newest_first() {
    let dir = data_dir("people-audit");
    let r = start(&dir, |_| {}).await;
    let (s, _) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "ops-lead", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, t) = admin(
        &r,
        "POST",
        "/v1/tokens",
        json!({"name": "lead", "role": "admin", "user": "ops-lead"}),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let lead = t["token"].as_str().unwrap_or("").to_owned();
    let (s, _, v) = r
        .call(
            "POST",
            "/v1/teams",
            Some(&lead),
            "application/json",
            r#"{"name": "web", "members": ["ops-lead"]}"#,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, _, v) = r
        .call(
            "DELETE",
            "/v1/teams/web",
            Some(&lead),
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, 204, "{v}");

    let (s, v) = admin(&r, "GET", "/v1/audit", Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let rows: Vec<(String, String, String, String)> = v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let f = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                    (f("actor"), f("role"), f("action"), f("target"))
                })
                .collect()
        })
        .unwrap_or_default();
    let admin_name = rows.last().map(|r| r.0.clone()).unwrap_or_default();
    assert_ne!(admin_name, "", "{v}");
    let want = |a: &str, role: &str, action: &str, target: &str| {
        (
            a.to_owned(),
            role.to_owned(),
            action.to_owned(),
            target.to_owned(),
        )
    };
    assert_eq!(
        rows,
        [
            want("ops-lead", "admin", "team.delete", "team:web"),
            want("ops-lead", "admin", "team.create", "team:web"),
            want(&admin_name, "admin", "token.create", "token:lead"),
            want(&admin_name, "admin", "user.create", "user:ops-lead"),
        ]
    );

    let (_, v) = admin(&r, "GET", "/v1/audit?actor=ops-lead&limit=1", Value::Null).await;
    assert_eq!(v["entries"][0]["action"], "team.delete", "{v}");
    let next = v["next"].as_i64().expect("a next page");
    let (_, v) = admin(
        &r,
        "GET",
        &format!("/v1/audit?actor=ops-lead&limit=1&before_id={next}"),
        Value::Null,
    )
    .await;
    assert_eq!(v["entries"][0]["action"], "team.create", "{v}");
    let (_, v) = admin(&r, "GET", "/v1/audit?action=token.create", Value::Null).await;
    assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["next"], Value::Null);
    let (_, v) = admin(
        &r,
        "GET",
        "/v1/audit?until=2000-01-01T00:00:00Z",
        Value::Null,
    )
    .await;
    assert_eq!(v["entries"], json!([]));
    let (s, _) = admin(&r, "GET", "/v1/audit?limit=1001", Value::Null).await;
    assert_eq!(s, 400);

    // Admin only.
    let (_, t) = admin(
        &r,
        "POST",
        "/v1/tokens",
        json!({"name": "resp", "role": "responder"}),
    )
    .await;
    let resp = t["token"].as_str().unwrap_or("");
    let (s, _, _) = r
        .call("GET", "/v1/audit", Some(resp), "application/json", "")
        .await;
    assert_eq!(s, 403);
    let _ = ADMIN;
    r.stop().await;
}

/// The configuration file at `dir/klaxon.toml` with `text`, loaded.
fn load(dir: &std::path::Path, text: &str) -> Result<klaxon_server::config::Config, String> {
    let path = dir.join("klaxon.toml");
    std::fs::write(&path, text).expect("write the config");
    klaxon_server::config::load(Some(&path), &[], &klaxon_server::config::Flags::default())
}

#[test]
fn declared_people_report_every_problem_with_its_place() {
    let dir = data_dir("people-config-errors");
    let e = load(
        &dir,
        r#"
[[users]]
name = "alice"
time_zone = "Mars/Base"
contacts = [{ kind = "webhook", url = "ftp://x" }]

[[users]]
name = "alice"

[[teams]]
name = "db"
members = ["alice", "bob"]
"#,
    )
    .expect_err("invalid");
    for part in [
        "users[0] (alice).time_zone: \"Mars/Base\" is not a known time zone",
        "users[0] (alice).contacts[0].url: an http:// or https:// URL",
        "users[1] (alice).name: declared twice",
        "teams[0] (db).members[1]: \"bob\" is not a user declared under [[users]]",
    ] {
        assert!(e.contains(part), "{part:?} not in {e}");
    }
    let e = load(
        &dir,
        "[[users]]\nname = \"a\"\ncontacts = [{ kind = \"fax\", to = \"1\" }]\n",
    )
    .expect_err("unknown kind");
    assert!(e.contains("users") && e.contains("fax"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_people_are_read_only_through_the_api() {
    let dir = data_dir("people-config");
    let declared = load(
        &dir,
        r#"
[[users]]
name = "alice"
time_zone = "Europe/Berlin"
contacts = [{ kind = "email", to = "alice@example.com" }]

[[teams]]
name = "db"
members = ["alice"]
"#,
    )
    .expect("valid");
    let r = start(&dir, |c| {
        c.users = declared.users.clone();
        c.teams = declared.teams.clone();
    })
    .await;
    let (s, v) = admin(&r, "GET", "/v1/users/alice", Value::Null).await;
    assert_eq!((s, &v["origin"]), (200, &json!("config")), "{v}");
    assert_eq!(v["contacts"][0]["to"], "alice@example.com");
    for (method, path, body) in [
        ("PATCH", "/v1/users/alice", json!({"time_zone": "UTC"})),
        ("DELETE", "/v1/users/alice", Value::Null),
        ("PATCH", "/v1/teams/db", json!({"members": []})),
        ("DELETE", "/v1/teams/db", Value::Null),
    ] {
        let (s, v) = admin(&r, method, path, body).await;
        assert_eq!(s, 409, "{method} {path}: {v}");
        assert!(
            message(&v).contains("declared in the configuration file"),
            "{method} {path}: {v}"
        );
    }
    let (s, _) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "alice", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(s, 409);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_on_alerts_are_audited_with_the_user_of_the_token() {
    let dir = data_dir("people-audit-alerts");
    let r = start(&dir, |_| {}).await;
    let (s, _) = admin(
        &r,
        "POST",
        "/v1/users",
        json!({"name": "ana", "time_zone": "UTC"}),
    )
    .await;
    assert_eq!(s, 201);
    let (_, t) = admin(
        &r,
        "POST",
        "/v1/tokens",
        json!({"name": "ana-cli", "role": "responder", "user": "ana"}),
    )
    .await;
    let ana = t["token"].as_str().unwrap_or("").to_owned();
    let (s, _, v) = r
        .call(
            "POST",
            "/alerts/create",
            Some(&ana),
            "application/json",
            &json!({"name": "ByHand"}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().expect("id");
    for (path, body) in [
        (
            format!("/alerts/{id}/notes"),
            json!({"text": "looking\nmore"}),
        ),
        (format!("/alerts/{id}/assign"), json!({"assignee": "ana"})),
        (
            format!("/alerts/{id}/acknowledge"),
            json!({"reason": "on it"}),
        ),
    ] {
        let (s, _, v) = r
            .call(
                "POST",
                &path,
                Some(&ana),
                "application/json",
                &body.to_string(),
            )
            .await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let (_, v) = admin(&r, "GET", "/v1/audit?actor=ana", Value::Null).await;
    let rows: Vec<(String, String, String)> = v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let f = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                    (f("action"), f("target"), f("detail"))
                })
                .collect()
        })
        .unwrap_or_default();
    let target = format!("alert:{id}");
    let row = |a: &str, d: &str| (a.to_owned(), target.clone(), d.to_owned());
    assert_eq!(
        rows,
        [
            row("alert.acknowledge", "on it"),
            row("alert.assign", "ana"),
            row("alert.note", "looking"),
            row("alert.create", "ByHand"),
        ]
    );
    assert_eq!(v["entries"][0]["role"], "responder");

    // A bulk action: a row per alert it changed; a dashboard sign-in: a row of its own.
    let (_, v) = admin(&r, "POST", "/alerts/create", json!({"name": "Other"})).await;
    let other = v["id"].as_i64().expect("id");
    let (s, _, v) = r
        .call(
            "POST",
            "/alerts/bulk/resolve",
            Some(&ana),
            "application/json",
            &json!({"ids": [id, other, 999_999]}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["succeeded"], 2, "{v}");
    let (s, _, v) = r
        .call(
            "POST",
            "/ui/signin",
            None,
            "application/json",
            &json!({"token": ana}).to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = admin(&r, "GET", "/v1/audit?actor=ana&limit=3", Value::Null).await;
    let rows: Vec<(String, String)> = v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let f = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                    (f("action"), f("target"))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut bulk = rows[1..].to_vec();
    bulk.sort();
    assert_eq!(
        rows[0],
        ("session.signin".to_owned(), "token:ana-cli".to_owned()),
        "{v}"
    );
    let mut want = vec![
        ("alert.resolve".to_owned(), format!("alert:{id}")),
        ("alert.resolve".to_owned(), format!("alert:{other}")),
    ];
    want.sort();
    assert_eq!(bulk, want, "{v}");

    let rules = include_str!("../../../../examples/metro.rules.json");
    let (s, v) = r.admin("POST", "/v1/rulesets", rules).await;
    assert_eq!(s, 201, "{v}");
    let name = v["name"].as_str().unwrap_or("").replace(' ', "%20");
    let path = format!("/v1/rulesets/{name}/{}/activate", v["version"]);
    let (s, v) = r.admin("POST", &path, "").await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = admin(&r, "GET", "/v1/audit?limit=2", Value::Null).await;
    let actions: Vec<&str> = v["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(actions, ["rule_set.activate", "rule_set.load"], "{v}");
    assert!(
        v["entries"][0]["target"]
            .as_str()
            .unwrap_or("")
            .starts_with("event:"),
        "{v}"
    );
    let silence = json!({"matchers": [{"name": "job", "value": "x", "isRegex": false}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z", "comment": "deploy"});
    let (s, _, v) = r
        .call(
            "POST",
            "/api/v2/silences",
            Some(&ana),
            "application/json",
            &silence.to_string(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let sid = v["silenceID"].as_str().unwrap_or("").to_owned();
    let (s, _, _) = r
        .call(
            "DELETE",
            &format!("/api/v2/silence/{sid}"),
            Some(&ana),
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = admin(&r, "GET", "/v1/audit?actor=ana&limit=2", Value::Null).await;
    let got: Vec<(&str, &str)> = v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["action"].as_str().unwrap_or(""),
                        e["target"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let target = format!("silence:{sid}");
    assert_eq!(
        got,
        [
            ("silence.expire", target.as_str()),
            ("silence.create", target.as_str())
        ]
    );
    r.stop().await;
}
