//! The cross-site guard of cookie-authorized requests. One rule: a request that changes
//! something and is authorized by a dashboard session must come from the dashboard's own
//! origin (`Origin`, and `Sec-Fetch-Site` where the browser sends it) and carry the session's
//! CSRF token in `X-CSRF-Token`, whatever other headers it carries. A request is authorized by
//! its session only when it has no `Authorization` header (`auth::credential`); one whose
//! `Authorization` is not a bearer token is refused here, before any handler runs.
//! Knows nothing of roles. Being the one layer every request passes, it also hands a browser
//! that opens an alert's API address (`/alerts/{id}`) the page instead (`page_for_browser`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use klaxon_store::Store;

use super::SIGNIN_PATH;
use crate::auth::session::{Session, CSRF_HEADER};
use crate::auth::{credential, Credential};
use crate::clock::wall_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// The middleware (`axum::middleware::from_fn_with_state`).
pub(crate) async fn guard<S: Store + Clone>(
    State(st): State<AppState<S>>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(page) = super::page_for_browser(req.method(), req.uri(), req.headers()) {
            return page;
        }
        let alert = super::is_alert_path(req.uri().path());
        let mut resp = next.run(req).await;
        if alert {
            super::vary_on_accept(&mut resp);
        }
        return resp;
    }
    let path = req.uri().path();
    let cred = credential(req.headers());
    let session = match &cred {
        Credential::Cookie(id) if path != SIGNIN_PATH => {
            match st.auth.live_session(id, wall_ms()).await {
                Ok(s) => s,
                Err(e) => return e.into_response(),
            }
        }
        _ => None,
    };
    match check(path, req.headers(), &cred, session.as_ref()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Whether a request that changes something may go on to its handler, given how it is
/// authorized and the live session of its cookie (if it is authorized by one).
pub(crate) fn check(
    path: &str,
    headers: &HeaderMap,
    cred: &Credential,
    session: Option<&Session>,
) -> Result<(), ApiError> {
    match cred {
        Credential::Malformed(why) => Err(ApiError::unauthorized(*why)),
        // A bearer token is authority enough: a cross-site page cannot attach one.
        Credential::Bearer(_) => Ok(()),
        // No session yet; a sign-in posted from another site (login CSRF) is refused.
        _ if path == SIGNIN_PATH => same_origin(headers, false),
        Credential::Cookie(_) => match session {
            Some(session) => csrf(headers, session),
            // Not authorized by a session: the handler answers 401 (or serves a public
            // endpoint).
            None => Ok(()),
        },
        Credential::Missing => Ok(()),
    }
}

/// The request comes from the session's own pages: this origin and its CSRF token.
fn csrf(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    same_origin(headers, true)?;
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if given.is_empty() {
        return Err(ApiError::forbidden(
            "a request authorized by the dashboard session needs its X-CSRF-Token header",
        ));
    }
    if !session.csrf_matches(given) {
        return Err(ApiError::forbidden(
            "the X-CSRF-Token header does not match the dashboard session",
        ));
    }
    Ok(())
}

/// The request comes from this server's own origin: `Origin` names the host the request was
/// sent to (`Host`, or `X-Forwarded-Host` behind a proxy), and `Sec-Fetch-Site`, when sent,
/// says `same-origin`. With `required`, a missing `Origin` is refused too.
fn same_origin(headers: &HeaderMap, required: bool) -> Result<(), ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(ApiError::forbidden(format!(
                "a cross-site request ({site}) may not use the dashboard session"
            )));
        }
    }
    let Some(origin) = text("origin") else {
        return if required {
            Err(ApiError::forbidden(
                "a request authorized by the dashboard session needs an Origin header",
            ))
        } else {
            Ok(())
        };
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    let ours = [text("x-forwarded-host"), text("host")];
    let matches = !authority.is_empty()
        && ours.iter().flatten().any(|h| {
            h.split(',')
                .next()
                .is_some_and(|h| h.trim().eq_ignore_ascii_case(authority))
        });
    if matches {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "origin {origin} is not this server's; the dashboard session works only from its own pages"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;
    use crate::auth::credential::headers;
    use crate::auth::Caller;
    use klaxon_store::Role;

    fn session() -> Session {
        Session {
            caller: Caller {
                role: Role::Admin,
                name: "a".into(),
                token_id: 1,
                user: None,
            },
            csrf: "c".repeat(64),
            created_at: 0,
            expires_at: i64::MAX,
        }
    }

    /// As the guard decides for a request whose cookie names `session` (when live).
    fn post(h: &HeaderMap, session: Option<&Session>) -> Result<(), ApiError> {
        check("/alerts/1/acknowledge", h, &credential(h), session)
    }

    #[test]
    fn cookie_requests_that_change_things_need_origin_and_token() {
        let s = session();
        let good = [
            ("host", "127.0.0.1:7731"),
            ("origin", "http://127.0.0.1:7731"),
            ("cookie", "klaxon_session=abc"),
            ("x-csrf-token", s.csrf.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(post(&headers(&good), Some(&s)).is_ok());
        // Without each protection in turn.
        for drop in ["origin", "x-csrf-token"] {
            let h: Vec<_> = good.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert_eq!(
                post(&headers(&h), Some(&s)).unwrap_err().status,
                403,
                "without {drop}"
            );
        }
        for (k, v) in [
            ("origin", "http://evil.example"),
            ("origin", "null"),
            ("x-csrf-token", "0000"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            let mut h: Vec<_> = good.iter().copied().filter(|(x, _)| *x != k).collect();
            h.push((k, v));
            assert_eq!(
                post(&headers(&h), Some(&s)).unwrap_err().status,
                403,
                "{k}: {v}"
            );
        }
        // Bearer requests and requests without a live session are not the guard's.
        let bearer = headers(&[
            ("authorization", "Bearer x"),
            ("cookie", "klaxon_session=abc"),
        ]);
        assert!(post(&bearer, Some(&s)).is_ok());
        assert!(post(&headers(&[("cookie", "klaxon_session=gone")]), None).is_ok());
        // Behind a proxy the forwarded host counts.
        let proxied = [
            ("host", "10.0.0.5:7731"),
            ("x-forwarded-host", "alerts.example.net"),
            ("origin", "https://alerts.example.net"),
            ("cookie", "klaxon_session=abc"),
            ("x-csrf-token", s.csrf.as_str()),
        ];
        assert!(post(&headers(&proxied), Some(&s)).is_ok());
    }

    #[test]
    fn an_authorization_that_is_not_a_bearer_token_never_skips_the_check() {
        let s = session();
        for auth in [
            "Basic dXNlcjpwYXNz",
            "",
            "Bearer",
            "Bearer ",
            "bearer",
            "Token x",
        ] {
            let h = headers(&[
                ("host", "h:1"),
                ("origin", "http://evil.example"),
                ("authorization", auth),
                ("cookie", "klaxon_session=abc"),
            ]);
            let e = post(&h, Some(&s)).unwrap_err();
            assert_eq!(e.status, 401, "{auth:?}");
        }
    }

    #[test]
    fn sign_in_from_another_site_is_refused() {
        let signin = |h: &[(&'static str, &str)]| {
            let h = headers(h);
            check(SIGNIN_PATH, &h, &credential(&h), None)
        };
        assert!(signin(&[("host", "h:1"), ("origin", "http://h:1")]).is_ok());
        assert!(signin(&[("host", "h:1")]).is_ok(), "no browser, no CSRF");
        assert!(signin(&[("host", "h:1"), ("origin", "http://evil:1")]).is_err());
        assert!(signin(&[("host", "h:1"), ("sec-fetch-site", "cross-site")]).is_err());
        let cookie = [
            ("host", "h:1"),
            ("origin", "http://evil:1"),
            ("cookie", "klaxon_session=x"),
        ];
        assert!(
            signin(&cookie).is_err(),
            "a cookie does not make it same-site"
        );
    }
}
