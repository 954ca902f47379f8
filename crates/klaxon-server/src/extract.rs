//! Request extractors whose every rejection is an `ApiError` in the API's JSON shape: path and
//! query parameters, JSON, text and raw bodies within the route's body limit, and the caller the
//! gate authenticated. Handlers use these, never axum's own (whose rejections are plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;

/// The body limit of the request's route in bytes, put into its extensions by the gate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyCap(pub usize);

/// 413 naming the limit.
pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("request body over {limit} bytes, this endpoint's limit"),
    )
    .with_details(json!({"limit_bytes": limit}))
}

/// An axum rejection as an `ApiError`: its status and text; a 5xx stays generic.
fn rejected(status: StatusCode, code: &'static str, text: String) -> ApiError {
    if status.is_server_error() {
        ApiError::internal(text)
    } else {
        ApiError::new(status, code, text)
    }
}

/// Path parameters; one that does not parse (`/alerts/abc`, an id over 2^63) is a 400.
pub(crate) struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e| rejected(e.status(), "invalid_path", e.body_text()))
    }
}

/// Query parameters; one that does not parse (`?limit=many`, a number out of range) is a 400.
pub(crate) struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e| rejected(e.status(), "invalid_query", e.body_text()))
    }
}

/// The caller the gate authenticated (`Access::Token` endpoints only).
pub(crate) struct Authed(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authed)
            .ok_or_else(|| ApiError::internal("endpoint without an authenticated caller"))
    }
}

/// The whole body, at most the route's limit (413 beyond).
pub(crate) struct Raw(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Raw {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let cap = req.extensions().get::<BodyCap>().map(|c| c.0);
        Bytes::from_request(req, state)
            .await
            .map(Raw)
            .map_err(|e| match (e.status(), cap) {
                (StatusCode::PAYLOAD_TOO_LARGE, Some(cap)) => too_large(cap),
                (status, _) => rejected(status, "bad_request", e.body_text()),
            })
    }
}

/// The whole body as UTF-8 text; other bytes are a 400 naming where they start.
pub(crate) struct Text(pub String);

impl<S: Send + Sync> FromRequest<S> for Text {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Raw(bytes) = Raw::from_request(req, state).await?;
        match String::from_utf8(bytes.into()) {
            Ok(s) => Ok(Text(s)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    format!("body is not UTF-8 (byte {at})"),
                )
                .with_details(json!({"byte": at})))
            }
        }
    }
}

/// A JSON request body, whatever the content type; an empty body is `{}`. A malformed body is a
/// 400 that names line and column; a body of the wrong shape is a 422 that names the field.
pub(crate) struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Raw(bytes) = Raw::from_request(req, state).await?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        json_of(text).map(JsonBody)
    }
}

/// Parses one JSON value of `T` with the errors of [`JsonBody`].
pub(crate) fn json_of<T: DeserializeOwned>(text: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("body is not one JSON value: {e}"),
            )
            .with_details(json!({"line": e.line(), "column": e.column()}))),
        },
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let at = json!({"line": inner.line(), "column": inner.column()});
            if inner.is_syntax() || inner.is_eof() {
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("body is not JSON: {inner}"),
                )
                .with_details(at))
            } else {
                let field = if path == "." {
                    String::new()
                } else {
                    format!("{path}: ")
                };
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_body",
                    format!("{field}{inner}"),
                )
                .with_details(
                    json!({"field": path, "line": inner.line(), "column": inner.column()}),
                ))
            }
        }
    }
}
