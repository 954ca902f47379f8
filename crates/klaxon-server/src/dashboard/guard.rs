//! The cross-site guard of cookie-authorized requests: a request that changes something and is
//! authorized by a dashboard session (not by a bearer token) must come from the dashboard's own
//! origin (`Origin`, and `Sec-Fetch-Site` where the browser sends it) and carry the session's
//! CSRF token in `X-CSRF-Token`. Runs before every handler; knows nothing of roles.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::SIGNIN_PATH;
use crate::auth::session::{Sessions, CSRF_HEADER};
use crate::clock::wall_ms;
use crate::error::ApiError;

/// The middleware (`axum::middleware::from_fn_with_state`).
pub(crate) async fn guard(
    State(sessions): State<Arc<Sessions>>,
    req: Request,
    next: Next,
) -> Response {
    match check(&sessions, req.method(), req.uri().path(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Whether the request may go on to its handler.
pub(crate) fn check(
    sessions: &Sessions,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    // A bearer token is authority enough: a cross-site page cannot attach one.
    if headers.contains_key(header::AUTHORIZATION) {
        return Ok(());
    }
    if path == SIGNIN_PATH {
        // No session yet; a sign-in posted from another site (login CSRF) is refused.
        return same_origin(headers, false);
    }
    let Some(session) = sessions.of_request(headers, wall_ms()) else {
        // Not authorized by a session; the handler answers 401 (or serves a public endpoint).
        return Ok(());
    };
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
    use crate::auth::Caller;
    use axum::http::HeaderValue;
    use klaxon_store::Role;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookie_requests_that_change_things_need_origin_and_token() {
        let s = Sessions::default();
        let o = s
            .open(
                Caller {
                    role: Role::Admin,
                    name: "a".into(),
                },
                wall_ms(),
            )
            .unwrap();
        let cookie = format!("klaxon_session={}", o.id);
        let csrf = o.session.csrf.clone();
        let post = |h: &HeaderMap| check(&s, &Method::POST, "/alerts/1/acknowledge", h);
        let good = [
            ("host", "127.0.0.1:7731"),
            ("origin", "http://127.0.0.1:7731"),
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        assert!(post(&headers(&good)).is_ok());
        // Without each protection in turn.
        for drop in ["origin", "x-csrf-token"] {
            let h: Vec<_> = good.iter().copied().filter(|(k, _)| *k != drop).collect();
            assert_eq!(
                post(&headers(&h)).unwrap_err().status,
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
            assert_eq!(post(&headers(&h)).unwrap_err().status, 403, "{k}: {v}");
        }
        // Reads, bearer requests and requests without a live session are not the guard's.
        assert!(check(&s, &Method::GET, "/alerts/history", &headers(&good[2..3])).is_ok());
        assert!(post(&headers(&[
            ("authorization", "Bearer x"),
            ("cookie", &cookie)
        ]))
        .is_ok());
        assert!(post(&headers(&[("cookie", "klaxon_session=gone")])).is_ok());
        // Behind a proxy the forwarded host counts.
        let proxied = [
            ("host", "10.0.0.5:7731"),
            ("x-forwarded-host", "alerts.example.net"),
            ("origin", "https://alerts.example.net"),
            ("cookie", cookie.as_str()),
            ("x-csrf-token", csrf.as_str()),
        ];
        assert!(post(&headers(&proxied)).is_ok());
    }

    #[test]
    fn sign_in_from_another_site_is_refused() {
        let s = Sessions::default();
        let signin =
            |h: &[(&'static str, &str)]| check(&s, &Method::POST, SIGNIN_PATH, &headers(h));
        assert!(signin(&[("host", "h:1"), ("origin", "http://h:1")]).is_ok());
        assert!(signin(&[("host", "h:1")]).is_ok(), "no browser, no CSRF");
        assert!(signin(&[("host", "h:1"), ("origin", "http://evil:1")]).is_err());
        assert!(signin(&[("host", "h:1"), ("sec-fetch-site", "cross-site")]).is_err());
    }
}
