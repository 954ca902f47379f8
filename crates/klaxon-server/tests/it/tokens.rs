//! Tokens and sessions over real HTTP: tokens of every role created through the API work for
//! their routes and are refused elsewhere; revocation and expiry take effect at once (the
//! cache of tokens in force included) and say so; secrets are never listed; dashboard
//! sessions live in the database, capped per token, kept across restarts, carried over from
//! the older `sessions.json`; and no `Authorization` header switches the cross-site check of a
//! cookie request off.

use std::time::{Duration, Instant};

use crate::harness::{data_dir, start, Running, ADMIN};
use klaxon_server::hash_token;
use klaxon_store::{NewToken, Role, Store};
use serde_json::{json, Value};

/// A request with these headers through the router: status, head, JSON body.
async fn http_with(
    r: &Running,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, Value) {
    let resp = r.request(method, path, headers, body).await;
    let json = resp.json();
    (resp.status, resp.head, json)
}

/// Creates a token through the API: (status, answer).
async fn create(r: &Running, body: Value) -> (u16, Value) {
    let (s, _, v) = create_as(r, ADMIN, body).await;
    (s, v)
}

/// Creates a token through the API with `token`: (status, head, answer).
async fn create_as(r: &Running, token: &str, body: Value) -> (u16, String, Value) {
    r.call(
        "POST",
        "/v1/tokens",
        Some(token),
        "application/json",
        &body.to_string(),
    )
    .await
}

/// Creates a token that must be accepted; its secret.
async fn secret(r: &Running, name: &str, role: &str) -> String {
    let (s, v) = create(r, json!({"name": name, "role": role})).await;
    assert_eq!(s, 201, "{v}");
    v["token"].as_str().expect("secret").to_owned()
}

/// The status of `method path` with `token`.
async fn status(r: &Running, method: &str, path: &str, token: &str, body: &str) -> u16 {
    r.call(method, path, Some(token), "application/json", body)
        .await
        .0
}

/// The error message of `GET /v1/alerts` with `token`, and its status.
async fn refusal(r: &Running, token: &str) -> (u16, String) {
    let (s, _, v) = r
        .call("GET", "/v1/alerts", Some(token), "application/json", "")
        .await;
    (s, v["error"]["message"].as_str().unwrap_or("").to_owned())
}

/// A dashboard sign-in: (cookie header value, CSRF token), or the status of the refusal.
async fn sign_in(r: &Running, token: &str) -> Result<(String, String), u16> {
    let (s, head, v) = http_with(
        r,
        "POST",
        "/ui/signin",
        &[
            ("Content-Type", "application/json"),
            ("Origin", "http://klaxon.test"),
        ],
        &json!({ "token": token }).to_string(),
    )
    .await;
    let cookie = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("set-cookie")
            .then(|| v.trim().split(';').next().unwrap_or("").to_owned())
    });
    match (s, cookie) {
        (200, Some(c)) => Ok((c, v["csrf"].as_str().unwrap_or("").to_owned())),
        _ => Err(s),
    }
}

/// The status of `GET /ui/session` with a cookie.
async fn session_status(r: &Running, cookie: &str) -> u16 {
    http_with(r, "GET", "/ui/session", &[("Cookie", cookie)], "")
        .await
        .0
}

/// The tokens as `GET /v1/tokens` lists them.
async fn listed(r: &Running) -> Vec<Value> {
    let (s, v) = r.admin("GET", "/v1/tokens", "").await;
    assert_eq!(s, 200, "{v}");
    v["tokens"].as_array().cloned().unwrap_or_default()
}

/// Polls `f` until it holds (bounded).
async fn eventually<F: std::future::Future<Output = bool>>(mut f: impl FnMut() -> F) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_created_through_the_api_works_for_its_routes_and_only_those() {
    let dir = data_dir("tokens-roles");
    let r = start(&dir, |_| {}).await;
    let mut secrets = Vec::new();
    for role in ["ingest", "viewer", "responder", "admin"] {
        let (s, v) = create(&r, json!({"name": format!("{role}-1"), "role": role})).await;
        assert_eq!(s, 201, "{v}");
        let secret = v["token"].as_str().expect("secret").to_owned();
        assert!(
            secret.starts_with("klx_") && secret.len() >= 4 + 43,
            "{secret}"
        );
        assert_eq!(
            (v["role"].as_str(), v["state"].as_str()),
            (Some(role), Some("active"))
        );
        assert!(
            v["created_by"]
                .as_str()
                .is_some_and(|b| b.starts_with("config-admin-")),
            "{v}"
        );
        secrets.push((role, secret));
    }
    let signal = r#"{"kind":"mark","process":"p","action":"A"}"#;
    // (method, path, body) for: ingest, read, respond, admin.
    let routes = [
        ("POST", "/v1/signals", signal),
        ("GET", "/v1/alerts", ""),
        ("POST", "/alerts/bulk/acknowledge", r#"{"ids": [999999]}"#),
        ("GET", "/v1/tokens", ""),
    ];
    for (role, secret) in &secrets {
        let expected = match *role {
            "ingest" => [true, false, false, false],
            "viewer" => [false, true, false, false],
            "responder" => [false, true, true, false],
            _ => [true, true, true, true],
        };
        for ((method, path, body), allowed) in routes.iter().zip(expected) {
            let s = status(&r, method, path, secret, body).await;
            if allowed {
                assert!((200..300).contains(&s), "{role} {method} {path}: {s}");
            } else {
                assert_eq!(s, 403, "{role} {method} {path}");
            }
        }
    }

    // An action by a created token is recorded under its name.
    let responder = &secrets[2].1;
    let (s, _, a) = r
        .call(
            "POST",
            "/alerts/create",
            Some(responder),
            "application/json",
            r#"{"name": "disk-full"}"#,
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let path = format!("/alerts/{}/acknowledge", a["id"]);
    assert_eq!(status(&r, "POST", &path, responder, "{}").await, 200);
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", a["id"]), "").await;
    let events = detail["events"].as_array().cloned().unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|e| e["to"] == "acknowledged" && e["actor"] == "responder-1"),
        "{detail}"
    );

    // Only an admin manages tokens, and bad requests say what is wrong.
    let viewer = &secrets[1].1;
    let (s, _, _) = create_as(&r, viewer, json!({"name": "x", "role": "admin"})).await;
    assert_eq!(s, 403);
    for (body, field) in [
        (json!({"role": "viewer"}), "name"),
        (json!({"name": "x", "role": "root"}), "role"),
        (
            json!({"name": "x", "role": "viewer", "expires": "2001-01-01T00:00:00Z"}),
            "expires",
        ),
        (
            json!({"name": "x", "role": "viewer", "expires": "30"}),
            "expires",
        ),
        (json!({"name": "42", "role": "viewer"}), "name"),
    ] {
        let (s, v) = create(&r, body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or("")
                .starts_with(field),
            "{v}"
        );
    }
    let (s, v) = create(&r, json!({"name": "viewer-1", "role": "viewer"})).await;
    assert_eq!(s, 409, "a name in use: {v}");
    let grafana = json!({"name": "grafana", "role": "viewer", "expires": "30d", "user": "ana"});
    let (s, v) = create(&r, grafana.clone()).await;
    assert_eq!(s, 422, "a user that does not exist: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("user: no user named"),
        "{v}"
    );
    let (s, v) = r
        .admin(
            "POST",
            "/v1/users",
            r#"{"name": "ana", "time_zone": "UTC"}"#,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = create(&r, grafana).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["user"], "ana");
    assert!(v["expires_at"].as_str().is_some(), "{v}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_never_shows_a_secret_and_records_the_last_use() {
    let dir = data_dir("tokens-list");
    let r = start(&dir, |_| {}).await;
    let secret = secret(&r, "prometheus", "ingest").await;
    let (s, head, created) = create_as(&r, ADMIN, json!({"name": "g", "role": "viewer"})).await;
    assert_eq!(s, 201);
    assert!(
        head.to_ascii_lowercase()
            .contains("cache-control: no-store"),
        "{head}"
    );
    let second = created["token"].as_str().expect("secret").to_owned();

    let (_, v) = r.admin("GET", "/v1/tokens", "").await;
    let text = v.to_string();
    for s in [&secret, &second] {
        assert!(!text.contains(s.as_str()), "a secret in the list: {text}");
        assert!(!text.contains(&hash_token(s)), "a hash in the list: {text}");
    }
    let prom = listed(&r)
        .await
        .into_iter()
        .find(|t| t["name"] == "prometheus")
        .expect("listed");
    assert_eq!(prom["last_used_at"], Value::Null, "never used yet");
    assert_eq!(prom.get("token"), None);

    let signal = r#"{"kind":"mark","process":"p","action":"A"}"#;
    assert_eq!(
        status(&r, "POST", "/v1/signals", &secret, signal).await,
        200
    );
    let used = eventually(|| async {
        listed(&r)
            .await
            .iter()
            .any(|t| t["name"] == "prometheus" && t["last_used_at"].is_string())
    })
    .await;
    assert!(used, "the use of the token is recorded");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_at_once_with_its_sessions() {
    let dir = data_dir("tokens-revoke");
    let r = start(&dir, |_| {}).await;
    let (s, v) = create(&r, json!({"name": "ops", "role": "responder"})).await;
    assert_eq!(s, 201);
    let (id, secret) = (
        v["id"].as_i64().expect("id"),
        v["token"].as_str().expect("secret").to_owned(),
    );
    // In use, so the cache of tokens in force holds it; and a browser signed in with it.
    assert_eq!(refusal(&r, &secret).await.0, 200);
    assert_eq!(refusal(&r, &secret).await.0, 200);
    let (cookie, _) = sign_in(&r, &secret).await.expect("sign-in");
    assert_eq!(session_status(&r, &cookie).await, 200);

    let (s, v) = r.admin("DELETE", &format!("/v1/tokens/{id}"), "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "revoked");
    assert!(v["revoked_at"].is_string(), "{v}");

    assert_eq!(
        refusal(&r, &secret).await,
        (401, "token revoked".to_owned())
    );
    assert_eq!(session_status(&r, &cookie).await, 401, "its session ended");
    assert_eq!(sign_in(&r, &secret).await, Err(401));
    // A guess is told nothing more than "unknown".
    assert_eq!(
        refusal(&r, "klx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await,
        (401, "unknown token".to_owned())
    );
    // Revoking again changes nothing; an unknown id is 404.
    assert_eq!(
        r.admin("DELETE", &format!("/v1/tokens/{id}"), "").await.0,
        200
    );
    assert_eq!(r.admin("DELETE", "/v1/tokens/999999", "").await.0, 404);
    // The name is free again.
    assert_eq!(
        create(&r, json!({"name": "ops", "role": "viewer"})).await.0,
        201
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_token_cannot_be_revoked() {
    let dir = data_dir("tokens-last-admin");
    let r = start(&dir, |_| {}).await;
    let config_admin = listed(&r).await[0]["id"].as_i64().expect("id");
    let (s, v) = r
        .admin("DELETE", &format!("/v1/tokens/{config_admin}"), "")
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(refusal(&r, ADMIN).await.0, 200);

    let second = secret(&r, "second-admin", "admin").await;
    let (s, _, v) = r
        .call(
            "DELETE",
            &format!("/v1/tokens/{config_admin}"),
            Some(&second),
            "application/json",
            "",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(refusal(&r, ADMIN).await, (401, "token revoked".to_owned()));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_saying_so_even_when_cached() {
    let dir = data_dir("tokens-expiry");
    let r = start(&dir, |_| {}).await;
    // Expired before its first use: read from the store.
    r.store
        .create_token(NewToken {
            name: "old".into(),
            role: Role::Viewer,
            hash: hash_token("old-token-0123456789"),
            created_at: 0,
            created_by: None,
            expires_at: Some(1),
            user: None,
        })
        .await
        .expect("token");
    assert_eq!(
        refusal(&r, "old-token-0123456789").await,
        (401, "token expired".to_owned())
    );
    assert_eq!(sign_in(&r, "old-token-0123456789").await, Err(401));

    // Used while in force (so cached), then past its expiry.
    let (s, v) = create(
        &r,
        json!({"name": "brief", "role": "viewer", "expires": "1s"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let secret = v["token"].as_str().expect("secret").to_owned();
    assert_eq!(refusal(&r, &secret).await.0, 200);
    let expired =
        eventually(|| async { refusal(&r, &secret).await == (401, "token expired".to_owned()) })
            .await;
    assert!(expired, "the cached token expires");
    let brief = listed(&r).await.into_iter().find(|t| t["name"] == "brief");
    assert_eq!(brief.expect("listed")["state"], "expired");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_authorization_header_switches_the_cross_site_check_off() {
    let dir = data_dir("tokens-csrf");
    let r = start(&dir, |_| {}).await;
    let (_, a) = r
        .admin("POST", "/alerts/create", r#"{"name": "db-down"}"#)
        .await;
    let path = format!("/alerts/{}/acknowledge", a["id"]);
    let (cookie, csrf) = sign_in(&r, ADMIN).await.expect("sign-in");
    // A cross-site page posting with the browser's cookie and credentials of its own.
    for auth in [
        "Basic YWRtaW46YWRtaW4=",
        "",
        "Bearer",
        "Bearer ",
        "Bearer junk",
        "bearer",
        "bearer junk",
    ] {
        let (s, _, v) = http_with(
            &r,
            "POST",
            &path,
            &[
                ("Authorization", auth),
                ("Cookie", &cookie),
                ("Origin", "http://evil.example"),
                ("Sec-Fetch-Site", "cross-site"),
                ("Content-Type", "application/json"),
            ],
            "{}",
        )
        .await;
        assert_eq!(s, 401, "Authorization: {auth:?}: {v}");
    }
    // Not downgraded to the cookie for reads either.
    let (s, _, _) = http_with(
        &r,
        "GET",
        "/v1/alerts",
        &[
            ("Authorization", "Basic YWRtaW46YWRtaW4="),
            ("Cookie", &cookie),
        ],
        "",
    )
    .await;
    assert_eq!(s, 401);
    // The cookie alone, cross-site: refused by the cross-site check.
    let (s, _, _) = http_with(
        &r,
        "POST",
        &path,
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        "{}",
    )
    .await;
    assert_eq!(s, 403);
    let (_, detail) = r.admin("GET", &format!("/alerts/{}", a["id"]), "").await;
    assert_eq!(detail["state"], "active", "nothing acted: {detail}");
    // The dashboard's own request goes through.
    let (s, _, v) = http_with(
        &r,
        "POST",
        &path,
        &[
            ("Cookie", &cookie),
            ("Origin", "http://klaxon.test"),
            ("X-CSRF-Token", &csrf),
            ("Content-Type", "application/json"),
        ],
        "{}",
    )
    .await;
    assert_eq!(s, 200, "{v}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_capped_per_token_kept_across_restarts_and_never_written_to_a_file() {
    let dir = data_dir("tokens-sessions");
    let r = start(&dir, |_| {}).await;
    let (admin_cookie, _) = sign_in(&r, ADMIN).await.expect("admin sign-in");
    let viewer = secret(&r, "wall-display", "viewer").await;
    let mut cookies = Vec::new();
    for _ in 0..25 {
        cookies.push(sign_in(&r, &viewer).await.expect("viewer sign-in").0);
    }
    for (i, c) in cookies.iter().enumerate() {
        let expected = if i < 5 { 401 } else { 200 };
        assert_eq!(session_status(&r, c).await, expected, "viewer session {i}");
    }
    assert_eq!(
        session_status(&r, &admin_cookie).await,
        200,
        "another token's session is untouched"
    );
    assert!(
        !dir.join("sessions.json").exists(),
        "a sign-in rewrites no file"
    );

    r.stop().await;
    let r = start(&dir, |_| {}).await;
    assert_eq!(
        session_status(&r, &admin_cookie).await,
        200,
        "kept across a restart"
    );
    assert_eq!(session_status(&r, &cookies[24]).await, 200);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_the_older_file_are_carried_over_once() {
    let dir = data_dir("tokens-legacy");
    let now = klaxon_server::wall_ms();
    let admin_name = format!("config-admin-{}", &hash_token(ADMIN)[..12]);
    let entry = |id: &str, name: &str, expires_at: i64| {
        json!({"key": hash_token(id), "role": "admin", "name": name, "csrf": "c".repeat(64),
            "created_at": now - 1_000, "expires_at": expires_at})
    };
    let file = json!([
        entry("live-session-id", &admin_name, now + 3_600_000),
        entry("expired-session-id", &admin_name, now - 1),
        entry("orphan-session-id", "nobody", now + 3_600_000),
    ]);
    std::fs::write(dir.join("sessions.json"), file.to_string()).expect("write");
    let r = start(&dir, |_| {}).await;
    assert!(
        !dir.join("sessions.json").exists(),
        "the older file is removed"
    );
    let cookie = |id: &str| format!("klaxon_session={id}");
    assert_eq!(session_status(&r, &cookie("live-session-id")).await, 200);
    assert_eq!(session_status(&r, &cookie("expired-session-id")).await, 401);
    assert_eq!(session_status(&r, &cookie("orphan-session-id")).await, 401);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_admin_token_keeps_working() {
    let dir = data_dir("tokens-bootstrap");
    let r = start(&dir, |c| c.admin_token = None).await;
    let token = std::fs::read_to_string(dir.join("admin.token")).expect("admin.token");
    let token = token.trim();
    assert!(token.starts_with("klx_"), "{token}");
    let (s, _, v) = r.call("GET", "/v1/tokens", Some(token), "", "").await;
    assert_eq!(s, 200, "{v}");
    r.stop().await;
    let r = start(&dir, |c| c.admin_token = None).await;
    let again = std::fs::read_to_string(dir.join("admin.token")).expect("admin.token");
    assert_eq!(again.trim(), token, "not made again at a restart");
    assert_eq!(
        r.call("GET", "/v1/tokens", Some(token), "", "").await.0,
        200
    );
    r.stop().await;
}
