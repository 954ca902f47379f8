//! The OpenAPI 3.0 document (`GET /openapi.json`), generated from the endpoint table the router
//! is built from, so the two cannot drift apart: every row's method, path, access and body
//! limit, and its `Doc` (parameters, request body, answers and their shapes).
//!
//! Documenting an endpoint, next to its row in the table:
//!
//! ```text
//! ep("POST", "/v1/things/{id}/notes", Token(Respond), SMALL, "Add a note", post(things::note::<S>))
//!     .doc(Doc::new()
//!         .path("id", Shape::integer(), "the thing's id")
//!         .json::<things::NoteBody>()          // a request type: `impl Schema for NoteBody`
//!         .ok(things::note_shape())            // the answer's shape, next to what builds it
//!         .errors(&[404, 422, 503])),
//! ```
//!
//! - A request type implements `shape::Schema` by hand next to its definition (`Shape::object()`
//!   with `.req` and `.opt` per field, `.closed()` for `deny_unknown_fields`); a query-string
//!   type the same way, read with `.query::<T>()`.
//! - An answer built with `json!` has a `fn ..._shape() -> Shape` next to the function that
//!   builds it; a shape used in several answers is `.named("Name")`, rendered once under
//!   `components/schemas`.
//! - Every `{param}` of the path is declared with `.path` and its type (ids of alerts and tokens
//!   are integers; process and silence ids are text). A POST that reads no body says
//!   `.no_body()`. Every endpoint documents a success.
//! - `.errors(&[...])` lists the statuses answered with the `Error` shape; the document adds
//!   401 and 403 (a token is needed), 413 (a body is read) and 400 (parameters parse).
//!
//! Modules import `openapi::shape` and `openapi::doc`, the leaves, never this module (which
//! reads the table's rows). The unit tests below refuse a row without these;
//! `tests/it/openapi.rs` checks the rendered document and that real answers fit their shapes;
//! `scripts/schemathesis.sh` checks the running server against it with generated requests.

pub(crate) mod doc;
pub(crate) mod shape;

use klaxon_store::Store;
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::error::error_shape;
use crate::state::{Access, Endpoint};
use doc::JSON;
use shape::Shape;

/// What an error status means, as every operation documents it.
fn error_meaning(status: u16) -> &'static str {
    match status {
        400 => "a parameter or the body does not parse",
        401 => "no valid token",
        403 => "the token's role may not do this",
        404 => "not found",
        409 => "conflicts with the current state",
        413 => "the body is over this endpoint's limit",
        422 => "the body is of the wrong shape or has a value out of range",
        429 => "a queue is full: retry after Retry-After",
        503 => "unavailable (shutting down, or the store failed): retry",
        _ => "an error",
    }
}

/// The `{param}` names of a path template, in order.
pub(crate) fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// `post /v1/rulesets/{name}` → `post_v1_rulesets_name`.
fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !part.is_empty() {
            id.push('_');
            id.push_str(part);
        }
    }
    if path == "/" {
        id.push_str("_root");
    }
    id
}

fn content(media: &[(&'static str, Shape)], components: &mut Map<String, Value>) -> Value {
    let mut c = Map::new();
    for (m, s) in media {
        c.insert(
            (*m).to_owned(),
            json!({"schema": s.clone().render(components)}),
        );
    }
    Value::Object(c)
}

/// One operation of the document.
fn operation<S>(e: &Endpoint<S>, config: &Config, components: &mut Map<String, Value>) -> Value {
    let d = &e.doc;
    let mut params = Vec::new();
    for name in path_params(e.path) {
        let declared = d
            .params
            .iter()
            .find(|p| p.at == doc::In::Path && p.name == name);
        let (schema, description) = match declared {
            Some(p) => (p.shape.clone().render(components), p.description.clone()),
            None => (json!({"type": "string"}), String::new()),
        };
        params.push(json!({"name": name, "in": "path", "required": true, "schema": schema, "description": description}));
    }
    for p in d.params.iter().filter(|p| p.at != doc::In::Path) {
        let mut v = json!({
            "name": p.name, "in": p.at.as_str(), "required": p.required,
            "schema": p.shape.clone().render(components),
        });
        if !p.description.is_empty() {
            v["description"] = Value::from(p.description.clone());
        }
        if p.shape.json()["type"] == "array" {
            v["style"] = json!("form");
            v["explode"] = json!(true);
        }
        params.push(v);
    }
    let mut responses = Map::new();
    for r in &d.replies {
        let mut v = json!({ "description": r.description });
        if !r.content.is_empty() {
            v["content"] = content(&r.content, components);
        }
        responses.insert(r.status.to_string(), v);
    }
    let mut errors = d.errors.clone();
    if e.access != Access::Public {
        errors.extend([401, 403]);
    }
    if d.request.is_some() {
        errors.push(413);
    }
    if !params.is_empty() {
        errors.push(400);
    }
    let error = error_shape();
    for status in errors {
        responses.entry(status.to_string()).or_insert_with(|| {
            json!({
                "description": error_meaning(status),
                "content": {JSON: {"schema": error.clone().render(components)}},
            })
        });
    }
    let tag = e
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    let mut op = json!({
        "operationId": operation_id(e.method, e.path),
        "summary": e.summary,
        "tags": [if tag.is_empty() { "ui" } else { tag }],
        "parameters": params,
        "x-klaxon-role": e.access.role_name(),
        "x-klaxon-max-body-bytes": e.body.bytes(config),
        "responses": responses,
    });
    if let Some(r) = &d.request {
        op["requestBody"] = json!({
            "required": r.required,
            "content": content(&r.content, components),
        });
    }
    if e.access != Access::Public {
        op["security"] = json!([{"bearer": []}]);
    }
    if let Access::InBand(_) = e.access {
        // The handler checks the token: the header's, or the WebSocket's first message.
        op["x-klaxon-auth"] = json!("in-band");
    }
    op
}

/// The OpenAPI document of `endpoints`.
pub(crate) fn document<S: Store + Clone>(endpoints: &[Endpoint<S>], config: &Config) -> Value {
    let mut paths = Map::new();
    let mut components = Map::new();
    for e in endpoints {
        let op = operation(e, config, &mut components);
        let item = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        item[e.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "klaxon", "version": env!("CARGO_PKG_VERSION"), "description": "A self-hosted alerting server."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
        },
    })
}

#[cfg(test)]
mod tests {
    use klaxon_store::sqlite::SqliteStore;

    use super::*;

    /// Every row of the table documents its parameters, its body and a success, so an endpoint
    /// cannot be added without its shapes.
    #[test]
    fn every_endpoint_is_documented() {
        let mut missing = Vec::new();
        for e in crate::app::endpoints::<SqliteStore>() {
            let d = &e.doc;
            let at = format!("{} {}", e.method, e.path);
            for name in path_params(e.path) {
                let declared = d
                    .params
                    .iter()
                    .any(|p| p.at == doc::In::Path && p.name == name && !p.description.is_empty());
                if !declared {
                    missing.push(format!("{at}: path parameter {name} (`.path`)"));
                }
            }
            for p in d.params.iter().filter(|p| p.at == doc::In::Path) {
                if !path_params(e.path).any(|n| n == p.name) {
                    missing.push(format!("{at}: `.path({})` is not in the path", p.name));
                }
            }
            match (e.method, &d.request, d.bodyless) {
                ("POST" | "PUT" | "PATCH", None, false) => missing.push(format!(
                    "{at}: a request body (`.json`, `.body` or `.no_body`)"
                )),
                ("GET" | "DELETE", Some(_), _) => {
                    missing.push(format!("{at}: documents a body it does not read"))
                }
                _ => {}
            }
            if let Some(r) = &d.request {
                if r.content.iter().any(|(_, s)| s.json().is_null()) {
                    missing.push(format!("{at}: a request body without a shape"));
                }
            }
            if !d.succeeds() {
                missing.push(format!(
                    "{at}: a success answer (`.ok`, `.created`, `.reply`, `.empty`)"
                ));
            }
            for r in d
                .replies
                .iter()
                .filter(|r| r.status >= 200 && r.status < 300)
            {
                let empty_by_status = r.status == 204;
                if r.content.is_empty() && !empty_by_status && !r.description.contains("empty") {
                    missing.push(format!(
                        "{at}: {} without a shape (say \"empty\" if it is)",
                        r.status
                    ));
                }
            }
        }
        assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for e in crate::app::endpoints::<SqliteStore>() {
            let id = operation_id(e.method, e.path);
            assert!(seen.insert(id.clone()), "{id} twice");
        }
        assert_eq!(operation_id("GET", "/v1/alerts/{id}"), "get_v1_alerts_id");
    }
}
