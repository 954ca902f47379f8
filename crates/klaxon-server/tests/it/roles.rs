//! Roles on every route that changes something: the test walks the endpoint table (the
//! OpenAPI document the router is built from) and, for every method but GET, sends it with a
//! token of each role. Ingest tokens may only send signals and alerts; viewers may only check
//! rule sets; responders act on alerts and silences and cover on-call shifts (overrides); rule
//! sets, tokens, users, teams, schedules and escalation policies are the admin's. The expected role of each route is written here, apart from the table, by what
//! the route does: a new route that changes something and is not classified below fails, and so
//! does one whose `Access` in the table lets the wrong roles through.

use klaxon_store::{Role, Store};

use crate::harness::{data_dir, start, ADMIN};

const INGEST: &str = "roles-ingest-token-0123456789";
const VIEWER: &str = "roles-viewer-token-0123456789";
const RESPONDER: &str = "roles-responder-token-0123456789";

/// The weakest role a route that changes something needs, by what it does; `None` for a route
/// nobody classified yet.
fn expected(method: &str, path: &str) -> Option<Role> {
    let ingest = path == "/v1/signals"
        || path == "/v1/processes"
        || path.starts_with("/v1/processes/")
        || ["/v1/traces", "/v1/logs", "/v1/metrics"].contains(&path)
        || (method == "POST" && path == "/api/v2/alerts");
    let check = method == "POST" && path.ends_with("/check");
    let respond = path.starts_with("/alerts/")
        || (path.starts_with("/incidents/") && path != "/incidents/topology/reload")
        || (path.starts_with("/v1/schedules/") && path.contains("/overrides"))
        || path == "/api/v2/silences"
        || path.starts_with("/api/v2/silence/");
    let admin = path == "/incidents/topology/reload"
        || [
            "/v1/rulesets",
            "/v1/threshold-rules",
            "/v1/tokens",
            "/v1/users",
            "/v1/teams",
            "/v1/schedules",
            "/v1/escalation-policies",
        ]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if ingest {
        Some(Role::Ingest)
    } else if check {
        Some(Role::Viewer)
    } else if respond {
        Some(Role::Responder)
    } else if admin {
        Some(Role::Admin)
    } else {
        None
    }
}

/// Whether `role` may call a route that needs `need` (the role ladder, ingest apart).
fn may(role: Role, need: Role) -> bool {
    match need {
        Role::Ingest => matches!(role, Role::Ingest | Role::Admin),
        _ => role != Role::Ingest && role >= need,
    }
}

/// Routes without a token by design: the dashboard's sign-in and sign-out check their caller
/// in band; the paths of Alertmanager's removed API v1 change nothing and answer 410 to
/// anyone, as Alertmanager does.
const NO_TOKEN: &[&str] = &[
    "POST /ui/signin",
    "POST /ui/signout",
    "POST /api/v1/alerts",
    "POST /api/v1/silences",
    "DELETE /api/v1/silence/{id}",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_that_changes_something_lets_only_its_roles_through() {
    let dir = data_dir("roles");
    let r = start(&dir, |_| {}).await;
    for (name, role, token) in [
        ("i", Role::Ingest, INGEST),
        ("v", Role::Viewer, VIEWER),
        ("r", Role::Responder, RESPONDER),
    ] {
        r.store
            .insert_token(name, role, &klaxon_server::hash_token(token), 0)
            .await
            .expect("token");
    }
    let (_, doc) = r.admin("GET", "/openapi.json", "").await;
    let mut problems = Vec::new();
    let mut walked = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("operations").keys() {
            let method = method.to_ascii_uppercase();
            if method == "GET" {
                continue;
            }
            let at = format!("{method} {template}");
            if NO_TOKEN.contains(&at.as_str()) {
                continue;
            }
            let Some(need) = expected(&method, template) else {
                problems.push(format!(
                    "{at}: not classified in this test; say which role it needs"
                ));
                continue;
            };
            let path: String = template
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            walked += 1;
            // The admin last: its requests may change what the others would meet.
            for (role, token) in [
                (Role::Ingest, INGEST),
                (Role::Viewer, VIEWER),
                (Role::Responder, RESPONDER),
                (Role::Admin, ADMIN),
            ] {
                let (status, _, v) = r
                    .call(&method, &path, Some(token), "application/json", "{}")
                    .await;
                let allowed = may(role, need);
                let refused = status == 403;
                if allowed && (status == 401 || status == 403) {
                    problems.push(format!("{at}: {role:?} refused with {status}: {v}"));
                } else if !allowed && !refused {
                    problems.push(format!("{at}: {role:?} got {status}, not 403"));
                } else if refused && !v["error"]["message"].is_string() {
                    problems.push(format!("{at}: {role:?}: a 403 without a JSON error: {v}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(walked >= 30, "only {walked} routes walked");
    r.stop().await;
}

#[test]
fn the_classification_says_what_a_person_would() {
    assert_eq!(expected("POST", "/v1/signals"), Some(Role::Ingest));
    assert_eq!(expected("POST", "/v1/traces"), Some(Role::Ingest));
    assert_eq!(expected("POST", "/v1/rulesets/check"), Some(Role::Viewer));
    assert_eq!(
        expected("POST", "/alerts/{id}/acknowledge"),
        Some(Role::Responder)
    );
    assert_eq!(
        expected("POST", "/incidents/{id}/escalate"),
        Some(Role::Responder)
    );
    assert_eq!(
        expected("DELETE", "/api/v2/silence/{id}"),
        Some(Role::Responder)
    );
    assert_eq!(
        expected("POST", "/v1/schedules/{name}/overrides"),
        Some(Role::Responder)
    );
    assert_eq!(expected("PUT", "/v1/schedules/{name}"), Some(Role::Admin));
    assert_eq!(expected("PATCH", "/v1/users/{name}"), Some(Role::Admin));
    assert_eq!(
        expected("POST", "/v1/rulesets/{name}/{version}/activate"),
        Some(Role::Admin)
    );
    assert_eq!(expected("POST", "/v1/something-new"), None);
    assert!(may(Role::Admin, Role::Ingest) && !may(Role::Viewer, Role::Ingest));
    assert!(!may(Role::Ingest, Role::Viewer) && may(Role::Responder, Role::Viewer));
    assert!(!may(Role::Viewer, Role::Responder) && !may(Role::Responder, Role::Admin));
}
