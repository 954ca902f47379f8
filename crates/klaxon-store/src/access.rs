//! The records of access: tokens (`Role`, `TokenRecord`, `NewToken`, whether a token is in
//! force) and dashboard sessions (`NewSession`, `SessionRecord`). Only hashes of secrets are
//! records: neither a token's secret nor a session id is ever given to the store.

use serde::Serialize;

/// Roles of access tokens, weakest first; a role includes those before it, except `ingest`,
/// which may only send signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Ingest,
    Viewer,
    Responder,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ingest" => Some(Role::Ingest),
            "viewer" => Some(Role::Viewer),
            "responder" => Some(Role::Responder),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }
}

/// A stored access token (only its hash is kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    pub id: i64,
    /// Unique among the tokens that are not revoked.
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the token; never the token itself.
    #[serde(skip)]
    pub hash: String,
    /// Epoch ms.
    pub created_at: i64,
    /// The name of the token that created this one; none for tokens made at start.
    pub created_by: Option<String>,
    /// Epoch ms after which the token is refused; none: it does not expire.
    pub expires_at: Option<i64>,
    /// Epoch ms when it was revoked.
    pub revoked_at: Option<i64>,
    /// Epoch ms of a recent use (recorded at most about once a minute).
    pub last_used_at: Option<i64>,
    /// The user the token belongs to, by name.
    pub user: Option<String>,
}

/// Whether a token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    Active,
    Expired,
    Revoked,
}

impl TokenState {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Expired => "expired",
            TokenState::Revoked => "revoked",
        }
    }
}

impl TokenRecord {
    /// The token's state at `now` (epoch ms): revoked wins over expired; a token expires at
    /// its `expires_at`, inclusive.
    pub fn state(&self, now: i64) -> TokenState {
        if self.revoked_at.is_some() {
            TokenState::Revoked
        } else if self.expires_at.is_some_and(|e| e <= now) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }
}

/// A token to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    pub expires_at: Option<i64>,
    pub user: Option<String>,
}

/// A dashboard session to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// Hex SHA-256 of the session id; never the id itself.
    pub key: String,
    /// The token the session was opened with.
    pub token_id: i64,
    /// The session's CSRF token.
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A stored dashboard session with its token as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub key: String,
    pub token: TokenRecord,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}
