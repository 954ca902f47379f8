//! The one error type of the store boundary; variants are what a caller acts on.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend cannot serve now (disk full, closed, I/O error); details are for the log.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("invalid: {0}")]
    Invalid(String),
    /// The write was refused because this node is no longer the cluster's leader (another node
    /// raised the leader epoch since it won): nothing was written, and retrying cannot succeed.
    #[error("fenced: {0}")]
    Fenced(String),
}
