//! The OpenAPI 3.0 document at `/openapi.json`, generated from the same endpoint table the
//! router is built from.

use axum::extract::State;
use axum::Json;
use klaxon_store::Store;
use serde_json::{json, Map, Value};

use super::{endpoints, AppState};

/// The document for every endpoint of the API.
pub fn document<S: Store + Clone>() -> Value {
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
pub async fn serve<S: Store + Clone>(State(_st): State<AppState<S>>) -> Json<Value> {
    Json(document::<S>())
}
