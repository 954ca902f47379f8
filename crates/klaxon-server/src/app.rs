//! The application: the endpoint table (the API's, the dashboard's, and `/openapi.json`), the
//! router built from it (each endpoint behind the gate of its access and body limit, all behind
//! the dashboard's cross-site guard, every rejection in the API's error shape), and the OpenAPI
//! 3.0 document generated from the same table, so the two cannot drift apart. The API and the
//! dashboard each contribute endpoints; neither imports the other.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use klaxon_store::Store;
use serde_json::Value;

use crate::error::ApiError;
use crate::gate::{self, Gate};
use crate::openapi::doc::Doc;
use crate::openapi::shape::Shape;
use crate::state::{Access, AppState, BodyLimit, Endpoint};

/// Every endpoint the server serves.
pub(crate) fn endpoints<S: Store + Clone>() -> Vec<Endpoint<S>> {
    let mut all = crate::api::endpoints::<S>();
    all.push(Endpoint {
        method: "GET",
        path: "/openapi.json",
        access: Access::Public,
        body: BodyLimit::SMALL,
        summary: "This document",
        handler: get(serve::<S>),
        doc: Doc::new().ok(Shape::object()
            .req("openapi", Shape::string())
            .req("info", Shape::object())
            .req("paths", Shape::map(Shape::object()))
            .req("components", Shape::object())
            .describe("an OpenAPI 3.0 document")),
    });
    all.extend(crate::dashboard::endpoints::<S>());
    all
}

/// The router with every endpoint of [`endpoints`], each behind its gate.
pub(crate) fn router<S: Store + Clone>(state: AppState<S>) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState<S>>)> = Vec::new();
    for e in endpoints::<S>() {
        let g = Gate {
            st: state.clone(),
            access: e.access,
            cap: e.body.bytes(&state.config),
        };
        let handler = e
            .handler
            .route_layer(axum::middleware::from_fn_with_state(g, gate::admit::<S>));
        match by_path.iter_mut().find(|(p, _)| *p == e.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(handler),
            None => by_path.push((e.path, handler)),
        }
    }
    let mut r = Router::new();
    for (path, m) in by_path {
        r = r.route(path, m);
    }
    let tls = state.config.tls.is_some();
    let r = r
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method (see the Allow header)",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::dashboard::guard::<S>,
        ))
        // Each gate caps its own body; axum's default of 2 MB would cut rule sets short.
        .layer(axum::extract::DefaultBodyLimit::disable());
    let r = if tls {
        r.layer(axum::middleware::map_response(strict_transport))
    } else {
        r
    };
    r.with_state(state)
}

/// Over TLS, every answer tells browsers to keep to HTTPS.
async fn strict_transport(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    resp
}

/// `GET /openapi.json`.
pub(crate) async fn serve<S: Store + Clone>(State(st): State<AppState<S>>) -> Json<Value> {
    Json(crate::openapi::document(&endpoints::<S>(), &st.config))
}
