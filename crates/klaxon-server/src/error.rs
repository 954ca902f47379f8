//! The one error type of the HTTP API and its JSON body `{"error": {"code", "message", "details"}}`.
//! 5xx bodies are generic; their details go to the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use klaxon_store::StoreError;
use serde_json::{json, Value};

use crate::openapi::shape::Shape;

/// An error answered to an HTTP client.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> ApiError {
        self.details = details;
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 429 with Retry-After.
    pub(crate) fn overloaded(message: impl Into<String>, retry_after: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "overloaded", message);
        e.retry_after = Some(retry_after);
        e
    }

    /// 500 or 503 with a generic body; the cause goes to the log.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error, see the server log",
        )
    }

    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "service unavailable");
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "temporarily unavailable, retry later",
        );
        e.retry_after = Some(1);
        e
    }
}

/// A write refused because another node of the cluster leads now (docs/cluster.md) is never
/// retried: the process exits, as when the leadership is lost (crash-only: restarted, the node
/// follows). The lock's check (`cluster/`) usually notices first.
pub(crate) fn exit_if_fenced(e: &StoreError) {
    if let StoreError::Fenced(why) = e {
        tracing::error!(
            reason = %why,
            "lost the cluster's leadership: exiting so that a supervisor restarts this node as a follower"
        );
        std::process::exit(1);
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(m) => ApiError::not_found(m),
            StoreError::AlreadyExists(m) => {
                ApiError::new(StatusCode::CONFLICT, "already_exists", m)
            }
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            StoreError::Unavailable(m) | StoreError::Fenced(m) => ApiError::unavailable(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// The shape of the error body, `Error` in the OpenAPI document.
pub(crate) fn error_shape() -> Shape {
    let error = Shape::object()
        .req(
            "code",
            Shape::string()
                .describe("what went wrong, for programs: `not_found`, `invalid_body`, ..."),
        )
        .req(
            "message",
            Shape::string().describe("what went wrong, for people"),
        )
        .req(
            "details",
            Shape::any()
                .describe("more, by code: the field, the limit, every rule error; often null"),
        );
    Shape::object().req("error", error).named("Error")
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
