//! The application: the endpoint table (the API's, the dashboard's, and `/openapi.json`), the
//! router built from it with the body limit and the dashboard's cross-site guard, and the
//! OpenAPI 3.0 document generated from the same table, so the two cannot drift apart. The API
//! and the dashboard each contribute endpoints; neither imports the other.

use axum::extract::State;
use axum::routing::{get, MethodRouter};
use axum::{Json, Router};
use klaxon_store::Store;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::state::{AppState, Endpoint};

/// Every endpoint the server serves.
pub(crate) fn endpoints<S: Store + Clone>() -> Vec<Endpoint<S>> {
    let mut all = crate::api::endpoints::<S>();
    all.push(Endpoint {
        method: "GET",
        path: "/openapi.json",
        role: "none",
        summary: "This document",
        handler: get(serve::<S>),
    });
    all.extend(crate::dashboard::endpoints::<S>());
    all
}

/// The router with every endpoint of [`endpoints`].
pub(crate) fn router<S: Store + Clone>(state: AppState<S>) -> Router {
    let body_limit = state.config.ingest.max_body_bytes;
    let mut by_path: Vec<(&'static str, MethodRouter<AppState<S>>)> = Vec::new();
    for e in endpoints::<S>() {
        match by_path.iter_mut().find(|(p, _)| *p == e.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(e.handler),
            None => by_path.push((e.path, e.handler)),
        }
    }
    let mut r = Router::new();
    for (path, m) in by_path {
        r = r.route(path, m);
    }
    r.fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::dashboard::guard::<S>,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The OpenAPI document of every endpoint.
pub(crate) fn document<S: Store + Clone>() -> Value {
    let mut paths = Map::new();
    for e in endpoints::<S>() {
        let params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let ty = if matches!(name, "id" | "version") {
                    "integer"
                } else {
                    "string"
                };
                json!({"name": name, "in": "path", "required": true, "schema": {"type": ty}})
            })
            .collect();
        let tag = e
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        let mut op = json!({
            "summary": e.summary,
            "tags": [tag],
            "parameters": params,
            "x-klaxon-role": e.role,
            "responses": {
                "200": {"description": "success"},
                "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if e.role != "none" {
            op["security"] = json!([{"bearer": []}]);
        }
        let item = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        item[e.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "klaxon", "version": env!("CARGO_PKG_VERSION"), "description": "A self-hosted alerting server."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"}, "details": {}
                }}}
            }},
        },
    })
}

/// `GET /openapi.json`.
pub(crate) async fn serve<S: Store + Clone>(State(_st): State<AppState<S>>) -> Json<Value> {
    Json(document::<S>())
}
