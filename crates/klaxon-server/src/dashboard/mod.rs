//! The dashboard served by klaxon itself: the page and its embedded assets at `/` and
//! `/ui/assets/...`, sign-in and sign-out with a token, the server-side session behind an
//! HttpOnly, SameSite=Strict cookie, and the cross-site guard of cookie requests. The page
//! reads and acts through the ordinary API; this module adds no alert logic and no SQL.

pub(crate) mod assets;
pub(crate) mod guard;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use klaxon_engine::timestamp::format_ts;
use klaxon_store::{Role, Store};
use serde_json::{json, Value};

use crate::auth::credential::cookie;
use crate::auth::session::{Opened, Session, COOKIE};
use crate::auth::{allows, Need};
use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Path, Raw};
use crate::openapi::doc::{Doc, JSON};
use crate::openapi::shape::Shape;
use crate::state::{Access, AppState, BodyLimit, Endpoint};
pub(crate) use guard::guard;

/// Where the sign-in form posts.
pub(crate) const SIGNIN_PATH: &str = "/ui/signin";

/// What the page may load and talk to: only this origin, no inline script or style.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// The dashboard's endpoints, added to the API's endpoint table.
pub(crate) fn endpoints<S: Store + Clone>() -> Vec<Endpoint<S>> {
    let e = |method, path, access, summary, handler| Endpoint {
        method,
        path,
        access,
        body: BodyLimit::SMALL,
        summary,
        handler,
        doc: Doc::new(),
    };
    let file = |media: &'static str| {
        Doc::new()
            .header(
                "If-None-Match",
                Shape::string(),
                "the ETag of the copy the browser has",
            )
            .reply(200, "the file", media, Shape::string())
            .empty(304, "the browser's copy is current")
    };
    let token_body = Shape::object().req(
        "token",
        Shape::string().describe("a viewer, responder or admin token"),
    );
    vec![
        e(
            "GET",
            "/",
            Access::Public,
            "The dashboard (it asks for a token when not signed in)",
            get(index),
        )
        .doc(file("text/html")),
        e(
            "GET",
            "/ui/assets/{file}",
            Access::Public,
            "The dashboard's embedded scripts, styles and icon",
            get(asset),
        )
        .doc(
            file("text/javascript")
                .path("file", Shape::string(), "the file's name")
                .reply(200, "the file", "text/css", Shape::string())
                .reply(200, "the file", "image/svg+xml", Shape::string())
                .errors(&[404]),
        ),
        e(
            "POST",
            SIGNIN_PATH,
            Access::Public,
            "Sign in to the dashboard with a token (JSON {\"token\"} or a form); sets the session cookie",
            post(signin::<S>),
        )
        .doc(
            Doc::new()
                .body(JSON, token_body.clone())
                .body("application/x-www-form-urlencoded", token_body)
                .ok(session_shape())
                .empty(303, "a form is sent back to the page (`?signin=failed` when refused)")
                .errors(&[401, 403, 422, 503]),
        ),
        e(
            "POST",
            "/ui/signout",
            Access::Public,
            "End the dashboard session and clear its cookie",
            post(signout::<S>),
        )
        .doc(
            Doc::new()
                .no_body()
                .empty(204, "the session is over and its cookie cleared")
                .errors(&[401, 403, 503]),
        ),
        e(
            "GET",
            "/ui/session",
            Access::Token(Need::Read),
            "The dashboard session: name, role, what it may do, CSRF token, expiry",
            get(current::<S>),
        )
        .doc(Doc::new().ok(session_shape()).errors(&[503])),
    ]
}

fn page_headers(resp: &mut Response, etag: &str) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Revalidated on every load, so an upgraded binary serves its own files at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
}

fn fresh(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}

fn serve_file(
    headers: &HeaderMap,
    etag: &str,
    ctype: &'static str,
    body: &'static [u8],
) -> Response {
    let mut resp = if fresh(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, ctype)], body).into_response()
    };
    page_headers(&mut resp, etag);
    resp
}

/// `GET /`: the page.
async fn index(headers: HeaderMap) -> Response {
    serve_file(
        &headers,
        assets::index_etag(),
        "text/html; charset=utf-8",
        assets::INDEX,
    )
}

/// The page for a browser that opens an alert's API address, `/alerts/{id}` (links of older
/// notifications, or one copied from the API): a request that asks for HTML (`Accept:
/// text/html`, as a browser's navigation does) and carries no `Authorization` header gets the
/// dashboard, which shows that alert (after sign-in when signed out). API clients, which send
/// a token or ask for JSON, get the alert as JSON from the handler as before.
pub(crate) fn page_for_browser(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html"))
        });
    let page = matches!(*method, Method::GET | Method::HEAD)
        && is_alert_path(uri.path())
        && wants_html
        && !headers.contains_key(header::AUTHORIZATION);
    page.then(|| {
        let mut resp = serve_file(
            headers,
            assets::index_etag(),
            "text/html; charset=utf-8",
            assets::INDEX,
        );
        vary_on_accept(&mut resp);
        resp
    })
}

/// `/alerts/{id}`, the one API address that is also a page.
pub(crate) fn is_alert_path(path: &str) -> bool {
    path.strip_prefix("/alerts/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Marks an answer of `/alerts/{id}` as chosen by `Accept` (the page or JSON), for caches.
pub(crate) fn vary_on_accept(resp: &mut Response) {
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
}

/// `GET /ui/assets/{file}`.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match assets::find(&file) {
        Some((a, etag)) => serve_file(&headers, etag, a.content_type, a.body),
        None => ApiError::not_found("no such dashboard file").into_response(),
    }
}

/// The token of a sign-in body: JSON `{"token": "..."}` or a form `token=...`.
fn token_of(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let form = ctype.starts_with("application/x-www-form-urlencoded");
    let token = if form {
        std::str::from_utf8(body)
            .ok()
            .and_then(|b| {
                b.split('&')
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| *k == "token")
                    .map(|(_, v)| form_decode(v))
            })
            .flatten()
    } else {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_owned))
    };
    match token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) {
        Some(t) => Ok(t),
        None => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "token: required, as JSON {\"token\": \"...\"} or a form field",
        )),
    }
}

/// Decodes one `application/x-www-form-urlencoded` value; none if it is not valid UTF-8.
fn form_decode(v: &str) -> Option<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The session cookie; `Secure` when this server speaks TLS or a proxy in front of it does.
fn cookie_header(tls: bool, headers: &HeaderMap, value: &str, max_age_s: i64) -> HeaderValue {
    let secure = tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let s = format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s)
        .unwrap_or_else(|_| HeaderValue::from_static("klaxon_session=; Max-Age=0"))
}

fn session_json(s: &Session) -> Value {
    let role = s.caller.role;
    json!({
        "name": s.caller.name,
        "role": role.as_str(),
        "may": {
            "read": allows(role, Need::Read),
            "respond": allows(role, Need::Respond),
            "admin": allows(role, Need::Admin),
        },
        "csrf": s.csrf,
        "expires_at": format_ts(s.expires_at),
    })
}

/// The shape of [`session_json`].
fn session_shape() -> Shape {
    let may = Shape::object()
        .req("read", Shape::boolean())
        .req("respond", Shape::boolean())
        .req("admin", Shape::boolean());
    Shape::object()
        .req("name", Shape::string())
        .req(
            "role",
            Shape::one_of_text(&["viewer", "responder", "admin"]),
        )
        .req("may", may)
        .req(
            "csrf",
            Shape::string().describe("send it as X-CSRF-Token with every change"),
        )
        .req("expires_at", Shape::time())
        .named("Session")
}

fn no_store(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `POST /ui/signin`: checks the token as a bearer token would be checked and opens a session.
/// JSON in, JSON out (401 or 403 with the API's error body); a form is answered with a
/// redirect to the page (with `?signin=failed` when refused).
async fn signin<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
    Raw(body): Raw,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    match open_session(&st, &headers, &body).await {
        Ok(opened) => {
            let ttl_s = (opened.session.expires_at - opened.session.created_at) / 1000;
            let cookie = cookie_header(st.config.tls.is_some(), &headers, &opened.id, ttl_s);
            let mut resp = if form {
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response()
            } else {
                Json(session_json(&opened.session)).into_response()
            };
            resp.headers_mut().insert(header::SET_COOKIE, cookie);
            no_store(&mut resp);
            resp
        }
        Err(e) if form => {
            let reason = if e.status == StatusCode::FORBIDDEN {
                "/?signin=forbidden"
            } else {
                "/?signin=failed"
            };
            (StatusCode::SEE_OTHER, [(header::LOCATION, reason)]).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn open_session<S: Store + Clone>(
    st: &AppState<S>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Opened> {
    let token = token_of(headers, body)?;
    let now = wall_ms();
    let caller = st.auth.of_token(&token).await?;
    if caller.role == Role::Ingest {
        return Err(ApiError::forbidden(
            "an ingest token may only send signals; sign in with a viewer, responder or admin token",
        ));
    }
    let opened = st.auth.open_session(&token, now).await?;
    tracing::info!(name = %opened.session.caller.name, role = opened.session.caller.role.as_str(), "dashboard sign-in");
    let c = &opened.session.caller;
    let row = crate::people::audit(c, now, "session.signin", format!("token:{}", c.name), None);
    st.store.append_audit(vec![row]).await?;
    Ok(opened)
}

/// `POST /ui/signout`: ends the session (the guard has checked its CSRF token) and clears the
/// cookie; 204 whether or not a session was open.
async fn signout<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(id) = cookie(&headers) {
        st.auth.close_session(&id).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        cookie_header(st.config.tls.is_some(), &headers, "", 0),
    );
    no_store(&mut resp);
    Ok(resp)
}

/// `GET /ui/session`: the session of the request's cookie, with its CSRF token; 401 without.
async fn current<S: Store + Clone>(
    State(st): State<AppState<S>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(id) = cookie(&headers) else {
        return Err(ApiError::unauthorized("not signed in to the dashboard"));
    };
    let s = st.auth.session(&id, wall_ms()).await?;
    let mut resp = Json(session_json(&s)).into_response();
    no_store(&mut resp);
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode() {
        assert_eq!(form_decode("a+b%21c").as_deref(), Some("a b!c"));
        assert_eq!(form_decode("kx_%7E").as_deref(), Some("kx_~"));
        assert_eq!(form_decode("bad%2"), None);
        assert_eq!(form_decode("bad%zz"), None);
        assert_eq!(form_decode("%FF"), None, "not UTF-8");
    }
}
