//! The one place that maps SQLite (rusqlite) errors to [`StoreError`].
//! Owns the classification only; callers add context by rewriting the message of a variant,
//! never by inspecting driver codes themselves.

use rusqlite::ffi;
use rusqlite::ErrorCode;

use crate::StoreError;

/// Classifies a rusqlite error by what the caller can do about it.
pub(crate) fn map(e: rusqlite::Error) -> StoreError {
    let msg = e.to_string();
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => match f.extended_code {
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    StoreError::AlreadyExists(msg)
                }
                _ => StoreError::Conflict(msg),
            },
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::DatabaseCorrupt
            | ErrorCode::NotADatabase
            | ErrorCode::NoLargeFileSupport
            | ErrorCode::OperationInterrupted
            | ErrorCode::OperationAborted
            | ErrorCode::SchemaChanged => StoreError::Unavailable(msg),
            ErrorCode::TooBig | ErrorCode::TypeMismatch => StoreError::Invalid(msg),
            _ => StoreError::Unavailable(msg),
        },
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound(msg),
        rusqlite::Error::ToSqlConversionFailure(_)
        | rusqlite::Error::NulError(_)
        | rusqlite::Error::InvalidPath(_) => StoreError::Invalid(msg),
        // A stored value that does not read back as its record type: the file is not what
        // this build wrote. Nothing the caller sent can fix it.
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(_) => StoreError::Unavailable(msg),
        _ => StoreError::Unavailable(msg),
    }
}

/// The detail of an error without the variant's prefix, to wrap it in another variant.
pub(crate) fn message(e: &StoreError) -> &str {
    match e {
        StoreError::NotFound(m)
        | StoreError::AlreadyExists(m)
        | StoreError::Conflict(m)
        | StoreError::Unavailable(m)
        | StoreError::Invalid(m)
        | StoreError::Fenced(m) => m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: std::ffi::c_int) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn unique_violations_are_already_exists_other_constraints_conflict() {
        assert!(matches!(
            map(failure(ffi::SQLITE_CONSTRAINT_UNIQUE)),
            StoreError::AlreadyExists(_)
        ));
        assert!(matches!(
            map(failure(ffi::SQLITE_CONSTRAINT_PRIMARYKEY)),
            StoreError::AlreadyExists(_)
        ));
        assert!(matches!(
            map(failure(ffi::SQLITE_CONSTRAINT_FOREIGNKEY)),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            map(failure(ffi::SQLITE_CONSTRAINT_CHECK)),
            StoreError::Conflict(_)
        ));
    }

    #[test]
    fn busy_io_and_full_are_unavailable() {
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_IOERR,
            ffi::SQLITE_FULL,
            ffi::SQLITE_IOERR_FSYNC,
        ] {
            assert!(
                matches!(map(failure(code)), StoreError::Unavailable(_)),
                "code {code}"
            );
        }
    }

    #[test]
    fn no_rows_is_not_found() {
        assert!(matches!(
            map(rusqlite::Error::QueryReturnedNoRows),
            StoreError::NotFound(_)
        ));
    }
}
