//! On-call schedules over the API: declared in the configuration file (every problem with its
//! schedule, layer and field; read-only through the API) and made through it, overrides that
//! cover a shift and never overlap, who is on call across a daylight-saving change, the bound
//! of a range, the audit rows of every change, and the iCalendar feeds: authorised by a viewer
//! token in the URL, well-formed iCalendar, and the same shifts the API answers.

use klaxon_store::{Role, Store};
use serde_json::{json, Value};

use crate::harness::{data_dir, start, Running, ADMIN};

const VIEWER: &str = "oncall-viewer-token-0123456789";
const RESPONDER: &str = "oncall-responder-token-0123456789";
const HOUR: i64 = 3_600_000;

async fn call(r: &Running, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
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

async fn admin(r: &Running, method: &str, path: &str, body: Value) -> (u16, Value) {
    call(r, ADMIN, method, path, body).await
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or("")
}

fn ms(t: &Value) -> i64 {
    let s = t.as_str().unwrap_or_else(|| panic!("not a time: {t}"));
    klaxon_engine::timestamp::parse_ts_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

async fn users(r: &Running, names: &[&str]) {
    for n in names {
        let (s, v) = admin(
            r,
            "POST",
            "/v1/users",
            json!({"name": n, "time_zone": "Europe/Berlin"}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
}

async fn tokens(r: &Running) {
    for (name, role, token) in [
        ("v", Role::Viewer, VIEWER),
        ("r", Role::Responder, RESPONDER),
    ] {
        r.store
            .insert_token(name, role, &klaxon_server::hash_token(token), 0)
            .await
            .expect("token");
    }
}

/// (user, start, end, source) of each shift of an `/v1/oncall` answer.
fn shifts(v: &Value) -> Vec<(String, String, String, String)> {
    (v["shifts"]
        .as_array()
        .unwrap_or_else(|| panic!("no shifts: {v}"))
        .iter())
    .map(|s| {
        let source = match (&s["layer"], &s["override_id"]) {
            (Value::Number(l), _) => format!("layer {l}"),
            (_, Value::Number(id)) => format!("override {id}"),
            _ => "declared override".to_owned(),
        };
        let text = |k: &str| s[k].as_str().unwrap_or("").to_owned();
        (text("user"), text("start"), text("end"), source)
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_round_trip_overrides_cover_shifts_and_every_change_is_audited() {
    let dir = data_dir("oncall-round-trip");
    let r = start(&dir, |_| {}).await;
    tokens(&r).await;
    users(&r, &["alice", "bob", "carol"]).await;
    let layer = json!({"users": ["alice", "bob"], "shift": "1d", "handoff": "2026-12-07T09:00:00"});
    let body = json!({"name": "db", "time_zone": "Europe/Berlin", "layers": [layer]});

    // Every problem at once, each with its field; unknown users named where they are.
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "bad", "time_zone": "Mars/Base", "layers": [
            {"users": ["alice", "zed"], "shift": "0d", "handoff": "2026-12-07T09:00:00Z",
             "restrict": [{"days": ["funday"], "from": "09:00", "to": "18:00"}]}]}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = (v["error"]["details"]["problems"].as_array().into_iter())
        .flatten()
        .filter_map(|p| p["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "time_zone",
            "layers[0].shift",
            "layers[0].handoff",
            "layers[0].restrict[0].days[0]"
        ],
        "{v}"
    );
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "bad", "time_zone": "UTC", "layers": [
            {"users": ["alice", "zed"], "shift": "1d", "handoff": "2026-12-07T09:00:00"}]}),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["error"]["details"]["problems"][0],
        json!({"field": "layers[0].users[1]", "message": "no user named \"zed\""})
    );
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "bad", "time_zone": "UTC", "layers": vec![layer_of(&["alice"]); 17]}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["details"]["problems"][0]["field"].as_str()),
        (422, Some("layers")),
        "over the limit of layers: {v}"
    );

    // Made by the admin, read by a viewer; nobody else may make one.
    let (s, v) = call(&r, RESPONDER, "POST", "/v1/schedules", body.clone()).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = admin(&r, "POST", "/v1/schedules", body.clone()).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["origin"].as_str(), v["time_zone"].as_str()),
        (Some("api"), Some("Europe/Berlin"))
    );
    let (s, _) = admin(&r, "POST", "/v1/schedules", body).await;
    assert_eq!(s, 409, "the name is taken");
    let (s, v) = call(&r, VIEWER, "GET", "/v1/schedules", Value::Null).await;
    assert_eq!(
        (s, v["schedules"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{v}"
    );
    assert_eq!(
        v["schedules"][0]["layers"][0]["users"],
        json!(["alice", "bob"])
    );

    // 2026-12-08 09:00 Berlin to 2026-12-09 09:00 is bob's; carol covers an afternoon.
    let at = "at=2026-12-08T00:00:00Z&until=2026-12-10T00:00:00Z";
    let (s, v) = call(
        &r,
        VIEWER,
        "GET",
        &format!("/v1/oncall?schedule=db&{at}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let layer0 = |u: &str, a: &str, b: &str| {
        (
            u.to_owned(),
            a.to_owned(),
            b.to_owned(),
            "layer 0".to_owned(),
        )
    };
    assert_eq!(
        shifts(&v),
        [
            layer0(
                "alice",
                "2026-12-08T00:00:00.000Z",
                "2026-12-08T08:00:00.000Z"
            ),
            layer0(
                "bob",
                "2026-12-08T08:00:00.000Z",
                "2026-12-09T08:00:00.000Z"
            ),
            layer0(
                "alice",
                "2026-12-09T08:00:00.000Z",
                "2026-12-10T00:00:00.000Z"
            ),
        ]
    );
    let cover = json!({"user": "carol", "start": "2026-12-08T13:00:00+01:00",
                       "end": "2026-12-08T18:00:00+01:00"});
    let (s, v) = call(
        &r,
        VIEWER,
        "POST",
        "/v1/schedules/db/overrides",
        cover.clone(),
    )
    .await;
    assert_eq!(s, 403, "a viewer does not cover shifts: {v}");
    let (s, made) = call(
        &r,
        RESPONDER,
        "POST",
        "/v1/schedules/db/overrides",
        cover.clone(),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["start"], "2026-12-08T12:00:00.000Z");
    assert_eq!(made["created_by"], "r");
    let id = made["id"].as_i64().expect("an id");
    let (s, v) = call(
        &r,
        RESPONDER,
        "POST",
        "/v1/schedules/db/overrides",
        json!({
        "user": "alice", "start": "2026-12-08T17:00:00+01:00", "end": "2026-12-08T19:00:00+01:00"}),
    )
    .await;
    assert_eq!(s, 409, "overlapping overrides: {v}");
    assert!(message(&v).contains("overlaps"), "{v}");
    let (s, v) = call(
        &r,
        RESPONDER,
        "POST",
        "/v1/schedules/db/overrides",
        json!({
        "user": "carol", "start": "2026-12-08T19:00:00+01:00", "end": "2026-12-08T18:00:00+01:00"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["details"]["problems"][0]["field"].as_str()),
        (422, Some("end")),
        "{v}"
    );
    let (s, v) = call(
        &r,
        RESPONDER,
        "POST",
        "/v1/schedules/db/overrides",
        json!({
        "user": "zed", "start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z"}),
    )
    .await;
    assert_eq!(s, 409, "not a user: {v}");
    let (s, v) = call(
        &r,
        VIEWER,
        "GET",
        &format!("/v1/oncall?schedule=db&{at}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        shifts(&v)[1..4],
        [
            layer0(
                "bob",
                "2026-12-08T08:00:00.000Z",
                "2026-12-08T12:00:00.000Z"
            ),
            (
                "carol".to_owned(),
                "2026-12-08T12:00:00.000Z".to_owned(),
                "2026-12-08T17:00:00.000Z".to_owned(),
                format!("override {id}")
            ),
            layer0(
                "bob",
                "2026-12-08T17:00:00.000Z",
                "2026-12-09T08:00:00.000Z"
            ),
        ]
    );
    let (s, v) = call(
        &r,
        VIEWER,
        "GET",
        "/v1/oncall?at=2026-12-08T14:00:00Z",
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["schedules"],
        json!([{"schedule": "db", "time_zone": "Europe/Berlin", "user": "carol",
                "until": "2026-12-08T17:00:00.000Z"}])
    );

    // A user on a schedule stays; replacing the layers keeps the overrides.
    let (s, v) = admin(&r, "DELETE", "/v1/users/carol", Value::Null).await;
    assert_eq!(s, 409, "carol covers a shift: {v}");
    let (s, v) = admin(
        &r,
        "PUT",
        "/v1/schedules/db",
        json!({"time_zone": "UTC", "layers": [layer_of(&["bob"])]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["time_zone"].as_str(), v["overrides"][0]["id"].as_i64()),
        (Some("UTC"), Some(id))
    );
    let (s, v) = call(
        &r,
        RESPONDER,
        "DELETE",
        &format!("/v1/schedules/db/overrides/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let (s, _) = call(
        &r,
        RESPONDER,
        "DELETE",
        &format!("/v1/schedules/db/overrides/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 404);
    let (s, v) = admin(&r, "DELETE", "/v1/users/carol", Value::Null).await;
    assert_eq!(s, 204, "carol is free to go: {v}");
    let (s, _) = admin(&r, "DELETE", "/v1/schedules/db", Value::Null).await;
    assert_eq!(s, 204);
    let (s, _) = call(&r, VIEWER, "GET", "/v1/schedules/db", Value::Null).await;
    assert_eq!(s, 404);

    let (s, v) = admin(&r, "GET", "/v1/audit?limit=20", Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let rows: Vec<(String, String, String)> = (v["entries"].as_array().into_iter())
        .flatten()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("schedule."))
        })
        .map(|e| {
            let t = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            let actor = t("actor");
            let actor = if actor.starts_with("config-admin-") {
                "admin".to_owned()
            } else {
                actor
            };
            (t("action"), actor, t("target"))
        })
        .collect();
    let row = |a: &str, who: &str| (a.to_owned(), who.to_owned(), "schedule:db".to_owned());
    assert_eq!(
        rows,
        [
            row("schedule.delete", "admin"),
            row("schedule.override.delete", "r"),
            row("schedule.update", "admin"),
            row("schedule.override.add", "r"),
            row("schedule.create", "admin"),
        ],
        "{v}"
    );
    r.stop().await;
}

fn layer_of(users: &[&str]) -> Value {
    json!({"users": users, "shift": "1d", "handoff": "2026-12-07T00:00:00"})
}

/// Berlin moves its clocks from 02:00 to 03:00 on 2026-03-29: the daily 09:00 hand-off stays at
/// 09:00 local time, the shift across the change lasts 23 hours, and an override across the
/// gap covers 3 real hours; the shifts tile the range exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_is_on_call_across_a_daylight_saving_change() {
    let dir = data_dir("oncall-dst");
    let r = start(&dir, |_| {}).await;
    users(&r, &["alice", "bob", "carol"]).await;
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "berlin", "time_zone": "Europe/Berlin", "layers": [
            {"users": ["alice", "bob"], "shift": "1d", "handoff": "2026-03-27T09:00:00"}]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let range = "at=2026-03-28T08:00:00Z&until=2026-03-31T07:00:00Z";
    let (s, v) = admin(
        &r,
        "GET",
        &format!("/v1/oncall?schedule=berlin&{range}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let got: Vec<(String, i64)> = (v["shifts"].as_array().into_iter().flatten())
        .map(|s| {
            (
                s["user"].as_str().unwrap_or("").to_owned(),
                (ms(&s["end"]) - ms(&s["start"])) / HOUR,
            )
        })
        .collect();
    let want = [("bob", 23), ("alice", 24), ("bob", 24)].map(|(u, h)| (u.to_owned(), h));
    assert_eq!(got, want, "{v}");
    assert_eq!(
        v["shifts"][1]["start"], "2026-03-29T07:00:00.000Z",
        "09:00 CEST"
    );

    // Carol from 00:00 CET to 04:00 CEST: three real hours.
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules/berlin/overrides",
        json!({"user": "carol", "start": "2026-03-29T00:00:00+01:00", "end": "2026-03-29T04:00:00+02:00"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = admin(
        &r,
        "GET",
        &format!("/v1/oncall?schedule=berlin&{range}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let list = v["shifts"].as_array().cloned().unwrap_or_default();
    let carol: Vec<i64> = (list.iter())
        .filter(|s| s["user"] == "carol")
        .map(|s| ms(&s["end"]) - ms(&s["start"]))
        .collect();
    assert_eq!(carol, [3 * HOUR]);
    for pair in list.windows(2) {
        assert_eq!(pair[0]["end"], pair[1]["start"], "no gap, no overlap: {v}");
    }
    let total: i64 = list.iter().map(|s| ms(&s["end"]) - ms(&s["start"])).sum();
    assert_eq!(total, 71 * HOUR, "no hour lost or doubled");

    // A range longer than 90 days, or backwards, is refused, naming `until`.
    let (s, v) = admin(
        &r,
        "GET",
        "/v1/oncall?schedule=berlin&at=2026-01-01T00:00:00Z&until=2026-04-01T00:00:01Z",
        Value::Null,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(message(&v).starts_with("until: at most 90 days"), "{v}");
    let (s, _) = admin(
        &r,
        "GET",
        "/v1/oncall?schedule=berlin&at=2026-01-01T00:00:00Z&until=2026-04-01T00:00:00Z",
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "90 days exactly");
    let (s, v) = admin(
        &r,
        "GET",
        "/v1/oncall?schedule=berlin&at=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
        Value::Null,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    r.stop().await;
}

/// The configuration file at `dir/klaxon.toml` with `text`, loaded.
fn load(dir: &std::path::Path, text: &str) -> Result<klaxon_server::config::Config, String> {
    let path = dir.join("klaxon.toml");
    std::fs::write(&path, text).expect("write the config");
    klaxon_server::config::load(Some(&path), &[], &klaxon_server::config::Flags::default())
}

#[test]
fn declared_schedules_report_every_problem_with_schedule_layer_and_field() {
    let dir = data_dir("oncall-config-errors");
    let e = load(
        &dir,
        r#"
[[users]]
name = "alice"

[[schedules]]
name = "db-primary"
time_zone = "Europe/Berlim"
[[schedules.layers]]
users = ["alice", "bob"]
shift = "1 week"
handoff = "2026-12-07T09:00:00"
[[schedules.layers]]
users = ["alice"]
shift = "1d"
handoff = "2026-12-07T09:00:00"
restrict = [{ days = ["mon"], from = "09:00", to = "24:00" }]
[[schedules.overrides]]
user = "alice"
start = "2026-12-24T00:00:00Z"
end = "2026-12-26T00:00:00Z"
[[schedules.overrides]]
user = "alice"
start = "2026-12-25T00:00:00Z"
end = "2026-12-27T00:00:00Z"

[[schedules]]
name = "db-primary"
time_zone = "UTC"
[[schedules.layers]]
users = ["alice"]
shift = "1d"
handoff = "2026-12-07T09:00:00"
"#,
    )
    .expect_err("invalid");
    for part in [
        "schedules[0] (db-primary).time_zone: \"Europe/Berlim\" is not a known time zone",
        "schedules[0] (db-primary).layers[0].shift: ",
        "schedules[0] (db-primary).layers[1].restrict[0].to: ",
        "schedules[0] (db-primary).overrides[1]: overlaps overrides[0]",
        "schedules[0] (db-primary).layers[0].users[1]: \"bob\" is not a user declared under [[users]]",
        "schedules[1] (db-primary).name: declared twice",
    ] {
        assert!(e.contains(part), "{part:?} not in {e}");
    }
    let e = load(
        &dir,
        "[[schedules]]\nname = \"s\"\ntime_zone = \"UTC\"\nlayers = []\ncolour = \"red\"\n",
    )
    .expect_err("unknown key");
    assert!(e.contains("colour"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_and_api_schedules_live_side_by_side() {
    let dir = data_dir("oncall-config");
    let declared = load(
        &dir,
        r#"
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
shift = "1w"
handoff = "2026-12-07T09:00:00"
[[schedules.overrides]]
user = "bob"
start = "2026-12-08T00:00:00+01:00"
end = "2026-12-09T00:00:00+01:00"
"#,
    )
    .expect("valid");
    let r = start(&dir, |c| {
        c.users = declared.users.clone();
        c.schedules = declared.schedules.clone();
    })
    .await;
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "web", "time_zone": "America/New_York", "layers": [layer_of(&["bob", "alice"])]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = admin(&r, "GET", "/v1/schedules", Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let list: Vec<(&str, &str)> = (v["schedules"].as_array().into_iter().flatten())
        .map(|s| {
            (
                s["name"].as_str().unwrap_or(""),
                s["origin"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(list, [("db-primary", "config"), ("web", "api")]);
    assert_eq!(
        v["schedules"][0]["overrides"][0],
        json!({"id": null, "user": "bob", "start": "2026-12-07T23:00:00.000Z",
               "end": "2026-12-08T23:00:00.000Z", "created_by": null, "created_at": null})
    );
    for (method, path, body) in [
        (
            "PUT",
            "/v1/schedules/db-primary",
            json!({"time_zone": "UTC", "layers": [layer_of(&["bob"])]}),
        ),
        ("DELETE", "/v1/schedules/db-primary", Value::Null),
    ] {
        let (s, v) = admin(&r, method, path, body).await;
        assert_eq!(s, 409, "{method} {path}: {v}");
        assert!(
            message(&v).contains("declared in the configuration file"),
            "{v}"
        );
    }
    // Someone covers a shift of the declared rotation, but not over the declared override.
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules/db-primary/overrides",
        json!({"user": "alice", "start": "2026-12-08T20:00:00Z", "end": "2026-12-09T02:00:00Z"}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(message(&v).contains("overlaps the override of bob"), "{v}");
    let (s, added) = admin(
        &r,
        "POST",
        "/v1/schedules/db-primary/overrides",
        json!({"user": "alice", "start": "2026-12-20T00:00:00Z", "end": "2026-12-21T00:00:00Z"}),
    )
    .await;
    assert_eq!(s, 201, "{added}");
    // The declared override and layers, the API schedule's layer: one answer for both.
    let (s, v) = admin(&r, "GET", "/v1/oncall?at=2026-12-08T12:00:00Z", Value::Null).await;
    assert_eq!(s, 200, "{v}");
    let who: Vec<(&str, &str)> = (v["schedules"].as_array().into_iter().flatten())
        .map(|s| {
            (
                s["schedule"].as_str().unwrap_or(""),
                s["user"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    // web: daily from 2026-12-07 00:00 New York (05:00Z): bob, then alice from 12-08 05:00Z.
    assert_eq!(who, [("db-primary", "bob"), ("web", "alice")], "{v}");
    let (s, v) = admin(
        &r,
        "GET",
        "/v1/oncall?schedule=db-primary&at=2026-12-08T12:00:00Z&until=2026-12-09T12:00:00Z",
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        shifts(&v)
            .into_iter()
            .map(|(u, _, _, src)| (u, src))
            .collect::<Vec<_>>(),
        [
            ("bob".to_owned(), "declared override".to_owned()),
            ("alice".to_owned(), "layer 0".to_owned())
        ]
    );
    let december20 =
        "/v1/oncall?schedule=db-primary&at=2026-12-20T12:00:00Z&until=2026-12-20T13:00:00Z";
    let (_, v) = admin(&r, "GET", december20, Value::Null).await;
    assert_eq!(shifts(&v)[0].3, format!("override {}", added["id"]), "{v}");
    r.stop().await;

    // The file now declares carol over the added override: the declaration wins, the added
    // override is left out of the shifts, and the server starts.
    let text = std::fs::read_to_string(dir.join("klaxon.toml")).expect("the config");
    let changed = load(
        &dir,
        &(text.replace("[[users]]\nname = \"bob\"", "[[users]]\nname = \"bob\"\n\n[[users]]\nname = \"carol\"")
            + "[[schedules.overrides]]\nuser = \"carol\"\nstart = \"2026-12-20T06:00:00Z\"\nend = \"2026-12-20T18:00:00Z\"\n"),
    )
    .expect("valid");
    let r = start(&dir, |c| {
        c.users = changed.users.clone();
        c.schedules = changed.schedules.clone();
    })
    .await;
    let (s, v) = admin(&r, "GET", december20, Value::Null).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(shifts(&v)[0].0, "carol", "{v}");
    assert_eq!(shifts(&v)[0].3, "declared override", "{v}");
    r.stop().await;
}

/// Unfolds an iCalendar text after checking its lines: each ends in CRLF, none is longer than
/// 75 octets, continuation lines start with a space.
fn ical_lines(text: &str) -> Vec<String> {
    assert!(text.ends_with("\r\n"), "the last line ends in CRLF");
    let mut out: Vec<String> = Vec::new();
    for raw in text.strip_suffix("\r\n").unwrap_or(text).split("\r\n") {
        assert!(
            !raw.contains('\n') && !raw.contains('\r'),
            "a bare line break: {raw:?}"
        );
        assert!(raw.len() <= 75, "{} octets: {raw:?}", raw.len());
        match raw.strip_prefix(' ') {
            Some(rest) => out.last_mut().expect("a first line").push_str(rest),
            None => {
                assert!(
                    raw.contains(':'),
                    "a content line has a name and a value: {raw:?}"
                );
                out.push(raw.to_owned());
            }
        }
    }
    out
}

/// (summary, start, end) of each event, checking the calendar's structure.
fn events(text: &str) -> Vec<(String, String, String)> {
    let lines = ical_lines(text);
    assert_eq!(lines.first().map(String::as_str), Some("BEGIN:VCALENDAR"));
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    assert!(lines.iter().any(|l| l == "VERSION:2.0"));
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for l in &lines {
        match (l.as_str(), current.as_mut()) {
            ("BEGIN:VEVENT", None) => current = Some(Vec::new()),
            ("END:VEVENT", Some(e)) => {
                let get = |k: &str| {
                    (e.iter())
                        .find_map(|l| l.strip_prefix(k))
                        .unwrap_or_else(|| panic!("no {k} in {e:?}"))
                        .to_owned()
                };
                get("UID:");
                get("DTSTAMP:");
                out.push((get("SUMMARY:"), get("DTSTART:"), get("DTEND:")));
                current = None;
            }
            ("BEGIN:VEVENT", Some(_)) | ("END:VEVENT", None) => panic!("unbalanced events"),
            (l, Some(e)) => e.push(l),
            _ => {}
        }
    }
    assert!(current.is_none(), "an event is not closed");
    out
}

/// `20261207T090000Z` of an API time.
fn ical_time(t: &str) -> String {
    let ms = klaxon_engine::timestamp::parse_ts_str(t).expect("a time");
    klaxon_engine::timestamp::format_ts(ms / 1000 * 1000)
        .replace(['-', ':'], "")
        .replace(".000Z", "Z")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_icalendar_of_the_same_shifts_for_a_viewer_token_in_the_url() {
    let dir = data_dir("oncall-feeds");
    let r = start(&dir, |_| {}).await;
    tokens(&r).await;
    users(&r, &["alice", "bob"]).await;
    // A name long enough that the summary line folds.
    let name = format!("db-{}", "x".repeat(60));
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": name, "time_zone": "UTC", "layers": [
            {"users": ["alice", "bob"], "shift": "1d", "handoff": "2026-01-01T00:00:00"}]}),
    )
    .await;
    assert_eq!(s, 201, "{v}");

    let path = format!("/v1/feeds/schedules/{name}");
    let feed = r
        .request("GET", &format!("{path}?token={VIEWER}"), &[], "")
        .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert_eq!(
        feed.header("content-type").as_deref(),
        Some("text/calendar; charset=utf-8")
    );
    assert!(feed.body.contains("\r\n "), "a long line is folded");
    let got = events(&feed.body);

    // The API's shifts over the feed's range: 30 days back, 60 ahead, one event each (the
    // users alternate, so no two touch). The first and last are cut by the range's ends.
    let now = klaxon_server::wall_ms();
    let day = 86_400_000;
    let fmt = klaxon_engine::timestamp::format_ts;
    let (s, v) = admin(
        &r,
        "GET",
        &format!(
            "/v1/oncall?schedule={name}&at={}&until={}",
            fmt(now - 30 * day),
            fmt(now + 60 * day)
        ),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let want: Vec<(String, String, String)> = (v["shifts"].as_array().into_iter().flatten())
        .map(|s| {
            let t = |k: &str| s[k].as_str().unwrap_or("").to_owned();
            (
                format!("On call: {} ({name})", t("user")),
                ical_time(&t("start")),
                ical_time(&t("end")),
            )
        })
        .collect();
    assert!(want.len() >= 89, "{} shifts", want.len());
    assert_eq!(got.len(), want.len(), "{got:?}");
    let inner = |v: &[(String, String, String)]| v[1..v.len() - 1].to_vec();
    assert_eq!(inner(&got), inner(&want));

    // A user's feed: alice's shifts only, every other day.
    let feed = r
        .request(
            "GET",
            &format!("/v1/feeds/users/alice?token={VIEWER}"),
            &[],
            "",
        )
        .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    let alice = events(&feed.body);
    let want_alice: Vec<_> = (inner(&want).into_iter())
        .filter(|(summary, _, _)| summary.starts_with("On call: alice "))
        .collect();
    assert!(!want_alice.is_empty());
    for e in &want_alice {
        assert!(alice.contains(e), "{e:?} not in alice's feed");
    }
    assert!(alice
        .iter()
        .all(|(summary, _, _)| summary.starts_with("On call: alice ")));

    // Only a viewer token opens a feed from its URL; without one, 401.
    for (token, status) in [(ADMIN, 403), (RESPONDER, 403), ("klx_nope", 401)] {
        let resp = r
            .request("GET", &format!("{path}?token={token}"), &[], "")
            .await;
        assert_eq!(resp.status, status, "{token}: {}", resp.body);
    }
    let resp = r.request("GET", &path, &[], "").await;
    assert_eq!(resp.status, 401, "{}", resp.body);
    let bearer = format!("Bearer {ADMIN}");
    let resp = r
        .request("GET", &path, &[("authorization", &bearer)], "")
        .await;
    assert_eq!(
        resp.status, 200,
        "a bearer token of any role reads it: {}",
        resp.body
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_and_their_overrides_stop_at_their_limits() {
    let dir = data_dir("oncall-limits");
    let schedule = |name: &str| {
        format!(
            "[[schedules]]\nname = \"{name}\"\ntime_zone = \"UTC\"\n[[schedules.layers]]\n\
             users = [\"alice\"]\nshift = \"1d\"\nhandoff = \"2026-12-07T00:00:00\"\n"
        )
    };
    let users = "[[users]]\nname = \"alice\"\n".to_owned();
    let over = (0..1001).fold(users.clone(), |t, i| t + &schedule(&format!("s{i}")));
    let e = load(&dir, &over).expect_err("one schedule too many");
    assert!(
        e.contains("schedules: 1001 entries, over the limit of 1000"),
        "{e}"
    );
    let full = (1..1000).fold(users, |t, i| t + &schedule(&format!("s{i}")));
    let declared = load(&dir, &full).expect("999 schedules");
    let r = start(&dir, |c| {
        c.users = declared.users.clone();
        c.schedules = declared.schedules.clone();
    })
    .await;
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "api", "time_zone": "UTC", "layers": [layer_of(&["alice"])]}),
    )
    .await;
    assert_eq!(s, 201, "the 1000th: {v}");
    let (s, v) = admin(
        &r,
        "POST",
        "/v1/schedules",
        json!({"name": "more", "time_zone": "UTC", "layers": [layer_of(&["alice"])]}),
    )
    .await;
    assert_eq!(s, 409, "{v}");
    assert!(message(&v).contains("at most 1000"), "{v}");
    let (s, v) = admin(&r, "GET", "/v1/oncall", Value::Null).await;
    assert_eq!(
        (s, v["schedules"].as_array().map(Vec::len)),
        (200, Some(1000))
    );

    // 1,000 overrides on one schedule: the next is refused until one goes.
    let base = ms(&json!("2027-01-01T00:00:00Z"));
    for i in 0..1000 {
        r.store
            .change_people(
                klaxon_store::PeopleChange::AddOverride {
                    schedule: "api".into(),
                    over: klaxon_store::OverrideRecord {
                        id: 0,
                        user: "alice".into(),
                        start: base + i * HOUR,
                        end: base + (i + 1) * HOUR,
                        created_by: "test".into(),
                        created_at: 0,
                    },
                },
                Vec::new(),
            )
            .await
            .expect("an override");
    }
    // A change through the API reads the schedule again, with its overrides.
    let (s, v) = admin(
        &r,
        "PUT",
        "/v1/schedules/api",
        json!({"time_zone": "UTC", "layers": [layer_of(&["alice"])]}),
    )
    .await;
    assert_eq!(
        (s, v["overrides"].as_array().map(Vec::len)),
        (200, Some(1000)),
        "{v}"
    );
    let cover =
        json!({"user": "alice", "start": "2028-01-01T00:00:00Z", "end": "2028-01-02T00:00:00Z"});
    let (s, v) = admin(&r, "POST", "/v1/schedules/api/overrides", cover.clone()).await;
    assert_eq!(s, 409, "{v}");
    assert!(message(&v).contains("1000 overrides"), "{v}");
    let first = v["error"].clone();
    let (_, sched) = admin(&r, "GET", "/v1/schedules/api", Value::Null).await;
    let id = sched["overrides"][0]["id"].as_i64().expect("an id");
    let (s, _) = admin(
        &r,
        "DELETE",
        &format!("/v1/schedules/api/overrides/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = admin(&r, "POST", "/v1/schedules/api/overrides", cover).await;
    assert_eq!(s, 201, "room again after {first}: {v}");
    r.stop().await;
}
