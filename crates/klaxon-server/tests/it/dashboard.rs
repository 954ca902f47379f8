//! The dashboard's server side as a browser meets it: sign-in with a token, the session cookie,
//! cookie-authorized API calls, the CSRF and origin checks on every change, roles, sign-out,
//! and the embedded page and modules, through the router. (The page itself runs in a real
//! browser over a real socket in `browser/`.)

use klaxon_store::{Role, Store};
use serde_json::{json, Value};

use crate::harness::{data_dir, start, Resp, Running, ADMIN, HOST};

/// A signed-in browser: its cookie header and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
    origin: String,
}

async fn sign_in(r: &Running, token: &str) -> (Resp, Option<Browser>) {
    let origin = format!("http://{HOST}");
    let resp = r
        .request(
            "POST",
            "/ui/signin",
            &[("Content-Type", "application/json"), ("Origin", &origin)],
            &json!({ "token": token }).to_string(),
        )
        .await;
    let browser = resp.header("set-cookie").map(|c| Browser {
        cookie: c.split(';').next().unwrap_or("").to_owned(),
        csrf: resp.json()["csrf"].as_str().unwrap_or("").to_owned(),
        origin,
    });
    (resp, browser)
}

impl Browser {
    async fn get(&self, r: &Running, path: &str) -> Resp {
        r.request("GET", path, &[("Cookie", &self.cookie)], "")
            .await
    }

    /// A `fetch` from the dashboard's own page.
    async fn post(&self, r: &Running, path: &str, body: &str) -> Resp {
        r.request(
            "POST",
            path,
            &[
                ("Cookie", &self.cookie),
                ("Origin", &self.origin),
                ("Sec-Fetch-Site", "same-origin"),
                ("X-CSRF-Token", &self.csrf),
                ("Content-Type", "application/json"),
            ],
            body,
        )
        .await
    }
}

async fn new_alert(r: &Running, name: &str) -> i64 {
    new_alert_labelled(r, name, "web-1").await
}

async fn add_token(r: &Running, name: &str, role: Role, token: &str) {
    r.store
        .insert_token(name, role, &klaxon_server::hash_token(token), 0)
        .await
        .expect("token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_strict_http_only_cookie_that_authorizes_reads() {
    let dir = data_dir("dash-signin");
    let r = start(&dir, |c| c.dashboard.session_hours = 2).await;
    let (resp, b) = sign_in(&r, ADMIN).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let cookie = resp.header("set-cookie").expect("a cookie");
    for part in [
        "klaxon_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=7200",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let v = resp.json();
    assert_eq!(v["role"], "admin");
    assert_eq!(
        v["may"],
        json!({"read": true, "respond": true, "admin": true})
    );
    assert!(!resp.body.contains(ADMIN), "the token is never echoed");
    let b = b.expect("signed in");
    assert_eq!(b.csrf.len(), 64);
    assert!(
        !cookie.contains(&b.csrf),
        "the CSRF token is not in the cookie"
    );

    let summary = b.get(&r, "/alerts/summary").await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    let session = b.get(&r, "/ui/session").await;
    assert_eq!(session.status, 200);
    assert_eq!(session.json()["csrf"], b.csrf.as_str());
    assert_eq!(session.header("cache-control").as_deref(), Some("no-store"));

    let anonymous = r.request("GET", "/alerts/summary", &[], "").await;
    assert_eq!(anonymous.status, 401);
    let forged = r
        .request(
            "GET",
            "/alerts/summary",
            &[("Cookie", "klaxon_session=feed")],
            "",
        )
        .await;
    assert_eq!(forged.status, 401);
    assert!(forged.body.contains("sign in again"), "{}", forged.body);
    assert_eq!(r.request("GET", "/ui/session", &[], "").await.status, 401);

    // Behind a TLS proxy the cookie is Secure.
    let proxied = r
        .request(
            "POST",
            "/ui/signin",
            &[
                ("Content-Type", "application/json"),
                ("X-Forwarded-Proto", "https"),
            ],
            &json!({ "token": ADMIN }).to_string(),
        )
        .await;
    assert!(proxied
        .header("set-cookie")
        .is_some_and(|c| c.contains("; Secure")));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_by_cookie_need_the_csrf_token_and_the_own_origin() {
    let dir = data_dir("dash-csrf");
    let r = start(&dir, |_| {}).await;
    let id = new_alert(&r, "DiskFull").await;
    let (_, b) = sign_in(&r, ADMIN).await;
    let b = b.expect("signed in");
    let path = format!("/alerts/{id}/acknowledge");
    let attempts: [(&str, Vec<(&str, &str)>); 4] = [
        (
            "no CSRF token",
            vec![("Cookie", &b.cookie), ("Origin", &b.origin)],
        ),
        (
            "a wrong CSRF token",
            vec![
                ("Cookie", &b.cookie),
                ("Origin", &b.origin),
                ("X-CSRF-Token", "00"),
            ],
        ),
        (
            "another origin",
            vec![
                ("Cookie", &b.cookie),
                ("Origin", "http://evil.example"),
                ("X-CSRF-Token", &b.csrf),
            ],
        ),
        (
            "no origin",
            vec![("Cookie", &b.cookie), ("X-CSRF-Token", &b.csrf)],
        ),
    ];
    for (what, headers) in attempts {
        let resp = r.request("POST", &path, &headers, "").await;
        assert_eq!(resp.status, 403, "{what}: {}", resp.body);
        assert_eq!(resp.json()["error"]["code"], "forbidden", "{what}");
    }
    let (_, v) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(v["state"], "active", "no refused request changed anything");

    let ok = b
        .post(&r, &path, r#"{"reason":"from the dashboard"}"#)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let (_, v) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(v["state"], "acknowledged");
    assert_eq!(
        v["acknowledged_by"],
        "config-admin-".to_owned() + &klaxon_server::hash_token(ADMIN)[..12]
    );
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_has_the_role_of_its_token() {
    let dir = data_dir("dash-roles");
    let r = start(&dir, |_| {}).await;
    let (viewer, responder, ingest) = (
        "viewer-token-0123456789",
        "responder-token-0123456789",
        "ingest-token-0123456789",
    );
    add_token(&r, "vera", Role::Viewer, viewer).await;
    add_token(&r, "rita", Role::Responder, responder).await;
    add_token(&r, "ian", Role::Ingest, ingest).await;
    let id = new_alert(&r, "Latency").await;

    let (_, v) = sign_in(&r, viewer).await;
    let v = v.expect("viewer signs in");
    assert_eq!(
        v.get(&r, "/ui/session").await.json()["may"]["respond"],
        false
    );
    assert_eq!(v.get(&r, "/alerts/history").await.status, 200);
    let refused = v.post(&r, &format!("/alerts/{id}/acknowledge"), "").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("viewer"), "{}", refused.body);

    let (_, rb) = sign_in(&r, responder).await;
    let rb = rb.expect("responder signs in");
    let note = rb
        .post(&r, &format!("/alerts/{id}/notes"), r#"{"text":"looking"}"#)
        .await;
    assert_eq!(note.status, 200, "{}", note.body);
    let (_, d) = r.admin("GET", &format!("/alerts/{id}"), "").await;
    assert_eq!(
        d["notes"][0]["author"], "rita",
        "the session acts as its token's name"
    );
    let activate = rb.post(&r, "/v1/rulesets/x/1/activate", "").await;
    assert_eq!(activate.status, 403, "a responder may not activate rules");

    let (resp, none) = sign_in(&r, ingest).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert!(none.is_none(), "no cookie for an ingest token");
    let (resp, none) = sign_in(&r, "not-a-token-at-all").await;
    assert_eq!(resp.status, 401);
    assert!(none.is_none());
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_signs_in_without_script_and_sign_out_ends_the_session() {
    let dir = data_dir("dash-form");
    let r = start(&dir, |_| {}).await;
    let origin = format!("http://{HOST}");
    let form = |body: String| {
        let origin = origin.clone();
        let r = &r;
        async move {
            r.request(
                "POST",
                "/ui/signin",
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Origin", &origin),
                ],
                &body,
            )
            .await
        }
    };
    let bad = form("token=nope".into()).await;
    assert_eq!(bad.status, 303);
    assert_eq!(bad.header("location").as_deref(), Some("/?signin=failed"));
    assert!(bad.header("set-cookie").is_none());
    let ok = form(format!("token={ADMIN}")).await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.header("location").as_deref(), Some("/"));
    let cookie = ok.header("set-cookie").expect("cookie");
    let cookie = cookie.split(';').next().expect("pair").to_owned();

    let cross = r
        .request(
            "POST",
            "/ui/signin",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Origin", "http://evil.example"),
            ],
            &format!("token={ADMIN}"),
        )
        .await;
    assert_eq!(cross.status, 403, "a cross-site sign-in is refused");
    assert!(cross.header("set-cookie").is_none());

    let session = r
        .request("GET", "/ui/session", &[("Cookie", &cookie)], "")
        .await;
    let csrf = session.json()["csrf"].as_str().expect("csrf").to_owned();
    let b = Browser {
        cookie: cookie.clone(),
        csrf,
        origin: origin.clone(),
    };
    let without = r
        .request(
            "POST",
            "/ui/signout",
            &[("Cookie", &cookie), ("Origin", &origin)],
            "",
        )
        .await;
    assert_eq!(without.status, 403, "sign-out is CSRF-checked too");
    let out = b.post(&r, "/ui/signout", "").await;
    assert_eq!(out.status, 204);
    assert!(out
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    let after = b.get(&r, "/alerts/summary").await;
    assert_eq!(after.status, 401, "the old cookie is worth nothing");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_modules_are_embedded_and_served_under_a_strict_policy() {
    let dir = data_dir("dash-assets");
    let r = start(&dir, |_| {}).await;
    let page = r.request("GET", "/", &[], "").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(page.body.contains("/ui/assets/app.js"));
    assert!(!page.body.contains("<script>"), "no inline script");

    let etag = page.header("etag").expect("etag");
    let again = r.request("GET", "/", &[("If-None-Match", &etag)], "").await;
    assert_eq!(again.status, 304);

    // Every module the page loads exists, and so does every module those import.
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec!["app.js".to_owned(), "app.css".to_owned()];
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let resp = r
            .request("GET", &format!("/ui/assets/{name}"), &[], "")
            .await;
        assert_eq!(resp.status, 200, "{name}");
        assert!(!resp.body.trim().is_empty(), "{name} is not empty");
        if name.ends_with(".js") {
            assert!(resp
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/javascript")));
            for part in resp.body.split("from \"./").skip(1) {
                let import = part.split('"').next().unwrap_or("").to_owned();
                todo.push(import);
            }
            let body = resp.body.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "{name} fetches nothing from elsewhere"
            );
        }
    }
    assert!(seen.len() >= 10, "{seen:?}");
    let missing = r.request("GET", "/ui/assets/nope.js", &[], "").await;
    assert_eq!(missing.status, 404);
    let (s, doc) = r.admin("GET", "/openapi.json", "").await;
    assert_eq!(s, 200);
    assert!(
        doc["paths"]["/ui/signin"]["post"].is_object(),
        "the sign-in is documented"
    );
    r.stop().await;
}

/// A browser that opens an alert's API address (`Accept: text/html`, no token) gets the page,
/// which shows the alert; API clients keep getting JSON from the same address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_address_opened_in_a_browser_is_the_page_and_json_for_the_api() {
    let dir = data_dir("dash-alert-address");
    let r = start(&dir, |_| {}).await;
    let id = new_alert(&r, "DiskFull").await;
    let path = format!("/alerts/{id}");
    let navigation = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page_of = |resp: &Resp| {
        resp.status == 200
            && resp
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html"))
            && resp.body.contains("/ui/assets/app.js")
    };

    let page = r.request("GET", &path, &[("Accept", navigation)], "").await;
    assert!(page_of(&page), "{} {}", page.status, page.body);
    assert!(page.header("content-security-policy").is_some());
    assert!(page
        .header("vary")
        .is_some_and(|v| v.eq_ignore_ascii_case("accept")));
    // Even an alert that does not exist: the page says so after sign-in.
    let missing = r
        .request("GET", "/alerts/99999", &[("Accept", navigation)], "")
        .await;
    assert!(page_of(&missing), "{}", missing.status);
    // Signed in, the browser's navigation still gets the page, and its fetch the JSON.
    let (_, b) = sign_in(&r, ADMIN).await;
    let b = b.expect("signed in");
    let signed = r
        .request(
            "GET",
            &path,
            &[("Accept", navigation), ("Cookie", &b.cookie)],
            "",
        )
        .await;
    assert!(page_of(&signed), "{}", signed.status);
    let fetched = r
        .request(
            "GET",
            &path,
            &[("Accept", "application/json"), ("Cookie", &b.cookie)],
            "",
        )
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()["name"], "DiskFull");
    assert!(fetched
        .header("vary")
        .is_some_and(|v| v.eq_ignore_ascii_case("accept")));

    // API clients: a token, or no HTML asked for, is JSON as before.
    let bearer = format!("Bearer {ADMIN}");
    for headers in [
        vec![("Accept", navigation), ("Authorization", bearer.as_str())],
        vec![("Authorization", bearer.as_str())],
        vec![("Accept", "*/*"), ("Authorization", bearer.as_str())],
    ] {
        let resp = r.request("GET", &path, &headers, "").await;
        assert_eq!(resp.status, 200, "{headers:?}");
        assert_eq!(resp.json()["id"], id, "{headers:?}: {}", resp.body);
    }
    for accept in ["application/json", "*/*"] {
        let resp = r.request("GET", &path, &[("Accept", accept)], "").await;
        assert_eq!(resp.status, 401, "{accept}: {}", resp.body);
    }
    // Only an alert's own address is a page.
    for other in [
        "/alerts/history",
        "/alerts/summary",
        &format!("{path}/acknowledge"),
    ] {
        let resp = r.request("GET", other, &[("Accept", navigation)], "").await;
        assert!(!page_of(&resp), "{other} is not the page");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_set_comes_in_one_compact_answer() {
    let dir = data_dir("dash-open");
    let r = start(&dir, |_| {}).await;
    let a = new_alert(&r, "One").await;
    let b = new_alert_labelled(&r, "Two", "web-2").await;
    let c = new_alert_labelled(&r, "Three", "web-3").await;
    let (s, _) = r.admin("POST", &format!("/alerts/{b}/resolve"), "").await;
    assert_eq!(s, 200);
    let (s, _) = r
        .admin("POST", &format!("/alerts/{a}/acknowledge"), "")
        .await;
    assert_eq!(s, 200);
    let (s, v) = r.admin("GET", "/alerts/open", "").await;
    assert_eq!(s, 200, "{v}");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(fields[..4], ["id", "name", "severity", "state"]);
    let col = |f: &str| fields.iter().position(|x| *x == f).expect("a column");
    let rows = v["rows"].as_array().expect("rows");
    let ids: Vec<i64> = rows.iter().filter_map(|r| r[0].as_i64()).collect();
    assert_eq!(ids, vec![c, a], "open alerts only, newest first: {v}");
    assert_eq!(rows[1][col("state")], "acknowledged");
    assert_eq!(rows[0][col("labels")]["host"], "web-3");
    assert!(rows[0][col("first_seen")]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert_eq!(v["truncated"], false);
    let (_, v) = r.admin("GET", "/alerts/open?limit=1", "").await;
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["truncated"], true);
    let (_, _, anonymous) = r.call("GET", "/alerts/open", None, "", "").await;
    assert_eq!(anonymous["error"]["code"], "unauthorized");
    r.stop().await;
}

async fn new_alert_labelled(r: &Running, name: &str, host: &str) -> i64 {
    let (s, v) = r
        .admin(
            "POST",
            "/alerts/create",
            &json!({"name": name, "severity": "high", "labels": {"host": host}}).to_string(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_i64().expect("id")
}
