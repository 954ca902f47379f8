//! The gate every routed request passes before its handler's extractors run: it authenticates
//! the caller from the request's head as the endpoint table's `Access` says, so a body sent
//! without a valid token is never read, and caps the body at the endpoint's limit (413 at once
//! when `Content-Length` says more, or as soon as a streamed body passes it). The caller goes
//! into the request's extensions for the handler (`extract::Authed`). Knows no routes.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;
use klaxon_store::{Role, Store};

use crate::auth::{Caller, Need};
use crate::error::ApiResult;
use crate::extract::{too_large, BodyCap};
use crate::state::{Access, AppState};

/// A verified TLS client certificate of the request's connection, by its SHA-256 fingerprint
/// (put into every request of the connection by the listener).
#[derive(Debug, Clone)]
pub(crate) struct ClientCert {
    pub fingerprint: String,
}

/// What the gate of one endpoint checks.
pub(crate) struct Gate<S> {
    pub st: AppState<S>,
    pub access: Access,
    /// The body limit in bytes.
    pub cap: usize,
}

impl<S> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Gate {
            st: self.st.clone(),
            access: self.access,
            cap: self.cap,
        }
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`, as a route layer of each endpoint).
pub(crate) async fn admit<S: Store + Clone>(
    State(g): State<Gate<S>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Access::Token(need) = g.access {
        let cert = req.extensions().get::<ClientCert>().cloned();
        match caller(&g.st, req.headers(), cert, need).await {
            Ok(c) => {
                req.extensions_mut().insert(c);
            }
            Err(e) => return e.into_response(),
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > g.cap as u64) {
        return too_large(g.cap).into_response();
    }
    req.extensions_mut().insert(BodyCap(g.cap));
    let cap = g.cap;
    next.run(req.map(|b| Body::new(Limited::new(b, cap)))).await
}

/// The caller of a request that needs `need`: a client certificate stands for an ingest caller
/// when the request carries no bearer token; everything else is the token or session's.
async fn caller<S: Store + Clone>(
    st: &AppState<S>,
    headers: &HeaderMap,
    cert: Option<ClientCert>,
    need: Need,
) -> ApiResult<Caller> {
    if need == Need::Ingest && !headers.contains_key(header::AUTHORIZATION) {
        if let Some(cert) = cert {
            return Ok(Caller {
                role: Role::Ingest,
                name: format!("certificate {}", cert.fingerprint),
                // No token stands behind a client certificate.
                token_id: 0,
                user: None,
            });
        }
    }
    st.auth.caller(headers, need).await
}

/// Whether a body error is the gate's limit being passed.
pub(crate) fn over_cap(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}
