//! The one place that maps PostgreSQL (tokio-postgres) errors to [`StoreError`].
//! Owns the classification only; callers add context by rewriting the message of a variant,
//! never by inspecting driver codes themselves.

use tokio_postgres::error::SqlState;

use crate::StoreError;

/// Classifies a tokio-postgres error by what the caller can do about it. A database error's
/// message names its constraint, so callers can tell which unique key refused a row.
pub(crate) fn map(e: tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        // No answer from the server: connection lost, refused, timed out.
        return StoreError::Unavailable(e.to_string());
    };
    let msg = match db.constraint() {
        Some(c) => format!("{} ({c})", db.message()),
        None => db.message().to_owned(),
    };
    let code = db.code();
    if *code == SqlState::UNIQUE_VIOLATION {
        StoreError::AlreadyExists(msg)
    } else if code.code().starts_with("23") {
        // Foreign key, check, not-null and exclusion violations.
        StoreError::Conflict(msg)
    } else if code.code().starts_with("22") {
        // Data exceptions: a value out of range, an invalid text representation.
        StoreError::Invalid(msg)
    } else {
        StoreError::Unavailable(msg)
    }
}

/// A stored value that does not read back as its record type: the database is not what this
/// build wrote. Nothing the caller sent can fix it.
pub(crate) fn decoding(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("cannot read {what}: {detail}"))
}
