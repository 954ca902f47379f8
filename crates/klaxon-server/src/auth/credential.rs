//! What a request presents to prove who sent it: a bearer token, a dashboard session cookie,
//! nothing, or an `Authorization` header that is not a bearer token. One reading for the
//! authorization of handlers and for the cross-site guard, so the two cannot disagree about
//! how a request is authorized. A leaf: reads headers only.

use axum::http::{header, HeaderMap, HeaderValue};

/// The cookie that carries the session id.
pub(crate) const COOKIE: &str = "klaxon_session";

/// How a request says who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// `Authorization: Bearer <token>` (the scheme in any case). The token decides; a session
    /// cookie beside it is not used.
    Bearer(String),
    /// No `Authorization` header, and a session cookie.
    Cookie(String),
    /// An `Authorization` header that is not one bearer token: refused, never read as the
    /// cookie beside it. The reason for the answer.
    Malformed(&'static str),
    /// Neither.
    Missing,
}

const NOT_BEARER: &str =
    "the Authorization header must be `Bearer <token>`; no other scheme is accepted";
const NO_TOKEN: &str = "the Authorization header names no token (`Bearer <token>`)";
const SEVERAL: &str = "a request may carry one Authorization header";

/// The credential of a request.
pub(crate) fn credential(headers: &HeaderMap) -> Credential {
    let mut auth = headers.get_all(header::AUTHORIZATION).iter();
    match (auth.next(), auth.next()) {
        (Some(_), Some(_)) => Credential::Malformed(SEVERAL),
        (Some(v), None) => bearer(v),
        (None, _) => cookie(headers).map_or(Credential::Missing, Credential::Cookie),
    }
}

fn bearer(v: &HeaderValue) -> Credential {
    let Ok(v) = v.to_str() else {
        return Credential::Malformed(NOT_BEARER);
    };
    let v = v.trim();
    let (scheme, token) = v
        .split_once([' ', '\t'])
        .map_or((v, ""), |(s, t)| (s, t.trim()));
    if !scheme.eq_ignore_ascii_case("bearer") {
        Credential::Malformed(NOT_BEARER)
    } else if token.is_empty() || token.contains(char::is_whitespace) {
        Credential::Malformed(NO_TOKEN)
    } else {
        Credential::Bearer(token.to_owned())
    }
}

/// The session cookie's value, if the request carries one (the first, if several).
pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// Headers from name and value pairs, for tests.
#[cfg(test)]
pub(crate) fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).expect("a valid header value"));
    }
    h
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests

    use super::*;

    #[test]
    fn an_authorization_header_is_a_bearer_token_or_refused_never_the_cookie() {
        let c = ("cookie", "klaxon_session=abc");
        let bearer = |t: &str| Credential::Bearer(t.to_owned());
        for (auth, expected) in [
            ("Bearer tok", bearer("tok")),
            ("bearer tok", bearer("tok")),
            ("BEARER  tok ", bearer("tok")),
            ("Bearer\ttok", bearer("tok")),
            ("Basic dXNlcjpwYXNz", Credential::Malformed(NOT_BEARER)),
            ("", Credential::Malformed(NOT_BEARER)),
            ("Bearer", Credential::Malformed(NO_TOKEN)),
            ("Bearer ", Credential::Malformed(NO_TOKEN)),
            ("bearer", Credential::Malformed(NO_TOKEN)),
            ("Bearer a b", Credential::Malformed(NO_TOKEN)),
            ("Bearertok", Credential::Malformed(NOT_BEARER)),
            ("Token tok", Credential::Malformed(NOT_BEARER)),
        ] {
            assert_eq!(
                credential(&headers(&[("authorization", auth), c])),
                expected,
                "{auth:?}"
            );
        }
        assert_eq!(
            credential(&headers(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ])),
            Credential::Malformed(SEVERAL)
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert_eq!(credential(&h), Credential::Malformed(NOT_BEARER));
        assert_eq!(credential(&headers(&[c])), Credential::Cookie("abc".into()));
        assert_eq!(credential(&headers(&[])), Credential::Missing);
    }

    #[test]
    fn cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; klaxon_session=abc ; b=2")]);
        assert_eq!(cookie(&h).as_deref(), Some("abc"));
        let h = headers(&[("cookie", "x=1"), ("cookie", "klaxon_session=def")]);
        assert_eq!(cookie(&h).as_deref(), Some("def"));
        assert_eq!(cookie(&headers(&[("cookie", "klaxon_sessionx=1")])), None);
        assert_eq!(cookie(&headers(&[("cookie", "klaxon_session=")])), None);
    }
}
