//! Authorization: what an endpoint needs (`Need`), which roles allow it, and `Auth`, which
//! finds the caller of a request from its bearer token or, without an `Authorization` header,
//! its dashboard session; and which creates and revokes tokens. How a request presents itself
//! is `credential`'s, the cache of tokens in force `cache`'s, tokens themselves `token`'s,
//! sessions `session`'s. Owns no HTTP routing.

mod cache;
pub(crate) mod credential;
pub(crate) mod session;
pub(crate) mod token;

use std::sync::{Arc, Mutex, PoisonError};

use axum::http::HeaderMap;
use klaxon_store::{NewToken, Role, Store, TokenRecord, TokenState};

use crate::clock::wall_ms;
use crate::error::{ApiError, ApiResult};
use cache::{Cache, Hit};
pub(crate) use credential::{credential, Credential};
pub(crate) use token::Caller;
use token::{constant_time_eq, hash_token};

/// What an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Sending signals: `ingest` or `admin`.
    Ingest,
    /// Reading: `viewer`, `responder` or `admin`.
    Read,
    /// Acting on alerts: `responder` or `admin`.
    Respond,
    /// Rule sets, tokens, configuration: `admin`.
    Admin,
}

/// Whether a token of `role` may do what `need` asks.
pub(crate) fn allows(role: Role, need: Need) -> bool {
    match need {
        Need::Ingest => matches!(role, Role::Ingest | Role::Admin),
        Need::Read => matches!(role, Role::Viewer | Role::Responder | Role::Admin),
        Need::Respond => matches!(role, Role::Responder | Role::Admin),
        Need::Admin => role == Role::Admin,
    }
}

/// The answer to a token the store does not know; the same whatever was presented, so a
/// guess learns nothing.
const UNKNOWN: &str = "unknown token";

/// Checks bearer tokens against the store, with a cache of the tokens in force, and dashboard
/// sessions (a request without an `Authorization` header may carry a session cookie).
pub(crate) struct Auth<S> {
    store: S,
    cache: Arc<Mutex<Cache>>,
    /// How long a dashboard session lasts, in ms.
    session_ttl_ms: i64,
}

impl<S: Store + Clone> Auth<S> {
    /// Dashboard sessions last `session_ttl_ms` (at least a minute).
    pub(crate) fn new(store: S, session_ttl_ms: i64) -> Auth<S> {
        Auth {
            store,
            cache: Arc::default(),
            session_ttl_ms: session_ttl_ms.max(60_000),
        }
    }

    /// The role of the request's caller, if it allows `need`.
    pub(crate) async fn check(&self, headers: &HeaderMap, need: Need) -> ApiResult<Role> {
        self.caller(headers, need).await.map(|c| c.role)
    }

    /// The caller behind the request's bearer token (or, without an `Authorization` header,
    /// its dashboard session cookie), if its role allows `need`. An `Authorization` header
    /// that is not one bearer token is refused, whatever cookie comes with it. Cross-site
    /// checks of cookie requests are made before any handler runs (`dashboard::guard`).
    pub(crate) async fn caller(&self, headers: &HeaderMap, need: Need) -> ApiResult<Caller> {
        let caller = match credential(headers) {
            Credential::Bearer(token) => self.of_token(&token).await?,
            Credential::Cookie(id) => self.session(&id, wall_ms()).await?.caller,
            Credential::Malformed(why) => return Err(ApiError::unauthorized(why)),
            Credential::Missing => {
                return Err(ApiError::unauthorized(
                    "missing bearer token (Authorization: Bearer <token>)",
                ))
            }
        };
        permit(caller, need)
    }

    /// The caller a token stands for, whatever its role.
    pub(crate) async fn of_token(&self, token: &str) -> ApiResult<Caller> {
        self.resolve(token, wall_ms()).await.map(|(c, _)| c)
    }

    /// The caller a token stands for at `now`, and when the token expires. 401 for a token
    /// that is unknown, expired or revoked, saying which of the last two.
    async fn resolve(&self, token: &str, now: i64) -> ApiResult<(Caller, Option<i64>)> {
        let hash = hash_token(token);
        let seen = {
            let mut cache = self.lock();
            match cache.get(&hash, now) {
                Hit::Active(c, expires) => {
                    let due = cache.use_due(c.token_id, None, now);
                    drop(cache);
                    if due {
                        self.record_use(c.token_id, now);
                    }
                    return Ok((c, expires));
                }
                Hit::Expired => return Err(refused(TokenState::Expired)),
                Hit::Miss => cache.epoch(),
            }
        };
        let rec = self.store.find_token(&hash).await?;
        let Some(rec) = rec.filter(|r| constant_time_eq(r.hash.as_bytes(), hash.as_bytes())) else {
            return Err(ApiError::unauthorized(UNKNOWN));
        };
        let state = rec.state(now);
        if state != TokenState::Active {
            return Err(refused(state));
        }
        let caller = Caller::of(&rec);
        let due = {
            let mut cache = self.lock();
            cache.insert(hash, caller.clone(), rec.expires_at, seen);
            cache.use_due(rec.id, rec.last_used_at, now)
        };
        if due {
            self.record_use(rec.id, now);
        }
        Ok((caller, rec.expires_at))
    }

    /// Records a use of the token (at most once a minute per token) off the request's path.
    fn used(&self, token_id: i64, stored: Option<i64>, now: i64) {
        if self.lock().use_due(token_id, stored, now) {
            self.record_use(token_id, now);
        }
    }

    fn record_use(&self, token_id: i64, now: i64) {
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.record_token_use(token_id, now).await {
                tracing::debug!(token_id, error = %e, "the last use of a token was not recorded");
            }
        });
    }

    /// Stores a new token with a fresh secret (`new`'s hash and creation time are set here);
    /// the secret is returned this once, with the record.
    pub(crate) async fn create_token(
        &self,
        mut new: NewToken,
        now: i64,
    ) -> ApiResult<(String, TokenRecord)> {
        let secret = token::generate_token().map_err(ApiError::internal)?;
        new.hash = hash_token(&secret);
        new.created_at = now;
        let rec = self.store.create_token(new).await?;
        Ok((secret, rec))
    }

    /// Revokes a token and ends its sessions; from the moment this returns, neither its
    /// bearer requests nor its sessions are accepted.
    pub(crate) async fn revoke_token(&self, id: i64, now: i64) -> ApiResult<TokenRecord> {
        let rec = self.store.revoke_token(id, now).await?;
        self.lock().forget(id);
        Ok(rec)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds no invariant a panic could break halfway.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The 401 of a token that exists but is not in force.
fn refused(state: TokenState) -> ApiError {
    ApiError::unauthorized(match state {
        TokenState::Expired => "token expired",
        TokenState::Revoked => "token revoked",
        TokenState::Active => UNKNOWN,
    })
}

/// The caller, if its role allows `need`.
fn permit(caller: Caller, need: Need) -> ApiResult<Caller> {
    if allows(caller.role, need) {
        Ok(caller)
    } else {
        Err(ApiError::forbidden(format!(
            "a token with role {} may not do this",
            caller.role.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_they_should() {
        assert!(allows(Role::Ingest, Need::Ingest));
        assert!(!allows(Role::Ingest, Need::Read));
        assert!(!allows(Role::Viewer, Need::Ingest));
        assert!(allows(Role::Viewer, Need::Read));
        assert!(!allows(Role::Viewer, Need::Respond));
        assert!(allows(Role::Responder, Need::Respond));
        assert!(!allows(Role::Responder, Need::Admin));
        assert!(allows(Role::Admin, Need::Admin) && allows(Role::Admin, Need::Ingest));
    }
}
